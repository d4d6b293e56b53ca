/* The libvirt VM backend (vmm/libvirt*.c): a group's VM as a transient
 * libvirt domain instead of a QEMU child. The same vmm_config describes
 * it; libvirt starts QEMU (as its DAC user, in its cgroup and namespaces,
 * under its seccomp sandbox) and capsid's own jail does not apply.
 *
 * Its disks are passed as descriptors the caller's process opened
 * (virDomainFDAssociate), so QEMU needs no access to the state root: the
 * domain is defined, given them, started and undefined at once (it runs
 * transient). It is started with VIR_DOMAIN_START_AUTODESTROY: it lives only
 * as long as the connection of the process that started it, so a monitor
 * that dies (even SIGKILLed) takes its domain with it. Its end (the guest
 * powered off, QEMU died, someone ran `virsh destroy`) is learnt from
 * libvirt's lifecycle events, dispatched by one event thread per process,
 * which raises SIGCHLD in the process: a monitor that handles SIGCHLD for
 * its QEMU child asks vmm_libvirt_ended() there too. */
#ifndef CAPSID_VMM_LIBVIRT_H
#define CAPSID_VMM_LIBVIRT_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "vmm.h"

#define VMM_LIBVIRT_DEFAULT_URI "qemu:///system"
/* Domains are named VMM_LIBVIRT_PREFIX + the group's name. */
#define VMM_LIBVIRT_PREFIX "capsid-"
/* Disk i's source is the descriptor associated under this name. */
#define VMM_LIBVIRT_DISK_FDGROUP "disk%zu"
/* The namespace of capsid's element in the domain's <metadata>. */
#define VMM_LIBVIRT_XMLNS "https://github.com/capsid/capsid/libvirt/1"

/* What the domain's <metadata> says about whom it belongs to. */
struct vmm_libvirt_meta {
	const char *group; /* the group's name; the domain is VMM_LIBVIRT_PREFIX + group */
	const char *root;  /* the state root */
};

/* The domain XML for cfg (vmm/libvirt_xml.c): microvm with virtio-mmio
 * devices, domain type kvm or qemu after cfg->accel. Caller frees *out. */
int vmm_libvirt_xml(const struct vmm_config *cfg, const struct vmm_libvirt_meta *meta, char **out,
		    struct capsid_error *err);

struct vmm_domain;

/* Connect to uri (NULL: VMM_LIBVIRT_DEFAULT_URI) and start cfg's domain,
 * tied to this connection. */
int vmm_libvirt_start(const char *uri, const struct vmm_config *cfg, const struct vmm_libvirt_meta *meta,
		      struct vmm_domain **out, struct capsid_error *err);
/* The domain has ended (or its libvirtd went away). Cheap: a flag the
 * event thread sets. */
bool vmm_libvirt_ended(const struct vmm_domain *d);
/* The domain's name. */
const char *vmm_libvirt_name(const struct vmm_domain *d);
/* QEMU's pid as libvirt's process table shows it (/proc), 0 when not found. */
pid_t vmm_libvirt_qemu_pid(const struct vmm_domain *d);
/* Destroy the domain (if still up) and close the connection. NULL is a no-op. */
void vmm_libvirt_close(struct vmm_domain *d);

#endif
