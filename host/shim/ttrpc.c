/* ttrpc's framing and envelope: see ttrpc.h. */
#include "ttrpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cleanup.h"
#include "ttrpc.pb-c.h"

void ttrpc_header_encode(const struct ttrpc_header *h, uint8_t out[TTRPC_HEADER_SIZE])
{
	out[0] = (uint8_t)(h->length >> 24);
	out[1] = (uint8_t)(h->length >> 16);
	out[2] = (uint8_t)(h->length >> 8);
	out[3] = (uint8_t)h->length;
	out[4] = (uint8_t)(h->stream_id >> 24);
	out[5] = (uint8_t)(h->stream_id >> 16);
	out[6] = (uint8_t)(h->stream_id >> 8);
	out[7] = (uint8_t)h->stream_id;
	out[8] = h->type;
	out[9] = h->flags;
}

void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_SIZE], struct ttrpc_header *h)
{
	h->length = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
	h->stream_id = (uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 | (uint32_t)in[6] << 8 | in[7];
	h->type = in[8];
	h->flags = in[9];
}

/* Reads exactly len bytes: 1 done, 0 end of stream before any byte,
 * -EPROTO end of stream after some, -errno. */
static int read_exact(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return got ? -EPROTO : 0;
		got += (size_t)r;
	}
	return 1;
}

int ttrpc_read_message(int fd, size_t max, struct ttrpc_header *h, uint8_t **payload,
		       struct capsid_error *err)
{
	uint8_t hdr[TTRPC_HEADER_SIZE];
	*payload = NULL;
	int r = read_exact(fd, hdr, sizeof(hdr));
	if (r == 0)
		return 0;
	if (r == -EPROTO)
		return capsid_error_set(err, EPROTO, "ttrpc: connection closed inside a message header");
	if (r < 0)
		return capsid_error_errno(err, -r, "ttrpc: read header");
	ttrpc_header_decode(hdr, h);
	if (max > TTRPC_MAX_MESSAGE)
		max = TTRPC_MAX_MESSAGE;
	if (h->length > max)
		return capsid_error_set(err, EMSGSIZE, "ttrpc: message length %u exceeds the maximum of %zu",
					h->length, max);
	if (h->length == 0)
		return 1;
	_cleanup_free_ uint8_t *buf = malloc(h->length);
	if (!buf)
		return capsid_error_set(err, ENOMEM, "ttrpc: out of memory");
	r = read_exact(fd, buf, h->length);
	if (r == 0 || r == -EPROTO)
		return capsid_error_set(
		    err, EPROTO, "ttrpc: connection closed inside a message (%u bytes announced)", h->length);
	if (r < 0)
		return capsid_error_errno(err, -r, "ttrpc: read message");
	*payload = TAKE_PTR(buf);
	return 1;
}

int ttrpc_write_message(int fd, uint32_t stream_id, uint8_t type, const void *payload, size_t len)
{
	if (len > TTRPC_MAX_MESSAGE)
		return -EMSGSIZE;
	struct ttrpc_header h = {.length = (uint32_t)len, .stream_id = stream_id, .type = type};
	uint8_t hdr[TTRPC_HEADER_SIZE];
	ttrpc_header_encode(&h, hdr);
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)payload, len}};
	int n = len ? 2 : 1;
	size_t left = sizeof(hdr) + len;
	struct iovec *v = iov;
	while (left) {
		ssize_t w = writev(fd, v, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		left -= (size_t)w;
		while (n && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n) {
			v->iov_base = (uint8_t *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static bool name_ok(const char *s)
{
	size_t n = s ? strnlen(s, TTRPC_MAX_NAME + 1) : 0;
	return n > 0 && n <= TTRPC_MAX_NAME;
}

int ttrpc_call_decode(const uint8_t *buf, size_t len, struct ttrpc_call *call, struct capsid_error *err)
{
	memset(call, 0, sizeof(*call));
	Capsid__Ttrpc__Request *req = capsid__ttrpc__request__unpack(NULL, len, buf);
	if (!req)
		return capsid_error_set(
		    err, EBADMSG, "ttrpc: the request envelope (%zu bytes) is not a valid Request", len);
	if (!name_ok(req->service) || !name_ok(req->method)) {
		capsid__ttrpc__request__free_unpacked(req, NULL);
		return capsid_error_set(
		    err, EINVAL, "ttrpc: the request's service or method name is empty or over %d bytes",
		    TTRPC_MAX_NAME);
	}
	call->service = req->service;
	call->method = req->method;
	call->payload = req->payload.data;
	call->payload_len = req->payload.len;
	call->timeout_nano = req->timeout_nano;
	call->req = req;
	return 0;
}

void ttrpc_call_clear(struct ttrpc_call *call)
{
	if (call->req)
		capsid__ttrpc__request__free_unpacked(call->req, NULL);
	memset(call, 0, sizeof(*call));
}

static int pack_out(const ProtobufCMessage *m, uint8_t **out, size_t *out_len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return -ENOMEM;
	*out_len = protobuf_c_message_pack(m, buf);
	*out = buf;
	return 0;
}

int ttrpc_call_encode(const char *service, const char *method, const void *payload, size_t len, uint8_t **out,
		      size_t *out_len)
{
	Capsid__Ttrpc__Request req = CAPSID__TTRPC__REQUEST__INIT;
	req.service = (char *)service;
	req.method = (char *)method;
	req.payload.data = (uint8_t *)payload;
	req.payload.len = len;
	return pack_out(&req.base, out, out_len);
}

int ttrpc_response_encode(enum ttrpc_code code, const char *message, const void *payload, size_t len,
			  uint8_t **out, size_t *out_len)
{
	Capsid__Ttrpc__Response resp = CAPSID__TTRPC__RESPONSE__INIT;
	Capsid__Ttrpc__Status st = CAPSID__TTRPC__STATUS__INIT;
	st.code = (int32_t)code;
	st.message = (char *)(message ? message : "");
	resp.status = &st;
	resp.payload.data = (uint8_t *)payload;
	resp.payload.len = payload ? len : 0;
	return pack_out(&resp.base, out, out_len);
}

int ttrpc_response_decode(const uint8_t *buf, size_t len, enum ttrpc_code *code, char **message,
			  uint8_t **payload, size_t *payload_len, struct capsid_error *err)
{
	Capsid__Ttrpc__Response *resp = capsid__ttrpc__response__unpack(NULL, len, buf);
	if (!resp)
		return capsid_error_set(err, EBADMSG, "ttrpc: the response envelope is not a valid Response");
	*code = resp->status ? (enum ttrpc_code)resp->status->code : TTRPC_OK;
	*message = NULL;
	*payload = NULL;
	*payload_len = 0;
	int r = 0;
	if (resp->status && resp->status->message && resp->status->message[0] &&
	    !(*message = strdup(resp->status->message)))
		r = -ENOMEM;
	if (!r && resp->payload.len) {
		*payload = malloc(resp->payload.len);
		if (*payload) {
			memcpy(*payload, resp->payload.data, resp->payload.len);
			*payload_len = resp->payload.len;
		} else {
			r = -ENOMEM;
		}
	}
	capsid__ttrpc__response__free_unpacked(resp, NULL);
	if (r) {
		free(*message);
		*message = NULL;
		return capsid_error_set(err, ENOMEM, "ttrpc: out of memory");
	}
	return 0;
}

enum ttrpc_code ttrpc_code_from_errno(int neg_errno)
{
	switch (-neg_errno) {
	case 0:
		return TTRPC_OK;
	case ENOENT:
	case ESRCH:
		return TTRPC_NOT_FOUND;
	case EEXIST:
		return TTRPC_ALREADY_EXISTS;
	case EINVAL:
	case EBADMSG:
		return TTRPC_INVALID_ARGUMENT;
	case ENOTSUP:
	case ENOSYS:
		return TTRPC_UNIMPLEMENTED;
	case EBUSY:
	case EALREADY:
		return TTRPC_FAILED_PRECONDITION;
	case EPERM:
	case EACCES:
		return TTRPC_PERMISSION_DENIED;
	case EMSGSIZE:
	case ENOSPC:
		return TTRPC_RESOURCE_EXHAUSTED;
	case ETIMEDOUT:
		return TTRPC_DEADLINE_EXCEEDED;
	case ECANCELED:
		return TTRPC_CANCELLED;
	default:
		return TTRPC_UNKNOWN;
	}
}
