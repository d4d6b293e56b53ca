/* vmm: accelerator detection, the QEMU command line, and the QMP client
 * against a real QEMU (machine "none", which starts in milliseconds). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "qmp.h"
#include "testlib.h"
#include "util.h"
#include "vmm.h"

static char tmpdir[] = "/tmp/capsid-test-vmm.XXXXXX";

static void write_file(const char *path, const char *s)
{
	CHECK(util_write_file_atomic(path, s, strlen(s), 0644) == 0);
}

static void test_accel(void)
{
	char cpu_virt[256], cpu_plain[256], why[256];
	snprintf(cpu_virt, sizeof(cpu_virt), "%s/cpuinfo-vmx", tmpdir);
	snprintf(cpu_plain, sizeof(cpu_plain), "%s/cpuinfo-plain", tmpdir);
	write_file(cpu_virt, "processor\t: 0\nflags\t\t: fpu vme de pse vmx sse\n");
	write_file(cpu_plain, "processor\t: 0\nflags\t\t: fpu vme de pse sse hypervisor vmxe\n");

	CHECK(vmm_accel_detect(VMM_ACCEL_AUTO, cpu_virt, "/dev/null", why, sizeof(why)) == VMM_ACCEL_KVM);
	CHECK(why[0] == '\0');
	/* "vmxe" is not "vmx": whole words only */
	CHECK(vmm_accel_detect(VMM_ACCEL_AUTO, cpu_plain, "/dev/null", why, sizeof(why)) == VMM_ACCEL_TCG);
	CHECK_STR_CONTAINS(why, "vmx/svm");
	CHECK(vmm_accel_detect(VMM_ACCEL_AUTO, cpu_virt, "/nonexistent/kvm", why, sizeof(why)) == VMM_ACCEL_TCG);
	CHECK_STR_CONTAINS(why, "/nonexistent/kvm");
	CHECK(vmm_accel_detect(VMM_ACCEL_KVM, cpu_plain, "/nonexistent", why, sizeof(why)) == VMM_ACCEL_KVM);
	CHECK(vmm_accel_detect(VMM_ACCEL_TCG, cpu_virt, "/dev/null", why, sizeof(why)) == VMM_ACCEL_TCG);

	char cpu_tsc[256];
	snprintf(cpu_tsc, sizeof(cpu_tsc), "%s/cpuinfo-tsc", tmpdir);
	write_file(cpu_tsc, "processor\t: 0\ncpu MHz\t\t: 2596.120\nflags\t\t: fpu tsc constant_tsc nonstop_tsc\n");
	CHECK(vmm_host_tsc_khz(cpu_tsc) == 2596120);
	CHECK(vmm_host_tsc_khz(cpu_plain) == 0); /* no MHz line, no constant_tsc */

	enum vmm_accel a;
	CHECK(vmm_accel_parse("tcg", &a) == 0 && a == VMM_ACCEL_TCG);
	CHECK(vmm_accel_parse("kvm", &a) == 0 && a == VMM_ACCEL_KVM);
	CHECK(vmm_accel_parse(NULL, &a) == 0 && a == VMM_ACCEL_AUTO);
	CHECK(vmm_accel_parse("xen", &a) == -EINVAL);
}

static int argv_has(char **argv, const char *s)
{
	for (char **p = argv; *p; p++)
		if (strcmp(*p, s) == 0)
			return 1;
	return 0;
}

static void test_argv(void)
{
	struct vmm_config cfg = {
		.kernel = "/k/vmlinuz",
		.initrd = "/k/initrd,odd.img",
		.cmdline = "console=ttyS0 quiet",
		.vcpus = 2,
		.memory_mib = 640,
		.accel = VMM_ACCEL_TCG,
		.tb_size_mib = 32,
		.agent_socket = "/r/agent.sock",
		.qmp_socket = "/r/qmp.sock",
		.disks = {{.path = "/img/a.erofs", .serial = "img0", .format = "raw", .readonly = true}},
		.n_disks = 1,
	};
	char **argv = NULL;
	struct capsid_error err = {0};
	CHECK(vmm_build_argv(&cfg, &argv, &err) == 0);
	if (!argv)
		return;
	CHECK(argv_has(argv, "tcg,thread=multi,tb-size=32"));
	CHECK(argv_has(argv, "640M"));
	CHECK(argv_has(argv, "2"));
	CHECK(argv_has(argv, "/k/initrd,,odd.img")); /* commas escaped */
	CHECK(argv_has(argv, "socket,id=agent,path=/r/agent.sock,server=on,wait=off"));
	CHECK(argv_has(argv, "virtio-blk-device,drive=disk0,serial=img0"));
	CHECK(argv_has(argv, "-no-reboot"));
	CHECK(argv_has(argv, "microvm,rtc=on,isa-serial=off"));
	CHECK(argv_has(argv, "console=ttyS0 quiet"));
	/* No KSM unless asked for (QEMU's default would mark the RAM mergeable). */
	CHECK(argv_has(argv, "mem-merge=off"));
	strv_free(argv);
	argv = NULL;
	cfg.mem_merge = true;
	CHECK(vmm_build_argv(&cfg, &argv, &err) == 0);
	CHECK(argv && argv_has(argv, "mem-merge=on") && !argv_has(argv, "mem-merge=off"));
	cfg.mem_merge = false;
	strv_free(argv);
	cfg.tsc_khz = 2596120;
	CHECK(vmm_build_argv(&cfg, &argv, &err) == 0);
	CHECK(argv_has(argv, "console=ttyS0 quiet tsc=reliable tsc_early_khz=2596120"));
	strv_free(argv);
	/* A kernel that takes the local APIC timer's rate gets QEMU's under
	 * TCG, whatever the vCPU count; another kernel calibrates it. */
	cfg.vcpus = 1;
	CHECK(vmm_build_argv(&cfg, &argv, &err) == 0);
	CHECK(argv_has(argv, "console=ttyS0 quiet tsc=reliable tsc_early_khz=2596120"));
	strv_free(argv);
	cfg.apic_timer_rate = true;
	for (cfg.vcpus = 1; cfg.vcpus <= 2; cfg.vcpus++) {
		CHECK(vmm_build_argv(&cfg, &argv, &err) == 0);
		CHECK(argv_has(argv, "console=ttyS0 quiet tsc=reliable tsc_early_khz=2596120 lapic_timer_khz=1000000 "
				     "no_timer_check"));
		strv_free(argv);
	}
	cfg.vcpus = 2;
	cfg.accel = VMM_ACCEL_KVM;
	CHECK(vmm_build_argv(&cfg, &argv, &err) == 0);
	CHECK(argv_has(argv, "console=ttyS0 quiet"));
	strv_free(argv);
	cfg.accel = VMM_ACCEL_TCG;
	cfg.apic_timer_rate = false;
	/* The minimal kernel: no ACPI, reboot ends QEMU; memfd RAM; balloon. */
	cfg.no_acpi = true;
	cfg.memfd_ram = true;
	cfg.free_page_reporting = true;
	CHECK(vmm_build_argv(&cfg, &argv, &err) == 0);
	CHECK(argv_has(argv, "microvm,rtc=on,isa-serial=off,acpi=off"));
	CHECK(argv_has(argv, "console=ttyS0 quiet tsc=reliable tsc_early_khz=2596120 reboot=t"));
	CHECK(argv_has(argv, "memory-backend-memfd,id=ram0,size=640M"));
	CHECK(argv_has(argv, "memory-backend=ram0"));
	CHECK(argv_has(argv, "virtio-balloon-device,free-page-reporting=on"));
	strv_free(argv);
	cfg.no_acpi = cfg.memfd_ram = cfg.free_page_reporting = false;
	/* Warm start: the template shares its RAM file, a clone maps it
	 * copy-on-write and waits for the incoming state; a file wins over memfd. */
	cfg.ram_file = "/t/r,am";
	cfg.ram_file_shared = true;
	cfg.memfd_ram = true;
	CHECK(vmm_build_argv(&cfg, &argv, &err) == 0);
	CHECK(argv_has(argv, "memory-backend-file,id=ram0,size=640M,mem-path=/t/r,,am,share=on"));
	CHECK(!argv_has(argv, "memory-backend-memfd,id=ram0,size=640M"));
	CHECK(!argv_has(argv, "-incoming"));
	strv_free(argv);
	cfg.ram_file_shared = false;
	cfg.incoming = true;
	CHECK(vmm_build_argv(&cfg, &argv, &err) == 0);
	CHECK(argv_has(argv, "memory-backend-file,id=ram0,size=640M,mem-path=/t/r,,am,share=off"));
	CHECK(argv_has(argv, "-incoming") && argv_has(argv, "defer"));
	strv_free(argv);
	cfg.ram_file = NULL;
	cfg.incoming = cfg.memfd_ram = false;

	cfg.disks[0].serial = "bad,serial";
	CHECK(vmm_build_argv(&cfg, &argv, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "serial");
	cfg.disks[0].serial = "img0";
	cfg.vcpus = 0;
	CHECK(vmm_build_argv(&cfg, &argv, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "vcpus");
	cfg.vcpus = 1;
	cfg.accel = VMM_ACCEL_AUTO;
	CHECK(vmm_build_argv(&cfg, &argv, &err) == -EINVAL);
}

static void test_qmp_quit_real_qemu(void)
{
	char sock[256];
	snprintf(sock, sizeof(sock), "%s/qmp.sock", tmpdir);
	char qmparg[300];
	snprintf(qmparg, sizeof(qmparg), "unix:%s,server=on,wait=off", sock);
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		execlp("qemu-system-x86_64", "qemu-system-x86_64", "-M", "none", "-display", "none", "-nodefaults",
		       "-qmp", qmparg, (char *)NULL);
		_exit(127);
	}
	CHECK(pid > 0);
	/* QEMU makes the socket's file before it listens on it: retry until
	 * it answers (up to 30 s). */
	int fd = -1;
	for (int i = 0; i < 3000 && (fd = qmp_connect(sock, 30000)) < 0; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	CHECK(fd >= 0);
	if (fd >= 0) {
		struct json_object *reply = NULL;
		CHECK(qmp_execute(fd, "query-status", NULL, &reply, 30000) == 0);
		CHECK(reply && json_object_object_get_ex(reply, "status", NULL));
		json_object_put(reply);
		CHECK(qmp_execute(fd, "no-such-command", NULL, NULL, 30000) == -EREMOTEIO);
		close(fd);
	}
	CHECK(vmm_terminate(pid, sock, 30000) == 0);
	CHECK(kill(pid, 0) < 0); /* reaped and gone */
}

static pid_t start_qemu_none(const char *qmparg, bool incoming)
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		if (incoming)
			execlp("qemu-system-x86_64", "qemu-system-x86_64", "-M", "none", "-display", "none", "-nodefaults",
			       "-qmp", qmparg, "-incoming", "defer", (char *)NULL);
		else
			execlp("qemu-system-x86_64", "qemu-system-x86_64", "-M", "none", "-display", "none", "-nodefaults",
			       "-qmp", qmparg, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static const char *qmp_status(const char *sock, char *buf, size_t len)
{
	snprintf(buf, len, "?");
	int fd = qmp_connect(sock, 30000);
	struct json_object *reply = NULL, *st;
	if (fd >= 0 && qmp_execute(fd, "query-status", NULL, &reply, 30000) == 0 &&
	    json_object_object_get_ex(reply, "status", &st))
		snprintf(buf, len, "%s", json_object_get_string(st));
	json_object_put(reply);
	if (fd >= 0)
		close(fd);
	return buf;
}

/* Save a (RAM-less) VM's state and load it into a second QEMU started with
 * -incoming defer: the warm-start path of vmm/migrate.c against real QEMU.
 * The helpers wait for the QMP socket themselves. */
static void test_save_restore_real_qemu(void)
{
	char sock1[256], sock2[256], arg1[300], arg2[300], state[256], st[32];
	snprintf(sock1, sizeof(sock1), "%s/m1.sock", tmpdir);
	snprintf(sock2, sizeof(sock2), "%s/m2.sock", tmpdir);
	/* The state file goes to QEMU as a descriptor: any path works. */
	snprintf(state, sizeof(state), "%s/it's, a \"vm\" state", tmpdir);
	snprintf(arg1, sizeof(arg1), "unix:%s,server=on,wait=off", sock1);
	snprintf(arg2, sizeof(arg2), "unix:%s,server=on,wait=off", sock2);
	struct capsid_error err = {0};
	pid_t p1 = start_qemu_none(arg1, false);
	CHECK_OK(vmm_save_state(sock1, state, 30000, &err), &err);
	struct stat sb;
	CHECK(stat(state, &sb) == 0 && sb.st_size > 0);
	CHECK(strcmp(qmp_status(sock1, st, sizeof(st)), "postmigrate") == 0);
	CHECK(vmm_terminate(p1, sock1, 30000) == 0);

	pid_t p2 = start_qemu_none(arg2, true);
	CHECK_OK(vmm_restore_state(sock2, state, 30000, &err), &err);
	CHECK(strcmp(qmp_status(sock2, st, sizeof(st)), "running") == 0);
	CHECK(vmm_terminate(p2, sock2, 30000) == 0);

	/* A state file that is not one fails the load, and says so. */
	write_file(state, "not a migration stream");
	unlink(sock2);
	p2 = start_qemu_none(arg2, true);
	CHECK(vmm_restore_state(sock2, state, 30000, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "restoring the VM state");
	CHECK(vmm_terminate(p2, sock2, 30000) == 0);
	/* A state file that cannot be read is named in the error. */
	unlink(sock2);
	p2 = start_qemu_none(arg2, true);
	CHECK(vmm_restore_state(sock2, "/nonexistent/vm.state", 30000, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "/nonexistent/vm.state");
	CHECK(vmm_terminate(p2, sock2, 30000) == 0);
}

/* Rss (kB) of pid's mappings of inode ino, from /proc/PID/smaps. */
static long mapped_rss_kb(pid_t pid, ino_t ino)
{
	char path[64], line[4096];
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long rss = 0;
	bool in = false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, inode;
		unsigned major, minor;
		long kb;
		if (sscanf(line, "%lx-%lx %*s %*x %x:%x %lu", &start, &end, &major, &minor, &inode) == 5)
			in = inode == (unsigned long)ino;
		else if (in && sscanf(line, "Rss: %ld kB", &kb) == 1)
			rss += kb;
	}
	fclose(f);
	return rss;
}

/* The pages of another process's mapping of a file go back to the host;
 * those a second process maps too stay. The file lives in the build tree:
 * pages of a tmpfs file cannot be reclaimed without swap. */
static void test_release_files(void)
{
	char path[] = "capsid-reclaim.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	char buf[65536];
	memset(buf, 'k', sizeof(buf));
	for (int i = 0; i < 64; i++)
		CHECK(write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
	CHECK(fsync(fd) == 0); /* clean pages: reclaim drops them without writing */
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	const size_t size = 64 * sizeof(buf);

	int ready[2];
	CHECK(pipe(ready) == 0);
	pid_t child = fork();
	if (child == 0) {
		const volatile char *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			_exit(1);
		unsigned sum = 0;
		for (size_t off = 0; off < size; off += 4096)
			sum += (unsigned)p[off];
		if (write(ready[1], &sum, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c;
	CHECK(read(ready[0], &c, 1) == 1);
	long before = mapped_rss_kb(child, st.st_ino);
	CHECK(before >= 4096 - 64);

	/* Mapped here as well: the kernel leaves those pages to both. */
	const volatile char *mine = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(mine != MAP_FAILED);
	unsigned sum = 0;
	for (size_t off = 0; off < size; off += 4096)
		sum += (unsigned)mine[off];
	CHECK(sum == 'k' * (unsigned)(size / 4096));
	const char *files[] = {path, "/nonexistent/vmlinuz"};
	struct capsid_error err = {0};
	CHECK(vmm_release_files(child, files, 2, &err) == (long)size);
	CHECK(mapped_rss_kb(child, st.st_ino) >= before);

	/* Mapped by the child alone: reclaimed. */
	munmap((void *)mine, size);
	CHECK(vmm_release_files(child, files, 2, &err) == (long)size);
	long after = mapped_rss_kb(child, st.st_ino);
	CHECK(after >= 0 && after < before / 8);

	/* A file it does not map: nothing to do. */
	char unmapped[] = "capsid-reclaim.XXXXXX";
	int ufd = mkstemp(unmapped);
	CHECK(ufd >= 0);
	const char *other[] = {unmapped};
	CHECK(vmm_release_files(child, other, 1, &err) == 0);
	close(ufd);
	unlink(unmapped);

	kill(child, SIGKILL);
	CHECK(waitpid(child, NULL, 0) == child);
	/* A process that is gone: the error names it. */
	CHECK(vmm_release_files(child, files, 1, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "release boot files");
	close(ready[0]);
	close(ready[1]);
	close(fd);
	unlink(path);
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		return 2;
	RUN_TEST(test_accel);
	RUN_TEST(test_argv);
	RUN_TEST(test_qmp_quit_real_qemu);
	RUN_TEST(test_save_restore_real_qemu);
	RUN_TEST(test_release_files);
	util_rm_rf(tmpdir);
	TEST_EXIT();
}
