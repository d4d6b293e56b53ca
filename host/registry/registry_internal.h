/* Internals of the registry client, shared by its files, unit tests and the
 * fuzz target. */
#ifndef CAPSID_REGISTRY_INTERNAL_H
#define CAPSID_REGISTRY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "registry.h"

#define REG_MAX_JSON	    (4u << 20) /* manifests, indexes, configs, token responses */
#define REG_MAX_ERROR_BODY  4096       /* kept of an error response */
#define REG_MAX_LAYERS	    256
#define REG_MAX_INDEX	    1024
#define REG_MAX_LAYER_BYTES (16ull << 30)
#define REG_DIGEST_SIZE	    72

#define MT_OCI_INDEX	   "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST	   "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST	   "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

/* ---- registry_auth.c: WWW-Authenticate ---- */
enum reg_scheme { REG_AUTH_BASIC = 1, REG_AUTH_BEARER };
struct reg_challenge {
	enum reg_scheme scheme;
	char realm[1024];
	char service[256];
	char scope[512];
};
/* Parses one challenge (RFC 7235 auth-params; quoted strings with escapes).
 * -EINVAL with *why on malformed input; -ENOTSUP for another scheme. */
int reg_challenge_parse(const char *header, struct reg_challenge *c, const char **why);
/* {"token": ...} or {"access_token": ...}; caller frees *token. */
int reg_token_parse(const char *body, size_t len, char **token, struct capsid_error *err);

/* ---- registry_manifest.c ---- */
struct reg_desc {
	char media_type[128];
	char digest[REG_DIGEST_SIZE];
	uint64_t size;
};
struct reg_manifest {
	char media_type[128];
	struct reg_desc config;
	struct reg_desc *layers;
	size_t n_layers;
};
/* What a manifest response is: 1 an index / manifest list, 0 an image
 * manifest, -errno when neither. content_type (may be NULL) is the
 * response's header; the document's mediaType wins over it. */
int reg_doc_kind(const char *body, size_t len, const char *content_type, char media_type[128],
		 struct capsid_error *err);
/* The manifest for platform p from an index. */
int reg_index_select(const char *body, size_t len, const struct registry_platform *p, struct reg_desc *out,
		     struct capsid_error *err);
int reg_manifest_parse(const char *body, size_t len, const char *media_type, struct reg_manifest *m,
		       struct capsid_error *err);
void reg_manifest_clear(struct reg_manifest *m);
/* The "errors" of a registry's error body as "message (CODE); ..."; out
 * empty when there are none. Printable, bounded. */
void reg_error_body(const char *body, size_t len, char *out, size_t outlen);
/* A printable, bounded copy of hostile text. */
const char *reg_quote(const char *s, size_t n, char *buf, size_t len);

/* ---- registry_http.c ---- */
struct reg_client;
struct reg_response {
	long status;
	char *body; /* NUL-terminated */
	size_t len;
	char content_type[128];
	char www_authenticate[2048];
	char docker_digest[REG_DIGEST_SIZE];
};
void reg_response_clear(struct reg_response *r);
int reg_client_new(const struct registry_config *cfg, const struct registry_ref *ref,
		   const struct registry_credentials *creds, struct reg_client **out,
		   struct capsid_error *err);
void reg_client_free(struct reg_client *c);
/* GET base + path ("/v2/<repo>/manifests/<ref>"), authenticating on a 401
 * as the challenge says; bodies over max are an error. A non-2xx status is
 * an error carrying the registry's reason. */
int reg_get(struct reg_client *c, const char *path, const char *accept, size_t max, struct reg_response *r,
	    struct capsid_error *err);
/* Downloads the layers marked WAITING into the store, at most cfg->parallel
 * at once, verifying as they stream. */
struct image_store;
int reg_fetch_layers(struct reg_client *c, struct image_store *s, struct registry_layer_status *layers,
		     size_t n, registry_progress_fn progress, void *progress_ctx, struct capsid_error *err);

#endif
