/* YAML to json-c, with libyaml's event API and an explicit stack.
 *
 * Events rather than libyaml's document API because the document loader
 * resolves aliases (a "billion laughs" amplifier) and builds a second tree
 * we would only copy; with events we refuse anchors and aliases where they
 * appear, bound the depth before allocating, and build the json-c tree that
 * the validator reads directly. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cleanup.h"
#include "spec.h"
#include "spec_internal.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

struct yaml_frame {
	struct json_object *node; /* object or array being filled */
	char *key;		  /* in a mapping: the key awaiting its value */
};

struct yaml_builder {
	struct yaml_frame stack[SPEC_MAX_DEPTH];
	size_t depth;
	struct json_object *root;
	bool have_root;
	unsigned documents;
	struct capsid_error *err;
};

static void builder_release(struct yaml_builder *b)
{
	for (size_t i = 0; i < b->depth; i++) {
		spec_wipe_secure_values(b->stack[i].node);
		json_object_put(b->stack[i].node);
		free(b->stack[i].key);
	}
	b->depth = 0;
	spec_wipe_secure_values(b->root);
	json_object_put(b->root);
	b->root = NULL;
}

static int event_error(struct yaml_builder *b, const yaml_event_t *ev, const char *what)
{
	return capsid_error_set(b->err, EINVAL, "YAML line %zu, column %zu: %s", ev->start_mark.line + 1,
				ev->start_mark.column + 1, what);
}

/* YAML 1.2 core schema, the subset JSON can carry. */
static bool is_null_word(const char *s)
{
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int bool_word(const char *s)
{
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return 1;
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return 0;
	return -1;
}

static bool all_in(const char *s, const char *set)
{
	return *s && strspn(s, set) == strlen(s);
}

/* [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+ */
static bool int_word(const char *s, int *base, const char **digits)
{
	if (s[0] == '0' && s[1] == 'o' && all_in(s + 2, "01234567")) {
		*base = 8;
		*digits = s + 2;
		return true;
	}
	if (s[0] == '0' && s[1] == 'x' && all_in(s + 2, "0123456789abcdefABCDEF")) {
		*base = 16;
		*digits = s + 2;
		return true;
	}
	*base = 10;
	*digits = s;
	return all_in(s + (*s == '-' || *s == '+'), "0123456789");
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? or the .inf/.nan words */
static bool float_word(const char *s)
{
	const char *p = s + (*s == '-' || *s == '+');
	if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF"))
		return true;
	if (p == s && (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")))
		return true;
	size_t before = strspn(p, "0123456789");
	p += before;
	size_t after = 0;
	if (*p == '.') {
		after = strspn(p + 1, "0123456789");
		p += 1 + after;
	}
	if (before == 0 && after == 0)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		p += (*p == '-' || *p == '+');
		size_t exp = strspn(p, "0123456789");
		if (exp == 0)
			return false;
		p += exp;
	}
	return *p == '\0';
}

static double float_value(const char *s)
{
	const char *p = s + (*s == '-' || *s == '+');
	if (p[0] == '.' && (p[1] == 'i' || p[1] == 'I'))
		return *s == '-' ? -__builtin_inf() : __builtin_inf();
	if (p[0] == '.' && (p[1] == 'n' || p[1] == 'N'))
		return __builtin_nan("");
	return strtod(s, NULL);
}

enum scalar_kind { KIND_ANY, KIND_STR, KIND_NULL, KIND_BOOL, KIND_INT, KIND_FLOAT };

/* Resolve one scalar to a json-c value. *out NULL with rc 0 is YAML null. */
static int scalar_to_json(struct yaml_builder *b, const yaml_event_t *ev, struct json_object **out)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	enum scalar_kind want = KIND_ANY;
	*out = NULL;

	if (!tag || !*tag)
		want = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? KIND_ANY : KIND_STR;
	else if (!strcmp(tag, "!") || !strcmp(tag, TAG_PREFIX "str"))
		want = KIND_STR;
	else if (!strcmp(tag, TAG_PREFIX "null"))
		want = KIND_NULL;
	else if (!strcmp(tag, TAG_PREFIX "bool"))
		want = KIND_BOOL;
	else if (!strcmp(tag, TAG_PREFIX "int"))
		want = KIND_INT;
	else if (!strcmp(tag, TAG_PREFIX "float"))
		want = KIND_FLOAT;
	else
		return event_error(b, ev,
				   "unsupported YAML tag (only !!str, !!int, !!float, !!bool, !!null)");

	if (want == KIND_STR || memchr(s, '\0', len)) {
		*out = json_object_new_string_len(s, (int)len);
		return *out ? 0 : -ENOMEM;
	}
	int base;
	const char *digits;
	int bv = bool_word(s);
	if (is_null_word(s) && (want == KIND_ANY || want == KIND_NULL))
		return 0;
	if (bv >= 0 && (want == KIND_ANY || want == KIND_BOOL)) {
		*out = json_object_new_boolean(bv);
		return *out ? 0 : -ENOMEM;
	}
	if (int_word(s, &base, &digits) && (want == KIND_ANY || want == KIND_INT || want == KIND_FLOAT)) {
		errno = 0;
		char *end;
		long long v = strtoll(digits, &end, base);
		if (errno == ERANGE || *end)
			return event_error(b, ev, "integer out of range");
		*out = want == KIND_FLOAT ? json_object_new_double((double)v) : json_object_new_int64(v);
		return *out ? 0 : -ENOMEM;
	}
	if (float_word(s) && (want == KIND_ANY || want == KIND_FLOAT)) {
		*out = json_object_new_double(float_value(s));
		return *out ? 0 : -ENOMEM;
	}
	if (want != KIND_ANY)
		return event_error(b, ev, "scalar does not match its tag");
	*out = json_object_new_string_len(s, (int)len);
	return *out ? 0 : -ENOMEM;
}

/* Attach a finished node (owned) to the innermost collection, or make it the
 * document root. */
static int attach(struct yaml_builder *b, const yaml_event_t *ev, struct json_object *node)
{
	if (b->depth == 0) {
		if (b->have_root) {
			json_object_put(node);
			return event_error(b, ev, "more than one root node");
		}
		b->root = node;
		b->have_root = true;
		return 0;
	}
	struct yaml_frame *top = &b->stack[b->depth - 1];
	if (json_object_is_type(top->node, json_type_array)) {
		if (json_object_array_add(top->node, node) < 0) {
			json_object_put(node);
			return -ENOMEM;
		}
		return 0;
	}
	_cleanup_free_ char *key = TAKE_PTR(top->key);
	if (json_object_object_add(top->node, key, node) < 0) {
		json_object_put(node);
		return -ENOMEM;
	}
	return 0;
}

/* In a mapping with no pending key, the next node is a key. */
static bool at_key(const struct yaml_builder *b)
{
	if (b->depth == 0)
		return false;
	const struct yaml_frame *top = &b->stack[b->depth - 1];
	return json_object_is_type(top->node, json_type_object) && !top->key;
}

static int on_scalar(struct yaml_builder *b, const yaml_event_t *ev)
{
	if (ev->data.scalar.anchor)
		return event_error(b, ev, "YAML anchors are not supported");
	if (at_key(b)) {
		struct yaml_frame *top = &b->stack[b->depth - 1];
		const char *k = (const char *)ev->data.scalar.value;
		if (memchr(k, '\0', ev->data.scalar.length))
			return event_error(b, ev, "mapping key contains a NUL character");
		if (json_object_object_get_ex(top->node, k, NULL)) {
			char q[80], msg[120];
			spec_sanitize(q, sizeof(q), k);
			snprintf(msg, sizeof(msg), "duplicate key \"%s\"", q);
			return event_error(b, ev, msg);
		}
		top->key = strdup(k);
		return top->key ? 0 : -ENOMEM;
	}
	struct json_object *node;
	int rc = scalar_to_json(b, ev, &node);
	if (rc < 0)
		return rc;
	return attach(b, ev, node);
}

static int on_collection_start(struct yaml_builder *b, const yaml_event_t *ev, bool mapping)
{
	const yaml_char_t *anchor = mapping ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
	const char *tag = (const char *)(mapping ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
	if (anchor)
		return event_error(b, ev, "YAML anchors are not supported");
	if (tag && *tag && strcmp(tag, "!") && strcmp(tag, mapping ? TAG_PREFIX "map" : TAG_PREFIX "seq"))
		return event_error(b, ev, "unsupported YAML tag on a collection");
	if (at_key(b))
		return event_error(b, ev, "complex mapping keys are not supported");
	if (b->depth >= SPEC_MAX_DEPTH)
		return event_error(b, ev, "nesting deeper than 64 levels");
	struct json_object *node = mapping ? json_object_new_object() : json_object_new_array();
	if (!node)
		return -ENOMEM;
	b->stack[b->depth++] = (struct yaml_frame){.node = node};
	return 0;
}

static int on_collection_end(struct yaml_builder *b, const yaml_event_t *ev)
{
	/* libyaml guarantees balanced events; the check keeps us safe anyway. */
	if (b->depth == 0)
		return event_error(b, ev, "unbalanced collection end");
	struct yaml_frame *top = &b->stack[--b->depth];
	free(top->key);
	return attach(b, ev, top->node);
}

static int on_event(struct yaml_builder *b, const yaml_event_t *ev, bool *done)
{
	switch (ev->type) {
	case YAML_STREAM_START_EVENT:
	case YAML_DOCUMENT_END_EVENT:
	case YAML_NO_EVENT:
		return 0;
	case YAML_STREAM_END_EVENT:
		*done = true;
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (++b->documents > 1)
			return event_error(b, ev, "more than one YAML document ('---') in the input");
		return 0;
	case YAML_ALIAS_EVENT:
		return event_error(b, ev, "YAML aliases are not supported");
	case YAML_SCALAR_EVENT:
		return on_scalar(b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_collection_start(b, ev, false);
	case YAML_MAPPING_START_EVENT:
		return on_collection_start(b, ev, true);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_collection_end(b, ev);
	}
	return event_error(b, ev, "unexpected YAML event");
}

static void parser_deletep(yaml_parser_t *p)
{
	yaml_parser_delete(p);
}

int spec_yaml_to_json(const char *data, size_t len, struct json_object **out, struct capsid_error *err)
{
	*out = NULL;
	if (len > SPEC_MAX_INPUT)
		return capsid_error_set(err, EFBIG, "spec is larger than %u bytes", SPEC_MAX_INPUT);
	_cleanup_(parser_deletep) yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return capsid_error_set(err, ENOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);

	struct yaml_builder b = {.err = err};
	int rc = 0;
	bool done = false;
	while (!done && rc >= 0) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.error == YAML_MEMORY_ERROR)
				rc = capsid_error_set(err, ENOMEM, "out of memory");
			else
				rc = capsid_error_set(
				    err, EINVAL, "YAML syntax error at line %zu, column %zu: %s%s%s",
				    parser.problem_mark.line + 1, parser.problem_mark.column + 1,
				    parser.problem ? parser.problem : "invalid input",
				    parser.context ? " " : "", parser.context ? parser.context : "");
			break;
		}
		rc = on_event(&b, &ev, &done);
		/* Scalars may be secrets: do not leave them in freed heap. */
		if (ev.type == YAML_SCALAR_EVENT)
			explicit_bzero(ev.data.scalar.value, ev.data.scalar.length);
		yaml_event_delete(&ev);
	}
	if (rc == -ENOMEM)
		capsid_error_set(err, ENOMEM, "out of memory");
	if (rc >= 0 && !b.have_root)
		rc = capsid_error_set(err, EINVAL, "empty document");
	if (rc < 0) {
		builder_release(&b);
		return rc;
	}
	*out = b.root;
	return 0;
}
