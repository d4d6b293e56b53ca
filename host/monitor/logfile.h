/* Container logs in the CRI log format that containerd and the kubelet use:
 * one line per record, "<RFC3339Nano> <stdout|stderr> <F|P> <content>\n".
 * A record is a whole line (F) or, for lines longer than LOG_MAX_LINE or an
 * unterminated tail at exit, a partial piece (P ... F). Every record is
 * written with one write(2) as it arrives, so a killed monitor loses nothing
 * that reached it. */
#ifndef CAPSID_LOGFILE_H
#define CAPSID_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_MAX_LINE (16 * 1024)

enum log_stream {
	LOG_STDOUT = 0,
	LOG_STDERR = 1,
};

struct log_record {
	const char *time;   /* RFC 3339, NUL-terminated */
	enum log_stream stream;
	bool partial;       /* P: the line continues in the next record */
	const char *content; /* without the newline */
	size_t len;
};

typedef void (*log_record_cb)(const struct log_record *rec, void *userdata);

struct log_writer;

int log_writer_open(const char *path, struct log_writer **out);
void log_writer_close(struct log_writer *w);
/* Cap the file: before a record would take it past max_bytes it becomes
 * path.1 (path.1 path.2, ... up to path.<max_files - 1>, the oldest
 * dropped) and a new file starts. 0 bytes: no cap (the default). */
void log_writer_set_limits(struct log_writer *w, uint64_t max_bytes, unsigned max_files);
/* Split data into records, write them, and call cb (may be NULL) for each. */
int log_writer_append(struct log_writer *w, enum log_stream stream, const uint8_t *data, size_t len,
		      log_record_cb cb, void *userdata);
/* Write any unterminated tail as a final record (at process exit). */
int log_writer_flush(struct log_writer *w, log_record_cb cb, void *userdata);
/* Write any unterminated tail now as a partial (P) record: a terminal's
 * prompt, shown before its line ends. */
int log_writer_flush_partial(struct log_writer *w, log_record_cb cb, void *userdata);

/* Parse one line of a log file (without its newline). Returns 0 or -EINVAL. */
int log_parse_line(char *line, size_t len, struct log_record *rec);

/* Read a log file and call cb for its records; with tail >= 0 only the last
 * `tail` records. A missing file has no records. */
int log_read_file(const char *path, long tail, log_record_cb cb, void *userdata);

/* The records of several log files (a group's containers) merged by time,
 * ties in the order given; with tail >= 0 only the last `tail` of the
 * merge. cb gets the index of the file. Returns 0 or -ENOMEM. */
typedef void (*log_merged_cb)(size_t file, const struct log_record *rec, void *userdata);
int log_read_merged(const char *const *paths, size_t n, long tail, log_merged_cb cb, void *userdata);

#endif
