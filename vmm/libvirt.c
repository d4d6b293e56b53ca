/* The libvirt backend's life of a domain (vmm_libvirt.h): connect, start
 * the transient domain tied to the connection, learn of its end from
 * lifecycle events, destroy it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "libvirt_dl.h"
#include "util.h"
#include "vmm_libvirt.h"

struct vmm_domain {
	virConnectPtr conn;
	virDomainPtr dom;
	int lifecycle_cb; /* -1: none */
	atomic_bool ended;
	/* The owner's reference and one per registered callback: libvirt
	 * drops a callback's (domain_unref) once it can no longer run. */
	atomic_int refs;
	char name[sizeof(VMM_LIBVIRT_PREFIX) + 64];
};

/* libvirt's functions, loaded by the first vmm_libvirt_start. */
static const struct libvirt_api *lv;

static pthread_once_t events_once = PTHREAD_ONCE_INIT;
static int events_rc;

static void *event_loop(void *arg)
{
	(void)arg;
	for (;;)
		lv->virEventRunDefaultImpl();
	return NULL;
}

/* libvirt's default event loop, run by a thread of its own for the life of
 * the process (it blocks every signal: the process's signalfd gets them). */
static void events_init(void)
{
	if (lv->virEventRegisterDefaultImpl() < 0) {
		events_rc = -EIO;
		return;
	}
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t t;
	events_rc = -pthread_create(&t, NULL, event_loop, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (events_rc == 0)
		pthread_detach(t);
}

static void domain_unref(void *opaque)
{
	struct vmm_domain *d = opaque;
	if (atomic_fetch_sub(&d->refs, 1) == 1)
		free(d);
}

static void mark_ended(struct vmm_domain *d)
{
	if (!atomic_exchange(&d->ended, true))
		kill(getpid(), SIGCHLD); /* the monitor's SIGCHLD handler asks vmm_libvirt_ended */
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	(void)conn;
	(void)dom;
	(void)detail;
	if (event == VIR_DOMAIN_EVENT_STOPPED || event == VIR_DOMAIN_EVENT_CRASHED ||
	    event == VIR_DOMAIN_EVENT_UNDEFINED)
		mark_ended(opaque);
	return 0;
}

/* libvirtd went away: the domain went with it (autodestroy) or is out of reach. */
static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	(void)conn;
	(void)reason;
	mark_ended(opaque);
}

static int libvirt_error(struct capsid_error *err, const char *what, const char *uri)
{
	const char *msg = lv->virGetLastErrorMessage();
	return capsid_error_set(err, EIO, "libvirt (%s): %s: %s", uri, what, msg ? msg : "unknown error");
}

/* libvirt prints every error to stderr unless told otherwise: they come back in capsid_error. */
static void quiet_errors(void *ud, virErrorPtr e)
{
	(void)ud;
	(void)e;
}

/* A definition of our name that is not running: left by a process that
 * died between define and undefine (create_domain). */
static void drop_stale_definition(struct vmm_domain *d)
{
	virDomainPtr old = lv->virDomainLookupByName(d->conn, d->name);
	if (!old)
		return;
	if (lv->virDomainIsActive(old) == 0 && lv->virDomainIsPersistent(old) == 1) {
		_cleanup_free_ char *meta =
		    lv->virDomainGetMetadata(old, VIR_DOMAIN_METADATA_ELEMENT, VMM_LIBVIRT_XMLNS, 0);
		if (meta)
			lv->virDomainUndefine(old);
	}
	lv->virDomainFree(old);
}

/* Define, hand over the disks' descriptors, start tied to the connection
 * (AUTODESTROY: the domain ends with this process, however it ends),
 * undefine: a transient domain with disks QEMU did not open itself. */
static int create_domain(struct vmm_domain *d, const char *xml, const struct vmm_config *cfg, const char *uri,
			 struct capsid_error *err)
{
	int fds[VMM_MAX_DISKS];
	size_t n_fds = 0;
	int rc = 0;
	for (; n_fds < cfg->n_disks; n_fds++) {
		const struct vmm_disk *disk = &cfg->disks[n_fds];
		fds[n_fds] = open(disk->path, (disk->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (fds[n_fds] < 0) {
			rc = capsid_error_errno(err, errno, "open %s", disk->path);
			goto out;
		}
	}
	drop_stale_definition(d);
	d->dom = lv->virDomainDefineXML(d->conn, xml);
	if (!d->dom) {
		rc = libvirt_error(err, "define domain", uri);
		goto out;
	}
	for (size_t i = 0; i < n_fds && rc == 0; i++) {
		char group[32];
		snprintf(group, sizeof(group), VMM_LIBVIRT_DISK_FDGROUP, i);
		unsigned flags = cfg->disks[i].readonly ? 0 : VIR_DOMAIN_FD_ASSOCIATE_SECLABEL_WRITABLE;
		if (lv->virDomainFDAssociate(d->dom, group, 1, &fds[i], flags) < 0)
			rc = libvirt_error(err, "pass a disk", uri);
	}
	if (rc == 0 && lv->virDomainCreateWithFlags(d->dom, VIR_DOMAIN_START_AUTODESTROY) < 0)
		rc = libvirt_error(err, "start domain", uri);
	/* Running, it stays as a transient domain; else nothing is left. */
	if (lv->virDomainUndefine(d->dom) < 0 && rc == 0)
		rc = libvirt_error(err, "undefine domain", uri);
out:
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	return rc;
}

int vmm_libvirt_start(const char *uri, const struct vmm_config *cfg, const struct vmm_libvirt_meta *meta,
		      struct vmm_domain **out, struct capsid_error *err)
{
	if (!uri || !*uri)
		uri = VMM_LIBVIRT_DEFAULT_URI;
	_cleanup_free_ char *xml = NULL;
	int rc = vmm_libvirt_xml(cfg, meta, &xml, err);
	if (rc < 0)
		return rc;
	rc = libvirt_load(&lv, err);
	if (rc < 0)
		return rc;
	lv->virSetErrorFunc(NULL, quiet_errors);
	pthread_once(&events_once, events_init);
	if (events_rc < 0)
		return capsid_error_errno(err, -events_rc, "libvirt: cannot start its event loop");
	struct vmm_domain *d = calloc(1, sizeof(*d));
	if (!d)
		return capsid_error_errno(err, ENOMEM, "libvirt");
	d->lifecycle_cb = -1;
	atomic_init(&d->refs, 1);
	snprintf(d->name, sizeof(d->name), VMM_LIBVIRT_PREFIX "%s", meta->group);
	d->conn = lv->virConnectOpen(uri);
	if (!d->conn) {
		rc = libvirt_error(err, "connect", uri);
		free(d);
		return rc;
	}
	/* A dead libvirtd is noticed within 15 s even when no event says so. */
	lv->virConnectSetKeepAlive(d->conn, 5, 3);
	atomic_fetch_add(&d->refs, 1);
	if (lv->virConnectRegisterCloseCallback(d->conn, on_close, d, domain_unref) < 0)
		atomic_fetch_sub(&d->refs, 1);
	rc = create_domain(d, xml, cfg, uri, err);
	if (rc < 0) {
		vmm_libvirt_close(d);
		return rc;
	}
	atomic_fetch_add(&d->refs, 1);
	d->lifecycle_cb =
	    lv->virConnectDomainEventRegisterAny(d->conn, d->dom, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
						 VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), d, domain_unref);
	if (d->lifecycle_cb < 0) {
		atomic_fetch_sub(&d->refs, 1);
		rc = libvirt_error(err, "watch domain", uri);
		vmm_libvirt_close(d);
		return rc;
	}
	/* It may have ended before the callback was in place. */
	int state = 0, reason = 0;
	if (lv->virDomainGetState(d->dom, &state, &reason, 0) < 0 || state == VIR_DOMAIN_SHUTOFF ||
	    state == VIR_DOMAIN_CRASHED)
		mark_ended(d);
	*out = d;
	return 0;
}

bool vmm_libvirt_ended(const struct vmm_domain *d)
{
	return !d || atomic_load(&d->ended);
}

const char *vmm_libvirt_name(const struct vmm_domain *d)
{
	return d ? d->name : "";
}

/* A QEMU started by libvirt is named on its command line: -name guest=NAME,... */
pid_t vmm_libvirt_qemu_pid(const struct vmm_domain *d)
{
	if (!d)
		return 0;
	char want[sizeof(d->name) + 16];
	int wn = snprintf(want, sizeof(want), "guest=%s,", d->name);
	DIR *proc = opendir("/proc");
	if (!proc)
		return 0;
	pid_t found = 0;
	struct dirent *e;
	while (!found && (e = readdir(proc))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
		_cleanup_free_ char *cmd = NULL;
		size_t len = 0;
		if (util_read_file_at(AT_FDCWD, path, 64 * 1024, &cmd, &len) < 0)
			continue;
		for (size_t i = 0; !found && i + 1 < len; i += strlen(cmd + i) + 1)
			if (strcmp(cmd + i, "-name") == 0 && i + 6 < len &&
			    strncmp(cmd + i + 6, want, (size_t)wn) == 0)
				found = (pid_t)pid;
	}
	closedir(proc);
	return found;
}

void vmm_libvirt_close(struct vmm_domain *d)
{
	if (!d)
		return;
	if (d->lifecycle_cb >= 0)
		lv->virConnectDomainEventDeregisterAny(d->conn, d->lifecycle_cb);
	if (d->dom) {
		int state = 0, reason = 0;
		if (lv->virDomainGetState(d->dom, &state, &reason, 0) == 0 && state != VIR_DOMAIN_SHUTOFF)
			lv->virDomainDestroy(d->dom);
		lv->virDomainFree(d->dom);
	}
	if (d->conn) {
		lv->virConnectUnregisterCloseCallback(d->conn, on_close);
		lv->virConnectClose(d->conn);
	}
	domain_unref(d);
}
