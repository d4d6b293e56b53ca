/* /init of the benchmark's "VM floor" initramfs: the least a guest can do.
 * It prints one line on the serial console (the moment the harness takes
 * as "first output") and powers off at once, so the floor is the cost of
 * QEMU + kernel + initramfs alone, with the same QEMU and kernel capsid
 * boots. Built static by tests/bench/run.sh (gcc -static).
 * With capsid_floor=idle on the kernel command line (the kernel hands
 * unknown name=value words to init's environment) it stays up instead,
 * doing nothing: the idle memory phase's floor. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	static const char line[] = "capsid-floor: init reached\n";
	/* The harness puts /dev/console into the initramfs, so the kernel
	 * opened it as fd 1. */
	if (write(1, line, strlen(line)) < 0) {
		/* no console: nothing to report, power off all the same */
	}
	const char *mode = getenv("capsid_floor");
	if (mode && strcmp(mode, "idle") == 0)
		for (;;)
			pause();
	/* Without ACPI the kernel turns power-off into a halt that never
	 * returns (QEMU would stay up): QEMU runs with -no-reboot, so a reboot
	 * ends it instead. sysfs tells which applies. */
	mkdir("/sys", 0755);
	if (mount("sysfs", "/sys", "sysfs", 0, NULL) == 0 && access("/sys/firmware/acpi/tables", F_OK) != 0)
		reboot(RB_AUTOBOOT);
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}
