/* containers[].properties.stdin and .tty (Kubernetes' container fields):
 * the container's process gets an open standard input that a client can
 * attach to (capsid_group_attach), and a terminal inside the guest. */

#include <json-c/json.h>

#include "spec_internal.h"

static int parse_flag(struct spec_vctx *c, struct json_object *v, const char *path, bool *out)
{
	if (json_object_is_type(v, json_type_boolean)) {
		*out = json_object_get_boolean(v);
		return 0;
	}
	return spec_type_error(c, path, "a boolean", v);
}

int spec_parse_stdin(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return parse_flag(c, v, path, &((struct spec_container *)target)->open_stdin);
}

int spec_parse_tty(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return parse_flag(c, v, path, &((struct spec_container *)target)->tty);
}

void spec_put_stdio(struct json_object *props, const struct spec_container *ct, bool *ok)
{
	if (ct->open_stdin)
		spec_json_put(props, "stdin", json_object_new_boolean(1), ok);
	if (ct->tty)
		spec_json_put(props, "tty", json_object_new_boolean(1), ok);
}
