/*
 * Signed verdicts and tlog-proof receipts (gb/verdict.h, docs/verdict.md):
 * the claim about a document that the verifier signs, the receipt text it
 * attaches, and the offline check a client makes of both.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "gb/codec.h"
#include "gb/docjson.h"
#include "gb/err.h"
#include "gb/note.h"
#include "gb/timefmt.h"
#include "gb/verdict.h"

#define EAR_PROFILE "tag:github.com,2023:veraison/ear"
#define TLOG_PROOF_HEADER "c2sp.org/tlog-proof@v1"

static void
sha256(const void *p, size_t n, uint8_t md[GB_HASH_BYTES])
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, n, p);
	sha256_digest(&c, GB_HASH_BYTES, md);
}

void
gb_verdict_kid(const uint8_t pub[GB_ED25519_PUB_BYTES],
    char kid[GB_VERDICT_KID_BYTES])
{
	uint8_t md[GB_HASH_BYTES];

	sha256(pub, GB_ED25519_PUB_BYTES, md);
	gb_hex_encode(kid, md, (GB_VERDICT_KID_BYTES - 1) / 2);
}

json_t *
gb_verdict_sha256_hex(const uint8_t *buf, size_t len)
{
	uint8_t md[GB_HASH_BYTES];
	char hex[2 * GB_HASH_BYTES + 1];

	sha256(buf, len, md);
	gb_hex_encode(hex, md, sizeof md);
	return json_string(hex);
}

/* SHA-256 of an optional field as hex, or JSON null when it is absent. */
static json_t *
span_sha256(struct gb_span s)
{
	return s.ptr == NULL ? json_null() : gb_verdict_sha256_hex(s.ptr,
	    s.len);
}

/* Sets o[k] = v (a new reference, taken over); false if v is NULL or the
 * object refuses it. */
static bool
put(json_t *o, const char *k, json_t *v)
{
	return v != NULL && json_object_set_new(o, k, v) == 0;
}

json_t *
gb_verdict_document_claim(const uint8_t *buf, size_t len,
    const struct gb_doc *d)
{
	json_t *o = json_object();
	bool ok;

	if (o == NULL || !put(o, "sha256", gb_verdict_sha256_hex(buf, len)))
		goto fail;
	if (d == NULL)
		return o;
	/* A NitroTPM document's claim names its kind and carries its
	 * registers under their own name; an enclave's is as it always was
	 * (no kind: an enclave), so verdicts made before instances were
	 * known still check. */
	ok = put(o, "module_id", json_stringn((const char *)d->module_id.ptr,
	    d->module_id.len)) &&
	    put(o, "timestamp", json_integer((json_int_t)d->timestamp_ms)) &&
	    put(o, "digest", json_stringn((const char *)d->digest.ptr,
	    d->digest.len)) &&
	    (d->kind == GB_DOC_ENCLAVE || put(o, "kind",
	    json_string(gb_doc_kind_name(d->kind)))) &&
	    put(o, gb_doc_pcrs_key(d->kind), gb_json_pcrs(d)) &&
	    put(o, "public_key_sha256", span_sha256(d->public_key)) &&
	    put(o, "user_data_sha256", span_sha256(d->user_data)) &&
	    put(o, "nonce", gb_json_hex(d->nonce));
	if (ok)
		return o;
fail:
	json_decref(o);
	return NULL;
}

int
gb_tlog_proof_format(const void *entry, size_t entry_len, uint64_t index,
    const uint8_t (*proof)[GB_HASH_BYTES], size_t n, const char *note,
    size_t note_len, char **out)
{
	char *extra = NULL, *buf = NULL, *h = NULL;
	size_t cap, len;
	int err;

	if (note_len == 0 || note[note_len - 1] != '\n' ||
	    n > GB_MERKLE_MAX_PROOF)
		return GB_EINVAL;
	if ((err = gb_base64_encode_alloc(entry, entry_len, &extra)) != 0)
		return err;
	/* Header, "extra ", "index " and 20 digits, n lines of 44 + 1, the
	 * blank line and the note. */
	cap = sizeof TLOG_PROOF_HEADER + 6 + strlen(extra) + 1 + 6 + 21 +
	    n * 45 + 1 + note_len + 1;
	err = GB_ENOMEM;
	if ((buf = malloc(cap)) == NULL)
		goto out;
	len = (size_t)snprintf(buf, cap, "%s\nextra %s\nindex %" PRIu64 "\n",
	    TLOG_PROOF_HEADER, extra, index);
	for (size_t i = 0; i < n; i++) {
		if ((err = gb_base64_encode_alloc(proof[i], GB_HASH_BYTES,
		    &h)) != 0)
			goto out;
		len += (size_t)snprintf(buf + len, cap - len, "%s\n", h);
		free(h);
		h = NULL;
	}
	buf[len++] = '\n';
	memcpy(buf + len, note, note_len);
	buf[len + note_len] = '\0';
	*out = buf;
	buf = NULL;
	err = 0;
out:
	free(extra);
	free(buf);
	free(h);
	return err;
}

/* ---- checking ----------------------------------------------------------- */

static int
refuse(struct gb_verdict_outcome *out, const char *reason, const char *claim,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Records the refusal; returns 1 ("refused"), so that the steps below can
 * `return refuse()`: each returns 0 (passed), 1 (refused) or GB_ENOMEM. */
static int
refuse(struct gb_verdict_outcome *out, const char *reason, const char *claim,
    const char *fmt, ...)
{
	va_list ap;

	out->valid = false;
	snprintf(out->reason, sizeof out->reason, "%s", reason);
	snprintf(out->claim, sizeof out->claim, "%s", claim ? claim : "");
	va_start(ap, fmt);
	vsnprintf(out->message, sizeof out->message, fmt, ap);
	va_end(ap);
	return 1;
}

/* Lower-case hex of exactly 2 * bytes digits. */
static bool
is_hex(const json_t *v, size_t bytes)
{
	const char *s = json_string_value(v);

	if (s == NULL || json_string_length(v) != 2 * bytes)
		return false;
	for (size_t i = 0; i < 2 * bytes; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return false;
	return true;
}

/* An integer, 0 or more. */
static bool
nonneg_int(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0;
}

/* The claims' shape (docs/verdict.md "The claims"); NULL if good, else what
 * is wrong. */
static const char *
shape_error(json_t *c)
{
	json_t *sub, *doc, *rel, *cp, *v;
	const char *status, *reason;
	enum gb_reason r;

	if (!json_is_object(c))
		return "the claims are not a JSON object";
	if (!json_is_string(v = json_object_get(c, "eat_profile")) ||
	    strcmp(json_string_value(v), EAR_PROFILE) != 0)
		return "eat_profile is not the EAR profile";
	if (!json_is_integer(json_object_get(c, "iat")) ||
	    !json_is_integer(json_object_get(c, "exp")) ||
	    json_integer_value(json_object_get(c, "exp")) <
	    json_integer_value(json_object_get(c, "iat")))
		return "iat and exp are not whole seconds, exp after iat";
	if ((v = json_object_get(c, "eat_nonce")) != NULL && !json_is_string(v))
		return "eat_nonce is not a string";
	sub = json_object_get(json_object_get(c, "submods"), "glassbox");
	if (!json_is_object(sub))
		return "submods.glassbox is missing";
	status = json_string_value(json_object_get(sub, "ear.status"));
	reason = json_string_value(json_object_get(sub, "glassbox.reason"));
	if (status == NULL || reason == NULL ||
	    !json_is_string(json_object_get(sub, "glassbox.message")))
		return "ear.status, glassbox.reason or glassbox.message is "
		    "missing";
	if (gb_reason_parse(reason, &r) != 0)
		return "glassbox.reason is not a reason code";
	if (!(strcmp(status, "affirming") == 0 && r == GB_R_OK) &&
	    !(strcmp(status, "contraindicated") == 0 && r != GB_R_OK))
		return "ear.status does not agree with glassbox.reason";
	if (json_object_get(sub, "glassbox.at") == NULL ||
	    (!json_is_integer(v = json_object_get(sub, "glassbox.at_ms")) &&
	    !json_is_null(v)))
		return "glassbox.at or glassbox.at_ms is missing";
	if ((v = json_object_get(sub, "glassbox.freshness")) == NULL ||
	    (!json_is_null(v) && (!json_is_object(v) ||
	    !nonneg_int(json_object_get(v, "max_age_ms")) ||
	    !nonneg_int(json_object_get(v, "skew_ms")))))
		return "glassbox.freshness is not null nor {max_age_ms, "
		    "skew_ms}";
	doc = json_object_get(sub, "glassbox.document");
	if (!json_is_object(doc) || !is_hex(json_object_get(doc, "sha256"),
	    GB_HASH_BYTES))
		return "glassbox.document.sha256 is missing";
	if ((v = json_object_get(sub, "glassbox.result_sha256")) != NULL &&
	    !is_hex(v, GB_HASH_BYTES))
		return "glassbox.result_sha256 is not a SHA-256 in hex";
	rel = json_object_get(sub, "glassbox.release");
	cp = json_object_get(sub, "glassbox.checkpoint");
	if (rel == NULL || cp == NULL)
		return "glassbox.release or glassbox.checkpoint is missing";
	if (!json_is_null(rel) && (!json_is_object(rel) ||
	    !is_hex(json_object_get(rel, "id"), 8) ||
	    !json_is_string(json_object_get(rel, "name")) ||
	    !json_is_string(json_object_get(rel, "version")) ||
	    !json_is_integer(v = json_object_get(rel, "index")) ||
	    json_integer_value(v) < 0))
		return "glassbox.release is not {id, name, version, index}";
	if (!json_is_null(cp) && (!json_is_object(cp) ||
	    !json_is_string(json_object_get(cp, "origin")) ||
	    !json_is_integer(v = json_object_get(cp, "size")) ||
	    json_integer_value(v) < 1 ||
	    !is_hex(json_object_get(cp, "root"), GB_HASH_BYTES)))
		return "glassbox.checkpoint is not {origin, size, root}";
	return NULL;
}

/* Splits and decodes the JWS; checks the header and the claims' shape.
 * Returns 0 (with *claims, *sig and *signed_len set), 1 (out filled) or
 * GB_ENOMEM. */
static int
open_jws(const struct gb_verdict_input *in, const char *kid, json_t **claims,
    uint8_t sig[GB_ED25519_SIG_BYTES], size_t *signed_len,
    struct gb_verdict_outcome *out)
{
	const char *p = in->jws, *end = in->jws + in->jws_len, *d1, *d2;
	uint8_t *h = NULL, *c = NULL, *s = NULL;
	size_t hl, cl, sl;
	json_t *hdr = NULL, *j = NULL;
	const char *why = NULL;
	int rc = 1, err;

	if (in->jws_len > GB_VERDICT_JWS_MAX_BYTES)
		return refuse(out, "bad_verdict", NULL, "the verdict is larger "
		    "than %d bytes", GB_VERDICT_JWS_MAX_BYTES);
	if ((d1 = memchr(p, '.', in->jws_len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', (size_t)(end - d1 - 1))) == NULL ||
	    memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) != NULL)
		return refuse(out, "bad_verdict", NULL, "the verdict is not a "
		    "compact JWS of three parts");
	if ((err = gb_base64url_decode_alloc(p, (size_t)(d1 - p), GB_VERDICT_JWS_MAX_BYTES,
	    &h, &hl)) != 0 || (err = gb_base64url_decode_alloc(d1 + 1,
	    (size_t)(d2 - d1 - 1), GB_VERDICT_JWS_MAX_BYTES, &c, &cl)) != 0 ||
	    (err = gb_base64url_decode_alloc(d2 + 1, (size_t)(end - d2 - 1),
	    GB_VERDICT_JWS_MAX_BYTES, &s, &sl)) != 0) {
		if (err == GB_ENOMEM)
			rc = GB_ENOMEM;
		why = "a part of the JWS is not base64url";
		goto out;
	}
	hdr = gb_json_loadb((const char *)h, hl, 0, NULL);
	if (!json_is_object(hdr) || !json_is_string(json_object_get(hdr,
	    "alg")) || strcmp(json_string_value(json_object_get(hdr, "alg")),
	    "EdDSA") != 0) {
		why = "the JWS header is not {\"alg\":\"EdDSA\",...}";
		goto out;
	}
	if (json_object_get(hdr, "crit") != NULL) {
		why = "the JWS header has critical extensions";
		goto out;
	}
	if (!json_is_string(json_object_get(hdr, "kid")) ||
	    strcmp(json_string_value(json_object_get(hdr, "kid")), kid) != 0) {
		why = "the JWS kid is not the pinned verdict key's";
		goto out;
	}
	j = gb_json_loadb((const char *)c, cl, 0, NULL);
	if ((why = shape_error(j)) != NULL)
		goto out;
	if (sl != GB_ED25519_SIG_BYTES) {
		refuse(out, "bad_verdict_signature", NULL, "the signature is %zu "
		    "bytes, not 64 (Ed25519)", sl);
		goto out;
	}
	memcpy(sig, s, GB_ED25519_SIG_BYTES);
	*signed_len = (size_t)(d2 - p);
	*claims = j;
	j = NULL;
	rc = 0;
out:
	if (why != NULL)
		refuse(out, "bad_verdict", NULL, "%s", why);
	json_decref(hdr);
	json_decref(j);
	free(h);
	free(c);
	free(s);
	return rc;
}

/* Step 3: is the verdict about these inputs? */
static int
check_binding(const struct gb_verdict_input *in, json_t *claims,
    const struct gb_doc *d, struct gb_verdict_outcome *out)
{
	static const char *const fields[] = { "sha256", "module_id",
	    "timestamp", "digest", "kind", "pcrs", "nitrotpm_pcrs",
	    "public_key_sha256", "user_data_sha256", "nonce" };
	json_t *sub = json_object_get(json_object_get(claims, "submods"),
	    "glassbox");
	json_t *vdoc = json_object_get(sub, "glassbox.document");
	json_t *want, *got, *res = json_object_get(sub,
	    "glassbox.result_sha256");
	char claim[GB_VERDICT_CLAIM_MAX];

	if ((want = gb_verdict_document_claim(in->doc, in->doc_len, d)) ==
	    NULL)
		return GB_ENOMEM;
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		json_t *a = json_object_get(vdoc, fields[i]),
		    *b = json_object_get(want, fields[i]);

		if ((a == NULL && b == NULL) || (a != NULL && b != NULL &&
		    json_equal(a, b)))
			continue;
		snprintf(claim, sizeof claim, "glassbox.document.%s",
		    fields[i]);
		json_decref(want);
		return refuse(out, "verdict_mismatch", claim, "the verdict's "
		    "%s is not this document's: it is about another document",
		    claim);
	}
	json_decref(want);
	if (in->result != NULL) {
		if ((want = gb_verdict_sha256_hex(in->result, in->result_len)) ==
		    NULL)
			return GB_ENOMEM;
		if (res == NULL || !json_equal(res, want)) {
			json_decref(want);
			return refuse(out, "verdict_mismatch",
			    "glassbox.result_sha256", "the verdict is %s",
			    res == NULL ? "about no result" :
			    "about another result");
		}
		json_decref(want);
	} else if (res != NULL) {
		return refuse(out, "verdict_mismatch", "glassbox.result_sha256",
		    "the verdict is about a result, and none was given");
	}
	if (in->nonce != NULL) {
		got = json_object_get(claims, "eat_nonce");
		if ((want = gb_json_hex((struct gb_span){ in->nonce,
		    in->nonce_len })) == NULL)
			return GB_ENOMEM;
		if (got == NULL || !json_equal(got, want)) {
			json_decref(want);
			return refuse(out, "verdict_mismatch", "eat_nonce",
			    "the verdict is %s", got == NULL ? "about no nonce" :
			    "about another nonce");
		}
		json_decref(want);
	}
	return 0;
}

/* A parsed tlog-proof@v1 text. entry is from malloc(); note borrows. */
struct tlog_proof {
	uint8_t *entry;
	size_t entry_len;
	uint64_t index;
	uint8_t hash[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES];
	size_t n;
	const char *note;
	size_t note_len;
};

/* The next line of [*p, end) without its newline; false if none ends. */
static bool
next_line(const char **p, const char *end, const char **line, size_t *len)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));

	if (*p >= end || nl == NULL)
		return false;
	*line = *p;
	*len = (size_t)(nl - *p);
	*p = nl + 1;
	return true;
}

/* Standard base64 of a line: only the alphabet and final padding. */
static bool
b64_line_ok(const char *s, size_t n)
{
	size_t pad = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || !((c >= 'A' && c <= 'Z') || (c >= 'a' &&
		    c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return false;
	}
	return n > 0 && n % 4 == 0 && pad <= 2;
}

/* Parses the text (c2sp.org/tlog-proof); NULL if good, else what is wrong. */
static const char *
tlog_proof_parse(const char *s, size_t len, struct tlog_proof *t, int *err)
{
	const char *p = s, *end = s + len, *l;
	size_t n;
	uint8_t *raw = NULL;
	size_t raw_len;

	*err = 0;
	memset(t, 0, sizeof *t);
	if (len > GB_TLOG_PROOF_MAX_BYTES)
		return "the tlog-proof is larger than its limit";
	if (!next_line(&p, end, &l, &n) || n != strlen(TLOG_PROOF_HEADER) ||
	    memcmp(l, TLOG_PROOF_HEADER, n) != 0)
		return "the tlog-proof does not start with " TLOG_PROOF_HEADER;
	if (!next_line(&p, end, &l, &n))
		return "the tlog-proof ends early";
	if (n < 6 || memcmp(l, "extra ", 6) != 0)
		return "the tlog-proof carries no entry (its extra line)";
	if (!b64_line_ok(l + 6, n - 6) || (*err = gb_base64_decode_alloc(l + 6,
	    n - 6, GB_TLOG_PROOF_MAX_BYTES, &t->entry, &t->entry_len)) != 0)
		return "the tlog-proof's extra line is not base64";
	if (!next_line(&p, end, &l, &n) || n < 7 || memcmp(l, "index ", 6) != 0)
		return "the tlog-proof has no index line";
	if (l[6] == '0' && n != 7)
		return "the tlog-proof's index has a leading zero";
	for (size_t i = 6; i < n; i++) {
		if (l[i] < '0' || l[i] > '9' || t->index > (UINT64_MAX - 9) / 10)
			return "the tlog-proof's index is not a decimal number";
		t->index = t->index * 10 + (uint64_t)(l[i] - '0');
	}
	for (;;) {
		if (!next_line(&p, end, &l, &n))
			return "the tlog-proof has no checkpoint";
		if (n == 0)
			break;
		if (t->n == GB_MERKLE_MAX_PROOF)
			return "the tlog-proof has more hashes than any proof";
		if (!b64_line_ok(l, n) || gb_base64_decode_alloc(l, n,
		    GB_HASH_BYTES, &raw, &raw_len) != 0)
			return "a proof hash is not base64 of 32 bytes";
		if (raw_len != GB_HASH_BYTES) {
			free(raw);
			return "a proof hash is not 32 bytes";
		}
		memcpy(t->hash[t->n++], raw, GB_HASH_BYTES);
		free(raw);
	}
	if (p == end)
		return "the tlog-proof has no checkpoint";
	t->note = p;
	t->note_len = (size_t)(end - p);
	return NULL;
}

/* The entry is the release the verdict names, with the document's PCRs. */
static const char *
entry_error(const struct tlog_proof *t, json_t *rel, const struct gb_doc *d)
{
	uint8_t md[GB_HASH_BYTES], want[GB_PCR_MAX_BYTES];
	char id[17];
	const char *k, *why = NULL;
	json_t *j, *r, *pcrs, *v, *kind;

	j = gb_json_loadb((const char *)t->entry, t->entry_len, 0, NULL);
	r = json_object_get(j, "release");
	pcrs = json_object_get(r, "pcrs");
	kind = json_object_get(r, "kind");
	if (!json_is_object(j) || !json_is_string(v = json_object_get(j,
	    "type")) || strcmp(json_string_value(v), "release_published") != 0 ||
	    !json_is_object(r) || !json_is_object(pcrs) ||
	    json_object_size(pcrs) == 0) {
		why = "the logged entry is not a release_published leaf";
		goto out;
	}
	if (!json_equal(json_object_get(r, "name"), json_object_get(rel,
	    "name")) || !json_equal(json_object_get(r, "version"),
	    json_object_get(rel, "version"))) {
		why = "the logged entry is another release (name or version)";
		goto out;
	}
	gb_merkle_leaf_hash(t->entry, t->entry_len, md);
	gb_hex_encode(id, md, 8);
	if (strcmp(id, json_string_value(json_object_get(rel, "id"))) != 0) {
		why = "the logged entry's id is not the release's";
		goto out;
	}
	if (d == NULL) {
		why = "the document cannot be read to compare its PCRs";
		goto out;
	}
	/* A release describes an enclave image (no kind) or an instance
	 * image (kind "nitrotpm"); only a document of that kind matches. */
	if ((kind != NULL && (!json_is_string(kind) || strcmp(
	    json_string_value(kind), "nitrotpm") != 0)) ||
	    (kind != NULL) != (d->kind == GB_DOC_NITROTPM)) {
		why = "the release describes another kind of image than the "
		    "document's (an enclave's, or an instance's)";
		goto out;
	}
	json_object_foreach(pcrs, k, v) {
		const char *hex = json_string_value(v);
		size_t kl = strlen(k), hl = hex ? strlen(hex) : 0;
		unsigned i = 0;

		if (kl == 0 || kl > 2 || (kl == 2 && k[0] == '0') ||
		    strspn(k, "0123456789") != kl ||
		    (i = (unsigned)atoi(k)) >= GB_PCR_MAX_COUNT || hl == 0 ||
		    hl % 2 != 0 || hl / 2 > GB_PCR_MAX_BYTES ||
		    gb_hex_decode(hex, hl, want, hl / 2) != 0) {
			why = "the release declares a PCR that cannot be read";
			goto out;
		}
		if (d->pcrs[i].ptr == NULL || d->pcrs[i].len != hl / 2 ||
		    memcmp(d->pcrs[i].ptr, want, hl / 2) != 0) {
			why = "a PCR the release declares differs from the "
			    "document's";
			goto out;
		}
	}
out:
	json_decref(j);
	return why;
}

/*
 * Step 5, last: the receipt's checkpoint under the client's policy
 * (gb/tlog_policy.h). A cosignature by a policy witness that fails, or is
 * dated ahead of now, and a checkpoint not signed by a log the policy
 * lists, make the receipt bad (*why, bad_proof); too few witnesses is
 * below_quorum. Returns 0 (trusted, or *why set) or 1 (refused here).
 */
static int
check_quorum(const struct gb_verdict_input *in, const char *note,
    size_t note_len, struct gb_verdict_outcome *out, const char **why)
{
	struct gb_tlog_policy_result *r = &out->quorum;
	char got[160];
	size_t n = 0;

	if (gb_tlog_policy_check(in->policy, note, note_len, in->now_s,
	    r) != 0) {
		*why = "the tlog-proof's checkpoint cannot be read under the "
		    "policy";
		return 0;
	}
	out->quorum_checked = true;
	if (r->trusted)
		return 0;
	if (!r->log_signed) {
		*why = "the tlog-proof's checkpoint is not signed by a log the "
		    "policy lists";
		return 0;
	}
	if (r->bad) {
		*why = "a witness's cosignature on the tlog-proof's checkpoint "
		    "does not verify, or is dated after now";
		return 0;
	}
	got[0] = '\0';
	for (size_t i = 0; i < r->nwitnesses && n < sizeof got; i++)
		if (r->witness[i].state == GB_TLOG_COSIG_VERIFIED)
			n += (size_t)snprintf(got + n, sizeof got - n, "%s%s",
			    n ? ", " : "", r->witness[i].name);
	return refuse(out, "below_quorum", NULL, "the tlog-proof's checkpoint "
	    "is not cosigned by the policy's quorum (%s): cosigned by %s",
	    gb_tlog_policy_quorum(in->policy), got[0] ? got : "no witness");
}

/* Step 5: the receipt proves the release the verdict names. */
static int
check_proof(const struct gb_verdict_input *in, const struct gb_note_key *lk,
    json_t *sub, const struct gb_doc *d, struct gb_verdict_outcome *out)
{
	json_t *rel = json_object_get(sub, "glassbox.release");
	json_t *cp = json_object_get(sub, "glassbox.checkpoint");
	struct gb_span proof[GB_MERKLE_MAX_PROOF], leaf, root;
	struct gb_note_opened o;
	struct gb_checkpoint c;
	struct tlog_proof *t = NULL;
	uint8_t lh[GB_HASH_BYTES];
	char roothex[2 * GB_HASH_BYTES + 1];
	const char *why;
	int err = 0, quorum = 0;

	if (json_is_null(rel))
		return refuse(out, "bad_proof", NULL, "the verdict affirms but "
		    "names no release");
	if (json_is_null(cp))
		return refuse(out, "bad_proof", NULL, "the verdict names a "
		    "release but no checkpoint");
	if (in->tlog_proof == NULL)
		return refuse(out, "bad_proof", NULL, "no tlog-proof was given "
		    "for the release the verdict names");
	if ((t = malloc(sizeof *t)) == NULL)
		return GB_ENOMEM;
	if ((why = tlog_proof_parse(in->tlog_proof, in->tlog_proof_len, t,
	    &err)) != NULL)
		goto out;
	if (gb_note_open(t->note, t->note_len, lk, 1, &o) != 0) {
		why = "the tlog-proof's checkpoint is not signed by the pinned "
		    "log key";
		goto out;
	}
	if (gb_checkpoint_parse(t->note, o.text_len, &c) != 0) {
		why = "the tlog-proof's checkpoint cannot be read";
		goto out;
	}
	gb_hex_encode(roothex, c.root, GB_HASH_BYTES);
	if (strcmp(c.origin, json_string_value(json_object_get(cp,
	    "origin"))) != 0 || (json_int_t)c.size != json_integer_value(
	    json_object_get(cp, "size")) || strcmp(roothex, json_string_value(
	    json_object_get(cp, "root"))) != 0) {
		why = "the tlog-proof's checkpoint is not the one the verdict "
		    "names";
		goto out;
	}
	if ((json_int_t)t->index != json_integer_value(json_object_get(rel,
	    "index"))) {
		why = "the tlog-proof's index is not the release's";
		goto out;
	}
	if ((why = entry_error(t, rel, d)) != NULL)
		goto out;
	gb_merkle_leaf_hash(t->entry, t->entry_len, lh);
	for (size_t i = 0; i < t->n; i++)
		proof[i] = (struct gb_span){ t->hash[i], GB_HASH_BYTES };
	leaf = (struct gb_span){ lh, GB_HASH_BYTES };
	root = (struct gb_span){ c.root, GB_HASH_BYTES };
	if (gb_merkle_verify_inclusion(t->index, c.size, leaf, proof, t->n,
	    root) != 0) {
		why = "the inclusion proof does not lead to the checkpoint's "
		    "root";
		goto out;
	}
	if (in->policy != NULL)
		quorum = check_quorum(in, t->note, t->note_len, out, &why);
out:
	if (t != NULL)
		free(t->entry);
	free(t);
	if (err == GB_ENOMEM)
		return GB_ENOMEM;
	if (why != NULL)
		return refuse(out, "bad_proof", NULL, "%s", why);
	return quorum;
}

/* The kinds of question a verdict answers. */
enum at_kind { AT_NOW, AT_DOCUMENT, AT_TIME };

/* The time the client asked, in->at: its kind and, for a time, ms. -1 if it
 * is not one the verifier takes. */
static int
asked_at(const char *at, enum at_kind *kind, int64_t *ms)
{
	*ms = 0;
	if (at == NULL || strcmp(at, "now") == 0) {
		*kind = AT_NOW;
		return 0;
	}
	if (strcmp(at, "document") == 0) {
		*kind = AT_DOCUMENT;
		return 0;
	}
	*kind = AT_TIME;
	return gb_time_parse_at(at, ms) == 0 && *ms >= 0 ? 0 : -1;
}

/* Step 6: the verdict answers the question asked. "now" and "document" are
 * compared as words; a time by the ms the checks were evaluated at (the
 * verdict keeps the asked text as it was written: ms as a number or as
 * digits, RFC 3339 with any offset). Any question but "document" is about
 * a time, and its verdict must say what freshness was checked. */
static int
check_question(enum at_kind kind, int64_t ms, json_t *sub,
    struct gb_verdict_outcome *out)
{
	json_t *at = json_object_get(sub, "glassbox.at");
	json_t *at_ms = json_object_get(sub, "glassbox.at_ms");
	const char *word = json_string_value(at);
	enum at_kind got = word != NULL && strcmp(word, "now") == 0 ? AT_NOW :
	    word != NULL && strcmp(word, "document") == 0 ? AT_DOCUMENT :
	    AT_TIME;
	static const char *const names[] = { "now", "document", "a time" };

	if (got != kind)
		return refuse(out, "verdict_mismatch", "glassbox.at", "the "
		    "verdict answers another question: at %s, not at %s",
		    names[got], names[kind]);
	if (kind == AT_TIME && (!json_is_integer(at_ms) ||
	    json_integer_value(at_ms) != ms))
		return refuse(out, "verdict_mismatch", "glassbox.at", "the "
		    "verdict was evaluated at another time than the %" PRId64
		    " ms asked", ms);
	if (kind != AT_DOCUMENT && !json_is_object(json_object_get(sub,
	    "glassbox.freshness")))
		return refuse(out, "verdict_mismatch", "glassbox.freshness",
		    "the verdict checked no freshness, and the question was "
		    "about a time, not the document's own");
	return 0;
}

int
gb_verdict_check(const struct gb_verdict_input *in,
    struct gb_verdict_outcome *out)
{
	enum at_kind kind;
	int64_t at_ms;
	struct gb_note_key lk;
	struct gb_doc doc;
	const struct gb_doc *d = NULL;
	char kid[GB_VERDICT_KID_BYTES];
	uint8_t sig[GB_ED25519_SIG_BYTES];
	size_t signed_len = 0;
	json_t *claims = NULL, *sub;
	int64_t iat, exp;
	const char *reason;
	int rc;

	memset(out, 0, sizeof *out);
	snprintf(out->reason, sizeof out->reason, "bad_verdict");
	if (in->verdict_pub == NULL || in->log_vkey == NULL ||
	    gb_note_vkey_parse(in->log_vkey, &lk) != 0 ||
	    asked_at(in->at, &kind, &at_ms) != 0)
		return GB_EINVAL;
	if (in->verdict_kid != NULL)
		snprintf(kid, sizeof kid, "%s", in->verdict_kid);
	else
		gb_verdict_kid(in->verdict_pub, kid);
	if (in->jws == NULL) {
		refuse(out, "bad_verdict", NULL, "no verdict was given");
		return 0;
	}

	/* 1 and 2: a well-formed JWS, signed by the pinned key. */
	if ((rc = open_jws(in, kid, &claims, sig, &signed_len, out)) != 0)
		return rc < 0 ? rc : 0;
	if (!gb_ed25519_verify(in->verdict_pub, in->jws, signed_len, sig)) {
		json_decref(claims);
		refuse(out, "bad_verdict_signature", NULL, "the verdict's "
		    "signature does not verify under the pinned verdict key");
		return 0;
	}
	out->claims = claims;
	sub = json_object_get(json_object_get(claims, "submods"), "glassbox");

	/* 3: about these inputs. The document's syntax is parsed to compare
	 * its fields; its chain is the verifier's word. */
	if (in->doc != NULL && gb_doc_parse(in->doc, in->doc_len, &doc,
	    NULL) == GB_R_OK)
		d = &doc;
	if ((rc = check_binding(in, claims, d, out)) != 0)
		return rc < 0 ? rc : 0;

	/* 4: still valid. */
	iat = json_integer_value(json_object_get(claims, "iat"));
	exp = json_integer_value(json_object_get(claims, "exp"));
	/* Differences in uint64_t: any two int64_t values, no overflow. */
	if (in->now_s > exp) {
		refuse(out, "verdict_expired", NULL, "the verdict expired at "
		    "%" PRId64 ", %" PRIu64 " s before now", exp,
		    (uint64_t)in->now_s - (uint64_t)exp);
		return 0;
	}
	if (iat > in->now_s &&
	    (uint64_t)iat - (uint64_t)in->now_s > GB_VERDICT_SKEW_S) {
		refuse(out, "verdict_expired", NULL, "the verdict was issued "
		    "%" PRIu64 " s after now", (uint64_t)iat -
		    (uint64_t)in->now_s);
		return 0;
	}

	/* 5: the release it names is in the log. */
	reason = json_string_value(json_object_get(sub, "glassbox.reason"));
	if (strcmp(reason, "ok") == 0 || !json_is_null(json_object_get(sub,
	    "glassbox.release"))) {
		if ((rc = check_proof(in, &lk, sub, d, out)) != 0)
			return rc < 0 ? rc : 0;
	}

	/* 6: the question asked. */
	if ((rc = check_question(kind, at_ms, sub, out)) != 0)
		return rc < 0 ? rc : 0;

	/* 7: what the verifier said. */
	snprintf(out->reason, sizeof out->reason, "%s", reason);
	snprintf(out->message, sizeof out->message, "%s", json_string_value(
	    json_object_get(sub, "glassbox.message")));
	out->claim[0] = '\0';
	out->valid = strcmp(reason, "ok") == 0;
	return 0;
}
