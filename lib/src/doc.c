/*
 * Strict parsing of Nitro attestation documents (COSE_Sign1, RFC 9052, with
 * the payload of AWS's "Verifying the root of trust" page).
 *
 * Three passes over the bytes keep the reasons in their documented order:
 * first everything is decoded (well-formed CBOR, no trailing bytes, no
 * duplicate keys: GB_R_MALFORMED), then the COSE headers are checked
 * (GB_R_BAD_HEADER), then each payload field in the canonical key order
 * (GB_R_BAD_FIELD). The first pass remembers where each known field's value
 * starts, so the third pass re-reads only those items.
 *
 * Indefinite-length (chunked) byte and text strings are refused anywhere in
 * a document, as malformed: the NSM writes definite strings only (serde_cbor),
 * and every field is read in place, so a chunked value could only be
 * accepted by reassembling it, code that no real document would exercise.
 * Indefinite-length maps and arrays are accepted: the NSM writes the payload
 * map indefinite since mid-2025.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cbor_int.h"
#include "gb/attest.h"

enum gb_reason
gb_result_set(struct gb_result *r, enum gb_reason reason, const char *fmt, ...)
{
	va_list ap;

	if (r == NULL)
		return reason;
	r->reason = reason;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof r->detail, fmt, ap);
	va_end(ap);
	return reason;
}

/* The payload keys, in the order the NSM writes them and we check them.
 * A NitroTPM writes nitrotpm_pcrs where the NSM writes pcrs; it is checked
 * in that place. */
enum field {
	F_MODULE_ID, F_DIGEST, F_TIMESTAMP, F_PCRS, F_CERTIFICATE, F_CABUNDLE,
	F_PUBLIC_KEY, F_USER_DATA, F_NONCE, F_NITROTPM_PCRS, F__COUNT
};

static const char *const field_names[F__COUNT] = {
	"module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle",
	"public_key", "user_data", "nonce", "nitrotpm_pcrs",
};

const char *
gb_doc_kind_name(enum gb_doc_kind kind)
{
	return kind == GB_DOC_NITROTPM ? "nitrotpm" : "enclave";
}

const char *
gb_doc_pcrs_key(enum gb_doc_kind kind)
{
	return field_names[kind == GB_DOC_NITROTPM ? F_NITROTPM_PCRS : F_PCRS];
}

struct layout {
	const uint8_t *field[F__COUNT];   /* start of each value, or NULL */
	const uint8_t *payload_end;
	size_t unprotected_pairs;
};

/* A cursor over document bytes: chunked strings are refused. */
static void
doc_cursor(struct gb__cbor_cur *c, const uint8_t *buf, size_t len)
{
	gb__cbor_init(c, buf, len);
	c->definite_strings = true;
}

static enum gb_reason
malformed(struct gb_result *res, const struct gb__cbor_cur *c, const char *where)
{
	return gb_result_set(res, GB_R_MALFORMED, "%s: %s", where,
	    c->why != NULL ? c->why : "invalid CBOR");
}

/* Pass 1, for the payload: a map whose keys and values are all well-formed;
 * records where the known fields' values start. */
static enum gb_reason
decode_payload(const uint8_t *p, size_t len, struct layout *lay,
    struct gb_result *res)
{
	struct gb__cbor_cur c;
	struct gb__cbor_item head, key;
	struct gb__cbor_map m;
	int more;

	doc_cursor(&c, p, len);
	if (gb__cbor_next(&c, &head) != 0)
		return malformed(res, &c, "payload");
	if (head.type != GB__CB_MAP && head.type != GB__CB_MAP_INDEF)
		return gb_result_set(res, GB_R_MALFORMED,
		    "payload: not a CBOR map");
	if (gb__cbor_map_begin(&m, &c, &head) != 0)
		return malformed(res, &c, "payload");
	while ((more = gb__cbor_map_key(&m, &key)) == 1) {
		if (key.type == GB__CB_TEXT) {
			for (int f = 0; f < F__COUNT; f++)
				if (gb__cbor_text_is(&key, field_names[f]))
					lay->field[f] = c.p;
		}
		if (gb__cbor_skip_item(&c, 2) != 0)
			return malformed(res, &c, "payload");
	}
	if (more < 0)
		return malformed(res, &c, "payload");
	if (c.p != c.end)
		return gb_result_set(res, GB_R_MALFORMED,
		    "payload: %zu trailing bytes after the map",
		    (size_t)(c.end - c.p));
	lay->payload_end = c.end;
	return GB_R_OK;
}

/* Pass 1: the COSE_Sign1 structure. */
static enum gb_reason
decode(const uint8_t *buf, size_t len, struct gb_doc *doc, struct layout *lay,
    struct gb_result *res)
{
	struct gb__cbor_cur c;
	struct gb__cbor_item it, part[4];
	struct gb__cbor_map m;
	int more;

	if (len > GB_DOC_MAX_BYTES)
		return gb_result_set(res, GB_R_MALFORMED,
		    "document is %zu bytes, more than the limit of %d", len,
		    GB_DOC_MAX_BYTES);
	doc_cursor(&c, buf, len);
	if (gb__cbor_next(&c, &it) != 0)
		return malformed(res, &c, "COSE_Sign1");
	if (it.type == GB__CB_TAG) {
		if (it.val != 18)
			return gb_result_set(res, GB_R_MALFORMED,
			    "COSE_Sign1: tag %llu instead of 18 (COSE_Sign1)",
			    (unsigned long long)it.val);
		doc->tagged = true;
		if (gb__cbor_next(&c, &it) != 0)
			return malformed(res, &c, "COSE_Sign1");
	}
	if (it.type != GB__CB_ARRAY || it.val != 4)
		return gb_result_set(res, GB_R_MALFORMED,
		    "not a COSE_Sign1 (a definite array of 4 items)");
	for (int i = 0; i < 4; i++) {
		if (gb__cbor_next(&c, &part[i]) != 0)
			return malformed(res, &c, "COSE_Sign1");
		if (i == 1) {
			if (part[1].type != GB__CB_MAP &&
			    part[1].type != GB__CB_MAP_INDEF)
				return gb_result_set(res, GB_R_MALFORMED,
				    "COSE_Sign1: unprotected header is not a map");
			if (gb__cbor_map_begin(&m, &c, &part[1]) != 0)
				return malformed(res, &c, "unprotected header");
			while ((more = gb__cbor_map_key(&m, &it)) == 1)
				if (gb__cbor_skip_item(&c, 2) != 0)
					return malformed(res, &c,
					    "unprotected header");
			if (more < 0)
				return malformed(res, &c, "unprotected header");
			lay->unprotected_pairs = m.n;
		} else if (part[i].type != GB__CB_BYTES) {
			static const char *const names[4] = { "protected header",
			    NULL, "payload", "signature" };
			return gb_result_set(res, GB_R_MALFORMED,
			    "COSE_Sign1: %s is not a byte string", names[i]);
		}
	}
	if (c.p != c.end)
		return gb_result_set(res, GB_R_MALFORMED,
		    "%zu trailing bytes after the COSE_Sign1 array",
		    (size_t)(c.end - c.p));
	doc->protected_hdr = (struct gb_span){ part[0].ptr, part[0].len };
	doc->payload = (struct gb_span){ part[2].ptr, part[2].len };
	doc->signature = (struct gb_span){ part[3].ptr, part[3].len };
	return decode_payload(part[2].ptr, part[2].len, lay, res);
}

/* Pass 2: the protected header must be exactly the map {1: -35} (alg ES384);
 * the unprotected header must be empty. */
static enum gb_reason
check_headers(const struct gb_doc *doc, const struct layout *lay,
    struct gb_result *res)
{
	struct gb__cbor_cur c;
	struct gb__cbor_item head, key, val;
	struct gb__cbor_map m;

	doc_cursor(&c, doc->protected_hdr.ptr, doc->protected_hdr.len);
	if (gb__cbor_next(&c, &head) != 0 ||
	    (head.type != GB__CB_MAP && head.type != GB__CB_MAP_INDEF) ||
	    gb__cbor_map_begin(&m, &c, &head) != 0 ||
	    gb__cbor_map_key(&m, &key) != 1 ||
	    key.type != GB__CB_UINT || key.val != 1 ||
	    gb__cbor_next(&c, &val) != 0 ||
	    gb__cbor_map_key(&m, &key) != 0 || c.p != c.end)
		return gb_result_set(res, GB_R_BAD_HEADER,
		    "protected header is not the map {1: alg}");
	if (val.type != GB__CB_NINT || val.val != 34)
		return gb_result_set(res, GB_R_BAD_HEADER,
		    "protected header alg is not -35 (ES384)");
	if (lay->unprotected_pairs != 0)
		return gb_result_set(res, GB_R_BAD_HEADER,
		    "unprotected header is not empty (%zu entries)",
		    lay->unprotected_pairs);
	return GB_R_OK;
}

static enum gb_reason
bad_field(struct gb_result *res, enum field f, const char *what)
{
	return gb_result_set(res, GB_R_BAD_FIELD, "%s: %s", field_names[f],
	    what);
}

/* Reads the head of field f's value; the layout says it is well-formed. */
static void
field_head(const struct layout *lay, enum field f, struct gb__cbor_cur *c,
    struct gb__cbor_item *it)
{
	doc_cursor(c, lay->field[f], (size_t)(lay->payload_end - lay->field[f]));
	(void)gb__cbor_next(c, it);
}

/* A definite byte string of min..max bytes. */
static enum gb_reason
check_bytes(const struct gb__cbor_item *it, enum field f, size_t min,
    size_t max, struct gb_span *out, struct gb_result *res)
{
	char what[64];

	if (it->type != GB__CB_BYTES)
		return bad_field(res, f, "not a byte string");
	if (it->len < min || it->len > max) {
		snprintf(what, sizeof what, "%zu bytes, not %zu..%zu", it->len,
		    min, max);
		return bad_field(res, f, what);
	}
	*out = (struct gb_span){ it->ptr, it->len };
	return GB_R_OK;
}

/*
 * The registers, pcrs or nitrotpm_pcrs (f). pcrs: a map of 1..32 entries,
 * keys 0..31, values of 32, 48 or 64 bytes (AWS's enclave document).
 * nitrotpm_pcrs: exactly GB_NITROTPM_PCR_COUNT entries, keys 0..23, each
 * GB_NITROTPM_PCR_BYTES bytes, the SHA-384 bank that "digest" names: a
 * TPM has all its registers, so a missing or extra one, or another
 * length, is no NitroTPM's document.
 */
static enum gb_reason
check_pcrs(const struct layout *lay, enum field f, struct gb_doc *doc,
    struct gb_result *res)
{
	bool tpm = f == F_NITROTPM_PCRS;
	unsigned max_index = tpm ? GB_NITROTPM_PCR_COUNT : GB_PCR_MAX_COUNT;
	struct gb__cbor_cur c;
	struct gb__cbor_item head, key, val;
	struct gb__cbor_map m;
	char what[96];
	int more;

	field_head(lay, f, &c, &head);
	if (head.type != GB__CB_MAP && head.type != GB__CB_MAP_INDEF)
		return bad_field(res, f, "not a map");
	(void)gb__cbor_map_begin(&m, &c, &head);
	while ((more = gb__cbor_map_key(&m, &key)) == 1) {
		if (key.type != GB__CB_UINT || key.val >= max_index) {
			snprintf(what, sizeof what,
			    "key is not an index 0..%u", max_index - 1);
			return bad_field(res, f, what);
		}
		(void)gb__cbor_next(&c, &val);
		if (tpm && (val.type != GB__CB_BYTES ||
		    val.len != GB_NITROTPM_PCR_BYTES)) {
			snprintf(what, sizeof what,
			    "PCR%u is not a byte string of %d bytes (SHA-384)",
			    (unsigned)key.val, GB_NITROTPM_PCR_BYTES);
			return bad_field(res, f, what);
		}
		if (val.type != GB__CB_BYTES ||
		    (val.len != 32 && val.len != 48 && val.len != 64)) {
			snprintf(what, sizeof what,
			    "PCR%u is not a byte string of 32, 48 or 64 bytes",
			    (unsigned)key.val);
			return bad_field(res, f, what);
		}
		doc->pcrs[key.val] = (struct gb_span){ val.ptr, val.len };
		doc->pcr_count++;
	}
	/* m.n counts keys: more than 32 keys cannot all be 0..31 without a
	 * duplicate, which pass 1 refused. */
	if (doc->pcr_count == 0)
		return bad_field(res, f, "empty");
	if (tpm && doc->pcr_count != GB_NITROTPM_PCR_COUNT) {
		snprintf(what, sizeof what, "%u registers, not the %d of a TPM "
		    "(PCR0..PCR%d)", doc->pcr_count, GB_NITROTPM_PCR_COUNT,
		    GB_NITROTPM_PCR_COUNT - 1);
		return bad_field(res, f, what);
	}
	return GB_R_OK;
}

static enum gb_reason
check_cabundle(const struct layout *lay, struct gb_doc *doc,
    struct gb_result *res)
{
	struct gb__cbor_cur c;
	struct gb__cbor_item head, it;
	struct gb__cbor_array a;
	char what[80];
	unsigned n = 0;

	field_head(lay, F_CABUNDLE, &c, &head);
	if (head.type != GB__CB_ARRAY && head.type != GB__CB_ARRAY_INDEF)
		return bad_field(res, F_CABUNDLE, "not an array");
	gb__cbor_array_begin(&a, &c, &head);
	while (gb__cbor_array_more(&a) == 1) {
		if (n == GB_CABUNDLE_MAX_CERTS) {
			snprintf(what, sizeof what, "more than %d certificates",
			    GB_CABUNDLE_MAX_CERTS);
			return bad_field(res, F_CABUNDLE, what);
		}
		(void)gb__cbor_next(&c, &it);
		if (it.type != GB__CB_BYTES || it.len < 1 ||
		    it.len > GB_CERT_MAX_BYTES) {
			snprintf(what, sizeof what,
			    "entry %u is not a byte string of 1..%d bytes", n,
			    GB_CERT_MAX_BYTES);
			return bad_field(res, F_CABUNDLE, what);
		}
		doc->cabundle[n++] = (struct gb_span){ it.ptr, it.len };
	}
	if (n == 0)
		return bad_field(res, F_CABUNDLE, "empty");
	doc->cabundle_count = n;
	return GB_R_OK;
}

/* Pass 3: each field, in the canonical order. */
static enum gb_reason
check_fields(const struct layout *lay, struct gb_doc *doc, struct gb_result *res)
{
	struct gb__cbor_cur c;
	struct gb__cbor_item it;
	enum gb_reason r;

	for (int f = 0; f < F_PUBLIC_KEY; f++) {
		if (lay->field[f] == NULL && (f != F_PCRS ||
		    lay->field[F_NITROTPM_PCRS] == NULL))
			return bad_field(res, f, "missing");
	}

	field_head(lay, F_MODULE_ID, &c, &it);
	if (it.type != GB__CB_TEXT || it.len == 0 ||
	    it.len > GB_MODULE_ID_MAX_BYTES)
		return bad_field(res, F_MODULE_ID,
		    "not a text string of 1..128 bytes");
	for (size_t i = 0; i < it.len; i++)
		if (it.ptr[i] < 0x21 || it.ptr[i] > 0x7e)
			return bad_field(res, F_MODULE_ID,
			    "not printable ASCII");
	doc->module_id = (struct gb_span){ it.ptr, it.len };

	field_head(lay, F_DIGEST, &c, &it);
	if (!gb__cbor_text_is(&it, "SHA384"))
		return bad_field(res, F_DIGEST, "not \"SHA384\"");
	doc->digest = (struct gb_span){ it.ptr, it.len };

	field_head(lay, F_TIMESTAMP, &c, &it);
	if (it.type != GB__CB_UINT || it.val == 0 ||
	    it.val > (uint64_t)GB_TIMESTAMP_MAX_MS)
		return bad_field(res, F_TIMESTAMP,
		    "not a positive integer of milliseconds before year 10000");
	doc->timestamp_ms = it.val;

	/* An enclave's document or an instance's, never both: which
	 * registers would a release be held to? */
	if (lay->field[F_PCRS] != NULL && lay->field[F_NITROTPM_PCRS] != NULL)
		return bad_field(res, F_PCRS, "present beside nitrotpm_pcrs: a "
		    "document is an enclave's (pcrs) or an instance's NitroTPM "
		    "(nitrotpm_pcrs), never both");
	doc->kind = lay->field[F_PCRS] != NULL ? GB_DOC_ENCLAVE :
	    GB_DOC_NITROTPM;
	r = check_pcrs(lay, doc->kind == GB_DOC_ENCLAVE ? F_PCRS :
	    F_NITROTPM_PCRS, doc, res);
	if (r != GB_R_OK)
		return r;

	field_head(lay, F_CERTIFICATE, &c, &it);
	r = check_bytes(&it, F_CERTIFICATE, 1, GB_CERT_MAX_BYTES,
	    &doc->certificate, res);
	if (r != GB_R_OK)
		return r;

	if ((r = check_cabundle(lay, doc, res)) != GB_R_OK)
		return r;

	static const enum field opt[3] = { F_PUBLIC_KEY, F_USER_DATA, F_NONCE };
	struct gb_span *out[3] = { &doc->public_key, &doc->user_data,
	    &doc->nonce };
	for (int i = 0; i < 3; i++) {
		if (lay->field[opt[i]] == NULL)
			continue;
		field_head(lay, opt[i], &c, &it);
		if (it.type == GB__CB_NULL)
			continue;
		r = check_bytes(&it, opt[i], 0, GB_OPT_FIELD_MAX_BYTES, out[i],
		    res);
		if (r != GB_R_OK)
			return r;
	}
	return GB_R_OK;
}

enum gb_reason
gb_doc_parse(const uint8_t *buf, size_t len, struct gb_doc *doc,
    struct gb_result *res)
{
	struct layout lay;
	enum gb_reason r;

	static const uint8_t nothing[1];

	memset(doc, 0, sizeof *doc);
	memset(&lay, 0, sizeof lay);
	if (buf == NULL) {
		buf = nothing;
		len = 0;
	}
	if ((r = decode(buf, len, doc, &lay, res)) != GB_R_OK)
		return r;
	if ((r = check_headers(doc, &lay, res)) != GB_R_OK)
		return r;
	if ((r = check_fields(&lay, doc, res)) != GB_R_OK)
		return r;
	return gb_result_set(res, GB_R_OK, "well-formed");
}

bool
gb_doc_is_debug(const struct gb_doc *doc)
{
	if (doc->kind != GB_DOC_ENCLAVE)
		return false;
	for (int i = 0; i < 3; i++) {
		const struct gb_span *p = &doc->pcrs[i];

		if (p->ptr == NULL)
			return false;
		for (size_t j = 0; j < p->len; j++)
			if (p->ptr[j] != 0)
				return false;
	}
	return true;
}
