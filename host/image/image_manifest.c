/* Reading an import's manifests into a plan: which config, which layers
 * in which order, which digests they must have, which refs to point.
 *
 * OCI layout (index.json, blobs/sha256/...): the index may nest indexes
 * (multi-platform); images for linux/<host arch> (or without a platform)
 * are candidates. The store key is the manifest's digest.
 *
 * docker save (manifest.json with Config/RepoTags/Layers): there is no
 * manifest blob, so an OCI manifest is synthesized from the config digest
 * and the diff_ids; its digest is the store key, stable across re-saves of
 * the same image. Layers are verified against the config's diff_ids. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cleanup.h"
#include "image_internal.h"

#define MT_OCI_INDEX	   "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST	   "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST	   "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MAX_INDEX_ENTRIES  1024
#define MAX_INDEX_DEPTH	   2

static struct json_object *member(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;
	if (obj && json_object_is_type(obj, json_type_object))
		json_object_object_get_ex(obj, key, &v);
	return v;
}

static const char *member_string(struct json_object *obj, const char *key)
{
	struct json_object *v = member(obj, key);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

struct desc {
	const char *media_type; /* may be NULL */
	const char *digest;
	int64_t size;
};

static int parse_desc(struct json_object *o, const char *where, struct desc *d, struct capsid_error *err)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return capsid_error_set(err, EINVAL, "%s: not a descriptor object", where);
	d->media_type = member_string(o, "mediaType");
	d->digest = member_string(o, "digest");
	struct json_object *size = member(o, "size");
	if (!d->digest)
		return capsid_error_set(err, EINVAL, "%s.digest: missing", where);
	if (strncmp(d->digest, "sha256:", 7) != 0)
		return capsid_error_set(err, ENOTSUP, "%s.digest: unsupported algorithm (only sha256)",
					where);
	if (!image_digest_valid(d->digest))
		return capsid_error_set(err, EINVAL, "%s.digest: not a sha256 digest", where);
	if (!size || !json_object_is_type(size, json_type_int) || json_object_get_int64(size) < 0)
		return capsid_error_set(err, EINVAL, "%s.size: missing or negative", where);
	d->size = json_object_get_int64(size);
	return 0;
}

static void blob_path(const char *digest, char out[96])
{
	snprintf(out, 96, "blobs/sha256/%s", digest + 7);
}

/* A small blob, checked against its descriptor's size and digest. */
static int read_blob(const struct image_bundle *b, const struct desc *d, const char *what, char **out,
		     size_t *len, struct capsid_error *err)
{
	char path[96], actual[IMAGE_DIGEST_SIZE];
	blob_path(d->digest, path);
	if (d->size > (int64_t)IMAGE_MAX_JSON)
		return capsid_error_set(err, EFBIG, "%s blob %s: larger than %u bytes", what, d->digest,
					IMAGE_MAX_JSON);
	_cleanup_free_ char *buf = NULL;
	size_t n = 0;
	int rc = image_bundle_read(b, path, IMAGE_MAX_JSON, &buf, &n, err);
	if (rc < 0)
		return capsid_error_prefix(err, "%s blob %s", what, d->digest);
	if ((int64_t)n != d->size)
		return capsid_error_set(err, EINVAL, "%s blob %s: size %zu, descriptor says %lld", what,
					d->digest, n, (long long)d->size);
	if (image_sha256_buf(buf, n, actual) < 0)
		return capsid_error_set(err, EIO, "sha256 failed");
	if (strcmp(actual, d->digest) != 0)
		return capsid_error_set(err, EINVAL, "%s blob %s: digest mismatch (content is %s)", what,
					d->digest, actual);
	*out = TAKE_PTR(buf);
	*len = n;
	return 0;
}

static int add_ref(struct image_plan *p, const char *ref)
{
	_cleanup_free_ char *norm = ref ? image_normalize_ref(ref) : NULL;
	if (!norm)
		return 0; /* no usable ref: the importer falls back to another */
	for (size_t i = 0; i < p->n_refs; i++)
		if (strcmp(p->refs[i], norm) == 0)
			return 0;
	char **nr = realloc(p->refs, (p->n_refs + 2) * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	p->refs = nr;
	p->refs[p->n_refs++] = TAKE_PTR(norm);
	p->refs[p->n_refs] = NULL;
	return 0;
}

void image_plan_clear(struct image_plan *p)
{
	free(p->manifest);
	free(p->config);
	image_strv_free(p->refs, p->n_refs);
	for (size_t i = 0; p->layers && i < p->n_layers; i++)
		free(p->layers[i].path);
	free(p->layers);
	memset(p, 0, sizeof(*p));
}

/* ---- OCI layout ---- */

struct candidate {
	char digest[IMAGE_DIGEST_SIZE];
	int64_t size;
	char *ref;
};

struct candidates {
	struct candidate *v;
	size_t n;
	const char *arch;
};

static void candidates_free(struct candidates *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].ref);
	free(c->v);
}

static bool platform_ok(struct json_object *platform, const char *arch)
{
	if (!platform)
		return true;
	const char *os = member_string(platform, "os"), *a = member_string(platform, "architecture");
	return (!os || strcmp(os, "linux") == 0) && (!a || strcmp(a, arch) == 0);
}

static const char *desc_ref(struct json_object *o, const char *inherited)
{
	struct json_object *ann = member(o, "annotations");
	const char *r = member_string(ann, "io.containerd.image.name");
	if (!r)
		r = member_string(ann, "org.opencontainers.image.ref.name");
	return r ? r : inherited;
}

static int collect(const struct image_bundle *b, struct json_object *index, const char *where, int depth,
		   const char *inherited_ref, struct candidates *c, struct capsid_error *err)
{
	struct json_object *manifests = member(index, "manifests");
	if (!manifests || !json_object_is_type(manifests, json_type_array))
		return capsid_error_set(err, EINVAL, "%s: manifests: missing or not an array", where);
	size_t n = json_object_array_length(manifests);
	if (n > MAX_INDEX_ENTRIES)
		return capsid_error_set(err, E2BIG, "%s: more than %d manifests", where, MAX_INDEX_ENTRIES);
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(manifests, i);
		char at[128];
		snprintf(at, sizeof(at), "%s: manifests[%zu]", where, i);
		struct desc d;
		int rc = parse_desc(o, at, &d, err);
		if (rc < 0)
			return rc;
		const char *ref = desc_ref(o, inherited_ref);
		if (d.media_type &&
		    (strcmp(d.media_type, MT_OCI_INDEX) == 0 || strcmp(d.media_type, MT_DOCKER_LIST) == 0)) {
			if (depth >= MAX_INDEX_DEPTH)
				return capsid_error_set(err, ELOOP, "%s: indexes nested too deep", at);
			_cleanup_free_ char *buf = NULL;
			size_t len;
			_cleanup_json_ struct json_object *nested = NULL;
			if ((rc = read_blob(b, &d, "index", &buf, &len, err)) < 0 ||
			    (rc = image_json_parse(buf, len, d.digest, &nested, err)) < 0 ||
			    (rc = collect(b, nested, d.digest, depth + 1, ref, c, err)) < 0)
				return rc;
			continue;
		}
		if (!platform_ok(member(o, "platform"), c->arch))
			continue;
		struct candidate *nv = realloc(c->v, (c->n + 1) * sizeof(*nv));
		if (!nv)
			return capsid_error_set(err, ENOMEM, "out of memory");
		c->v = nv;
		struct candidate *cand = &c->v[c->n];
		snprintf(cand->digest, sizeof(cand->digest), "%s", d.digest);
		cand->size = d.size;
		cand->ref = ref ? strdup(ref) : NULL;
		if (ref && !cand->ref)
			return capsid_error_set(err, ENOMEM, "out of memory");
		c->n++;
	}
	return 0;
}

static const char *host_arch(struct utsname *u)
{
	if (uname(u) < 0)
		return "amd64";
	if (strcmp(u->machine, "x86_64") == 0)
		return "amd64";
	if (strcmp(u->machine, "aarch64") == 0)
		return "arm64";
	return u->machine;
}

/* One manifest digest; its refs go into the plan. */
static int choose(struct candidates *c, const char *override, struct image_plan *p, int64_t *size,
		  struct capsid_error *err)
{
	if (c->n == 0)
		return capsid_error_set(err, ENOENT, "index.json: no image for linux/%s", c->arch);
	_cleanup_free_ char *want = override ? image_normalize_ref(override) : NULL;
	const char *pick = NULL;
	bool one_digest = true;
	for (size_t i = 1; i < c->n; i++)
		if (strcmp(c->v[i].digest, c->v[0].digest) != 0)
			one_digest = false;
	if (one_digest)
		pick = c->v[0].digest;
	for (size_t i = 0; !pick && want && i < c->n; i++) {
		_cleanup_free_ char *r = c->v[i].ref ? image_normalize_ref(c->v[i].ref) : NULL;
		if (r && strcmp(r, want) == 0)
			pick = c->v[i].digest;
	}
	if (!pick)
		return capsid_error_set(
		    err, EINVAL,
		    "index.json lists %zu different images for linux/%s: import with --name REF "
		    "matching one's org.opencontainers.image.ref.name",
		    c->n, c->arch);
	snprintf(p->digest, sizeof(p->digest), "%s", pick);
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->v[i].digest, pick) != 0)
			continue;
		*size = c->v[i].size;
		if (add_ref(p, c->v[i].ref) < 0)
			return capsid_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

static int load_layers_and_config(const struct image_bundle *b, struct json_object *manifest,
				  struct image_plan *p, struct capsid_error *err)
{
	struct desc cd;
	int rc = parse_desc(member(manifest, "config"), "manifest: config", &cd, err);
	if (rc < 0)
		return rc;
	if ((rc = read_blob(b, &cd, "config", &p->config, &p->config_len, err)) < 0)
		return rc;
	struct json_object *layers = member(manifest, "layers");
	if (!layers || !json_object_is_type(layers, json_type_array))
		return capsid_error_set(err, EINVAL, "manifest: layers: missing or not an array");
	size_t n = json_object_array_length(layers);
	if (n > IMAGE_MAX_LAYERS)
		return capsid_error_set(err, E2BIG, "manifest: more than %d layers", IMAGE_MAX_LAYERS);

	char **diff_ids = NULL;
	size_t n_ids = 0;
	rc = image_config_diff_ids(p->config, p->config_len, &diff_ids, &n_ids, err);
	if (rc == 0 && n_ids != n)
		rc = capsid_error_set(err, EINVAL, "image config has %zu diff_ids for %zu layers", n_ids, n);
	if (rc == 0 && !(p->layers = calloc(n ? n : 1, sizeof(*p->layers))))
		rc = capsid_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char at[64], path[96];
		struct desc d;
		snprintf(at, sizeof(at), "manifest: layers[%zu]", i);
		if ((rc = parse_desc(json_object_array_get_idx(layers, i), at, &d, err)) < 0)
			break;
		struct image_plan_layer *l = &p->layers[p->n_layers];
		blob_path(d.digest, path);
		if (!(l->path = strdup(path))) {
			rc = capsid_error_set(err, ENOMEM, "out of memory");
			break;
		}
		p->n_layers++;
		snprintf(l->blob_digest, sizeof(l->blob_digest), "%s", d.digest);
		l->blob_size = d.size;
		snprintf(l->diff_id, sizeof(l->diff_id), "%s", diff_ids[i]);
	}
	image_strv_free(diff_ids, n_ids);
	return rc;
}

static int oci_plan(const struct image_bundle *b, const char *override, struct image_plan *p,
		    struct capsid_error *err)
{
	p->format = "oci";
	_cleanup_free_ char *buf = NULL;
	size_t len;
	_cleanup_json_ struct json_object *index = NULL;
	int rc = image_bundle_read(b, "index.json", IMAGE_MAX_JSON, &buf, &len, err);
	if (rc < 0 || (rc = image_json_parse(buf, len, "index.json", &index, err)) < 0)
		return rc;
	struct utsname u;
	struct candidates c = {.arch = host_arch(&u)};
	int64_t size = 0;
	rc = collect(b, index, "index.json", 0, NULL, &c, err);
	if (rc == 0)
		rc = choose(&c, override, p, &size, err);
	candidates_free(&c);
	if (rc < 0)
		return rc;

	struct desc md = {.digest = p->digest, .size = size};
	_cleanup_json_ struct json_object *manifest = NULL;
	if ((rc = read_blob(b, &md, "manifest", &p->manifest, &p->manifest_len, err)) < 0 ||
	    (rc = image_json_parse(p->manifest, p->manifest_len, "manifest", &manifest, err)) < 0)
		return rc;
	const char *mt = member_string(manifest, "mediaType");
	if (mt && strcmp(mt, MT_OCI_MANIFEST) != 0 && strcmp(mt, MT_DOCKER_MANIFEST) != 0)
		return capsid_error_set(err, ENOTSUP, "manifest %s: unsupported media type %s", p->digest,
					mt);
	return load_layers_and_config(b, manifest, p, err);
}

/* ---- docker save ---- */

/* docker save names blobs by digest in two layouts: "<hex>.json" for the
 * config (before Docker 25) and "blobs/sha256/<hex>" (since). Old layer
 * paths "<id>/layer.tar" name no digest. */
static bool digest_from_path(const char *path, char out[IMAGE_DIGEST_SIZE])
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n == 69 && strcmp(base + 64, ".json") == 0)
		n = 64;
	if (n != 64)
		return false;
	snprintf(out, IMAGE_DIGEST_SIZE, "sha256:%.64s", base);
	return image_digest_valid(out);
}

static int docker_plan(const struct image_bundle *b, struct image_plan *p, struct capsid_error *err)
{
	p->format = "docker";
	_cleanup_free_ char *buf = NULL;
	size_t len;
	_cleanup_json_ struct json_object *top = NULL;
	int rc = image_bundle_read(b, "manifest.json", IMAGE_MAX_JSON, &buf, &len, err);
	if (rc < 0 || (rc = image_json_parse(buf, len, "manifest.json", &top, err)) < 0)
		return rc;
	if (!json_object_is_type(top, json_type_array) || json_object_array_length(top) == 0)
		return capsid_error_set(err, EINVAL, "manifest.json: not a non-empty array");
	if (json_object_array_length(top) > 1)
		return capsid_error_set(err, EINVAL,
					"manifest.json: the archive holds %zu images; save one per archive",
					json_object_array_length(top));
	struct json_object *m = json_object_array_get_idx(top, 0);
	const char *config_path = member_string(m, "Config");
	struct json_object *layers = member(m, "Layers"), *tags = member(m, "RepoTags");
	if (!config_path)
		return capsid_error_set(err, EINVAL, "manifest.json: Config: missing");
	if (!layers || !json_object_is_type(layers, json_type_array))
		return capsid_error_set(err, EINVAL, "manifest.json: Layers: missing or not an array");
	if (tags && !json_object_is_type(tags, json_type_array))
		return capsid_error_set(err, EINVAL, "manifest.json: RepoTags: not an array");

	char cfg_digest[IMAGE_DIGEST_SIZE], named[IMAGE_DIGEST_SIZE], q[256];
	if ((rc = image_bundle_read(b, config_path, IMAGE_MAX_JSON, &p->config, &p->config_len, err)) < 0)
		return capsid_error_prefix(err, "manifest.json: Config");
	if (image_sha256_buf(p->config, p->config_len, cfg_digest) < 0)
		return capsid_error_set(err, EIO, "sha256 failed");
	if (digest_from_path(config_path, named) && strcmp(named, cfg_digest) != 0)
		return capsid_error_set(err, EINVAL, "config blob %s: digest mismatch (content is %s)",
					image_quote(config_path, q, sizeof(q)), cfg_digest);

	/* The OCI manifest docker save does not carry, built from the config. */
	_cleanup_json_ struct json_object *manifest = json_object_new_object();
	struct json_object *cfg = json_object_new_object(), *ls = json_object_new_array();
	json_object_object_add(manifest, "schemaVersion", json_object_new_int(2));
	json_object_object_add(manifest, "mediaType", json_object_new_string(MT_OCI_MANIFEST));
	json_object_object_add(cfg, "mediaType",
			       json_object_new_string("application/vnd.oci.image.config.v1+json"));
	json_object_object_add(cfg, "digest", json_object_new_string(cfg_digest));
	json_object_object_add(cfg, "size", json_object_new_int64((int64_t)p->config_len));
	json_object_object_add(manifest, "config", cfg);
	json_object_object_add(manifest, "layers", ls);

	size_t n = json_object_array_length(layers);
	if (n > IMAGE_MAX_LAYERS)
		return capsid_error_set(err, E2BIG, "manifest.json: more than %d layers", IMAGE_MAX_LAYERS);
	char **diff_ids = NULL;
	size_t n_ids = 0;
	rc = image_config_diff_ids(p->config, p->config_len, &diff_ids, &n_ids, err);
	if (rc == 0 && n_ids != n)
		rc = capsid_error_set(err, EINVAL, "image config has %zu diff_ids for %zu layers", n_ids, n);
	if (rc == 0 && !(p->layers = calloc(n ? n : 1, sizeof(*p->layers))))
		rc = capsid_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct json_object *lp = json_object_array_get_idx(layers, i);
		if (!json_object_is_type(lp, json_type_string)) {
			rc = capsid_error_set(err, EINVAL, "manifest.json: Layers[%zu]: not a string", i);
			break;
		}
		struct image_plan_layer *l = &p->layers[p->n_layers];
		if (!(l->path = strdup(json_object_get_string(lp)))) {
			rc = capsid_error_set(err, ENOMEM, "out of memory");
			break;
		}
		p->n_layers++;
		l->blob_size = -1;
		if (!digest_from_path(l->path, l->blob_digest))
			l->blob_digest[0] = '\0';
		snprintf(l->diff_id, sizeof(l->diff_id), "%s", diff_ids[i]);
		_cleanup_close_ int fd = -1;
		struct stat st;
		if ((rc = image_bundle_open_file(b, l->path, &fd, err)) < 0) {
			capsid_error_prefix(err, "manifest.json: Layers[%zu]", i);
			break;
		}
		if (fstat(fd, &st) < 0) {
			rc = capsid_error_errno(err, errno, "stat layer");
			break;
		}
		struct json_object *ld = json_object_new_object();
		json_object_object_add(ld, "mediaType",
				       json_object_new_string("application/vnd.oci.image.layer.v1.tar"));
		json_object_object_add(
		    ld, "digest", json_object_new_string(l->blob_digest[0] ? l->blob_digest : l->diff_id));
		json_object_object_add(ld, "size", json_object_new_int64((int64_t)st.st_size));
		json_object_array_add(ls, ld);
	}
	image_strv_free(diff_ids, n_ids);
	if (rc < 0)
		return rc;

	size_t mlen;
	const char *mjson = json_object_to_json_string_length(manifest, JSON_C_TO_STRING_PLAIN, &mlen);
	if (!mjson || !(p->manifest = strdup(mjson)))
		return capsid_error_set(err, ENOMEM, "out of memory");
	p->manifest_len = mlen;
	if (image_sha256_buf(p->manifest, p->manifest_len, p->digest) < 0)
		return capsid_error_set(err, EIO, "sha256 failed");
	for (size_t i = 0; tags && i < json_object_array_length(tags); i++)
		if (add_ref(p, json_object_get_string(json_object_array_get_idx(tags, i))) < 0)
			return capsid_error_set(err, ENOMEM, "out of memory");
	return 0;
}

int image_plan_load(const struct image_bundle *b, const char *name_override, struct image_plan *p,
		    struct capsid_error *err)
{
	memset(p, 0, sizeof(*p));
	int rc;
	if (image_bundle_has(b, "manifest.json"))
		rc = docker_plan(b, p, err);
	else if (image_bundle_has(b, "index.json"))
		rc = oci_plan(b, name_override, p, err);
	else
		rc = capsid_error_set(
		    err, EINVAL,
		    "neither manifest.json (docker save) nor index.json (OCI image layout) found");
	if (rc < 0)
		image_plan_clear(p);
	return rc;
}
