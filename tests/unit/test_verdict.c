/*
 * gb_verdict_check() (gb/verdict.h) on verdicts signed here: a minted
 * document, a five-leaf log in memory whose leaf 3 publishes the document's
 * release, a checkpoint signed with a log key made here, and the claims of
 * docs/verdict.md. Each case changes one thing (an input, a claim re-signed,
 * the JWS, the receipt) and names the reason (and claim) it must get.
 */
#include <nettle/sha2.h>

#include "gb/codec.h"
#include "gb/docjson.h"
#include "gb/mint.h"
#include "gb/note.h"
#include "gb/verdict.h"
#include "test.h"

#define ORIGIN "unit.test/log"
#define NOW 1800000000LL            /* the checker's clock, s */
#define LEAVES 5
#define RELEASE_INDEX 3

static const uint8_t result[] = "{\"answer\":42}";
static const uint8_t nonce[] = { 0xde, 0xad, 0xbe, 0xef };

struct fx {
	struct gb_mint_chain *chain;
	uint8_t seed[32], pub[32], other_seed[32];
	char kid[GB_VERDICT_KID_BYTES];
	struct gb_note_key lk;
	char *vkey, *note, *tlog;
	size_t note_len;
	uint8_t *doc, *doc2, *doc3;  /* doc3: PCR1 differs from the release */
	size_t doc_len, doc2_len, doc3_len;
	char leaf[512], root_hex[65], id[17];
	uint64_t size;
};

static struct fx fx;

static void
sha256(const void *p, size_t n, uint8_t md[32])
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, n, p);
	sha256_digest(&c, 32, md);
}

static char *
b64url(const void *p, size_t n)
{
	char *s = NULL;
	size_t len;

	if (gb_base64_encode_alloc(p, n, &s) != 0)
		exit(2);
	len = strlen(s);
	while (len > 0 && s[len - 1] == '=')
		s[--len] = '\0';
	for (char *c = s; *c; c++)
		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	return s;
}

/* A compact JWS of claims with this header, signed with seed. */
static char *
sign_jws(const char *header, json_t *claims, const uint8_t seed[32])
{
	char *c = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
	char *hb = b64url(header, strlen(header)), *cb = b64url(c, strlen(c));
	size_t n = strlen(hb) + 1 + strlen(cb);
	char *out = malloc(n + 100);
	uint8_t sig[64];
	char *sb;

	if (out == NULL)
		exit(2);
	snprintf(out, n + 1, "%s.%s", hb, cb);
	if (gb_ed25519_sign(seed, out, n, sig) != 0)
		exit(2);
	sb = b64url(sig, sizeof sig);
	snprintf(out + n, 100, ".%s", sb);
	free(c);
	free(hb);
	free(cb);
	free(sb);
	return out;
}

static uint8_t *
mint(const uint8_t (*pcrs)[48], size_t *len)
{
	uint8_t ud[32], *buf;
	struct gb_mint_doc d = { .pcr_count = 3, .pcrs = pcrs,
	    .timestamp_ms = NOW * 1000 - 5000,
	    .public_key = { fx.pub, 32 }, .user_data = { ud, 32 },
	    .nonce = { nonce, sizeof nonce } };

	sha256(result, sizeof result - 1, ud);
	if (gb_mint_document(fx.chain, &d, &buf, len) != 0)
		exit(2);
	return buf;
}

static void
setup(void)
{
	static uint8_t pcrs[3][48], pcrs3[3][48];
	uint8_t p[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES], lh[32];
	struct gb_merkle_mem m = { .lv = { NULL } };
	struct gb_merkle_store s = gb_merkle_mem_store(&m);
	struct gb_checkpoint cp = { .size = LEAVES };
	char hex[3][97], *text;
	size_t n;

	memset(pcrs[0], 0xa1, 48);
	memset(pcrs[1], 0xb2, 48);
	memset(pcrs[2], 0xc3, 48);
	memcpy(pcrs3, pcrs, sizeof pcrs);
	memset(pcrs3[1], 0x99, 48);
	for (int i = 0; i < 3; i++)
		gb_hex_encode(hex[i], pcrs[i], 48);
	if (gb_mint_chain_new(NULL, &fx.chain) != 0 ||
	    gb_ed25519_generate(fx.seed) != 0 ||
	    gb_ed25519_public(fx.seed, fx.pub) != 0 ||
	    gb_ed25519_generate(fx.other_seed) != 0)
		exit(2);
	gb_verdict_kid(fx.pub, fx.kid);
	fx.doc = mint((const uint8_t (*)[48])pcrs, &fx.doc_len);
	fx.doc2 = mint((const uint8_t (*)[48])pcrs, &fx.doc2_len);
	fx.doc3 = mint((const uint8_t (*)[48])pcrs3, &fx.doc3_len);

	/* The log: leaf 3 publishes PCR0..2 (PCR2 declared in upper case, as
	 * a release manager may write it). */
	for (uint64_t i = 0; i < LEAVES; i++) {
		char other[64];
		const char *l = other;

		if (i == RELEASE_INDEX) {
			for (char *c = hex[2]; *c; c++)
				*c = (char)(*c >= 'a' ? *c - 32 : *c);
			snprintf(fx.leaf, sizeof fx.leaf, "{\"release\":{\"name\":"
			    "\"app\",\"pcrs\":{\"0\":\"%.96s\",\"1\":\"%.96s\","
			    "\"2\":\"%.96s\"},\"version\":\"1.0\"},\"type\":"
			    "\"release_published\"}", hex[0], hex[1], hex[2]);
			l = fx.leaf;
		} else {
			snprintf(other, sizeof other, "{\"n\":%u,\"type\":"
			    "\"key_added\"}", (unsigned)i);
		}
		gb_merkle_leaf_hash(l, strlen(l), lh);
		if (i == RELEASE_INDEX)
			gb_hex_encode(fx.id, lh, 8);
		if (gb_merkle_append(&s, i, lh) != 0)
			exit(2);
	}
	snprintf(cp.origin, sizeof cp.origin, "%s", ORIGIN);
	if (gb_merkle_root(&s, LEAVES, cp.root) != 0 ||
	    gb_merkle_prove_inclusion(&s, RELEASE_INDEX, LEAVES, p, &n) != 0 ||
	    gb_note_key_generate(ORIGIN, &fx.lk) != 0 ||
	    gb_note_vkey_format(&fx.lk, &fx.vkey) != 0 ||
	    gb_checkpoint_format(&cp, &text) != 0 ||
	    gb_note_sign(text, strlen(text), &fx.lk, &fx.note,
	    &fx.note_len) != 0 ||
	    gb_tlog_proof_format(fx.leaf, strlen(fx.leaf), RELEASE_INDEX,
	    (const uint8_t (*)[GB_HASH_BYTES])p, n, fx.note, fx.note_len,
	    &fx.tlog) != 0)
		exit(2);
	free(text);
	gb_hex_encode(fx.root_hex, cp.root, 32);
	fx.size = LEAVES;
	gb_merkle_mem_free(&m);
}

/* The claims the verifier would sign about fx.doc (or doc), affirming. */
static json_t *
good_claims(const uint8_t *doc, size_t len)
{
	struct gb_doc d;
	json_t *sub, *c;

	if (gb_doc_parse(doc, len, &d, NULL) != GB_R_OK)
		exit(2);
	sub = json_pack("{s:s, s:s, s:s, s:s, s:I, s:{s:i, s:i}, s:o, s:o, "
	    "s:{s:s, s:s, s:s, s:I}, s:{s:s, s:I, s:s}}", "ear.status",
	    "affirming", "glassbox.reason", "ok", "glassbox.message", "valid",
	    "glassbox.at", "now", "glassbox.at_ms", (json_int_t)NOW * 1000,
	    "glassbox.freshness", "max_age_ms", 600000, "skew_ms", 60000,
	    "glassbox.document", gb_verdict_document_claim(doc, len, &d),
	    "glassbox.result_sha256", gb_verdict_sha256_hex(result,
	    sizeof result - 1), "glassbox.release", "id", fx.id, "name", "app",
	    "version", "1.0", "index", (json_int_t)RELEASE_INDEX,
	    "glassbox.checkpoint", "origin", ORIGIN, "size",
	    (json_int_t)fx.size, "root", fx.root_hex);
	c = json_pack("{s:s, s:I, s:I, s:s, s:{s:s, s:s}, s:{s:o}}",
	    "eat_profile", "tag:github.com,2023:veraison/ear", "iat",
	    (json_int_t)NOW - 10, "exp", (json_int_t)NOW + 290, "eat_nonce",
	    "deadbeef", "ear.verifier-id", "developer", "glassbox", "build",
	    "glassbox-verifier test", "submods", "glassbox", sub);
	if (c == NULL)
		exit(2);
	return c;
}

static json_t *
sub_of(json_t *c)
{
	return json_object_get(json_object_get(c, "submods"), "glassbox");
}

/* One case: what to change, and what the check must say. */
struct vcase {
	const char *name;
	void (*change)(json_t *claims, struct gb_verdict_input *in);
	const char *header;     /* NULL: the good one */
	int tamper;             /* 1: flip a signature byte, 2: other key */
	const char *reason, *claim;
};

static void nothing(json_t *c, struct gb_verdict_input *in)
{ (void)c; (void)in; }
static void other_doc(json_t *c, struct gb_verdict_input *in)
{ (void)c; in->doc = fx.doc2; in->doc_len = fx.doc2_len; }
static void set_doc_field(json_t *c, const char *k, json_t *v)
{ json_object_set_new(json_object_get(sub_of(c), "glassbox.document"), k, v); }
static void module_id(json_t *c, struct gb_verdict_input *in)
{ (void)in; set_doc_field(c, "module_id", json_string("i-other")); }
static void timestamp(json_t *c, struct gb_verdict_input *in)
{ (void)in; set_doc_field(c, "timestamp", json_integer(1)); }
static void digest(json_t *c, struct gb_verdict_input *in)
{ (void)in; set_doc_field(c, "digest", json_string("SHA256")); }
static void pcr_dropped(json_t *c, struct gb_verdict_input *in)
{
	(void)in;
	json_object_del(json_object_get(json_object_get(sub_of(c),
	    "glassbox.document"), "pcrs"), "2");
}
static void pubkey(json_t *c, struct gb_verdict_input *in)
{ (void)in; set_doc_field(c, "public_key_sha256", json_null()); }
static void user_data(json_t *c, struct gb_verdict_input *in)
{ (void)in; set_doc_field(c, "user_data_sha256", json_string(
    "0000000000000000000000000000000000000000000000000000000000000000")); }
static void doc_nonce(json_t *c, struct gb_verdict_input *in)
{ (void)in; set_doc_field(c, "nonce", json_string("00")); }
static void no_doc_fields(json_t *c, struct gb_verdict_input *in)
{ (void)in; json_object_del(json_object_get(sub_of(c), "glassbox.document"),
    "module_id"); }
static void other_result(json_t *c, struct gb_verdict_input *in)
{ (void)c; in->result = (const uint8_t *)"{}"; in->result_len = 2; }
static void no_result(json_t *c, struct gb_verdict_input *in)
{ (void)c; in->result = NULL; in->result_len = 0; }
static void result_unclaimed(json_t *c, struct gb_verdict_input *in)
{ (void)in; json_object_del(sub_of(c), "glassbox.result_sha256"); }
static void other_nonce(json_t *c, struct gb_verdict_input *in)
{ (void)c; in->nonce = (const uint8_t *)"\xde\xad"; in->nonce_len = 2; }
static void no_nonce(json_t *c, struct gb_verdict_input *in)
{ (void)c; in->nonce = NULL; in->nonce_len = 0; }
static void nonce_unclaimed(json_t *c, struct gb_verdict_input *in)
{ (void)in; json_object_del(c, "eat_nonce"); }
static void expired(json_t *c, struct gb_verdict_input *in)
{ (void)c; in->now_s = NOW + 291; }
static void last_second(json_t *c, struct gb_verdict_input *in)
{ (void)c; in->now_s = NOW + 290; }
static void future(json_t *c, struct gb_verdict_input *in)
{ (void)in; json_object_set_new(c, "iat", json_integer(NOW +
    GB_VERDICT_SKEW_S + 1)); json_object_set_new(c, "exp",
    json_integer(NOW + 600)); }
static void skew_ok(json_t *c, struct gb_verdict_input *in)
{ (void)in; json_object_set_new(c, "iat", json_integer(NOW +
    GB_VERDICT_SKEW_S)); }
static void no_profile(json_t *c, struct gb_verdict_input *in)
{ (void)in; json_object_del(c, "eat_profile"); }
static void status_lies(json_t *c, struct gb_verdict_input *in)
{ (void)in; json_object_set_new(sub_of(c), "glassbox.reason",
    json_string("revoked")); }
static void unknown_reason(json_t *c, struct gb_verdict_input *in)
{ (void)in; json_object_set_new(sub_of(c), "ear.status",
    json_string("contraindicated")); json_object_set_new(sub_of(c),
    "glassbox.reason", json_string("fine")); }
static void revoked(json_t *c, struct gb_verdict_input *in)
{ (void)in; json_object_set_new(sub_of(c), "ear.status",
    json_string("contraindicated")); json_object_set_new(sub_of(c),
    "glassbox.reason", json_string("revoked")); }
static void revoked_no_proof(json_t *c, struct gb_verdict_input *in)
{ revoked(c, in); in->tlog_proof = NULL; }
static void malformed(json_t *c, struct gb_verdict_input *in)
{
	json_t *s = sub_of(c);

	in->tlog_proof = NULL;
	json_object_set_new(s, "ear.status", json_string("contraindicated"));
	json_object_set_new(s, "glassbox.reason", json_string("malformed"));
	json_object_set_new(s, "glassbox.release", json_null());
	json_object_set_new(s, "glassbox.checkpoint", json_null());
}
static void no_release(json_t *c, struct gb_verdict_input *in)
{ (void)in; json_object_set_new(sub_of(c), "glassbox.release",
    json_null()); }
static void no_proof(json_t *c, struct gb_verdict_input *in)
{ (void)c; in->tlog_proof = NULL; }
static void set_rel(json_t *c, const char *k, json_t *v)
{ json_object_set_new(json_object_get(sub_of(c), "glassbox.release"), k,
    v); }
static void rel_index(json_t *c, struct gb_verdict_input *in)
{ (void)in; set_rel(c, "index", json_integer(RELEASE_INDEX + 1)); }
static void rel_id(json_t *c, struct gb_verdict_input *in)
{ (void)in; set_rel(c, "id", json_string("0123456789abcdef")); }
static void rel_version(json_t *c, struct gb_verdict_input *in)
{ (void)in; set_rel(c, "version", json_string("1.1")); }
static void cp_root(json_t *c, struct gb_verdict_input *in)
{
	(void)in;
	json_object_set_new(json_object_get(sub_of(c), "glassbox.checkpoint"),
	    "root", json_string("00000000000000000000000000000000000000000000"
	    "00000000000000000000"));
}
static void cp_size(json_t *c, struct gb_verdict_input *in)
{ (void)in; json_object_set_new(json_object_get(sub_of(c),
    "glassbox.checkpoint"), "size", json_integer(LEAVES + 1)); }
static void cp_origin(json_t *c, struct gb_verdict_input *in)
{ (void)in; json_object_set_new(json_object_get(sub_of(c),
    "glassbox.checkpoint"), "origin", json_string("other/log")); }

/* The question (in->at against glassbox.at, at_ms and freshness). */
static void set_sub(json_t *c, const char *k, json_t *v)
{ json_object_set_new(sub_of(c), k, v); }
static void no_freshness(json_t *c, struct gb_verdict_input *in)
{ (void)in; json_object_del(sub_of(c), "glassbox.freshness"); }
static void freshness_negative(json_t *c, struct gb_verdict_input *in)
{ (void)in; set_sub(c, "glassbox.freshness", json_pack("{s:i, s:i}",
    "max_age_ms", -1, "skew_ms", 0)); }
static void freshness_null(json_t *c, struct gb_verdict_input *in)
{ (void)in; set_sub(c, "glassbox.freshness", json_null()); }
static void at_document(json_t *c, struct gb_verdict_input *in)
{ (void)in; set_sub(c, "glassbox.at", json_string("document"));
    freshness_null(c, in); }
static void asked_document(json_t *c, struct gb_verdict_input *in)
{ at_document(c, in); in->at = "document"; }
static void asked_document_got_now(json_t *c, struct gb_verdict_input *in)
{ (void)c; in->at = "document"; }
static void at_time(json_t *c, struct gb_verdict_input *in)
{ (void)in; set_sub(c, "glassbox.at", json_integer(NOW * 1000)); }
static void asked_ms(json_t *c, struct gb_verdict_input *in)
{ at_time(c, in); in->at = "1800000000000"; }
static void asked_rfc3339(json_t *c, struct gb_verdict_input *in)
{ at_time(c, in); in->at = "2027-01-15T09:00:00+01:00"; }
static void answered_rfc3339(json_t *c, struct gb_verdict_input *in)
{ set_sub(c, "glassbox.at", json_string("2027-01-15T08:00:00.000Z"));
    in->at = "1800000000000"; }
static void asked_other_ms(json_t *c, struct gb_verdict_input *in)
{ at_time(c, in); in->at = "1800000000001"; }
static void asked_ms_got_now(json_t *c, struct gb_verdict_input *in)
{ (void)c; in->at = "1800000000000"; }
static void asked_ms_got_document(json_t *c, struct gb_verdict_input *in)
{ at_document(c, in); in->at = "1800000000000"; }
static void asked_ms_no_freshness(json_t *c, struct gb_verdict_input *in)
{ asked_ms(c, in); freshness_null(c, in); }
static void document_with_freshness(json_t *c, struct gb_verdict_input *in)
{ set_sub(c, "glassbox.at", json_string("document")); in->at = "document"; }
static void revoked_at_document(json_t *c, struct gb_verdict_input *in)
{ revoked(c, in); at_document(c, in); }
static void no_proof_at_document(json_t *c, struct gb_verdict_input *in)
{ no_proof(c, in); at_document(c, in); }
static void expired_at_document(json_t *c, struct gb_verdict_input *in)
{ expired(c, in); at_document(c, in); }

/* A document whose PCR1 is not the release's, with claims about it. */
static void pcr_differs(json_t *c, struct gb_verdict_input *in)
{
	json_t *g = good_claims(fx.doc3, fx.doc3_len);

	json_object_update(c, g);
	json_decref(g);
	in->doc = fx.doc3;
	in->doc_len = fx.doc3_len;
}

static const struct vcase vcases[] = {
	{ "good", nothing, NULL, 0, "ok", "" },
	{ "another document", other_doc, NULL, 0, "verdict_mismatch",
	    "glassbox.document.sha256" },
	{ "module_id", module_id, NULL, 0, "verdict_mismatch",
	    "glassbox.document.module_id" },
	{ "timestamp", timestamp, NULL, 0, "verdict_mismatch",
	    "glassbox.document.timestamp" },
	{ "digest", digest, NULL, 0, "verdict_mismatch",
	    "glassbox.document.digest" },
	{ "a PCR left out", pcr_dropped, NULL, 0, "verdict_mismatch",
	    "glassbox.document.pcrs" },
	{ "public key", pubkey, NULL, 0, "verdict_mismatch",
	    "glassbox.document.public_key_sha256" },
	{ "user_data", user_data, NULL, 0, "verdict_mismatch",
	    "glassbox.document.user_data_sha256" },
	{ "document nonce", doc_nonce, NULL, 0, "verdict_mismatch",
	    "glassbox.document.nonce" },
	{ "a field left out", no_doc_fields, NULL, 0, "verdict_mismatch",
	    "glassbox.document.module_id" },
	{ "another result", other_result, NULL, 0, "verdict_mismatch",
	    "glassbox.result_sha256" },
	{ "no result given", no_result, NULL, 0, "verdict_mismatch",
	    "glassbox.result_sha256" },
	{ "no result claimed", result_unclaimed, NULL, 0, "verdict_mismatch",
	    "glassbox.result_sha256" },
	{ "another nonce", other_nonce, NULL, 0, "verdict_mismatch",
	    "eat_nonce" },
	{ "no nonce given: not checked", no_nonce, NULL, 0, "ok", "" },
	{ "no nonce claimed", nonce_unclaimed, NULL, 0, "verdict_mismatch",
	    "eat_nonce" },
	{ "expired", expired, NULL, 0, "verdict_expired", "" },
	{ "at exp", last_second, NULL, 0, "ok", "" },
	{ "issued in the future", future, NULL, 0, "verdict_expired", "" },
	{ "issued within the skew", skew_ok, NULL, 0, "ok", "" },
	{ "signature byte flipped", nothing, NULL, 1,
	    "bad_verdict_signature", "" },
	{ "signed by another key", nothing, NULL, 2,
	    "bad_verdict_signature", "" },
	{ "alg none", nothing, "{\"alg\":\"none\",\"kid\":\"%s\"}", 0,
	    "bad_verdict", "" },
	{ "another kid", nothing, "{\"alg\":\"EdDSA\",\"kid\":"
	    "\"0011223344556677\"}", 0, "bad_verdict", "" },
	{ "crit", nothing, "{\"alg\":\"EdDSA\",\"crit\":[\"x\"],\"kid\":"
	    "\"%s\"}", 0, "bad_verdict", "" },
	{ "no eat_profile", no_profile, NULL, 0, "bad_verdict", "" },
	{ "status and reason disagree", status_lies, NULL, 0, "bad_verdict",
	    "" },
	{ "not a reason code", unknown_reason, NULL, 0, "bad_verdict", "" },
	{ "revoked", revoked, NULL, 0, "revoked", "" },
	{ "revoked without its receipt", revoked_no_proof, NULL, 0,
	    "bad_proof", "" },
	{ "malformed, nothing to prove", malformed, NULL, 0, "malformed", "" },
	{ "affirming without a release", no_release, NULL, 0, "bad_proof",
	    "" },
	{ "no receipt", no_proof, NULL, 0, "bad_proof", "" },
	{ "another index", rel_index, NULL, 0, "bad_proof", "" },
	{ "another id", rel_id, NULL, 0, "bad_proof", "" },
	{ "another version", rel_version, NULL, 0, "bad_proof", "" },
	{ "another root", cp_root, NULL, 0, "bad_proof", "" },
	{ "another size", cp_size, NULL, 0, "bad_proof", "" },
	{ "another origin", cp_origin, NULL, 0, "bad_proof", "" },
	{ "a PCR differs from the release", pcr_differs, NULL, 0, "bad_proof",
	    "" },
	{ "no glassbox.freshness", no_freshness, NULL, 0, "bad_verdict", "" },
	{ "a negative max age", freshness_negative, NULL, 0, "bad_verdict",
	    "" },
	{ "asked now, no freshness", freshness_null, NULL, 0,
	    "verdict_mismatch", "glassbox.freshness" },
	{ "asked now, answered at document", at_document, NULL, 0,
	    "verdict_mismatch", "glassbox.at" },
	{ "asked and answered at document", asked_document, NULL, 0, "ok",
	    "" },
	{ "at document with a freshness claim", document_with_freshness, NULL,
	    0, "ok", "" },
	{ "asked document, answered now", asked_document_got_now, NULL, 0,
	    "verdict_mismatch", "glassbox.at" },
	{ "asked and answered a time in ms", asked_ms, NULL, 0, "ok", "" },
	{ "asked the same time in RFC 3339", asked_rfc3339, NULL, 0, "ok",
	    "" },
	{ "answered in RFC 3339", answered_rfc3339, NULL, 0, "ok", "" },
	{ "asked another ms", asked_other_ms, NULL, 0, "verdict_mismatch",
	    "glassbox.at" },
	{ "asked a time, answered now", asked_ms_got_now, NULL, 0,
	    "verdict_mismatch", "glassbox.at" },
	{ "asked a time, answered at document", asked_ms_got_document, NULL,
	    0, "verdict_mismatch", "glassbox.at" },
	{ "asked a time, no freshness", asked_ms_no_freshness, NULL, 0,
	    "verdict_mismatch", "glassbox.freshness" },
	{ "another question before the verdict's own refusal",
	    revoked_at_document, NULL, 0, "verdict_mismatch", "glassbox.at" },
	{ "the receipt before the question", no_proof_at_document, NULL, 0,
	    "bad_proof", "" },
	{ "expiry before the question", expired_at_document, NULL, 0,
	    "verdict_expired", "" },
};

/* The header template with its "%s" (if any) replaced by the pinned kid. */
static void
expand(char *out, size_t n, const char *tmpl)
{
	const char *at = strstr(tmpl, "%s");

	if (at == NULL)
		snprintf(out, n, "%s", tmpl);
	else
		snprintf(out, n, "%.*s%s%s", (int)(at - tmpl), tmpl, fx.kid,
		    at + 2);
}

static void
input(struct gb_verdict_input *in)
{
	*in = (struct gb_verdict_input){ .tlog_proof = fx.tlog,
	    .tlog_proof_len = strlen(fx.tlog), .doc = fx.doc,
	    .doc_len = fx.doc_len, .result = result,
	    .result_len = sizeof result - 1, .nonce = nonce,
	    .nonce_len = sizeof nonce, .verdict_pub = fx.pub,
	    .log_vkey = fx.vkey, .now_s = NOW };
}

TEST(table)
{
	for (size_t i = 0; i < sizeof vcases / sizeof vcases[0]; i++) {
		const struct vcase *k = &vcases[i];
		struct gb_verdict_outcome o;
		struct gb_verdict_input in;
		json_t *c = good_claims(fx.doc, fx.doc_len);
		char hdr[200], *jws;

		input(&in);
		k->change(c, &in);
		expand(hdr, sizeof hdr, k->header ? k->header :
		    "{\"alg\":\"EdDSA\",\"kid\":\"%s\",\"typ\":\"JWT\"}");
		jws = sign_jws(hdr, c, k->tamper == 2 ? fx.other_seed :
		    fx.seed);
		if (k->tamper == 1)     /* another valid base64url digit */
			jws[strlen(jws) - 10] = jws[strlen(jws) - 10] == 'A' ?
			    'B' : 'A';
		in.jws = jws;
		in.jws_len = strlen(jws);
		ASSERT_EQ(gb_verdict_check(&in, &o), 0);
		if (strcmp(o.reason, k->reason) != 0 ||
		    strcmp(o.claim, k->claim) != 0 ||
		    o.valid != (strcmp(k->reason, "ok") == 0)) {
			FAIL_AT("case \"%s\": got %s (%s): %s; want %s (%s)",
			    k->name, o.reason, o.claim, o.message, k->reason,
			    k->claim);
		}
		/* Claims come back only once the signature verified. */
		ASSERT((o.claims != NULL) == (strncmp(k->reason, "bad_verdict",
		    11) != 0));
		json_decref(o.claims);
		json_decref(c);
		free(jws);
	}
}

/* Receipts that are not tlog-proof@v1 texts, or not under the log key. */
TEST(receipts)
{
	static const struct {
		const char *from, *to;
	} edits[] = {
		{ "c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v2\n" },
		{ "\nindex 3\n", "\nindex 03\n" },
		{ "\nindex 3\n", "\nindex 3 \n" },
		{ "\nextra ", "\nextra  " },
		{ "\nextra ", "\nextrb " },
		{ "=\n\n", "\n\n" },            /* a hash shortened */
		{ "\n\n", "\n" },               /* no blank line */
		{ "\xe2\x80\x94 " ORIGIN " ", "\xe2\x80\x94 other/log " },
	};
	json_t *c = good_claims(fx.doc, fx.doc_len);
	char *jws = sign_jws("{\"alg\":\"EdDSA\",\"kid\":\"x\"}", c, fx.seed);
	char hdr[100];
	struct gb_verdict_outcome o;
	struct gb_verdict_input in;

	free(jws);
	snprintf(hdr, sizeof hdr, "{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", fx.kid);
	jws = sign_jws(hdr, c, fx.seed);
	for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
		const char *at = strstr(fx.tlog, edits[i].from);
		size_t fl = strlen(edits[i].from), tl = strlen(edits[i].to);
		char *t = malloc(strlen(fx.tlog) + tl + 1);

		ASSERT(at != NULL && t != NULL);
		memcpy(t, fx.tlog, (size_t)(at - fx.tlog));
		memcpy(t + (at - fx.tlog), edits[i].to, tl);
		strcpy(t + (at - fx.tlog) + tl, at + fl);
		input(&in);
		in.jws = jws;
		in.jws_len = strlen(jws);
		in.tlog_proof = t;
		in.tlog_proof_len = strlen(t);
		ASSERT_EQ(gb_verdict_check(&in, &o), 0);
		if (strcmp(o.reason, "bad_proof") != 0)
			FAIL_AT("edit %zu: got %s: %s", i, o.reason, o.message);
		json_decref(o.claims);
		free(t);
	}
	/* A proof hash changed (its first character, on the fourth line). */
	{
		char *t = strdup(fx.tlog), *l = t;

		ASSERT(t != NULL);
		for (int n = 0; n < 3 && l != NULL; n++)
			l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL;
		ASSERT(l != NULL && *l != '\n');
		*l = *l == 'A' ? 'B' : 'A';
		input(&in);
		in.jws = jws;
		in.jws_len = strlen(jws);
		in.tlog_proof = t;
		in.tlog_proof_len = strlen(t);
		ASSERT_EQ(gb_verdict_check(&in, &o), 0);
		ASSERT_STR_EQ(o.reason, "bad_proof");
		ASSERT(strstr(o.message, "inclusion proof") != NULL);
		json_decref(o.claims);
		free(t);
	}
	/* The untouched receipt passes, and a log key that is not a key is a
	 * usage error, not an answer. */
	input(&in);
	in.jws = jws;
	in.jws_len = strlen(jws);
	ASSERT_EQ(gb_verdict_check(&in, &o), 0);
	ASSERT_STR_EQ(o.reason, "ok");
	json_decref(o.claims);
	in.log_vkey = "not a key";
	ASSERT_EQ(gb_verdict_check(&in, &o), GB_EINVAL);
	/* So is a time asked that the verifier would refuse. */
	input(&in);
	in.jws = jws;
	in.jws_len = strlen(jws);
	in.at = "soon";
	ASSERT_EQ(gb_verdict_check(&in, &o), GB_EINVAL);
	json_decref(o.claims);
	in.at = "1969-12-31T23:59:59Z";
	ASSERT_EQ(gb_verdict_check(&in, &o), GB_EINVAL);
	json_decref(o.claims);
	/* Garbage for a JWS. */
	input(&in);
	in.jws = "a.b.c";
	in.jws_len = 5;
	ASSERT_EQ(gb_verdict_check(&in, &o), 0);
	ASSERT_STR_EQ(o.reason, "bad_verdict");
	in.jws = "..";
	in.jws_len = 2;
	ASSERT_EQ(gb_verdict_check(&in, &o), 0);
	ASSERT_STR_EQ(o.reason, "bad_verdict");
	free(jws);
	json_decref(c);
}

/* The verifier's document claim: every field, from the document's bytes. */
TEST(document_claim)
{
	struct gb_doc d;
	json_t *j, *k;
	uint8_t md[32];
	char hex[65];

	ASSERT_REASON(gb_doc_parse(fx.doc, fx.doc_len, &d, NULL), GB_R_OK);
	j = gb_verdict_document_claim(fx.doc, fx.doc_len, &d);
	ASSERT(j != NULL);
	sha256(fx.doc, fx.doc_len, md);
	gb_hex_encode(hex, md, 32);
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "sha256")), hex);
	sha256(fx.pub, 32, md);
	gb_hex_encode(hex, md, 32);
	ASSERT_STR_EQ(json_string_value(json_object_get(j,
	    "public_key_sha256")), hex);
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "nonce")),
	    "deadbeef");
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "digest")),
	    "SHA384");
	ASSERT_EQ(json_object_size(json_object_get(j, "pcrs")), 3);
	ASSERT_EQ(json_object_size(j), 8);
	k = gb_verdict_document_claim(fx.doc, fx.doc_len, NULL);
	ASSERT_EQ(json_object_size(k), 1);
	json_decref(j);
	json_decref(k);
}

static void
teardown(void)
{
	gb_mint_chain_free(fx.chain);
	free(fx.vkey);
	free(fx.note);
	free(fx.tlog);
	free(fx.doc);
	free(fx.doc2);
	free(fx.doc3);
}

TEST(setup_first) { setup(); }
TEST(teardown_last) { teardown(); }

TEST_MAIN(
	T(setup_first),
	T(table),
	T(receipts),
	T(document_claim),
	T(teardown_last),
)
