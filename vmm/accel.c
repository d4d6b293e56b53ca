#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "vmm.h"

int vmm_accel_parse(const char *s, enum vmm_accel *out)
{
	if (!s || strcmp(s, "auto") == 0)
		*out = VMM_ACCEL_AUTO;
	else if (strcmp(s, "kvm") == 0)
		*out = VMM_ACCEL_KVM;
	else if (strcmp(s, "tcg") == 0)
		*out = VMM_ACCEL_TCG;
	else
		return -EINVAL;
	return 0;
}

const char *vmm_accel_name(enum vmm_accel a)
{
	switch (a) {
	case VMM_ACCEL_KVM:
		return "kvm";
	case VMM_ACCEL_TCG:
		return "tcg";
	default:
		return "auto";
	}
}

/* A "flags" line of /proc/cpuinfo naming vmx or svm as a whole word. */
static int cpu_has_hw_virt(const char *cpuinfo_path)
{
	_cleanup_fclose_ FILE *f = fopen(cpuinfo_path, "re");
	if (!f)
		return 0;
	char line[8192];
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (char *tok = strtok(line, " \t\n"); tok; tok = strtok(NULL, " \t\n"))
			if (strcmp(tok, "vmx") == 0 || strcmp(tok, "svm") == 0)
				return 1;
		return 0;
	}
	return 0;
}

unsigned long vmm_host_tsc_khz(const char *cpuinfo_path)
{
	_cleanup_fclose_ FILE *f = fopen(cpuinfo_path ? cpuinfo_path : "/proc/cpuinfo", "re");
	if (!f)
		return 0;
	char line[8192];
	double mhz = 0;
	int constant = 0;
	while (fgets(line, sizeof(line), f)) {
		if (mhz == 0 && strncmp(line, "cpu MHz", 7) == 0) {
			char *colon = strchr(line, ':');
			if (colon)
				mhz = strtod(colon + 1, NULL);
		} else if (!constant && strncmp(line, "flags", 5) == 0) {
			for (char *tok = strtok(line, " \t\n"); tok; tok = strtok(NULL, " \t\n"))
				if (strcmp(tok, "constant_tsc") == 0)
					constant = 1;
		}
		if (mhz > 0 && constant)
			break;
	}
	if (!constant || mhz < 100 || mhz > 100000)
		return 0;
	return (unsigned long)(mhz * 1000.0 + 0.5);
}

enum vmm_accel vmm_accel_detect(enum vmm_accel requested, const char *cpuinfo_path, const char *kvm_path,
				char *why, size_t why_len)
{
	if (why_len)
		why[0] = '\0';
	if (requested != VMM_ACCEL_AUTO)
		return requested;
	if (!cpu_has_hw_virt(cpuinfo_path ? cpuinfo_path : "/proc/cpuinfo")) {
		snprintf(why, why_len, "no vmx/svm in the CPU flags (a paravirtual or absent KVM cannot run a stock guest fast)");
		return VMM_ACCEL_TCG;
	}
	int fd = open(kvm_path ? kvm_path : "/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_len, "%s: %s", kvm_path ? kvm_path : "/dev/kvm", strerror(errno));
		return VMM_ACCEL_TCG;
	}
	close(fd);
	return VMM_ACCEL_KVM;
}
