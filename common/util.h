/* Small file and descriptor helpers shared by host and agent. */
#ifndef CAPSID_UTIL_H
#define CAPSID_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int util_write_all(int fd, const void *buf, size_t len);
/* The same on a socket, without SIGPIPE when the peer is gone (-EPIPE). */
int util_send_all(int fd, const void *buf, size_t len);

/* Read a whole file, at most max bytes (-EFBIG beyond). *out is
 * NUL-terminated; caller frees. dirfd may be AT_FDCWD. */
int util_read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len);

/* Write a file atomically: temp file in the same directory, fsync, rename.
 * The _at form takes path relative to dirfd (AT_FDCWD: as the other). */
int util_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
int util_write_file_atomic_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode);

/* mkdir -p with mode for created components. */
int util_mkdir_p(const char *path, mode_t mode);

/* rm -rf, never following symlinks and never crossing into other mounts. */
int util_rm_rf(const char *path);

/* Monotonic and wall clock helpers. */
uint64_t util_now_ms(void);
uint64_t util_wall_ms(void); /* CLOCK_REALTIME in ms since the epoch */
/* True while pid exists and is not a zombie. */
bool util_pid_running(pid_t pid);
/* RFC 3339 UTC timestamp with nanoseconds, e.g. 2026-11-23T12:00:00.123456789Z */
void util_format_time(char out[40], int64_t sec, long nsec);
void util_now_rfc3339(char out[40]);

/* ACI's rule for the names of groups, containers and volumes: 1-63
 * lowercase letters, digits and '-', no leading, trailing or consecutive
 * '-'. The one check every module uses. */
#define UTIL_NAME_MAX 63
bool util_name_valid(const char *s);
#define UTIL_NAME_RULE                                                                                       \
	"1-63 lowercase letters, digits and '-', not starting or ending with '-' and without '--'"

/* Unix sockets, the one way every module makes them. type is SOCK_STREAM
 * or SOCK_SEQPACKET, with SOCK_NONBLOCK or'ed in where wanted; CLOEXEC is
 * always added. connect: an fd connected to path. listen: an fd listening
 * at path (a stale socket file replaced), the file mode 0600. Both return
 * -errno, -ENAMETOOLONG when path does not fit a socket address. */
int util_unix_connect(const char *path, int type);
int util_unix_listen(const char *path, int type, int backlog);

/* One line on stderr as capsid's background processes log it:
 * "TIMESTAMP WHO[PID]: message". */
void util_vlog_stderr(const char *who, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Set O_NONBLOCK on fd. */
int util_set_nonblock(int fd, int on);

/* Strict base64 (RFC 4648, padded, no whitespace) into out, which needs
 * room for len / 4 * 3 bytes. Returns the decoded length, -EINVAL on bad input. */
ssize_t util_base64_decode(const char *in, size_t len, uint8_t *out);

#endif
