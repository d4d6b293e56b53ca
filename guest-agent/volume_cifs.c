/* cifs volumes in the guest (the host's azureFile): //SERVER/SHARE over
 * SMB 3.1.1 with the account's name and key; the key travels only over the
 * agent channel and is wiped from memory once the mount is made. The SMB
 * client's modules are loaded on first use. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "kmod.h"
#include "volume_kinds.h"

/* {"server": IPv4, "share", "username", "password"}: the share and user
 * become a UNC path and mount options, so no separators. */
static int cifs_check(struct json_object *o, struct request_volume *r, struct capsid_error *err)
{
	struct in_addr addr;
	int rc;
	if ((rc = request_get_string(o, "server", true, 15, &r->server, err)) < 0 ||
	    (rc = request_get_string(o, "share", true, 80, &r->share, err)) < 0 ||
	    (rc = request_get_string(o, "username", true, 64, &r->username, err)) < 0 ||
	    (rc = request_get_string(o, "password", true, 256, &r->password, err)) < 0)
		return rc;
	if (inet_pton(AF_INET, r->server, &addr) != 1)
		return capsid_error_set(err, EINVAL, "server: not an IPv4 address");
	if (!*r->share || strpbrk(r->share, "/\\,") || !*r->username || strpbrk(r->username, ",=/\\"))
		return capsid_error_set(err, EINVAL, "share/username: empty or with a separator character");
	return 0;
}

static int cifs_define(struct agent_volume *v, const struct request_volume *r)
{
	snprintf(v->server, sizeof(v->server), "%s", r->server);
	snprintf(v->share, sizeof(v->share), "%s", r->share);
	snprintf(v->username, sizeof(v->username), "%s", r->username);
	v->password = strdup(r->password);
	return v->password ? 0 : -ENOMEM;
}

static void cifs_forget(struct agent_volume *v)
{
	if (v->password) {
		explicit_bzero(v->password, strlen(v->password));
		free(v->password);
		v->password = NULL;
	}
}

/* SMB mount options; a ',' in the password is written twice (the cifs
 * option parser's escape). */
static int cifs_options(const struct agent_volume *v, char *out, size_t len)
{
	int n = snprintf(out, len,
			 "vers=3.1.1,ip=%s,username=%s,uid=0,gid=0,file_mode=0777,dir_mode=0777,"
			 "echo_interval=10,password=",
			 v->server, v->username);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	size_t o = (size_t)n;
	for (const char *p = v->password; *p; p++) {
		if (o + 3 >= len)
			return -ENAMETOOLONG;
		out[o++] = *p;
		if (*p == ',')
			out[o++] = ',';
	}
	out[o] = '\0';
	return 0;
}

static const char *cifs_hint(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
		return " (access denied: check storageAccountName and storageAccountKey)";
	case ENOENT:
	case ENXIO:
		return " (no such share on the server)";
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ECONNREFUSED:
	case ENETUNREACH:
		return " (the SMB server cannot be reached)";
	default:
		return "";
	}
}

static int mount_cifs(struct agent *a, struct agent_volume *v, const char *dir, struct capsid_error *err)
{
	if (!a->cifs_ready) {
		/* The SMB client and its crypto are loaded on first use (about
		 * 0.4 s under TCG); a kernel with them built in has an empty list. */
		kmod_load_list(a, KMOD_DIR, KMOD_LIST_CIFS);
		a->cifs_ready = true;
	}
	char source[128], opts[1024];
	snprintf(source, sizeof(source), "//%s/%s", v->server, v->share);
	if (cifs_options(v, opts, sizeof(opts)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "mount options too long");
	unsigned long flags = MS_NOSUID | MS_NODEV | (v->read_only ? MS_RDONLY : 0);
	int rc = mount(source, dir, "cifs", flags, opts);
	int saved = errno;
	explicit_bzero(opts, sizeof(opts));
	if (rc < 0)
		return capsid_error_errno(err, saved, "mount //%s/%s as %s%s", v->server, v->share,
					  v->username, cifs_hint(saved));
	return 0;
}

const struct volume_kind_ops volume_cifs_ops = {
    .kind = REQUEST_VOLUME_CIFS,
    .name = "cifs",
    .check = cifs_check,
    .define = cifs_define,
    .mount = mount_cifs,
    .forget = cifs_forget,
};
