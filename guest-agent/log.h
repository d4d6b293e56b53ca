/* Agent diagnostics: every line goes to the kernel log (/dev/kmsg), to the
 * console when one exists, and, once the host channel is open, to the host
 * as a LOG frame. Logging never fails the caller. */
#ifndef AGENT_LOG_H
#define AGENT_LOG_H

struct agent;

enum agent_log_level {
	AGENT_LOG_ERROR,
	AGENT_LOG_WARN,
	AGENT_LOG_INFO,
	AGENT_LOG_DEBUG,
};

void log_write(struct agent *a, enum agent_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(a, ...) log_write((a), AGENT_LOG_ERROR, __VA_ARGS__)
#define log_warn(a, ...)  log_write((a), AGENT_LOG_WARN, __VA_ARGS__)
#define log_info(a, ...)  log_write((a), AGENT_LOG_INFO, __VA_ARGS__)
#define log_debug(a, ...) log_write((a), AGENT_LOG_DEBUG, __VA_ARGS__)

#endif
