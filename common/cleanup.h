/* Scope-bound cleanup helpers (crun / systemd style). Every destructor
 * accepts NULL (or -1 for fds) so a variable can always be marked. */
#ifndef CAPSID_CLEANUP_H
#define CAPSID_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(cleanup_freep)
#define _cleanup_close_ _cleanup_(cleanup_closep)
#define _cleanup_fclose_ _cleanup_(cleanup_fclosep)
#define _cleanup_closedir_ _cleanup_(cleanup_closedirp)
#define _cleanup_json_ _cleanup_(cleanup_json_putp)
#define _cleanup_strv_ _cleanup_(cleanup_strvp)
#define _cleanup_child_ _cleanup_(cleanup_childp)

static inline void cleanup_freep(void *p)
{
	free(*(void **)p);
}

static inline void cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void cleanup_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void cleanup_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

struct json_object;
int json_object_put(struct json_object *obj);
static inline void cleanup_json_putp(struct json_object **obj)
{
	if (*obj)
		json_object_put(*obj);
}

/* A NULL-terminated vector of strings (an argv): each string, then the
 * vector. */
static inline void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static inline void cleanup_strvp(char ***v)
{
	strv_free(*v);
}

/* A child process not yet reaped (pid > 0): killed and reaped when its
 * variable goes out of scope, so that no early return leaves it running.
 * child_wait reaps it and clears the variable. */
static inline int child_wait(pid_t *pid, int *status)
{
	while (waitpid(*pid, status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	*pid = 0;
	return 0;
}

static inline void cleanup_childp(pid_t *pid)
{
	if (*pid > 0) {
		int saved = errno;
		kill(*pid, SIGKILL);
		child_wait(pid, NULL);
		errno = saved;
	}
}

/* Hand ownership out of a cleanup-marked variable. */
#define TAKE_PTR(p)                                                            \
	({                                                                     \
		__typeof__(p) _taken = (p);                                    \
		(p) = NULL;                                                    \
		_taken;                                                        \
	})
#define TAKE_PID(pid)                                                          \
	({                                                                     \
		pid_t _taken = (pid);                                          \
		(pid) = 0;                                                     \
		_taken;                                                        \
	})
#define TAKE_FD(fd)                                                            \
	({                                                                     \
		int _taken = (fd);                                             \
		(fd) = -1;                                                     \
		_taken;                                                        \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
