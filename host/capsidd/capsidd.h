/* capsidd: ACI's container-group REST API (ARM's shape) over TLS, for
 * several tenants, as a client of libcapsid (host/core/capsid.h).
 *
 * One process, one thread, one epoll loop serves every connection; what
 * blocks (create, delete, start, stop, restart, an exec session) runs in a
 * child process of its own, whose result lands in a file under
 * <root>/capsidd/, so a capsidd that dies or restarts loses nothing. */
#ifndef CAPSIDD_H
#define CAPSIDD_H

#include <limits.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "capsid.h"
#include "util.h"

struct json_object;

#define CD_MAX_HEADER	(16u << 10) /* request line and headers */
#define CD_MAX_TENANTS	1024	    /* as many as tokens */
#define CD_MAX_SUBS	16	    /* subscriptions per token */
#define CD_MAX_TOKENS	1024
#define CD_MAX_FIELD	128 /* tenant, subscription, resource group names */
#define CD_MAX_SESSIONS 64  /* exec sessions handed out and not yet opened */

/* ---- settings and tenants ---------------------------------------------- */

struct cd_limits {
	unsigned max_conns;	    /* connections at once */
	unsigned max_conns_per_ip;  /* per client address */
	size_t max_body;	    /* request body bytes */
	unsigned header_timeout_ms; /* from the first byte to the end of the headers and body */
	unsigned idle_timeout_ms;   /* keep-alive between requests */
	unsigned write_timeout_ms;  /* to send a response */
	unsigned rate_per_s;	    /* requests per second per tenant (0: no limit) */
	unsigned rate_burst;
	unsigned quota_groups; /* per tenant */
	unsigned quota_cores;
	unsigned quota_memory_gb;
	unsigned max_workers; /* operations running at once */
	unsigned page_size;   /* list entries per page */

	unsigned max_scrapes;	    /* GET /metrics renders running at once */
	unsigned scrape_timeout_ms; /* a render's bound: then it is killed, 503 */
};

struct cd_token {
	char token[CD_MAX_FIELD * 2];
	char tenant[CD_MAX_FIELD];
	char subs[CD_MAX_SUBS][CD_MAX_FIELD];
	size_t n_subs;
};

struct cd_tenant {
	char name[CD_MAX_FIELD];
	double bucket;	  /* tokens of the rate limiter */
	uint64_t last_ms; /* when the bucket was filled last */
};

struct cd_tokens {
	struct cd_token *items;
	size_t n;
};

/* Read a tokens file: one `TOKEN TENANT SUB[,SUB...]` per line, '#' comments. */
int cd_tokens_load(const char *path, struct cd_tokens *out, struct capsid_error *err);
void cd_tokens_free(struct cd_tokens *t);
/* The entry of a bearer token (compared in constant time), NULL if none. */
const struct cd_token *cd_tokens_find(const struct cd_tokens *t, const char *token);
/* The token's spelling of subscription sub (ARM compares them without
 * case), NULL when the token has no such subscription. */
const char *cd_token_sub(const struct cd_token *t, const char *sub);

/* ---- HTTP --------------------------------------------------------------- */

/* CD_LINGER: answered and closing (close_notify sent, writing shut): what
 * the client still sends is read and dropped for a moment, so that an
 * answer given before the whole request arrived (413, 408) is not lost to
 * a reset. */
enum cd_conn_state { CD_HANDSHAKE, CD_READING, CD_WRITING, CD_PARKED, CD_LINGER };

struct cd_request {
	char method[16];
	char *target; /* path and query, NUL-terminated, in the connection's buffer */
	char *path;   /* percent-decoded later by the router */
	char *query;  /* after '?', NULL when none */
	const char *authorization, *content_type, *host, *upgrade, *ws_key, *connection, *expect;
	long long content_length; /* -1: none */
	bool chunked;
	char *body;
	size_t body_len;
	size_t raw_len; /* bytes the body took on the wire (chunked: more) */
};

struct cd_conn {
	int fd;
	SSL *ssl;
	enum cd_conn_state state;
	uint32_t ip; /* the client's IPv4 address (0 for others) */
	char *in;    /* CD_MAX_HEADER + max_body + 1 */
	size_t in_len;
	size_t head_len; /* bytes of the request line and headers, 0 until complete */
	struct cd_request req;
	char *out;
	size_t out_len, out_off;
	bool close_after;
	uint32_t mask; /* the epoll events asked for */
	uint64_t deadline_ms;
	char waiting_op[40];	      /* CD_PARKED: the operation whose end answers */
	const struct cd_token *token; /* while its request is handled */
	struct cd_conn *prev, *next;
};

struct cd_session {
	char id[33], password[65];
	char group[UTIL_NAME_MAX + 1];
	char tenant[CD_MAX_FIELD];
	char container[64];
	char command[1024];
	unsigned rows, cols;
	bool attach;
	uint64_t expires_ms;
};

struct cd_server {
	struct capsid_config cfg;
	struct cd_limits lim;
	const char *tokens_path;
	struct cd_tokens tokens;
	struct cd_tenant tenants[CD_MAX_TENANTS];
	size_t n_tenants;
	char dir[PATH_MAX];   /* <root>/capsidd */
	const char *location; /* what groups without a location get */
	char listen_host[80]; /* host:port for URLs when a request has no usable Host */
	SSL_CTX *tls;
	int listen_fd, epoll_fd, signal_fd, timer_fd;
	struct cd_conn *conns;
	unsigned n_conns;
	unsigned n_workers;
	struct cd_session sessions[CD_MAX_SESSIONS];
	struct cd_worker {
		pid_t pid;
		char op[40]; /* empty: an exec session */
	} * workers;	     /* lim.max_workers + CD_MAX_SESSIONS */

	struct cd_scrape *scrapes; /* lim.max_scrapes */
	unsigned long long scrape_seq;
	bool stopping;
};

/* Answer the request of c: status, extra header lines (each ending in
 * "\r\n", may be NULL) and a JSON body (may be NULL; consumed). */
void cd_respond(struct cd_server *s, struct cd_conn *c, int status, const char *headers,
		struct json_object *body);
/* ARM's error document {"error":{"code","message","target"}}. */
void cd_respond_error(struct cd_server *s, struct cd_conn *c, int status, const char *code,
		      const char *target, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void cd_respond_raw(struct cd_server *s, struct cd_conn *c, const char *data, size_t len, bool close_after);
/* Leave the connection waiting (no reading) until operation op ends. */
void cd_conn_park(struct cd_server *s, struct cd_conn *c, const char *op);
/* Drop the connection from the loop without closing its TLS session: a
 * child process that forked has it now. */
void cd_conn_forget(struct cd_server *s, struct cd_conn *c);
/* Charge the tenant's rate limit cost more requests (a list page costs
 * one per group it shows: each is a read of the group's files). */
void cd_rate_charge(struct cd_server *s, const char *tenant, double cost);
/* Run the server until SIGTERM or SIGINT. */
int cd_http_run(struct cd_server *s, struct capsid_error *err);
/* In a child process: close every descriptor but keep (-1: none). */
void cd_child_detach(int keep);
/* Called when the operation op has ended (its worker exited): answers the
 * connections parked on it. */
void cd_http_op_ended(struct cd_server *s, const char *op);

/* ---- metrics (metrics.c) ------------------------------------------------------ */

/* A GET /metrics being rendered by a child process of its own, whose
 * text arrives through a pipe the loop watches. */
struct cd_scrape {
	pid_t pid;   /* 0: free slot */
	int fd;	     /* the pipe's read end, in the epoll set */
	char id[40]; /* the parked connection's waiting_op */
	char tenant[CD_MAX_FIELD];
	char *buf;
	size_t len, cap;
	uint64_t deadline_ms;
};

/* GET /metrics with the request's token: true when the request was one
 * (answered, or parked until its render ends). */
bool cd_metrics_handle(struct cd_server *s, struct cd_conn *c);
/* An epoll event whose data is p: true when p was a scrape's (handled). */
bool cd_metrics_event(struct cd_server *s, void *p);
/* Kill the renders past their deadline and answer 503. */
void cd_metrics_sweep(struct cd_server *s, uint64_t now_ms);
/* The child pid was reaped. */
void cd_metrics_reaped(struct cd_server *s, pid_t pid);
/* capsidd stops: end every render. */
void cd_metrics_stop(struct cd_server *s);

/* ---- TLS ------------------------------------------------------------------ */

/* A server context, TLS 1.2 or later, over cert and key; when both are
 * NULL, over <dir>/tls/{cert,key}.pem, made (self-signed, for localhost and
 * 127.0.0.1) when absent. *made_path gets the certificate's path. */
int cd_tls_init(const char *cert, const char *key, const char *dir, SSL_CTX **out, char *made_path,
		size_t len, struct capsid_error *err);

/* ---- the API ---------------------------------------------------------------- */

/* Route one complete request (after authentication) and answer it. */
void cd_arm_handle(struct cd_server *s, struct cd_conn *c);
/* Answer a connection parked on operation op, which has ended. */
void cd_arm_op_answer(struct cd_server *s, struct cd_conn *c, const char *op);
/* The websocket of an exec session: true when the request was one (and
 * was answered or handed to a session process). */
bool cd_ws_handle(struct cd_server *s, struct cd_conn *c);

#endif
