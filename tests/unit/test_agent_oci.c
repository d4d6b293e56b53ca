/* The OCI documents the agent writes: runc-spec defaults, no network
 * namespace, resources, bind mounts, process fields. */
#include <json-c/json.h>
#include <string.h>

#include "oci.h"
#include "testlib.h"

static struct json_object *get(struct json_object *o, const char *path)
{
	/* "a.b.c" lookups through objects */
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	char *save = NULL;
	for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(o, k, &o))
			return NULL;
	return o;
}

static const char *str(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool array_has_string(struct json_object *a, const char *s)
{
	for (size_t i = 0; a && i < json_object_array_length(a); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(a, i)), s) == 0)
			return true;
	return false;
}

static void test_config(void)
{
	struct json_object *args = json_tokener_parse("[\"/bin/sh\",\"-c\",\"echo hi\"]");
	struct json_object *env = json_tokener_parse("[\"A=b\"]");
	struct request_process proc = {.args = args, .env = env, .cwd = "/srv"};
	struct user_ids user = {.uid = 1000, .gid = 1000, .groups = {2000}, .n_groups = 1};
	struct request_resources res = {
	    .memory_bytes = 64 << 20, .cpu_shares = 512, .cpu_quota_us = 50000, .cpu_period_us = 100000};
	struct oci_config_params p = {
	    .process = {.proc = &proc, .user = &user},
	    .rootfs = "/run/capsid/containers/web/rootfs",
	    .hostname = "grp",
	    .cgroups_path = "/capsid/web",
	    .res = &res,
	    .hosts_file = "/b/hosts",
	    .resolv_file = "/b/resolv.conf",
	};
	struct json_object *cfg = oci_config_new(&p);
	CHECK(cfg != NULL);
	CHECK(strcmp(str(cfg, "ociVersion"), "1.0.2") == 0);
	CHECK(strcmp(str(cfg, "root.path"), p.rootfs) == 0);
	CHECK(!json_object_get_boolean(get(cfg, "root.readonly")));
	CHECK(strcmp(str(cfg, "hostname"), "grp") == 0);
	CHECK(strcmp(str(cfg, "linux.cgroupsPath"), "/capsid/web") == 0);
	/* crun runs without ASLR; the container's process gets it back. */
	CHECK(strcmp(str(cfg, "linux.personality.domain"), "LINUX") == 0);

	struct json_object *ns = get(cfg, "linux.namespaces");
	CHECK(ns && json_object_array_length(ns) == 5);
	for (size_t i = 0; ns && i < json_object_array_length(ns); i++)
		CHECK(strcmp(str(json_object_array_get_idx(ns, i), "type"), "network") != 0);

	CHECK(json_object_get_int64(get(cfg, "linux.resources.memory.limit")) == 64 << 20);
	CHECK(json_object_get_int64(get(cfg, "linux.resources.cpu.shares")) == 512);
	CHECK(json_object_get_int64(get(cfg, "linux.resources.cpu.quota")) == 50000);
	CHECK(json_object_get_int64(get(cfg, "linux.resources.cpu.period")) == 100000);
	struct json_object *dev = json_object_array_get_idx(get(cfg, "linux.resources.devices"), 0);
	CHECK(dev && !json_object_get_boolean(get(dev, "allow")) && strcmp(str(dev, "access"), "rwm") == 0);
	CHECK(array_has_string(get(cfg, "linux.maskedPaths"), "/proc/kcore"));
	CHECK(array_has_string(get(cfg, "linux.readonlyPaths"), "/proc/sys"));

	struct json_object *mounts = get(cfg, "mounts");
	bool proc_m = false, hosts = false, resolv = false, sys_ro = false, hostname = false;
	for (size_t i = 0; i < json_object_array_length(mounts); i++) {
		struct json_object *m = json_object_array_get_idx(mounts, i);
		const char *d = str(m, "destination");
		proc_m |= strcmp(d, "/proc") == 0;
		hosts |= strcmp(d, "/etc/hosts") == 0 && strcmp(str(m, "source"), "/b/hosts") == 0 &&
			 strcmp(str(m, "type"), "bind") == 0;
		resolv |= strcmp(d, "/etc/resolv.conf") == 0;
		sys_ro |= strcmp(d, "/sys") == 0 && array_has_string(get(m, "options"), "ro");
		hostname |= strcmp(d, "/etc/hostname") == 0;
	}
	CHECK(proc_m && hosts && resolv && sys_ro && !hostname);

	struct json_object *pr = get(cfg, "process");
	CHECK(!json_object_get_boolean(get(pr, "terminal")));
	CHECK(get(pr, "consoleSize") == NULL);
	CHECK(json_object_get_int64(get(pr, "user.uid")) == 1000 &&
	      json_object_get_int64(get(pr, "user.gid")) == 1000);
	CHECK(json_object_array_length(get(pr, "user.additionalGids")) == 1);
	CHECK(json_object_array_length(get(pr, "args")) == 3);
	CHECK(array_has_string(get(pr, "env"), "A=b"));
	CHECK(array_has_string(get(pr, "env"),
			       "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
	CHECK(!array_has_string(get(pr, "env"), "TERM=xterm"));
	CHECK(strcmp(str(pr, "cwd"), "/srv") == 0);
	CHECK(!json_object_get_boolean(get(pr, "noNewPrivileges")));
	struct json_object *bounding = get(pr, "capabilities.bounding");
	CHECK(json_object_array_length(bounding) == 14 && array_has_string(bounding, "CAP_KILL") &&
	      array_has_string(bounding, "CAP_SETUID") &&
	      !array_has_string(bounding, "CAP_SYS_ADMIN"));
	struct json_object *rl = json_object_array_get_idx(get(pr, "rlimits"), 0);
	CHECK(strcmp(str(rl, "type"), "RLIMIT_NOFILE") == 0 && json_object_get_int(get(rl, "hard")) == 1024);
	json_object_put(cfg);

	/* No resources given: only the device rule. */
	res = (struct request_resources){-1, -1, -1, -1};
	cfg = oci_config_new(&p);
	CHECK(get(cfg, "linux.resources.memory") == NULL && get(cfg, "linux.resources.cpu") == NULL);
	json_object_put(cfg);
	json_object_put(args);
	json_object_put(env);
}

static void test_process_tty(void)
{
	struct json_object *args = json_tokener_parse("[\"sh\"]");
	struct json_object *env = json_tokener_parse("[\"PATH=/bin\",\"TERM=vt100\"]");
	struct request_process proc = {
	    .args = args, .env = env, .cwd = "/", .tty = true, .rows = 24, .cols = 80};
	struct user_ids user = {0};
	struct oci_process_params p = {.proc = &proc, .user = &user};
	struct json_object *pr = oci_process_new(&p);
	CHECK(json_object_get_boolean(get(pr, "terminal")));
	CHECK(json_object_get_int(get(pr, "consoleSize.height")) == 24);
	CHECK(json_object_get_int(get(pr, "consoleSize.width")) == 80);
	/* The request's PATH and TERM win; no defaults are added. */
	CHECK(json_object_array_length(get(pr, "env")) == 2);
	CHECK(get(pr, "user.additionalGids") == NULL);
	json_object_put(pr);
	proc.env = NULL;
	pr = oci_process_new(&p);
	CHECK(array_has_string(get(pr, "env"), "TERM=xterm"));
	json_object_put(pr);
	json_object_put(args);
	json_object_put(env);
}

int main(void)
{
	RUN_TEST(test_config);
	RUN_TEST(test_process_tty);
	TEST_EXIT();
}
