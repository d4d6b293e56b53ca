/* Frame codec for the capsid wire protocol (see proto.h): a bounded
 * incremental reader for non-blocking descriptors and a bounded output
 * queue. Every header is validated before its body is accepted. */
#ifndef CAPSID_FRAME_H
#define CAPSID_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct json_object;

struct frame {
	uint16_t type;
	uint16_t flags;
	uint32_t id;
	uint32_t length;
	const uint8_t *body; /* valid until the next frame_reader call */
};

struct frame_reader;
struct frame_writer;

/* max_body: largest body accepted (<= CAPSID_FRAME_MAX_BODY). */
struct frame_reader *frame_reader_new(uint32_t max_body);
void frame_reader_free(struct frame_reader *r);

/* Read what is available from fd into the reader, at most FRAME_FILL_MAX
 * bytes a call (a loop of N calls takes at most N times that). Returns
 * bytes read (> 0), 0 when the fd would block, -EPIPE on end of file,
 * -errno on error. */
#define FRAME_FILL_MAX (64u * 1024)
int frame_reader_fill(struct frame_reader *r, int fd);

/* Append bytes directly (tests, fuzzing). Returns 0 or -ENOBUFS. */
int frame_reader_feed(struct frame_reader *r, const void *data, size_t len);

/* Take the next complete frame. Returns 1 with *out filled, 0 when more
 * bytes are needed, -EBADMSG for a bad magic/type/flags, -EMSGSIZE for an
 * oversized length. After a negative return the stream is unusable. */
int frame_reader_next(struct frame_reader *r, struct frame *out);

/* True when the type is one this protocol defines. */
int frame_type_known(uint16_t type);
const char *frame_type_name(uint16_t type);

/* Encode a header into 16 bytes (little-endian). */
void frame_header_encode(uint8_t out[16], uint16_t type, uint16_t flags, uint32_t id, uint32_t length);

/* max_queued: bytes that may wait for the peer before -ENOBUFS. */
struct frame_writer *frame_writer_new(size_t max_queued);
void frame_writer_free(struct frame_writer *w);

/* Queue a frame. Returns 0, -EMSGSIZE for an oversized body, -ENOBUFS when
 * the queue is full (the peer is not reading). */
int frame_writer_queue(struct frame_writer *w, uint16_t type, uint32_t id, const void *body, size_t len);
/* Queue a JSON body (serialised compactly). */
int frame_writer_queue_json(struct frame_writer *w, uint16_t type, uint32_t id, struct json_object *obj);

/* Write as much as the fd takes. Returns 1 when the queue is empty, 0 when
 * data remains (wait for POLLOUT), -errno on error. */
int frame_writer_flush(struct frame_writer *w, int fd);
size_t frame_writer_pending(const struct frame_writer *w);

/* Blocking helpers for simple clients (CLI): write one frame fully; read one
 * frame fully into a malloc'd body (caller frees *body). */
int frame_write_blocking(int fd, uint16_t type, uint32_t id, const void *body, size_t len);
int frame_write_json_blocking(int fd, uint16_t type, uint32_t id, struct json_object *obj);
int frame_read_blocking(int fd, uint32_t max_body, struct frame *hdr, uint8_t **body);

/* Parse a frame body as a JSON object. Returns NULL when it is not one. */
struct json_object *frame_body_json(const struct frame *f);

#endif
