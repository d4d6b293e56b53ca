#include "seccomp_args.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <string.h>

#include "cleanup.h"

static const char *const op_names[] = {
    [SECCOMP_ARGS_NE] = "SCMP_CMP_NE",
    [SECCOMP_ARGS_LT] = "SCMP_CMP_LT",
    [SECCOMP_ARGS_LE] = "SCMP_CMP_LE",
    [SECCOMP_ARGS_EQ] = "SCMP_CMP_EQ",
    [SECCOMP_ARGS_GE] = "SCMP_CMP_GE",
    [SECCOMP_ARGS_GT] = "SCMP_CMP_GT",
    [SECCOMP_ARGS_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};

/* A whole number from 0 to 2^64-1 (json-c keeps those above INT64_MAX as
 * unsigned); absent is 0 when optional. */
static int read_u64(struct json_object *cond, const char *key, bool required, const char *what, size_t i,
		    uint64_t *out, struct capsid_error *err)
{
	struct json_object *v;
	*out = 0;
	if (!json_object_object_get_ex(cond, key, &v) || !v) {
		if (!required)
			return 0;
		return capsid_error_set(err, EINVAL, "%s.args[%zu].%s: missing", what, i, key);
	}
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return capsid_error_set(err, EINVAL,
					"%s.args[%zu].%s: not a whole number from 0 to 18446744073709551615",
					what, i, key);
	*out = json_object_get_uint64(v);
	return 0;
}

int seccomp_args_read(struct json_object *rule, const char *what,
		      struct seccomp_args_cond out[SECCOMP_ARGS_MAX], size_t *n, struct capsid_error *err)
{
	struct json_object *args;
	*n = 0;
	if (!json_object_object_get_ex(rule, "args", &args) || !args)
		return 0;
	if (!json_object_is_type(args, json_type_array))
		return capsid_error_set(err, EINVAL, "%s.args: not an array", what);
	size_t len = json_object_array_length(args);
	if (len > SECCOMP_ARGS_MAX)
		return capsid_error_set(err, EINVAL, "%s.args: %zu conditions, at most %d (one per argument)",
					what, len, SECCOMP_ARGS_MAX);
	unsigned seen = 0;
	for (size_t i = 0; i < len; i++) {
		struct json_object *c = json_object_array_get_idx(args, i), *v;
		struct seccomp_args_cond *o = &out[i];
		if (!c || !json_object_is_type(c, json_type_object))
			return capsid_error_set(err, EINVAL, "%s.args[%zu]: not an object", what, i);
		uint64_t index;
		int rc = read_u64(c, "index", true, what, i, &index, err);
		if (rc < 0)
			return rc;
		if (index >= SECCOMP_ARGS_MAX)
			return capsid_error_set(err, EINVAL,
						"%s.args[%zu].index: %llu is not an argument (0 to 5)", what,
						i, (unsigned long long)index);
		if (seen & (1u << index))
			return capsid_error_set(
			    err, EINVAL,
			    "%s.args[%zu].index: argument %u has a condition already in this rule "
			    "(runtimes differ on what two mean: write two rules)",
			    what, i, (unsigned)index);
		seen |= 1u << index;
		o->index = (unsigned)index;
		if ((rc = read_u64(c, "value", true, what, i, &o->value, err)) < 0 ||
		    (rc = read_u64(c, "valueTwo", false, what, i, &o->value_two, err)) < 0)
			return rc;
		const char *op =
		    json_object_object_get_ex(c, "op", &v) && json_object_is_type(v, json_type_string)
			? json_object_get_string(v)
			: NULL;
		size_t k = 0;
		while (op && k < ARRAY_SIZE(op_names) && strcmp(op, op_names[k]))
			k++;
		if (!op || k == ARRAY_SIZE(op_names))
			return capsid_error_set(
			    err, EINVAL,
			    "%s.args[%zu].op: %s%.40s%s; one of SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, "
			    "SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ",
			    what, i, op ? "\"" : "", op ? op : "missing", op ? "\" is unknown" : "");
		o->op = (enum seccomp_args_op)k;
		(*n)++;
	}
	return 0;
}
