/* TLS for capsidd: TLS 1.2 or later over the operator's pair, or over a
 * self-signed pair made at first start. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capsidd.h"
#include "cleanup.h"
#include "util.h"

static int tls_fail(struct capsid_error *err, const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return capsid_error_set(err, EINVAL, "%s: %s", what, e ? buf : "failed");
}

static bool add_ext(X509 *crt, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, crt, crt, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return false;
	bool ok = X509_add_ext(crt, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

static int write_pem(const char *path, EVP_PKEY *key, X509 *crt, struct capsid_error *err)
{
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, key ? 0600 : 0644);
	if (fd < 0)
		return capsid_error_errno(err, errno, "create %s", tmp);
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return capsid_error_errno(err, errno, "fdopen %s", tmp);
	}
	bool ok =
	    key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1 : PEM_write_X509(f, crt) == 1;
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
	fclose(f);
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return capsid_error_set(err, EIO, "write %s", path);
	}
	return 0;
}

/* A P-256 key and a certificate for localhost and 127.0.0.1 valid ten
 * years, which is its own CA (a client trusts it by adding it). */
static int make_pair(const char *cert, const char *key, struct capsid_error *err)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	if (!pk)
		return tls_fail(err, "generate a key");
	X509 *crt = X509_new();
	int rc = 0;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	if (!crt || RAND_bytes(serial, sizeof(serial)) != 1) {
		rc = tls_fail(err, "make a certificate");
		goto out;
	}
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	X509_set_version(crt, 2);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(crt));
	X509_gmtime_adj(X509_getm_notBefore(crt), -3600);
	X509_gmtime_adj(X509_getm_notAfter(crt), 10L * 365 * 24 * 3600);
	X509_set_pubkey(crt, pk);
	X509_NAME *name = X509_get_subject_name(crt);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"capsidd", -1, -1, 0);
	X509_set_issuer_name(crt, name);
	if (!add_ext(crt, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(crt, NID_key_usage, "critical,digitalSignature,keyCertSign") ||
	    !add_ext(crt, NID_ext_key_usage, "serverAuth") ||
	    !add_ext(crt, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") ||
	    !add_ext(crt, NID_subject_key_identifier, "hash") || X509_sign(crt, pk, EVP_sha256()) == 0) {
		rc = tls_fail(err, "sign the certificate");
		goto out;
	}
	if ((rc = write_pem(key, pk, NULL, err)) < 0 || (rc = write_pem(cert, NULL, crt, err)) < 0)
		goto out;
out:
	BN_free(bn);
	X509_free(crt);
	EVP_PKEY_free(pk);
	return rc;
}

int cd_tls_init(const char *cert, const char *key, const char *dir, SSL_CTX **out, char *made_path,
		size_t len, struct capsid_error *err)
{
	char cert_p[PATH_MAX], key_p[PATH_MAX];
	made_path[0] = '\0';
	if (!cert != !key)
		return capsid_error_set(err, EINVAL, "--tls-cert and --tls-key go together");
	if (!cert) {
		char tls_dir[PATH_MAX];
		snprintf(tls_dir, sizeof(tls_dir), "%s/tls", dir);
		int rc = util_mkdir_p(tls_dir, 0700);
		if (rc < 0)
			return capsid_error_errno(err, -rc, "mkdir %s", tls_dir);
		snprintf(cert_p, sizeof(cert_p), "%.*s/cert.pem", PATH_MAX - 16, tls_dir);
		snprintf(key_p, sizeof(key_p), "%.*s/key.pem", PATH_MAX - 16, tls_dir);
		struct stat st;
		if (stat(cert_p, &st) < 0 || stat(key_p, &st) < 0) {
			if ((rc = make_pair(cert_p, key_p, err)) < 0)
				return rc;
		}
		snprintf(made_path, len, "%s", cert_p);
		cert = cert_p;
		key = key_p;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return tls_fail(err, "TLS context");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		SSL_CTX_free(ctx);
		return tls_fail(err, cert);
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		SSL_CTX_free(ctx);
		return tls_fail(err, key);
	}
	*out = ctx;
	return 0;
}
