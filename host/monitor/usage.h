/* Usage records (per-second metering): <root>/usage/<group>.log, one JSON
 * line per period a group's VM was allocated,
 *   {"group","startMs","endMs","vcpus","memoryMiB"}
 * (Unix ms, [start, end)). Written by the monitor each second and by the
 * creating CLI for the time before its monitor (image pulls); each line is
 * one write(2) followed by fdatasync. Read by `capsid usage`. */
#ifndef CAPSID_USAGE_H
#define CAPSID_USAGE_H

#include <stddef.h>
#include <stdint.h>

#define USAGE_LINE_MAX 512

int usage_log_path(const char *root, const char *group, char *out, size_t len);
/* Open (creating it and <root>/usage) for appending; fd or -errno. */
int usage_open(const char *path);
int usage_append(int fd, const char *group, uint64_t start_ms, uint64_t end_ms, unsigned vcpus, unsigned memory_mib);

struct usage_record {
	char group[64];
	uint64_t start_ms, end_ms;
	unsigned vcpus, memory_mib;
};
/* Every well-formed record of every log under root, in no particular
 * order; malformed lines are skipped. 0, or -errno when the directory
 * cannot be read (no directory: 0, no record). */
int usage_read_all(const char *root, void (*fn)(const struct usage_record *r, void *ud), void *ud);

#endif
