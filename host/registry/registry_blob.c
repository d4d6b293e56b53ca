/* Layer downloads: at most cfg->parallel at once (curl multi), each
 * streamed into a temporary blob of the store while its SHA-256 is
 * computed and its size held to the manifest's, committed only when both
 * match. The first failure stops the others; layers already committed stay
 * for the next pull, and a layer a killed pull left half-written continues
 * from where it stopped (HTTP Range; from the start when the server sends
 * the whole blob instead). */
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "image.h"
#include "registry_http_internal.h"
#include "util.h"

struct dl {
	struct reg_client *c;
	struct registry_layer_status *l;
	size_t index;
	CURL *h;
	struct curl_slist *hdrs;
	int fd;
	EVP_MD_CTX *md;
	bool too_big, write_failed, bad_range;
	int write_errno;
	uint64_t resume_from; /* bytes of the partial blob kept, 0 for a fresh start */
	int64_t range_start;  /* the answer's Content-Range start, -1 when none */
	bool started;	      /* the first byte of the final answer was seen */
	char errbuf[CURL_ERROR_SIZE];
	char errbody[REG_MAX_ERROR_BODY + 1];
	size_t errlen;
};

static size_t dl_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct dl *d = ud;
	size_t n = size * nmemb;
	long status = 0;
	curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &status);
	if (status == 206 && d->resume_from && !d->started && d->range_start != (int64_t)d->resume_from) {
		d->bad_range = true;
		return 0;
	}
	if (status == 200 && d->resume_from && !d->started) {
		/* The whole blob after all: start the file and the hash over. */
		if (ftruncate(d->fd, 0) < 0 || lseek(d->fd, 0, SEEK_SET) < 0 ||
		    EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) != 1) {
			d->write_failed = true;
			d->write_errno = errno ? errno : EIO;
			return 0;
		}
		d->l->received = 0;
		d->resume_from = 0;
	}
	if (status == 200 || (status == 206 && d->resume_from))
		d->started = true;
	else { /* an error body: keep the start for the message */
		size_t k = n < REG_MAX_ERROR_BODY - d->errlen ? n : REG_MAX_ERROR_BODY - d->errlen;
		memcpy(d->errbody + d->errlen, p, k);
		d->errlen += k;
		return n;
	}
	if (n > d->l->size - d->l->received) {
		d->too_big = true;
		return 0;
	}
	if (EVP_DigestUpdate(d->md, p, n) != 1) {
		d->write_failed = true;
		d->write_errno = EIO;
		return 0;
	}
	int rc = util_write_all(d->fd, p, n);
	if (rc < 0) {
		d->write_failed = true;
		d->write_errno = -rc;
		return 0;
	}
	d->l->received += n;
	return n;
}

static size_t dl_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct dl *d = ud;
	size_t n = size * nmemb;
	unsigned long long start;
	if (n > 5 && !strncmp(p, "HTTP/", 5))
		d->range_start = -1; /* a new answer (after a redirect) */
	else if (n > 14 && !strncasecmp(p, "content-range:", 14) &&
		 sscanf(p + 14, " bytes %llu-", &start) == 1)
		d->range_start = (int64_t)start;
	return n;
}

/* Hash the bytes a killed pull left, to go on from there. */
static int hash_partial(struct dl *d)
{
	char buf[65536];
	uint64_t off = 0;
	while (off < d->resume_from) {
		size_t want =
		    d->resume_from - off < sizeof(buf) ? (size_t)(d->resume_from - off) : sizeof(buf);
		ssize_t r = pread(d->fd, buf, want, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		if (EVP_DigestUpdate(d->md, buf, (size_t)r) != 1)
			return -EIO;
		off += (uint64_t)r;
	}
	return lseek(d->fd, (off_t)off, SEEK_SET) < 0 ? -errno : 0;
}

static void dl_free(struct dl *d, struct image_store *s, CURLM *m, bool discard)
{
	if (d->h) {
		curl_multi_remove_handle(m, d->h);
		curl_easy_cleanup(d->h);
		d->h = NULL;
	}
	curl_slist_free_all(d->hdrs);
	d->hdrs = NULL;
	EVP_MD_CTX_free(d->md);
	d->md = NULL;
	if (d->fd >= 0) {
		close(d->fd);
		d->fd = -1;
		if (discard)
			image_blob_discard(s, d->l->digest);
	}
}

static int dl_start(struct dl *d, struct image_store *s, CURLM *m, struct capsid_error *err)
{
	char path[REGISTRY_MAX_REPO + 100];
	_cleanup_free_ char *url = NULL;
	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", d->c->ref.repo, d->l->digest);
	if (asprintf(&url, "%s%s", d->c->base, path) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	int rc = image_blob_open_partial(s, d->l->digest, d->l->size, &d->fd, &d->resume_from, err);
	if (rc < 0)
		return rc;
	d->range_start = -1;
	d->md = EVP_MD_CTX_new();
	d->h = curl_easy_init();
	if (!d->md || !d->h || EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) != 1)
		return capsid_error_set(err, ENOMEM, "out of memory");
	if (d->resume_from && (rc = hash_partial(d)) < 0) {
		/* Unreadable: start over. */
		d->resume_from = 0;
		if (ftruncate(d->fd, 0) < 0 || lseek(d->fd, 0, SEEK_SET) < 0 ||
		    EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) != 1)
			return capsid_error_errno(err, errno ? errno : EIO, "restart blob %s", d->l->digest);
	}
	struct curl_slist *t;
	char range[64];
	snprintf(range, sizeof(range), "Range: bytes=%llu-", (unsigned long long)d->resume_from);
	if (d->resume_from && !(d->hdrs = curl_slist_append(NULL, range)))
		return capsid_error_set(err, ENOMEM, "out of memory");
	if (d->c->auth && !((t = curl_slist_append(d->hdrs, d->c->auth)) && (d->hdrs = t)))
		return capsid_error_set(err, ENOMEM, "out of memory");
	if (reg_easy_setup(d->c, d->h, url, d->hdrs, true, d->errbuf) < 0 ||
	    curl_easy_setopt(d->h, CURLOPT_WRITEFUNCTION, dl_write) != CURLE_OK ||
	    curl_easy_setopt(d->h, CURLOPT_WRITEDATA, d) != CURLE_OK ||
	    curl_easy_setopt(d->h, CURLOPT_HEADERFUNCTION, dl_header) != CURLE_OK ||
	    curl_easy_setopt(d->h, CURLOPT_HEADERDATA, d) != CURLE_OK ||
	    curl_easy_setopt(d->h, CURLOPT_PRIVATE, d) != CURLE_OK)
		return capsid_error_set(err, EINVAL, "set up the request");
	if (curl_multi_add_handle(m, d->h) != CURLM_OK)
		return capsid_error_set(err, ENOMEM, "curl_multi_add_handle failed");
	d->l->state = REGISTRY_LAYER_DOWNLOADING;
	d->l->received = d->resume_from;
	return 0;
}

/* A finished transfer: verified and committed, or an error. */
static int dl_finish(struct dl *d, struct image_store *s, CURLM *m, CURLcode cc, struct capsid_error *err)
{
	const struct registry_layer_status *l = d->l;
	long status = 0;
	curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &status);
	int rc = 0;
	if (d->too_big)
		rc = capsid_error_set(err, EFBIG, "larger than the %llu bytes the manifest declares",
				      (unsigned long long)l->size);
	else if (d->bad_range)
		rc = capsid_error_set(err, EPROTO, "the registry resumed at byte %lld, not %llu",
				      (long long)d->range_start, (unsigned long long)d->resume_from);
	else if (d->write_failed)
		rc = capsid_error_errno(err, d->write_errno, "write to the store");
	else if (cc != CURLE_OK)
		rc = reg_curl_error(d->c, cc, d->errbuf, err);
	else if (!d->started && !(status == 200 && l->size == 0))
		rc = reg_status_error(status, d->errbody, d->errlen, err);
	else if (l->received != l->size)
		rc = capsid_error_set(err, EIO, "truncated: %llu of %llu bytes",
				      (unsigned long long)l->received, (unsigned long long)l->size);
	if (rc == 0) {
		unsigned char sum[EVP_MAX_MD_SIZE];
		unsigned int n = 0;
		char hex[REG_DIGEST_SIZE] = "sha256:";
		if (EVP_DigestFinal_ex(d->md, sum, &n) != 1 || n != 32)
			rc = capsid_error_set(err, EIO, "sha256 failed");
		for (unsigned i = 0; rc == 0 && i < n; i++)
			snprintf(hex + 7 + 2 * i, 3, "%02x", sum[i]);
		if (rc == 0 && strcmp(hex, l->digest) != 0)
			rc = capsid_error_set(err, EINVAL, "digest mismatch: the content is %s", hex);
	}
	if (rc == 0)
		rc = image_blob_commit(s, l->digest, d->fd, err);
	d->l->state = rc == 0 ? REGISTRY_LAYER_DONE : REGISTRY_LAYER_FAILED;
	dl_free(d, s, m, rc < 0);
	return rc;
}

int reg_fetch_layers(struct reg_client *c, struct image_store *s, struct registry_layer_status *layers,
		     size_t n, registry_progress_fn progress, void *progress_ctx, struct capsid_error *err)
{
	unsigned parallel = c->cfg->parallel ? c->cfg->parallel : 3;
	CURLM *m = curl_multi_init();
	struct dl *dls = calloc(n ? n : 1, sizeof(*dls));
	if (!m || !dls) {
		curl_multi_cleanup(m);
		free(dls);
		return capsid_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		dls[i] = (struct dl){.c = c, .l = &layers[i], .index = i, .fd = -1};
	size_t next = 0, active = 0;
	int rc = 0;
	uint64_t last = 0;
	while (rc == 0) {
		while (rc == 0 && active < parallel && next < n) {
			struct dl *d = &dls[next++];
			if (d->l->state != REGISTRY_LAYER_WAITING)
				continue;
			if ((rc = dl_start(d, s, m, err)) < 0)
				capsid_error_prefix(err, "layer %zu %s", d->index + 1, d->l->digest);
			else
				active++;
		}
		if (rc < 0 || active == 0)
			break;
		int running = 0;
		if (curl_multi_perform(m, &running) != CURLM_OK) {
			rc = capsid_error_set(err, EIO, "curl_multi_perform failed");
			break;
		}
		CURLMsg *msg;
		int left;
		while (rc == 0 && (msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct dl *d = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&d);
			active--;
			if ((rc = dl_finish(d, s, m, msg->data.result, err)) < 0)
				capsid_error_prefix(err, "layer %zu %s", d->index + 1, d->l->digest);
			last = 0; /* report the change now */
		}
		uint64_t now = util_now_ms();
		if (progress && now - last >= 100) {
			progress(progress_ctx, REGISTRY_PHASE_LAYERS, layers, n);
			last = now;
		}
		if (rc == 0 && active)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		if (dls[i].h && rc < 0 && dls[i].l->state == REGISTRY_LAYER_DOWNLOADING)
			dls[i].l->state = REGISTRY_LAYER_WAITING;
		dl_free(&dls[i], s, m, true);
	}
	if (progress)
		progress(progress_ctx, REGISTRY_PHASE_LAYERS, layers, n);
	curl_multi_cleanup(m);
	free(dls);
	return rc;
}
