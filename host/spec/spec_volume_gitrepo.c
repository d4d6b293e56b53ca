/* The spec's gitRepo volume:
 *
 *   gitRepo{repository, directory, revision}
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "spec_volume_kinds.h"

#define put spec_json_put

#define REPOSITORY_MAX 4096
#define REVISION_MAX   255

/* An absolute local path or a URL of a transport that only fetches: never
 * git's ext:: or fd:: helpers (which run commands), never an option. */
static int parse_repository(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	static const char *const schemes[] = {"https://", "http://", "git://", "ssh://", "file://"};
	struct spec_volume *vol = target;
	int rc = spec_dup_string(c, v, path, &vol->git_repo.repository);
	if (rc < 0)
		return rc;
	const char *s = vol->git_repo.repository;
	bool ok = s[0] == '/';
	for (size_t i = 0; !ok && i < ARRAY_SIZE(schemes); i++)
		ok = !strncmp(s, schemes[i], strlen(schemes[i])) && s[strlen(schemes[i])];
	if (!ok || strlen(s) > REPOSITORY_MAX || spec_volume_has_control(s) || strchr(s, ' ')) {
		char q[80];
		spec_sanitize(q, sizeof(q), s);
		return capsid_error_set(c->err, EINVAL,
					"%s: \"%s\" must be an absolute local path or an https://, http://, "
					"git://, ssh:// or file:// URL",
					path, q);
	}
	return 0;
}

static int parse_git_directory(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_volume *vol = target;
	int rc = spec_dup_string(c, v, path, &vol->git_repo.directory);
	if (rc < 0)
		return rc;
	const char *s = vol->git_repo.directory;
	bool ok = s[0] && s[0] != '/' && !spec_volume_has_control(s) && strlen(s) <= SPEC_FILE_NAME_MAX;
	for (const char *p = s; ok && *p;) {
		size_t len = strcspn(p, "/");
		ok = !(len == 2 && p[0] == '.' && p[1] == '.');
		p += len + (p[len] == '/');
	}
	if (!ok)
		return capsid_error_set(c->err, EINVAL,
					"%s: must be a relative path of at most %d characters without '..' "
					"components",
					path, SPEC_FILE_NAME_MAX);
	return 0;
}

static int parse_revision(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_volume *vol = target;
	int rc = spec_dup_string(c, v, path, &vol->git_repo.revision);
	if (rc < 0)
		return rc;
	const char *s = vol->git_repo.revision;
	size_t len = strlen(s);
	bool ok =
	    len >= 1 && len <= REVISION_MAX && s[0] != '-' && !spec_volume_has_control(s) && !strchr(s, ' ');
	if (!ok)
		return capsid_error_set(
		    c->err, EINVAL,
		    "%s: must be a commit, branch or tag (1-%d characters, no spaces, not "
		    "starting with '-')",
		    path, REVISION_MAX);
	return 0;
}

static const struct spec_field git_repo_fields[] = {
    {"repository", parse_repository, true},
    {"directory", parse_git_directory, false},
    {"revision", parse_revision, false},
};

static int parse_git_repo(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_parse_object(c, v, path, git_repo_fields, ARRAY_SIZE(git_repo_fields), target);
}

static void put_git_repo(struct json_object *k, const struct spec_volume *vol, enum spec_json_mode mode,
			 bool *ok)
{
	(void)mode;
	put(k, "repository", json_object_new_string(vol->git_repo.repository), ok);
	if (vol->git_repo.directory)
		put(k, "directory", json_object_new_string(vol->git_repo.directory), ok);
	if (vol->git_repo.revision)
		put(k, "revision", json_object_new_string(vol->git_repo.revision), ok);
}

static void free_git_repo(struct spec_volume *vol)
{
	free(vol->git_repo.repository);
	free(vol->git_repo.directory);
	free(vol->git_repo.revision);
}

const struct spec_volume_kind_ops spec_volume_git_repo_ops = {
    .key = "gitRepo",
    .parse = parse_git_repo,
    .to_json = put_git_repo,
    .free = free_git_repo,
};
