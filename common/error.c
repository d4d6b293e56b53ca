#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 3, 0))) static int error_vset(struct capsid_error *err, int code, const char *fmt,
									  va_list ap)
{
	if (code < 0)
		code = -code;
	if (code == 0)
		code = EIO;
	if (err) {
		err->code = code;
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	}
	return -code;
}

int capsid_error_set(struct capsid_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_vset(err, code, fmt, ap);
	va_end(ap);
	return r;
}

int capsid_error_errno(struct capsid_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_vset(err, code, fmt, ap);
	va_end(ap);
	if (err) {
		size_t len = strlen(err->msg);
		snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(-r));
	}
	return r;
}

int capsid_error_prefix(struct capsid_error *err, const char *fmt, ...)
{
	if (!err)
		return -EIO;
	char prefix[CAPSID_ERROR_MAX];
	char old[CAPSID_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Truncation is acceptable: the message stays NUL-terminated. */
	int n = snprintf(err->msg, sizeof(err->msg), "%s: ", prefix);
	if (n > 0 && (size_t)n < sizeof(err->msg))
		strncat(err->msg, old, sizeof(err->msg) - (size_t)n - 1);
	if (err->code == 0)
		err->code = EIO;
	return -err->code;
}

void capsid_error_clear(struct capsid_error *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}
