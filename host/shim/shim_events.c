/* Events to containerd the way runc's shim can send them: the event as a
 * protobuf Any on the standard input of `containerd --address A publish
 * --topic T --namespace N` (the binary containerd names in
 * -publish-binary). */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "google/protobuf/any.pb-c.h"
#include "shim.h"
#include "util.h"

extern char **environ;

void shim_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	util_vlog_stderr("containerd-shim-capsid-v2", fmt, ap);
	va_end(ap);
}

void shim_publish(struct shim *s, const char *topic, const char *type, const void *msg)
{
	const ProtobufCMessage *m = msg;
	size_t n = protobuf_c_message_get_packed_size(m);
	_cleanup_free_ uint8_t *value = malloc(n ? n : 1);
	if (!value)
		return;
	protobuf_c_message_pack(m, value);
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	any.type_url = (char *)type;
	any.value.data = value;
	any.value.len = n;
	size_t an = google__protobuf__any__get_packed_size(&any);
	_cleanup_free_ uint8_t *buf = malloc(an ? an : 1);
	if (!buf)
		return;
	google__protobuf__any__pack(&any, buf);

	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	char *argv[] = {(char *)s->o.publish_binary, (char *)"--address", (char *)s->o.address,
			(char *)"publish",	     (char *)"--topic",	  (char *)topic,
			(char *)"--namespace",	     (char *)s->o.ns,	  NULL};
	pid_t pid;
	int r = posix_spawnp(&pid, s->o.publish_binary, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);
	if (r != 0) {
		close(p[1]);
		shim_log("publish %s: start %s: %s", topic, s->o.publish_binary, strerror(r));
		return;
	}
	if (util_write_all(p[1], buf, an) < 0)
		shim_log("publish %s: write the event: %s", topic, strerror(errno));
	close(p[1]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		shim_log("publish %s: %s failed (status %d)", topic, s->o.publish_binary, st);
}
