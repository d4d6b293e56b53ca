#include "frame.h"

#include <endian.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

#define HEADER_SIZE sizeof(struct capsid_frame_header)

struct frame_reader {
	uint8_t *buf;
	size_t len;      /* bytes held */
	size_t consumed; /* bytes of buf already handed out */
	size_t cap;
	uint32_t max_body;
	int broken;
};

struct frame_writer {
	uint8_t *buf;
	size_t len;
	size_t sent;
	size_t cap;
	size_t max_queued;
};

static const struct {
	uint16_t type;
	const char *name;
} frame_types[] = {
	{CAPSID_MSG_HELLO, "HELLO"},
	{CAPSID_MSG_RESPONSE, "RESPONSE"},
	{CAPSID_MSG_ERROR, "ERROR"},
	{CAPSID_MSG_STDOUT, "STDOUT"},
	{CAPSID_MSG_STDERR, "STDERR"},
	{CAPSID_MSG_EXIT, "EXIT"},
	{CAPSID_MSG_LOG, "LOG"},
	{CAPSID_MSG_PROBE, "PROBE"},
	{CAPSID_MSG_NEGOTIATE, "NEGOTIATE"},
	{CAPSID_MSG_CREATE, "CREATE"},
	{CAPSID_MSG_START, "START"},
	{CAPSID_MSG_EXEC, "EXEC"},
	{CAPSID_MSG_SIGNAL, "SIGNAL"},
	{CAPSID_MSG_DELETE, "DELETE"},
	{CAPSID_MSG_SHUTDOWN, "SHUTDOWN"},
	{CAPSID_MSG_RESIZE, "RESIZE"},
	{CAPSID_MSG_STATS, "STATS"},
	{CAPSID_MSG_NETWORK, "NETWORK"},
	{CAPSID_MSG_VOLUMES, "VOLUMES"},
	{CAPSID_MSG_IDENTITY, "IDENTITY"},
	{CAPSID_MSG_STDIN, "STDIN"},
	{CAPSID_MSG_STDIN_CLOSE, "STDIN_CLOSE"},
	{CAPSID_CTL_STATUS, "CTL_STATUS"},
	{CAPSID_CTL_STOP, "CTL_STOP"},
	{CAPSID_CTL_ATTACH, "CTL_ATTACH"},
	{CAPSID_CTL_EXEC, "CTL_EXEC"},
	{CAPSID_CTL_LOGLINE, "CTL_LOGLINE"},
	{CAPSID_CTL_GROUP_END, "CTL_GROUP_END"},
	{CAPSID_CTL_RESTART, "CTL_RESTART"},
	{CAPSID_CTL_START, "CTL_START"},
	{CAPSID_CTL_EXIT, "CTL_EXIT"},
	{CAPSID_CTL_EVENT, "CTL_EVENT"},
	{CAPSID_CTL_STATS, "CTL_STATS"},
	{CAPSID_CTL_POD_ADD, "CTL_POD_ADD"},
	{CAPSID_CTL_POD_REMOVE, "CTL_POD_REMOVE"},
	{CAPSID_CTL_POD_SIGNAL, "CTL_POD_SIGNAL"},
	{CAPSID_CTL_ATTACH_STDIN, "CTL_ATTACH_STDIN"},
};

int frame_type_known(uint16_t type)
{
	for (size_t i = 0; i < ARRAY_SIZE(frame_types); i++)
		if (frame_types[i].type == type)
			return 1;
	return 0;
}

const char *frame_type_name(uint16_t type)
{
	for (size_t i = 0; i < ARRAY_SIZE(frame_types); i++)
		if (frame_types[i].type == type)
			return frame_types[i].name;
	return "UNKNOWN";
}

void frame_header_encode(uint8_t out[16], uint16_t type, uint16_t flags, uint32_t id, uint32_t length)
{
	struct capsid_frame_header h = {
		.magic = htole32(CAPSID_PROTO_MAGIC),
		.type = htole16(type),
		.flags = htole16(flags),
		.id = htole32(id),
		.length = htole32(length),
	};
	memcpy(out, &h, sizeof(h));
}

struct frame_reader *frame_reader_new(uint32_t max_body)
{
	if (max_body > CAPSID_FRAME_MAX_BODY)
		max_body = CAPSID_FRAME_MAX_BODY;
	struct frame_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->max_body = max_body;
	r->cap = 64 * 1024;
	r->buf = malloc(r->cap);
	if (!r->buf) {
		free(r);
		return NULL;
	}
	return r;
}

void frame_reader_free(struct frame_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}

/* Drop handed-out bytes and make room for `want` more, never beyond one
 * maximal frame: the reader's memory is bounded by max_body + header. */
static int reader_make_room(struct frame_reader *r, size_t want)
{
	if (r->consumed > 0) {
		memmove(r->buf, r->buf + r->consumed, r->len - r->consumed);
		r->len -= r->consumed;
		r->consumed = 0;
	}
	size_t limit = (size_t)r->max_body + HEADER_SIZE;
	if (r->len + want <= r->cap)
		return 0;
	size_t need = r->len + want;
	if (need > limit)
		need = limit;
	if (need <= r->cap)
		return r->len < r->cap ? 0 : -ENOBUFS;
	uint8_t *nb = realloc(r->buf, need);
	if (!nb)
		return -ENOMEM;
	r->buf = nb;
	r->cap = need;
	return 0;
}

int frame_reader_feed(struct frame_reader *r, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		int rc = reader_make_room(r, len);
		if (rc < 0)
			return rc;
		size_t room = r->cap - r->len;
		if (room == 0)
			return -ENOBUFS;
		size_t n = len < room ? len : room;
		memcpy(r->buf + r->len, p, n);
		r->len += n;
		p += n;
		len -= n;
		if (len > 0) {
			/* Caller must drain frames before feeding more than one frame's worth. */
			struct frame f;
			int got = frame_reader_next(r, &f);
			if (got <= 0)
				return got < 0 ? got : -ENOBUFS;
		}
	}
	return 0;
}

int frame_reader_fill(struct frame_reader *r, int fd)
{
	int rc = reader_make_room(r, FRAME_FILL_MAX);
	if (rc < 0)
		return rc;
	size_t room = r->cap - r->len;
	if (room == 0)
		return -ENOBUFS;
	/* A caller's loop bounds its work per wake-up by counting calls. */
	if (room > FRAME_FILL_MAX)
		room = FRAME_FILL_MAX;
	for (;;) {
		ssize_t n = read(fd, r->buf + r->len, room);
		if (n > 0) {
			r->len += (size_t)n;
			return (int)n;
		}
		if (n == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -errno;
	}
}

int frame_reader_next(struct frame_reader *r, struct frame *out)
{
	if (r->broken)
		return r->broken;
	size_t avail = r->len - r->consumed;
	if (avail < HEADER_SIZE)
		return 0;
	struct capsid_frame_header h;
	memcpy(&h, r->buf + r->consumed, HEADER_SIZE);
	uint32_t magic = le32toh(h.magic);
	uint16_t type = le16toh(h.type);
	uint16_t flags = le16toh(h.flags);
	uint32_t length = le32toh(h.length);
	if (magic != CAPSID_PROTO_MAGIC || !frame_type_known(type) || (flags & ~CAPSID_FRAME_FLAGS_KNOWN))
		return r->broken = -EBADMSG;
	if (length > r->max_body)
		return r->broken = -EMSGSIZE;
	if (avail - HEADER_SIZE < length)
		return 0;
	out->type = type;
	out->flags = flags;
	out->id = le32toh(h.id);
	out->length = length;
	out->body = r->buf + r->consumed + HEADER_SIZE;
	r->consumed += HEADER_SIZE + length;
	return 1;
}

struct frame_writer *frame_writer_new(size_t max_queued)
{
	struct frame_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->max_queued = max_queued;
	return w;
}

void frame_writer_free(struct frame_writer *w)
{
	if (!w)
		return;
	free(w->buf);
	free(w);
}

size_t frame_writer_pending(const struct frame_writer *w)
{
	return w->len - w->sent;
}

int frame_writer_queue(struct frame_writer *w, uint16_t type, uint32_t id, const void *body, size_t len)
{
	if (len > CAPSID_FRAME_MAX_BODY)
		return -EMSGSIZE;
	if (w->sent > 0) {
		memmove(w->buf, w->buf + w->sent, w->len - w->sent);
		w->len -= w->sent;
		w->sent = 0;
	}
	size_t need = w->len + HEADER_SIZE + len;
	if (need > w->max_queued)
		return -ENOBUFS;
	if (need > w->cap) {
		size_t ncap = w->cap ? w->cap : 4096;
		while (ncap < need)
			ncap *= 2;
		uint8_t *nb = realloc(w->buf, ncap);
		if (!nb)
			return -ENOMEM;
		w->buf = nb;
		w->cap = ncap;
	}
	frame_header_encode(w->buf + w->len, type, 0, id, (uint32_t)len);
	if (len)
		memcpy(w->buf + w->len + HEADER_SIZE, body, len);
	w->len = need;
	return 0;
}

int frame_writer_queue_json(struct frame_writer *w, uint16_t type, uint32_t id, struct json_object *obj)
{
	size_t len = 0;
	const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);
	if (!s)
		return -ENOMEM;
	return frame_writer_queue(w, type, id, s, len);
}

int frame_writer_flush(struct frame_writer *w, int fd)
{
	while (w->sent < w->len) {
		ssize_t n = write(fd, w->buf + w->sent, w->len - w->sent);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		w->sent += (size_t)n;
	}
	w->len = w->sent = 0;
	return 1;
}

static int read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int frame_write_blocking(int fd, uint16_t type, uint32_t id, const void *body, size_t len)
{
	if (len > CAPSID_FRAME_MAX_BODY)
		return -EMSGSIZE;
	uint8_t hdr[HEADER_SIZE];
	frame_header_encode(hdr, type, 0, id, (uint32_t)len);
	int rc = util_write_all(fd, hdr, sizeof(hdr));
	if (rc < 0 || len == 0)
		return rc;
	return util_write_all(fd, body, len);
}

int frame_write_json_blocking(int fd, uint16_t type, uint32_t id, struct json_object *obj)
{
	size_t len = 0;
	const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);
	if (!s)
		return -ENOMEM;
	return frame_write_blocking(fd, type, id, s, len);
}

int frame_read_blocking(int fd, uint32_t max_body, struct frame *out, uint8_t **body)
{
	struct capsid_frame_header h;
	*body = NULL;
	int rc = read_all(fd, &h, sizeof(h));
	if (rc < 0)
		return rc;
	uint16_t type = le16toh(h.type);
	uint32_t length = le32toh(h.length);
	if (le32toh(h.magic) != CAPSID_PROTO_MAGIC || !frame_type_known(type) ||
	    (le16toh(h.flags) & ~CAPSID_FRAME_FLAGS_KNOWN))
		return -EBADMSG;
	if (length > max_body || length > CAPSID_FRAME_MAX_BODY)
		return -EMSGSIZE;
	_cleanup_free_ uint8_t *b = malloc((size_t)length + 1);
	if (!b)
		return -ENOMEM;
	rc = read_all(fd, b, length);
	if (rc < 0)
		return rc;
	b[length] = '\0';
	out->type = type;
	out->flags = le16toh(h.flags);
	out->id = le32toh(h.id);
	out->length = length;
	out->body = b;
	*body = TAKE_PTR(b);
	return 1;
}

struct json_object *frame_body_json(const struct frame *f)
{
	if (f->length == 0)
		return json_object_new_object();
	struct json_tokener *tok = json_tokener_new_ex(32);
	if (!tok)
		return NULL;
	struct json_object *obj = json_tokener_parse_ex(tok, (const char *)f->body, (int)f->length);
	int complete = json_tokener_get_error(tok) == json_tokener_success &&
		       json_tokener_get_parse_end(tok) == f->length;
	json_tokener_free(tok);
	if (!obj || !complete || !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}
