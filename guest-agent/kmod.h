/* Kernel module loading without kmod: the image build resolved the
 * dependencies and wrote the order into lists in /lib/modules (one file
 * name per line); the agent feeds each file to finit_module().
 *   load-order       loaded at boot (virtio, overlay, erofs)
 *   load-order-cifs  SMB client and its crypto, ~0.4 s under TCG: load it
 *                    with kmod_load_list(a, KMOD_DIR, KMOD_LIST_CIFS) before
 *                    the first cifs mount. */
#ifndef AGENT_KMOD_H
#define AGENT_KMOD_H

struct agent;

#define KMOD_DIR       "/lib/modules"
#define KMOD_LIST_BOOT "load-order"
#define KMOD_LIST_CIFS "load-order-cifs"

/* Load every module listed in dir/list. Returns the number loaded
 * (already-loaded ones count), or -errno when the list cannot be read.
 * A module that fails is logged and skipped: the device it drives will be
 * missing, and whoever needs that device reports it. */
int kmod_load_list(struct agent *a, const char *dir, const char *list);

#endif
