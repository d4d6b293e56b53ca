/* SHA-256 for blob verification, through OpenSSL's libcrypto (EVP): a
 * well-kept, constant-maintenance implementation beats a hand-written one. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "image_internal.h"

struct image_sha256 {
	EVP_MD_CTX *ctx;
	bool failed;
};

int image_sha256_new(struct image_sha256 **out)
{
	struct image_sha256 *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		image_sha256_free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

void image_sha256_update(struct image_sha256 *h, const void *buf, size_t n)
{
	if (n > 0 && EVP_DigestUpdate(h->ctx, buf, n) != 1)
		h->failed = true;
}

int image_sha256_final(struct image_sha256 *h, char out[IMAGE_DIGEST_SIZE])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (h->failed || EVP_DigestFinal_ex(h->ctx, md, &len) != 1 || len != 32)
		return -EIO;
	static const char hex[] = "0123456789abcdef";
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[71] = '\0';
	return 0;
}

void image_sha256_free(struct image_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int image_sha256_buf(const void *buf, size_t n, char out[IMAGE_DIGEST_SIZE])
{
	struct image_sha256 *h = NULL;
	int rc = image_sha256_new(&h);
	if (rc < 0)
		return rc;
	image_sha256_update(h, buf, n);
	rc = image_sha256_final(h, out);
	image_sha256_free(h);
	return rc;
}

int image_sha256_fd(int fd, char out[IMAGE_DIGEST_SIZE], uint64_t *size)
{
	struct image_sha256 *h = NULL;
	int rc = image_sha256_new(&h);
	if (rc < 0)
		return rc;
	uint64_t total = 0;
	for (;;) {
		char buf[64 * 1024];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		image_sha256_update(h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (rc == 0)
		rc = image_sha256_final(h, out);
	image_sha256_free(h);
	if (size)
		*size = total;
	return rc;
}

bool image_digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

const char *image_quote(const char *s, char *buf, size_t len)
{
	if (len == 0)
		return "";
	size_t o = 0;
	for (; s && *s && o + 4 < len; s++)
		buf[o++] = isprint((unsigned char)*s) ? *s : '?';
	if (s && *s && o + 3 < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}
