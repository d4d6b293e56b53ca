/* unit.shim_options: containerd's runtime options as `start` reads them
 * from its standard input: runtimeoptions.v1.Options with a ConfigPath of
 * CAPSID_* lines applied to the environment; other option types, garbage,
 * oversized input and bad lines refused with words. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "github.com/containerd/containerd/pkg/runtimeoptions/v1/api.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "shim.h"
#include "testlib.h"

static char dir[] = "/tmp/test-shim-options.XXXXXX";

/* A pipe holding data, read end returned. */
static int feed(const void *data, size_t len)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	if (len && write(p[1], data, len) != (ssize_t)len)
		return -1;
	close(p[1]);
	return p[0];
}

static int apply_any(const char *type_url, const char *config_path, struct capsid_error *err)
{
	Runtimeoptions__V1__Options o = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
	o.config_path = (char *)config_path;
	uint8_t inner[1024], outer[2048];
	size_t n = runtimeoptions__v1__options__pack(&o, inner);
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	any.type_url = (char *)type_url;
	any.value.data = inner;
	any.value.len = n;
	size_t an = google__protobuf__any__pack(&any, outer);
	int fd = feed(outer, an);
	int r = shim_options_apply(fd, err);
	close(fd);
	return r;
}

static char *write_conf(const char *name, const char *text)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_applied(void)
{
	struct capsid_error err = {0};
	unsetenv("CAPSID_TEST_A");
	char *p = write_conf("good", "# settings\n\n  CAPSID_TEST_A=one two  \nCAPSID_TEST_B=\n");
	CHECK(apply_any("runtimeoptions.v1.Options", p, &err) == 0);
	CHECK(getenv("CAPSID_TEST_A") && strcmp(getenv("CAPSID_TEST_A"), "one two") == 0);
	CHECK(getenv("CAPSID_TEST_B") && strcmp(getenv("CAPSID_TEST_B"), "") == 0);
	/* no options at all, or an empty ConfigPath: nothing to do */
	int fd = feed("", 0);
	CHECK(shim_options_apply(fd, &err) == 0);
	close(fd);
	CHECK(apply_any("types.containerd.io/runtimeoptions.v1.Options", "", &err) == 0);
}

static void test_refused(void)
{
	struct capsid_error err = {0};
	CHECK(apply_any("containerd.runc.v1.Options", "", &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "containerd.runc.v1.Options");
	err = (struct capsid_error){0};
	CHECK(apply_any("runtimeoptions.v1.Options", write_conf("path", "PATH=/evil\n"), &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "line 1: want CAPSID_NAME=value");
	err = (struct capsid_error){0};
	CHECK(apply_any("runtimeoptions.v1.Options", write_conf("name", "# x\nCAPSID_a-b=1\n"), &err) ==
	      -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "line 2: bad name");
	err = (struct capsid_error){0};
	CHECK(apply_any("runtimeoptions.v1.Options", "/nonexistent/capsid.env", &err) == -ENOENT);
	CHECK_STR_CONTAINS(err.msg, "/nonexistent/capsid.env");
	err = (struct capsid_error){0};
	int fd = feed("\xff\xff\xff\xff", 4);
	CHECK(shim_options_apply(fd, &err) == -EINVAL);
	close(fd);
	/* over 64 KiB of options: refused, not read on */
	char *big = malloc(70000);
	memset(big, 'x', 70000);
	int p[2];
	CHECK(pipe(p) == 0);
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	CHECK(write(p[1], big, 70000) == 70000);
	close(p[1]);
	err = (struct capsid_error){0};
	CHECK(shim_options_apply(p[0], &err) == -EFBIG);
	close(p[0]);
	free(big);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN_TEST(test_applied);
	RUN_TEST(test_refused);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	TEST_EXIT();
}
