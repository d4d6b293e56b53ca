/* The embedded SMB service, for real: accounts, shares and keys in a
 * temporary state root, a private smbd on an address of a network namespace
 * this test makes, and smbclient as the client. The accounts' unix users
 * are made in a private /etc (an overlay in the test's mount namespace),
 * so the host's user database is never touched.
 *
 * Checked: a file written with the key lands in the share directory; a
 * wrong key is refused; two accounts may have a share of the same name
 * and do not see each other's; rotating a key locks the old one out; a
 * quota is enforced; data survives a restart of smbd; share rm removes the
 * data and the account; smbd stops on its own once no user holds the
 * service and once no share is left; no smbd is left running.
 *
 * smbd's keeper is this program run as `test_volume_smb --root ROOT __smbd
 * serve` (smb_service_start execs /proc/self/exe). */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smb.h"
#include "testlib.h"
#include "util.h"
#include "volume_exec.h"

#define ADDR "10.77.0.1"

static char tmp[] = "/tmp/capsid-test-smb-XXXXXX";
static struct smb_config cfg;

/* smbclient with the credentials in a file (-A), never in its arguments. */
static int smbclient(const char *account, const char *key, const char *share, const char *cmd, char *out,
		     size_t out_len)
{
	char auth[PATH_MAX], unc[128];
	snprintf(auth, sizeof(auth), "%s/auth", tmp);
	char text[256];
	int n = snprintf(text, sizeof(text), "username = %s\npassword = %s\n", account, key);
	if (util_write_file_atomic(auth, text, (size_t)n, 0600) < 0)
		return -EIO;
	snprintf(unc, sizeof(unc), "//" ADDR "/%s", share);
	const char *argv[] = {"smbclient", unc, "-A", auth, "-m", "SMB3", "-c", cmd, NULL};
	int rc = volume_run(argv, tmp, NULL, 0, out, out_len);
	unlink(auth);
	return rc;
}

static bool file_has(const char *path, const char *want)
{
	char *text = NULL;
	size_t len = 0;
	bool ok = util_read_file_at(AT_FDCWD, path, 4096, &text, &len) == 0 && !strcmp(text, want);
	free(text);
	return ok;
}

/* Exited: no such process, or a zombie its (sub)reaper has not reaped yet. */
static bool gone(int pid)
{
	char path[64], *stat = NULL;
	size_t len = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (kill(pid, 0) < 0)
		return true;
	bool zombie = util_read_file_at(AT_FDCWD, path, 4096, &stat, &len) == 0 && strstr(stat, ") Z ");
	free(stat);
	return zombie;
}

/* Poll (bounded: a broken keeper fails the test instead of hanging it). */
static bool service_ends(pid_t keeper, pid_t smbd)
{
	for (int i = 0; i < 300; i++) {
		if (smb_service_pid(&cfg) == 0 && gone(keeper) && gone(smbd))
			return true;
		usleep(50 * 1000);
	}
	return false;
}

static bool cmdline_has(pid_t pid, const char *needle, size_t len)
{
	char path[64], *text = NULL;
	size_t n = 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	bool has = util_read_file_at(AT_FDCWD, path, 8192, &text, &n) == 0 && memmem(text, n, needle, len);
	free(text);
	return has;
}

static void test_names_and_sizes(void)
{
	char a[SMB_ACCOUNT_MAX + 1], s[SMB_SHARE_MAX + 1];
	struct capsid_error err = {0};
	CHECK(smb_parse_ref("acct1/my-share", a, s, &err) == 0 && !strcmp(a, "acct1") && !strcmp(s, "my-share"));
	CHECK(smb_parse_ref("Acct/x", a, s, &err) == -EINVAL);
	CHECK(smb_parse_ref("acct1/a--b", a, s, &err) == -EINVAL);
	CHECK(smb_parse_ref("acct1", a, s, &err) == -EINVAL);
	CHECK(smb_parse_ref("acct1", a, NULL, &err) == 0);
	CHECK(smb_parse_ref("abcdefghijklmnopqrstuvwxyz/data", a, s, &err) == -EINVAL);
	uint64_t v = 0;
	CHECK(smb_parse_size("10G", &v, &err) == 0 && v == 10ull << 30);
	CHECK(smb_parse_size("512MiB", &v, &err) == 0 && v == 512ull << 20);
	CHECK(smb_parse_size("4096", &v, &err) == 0 && v == 4096);
	CHECK(smb_parse_size("1X", &v, &err) == -EINVAL && smb_parse_size("-1G", &v, &err) == -EINVAL);
	CHECK(smb_parse_size("0", &v, &err) == -EINVAL && smb_parse_size("99999999999T", &v, &err) == -EINVAL);
}

static void test_service(void)
{
	struct capsid_error err = {0};
	char dir[PATH_MAX], out[4096], key1[SMB_KEY_LEN + 1], key2[SMB_KEY_LEN + 1], local[PATH_MAX];
	CHECK(smb_share_create(&cfg, "acct1", "data", 0, &err) == 0);
	if (err.msg[0])
		fprintf(stderr, "  %s\n", err.msg);
	CHECK(smb_share_create(&cfg, "acct1", "data", 0, &err) == -EEXIST);
	CHECK(smb_share_create(&cfg, "acct2", "data", 32ull << 20, &err) == 0);
	CHECK(smb_share_create(&cfg, "acct2", "tiny", 1 << 20, &err) == -EINVAL);
	CHECK(smb_account_key(&cfg, "acct1", false, key1, &err) == 0 && strlen(key1) == SMB_KEY_LEN);
	CHECK(smb_account_key(&cfg, "acct2", false, key2, &err) == 0 && strcmp(key1, key2));
	CHECK(smb_account_key(&cfg, "nobody", false, local, &err) == -ENOENT);
	CHECK(getpwnam("capsid-acct1") != NULL);
	/* The key at rest: only in a 0600 file. */
	struct stat st;
	snprintf(local, sizeof(local), "%s/smb/accounts.json", tmp);
	CHECK(stat(local, &st) == 0 && (st.st_mode & 0777) == 0600);

	struct smb_share_info *list = NULL;
	size_t n = 0;
	CHECK(smb_share_list(&cfg, &list, &n, &err) == 0 && n == 2);
	CHECK(n == 2 && !strcmp(list[0].account, "acct1") && list[1].quota_bytes == 32ull << 20);
	free(list);

	const char *addrs[] = {ADDR};
	capsid_error_clear(&err);
	int hold = smb_service_hold(&cfg, &err);
	CHECK(hold >= 0);
	CHECK(smb_service_start(&cfg, addrs, 1, &err) == 0);
	if (err.code)
		fprintf(stderr, "  start: %s\n", err.msg);
	pid_t pid = 0, smbd = 0;
	CHECK(smb_service_pids(&cfg, &pid, &smbd) == 0 && pid > 0 && smbd > 0);
	/* The key never reaches the command line of the keeper or of smbd. */
	CHECK(cmdline_has(pid, "__smbd", 6) && !cmdline_has(pid, key1, 20));
	CHECK(cmdline_has(smbd, "smb.conf", 8) && !cmdline_has(smbd, key1, 20));

	snprintf(local, sizeof(local), "%s/hello.txt", tmp);
	CHECK(util_write_file_atomic(local, "hello\n", 6, 0644) == 0);
	int rc = smbclient("acct1", key1, "data", "put hello.txt hello.txt", out, sizeof(out));
	CHECK(rc == 0);
	if (rc)
		fprintf(stderr, "  smbclient: %s\n", out);
	snprintf(dir, sizeof(dir), "%s/smb/shares/acct1/data/hello.txt", tmp);
	CHECK(file_has(dir, "hello\n"));

	/* Wrong key refused; the other account's "data" is another share. */
	CHECK(smbclient("acct1", key2, "data", "ls", out, sizeof(out)) != 0);
	CHECK_STR_CONTAINS(out, "NT_STATUS_LOGON_FAILURE");
	CHECK(smbclient("acct2", key2, "data", "ls", out, sizeof(out)) == 0);
	CHECK(strstr(out, "hello.txt") == NULL);

	/* Quota: 40 MiB do not fit in a 32 MiB share. */
	snprintf(local, sizeof(local), "%s/big", tmp);
	int fd = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	static char chunk[1 << 20];
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; fd >= 0 && i < 40; i++)
		CHECK(write(fd, chunk, sizeof(chunk)) == (ssize_t)sizeof(chunk));
	close(fd);
	smbclient("acct2", key2, "data", "put big big", out, sizeof(out));
	CHECK_STR_CONTAINS(out, "NT_STATUS_DISK_FULL");
	snprintf(dir, sizeof(dir), "%s/smb/shares/acct2/data/big", tmp);
	CHECK(stat(dir, &st) < 0 || st.st_size < (40 << 20));

	/* Rotation: the old key stops working, the new one works. */
	char old[SMB_KEY_LEN + 1];
	memcpy(old, key1, sizeof(old));
	CHECK(smb_account_key(&cfg, "acct1", true, key1, &err) == 0 && strcmp(old, key1));
	CHECK(smbclient("acct1", old, "data", "ls", out, sizeof(out)) != 0);
	CHECK(smbclient("acct1", key1, "data", "ls", out, sizeof(out)) == 0);
	CHECK_STR_CONTAINS(out, "hello.txt");

	/* Data survives a restart of smbd. */
	CHECK(smb_service_stop(&cfg, &err) == 0 && smb_service_pid(&cfg) == 0);
	CHECK(smbclient("acct1", key1, "data", "ls", out, sizeof(out)) != 0);
	CHECK(smb_service_start(&cfg, addrs, 1, &err) == 0 && smb_service_pid(&cfg) > 0);
	CHECK(smbclient("acct1", key1, "data", "get hello.txt back.txt", out, sizeof(out)) == 0);
	snprintf(local, sizeof(local), "%s/back.txt", tmp);
	CHECK(file_has(local, "hello\n"));
	/* Starting again while it runs is a reload, not a second smbd. */
	pid = smb_service_pid(&cfg);
	CHECK(smb_service_start(&cfg, addrs, 1, &err) == 0 && smb_service_pid(&cfg) == pid);

	/* The last user lets go: smbd and its keeper end on their own. */
	CHECK(smb_service_pids(&cfg, &pid, &smbd) == 0 && smbd > 0);
	close(hold);
	CHECK(service_ends(pid, smbd));
	CHECK(smbclient("acct1", key1, "data", "ls", out, sizeof(out)) != 0);
	hold = smb_service_hold(&cfg, &err);
	CHECK(hold >= 0 && smb_service_start(&cfg, addrs, 1, &err) == 0);
	CHECK(smb_service_pids(&cfg, &pid, &smbd) == 0 && smbd > 0);

	/* rm: data, account and user gone; the other account untouched. */
	CHECK_OK(smb_share_remove(&cfg, "acct1", "data", &err), &err);
	CHECK(smb_share_remove(&cfg, "acct1", "data", &err) == -ENOENT);
	snprintf(dir, sizeof(dir), "%s/smb/shares/acct1", tmp);
	CHECK(stat(dir, &st) < 0 && errno == ENOENT);
	CHECK(getpwnam("capsid-acct1") == NULL);
	CHECK(smb_account_key(&cfg, "acct1", false, old, &err) == -ENOENT);
	CHECK(smbclient("acct1", key1, "data", "ls", out, sizeof(out)) != 0);
	CHECK(smbclient("acct2", key2, "data", "ls", out, sizeof(out)) == 0);
	CHECK(smb_share_remove(&cfg, "acct2", "data", &err) == 0);
	snprintf(dir, sizeof(dir), "%s/smb/images/acct2-data.ext4", tmp);
	CHECK(stat(dir, &st) < 0);

	/* No share left: smbd ends although a user still holds the service,
	 * and a start has nothing to serve. */
	CHECK(service_ends(pid, smbd));
	CHECK(smb_service_start(&cfg, addrs, 1, &err) == -ENOENT);
	close(hold);
	CHECK(smb_service_stop(&cfg, &err) == 0 && smb_service_pid(&cfg) == 0);
}

/* A private network (lo with ADDR) and mount namespace, /etc overlaid. */
static int enter_sandbox(void)
{
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	char up[PATH_MAX], work[PATH_MAX], opts[3 * PATH_MAX];
	snprintf(up, sizeof(up), "%s/etc-up", tmp);
	snprintf(work, sizeof(work), "%s/etc-work", tmp);
	if (mkdir(up, 0755) < 0 || mkdir(work, 0755) < 0)
		return -errno;
	snprintf(opts, sizeof(opts), "lowerdir=/etc,upperdir=%s,workdir=%s", up, work);
	if (mount("overlay", "/etc", "overlay", 0, opts) < 0)
		return -errno;
	const char *lo_up[] = {"ip", "link", "set", "lo", "up", NULL};
	const char *lo_addr[] = {"ip", "addr", "add", ADDR "/24", "dev", "lo", NULL};
	if (volume_run(lo_up, NULL, NULL, 0, NULL, 0) || volume_run(lo_addr, NULL, NULL, 0, NULL, 0))
		return -EIO;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--root") && !strcmp(argv[3], "__smbd") && !strcmp(argv[4], "serve"))
		return smb_keeper_main(argv[2], NULL) < 0 ? 1 : 0;
	RUN_TEST(test_names_and_sizes);
	if (geteuid() != 0 || access("/usr/sbin/smbd", X_OK) || access("/usr/bin/smbclient", X_OK)) {
		fprintf(stderr, "needs root, samba and smbclient\n");
		return 1;
	}
	if (!mkdtemp(tmp))
		return 1;
	int rc = enter_sandbox();
	struct capsid_error err = {0};
	if (rc < 0 || smb_config_init(tmp, NULL, &cfg, &err) < 0) {
		fprintf(stderr, "sandbox: %s %s\n", strerror(-rc), err.msg);
		return 1;
	}
	RUN_TEST(test_service);
	smb_service_stop(&cfg, &err);
	/* Unmount what the test mounted (quota filesystems, then /etc) before
	 * removing the temporary root. */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/smb/shares/acct2/data", tmp);
	umount2(dir, MNT_DETACH);
	umount2("/etc", MNT_DETACH);
	util_rm_rf(tmp);
	TEST_EXIT();
}
