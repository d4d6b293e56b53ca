/* capsid metrics serve --listen ADDR:PORT: a Prometheus endpoint (GET
 * /metrics, text format 0.0.4) over libmicrohttpd, one thread, rendering
 * capsid_metrics_render at each scrape. Runs until SIGINT or SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "capsid.h"
#include "cli.h"

struct metrics_server {
	const struct capsid_config *cfg;
	struct capsid_metrics *state;
};

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_size,
			      void **con_cls)
{
	(void)version;
	(void)upload_data;
	(void)con_cls;
	struct metrics_server *srv = cls;
	const char *type = "text/plain; charset=utf-8";
	char *text = NULL;
	size_t len = 0;
	unsigned code = MHD_HTTP_OK;
	static const char not_found[] = "not found: GET /metrics\n";
	struct capsid_error err = {0};
	if (strcmp(method, "GET") != 0 || strcmp(url, "/metrics") != 0 || *upload_size) {
		code = strcmp(method, "GET") ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND;
	} else if (capsid_metrics_render(srv->cfg, srv->state, &text, &len, &err) < 0) {
		code = MHD_HTTP_INTERNAL_SERVER_ERROR;
	} else {
		type = "text/plain; version=0.0.4; charset=utf-8";
	}
	struct MHD_Response *r =
	    text ? MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE)
		 : MHD_create_response_from_buffer(
		       code == MHD_HTTP_INTERNAL_SERVER_ERROR ? strlen(err.msg) : strlen(not_found),
		       code == MHD_HTTP_INTERNAL_SERVER_ERROR ? err.msg : (char *)not_found,
		       MHD_RESPMEM_MUST_COPY);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	enum MHD_Result ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static int parse_listen(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -EINVAL;
	*sa = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (!*host)
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

int cli_cmd_metrics(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char help[] =
	    "usage: capsid metrics serve --listen ADDR:PORT\n"
	    "Serve every group's metrics for Prometheus at http://ADDR:PORT/metrics (IPv4;\n"
	    "ADDR empty: every address) until interrupted.\n";
	if (cli_wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	const char *listen = NULL;
	if (argc == 4 && !strcmp(argv[1], "serve") && !strcmp(argv[2], "--listen"))
		listen = argv[3];
	else if (argc == 3 && !strcmp(argv[1], "serve") && !strncmp(argv[2], "--listen=", 9))
		listen = argv[2] + 9;
	if (!listen) {
		fputs(help, stderr);
		return 2;
	}
	struct sockaddr_in sa;
	if (parse_listen(listen, &sa) < 0)
		return cli_fail("metrics: --listen %s: not ADDR:PORT (an IPv4 address and a port)", listen);
	struct metrics_server srv = {.cfg = ctx->cfg, .state = capsid_metrics_new()};
	if (!srv.state)
		return cli_fail("metrics: out of memory");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* Blocked before MHD's thread starts, so it inherits the mask. */
	sigprocmask(SIG_BLOCK, &set, NULL);
	struct MHD_Daemon *d =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, answer, &srv,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, 16u,
			     MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	if (!d) {
		capsid_metrics_free(srv.state);
		return cli_fail("metrics: cannot listen on %s: %s", listen, strerror(errno));
	}
	fprintf(stderr, "capsid: metrics on http://%s/metrics\n", listen);
	int sig;
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	capsid_metrics_free(srv.state);
	return 0;
}
