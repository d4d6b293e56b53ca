/* Error reporting: fallible functions return -errno and, where the caller
 * needs words, fill a struct capsid_error passed last. Context is prefixed
 * on the way up: "import image x: open layer y: No such file". */
#ifndef CAPSID_ERROR_H
#define CAPSID_ERROR_H

#include <stddef.h>

#define CAPSID_ERROR_MAX 1024

struct capsid_error {
	int code; /* positive errno value, 0 when unset */
	char msg[CAPSID_ERROR_MAX];
};

/* Set the message (printf format) and return -code, so a caller can write
 * `return capsid_error_set(err, EINVAL, "bad %s", x);`. err may be NULL. */
int capsid_error_set(struct capsid_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like capsid_error_set, appending ": strerror(code)". */
int capsid_error_errno(struct capsid_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix existing message with context; returns -err->code (or -EIO). */
int capsid_error_prefix(struct capsid_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void capsid_error_clear(struct capsid_error *err);

#endif
