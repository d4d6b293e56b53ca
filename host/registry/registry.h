/* Pulling container images from registries: the OCI distribution API v2
 * over HTTPS (libcurl), into the image store (host/image).
 *
 * A pull resolves a Docker reference, authenticates the way registries ask
 * (anonymous, HTTP basic, or a bearer token from the WWW-Authenticate
 * challenge's realm), picks the platform's manifest from an index or
 * manifest list, downloads the layers it does not have (in parallel,
 * bounded), verifying each blob's digest and declared size while it streams,
 * and installs the image the way an import does (one erofs per manifest
 * digest). Blobs are content-addressed and shared; an interrupted pull
 * resumes with the blobs it finished. */
#ifndef CAPSID_REGISTRY_H
#define CAPSID_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct image_store;

/* Everything the environment decides, read once by the CLI and passed
 * down (the library reads no variables). */
struct registry_config {
	const char *state_root; /* certs.d/HOST[:PORT]/ca.crt lives here */
	const char *ca_file;	/* CAPSID_REGISTRY_CA: PEM bundle trusted besides the system's; or NULL */
	const char *insecure;	/* CAPSID_INSECURE_REGISTRIES: "HOST[:PORT],..." spoken to over plain HTTP */
	const char *mirror;	/* CAPSID_REGISTRY_MIRROR: "https://HOST[:PORT]" serving docker.io; or NULL */
	unsigned stall_seconds; /* a transfer without data this long fails (0: 30) */
	unsigned parallel;	/* layers downloaded at once (0: 3) */
};

struct registry_credentials {
	const char *username;
	const char *password; /* never logged; the caller wipes it */
};

/* A reference, Docker's rules: "nginx" is docker.io/library/nginx:latest;
 * "host:port/path[:tag][@sha256:...]" names another registry. */
#define REGISTRY_MAX_DOMAIN 256
#define REGISTRY_MAX_REPO   256
struct registry_ref {
	char domain[REGISTRY_MAX_DOMAIN]; /* "docker.io", "127.0.0.1:5000" */
	char repo[REGISTRY_MAX_REPO];	  /* "library/nginx" */
	char tag[129];			  /* "" when the reference has only a digest */
	char digest[72];		  /* "" when it has none */
	/* How the store names the image: docker.io's short form ("nginx:1.25",
	 * "user/app:v1"), else "domain/repo:tag"; "...@sha256:<hex>" for a
	 * reference with a digest. */
	char store_ref[768];
};
int registry_ref_parse(const char *ref, struct registry_ref *out, struct capsid_error *err);
/* True when a credentials entry for SERVER ("myreg.io", "https://index.docker.io/v1/",
 * "host:5000") applies to the reference's registry. */
bool registry_server_matches(const char *server, const struct registry_ref *r);

struct registry_platform {
	char os[32], arch[32], variant[32]; /* variant "" when not given */
};
/* "os/arch[/variant]"; NULL or "" is linux/amd64. */
int registry_platform_parse(const char *s, struct registry_platform *p, struct capsid_error *err);

/* Progress: the state of every layer, after each change (bounded rate). */
enum registry_layer_state {
	REGISTRY_LAYER_WAITING,
	REGISTRY_LAYER_PRESENT, /* already in the store */
	REGISTRY_LAYER_DOWNLOADING,
	REGISTRY_LAYER_DONE, /* downloaded and verified */
	REGISTRY_LAYER_FAILED,
};
struct registry_layer_status {
	char digest[72];
	uint64_t size, received;
	enum registry_layer_state state;
};
enum registry_phase { REGISTRY_PHASE_LAYERS, REGISTRY_PHASE_INSTALL, REGISTRY_PHASE_DONE };
typedef void (*registry_progress_fn)(void *ctx, enum registry_phase phase,
				     const struct registry_layer_status *l, size_t n);

struct registry_pull_opts {
	const struct registry_config *cfg;
	const struct registry_platform *platform; /* NULL: linux/amd64 */
	const struct registry_credentials *creds; /* NULL: anonymous */
	registry_progress_fn progress;		  /* may be NULL */
	void *progress_ctx;
};

/* Pulls REF into the store. *out_ref (caller frees) is the store's name
 * for it, *out_digest (may be NULL) its manifest digest. A failed pull
 * leaves no image and no partial blob; layers it finished stay for the
 * next attempt (`image prune` removes them). */
int registry_pull(struct image_store *s, const char *ref, const struct registry_pull_opts *o, char **out_ref,
		  struct capsid_error *err);

#endif
