/* The embedded SMB service: Azure-Files-like shares (ACCOUNT/SHARE, the
 * account key as password) served by a private smbd under <root>/smb/,
 * reachable only on the addresses it is given (the capsid bridge gateways).
 *
 * Layout (dirs 0711 unless said, files 0600):
 *   <root>/smb/accounts.json     accounts, their keys (at rest, 0600), shares and quotas
 *   <root>/smb/store.lock        flock: one writer of the store at a time
 *   <root>/smb/smbd.lock         flock held by smbd's keeper (its pid, then smbd's, inside)
 *   <root>/smb/users.lock        flock held shared by every user of the service (running VMs
 *                                that mount an embedded share)
 *   <root>/smb/pinned            present: kept running by hand (`capsid __smbd start`)
 *   <root>/smb/smb.conf          generated; includes accounts/%U.conf per login
 *   <root>/smb/accounts/A.conf   the shares of account A (valid users = A's unix user)
 *   <root>/smb/users.map         username map: SMB login A -> unix user capsid-A
 *   <root>/smb/private/ (0700)   tdbsam passdb and secrets; lock/ state/ cache/ run/ log/
 *   <root>/smb/shares/A/S/       share data, owned by capsid-A (0700)
 *   <root>/smb/images/A-S.ext4   a quota'd share's filesystem, loop-mounted on shares/A/S
 *
 * Each account is a system user `capsid-ACCOUNT` (nologin, no home): Samba's
 * passdb only holds users the host knows. The guest logs in as ACCOUNT;
 * the username map turns that into capsid-ACCOUNT, and `include =
 * accounts/%U.conf` gives every account its own namespace of share names,
 * so two accounts may both have a share "data", as in Azure.
 *
 * Keys never appear in arguments (smbpasswd reads them on stdin), messages
 * or logs. */
#ifndef CAPSID_SMB_H
#define CAPSID_SMB_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define SMB_ACCOUNT_MAX	   24  /* Azure storage account names: 3-24 of [a-z0-9] */
#define SMB_SHARE_MAX	   63  /* Azure share names: 3-63 of [a-z0-9-] */
#define SMB_KEY_LEN	   88  /* base64 of 64 random bytes, like an Azure account key */
#define SMB_MAX_ADDRESSES  64
#define SMB_MIN_QUOTA	   (16ull << 20) /* mkfs.ext4 needs room for its own metadata */

struct smb_config {
	char root[PATH_MAX];	 /* the state root */
	char smbd[PATH_MAX];	 /* CAPSID_SMBD or "smbd" */
	char smbpasswd[PATH_MAX]; /* CAPSID_SMBPASSWD or "smbpasswd" */
	unsigned start_timeout_ms; /* CAPSID_SMBD_TIMEOUT_MS or 15000 */
};

/* What a program read at its edge (host/core/config.h): NULL or 0 fields
 * keep the defaults. */
struct smb_settings {
	const char *smbd;	   /* CAPSID_SMBD */
	const char *smbpasswd;	   /* CAPSID_SMBPASSWD */
	unsigned start_timeout_ms; /* CAPSID_SMBD_TIMEOUT_MS */
	const char *suffix;	   /* CAPSID_SMB_SUFFIX: azureFile servers ACCOUNT.SUFFIX */
	const char *addresses;	   /* CAPSID_SMB_ADDRESSES: name=IPv4,... */
};

struct smb_share_info {
	char account[SMB_ACCOUNT_MAX + 1];
	char share[SMB_SHARE_MAX + 1];
	uint64_t quota_bytes; /* 0: no quota */
	char path[PATH_MAX];  /* where the data is */
};

int smb_config_init(const char *root, const struct smb_settings *set, struct smb_config *cfg,
		    struct capsid_error *err);

/* "ACCOUNT/SHARE" into its parts, with the Azure naming rules checked. */
int smb_parse_ref(const char *ref, char account[SMB_ACCOUNT_MAX + 1], char share[SMB_SHARE_MAX + 1],
		  struct capsid_error *err);
/* "10G", "512M", "1024" (bytes), with K/M/G/T (powers of 1024). */
int smb_parse_size(const char *s, uint64_t *out, struct capsid_error *err);

/* Create a share; the account is created with a new key on its first
 * share. quota_bytes 0: none, else at least SMB_MIN_QUOTA, enforced by a
 * filesystem of that size. -EEXIST when it exists. A running smbd is told
 * to reload. */
int smb_share_create(const struct smb_config *cfg, const char *account, const char *share,
		     uint64_t quota_bytes, struct capsid_error *err);
/* Remove a share and its data; the account (user, key) goes with its last
 * share. -ENOENT when there is no such share. */
int smb_share_remove(const struct smb_config *cfg, const char *account, const char *share,
		     struct capsid_error *err);
/* All shares, sorted by account then share. Free *out with free(). */
int smb_share_list(const struct smb_config *cfg, struct smb_share_info **out, size_t *n,
		   struct capsid_error *err);
/* The account's key into key (SMB_KEY_LEN + 1 bytes); rotate: replace it
 * first (the old key stops working at once). -ENOENT for no such account.
 * The caller should explicit_bzero() the key when done. */
int smb_account_key(const struct smb_config *cfg, const char *account, bool rotate,
		    char key[SMB_KEY_LEN + 1], struct capsid_error *err);

/* smbd runs while it is needed: while at least one share exists and a
 * user holds the service (smb_service_hold, or a pin), and while the state
 * root exists. Its keeper (`capsid __smbd serve`, smb_keeper_main) checks
 * that once a second and then stops smbd and exits.
 *
 * Write smb.conf for these listen addresses (IPv4, e.g. the bridge
 * gateways) and start smbd if it is not running, else make it reload.
 * Mounts quota'd share filesystems first. Returns once smbd accepts
 * connections on addrs[0]:445. -ENOENT when there is no share to serve.
 * Call it holding the service (smb_service_hold) or with a pin, else the
 * keeper stops smbd again at its next check. */
int smb_service_start(const struct smb_config *cfg, const char *const *addrs, size_t n_addrs,
		      struct capsid_error *err);
/* Stop smbd (SIGTERM, then SIGKILL after the timeout); 0 when it was not running. */
int smb_service_stop(const struct smb_config *cfg, struct capsid_error *err);
/* The running keeper's pid, 0 when none runs, -errno on error. */
int smb_service_pid(const struct smb_config *cfg);
/* The keeper's and smbd's pids (0, 0 when none runs); -EAGAIN while a
 * keeper starts, other -errno on error. */
int smb_service_pids(const struct smb_config *cfg, pid_t *keeper, pid_t *smbd);
/* Become a user of the service: a shared flock on users.lock, returned as
 * an fd (close it to let go). Blocks while a keeper is stopping smbd. */
int smb_service_hold(const struct smb_config *cfg, struct capsid_error *err);
/* Keep the service running without a user (on) or not (off). */
int smb_service_pin(const struct smb_config *cfg, bool on, struct capsid_error *err);
/* Body of `capsid --root ROOT __smbd serve`: run smbd while it is needed. */
int smb_keeper_main(const char *root, const struct smb_settings *set);

#endif
