/* ttrpc, containerd's lightweight RPC over a unix socket: the framing and
 * the envelope of calls (no containerd types here).
 *
 * Every message is a 10-byte header, big-endian: payload length (uint32),
 * stream id (uint32), type (uint8: 1 request, 2 response, 3 data), flags
 * (uint8), then the payload. A request's payload is a protobuf Request
 * (service, method, payload, timeout, metadata); the response on the same
 * stream is a Response (a google.rpc.Status and the method's payload).
 * Clients open odd stream ids. Payloads over TTRPC_MAX_MESSAGE are refused,
 * as ttrpc does (4 MiB). Everything read from the socket is hostile: every
 * length is checked before use, and a bad frame is an error, never a crash. */
#ifndef CAPSID_TTRPC_H
#define CAPSID_TTRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define TTRPC_HEADER_SIZE 10
#define TTRPC_MAX_MESSAGE (4u << 20)
/* Longest service or method name the server looks up. */
#define TTRPC_MAX_NAME 256

enum ttrpc_type {
	TTRPC_TYPE_REQUEST = 1,
	TTRPC_TYPE_RESPONSE = 2,
	TTRPC_TYPE_DATA = 3,
};

/* gRPC status codes ttrpc carries. */
enum ttrpc_code {
	TTRPC_OK = 0,
	TTRPC_CANCELLED = 1,
	TTRPC_UNKNOWN = 2,
	TTRPC_INVALID_ARGUMENT = 3,
	TTRPC_DEADLINE_EXCEEDED = 4,
	TTRPC_NOT_FOUND = 5,
	TTRPC_ALREADY_EXISTS = 6,
	TTRPC_PERMISSION_DENIED = 7,
	TTRPC_RESOURCE_EXHAUSTED = 8,
	TTRPC_FAILED_PRECONDITION = 9,
	TTRPC_UNIMPLEMENTED = 12,
	TTRPC_INTERNAL = 13,
	TTRPC_UNAVAILABLE = 14,
};

struct ttrpc_header {
	uint32_t length;
	uint32_t stream_id;
	uint8_t type;
	uint8_t flags;
};

void ttrpc_header_encode(const struct ttrpc_header *h, uint8_t out[TTRPC_HEADER_SIZE]);
void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_SIZE], struct ttrpc_header *h);

/* Reads one message. Returns 1 with *h and *payload (caller frees; NULL when
 * empty), 0 on a clean end of stream before a header, -errno otherwise:
 * -EPROTO for a stream that ends inside a message (truncated), -EMSGSIZE
 * for a length over max (h is filled: the caller may answer that stream;
 * the payload is not read, so the connection cannot go on). */
int ttrpc_read_message(int fd, size_t max, struct ttrpc_header *h, uint8_t **payload,
		       struct capsid_error *err);
/* Writes header and payload (h->length is set from len). */
int ttrpc_write_message(int fd, uint32_t stream_id, uint8_t type, const void *payload, size_t len);

/* A decoded request envelope; the strings and payload point into req. */
struct ttrpc_call {
	const char *service, *method;
	const uint8_t *payload;
	size_t payload_len;
	int64_t timeout_nano;
	void *req; /* the protobuf-c message, freed by ttrpc_call_clear */
};
/* Decodes a Request payload: -EBADMSG with words for garbage, -EINVAL for a
 * service or method name that is empty or longer than TTRPC_MAX_NAME. */
int ttrpc_call_decode(const uint8_t *buf, size_t len, struct ttrpc_call *call, struct capsid_error *err);
void ttrpc_call_clear(struct ttrpc_call *call);
/* Encodes a Request (for clients and tests). */
int ttrpc_call_encode(const char *service, const char *method, const void *payload, size_t len, uint8_t **out,
		      size_t *out_len);

/* Encodes a Response: code and message (NULL when OK) and the payload. */
int ttrpc_response_encode(enum ttrpc_code code, const char *message, const void *payload, size_t len,
			  uint8_t **out, size_t *out_len);
/* Decodes a Response: *code, *message (caller frees; NULL when none) and the
 * payload copied out (caller frees). */
int ttrpc_response_decode(const uint8_t *buf, size_t len, enum ttrpc_code *code, char **message,
			  uint8_t **payload, size_t *payload_len, struct capsid_error *err);

/* The status code for a -errno a handler returned. */
enum ttrpc_code ttrpc_code_from_errno(int neg_errno);

/* ---- ttrpc_server.c: serving one connection ---- */

/* A method's handler: decodes req, fills *resp (malloc'd, may stay NULL for
 * an empty message). Returns 0 or -errno with words in err, which become the
 * response's status. Handlers run on threads of their own: a call that
 * blocks (Wait) does not hold up the others. */
typedef int (*ttrpc_handler_fn)(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
				size_t *resp_len, struct capsid_error *err);

struct ttrpc_method {
	const char *service; /* "containerd.task.v2.Task" */
	const char *method;  /* "Create" */
	ttrpc_handler_fn fn;
};

/* Serves requests on fd until the peer closes it or sends a frame that ends
 * the connection (truncated, oversized, not a request, an even stream id);
 * waits for the calls in flight, then returns 0 for a clean close or
 * -errno with words. Unknown services and methods, and undecodable
 * envelopes, are answered with an error status and the connection goes on.
 * fd stays the caller's. */
int ttrpc_serve_conn(int fd, const struct ttrpc_method *methods, size_t n_methods, void *ctx,
		     struct capsid_error *err);

#endif
