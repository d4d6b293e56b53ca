/* One pull: reference -> manifest (through an index for the platform) ->
 * config -> missing layers -> the store's import. The store lock is held
 * throughout, so two pulls (or a pull and an import) never interleave. */
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "image.h"
#include "registry_internal.h"

#define ACCEPT_MANIFESTS MT_OCI_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST

static int sha256_hex(const void *buf, size_t n, char out[REG_DIGEST_SIZE])
{
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (EVP_Digest(buf, n, sum, &len, EVP_sha256(), NULL) != 1 || len != 32)
		return -EIO;
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < len; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", sum[i]);
	return 0;
}

/* A manifest (or index) by tag or digest; its digest is computed from the
 * bytes and must equal want when one is given. */
static int get_manifest(struct reg_client *c, const struct registry_ref *r, const char *ref, const char *want,
			uint64_t want_size, struct reg_response *resp, char digest[REG_DIGEST_SIZE],
			struct capsid_error *err)
{
	char path[REGISTRY_MAX_REPO + 200];
	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", r->repo, ref);
	int rc = reg_get(c, path, ACCEPT_MANIFESTS, REG_MAX_JSON, resp, err);
	if (rc < 0)
		return capsid_error_prefix(err, "manifest %s", ref);
	if (sha256_hex(resp->body, resp->len, digest) < 0)
		return capsid_error_set(err, EIO, "sha256 failed");
	if (want && strcmp(want, digest) != 0)
		return capsid_error_set(err, EINVAL, "manifest %s: digest mismatch: the content is %s", want,
					digest);
	if (want && want_size && resp->len != want_size)
		return capsid_error_set(err, EINVAL, "manifest %s: %zu bytes, the index says %llu", want,
					resp->len, (unsigned long long)want_size);
	return 0;
}

static int get_config(struct reg_client *c, const struct registry_ref *r, const struct reg_desc *d,
		      struct reg_response *resp, struct capsid_error *err)
{
	char path[REGISTRY_MAX_REPO + 100], actual[REG_DIGEST_SIZE];
	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", r->repo, d->digest);
	int rc = reg_get(c, path, NULL, d->size, resp, err);
	if (rc == 0 && resp->len != d->size)
		rc = capsid_error_set(err, EIO, "truncated: %zu of %llu bytes", resp->len,
				      (unsigned long long)d->size);
	if (rc == 0 && sha256_hex(resp->body, resp->len, actual) < 0)
		rc = capsid_error_set(err, EIO, "sha256 failed");
	if (rc == 0 && strcmp(actual, d->digest))
		rc = capsid_error_set(err, EINVAL, "digest mismatch: the content is %s", actual);
	return rc < 0 ? capsid_error_prefix(err, "config %s", d->digest) : 0;
}

struct pull {
	struct image_store *s;
	const struct registry_pull_opts *o;
	struct registry_ref r;
	struct reg_client *c;
	struct reg_response manifest, config;
	char manifest_digest[REG_DIGEST_SIZE], media_type[128];
	struct reg_manifest m;
	struct registry_layer_status *layers;
};

static int resolve_manifest(struct pull *p, struct capsid_error *err)
{
	const struct registry_ref *r = &p->r;
	const char *ref = r->digest[0] ? r->digest : r->tag;
	int rc = get_manifest(p->c, r, ref, r->digest[0] ? r->digest : NULL, 0, &p->manifest,
			      p->manifest_digest, err);
	if (rc < 0)
		return rc;
	int kind =
	    reg_doc_kind(p->manifest.body, p->manifest.len, p->manifest.content_type, p->media_type, err);
	if (kind < 0)
		return kind;
	if (kind == 1) {
		struct registry_platform def;
		const struct registry_platform *plat = p->o->platform;
		if (!plat) {
			registry_platform_parse(NULL, &def, NULL);
			plat = &def;
		}
		struct reg_desc d;
		if ((rc = reg_index_select(p->manifest.body, p->manifest.len, plat, &d, err)) < 0)
			return rc;
		if ((rc = get_manifest(p->c, r, d.digest, d.digest, d.size, &p->manifest, p->manifest_digest,
				       err)) < 0)
			return rc;
		if ((kind = reg_doc_kind(p->manifest.body, p->manifest.len, p->manifest.content_type,
					 p->media_type, err)) < 0)
			return kind;
		if (kind != 0)
			return capsid_error_set(err, ENOTSUP, "manifest %s: an index inside an index",
						d.digest);
	}
	return reg_manifest_parse(p->manifest.body, p->manifest.len, p->media_type, &p->m, err);
}

/* After a failed install: blobs this pull stored that no image lists go. */
static void drop_new_blobs(struct pull *p)
{
	const char **v = calloc(p->m.n_layers + 2, sizeof(*v));
	if (!v)
		return;
	size_t n = 0;
	v[n++] = p->manifest_digest;
	v[n++] = p->m.config.digest;
	for (size_t i = 0; i < p->m.n_layers; i++)
		if (p->layers[i].state == REGISTRY_LAYER_DONE)
			v[n++] = p->layers[i].digest;
	image_blob_drop_unlisted(p->s, v, n);
	free(v);
}

static int pull_locked(struct pull *p, char **out_ref, struct capsid_error *err)
{
	int rc = resolve_manifest(p, err);
	if (rc < 0)
		return rc;
	if ((rc = get_config(p->c, &p->r, &p->m.config, &p->config, err)) < 0)
		return rc;
	p->layers = calloc(p->m.n_layers ? p->m.n_layers : 1, sizeof(*p->layers));
	if (!p->layers)
		return capsid_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < p->m.n_layers; i++) {
		struct registry_layer_status *l = &p->layers[i];
		snprintf(l->digest, sizeof(l->digest), "%s", p->m.layers[i].digest);
		l->size = p->m.layers[i].size;
		l->state = image_blob_present(p->s, l->digest, l->size) ? REGISTRY_LAYER_PRESENT
									: REGISTRY_LAYER_WAITING;
		/* A layer listed twice (images repeat empty layers) is fetched
		 * once: two downloads would share one temporary file. */
		for (size_t j = 0; j < i && l->state == REGISTRY_LAYER_WAITING; j++)
			if (!strcmp(p->layers[j].digest, l->digest)) {
				l->state = REGISTRY_LAYER_DONE;
				l->received = l->size;
			}
	}
	if ((rc = reg_fetch_layers(p->c, p->s, p->layers, p->m.n_layers, p->o->progress, p->o->progress_ctx,
				   err)) < 0)
		return rc;
	if ((rc = image_blob_write(p->s, p->m.config.digest, p->config.body, p->config.len, err)) < 0 ||
	    (rc = image_blob_write(p->s, p->manifest_digest, p->manifest.body, p->manifest.len, err)) < 0)
		return rc;
	if (p->o->progress)
		p->o->progress(p->o->progress_ctx, REGISTRY_PHASE_INSTALL, p->layers, p->m.n_layers);
	_cleanup_free_ char *source = NULL;
	if (asprintf(&source, "registry %s/%s", p->r.domain, p->r.repo) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	rc = image_install_pulled(p->s, p->manifest_digest, p->media_type, p->r.store_ref, source, out_ref,
				  err);
	if (rc < 0) {
		drop_new_blobs(p);
		return rc;
	}
	if (p->o->progress)
		p->o->progress(p->o->progress_ctx, REGISTRY_PHASE_DONE, p->layers, p->m.n_layers);
	return 0;
}

int registry_pull(struct image_store *s, const char *ref, const struct registry_pull_opts *o, char **out_ref,
		  struct capsid_error *err)
{
	*out_ref = NULL;
	struct pull p = {.s = s, .o = o};
	int rc = registry_ref_parse(ref, &p.r, err);
	if (rc < 0)
		return rc;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return capsid_error_set(err, EIO, "curl_global_init failed");
	_cleanup_close_ int lockfd = -1;
	rc = reg_client_new(o->cfg, &p.r, o->creds, &p.c, err);
	if (rc == 0)
		rc = image_store_lock(s, &lockfd, err);
	if (rc == 0)
		rc = image_store_clean(s, err);
	if (rc == 0)
		rc = pull_locked(&p, out_ref, err);
	reg_manifest_clear(&p.m);
	reg_response_clear(&p.manifest);
	reg_response_clear(&p.config);
	free(p.layers);
	reg_client_free(p.c);
	curl_global_cleanup();
	return rc;
}
