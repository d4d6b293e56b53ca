/* The libvirt domain XML of a vmm_config: the same machine vmm/qemu.c
 * starts by hand. libvirt 9.0 accepts microvm when nothing asks for a PCI
 * bus: no USB controller, every virtio device on a virtio-mmio address
 * (measured: a default domain fails with "No PCI buses available"). Pure:
 * no I/O. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "proto.h"
#include "vmm_internal.h"
#include "vmm_libvirt.h"

/* s as XML character data or attribute value (either quote). */
static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

/* fmt with %s replaced by the escaped string of each argument in turn (only %s). */
static void put(FILE *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	for (const char *p = fmt; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			put_escaped(f, va_arg(ap, const char *));
			p++;
		} else {
			fputc(*p, f);
		}
	}
	va_end(ap);
}

static bool valid_path(const char *s)
{
	return s && s[0] == '/' && strlen(s) < 4096;
}

static void put_devices(FILE *f, const struct vmm_config *cfg)
{
	static const char mmio[] = "<address type='virtio-mmio'/>";
	fputs("  <devices>\n", f);
	if (cfg->qemu)
		put(f, "    <emulator>%s</emulator>\n", cfg->qemu);
	fputs("    <controller type='usb' model='none'/>\n", f);
	fprintf(f, "    <controller type='virtio-serial' index='0'>%s</controller>\n", mmio);
	if (cfg->console_log)
		put(f,
		    "    <serial type='file'><source path='%s' append='on'/><target type='isa-serial' "
		    "port='0'/>"
		    "</serial>\n",
		    cfg->console_log);
	/* libvirt makes the listening socket and hands it to QEMU, as capsid's jail does. */
	put(f,
	    "    <channel type='unix'><source mode='bind' path='%s'/><target type='virtio' "
	    "name='%s'/></channel>\n",
	    cfg->agent_socket, CAPSID_AGENT_PORT_NAME);
	for (size_t i = 0; i < cfg->n_disks; i++) {
		const struct vmm_disk *d = &cfg->disks[i];
		char dev[8];
		snprintf(dev, sizeof(dev), "vd%c", (char)('a' + i));
		put(f,
		    "    <disk type='file' device='disk'><driver name='qemu' type='%s' cache='none' "
		    "io='threads'/>",
		    d->format ? d->format : "raw");
		/* QEMU gets the disk as the descriptor the monitor opened
		 * (fdgroup, vmm_libvirt_start): libvirt's QEMU user need not
		 * reach the state root, whose directories are root's. */
		put(f, "<source file='%s' fdgroup='", d->path);
		fprintf(f, VMM_LIBVIRT_DISK_FDGROUP "'/>", i);
		put(f, "<target dev='%s' bus='virtio'/><serial>%s</serial>", dev, d->serial);
		fprintf(f, "%s%s</disk>\n", d->readonly ? "<readonly/>" : "", mmio);
	}
	for (size_t i = 0; i < cfg->n_nics; i++) {
		/* The tap capsid made (net_attach.c): libvirt opens it and leaves it be. */
		put(f, "    <interface type='ethernet'><target dev='%s' managed='no'/><mac address='%s'/>",
		    cfg->nics[i].tap, cfg->nics[i].mac);
		fprintf(f, "<model type='virtio'/>%s</interface>\n", mmio);
	}
	if (cfg->free_page_reporting)
		fprintf(f, "    <memballoon model='virtio' freePageReporting='on'>%s</memballoon>\n", mmio);
	else
		fputs("    <memballoon model='none'/>\n", f);
	fputs("  </devices>\n", f);
}

int vmm_libvirt_xml(const struct vmm_config *cfg, const struct vmm_libvirt_meta *meta, char **out,
		    struct capsid_error *err)
{
	if (!valid_path(cfg->kernel) || !valid_path(cfg->initrd) || !valid_path(cfg->agent_socket) ||
	    (cfg->console_log && !valid_path(cfg->console_log)))
		return capsid_error_set(err, EINVAL,
					"vm config: kernel, initrd and agent socket must be absolute paths");
	if (!meta || !meta->group || !*meta->group || strlen(meta->group) > 63 || !meta->root)
		return capsid_error_set(err, EINVAL,
					"vm config: the domain needs its group's name and state root");
	if (cfg->vcpus == 0 || cfg->vcpus > 64)
		return capsid_error_set(err, EINVAL, "vm config: vcpus %u out of range 1..64", cfg->vcpus);
	if (cfg->memory_mib < 64 || cfg->memory_mib > 262144)
		return capsid_error_set(err, EINVAL, "vm config: memory %u MiB out of range",
					cfg->memory_mib);
	if (cfg->accel != VMM_ACCEL_KVM && cfg->accel != VMM_ACCEL_TCG)
		return capsid_error_set(err, EINVAL, "vm config: accelerator must be resolved to kvm or tcg");
	if (cfg->n_disks > VMM_MAX_DISKS || cfg->n_nics > VMM_MAX_NICS)
		return capsid_error_set(err, E2BIG, "vm config: too many devices");
	if (cfg->ram_file || cfg->incoming)
		return capsid_error_set(err, ENOTSUP, "vm config: warm start is not available with libvirt");
	for (size_t i = 0; i < cfg->n_disks; i++)
		if (!valid_path(cfg->disks[i].path) || !cfg->disks[i].serial || !*cfg->disks[i].serial ||
		    strlen(cfg->disks[i].serial) > 20)
			return capsid_error_set(err, EINVAL, "vm config: disk %zu: invalid path or serial",
						i);
	for (size_t i = 0; i < cfg->n_nics; i++)
		if (!cfg->nics[i].tap || !*cfg->nics[i].tap || !cfg->nics[i].mac)
			return capsid_error_set(err, EINVAL, "vm config: nic %zu: invalid tap name or MAC",
						i);
	char cmdline[1024];
	if (vmm_guest_cmdline(cfg, cmdline, sizeof(cmdline)) < 0)
		return capsid_error_set(err, E2BIG, "vm config: kernel command line too long");

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return capsid_error_errno(err, errno, "domain XML");
	bool kvm = cfg->accel == VMM_ACCEL_KVM;
	fprintf(f, "<domain type='%s'>\n", kvm ? "kvm" : "qemu");
	put(f, "  <name>" VMM_LIBVIRT_PREFIX "%s</name>\n", meta->group);
	put(f, "  <title>capsid group %s</title>\n", meta->group);
	put(f,
	    "  <metadata><capsid:group xmlns:capsid='" VMM_LIBVIRT_XMLNS "'><name>%s</name><root>%s</root>"
	    "</capsid:group></metadata>\n",
	    meta->group, meta->root);
	fprintf(f, "  <memory unit='MiB'>%u</memory>\n  <vcpu>%u</vcpu>\n", cfg->memory_mib, cfg->vcpus);
	/* A memfd: an idle guest costs the 4 KiB pages it touched (vmm.h, memfd_ram). */
	/* nosharepages: mem-merge=off, as qemu.c (vmm.h, mem_merge). */
	if (cfg->memfd_ram || !cfg->mem_merge)
		fprintf(f, "  <memoryBacking>%s%s</memoryBacking>\n",
			cfg->memfd_ram ? "<source type='memfd'/>" : "",
			cfg->mem_merge ? "" : "<nosharepages/>");
	fputs("  <os>\n    <type arch='x86_64' machine='microvm'>hvm</type>\n", f);
	put(f, "    <kernel>%s</kernel>\n    <initrd>%s</initrd>\n    <cmdline>%s</cmdline>\n  </os>\n",
	    cfg->kernel, cfg->initrd, cmdline);
	fprintf(f, "  <cpu mode='%s'/>\n", kvm ? "host-passthrough" : "maximum");
	if (!kvm && cfg->tb_size_mib)
		fprintf(f, "  <features><tcg><tb-cache unit='MiB'>%u</tb-cache></tcg></features>\n",
			cfg->tb_size_mib);
	/* The agent's power-off (a reset without ACPI: reboot=t) ends the domain, as -no-reboot ends QEMU. */
	fputs("  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n"
	      "  <on_crash>destroy</on_crash>\n",
	      f);
	put_devices(f, cfg);
	fputs("</domain>\n", f);
	if (fclose(f) != 0) {
		free(buf);
		return capsid_error_errno(err, ENOMEM, "domain XML");
	}
	*out = buf;
	return 0;
}
