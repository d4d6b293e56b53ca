/* The monitor's libvirt backend: the group's VM as a transient libvirt
 * domain (vmm_libvirt.h) in place of a QEMU child. Everything else (the
 * agent channel, the taps, the disks, the state machine) is the same: the
 * domain listens on the group's agent socket and writes its console.log.
 * capsid's jail (monitor_jail.c) does not apply: libvirt confines the QEMU
 * it runs its own way (docs/ARCHITECTURE.md, "The libvirt backend"). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>

#include "monitor.h"
#include "vmm_libvirt.h"

int monitor_libvirt_boot(struct monitor *m, const struct vmm_config *cfg, struct capsid_error *err)
{
	struct vmm_libvirt_meta meta = {.group = m->paths->name, .root = m->paths->root};
	int rc = vmm_libvirt_start(m->opts->libvirt_uri, cfg, &meta, &m->vm.domain, err);
	if (rc < 0)
		return rc;
	/* Shown (capsid show's qemuPid) and used to release QEMU's copies of
	 * the boot files; never waited for: it is libvirtd's child. */
	m->vm.qemu_pid = vmm_libvirt_qemu_pid(m->vm.domain);
	monitor_log(m, "libvirt domain %s started (%s)", vmm_libvirt_name(m->vm.domain),
		    m->opts->libvirt_uri ? m->opts->libvirt_uri : VMM_LIBVIRT_DEFAULT_URI);
	return 0;
}

bool monitor_libvirt_ended(struct monitor *m)
{
	if (!m->vm.domain || !vmm_libvirt_ended(m->vm.domain))
		return false;
	monitor_log(m, "libvirt domain %s ended", vmm_libvirt_name(m->vm.domain));
	monitor_libvirt_end(m);
	return true;
}

void monitor_libvirt_end(struct monitor *m)
{
	if (!m->vm.domain)
		return;
	vmm_libvirt_close(m->vm.domain);
	m->vm.domain = NULL;
	m->vm.qemu_pid = 0;
}

void monitor_libvirt_describe(struct monitor *m, struct json_object *ext)
{
	char name[sizeof(VMM_LIBVIRT_PREFIX) + 64];
	snprintf(name, sizeof(name), VMM_LIBVIRT_PREFIX "%s", m->paths->name);
	json_object_object_add(
	    ext, "libvirtUri",
	    json_object_new_string(m->opts->libvirt_uri ? m->opts->libvirt_uri : VMM_LIBVIRT_DEFAULT_URI));
	json_object_object_add(ext, "domain", json_object_new_string(name));
}
