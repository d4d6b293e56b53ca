/* The host <-> agent wire protocol, shared by both sides (and reused for the
 * CLI <-> monitor control socket).
 *
 * A frame is a fixed 16-byte little-endian header followed by `length` body
 * bytes. Control frames carry a JSON object; data frames (STDIN, STDOUT,
 * STDERR) carry raw bytes for the stream named by `id`.
 *
 * Requests (host -> agent) carry a host-chosen non-zero `id`; the agent
 * answers each with exactly one RESPONSE or ERROR frame with the same id.
 * Streams (a container's main process or an exec) are named by a host-chosen
 * stream id carried in the request body ("stream") and then in the `id` of
 * every data/EXIT frame of that stream.
 *
 * Versioning: the agent sends HELLO {"min":1,"max":N} as soon as its port is
 * open; the host replies with NEGOTIATE {"version":V} (a request) choosing
 * the highest version both support. Nothing else is accepted before that.
 */
#ifndef CAPSID_PROTO_H
#define CAPSID_PROTO_H

#include <assert.h>
#include <stdint.h>

#define CAPSID_PROTO_MAGIC 0x44535043u /* "CPSD" little-endian */
#define CAPSID_PROTO_VERSION_MIN 1
#define CAPSID_PROTO_VERSION_MAX 2 /* 2: PROBE frames, CREATE's "probes" */

/* Largest body either side accepts. Data is chunked well below this. */
#define CAPSID_FRAME_MAX_BODY (1u << 20)
/* Chunk size for stdio data frames. */
#define CAPSID_FRAME_DATA_CHUNK (32u * 1024u)

/* Name of the virtio-serial port (guest: /dev/virtio-ports/<name>). */
#define CAPSID_AGENT_PORT_NAME "org.capsid.agent"

enum capsid_frame_type {
	/* agent -> host */
	CAPSID_MSG_HELLO = 1,     /* JSON {"min","max","agent","kernel"} */
	CAPSID_MSG_RESPONSE = 2,  /* JSON result of request `id` */
	CAPSID_MSG_ERROR = 3,     /* JSON {"error": "..."} for request `id` */
	CAPSID_MSG_STDOUT = 4,    /* raw bytes of stream `id` */
	CAPSID_MSG_STDERR = 5,    /* raw bytes of stream `id` */
	CAPSID_MSG_EXIT = 6,      /* JSON {"exitCode","signal"} of stream `id`; last frame of it */
	CAPSID_MSG_LOG = 7,       /* JSON {"level","message"} agent diagnostics */
	CAPSID_MSG_PROBE = 8,     /* version 2: JSON {"container","probe","event","message"?} (guest-agent/probe.h) */

	/* host -> agent requests (JSON body, answered by RESPONSE/ERROR) */
	CAPSID_MSG_NEGOTIATE = 16, /* {"version"} */
	CAPSID_MSG_CREATE = 17,    /* create a container, see agent docs */
	CAPSID_MSG_START = 18,     /* {"container"} */
	CAPSID_MSG_EXEC = 19,      /* {"container","stream","args","env","cwd","tty","rows","cols"} */
	CAPSID_MSG_SIGNAL = 20,    /* {"stream","signal"} */
	CAPSID_MSG_DELETE = 21,    /* {"container"}: remove bundle and rootfs */
	CAPSID_MSG_SHUTDOWN = 22,  /* {}: stop everything, power off */
	CAPSID_MSG_RESIZE = 23,    /* {"stream","rows","cols"} */
	CAPSID_MSG_STATS = 24,     /* {} -> {"containers":{name:{...}}} */
	CAPSID_MSG_NETWORK = 25,   /* {"interfaces":[..],"dns":{..},"hosts":[..]}: configure the guest's network */
	CAPSID_MSG_VOLUMES = 26,   /* {"volumes":[..]}: the group's volumes, mounted on first use (volume.h) */
	CAPSID_MSG_IDENTITY = 27,  /* {"timeNs","entropy":base64,"hostname"}: fresh identity of a restored guest */

	/* host -> agent data (no response) */
	CAPSID_MSG_STDIN = 32,       /* raw bytes for stream `id` */
	CAPSID_MSG_STDIN_CLOSE = 33, /* empty: close stdin of stream `id` */

	/* CLI <-> monitor control socket (never on the agent channel) */
	CAPSID_CTL_STATUS = 64,  /* {} -> RESPONSE {instance view} */
	CAPSID_CTL_STOP = 65,    /* {} -> RESPONSE when the VM is down */
	CAPSID_CTL_ATTACH = 66,  /* {"containers":[..],"tail":N,"follow":bool,"events":bool} -> LOGLINE, EVENT frames */
	CAPSID_CTL_EXEC = 67,    /* like CAPSID_MSG_EXEC; frames relayed with id = the request id */
	CAPSID_CTL_LOGLINE = 68, /* monitor -> CLI: JSON {"container","stream","line","time"} */
	CAPSID_CTL_GROUP_END = 69, /* monitor -> CLI: JSON {"state","exitCode"} */
	CAPSID_CTL_RESTART = 70, /* {} restart every container */
	CAPSID_CTL_START = 71,   /* {} boot a stopped or ended group again */
	CAPSID_CTL_EXIT = 72,    /* {} stop the VM, answer, then the monitor exits (delete) */
	CAPSID_CTL_EVENT = 73,   /* monitor -> CLI: a Warning event {"container"?,"name","message","time"} */
	CAPSID_CTL_STATS = 74,   /* {} -> RESPONSE: the agent's STATS answer (guest-agent/stats.h) */
	CAPSID_CTL_POD_ADD = 75,    /* {"container":{ACI container}} add and start it in a free pod slot */
	CAPSID_CTL_POD_REMOVE = 76, /* {"container":name} forget an added, ended container: frees its slot */
	CAPSID_CTL_POD_SIGNAL = 77, /* {"container":name,"signal":N} signal a container's process */
	CAPSID_CTL_ATTACH_STDIN = 78, /* {"container"} -> RESPONSE; then STDIN, STDIN_CLOSE, RESIZE {"rows","cols"}
				       * for the container's current run; EXIT {"exitCode"} when it ends */
};

/* The longest error text an agent puts in an ERROR body (its cause and the
 * request's prefix): the host keeps such a text whole in events and
 * detail statuses; anything longer is a hostile guest's and is cut. */
#define CAPSID_AGENT_ERROR_MAX (1024 + 256)

/* No frame flag is defined yet: a frame with any set is refused. */
#define CAPSID_FRAME_FLAGS_KNOWN 0u

struct capsid_frame_header {
	uint32_t magic;  /* CAPSID_PROTO_MAGIC */
	uint16_t type;   /* enum capsid_frame_type */
	uint16_t flags;  /* must be 0 in version 1 */
	uint32_t id;     /* request id or stream id */
	uint32_t length; /* body bytes that follow, <= CAPSID_FRAME_MAX_BODY */
} __attribute__((packed));

_Static_assert(sizeof(struct capsid_frame_header) == 16, "frame header is 16 bytes on the wire");

#endif
