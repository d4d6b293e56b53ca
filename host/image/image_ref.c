/* Image references, Docker's grammar:
 *   [domain[:port]/]component[/component...][:tag][@sha256:<64 hex>]
 * component: [a-z0-9]+ joined by ".", "_", "__" or runs of "-";
 * tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. The tag defaults to "latest". */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"

#define REF_MAX_NAME 255
#define REF_MAX_TAG  128

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Alphanumeric runs joined by one separator: ".", "_", "__" or "-"+. */
static bool valid_component(const char *s, size_t n)
{
	size_t i = 0;
	for (;;) {
		if (i >= n || !is_lower_alnum(s[i]))
			return false;
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == n)
			return true;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i += i + 1 < n && s[i + 1] == '_' ? 2 : 1;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
	}
}

static bool has_upper(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (isupper((unsigned char)s[i]))
			return true;
	return false;
}

static bool valid_domain(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t host = colon ? (size_t)(colon - s) : n;
	if (host == 0)
		return false;
	for (size_t i = 0; i < host; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	if (colon) {
		if (host + 1 == n)
			return false;
		for (size_t i = host + 1; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return false;
	}
	return true;
}

static bool valid_tag(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > REF_MAX_TAG || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
			return false;
	return true;
}

static bool valid_name(const char *name, size_t n)
{
	if (n == 0 || n > REF_MAX_NAME)
		return false;
	const char *first_slash = memchr(name, '/', n);
	size_t start = 0;
	if (first_slash) {
		size_t flen = (size_t)(first_slash - name);
		/* Docker's rule for telling a registry host from a path. */
		bool domain = memchr(name, '.', flen) || memchr(name, ':', flen) ||
			      (flen == 9 && memcmp(name, "localhost", 9) == 0) || has_upper(name, flen);
		if (domain) {
			if (!valid_domain(name, flen))
				return false;
			start = flen + 1;
		}
	}
	while (start <= n) {
		const char *slash = memchr(name + start, '/', n - start);
		size_t end = slash ? (size_t)(slash - name) : n;
		if (!valid_component(name + start, end - start))
			return false;
		start = end + 1;
	}
	return true;
}

/* Docker Hub's names in their short form, as Docker shows them:
 * "docker.io/library/nginx" -> "nginx", "index.docker.io/u/app" -> "u/app". */
static const char *hub_short(const char *ref)
{
	static const char *const hosts[] = {"docker.io/", "index.docker.io/", "registry-1.docker.io/"};
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		size_t n = strlen(hosts[i]);
		if (strncmp(ref, hosts[i], n) != 0)
			continue;
		ref += n;
		size_t name = strcspn(ref, ":@");
		if (!strncmp(ref, "library/", 8) && !memchr(ref + 8, '/', name - (name >= 8 ? 8 : name)))
			ref += 8;
		break;
	}
	return ref;
}

char *image_normalize_ref(const char *ref)
{
	if (!ref || !*ref)
		return NULL;
	ref = hub_short(ref);
	const char *at = strchr(ref, '@');
	if (at) {
		/* name[:tag]@digest: the digest decides, the tag is dropped. */
		if (!image_digest_valid(at + 1))
			return NULL;
		size_t n = (size_t)(at - ref);
		const char *slash = memrchr(ref, '/', n);
		const char *colon =
		    memrchr(slash ? slash : ref, ':', n - (size_t)((slash ? slash : ref) - ref));
		size_t name_len = colon ? (size_t)(colon - ref) : n;
		char *tagbuf = NULL;
		if (colon && asprintf(&tagbuf, "%.*s", (int)(n - name_len - 1), colon + 1) < 0)
			return NULL;
		bool ok = valid_name(ref, name_len) && (!tagbuf || valid_tag(tagbuf));
		free(tagbuf);
		char *out = NULL;
		if (!ok || asprintf(&out, "%.*s%s", (int)name_len, ref, at) < 0)
			return NULL;
		return out;
	}
	size_t len = strlen(ref);
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(slash ? slash : ref, ':');
	size_t name_len = colon ? (size_t)(colon - ref) : len;
	const char *tag = colon ? colon + 1 : "latest";
	if (!valid_name(ref, name_len) || !valid_tag(tag))
		return NULL;
	char *out = NULL;
	if (asprintf(&out, "%.*s:%s", (int)name_len, ref, tag) < 0)
		return NULL;
	return out;
}
