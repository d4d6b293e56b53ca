/* A minimal QMP client: enough to ask QEMU to quit or query its state. */
#ifndef CAPSID_QMP_H
#define CAPSID_QMP_H

struct json_object;

/* Connect, read the greeting, negotiate capabilities. Returns fd or -errno. */
int qmp_connect(const char *socket_path, unsigned timeout_ms);
/* Run one command; *reply gets the "return" object (caller puts it) or NULL.
 * Returns 0, -EREMOTEIO when QEMU answered with an error, -errno otherwise. */
int qmp_execute(int fd, const char *command, struct json_object *args, struct json_object **reply,
		unsigned timeout_ms);
/* The same with pass_fd (>= 0) sent along (SCM_RIGHTS): getfd, add-fd. */
int qmp_execute_fd(int fd, const char *command, struct json_object *args, int pass_fd, struct json_object **reply,
		   unsigned timeout_ms);
/* Convenience: connect and send "quit". */
int qmp_quit(const char *socket_path, unsigned timeout_ms);

#endif
