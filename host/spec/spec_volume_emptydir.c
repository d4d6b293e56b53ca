/* The spec's emptyDir volume: `emptyDir: {}` (or null), nothing more. */
#include "spec_volume_kinds.h"

static int parse_empty_dir(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	/* No keys of its own (ACI's emptyDir is `{}`): anything inside warns. */
	return spec_parse_object(c, v, path, NULL, 0, target);
}

static void put_empty_dir(struct json_object *k, const struct spec_volume *vol, enum spec_json_mode mode,
			  bool *ok)
{
	(void)k;
	(void)vol;
	(void)mode;
	(void)ok;
}

static void free_empty_dir(struct spec_volume *vol)
{
	(void)vol;
}

const struct spec_volume_kind_ops spec_volume_empty_dir_ops = {
    .key = "emptyDir",
    .parse = parse_empty_dir,
    .to_json = put_empty_dir,
    .free = free_empty_dir,
};
