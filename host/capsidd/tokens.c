/* The tokens file: `TOKEN TENANT SUBSCRIPTION[,SUBSCRIPTION...]` per line. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "capsidd.h"
#include "cleanup.h"
#include "util.h"

#define TOKENS_FILE_MAX (1u << 20)

/* Tenants and subscriptions become parts of paths and names: keep them to
 * what ARM's ids hold. */
static bool field_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	return n >= 1 && n < max &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

int cd_tokens_load(const char *path, struct cd_tokens *out, struct capsid_error *err)
{
	_cleanup_free_ char *text = NULL;
	int rc = util_read_file_at(AT_FDCWD, path, TOKENS_FILE_MAX, &text, NULL);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "read tokens file %s", path);
	struct cd_tokens t = {0};
	unsigned line_no = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line_no++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *f_save = NULL;
		char *tok = strtok_r(line, " \t\r", &f_save);
		if (!tok)
			continue;
		char *tenant = strtok_r(NULL, " \t\r", &f_save);
		char *subs = strtok_r(NULL, " \t\r", &f_save);
		const char *why = NULL;
		if (!tenant || !subs || strtok_r(NULL, " \t\r", &f_save))
			why = "want TOKEN TENANT SUBSCRIPTION[,SUBSCRIPTION...]";
		else if (strlen(tok) < 16 || strlen(tok) >= sizeof(t.items[0].token))
			why = "the token must have 16 to 255 characters";
		else if (!field_ok(tenant, CD_MAX_FIELD))
			why = "the tenant must be letters, digits, '-', '_' or '.'";
		else if (t.n == CD_MAX_TOKENS)
			why = "too many tokens";
		if (!why) {
			struct cd_token *n = realloc(t.items, (t.n + 1) * sizeof(*n));
			if (!n) {
				cd_tokens_free(&t);
				return capsid_error_set(err, ENOMEM, "tokens file: out of memory");
			}
			t.items = n;
			struct cd_token *e = &t.items[t.n];
			memset(e, 0, sizeof(*e));
			snprintf(e->token, sizeof(e->token), "%s", tok);
			snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
			char *s_save = NULL;
			for (char *sub = strtok_r(subs, ",", &s_save); sub && !why;
			     sub = strtok_r(NULL, ",", &s_save)) {
				if (!field_ok(sub, CD_MAX_FIELD))
					why = "a subscription must be letters, digits, '-', '_' or '.'";
				else if (e->n_subs == CD_MAX_SUBS)
					why = "too many subscriptions";
				else
					snprintf(e->subs[e->n_subs++], CD_MAX_FIELD, "%s", sub);
			}
			if (!why)
				t.n++;
		}
		if (why) {
			explicit_bzero(text, strlen(text));
			cd_tokens_free(&t);
			return capsid_error_set(err, EINVAL, "tokens file %s, line %u: %s", path, line_no,
						why);
		}
	}
	cd_tokens_free(out);
	*out = t;
	return 0;
}

void cd_tokens_free(struct cd_tokens *t)
{
	if (t->items)
		explicit_bzero(t->items, t->n * sizeof(*t->items));
	free(t->items);
	t->items = NULL;
	t->n = 0;
}

const struct cd_token *cd_tokens_find(const struct cd_tokens *t, const char *token)
{
	size_t len = strlen(token);
	const struct cd_token *found = NULL;
	if (len >= sizeof(t->items[0].token))
		return NULL;
	/* Every entry compared, in constant time, so timing tells nothing. */
	for (size_t i = 0; i < t->n; i++) {
		char padded[sizeof(t->items[0].token)] = {0};
		memcpy(padded, token, len);
		if (CRYPTO_memcmp(padded, t->items[i].token, sizeof(padded)) == 0)
			found = &t->items[i];
	}
	return found;
}

const char *cd_token_sub(const struct cd_token *t, const char *sub)
{
	for (size_t i = 0; i < t->n_subs; i++)
		if (strcasecmp(t->subs[i], sub) == 0)
			return t->subs[i];
	return NULL;
}
