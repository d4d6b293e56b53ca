/* Runtime options: containerd gives `start` the container's runtime options
 * on its standard input (a protobuf Any). For a runtime of its own type
 * containerd's CRI plugin and ctr (--runtime-config-path) send
 * runtimeoptions.v1.Options, whose ConfigPath names a file of capsid
 * settings, one CAPSID_NAME=value a line (# comments, blank lines): they
 * override the environment for this shim (the accelerator, the guest
 * kernel's directory, warm start, ...), and capsid's configuration reader
 * then checks every value as for the CLI. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "github.com/containerd/containerd/pkg/runtimeoptions/v1/api.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "shim.h"
#include "util.h"

#define SHIM_MAX_OPTIONS     (64u << 10)
#define SHIM_MAX_CONFIG_FILE (64u << 10)

static int apply_file(const char *path, struct capsid_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = util_read_file_at(AT_FDCWD, path, SHIM_MAX_CONFIG_FILE, &buf, &len);
	if (r < 0)
		return capsid_error_errno(err, -r, "runtime options: read ConfigPath %s", path);
	if (memchr(buf, 0, len))
		return capsid_error_set(err, EINVAL, "runtime options: %s is not text", path);
	unsigned line = 0;
	for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		line++;
		while (isspace((unsigned char)*l))
			l++;
		size_t n = strlen(l);
		while (n && isspace((unsigned char)l[n - 1]))
			l[--n] = 0;
		if (!*l || *l == '#')
			continue;
		char *eq = strchr(l, '=');
		if (!eq || strncmp(l, "CAPSID_", 7) != 0)
			return capsid_error_set(
			    err, EINVAL, "runtime options: %s line %u: want CAPSID_NAME=value", path, line);
		*eq = 0;
		for (const char *p = l; *p; p++)
			if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
				return capsid_error_set(err, EINVAL, "runtime options: %s line %u: bad name",
							path, line);
		if (setenv(l, eq + 1, 1) < 0)
			return capsid_error_errno(err, errno, "runtime options: setenv %s", l);
	}
	return 0;
}

int shim_options_apply(int fd, struct capsid_error *err)
{
	if (isatty(fd))
		return 0;
	_cleanup_free_ char *buf = malloc(SHIM_MAX_OPTIONS);
	size_t len = 0;
	int r;
	if (!buf)
		return capsid_error_set(err, ENOMEM, "out of memory");
	for (;;) {
		ssize_t n = read(fd, buf + len, SHIM_MAX_OPTIONS - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EBADF
				   ? 0
				   : capsid_error_errno(err, errno, "runtime options: read standard input");
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == SHIM_MAX_OPTIONS)
			return capsid_error_set(err, EFBIG, "runtime options: over %u bytes",
						SHIM_MAX_OPTIONS);
	}
	if (len == 0)
		return 0;
	Google__Protobuf__Any *any = google__protobuf__any__unpack(NULL, len, (const uint8_t *)buf);
	if (!any)
		return capsid_error_set(err, EINVAL, "runtime options: not a protobuf Any");
	size_t tl = strlen(any->type_url), want = strlen("runtimeoptions.v1.Options");
	if (tl < want || strcmp(any->type_url + tl - want, "runtimeoptions.v1.Options") != 0) {
		r = capsid_error_set(err, EINVAL,
				     "runtime options of type %.200s: capsid takes runtimeoptions.v1.Options "
				     "(ConfigPath)",
				     any->type_url);
		google__protobuf__any__free_unpacked(any, NULL);
		return r;
	}
	Runtimeoptions__V1__Options *o =
	    runtimeoptions__v1__options__unpack(NULL, any->value.len, any->value.data);
	google__protobuf__any__free_unpacked(any, NULL);
	if (!o)
		return capsid_error_set(err, EINVAL,
					"runtime options: undecodable runtimeoptions.v1.Options");
	r = o->config_path[0] ? apply_file(o->config_path, err) : 0;
	runtimeoptions__v1__options__free_unpacked(o, NULL);
	return r;
}
