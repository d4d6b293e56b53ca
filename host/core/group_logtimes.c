/* One container's log records with their times (capsidd's
 * logs?timestamps=true): what capsid_group_logs replays, plus each
 * record's RFC 3339 time. */
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>

#include "capsid.h"
#include "group.h"
#include "logfile.h"

struct record_relay {
	capsid_log_record_fn fn;
	void *ud;
};

static void relay_record(const struct log_record *rec, void *userdata)
{
	struct record_relay *r = userdata;
	r->fn(r->ud, rec->time, rec->stream == LOG_STDERR, rec->partial, rec->content, rec->len);
}

int capsid_group_log_records(const struct capsid_config *cfg, const char *name, const char *container,
			     long tail, capsid_log_record_fn fn, void *ud, struct capsid_error *err)
{
	struct group_paths p;
	int rc = group_paths_init(cfg->root, name, &p, err);
	if (rc < 0)
		return rc;
	struct stat st;
	if (stat(p.dir, &st) < 0)
		return capsid_error_set(err, ENOENT, "group %s not found", p.name);
	char path[PATH_MAX];
	if (group_log_path(&p, container, path, sizeof(path)) < 0)
		return capsid_error_set(err, EINVAL, "group %s: container name %s", p.name, container);
	struct record_relay r = {fn, ud};
	if (log_read_file(path, tail, relay_record, &r) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	return 0;
}
