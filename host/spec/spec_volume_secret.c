/* The spec's secret volume:
 *
 *   secret{FILENAME: base64, ...}
 *
 * The contents are secrets like secureValue: never in messages, left out by
 * SPEC_REDACT (the file names stay), wiped when freed. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "spec_volume_kinds.h"

#define put spec_json_put

/* Strict base64 (RFC 4648, standard alphabet, padded). Whitespace is
 * dropped first (YAML block scalars, `base64`'s line wrapping), so *canon
 * is what the guest decodes. Returns the decoded size, or -1. */
static long base64_canonical(const char *s, char **canon)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t len = strlen(s), n = 0;
	char *out = malloc(len + 1);
	if (!out)
		return -2;
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", s[i]))
			out[n++] = s[i];
	out[n] = '\0';
	size_t pad = 0;
	while (pad < 2 && pad < n && out[n - 1 - pad] == '=')
		pad++;
	bool ok = n % 4 == 0;
	for (size_t i = 0; ok && i < n - pad; i++)
		ok = out[i] && strchr(alphabet, out[i]);
	if (!ok) {
		explicit_bzero(out, n);
		free(out);
		return -1;
	}
	*canon = out;
	return (long)(n / 4 * 3 - pad);
}

static int parse_secret(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_volume *vol = target;
	if (!json_object_is_type(v, json_type_object))
		return spec_type_error(c, path, "an object of file names to base64 contents", v);
	size_t n = (size_t)json_object_object_length(v);
	if (n == 0)
		return capsid_error_set(c->err, EINVAL, "%s: must contain at least one file", path);
	if (n > SPEC_MAX_SECRET_FILES)
		return capsid_error_set(c->err, EINVAL, "%s: at most %d files are allowed, not %zu", path,
					SPEC_MAX_SECRET_FILES, n);
	vol->secret.files = calloc(n, sizeof(*vol->secret.files));
	if (!vol->secret.files)
		return spec_nomem(c);
	size_t total = 0;
	struct json_object_iterator it = json_object_iter_begin(v), end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *name = json_object_iter_peek_name(&it);
		struct json_object *val = json_object_iter_peek_value(&it);
		char q[80], p[SPEC_PATH_SZ];
		spec_sanitize(q, sizeof(q), name);
		spec_path_key(p, path, q);
		struct spec_secret_file *f = &vol->secret.files[vol->secret.n_files++];
		size_t len = strlen(name);
		if (len == 0 || len > SPEC_FILE_NAME_MAX || strchr(name, '/') || !strcmp(name, ".") ||
		    !strcmp(name, "..") || spec_volume_has_control(name))
			return capsid_error_set(c->err, EINVAL,
						"%s: the file name must be 1-%d characters, without '/' or "
						"control characters, and not \".\" or \"..\"",
						p, SPEC_FILE_NAME_MAX);
		if (!(f->name = strdup(name)))
			return spec_nomem(c);
		if (!val && (c->flags & SPEC_PARSE_REDACTED))
			continue; /* the content was dropped on purpose */
		if (!json_object_is_type(val, json_type_string))
			return spec_type_error(c, p, "a base64 string", val);
		long size = base64_canonical(json_object_get_string(val), &f->data);
		if (size == -2)
			return spec_nomem(c);
		if (size < 0)
			return capsid_error_set(c->err, EINVAL, "%s: must be base64 (RFC 4648, padded)", p);
		f->size = (size_t)size;
		total += f->size;
		if (total > SPEC_MAX_SECRET_BYTES)
			return capsid_error_set(c->err, EINVAL, "%s: the files add up to more than %u bytes",
						path, SPEC_MAX_SECRET_BYTES);
	}
	return 0;
}

static void put_secret(struct json_object *k, const struct spec_volume *vol, enum spec_json_mode mode,
		       bool *ok)
{
	for (size_t i = 0; i < vol->secret.n_files; i++) {
		const struct spec_secret_file *f = &vol->secret.files[i];
		if (mode == SPEC_WITH_SECRETS && f->data)
			put(k, f->name, json_object_new_string(f->data), ok);
		else if (k && json_object_object_add(k, f->name, NULL) < 0)
			*ok = false;
	}
}

static void free_secret_volume(struct spec_volume *vol)
{
	for (size_t k = 0; k < vol->secret.n_files; k++) {
		free(vol->secret.files[k].name);
		spec_volume_free_secret(vol->secret.files[k].data);
	}
	free(vol->secret.files);
}

const struct spec_volume_kind_ops spec_volume_secret_ops = {
    .key = "secret",
    .secrets = "secret files",
    .parse = parse_secret,
    .to_json = put_secret,
    .free = free_secret_volume,
};
