/* The spec's azureFile volume:
 *
 *   azureFile{shareName, storageAccountName, storageAccountKey, readOnly}
 *
 * storageAccountKey is a secret like secureValue: never in messages, left
 * out by SPEC_REDACT (then not required when read back), wiped when freed. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "spec_volume_kinds.h"

#define put spec_json_put

#define KEY_MAX	     512
#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"

static bool all_of(const char *s, const char *set)
{
	return strspn(s, set) == strlen(s);
}

static int parse_share_name(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_volume *vol = target;
	int rc = spec_dup_string(c, v, path, &vol->azure_file.share_name);
	if (rc < 0)
		return rc;
	const char *s = vol->azure_file.share_name;
	size_t len = strlen(s);
	/* Azure Files: 3-63 lowercase letters, digits and single hyphens,
	 * starting and ending with a letter or digit. */
	if (len < 3 || len > 63 || !all_of(s, LOWER_DIGITS "-") || s[0] == '-' || s[len - 1] == '-' ||
	    strstr(s, "--")) {
		char q[80];
		spec_sanitize(q, sizeof(q), s);
		return capsid_error_set(c->err, EINVAL,
					"%s: \"%s\" is not a valid share name: use 3-63 lowercase letters, "
					"digits or single '-', starting and ending with a letter or digit",
					path, q);
	}
	return 0;
}

static int parse_account_name(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_volume *vol = target;
	int rc = spec_dup_string(c, v, path, &vol->azure_file.account_name);
	if (rc < 0)
		return rc;
	const char *s = vol->azure_file.account_name;
	size_t len = strlen(s);
	if (len < 3 || len > 24 || !all_of(s, LOWER_DIGITS)) {
		char q[80];
		spec_sanitize(q, sizeof(q), s);
		return capsid_error_set(
		    c->err, EINVAL,
		    "%s: \"%s\" is not a valid storage account name: use 3-24 lowercase letters or digits",
		    path, q);
	}
	return 0;
}

/* The key reaches the cifs mount options in the guest: printable ASCII
 * without spaces or ',' (the option separator). Never echoed. */
static int parse_account_key(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_volume *vol = target;
	int rc = spec_dup_string(c, v, path, &vol->azure_file.account_key);
	if (rc < 0)
		return rc;
	const char *s = vol->azure_file.account_key;
	size_t len = strlen(s);
	bool ok = len >= 1 && len <= KEY_MAX;
	for (size_t i = 0; ok && i < len; i++)
		ok = s[i] > ' ' && s[i] < 0x7f && s[i] != ',';
	if (!ok)
		return capsid_error_set(c->err, EINVAL,
					"%s: must be 1-%d printable characters without spaces or ','", path,
					KEY_MAX);
	return 0;
}

static int parse_azure_read_only(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_volume_bool(c, v, path, &((struct spec_volume *)target)->azure_file.read_only);
}

static const struct spec_field azure_file_fields[] = {
    {"shareName", parse_share_name, true},
    {"storageAccountName", parse_account_name, true},
    {"storageAccountKey", parse_account_key, false}, /* required unless read back redacted */
    {"readOnly", parse_azure_read_only, false},
};

static int parse_azure_file(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_volume *vol = target;
	int rc = spec_parse_object(c, v, path, azure_file_fields, ARRAY_SIZE(azure_file_fields), vol);
	if (rc < 0)
		return rc;
	if (!vol->azure_file.account_key && !(c->flags & SPEC_PARSE_REDACTED))
		return capsid_error_set(c->err, EINVAL, "%s.storageAccountKey: is required", path);
	return 0;
}

static void put_azure_file(struct json_object *k, const struct spec_volume *vol, enum spec_json_mode mode,
			   bool *ok)
{
	put(k, "shareName", json_object_new_string(vol->azure_file.share_name), ok);
	put(k, "storageAccountName", json_object_new_string(vol->azure_file.account_name), ok);
	if (mode == SPEC_WITH_SECRETS && vol->azure_file.account_key)
		put(k, "storageAccountKey", json_object_new_string(vol->azure_file.account_key), ok);
	put(k, "readOnly", json_object_new_boolean(vol->azure_file.read_only), ok);
}

static void free_azure_file(struct spec_volume *vol)
{
	free(vol->azure_file.share_name);
	free(vol->azure_file.account_name);
	spec_volume_free_secret(vol->azure_file.account_key);
}

const struct spec_volume_kind_ops spec_volume_azure_file_ops = {
    .key = "azureFile",
    .secrets = "a storage account key",
    .parse = parse_azure_file,
    .to_json = put_azure_file,
    .free = free_azure_file,
};
