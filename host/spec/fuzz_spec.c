/* libFuzzer target for the spec parser (YAML and JSON input).
 *
 * Beyond "no crash, no leak, no sanitizer report", it checks two properties
 * of every document that parses: the SPEC_WITH_SECRETS serialisation parses
 * back to a group that serialises identically (a faithful round trip), and
 * the SPEC_REDACT form keeps no secure value yet reads back with
 * SPEC_PARSE_REDACTED. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Structural redaction check: a secure entry carries its name and nothing
 * else. (A text search for the secret would trip on values that also occur
 * legitimately, e.g. a secret equal to the image name.) */
static void check_redacted(const struct spec_group *g, struct json_object *doc)
{
	struct json_object *props, *cts;
	if (!json_object_object_get_ex(doc, "properties", &props) ||
	    !json_object_object_get_ex(props, "containers", &cts))
		abort();
	for (size_t i = 0; i < g->n_containers; i++) {
		struct json_object *cp, *env;
		if (!json_object_object_get_ex(json_object_array_get_idx(cts, i), "properties", &cp))
			abort();
		if (!json_object_object_get_ex(cp, "environmentVariables", &env))
			continue;
		for (size_t j = 0; j < g->containers[i].n_env; j++) {
			struct json_object *e = json_object_array_get_idx(env, j);
			if (g->containers[i].env[j].secure && json_object_object_length(e) != 1)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spec_group *g = NULL;
	struct spec_warnings warn = {0};
	struct capsid_error err = {0};
	if (spec_parse((const char *)data, size, &g, &warn, &err) < 0) {
		/* Failure must leave nothing behind and always say why. */
		if (g || warn.n || !err.msg[0])
			abort();
		return 0;
	}
	spec_warnings_free(&warn);
	(void)spec_group_vcpus(g);
	(void)spec_group_memory_mib(g);

	struct json_object *full = spec_to_json(g, SPEC_WITH_SECRETS);
	struct json_object *redacted = spec_to_json(g, SPEC_REDACT);
	if (!full || !redacted)
		abort();
	check_redacted(g, redacted);

	struct spec_group *again = NULL;
	if (spec_from_json(full, &again, &warn, &err) < 0 || warn.n)
		abort();
	struct json_object *full2 = spec_to_json(again, SPEC_WITH_SECRETS);
	if (!full2 || strcmp(json_object_to_json_string(full), json_object_to_json_string(full2)))
		abort();

	struct spec_group *stored = NULL;
	if (spec_from_json_ex(redacted, SPEC_PARSE_REDACTED, &stored, NULL, &err) < 0)
		abort();

	json_object_put(full2);
	json_object_put(full);
	json_object_put(redacted);
	spec_free(stored);
	spec_free(again);
	spec_free(g);
	return 0;
}
