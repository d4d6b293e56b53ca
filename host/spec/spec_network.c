/* The networking fields of the group model, validated as ACI does:
 *
 *   properties.ipAddress {type: Public|Private, ports[{port, protocol}],
 *                         dnsNameLabel, ip}
 *   properties.containers[].properties.ports[{port, protocol}]
 *   properties.dnsConfig {nameServers[], searchDomains, options}
 *   properties.subnetIds[{id, name}]   (the last segment of id names a
 *                                       capsid virtual network)
 *
 * Rules across fields: every group port is declared by a container, no two
 * containers declare the same port (and protocol), a group in a subnet is
 * Private, and there is no port mapping (the group port is the container
 * port; mapping keys are refused, not ignored). */
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "spec.h"
#include "spec_internal.h"

#define SEARCH_MAX_DOMAINS 6
#define SEARCH_MAX_CHARS   256 /* glibc's limit for the search line */
#define OPTIONS_MAX	   16

/* ---- ports -------------------------------------------------------------- */

static int parse_port_number(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_port *p = target;
	double d = 0;
	if (spec_get_number(c, v, path, &d) < 0)
		return spec_type_error(c, path, "an integer from 1 to 65535", v);
	/* Written as !(a) so that NaN fails too. */
	if (!(d >= 1 && d <= 65535) || d != (double)(unsigned)d)
		return capsid_error_set(c->err, EINVAL, "%s: must be an integer from 1 to 65535", path);
	p->port = (unsigned)d;
	return 0;
}

static int parse_protocol(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_port *p = target;
	const char *s;
	int rc = spec_get_string(c, v, path, &s);
	if (rc < 0)
		return rc;
	if (!strcasecmp(s, "TCP"))
		p->protocol = SPEC_PROTO_TCP;
	else if (!strcasecmp(s, "UDP"))
		p->protocol = SPEC_PROTO_UDP;
	else {
		char q[80];
		spec_sanitize(q, sizeof(q), s);
		return capsid_error_set(c->err, EINVAL, "%s: unsupported value \"%s\" (allowed: TCP, UDP)",
					path, q);
	}
	return 0;
}

static int refuse_mapping(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	(void)v;
	(void)target;
	return capsid_error_set(
	    c->err, EINVAL,
	    "%s: port mapping is not supported (a group port is the same port of its container)", path);
}

static const struct spec_field port_fields[] = {
    {"port", parse_port_number, true},	      {"protocol", parse_protocol, false},
    {"targetPort", refuse_mapping, false},    {"hostPort", refuse_mapping, false},
    {"containerPort", refuse_mapping, false},
};

static bool same_port(const struct spec_port *a, const struct spec_port *b)
{
	return a->port == b->port && a->protocol == b->protocol;
}

static int parse_ports(struct spec_vctx *c, struct json_object *v, const char *path, bool at_least_one,
		       struct spec_port **out, size_t *n_out)
{
	if (!json_object_is_type(v, json_type_array))
		return spec_type_error(c, path, "an array", v);
	size_t n = json_object_array_length(v);
	if (n == 0 && at_least_one)
		return capsid_error_set(c->err, EINVAL, "%s: must contain at least one port", path);
	if (n > SPEC_MAX_PORTS)
		return capsid_error_set(c->err, EINVAL, "%s: at most %d ports are allowed, not %zu", path,
					SPEC_MAX_PORTS, n);
	if (n == 0)
		return 0;
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return spec_nomem(c);
	*n_out = n;
	for (size_t i = 0; i < n; i++) {
		char p[SPEC_PATH_SZ];
		spec_path_index(p, path, i);
		struct spec_port *port = &(*out)[i];
		int rc = spec_parse_object(c, json_object_array_get_idx(v, i), p, port_fields,
					   ARRAY_SIZE(port_fields), port);
		if (rc < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (same_port(&(*out)[j], port))
				return capsid_error_set(c->err, EINVAL, "%s: duplicate port %u/%s", p,
							port->port, spec_protocol_name(port->protocol));
	}
	return 0;
}

int spec_parse_container_ports(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_container *ct = target;
	return parse_ports(c, v, path, false, &ct->ports, &ct->n_ports);
}

int spec_check_container_ports(struct spec_vctx *c, const struct spec_group *g, size_t i, const char *path)
{
	const struct spec_container *ct = &g->containers[i];
	for (size_t k = 0; k < ct->n_ports; k++)
		for (size_t j = 0; j < i; j++)
			for (size_t m = 0; m < g->containers[j].n_ports; m++)
				if (same_port(&ct->ports[k], &g->containers[j].ports[m]))
					return capsid_error_set(c->err, EINVAL,
								"%s.properties.ports[%zu]: port %u/%s is "
								"already declared by container "
								"\"%s\"",
								path, k, ct->ports[k].port,
								spec_protocol_name(ct->ports[k].protocol),
								g->containers[j].name);
	return 0;
}

/* ---- ipAddress ---------------------------------------------------------- */

static int parse_ip_type(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_ip_address *ip = target;
	const char *s;
	int rc = spec_get_string(c, v, path, &s);
	if (rc < 0)
		return rc;
	if (!strcasecmp(s, "Public"))
		ip->type = SPEC_IP_PUBLIC;
	else if (!strcasecmp(s, "Private"))
		ip->type = SPEC_IP_PRIVATE;
	else {
		char q[80];
		spec_sanitize(q, sizeof(q), s);
		return capsid_error_set(c->err, EINVAL,
					"%s: unsupported value \"%s\" (allowed: Public, Private)", path, q);
	}
	return 0;
}

static int parse_ip_ports(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_ip_address *ip = target;
	return parse_ports(c, v, path, true, &ip->ports, &ip->n_ports);
}

static int parse_ip_label(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_parse_dns_label(c, v, path, &((struct spec_ip_address *)target)->dns_name_label);
}

static int ipv4_string(struct spec_vctx *c, struct json_object *v, const char *path, char **dst)
{
	const char *s;
	struct in_addr a;
	int rc = spec_get_string(c, v, path, &s);
	if (rc < 0)
		return rc;
	if (strlen(s) > 15 || inet_pton(AF_INET, s, &a) != 1) {
		char q[80];
		spec_sanitize(q, sizeof(q), s);
		return capsid_error_set(c->err, EINVAL, "%s: \"%s\" is not an IPv4 address", path, q);
	}
	*dst = strdup(s);
	return *dst ? 0 : spec_nomem(c);
}

static int parse_ip_ip(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return ipv4_string(c, v, path, &((struct spec_ip_address *)target)->ip);
}

static const struct spec_field ip_address_fields[] = {
    {"type", parse_ip_type, true}, {"ports", parse_ip_ports, true}, {"dnsNameLabel", parse_ip_label, false},
    {"ip", parse_ip_ip, false},	   {"fqdn", NULL, false}, /* output only (what a GET returns), so ignored */
};

int spec_parse_ip_address(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_group *g = target;
	g->ip_address = calloc(1, sizeof(*g->ip_address));
	if (!g->ip_address)
		return spec_nomem(c);
	return spec_parse_object(c, v, path, ip_address_fields, ARRAY_SIZE(ip_address_fields), g->ip_address);
}

/* ---- dnsConfig ---------------------------------------------------------- */

static int parse_name_servers(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_dns_config *d = target;
	if (!json_object_is_type(v, json_type_array))
		return spec_type_error(c, path, "an array", v);
	size_t n = json_object_array_length(v);
	if (n == 0)
		return capsid_error_set(c->err, EINVAL, "%s: must contain at least one address", path);
	if (n > SPEC_MAX_NAMESERVERS)
		return capsid_error_set(c->err, EINVAL, "%s: at most %d name servers are allowed, not %zu",
					path, SPEC_MAX_NAMESERVERS, n);
	d->name_servers = calloc(n, sizeof(*d->name_servers));
	if (!d->name_servers)
		return spec_nomem(c);
	d->n_name_servers = n;
	for (size_t i = 0; i < n; i++) {
		char p[SPEC_PATH_SZ];
		spec_path_index(p, path, i);
		int rc = ipv4_string(c, json_object_array_get_idx(v, i), p, &d->name_servers[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Labels of letters, digits and '-' (1-63, not starting or ending with
 * '-'), dot-separated, at most 253 characters. */
static bool valid_domain(const char *s, size_t len)
{
	if (len == 0 || len > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i <= len; i++) {
		char ch = i < len ? s[i] : '.';
		if (ch == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
				return false;
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			   ch == '-') {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

static bool valid_option(const char *s, size_t len)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:._-";
	size_t i = 0;
	while (i < len && strchr(ok, s[i]))
		i++;
	return len >= 1 && len <= 64 && i == len;
}

/* A space-separated list where every word passes check. */
static int parse_words(struct spec_vctx *c, struct json_object *v, const char *path, size_t max_words,
		       size_t max_chars, bool (*check)(const char *, size_t), const char *what, char **dst)
{
	const char *s;
	int rc = spec_get_string(c, v, path, &s);
	if (rc < 0)
		return rc;
	if (strlen(s) > max_chars)
		return capsid_error_set(c->err, EINVAL, "%s: must be at most %zu characters", path,
					max_chars);
	size_t words = 0;
	for (const char *p = s;;) {
		p += strspn(p, " \t");
		if (!*p)
			break;
		size_t len = strcspn(p, " \t");
		if (!check(p, len)) {
			char word[80], q[80];
			snprintf(word, sizeof(word), "%.*s", (int)(len < 64 ? len : 64), p);
			spec_sanitize(q, sizeof(q), word);
			return capsid_error_set(c->err, EINVAL, "%s: \"%s\" is not %s", path, q, what);
		}
		if (++words > max_words)
			return capsid_error_set(c->err, EINVAL, "%s: at most %zu entries are allowed", path,
						max_words);
		p += len;
	}
	*dst = strdup(s);
	return *dst ? 0 : spec_nomem(c);
}

static int parse_search_domains(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return parse_words(c, v, path, SEARCH_MAX_DOMAINS, SEARCH_MAX_CHARS, valid_domain, "a domain name",
			   &((struct spec_dns_config *)target)->search_domains);
}

static int parse_dns_options(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return parse_words(c, v, path, OPTIONS_MAX, 1024, valid_option, "a resolv.conf option",
			   &((struct spec_dns_config *)target)->options);
}

static const struct spec_field dns_config_fields[] = {
    {"nameServers", parse_name_servers, true},
    {"searchDomains", parse_search_domains, false},
    {"options", parse_dns_options, false},
};

int spec_parse_dns_config(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_group *g = target;
	g->dns_config = calloc(1, sizeof(*g->dns_config));
	if (!g->dns_config)
		return spec_nomem(c);
	return spec_parse_object(c, v, path, dns_config_fields, ARRAY_SIZE(dns_config_fields), g->dns_config);
}

/* ---- subnetIds ---------------------------------------------------------- */

/* capsid network names (host/net checks the same). The string has no NUL
 * inside len: spec_get_string refuses embedded NULs. */
static bool valid_network_name(const char *s, size_t len)
{
	static const char first[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	static const char rest[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
	if (len == 0 || len > 63 || !strchr(first, s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!strchr(rest, s[i]))
			return false;
	return true;
}

static int parse_subnet_id(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_subnet *sn = target;
	int rc = spec_dup_string(c, v, path, &sn->id);
	if (rc < 0)
		return rc;
	/* The last segment, ignoring trailing slashes. */
	size_t end = strlen(sn->id);
	while (end > 0 && sn->id[end - 1] == '/')
		end--;
	size_t start = end;
	while (start > 0 && sn->id[start - 1] != '/')
		start--;
	size_t len = end - start;
	const char *seg = sn->id + start;
	if (!valid_network_name(seg, len)) {
		char q[80];
		spec_sanitize(q, sizeof(q), sn->id);
		return capsid_error_set(
		    c->err, EINVAL,
		    "%s: \"%s\": its last path segment must name a capsid network (1-63 letters, "
		    "digits, '.', '_' or '-', starting with a letter or digit)",
		    path, q);
	}
	sn->network = strndup(seg, len);
	return sn->network ? 0 : spec_nomem(c);
}

static int parse_subnet_name(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_dup_string(c, v, path, &((struct spec_subnet *)target)->name);
}

static const struct spec_field subnet_fields[] = {
    {"id", parse_subnet_id, true},
    {"name", parse_subnet_name, false},
};

int spec_parse_subnet_ids(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_group *g = target;
	if (!json_object_is_type(v, json_type_array))
		return spec_type_error(c, path, "an array", v);
	size_t n = json_object_array_length(v);
	if (n > 1)
		return capsid_error_set(c->err, EINVAL, "%s: at most one subnet is supported, not %zu", path,
					n);
	if (n == 0)
		return 0;
	g->subnets = calloc(n, sizeof(*g->subnets));
	if (!g->subnets)
		return spec_nomem(c);
	g->n_subnets = n;
	char p[SPEC_PATH_SZ];
	spec_path_index(p, path, 0);
	return spec_parse_object(c, json_object_array_get_idx(v, 0), p, subnet_fields,
				 ARRAY_SIZE(subnet_fields), &g->subnets[0]);
}

/* ---- across fields ------------------------------------------------------ */

int spec_check_network(struct spec_vctx *c, const struct spec_group *g, const char *path)
{
	const struct spec_ip_address *ip = g->ip_address;
	if (!ip)
		return 0;
	for (size_t i = 0; i < ip->n_ports; i++) {
		bool declared = false;
		for (size_t k = 0; k < g->n_containers && !declared; k++)
			for (size_t m = 0; m < g->containers[k].n_ports && !declared; m++)
				declared = same_port(&ip->ports[i], &g->containers[k].ports[m]);
		if (!declared)
			return capsid_error_set(
			    c->err, EINVAL,
			    "%s.ipAddress.ports[%zu]: port %u/%s is not declared by any container "
			    "(properties.containers[].properties.ports)",
			    path, i, ip->ports[i].port, spec_protocol_name(ip->ports[i].protocol));
	}
	if (ip->type == SPEC_IP_PUBLIC && g->n_subnets)
		return capsid_error_set(
		    c->err, EINVAL,
		    "%s.ipAddress.type: must be Private for a group in a subnet (subnetIds), as in ACI",
		    path);
	return 0;
}
