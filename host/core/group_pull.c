/* The images a group needs, pulled before its VM boots (create's --pull),
 * with the group's imageRegistryCredentials for their registries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capsid.h"
#include "image.h"
#include "registry.h"
#include "spec.h"

void capsid_registry_config(const struct capsid_config *cfg, struct registry_config *out)
{
	*out = (struct registry_config){
		.state_root = cfg->root,
		.ca_file = cfg->registry.ca_file,
		.insecure = cfg->registry.insecure,
		.mirror = cfg->registry.mirror,
		.stall_seconds = cfg->registry.stall_seconds,
	};
}

static const struct spec_registry_credential *credentials_for(const struct spec_group *spec,
								const struct registry_ref *r)
{
	for (size_t k = 0; k < spec->n_registry_credentials; k++)
		if (registry_server_matches(spec->registry_credentials[k].server, r))
			return &spec->registry_credentials[k];
	return NULL;
}

int capsid_group_pull(const struct capsid_config *cfg, const struct spec_group *spec, const struct capsid_pull_opts *o,
		      struct capsid_error *err)
{
	const char *policy = o && o->policy ? o->policy : "missing";
	bool always = !strcmp(policy, "always");
	if (strcmp(policy, "missing") && !always && strcmp(policy, "never"))
		return capsid_error_set(err, EINVAL, "--pull %s: expected missing, always or never", policy);
	if (!strcmp(policy, "never"))
		return 0;
	struct registry_config rcfg;
	capsid_registry_config(cfg, &rcfg);
	struct image_store *s = NULL;
	int rc = image_store_open(cfg->root, &s, err);
	if (rc < 0)
		return rc;
	if (o && o->on_store_warning)
		image_store_set_warning_handler(s, o->on_store_warning, o->ud);
	for (size_t i = 0; rc == 0 && i < spec_group_all_containers(spec); i++) {
		const char *image = spec_group_container_at(spec, i)->image;
		bool seen = false; /* pulled for an earlier container */
		for (size_t j = 0; j < i; j++)
			seen |= !strcmp(spec_group_container_at(spec, j)->image, image);
		struct image_info *info = NULL;
		struct capsid_error ignored = {0};
		if (seen || (!always && image_resolve(s, image, &info, &ignored) == 0)) {
			image_info_free(info);
			continue;
		}
		struct registry_ref r;
		if ((rc = registry_ref_parse(image, &r, err)) == 0) {
			const struct spec_registry_credential *c = credentials_for(spec, &r);
			struct registry_credentials creds = {c ? c->username : NULL, c ? c->password : NULL};
			struct registry_pull_opts po = {.cfg = &rcfg,
							.creds = c ? &creds : NULL,
							.progress = o ? o->progress : NULL,
							.progress_ctx = o ? o->ud : NULL};
			if (o && o->on_start)
				o->on_start(o->ud, image);
			char *ref = NULL;
			rc = registry_pull(s, image, &po, &ref, err);
			if (o && o->on_end)
				o->on_end(o->ud, image);
			free(ref);
		}
		if (rc < 0) {
			char path[64];
			spec_container_path(spec, i, path, sizeof(path));
			capsid_error_prefix(err, "%s.properties.image: pull %s", path, image);
		}
	}
	image_store_close(s);
	return rc;
}
