/* The registry client's parsers: references (Docker's rules), credential
 * server names, platforms, WWW-Authenticate challenges, token answers,
 * manifests, indexes (platform choice) and registry error bodies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "registry_internal.h"
#include "testlib.h"

static void check_ref(const char *in, const char *domain, const char *repo, const char *tag,
		      const char *digest, const char *store)
{
	struct registry_ref r;
	struct capsid_error err = {0};
	int rc = registry_ref_parse(in, &r, &err);
	CHECK(rc == 0);
	if (rc < 0) {
		fprintf(stderr, "  %s: %s\n", in, err.msg);
		return;
	}
	CHECK(!strcmp(r.domain, domain));
	CHECK(!strcmp(r.repo, repo));
	CHECK(!strcmp(r.tag, tag));
	CHECK(!strcmp(r.digest, digest));
	CHECK(!strcmp(r.store_ref, store));
	if (strcmp(r.store_ref, store))
		fprintf(stderr, "  %s -> %s\n", in, r.store_ref);
}

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_refs(void)
{
	check_ref("nginx", "docker.io", "library/nginx", "latest", "", "nginx:latest");
	check_ref("nginx:1.25", "docker.io", "library/nginx", "1.25", "", "nginx:1.25");
	check_ref("docker.io/library/nginx", "docker.io", "library/nginx", "latest", "", "nginx:latest");
	check_ref("index.docker.io/user/app:v2", "docker.io", "user/app", "v2", "", "user/app:v2");
	check_ref("user/app", "docker.io", "user/app", "latest", "", "user/app:latest");
	check_ref("mcr.microsoft.com/azuredocs/aci-helloworld", "mcr.microsoft.com",
		  "azuredocs/aci-helloworld", "latest", "",
		  "mcr.microsoft.com/azuredocs/aci-helloworld:latest");
	check_ref("myregistry.azurecr.io/app:v2", "myregistry.azurecr.io", "app", "v2", "",
		  "myregistry.azurecr.io/app:v2");
	check_ref("127.0.0.1:5000/a/b/c:t1", "127.0.0.1:5000", "a/b/c", "t1", "", "127.0.0.1:5000/a/b/c:t1");
	check_ref("localhost/app", "localhost", "app", "latest", "", "localhost/app:latest");
	check_ref("localhost:5000/app@sha256:" D64, "localhost:5000", "app", "", "sha256:" D64,
		  "localhost:5000/app@sha256:" D64);
	check_ref("busybox:1.36@sha256:" D64, "docker.io", "library/busybox", "1.36", "sha256:" D64,
		  "busybox@sha256:" D64);

	static const char *const bad[] = {
	    "",	       "UPPER/case",	 "a/../b",	 "host:5000/../x", "a b",
	    "app:",    "app@sha256:123", "app@md5:" D64, "/abs",	   "app//x",
	    "a/b:t/c", "x;rm",		 "app:bad$tag",	 "host:port/app",  "app@",
	    "-lead",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct registry_ref r;
		struct capsid_error err = {0};
		int rc = registry_ref_parse(bad[i], &r, &err);
		CHECK(rc < 0);
		if (rc == 0)
			fprintf(stderr, "  accepted %s\n", bad[i]);
		else
			CHECK(err.msg[0] != '\0');
	}
	struct registry_ref r;
	struct capsid_error err = {0};
	CHECK(registry_ref_parse("a/../b", &r, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "'..' not allowed");
	CHECK(registry_ref_parse("bad\x01ref", &r, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "\\x01");
}

/* The store's names: what the registry module computes must be what the
 * store's own normalisation gives for the same text (create resolves the
 * spec's image through the latter). */
static void check_norm(const char *in, const char *want)
{
	char *got = image_normalize_ref(in);
	CHECK(want ? got && !strcmp(got, want) : !got);
	if (want ? !got || strcmp(got, want) : got != NULL)
		fprintf(stderr, "  image_normalize_ref(%s) = %s\n", in, got ? got : "(null)");
	free(got);
}

static void test_store_names(void)
{
	check_norm("nginx", "nginx:latest");
	check_norm("docker.io/library/nginx:1.25", "nginx:1.25");
	check_norm("index.docker.io/user/app", "user/app:latest");
	check_norm("docker.io/library/a/b", "library/a/b:latest");
	check_norm("127.0.0.1:5000/app@sha256:" D64, "127.0.0.1:5000/app@sha256:" D64);
	check_norm("127.0.0.1:5000/app:v1@sha256:" D64, "127.0.0.1:5000/app@sha256:" D64);
	check_norm("app@sha256:123", NULL);
	check_norm("app:v1@", NULL);
	check_norm("app:b@d@sha256:" D64, NULL);
	static const char *const refs[] = {"nginx", "docker.io/library/nginx:1.25", "user/app:v2",
					   "127.0.0.1:5000/a/b:t", "r.io/app@sha256:" D64};
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		struct registry_ref r;
		struct capsid_error err = {0};
		CHECK(registry_ref_parse(refs[i], &r, &err) == 0);
		char *norm = image_normalize_ref(refs[i]);
		CHECK(norm && !strcmp(norm, r.store_ref));
		free(norm);
	}
}

static void test_servers(void)
{
	struct registry_ref hub, local;
	struct capsid_error err = {0};
	CHECK(registry_ref_parse("nginx", &hub, &err) == 0);
	CHECK(registry_ref_parse("127.0.0.1:5000/app", &local, &err) == 0);
	CHECK(registry_server_matches("index.docker.io", &hub));
	CHECK(registry_server_matches("https://index.docker.io/v1/", &hub));
	CHECK(registry_server_matches("docker.io", &hub));
	CHECK(!registry_server_matches("127.0.0.1:5000", &hub));
	CHECK(registry_server_matches("127.0.0.1:5000", &local));
	CHECK(registry_server_matches("https://127.0.0.1:5000", &local));
	CHECK(!registry_server_matches("127.0.0.1", &local));
	CHECK(!registry_server_matches("127.0.0.1:50001", &local));
}

static void test_platforms(void)
{
	struct registry_platform p;
	struct capsid_error err = {0};
	CHECK(registry_platform_parse(NULL, &p, &err) == 0 && !strcmp(p.os, "linux") &&
	      !strcmp(p.arch, "amd64"));
	CHECK(registry_platform_parse("linux/arm64/v8", &p, &err) == 0 && !strcmp(p.arch, "arm64") &&
	      !strcmp(p.variant, "v8"));
	CHECK(registry_platform_parse("linux", &p, &err) < 0);
	CHECK(registry_platform_parse("linux//x", &p, &err) < 0);
	CHECK(registry_platform_parse("linux/a b", &p, &err) < 0);
}

static void test_challenges(void)
{
	struct reg_challenge c;
	const char *why;
	CHECK(reg_challenge_parse(
		  "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		  "scope=\"repository:library/nginx:pull\"",
		  &c, &why) == 0);
	CHECK(c.scheme == REG_AUTH_BEARER && !strcmp(c.realm, "https://auth.docker.io/token") &&
	      !strcmp(c.service, "registry.docker.io") && !strcmp(c.scope, "repository:library/nginx:pull"));
	CHECK(reg_challenge_parse("Basic realm=\"Registry Realm\"", &c, &why) == 0 &&
	      c.scheme == REG_AUTH_BASIC);
	CHECK(reg_challenge_parse("basic", &c, &why) == 0 && c.scheme == REG_AUTH_BASIC);
	CHECK(reg_challenge_parse("Bearer realm = \"https://a/t\" , service = x", &c, &why) == 0 &&
	      !strcmp(c.realm, "https://a/t") && !strcmp(c.service, "x"));
	CHECK(reg_challenge_parse("Bearer realm=\"https://a/\\\"q\"", &c, &why) == 0 &&
	      !strcmp(c.realm, "https://a/\"q"));
	CHECK(reg_challenge_parse("Negotiate abc", &c, &why) == -ENOTSUP);
	static const char *const bad[] = {
	    "",
	    "Bearer",
	    "Bearer realm=",
	    "Bearer realm=\"https://x",
	    "Bearer realm=\"https://x\" service=y",
	    "Bearer realm=\"ftp://x\"",
	    "Bearer service=\"x\"",
	    "Bearer,realm=x",
	    "Bearer realm=\"a\x01\"",
	    "Bearer realm",
	    "Bearer =x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = reg_challenge_parse(bad[i], &c, &why);
		CHECK(rc == -EINVAL && why);
		if (rc != -EINVAL)
			fprintf(stderr, "  accepted challenge %s\n", bad[i]);
	}
	char big[3000];
	memset(big, 'a', sizeof(big));
	memcpy(big, "Bearer realm=\"https://", 22);
	big[sizeof(big) - 2] = '"';
	big[sizeof(big) - 1] = '\0';
	CHECK(reg_challenge_parse(big, &c, &why) == -EINVAL);
}

static void test_tokens(void)
{
	char *t = NULL;
	struct capsid_error err = {0};
	CHECK(reg_token_parse("{\"token\":\"abc\"}", 15, &t, &err) == 0 && t && !strcmp(t, "abc"));
	free(t);
	const char *at = "{\"access_token\":\"xyz\",\"expires_in\":300}";
	CHECK(reg_token_parse(at, strlen(at), &t, &err) == 0 && t && !strcmp(t, "xyz"));
	free(t);
	const char *bad[] = {
	    "{}", "[]", "{\"token\":1}", "{\"token\":\"\"}", "{\"token\":\"a b\"}", "{\"token\":\"a\"} x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(reg_token_parse(bad[i], strlen(bad[i]), &t, &err) < 0);
}

#define DG(c)                                                                                                \
	"sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c  \
	    c c c c c c c c c c c c c c c c c c c
static const char index_doc[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":["
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" DG(
	"a") "\",\"size\":10,"
	     "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
	     "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" DG(
		 "b") "\",\"size\":11,"
		      "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
		      "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" DG(
			  "c") "\",\"size\":12,"
			       "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}}]}";

static void test_index(void)
{
	struct registry_platform p;
	struct reg_desc d;
	struct capsid_error err = {0};
	char mt[128];
	CHECK(reg_doc_kind(index_doc, strlen(index_doc), NULL, mt, &err) == 1);
	registry_platform_parse(NULL, &p, &err);
	CHECK(reg_index_select(index_doc, strlen(index_doc), &p, &d, &err) == 0 &&
	      !strcmp(d.digest, DG("b")) && d.size == 11);
	registry_platform_parse("linux/arm64", &p, &err);
	CHECK(reg_index_select(index_doc, strlen(index_doc), &p, &d, &err) == 0 &&
	      !strcmp(d.digest, DG("a")));
	registry_platform_parse("linux/arm64/v7", &p, &err);
	CHECK(reg_index_select(index_doc, strlen(index_doc), &p, &d, &err) == -ENOENT);
	CHECK_STR_CONTAINS(err.msg, "no image for linux/arm64/v7");
	CHECK_STR_CONTAINS(err.msg, "linux/amd64");
	registry_platform_parse("linux/s390x", &p, &err);
	CHECK(reg_index_select(index_doc, strlen(index_doc), &p, &d, &err) == -ENOENT);
	/* Docker's manifest list, told by its Content-Type alone. */
	const char *list = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_DOCKER_MANIFEST
			   "\",\"digest\":\"" DG("d") "\",\"size\":5,\"platform\":{\"os\":\"linux\","
						      "\"architecture\":\"amd64\"}}]}";
	CHECK(reg_doc_kind(list, strlen(list), MT_DOCKER_LIST "; charset=utf-8", mt, &err) == 1);
	registry_platform_parse(NULL, &p, &err);
	CHECK(reg_index_select(list, strlen(list), &p, &d, &err) == 0 &&
	      !strcmp(d.media_type, MT_DOCKER_MANIFEST));
	const char *bad_digest = "{\"manifests\":[{\"digest\":\"sha512:00\",\"size\":1}]}";
	CHECK(reg_index_select(bad_digest, strlen(bad_digest), &p, &d, &err) == -ENOTSUP);
}

static void test_manifest(void)
{
	struct capsid_error err = {0};
	struct reg_manifest m;
	char mt[128];
	const char *doc =
	    "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\","
	    "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\","
	    "\"digest\":\"" DG(
		"1") "\",\"size\":100},\"layers\":["
		     "{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"" DG(
			 "2") "\",\"size\":2000},"
			      "{\"mediaType\":\"application/"
			      "vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" DG("3") "\",\"size\":3000}]}";
	CHECK(reg_doc_kind(doc, strlen(doc), "application/json", mt, &err) == 0 &&
	      !strcmp(mt, MT_DOCKER_MANIFEST));
	CHECK(reg_manifest_parse(doc, strlen(doc), mt, &m, &err) == 0 && m.n_layers == 2 &&
	      m.layers[1].size == 3000 && m.config.size == 100);
	reg_manifest_clear(&m);
	const char *huge = "{\"schemaVersion\":2,\"config\":{\"digest\":\"" DG(
	    "1") "\",\"size\":1},\"layers\":["
		 "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" DG(
		     "2") "\",\"size\":999999999999999}]}";
	CHECK(reg_manifest_parse(huge, strlen(huge), MT_OCI_MANIFEST, &m, &err) == -EFBIG);
	CHECK_STR_CONTAINS(err.msg, "declared size 999999999999999");
	const char *foreign = "{\"schemaVersion\":2,\"config\":{\"digest\":\"" DG(
	    "1") "\",\"size\":1},\"layers\":["
		 "{\"mediaType\":\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\","
		 "\"digest\":\"" DG("2") "\",\"size\":9}]}";
	CHECK(reg_manifest_parse(foreign, strlen(foreign), MT_OCI_MANIFEST, &m, &err) == -ENOTSUP);
	const char *helm =
	    "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.cncf.helm.config.v1+json\","
	    "\"digest\":\"" DG("1") "\",\"size\":1},\"layers\":[]}";
	CHECK(reg_manifest_parse(helm, strlen(helm), MT_OCI_MANIFEST, &m, &err) == -ENOTSUP);
	const char *v1 = "{\"schemaVersion\":1,\"mediaType\":\"application/"
			 "vnd.docker.distribution.manifest.v1+prettyjws\"}";
	CHECK(reg_doc_kind(v1, strlen(v1), NULL, mt, &err) == -ENOTSUP);
	CHECK_STR_CONTAINS(err.msg, "schema 1");
	CHECK(reg_doc_kind("[1]", 3, NULL, mt, &err) == -EINVAL);
	CHECK(reg_doc_kind("{\"a\":1} trailing", 16, NULL, mt, &err) == -EINVAL);
	const char *nolayers = "{\"schemaVersion\":2,\"config\":{\"digest\":\"" DG("1") "\",\"size\":1}}";
	CHECK(reg_manifest_parse(nolayers, strlen(nolayers), MT_OCI_MANIFEST, &m, &err) == -EINVAL);
}

static void test_error_body(void)
{
	char out[256];
	const char *b = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}";
	reg_error_body(b, strlen(b), out, sizeof(out));
	CHECK(!strcmp(out, "manifest unknown (MANIFEST_UNKNOWN)"));
	const char *ctl = "{\"errors\":[{\"code\":\"X\",\"message\":\"a\\u001bb\"}]}";
	reg_error_body(ctl, strlen(ctl), out, sizeof(out));
	CHECK_STR_CONTAINS(out, "a\\x1bb");
	reg_error_body("not json", 8, out, sizeof(out));
	CHECK(out[0] == '\0');
}

int main(void)
{
	RUN_TEST(test_refs);
	RUN_TEST(test_store_names);
	RUN_TEST(test_servers);
	RUN_TEST(test_platforms);
	RUN_TEST(test_challenges);
	RUN_TEST(test_tokens);
	RUN_TEST(test_index);
	RUN_TEST(test_manifest);
	RUN_TEST(test_error_body);
	TEST_EXIT();
}
