/* The libvirt backend's domain XML (vmm/libvirt_xml.c): what the monitor
 * hands libvirt, checked without a libvirtd (integration.libvirt boots it). */
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "vmm_libvirt.h"

static struct vmm_config base(void)
{
	struct vmm_config c = {
	    .kernel = "/g/vmlinuz",
	    .initrd = "/g/initrd.img",
	    .cmdline = "console=ttyS0 quiet",
	    .vcpus = 1,
	    .memory_mib = 384,
	    .accel = VMM_ACCEL_TCG,
	    .tsc_khz = 2000000,
	    .no_acpi = true,
	    .memfd_ram = true,
	    .free_page_reporting = true,
	    .agent_socket = "/r/groups/g/agent.sock",
	    .qmp_socket = "/r/groups/g/qmp.sock",
	    .console_log = "/r/groups/g/console.log",
	    .disks = {{.path = "/r/images/a&b.erofs", .serial = "img0", .format = "raw", .readonly = true}},
	    .n_disks = 1,
	    .nics = {{.tap = "cs0tap", .mac = "52:54:00:00:00:01"}},
	    .n_nics = 1,
	};
	return c;
}

static void test_xml(void)
{
	struct vmm_config c = base();
	struct vmm_libvirt_meta meta = {.group = "web", .root = "/r"};
	struct capsid_error err = {0};
	char *xml = NULL;
	CHECK(vmm_libvirt_xml(&c, &meta, &xml, &err) == 0);
	CHECK_STR_CONTAINS(xml, "<domain type='qemu'>");
	CHECK_STR_CONTAINS(xml, "<name>capsid-web</name>");
	CHECK_STR_CONTAINS(xml, "<name>web</name><root>/r</root>");
	CHECK_STR_CONTAINS(xml, "machine='microvm'");
	CHECK_STR_CONTAINS(xml, "<cpu mode='maximum'/>");
	CHECK_STR_CONTAINS(xml, "<memory unit='MiB'>384</memory>");
	CHECK_STR_CONTAINS(xml, "<memoryBacking><source type='memfd'/><nosharepages/></memoryBacking>");
	/* the same kernel command line as direct QEMU, TCG's additions included */
	CHECK_STR_CONTAINS(
	    xml, "<cmdline>console=ttyS0 quiet tsc=reliable tsc_early_khz=2000000 reboot=t</cmdline>");
	CHECK_STR_CONTAINS(xml, "<controller type='usb' model='none'/>");
	CHECK_STR_CONTAINS(xml, "<source mode='bind' path='/r/groups/g/agent.sock'/>");
	CHECK_STR_CONTAINS(xml, "name='org.capsid.agent'");
	CHECK_STR_CONTAINS(xml, "<source file='/r/images/a&amp;b.erofs' fdgroup='disk0'/>");
	CHECK_STR_CONTAINS(xml, "<serial>img0</serial><readonly/><address type='virtio-mmio'/>");
	CHECK_STR_CONTAINS(xml, "<target dev='cs0tap' managed='no'/>");
	CHECK_STR_CONTAINS(xml, "<model type='virtio'/><address type='virtio-mmio'/></interface>");
	CHECK(strstr(xml, "&lt;") == NULL); /* markup is never escaped as data */
	CHECK_STR_CONTAINS(xml, "freePageReporting='on'");
	CHECK_STR_CONTAINS(xml, "<on_reboot>destroy</on_reboot>");
	/* nothing that needs a PCI bus: every virtio device on virtio-mmio */
	CHECK(strstr(xml, "type='pci'") == NULL);
	free(xml);

	c.accel = VMM_ACCEL_KVM;
	xml = NULL;
	CHECK(vmm_libvirt_xml(&c, &meta, &xml, &err) == 0);
	CHECK_STR_CONTAINS(xml, "<domain type='kvm'>");
	CHECK_STR_CONTAINS(xml, "<cpu mode='host-passthrough'/>");
	free(xml);
}

static void test_refused(void)
{
	struct vmm_libvirt_meta meta = {.group = "web", .root = "/r"};
	struct capsid_error err = {0};
	char *xml = NULL;
	struct vmm_config c = base();
	c.kernel = "relative/vmlinuz";
	CHECK(vmm_libvirt_xml(&c, &meta, &xml, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "absolute");
	c = base();
	c.accel = VMM_ACCEL_AUTO;
	CHECK(vmm_libvirt_xml(&c, &meta, &xml, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "accelerator");
	c = base();
	c.ram_file = "/r/tpl/ram";
	CHECK(vmm_libvirt_xml(&c, &meta, &xml, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "warm start");
	c = base();
	struct vmm_libvirt_meta nameless = {.group = "", .root = "/r"};
	CHECK(vmm_libvirt_xml(&c, &nameless, &xml, &err) < 0);
	CHECK(xml == NULL);
}

int main(int argc, char **argv)
{
	/* `test_vmm_libvirt --print` shows the XML of the test's config. */
	if (argc > 1 && strcmp(argv[1], "--print") == 0) {
		struct vmm_config c = base();
		struct vmm_libvirt_meta meta = {.group = "web", .root = "/r"};
		struct capsid_error err = {0};
		char *xml = NULL;
		if (vmm_libvirt_xml(&c, &meta, &xml, &err) < 0)
			return 1;
		fputs(xml, stdout);
		free(xml);
		return 0;
	}
	RUN_TEST(test_xml);
	RUN_TEST(test_refused);
	TEST_EXIT();
}
