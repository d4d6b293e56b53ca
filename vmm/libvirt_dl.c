/* libvirt's client library by dlopen (libvirt_dl.h). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "libvirt_dl.h"

#define LIBVIRT_SONAME "libvirt.so.0"

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static struct libvirt_api api;
static char load_error[256];

static void load(void)
{
	void *lib = dlopen(LIBVIRT_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(load_error, sizeof(load_error), "%s", dlerror());
		return;
	}
#define LIBVIRT_RESOLVE(f)                                                                                   \
	if (!load_error[0] && !(*(void **)&api.f = dlsym(lib, #f)))                                          \
		snprintf(load_error, sizeof(load_error), "%s has no %s", LIBVIRT_SONAME, #f);
	LIBVIRT_FUNCTIONS(LIBVIRT_RESOLVE)
#undef LIBVIRT_RESOLVE
	/* The library stays loaded for the life of the process: its event
	 * thread runs from it. */
}

int libvirt_load(const struct libvirt_api **out, struct capsid_error *err)
{
	pthread_once(&load_once, load);
	if (load_error[0])
		return capsid_error_set(err, ENOENT,
					"libvirt backend: cannot load %s (Debian package libvirt0): %s",
					LIBVIRT_SONAME, load_error);
	*out = &api;
	return 0;
}
