/* Running the helper programs volumes need (smbd, smbpasswd, useradd,
 * mkfs.ext4, mount, git, mkfs.erofs): argv only (no shell), secrets only
 * through stdin, never in arguments. */
#ifndef CAPSID_VOLUME_EXEC_H
#define CAPSID_VOLUME_EXEC_H

#include <stddef.h>

/* Run argv[0] (a path, or a name looked up in PATH) with argv, stdin from
 * `input` (input_len bytes; NULL: /dev/null), stdout to /dev/null, and
 * stderr and stdout collected into out (at most out_len - 1 bytes kept,
 * NUL-terminated, trailing newlines dropped; out may be NULL). cwd: NULL
 * for "/". Returns the exit status (0-255), 256 + signal number when it was
 * killed, or -errno when it could not be run. */
int volume_run(const char *const argv[], const char *cwd, const void *input, size_t input_len, char *out,
	       size_t out_len);

#endif
