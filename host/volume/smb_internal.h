/* Shared between smb.c and smb_store.c; not part of the public API. */
#ifndef CAPSID_SMB_INTERNAL_H
#define CAPSID_SMB_INTERNAL_H

#include <stddef.h>

#include "error.h"
#include "smb.h"

struct json_object;

#define SMB_USER_PREFIX "capsid-"

/* <root>/smb/<leaf> (leaf NULL: the directory itself). */
int smb_path(const struct smb_config *cfg, const char *leaf, char *out, size_t len);
/* Create <root>/smb and its subdirectories (idempotent). */
int smb_prepare_dirs(const struct smb_config *cfg, struct capsid_error *err);
/* Exclusive store lock; returns the fd (close to unlock). */
int smb_store_lock(const struct smb_config *cfg, struct capsid_error *err);
/* accounts.json as {"accounts": {...}}; an empty store when missing. */
int smb_store_load(const struct smb_config *cfg, struct json_object **out, struct capsid_error *err);
int smb_store_save(const struct smb_config *cfg, struct json_object *store, struct capsid_error *err);
/* Overwrite every "key" string in the store before it is freed. */
void smb_store_wipe(struct json_object *store);
/* A fresh key: base64 of 64 random bytes (SMB_KEY_LEN characters). */
int smb_new_key(char key[SMB_KEY_LEN + 1]);
/* The unix user of an account, and its passdb entry with this password. */
int smb_user_add(const struct smb_config *cfg, const char *account, const char *key,
		 struct capsid_error *err);
int smb_user_set_key(const struct smb_config *cfg, const char *account, const char *key,
		     struct capsid_error *err);
int smb_user_remove(const struct smb_config *cfg, const char *account, struct capsid_error *err);
/* Write smb.conf listening on addrs (n_addrs 0: the addresses of the last
 * start, from <root>/smb/addresses; none at all: loopback only). */
int smb_service_write_conf(const struct smb_config *cfg, const char *const *addrs, size_t n_addrs,
			   struct capsid_error *err);
/* Loop-mount a quota'd share's filesystem on its directory unless it is. */
int smb_mount_quota(const struct smb_config *cfg, const char *account, const char *share,
		    struct capsid_error *err);
/* Regenerate users.map and every accounts/A.conf from the store. */
int smb_write_account_confs(const struct smb_config *cfg, struct json_object *store,
			    struct capsid_error *err);

#endif
