/* Manifests and indexes as registries serve them (OCI and Docker schema 2
 * media types), the platform choice, and registries' error bodies. All of
 * it is hostile input: sizes, counts and strings are bounded and checked. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "registry_internal.h"

const char *reg_quote(const char *s, size_t n, char *buf, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < n && s[i] && o + 5 < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch >= 0x7f || ch == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
		else
			buf[o++] = (char)ch;
	}
	buf[o] = '\0';
	return buf;
}

static int parse_json(const char *body, size_t len, const char *what, struct json_object **out,
		      struct capsid_error *err)
{
	if (len > REG_MAX_JSON)
		return capsid_error_set(err, EFBIG, "%s: larger than %u bytes", what, REG_MAX_JSON);
	struct json_tokener *tok = json_tokener_new_ex(32);
	if (!tok)
		return capsid_error_set(err, ENOMEM, "out of memory");
	struct json_object *doc = json_tokener_parse_ex(tok, body, (int)len);
	enum json_tokener_error je = json_tokener_get_error(tok);
	bool complete = je == json_tokener_success && tok->char_offset == (int)len;
	json_tokener_free(tok);
	if (!doc || !complete || !json_object_is_type(doc, json_type_object)) {
		json_object_put(doc);
		return capsid_error_set(err, EINVAL, "%s: not a JSON object%s%s", what, doc ? "" : ": ",
					doc ? "" : json_tokener_error_desc(je));
	}
	*out = doc;
	return 0;
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (o && json_object_is_type(o, json_type_object))
		json_object_object_get_ex(o, key, &v);
	return v;
}

static const char *member_string(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool digest_ok(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) || strlen(d) != 71)
		return false;
	for (size_t i = 7; i < 71; i++)
		if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
			return false;
	return true;
}

static int parse_desc(struct json_object *o, const char *where, uint64_t max, struct reg_desc *d,
		      struct capsid_error *err)
{
	memset(d, 0, sizeof(*d));
	if (!o || !json_object_is_type(o, json_type_object))
		return capsid_error_set(err, EINVAL, "%s: not a descriptor object", where);
	const char *mt = member_string(o, "mediaType"), *digest = member_string(o, "digest");
	struct json_object *size = member(o, "size");
	char q[96];
	if (mt && strlen(mt) >= sizeof(d->media_type))
		return capsid_error_set(err, EINVAL, "%s.mediaType: too long", where);
	snprintf(d->media_type, sizeof(d->media_type), "%s", mt ? mt : "");
	if (!digest)
		return capsid_error_set(err, EINVAL, "%s.digest: missing", where);
	if (strncmp(digest, "sha256:", 7) != 0)
		return capsid_error_set(err, ENOTSUP, "%s.digest %s: unsupported algorithm (only sha256)",
					where, reg_quote(digest, 40, q, sizeof(q)));
	if (!digest_ok(digest))
		return capsid_error_set(err, EINVAL, "%s.digest: not a sha256 digest", where);
	snprintf(d->digest, sizeof(d->digest), "%s", digest);
	if (!size || !json_object_is_type(size, json_type_int) || json_object_get_int64(size) < 0)
		return capsid_error_set(err, EINVAL, "%s.size: missing or negative", where);
	int64_t sz = json_object_get_int64(size);
	if ((uint64_t)sz > max)
		return capsid_error_set(err, EFBIG,
					"%s (%s): declared size %lld is over the limit of %llu bytes", where,
					d->digest, (long long)sz, (unsigned long long)max);
	d->size = (uint64_t)sz;
	return 0;
}

int reg_doc_kind(const char *body, size_t len, const char *content_type, char media_type[128],
		 struct capsid_error *err)
{
	_cleanup_json_ struct json_object *doc = NULL;
	int rc = parse_json(body, len, "manifest", &doc, err);
	if (rc < 0)
		return rc;
	const char *mt = member_string(doc, "mediaType");
	char ct[128] = "";
	if (content_type) /* drop parameters: "type; charset=..." */
		snprintf(ct, sizeof(ct), "%.*s", (int)strcspn(content_type, "; "), content_type);
	if (!mt || !*mt)
		mt = ct[0] ? ct : NULL;
	if (!mt) /* an OCI document may leave mediaType out */
		mt = member(doc, "manifests") ? MT_OCI_INDEX : MT_OCI_MANIFEST;
	char q[96];
	snprintf(media_type, 128, "%.127s", mt);
	if (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST))
		return 1;
	if (!strcmp(mt, MT_OCI_MANIFEST) || !strcmp(mt, MT_DOCKER_MANIFEST))
		return 0;
	if (strstr(mt, "manifest.v1"))
		return capsid_error_set(
		    err, ENOTSUP,
		    "manifest: Docker schema 1 (%s) is not supported; push the image again "
		    "with a current client",
		    reg_quote(mt, strlen(mt), q, sizeof(q)));
	return capsid_error_set(err, ENOTSUP, "manifest: unsupported media type %s",
				reg_quote(mt, strlen(mt), q, sizeof(q)));
}

int reg_index_select(const char *body, size_t len, const struct registry_platform *p, struct reg_desc *out,
		     struct capsid_error *err)
{
	_cleanup_json_ struct json_object *doc = NULL;
	int rc = parse_json(body, len, "index", &doc, err);
	if (rc < 0)
		return rc;
	struct json_object *ms = member(doc, "manifests");
	if (!ms || !json_object_is_type(ms, json_type_array))
		return capsid_error_set(err, EINVAL, "index: manifests: missing or not an array");
	size_t n = json_object_array_length(ms);
	if (n > REG_MAX_INDEX)
		return capsid_error_set(err, E2BIG, "index: more than %d manifests", REG_MAX_INDEX);
	char seen[256] = "";
	size_t so = 0;
	bool found = false;
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(ms, i);
		char at[64];
		snprintf(at, sizeof(at), "index: manifests[%zu]", i);
		struct reg_desc d;
		if ((rc = parse_desc(o, at, REG_MAX_JSON, &d, err)) < 0)
			return rc;
		struct json_object *plat = member(o, "platform");
		const char *os = member_string(plat, "os"), *arch = member_string(plat, "architecture");
		const char *variant = member_string(plat, "variant");
		if (!os || !arch)
			continue; /* attestations and other artifacts carry no platform */
		if (so + 1 < sizeof(seen)) {
			char q1[40], q2[40];
			so += (size_t)snprintf(seen + so, sizeof(seen) - so, "%s%s/%s", so ? ", " : "",
					       reg_quote(os, 32, q1, sizeof(q1)),
					       reg_quote(arch, 32, q2, sizeof(q2)));
			if (so >= sizeof(seen))
				so = sizeof(seen) - 1;
		}
		if (found || strcmp(os, p->os) || strcmp(arch, p->arch))
			continue;
		if (p->variant[0] && (!variant || strcmp(variant, p->variant)))
			continue;
		if (!d.media_type[0])
			snprintf(d.media_type, sizeof(d.media_type), MT_OCI_MANIFEST);
		if (strcmp(d.media_type, MT_OCI_MANIFEST) && strcmp(d.media_type, MT_DOCKER_MANIFEST))
			continue; /* nested indexes are not used by registries for platforms */
		*out = d;
		found = true;
	}
	if (!found)
		return capsid_error_set(err, ENOENT, "no image for %s/%s%s%s in the index (it has: %s)",
					p->os, p->arch, p->variant[0] ? "/" : "", p->variant,
					seen[0] ? seen : "none");
	return 0;
}

static bool layer_type_ok(const char *mt)
{
	static const char *const ok[] = {
	    "application/vnd.oci.image.layer.v1.tar",
	    "application/vnd.oci.image.layer.v1.tar+gzip",
	    "application/vnd.oci.image.layer.v1.tar+zstd",
	    "application/vnd.docker.image.rootfs.diff.tar.gzip",
	    "application/vnd.docker.image.rootfs.diff.tar",
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (!strcmp(mt, ok[i]))
			return true;
	return false;
}

int reg_manifest_parse(const char *body, size_t len, const char *media_type, struct reg_manifest *m,
		       struct capsid_error *err)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->media_type, sizeof(m->media_type), "%s", media_type);
	_cleanup_json_ struct json_object *doc = NULL;
	int rc = parse_json(body, len, "manifest", &doc, err);
	if (rc < 0)
		return rc;
	struct json_object *sv = member(doc, "schemaVersion");
	if (!sv || !json_object_is_type(sv, json_type_int) || json_object_get_int(sv) != 2)
		return capsid_error_set(err, ENOTSUP, "manifest: schemaVersion is not 2");
	if ((rc = parse_desc(member(doc, "config"), "manifest: config", REG_MAX_JSON, &m->config, err)) < 0)
		return rc;
	char q[160];
	const char *cmt = m->config.media_type;
	if (cmt[0] && strcmp(cmt, "application/vnd.oci.image.config.v1+json") &&
	    strcmp(cmt, "application/vnd.docker.container.image.v1+json"))
		return capsid_error_set(err, ENOTSUP,
					"manifest: config media type %s is not a container image",
					reg_quote(cmt, strlen(cmt), q, sizeof(q)));
	struct json_object *layers = member(doc, "layers");
	if (!layers || !json_object_is_type(layers, json_type_array))
		return capsid_error_set(err, EINVAL, "manifest: layers: missing or not an array");
	size_t n = json_object_array_length(layers);
	if (n > REG_MAX_LAYERS)
		return capsid_error_set(err, E2BIG, "manifest: more than %d layers", REG_MAX_LAYERS);
	m->layers = calloc(n ? n : 1, sizeof(*m->layers));
	if (!m->layers)
		return capsid_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		char at[64];
		snprintf(at, sizeof(at), "manifest: layers[%zu]", i);
		struct reg_desc *d = &m->layers[i];
		if ((rc = parse_desc(json_object_array_get_idx(layers, i), at, REG_MAX_LAYER_BYTES, d, err)) <
		    0) {
			reg_manifest_clear(m);
			return rc;
		}
		if (!layer_type_ok(d->media_type)) {
			rc = capsid_error_set(err, ENOTSUP, "%s: unsupported layer media type %s", at,
					      reg_quote(d->media_type, strlen(d->media_type), q, sizeof(q)));
			reg_manifest_clear(m);
			return rc;
		}
		m->n_layers++;
	}
	return 0;
}

void reg_manifest_clear(struct reg_manifest *m)
{
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

void reg_error_body(const char *body, size_t len, char *out, size_t outlen)
{
	out[0] = '\0';
	if (!body || !len || len > REG_MAX_ERROR_BODY)
		return;
	struct capsid_error ignored = {0};
	_cleanup_json_ struct json_object *doc = NULL;
	if (parse_json(body, len, "error", &doc, &ignored) < 0)
		return;
	struct json_object *errors = member(doc, "errors");
	if (!errors || !json_object_is_type(errors, json_type_array))
		return;
	size_t o = 0;
	for (size_t i = 0; i < json_object_array_length(errors) && i < 4 && o + 1 < outlen; i++) {
		struct json_object *e = json_object_array_get_idx(errors, i);
		const char *msg = member_string(e, "message"), *code = member_string(e, "code");
		char q1[128], q2[64];
		int w = snprintf(out + o, outlen - o, "%s%s%s%s%s", o ? "; " : "",
				 msg ? reg_quote(msg, 120, q1, sizeof(q1)) : "", msg && code ? " (" : "",
				 code ? reg_quote(code, 40, q2, sizeof(q2)) : "", msg && code ? ")" : "");
		if (w < 0)
			break;
		o += (size_t)w;
		if (o >= outlen)
			o = outlen - 1;
	}
}
