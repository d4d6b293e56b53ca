/* The WWW-Authenticate challenge of a 401 and the token service's answer.
 *
 *   challenge = scheme 1*SP auth-param *( "," auth-param )
 *   auth-param = token "=" ( token / quoted-string )
 *
 * Only the first challenge of the header is read (registries send one);
 * Basic needs no parameters. Every field is bounded. */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "registry_internal.h"

static bool tchar(char ch)
{
	return isalnum((unsigned char)ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* One value into out (at most len-1 bytes); *p moves past it. */
static int read_value(const char **p, char *out, size_t len, const char **why)
{
	const char *s = *p;
	size_t o = 0;
	if (*s == '"') {
		s++;
		for (;;) {
			char ch = *s++;
			if (ch == '\0') {
				*why = "unterminated quoted string";
				return -EINVAL;
			}
			if (ch == '"')
				break;
			if (ch == '\\') {
				ch = *s++;
				if (ch == '\0') {
					*why = "unterminated quoted string";
					return -EINVAL;
				}
			}
			if ((unsigned char)ch < 0x20 || ch == 0x7f) {
				*why = "control character in a quoted string";
				return -EINVAL;
			}
			if (o + 1 >= len) {
				*why = "parameter value too long";
				return -EINVAL;
			}
			out[o++] = ch;
		}
	} else {
		while (tchar(*s) || *s == '/' || *s == '=') {
			if (o + 1 >= len) {
				*why = "parameter value too long";
				return -EINVAL;
			}
			out[o++] = *s++;
		}
		if (o == 0) {
			*why = "missing parameter value";
			return -EINVAL;
		}
	}
	out[o] = '\0';
	*p = s;
	return 0;
}

int reg_challenge_parse(const char *header, struct reg_challenge *c, const char **why)
{
	memset(c, 0, sizeof(*c));
	*why = NULL;
	const char *p = skip_ws(header ? header : "");
	size_t slen = 0;
	while (tchar(p[slen]))
		slen++;
	if (slen == 0) {
		*why = "no authentication scheme";
		return -EINVAL;
	}
	if (slen == 5 && !strncasecmp(p, "Basic", 5))
		c->scheme = REG_AUTH_BASIC;
	else if (slen == 6 && !strncasecmp(p, "Bearer", 6))
		c->scheme = REG_AUTH_BEARER;
	else {
		*why = "unsupported authentication scheme";
		return -ENOTSUP;
	}
	p += slen;
	if (*p && *p != ' ' && *p != '\t') {
		*why = "no space after the scheme";
		return -EINVAL;
	}
	p = skip_ws(p);
	int params = 0;
	while (*p) {
		char key[32], value[1024];
		size_t k = 0;
		while (tchar(p[k]))
			k++;
		if (k == 0 || k >= sizeof(key)) {
			*why = "bad parameter name";
			return -EINVAL;
		}
		memcpy(key, p, k);
		key[k] = '\0';
		p = skip_ws(p + k);
		if (*p != '=') {
			*why = "parameter without '='";
			return -EINVAL;
		}
		p = skip_ws(p + 1);
		int rc = read_value(&p, value, sizeof(value), why);
		if (rc < 0)
			return rc;
		char *dst = NULL;
		size_t dlen = 0;
		if (!strcasecmp(key, "realm"))
			dst = c->realm, dlen = sizeof(c->realm);
		else if (!strcasecmp(key, "service"))
			dst = c->service, dlen = sizeof(c->service);
		else if (!strcasecmp(key, "scope"))
			dst = c->scope, dlen = sizeof(c->scope);
		if (dst && strlen(value) >= dlen) {
			*why = "parameter value too long";
			return -EINVAL;
		}
		if (dst)
			snprintf(dst, dlen, "%s", value);
		params++;
		p = skip_ws(p);
		if (*p == ',')
			p = skip_ws(p + 1);
		else if (*p) {
			*why = "expected ',' between parameters";
			return -EINVAL;
		}
	}
	if (c->scheme == REG_AUTH_BEARER) {
		if (!c->realm[0]) {
			*why = "Bearer challenge without realm";
			return -EINVAL;
		}
		if (strncmp(c->realm, "https://", 8) && strncmp(c->realm, "http://", 7)) {
			*why = "realm is not an http(s) URL";
			return -EINVAL;
		}
	}
	(void)params;
	return 0;
}

int reg_token_parse(const char *body, size_t len, char **token, struct capsid_error *err)
{
	*token = NULL;
	struct json_tokener *tok = json_tokener_new_ex(16);
	if (!tok)
		return capsid_error_set(err, ENOMEM, "out of memory");
	_cleanup_json_ struct json_object *doc = json_tokener_parse_ex(tok, body, (int)len);
	bool complete = json_tokener_get_error(tok) == json_tokener_success && tok->char_offset == (int)len;
	json_tokener_free(tok);
	if (!doc || !complete || !json_object_is_type(doc, json_type_object))
		return capsid_error_set(err, EINVAL, "token service: answer is not a JSON object");
	struct json_object *t = NULL;
	if (!json_object_object_get_ex(doc, "token", &t) &&
	    !json_object_object_get_ex(doc, "access_token", &t))
		return capsid_error_set(err, EINVAL, "token service: no token in the answer");
	if (!json_object_is_type(t, json_type_string) || json_object_get_string_len(t) == 0 ||
	    json_object_get_string_len(t) > 16384)
		return capsid_error_set(err, EINVAL, "token service: token is not a string of 1-16384 bytes");
	const char *s = json_object_get_string(t);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return capsid_error_set(err, EINVAL,
						"token service: token has unprintable characters");
	*token = strdup(s);
	if (!*token)
		return capsid_error_set(err, ENOMEM, "out of memory");
	return 0;
}
