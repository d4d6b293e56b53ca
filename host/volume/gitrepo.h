/* gitRepo volumes: a repository cloned on the host and packed into a
 * read-only erofs image that the guest attaches like an image disk (the
 * guest never runs git and never reaches the repository's server).
 *
 * Semantics follow Kubernetes' gitRepo volume, which ACI's mirrors: a
 * full clone with its .git directory, checked out at the revision, placed
 * in the volume according to `directory`. Kept .git because Kubernetes
 * keeps it and applications use it (git describe, git log, build stamps);
 * the image is read-only, so it costs only the space.
 *
 * git runs with no credentials of the host: an empty environment (PATH,
 * proxy and CA variables only), no system or global git config, no
 * terminal or askpass prompts, ssh in batch mode without keys, agent or
 * user known_hosts (hosts the operator pins in /etc/ssh/ssh_known_hosts
 * only), transports limited to file, git, http, https and ssh, no
 * submodules. The whole clone is bounded in time ($CAPSID_GITREPO_TIMEOUT_S,
 * default 300 s; then git and its helpers are killed). */
#ifndef CAPSID_GITREPO_H
#define CAPSID_GITREPO_H

#include <stddef.h>

#include "error.h"

#define GITREPO_TIMEOUT_S 300

/* Clone REPOSITORY (an absolute local path or an http(s)/git/ssh/file URL;
 * the spec validated its shape) at REVISION (NULL: the default branch; a
 * branch, tag or commit) and pack the tree into a read-only erofs image at
 * out_path (written atomically: tmp + rename; nothing left on failure).
 * Placement follows ACI/Kubernetes: directory "." -> the volume root is the
 * repository; directory "x/y" -> the repository at x/y; NULL -> a
 * subdirectory named after the repository (basename without .git). Every
 * file is owned by root and readable by any uid (modes 0644 / 0755).
 * Errors name the repository: "gitRepo /srv/r.git: revision v9 not found".
 * The work tree is built next to out_path (same filesystem as the image).
 * The clone must finish within timeout_s (CAPSID_GITREPO_TIMEOUT_S; 0: the
 * default, GITREPO_TIMEOUT_S). */
int gitrepo_build_image(const char *repository, const char *directory, const char *revision,
			const char *out_path, unsigned timeout_s, struct capsid_error *err);

/* The subdirectory a NULL `directory` places the repository in: git's own
 * rule ("https://h/org/app.git" -> "app", "/srv/r/.git" -> "r"). -EINVAL
 * when the repository has no usable name. */
int gitrepo_default_dir(const char *repository, char *out, size_t len);

#endif
