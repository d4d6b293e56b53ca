/* The monitor's least privilege (docs/ARCHITECTURE.md "What runs as which
 * user"): a group's monitor and warm start's standby stay uid 0 (the state
 * root is root's) but keep only the capabilities their work needs, in the
 * effective, permitted and bounding sets alike, none inheritable or
 * ambient, and no_new_privs (common/caps.c), from right after their
 * arguments are read. What they start (QEMU, the DNS responder, the SMB
 * service, git and mkfs.erofs, a standby) holds no more than that.
 *
 * Each capability kept and why:
 *   CAP_NET_ADMIN         taps and bridges (netlink), the nftables tables,
 *                         TUNSETIFF on a persistent tap for the jail;
 *   CAP_SYS_ADMIN         the jail: clone3 into new namespaces, mounts,
 *                         pivot_root, the cgroup namespace;
 *   CAP_SETUID, CAP_SETGID, CAP_SETPCAP
 *                         the jail's child takes the VMM's uid and gid and
 *                         empties its bounding set;
 *   CAP_MKNOD             the jail's private /dev;
 *   CAP_CHOWN             warm start RAM files given to the shared gid;
 *   CAP_KILL              stopping a QEMU that runs as another uid;
 *   CAP_SYS_PTRACE, CAP_SYS_NICE
 *                         process_madvise on a QEMU of another uid
 *                         (handing its boot files' pages back);
 *   CAP_NET_BIND_SERVICE  the DNS responder (53) and smbd (445), which a
 *                         monitor starts on demand;
 *   CAP_DAC_OVERRIDE      smbd, which a monitor starts on demand: without
 *                         it smbd cannot enter a share it serves as its
 *                         account's user ("canonicalize_connect_path
 *                         failed", the guest's mount fails).
 * Each follows from the calls that need it; the set was then run through
 * the lifecycle, network, volume, warm start, standby and jail tests,
 * which is how CAP_DAC_OVERRIDE was found missing. Every other capability
 * is dropped: among them
 * modules, raw I/O, raw sockets, reading any file (DAC_READ_SEARCH), the
 * clock, reboot, BPF, perf, audit, MAC, immutable files, file capabilities,
 * resource limits, chroot. The DNS responder narrows itself further
 * (cmd_network.c: CAP_NET_BIND_SERVICE only). */
#include <linux/capability.h>

#include "caps.h"
#include "monitor.h"

uint64_t monitor_caps_kept(void)
{
	return CAPS_BIT(CAP_NET_ADMIN) | CAPS_BIT(CAP_SYS_ADMIN) | CAPS_BIT(CAP_SETUID) |
	       CAPS_BIT(CAP_SETGID) | CAPS_BIT(CAP_SETPCAP) | CAPS_BIT(CAP_MKNOD) | CAPS_BIT(CAP_CHOWN) |
	       CAPS_BIT(CAP_KILL) | CAPS_BIT(CAP_SYS_PTRACE) | CAPS_BIT(CAP_SYS_NICE) |
	       CAPS_BIT(CAP_NET_BIND_SERVICE) | CAPS_BIT(CAP_DAC_OVERRIDE);
}

int monitor_caps_drop(struct capsid_error *err)
{
	return caps_limit(monitor_caps_kept(), err);
}
