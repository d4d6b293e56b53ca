/* The VM backend's name (vmm.h, enum vmm_backend). */
#include <errno.h>
#include <string.h>

#include "vmm.h"

int vmm_backend_parse(const char *s, enum vmm_backend *out)
{
	if (!s || strcmp(s, "qemu") == 0)
		*out = VMM_BACKEND_QEMU;
	else if (strcmp(s, "libvirt") == 0)
		*out = VMM_BACKEND_LIBVIRT;
	else
		return -EINVAL;
	return 0;
}

const char *vmm_backend_name(enum vmm_backend b)
{
	return b == VMM_BACKEND_LIBVIRT ? "libvirt" : "qemu";
}
