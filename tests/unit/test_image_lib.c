#include "test_image_lib.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		abort();
	return p;
}

struct membuf {
	char *data;
	size_t len, cap;
};

static la_ssize_t mem_write(struct archive *a, void *ud, const void *buf, size_t n)
{
	(void)a;
	struct membuf *m = ud;
	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2;
		m->data = realloc(m->data, m->cap);
		if (!m->data)
			abort();
	}
	memcpy(m->data + m->len, buf, n);
	m->len += n;
	return (la_ssize_t)n;
}

static struct archive *writer(struct membuf *m, const char *filter)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (filter && strcmp(filter, "gzip") == 0)
		archive_write_add_filter_gzip(a);
	else if (filter && strcmp(filter, "zstd") == 0)
		archive_write_add_filter_zstd(a);
	archive_write_set_bytes_in_last_block(a, 1);
	archive_write_open(a, m, NULL, mem_write, NULL);
	return a;
}

static void write_entries(struct membuf *m, const struct tl_entry *ents, size_t n, const char *filter)
{
	struct archive *a = writer(m, filter);
	for (size_t i = 0; i < n; i++) {
		const struct tl_entry *t = &ents[i];
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, t->name);
		archive_entry_set_uid(e, t->uid);
		archive_entry_set_gid(e, t->gid);
		archive_entry_set_mtime(e, t->mtime, 0);
		size_t size = 0;
		switch (t->type) {
		case 'f':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, t->mode ? t->mode : 0644);
			size = t->data ? strlen(t->data) : 0;
			break;
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, t->mode ? t->mode : 0755);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, t->data);
			break;
		case 'C': {
			/* struct vfs_cap_data v2: cap_net_raw, effective. */
			static const unsigned char caps[20] = {0x01, 0, 0, 0x02, 0, 0x20, 0, 0};
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, t->mode ? t->mode : 0755);
			archive_entry_xattr_add_entry(e, "security.capability", caps, sizeof(caps));
			archive_entry_xattr_add_entry(e, "trusted.overlay.opaque", "y", 1);
			size = t->data ? strlen(t->data) : 0;
			break;
		}
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, t->mode ? t->mode : 0644);
			archive_entry_set_hardlink(e, t->data);
			break;
		case 'c':
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_perm(e, 0666);
			archive_entry_set_rdev(e, makedev(1, 3));
			break;
		case 'p':
			archive_entry_set_filetype(e, AE_IFIFO);
			archive_entry_set_perm(e, 0644);
			break;
		}
		archive_entry_set_size(e, (la_int64_t)size);
		if (archive_write_header(a, e) != ARCHIVE_OK)
			fprintf(stderr, "tl: write header %s: %s\n", t->name, archive_error_string(a));
		if (size)
			archive_write_data(a, t->data, size);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
}

int tl_layer(struct tl_blob *b, const struct tl_entry *e, size_t n, const char *filter)
{
	struct membuf plain = {0};
	write_entries(&plain, e, n, NULL);
	image_sha256_buf(plain.data, plain.len, b->diff_id);
	if (filter) {
		struct membuf packed = {0};
		write_entries(&packed, e, n, filter);
		free(plain.data);
		plain = packed;
	}
	b->data = plain.data;
	b->len = plain.len;
	return image_sha256_buf(b->data, b->len, b->digest);
}

void tl_blob_free(struct tl_blob *b)
{
	free(b->data);
	b->data = NULL;
}

void tl_files_add(struct tl_files *fs, const char *name, const char *data, size_t len)
{
	if (fs->n == sizeof(fs->f) / sizeof(fs->f[0]))
		abort();
	fs->f[fs->n].name = xstrdup(name);
	fs->f[fs->n].data = xmalloc(len);
	memcpy(fs->f[fs->n].data, data, len);
	fs->f[fs->n].len = len;
	fs->n++;
}

void tl_files_free(struct tl_files *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		free(fs->f[i].name);
		free(fs->f[i].data);
	}
	fs->n = 0;
}

int tl_files_write_dir(const struct tl_files *fs, const char *dir)
{
	for (size_t i = 0; i < fs->n; i++) {
		char *path = tl_path(dir, fs->f[i].name), *parent = xstrdup(path);
		parent[strrchr(parent, '/') - parent] = '\0';
		util_mkdir_p(parent, 0755);
		free(parent);
		int rc = util_write_file_atomic(path, fs->f[i].data, fs->f[i].len, 0644);
		free(path);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int tl_files_write_tar(const struct tl_files *fs, const char *path, const char *filter)
{
	struct membuf m = {0};
	struct archive *a = writer(&m, filter);
	for (size_t i = 0; i < fs->n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, fs->f[i].name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)fs->f[i].len);
		archive_write_header(a, e);
		archive_write_data(a, fs->f[i].data, fs->f[i].len);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	int rc = util_write_file_atomic(path, m.data, m.len, 0644);
	free(m.data);
	return rc;
}

char *tl_config(const struct tl_blob *layers, size_t n, const char *run_config)
{
	char ids[8192] = "";
	for (size_t i = 0; i < n; i++) {
		strcat(ids, i ? ",\"" : "\"");
		strcat(ids, layers[i].diff_id);
		strcat(ids, "\"");
	}
	char *out = NULL;
	if (asprintf(&out,
		     "{\"architecture\":\"amd64\",\"os\":\"linux\"%s%s,\"rootfs\":{\"type\":\"layers\","
		     "\"diff_ids\":[%s]}}",
		     run_config ? ",\"config\":" : "", run_config ? run_config : "", ids) < 0)
		abort();
	return out;
}

static void add_blob(struct tl_files *fs, const char *data, size_t len, char digest[IMAGE_DIGEST_SIZE])
{
	image_sha256_buf(data, len, digest);
	char name[96];
	snprintf(name, sizeof(name), "blobs/sha256/%s", digest + 7);
	tl_files_add(fs, name, data, len);
}

void tl_oci_files(struct tl_files *fs, const struct tl_blob *layers, size_t n, const char *config,
		  const char *ref_name, char manifest_digest[IMAGE_DIGEST_SIZE])
{
	char cfg_digest[IMAGE_DIGEST_SIZE], d[IMAGE_DIGEST_SIZE];
	add_blob(fs, config, strlen(config), cfg_digest);
	char ls[16384] = "";
	for (size_t i = 0; i < n; i++) {
		add_blob(fs, layers[i].data, layers[i].len, d);
		char one[256];
		snprintf(one, sizeof(one),
			 "%s{\"mediaType\":\"application/"
			 "vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu}",
			 i ? "," : "", d, layers[i].len);
		strcat(ls, one);
	}
	char *manifest = NULL, *index = NULL, ann[512] = "";
	if (asprintf(
		&manifest,
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
		"\"size\":%zu},\"layers\":[%s]}",
		cfg_digest, strlen(config), ls) < 0)
		abort();
	add_blob(fs, manifest, strlen(manifest), manifest_digest);
	if (ref_name)
		snprintf(ann, sizeof(ann), ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"%s\"}",
			 ref_name);
	if (asprintf(&index,
		     "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
		     "vnd.oci.image.manifest.v1+json\","
		     "\"digest\":\"%s\",\"size\":%zu,\"platform\":{\"architecture\":\"amd64\",\"os\":"
		     "\"linux\"}%s}]}",
		     manifest_digest, strlen(manifest), ann) < 0)
		abort();
	tl_files_add(fs, "index.json", index, strlen(index));
	const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
	tl_files_add(fs, "oci-layout", layout, strlen(layout));
	free(manifest);
	free(index);
}

void tl_docker_files(struct tl_files *fs, const struct tl_blob *layers, size_t n, const char *config,
		     const char *repo_tag)
{
	char cfg_digest[IMAGE_DIGEST_SIZE], name[128], ls[16384] = "";
	image_sha256_buf(config, strlen(config), cfg_digest);
	snprintf(name, sizeof(name), "%s.json", cfg_digest + 7);
	tl_files_add(fs, name, config, strlen(config));
	for (size_t i = 0; i < n; i++) {
		/* Old docker save names layer directories by v1 id, not digest. */
		snprintf(name, sizeof(name), "%064zx/layer.tar", i + 1);
		tl_files_add(fs, name, layers[i].data, layers[i].len);
		strcat(ls, i ? ",\"" : "\"");
		strcat(ls, name);
		strcat(ls, "\"");
	}
	char *manifest = NULL, tags[256] = "null";
	if (repo_tag)
		snprintf(tags, sizeof(tags), "[\"%s\"]", repo_tag);
	if (asprintf(&manifest, "[{\"Config\":\"%s.json\",\"RepoTags\":%s,\"Layers\":[%s]}]", cfg_digest + 7,
		     tags, ls) < 0)
		abort();
	tl_files_add(fs, "manifest.json", manifest, strlen(manifest));
	free(manifest);
}

char *tl_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *t = NULL;
	if (asprintf(&t, "%s/capsid-image-test-XXXXXX", base && *base ? base : "/tmp") < 0 || !mkdtemp(t))
		abort();
	return t;
}

void tl_rmdir(const char *dir)
{
	util_rm_rf(dir);
}

char *tl_path(const char *dir, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

char *tl_read(const char *path)
{
	char *out = NULL;
	if (util_read_file_at(AT_FDCWD, path, 1 << 20, &out, NULL) < 0)
		return NULL;
	return out;
}

int tl_sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *tl_ls(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return xstrdup("(missing)");
	char *names[1024];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < 1024)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			names[n++] = xstrdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	char *out = xmalloc(len);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, names[i]);
		free(names[i]);
	}
	return out;
}

int tl_erofs_mode(const char *img, const char *path, unsigned *nlink, unsigned long *nid_out)
{
	char cmd[4096], line[512];
	snprintf(cmd, sizeof(cmd), "dump.erofs --path='%s' '%s' 2>/dev/null", path, img);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	unsigned long nid = ~0ul;
	unsigned links = 0;
	while (fgets(line, sizeof(line), p)) {
		char *s = strstr(line, "NID: ");
		if (s)
			nid = strtoul(s + 5, NULL, 10);
		s = strstr(line, "Links: ");
		if (s)
			links = (unsigned)strtoul(s + 7, NULL, 10);
	}
	pclose(p);
	if (nid == ~0ul)
		return -1;
	int fd = open(img, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	unsigned char sb[64], ino[8];
	int mode = -1;
	/* struct erofs_super_block at 1024: blkszbits @12, meta_blkaddr @40;
	 * inodes are 32-byte slots from the metadata block; i_mode @4. */
	if (pread(fd, sb, sizeof(sb), 1024) == (ssize_t)sizeof(sb) && sb[0] == 0xE2 && sb[1] == 0xE1 &&
	    sb[2] == 0xF5 && sb[3] == 0xE0) {
		uint64_t meta = (uint64_t)sb[40] | (uint64_t)sb[41] << 8 | (uint64_t)sb[42] << 16 |
				(uint64_t)sb[43] << 24;
		off_t off = (off_t)((meta << sb[12]) + nid * 32);
		if (pread(fd, ino, sizeof(ino), off) == (ssize_t)sizeof(ino))
			mode = ino[4] | ino[5] << 8;
	}
	close(fd);
	if (nlink)
		*nlink = links;
	if (nid_out)
		*nid_out = nid;
	return mode;
}

int tl_erofs_extract(const char *img, const char *dir)
{
	return tl_sh("fsck.erofs --extract='%s' '%s' >/dev/null 2>&1", dir, img);
}
