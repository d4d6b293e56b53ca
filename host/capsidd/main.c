/* capsidd: ACI's container-group API over TLS (see capsidd.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arm.h"
#include "capsidd.h"
#include "cleanup.h"
#include "util.h"

static const char usage_text[] =
    "usage: capsidd --tokens FILE [--root DIR] [--listen ADDR:PORT] [--tls-cert FILE --tls-key FILE]\n"
    "               [--location NAME] [--max-body BYTES] [--max-conns N] [--max-conns-per-ip N]\n"
    "               [--header-timeout MS] [--idle-timeout MS] [--rate-limit N/s] [--rate-burst N]\n"
    "               [--quota-groups N] [--quota-cores N] [--quota-memory-gb N] [--max-workers N]\n"
    "               [--page-size N] [--max-scrapes N] [--scrape-timeout MS]\n"
    "Serve ACI's container-group REST API (ARM's shape) over TLS 1.2+. Without --tls-cert and\n"
    "--tls-key a self-signed pair is made at first start under ROOT/capsidd/tls (its path is\n"
    "printed). FILE holds one `TOKEN TENANT SUBSCRIPTION[,SUBSCRIPTION...]` per line and is read\n"
    "again on SIGHUP. GET /metrics answers the token's tenant's groups' metrics in Prometheus'\n"
    "text format.\n";

static void notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void notice(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	util_vlog_stderr("capsidd", fmt, ap);
	va_end(ap);
}

static int listen_on(const char *addr, char *host_out, size_t len, struct capsid_error *err)
{
	char buf[80];
	snprintf(buf, sizeof(buf), "%s", addr);
	char *colon = strrchr(buf, ':');
	if (!colon)
		return capsid_error_set(err, EINVAL, "--listen %s: want ADDR:PORT", addr);
	*colon = '\0';
	char *e;
	long port = strtol(colon + 1, &e, 10);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (*e || port < 1 || port > 65535 || inet_pton(AF_INET, buf, &sa.sin_addr) != 1)
		return capsid_error_set(err, EINVAL, "--listen %s: want IPv4-ADDR:PORT", addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		return capsid_error_errno(err, errno, "socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 512) < 0) {
		int rc = capsid_error_errno(err, errno, "listen on %s", addr);
		close(fd);
		return rc;
	}
	snprintf(host_out, len, "%.40s:%ld", strcmp(buf, "0.0.0.0") == 0 ? "127.0.0.1" : buf, port);
	return fd;
}

static int parse_uint(const char *opt, const char *v, unsigned long long max, unsigned long long *out)
{
	char *e;
	errno = 0;
	unsigned long long n = strtoull(v, &e, 10);
	if (!*v || *e || errno || n > max || v[0] == '-') {
		fprintf(stderr, "capsidd: --%s %s: want a number up to %llu\n", opt, v, max);
		return -1;
	}
	*out = n;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"root", required_argument, NULL, 'r'},
	    {"listen", required_argument, NULL, 'l'},
	    {"tls-cert", required_argument, NULL, 'c'},
	    {"tls-key", required_argument, NULL, 'k'},
	    {"tokens", required_argument, NULL, 't'},
	    {"location", required_argument, NULL, 'L'},
	    {"max-body", required_argument, NULL, 1},
	    {"max-conns", required_argument, NULL, 2},
	    {"max-conns-per-ip", required_argument, NULL, 3},
	    {"header-timeout", required_argument, NULL, 4},
	    {"idle-timeout", required_argument, NULL, 5},
	    {"rate-limit", required_argument, NULL, 6},
	    {"rate-burst", required_argument, NULL, 7},
	    {"quota-groups", required_argument, NULL, 8},
	    {"quota-cores", required_argument, NULL, 9},
	    {"quota-memory-gb", required_argument, NULL, 10},
	    {"max-workers", required_argument, NULL, 11},
	    {"page-size", required_argument, NULL, 12},
	    {"max-scrapes", required_argument, NULL, 13},
	    {"scrape-timeout", required_argument, NULL, 14},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static struct cd_server s;
	s.lim = (struct cd_limits){.max_conns = 512,
				   .max_conns_per_ip = 128,
				   .max_body = 1u << 20,
				   .header_timeout_ms = 10000,
				   .idle_timeout_ms = 60000,
				   .write_timeout_ms = 30000,
				   .rate_per_s = 50,
				   .rate_burst = 100,
				   .quota_groups = 100,
				   .quota_cores = 100,
				   .quota_memory_gb = 400,
				   .max_workers = 16,
				   .page_size = 100,
				   .max_scrapes = 4,
				   .scrape_timeout_ms = 10000};
	s.location = "local";
	const char *root = NULL, *listen_addr = "127.0.0.1:8443", *cert = NULL, *key = NULL;
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		unsigned long long v = 0;
		const char *name = NULL;
		for (size_t i = 0; opts[i].name; i++)
			if (opts[i].val == ch)
				name = opts[i].name;
		if (ch >= 1 && ch <= 14 &&
		    parse_uint(name, optarg,
			       ch == 1				? (64ull << 20)
			       : ch == 4 || ch == 5 || ch == 14 ? 3600000
			       : ch == 13			? 1024
								: 1000000,
			       &v) < 0)
			return 2;
		switch (ch) {
		case 'r':
			root = optarg;
			break;
		case 'l':
			listen_addr = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 't':
			s.tokens_path = optarg;
			break;
		case 'L':
			s.location = optarg;
			break;
		case 1:
			s.lim.max_body = v;
			break;
		case 2:
			s.lim.max_conns = (unsigned)v;
			break;
		case 3:
			s.lim.max_conns_per_ip = (unsigned)v;
			break;
		case 4:
			s.lim.header_timeout_ms = (unsigned)v;
			break;
		case 5:
			s.lim.idle_timeout_ms = (unsigned)v;
			break;
		case 6:
			s.lim.rate_per_s = (unsigned)v;
			break;
		case 7:
			s.lim.rate_burst = (unsigned)v;
			break;
		case 8:
			s.lim.quota_groups = (unsigned)v;
			break;
		case 9:
			s.lim.quota_cores = (unsigned)v;
			break;
		case 10:
			s.lim.quota_memory_gb = (unsigned)v;
			break;
		case 11:
			s.lim.max_workers = (unsigned)v;
			break;
		case 12:
			s.lim.page_size = (unsigned)v;
			break;
		case 13:
			s.lim.max_scrapes = (unsigned)v;
			break;
		case 14:
			s.lim.scrape_timeout_ms = (unsigned)v;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind != argc || !s.tokens_path) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (!s.lim.page_size || !s.lim.max_workers || !s.lim.max_conns || s.lim.rate_burst < 1)
		s.lim.rate_burst = s.lim.rate_burst ? s.lim.rate_burst : 1;
	if (!s.lim.page_size)
		s.lim.page_size = 1;
	if (!s.lim.max_workers)
		s.lim.max_workers = 1;
	struct capsid_error err = {0};
	if (capsid_config_from_env(&s.cfg, root, NULL, &err) < 0) {
		fprintf(stderr, "capsidd: %s\n", err.msg);
		return 1;
	}
	s.cfg.on_notice = notice;
	if (!s.lim.max_scrapes)
		s.lim.max_scrapes = 1;
	if (!s.lim.scrape_timeout_ms)
		s.lim.scrape_timeout_ms = 1;
	s.workers = calloc(s.lim.max_workers + CD_MAX_SESSIONS, sizeof(*s.workers));
	s.scrapes = calloc(s.lim.max_scrapes, sizeof(*s.scrapes));
	for (unsigned i = 0; s.scrapes && i < s.lim.max_scrapes; i++)
		s.scrapes[i].fd = -1;
	if (!s.workers || !s.scrapes) {
		fprintf(stderr, "capsidd: out of memory\n");
		return 1;
	}
	char made[PATH_MAX];
	if (cd_tokens_load(s.tokens_path, &s.tokens, &err) < 0 || cd_store_init(&s, &err) < 0 ||
	    cd_tls_init(cert, key, s.dir, &s.tls, made, sizeof(made), &err) < 0 ||
	    (s.listen_fd = listen_on(listen_addr, s.listen_host, sizeof(s.listen_host), &err)) < 0) {
		fprintf(stderr, "capsidd: %s\n", err.msg);
		return 1;
	}
	if (made[0])
		printf("capsidd: self-signed certificate %s\n", made);
	printf("capsidd: serving https://%s (root %s, %zu tokens)\n", s.listen_host, s.cfg.root, s.tokens.n);
	fflush(stdout);
	if (cd_http_run(&s, &err) < 0) {
		fprintf(stderr, "capsidd: %s\n", err.msg);
		return 1;
	}
	return 0;
}
