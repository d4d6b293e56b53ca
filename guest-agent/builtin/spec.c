#include "spec.h"

#include <errno.h>
#include <json-c/json.h>
#include <linux/capability.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>

#include "cleanup.h"

static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

const char *builtin_spec_cap_name(int n)
{
	return n >= 0 && (size_t)n < ARRAY_SIZE(cap_names) ? cap_names[n] : NULL;
}

int builtin_spec_cap_number(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
		if (strcmp(cap_names[i], name) == 0)
			return (int)i;
	return -1;
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},		  {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},	  {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},	  {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},	  {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},	  {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},	  {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},	  {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

static const struct {
	const char *name;
	unsigned long set, clear;
} mount_flags[] = {
    {"ro", MS_RDONLY, 0},
    {"rw", 0, MS_RDONLY},
    {"nosuid", MS_NOSUID, 0},
    {"suid", 0, MS_NOSUID},
    {"nodev", MS_NODEV, 0},
    {"dev", 0, MS_NODEV},
    {"noexec", MS_NOEXEC, 0},
    {"exec", 0, MS_NOEXEC},
    {"sync", MS_SYNCHRONOUS, 0},
    {"async", 0, MS_SYNCHRONOUS},
    {"dirsync", MS_DIRSYNC, 0},
    {"noatime", MS_NOATIME, 0},
    {"atime", 0, MS_NOATIME},
    {"nodiratime", MS_NODIRATIME, 0},
    {"diratime", 0, MS_NODIRATIME},
    {"relatime", MS_RELATIME, 0},
    {"norelatime", 0, MS_RELATIME},
    {"strictatime", MS_STRICTATIME, 0},
    {"nostrictatime", 0, MS_STRICTATIME},
};

static const struct {
	const char *name;
	unsigned long flags;
} propagations[] = {
    {"private", MS_PRIVATE},	   {"rprivate", MS_PRIVATE | MS_REC},
    {"slave", MS_SLAVE},	   {"rslave", MS_SLAVE | MS_REC},
    {"shared", MS_SHARED},	   {"rshared", MS_SHARED | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

static struct json_object *member(struct json_object *o, const char *key, enum json_type type)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

static int get_string(struct json_object *o, const char *key, bool required, const char **out,
		      const char *field, struct capsid_error *err)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			return capsid_error_set(err, EINVAL, "%s.%s: required", field, key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return capsid_error_set(err, EINVAL, "%s.%s: must be a string", field, key);
	*out = json_object_get_string(v);
	return 0;
}

static int get_id(struct json_object *o, const char *key, uint32_t *out, const char *field,
		  struct capsid_error *err)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return capsid_error_set(err, EINVAL, "%s.%s: required integer", field, key);
	int64_t x = json_object_get_int64(v);
	if (x < 0 || x > UINT32_MAX - 1)
		return capsid_error_set(err, EINVAL, "%s.%s: out of range", field, key);
	*out = (uint32_t)x;
	return 0;
}

/* A string array into a NULL-terminated vector of at most max entries. */
static int get_strings(struct json_object *o, const char *key, const char **out, size_t max, size_t *n_out,
		       const char *field, struct capsid_error *err)
{
	struct json_object *arr = member(o, key, json_type_array);
	size_t n = arr ? json_object_array_length(arr) : 0;
	if (n > max)
		return capsid_error_set(err, E2BIG, "%s.%s: more than %zu entries", field, key, max);
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(s, json_type_string))
			return capsid_error_set(err, EINVAL, "%s.%s[%zu]: must be a string", field, key, i);
		out[i] = json_object_get_string(s);
	}
	out[n] = NULL;
	if (n_out)
		*n_out = n;
	return 0;
}

static int parse_caps(struct json_object *caps, uint64_t out[BUILTIN_SPEC_NCAPSETS], struct capsid_error *err)
{
	static const char *const sets[BUILTIN_SPEC_NCAPSETS] = {"bounding", "effective", "permitted",
								"inheritable", "ambient"};
	for (int s = 0; s < BUILTIN_SPEC_NCAPSETS; s++) {
		out[s] = 0;
		struct json_object *arr = member(caps, sets[s], json_type_array);
		for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
			const char *name = json_object_get_string(json_object_array_get_idx(arr, i));
			int c = name ? builtin_spec_cap_number(name) : -1;
			if (c < 0)
				return capsid_error_set(
				    err, EINVAL, "process.capabilities.%s[%zu]: unknown capability %.40s",
				    sets[s], i, name ? name : "(not a string)");
			out[s] |= UINT64_C(1) << c;
		}
	}
	return 0;
}

static int parse_rlimits(struct json_object *arr, struct builtin_spec_process *p, struct capsid_error *err)
{
	size_t n = arr ? json_object_array_length(arr) : 0;
	if (n > BUILTIN_SPEC_MAX_RLIMITS)
		return capsid_error_set(err, E2BIG, "process.rlimits: too many");
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(arr, i), *soft, *hard;
		const char *type = NULL;
		if (get_string(r, "type", true, &type, "process.rlimits[]", err) < 0)
			return -EINVAL;
		int res = -1;
		for (size_t k = 0; k < ARRAY_SIZE(rlimit_names); k++)
			if (strcmp(rlimit_names[k].name, type) == 0)
				res = rlimit_names[k].resource;
		if (res < 0)
			return capsid_error_set(err, EINVAL, "process.rlimits[%zu].type: unknown %.40s", i,
						type);
		if (!json_object_object_get_ex(r, "soft", &soft) ||
		    !json_object_object_get_ex(r, "hard", &hard) ||
		    !json_object_is_type(soft, json_type_int) || !json_object_is_type(hard, json_type_int))
			return capsid_error_set(err, EINVAL,
						"process.rlimits[%zu]: soft and hard are required", i);
		p->rlimits[i].resource = res;
		p->rlimits[i].limit.rlim_cur = (rlim_t)json_object_get_uint64(soft);
		p->rlimits[i].limit.rlim_max = (rlim_t)json_object_get_uint64(hard);
	}
	p->n_rlimits = n;
	return 0;
}

int builtin_spec_parse_process(struct json_object *doc, struct builtin_spec_process *p,
			       struct capsid_error *err)
{
	*p = (struct builtin_spec_process){0};
	if (!json_object_is_type(doc, json_type_object))
		return capsid_error_set(err, EINVAL, "process: must be an object");
	struct json_object *v;
	if ((v = member(doc, "terminal", json_type_boolean)))
		p->terminal = json_object_get_boolean(v);
	struct json_object *size = member(doc, "consoleSize", json_type_object);
	if (size) {
		if ((v = member(size, "height", json_type_int)))
			p->rows = (unsigned)json_object_get_int(v) & 0xffff;
		if ((v = member(size, "width", json_type_int)))
			p->cols = (unsigned)json_object_get_int(v) & 0xffff;
	}
	struct json_object *user = member(doc, "user", json_type_object);
	if (!user)
		return capsid_error_set(err, EINVAL, "process.user: required");
	uint32_t uid, gid;
	if (get_id(user, "uid", &uid, "process.user", err) < 0 ||
	    get_id(user, "gid", &gid, "process.user", err) < 0)
		return -EINVAL;
	p->uid = uid;
	p->gid = gid;
	struct json_object *groups = member(user, "additionalGids", json_type_array);
	size_t ng = groups ? json_object_array_length(groups) : 0;
	if (ng > BUILTIN_SPEC_MAX_GROUPS)
		return capsid_error_set(err, E2BIG, "process.user.additionalGids: more than %d",
					BUILTIN_SPEC_MAX_GROUPS);
	for (size_t i = 0; i < ng; i++) {
		struct json_object *g = json_object_array_get_idx(groups, i);
		int64_t x = json_object_is_type(g, json_type_int) ? json_object_get_int64(g) : -1;
		if (x < 0 || x > UINT32_MAX - 1)
			return capsid_error_set(err, EINVAL, "process.user.additionalGids[%zu]: invalid", i);
		p->groups[i] = (gid_t)x;
	}
	p->n_groups = ng;
	size_t nargs;
	if (get_strings(doc, "args", p->args, BUILTIN_SPEC_MAX_ARGS, &nargs, "process", err) < 0 ||
	    get_strings(doc, "env", p->env, BUILTIN_SPEC_MAX_ENV, NULL, "process", err) < 0)
		return -EINVAL;
	if (nargs == 0)
		return capsid_error_set(err, EINVAL, "process.args: must not be empty");
	p->cwd = "/";
	if (get_string(doc, "cwd", false, &p->cwd, "process", err) < 0)
		return -EINVAL;
	if (p->cwd[0] != '/')
		return capsid_error_set(err, EINVAL, "process.cwd: must be absolute");
	if (parse_caps(member(doc, "capabilities", json_type_object), p->caps, err) < 0 ||
	    parse_rlimits(member(doc, "rlimits", json_type_array), p, err) < 0)
		return -EINVAL;
	if ((v = member(doc, "noNewPrivileges", json_type_boolean)))
		p->no_new_privileges = json_object_get_boolean(v);
	return 0;
}

static int parse_mount_options(struct json_object *opts, struct builtin_spec_mount *m, size_t idx,
			       struct capsid_error *err)
{
	size_t used = 0;
	for (size_t i = 0; opts && i < json_object_array_length(opts); i++) {
		const char *o = json_object_get_string(json_object_array_get_idx(opts, i));
		if (!o)
			return capsid_error_set(err, EINVAL, "mounts[%zu].options[%zu]: must be a string",
						idx, i);
		bool known = false;
		if (strcmp(o, "bind") == 0 || strcmp(o, "rbind") == 0) {
			m->bind = true;
			m->flags |= MS_BIND | (o[0] == 'r' ? MS_REC : 0);
			known = true;
		}
		for (size_t k = 0; !known && k < ARRAY_SIZE(mount_flags); k++)
			if (strcmp(mount_flags[k].name, o) == 0) {
				m->flags = (m->flags | mount_flags[k].set) & ~mount_flags[k].clear;
				known = true;
			}
		for (size_t k = 0; !known && k < ARRAY_SIZE(propagations); k++)
			if (strcmp(propagations[k].name, o) == 0) {
				m->propagation = propagations[k].flags;
				known = true;
			}
		if (known)
			continue;
		size_t len = strlen(o);
		if (used + len + 2 > sizeof(m->data))
			return capsid_error_set(err, E2BIG, "mounts[%zu].options: too long", idx);
		if (used)
			m->data[used++] = ',';
		memcpy(m->data + used, o, len + 1);
		used += len;
	}
	return 0;
}

static int parse_mounts(struct json_object *arr, struct builtin_spec *s, struct capsid_error *err)
{
	size_t n = arr ? json_object_array_length(arr) : 0;
	if (n > BUILTIN_SPEC_MAX_MOUNTS)
		return capsid_error_set(err, E2BIG, "mounts: more than %d", BUILTIN_SPEC_MAX_MOUNTS);
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		struct builtin_spec_mount *m = &s->mounts[i];
		*m = (struct builtin_spec_mount){0};
		char field[32];
		snprintf(field, sizeof(field), "mounts[%zu]", i);
		if (!json_object_is_type(o, json_type_object))
			return capsid_error_set(err, EINVAL, "%s: must be an object", field);
		if (get_string(o, "destination", true, &m->destination, field, err) < 0 ||
		    get_string(o, "type", false, &m->type, field, err) < 0 ||
		    get_string(o, "source", false, &m->source, field, err) < 0)
			return -EINVAL;
		if (m->destination[0] != '/')
			return capsid_error_set(err, EINVAL, "%s.destination: must be absolute", field);
		if (parse_mount_options(member(o, "options", json_type_array), m, i, err) < 0)
			return -EINVAL;
		if (m->type && strcmp(m->type, "bind") == 0)
			m->bind = true;
		if (m->bind)
			m->flags |= MS_BIND;
		if (!m->source || (!m->type && !m->bind))
			return capsid_error_set(err, EINVAL, "%s: source and type (or bind) are required",
						field);
	}
	s->n_mounts = n;
	return 0;
}

static int parse_namespaces(struct json_object *arr, struct builtin_spec *s, struct capsid_error *err)
{
	static const struct {
		const char *name;
		int flag;
	} kinds[] = {{"pid", CLONE_NEWPID},
		     {"ipc", CLONE_NEWIPC},
		     {"uts", CLONE_NEWUTS},
		     {"mount", CLONE_NEWNS},
		     {"cgroup", CLONE_NEWCGROUP}};
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		struct json_object *n = json_object_array_get_idx(arr, i);
		const char *type = NULL;
		if (get_string(n, "type", true, &type, "linux.namespaces[]", err) < 0)
			return -EINVAL;
		if (member(n, "path", json_type_string))
			return capsid_error_set(err, ENOTSUP,
						"linux.namespaces[%zu].path: joining is not supported", i);
		int flag = 0;
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
			if (strcmp(kinds[k].name, type) == 0)
				flag = kinds[k].flag;
		if (!flag)
			return capsid_error_set(
			    err, ENOTSUP, "linux.namespaces[%zu].type: %.20s is not supported", i, type);
		s->namespaces |= flag;
	}
	if (!(s->namespaces & CLONE_NEWNS))
		return capsid_error_set(err, EINVAL, "linux.namespaces: a mount namespace is required");
	return 0;
}

static int parse_resources(struct json_object *res, struct builtin_spec *s, struct capsid_error *err)
{
	s->memory_limit = -1;
	s->cpu_quota = -1;
	struct json_object *mem = member(res, "memory", json_type_object), *v;
	if (mem && (v = member(mem, "limit", json_type_int))) {
		s->memory_limit = json_object_get_int64(v);
		if (s->memory_limit <= 0)
			return capsid_error_set(err, EINVAL,
						"linux.resources.memory.limit: must be positive");
	}
	struct json_object *cpu = member(res, "cpu", json_type_object);
	if (cpu && (v = member(cpu, "shares", json_type_int)))
		s->cpu_shares = json_object_get_uint64(v);
	if (cpu && (v = member(cpu, "quota", json_type_int)))
		s->cpu_quota = json_object_get_int64(v);
	if (cpu && (v = member(cpu, "period", json_type_int)))
		s->cpu_period = json_object_get_uint64(v);
	/* Device rules: the builtin runtime always applies its fixed policy
	 * (builtin/cgroup.c); anything but "deny all" would be ignored, so it
	 * is refused. */
	struct json_object *devs = member(res, "devices", json_type_array);
	for (size_t i = 0; devs && i < json_object_array_length(devs); i++) {
		struct json_object *d = json_object_array_get_idx(devs, i), *allow;
		if (!json_object_object_get_ex(d, "allow", &allow) || json_object_get_boolean(allow) ||
		    member(d, "type", json_type_string) || member(d, "major", json_type_int))
			return capsid_error_set(
			    err, ENOTSUP, "linux.resources.devices[%zu]: only deny-all is supported", i);
	}
	return 0;
}

int builtin_spec_parse_config(struct json_object *doc, struct builtin_spec *s, struct capsid_error *err)
{
	*s = (struct builtin_spec){0};
	if (!json_object_is_type(doc, json_type_object))
		return capsid_error_set(err, EINVAL, "config.json: must be an object");
	if (builtin_spec_parse_process(member(doc, "process", json_type_object), &s->process, err) < 0)
		return -EINVAL;
	struct json_object *root = member(doc, "root", json_type_object), *v;
	if (!root || get_string(root, "path", true, &s->root, "root", err) < 0)
		return capsid_error_set(err, EINVAL, "root.path: required");
	if (s->root[0] != '/')
		return capsid_error_set(err, EINVAL, "root.path: must be absolute");
	if ((v = member(root, "readonly", json_type_boolean)))
		s->root_readonly = json_object_get_boolean(v);
	if (get_string(doc, "hostname", false, &s->hostname, "config", err) < 0)
		return -EINVAL;
	if (parse_mounts(member(doc, "mounts", json_type_array), s, err) < 0)
		return -EINVAL;
	struct json_object *lx = member(doc, "linux", json_type_object);
	if (!lx)
		return capsid_error_set(err, EINVAL, "linux: required");
	if (member(lx, "uidMappings", json_type_array) || member(lx, "sysctl", json_type_object))
		return capsid_error_set(err, ENOTSUP, "linux: uidMappings and sysctl are not supported");
	struct json_object *seccomp = member(lx, "seccomp", json_type_object);
	if (seccomp && builtin_seccomp_build(seccomp, &s->process.seccomp, err) < 0)
		return -EINVAL;
	if (parse_namespaces(member(lx, "namespaces", json_type_array), s, err) < 0)
		return -EINVAL;
	if (get_string(lx, "cgroupsPath", true, &s->cgroups_path, "linux", err) < 0)
		return -EINVAL;
	if (s->cgroups_path[0] != '/' || strstr(s->cgroups_path, ".."))
		return capsid_error_set(err, EINVAL, "linux.cgroupsPath: must be absolute, without ..");
	struct json_object *persona = member(lx, "personality", json_type_object);
	const char *domain = "LINUX";
	if (persona && get_string(persona, "domain", false, &domain, "linux.personality", err) < 0)
		return -EINVAL;
	if (strcmp(domain, "LINUX") != 0)
		return capsid_error_set(err, ENOTSUP, "linux.personality.domain: only LINUX is supported");
	if (parse_resources(member(lx, "resources", json_type_object), s, err) < 0)
		return -EINVAL;
	if (get_strings(lx, "maskedPaths", s->masked, BUILTIN_SPEC_MAX_PATHS - 1, &s->n_masked, "linux",
			err) < 0 ||
	    get_strings(lx, "readonlyPaths", s->readonly, BUILTIN_SPEC_MAX_PATHS - 1, &s->n_readonly, "linux",
			err) < 0)
		return -EINVAL;
	return 0;
}
