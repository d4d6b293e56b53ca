/* Spec volume fields: volumes (azureFile, emptyDir, secret, gitRepo,
 * capsidDisk) and volumeMounts parse from YAML and JSON, every rule fails
 * with its exact field path, secrets (storageAccountKey, secret contents)
 * stay out of messages and of redacted output, and both round trips (full
 * and redacted) give the same group back. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "spec.h"
#include "testlib.h"
#include "util.h"

#define KEY "c2VjcmV0a2V5LW11c3Qtbm90LWxlYWs="

static const char full_yaml[] = "name: vols\n"
				"properties:\n"
				"  containers:\n"
				"  - name: app\n"
				"    properties:\n"
				"      image: busybox\n"
				"      resources: {requests: {cpu: 1, memoryInGB: 1}}\n"
				"      volumeMounts:\n"
				"      - {name: share, mountPath: /mnt/share}\n"
				"      - {name: scratch, mountPath: //data//scratch/, readOnly: false}\n"
				"      - {name: creds, mountPath: /etc/creds, readOnly: true}\n"
				"      - {name: src, mountPath: /src}\n"
				"      - {name: db, mountPath: /var/lib/db}\n"
				"  - name: side\n"
				"    properties:\n"
				"      image: busybox\n"
				"      resources: {requests: {cpu: 1, memoryInGB: 1}}\n"
				"      volumeMounts: [{name: scratch, mountPath: /mnt/share}]\n"
				"  volumes:\n"
				"  - name: share\n"
				"    azureFile:\n"
				"      shareName: my-share\n"
				"      storageAccountName: acct01\n"
				"      storageAccountKey: \"" KEY "\"\n"
				"      readOnly: true\n"
				"  - name: scratch\n"
				"    emptyDir: {}\n"
				"  - name: creds\n"
				"    secret:\n"
				"      token: aGVsbG8=          # hello\n"
				"      empty.txt: \"\"\n"
				"      wrapped: |\n"
				"        d29y\n"
				"        bGQ=\n"
				"  - name: src\n"
				"    gitRepo: {repository: /srv/git/app.git, directory: app, revision: v1.2}\n"
				"  - name: db\n"
				"    capsidDisk: {volumeName: pgdata}\n";

static int parse(const char *text, unsigned flags, struct spec_group **g, struct capsid_error *err)
{
	*g = NULL;
	return spec_parse_ex(text, strlen(text), flags, g, NULL, err);
}

static void test_full_example(void)
{
	struct spec_group *g = NULL;
	struct spec_warnings w = {0};
	struct capsid_error err = {0};
	CHECK(spec_parse(full_yaml, strlen(full_yaml), &g, &w, &err) == 0 && g);
	if (!g) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	CHECK(w.n == 0);
	CHECK(g->n_volumes == 5);
	const struct spec_volume *share = spec_group_volume(g, "share");
	CHECK(share && share->kind == SPEC_VOLUME_AZURE_FILE && share->azure_file.read_only);
	CHECK(share && !strcmp(share->azure_file.share_name, "my-share") &&
	      !strcmp(share->azure_file.account_name, "acct01") && !strcmp(share->azure_file.account_key, KEY));
	CHECK(spec_group_volume(g, "scratch") && spec_group_volume(g, "scratch")->kind == SPEC_VOLUME_EMPTY_DIR);
	const struct spec_volume *creds = spec_group_volume(g, "creds");
	CHECK(creds && creds->kind == SPEC_VOLUME_SECRET && creds->secret.n_files == 3);
	if (creds && creds->secret.n_files == 3) {
		CHECK(!strcmp(creds->secret.files[0].name, "token") &&
		      !strcmp(creds->secret.files[0].data, "aGVsbG8=") && creds->secret.files[0].size == 5);
		CHECK(creds->secret.files[1].size == 0 && !strcmp(creds->secret.files[1].data, ""));
		/* whitespace of the block scalar dropped */
		CHECK(!strcmp(creds->secret.files[2].data, "d29ybGQ=") && creds->secret.files[2].size == 5);
	}
	const struct spec_volume *src = spec_group_volume(g, "src");
	CHECK(src && src->kind == SPEC_VOLUME_GIT_REPO && !strcmp(src->git_repo.repository, "/srv/git/app.git") &&
	      !strcmp(src->git_repo.directory, "app") && !strcmp(src->git_repo.revision, "v1.2"));
	const struct spec_volume *db = spec_group_volume(g, "db");
	CHECK(db && db->kind == SPEC_VOLUME_CAPSID_DISK && !strcmp(db->disk.volume_name, "pgdata") &&
	      !db->disk.read_only);
	CHECK(spec_group_volume(g, "nope") == NULL);

	const struct spec_container *app = &g->containers[0];
	CHECK(app->n_mounts == 5);
	CHECK(!strcmp(app->mounts[1].mount_path, "/data/scratch") && !app->mounts[1].read_only);
	CHECK(app->mounts[2].read_only && !app->mounts[0].read_only);
	CHECK(g->containers[1].n_mounts == 1 && !strcmp(g->containers[1].mounts[0].name, "scratch"));
	CHECK(!strcmp(spec_volume_kind_name(SPEC_VOLUME_CAPSID_DISK), "capsidDisk"));

	/* Full round trip. */
	struct json_object *full = spec_to_json(g, SPEC_WITH_SECRETS);
	const char *ftext = json_object_to_json_string_ext(full, JSON_C_TO_STRING_PLAIN);
	CHECK_STR_CONTAINS(ftext, KEY);
	struct spec_group *back = NULL;
	CHECK(parse(ftext, 0, &back, &err) == 0 && back);
	struct json_object *again = back ? spec_to_json(back, SPEC_WITH_SECRETS) : NULL;
	CHECK(again && !strcmp(json_object_to_json_string(again), json_object_to_json_string(full)));
	json_object_put(again);
	spec_free(back);

	/* Redacted: no key, no secret content, names kept; reads back only
	 * with SPEC_PARSE_REDACTED, and gives the same text again. */
	struct json_object *red = spec_to_json(g, SPEC_REDACT);
	const char *rtext = json_object_to_json_string_ext(red, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	CHECK(strstr(rtext, KEY) == NULL && strstr(rtext, "storageAccountKey") == NULL);
	CHECK(strstr(rtext, "aGVsbG8=") == NULL && strstr(rtext, "d29y") == NULL);
	CHECK_STR_CONTAINS(rtext, "\"secret\":{\"token\":null,\"empty.txt\":null,\"wrapped\":null}");
	CHECK_STR_CONTAINS(rtext, "\"mountPath\":\"/data/scratch\"");
	CHECK(parse(rtext, 0, &back, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "properties.volumes[0].azureFile.storageAccountKey: is required");
	CHECK(parse(rtext, SPEC_PARSE_REDACTED, &back, &err) == 0 && back);
	if (back) {
		const struct spec_volume *s2 = spec_group_volume(back, "share");
		CHECK(s2 && s2->azure_file.account_key == NULL);
		const struct spec_volume *c2 = spec_group_volume(back, "creds");
		CHECK(c2 && c2->secret.n_files == 3 && c2->secret.files[0].data == NULL);
		again = spec_to_json(back, SPEC_WITH_SECRETS);
		CHECK(again && !strcmp(json_object_to_json_string(again), json_object_to_json_string(red)));
		json_object_put(again);
	}
	spec_free(back);
	json_object_put(red);
	json_object_put(full);
	spec_free(g);
}

/* JSON group with one container; the first %s adds to the container's
 * properties (with a leading comma), the second to the group's. */
static const char doc_fmt[] = "{\"name\": \"g\", \"properties\": {\"containers\": ["
			      "{\"name\": \"a\", \"properties\": {\"image\": \"x\", \"resources\": "
			      "{\"requests\": {\"cpu\": 1, \"memoryInGB\": 1}}%s}}]%s}}";

#define V  "properties.volumes"
#define VM "properties.containers[0].properties.volumeMounts"
#define AZ(extra)                                                                                      \
	", \"volumes\": [{\"name\": \"v\", \"azureFile\": {\"shareName\": \"share\", "                 \
	"\"storageAccountName\": \"acct\", \"storageAccountKey\": \"" KEY "\"" extra "}}]"
#define ONE(kind) ", \"volumes\": [{\"name\": \"v\", " kind "}]"

static const struct error_case {
	const char *container, *group, *msg;
} error_cases[] = {
    /* exactly one kind */
    {"", ONE("\"emptyDir\": {}, \"secret\": {\"a\": \"\"}"),
     V "[0]: exactly one of azureFile, emptyDir, secret, gitRepo or capsidDisk must be set"},
    {"", ", \"volumes\": [{\"name\": \"v\"}]",
     V "[0]: exactly one of azureFile, emptyDir, secret, gitRepo or capsidDisk must be set (none is)"},
    {"", ", \"volumes\": [{\"name\": \"v\", \"azureFile\": null}]",
     V "[0]: exactly one of azureFile, emptyDir, secret, gitRepo or capsidDisk must be set (none is)"},
    {"", ", \"volumes\": [{\"emptyDir\": {}}]", V "[0].name: is required"},
    {"", ", \"volumes\": [{\"name\": \"V\", \"emptyDir\": {}}]",
     V "[0].name: \"V\" is not a valid name: use " UTIL_NAME_RULE},
    {"", ", \"volumes\": [{\"name\": \"v\", \"emptyDir\": {}}, {\"name\": \"v\", \"emptyDir\": {}}]",
     V "[1].name: duplicate volume name \"v\""},
    {"", ", \"volumes\": {}", V ": must be an array, not an object"},
    {"", ", \"volumes\": [{\"name\": \"v\", \"emptyDir\": []}]",
     V "[0].emptyDir: must be an object, not an array"},
    /* azureFile */
    {"", ", \"volumes\": [{\"name\": \"v\", \"azureFile\": {\"storageAccountName\": \"acct\"}}]",
     V "[0].azureFile.shareName: is required"},
    {"", ", \"volumes\": [{\"name\": \"v\", \"azureFile\": {\"shareName\": \"share\"}}]",
     V "[0].azureFile.storageAccountName: is required"},
    {"",
     ", \"volumes\": [{\"name\": \"v\", \"azureFile\": {\"shareName\": \"share\", \"storageAccountName\": "
     "\"acct\"}}]",
     V "[0].azureFile.storageAccountKey: is required"},
    {"",
     ", \"volumes\": [{\"name\": \"v\", \"azureFile\": {\"shareName\": \"a--b\", \"storageAccountName\": "
     "\"acct\", \"storageAccountKey\": \"k\"}}]",
     V "[0].azureFile.shareName: \"a--b\" is not a valid share name: use 3-63 lowercase letters, digits or "
       "single '-', starting and ending with a letter or digit"},
    {"",
     ", \"volumes\": [{\"name\": \"v\", \"azureFile\": {\"shareName\": \"share\", \"storageAccountName\": "
     "\"Acct\", \"storageAccountKey\": \"k\"}}]",
     V "[0].azureFile.storageAccountName: \"Acct\" is not a valid storage account name: use 3-24 lowercase "
       "letters or digits"},
    {"",
     ", \"volumes\": [{\"name\": \"v\", \"azureFile\": {\"shareName\": \"share\", \"storageAccountName\": "
     "\"acct\", \"storageAccountKey\": \"top,secret\"}}]",
     V "[0].azureFile.storageAccountKey: must be 1-512 printable characters without spaces or ','"},
    {"", AZ(", \"readOnly\": \"yes\""), V "[0].azureFile.readOnly: must be a boolean, not a string"},
    /* secret */
    {"", ONE("\"secret\": {}"), V "[0].secret: must contain at least one file"},
    {"", ONE("\"secret\": {\"a/b\": \"\"}"),
     V "[0].secret.a/b: the file name must be 1-255 characters, without '/' or control characters, and not "
       "\".\" or \"..\""},
    {"", ONE("\"secret\": {\"..\": \"\"}"),
     V "[0].secret...: the file name must be 1-255 characters, without '/' or control characters, and not "
       "\".\" or \"..\""},
    {"", ONE("\"secret\": {\"f\": \"not base64!\"}"), V "[0].secret.f: must be base64 (RFC 4648, padded)"},
    {"", ONE("\"secret\": {\"f\": \"aGVsbG8\"}"), V "[0].secret.f: must be base64 (RFC 4648, padded)"},
    {"", ONE("\"secret\": {\"f\": \"a===\"}"), V "[0].secret.f: must be base64 (RFC 4648, padded)"},
    {"", ONE("\"secret\": {\"f\": null}"), V "[0].secret.f: must be a base64 string, not null"},
    {"", ONE("\"secret\": {\"f\": 12}"), V "[0].secret.f: must be a base64 string, not a number"},
    /* gitRepo */
    {"", ONE("\"gitRepo\": {\"directory\": \"x\"}"), V "[0].gitRepo.repository: is required"},
    {"", ONE("\"gitRepo\": {\"repository\": \"ext::sh -c touch% /tmp/pwned\"}"),
     V "[0].gitRepo.repository: \"ext::sh -c touch% /tmp/pwned\" must be an absolute local path or an "
       "https://, http://, git://, ssh:// or file:// URL"},
    {"", ONE("\"gitRepo\": {\"repository\": \"relative/repo\"}"),
     V "[0].gitRepo.repository: \"relative/repo\" must be an absolute local path or an https://, http://, "
       "git://, ssh:// or file:// URL"},
    {"", ONE("\"gitRepo\": {\"repository\": \"/r\", \"directory\": \"a/../../etc\"}"),
     V "[0].gitRepo.directory: must be a relative path of at most 255 characters without '..' components"},
    {"", ONE("\"gitRepo\": {\"repository\": \"/r\", \"directory\": \"/abs\"}"),
     V "[0].gitRepo.directory: must be a relative path of at most 255 characters without '..' components"},
    {"", ONE("\"gitRepo\": {\"repository\": \"/r\", \"revision\": \"--upload-pack=x\"}"),
     V "[0].gitRepo.revision: must be a commit, branch or tag (1-255 characters, no spaces, not starting "
       "with '-')"},
    /* capsidDisk */
    {"", ONE("\"capsidDisk\": {\"readOnly\": true}"), V "[0].capsidDisk.volumeName: is required"},
    {"", ONE("\"capsidDisk\": {\"volumeName\": \"pg\", \"readOnly\": 1}"),
     V "[0].capsidDisk.readOnly: must be a boolean, not a number"},
    /* volumeMounts */
    {", \"volumeMounts\": [{\"name\": \"nope\", \"mountPath\": \"/x\"}]", ONE("\"emptyDir\": {}"),
     VM "[0].name: no volume named \"nope\" in properties.volumes"},
    {", \"volumeMounts\": [{\"name\": \"v\", \"mountPath\": \"/x\"}]", "",
     VM "[0].name: no volume named \"v\" in properties.volumes"},
    {", \"volumeMounts\": [{\"name\": \"v\", \"mountPath\": \"x\"}]", ONE("\"emptyDir\": {}"),
     VM "[0].mountPath: must be an absolute path"},
    {", \"volumeMounts\": [{\"name\": \"v\", \"mountPath\": \"/x:ro\"}]", ONE("\"emptyDir\": {}"),
     VM "[0].mountPath: must not contain ':'"},
    {", \"volumeMounts\": [{\"name\": \"v\", \"mountPath\": \"/a/../etc\"}]", ONE("\"emptyDir\": {}"),
     VM "[0].mountPath: must not contain '.' or '..' components"},
    {", \"volumeMounts\": [{\"name\": \"v\", \"mountPath\": \"//\"}]", ONE("\"emptyDir\": {}"),
     VM "[0].mountPath: must not be \"/\""},
    {", \"volumeMounts\": [{\"name\": \"v\"}]", ONE("\"emptyDir\": {}"), VM "[0].mountPath: is required"},
    {", \"volumeMounts\": [{\"name\": \"v\", \"mountPath\": \"/d\"}, {\"name\": \"v\", \"mountPath\": "
     "\"/d/\"}]",
     ONE("\"emptyDir\": {}"), VM "[1].mountPath: duplicate mount path \"/d\" (also volumeMounts[0])"},
    {", \"volumeMounts\": [{\"name\": \"v\", \"mountPath\": \"/d\", \"readOnly\": \"true\"}]",
     ONE("\"emptyDir\": {}"), VM "[0].readOnly: must be a boolean, not a string"},
};

static void test_errors(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++) {
		const struct error_case *t = &error_cases[i];
		_cleanup_free_ char *doc = NULL;
		CHECK(asprintf(&doc, doc_fmt, t->container, t->group) > 0);
		struct spec_group *g = NULL;
		struct capsid_error err = {0};
		int rc = parse(doc, 0, &g, &err);
		CHECK(rc == -EINVAL && g == NULL);
		if (strcmp(err.msg, t->msg)) {
			test_failures++;
			fprintf(stderr, "case %zu: got \"%s\"\n      want \"%s\"\n", i, err.msg, t->msg);
		}
		/* No secret ever reaches a message. */
		CHECK(strstr(err.msg, KEY) == NULL);
		spec_free(g);
	}
}

static void test_limits_and_warnings(void)
{
	/* 21 volumes */
	char group[4096] = ", \"volumes\": [";
	for (int i = 0; i <= SPEC_MAX_VOLUMES; i++) {
		char one[64];
		snprintf(one, sizeof(one), "%s{\"name\": \"v%d\", \"emptyDir\": {}}", i ? "," : "", i);
		strcat(group, one);
	}
	strcat(group, "]");
	_cleanup_free_ char *doc = NULL;
	CHECK(asprintf(&doc, doc_fmt, "", group) > 0);
	struct spec_group *g = NULL;
	struct capsid_error err = {0};
	CHECK(parse(doc, 0, &g, &err) == -EINVAL);
	CHECK(!strcmp(err.msg, V ": at most 20 volumes are allowed, not 21"));

	/* A secret over SPEC_MAX_SECRET_BYTES decoded. */
	size_t n = (SPEC_MAX_SECRET_BYTES / 3 + 1) * 4;
	_cleanup_free_ char *big = malloc(n + 1);
	memset(big, 'A', n);
	big[n] = '\0';
	_cleanup_free_ char *grp = NULL, *doc2 = NULL;
	CHECK(asprintf(&grp, ONE("\"secret\": {\"f\": \"%s\"}"), big) > 0);
	CHECK(asprintf(&doc2, doc_fmt, "", grp) > 0);
	CHECK(parse(doc2, 0, &g, &err) == -EINVAL);
	CHECK(!strcmp(err.msg, V "[0].secret: the files add up to more than 262144 bytes"));

	/* YAML "emptyDir:" (null) is an emptyDir; unknown keys warn. */
	static const char yaml[] = "name: g\n"
				   "properties:\n"
				   "  containers:\n"
				   "  - name: a\n"
				   "    properties:\n"
				   "      image: x\n"
				   "      resources: {requests: {cpu: 1, memoryInGB: 1}}\n"
				   "      volumeMounts: [{name: v, mountPath: /v, subPath: x}]\n"
				   "  volumes:\n"
				   "  - name: v\n"
				   "    emptyDir:\n"
				   "  - name: w\n"
				   "    emptyDir: {medium: Memory}\n";
	struct spec_warnings w = {0};
	CHECK(spec_parse(yaml, strlen(yaml), &g, &w, &err) == 0 && g);
	CHECK(g && g->n_volumes == 2 && g->volumes[0].kind == SPEC_VOLUME_EMPTY_DIR);
	CHECK(w.n == 2);
	if (w.n == 2) {
		CHECK(!strcmp(w.items[0], VM "[0].subPath: unknown field, ignored"));
		CHECK(!strcmp(w.items[1], V "[1].emptyDir.medium: unknown field, ignored"));
	}
	spec_warnings_free(&w);
	spec_free(g);
}

int main(void)
{
	RUN_TEST(test_full_example);
	RUN_TEST(test_errors);
	RUN_TEST(test_limits_and_warnings);
	TEST_EXIT();
}
