/* HTTP(S) to a registry with libcurl: trust, timeouts, redirects, the
 * authentication flows, and small GETs into memory.
 *
 * Trust is the system CA store plus CAPSID_REGISTRY_CA and
 * <root>/certs.d/HOST[:PORT]/ca.crt, added to OpenSSL's store for every
 * connection. Plain HTTP only for registries the config names insecure.
 * Redirects (registries send blob downloads to storage) are followed to
 * https only; curl sends neither our Authorization header nor basic
 * credentials to another host. A transfer that moves no data for
 * stall_seconds fails. */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "registry_http_internal.h"

static bool host_listed(const char *list, const char *host)
{
	if (!list)
		return false;
	size_t hn = strlen(host);
	for (const char *p = list; *p;) {
		p += strspn(p, ", \t");
		size_t n = strcspn(p, ", \t");
		if (n && n == hn && !strncasecmp(p, host, n))
			return true;
		p += n;
	}
	return false;
}

int reg_client_new(const struct registry_config *cfg, const struct registry_ref *ref,
		   const struct registry_credentials *creds, struct reg_client **out,
		   struct capsid_error *err)
{
	struct reg_client *c = calloc(1, sizeof(*c));
	if (!c)
		return capsid_error_set(err, ENOMEM, "out of memory");
	c->cfg = cfg;
	c->ref = *ref;
	c->creds = creds && creds->username && creds->password ? creds : NULL;
	c->stall = cfg->stall_seconds ? cfg->stall_seconds : 30;
	const char *host = ref->domain;
	char q[128];
	if (!strcmp(ref->domain, "docker.io") && cfg->mirror && *cfg->mirror) {
		const char *m = cfg->mirror;
		bool http = !strncmp(m, "http://", 7);
		if (!http && strncmp(m, "https://", 8)) {
			free(c);
			return capsid_error_set(err, EINVAL, "CAPSID_REGISTRY_MIRROR %s: not an http(s) URL",
						reg_quote(m, strlen(m), q, sizeof(q)));
		}
		const char *h = m + (http ? 7 : 8);
		snprintf(c->host, sizeof(c->host), "%.*s", (int)strcspn(h, "/"), h);
		c->insecure = host_listed(cfg->insecure, c->host);
		if (http && !c->insecure) {
			free(c);
			return capsid_error_set(err, EINVAL,
						"CAPSID_REGISTRY_MIRROR %s: plain http needs the host in "
						"CAPSID_INSECURE_REGISTRIES",
						reg_quote(m, strlen(m), q, sizeof(q)));
		}
		snprintf(c->base, sizeof(c->base), "%s://%s", http ? "http" : "https", c->host);
	} else {
		if (!strcmp(host, "docker.io"))
			host = "registry-1.docker.io";
		snprintf(c->host, sizeof(c->host), "%s", host);
		c->insecure = host_listed(cfg->insecure, ref->domain) || host_listed(cfg->insecure, host);
		snprintf(c->base, sizeof(c->base), "%s://%s", c->insecure ? "http" : "https", host);
	}
	if (cfg->ca_file && access(cfg->ca_file, R_OK) < 0) {
		int rc = capsid_error_errno(err, errno, "CAPSID_REGISTRY_CA %s", cfg->ca_file);
		free(c);
		return rc;
	}
	if (cfg->state_root && strlen(cfg->state_root) + strlen(c->host) + 20 < sizeof(c->certs_ca)) {
		snprintf(c->certs_ca, sizeof(c->certs_ca), "%s/certs.d/%s/ca.crt", cfg->state_root, c->host);
		if (access(c->certs_ca, R_OK) < 0)
			c->certs_ca[0] = '\0';
	}
	*out = c;
	return 0;
}

void reg_client_free(struct reg_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->easy);
	if (c->auth) {
		explicit_bzero(c->auth, strlen(c->auth));
		free(c->auth);
	}
	free(c);
}

void reg_response_clear(struct reg_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static CURLcode add_trust(CURL *h, void *sslctx, void *userp)
{
	(void)h;
	struct reg_client *c = userp;
	X509_STORE *st = SSL_CTX_get_cert_store(sslctx);
	if (c->cfg->ca_file && X509_STORE_load_file(st, c->cfg->ca_file) != 1)
		return CURLE_SSL_CACERT_BADFILE;
	if (c->certs_ca[0] && X509_STORE_load_file(st, c->certs_ca) != 1)
		return CURLE_SSL_CACERT_BADFILE;
	return CURLE_OK;
}

int reg_easy_setup(struct reg_client *c, CURL *h, const char *url, struct curl_slist *headers, bool with_auth,
		   char *errbuf)
{
	bool ok = true;
#define SET(opt, val) ok = ok && curl_easy_setopt(h, opt, val) == CURLE_OK
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, c->insecure ? "http,https" : "https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, 5L);
	SET(CURLOPT_CONNECTTIMEOUT, 30L);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, (long)c->stall);
	/* Not CURLOPT_NOSIGNAL: without it curl ignores SIGPIPE during a
	 * transfer, so a registry closing on us mid-write is an error, not
	 * the end of the process. */
	SET(CURLOPT_USERAGENT, "capsid/0.1");
	SET(CURLOPT_SSL_CTX_FUNCTION, add_trust);
	SET(CURLOPT_SSL_CTX_DATA, c);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_HTTPHEADER, headers);
	if (with_auth && c->basic && c->creds) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, c->creds->username);
		SET(CURLOPT_PASSWORD, c->creds->password);
	}
#undef SET
	curl_easy_setopt(h, CURLOPT_CA_CACHE_TIMEOUT, 0L); /* absent before curl 7.87: not fatal */
	errbuf[0] = '\0';
	return ok ? 0 : -EINVAL;
}

int reg_curl_error(struct reg_client *c, CURLcode cc, const char *errbuf, struct capsid_error *err)
{
	const char *detail = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(cc);
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return capsid_error_set(err, ETIMEDOUT, "timeout: %s (no data for %u s)", detail, c->stall);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return capsid_error_set(err, EPROTO,
					"TLS error: %s (trust the registry's CA with CAPSID_REGISTRY_CA or "
					"certs.d/%s/ca.crt under the state root)",
					detail, c->host);
	case CURLE_UNSUPPORTED_PROTOCOL:
		return capsid_error_set(err, EPERM, "refused: only https URLs are followed (%s)", detail);
	case CURLE_TOO_MANY_REDIRECTS:
		return capsid_error_set(err, ELOOP, "too many redirects");
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return capsid_error_set(err, ECONNREFUSED, "cannot connect to %s: %s", c->host, detail);
	default:
		return capsid_error_set(err, EIO, "%s", detail);
	}
}

struct mem {
	struct reg_response *r;
	size_t max;
	bool too_big;
};

static size_t mem_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct mem *m = ud;
	size_t n = size * nmemb;
	if (n > m->max - m->r->len) {
		m->too_big = true;
		return 0;
	}
	char *nb = realloc(m->r->body, m->r->len + n + 1);
	if (!nb)
		return 0;
	memcpy(nb + m->r->len, p, n);
	m->r->body = nb;
	m->r->len += n;
	nb[m->r->len] = '\0';
	return n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t outlen)
{
	size_t k = strlen(name);
	if (n <= k || strncasecmp(line, name, k))
		return;
	const char *v = line + k;
	size_t vn = n - k;
	while (vn && (*v == ' ' || *v == '\t'))
		v++, vn--;
	while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
		vn--;
	if (vn < outlen)
		snprintf(out, outlen, "%.*s", (int)vn, v);
}

static size_t mem_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct reg_response *r = ud;
	size_t n = size * nmemb;
	if (n > 5 && !strncmp(p, "HTTP/", 5)) { /* a new response (after a redirect) */
		r->www_authenticate[0] = r->content_type[0] = r->docker_digest[0] = '\0';
		return n;
	}
	header_value(p, n, "www-authenticate:", r->www_authenticate, sizeof(r->www_authenticate));
	header_value(p, n, "content-type:", r->content_type, sizeof(r->content_type));
	header_value(p, n, "docker-content-digest:", r->docker_digest, sizeof(r->docker_digest));
	return n;
}

/* One GET into memory; any HTTP status is a success here. */
static int perform(struct reg_client *c, const char *url, const char *accept, bool with_auth, size_t max,
		   struct reg_response *r, struct capsid_error *err)
{
	reg_response_clear(r);
	/* One handle for the small requests: its connection is reused. */
	if (!c->easy && !(c->easy = curl_easy_init()))
		return capsid_error_set(err, ENOMEM, "curl_easy_init failed");
	CURL *h = c->easy;
	curl_easy_reset(h);
	struct curl_slist *hdrs = NULL, *t;
	char acc[512];
	bool ok = true;
	if (accept) {
		snprintf(acc, sizeof(acc), "Accept: %s", accept);
		ok = (t = curl_slist_append(hdrs, acc)) && (hdrs = t);
	}
	if (ok && with_auth && c->auth)
		ok = (t = curl_slist_append(hdrs, c->auth)) && (hdrs = t);
	char errbuf[CURL_ERROR_SIZE];
	struct mem m = {.r = r, .max = max};
	int rc = ok ? reg_easy_setup(c, h, url, hdrs, with_auth, errbuf) : -ENOMEM;
	if (rc == 0 && (curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mem_write) != CURLE_OK ||
			curl_easy_setopt(h, CURLOPT_WRITEDATA, &m) != CURLE_OK ||
			curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, mem_header) != CURLE_OK ||
			curl_easy_setopt(h, CURLOPT_HEADERDATA, r) != CURLE_OK))
		rc = -EINVAL;
	if (rc < 0) {
		rc = capsid_error_set(err, -rc, "set up the request");
	} else {
		CURLcode cc = curl_easy_perform(h);
		if (m.too_big)
			rc = capsid_error_set(err, EFBIG, "answer larger than %zu bytes", max);
		else if (cc != CURLE_OK)
			rc = reg_curl_error(c, cc, errbuf, err);
		else
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	}
	curl_slist_free_all(hdrs);
	if (rc == 0 && !r->body && !(r->body = calloc(1, 1)))
		rc = capsid_error_set(err, ENOMEM, "out of memory");
	return rc;
}

int reg_status_error(long status, const char *body, size_t len, struct capsid_error *err)
{
	char why[512];
	reg_error_body(body, len, why, sizeof(why));
	const char *what = status == 401   ? "unauthorized"
			   : status == 403 ? "denied"
			   : status == 404 ? "not found"
			   : status == 429 ? "too many requests"
					   : "registry error";
	return capsid_error_set(err,
				status == 404			   ? ENOENT
				: (status == 401 || status == 403) ? EACCES
								   : EIO,
				"%s (HTTP %ld)%s%s", what, status, why[0] ? ": " : "", why);
}

static char *url_escape(const char *s)
{
	CURL *h = curl_easy_init();
	char *e = h ? curl_easy_escape(h, s, 0) : NULL;
	char *out = e ? strdup(e) : NULL;
	curl_free(e);
	curl_easy_cleanup(h);
	return out;
}

/* The challenge of a 401 decides how we authenticate from now on. */
static int authenticate(struct reg_client *c, const char *header, struct capsid_error *err)
{
	struct reg_challenge ch;
	const char *why = NULL;
	char q[200];
	int rc = reg_challenge_parse(header, &ch, &why);
	if (rc == -ENOTSUP)
		return capsid_error_set(err, ENOTSUP,
					"unauthorized: the registry asks for an unsupported "
					"authentication scheme (%s)",
					reg_quote(header, 60, q, sizeof(q)));
	if (rc < 0)
		return capsid_error_set(err, EPROTO,
					"unauthorized, with a malformed WWW-Authenticate challenge (%s): %s",
					why, reg_quote(header, 120, q, sizeof(q)));
	if (ch.scheme == REG_AUTH_BASIC) {
		if (!c->creds)
			return capsid_error_set(
			    err, EACCES,
			    "unauthorized: %s needs a username and password (--username and "
			    "--password-stdin, or imageRegistryCredentials)",
			    c->ref.domain);
		c->basic = true;
		return 0;
	}
	if (strncmp(ch.realm, "https://", 8) && !c->insecure)
		return capsid_error_set(err, EPERM, "unauthorized: token realm %s is not https",
					reg_quote(ch.realm, 120, q, sizeof(q)));
	_cleanup_free_ char *service = url_escape(ch.service), *scope = NULL, *url = NULL;
	char def_scope[REGISTRY_MAX_REPO + 32];
	snprintf(def_scope, sizeof(def_scope), "repository:%s:pull", c->ref.repo);
	scope = url_escape(ch.scope[0] ? ch.scope : def_scope);
	if (!service || !scope ||
	    asprintf(&url, "%s%sservice=%s&scope=%s", ch.realm, strchr(ch.realm, '?') ? "&" : "?", service,
		     scope) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	struct reg_response r = {0};
	bool saved = c->basic;
	c->basic = c->creds != NULL; /* the token service takes the credentials */
	rc = perform(c, url, "application/json", true, REG_MAX_JSON, &r, err);
	c->basic = saved;
	if (rc < 0) {
		capsid_error_prefix(err, "token service %s", reg_quote(ch.realm, 120, q, sizeof(q)));
	} else if (r.status != 200) {
		rc = reg_status_error(r.status, r.body, r.len, err);
		capsid_error_prefix(err, "token service %s", reg_quote(ch.realm, 120, q, sizeof(q)));
	} else {
		_cleanup_free_ char *token = NULL;
		rc = reg_token_parse(r.body, r.len, &token, err);
		if (rc == 0 && asprintf(&c->auth, "Authorization: Bearer %s", token) < 0) {
			c->auth = NULL;
			rc = capsid_error_set(err, ENOMEM, "out of memory");
		}
		if (token)
			explicit_bzero(token, strlen(token));
	}
	if (r.body)
		explicit_bzero(r.body, r.len);
	reg_response_clear(&r);
	return rc;
}

int reg_get(struct reg_client *c, const char *path, const char *accept, size_t max, struct reg_response *r,
	    struct capsid_error *err)
{
	_cleanup_free_ char *url = NULL;
	if (asprintf(&url, "%s%s", c->base, path) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	for (int attempt = 0;; attempt++) {
		int rc = perform(c, url, accept, true, max, r, err);
		if (rc < 0)
			return rc;
		if (r->status == 401 && attempt == 0 && !c->auth && !c->basic) {
			if ((rc = authenticate(c, r->www_authenticate, err)) < 0)
				return rc;
			continue;
		}
		if (r->status >= 200 && r->status < 300)
			return 0;
		return reg_status_error(r->status, r->body, r->len, err);
	}
}
