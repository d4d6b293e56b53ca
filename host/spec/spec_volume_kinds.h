/* The volume kinds of the spec as a table of handlers (spec_volume.c runs
 * them; one file per kind holds a kind's fields, their checks, its
 * serialisation and its freeing):
 *
 *   azureFile   spec_volume_azurefile.c
 *   emptyDir    spec_volume_emptydir.c
 *   secret      spec_volume_secret.c
 *   gitRepo     spec_volume_gitrepo.c
 *   capsidDisk  spec_volume_disk.c
 *
 * secrets names what a volume of the kind carries that must not be stored
 * (NULL: nothing). parse reads the kind's object (target: struct spec_volume, whose kind is
 * already set); to_json adds its fields to the kind's object k (secrets only
 * with SPEC_WITH_SECRETS); free releases them, wiping secrets. */
#ifndef CAPSID_SPEC_VOLUME_KINDS_H
#define CAPSID_SPEC_VOLUME_KINDS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "spec.h"
#include "spec_internal.h"

#define SPEC_FILE_NAME_MAX 255

struct spec_volume_kind_ops {
	const char *key;     /* the spec's name of the kind */
	const char *secrets; /* what secret it carries, for messages; NULL: none */
	spec_field_fn parse;
	void (*to_json)(struct json_object *k, const struct spec_volume *vol, enum spec_json_mode mode,
			bool *ok);
	void (*free)(struct spec_volume *vol);
};

extern const struct spec_volume_kind_ops spec_volume_azure_file_ops;
extern const struct spec_volume_kind_ops spec_volume_empty_dir_ops;
extern const struct spec_volume_kind_ops spec_volume_secret_ops;
extern const struct spec_volume_kind_ops spec_volume_git_repo_ops;
extern const struct spec_volume_kind_ops spec_volume_capsid_disk_ops;

/* Shared by the kinds (spec_volume.c). */
int spec_volume_bool(struct spec_vctx *c, struct json_object *v, const char *path, bool *dst);
bool spec_volume_has_control(const char *s);
void spec_volume_free_secret(char *s); /* wipes, then frees; NULL-safe */

#endif
