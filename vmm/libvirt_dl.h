/* libvirt's client library, loaded the first time a process starts a
 * domain (vmm/libvirt_dl.c). A process that never uses the libvirt backend
 * maps none of libvirt and the ~35 libraries it pulls in (GLib, libxml2,
 * ICU, GnuTLS, ...), whose relocated data cost each monitor ~1.9 MiB of
 * private memory (ARCHITECTURE.md "Density"). Internal to the backend. */
#ifndef CAPSID_VMM_LIBVIRT_DL_H
#define CAPSID_VMM_LIBVIRT_DL_H

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "error.h"

/* Every libvirt function the backend calls. */
#define LIBVIRT_FUNCTIONS(X)                                                                                 \
	X(virConnectClose)                                                                                   \
	X(virConnectDomainEventDeregisterAny)                                                                \
	X(virConnectDomainEventRegisterAny)                                                                  \
	X(virConnectOpen)                                                                                    \
	X(virConnectRegisterCloseCallback)                                                                   \
	X(virConnectSetKeepAlive)                                                                            \
	X(virConnectUnregisterCloseCallback)                                                                 \
	X(virDomainCreateWithFlags)                                                                          \
	X(virDomainDefineXML)                                                                                \
	X(virDomainDestroy)                                                                                  \
	X(virDomainFDAssociate)                                                                              \
	X(virDomainFree)                                                                                     \
	X(virDomainGetMetadata)                                                                              \
	X(virDomainGetState)                                                                                 \
	X(virDomainIsActive)                                                                                 \
	X(virDomainIsPersistent)                                                                             \
	X(virDomainLookupByName)                                                                             \
	X(virDomainUndefine)                                                                                 \
	X(virEventRegisterDefaultImpl)                                                                       \
	X(virEventRunDefaultImpl)                                                                            \
	X(virGetLastErrorMessage)                                                                            \
	X(virSetErrorFunc)

/* The functions, typed as libvirt's headers declare them. */
struct libvirt_api {
#define LIBVIRT_MEMBER(f) __typeof__(f) *f;
	LIBVIRT_FUNCTIONS(LIBVIRT_MEMBER)
#undef LIBVIRT_MEMBER
};

/* Load the library once per process; *api is valid after a 0 return.
 * Fails, naming the library and the cause, when it is not installed. */
int libvirt_load(const struct libvirt_api **api, struct capsid_error *err);

#endif
