#include "log.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "channel.h"
#include "proto.h"

static const char *const level_names[] = {"error", "warn", "info", "debug"};
/* printk levels: KERN_ERR, KERN_WARNING, KERN_INFO, KERN_DEBUG */
static const int kmsg_levels[] = {3, 4, 6, 7};

void log_write(struct agent *a, enum agent_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((unsigned)level > AGENT_LOG_DEBUG)
		level = AGENT_LOG_DEBUG;

	char line[1100];
	if (a && a->kmsg_fd >= 0) {
		int n = snprintf(line, sizeof(line), "<%d>capsid-agent: %s\n", kmsg_levels[level], msg);
		if (n > 0 &&
		    write(a->kmsg_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0) {
			/* nothing else to tell */
		}
	}
	/* The console is slow (a UART under TCG): only what matters goes there. */
	int console = a ? a->console_fd : STDERR_FILENO;
	if (console >= 0 && level <= AGENT_LOG_INFO) {
		int n = snprintf(line, sizeof(line), "capsid-agent: %s: %s\n", level_names[level], msg);
		if (n > 0 &&
		    write(console, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0) {
			/* nothing else to tell */
		}
	}
	if (a && a->ch && level <= AGENT_LOG_INFO) {
		struct json_object *o = json_object_new_object();
		if (!o)
			return;
		json_object_object_add(o, "level", json_object_new_string(level_names[level]));
		json_object_object_add(o, "message", json_object_new_string(msg));
		channel_send_json(a->ch, CAPSID_MSG_LOG, 0, o);
		json_object_put(o);
	}
}
