#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

/* struct rand_pool_info with its flexible buffer sized for the request. */
struct entropy_add {
	int entropy_count; /* bits credited */
	int buf_size;	   /* bytes */
	uint8_t buf[REQUEST_IDENTITY_ENTROPY_MAX];
};

int identity_apply(const struct request_identity *id, struct capsid_error *err)
{
	struct timespec ts = {.tv_sec = id->time_ns / 1000000000, .tv_nsec = id->time_ns % 1000000000};
	if (clock_settime(CLOCK_REALTIME, &ts) < 0)
		return capsid_error_errno(err, errno, "set the clock");

	/* Every clone starts from the template's CRNG state: add the host's
	 * bytes to the input pool, credit them (RNDADDENTROPY needs
	 * CAP_SYS_ADMIN, which PID 1 has), then reseed the CRNG from the pool
	 * now rather than at the next scheduled reseed. */
	_cleanup_close_ int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return capsid_error_errno(err, errno, "open /dev/urandom");
	struct entropy_add e = {.entropy_count = (int)(id->entropy_len * 8),
				.buf_size = (int)id->entropy_len};
	memcpy(e.buf, id->entropy, id->entropy_len);
	int rc = ioctl(fd, RNDADDENTROPY, &e);
	int saved = errno;
	explicit_bzero(&e, sizeof(e));
	if (rc < 0)
		return capsid_error_errno(err, saved, "add entropy");
	if (ioctl(fd, RNDRESEEDCRNG) < 0)
		return capsid_error_errno(err, errno, "reseed the CRNG");

	if (sethostname(id->hostname, strlen(id->hostname)) < 0)
		return capsid_error_errno(err, errno, "set the hostname");
	return 0;
}
