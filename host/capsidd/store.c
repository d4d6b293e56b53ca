/* capsidd's records and operations (store.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "store.h"
#include "util.h"

#define RECORD_MAX (2u << 20)
#define OP_MAX	   (64u << 10)

static const char *const kind_names[] = {"create", "delete", "start", "stop", "restart", "update"};

const char *cd_op_kind_name(enum cd_op_kind k)
{
	return kind_names[k];
}

const char *cd_op_status_name(enum cd_op_status st)
{
	return st == CD_OP_RUNNING ? "InProgress" : st == CD_OP_SUCCEEDED ? "Succeeded" : "Failed";
}

int cd_random_hex(char *out, size_t bytes)
{
	unsigned char raw[64];
	if (bytes > sizeof(raw) || RAND_bytes(raw, (int)bytes) != 1)
		return -EIO;
	for (size_t i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

int cd_store_init(struct cd_server *s, struct capsid_error *err)
{
	if (snprintf(s->dir, sizeof(s->dir), "%s/capsidd", s->cfg.root) >= (int)sizeof(s->dir))
		return capsid_error_set(err, ENAMETOOLONG, "the root %s is too long", s->cfg.root);
	char p[PATH_MAX + 32];
	static const char *const subs[] = {"resources", "operations"};
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		snprintf(p, sizeof(p), "%s/%s", s->dir, subs[i]);
		int rc = util_mkdir_p(p, 0700);
		if (rc < 0)
			return capsid_error_errno(err, -rc, "mkdir %s", p);
	}
	return 0;
}

/* Lowercase letters, digits and single '-' of x, at most max characters;
 * *lossy when that is not x lowercased. */
static size_t sanitize(const char *x, size_t max, char *out, bool *lossy)
{
	size_t n = 0, len = strlen(x);
	for (size_t i = 0; i < len; i++) {
		char ch = x[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (!ok) {
			if (ch != '-')
				*lossy = true;
			if (n == 0 || out[n - 1] == '-') {
				*lossy = true;
				continue;
			}
			ch = '-';
		}
		if (n == max) {
			*lossy = true;
			break;
		}
		out[n++] = ch;
	}
	while (n > 0 && out[n - 1] == '-') {
		n--;
		*lossy = true;
	}
	if (n == 0) {
		out[n++] = 'x';
		*lossy = true;
	}
	out[n] = '\0';
	return n;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s;; p++) {
		h ^= *p;
		h *= 1099511628211ull;
		if (!*p)
			return h;
	}
}

void cd_group_name(const struct cd_ident *id, char out[UTIL_NAME_MAX + 1])
{
	char t[16], sb[16], rg[24], nm[UTIL_NAME_MAX + 1];
	bool lossy = false;
	sanitize(id->tenant, 10, t, &lossy);
	sanitize(id->sub, 8, sb, &lossy);
	/* The resource group is case-insensitive in ARM: its lowercase is exact. */
	sanitize(id->rg, 12, rg, &lossy);
	snprintf(nm, sizeof(nm), "%s", id->name);
	char whole[UTIL_NAME_MAX * 2 + 8];
	int len = snprintf(whole, sizeof(whole), "%s-%s-%s-%s", t, sb, rg, nm);
	if (!lossy && len <= UTIL_NAME_MAX) {
		memcpy(out, whole, (size_t)len + 1);
		return;
	}
	uint64_t h = 14695981039346656037ull;
	h = fnv1a(h, id->tenant);
	h = fnv1a(h, id->sub);
	char rg_lower[CD_MAX_FIELD];
	size_t i = 0;
	for (; id->rg[i] && i < sizeof(rg_lower) - 1; i++)
		rg_lower[i] =
		    (char)((id->rg[i] >= 'A' && id->rg[i] <= 'Z') ? id->rg[i] - 'A' + 'a' : id->rg[i]);
	rg_lower[i] = '\0';
	h = fnv1a(h, rg_lower);
	h = fnv1a(h, id->name);
	/* prefix, name cut to fit, "-" and 8 hex digits of the hash */
	int prefix = snprintf(whole, sizeof(whole), "%s-%s-%s-", t, sb, rg);
	int room = UTIL_NAME_MAX - prefix - 9;
	int n = (int)strlen(nm);
	if (n > room)
		n = room;
	while (n > 0 && nm[n - 1] == '-')
		n--;
	int made = n > 0 ? snprintf(out, UTIL_NAME_MAX + 1, "%.34s%.*s-%08x", whole, n, nm,
				    (unsigned)(h & 0xffffffffu))
			 : snprintf(out, UTIL_NAME_MAX + 1, "%.34s%08x", whole, (unsigned)(h & 0xffffffffu));
	(void)made;
}

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : "";
}

static bool record_owned(struct json_object *rec, const struct cd_ident *id)
{
	return strcmp(str_of(rec, "tenant"), id->tenant) == 0 &&
	       strcmp(str_of(rec, "subscription"), id->sub) == 0 &&
	       strcasecmp(str_of(rec, "resourceGroup"), id->rg) == 0 &&
	       strcmp(str_of(rec, "name"), id->name) == 0;
}

static struct json_object *read_json(const char *path, size_t max)
{
	_cleanup_free_ char *text = NULL;
	if (util_read_file_at(AT_FDCWD, path, max, &text, NULL) < 0)
		return NULL;
	return json_tokener_parse(text);
}

int cd_record_load(const struct cd_server *s, const char *group, const struct cd_ident *id,
		   struct json_object **out)
{
	char p[PATH_MAX + 128];
	snprintf(p, sizeof(p), "%s/resources/%s.json", s->dir, group);
	struct json_object *rec = read_json(p, RECORD_MAX);
	if (!rec || (id && !record_owned(rec, id))) {
		json_object_put(rec);
		*out = NULL;
		return -ENOENT;
	}
	*out = rec;
	return 0;
}

static int save_json(const char *path, struct json_object *o)
{
	size_t len;
	const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	return util_write_file_atomic(path, text, len, 0600);
}

int cd_record_save(const struct cd_server *s, const char *group, struct json_object *rec)
{
	char p[PATH_MAX + 128];
	snprintf(p, sizeof(p), "%s/resources/%s.json", s->dir, group);
	return save_json(p, rec);
}

int cd_record_remove(const char *dir, const char *group)
{
	char p[PATH_MAX + 128];
	snprintf(p, sizeof(p), "%s/resources/%s.json", dir, group);
	return unlink(p) < 0 && errno != ENOENT ? -errno : 0;
}

static int cmp_group(const void *a, const void *b)
{
	return strcmp(str_of(*(struct json_object *const *)a, "group"),
		      str_of(*(struct json_object *const *)b, "group"));
}

int cd_record_list(const struct cd_server *s, const char *tenant, const char *sub, const char *rg,
		   struct json_object **out)
{
	char p[PATH_MAX + 128];
	snprintf(p, sizeof(p), "%s/resources", s->dir);
	DIR *d = opendir(p);
	if (!d)
		return -errno;
	struct json_object *arr = json_object_new_array();
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		char group[UTIL_NAME_MAX + 1];
		if (n - 5 > UTIL_NAME_MAX)
			continue;
		memcpy(group, e->d_name, n - 5);
		group[n - 5] = '\0';
		struct json_object *rec = NULL;
		if (cd_record_load(s, group, NULL, &rec) < 0)
			continue;
		if (strcmp(str_of(rec, "tenant"), tenant) != 0 ||
		    (sub && strcmp(str_of(rec, "subscription"), sub) != 0) ||
		    (rg && strcasecmp(str_of(rec, "resourceGroup"), rg) != 0)) {
			json_object_put(rec);
			continue;
		}
		json_object_object_add(rec, "group", json_object_new_string(group));
		json_object_array_add(arr, rec);
	}
	closedir(d);
	json_object_array_sort(arr, cmp_group);
	*out = arr;
	return 0;
}

static void op_path(const char *dir, const char *id, char *out, size_t len)
{
	snprintf(out, len, "%s/operations/%s.json", dir, id);
}

int cd_op_create(const struct cd_server *s, enum cd_op_kind kind, const char *group, const char *tenant,
		 char id[40])
{
	int rc = cd_random_hex(id, 16);
	if (rc < 0)
		return rc;
	char now[40], p[PATH_MAX + 64];
	util_now_rfc3339(now);
	_cleanup_json_ struct json_object *op = json_object_new_object();
	json_object_object_add(op, "name", json_object_new_string(id));
	json_object_object_add(op, "kind", json_object_new_string(cd_op_kind_name(kind)));
	json_object_object_add(op, "group", json_object_new_string(group));
	json_object_object_add(op, "tenant", json_object_new_string(tenant));
	json_object_object_add(op, "status", json_object_new_string("InProgress"));
	json_object_object_add(op, "startTime", json_object_new_string(now));
	op_path(s->dir, id, p, sizeof(p));
	return save_json(p, op);
}

/* The worker's pid lives in a file of its own: the worker alone writes the
 * operation's file once it runs, so no write of capsidd can undo its end. */
int cd_op_set_pid(const struct cd_server *s, const char *id, pid_t pid)
{
	char p[PATH_MAX + 64], text[32];
	snprintf(p, sizeof(p), "%s/operations/%s.pid", s->dir, id);
	int n = snprintf(text, sizeof(text), "%d\n", (int)pid);
	return util_write_file_atomic(p, text, (size_t)n, 0600);
}

static pid_t op_pid(const char *dir, const char *id)
{
	char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/operations/%s.pid", dir, id);
	_cleanup_free_ char *text = NULL;
	if (util_read_file_at(AT_FDCWD, p, 64, &text, NULL) < 0)
		return 0;
	long v = strtol(text, NULL, 10);
	return v > 0 && v < (1l << 30) ? (pid_t)v : 0;
}

int cd_op_finish(const char *dir, const char *id, int http_status, const char *code, const char *message)
{
	char p[PATH_MAX + 64], now[40];
	op_path(dir, id, p, sizeof(p));
	_cleanup_json_ struct json_object *op = read_json(p, OP_MAX);
	if (!op)
		return -ENOENT;
	util_now_rfc3339(now);
	json_object_object_add(op, "status", json_object_new_string(code ? "Failed" : "Succeeded"));
	json_object_object_add(op, "endTime", json_object_new_string(now));
	if (code) {
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "code", json_object_new_string(code));
		json_object_object_add(e, "message", json_object_new_string(message ? message : ""));
		json_object_object_add(op, "error", e);
		json_object_object_add(op, "httpStatus", json_object_new_int(http_status));
	}
	return save_json(p, op);
}

int cd_op_load(const struct cd_server *s, const char *id, const char *tenant, struct json_object **out,
	       enum cd_op_status *status)
{
	*out = NULL;
	if (strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32)
		return -ENOENT;
	char p[PATH_MAX + 64];
	op_path(s->dir, id, p, sizeof(p));
	struct json_object *op = read_json(p, OP_MAX);
	if (!op || (tenant && strcmp(str_of(op, "tenant"), tenant) != 0)) {
		json_object_put(op);
		return -ENOENT;
	}
	const char *st = str_of(op, "status");
	if (strcmp(st, "Succeeded") == 0) {
		*status = CD_OP_SUCCEEDED;
	} else if (strcmp(st, "Failed") == 0) {
		*status = CD_OP_FAILED;
	} else {
		*status = CD_OP_RUNNING;
		/* No pid: capsidd died between the file and the fork. */
		pid_t pid = op_pid(s->dir, id);
		bool alive = pid > 0 && util_pid_running(pid);
		if (!alive) {
			/* Read again: the worker may have ended between the reads. */
			json_object_put(op);
			op = read_json(p, OP_MAX);
			if (!op)
				return -ENOENT;
			if (strcmp(str_of(op, "status"), "InProgress") == 0) {
				*status = CD_OP_FAILED;
				struct json_object *e = json_object_new_object();
				json_object_object_add(e, "code",
						       json_object_new_string("InternalServerError"));
				json_object_object_add(
				    e, "message",
				    json_object_new_string("the operation's worker ended without a result"));
				json_object_object_add(op, "error", e);
				json_object_object_add(op, "status", json_object_new_string("Failed"));
			} else {
				*status = strcmp(str_of(op, "status"), "Succeeded") == 0 ? CD_OP_SUCCEEDED
											 : CD_OP_FAILED;
			}
		}
	}
	*out = op;
	return 0;
}
