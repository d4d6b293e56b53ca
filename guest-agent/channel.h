/* The host channel: the virtio-serial port named CAPSID_AGENT_PORT_NAME,
 * framed with common/frame.h. The port exists before the host connects to
 * its socket and survives host disconnects; the kernel reports the host's
 * state as POLLHUP, and as SIGIO when it changes (O_ASYNC). */
#ifndef AGENT_CHANNEL_H
#define AGENT_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "frame.h"

struct channel;
struct json_object;

/* Find the port by its name in /sys/class/virtio-ports (devtmpfs has no
 * udev symlinks), waiting up to timeout_ms for it to appear, and open it. */
int channel_open(struct channel **out, unsigned timeout_ms, struct capsid_error *err);
/* Open a given path instead (debugging on a host: a pty or fifo). */
int channel_open_path(struct channel **out, const char *path, struct capsid_error *err);
/* Serve an fd already open (unit tests: one end of a socketpair). The
 * channel owns it from then on, also on failure. */
int channel_open_fd(struct channel **out, int fd);
void channel_free(struct channel *ch);

int channel_fd(const struct channel *ch);
bool channel_connected(const struct channel *ch);

/* Re-check whether the host is connected. Returns 1 when a host connection
 * started since the last check (a new session), 0 otherwise. */
int channel_refresh(struct channel *ch);

/* Events to poll for (0: do not poll the fd while the host is away, it
 * would report POLLHUP forever). */
short channel_poll_events(const struct channel *ch);

/* Handles one frame taken by channel_serve(); f->body lives until it returns. */
typedef void (*channel_frame_fn)(void *ctx, const struct frame *f);

/* Read what the host sent, at most max_reads times (a flooding host must not
 * starve the rest of the loop), and hand every complete frame to fn. Marks
 * the channel disconnected when the host went away. Returns 0, or
 * -EBADMSG/-EMSGSIZE for a malformed stream (then call channel_resync()).
 *
 * It returns only once no complete frame is left in its buffer: poll()
 * reports bytes still in the port, not frames already read from it, so a
 * frame left behind would wait for the host's next bytes, which may never
 * come (the host waits for that frame's answer, or a STDIN_CLOSE's EXIT). */
int channel_serve(struct channel *ch, unsigned max_reads, channel_frame_fn fn, void *ctx);

/* Drop buffered input after a malformed frame: the reader restarts at the
 * next byte the host sends. */
int channel_resync(struct channel *ch);

int channel_send(struct channel *ch, uint16_t type, uint32_t id, const void *body, size_t len);
int channel_send_json(struct channel *ch, uint16_t type, uint32_t id, struct json_object *body);
size_t channel_pending(const struct channel *ch);
/* Drop everything queued (a new host session starts from HELLO). */
void channel_discard_output(struct channel *ch);

/* Write queued frames while the fd takes them. */
int channel_flush(struct channel *ch);
/* Write everything queued, waiting up to timeout_ms (shutdown). */
int channel_flush_blocking(struct channel *ch, unsigned timeout_ms);

#endif
