/* emptyDir volumes need nothing on the host: the guest makes a tmpfs. */
#include "volume_kinds.h"

static void emptydir_describe(const struct spec_volume *v, const struct monitor_volume *mv,
			      struct json_object *o)
{
	(void)v;
	(void)mv;
	json_object_object_add(o, "kind", json_object_new_string("emptyDir"));
}

const struct volume_kind_ops volume_emptydir_ops = {
    .kind = SPEC_VOLUME_EMPTY_DIR,
    .describe = emptydir_describe,
};
