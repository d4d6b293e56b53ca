/* Spec entry points: bound the input, pick the format, parse to a json-c
 * tree, validate (spec_validate.c), and wipe secrets from what we built. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <string.h>

#include "cleanup.h"
#include "spec.h"
#include "spec_internal.h"
#include "util.h"

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Line and column (1-based) of a byte offset, for syntax errors. */
static void text_position(const char *data, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (data[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static void tokener_freep(struct json_tokener **t)
{
	if (*t)
		json_tokener_free(*t);
}

static int json_text_to_json(const char *data, size_t len, struct json_object **out, struct capsid_error *err)
{
	*out = NULL;
	_cleanup_(tokener_freep) struct json_tokener *tok = json_tokener_new_ex(SPEC_MAX_DEPTH);
	if (!tok)
		return capsid_error_set(err, ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	_cleanup_json_ struct json_object *doc = json_tokener_parse_ex(tok, data, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	size_t line, col;
	if (jerr == json_tokener_continue)
		return capsid_error_set(err, EINVAL, "JSON syntax error: unexpected end of input");
	if (jerr != json_tokener_success) {
		text_position(data, end < len ? end : len, &line, &col);
		return capsid_error_set(err, EINVAL, "JSON syntax error at line %zu, column %zu: %s", line,
					col, json_tokener_error_desc(jerr));
	}
	/* Strict mode already rejects most trailing text; this makes sure. */
	while (end < len && is_space(data[end]))
		end++;
	if (end < len) {
		text_position(data, end, &line, &col);
		spec_wipe_secure_values(doc);
		return capsid_error_set(err, EINVAL,
					"JSON syntax error at line %zu, column %zu: data after the document",
					line, col);
	}
	*out = TAKE_PTR(doc);
	return 0;
}

int spec_parse_ex(const char *data, size_t len, unsigned flags, struct spec_group **out,
		  struct spec_warnings *warn, struct capsid_error *err)
{
	*out = NULL;
	if (len > SPEC_MAX_INPUT)
		return capsid_error_set(err, EFBIG, "spec is larger than %u bytes", SPEC_MAX_INPUT);
	if (memchr(data, '\0', len))
		return capsid_error_set(err, EINVAL, "spec contains a NUL byte (not text)");
	size_t first = 0;
	while (first < len && is_space(data[first]))
		first++;
	if (first == len)
		return capsid_error_set(err, EINVAL, "empty document");

	_cleanup_json_ struct json_object *doc = NULL;
	int rc = data[first] == '{' ? json_text_to_json(data, len, &doc, err)
				    : spec_yaml_to_json(data, len, &doc, err);
	if (rc < 0)
		return rc;
	rc = spec_from_json_ex(doc, flags, out, warn, err);
	spec_wipe_secure_values(doc);
	return rc;
}

int spec_parse(const char *data, size_t len, struct spec_group **out, struct spec_warnings *warn,
	       struct capsid_error *err)
{
	return spec_parse_ex(data, len, 0, out, warn, err);
}

int spec_parse_file(const char *path, struct spec_group **out, struct spec_warnings *warn,
		    struct capsid_error *err)
{
	*out = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	/* One byte over the limit, so a file of exactly SPEC_MAX_INPUT reads. */
	int rc = util_read_file_at(AT_FDCWD, path, SPEC_MAX_INPUT + 1, &text, &len);
	if (rc == -EFBIG)
		return capsid_error_set(err, EFBIG, "spec is larger than %u bytes", SPEC_MAX_INPUT);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "cannot read the spec");
	rc = spec_parse(text, len, out, warn, err);
	/* The file may hold secureValues: clear our copy before freeing it. */
	explicit_bzero(text, len);
	return rc;
}
