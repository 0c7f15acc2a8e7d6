/*
 * The simulated NSM (gb/nsm_sim.h): requests decoded with the strict CBOR
 * cursor, answered as the device answers them (NSM.md), one at a time.
 */
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "cbor_int.h"
#include "gb/err.h"
#include "gb/mint.h"
#include "gb/nsm_sim.h"
#include "nsm_int.h"

#define BOOT_LOCKED 16          /* PCRs 0..15 are locked at boot */

struct gb_nsm_sim {
	pthread_mutex_t mu;         /* one request at a time, as the driver */
	struct gb_mint_chain *chain;
	char module_id[96];         /* the chain's, or "INSTANCE-enc..." */
	uint8_t pcr[GB_NSM_PCR_MAX][48];
	bool locked[GB_NSM_PCR_MAX];
	bool used[GB_NSM_PCR_MAX];  /* extended or locked after boot */
};

void
gb_nsm_pcr_of_text(const char *text, uint8_t out[48])
{
	static const uint8_t zero[48];
	struct sha384_ctx h;

	/* The text itself follows the zeros, not its digest: AWS's own
	 * example (role arn:aws:iam::123456789012:role/Webserver gives
	 * 78fce75d...) and every real document's PCR4 against the instance
	 * ID in its module_id agree. */
	sha384_init(&h);
	sha384_update(&h, sizeof zero, zero);
	sha384_update(&h, strlen(text), (const uint8_t *)text);
	sha384_digest(&h, 48, out);
}

void
gb_nsm_pcr_of_cert(const uint8_t *der, size_t len, uint8_t out[48])
{
	static const uint8_t zero[48];
	struct sha384_ctx h;
	uint8_t md[48];

	sha384_init(&h);
	sha384_update(&h, len, der);
	sha384_digest(&h, 48, md);
	sha384_update(&h, sizeof zero, zero);
	sha384_update(&h, sizeof md, md);
	sha384_digest(&h, 48, out);
}

/* arn:PARTITION:iam::ACCOUNT:role/NAME, printable, within the limit. */
static bool
role_arn_ok(const char *a)
{
	size_t n = strlen(a);
	const char *p;

	if (n > GB_NSM_SIM_ROLE_ARN_MAX || strncmp(a, "arn:", 4) != 0 ||
	    (p = strstr(a, ":iam::")) == NULL || strlen(p) < 6 + 12 + 6 ||
	    strncmp(p + 18, ":role/", 6) != 0 || p[24] == '\0')
		return false;
	for (size_t i = 0; i < 12; i++)
		if (!isdigit((unsigned char)p[6 + i]))
			return false;
	for (size_t i = 0; i < n; i++)
		if (a[i] <= ' ' || a[i] > '~')
			return false;
	return true;
}

/* i- and 8 or 17 lower-case hex digits (EC2's two lengths). */
static bool
instance_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (strncmp(id, "i-", 2) != 0 || (n != 10 &&
	    n != GB_NSM_SIM_INSTANCE_ID_MAX))
		return false;
	return strspn(id + 2, "0123456789abcdef") == n - 2;
}

/* One DER certificate, nothing after it. */
static bool
cert_ok(struct gb_span c)
{
	const unsigned char *p = c.ptr;
	X509 *x;
	bool ok;

	if (c.len == 0 || c.len > (size_t)LONG_MAX)
		return false;
	x = d2i_X509(NULL, &p, (long)c.len);
	ok = x != NULL && p == c.ptr + c.len;
	X509_free(x);
	return ok;
}

int
gb_nsm_sim_open(const char *state_dir, const struct gb_nsm_sim_opts *o,
    struct gb_nsm_sim **out, bool *renewed)
{
	static const struct gb_nsm_sim_opts none;
	struct gb_nsm_sim *s = NULL;
	const char *mid;
	int err;

	*out = NULL;
	if (o == NULL)
		o = &none;
	if ((o->iam_role_arn != NULL && !role_arn_ok(o->iam_role_arn)) ||
	    (o->instance_id != NULL && !instance_id_ok(o->instance_id)) ||
	    (o->signing_cert.ptr != NULL && (o->pcr8 != NULL ||
	    !cert_ok(o->signing_cert))))
		return GB_EINVAL;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return GB_ENOMEM;
	if ((err = gb_mint_chain_load(state_dir, &s->chain, renewed)) != 0) {
		free(s);
		return err;
	}
	mid = gb_mint_chain_module_id(s->chain);
	if (o->instance_id != NULL && strstr(mid, "-enc") != NULL)
		snprintf(s->module_id, sizeof s->module_id, "%s%s",
		    o->instance_id, strstr(mid, "-enc"));
	else
		snprintf(s->module_id, sizeof s->module_id, "%s", mid);
	if (o->boot_pcrs != NULL && !o->debug_mode)
		memcpy(s->pcr, o->boot_pcrs, 3 * 48);
	if (o->iam_role_arn != NULL)
		gb_nsm_pcr_of_text(o->iam_role_arn, s->pcr[3]);
	if (o->instance_id != NULL)
		gb_nsm_pcr_of_text(o->instance_id, s->pcr[4]);
	if (o->signing_cert.ptr != NULL && !o->debug_mode)
		gb_nsm_pcr_of_cert(o->signing_cert.ptr, o->signing_cert.len,
		    s->pcr[8]);
	if (o->pcr8 != NULL && !o->debug_mode)
		memcpy(s->pcr[8], o->pcr8, 48);
	for (int i = 0; i < BOOT_LOCKED; i++)
		s->locked[i] = true;
	pthread_mutex_init(&s->mu, NULL);
	*out = s;
	return 0;
}

void
gb_nsm_sim_close(struct gb_nsm_sim *s)
{
	if (s == NULL)
		return;
	gb_mint_chain_free(s->chain);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

struct gb_span
gb_nsm_sim_root(const struct gb_nsm_sim *s)
{
	return gb_mint_chain_cert(s->chain, 0);
}

const char *
gb_nsm_sim_module_id(const struct gb_nsm_sim *s)
{
	return s->module_id;
}

/* {"Error": name} */
static size_t
error(struct gb__nsm_w *w, enum gb_nsm_status st)
{
	w->len = 0;
	w->bad = false;
	gb__nsm_head(w, 5, 1);
	gb__nsm_text(w, "Error");
	gb__nsm_text(w, gb_nsm_status_name(st));
	return gb__nsm_done(w);
}

/* The request's fields: index/range (uint), data, user_data, nonce,
 * public_key (bstr or null). Unknown fields are refused, as serde does. */
struct req {
	char kind[16];
	bool has_index;
	uint64_t index;
	struct gb_span data, user_data, nonce, public_key;
	bool has_data;
};

static int
bytes_field(struct gb__cbor_cur *c, struct gb_span *out)
{
	struct gb__cbor_item it;

	if (gb__cbor_next(c, &it) != 0)
		return -1;
	if (it.type == GB__CB_NULL) {
		*out = (struct gb_span){ NULL, 0 };
		return 0;
	}
	if (it.type != GB__CB_BYTES)
		return -1;
	*out = (struct gb_span){ it.ptr ? it.ptr : (const uint8_t *)"",
	    it.len };
	return 0;
}

static int
parse_request(const uint8_t *p, size_t n, struct req *r)
{
	struct gb__cbor_cur c;
	struct gb__cbor_item it, key, head;
	struct gb__cbor_map m, f;
	int k;

	memset(r, 0, sizeof *r);
	gb__cbor_init(&c, p, n);
	if (gb__cbor_next(&c, &it) != 0)
		return -1;
	if (it.type == GB__CB_TEXT) {
		if (it.len >= sizeof r->kind)
			return -1;
		memcpy(r->kind, it.ptr, it.len);
		return c.p == c.end ? 0 : -1;
	}
	if (gb__cbor_map_begin(&m, &c, &it) != 0 ||
	    gb__cbor_map_key(&m, &key) != 1 || key.type != GB__CB_TEXT ||
	    key.len >= sizeof r->kind)
		return -1;
	memcpy(r->kind, key.ptr, key.len);
	if (gb__cbor_next(&c, &head) != 0 ||
	    gb__cbor_map_begin(&f, &c, &head) != 0)
		return -1;
	while ((k = gb__cbor_map_key(&f, &key)) == 1) {
		if (gb__cbor_text_is(&key, "index") ||
		    gb__cbor_text_is(&key, "range")) {
			if (gb__cbor_next(&c, &it) != 0 ||
			    it.type != GB__CB_UINT)
				return -1;
			r->has_index = true;
			r->index = it.val;
		} else if (gb__cbor_text_is(&key, "data")) {
			if (bytes_field(&c, &r->data) != 0)
				return -1;
			r->has_data = true;
		} else if (gb__cbor_text_is(&key, "user_data")) {
			if (bytes_field(&c, &r->user_data) != 0)
				return -1;
		} else if (gb__cbor_text_is(&key, "nonce")) {
			if (bytes_field(&c, &r->nonce) != 0)
				return -1;
		} else if (gb__cbor_text_is(&key, "public_key")) {
			if (bytes_field(&c, &r->public_key) != 0)
				return -1;
		} else {
			return -1;
		}
	}
	if (k < 0 || gb__cbor_map_key(&m, &key) != 0)
		return -1;
	return c.p == c.end ? 0 : -1;
}

static size_t
attestation(struct gb_nsm_sim *s, const struct req *r, struct gb__nsm_w *w)
{
	uint8_t pcrs[GB_NSM_PCR_MAX][48];
	struct gb_mint_doc d = { .timestamp_ms = 0 };
	unsigned count = BOOT_LOCKED;
	uint8_t *doc;
	size_t len;

	if (r->user_data.len > GB_NSM_USER_FIELD_MAX ||
	    r->nonce.len > GB_NSM_USER_FIELD_MAX ||
	    r->public_key.len > GB_NSM_PUBLIC_KEY_MAX)
		return error(w, GB_NSM_INPUT_TOO_LARGE);
	/* AWS bounds public_key to 1..1024 bytes: null asks for none. */
	if (r->public_key.ptr != NULL && r->public_key.len == 0)
		return error(w, GB_NSM_INVALID_ARGUMENT);
	/* PCRs 0..15, then up to the last one used (the minting module
	 * writes indices 0..count-1). */
	for (unsigned i = BOOT_LOCKED; i < GB_NSM_PCR_MAX; i++)
		if (s->used[i])
			count = i + 1;
	memcpy(pcrs, s->pcr, sizeof pcrs);
	d.pcr_count = count;
	d.module_id = s->module_id;
	d.pcrs = (const uint8_t (*)[48])pcrs;
	d.user_data = r->user_data;
	d.nonce = r->nonce;
	d.public_key = r->public_key;
	if (gb_mint_document(s->chain, &d, &doc, &len) != 0)
		return error(w, GB_NSM_INTERNAL_ERROR);
	gb__nsm_variant(w, "Attestation", 1);
	gb__nsm_text(w, "document");
	gb__nsm_bytes(w, doc, len);
	free(doc);
	return gb__nsm_done(w) ? w->len : error(w, GB_NSM_BUFFER_TOO_SMALL);
}

static size_t
answer(struct gb_nsm_sim *s, const struct req *r, struct gb__nsm_w *w)
{
	unsigned i = (unsigned)r->index;

	if (strcmp(r->kind, "Attestation") == 0)
		return attestation(s, r, w);
	if (strcmp(r->kind, "DescribeNSM") == 0) {
		unsigned nlocked = 0;

		for (unsigned k = 0; k < GB_NSM_PCR_MAX; k++)
			nlocked += s->locked[k];
		gb__nsm_variant(w, "DescribeNSM", 7);
		gb__nsm_text(w, "version_major"), gb__nsm_head(w, 0, 1);
		gb__nsm_text(w, "version_minor"), gb__nsm_head(w, 0, 0);
		gb__nsm_text(w, "version_patch"), gb__nsm_head(w, 0, 0);
		gb__nsm_text(w, "module_id");
		gb__nsm_text(w, s->module_id);
		gb__nsm_text(w, "max_pcrs"), gb__nsm_head(w, 0, GB_NSM_PCR_MAX);
		gb__nsm_text(w, "locked_pcrs"), gb__nsm_head(w, 4, nlocked);
		for (unsigned k = 0; k < GB_NSM_PCR_MAX; k++)
			if (s->locked[k])
				gb__nsm_head(w, 0, k);
		gb__nsm_text(w, "digest"), gb__nsm_text(w, "SHA384");
		return gb__nsm_done(w);
	}
	if (strcmp(r->kind, "GetRandom") == 0) {
		uint8_t rnd[256];

		if (RAND_bytes(rnd, sizeof rnd) != 1)
			return error(w, GB_NSM_INTERNAL_ERROR);
		gb__nsm_variant(w, "GetRandom", 1);
		gb__nsm_text(w, "random");
		gb__nsm_bytes(w, rnd, sizeof rnd);
		return gb__nsm_done(w);
	}
	if (!r->has_index)
		return error(w, GB_NSM_INVALID_ARGUMENT);
	if (strcmp(r->kind, "LockPCRs") == 0) {
		if (r->index > GB_NSM_PCR_MAX)
			return error(w, GB_NSM_INVALID_INDEX);
		for (unsigned k = 0; k < r->index; k++) {
			if (k >= BOOT_LOCKED && !s->locked[k])
				s->used[k] = true;
			s->locked[k] = true;
		}
		gb__nsm_text(w, "LockPCRs");
		return gb__nsm_done(w);
	}
	if (r->index >= GB_NSM_PCR_MAX)
		return error(w, GB_NSM_INVALID_INDEX);
	if (strcmp(r->kind, "DescribePCR") == 0) {
		gb__nsm_variant(w, "DescribePCR", 2);
		gb__nsm_text(w, "lock");
		gb__nsm_raw(w, s->locked[i] ? "\xf5" : "\xf4", 1);
		gb__nsm_text(w, "data");
		gb__nsm_bytes(w, s->pcr[i], 48);
		return gb__nsm_done(w);
	}
	if (strcmp(r->kind, "LockPCR") == 0) {
		if (i >= BOOT_LOCKED && !s->locked[i])
			s->used[i] = true;
		s->locked[i] = true;
		gb__nsm_text(w, "LockPCR");
		return gb__nsm_done(w);
	}
	if (strcmp(r->kind, "ExtendPCR") == 0) {
		struct sha384_ctx h;

		if (!r->has_data || r->data.ptr == NULL)
			return error(w, GB_NSM_INVALID_ARGUMENT);
		if (s->locked[i])
			return error(w, GB_NSM_READ_ONLY_INDEX);
		sha384_init(&h);
		sha384_update(&h, 48, s->pcr[i]);
		sha384_update(&h, r->data.len, r->data.ptr);
		sha384_digest(&h, 48, s->pcr[i]);
		s->used[i] = true;
		gb__nsm_variant(w, "ExtendPCR", 1);
		gb__nsm_text(w, "data");
		gb__nsm_bytes(w, s->pcr[i], 48);
		return gb__nsm_done(w);
	}
	return error(w, GB_NSM_INVALID_OPERATION);
}

static int
sim_xfer(void *ctx, const uint8_t *req, size_t req_len, uint8_t *resp,
    size_t *resp_len)
{
	struct gb_nsm_sim *s = ctx;
	struct gb__nsm_w w = { resp, 0, false, *resp_len };
	struct req r;
	size_t n;

	pthread_mutex_lock(&s->mu);
	if (req_len > GB_NSM_REQUEST_MAX)
		n = error(&w, GB_NSM_INPUT_TOO_LARGE);
	else if (parse_request(req, req_len, &r) != 0)
		n = error(&w, GB_NSM_INVALID_ARGUMENT);
	else
		n = answer(s, &r, &w);
	pthread_mutex_unlock(&s->mu);
	*resp_len = n;
	return 0;
}

struct gb_nsm
gb_nsm_sim_transport(struct gb_nsm_sim *s)
{
	return (struct gb_nsm){ sim_xfer, s };
}
