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
void channel_free(struct channel *ch);

int channel_fd(const struct channel *ch);
bool channel_connected(const struct channel *ch);

/* Re-check whether the host is connected. Returns 1 when a host connection
 * started since the last check (a new session), 0 otherwise. */
int channel_refresh(struct channel *ch);

/* Events to poll for (0: do not poll the fd while the host is away, it
 * would report POLLHUP forever). */
short channel_poll_events(const struct channel *ch);

/* Read what is available. Returns >0 when bytes arrived, 0 when none, and
 * marks the channel disconnected when the host went away. */
int channel_read(struct channel *ch);

/* Next complete frame: 1 and *f filled, 0 when none, -EBADMSG/-EMSGSIZE for
 * a malformed stream (after which channel_resync() must be called). */
int channel_next_frame(struct channel *ch, struct frame *f);

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
