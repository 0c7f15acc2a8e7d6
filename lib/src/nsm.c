/*
 * The NSM protocol (gb/nsm.h): requests encoded as serde_cbor writes them,
 * responses decoded with the strict cursor of cbor_int.h, in any key order.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cbor_int.h"
#include "gb/nsm.h"
#include "nsm_int.h"

static const struct {
	const char *name, *text;
} statuses[GB_NSM__COUNT] = {
	{ "Success", "success" },
	{ "InvalidArgument", "the NSM refused an argument" },
	{ "InvalidIndex", "no such PCR" },
	{ "InvalidResponse", "the NSM could not build its response" },
	{ "ReadOnlyIndex", "the PCR is locked" },
	{ "InvalidOperation", "the NSM does not allow this operation" },
	{ "BufferTooSmall", "the response did not fit the buffer" },
	{ "InputTooLarge", "the request is too large for the NSM" },
	{ "InternalError", "the NSM failed internally" },
	{ "Transport", "the NSM device could not be reached" },
	{ "Decode", "the NSM's response is not in the documented form" },
	{ "Mismatch", "the NSM answered another kind of request" },
};

const char *
gb_nsm_status_name(enum gb_nsm_status s)
{
	return (unsigned)s < GB_NSM__COUNT ? statuses[s].name : "Unknown";
}

const char *
gb_nsm_status_text(enum gb_nsm_status s)
{
	return (unsigned)s < GB_NSM__COUNT ? statuses[s].text :
	    "unknown NSM status";
}

int
gb_nsm_status_parse(const char *name, size_t len)
{
	for (int i = 0; i <= GB_NSM_INTERNAL_ERROR; i++)
		if (strlen(statuses[i].name) == len &&
		    memcmp(statuses[i].name, name, len) == 0)
			return i;
	return -1;
}

/* --- transport: the /dev/nsm ioctl ------------------------------------ */

struct nsm_iovec {
	uint64_t addr, len;
};
struct nsm_message {
	struct nsm_iovec request, response;
};

int
gb_nsm_dev_xfer(void *ctx, const uint8_t *req, size_t req_len, uint8_t *resp,
    size_t *resp_len)
{
	int fd = (int)(intptr_t)ctx;
	struct nsm_message m = {
		{ (uint64_t)(uintptr_t)req, req_len },
		{ (uint64_t)(uintptr_t)resp, *resp_len },
	};

	if (req_len > GB_NSM_REQUEST_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (ioctl(fd, GB_NSM_IOCTL, &m) != 0)
		return -1;
	/* The driver reports the real length and truncates to the buffer. */
	if (m.response.len > *resp_len) {
		errno = EMSGSIZE;
		return -1;
	}
	*resp_len = (size_t)m.response.len;
	return 0;
}

int
gb_nsm_open_dev(const char *path, struct gb_nsm *out)
{
	int fd = open(path != NULL ? path : "/dev/nsm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	out->xfer = gb_nsm_dev_xfer;
	out->ctx = (void *)(intptr_t)fd;
	return 0;
}

void
gb_nsm_close_dev(struct gb_nsm *n)
{
	if (n->xfer == gb_nsm_dev_xfer)
		close((int)(intptr_t)n->ctx);
	n->xfer = NULL;
}

/* --- requests ---------------------------------------------------------- */

/* A CBOR head: major type and argument, shortest form. */
void
gb__nsm_head(struct gb__nsm_w *w, unsigned major, uint64_t v)
{
	uint8_t b[9];
	size_t n;

	if (v < 24) {
		b[0] = (uint8_t)(major << 5 | v);
		n = 1;
	} else if (v <= 0xff) {
		b[0] = (uint8_t)(major << 5 | 24);
		b[1] = (uint8_t)v;
		n = 2;
	} else if (v <= 0xffff) {
		b[0] = (uint8_t)(major << 5 | 25);
		b[1] = (uint8_t)(v >> 8);
		b[2] = (uint8_t)v;
		n = 3;
	} else if (v <= 0xffffffff) {
		b[0] = (uint8_t)(major << 5 | 26);
		for (int i = 0; i < 4; i++)
			b[1 + i] = (uint8_t)(v >> (24 - 8 * i));
		n = 5;
	} else {
		b[0] = (uint8_t)(major << 5 | 27);
		for (int i = 0; i < 8; i++)
			b[1 + i] = (uint8_t)(v >> (56 - 8 * i));
		n = 9;
	}
	if (w->len + n > w->cap) {
		w->bad = true;
		return;
	}
	memcpy(w->p + w->len, b, n);
	w->len += n;
}

void
gb__nsm_raw(struct gb__nsm_w *w, const void *p, size_t n)
{
	if (w->bad || w->len + n > w->cap) {
		w->bad = true;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->len, p, n);
	w->len += n;
}

void
gb__nsm_text(struct gb__nsm_w *w, const char *s)
{
	gb__nsm_head(w, 3, strlen(s));
	gb__nsm_raw(w, s, strlen(s));
}

/* A bstr, or null when p is NULL. */
void
gb__nsm_bytes(struct gb__nsm_w *w, const uint8_t *p, size_t n)
{
	static const uint8_t null = 0xf6;

	if (p == NULL) {
		gb__nsm_raw(w, &null, 1);
		return;
	}
	gb__nsm_head(w, 2, n);
	gb__nsm_raw(w, p, n);
}

/* {name: {...}} with `pairs` pairs to follow. */
void
gb__nsm_variant(struct gb__nsm_w *w, const char *name, unsigned pairs)
{
	gb__nsm_head(w, 5, 1);
	gb__nsm_text(w, name);
	gb__nsm_head(w, 5, pairs);
}

size_t
gb__nsm_done(struct gb__nsm_w *w)
{
	return w->bad ? 0 : w->len;
}

size_t
gb_nsm_enc_attestation(uint8_t *out, const uint8_t *user_data, size_t ud_len,
    const uint8_t *nonce, size_t nonce_len, const uint8_t *public_key,
    size_t pk_len)
{
	struct gb__nsm_w w = { out, 0, false, GB_NSM_REQUEST_MAX };

	if ((user_data && ud_len > GB_NSM_USER_FIELD_MAX) ||
	    (nonce && nonce_len > GB_NSM_USER_FIELD_MAX) ||
	    (public_key && (pk_len == 0 || pk_len > GB_NSM_PUBLIC_KEY_MAX)))
		return 0;
	gb__nsm_variant(&w, "Attestation", 3);
	gb__nsm_text(&w, "user_data");
	gb__nsm_bytes(&w, user_data, ud_len);
	gb__nsm_text(&w, "nonce");
	gb__nsm_bytes(&w, nonce, nonce_len);
	gb__nsm_text(&w, "public_key");
	gb__nsm_bytes(&w, public_key, pk_len);
	return gb__nsm_done(&w);
}

static size_t
index_request(uint8_t *out, const char *name, const char *field, unsigned v)
{
	struct gb__nsm_w w = { out, 0, false, GB_NSM_REQUEST_MAX };

	gb__nsm_variant(&w, name, 1);
	gb__nsm_text(&w, field);
	gb__nsm_head(&w, 0, v);
	return gb__nsm_done(&w);
}

size_t
gb_nsm_enc_describe_pcr(uint8_t *out, unsigned index)
{
	return index_request(out, "DescribePCR", "index", index);
}

size_t
gb_nsm_enc_lock_pcr(uint8_t *out, unsigned index)
{
	return index_request(out, "LockPCR", "index", index);
}

size_t
gb_nsm_enc_lock_pcrs(uint8_t *out, unsigned range)
{
	return index_request(out, "LockPCRs", "range", range);
}

size_t
gb_nsm_enc_extend_pcr(uint8_t *out, unsigned index, const uint8_t *data,
    size_t len)
{
	struct gb__nsm_w w = { out, 0, false, GB_NSM_REQUEST_MAX };

	gb__nsm_variant(&w, "ExtendPCR", 2);
	gb__nsm_text(&w, "index");
	gb__nsm_head(&w, 0, index);
	gb__nsm_text(&w, "data");
	gb__nsm_bytes(&w, data != NULL ? data : (const uint8_t *)"", len);
	return gb__nsm_done(&w);
}

size_t
gb_nsm_enc_simple(uint8_t *out, const char *name)
{
	struct gb__nsm_w w = { out, 0, false, GB_NSM_REQUEST_MAX };

	if (strcmp(name, "DescribeNSM") != 0 && strcmp(name, "GetRandom") != 0)
		return 0;
	gb__nsm_text(&w, name);
	return gb__nsm_done(&w);
}

/* --- responses ---------------------------------------------------------- */

static enum gb_nsm_status
bad(void)
{
	return GB_NSM_E_DECODE;
}

static int
get_bytes(struct gb__cbor_cur *c, const uint8_t **p, size_t *n)
{
	struct gb__cbor_item it;

	if (gb__cbor_next(c, &it) != 0 || it.type != GB__CB_BYTES)
		return -1;
	*p = it.ptr;
	*n = it.len;
	return 0;
}

static int
get_uint(struct gb__cbor_cur *c, uint64_t max, uint64_t *v)
{
	struct gb__cbor_item it;

	if (gb__cbor_next(c, &it) != 0 || it.type != GB__CB_UINT ||
	    it.val > max)
		return -1;
	*v = it.val;
	return 0;
}

/* The fields of one response variant, from the map at the cursor. */
static int
fields(struct gb__cbor_cur *c, struct gb_nsm_response *out)
{
	struct gb__cbor_item head, key, it;
	struct gb__cbor_map m;
	uint64_t v;
	unsigned seen = 0;
	int k;

	if (gb__cbor_next(c, &head) != 0 ||
	    gb__cbor_map_begin(&m, c, &head) != 0)
		return -1;
	while ((k = gb__cbor_map_key(&m, &key)) == 1) {
		if (key.type != GB__CB_TEXT)
			return -1;
		if (gb__cbor_text_is(&key, "document") &&
		    strcmp(out->kind, "Attestation") == 0) {
			if (get_bytes(c, &out->document, &out->document_len))
				return -1;
			seen |= 1;
		} else if (gb__cbor_text_is(&key, "data")) {
			if (get_bytes(c, &out->data, &out->data_len))
				return -1;
			seen |= 2;
		} else if (gb__cbor_text_is(&key, "lock")) {
			if (gb__cbor_next(c, &it) != 0 ||
			    (it.type != GB__CB_TRUE && it.type != GB__CB_FALSE))
				return -1;
			out->lock = it.type == GB__CB_TRUE;
			seen |= 4;
		} else if (gb__cbor_text_is(&key, "random")) {
			if (get_bytes(c, &out->random, &out->random_len))
				return -1;
			seen |= 8;
		} else if (gb__cbor_text_is(&key, "version_major") ||
		    gb__cbor_text_is(&key, "version_minor") ||
		    gb__cbor_text_is(&key, "version_patch") ||
		    gb__cbor_text_is(&key, "max_pcrs")) {
			if (get_uint(c, 0xffff, &v) != 0)
				return -1;
			if (gb__cbor_text_is(&key, "version_major"))
				out->nsm.major = (uint16_t)v;
			else if (gb__cbor_text_is(&key, "version_minor"))
				out->nsm.minor = (uint16_t)v;
			else if (gb__cbor_text_is(&key, "version_patch"))
				out->nsm.patch = (uint16_t)v;
			else
				out->nsm.max_pcrs = (uint16_t)v;
			seen |= 16;
		} else if (gb__cbor_text_is(&key, "module_id") ||
		    gb__cbor_text_is(&key, "digest")) {
			char *dst = gb__cbor_text_is(&key, "digest") ?
			    out->nsm.digest : out->nsm.module_id;
			size_t cap = gb__cbor_text_is(&key, "digest") ?
			    sizeof out->nsm.digest : sizeof out->nsm.module_id;

			if (gb__cbor_next(c, &it) != 0 || it.type != GB__CB_TEXT ||
			    it.len >= cap)
				return -1;
			memcpy(dst, it.ptr, it.len);
			dst[it.len] = '\0';
			seen |= 32;
		} else if (gb__cbor_text_is(&key, "locked_pcrs")) {
			struct gb__cbor_array a;
			int more;

			if (gb__cbor_next(c, &it) != 0 ||
			    (it.type != GB__CB_ARRAY &&
			    it.type != GB__CB_ARRAY_INDEF))
				return -1;
			gb__cbor_array_begin(&a, c, &it);
			while ((more = gb__cbor_array_more(&a)) == 1) {
				if (out->nsm.nlocked == GB_NSM_PCR_MAX ||
				    get_uint(c, GB_NSM_PCR_MAX - 1, &v) != 0)
					return -1;
				out->nsm.locked[out->nsm.nlocked++] =
				    (uint16_t)v;
			}
			if (more < 0)
				return -1;
			seen |= 64;
		} else if (gb__cbor_skip_item(c, 2) != 0) {
			return -1;      /* unknown keys are skipped */
		}
	}
	if (k < 0)
		return -1;
	/* What each kind must carry. */
	if (strcmp(out->kind, "Attestation") == 0)
		return seen & 1 ? 0 : -1;
	if (strcmp(out->kind, "DescribePCR") == 0)
		return (seen & 6) == 6 ? 0 : -1;
	if (strcmp(out->kind, "ExtendPCR") == 0)
		return seen & 2 ? 0 : -1;
	if (strcmp(out->kind, "GetRandom") == 0)
		return seen & 8 ? 0 : -1;
	if (strcmp(out->kind, "DescribeNSM") == 0)
		return (seen & 112) == 112 ? 0 : -1;
	return -1;
}

enum gb_nsm_status
gb_nsm_decode(const uint8_t *resp, size_t len, struct gb_nsm_response *out)
{
	static const char *const kinds[] = { "Attestation", "DescribePCR",
	    "ExtendPCR", "GetRandom", "DescribeNSM", "LockPCR", "LockPCRs" };
	struct gb__cbor_cur c;
	struct gb__cbor_item it, key;
	struct gb__cbor_map m;
	bool bare;
	int k;

	memset(out, 0, sizeof *out);
	out->status = GB_NSM_E_DECODE;
	if (resp == NULL || len == 0 || len > GB_NSM_RESPONSE_MAX)
		return bad();
	gb__cbor_init(&c, resp, len);
	if (gb__cbor_next(&c, &it) != 0)
		return bad();
	if ((bare = it.type == GB__CB_TEXT)) {
		/* A variant without fields: "LockPCR", "LockPCRs". */
		if (!gb__cbor_text_is(&it, "LockPCR") &&
		    !gb__cbor_text_is(&it, "LockPCRs"))
			return bad();
		memcpy(out->kind, it.ptr, it.len);
	} else {
		if (gb__cbor_map_begin(&m, &c, &it) != 0 ||
		    gb__cbor_map_key(&m, &key) != 1 || key.type != GB__CB_TEXT ||
		    key.len >= sizeof out->kind)
			return bad();
		memcpy(out->kind, key.ptr, key.len);
		if (strcmp(out->kind, "Error") == 0) {
			int s;

			if (gb__cbor_next(&c, &it) != 0 ||
			    it.type != GB__CB_TEXT ||
			    (s = gb_nsm_status_parse((const char *)it.ptr,
			    it.len)) < 0)
				return bad();
			out->status = (enum gb_nsm_status)s;
		} else {
			bool known = false;

			for (size_t i = 0; i < sizeof kinds / sizeof kinds[0];
			    i++)
				known |= strcmp(out->kind, kinds[i]) == 0;
			if (!known || fields(&c, out) != 0)
				return bad();
			out->status = GB_NSM_SUCCESS;
		}
		if ((k = gb__cbor_map_key(&m, &key)) != 0)
			return bad();   /* exactly one variant */
	}
	if (c.p != c.end)
		return bad();           /* trailing bytes */
	if (bare)
		out->status = GB_NSM_SUCCESS;
	if (out->status == GB_NSM_SUCCESS && strcmp(out->kind, "Error") == 0)
		return bad();           /* {"Error": "Success"} */
	return out->status;
}

enum gb_nsm_status
gb_nsm_call(const struct gb_nsm *n, const uint8_t *req, size_t req_len,
    const char *want_kind, uint8_t *buf, struct gb_nsm_response *out)
{
	size_t len = GB_NSM_RESPONSE_MAX;
	enum gb_nsm_status s;

	memset(out, 0, sizeof *out);
	if (req_len == 0 || req_len > GB_NSM_REQUEST_MAX)
		return out->status = GB_NSM_INPUT_TOO_LARGE;
	if (n->xfer(n->ctx, req, req_len, buf, &len) != 0)
		return out->status = GB_NSM_E_TRANSPORT;
	s = gb_nsm_decode(buf, len, out);
	if (s == GB_NSM_SUCCESS && strcmp(out->kind, want_kind) != 0)
		return out->status = GB_NSM_E_MISMATCH;
	return s;
}

enum gb_nsm_status
gb_nsm_attestation(const struct gb_nsm *n, const uint8_t *user_data,
    size_t ud_len, const uint8_t *nonce, size_t nonce_len,
    const uint8_t *public_key, size_t pk_len, uint8_t *buf,
    struct gb_nsm_response *out)
{
	uint8_t req[GB_NSM_REQUEST_MAX];
	size_t len = gb_nsm_enc_attestation(req, user_data, ud_len, nonce,
	    nonce_len, public_key, pk_len);

	if (len == 0) {
		memset(out, 0, sizeof *out);
		return out->status = public_key != NULL && pk_len == 0 ?
		    GB_NSM_INVALID_ARGUMENT : GB_NSM_INPUT_TOO_LARGE;
	}
	return gb_nsm_call(n, req, len, "Attestation", buf, out);
}
