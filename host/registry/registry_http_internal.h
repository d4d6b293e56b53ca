/* The client's state, shared by registry_http.c and registry_blob.c. */
#ifndef CAPSID_REGISTRY_HTTP_INTERNAL_H
#define CAPSID_REGISTRY_HTTP_INTERNAL_H

#include <curl/curl.h>
#include <limits.h>

#include "registry_internal.h"

struct reg_client {
	const struct registry_config *cfg;
	struct registry_ref ref;
	const struct registry_credentials *creds; /* NULL: anonymous */
	char host[REGISTRY_MAX_DOMAIN];		  /* HOST[:PORT] spoken to */
	char base[REGISTRY_MAX_DOMAIN + 16];	  /* "https://HOST[:PORT]" */
	char certs_ca[PATH_MAX];		  /* "" when there is none */
	bool insecure;
	bool basic; /* send basic credentials */
	char *auth; /* "Authorization: Bearer ..." once a token is held */
	CURL *easy; /* reused by the small GETs (keeps the connection) */
	unsigned stall;
};

int reg_easy_setup(struct reg_client *c, CURL *h, const char *url, struct curl_slist *headers, bool with_auth,
		   char *errbuf);
int reg_curl_error(struct reg_client *c, CURLcode cc, const char *errbuf, struct capsid_error *err);
int reg_status_error(long status, const char *body, size_t len, struct capsid_error *err);

#endif
