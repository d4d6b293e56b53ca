/* The monitor's side of the agent channel: version negotiation, requests
 * and their answers, container lifecycle (create, start, exit, restart
 * policy with back-off) and the data streams. Every frame from the guest is
 * hostile input: the codec bounds and validates headers, and this file
 * validates bodies; anything malformed ends the channel and the VM. */
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "frame.h"
#include "image.h"
#include "logfile.h"
#include "monitor.h"
#include "spec.h"
#include "util.h"

/* What the host lets the guest queue in its direction, and vice versa. */
#define AGENT_OUT_QUEUE_MAX (8u << 20)
/* A container that ran this long without exiting resets its back-off. */
#define BACKOFF_RESET_MS (10u * 60u * 1000u)

int monitor_agent_send(struct monitor *m, uint16_t type, uint32_t id, struct json_object *body)
{
	if (m->agent.fd < 0) {
		json_object_put(body);
		return -ENOTCONN;
	}
	int rc = body ? frame_writer_queue_json(m->agent.out, type, id, body)
		      : frame_writer_queue(m->agent.out, type, id, NULL, 0);
	json_object_put(body);
	if (rc < 0)
		return rc;
	rc = frame_writer_flush(m->agent.out, m->agent.fd);
	return rc < 0 ? rc : 0;
}

int monitor_agent_request(struct monitor *m, uint16_t type, struct json_object *body, struct pending_req *req)
{
	if (m->agent.n_pending == MONITOR_MAX_PENDING) {
		json_object_put(body);
		return -EBUSY;
	}
	uint32_t id = m->agent.next_req_id++;
	if (m->agent.next_req_id == 0)
		m->agent.next_req_id = 1;
	int rc = monitor_agent_send(m, type, id, body);
	if (rc < 0)
		return rc;
	req->id = id;
	m->agent.pending[m->agent.n_pending++] = *req;
	return 0;
}

static int take_pending(struct monitor *m, uint32_t id, struct pending_req *out)
{
	for (size_t i = 0; i < m->agent.n_pending; i++)
		if (m->agent.pending[i].id == id) {
			*out = m->agent.pending[i];
			m->agent.pending[i] = m->agent.pending[--m->agent.n_pending];
			return 0;
		}
	return -ENOENT;
}

void monitor_agent_close(struct monitor *m, const char *why)
{
	if (m->agent.fd >= 0) {
		close(m->agent.fd);
		m->agent.fd = -1;
	}
	frame_reader_free(m->agent.in);
	frame_writer_free(m->agent.out);
	m->agent.in = NULL;
	m->agent.out = NULL;
	/* Requests in flight will never be answered: tell waiting clients. */
	for (size_t i = 0; i < m->agent.n_pending; i++) {
		struct pending_req *p = &m->agent.pending[i];
		if (p->client) {
			const char *msg = "{\"error\":\"the agent channel closed\"}";
			monitor_control_send(m, p->client, CAPSID_MSG_ERROR, p->client_id, msg, strlen(msg));
		}
	}
	m->agent.n_pending = 0;
	for (size_t i = 0; i < m->agent.n_execs; i++) {
		const char *msg = "{\"exitCode\":255,\"error\":\"the VM stopped\"}";
		monitor_control_send(m, m->agent.execs[i].client, CAPSID_MSG_EXIT, m->agent.execs[i].client_id, msg, strlen(msg));
	}
	m->agent.n_execs = 0;
	monitor_stdin_run_ended(m, 0, 255);
	if (why && m->vm.fsm.state != VM_DOWN) {
		/* A broken channel means the VM cannot be managed any more. */
		monitor_log(m, "agent channel closed: %s", why);
		monitor_event(m, NULL, "AgentError", "Warning", "%s", why);
		monitor_vm_event(m, VM_EV_AGENT_LOST, why, NULL);
	}
}

int monitor_agent_connect(const char *path)
{
	return util_unix_connect(path, SOCK_STREAM | SOCK_NONBLOCK);
}

static int agent_try_connect(struct monitor *m)
{
	int fd = monitor_agent_connect(m->paths->agent);
	return fd < 0 ? fd : monitor_agent_attach(m, fd);
}

int monitor_agent_attach(struct monitor *m, int fd)
{
	m->agent.fd = fd;
	m->agent.in = frame_reader_new(CAPSID_FRAME_MAX_BODY);
	m->agent.out = frame_writer_new(AGENT_OUT_QUEUE_MAX);
	if (!m->agent.in || !m->agent.out) {
		monitor_agent_close(m, NULL);
		return -ENOMEM;
	}
	monitor_log(m, "connected to the agent channel");
	return 0;
}

static struct mcontainer *container_by_stream(struct monitor *m, uint32_t stream)
{
	for (size_t i = 0; stream && i < m->n_containers; i++)
		if (m->containers[i].stream == stream)
			return &m->containers[i];
	return NULL;
}

static struct exec_relay *exec_by_stream(struct monitor *m, uint32_t stream)
{
	for (size_t i = 0; i < m->agent.n_execs; i++)
		if (m->agent.execs[i].stream == stream)
			return &m->agent.execs[i];
	return NULL;
}

static struct json_object *string_array(char **items, size_t n)
{
	struct json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(items[i]));
	return arr;
}

/* ACI semantics: a spec command replaces the image's entrypoint and cmd. */
static struct json_object *container_args(const struct spec_container *sc, const struct image_info *img)
{
	if (sc->n_command)
		return string_array(sc->command, sc->n_command);
	struct json_object *arr = string_array(img->entrypoint, img->n_entrypoint);
	for (size_t i = 0; i < img->n_cmd; i++)
		json_object_array_add(arr, json_object_new_string(img->cmd[i]));
	return arr;
}

/* Image env first, then the spec's variables override by name. */
static struct json_object *container_env(const struct spec_container *sc, const struct image_info *img)
{
	struct json_object *arr = json_object_new_array();
	for (size_t i = 0; i < img->n_env; i++) {
		const char *eq = strchr(img->env[i], '=');
		size_t klen = eq ? (size_t)(eq - img->env[i]) : strlen(img->env[i]);
		bool overridden = false;
		for (size_t j = 0; j < sc->n_env; j++)
			if (strlen(sc->env[j].name) == klen && strncmp(sc->env[j].name, img->env[i], klen) == 0)
				overridden = true;
		if (!overridden)
			json_object_array_add(arr, json_object_new_string(img->env[i]));
	}
	for (size_t j = 0; j < sc->n_env; j++) {
		_cleanup_free_ char *kv = NULL;
		if (asprintf(&kv, "%s=%s", sc->env[j].name, sc->env[j].value ? sc->env[j].value : "") < 0)
			continue;
		json_object_array_add(arr, json_object_new_string(kv));
		explicit_bzero(kv, strlen(kv));
	}
	return arr;
}

static void container_terminated(struct monitor *m, struct mcontainer *c, int exit_code, const char *detail);

void monitor_start_container(struct monitor *m, size_t i)
{
	struct mcontainer *c = &m->containers[i];
	const struct spec_container *sc = monitor_spec_container(m, i);
	const struct image_info *img = m->images[i];
	c->restart_at = 0;
	c->exited = false;
	c->stream = m->agent.next_stream++;

	struct json_object *args = container_args(sc, img);
	if (json_object_array_length(args) == 0) {
		json_object_put(args);
		container_terminated(m, c, 128,
				     "no command: the image has no Entrypoint or Cmd and the spec gives no command");
		return;
	}
	struct json_object *body = json_object_new_object();
	json_object_object_add(body, "container", json_object_new_string(sc->name));
	json_object_object_add(body, "stream", json_object_new_int64(c->stream));
	json_object_object_add(body, "runtime", json_object_new_string(m->opts->runtime));
	struct json_object *image = json_object_new_object();
	json_object_object_add(image, "serial", json_object_new_string(c->image_serial));
	json_object_object_add(image, "fstype", json_object_new_string(img->fstype));
	json_object_object_add(body, "image", image);
	json_object_object_add(body, "args", args);
	json_object_object_add(body, "env", container_env(sc, img));
	json_object_object_add(body, "cwd", json_object_new_string(img->working_dir && *img->working_dir
									   ? img->working_dir
									   : "/"));
	monitor_security_describe(body, sc, img->user && *img->user ? img->user : NULL);
	json_object_object_add(body, "hostname", json_object_new_string(m->paths->name));
	json_object_object_add(body, "tty", json_object_new_boolean(sc->tty));
	if (sc->open_stdin)
		json_object_object_add(body, "stdin", json_object_new_boolean(1));
	if (sc->tty) { /* the size until an attached client's RESIZE */
		json_object_object_add(body, "rows", json_object_new_int(24));
		json_object_object_add(body, "cols", json_object_new_int(80));
	}
	struct json_object *res = json_object_new_object();
	double mem_gb = sc->limits.memory_gb > 0 ? sc->limits.memory_gb : sc->requests.memory_gb;
	double cpu = sc->requests.cpu;
	if (c->init) { /* init containers have the group's resources */
		mem_gb = spec_group_memory_mib(m->spec) / 1024.0;
		cpu = spec_group_vcpus(m->spec);
	}
	json_object_object_add(res, "memoryBytes", json_object_new_int64((int64_t)(mem_gb * 1024 * 1024 * 1024)));
	/* cgroup CPU weight proportional to the request: 1 CPU = 1024 shares. */
	json_object_object_add(res, "cpuShares", json_object_new_int64((int64_t)(cpu * 1024 + 0.5)));
	if (sc->limits.cpu > 0) {
		json_object_object_add(res, "cpuQuotaUs", json_object_new_int64((int64_t)(sc->limits.cpu * 100000)));
		json_object_object_add(res, "cpuPeriodUs", json_object_new_int64(100000));
	}
	json_object_object_add(body, "resources", res);
	if (sc->n_mounts)
		json_object_object_add(body, "mounts", monitor_volume_mounts(sc));
	struct json_object *probes = monitor_probe_body(c, sc);
	if (probes)
		json_object_object_add(body, "probes", probes);

	struct pending_req req = {.kind = REQ_CREATE, .container = i};
	int rc = monitor_agent_request(m, CAPSID_MSG_CREATE, body, &req);
	if (rc < 0) {
		container_terminated(m, c, 128, "cannot reach the agent");
		return;
	}
	/* START right behind it (the agent handles them in order): no round
	 * trip between the two. */
	struct json_object *sb = json_object_new_object();
	json_object_object_add(sb, "container", json_object_new_string(sc->name));
	struct pending_req start = {.kind = REQ_START, .container = i, .stream = c->stream};
	if (monitor_agent_request(m, CAPSID_MSG_START, sb, &start) < 0)
		container_terminated(m, c, 128, "cannot reach the agent");
}

static unsigned backoff_delay(struct monitor *m, struct mcontainer *c)
{
	if (c->started_at && util_now_ms() - c->started_at >= BACKOFF_RESET_MS)
		c->backoff_step = 0;
	uint64_t d = m->opts->backoff_base_ms;
	for (unsigned s = 0; s < c->backoff_step && d < m->opts->backoff_max_ms; s++)
		d *= 2;
	if (d > m->opts->backoff_max_ms)
		d = m->opts->backoff_max_ms;
	if (c->backoff_step < 32)
		c->backoff_step++;
	return (unsigned)d;
}

/* The run ended (exit, or failure to create/start): record it, remove the
 * container from the guest, and apply the restart policy. */
/* `create` returns once every container has been started (or has failed
 * to start), so an `exec` right after it finds its container running. */
static void report_ready_when_started(struct monitor *m)
{
	if ((m->ctl.ready_fd < 0 && m->ctl.n_start_waiters == 0) || m->vm.fsm.state != VM_READY)
		return;
	for (size_t i = 0; i < m->n_containers; i++) {
		const struct mcontainer *c = &m->containers[i];
		/* Waiting, or restored from an older run and not started yet in this one. */
		if (!c->exited && !c->running && !c->restart_at && !c->held)
			return;
	}
	monitor_report_ready(m, NULL);
	monitor_control_start_done(m, NULL);
}

static void container_terminated(struct monitor *m, struct mcontainer *c, int exit_code, const char *detail)
{
	c->running = false;
	monitor_stdin_run_ended(m, c->stream, exit_code);
	c->stream = 0;
	if (c->log)
		log_writer_flush(c->log, NULL, NULL);
	view_container_transition(c->view, CONTAINER_TERMINATED, exit_code, detail);
	if (c->view->ready == VIEW_READY_YES)
		c->view->ready = VIEW_READY_NO;
	if (c->created && m->vm.fsm.state == VM_READY) {
		struct json_object *body = json_object_new_object();
		json_object_object_add(body, "container", json_object_new_string(c->view->name));
		struct pending_req req = {.kind = REQ_DELETE, .container = c->index};
		if (monitor_agent_request(m, CAPSID_MSG_DELETE, body, &req) < 0)
			c->created = false;
	}
	enum spec_restart_policy policy = m->spec->restart_policy;
	bool restart = m->vm.fsm.state == VM_READY &&
		       (policy == SPEC_RESTART_ALWAYS || (policy == SPEC_RESTART_ON_FAILURE && exit_code != 0));
	if (monitor_init_ended(m, c, exit_code)) {
		restart = false;
	} else if (restart) {
		unsigned delay = backoff_delay(m, c);
		c->restart_at = util_now_ms() + delay;
		monitor_event(m, c, "BackOff", "Warning", "back-off %u ms restarting container %s", delay,
			      c->view->name);
	} else {
		c->exited = true;
	}
	monitor_save_state(m);
	monitor_update_phase(m);
	report_ready_when_started(m);
}

static int json_int_field(struct json_object *o, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -EINVAL;
	int64_t x = json_object_get_int64(v);
	if (x < lo || x > hi)
		return -ERANGE;
	*out = x;
	return 0;
}

static const char *json_error_text(struct json_object *o, char *buf, size_t len)
{
	struct json_object *v;
	const char *s = o && json_object_object_get_ex(o, "error", &v) && json_object_is_type(v, json_type_string)
				? json_object_get_string(v)
				: "unknown error";
	/* Guest text goes into events and logs: keep it printable and short. */
	size_t i = 0;
	for (; s[i] && i + 1 < len; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* After NEGOTIATE: the guest's identity (a restored clone), network and
 * volumes, sent at once. The agent handles requests in order, so nothing
 * waits for an answer to be sent: under TCG each round trip to the guest
 * cost ~5-15 ms. A refused step closes the channel (the VM goes), so the
 * later ones never matter; VOLUMES' answer makes the guest ready. */
static void send_guest_setup(struct monitor *m)
{
	if (m->warm.restored && monitor_template_send_identity(m) < 0)
		monitor_agent_close(m, "cannot send the guest's identity");
	else if (monitor_net_configure_guest(m) < 0)
		monitor_agent_close(m, "cannot send the network configuration");
	else if (monitor_volumes_configure_guest(m) < 0)
		monitor_agent_close(m, "cannot send the volume definitions");
}

static void handle_answer(struct monitor *m, const struct frame *f)
{
	struct pending_req req;
	if (take_pending(m, f->id, &req) < 0) {
		monitor_log(m, "agent answered unknown request %u", f->id);
		return;
	}
	bool ok = f->type == CAPSID_MSG_RESPONSE;
	_cleanup_json_ struct json_object *body = frame_body_json(f);
	char errbuf[CAPSID_AGENT_ERROR_MAX + 1];
	switch (req.kind) {
	case REQ_NEGOTIATE:
		if (!ok) {
			monitor_agent_close(m, "agent refused protocol negotiation");
			return;
		}
		send_guest_setup(m);
		break;
	case REQ_IDENTITY:
		if (!ok) {
			char why[VIEW_MESSAGE_MAX];
			snprintf(why, sizeof(why), "restored guest refused its identity: %s",
				 json_error_text(body, errbuf, sizeof(errbuf)));
			monitor_agent_close(m, why);
			return;
		}
		break;
	case REQ_NETWORK:
		if (!ok) {
			char why[VIEW_MESSAGE_MAX];
			snprintf(why, sizeof(why), "guest network configuration failed: %s",
				 json_error_text(body, errbuf, sizeof(errbuf)));
			monitor_agent_close(m, why);
			return;
		}
		break;
	case REQ_VOLUMES:
		if (!ok) {
			char why[VIEW_MESSAGE_MAX];
			snprintf(why, sizeof(why), "guest volume definitions refused: %s",
				 json_error_text(body, errbuf, sizeof(errbuf)));
			monitor_agent_close(m, why);
			return;
		}
		monitor_vm_event(m, VM_EV_GUEST_READY, NULL, NULL);
		break;
	case REQ_CREATE: {
		struct mcontainer *c = &m->containers[req.container];
		if (!ok) {
			char detail[VIEW_MESSAGE_MAX];
			snprintf(detail, sizeof(detail), "create failed: %s", json_error_text(body, errbuf, sizeof(errbuf)));
			monitor_event(m, c, "Failed", "Warning", "%s", detail);
			container_terminated(m, c, 128, detail);
			return;
		}
		c->created = true;
		monitor_log(m, "container %s created", c->view->name);
		monitor_event(m, c, "Created", "Normal", "created container %s", c->view->name);
		break;
	}
	case REQ_START: {
		struct mcontainer *c = &m->containers[req.container];
		/* Sent right behind its CREATE: a CREATE that failed has ended the run. */
		if (!c->created || c->stream != req.stream)
			break;
		if (!ok) {
			char detail[VIEW_MESSAGE_MAX];
			snprintf(detail, sizeof(detail), "start failed: %s", json_error_text(body, errbuf, sizeof(errbuf)));
			monitor_event(m, c, "Failed", "Warning", "%s", detail);
			container_terminated(m, c, 128, detail);
			return;
		}
		c->running = true;
		c->started_at = util_now_ms();
		monitor_log(m, "container %s started", c->view->name);
		view_container_transition(c->view, CONTAINER_RUNNING, 0, "");
		monitor_event(m, c, "Started", "Normal", "started container %s", c->view->name);
		monitor_save_state(m);
		monitor_update_phase(m);
		report_ready_when_started(m);
		monitor_standby_after_start(m);
		break;
	}
	case REQ_DELETE: {
		struct mcontainer *c = &m->containers[req.container];
		c->created = false;
		if (!ok)
			monitor_log(m, "delete %s: %s", c->view->name, json_error_text(body, errbuf, sizeof(errbuf)));
		break;
	}
	case REQ_SHUTDOWN:
		/* The agent powers off next; QEMU's exit completes the stop. */
		break;
	case REQ_EXEC:
	case REQ_RELAY:
		if (req.kind == REQ_EXEC && ok && m->agent.n_execs < MONITOR_MAX_EXECS)
			m->agent.execs[m->agent.n_execs++] =
				(struct exec_relay){.stream = req.stream, .client = req.client, .client_id = req.client_id};
		monitor_control_send(m, req.client, f->type, req.client_id, f->body, f->length);
		break;
	case REQ_IGNORE:
		break;
	}
}

int monitor_agent_hello_version(const struct monitor_options *opts, struct json_object *body, char *why,
				size_t len)
{
	int64_t min, max;
	if (!body || json_int_field(body, "min", 1, 65535, &min) < 0 ||
	    json_int_field(body, "max", 1, 65535, &max) < 0 || min > max) {
		snprintf(why, len, "agent sent an invalid HELLO");
		return -1;
	}
	if (max < CAPSID_PROTO_VERSION_MIN || min > CAPSID_PROTO_VERSION_MAX) {
		snprintf(why, len, "agent speaks no protocol version this host supports");
		return -1;
	}
	/* Each runtime has its own initramfs: a guest without the group's
	 * runtime is a broken guest directory, named as such. */
	struct json_object *runtimes;
	bool has_runtime = false;
	if (json_object_object_get_ex(body, "runtimes", &runtimes) && json_object_is_type(runtimes, json_type_array))
		for (size_t i = 0; i < json_object_array_length(runtimes); i++) {
			const char *r = json_object_get_string(json_object_array_get_idx(runtimes, i));
			if (r && strcmp(r, opts->runtime) == 0)
				has_runtime = true;
		}
	if (!has_runtime) {
		snprintf(why, len, "the guest has no %s (guest directory %s)", opts->runtime, opts->guest_dir);
		return -1;
	}
	return (int)(max < CAPSID_PROTO_VERSION_MAX ? max : CAPSID_PROTO_VERSION_MAX);
}

static void handle_hello(struct monitor *m, const struct frame *f)
{
	if (monitor_vm_event(m, VM_EV_HELLO, NULL, NULL) < 0) { /* not booting */
		monitor_agent_close(m, "agent sent an invalid HELLO");
		return;
	}
	_cleanup_json_ struct json_object *body = frame_body_json(f);
	char why[PATH_MAX + 64];
	int version = monitor_agent_hello_version(m->opts, body, why, sizeof(why));
	if (version < 0) {
		monitor_agent_close(m, why);
		return;
	}
	struct json_object *neg = json_object_new_object();
	json_object_object_add(neg, "version", json_object_new_int64(version));
	struct pending_req req = {.kind = REQ_NEGOTIATE};
	if (monitor_agent_request(m, CAPSID_MSG_NEGOTIATE, neg, &req) < 0)
		monitor_agent_close(m, "cannot send NEGOTIATE");
}

/* Negotiated already (a ready clone, standby.c): go on as after NEGOTIATE. */
void monitor_agent_negotiated(struct monitor *m)
{
	monitor_vm_event(m, VM_EV_HELLO, NULL, NULL);
	send_guest_setup(m);
}

struct broadcast_ctx {
	struct monitor *m;
	size_t container;
};

static void log_record_forward(const struct log_record *rec, void *ud)
{
	struct broadcast_ctx *b = ud;
	monitor_control_broadcast_log(b->m, b->container, rec->stream, rec->time, rec->partial, rec->content,
				      rec->len);
}

static void handle_exit(struct monitor *m, const struct frame *f)
{
	_cleanup_json_ struct json_object *body = frame_body_json(f);
	int64_t code;
	if (!body || json_int_field(body, "exitCode", -1, 511, &code) < 0) {
		monitor_agent_close(m, "agent sent an invalid EXIT");
		return;
	}
	struct exec_relay *x = exec_by_stream(m, f->id);
	if (x) {
		monitor_control_send(m, x->client, CAPSID_MSG_EXIT, x->client_id, f->body, f->length);
		*x = m->agent.execs[--m->agent.n_execs];
		return;
	}
	struct mcontainer *c = container_by_stream(m, f->id);
	if (!c)
		return;
	struct broadcast_ctx b = {m, c->index};
	log_writer_flush(c->log, log_record_forward, &b);
	int64_t sig = 0;
	json_int_field(body, "signal", 0, 64, &sig);
	char detail[64];
	if (sig)
		snprintf(detail, sizeof(detail), "Killed by signal %d", (int)sig);
	else
		snprintf(detail, sizeof(detail), "%s", code == 0 ? "Completed" : "Error");
	container_terminated(m, c, (int)code, detail);
}

static void handle_data(struct monitor *m, const struct frame *f)
{
	struct exec_relay *x = exec_by_stream(m, f->id);
	if (x) {
		monitor_control_send(m, x->client, f->type, x->client_id, f->body, f->length);
		return;
	}
	struct mcontainer *c = container_by_stream(m, f->id);
	if (!c)
		return; /* late bytes of a finished run */
	struct broadcast_ctx b = {m, c->index};
	int rc = log_writer_append(c->log, f->type == CAPSID_MSG_STDOUT ? LOG_STDOUT : LOG_STDERR, f->body, f->length,
				   log_record_forward, &b);
	/* A terminal's prompt has no newline: its partial line is shown now. */
	if (rc == 0 && monitor_spec_container(m, c->index)->tty)
		rc = log_writer_flush_partial(c->log, log_record_forward, &b);
	if (rc < 0)
		monitor_log(m, "write log of %s: %s", c->view->name, strerror(-rc));
}

static void handle_frame(struct monitor *m, const struct frame *f)
{
	if (f->type == CAPSID_MSG_HELLO) {
		handle_hello(m, f);
		return;
	}
	if (m->vm.fsm.state == VM_BOOTING) {
		monitor_agent_close(m, "agent sent a frame before HELLO");
		return;
	}
	switch (f->type) {
	case CAPSID_MSG_RESPONSE:
	case CAPSID_MSG_ERROR:
		handle_answer(m, f);
		break;
	case CAPSID_MSG_STDOUT:
	case CAPSID_MSG_STDERR:
		handle_data(m, f);
		break;
	case CAPSID_MSG_EXIT:
		handle_exit(m, f);
		break;
	case CAPSID_MSG_PROBE:
		monitor_probe_frame(m, f);
		break;
	case CAPSID_MSG_LOG: {
		_cleanup_json_ struct json_object *body = frame_body_json(f);
		char buf[512];
		struct json_object *msg;
		if (body && json_object_object_get_ex(body, "message", &msg) && json_object_is_type(msg, json_type_string)) {
			snprintf(buf, sizeof(buf), "%s", json_object_get_string(msg));
			for (char *p = buf; *p; p++)
				if ((unsigned char)*p < 0x20)
					*p = ' ';
			monitor_log(m, "agent: %s", buf);
		}
		break;
	}
	default: {
		char why[96];
		snprintf(why, sizeof(why), "agent sent a host-only frame type %s", frame_type_name(f->type));
		monitor_agent_close(m, why);
		break;
	}
	}
}

void monitor_agent_readable(struct monitor *m)
{
	/* Bound the work per wake-up so a chatty guest cannot starve clients:
	 * 16 reads of at most FRAME_FILL_MAX (1 MiB) and the frames in them. */
	for (int round = 0; round < 16 && m->agent.fd >= 0; round++) {
		int rc = frame_reader_fill(m->agent.in, m->agent.fd);
		if (rc == -EPIPE) {
			monitor_agent_close(m, vm_state_stopping(m->vm.fsm.state) ? NULL : "the agent closed its channel");
			return;
		}
		if (rc < 0 && rc != -ENOBUFS) {
			monitor_agent_close(m, "read from the agent failed");
			return;
		}
		struct frame f;
		int got;
		while (m->agent.fd >= 0 && (got = frame_reader_next(m->agent.in, &f)) == 1)
			handle_frame(m, &f);
		if (m->agent.fd >= 0 && got < 0) {
			monitor_agent_close(m, got == -EMSGSIZE ? "agent sent an oversized frame"
								: "agent sent a malformed frame");
			return;
		}
		if (rc == 0)
			return;
	}
}

uint64_t monitor_next_timer(struct monitor *m)
{
	uint64_t next = UINT64_MAX;
	enum vm_state vm = m->vm.fsm.state;
	if (vm_state_has_vm(vm) && vm != VM_READY) /* a boot or a stop under way */
		next = m->vm.deadline;
	if (m->vm.fsm.state == VM_BOOTING && m->agent.fd < 0 && m->agent.retry_at < next)
		next = m->agent.retry_at;
	if (monitor_template_next_timer(m) < next)
		next = monitor_template_next_timer(m);
	if (monitor_bounds_next_timer(m) < next)
		next = monitor_bounds_next_timer(m);
	if (monitor_usage_next_timer(m) < next)
		next = monitor_usage_next_timer(m);
	if (m->vm.fsm.state == VM_READY && m->vm.release_at && m->vm.release_at < next)
		next = m->vm.release_at;
	for (size_t i = 0; i < m->n_containers; i++) {
		struct mcontainer *c = &m->containers[i];
		if (c->restart_at && !c->created && c->restart_at < next)
			next = c->restart_at;
	}
	return next;
}

void monitor_run_timers(struct monitor *m, uint64_t now)
{
	monitor_template_timers(m, now);
	monitor_bounds_timers(m, now);
	monitor_usage_timers(m, now);
	if (m->vm.fsm.state == VM_BOOTING && m->agent.fd < 0 && now >= m->agent.retry_at) {
		if (agent_try_connect(m) < 0)
			m->agent.retry_at = now + 10;
	}
	if ((m->vm.fsm.state == VM_BOOTING || m->vm.fsm.state == VM_NEGOTIATE) && now >= m->vm.deadline) {
		char why[160];
		snprintf(why, sizeof(why), "the guest agent did not answer within %u ms (see console.log)",
			 m->opts->boot_timeout_ms);
		monitor_vm_event(m, VM_EV_BOOT_TIMEOUT, why, NULL);
		return;
	}
	if (vm_state_stopping(m->vm.fsm.state) && now >= m->vm.deadline) {
		monitor_log(m, "shutdown timed out: forcing QEMU down");
		monitor_vm_event(m, VM_EV_STOP_TIMEOUT, NULL, NULL);
		return;
	}
	if (m->vm.fsm.state != VM_READY)
		return;
	if (m->vm.release_at && now >= m->vm.release_at)
		monitor_release_boot_files(m);
	for (size_t i = 0; i < m->n_containers; i++) {
		struct mcontainer *c = &m->containers[i];
		if (c->restart_at && !c->created && now >= c->restart_at) {
			c->view->restart_count++;
			monitor_start_container(m, i);
		}
	}
}
