/* Lever measurement only (make-guest-variant.sh --reporting-order N): runs
 * as /init before the capsid agent, sets the free page reporting order the
 * guest kernel reports freed memory to the host at, and execs the agent as
 * PID 1. Linux 6.1 overrides the page_reporting.page_reporting_order boot
 * parameter when virtio-balloon registers, so it is written here, after
 * the driver probed. The order is compiled in (-DORDER=N). */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef ORDER
#error "build with -DORDER=N"
#endif
#define STR2(x) #x
#define STR(x) STR2(x)

int main(int argc, char **argv)
{
	(void)argc;
	mkdir("/sys", 0755);
	if (mount("sysfs", "/sys", "sysfs", 0, NULL) == 0) {
		int fd = open("/sys/module/page_reporting/parameters/page_reporting_order", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, STR(ORDER), strlen(STR(ORDER))) < 0) {
				/* measured as it is: the agent runs either way */
			}
			close(fd);
		}
		umount("/sys");
	}
	execv("/init.agent", argv);
	return 127;
}
