/* capsidd's pure pieces: the libcapsid names of ARM groups and the tokens
 * file. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "capsidd.h"
#include "cleanup.h"
#include "store.h"
#include "testlib.h"
#include "util.h"

static void name_of(const char *tenant, const char *sub, const char *rg, const char *name, char out[64])
{
	struct cd_ident id = {.tenant = tenant, .sub = sub, .rg = rg, .name = name};
	cd_group_name(&id, out);
}

static void test_names_readable(void)
{
	char n[64];
	name_of("tenant-a", "sub1", "rg-one", "web", n);
	CHECK(strcmp(n, "tenant-a-sub1-rg-one-web") == 0);
	/* A subscription id is shortened: the hash keeps names apart. */
	name_of("tenant-a", "11111111-aaaa-4aaa-8aaa-111111111111", "rg-one", "web", n);
	CHECK_STR_CONTAINS(n, "tenant-a-11111111-rg-one-web-");
	CHECK(strlen(n) == strlen("tenant-a-11111111-rg-one-web-") + 8);
	CHECK(util_name_valid(n));
}

static void test_names_apart(void)
{
	char a[64], b[64], c[64], d[64];
	name_of("t", "11111111-aaaa", "rg", "web", a);
	name_of("t", "11111111-bbbb", "rg", "web", b);
	CHECK(strcmp(a, b) != 0); /* same first 8 characters of the subscription */
	name_of("t.x", "s", "rg", "web", c);
	name_of("t-x", "s", "rg", "web", d);
	CHECK(strcmp(c, d) != 0); /* the same once sanitized */
	/* ARM's resource group names are case-insensitive: one group. */
	name_of("t", "s", "My.RG", "web", a);
	name_of("t", "s", "my.rg", "web", b);
	CHECK(strcmp(a, b) == 0);
}

static void test_names_always_valid(void)
{
	static const char chars[] = "abcXYZ019-_.()";
	char n[64], t[40], s[40], r[100], g[64];
	srand(7);
	for (int i = 0; i < 20000; i++) {
		char *parts[] = {t, s, r};
		size_t lens[] = {1 + rand() % 39, 1 + rand() % 39, 1 + rand() % 90};
		for (int p = 0; p < 3; p++) {
			for (size_t k = 0; k < lens[p]; k++)
				parts[p][k] = chars[rand() % (sizeof(chars) - 1)];
			parts[p][lens[p]] = '\0';
		}
		size_t gl = 1 + rand() % 63;
		for (size_t k = 0; k < gl; k++)
			g[k] = "abz09"[rand() % 5];
		g[gl] = '\0';
		name_of(t, s, r, g, n);
		if (!util_name_valid(n)) {
			CHECK(util_name_valid(n));
			fprintf(stderr, "  %s %s %s %s -> %s\n", t, s, r, g, n);
			return;
		}
	}
	CHECK(1);
}

static int write_tokens(const char *text, char path[64])
{
	snprintf(path, 64, "/tmp/capsidd-tokens.XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	int rc = util_write_all(fd, text, strlen(text));
	close(fd);
	return rc;
}

static void test_tokens(void)
{
	char path[64];
	struct cd_tokens t = {0};
	struct capsid_error err = {0};
	CHECK(write_tokens("# comment\n\ntoken-aaaaaaaaaaaaaaaa tenant-a SUB-1,sub-2  # trailing\n"
			   "token-bbbbbbbbbbbbbbbb tenant-b sub-3\n",
			   path) == 0);
	CHECK(cd_tokens_load(path, &t, &err) == 0);
	CHECK(t.n == 2);
	const struct cd_token *a = cd_tokens_find(&t, "token-aaaaaaaaaaaaaaaa");
	CHECK(a && strcmp(a->tenant, "tenant-a") == 0);
	CHECK(a && cd_token_sub(a, "sub-1") && strcmp(cd_token_sub(a, "sub-1"), "SUB-1") == 0);
	CHECK(a && !cd_token_sub(a, "sub-3"));
	CHECK(!cd_tokens_find(&t, "token-aaaaaaaaaaaaaaa"));	 /* a prefix */
	CHECK(!cd_tokens_find(&t, "token-aaaaaaaaaaaaaaaaa")); /* longer */
	CHECK(!cd_tokens_find(&t, ""));
	unlink(path);

	/* A bad line rejects the file, names its line, and the tokens stay. */
	static const char *const bad[] = {
	    "short tenant sub\n",
	    "token-cccccccccccccccc tenant\n",
	    "token-cccccccccccccccc ten/ant sub\n",
	    "token-cccccccccccccccc tenant sub,../x\n",
	    "token-cccccccccccccccc tenant sub extra\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK(write_tokens(bad[i], path) == 0);
		capsid_error_clear(&err);
		CHECK(cd_tokens_load(path, &t, &err) == -EINVAL);
		CHECK_STR_CONTAINS(err.msg, "line 1");
		CHECK(t.n == 2);
		unlink(path);
	}
	cd_tokens_free(&t);
	CHECK(cd_tokens_load("/nonexistent/tokens", &t, &err) < 0);
}

int main(void)
{
	RUN_TEST(test_names_readable);
	RUN_TEST(test_names_apart);
	RUN_TEST(test_names_always_valid);
	RUN_TEST(test_tokens);
	TEST_EXIT();
}
