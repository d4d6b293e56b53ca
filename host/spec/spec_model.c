/* The spec structs: serialisation back to ACI JSON, freeing (with secrets
 * wiped), and the group resource rule. */
#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "spec.h"
#include "spec_internal.h"

const char *spec_restart_policy_name(enum spec_restart_policy p)
{
	switch (p) {
	case SPEC_RESTART_ALWAYS:
		return "Always";
	case SPEC_RESTART_ON_FAILURE:
		return "OnFailure";
	case SPEC_RESTART_NEVER:
		return "Never";
	}
	return "Always";
}

const char *spec_protocol_name(enum spec_protocol p)
{
	return p == SPEC_PROTO_UDP ? "UDP" : "TCP";
}

const char *spec_ip_type_name(enum spec_ip_type t)
{
	return t == SPEC_IP_PRIVATE ? "Private" : "Public";
}

const char *spec_group_network(const struct spec_group *g)
{
	return g && g->n_subnets ? g->subnets[0].network : NULL;
}

/* ceil() of a sum of decimal fractions: 10 x 0.1 adds up to 0.9999999999999999
 * in binary floating point and 0.1+0.2 to 0.30000000000000004, so allow a
 * millionth below the integer (a byte of memory, a micro-CPU) for the noise. */
unsigned spec_ceil_sum(double x)
{
	if (!(x > SPEC_CEIL_SLACK))
		return 0;
	if (x >= 4e9)
		return 4000000000u;
	return (unsigned)ceil(x - SPEC_CEIL_SLACK);
}

unsigned spec_group_vcpus(const struct spec_group *g)
{
	double sum = 0;
	for (size_t i = 0; g && i < g->n_containers; i++)
		sum += g->containers[i].requests.cpu;
	unsigned n = spec_ceil_sum(sum);
	return n ? n : 1;
}

unsigned spec_group_memory_mib(const struct spec_group *g)
{
	double sum = 0;
	for (size_t i = 0; g && i < g->n_containers; i++)
		sum += g->containers[i].requests.memory_gb;
	unsigned n = spec_ceil_sum(sum * 1024);
	return n ? n : 1;
}

void spec_sanitize(char *out, size_t size, const char *s)
{
	static const size_t max_in = 64;
	size_t o = 0, i = 0;
	if (size == 0)
		return;
	/* Keep room for one escape (4), "..." (3) and the NUL. */
	for (; s[i] && i < max_in && o + 8 < size; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", ch);
		else
			out[o++] = (char)ch;
	}
	if (s[i] && o + 3 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o < size ? o : size - 1] = '\0';
}

static void wipe_string(struct json_object *v)
{
	/* json-c owns this buffer and frees it next; the cast only lets us
	 * clear it first. */
	explicit_bzero((char *)json_object_get_string(v), (size_t)json_object_get_string_len(v));
}

/* Every string value below obj (the contents of a secret volume). */
static void wipe_strings(struct json_object *obj)
{
	struct json_object_iterator it = json_object_iter_begin(obj), end = json_object_iter_end(obj);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		struct json_object *v = json_object_iter_peek_value(&it);
		if (json_object_is_type(v, json_type_string))
			wipe_string(v);
	}
}

void spec_wipe_secure_values(struct json_object *obj)
{
	if (json_object_is_type(obj, json_type_array)) {
		size_t n = json_object_array_length(obj);
		for (size_t i = 0; i < n; i++)
			spec_wipe_secure_values(json_object_array_get_idx(obj, i));
		return;
	}
	if (!json_object_is_type(obj, json_type_object))
		return;
	struct json_object_iterator it = json_object_iter_begin(obj), end = json_object_iter_end(obj);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		struct json_object *v = json_object_iter_peek_value(&it);
		const char *key = json_object_iter_peek_name(&it);
		/* Case-insensitive, as the validator reads these keys. */
		if (!strcasecmp(key, "secret") && json_object_is_type(v, json_type_object))
			wipe_strings(v);
		else if (json_object_is_type(v, json_type_string) &&
			 (!strcasecmp(key, "secureValue") || !strcasecmp(key, "storageAccountKey") ||
			  !strcasecmp(key, "password")))
			wipe_string(v);
		else
			spec_wipe_secure_values(v);
	}
}

void spec_json_wipe_secrets(struct json_object *doc)
{
	if (doc)
		spec_wipe_secure_values(doc);
}

/* ---- serialisation ------------------------------------------------------ */

#define put spec_json_put

struct json_object *spec_json_put(struct json_object *parent, const char *key, struct json_object *child,
				  bool *ok)
{
	if (!child || !parent) {
		*ok = false;
		json_object_put(child);
		return NULL;
	}
	int rc = key ? json_object_object_add(parent, key, child) : json_object_array_add(parent, child);
	if (rc < 0) {
		*ok = false;
		json_object_put(child);
		return NULL;
	}
	return child;
}

static void put_resources(struct json_object *parent, const char *key, const struct spec_resources *r,
			  bool *ok)
{
	struct json_object *o = put(parent, key, json_object_new_object(), ok);
	if (r->cpu > 0)
		put(o, "cpu", json_object_new_double(r->cpu), ok);
	if (r->memory_gb > 0)
		put(o, "memoryInGB", json_object_new_double(r->memory_gb), ok);
}

static void put_ports(struct json_object *parent, const struct spec_port *ports, size_t n, bool *ok)
{
	struct json_object *arr = put(parent, "ports", json_object_new_array(), ok);
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = put(arr, NULL, json_object_new_object(), ok);
		put(o, "port", json_object_new_int((int)ports[i].port), ok);
		put(o, "protocol", json_object_new_string(spec_protocol_name(ports[i].protocol)), ok);
	}
}

static void put_network(struct json_object *props, const struct spec_group *g, bool *ok)
{
	const struct spec_ip_address *ip = g->ip_address;
	if (ip) {
		struct json_object *o = put(props, "ipAddress", json_object_new_object(), ok);
		put(o, "type", json_object_new_string(spec_ip_type_name(ip->type)), ok);
		put_ports(o, ip->ports, ip->n_ports, ok);
		if (ip->dns_name_label)
			put(o, "dnsNameLabel", json_object_new_string(ip->dns_name_label), ok);
		if (ip->ip)
			put(o, "ip", json_object_new_string(ip->ip), ok);
	}
	const struct spec_dns_config *d = g->dns_config;
	if (d) {
		struct json_object *o = put(props, "dnsConfig", json_object_new_object(), ok);
		struct json_object *ns = put(o, "nameServers", json_object_new_array(), ok);
		for (size_t i = 0; i < d->n_name_servers; i++)
			put(ns, NULL, json_object_new_string(d->name_servers[i]), ok);
		if (d->search_domains)
			put(o, "searchDomains", json_object_new_string(d->search_domains), ok);
		if (d->options)
			put(o, "options", json_object_new_string(d->options), ok);
	}
	if (g->n_subnets) {
		struct json_object *arr = put(props, "subnetIds", json_object_new_array(), ok);
		for (size_t i = 0; i < g->n_subnets; i++) {
			struct json_object *o = put(arr, NULL, json_object_new_object(), ok);
			put(o, "id", json_object_new_string(g->subnets[i].id), ok);
			if (g->subnets[i].name)
				put(o, "name", json_object_new_string(g->subnets[i].name), ok);
		}
	}
}

void spec_put_env(struct json_object *arr, const struct spec_env *e, enum spec_json_mode mode, bool *ok)
{
	struct json_object *o = put(arr, NULL, json_object_new_object(), ok);
	put(o, "name", json_object_new_string(e->name), ok);
	if (!e->value) /* a secure value already dropped by an earlier redaction */
		return;
	if (!e->secure)
		put(o, "value", json_object_new_string(e->value), ok);
	else if (mode == SPEC_WITH_SECRETS)
		put(o, "secureValue", json_object_new_string(e->value), ok);
}

static void put_container(struct json_object *arr, const struct spec_container *ct, enum spec_json_mode mode,
			  bool *ok)
{
	struct json_object *o = put(arr, NULL, json_object_new_object(), ok);
	put(o, "name", json_object_new_string(ct->name), ok);
	struct json_object *props = put(o, "properties", json_object_new_object(), ok);
	put(props, "image", json_object_new_string(ct->image), ok);
	if (ct->n_command) {
		struct json_object *cmd = put(props, "command", json_object_new_array(), ok);
		for (size_t i = 0; i < ct->n_command; i++)
			put(cmd, NULL, json_object_new_string(ct->command[i]), ok);
	}
	if (ct->n_env) {
		struct json_object *env = put(props, "environmentVariables", json_object_new_array(), ok);
		for (size_t i = 0; i < ct->n_env; i++)
			spec_put_env(env, &ct->env[i], mode, ok);
	}
	struct json_object *res = put(props, "resources", json_object_new_object(), ok);
	put_resources(res, "requests", &ct->requests, ok);
	if (ct->limits.cpu > 0 || ct->limits.memory_gb > 0)
		put_resources(res, "limits", &ct->limits, ok);
	if (ct->n_ports)
		put_ports(props, ct->ports, ct->n_ports, ok);
	spec_put_volume_mounts(props, ct, ok);
	spec_put_probes(props, ct, ok);
	spec_put_security_context(props, ct, ok);
	spec_put_stdio(props, ct, ok);
}

struct json_object *spec_to_json(const struct spec_group *g, enum spec_json_mode mode)
{
	if (!g)
		return NULL;
	bool ok = true;
	_cleanup_json_ struct json_object *doc = json_object_new_object();
	if (g->api_version)
		put(doc, "apiVersion", json_object_new_string(g->api_version), &ok);
	put(doc, "name", json_object_new_string(g->name), &ok);
	if (g->location)
		put(doc, "location", json_object_new_string(g->location), &ok);
	if (g->n_tags) {
		struct json_object *tags = put(doc, "tags", json_object_new_object(), &ok);
		for (size_t i = 0; i < g->n_tags; i++)
			put(tags, g->tags[i].key, json_object_new_string(g->tags[i].value), &ok);
	}
	put(doc, "type", json_object_new_string(SPEC_RESOURCE_TYPE), &ok);
	spec_put_identity(doc, g->identity, &ok);
	struct json_object *props = put(doc, "properties", json_object_new_object(), &ok);
	put(props, "osType", json_object_new_string(g->os_type ? g->os_type : "Linux"), &ok);
	put(props, "restartPolicy", json_object_new_string(spec_restart_policy_name(g->restart_policy)), &ok);
	struct json_object *cts = put(props, "containers", json_object_new_array(), &ok);
	for (size_t i = 0; i < g->n_containers; i++)
		put_container(cts, &g->containers[i], mode, &ok);
	spec_put_init_containers(props, g, mode, &ok);
	put_network(props, g, &ok);
	spec_put_volumes(props, g, mode, &ok);
	spec_put_registry_credentials(props, g, mode, &ok);
	if (!ok) {
		if (mode == SPEC_WITH_SECRETS)
			spec_wipe_secure_values(doc);
		return NULL;
	}
	return TAKE_PTR(doc);
}

/* ---- freeing ------------------------------------------------------------ */

void spec_container_free(struct spec_container *ct)
{
	free(ct->name);
	free(ct->image);
	for (size_t i = 0; i < ct->n_command; i++)
		free(ct->command[i]);
	free(ct->command);
	for (size_t i = 0; i < ct->n_env; i++) {
		struct spec_env *e = &ct->env[i];
		if (e->secure && e->value)
			explicit_bzero(e->value, strlen(e->value));
		free(e->name);
		free(e->value);
	}
	free(ct->env);
	free(ct->ports);
	spec_volume_mounts_free(ct);
	spec_probes_free(ct);
	spec_security_context_free(ct);
}

static void network_free(struct spec_group *g)
{
	if (g->ip_address) {
		free(g->ip_address->ports);
		free(g->ip_address->dns_name_label);
		free(g->ip_address->ip);
		free(g->ip_address);
	}
	if (g->dns_config) {
		for (size_t i = 0; i < g->dns_config->n_name_servers; i++)
			free(g->dns_config->name_servers[i]);
		free(g->dns_config->name_servers);
		free(g->dns_config->search_domains);
		free(g->dns_config->options);
		free(g->dns_config);
	}
	for (size_t i = 0; i < g->n_subnets; i++) {
		free(g->subnets[i].id);
		free(g->subnets[i].name);
		free(g->subnets[i].network);
	}
	free(g->subnets);
}

void spec_free(struct spec_group *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_containers; i++)
		spec_container_free(&g->containers[i]);
	free(g->containers);
	spec_init_containers_free(g);
	network_free(g);
	spec_volumes_free(g);
	spec_registry_credentials_free(g);
	for (size_t i = 0; i < g->n_tags; i++) {
		free(g->tags[i].key);
		free(g->tags[i].value);
	}
	free(g->tags);
	free(g->api_version);
	free(g->name);
	free(g->location);
	spec_identity_free(g->identity);
	free(g->os_type);
	free(g);
}

void spec_warnings_free(struct spec_warnings *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++)
		free(w->items[i]);
	free(w->items);
	*w = (struct spec_warnings){0};
}
