/* gitRepo volumes on the host: the repository cloned into an erofs image
 * under the group's directory (volumes/NAME.erofs), once per group like a
 * pod's gitRepo, so restarts see the same tree; the guest mounts it
 * read-only as a virtio disk. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gitrepo.h"
#include "volume_kinds.h"

static int gitrepo_prepare(struct monitor *m, const struct spec_volume *v, struct monitor_volume *mv,
			   struct volume_prepare_ctx *ctx, struct capsid_error *err)
{
	(void)ctx;
	char dir[PATH_MAX];
	if (snprintf(dir, sizeof(dir), "%s/volumes", m->paths->dir) >= (int)sizeof(dir) - 70)
		return capsid_error_set(err, ENAMETOOLONG, "group directory path too long");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return capsid_error_errno(err, errno, "mkdir %s", dir);
	/* Volume names are DNS labels: 63 characters at most (the spec checks them). */
	size_t len = strlen(dir);
	memcpy(mv->disk_path, dir, len);
	snprintf(mv->disk_path + len, sizeof(mv->disk_path) - len, "/%.63s.erofs", v->name);
	mv->format = "raw";
	mv->readonly = true;
	/* Cloned once per group, like a pod's gitRepo: restarts see the same tree. */
	if (access(mv->disk_path, F_OK) == 0)
		return 0;
	monitor_log(m, "volume %s: cloning its repository", v->name); /* a URL may carry a password */
	return gitrepo_build_image(v->git_repo.repository, v->git_repo.directory, v->git_repo.revision,
				   mv->disk_path, m->opts->gitrepo_timeout_s, err);
}

static void gitrepo_describe(const struct spec_volume *v, const struct monitor_volume *mv,
			     struct json_object *o)
{
	(void)v;
	volume_describe_disk(mv, "erofs", o);
}

const struct volume_kind_ops volume_gitrepo_ops = {
    .kind = SPEC_VOLUME_GIT_REPO,
    .prepare = gitrepo_prepare,
    .describe = gitrepo_describe,
};
