/* capsidd's pure pieces: the libcapsid names of ARM groups and the tokens
 * file. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "capsidd.h"
#include "cleanup.h"
#include "http_parse.h"
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
	CHECK(!cd_tokens_find(&t, "token-aaaaaaaaaaaaaaa"));   /* a prefix */
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

static int head(const char *text, char *buf, struct cd_request *r)
{
	snprintf(buf, 1024, "%s", text);
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	return cd_http_parse_head(buf, strlen(buf), r);
}

static void test_http_head(void)
{
	char buf[1024];
	struct cd_request r;
	CHECK(head("PUT /subscriptions/s/x?api-version=2023-05-01 HTTP/1.1\r\nHost: h:1\r\n"
		   "authorization:  Bearer tok  \r\nContent-Length: 12\r\nX-Other: y\r\n\r\n",
		   buf, &r) == 0);
	CHECK(strcmp(r.method, "PUT") == 0);
	CHECK(strcmp(r.path, "/subscriptions/s/x") == 0);
	CHECK(r.query && strcmp(r.query, "api-version=2023-05-01") == 0);
	CHECK(r.authorization && strcmp(r.authorization, "Bearer tok") == 0);
	CHECK(r.host && strcmp(r.host, "h:1") == 0);
	CHECK(r.content_length == 12);
	CHECK(head("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", buf, &r) == 0 && r.chunked);
	/* Refused: HTTP/1.0, no path, a space in the target, a folded or
	 * nameless header, a negative or a second, different length. */
	CHECK(head("GET / HTTP/1.0\r\n\r\n", buf, &r) == 400);
	CHECK(head("GET x HTTP/1.1\r\n\r\n", buf, &r) == 400);
	CHECK(head("GET /a b HTTP/1.1\r\n\r\n", buf, &r) == 400);
	CHECK(head("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", buf, &r) == 400);
	CHECK(head("GET / HTTP/1.1\r\n: b\r\n\r\n", buf, &r) == 400);
	CHECK(head("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", buf, &r) == 400);
	CHECK(head("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", buf, &r) == 400);
	CHECK(head("GETTTTTTTTTTTTTTTTTTTT / HTTP/1.1\r\n\r\n", buf, &r) == 400);
	char many[1024] = "GET / HTTP/1.1\r\n";
	for (int i = 0; i < 101; i++)
		strcat(many, "A: b\r\n");
	strcat(many, "\r\n");
	char big[1024];
	CHECK(head(many, big, &r) == 431);
}

static void test_http_chunked(void)
{
	struct cd_request r = {0};
	char b1[] = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
	CHECK(cd_http_dechunk(b1, strlen(b1), 100, &r) == 1);
	CHECK(r.body_len == 11 && memcmp(r.body, "hello world", 11) == 0);
	CHECK(r.raw_len == strlen(b1) - 4); /* the next request stays */
	char b2[] = "5\r\nhel";
	CHECK(cd_http_dechunk(b2, strlen(b2), 100, &r) == 0);
	char b3[] = "5\r\nhello\r\n0\r\n";
	CHECK(cd_http_dechunk(b3, strlen(b3), 100, &r) == 0); /* no final empty line yet */
	char b4[] = "zz\r\n";
	CHECK(cd_http_dechunk(b4, strlen(b4), 100, &r) == -EINVAL);
	char b5[] = "5\r\nhelloXX0\r\n\r\n";
	CHECK(cd_http_dechunk(b5, strlen(b5), 100, &r) == -EINVAL);
	char b6[] = "65\r\n";
	CHECK(cd_http_dechunk(b6, strlen(b6), 100, &r) == -EFBIG);
	char b7[] = "40\r\n";
	char b8[200];
	snprintf(b8, sizeof(b8), "%s%064d\r\n40\r\n", b7, 0);
	CHECK(cd_http_dechunk(b8, strlen(b8), 100, &r) == -EFBIG); /* 64 + 64 > 100 */
}

int main(void)
{
	RUN_TEST(test_names_readable);
	RUN_TEST(test_names_apart);
	RUN_TEST(test_names_always_valid);
	RUN_TEST(test_tokens);
	RUN_TEST(test_http_head);
	RUN_TEST(test_http_chunked);
	TEST_EXIT();
}
