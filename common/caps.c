#include "caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int caps_limit(uint64_t keep, struct capsid_error *err)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return capsid_error_errno(err, errno, "capabilities: capget");
	uint64_t have = (uint64_t)d[0].permitted | (uint64_t)d[1].permitted << 32;
	/* The bounding set first: dropping from it needs CAP_SETPCAP. */
	if (have & CAPS_BIT(CAP_SETPCAP))
		for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
			if (!(keep & CAPS_BIT(cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
				return capsid_error_errno(err, errno,
							  "capabilities: drop %d from the bounding set", cap);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return capsid_error_errno(err, errno, "capabilities: clear the ambient set");
	uint64_t now = have & keep;
	d[0] = (struct __user_cap_data_struct){.effective = (uint32_t)now, .permitted = (uint32_t)now};
	d[1] = (struct __user_cap_data_struct){.effective = (uint32_t)(now >> 32),
					       .permitted = (uint32_t)(now >> 32)};
	if (syscall(SYS_capset, &h, d) < 0)
		return capsid_error_errno(err, errno, "capabilities: capset");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return capsid_error_errno(err, errno, "capabilities: no_new_privs");
	return 0;
}
