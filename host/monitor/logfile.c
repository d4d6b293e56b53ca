#include "logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

struct log_writer {
	int fd;
	char *path;
	uint64_t size;      /* of the current file */
	uint64_t max_bytes; /* rotate before a record would pass it; 0 = never */
	unsigned max_files; /* the current file and max_files - 1 rotated ones */
	/* unterminated tail of each stream, waiting for its newline */
	char pending[2][LOG_MAX_LINE];
	size_t pending_len[2];
};

static const char *const stream_names[] = {"stdout", "stderr"};

int log_writer_open(const char *path, struct log_writer **out)
{
	struct log_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->path = strdup(path);
	w->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (w->fd < 0 || !w->path) {
		int rc = w->path ? -errno : -ENOMEM;
		if (w->fd >= 0)
			close(w->fd);
		free(w->path);
		free(w);
		return rc;
	}
	struct stat st;
	if (fstat(w->fd, &st) == 0)
		w->size = (uint64_t)st.st_size;
	*out = w;
	return 0;
}

void log_writer_set_limits(struct log_writer *w, uint64_t max_bytes, unsigned max_files)
{
	w->max_bytes = max_bytes;
	w->max_files = max_files < 1 ? 1 : max_files;
}

void log_writer_close(struct log_writer *w)
{
	if (!w)
		return;
	close(w->fd);
	free(w->path);
	free(w);
}

/* path.N-1 -> path.N down to path -> path.1, the oldest dropped, then a
 * new current file: the newest output is always kept. One file only
 * (max_files 1): the current one starts over. */
static int rotate(struct log_writer *w)
{
	size_t len = strlen(w->path) + 16;
	_cleanup_free_ char *from = malloc(len), *to = malloc(len);
	if (!from || !to)
		return -ENOMEM;
	if (w->max_files > 1) {
		snprintf(to, len, "%s.%u", w->path, w->max_files - 1);
		unlink(to);
		for (unsigned k = w->max_files - 1; k >= 1; k--) {
			if (k == 1)
				snprintf(from, len, "%s", w->path);
			else
				snprintf(from, len, "%s.%u", w->path, k - 1);
			snprintf(to, len, "%s.%u", w->path, k);
			rename(from, to);
		}
	} else {
		unlink(w->path);
	}
	int fd = open(w->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	close(w->fd);
	w->fd = fd;
	w->size = 0;
	return 0;
}

static int emit(struct log_writer *w, enum log_stream s, bool partial, const char *content, size_t len,
		log_record_cb cb, void *ud)
{
	char now[40];
	util_now_rfc3339(now);
	size_t head = strlen(now) + 1 + strlen(stream_names[s]) + 3;
	_cleanup_free_ char *rec = malloc(head + len + 1);
	if (!rec)
		return -ENOMEM;
	snprintf(rec, head + 1, "%s %s %c ", now, stream_names[s], partial ? 'P' : 'F');
	memcpy(rec + head, content, len);
	rec[head + len] = '\n';
	if (w->max_bytes && w->size > 0 && w->size + head + len + 1 > w->max_bytes) {
		int r = rotate(w);
		if (r < 0)
			return r;
	}
	int rc = util_write_all(w->fd, rec, head + len + 1);
	if (rc == 0)
		w->size += head + len + 1;
	if (cb) {
		struct log_record r = {.time = now, .stream = s, .partial = partial, .content = content, .len = len};
		cb(&r, ud);
	}
	return rc;
}

int log_writer_append(struct log_writer *w, enum log_stream s, const uint8_t *data, size_t len, log_record_cb cb,
		      void *ud)
{
	int rc = 0;
	while (len > 0) {
		const uint8_t *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		size_t room = LOG_MAX_LINE - w->pending_len[s];
		if (take > room)
			take = room;
		memcpy(w->pending[s] + w->pending_len[s], data, take);
		w->pending_len[s] += take;
		data += take;
		len -= take;
		if (nl && data == nl) {
			/* complete line: consume the newline */
			data++;
			len--;
			rc = emit(w, s, false, w->pending[s], w->pending_len[s], cb, ud);
			w->pending_len[s] = 0;
		} else if (w->pending_len[s] == LOG_MAX_LINE) {
			rc = emit(w, s, true, w->pending[s], w->pending_len[s], cb, ud);
			w->pending_len[s] = 0;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int flush_pending(struct log_writer *w, bool partial, log_record_cb cb, void *ud)
{
	for (int s = LOG_STDOUT; s <= LOG_STDERR; s++) {
		if (w->pending_len[s] == 0)
			continue;
		int rc = emit(w, (enum log_stream)s, partial, w->pending[s], w->pending_len[s], cb, ud);
		w->pending_len[s] = 0;
		if (rc < 0)
			return rc;
	}
	return 0;
}

int log_writer_flush(struct log_writer *w, log_record_cb cb, void *ud)
{
	return flush_pending(w, false, cb, ud);
}

int log_writer_flush_partial(struct log_writer *w, log_record_cb cb, void *ud)
{
	return flush_pending(w, true, cb, ud);
}

int log_parse_line(char *line, size_t len, struct log_record *rec)
{
	char *sp1 = memchr(line, ' ', len);
	if (!sp1)
		return -EINVAL;
	*sp1 = '\0';
	char *rest = sp1 + 1;
	size_t rest_len = len - (size_t)(rest - line);
	if (rest_len >= 8 && memcmp(rest, "stdout ", 7) == 0)
		rec->stream = LOG_STDOUT;
	else if (rest_len >= 8 && memcmp(rest, "stderr ", 7) == 0)
		rec->stream = LOG_STDERR;
	else
		return -EINVAL;
	if ((rest[7] != 'F' && rest[7] != 'P') || (rest_len > 8 && rest[8] != ' '))
		return -EINVAL;
	rec->partial = rest[7] == 'P';
	rec->time = line;
	rec->content = rest_len > 9 ? rest + 9 : rest + rest_len;
	rec->len = rest_len > 9 ? rest_len - 9 : 0;
	return 0;
}

int log_read_file(const char *path, long tail, log_record_cb cb, void *ud)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	long skip = 0;
	if (tail >= 0) {
		long total = 0;
		int ch, last = '\n';
		while ((ch = getc(f)) != EOF) {
			if (ch == '\n')
				total++;
			last = ch;
		}
		if (last != '\n')
			total++;
		skip = total > tail ? total - tail : 0;
		rewind(f);
	}
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) >= 0) {
		if (skip > 0) {
			skip--;
			continue;
		}
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		struct log_record rec;
		if (log_parse_line(line, (size_t)n, &rec) == 0)
			cb(&rec, ud);
	}
	return 0;
}

struct merged_record {
	char *time;
	size_t file;
	enum log_stream stream;
	bool partial;
	char *content;
	size_t len;
};

struct merge {
	struct merged_record *items;
	size_t n, cap;
	size_t file;
	bool failed;
};

static void merge_collect(const struct log_record *rec, void *ud)
{
	struct merge *m = ud;
	if (m->failed)
		return;
	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 256;
		struct merged_record *ni = realloc(m->items, ncap * sizeof(*ni));
		if (!ni) {
			m->failed = true;
			return;
		}
		m->items = ni;
		m->cap = ncap;
	}
	struct merged_record *x = &m->items[m->n];
	x->time = strdup(rec->time);
	x->content = malloc(rec->len + 1);
	if (!x->time || !x->content) {
		free(x->time);
		free(x->content);
		m->failed = true;
		return;
	}
	memcpy(x->content, rec->content, rec->len);
	x->content[rec->len] = '\0';
	x->len = rec->len;
	x->file = m->file;
	x->stream = rec->stream;
	x->partial = rec->partial;
	m->n++;
}

static int merge_cmp(const void *a, const void *b)
{
	const struct merged_record *x = a, *y = b;
	int c = strcmp(x->time, y->time);
	if (c)
		return c;
	return x->file < y->file ? -1 : x->file > y->file;
}

int log_read_merged(const char *const *paths, size_t n, long tail, log_merged_cb cb, void *ud)
{
	struct merge m = {0};
	for (size_t i = 0; i < n && !m.failed; i++) {
		m.file = i;
		/* Each file's own last `tail` records hold the merge's last `tail`. */
		log_read_file(paths[i], tail, merge_collect, &m);
	}
	if (m.n)
		qsort(m.items, m.n, sizeof(*m.items), merge_cmp);
	size_t first = tail >= 0 && m.n > (size_t)tail ? m.n - (size_t)tail : 0;
	for (size_t i = 0; i < m.n; i++) {
		struct merged_record *x = &m.items[i];
		if (i >= first && !m.failed) {
			struct log_record rec = {
				.time = x->time, .stream = x->stream, .partial = x->partial, .content = x->content, .len = x->len};
			cb(x->file, &rec, ud);
		}
		free(x->time);
		free(x->content);
	}
	free(m.items);
	return m.failed ? -ENOMEM : 0;
}
