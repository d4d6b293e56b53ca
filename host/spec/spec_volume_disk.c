/* The spec's capsidDisk volume (a disk made by `capsid volume create`):
 *
 *   capsidDisk{volumeName, readOnly}
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "spec_volume_kinds.h"

#define put spec_json_put

static int parse_disk_name(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_parse_dns_label(c, v, path, &((struct spec_volume *)target)->disk.volume_name);
}

static int parse_disk_read_only(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_volume_bool(c, v, path, &((struct spec_volume *)target)->disk.read_only);
}

static const struct spec_field disk_fields[] = {
    {"volumeName", parse_disk_name, true},
    {"readOnly", parse_disk_read_only, false},
};

static int parse_capsid_disk(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_parse_object(c, v, path, disk_fields, ARRAY_SIZE(disk_fields), target);
}

static void put_capsid_disk(struct json_object *k, const struct spec_volume *vol, enum spec_json_mode mode,
			    bool *ok)
{
	(void)mode;
	put(k, "volumeName", json_object_new_string(vol->disk.volume_name), ok);
	put(k, "readOnly", json_object_new_boolean(vol->disk.read_only), ok);
}

static void free_capsid_disk(struct spec_volume *vol)
{
	free(vol->disk.volume_name);
}

const struct spec_volume_kind_ops spec_volume_capsid_disk_ops = {
    .key = "capsidDisk",
    .parse = parse_capsid_disk,
    .to_json = put_capsid_disk,
    .free = free_capsid_disk,
};
