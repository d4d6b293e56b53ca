/* A task's OCI runtime config (<bundle>/config.json, written by containerd)
 * as the ACI-shaped spec libcapsid creates groups from. What a group has no
 * place for (mounts, hooks, namespaces, capabilities) is the guest's own
 * business: the VM is the boundary. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "shim.h"
#include "spec.h"
#include "util.h"

#define SHIM_MAX_OCI_CONFIG (1u << 20)
#define SHIM_MAX_ARGS	    4096

int shim_spec_load(struct shim_task *t, struct capsid_error *err)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/config.json", t->bundle) >= sizeof(path))
		return capsid_error_set(err, ENAMETOOLONG, "bundle path too long");
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = util_read_file_at(AT_FDCWD, path, SHIM_MAX_OCI_CONFIG, &buf, &len);
	if (r < 0)
		return capsid_error_errno(err, -r, "read %s", path);
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return capsid_error_set(err, ENOMEM, "out of memory");
	t->oci = json_tokener_parse_ex(tok, buf, (int)len);
	json_tokener_free(tok);
	if (!t->oci || !json_object_is_type(t->oci, json_type_object)) {
		json_object_put(t->oci);
		t->oci = NULL;
		return capsid_error_set(err, EINVAL, "%s is not a JSON object", path);
	}
	return 0;
}

static struct json_object *get(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v = NULL;
	if (!o || !json_object_object_get_ex(o, a, &v))
		return NULL;
	if (b && (!v || !json_object_object_get_ex(v, b, &v)))
		return NULL;
	return v;
}

/* process.env "K=V" as environmentVariables. */
static int add_env(struct json_object *props, struct json_object *env, struct capsid_error *err)
{
	struct json_object *list = json_object_new_array();
	if (!list)
		return capsid_error_set(err, ENOMEM, "out of memory");
	json_object_object_add(props, "environmentVariables", list);
	size_t n = env && json_object_is_type(env, json_type_array) ? json_object_array_length(env) : 0;
	for (size_t i = 0; i < n; i++) {
		const char *kv = json_object_get_string(json_object_array_get_idx(env, i));
		const char *eq = kv ? strchr(kv, '=') : NULL;
		if (!eq || eq == kv)
			return capsid_error_set(err, EINVAL, "process.env[%zu] is not NAME=VALUE", i);
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string_len(kv, (int)(eq - kv)));
		json_object_object_add(e, "value", json_object_new_string(eq + 1));
		json_object_array_add(list, e);
	}
	return 0;
}

int shim_spec_build(const struct shim_task *t, struct spec_group **out, struct capsid_error *err)
{
	struct json_object *args = get(t->oci, "process", "args");
	size_t argc = args && json_object_is_type(args, json_type_array) ? json_object_array_length(args) : 0;
	if (argc == 0)
		return capsid_error_set(err, EINVAL, "config.json: process.args is empty");
	if (argc > SHIM_MAX_ARGS)
		return capsid_error_set(err, EINVAL, "config.json: process.args has more than %d words",
					SHIM_MAX_ARGS);
	/* CPU from the quota (at least one), memory from the limit (at least
	 * 128 MiB): the guest's size. */
	double cpu = 1, mem_gb = 0.5;
	struct json_object *res = get(t->oci, "linux", "resources");
	int64_t quota = json_object_get_int64(get(get(res, "cpu", NULL), "quota", NULL));
	int64_t period = json_object_get_int64(get(get(res, "cpu", NULL), "period", NULL));
	if (quota > 0 && period > 0)
		cpu = (double)((quota + period - 1) / period);
	int64_t limit = json_object_get_int64(get(get(res, "memory", NULL), "limit", NULL));
	if (limit > 0)
		mem_gb = (double)(limit < (128ll << 20) ? (128ll << 20) : limit) / (1024.0 * 1024 * 1024);

	_cleanup_json_ struct json_object *doc = json_object_new_object();
	struct json_object *props = json_object_new_object(), *containers = json_object_new_array(),
			   *c = json_object_new_object(), *cp = json_object_new_object(),
			   *cmd = json_object_new_array(), *resources = json_object_new_object(),
			   *requests = json_object_new_object();
	if (!doc || !props || !containers || !c || !cp || !cmd || !resources || !requests)
		return capsid_error_set(err, ENOMEM, "out of memory");
	json_object_object_add(doc, "name", json_object_new_string(t->group));
	json_object_object_add(doc, "properties", props);
	json_object_object_add(props, "osType", json_object_new_string("Linux"));
	json_object_object_add(props, "restartPolicy", json_object_new_string("Never"));
	json_object_object_add(props, "containers", containers);
	json_object_array_add(containers, c);
	json_object_object_add(c, "name", json_object_new_string("task"));
	json_object_object_add(c, "properties", cp);
	json_object_object_add(cp, "image", json_object_new_string(t->image_ref));
	for (size_t i = 0; i < argc; i++)
		json_object_array_add(cmd, json_object_get(json_object_array_get_idx(args, i)));
	json_object_object_add(cp, "command", cmd);
	int r = add_env(cp, get(t->oci, "process", "env"), err);
	if (r < 0)
		return r;
	/* The init's stdin FIFO and terminal: shim_attach.c serves them. */
	if (t->init.stdin_path)
		json_object_object_add(cp, "stdin", json_object_new_boolean(1));
	if (t->init.terminal)
		json_object_object_add(cp, "tty", json_object_new_boolean(1));
	json_object_object_add(cp, "resources", resources);
	json_object_object_add(resources, "requests", requests);
	json_object_object_add(requests, "cpu", json_object_new_double(cpu));
	json_object_object_add(requests, "memoryInGB", json_object_new_double(mem_gb));
	shim_pod_adjust_spec(t, doc, c, requests);
	r = spec_from_json(doc, out, NULL, err);
	return r < 0 ? capsid_error_prefix(err, "the task's group spec") : 0;
}

int shim_spec_exec_args(const uint8_t *json, size_t len, char ***argv_out, size_t *argc_out, bool *terminal,
			struct capsid_error *err)
{
	if (len > SHIM_MAX_OCI_CONFIG)
		return capsid_error_set(err, EINVAL, "the exec's process spec is over %u bytes",
					SHIM_MAX_OCI_CONFIG);
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return capsid_error_set(err, ENOMEM, "out of memory");
	_cleanup_json_ struct json_object *p = json_tokener_parse_ex(tok, (const char *)json, (int)len);
	json_tokener_free(tok);
	struct json_object *args = get(p, "args", NULL);
	size_t argc = args && json_object_is_type(args, json_type_array) ? json_object_array_length(args) : 0;
	if (argc == 0 || argc > SHIM_MAX_ARGS)
		return capsid_error_set(err, EINVAL, "the exec's process spec has no args (or over %d)",
					SHIM_MAX_ARGS);
	char **argv = calloc(argc + 1, sizeof(*argv));
	if (!argv)
		return capsid_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < argc; i++) {
		const char *a = json_object_get_string(json_object_array_get_idx(args, i));
		if (!(argv[i] = strdup(a ? a : ""))) {
			while (i--)
				free(argv[i]);
			free(argv);
			return capsid_error_set(err, ENOMEM, "out of memory");
		}
	}
	*terminal = json_object_get_boolean(get(p, "terminal", NULL));
	*argv_out = argv;
	*argc_out = argc;
	return 0;
}
