/* The SMB service's store (accounts, keys, shares) and the host side of an
 * account: its unix user, its passdb entry, its share definitions. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "smb_internal.h"
#include "util.h"
#include "volume_exec.h"

#define STORE_FILE "accounts.json"
#define STORE_MAX  (4u << 20)

int smb_path(const struct smb_config *cfg, const char *leaf, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/smb%s%s", cfg->root, leaf ? "/" : "", leaf ? leaf : "");
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* smbd drops to the account's uid for file access, so every directory on
 * the way to a share must be searchable by others (not listable). */
int smb_prepare_dirs(const struct smb_config *cfg, struct capsid_error *err)
{
	static const struct {
		const char *leaf;
		mode_t mode;
	} dirs[] = {{NULL, 0711},	{"private", 0700}, {"lock", 0755},   {"state", 0755},
		    {"cache", 0755},	{"run", 0755},	   {"log", 0700},    {"accounts", 0755},
		    {"shares", 0711}, {"images", 0700},  {"run/ncalrpc", 0755}};
	struct stat st;
	if (stat(cfg->root, &st) < 0 && util_mkdir_p(cfg->root, 0711) < 0)
		return capsid_error_errno(err, errno, "create %s", cfg->root);
	if (stat(cfg->root, &st) == 0 && !(st.st_mode & S_IXOTH) && chmod(cfg->root, st.st_mode | S_IXOTH) < 0)
		return capsid_error_errno(err, errno, "chmod o+x %s", cfg->root);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char p[PATH_MAX];
		if (smb_path(cfg, dirs[i].leaf, p, sizeof(p)) < 0)
			return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
		if (mkdir(p, dirs[i].mode) < 0 && errno != EEXIST)
			return capsid_error_errno(err, errno, "mkdir %s", p);
		if (chmod(p, dirs[i].mode) < 0)
			return capsid_error_errno(err, errno, "chmod %s", p);
	}
	return 0;
}

int smb_store_lock(const struct smb_config *cfg, struct capsid_error *err)
{
	char p[PATH_MAX];
	if (smb_path(cfg, "store.lock", p, sizeof(p)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	_cleanup_close_ int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return capsid_error_errno(err, errno, "open %s", p);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return capsid_error_errno(err, errno, "lock %s", p);
	return TAKE_FD(fd);
}

void smb_store_wipe(struct json_object *store)
{
	struct json_object *accounts = NULL;
	if (!json_object_object_get_ex(store, "accounts", &accounts) ||
	    !json_object_is_type(accounts, json_type_object))
		return;
	json_object_object_foreach(accounts, name, acct)
	{
		(void)name;
		struct json_object *key = NULL;
		if (json_object_object_get_ex(acct, "key", &key) && json_object_is_type(key, json_type_string))
			explicit_bzero((char *)json_object_get_string(key),
				       (size_t)json_object_get_string_len(key));
	}
}

int smb_store_load(const struct smb_config *cfg, struct json_object **out, struct capsid_error *err)
{
	*out = NULL;
	char p[PATH_MAX];
	if (smb_path(cfg, STORE_FILE, p, sizeof(p)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int rc = util_read_file_at(AT_FDCWD, p, STORE_MAX, &text, &len);
	if (rc == -ENOENT) {
		struct json_object *store = json_object_new_object();
		if (!store || json_object_object_add(store, "accounts", json_object_new_object()) < 0) {
			json_object_put(store);
			return capsid_error_set(err, ENOMEM, "out of memory");
		}
		*out = store;
		return 0;
	}
	if (rc < 0)
		return capsid_error_errno(err, -rc, "read %s", p);
	struct json_object *store = json_tokener_parse(text);
	explicit_bzero(text, len);
	struct json_object *accounts = NULL;
	if (!store || !json_object_object_get_ex(store, "accounts", &accounts) ||
	    !json_object_is_type(accounts, json_type_object)) {
		json_object_put(store);
		return capsid_error_set(err, EINVAL, "%s: not a capsid SMB store", p);
	}
	*out = store;
	return 0;
}

int smb_store_save(const struct smb_config *cfg, struct json_object *store, struct capsid_error *err)
{
	char p[PATH_MAX];
	if (smb_path(cfg, STORE_FILE, p, sizeof(p)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	size_t len = 0;
	const char *text = json_object_to_json_string_length(store, JSON_C_TO_STRING_PRETTY, &len);
	if (!text)
		return capsid_error_set(err, ENOMEM, "out of memory");
	int rc = util_write_file_atomic(p, text, len, 0600);
	/* json-c keeps the text in the object until it is freed or re-serialised. */
	explicit_bzero((char *)text, len);
	return rc < 0 ? capsid_error_errno(err, -rc, "write %s", p) : 0;
}

int smb_new_key(char key[SMB_KEY_LEN + 1])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char raw[66] = {0}; /* 64 random bytes, padded to a multiple of 3 */
	if (getrandom(raw, 64, 0) != 64)
		return -EIO;
	size_t o = 0;
	for (size_t i = 0; i < 66; i += 3) {
		unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
		key[o++] = b64[(v >> 18) & 63];
		key[o++] = b64[(v >> 12) & 63];
		key[o++] = b64[(v >> 6) & 63];
		key[o++] = b64[v & 63];
	}
	key[SMB_KEY_LEN - 2] = key[SMB_KEY_LEN - 1] = '='; /* 64 = 21*3 + 1: two padding characters */
	key[SMB_KEY_LEN] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

static void unix_user(const char *account, char out[64])
{
	snprintf(out, 64, SMB_USER_PREFIX "%s", account);
}

static int run_checked(const char *const argv[], const void *input, size_t input_len, const char *what,
		       struct capsid_error *err)
{
	char out[512];
	int rc = volume_run(argv, NULL, input, input_len, out, sizeof(out));
	if (rc < 0)
		return capsid_error_errno(err, -rc, "%s: run %s", what, argv[0]);
	if (rc != 0)
		return capsid_error_set(err, EIO, "%s: %s exited with %d%s%s", what, argv[0], rc,
					out[0] ? ": " : "", out);
	return 0;
}

/* smbpasswd -s reads the new password twice from stdin. */
static int set_password(const struct smb_config *cfg, const char *user, const char *key, bool add,
			struct capsid_error *err)
{
	char conf[PATH_MAX];
	if (smb_path(cfg, "smb.conf", conf, sizeof(conf)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	char input[2 * SMB_KEY_LEN + 4];
	int n = snprintf(input, sizeof(input), "%s\n%s\n", key, key);
	const char *argv[] = {cfg->smbpasswd, "-c", conf, "-s", add ? "-a" : user, add ? user : NULL, NULL};
	int rc = run_checked(argv, input, (size_t)n, "set the account key", err);
	explicit_bzero(input, sizeof(input));
	return rc;
}

/* smbpasswd needs a config to find the passdb, before smbd ever ran. */
static int ensure_conf(const struct smb_config *cfg, struct capsid_error *err)
{
	char conf[PATH_MAX];
	if (smb_path(cfg, "smb.conf", conf, sizeof(conf)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	if (access(conf, F_OK) == 0)
		return 0;
	return smb_service_write_conf(cfg, NULL, 0, err);
}

int smb_user_add(const struct smb_config *cfg, const char *account, const char *key, struct capsid_error *err)
{
	char user[64];
	unix_user(account, user);
	if (!getpwnam(user)) {
		const char *argv[] = {"useradd", "--system",	"--no-create-home", "--home-dir",
				      "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment",
				      "capsid SMB account", user, NULL};
		int rc = run_checked(argv, NULL, 0, "create the account's user", err);
		if (rc < 0)
			return rc;
	}
	int rc = ensure_conf(cfg, err);
	return rc < 0 ? rc : set_password(cfg, user, key, true, err);
}

int smb_user_set_key(const struct smb_config *cfg, const char *account, const char *key,
		     struct capsid_error *err)
{
	char user[64];
	unix_user(account, user);
	int rc = ensure_conf(cfg, err);
	return rc < 0 ? rc : set_password(cfg, user, key, false, err);
}

/* Whether any of a process's real, effective or saved uids is uid (what
 * userdel calls "used by process"). */
static bool runs_as(const char *pid, uid_t uid)
{
	char path[300], line[256];
	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long r, e, sv;
		if (sscanf(line, "Uid: %lu %lu %lu", &r, &e, &sv) == 3)
			return r == uid || e == uid || sv == uid;
	}
	return false;
}

/* End the sessions still served as an account's user (smbd's children for
 * that account's clients: nothing else runs as it), so that a removed
 * account is cut off at once and its user can go. Returns how many still
 * ran. */
static int end_user_sessions(uid_t uid)
{
	int left = 0;
	_cleanup_closedir_ DIR *d = opendir("/proc");
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || !runs_as(e->d_name, uid))
			continue;
		kill((pid_t)atoi(e->d_name), SIGKILL);
		left++;
	}
	return left;
}

int smb_user_remove(const struct smb_config *cfg, const char *account, struct capsid_error *err)
{
	char user[64], conf[PATH_MAX];
	unix_user(account, user);
	if (smb_path(cfg, "smb.conf", conf, sizeof(conf)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	/* Best effort for the passdb: the user is what makes a login possible. */
	const char *del[] = {cfg->smbpasswd, "-c", conf, "-x", user, NULL};
	volume_run(del, NULL, NULL, 0, NULL, 0);
	struct passwd *pw = getpwnam(user);
	if (!pw)
		return 0;
	/* A killed process lingers until its parent reaps it: up to 5 s. */
	for (int i = 0; i < 100 && end_user_sessions(pw->pw_uid) > 0; i++)
		nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
	const char *argv[] = {"userdel", user, NULL};
	return run_checked(argv, NULL, 0, "remove the account's user", err);
}

int smb_write_account_confs(const struct smb_config *cfg, struct json_object *store, struct capsid_error *err)
{
	struct json_object *accounts = NULL;
	json_object_object_get_ex(store, "accounts", &accounts);
	_cleanup_free_ char *map = NULL;
	size_t map_len = 0;
	_cleanup_fclose_ FILE *mf = open_memstream(&map, &map_len);
	if (!mf)
		return capsid_error_set(err, ENOMEM, "out of memory");
	json_object_object_foreach(accounts, account, acct)
	{
		char user[64];
		unix_user(account, user);
		fprintf(mf, "%s = %s\n", user, account);
		_cleanup_free_ char *conf = NULL;
		size_t conf_len = 0;
		FILE *cf = open_memstream(&conf, &conf_len);
		if (!cf)
			return capsid_error_set(err, ENOMEM, "out of memory");
		fprintf(cf, "# generated by capsid for SMB account %s: do not edit\n", account);
		struct json_object *shares = NULL;
		json_object_object_get_ex(acct, "shares", &shares);
		json_object_object_foreach(shares, share, info)
		{
			(void)info;
			char dir[PATH_MAX];
			if (snprintf(dir, sizeof(dir), "%s/smb/shares/%s/%s", cfg->root, account, share) >=
			    (int)sizeof(dir)) {
				fclose(cf);
				return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
			}
			fprintf(cf,
				"[%s]\n\tpath = %s\n\tvalid users = %s\n\tread only = no\n"
				"\tbrowseable = no\n\tcreate mask = 0644\n\tdirectory mask = 0755\n",
				share, dir, user);
		}
		fclose(cf);
		char p[PATH_MAX], leaf[64];
		snprintf(leaf, sizeof(leaf), "accounts/%s.conf", account);
		if (smb_path(cfg, leaf, p, sizeof(p)) < 0)
			return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
		int rc = util_write_file_atomic(p, conf, conf_len, 0644);
		if (rc < 0)
			return capsid_error_errno(err, -rc, "write %s", p);
	}
	fflush(mf);
	char p[PATH_MAX];
	if (smb_path(cfg, "users.map", p, sizeof(p)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	int rc = util_write_file_atomic(p, map ? map : "", map_len, 0644);
	return rc < 0 ? capsid_error_errno(err, -rc, "write %s", p) : 0;
}
