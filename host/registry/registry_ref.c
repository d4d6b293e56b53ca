/* References (Docker's rules), credential server names and platforms. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "image.h"
#include "registry_internal.h"

#define REF_MAX 512

static bool is_docker_hub(const char *host, size_t n)
{
	static const char *const names[] = {"docker.io", "index.docker.io", "registry-1.docker.io"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strlen(names[i]) == n && !strncasecmp(host, names[i], n))
			return true;
	return false;
}

int registry_ref_parse(const char *ref, struct registry_ref *out, struct capsid_error *err)
{
	memset(out, 0, sizeof(*out));
	char q[96];
	size_t len = ref ? strlen(ref) : 0;
	if (len == 0)
		return capsid_error_set(err, EINVAL, "empty image reference");
	if (len > REF_MAX)
		return capsid_error_set(err, EINVAL, "image reference longer than %d characters", REF_MAX);
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)ref[i]) && !strchr("._-:/@", ref[i]))
			return capsid_error_set(
			    err, EINVAL, "invalid image reference '%s': character '%s' not allowed",
			    reg_quote(ref, len, q, sizeof(q)), reg_quote(ref + i, 1, q + 64, 32));
	if (strstr(ref, ".."))
		return capsid_error_set(err, EINVAL, "invalid image reference '%s': '..' not allowed",
					reg_quote(ref, len, q, sizeof(q)));
	const char *at = strchr(ref, '@');
	size_t name_end = at ? (size_t)(at - ref) : len;
	if (at) {
		if (strncmp(at + 1, "sha256:", 7) != 0)
			return capsid_error_set(
			    err, ENOTSUP, "invalid image reference '%s': only sha256 digests are supported",
			    reg_quote(ref, len, q, sizeof(q)));
		if (strlen(at + 1) != 71)
			return capsid_error_set(
			    err, EINVAL,
			    "invalid image reference '%s': a digest is sha256: and 64 hex digits",
			    reg_quote(ref, len, q, sizeof(q)));
		snprintf(out->digest, sizeof(out->digest), "%s", at + 1);
	}
	const char *slash = memchr(ref, '/', name_end);
	const char *last_slash = memrchr(ref, '/', name_end);
	const char *after = last_slash ? last_slash + 1 : ref;
	const char *colon = memchr(after, ':', name_end - (size_t)(after - ref));
	size_t repo_end = colon ? (size_t)(colon - ref) : name_end;
	if (colon && colon + 1 == ref + name_end)
		return capsid_error_set(err, EINVAL, "invalid image reference '%s': empty tag",
					reg_quote(ref, len, q, sizeof(q)));
	if (colon)
		snprintf(out->tag, sizeof(out->tag), "%.*s", (int)(name_end - repo_end - 1), colon + 1);
	else if (!at)
		snprintf(out->tag, sizeof(out->tag), "latest");
	size_t start = 0;
	if (slash) {
		size_t flen = (size_t)(slash - ref);
		if (memchr(ref, '.', flen) || memchr(ref, ':', flen) ||
		    (flen == 9 && !strncmp(ref, "localhost", 9))) {
			if (flen >= sizeof(out->domain))
				return capsid_error_set(err, EINVAL,
							"invalid image reference: registry name too long");
			if (is_docker_hub(ref, flen))
				snprintf(out->domain, sizeof(out->domain), "docker.io");
			else
				snprintf(out->domain, sizeof(out->domain), "%.*s", (int)flen, ref);
			start = flen + 1;
		}
	}
	if (!out->domain[0])
		snprintf(out->domain, sizeof(out->domain), "docker.io");
	const char *repo = ref + start;
	size_t rlen = repo_end > start ? repo_end - start : 0;
	bool hub = !strcmp(out->domain, "docker.io");
	bool library = hub && !memchr(repo, '/', rlen);
	if ((size_t)snprintf(out->repo, sizeof(out->repo), "%s%.*s", library ? "library/" : "", (int)rlen,
			     repo) >= sizeof(out->repo))
		return capsid_error_set(err, EINVAL, "invalid image reference: repository name too long");
	/* The grammar check of the image store, on the whole name. */
	char full[sizeof(out->store_ref)];
	snprintf(full, sizeof(full), "%s/%s%s%s%s%s", out->domain, out->repo, out->tag[0] ? ":" : "",
		 out->tag, out->digest[0] ? "@" : "", out->digest);
	_cleanup_free_ char *norm = image_normalize_ref(full);
	bool upper = false;
	for (const char *c = out->repo; *c; c++)
		upper |= isupper((unsigned char)*c) != 0;
	if (!norm || rlen == 0 || upper)
		return capsid_error_set(
		    err, EINVAL,
		    "invalid image reference '%s': expected [registry/]name[:tag][@sha256:digest] "
		    "with lowercase names",
		    reg_quote(ref, len, q, sizeof(q)));
	const char *short_repo = out->repo;
	if (hub && !strncmp(short_repo, "library/", 8))
		short_repo += 8;
	if (out->digest[0])
		snprintf(out->store_ref, sizeof(out->store_ref), "%s%s%s@%s", hub ? "" : out->domain,
			 hub ? "" : "/", short_repo, out->digest);
	else
		snprintf(out->store_ref, sizeof(out->store_ref), "%s%s%s:%s", hub ? "" : out->domain,
			 hub ? "" : "/", short_repo, out->tag);
	return 0;
}

bool registry_server_matches(const char *server, const struct registry_ref *r)
{
	if (!server)
		return false;
	const char *s = server;
	if (!strncasecmp(s, "https://", 8))
		s += 8;
	else if (!strncasecmp(s, "http://", 7))
		s += 7;
	size_t n = strcspn(s, "/");
	if (is_docker_hub(s, n))
		return !strcmp(r->domain, "docker.io");
	return strlen(r->domain) == n && !strncasecmp(s, r->domain, n);
}

static bool platform_word(const char *s, size_t n)
{
	if (n == 0 || n >= 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

int registry_platform_parse(const char *s, struct registry_platform *p, struct capsid_error *err)
{
	memset(p, 0, sizeof(*p));
	if (!s || !*s) {
		snprintf(p->os, sizeof(p->os), "linux");
		snprintf(p->arch, sizeof(p->arch), "amd64");
		return 0;
	}
	char q[64];
	const char *a = strchr(s, '/');
	const char *v = a ? strchr(a + 1, '/') : NULL;
	size_t alen = a ? (size_t)((v ? v : a + strlen(a)) - a - 1) : 0;
	if (!a || !platform_word(s, (size_t)(a - s)) || !platform_word(a + 1, alen) ||
	    (v && !platform_word(v + 1, strlen(v + 1))))
		return capsid_error_set(err, EINVAL,
					"--platform %s: expected OS/ARCH[/VARIANT], e.g. linux/arm64",
					reg_quote(s, strlen(s), q, sizeof(q)));
	snprintf(p->os, sizeof(p->os), "%.*s", (int)(a - s), s);
	snprintf(p->arch, sizeof(p->arch), "%.*s", (int)alen, a + 1);
	if (v)
		snprintf(p->variant, sizeof(p->variant), "%s", v + 1);
	return 0;
}
