/* /init of the benchmark's "VM floor" initramfs: the least a guest can do.
 * It prints one line on the serial console (the moment the harness takes
 * as "first output") and powers off at once, so the floor is the cost of
 * QEMU + kernel + initramfs alone, with the same QEMU and kernel capsid
 * boots. Built static by tests/bench/run.sh (gcc -static). */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	static const char line[] = "capsid-floor: init reached\n";
	/* The harness puts /dev/console into the initramfs, so the kernel
	 * opened it as fd 1; if that failed, devtmpfs has the node. */
	if (write(1, line, strlen(line)) < 0) {
		mkdir("/dev", 0755);
		mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
		int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0 && write(fd, line, strlen(line)) < 0)
			close(fd);
	}
	reboot(RB_POWER_OFF);
	/* Without ACPI power-off only halts; QEMU runs with -no-reboot, so a
	 * reboot ends it instead (the capsid agent does the same). */
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}
