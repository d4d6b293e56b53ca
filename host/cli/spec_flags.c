/* az container create's flags to an ACI group document (spec_flags.h). */
#include "spec_flags.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

enum {
	OPT_NAME = SPEC_FLAGS_OPT_BASE,
	OPT_IMAGE,
	OPT_CPU,
	OPT_MEMORY,
	OPT_PORTS,
	OPT_PROTOCOL,
	OPT_IP_ADDRESS,
	OPT_DNS_NAME_LABEL,
	OPT_ENV,
	OPT_SECURE_ENV,
	OPT_RESTART_POLICY,
	OPT_COMMAND_LINE,
	OPT_LOCATION,
	OPT_OS_TYPE,
};

const struct option spec_flags_options[] = {
    {"name", required_argument, NULL, OPT_NAME},
    {"image", required_argument, NULL, OPT_IMAGE},
    {"cpu", required_argument, NULL, OPT_CPU},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"ports", required_argument, NULL, OPT_PORTS},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"ip-address", required_argument, NULL, OPT_IP_ADDRESS},
    {"dns-name-label", required_argument, NULL, OPT_DNS_NAME_LABEL},
    {"environment-variables", required_argument, NULL, OPT_ENV},
    {"secure-environment-variables", required_argument, NULL, OPT_SECURE_ENV},
    {"restart-policy", required_argument, NULL, OPT_RESTART_POLICY},
    {"command-line", required_argument, NULL, OPT_COMMAND_LINE},
    {"location", required_argument, NULL, OPT_LOCATION},
    {"os-type", required_argument, NULL, OPT_OS_TYPE},
    {0},
};

const char spec_flags_help[] =
    "Without -f, a single-container group from az container create's flags:\n"
    "  -n, --name NAME                 the group (and its container)\n"
    "  --image REF                     the container's image\n"
    "  --cpu N                         CPU cores (default 1)\n"
    "  --memory GB                     memory in GB (default 1.5)\n"
    "  --ports PORT...                 the container's ports (default 80)\n"
    "  --protocol TCP|UDP              of those ports (default TCP)\n"
    "  --ip-address Public|Private     give the group an address with those ports\n"
    "  --dns-name-label LABEL          its DNS name (implies --ip-address Public)\n"
    "  -e, --environment-variables K=V...\n"
    "  --secure-environment-variables K=V|K...   K alone: the value of $K here\n"
    "  --restart-policy Always|OnFailure|Never  (default Always)\n"
    "  --command-line \"CMD ARGS\"       split as a shell splits words\n"
    "  -l, --location LOC, --os-type Linux\n";

static int take_values(const char **dst, size_t *n, const char *first, int argc, char **argv, int *optind,
		       const char *flag, struct capsid_error *err)
{
	const char *v = first;
	for (;;) {
		if (*n >= SPEC_FLAGS_MAX_VALUES)
			return capsid_error_set(err, EINVAL, "--%s: at most %d values", flag,
						SPEC_FLAGS_MAX_VALUES);
		dst[(*n)++] = v;
		if (*optind >= argc || argv[*optind][0] == '-')
			return 0;
		v = argv[(*optind)++];
	}
}

int spec_flags_take(struct spec_flags *f, int opt, const char *optarg, int argc, char **argv, int *optind,
		    struct capsid_error *err)
{
	const char **one = NULL;
	switch (opt) {
	case 'n':
	case OPT_NAME:
		one = &f->name;
		break;
	case OPT_IMAGE:
		one = &f->image;
		break;
	case OPT_CPU:
		one = &f->cpu;
		break;
	case OPT_MEMORY:
		one = &f->memory;
		break;
	case OPT_PROTOCOL:
		one = &f->protocol;
		break;
	case OPT_IP_ADDRESS:
		one = &f->ip_address;
		break;
	case OPT_DNS_NAME_LABEL:
		one = &f->dns_name_label;
		break;
	case OPT_RESTART_POLICY:
		one = &f->restart_policy;
		break;
	case OPT_COMMAND_LINE:
		one = &f->command_line;
		break;
	case 'l':
	case OPT_LOCATION:
		one = &f->location;
		break;
	case OPT_OS_TYPE:
		one = &f->os_type;
		break;
	case OPT_PORTS:
		f->any = true;
		return take_values(f->ports, &f->n_ports, optarg, argc, argv, optind, "ports", err) < 0
			   ? -EINVAL
			   : 1;
	case 'e':
	case OPT_ENV:
		f->any = true;
		return take_values(f->env, &f->n_env, optarg, argc, argv, optind, "environment-variables",
				   err) < 0
			   ? -EINVAL
			   : 1;
	case OPT_SECURE_ENV:
		f->any = true;
		return take_values(f->secure_env, &f->n_secure_env, optarg, argc, argv, optind,
				   "secure-environment-variables", err) < 0
			   ? -EINVAL
			   : 1;
	default:
		return 0;
	}
	*one = optarg;
	f->any = true;
	return 1;
}

/* ---- the command line, split as a shell splits words --------------------- */

struct words {
	char **v;
	size_t n;
};

static void words_free(struct words *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i]);
	free(w->v);
	*w = (struct words){0};
}

static int words_add(struct words *w, const char *s, size_t len)
{
	char **v = realloc(w->v, (w->n + 2) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	w->v = v;
	if (!(v[w->n] = strndup(s, len)))
		return -ENOMEM;
	v[++w->n] = NULL;
	return 0;
}

int spec_flags_split_command(const char *line, char ***out, size_t *n, struct capsid_error *err)
{
	struct words w = {0};
	size_t cap = strlen(line) + 1;
	_cleanup_free_ char *word = malloc(cap);
	if (!word)
		return capsid_error_set(err, ENOMEM, "out of memory");
	const char *p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		size_t len = 0;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
			if (*p == '\'') {
				const char *end = strchr(p + 1, '\'');
				if (!end)
					goto unclosed;
				memcpy(word + len, p + 1, (size_t)(end - p - 1));
				len += (size_t)(end - p - 1);
				p = end + 1;
			} else if (*p == '"') {
				for (p++; *p != '"'; p++) {
					if (!*p)
						goto unclosed;
					/* Inside double quotes a backslash escapes only these. */
					if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
						p++;
					word[len++] = *p;
				}
				p++;
			} else if (*p == '\\' && p[1]) {
				word[len++] = p[1];
				p += 2;
			} else {
				word[len++] = *p++;
			}
		}
		if (words_add(&w, word, len) < 0) {
			words_free(&w);
			return capsid_error_set(err, ENOMEM, "out of memory");
		}
	}
	if (!w.n)
		return capsid_error_set(err, EINVAL, "--command-line: is empty");
	*out = w.v;
	*n = w.n;
	return 0;
unclosed:
	words_free(&w);
	return capsid_error_set(err, EINVAL, "--command-line: a quote is not closed");
}

/* ---- the document -------------------------------------------------------- */

static int number_flag(const char *flag, const char *text, double *out, struct capsid_error *err)
{
	char *end = NULL;
	errno = 0;
	*out = strtod(text, &end);
	if (!*text || *end || errno == ERANGE || !(*out > 0))
		return capsid_error_set(err, EINVAL, "--%s %.40s: must be a number greater than 0", flag,
					text);
	return 0;
}

static int add_env(struct json_object *list, const char *item, bool secure, struct capsid_error *err)
{
	const char *flag = secure ? "--secure-environment-variables" : "--environment-variables";
	const char *eq = strchr(item, '=');
	_cleanup_free_ char *name = eq ? strndup(item, (size_t)(eq - item)) : strdup(item);
	if (!name)
		return capsid_error_set(err, ENOMEM, "out of memory");
	const char *value = eq ? eq + 1 : NULL;
	if (!value && secure)
		value = getenv(name);
	if (!*name || !value)
		return capsid_error_set(err, EINVAL,
					secure ? "%s %.64s: use NAME=VALUE, or NAME with $NAME set"
					       : "%s %.64s: use NAME=VALUE",
					flag, name);
	struct json_object *e = json_object_new_object();
	if (!e || json_object_array_add(list, e) < 0) {
		json_object_put(e);
		return capsid_error_set(err, ENOMEM, "out of memory");
	}
	json_object_object_add(e, "name", json_object_new_string(name));
	json_object_object_add(e, secure ? "secureValue" : "value", json_object_new_string(value));
	return 0;
}

static struct json_object *port_list(const struct spec_flags *f, const char *protocol)
{
	struct json_object *ports = json_object_new_array();
	for (size_t i = 0; ports && i < (f->n_ports ? f->n_ports : 1); i++) {
		struct json_object *p = json_object_new_object();
		json_object_array_add(ports, p);
		/* A string: the validator reads "80" as ARM does and names the field. */
		json_object_object_add(p, "port", json_object_new_string(f->n_ports ? f->ports[i] : "80"));
		json_object_object_add(p, "protocol", json_object_new_string(protocol));
	}
	return ports;
}

int spec_flags_to_json(const struct spec_flags *f, struct json_object **out, struct capsid_error *err)
{
	*out = NULL;
	if (!f->name)
		return capsid_error_set(err, EINVAL, "--name is required (or give a spec with -f FILE)");
	if (!f->image)
		return capsid_error_set(err, EINVAL, "--image is required (or give a spec with -f FILE)");
	double cpu = 1, memory = 1.5;
	if ((f->cpu && number_flag("cpu", f->cpu, &cpu, err) < 0) ||
	    (f->memory && number_flag("memory", f->memory, &memory, err) < 0))
		return -EINVAL;
	const char *protocol = f->protocol ? f->protocol : "TCP";
	_cleanup_json_ struct json_object *doc = json_object_new_object();
	struct json_object *props = json_object_new_object(), *container = json_object_new_object(),
			   *cprops = json_object_new_object(), *containers = json_object_new_array(),
			   *requests = json_object_new_object(), *resources = json_object_new_object(),
			   *env = json_object_new_array();
	json_object_object_add(doc, "name", json_object_new_string(f->name));
	if (f->location)
		json_object_object_add(doc, "location", json_object_new_string(f->location));
	json_object_object_add(doc, "properties", props);
	json_object_object_add(props, "osType", json_object_new_string(f->os_type ? f->os_type : "Linux"));
	json_object_object_add(props, "restartPolicy",
			       json_object_new_string(f->restart_policy ? f->restart_policy : "Always"));
	json_object_object_add(props, "containers", containers);
	json_object_array_add(containers, container);
	/* The container takes the group's name, lowercase as the group's is kept. */
	_cleanup_free_ char *cname = strdup(f->name);
	for (char *p = cname; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	json_object_object_add(container, "name", cname ? json_object_new_string(cname) : NULL);
	json_object_object_add(container, "properties", cprops);
	json_object_object_add(cprops, "image", json_object_new_string(f->image));
	json_object_object_add(cprops, "resources", resources);
	json_object_object_add(resources, "requests", requests);
	json_object_object_add(requests, "cpu", json_object_new_double(cpu));
	json_object_object_add(requests, "memoryInGB", json_object_new_double(memory));
	json_object_object_add(cprops, "ports", port_list(f, protocol));
	json_object_object_add(cprops, "environmentVariables", env);
	if (!doc || !props || !container || !cprops || !containers || !requests || !resources || !env)
		return capsid_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < f->n_env; i++)
		if (add_env(env, f->env[i], false, err) < 0)
			return -EINVAL;
	for (size_t i = 0; i < f->n_secure_env; i++)
		if (add_env(env, f->secure_env[i], true, err) < 0)
			return -EINVAL;
	if (f->command_line) {
		char **words = NULL;
		size_t n = 0;
		int rc = spec_flags_split_command(f->command_line, &words, &n, err);
		if (rc < 0)
			return rc;
		struct json_object *cmd = json_object_new_array();
		json_object_object_add(cprops, "command", cmd);
		for (size_t i = 0; i < n; i++) {
			json_object_array_add(cmd, json_object_new_string(words[i]));
			free(words[i]);
		}
		free(words);
	}
	if (f->ip_address || f->dns_name_label) {
		struct json_object *ip = json_object_new_object();
		json_object_object_add(props, "ipAddress", ip);
		json_object_object_add(ip, "type",
				       json_object_new_string(f->ip_address ? f->ip_address : "Public"));
		json_object_object_add(ip, "ports", port_list(f, protocol));
		if (f->dns_name_label)
			json_object_object_add(ip, "dnsNameLabel", json_object_new_string(f->dns_name_label));
	}
	*out = TAKE_PTR(doc);
	return 0;
}
