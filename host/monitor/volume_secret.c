/* secret volumes need nothing on the host: the files (base64, as the spec
 * gave them) travel in the guest's definition, over the agent channel
 * only, and the guest writes them into a tmpfs. */
#include "volume_kinds.h"

static void secret_describe(const struct spec_volume *v, const struct monitor_volume *mv,
			    struct json_object *o)
{
	(void)mv;
	json_object_object_add(o, "kind", json_object_new_string("secret"));
	struct json_object *files = json_object_new_object();
	for (size_t i = 0; i < v->secret.n_files; i++)
		json_object_object_add(
		    files, v->secret.files[i].name,
		    json_object_new_string(v->secret.files[i].data ? v->secret.files[i].data : ""));
	json_object_object_add(o, "files", files);
}

const struct volume_kind_ops volume_secret_ops = {
    .kind = SPEC_VOLUME_SECRET,
    .describe = secret_describe,
};
