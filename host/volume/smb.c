/* The embedded SMB service: shares, keys, smb.conf and the private smbd
 * (see smb.h). The store lock serialises every change; smbd.lock, held by
 * smbd itself for its whole life, makes it a single instance per root. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "smb_internal.h"
#include "util.h"
#include "volume_exec.h"

static void store_freep(struct json_object **s)
{
	if (*s) {
		smb_store_wipe(*s);
		json_object_put(*s);
	}
}
#define _cleanup_store_ _cleanup_(store_freep)

int smb_config_init(const char *root, const struct smb_settings *set, struct smb_config *cfg,
		    struct capsid_error *err)
{
	*cfg = (struct smb_config){.start_timeout_ms = 15000};
	if (!root || root[0] != '/')
		return capsid_error_set(err, EINVAL, "the state root must be an absolute path");
	if ((size_t)snprintf(cfg->root, sizeof(cfg->root), "%s", root) >= sizeof(cfg->root) - 128)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	snprintf(cfg->smbd, sizeof(cfg->smbd), "%s", set && set->smbd ? set->smbd : "smbd");
	snprintf(cfg->smbpasswd, sizeof(cfg->smbpasswd), "%s", set && set->smbpasswd ? set->smbpasswd : "smbpasswd");
	if (set && set->start_timeout_ms)
		cfg->start_timeout_ms = set->start_timeout_ms;
	return 0;
}

static bool valid_account(const char *s)
{
	size_t len = strlen(s);
	return len >= 3 && len <= SMB_ACCOUNT_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789") == len;
}

static bool valid_share(const char *s)
{
	size_t len = strlen(s);
	return len >= 3 && len <= SMB_SHARE_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len && s[0] != '-' && s[len - 1] != '-' &&
	       !strstr(s, "--");
}

int smb_parse_ref(const char *ref, char account[SMB_ACCOUNT_MAX + 1], char share[SMB_SHARE_MAX + 1],
		  struct capsid_error *err)
{
	const char *slash = strchr(ref, '/');
	size_t alen = slash ? (size_t)(slash - ref) : strlen(ref);
	if (alen > SMB_ACCOUNT_MAX)
		alen = SMB_ACCOUNT_MAX + 1; /* too long: fails below */
	char a[SMB_ACCOUNT_MAX + 2];
	snprintf(a, sizeof(a), "%.*s", (int)alen, ref);
	if (!valid_account(a))
		return capsid_error_set(err, EINVAL,
					"\"%.40s\": the account must be 3-24 lowercase letters or digits", ref);
	strcpy(account, a);
	if (!share)
		return slash ? capsid_error_set(err, EINVAL, "\"%.40s\": expected ACCOUNT", ref) : 0;
	if (!slash || !valid_share(slash + 1))
		return capsid_error_set(err, EINVAL,
					"\"%.80s\": expected ACCOUNT/SHARE, the share being 3-63 lowercase "
					"letters, digits or single '-'",
					ref);
	strcpy(share, slash + 1);
	return 0;
}

int smb_parse_size(const char *s, uint64_t *out, struct capsid_error *err)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	case '\0': break;
	default: shift = 99;
	}
	if (*end && end[1] && strcasecmp(end + 1, "B") && strcasecmp(end + 1, "iB"))
		shift = 99;
	if (errno || end == s || !isdigit((unsigned char)s[0]) || shift == 99 || v == 0 ||
	    v > (UINT64_MAX >> shift))
		return capsid_error_set(err, EINVAL, "\"%.40s\": expected a size such as 512M or 10G", s);
	*out = (uint64_t)v << shift;
	return 0;
}

static int share_dir(const struct smb_config *cfg, const char *account, const char *share, char *out, size_t len)
{
	char leaf[128];
	snprintf(leaf, sizeof(leaf), share ? "shares/%s/%s" : "shares/%s", account, share);
	return smb_path(cfg, leaf, out, len);
}

static int image_path(const struct smb_config *cfg, const char *account, const char *share, char *out, size_t len)
{
	char leaf[128];
	snprintf(leaf, sizeof(leaf), "images/%s-%s.ext4", account, share);
	return smb_path(cfg, leaf, out, len);
}

static bool is_mountpoint(const char *dir)
{
	struct stat a, b;
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s/..", dir);
	return stat(dir, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

/* A quota'd share is its own ext4 filesystem (built by us, written only
 * through smbd), loop-mounted nosuid,nodev,noexec on the share dir. */
int smb_mount_quota(const struct smb_config *cfg, const char *account, const char *share,
		       struct capsid_error *err)
{
	char dir[PATH_MAX], img[PATH_MAX], out[512];
	if (share_dir(cfg, account, share, dir, sizeof(dir)) < 0 || image_path(cfg, account, share, img, sizeof(img)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	if (is_mountpoint(dir))
		return 0;
	const char *argv[] = {"mount", "-t", "ext4", "-o", "loop,nosuid,nodev,noexec", img, dir, NULL};
	int rc = volume_run(argv, NULL, NULL, 0, out, sizeof(out));
	if (rc != 0)
		return capsid_error_set(err, EIO, "mount the filesystem of share %s/%s: %s", account, share,
					rc < 0 ? strerror(-rc) : out);
	return 0;
}

static int make_quota_fs(const struct smb_config *cfg, const char *account, const char *share, uint64_t bytes,
			 const struct passwd *pw, struct capsid_error *err)
{
	char img[PATH_MAX], size[32], owner[64], out[512];
	if (image_path(cfg, account, share, img, sizeof(img)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	snprintf(size, sizeof(size), "%lluk", (unsigned long long)(bytes >> 10));
	snprintf(owner, sizeof(owner), "root_owner=%u:%u", (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	/* -m 0: no blocks reserved for root (smbd writes as the account). */
	const char *argv[] = {"mkfs.ext4", "-q", "-F", "-m", "0", "-E", owner, img, size, NULL};
	int rc = volume_run(argv, NULL, NULL, 0, out, sizeof(out));
	if (rc != 0) {
		unlink(img);
		return capsid_error_set(err, EIO, "make the filesystem of share %s/%s: %s", account, share,
					rc < 0 ? strerror(-rc) : out);
	}
	if (chmod(img, 0600) < 0)
		return capsid_error_errno(err, errno, "chmod %s", img);
	return smb_mount_quota(cfg, account, share, err);
}

/* A running smbd reloads its configuration (new shares, users, keys). */
static void reload(const struct smb_config *cfg)
{
	int pid = smb_service_pid(cfg);
	if (pid > 0)
		kill(pid, SIGHUP);
}

static struct json_object *store_account(struct json_object *store, const char *account)
{
	struct json_object *accounts = NULL, *acct = NULL;
	json_object_object_get_ex(store, "accounts", &accounts);
	return json_object_object_get_ex(accounts, account, &acct) ? acct : NULL;
}

static struct json_object *account_shares(struct json_object *acct)
{
	struct json_object *shares = NULL;
	json_object_object_get_ex(acct, "shares", &shares);
	return shares;
}

static int new_account(const struct smb_config *cfg, struct json_object *store, const char *account,
		       struct json_object **out, struct capsid_error *err)
{
	char key[SMB_KEY_LEN + 1];
	if (smb_new_key(key) < 0)
		return capsid_error_set(err, EIO, "no random bytes for the key");
	int rc = smb_user_add(cfg, account, key, err);
	struct json_object *acct = json_object_new_object(), *accounts = NULL;
	json_object_object_get_ex(store, "accounts", &accounts);
	bool ok = rc >= 0 && acct && !json_object_object_add(acct, "key", json_object_new_string(key)) &&
		  !json_object_object_add(acct, "shares", json_object_new_object()) &&
		  !json_object_object_add(accounts, account, acct);
	explicit_bzero(key, sizeof(key));
	if (!ok) {
		if (acct)
			smb_store_wipe(acct);
		json_object_put(acct);
		return rc < 0 ? rc : capsid_error_set(err, ENOMEM, "out of memory");
	}
	*out = acct;
	return 0;
}

int smb_share_create(const struct smb_config *cfg, const char *account, const char *share, uint64_t quota_bytes,
		     struct capsid_error *err)
{
	if (!valid_account(account) || !valid_share(share))
		return capsid_error_set(err, EINVAL, "invalid account or share name");
	if (quota_bytes && quota_bytes < SMB_MIN_QUOTA)
		return capsid_error_set(err, EINVAL, "the quota must be at least %llu MiB",
					(unsigned long long)(SMB_MIN_QUOTA >> 20));
	int rc = smb_prepare_dirs(cfg, err);
	if (rc < 0)
		return rc;
	_cleanup_close_ int lock = smb_store_lock(cfg, err);
	if (lock < 0)
		return lock;
	_cleanup_store_ struct json_object *store = NULL;
	if ((rc = smb_store_load(cfg, &store, err)) < 0)
		return rc;
	struct json_object *acct = store_account(store, account);
	if (acct && json_object_object_get_ex(account_shares(acct), share, NULL))
		return capsid_error_set(err, EEXIST, "share %s/%s already exists", account, share);
	if (!acct && (rc = new_account(cfg, store, account, &acct, err)) < 0)
		return rc;
	char user[64], dir[PATH_MAX];
	snprintf(user, sizeof(user), SMB_USER_PREFIX "%s", account);
	struct passwd *pw = getpwnam(user);
	if (!pw)
		return capsid_error_set(err, ENOENT, "user %s is missing", user);
	/* shares/ACCOUNT is the account's own (0700): accounts cannot see each other's data. */
	share_dir(cfg, account, NULL, dir, sizeof(dir));
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || chown(dir, pw->pw_uid, pw->pw_gid) < 0)
		return capsid_error_errno(err, errno, "create %s", dir);
	if (share_dir(cfg, account, share, dir, sizeof(dir)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || chown(dir, pw->pw_uid, pw->pw_gid) < 0)
		return capsid_error_errno(err, errno, "create %s", dir);
	if (quota_bytes && (rc = make_quota_fs(cfg, account, share, quota_bytes, pw, err)) < 0) {
		rmdir(dir);
		return rc;
	}
	struct json_object *info = json_object_new_object();
	if (!info || json_object_object_add(info, "quotaBytes", json_object_new_int64((int64_t)quota_bytes)) ||
	    json_object_object_add(account_shares(acct), share, info)) {
		json_object_put(info);
		return capsid_error_set(err, ENOMEM, "out of memory");
	}
	if ((rc = smb_store_save(cfg, store, err)) < 0 || (rc = smb_write_account_confs(cfg, store, err)) < 0)
		return rc;
	reload(cfg);
	return 0;
}

int smb_share_remove(const struct smb_config *cfg, const char *account, const char *share,
		     struct capsid_error *err)
{
	int rc = smb_prepare_dirs(cfg, err);
	if (rc < 0)
		return rc;
	_cleanup_close_ int lock = smb_store_lock(cfg, err);
	if (lock < 0)
		return lock;
	_cleanup_store_ struct json_object *store = NULL;
	if ((rc = smb_store_load(cfg, &store, err)) < 0)
		return rc;
	struct json_object *acct = store_account(store, account);
	struct json_object *shares = account_shares(acct);
	if (!acct || !json_object_object_get_ex(shares, share, NULL))
		return capsid_error_set(err, ENOENT, "no share %s/%s", account, share);
	/* Unpublish first, so no client is served a half-removed share. */
	json_object_object_del(shares, share);
	bool last = json_object_object_length(shares) == 0;
	if (last) {
		struct json_object *accounts = NULL;
		json_object_object_get_ex(store, "accounts", &accounts);
		smb_store_wipe(store);
		json_object_object_del(accounts, account);
	}
	if ((rc = smb_store_save(cfg, store, err)) < 0 || (rc = smb_write_account_confs(cfg, store, err)) < 0)
		return rc;
	reload(cfg);
	char dir[PATH_MAX], img[PATH_MAX];
	share_dir(cfg, account, share, dir, sizeof(dir));
	image_path(cfg, account, share, img, sizeof(img));
	if (is_mountpoint(dir) && umount2(dir, MNT_DETACH) < 0)
		return capsid_error_errno(err, errno, "unmount %s", dir);
	if ((rc = util_rm_rf(dir)) < 0 && rc != -ENOENT)
		return capsid_error_errno(err, -rc, "remove %s", dir);
	if (unlink(img) < 0 && errno != ENOENT)
		return capsid_error_errno(err, errno, "remove %s", img);
	if (!last)
		return 0;
	share_dir(cfg, account, NULL, dir, sizeof(dir));
	rmdir(dir);
	char leaf[64], conf[PATH_MAX];
	snprintf(leaf, sizeof(leaf), "accounts/%s.conf", account);
	if (smb_path(cfg, leaf, conf, sizeof(conf)) == 0)
		unlink(conf);
	return smb_user_remove(cfg, account, err);
}

static int info_cmp(const void *a, const void *b)
{
	const struct smb_share_info *x = a, *y = b;
	int c = strcmp(x->account, y->account);
	return c ? c : strcmp(x->share, y->share);
}

int smb_share_list(const struct smb_config *cfg, struct smb_share_info **out, size_t *n, struct capsid_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_store_ struct json_object *store = NULL;
	int rc = smb_store_load(cfg, &store, err);
	if (rc < 0)
		return rc;
	struct json_object *accounts = NULL;
	json_object_object_get_ex(store, "accounts", &accounts);
	size_t total = 0;
	json_object_object_foreach(accounts, a, acct)
	{
		(void)a;
		total += (size_t)json_object_object_length(account_shares(acct));
	}
	if (!total)
		return 0;
	_cleanup_free_ struct smb_share_info *list = calloc(total, sizeof(*list));
	if (!list)
		return capsid_error_set(err, ENOMEM, "out of memory");
	size_t k = 0;
	json_object_object_foreach(accounts, account, acct2)
	{
		json_object_object_foreach(account_shares(acct2), share, info)
		{
			if (k == total || !valid_account(account) || !valid_share(share))
				continue;
			struct smb_share_info *s = &list[k++];
			snprintf(s->account, sizeof(s->account), "%s", account);
			snprintf(s->share, sizeof(s->share), "%s", share);
			struct json_object *q = NULL;
			if (json_object_object_get_ex(info, "quotaBytes", &q))
				s->quota_bytes = (uint64_t)json_object_get_int64(q);
			share_dir(cfg, account, share, s->path, sizeof(s->path));
		}
	}
	qsort(list, k, sizeof(*list), info_cmp);
	*out = TAKE_PTR(list);
	*n = k;
	return 0;
}

int smb_account_key(const struct smb_config *cfg, const char *account, bool rotate, char key[SMB_KEY_LEN + 1],
		    struct capsid_error *err)
{
	key[0] = '\0';
	_cleanup_close_ int lock = -1;
	if (rotate && (lock = smb_store_lock(cfg, err)) < 0)
		return lock;
	_cleanup_store_ struct json_object *store = NULL;
	int rc = smb_store_load(cfg, &store, err);
	if (rc < 0)
		return rc;
	struct json_object *acct = store_account(store, account), *k = NULL;
	if (!acct || !json_object_object_get_ex(acct, "key", &k) || json_object_get_string_len(k) != SMB_KEY_LEN)
		return capsid_error_set(err, ENOENT, "no SMB account %s", account);
	if (!rotate) {
		memcpy(key, json_object_get_string(k), SMB_KEY_LEN + 1);
		return 0;
	}
	if (smb_new_key(key) < 0)
		return capsid_error_set(err, EIO, "no random bytes for the key");
	/* passdb first: if that fails, the stored key still is the valid one. */
	if ((rc = smb_user_set_key(cfg, account, key, err)) < 0) {
		explicit_bzero(key, SMB_KEY_LEN + 1);
		return rc;
	}
	explicit_bzero((char *)json_object_get_string(k), SMB_KEY_LEN);
	if (json_object_set_string(k, key) != 1)
		return capsid_error_set(err, ENOMEM, "out of memory");
	return smb_store_save(cfg, store, err);
}
