/* libFuzzer target for the image store's parsers of hostile input.
 *
 * First byte even: the rest is a layer blob (any compression), flattened
 * into a fresh root next to a sentinel directory; beyond "no crash, no
 * sanitizer report", nothing outside the root may appear, change or vanish.
 * First byte odd: the rest is an image config.
 *
 * Build: CC=clang cmake -DCAPSID_FUZZ=ON ...; run as root (ownership is
 * applied), e.g. bin/fuzz_image -max_total_time=60 -max_len=65536 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_outside(int tmpfd)
{
	char **names = NULL;
	size_t n = 0;
	if (image_path_list_dir(tmpfd, &names, &n) < 0 || n != 2)
		abort();
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], "root") != 0 && strcmp(names[i], "sentinel") != 0)
			abort();
	image_path_free_names(names, n);
	char buf[8] = "";
	int fd = openat(tmpfd, "sentinel/file", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || read(fd, buf, sizeof(buf)) != 4 || memcmp(buf, "keep", 4) != 0 || fstat(fd, &st) < 0 ||
	    st.st_nlink != 1)
		abort();
	close(fd);
	if (fstatat(tmpfd, "sentinel", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_nlink != 2)
		abort();
}

static int fuzz_tmpdir(void)
{
	/* A harness may keep state across runs: the directory is made once. */
	static int tmpfd = -1;
	if (tmpfd >= 0)
		return tmpfd;
	char tmpl[] = "/tmp/capsid-fuzz-image-XXXXXX";
	if (!mkdtemp(tmpl))
		abort();
	tmpfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tmpfd < 0 || mkdirat(tmpfd, "sentinel", 0755) < 0)
		abort();
	int fd = openat(tmpfd, "sentinel/file", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "keep", 4) != 4)
		abort();
	close(fd);
	return tmpfd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	struct capsid_error err = {0};
	if (data[0] & 1) {
		struct image_info info = {0};
		char **ids = NULL;
		size_t n = 0;
		image_config_parse((const char *)data + 1, size - 1, &info, &ids, &n, &err);
		image_strv_free(ids, n);
		image_strv_free(info.entrypoint, info.n_entrypoint);
		image_strv_free(info.cmd, info.n_cmd);
		image_strv_free(info.env, info.n_env);
		free(info.working_dir);
		free(info.user);
		return 0;
	}
	int tmpfd = fuzz_tmpdir();
	if (mkdirat(tmpfd, "root", 0755) < 0)
		abort();
	int rootfd = openat(tmpfd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int blob = memfd_create("layer", MFD_CLOEXEC);
	if (rootfd < 0 || blob < 0 || write(blob, data + 1, size - 1) != (ssize_t)(size - 1) ||
	    lseek(blob, 0, SEEK_SET) != 0)
		abort();
	image_flatten_layers(rootfd, &blob, 1, 64u << 20, NULL, &err);
	close(blob);
	close(rootfd);
	check_outside(tmpfd);
	if (image_path_remove_at(tmpfd, "root") < 0)
		abort();
	return 0;
}
