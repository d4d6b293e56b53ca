/* Capabilities a root process keeps (common/caps.c): each long-lived host
 * process drops what it does not need at its start (docs/ARCHITECTURE.md
 * "What runs as which user"). */
#ifndef CAPSID_CAPS_H
#define CAPSID_CAPS_H

#include <stdint.h>

#include "error.h"

#define CAPS_BIT(c) (UINT64_C(1) << (c))

/* Keep only `keep` (a mask of CAPS_BIT(CAP_...)) of what this process
 * holds: in the effective, permitted and bounding sets; the inheritable
 * and ambient sets emptied; then no_new_privs, so nothing it executes
 * regains more. A process without CAP_SETPCAP (not root) only narrows
 * its effective and permitted sets. */
int caps_limit(uint64_t keep, struct capsid_error *err);

#endif
