#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "frame.h"
#include "image.h"
#include "logfile.h"
#include "spec.h"
#include "util.h"

#define SPEC_MAX_BYTES (1u << 20)

static void log_line(int fd, const char *fmt, va_list ap)
{
	if (fd < 0)
		return;
	char line[2048];
	char now[40];
	util_now_rfc3339(now);
	int n = snprintf(line, sizeof(line), "%s ", now);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	size_t len = strlen(line);
	line[len++] = '\n';
	util_write_all(fd, line, len);
}

void monitor_log_fd(int fd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line(fd, fmt, ap);
	va_end(ap);
}

void monitor_log(struct monitor *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line(m->log_fd, fmt, ap);
	va_end(ap);
}

struct json_object *monitor_instance_view(struct monitor *m)
{
	struct json_object *doc = json_object_get(m->spec_redacted);
	/* Work on a copy: the redacted spec stays pristine. */
	struct json_object *copy = NULL;
	json_object_deep_copy(doc, &copy, NULL);
	json_object_put(doc);
	if (!copy)
		return NULL;
	struct json_object *props = NULL, *containers = NULL;
	json_object_object_get_ex(copy, "properties", &props);
	if (props)
		json_object_object_get_ex(props, "containers", &containers);
	for (size_t i = 0; containers && i < m->n_containers && i < json_object_array_length(containers); i++) {
		struct json_object *c = json_object_array_get_idx(containers, i);
		struct json_object *cprops = NULL;
		if (json_object_object_get_ex(c, "properties", &cprops))
			json_object_object_add(cprops, "instanceView", view_container_to_json(m->containers[i].view));
	}
	if (props)
		monitor_init_describe(m, props);
	if (props) {
		struct json_object *iv = json_object_new_object();
		json_object_object_add(iv, "state", json_object_new_string(view_group_phase_name(m->view.phase)));
		if (m->view.detail[0])
			json_object_object_add(iv, "detailStatus", json_object_new_string(m->view.detail));
		json_object_object_add(iv, "events", view_events_to_json(&m->view.events));
		json_object_object_add(props, "instanceView", iv);
		json_object_object_add(props, "provisioningState",
				       json_object_new_string(m->view.phase == GROUP_PENDING ? "Pending" : "Succeeded"));
	}
	struct json_object *ext = json_object_new_object();
	json_object_object_add(ext, "accel", json_object_new_string(vmm_accel_name(m->opts->accel)));
	json_object_object_add(ext, "runtime", json_object_new_string(m->opts->runtime));
	json_object_object_add(ext, "vcpus", json_object_new_int((int)spec_group_vcpus(m->spec)));
	json_object_object_add(ext, "memoryMiB",
			       json_object_new_int((int)(spec_group_memory_mib(m->spec) + m->opts->memory_overhead_mib)));
	json_object_object_add(ext, "monitorPid", json_object_new_int((int)getpid()));
	json_object_object_add(ext, "qemuPid", json_object_new_int((int)m->vm.qemu_pid));
	json_object_object_add(ext, "vmm", json_object_new_string(vmm_backend_name(m->opts->vmm)));
	if (m->opts->vmm == VMM_BACKEND_LIBVIRT)
		monitor_libvirt_describe(m, ext);
	if (m->vm.started_at[0])
		json_object_object_add(ext, "vmStartedAt", json_object_new_string(m->vm.started_at));
	if (m->vm.last_boot_ms)
		json_object_object_add(ext, "bootMs", json_object_new_int64(m->vm.last_boot_ms));
	if (props)
		monitor_net_describe(m, props, ext);
	json_object_object_add(copy, "capsid", ext);
	return copy;
}

void monitor_event(struct monitor *m, struct mcontainer *c, const char *name, const char *type,
		   const char *fmt, ...)
{
	char message[VIEW_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	view_event_add(c ? &c->view->events : &m->view.events, name, type, "%s", message);
	if (!strcmp(type, "Warning"))
		monitor_control_broadcast_event(m, c ? c->view->name : NULL, name, message);
}

void monitor_save_state(struct monitor *m)
{
	_cleanup_json_ struct json_object *doc = monitor_instance_view(m);
	if (!doc)
		return;
	size_t len;
	const char *s = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PRETTY, &len);
	int rc = util_write_file_atomic(m->paths->state, s, len, 0640);
	if (rc < 0)
		monitor_log(m, "write %s: %s", m->paths->state, strerror(-rc));
}

void monitor_report_ready(struct monitor *m, const char *error)
{
	if (m->ctl.ready_fd < 0)
		return;
	char line[CAPSID_ERROR_MAX + 16];
	int n = error ? snprintf(line, sizeof(line), "error: %s\n", error) : snprintf(line, sizeof(line), "ok\n");
	util_write_all(m->ctl.ready_fd, line, (size_t)n);
	close(m->ctl.ready_fd);
	m->ctl.ready_fd = -1;
}

/* The first containers start meanwhile: the release (about 5 ms of the
 * monitor's time for 11 MiB) stays off the path to their first output. */
#define BOOT_FILES_RELEASE_DELAY_MS 1000

void monitor_release_boot_files_later(struct monitor *m)
{
	m->vm.release_at = util_now_ms() + BOOT_FILES_RELEASE_DELAY_MS;
}

void monitor_release_boot_files(struct monitor *m)
{
	m->vm.release_at = 0;
	if (m->vm.qemu_pid <= 0)
		return;
	const char *files[] = {m->vm.boot_files.kernel, m->vm.boot_files.initrd};
	struct capsid_error err = {0};
	long advised = vmm_release_files(m->vm.qemu_pid, files, 2, &err);
	if (advised < 0)
		monitor_log(m, "%s", err.msg);
	else if (advised > 0)
		monitor_log(m, "boot files: QEMU's mappings of them (%ld KiB) given back for reclaim", advised / 1024);
}

void monitor_update_phase(struct monitor *m)
{
	enum group_phase old = m->view.phase, p = old;
	enum vm_state vm = m->vm.fsm.state;
	if (vm == VM_BOOTING || vm == VM_NEGOTIATE) {
		p = GROUP_PENDING;
	} else if (vm == VM_READY) {
		bool active = false, failed = false;
		for (size_t i = 0; i < m->n_containers; i++) {
			if (!m->containers[i].exited)
				active = true;
			else if (m->containers[i].view->current.exit_code != 0)
				failed = true;
		}
		p = active ? GROUP_RUNNING : failed ? GROUP_FAILED : GROUP_SUCCEEDED;
	} else if (m->vm.fsm.user_stop) {
		p = GROUP_STOPPED;
	}
	if (p == old)
		return;
	m->view.phase = p;
	if (p == GROUP_RUNNING || p == GROUP_PENDING)
		m->view.detail[0] = '\0';
	monitor_log(m, "group %s -> %s", view_group_phase_name(old), view_group_phase_name(p));
	monitor_save_state(m);
	/* Attached clients hear of the end once the VM is down (VM_ACT_BROADCAST_END),
	 * so `capsid run` returns with nothing of the group left running. */
	if (p == GROUP_SUCCEEDED || p == GROUP_FAILED) {
		/* Every container has ended for good: release the VM (ACI deallocates too). */
		monitor_event(m, NULL, p == GROUP_SUCCEEDED ? "Succeeded" : "Failed",
			      p == GROUP_SUCCEEDED ? "Normal" : "Warning", "all containers terminated");
		monitor_vm_event(m, VM_EV_ALL_ENDED, NULL, NULL);
	}
}

static const char *guest_file(const struct monitor_options *opts, const char *leaf, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", opts->guest_dir, leaf);
	return buf;
}

/* What the guest image says about itself (manifest.json, written by
 * images/guest/build-guest.sh): a kernel without ACPI needs microvm's
 * acpi=off; one with virtio-balloon can report free pages; one that takes
 * the local APIC timer's rate from the command line says "apicTimerRate":
 * true; "initrds" names the initramfs per runtime (runc has its own: crun
 * groups do not carry it). Absent fields keep the defaults (ACPI on, no
 * balloon, initrd.img), so older guest dirs boot as before. */
static void guest_manifest_apply(const struct monitor_options *opts, struct vmm_config *cfg, char initrd[PATH_MAX])
{
	char path[PATH_MAX];
	guest_file(opts, "initrd.img", initrd, PATH_MAX);
	_cleanup_free_ char *text = NULL;
	if (util_read_file_at(AT_FDCWD, guest_file(opts, "manifest.json", path, sizeof(path)), 64 * 1024, &text,
			      NULL) < 0)
		return;
	_cleanup_json_ struct json_object *doc = json_tokener_parse(text);
	struct json_object *v, *initrds;
	if (doc && json_object_object_get_ex(doc, "acpi", &v) && json_object_is_type(v, json_type_boolean))
		cfg->no_acpi = !json_object_get_boolean(v);
	if (doc && json_object_object_get_ex(doc, "freePageReporting", &v) &&
	    json_object_is_type(v, json_type_boolean))
		cfg->free_page_reporting = json_object_get_boolean(v);
	if (doc && json_object_object_get_ex(doc, "apicTimerRate", &v) && json_object_is_type(v, json_type_boolean))
		cfg->apic_timer_rate = json_object_get_boolean(v);
	if (doc && json_object_object_get_ex(doc, "initrds", &initrds) &&
	    json_object_object_get_ex(initrds, opts->runtime, &v) && json_object_is_type(v, json_type_string) &&
	    !strchr(json_object_get_string(v), '/'))
		guest_file(opts, json_object_get_string(v), initrd, PATH_MAX);
}

void monitor_vm_config(const struct monitor_options *opts, const struct group_paths *paths, unsigned vcpus,
		       unsigned memory_mib, struct monitor_vm_files *files, struct vmm_config *cfg)
{
	*cfg = (struct vmm_config){
		.qemu = opts->qemu,
		.kernel = guest_file(opts, "vmlinuz", files->kernel, sizeof(files->kernel)),
		.initrd = files->initrd,
		.vcpus = vcpus,
		.memory_mib = memory_mib,
		.accel = opts->accel,
		.tb_size_mib = opts->tb_size_mib,
		.agent_socket = paths->agent,
		.qmp_socket = paths->qmp,
		.console_log = paths->console,
		.tsc_khz = vmm_host_tsc_khz(NULL),
		/* KSM merges private anonymous pages only: no memfd then. */
		.memfd_ram = opts->memfd_ram && !opts->ksm,
		.mem_merge = opts->ksm,
	};
	guest_manifest_apply(opts, cfg, files->initrd);
	snprintf(files->cmdline, sizeof(files->cmdline), "console=ttyS0 quiet panic=-1 capsid.hostname=%s", paths->name);
	cfg->cmdline = files->cmdline;
}

int monitor_boot_vm(struct monitor *m, struct capsid_error *err)
{
	monitor_usage_begin(m); /* the VM is allocated from here (monitor_usage.c) */
	struct monitor_vm_files files;
	struct vmm_config cfg;
	monitor_vm_config(m->opts, m->paths, spec_group_vcpus(m->spec),
			  spec_group_memory_mib(m->spec) + m->opts->memory_overhead_mib, &files, &cfg);
	for (size_t i = 0; i < m->n_disks; i++) {
		size_t c;
		for (c = 0; c < m->n_containers; c++)
			if (strcmp(m->containers[c].image_serial, m->serials[i]) == 0)
				break;
		cfg.disks[cfg.n_disks++] = (struct vmm_disk){
			.path = m->images[c]->disk_path, .serial = m->serials[i], .format = "raw", .readonly = true};
	}
	int rc = monitor_pod_boot_disks(m, &cfg, err);
	if (rc < 0)
		return rc;
	rc = monitor_net_attach(m, &cfg, err);
	if (rc < 0)
		return rc;
	rc = monitor_volumes_prepare(m, &cfg, err);
	if (rc < 0)
		return rc;
	int warm = m->pod.n_slots ? 0 : monitor_template_apply(m, &cfg); /* a template has no pod slots */
	m->warm.standby_asked = false;
	if (m->warm.adopt && !(warm > 0 && monitor_standby_adopt(m, &cfg) == 0))
		monitor_standby_discard(m);
	bool adopted = m->warm.adopt != NULL;
	m->vm.deadline = util_now_ms() + m->opts->boot_timeout_ms;
	m->agent.retry_at = util_now_ms();
	if (adopted) {
		/* The VM is the ready clone: no spawn, no restore. Its first
		 * requests go out now, to be handled while the network's host
		 * half is made. */
		m->warm.adopt = NULL;
		monitor_agent_negotiated(m);
		if (m->agent.fd >= 0 && frame_writer_flush(m->agent.out, m->agent.fd) < 0)
			monitor_agent_close(m, NULL);
	} else {
		unlink(m->paths->agent);
		unlink(m->paths->qmp);
		int log = open(m->paths->console, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (log >= 0)
			close(log); /* QEMU appends the serial console; start each boot afresh */
		struct vmm_jail jail;
		if (m->opts->vmm == VMM_BACKEND_LIBVIRT)
			rc = monitor_libvirt_boot(m, &cfg, err);
		else if ((rc = monitor_jail_apply(m->opts, m->paths->root, m->jail_owner, &cfg, &jail, err)) == 0) {
			int out = monitor_bounds_qemu_output(m);
			rc = vmm_spawn(&cfg, out >= 0 ? out : m->log_fd, &m->vm.qemu_pid, err);
			if (out >= 0)
				close(out);
		}
		if (rc < 0) {
			monitor_volumes_release(m);
			return rc;
		}
	}
	/* The rules and the tap on the bridge while QEMU starts. */
	rc = monitor_net_finish(m, err);
	if (rc < 0) {
		monitor_agent_close(m, NULL);
		monitor_libvirt_end(m);
		vmm_terminate(m->vm.qemu_pid, m->paths->qmp, 1000);
		m->vm.qemu_pid = 0;
		monitor_volumes_release(m);
		return rc;
	}
	if (warm > 0 && !m->warm.restored && monitor_template_restore(m, err) < 0) {
		/* A template that does not load (e.g. QEMU changed under it) must not stop the group: boot cold. */
		monitor_log(m, "warm start: restore failed (%s): booting cold", err->msg);
		vmm_terminate(m->vm.qemu_pid, m->paths->qmp, 1000);
		m->vm.qemu_pid = 0;
		monitor_volumes_release(m);
		*err = (struct capsid_error){0};
		m->warm.cold_once = true;
		rc = monitor_boot_vm(m, err);
		m->warm.cold_once = false;
		return rc;
	}
	m->vm.boot_files = files;
	m->vm.release_at = 0;
	util_now_rfc3339(m->vm.started_at);
	m->vm.spawned_ms = util_now_ms();
	monitor_log(m, "qemu pid %d: %u vCPU, %u MiB, accel %s", (int)m->vm.qemu_pid, cfg.vcpus, cfg.memory_mib,
		    vmm_accel_name(cfg.accel));
	for (size_t i = 0; i < m->n_containers; i++) {
		struct mcontainer *c = &m->containers[i];
		c->created = c->running = c->exited = false;
		c->restart_at = 0;
		c->stream = 0;
	}
	monitor_event(m, NULL, "Started", "Normal", "started VM (%u vCPU, %u MiB, %s)", cfg.vcpus,
		      cfg.memory_mib, vmm_accel_name(cfg.accel));
	monitor_update_phase(m);
	return 0;
}

static int read_spec(int fd, char **out)
{
	size_t cap = 64 * 1024, len = 0;
	_cleanup_free_ char *buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap >= SPEC_MAX_BYTES)
				return -EFBIG;
			cap *= 2;
			char *nb = realloc(buf, cap + 1);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = TAKE_PTR(buf);
	return 0;
}

/* Load the spec, resolve images, and restore what a previous monitor of
 * this group recorded (restart counts, events) from state.json. */
static int monitor_prepare(struct monitor *m, int spec_fd, struct capsid_error *err)
{
	_cleanup_free_ char *text = NULL;
	int rc = read_spec(spec_fd, &text);
	if (rc < 0)
		return capsid_error_errno(err, rc, "read spec from the CLI");
	struct spec_warnings warn = {0};
	rc = spec_parse(text, strlen(text), &m->spec, &warn, err);
	explicit_bzero(text, strlen(text));
	spec_warnings_free(&warn);
	if (rc < 0)
		return rc;
	m->spec_redacted = spec_to_json(m->spec, SPEC_REDACT);
	rc = monitor_pod_prepare(m, err);
	if (rc < 0)
		return rc;
	m->n_containers = m->spec->n_containers + m->spec->n_init_containers;
	m->containers = calloc(m->n_containers, sizeof(*m->containers));
	m->view.containers = calloc(m->n_containers, sizeof(*m->view.containers));
	m->view.n_containers = m->n_containers;
	m->images = calloc(m->n_containers, sizeof(*m->images));
	m->serials = calloc(m->n_containers, sizeof(*m->serials));
	if (!m->containers || !m->view.containers || !m->images || !m->serials || !m->spec_redacted)
		return capsid_error_set(err, ENOMEM, "out of memory");

	struct image_store *store = NULL;
	rc = image_store_open(m->paths->root, &store, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < m->n_containers && rc >= 0; i++) {
		struct mcontainer *c = &m->containers[i];
		c->index = i;
		c->view = &m->view.containers[i];
		c->init = i >= m->spec->n_containers;
		const struct spec_container *sc = monitor_spec_container(m, i);
		snprintf(c->view->name, sizeof(c->view->name), "%s", sc->name);
		rc = image_resolve(store, sc->image, &m->images[i], err);
		if (rc < 0) {
			if (c->init)
				capsid_error_prefix(err, "properties.initContainers[%zu].properties.image",
						    i - m->spec->n_containers);
			else
				capsid_error_prefix(err, "properties.containers[%zu].properties.image", i);
			break;
		}
		size_t d;
		for (d = 0; d < i; d++)
			if (strcmp(m->images[d]->digest, m->images[i]->digest) == 0)
				break;
		if (d < i) {
			memcpy(c->image_serial, m->containers[d].image_serial, sizeof(c->image_serial));
		} else {
			if (m->n_disks == VMM_MAX_DISKS) {
				rc = capsid_error_set(err, E2BIG, "properties.containers: more than %d distinct images",
						      VMM_MAX_DISKS);
				break;
			}
			snprintf(m->serials[m->n_disks], sizeof(m->serials[0]), "img%zu", m->n_disks);
			memcpy(c->image_serial, m->serials[m->n_disks], sizeof(c->image_serial));
			m->n_disks++;
		}
	}
	image_store_close(store);
	if (rc < 0)
		return rc;

	/* A previous monitor of this group may have left its record. */
	_cleanup_free_ char *old = NULL;
	if (util_read_file_at(AT_FDCWD, m->paths->state, 16u << 20, &old, NULL) == 0) {
		_cleanup_json_ struct json_object *doc = json_tokener_parse(old);
		struct json_object *props, *iv, *containers, *ev;
		if (doc && json_object_object_get_ex(doc, "properties", &props)) {
			if (json_object_object_get_ex(props, "instanceView", &iv) &&
			    json_object_object_get_ex(iv, "events", &ev))
				view_events_from_json(&m->view.events, ev);
			if (json_object_object_get_ex(props, "containers", &containers) &&
			    json_object_is_type(containers, json_type_array))
				for (size_t i = 0; i < m->spec->n_containers && i < json_object_array_length(containers); i++) {
					struct json_object *cp, *civ;
					struct json_object *c = json_object_array_get_idx(containers, i);
					if (json_object_object_get_ex(c, "properties", &cp) &&
					    json_object_object_get_ex(cp, "instanceView", &civ))
						view_container_from_json(m->containers[i].view, civ);
				}
			monitor_init_restore(m, props);
		}
	}

	if (util_mkdir_p(m->paths->logs_dir, 0750) < 0)
		return capsid_error_errno(err, errno, "create %s", m->paths->logs_dir);
	for (size_t i = 0; i < m->n_containers; i++) {
		char path[PATH_MAX];
		if (group_log_path(m->paths, m->containers[i].view->name, path, sizeof(path)) < 0)
			return capsid_error_set(err, ENAMETOOLONG, "log path too long");
		rc = log_writer_open(path, &m->containers[i].log);
		if (rc < 0)
			return capsid_error_errno(err, rc, "open %s", path);
		log_writer_set_limits(m->containers[i].log, m->opts->log_max_bytes, m->opts->log_max_files);
	}
	return 0;
}

static void monitor_handle_signals(struct monitor *m)
{
	struct signalfd_siginfo si;
	while (read(m->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			int status;
			pid_t pid;
			if (monitor_libvirt_ended(m))
				monitor_vm_event(m, VM_EV_QEMU_EXITED, NULL, NULL);
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
				if (pid == m->vm.qemu_pid) {
					monitor_log(m, "qemu exited (status %d)", status);
					m->vm.qemu_pid = 0;
					monitor_vm_event(m, VM_EV_QEMU_EXITED, NULL, NULL);
				}
			}
		} else {
			/* SIGTERM/SIGINT: stop the VM cleanly, then exit. */
			monitor_log(m, "signal %u: stopping", si.ssi_signo);
			monitor_vm_event(m, VM_EV_DELETE, NULL, NULL);
		}
	}
}

static void monitor_free(struct monitor *m)
{
	monitor_control_free_all(m);
	monitor_agent_close(m, NULL);
	for (size_t i = 0; m->containers && i < m->n_containers; i++)
		log_writer_close(m->containers[i].log);
	for (size_t i = 0; m->images && i < m->n_containers; i++)
		image_info_free(m->images[i]);
	free(m->images);
	free(m->serials);
	free(m->containers);
	monitor_volumes_release(m);
	free(m->volumes);
	free(m->view.containers);
	json_object_put(m->spec_redacted);
	spec_free(m->spec);
	if (m->qemu_out_fd >= 0)
		close(m->qemu_out_fd);
	if (m->signal_fd >= 0)
		close(m->signal_fd);
	if (m->ctl.listen_fd >= 0)
		close(m->ctl.listen_fd);
}

#define MAX_POLL 80

static void monitor_loop(struct monitor *m)
{
	while (!m->quit) {
		struct pollfd fds[MAX_POLL];
		struct ctl_client *owners[MAX_POLL];
		size_t n = 0;
		fds[n++] = (struct pollfd){.fd = m->signal_fd, .events = POLLIN};
		fds[n++] = (struct pollfd){.fd = m->ctl.listen_fd, .events = POLLIN};
		size_t out_slot = n;
		if (m->qemu_out_fd >= 0)
			fds[n++] = (struct pollfd){.fd = m->qemu_out_fd, .events = POLLIN};
		size_t agent_slot = n;
		if (m->agent.fd >= 0) {
			short ev = POLLIN;
			if (frame_writer_pending(m->agent.out))
				ev |= POLLOUT;
			fds[n++] = (struct pollfd){.fd = m->agent.fd, .events = ev};
		}
		size_t first_client = n;
		n += monitor_control_pollfds(m, fds + n, owners + n, MAX_POLL - n);

		uint64_t now = util_now_ms();
		uint64_t next = monitor_next_timer(m);
		int timeout = next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
		int r = poll(fds, n, timeout);
		if (r < 0 && errno != EINTR) {
			monitor_log(m, "poll: %s", strerror(errno));
			break;
		}
		if (fds[0].revents)
			monitor_handle_signals(m);
		if (fds[1].revents)
			monitor_control_accept(m);
		if (out_slot < agent_slot && fds[out_slot].revents && m->qemu_out_fd == fds[out_slot].fd)
			monitor_bounds_drain(m);
		if (agent_slot < first_client && m->agent.fd == fds[agent_slot].fd) {
			short re = fds[agent_slot].revents;
			if (re & POLLOUT) {
				int fr = frame_writer_flush(m->agent.out, m->agent.fd);
				if (fr < 0)
					monitor_agent_close(m, "write to the agent failed");
			}
			if (m->agent.fd >= 0 && (re & (POLLIN | POLLHUP | POLLERR)))
				monitor_agent_readable(m);
		}
		for (size_t i = first_client; i < n; i++)
			if (fds[i].revents)
				monitor_control_client_io(m, owners[i], fds[i].revents);
		monitor_control_reap(m);
		monitor_run_timers(m, util_now_ms());
	}
}

int monitor_process_setup(const char *pid_path)
{
	char pid[32];
	int pn = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	util_write_file_atomic(pid_path, pid, (size_t)pn, 0644);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

int monitor_main(const struct group_paths *paths, const struct monitor_options *opts, int spec_fd, int ready_fd)
{
	struct monitor mon = {
		.paths = paths,
		.opts = opts,
		.signal_fd = -1,
		.vm.fsm = {.state = VM_DOWN},
		.agent = {.fd = -1, .next_req_id = 1, .next_stream = 1},
		.ctl = {.listen_fd = -1, .ready_fd = ready_fd},
		.warm.adopt = opts->adopt,
		.jail_owner = paths->name,
		.bounds_at = util_now_ms(),
		.qemu_out_fd = -1,
		.usage = {.fd = -1},
	};
	struct monitor *m = &mon;
	struct capsid_error err = {0};
	m->log_fd = open(paths->monitor_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	monitor_log(m, "monitor %d starting", (int)getpid());
	/* A client may hold the lock for an instant while it reads the state. */
	int lock_fd = group_lock(paths);
	for (int i = 0; lock_fd == -EBUSY && i < 100; i++) {
		usleep(20000);
		lock_fd = group_lock(paths);
	}
	if (lock_fd < 0) {
		monitor_report_ready(m, lock_fd == -EBUSY ? "another monitor is running for this group"
							   : "cannot take the monitor lock");
		return 1;
	}
	m->signal_fd = monitor_process_setup(paths->pid);

	int rc = monitor_prepare(m, spec_fd, &err);
	close(spec_fd);
	if (rc >= 0)
		rc = monitor_control_listen(m, &err);
	if (rc >= 0)
		rc = monitor_vm_event(m, VM_EV_MONITOR_START, NULL, &err);
	if (rc < 0) {
		monitor_log(m, "start failed: %s", err.msg);
		if (m->warm.adopt)
			monitor_standby_discard(m);
		monitor_jail_release(m);
		monitor_report_ready(m, err.msg);
		monitor_free(m);
		close(lock_fd);
		return 1;
	}
	monitor_log(m, "monitor %d started for group %s", (int)getpid(), paths->name);
	monitor_loop(m);
	monitor_libvirt_end(m);
	if (m->vm.qemu_pid > 0)
		vmm_terminate(m->vm.qemu_pid, paths->qmp, 2000);
	monitor_save_state(m);
	monitor_jail_release(m);
	monitor_log(m, "monitor exiting");
	monitor_free(m);
	unlink(paths->control);
	unlink(paths->pid);
	if (m->log_fd >= 0)
		close(m->log_fd);
	close(lock_fd);
	return 0;
}
