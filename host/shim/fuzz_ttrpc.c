/* libFuzzer target for what a shim reads from its socket: the ttrpc frame
 * reader over a stream of bytes, the request envelope of each frame, and
 * the task service's messages in the payload (protobuf-c's decoders of
 * containerd's types). No crash, no leak, no sanitizer report. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "github.com/containerd/containerd/runtime/v2/task/shim.pb-c.h"
#include "ttrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	if (size > (1u << 16) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	if (write(sv[0], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	close(sv[0]);
	for (;;) {
		struct ttrpc_header h;
		uint8_t *msg = NULL;
		struct capsid_error err = {0};
		if (ttrpc_read_message(sv[1], TTRPC_MAX_MESSAGE, &h, &msg, &err) <= 0)
			break;
		struct ttrpc_call call;
		if (ttrpc_call_decode(msg, h.length, &call, &err) == 0) {
			Containerd__Task__V2__CreateTaskRequest *c =
			    containerd__task__v2__create_task_request__unpack(NULL, call.payload_len,
									      call.payload);
			if (c)
				containerd__task__v2__create_task_request__free_unpacked(c, NULL);
			Containerd__Task__V2__ExecProcessRequest *e =
			    containerd__task__v2__exec_process_request__unpack(NULL, call.payload_len,
									       call.payload);
			if (e)
				containerd__task__v2__exec_process_request__free_unpacked(e, NULL);
			ttrpc_call_clear(&call);
		}
		enum ttrpc_code code;
		char *m = NULL;
		uint8_t *p = NULL;
		size_t pn;
		if (ttrpc_response_decode(msg, h.length, &code, &m, &p, &pn, &err) == 0) {
			free(m);
			free(p);
		}
		free(msg);
	}
	close(sv[1]);
	return 0;
}
