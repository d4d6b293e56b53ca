/* libFuzzer target for what a registry (or a user) hands the client:
 * WWW-Authenticate challenges, token answers, manifests, indexes, error
 * bodies, references and platforms. Every input must be either accepted
 * with bounded, well-formed results or rejected with a message. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	struct reg_challenge ch;
	const char *why = NULL;
	int rc = reg_challenge_parse(s, &ch, &why);
	if (rc < 0 && !why)
		abort();
	if (rc == 0 && ch.scheme == REG_AUTH_BEARER && strncmp(ch.realm, "http", 4))
		abort();

	struct capsid_error err = {0};
	char *token = NULL;
	if (reg_token_parse(s, size, &token, &err) == 0) {
		if (!token || !*token || strchr(token, ' '))
			abort();
		free(token);
	} else if (!err.msg[0]) {
		abort();
	}

	char mt[128];
	err.msg[0] = '\0';
	int kind = reg_doc_kind(s, size, size > 8 ? s + size - 8 : NULL, mt, &err);
	if (kind < 0 && !err.msg[0])
		abort();
	struct registry_platform p;
	registry_platform_parse(NULL, &p, NULL);
	struct reg_desc d;
	if (reg_index_select(s, size, &p, &d, &err) == 0 && (strlen(d.digest) != 71 || d.size > REG_MAX_JSON))
		abort();
	struct reg_manifest m;
	if (reg_manifest_parse(s, size, MT_OCI_MANIFEST, &m, &err) == 0) {
		if (m.n_layers > REG_MAX_LAYERS)
			abort();
		for (size_t i = 0; i < m.n_layers; i++)
			if (m.layers[i].size > REG_MAX_LAYER_BYTES || strlen(m.layers[i].digest) != 71)
				abort();
		reg_manifest_clear(&m);
	}
	char out[256];
	reg_error_body(s, size, out, sizeof(out));
	for (const char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20)
			abort();

	struct registry_ref r;
	if (registry_ref_parse(s, &r, &err) == 0 && (strstr(r.store_ref, "..") || !r.repo[0] || !r.domain[0]))
		abort();
	registry_platform_parse(s, &p, &err);
	free(s);
	return 0;
}
