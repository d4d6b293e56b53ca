/* Shared between the spec module's files; not part of the public API. */
#ifndef CAPSID_SPEC_INTERNAL_H
#define CAPSID_SPEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct json_object;

/* YAML text (at most SPEC_MAX_INPUT bytes) to a json-c tree: plain scalars
 * that look like ints/floats/bools/null (YAML 1.2 core schema) get those
 * types, quoted scalars stay strings. Anchors, aliases, complex keys,
 * duplicate keys, several documents and nesting deeper than SPEC_MAX_DEPTH
 * are errors. */
int spec_yaml_to_json(const char *data, size_t len, struct json_object **out, struct capsid_error *err);

/* Overwrite every "secureValue" string in a tree we own before it is freed. */
void spec_wipe_secure_values(struct json_object *obj);

/* ceil(x) for a sum of requests, tolerant of floating-point noise: values
 * within SPEC_CEIL_SLACK above an integer round down to it. */
#define SPEC_CEIL_SLACK 1e-6
unsigned spec_ceil_sum(double x);

/* Copy untrusted text into a message: at most 64 bytes, control bytes and
 * quotes/backslashes escaped, "..." appended when cut. */
void spec_sanitize(char *out, size_t size, const char *s);

#endif
