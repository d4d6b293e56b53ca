/* Scope-bound cleanup helpers (crun / systemd style). Every destructor
 * accepts NULL (or -1 for fds) so a variable can always be marked. */
#ifndef CAPSID_CLEANUP_H
#define CAPSID_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(cleanup_freep)
#define _cleanup_close_ _cleanup_(cleanup_closep)
#define _cleanup_fclose_ _cleanup_(cleanup_fclosep)
#define _cleanup_json_ _cleanup_(cleanup_json_putp)

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

struct json_object;
int json_object_put(struct json_object *obj);
static inline void cleanup_json_putp(struct json_object **obj)
{
	if (*obj)
		json_object_put(*obj);
}

/* Hand ownership out of a cleanup-marked variable. */
#define TAKE_PTR(p)                                                            \
	({                                                                     \
		__typeof__(p) _taken = (p);                                    \
		(p) = NULL;                                                    \
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
