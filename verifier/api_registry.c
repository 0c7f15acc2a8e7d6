/*
 * Registry and log endpoints: releases (list, search, show, publish,
 * revoke), keys, the checkpoint, entries and proofs. Reads use the worker
 * thread's read-only handle; writes open the registry writable, one at a
 * time, and need the bearer token as well as a good GPG signature.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "gb/docjson.h"
#include "gb/codec.h"
#include "gb/note.h"
#include "gb/verdict.h"
#include "server.h"

#define ENTRIES_MAX 1000            /* leaves per /log/entries page */

static int
reg_problem(struct vs_req *q, const struct gb_reg_error *e)
{
	static const struct {
		const char *code;
		int status;
	} map[] = {
		{ "not_found", 404 }, { "conflict", 409 },
		{ "already_revoked", 409 }, { "out_of_range", 400 },
		{ "too_large", 413 }, { "io_error", 500 }, { "db_error", 500 },
		{ "no_memory", 500 }, { "gpg_error", 500 },
		{ "crypto_error", 500 }, { "no_registry", 503 },
		{ "bad_permissions", 500 }, { "read_only", 500 },
	};
	int status = 422;   /* a statement or signature refused */

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].code, e->code) == 0)
			status = map[i].status;
	return vs_problem(q, status, e->code, "%s", e->message);
}

static int
no_registry(struct vs_req *q)
{
	return vs_problem(q, 503, "no_registry", "the registry cannot be "
	    "opened");
}

/* Parses a decimal uint64 query parameter; -1 if absent, -2 if bad. The
 * buffer holds the whole query, so no value is too long for it: a long one
 * is refused, never taken for an absent one (vs_query() says NULL to
 * both). */
static int
query_u64(struct vs_req *q, const char *name, uint64_t *out)
{
	char buf[GB_HTTPD_QUERY_MAX], *end;

	if (vs_query(q, name, buf, sizeof buf) == NULL)
		return -1;
	if (buf[0] < '0' || buf[0] > '9')
		return -2;
	*out = strtoull(buf, &end, 10);
	return *end == '\0' ? 0 : -2;
}

static json_t *
proof_array(uint8_t (*p)[GB_HASH_BYTES], size_t n)
{
	json_t *a = json_array();
	char hex[2 * GB_HASH_BYTES + 1];

	for (size_t i = 0; i < n; i++) {
		gb_hex_encode(hex, p[i], GB_HASH_BYTES);
		json_array_append_new(a, json_string(hex));
	}
	return a;
}

/* The latest checkpoint, its parsed size and root. */
static int
latest(struct gb_registry *r, char **note, struct gb_checkpoint *c)
{
	struct gb_checkpoint_verifier *v = vs_log_checkpoints(
	    gb_registry_vkey(r));
	struct gb_note_opened o;
	struct gb_note_key k;
	struct gb_reg_error e;
	bool ok;

	if (gb_registry_checkpoint(r, note, &e) != 0)
		return -1;
	/* The process's verifier (the key parsed once, the same note checked
	 * once); parsing the key here is for a registry of another key. */
	if (v != NULL)
		ok = gb_checkpoint_verifier_open(v, *note, strlen(*note), c) == 0;
	else
		ok = gb_note_vkey_parse(gb_registry_vkey(r), &k) == 0 &&
		    gb_note_open(*note, strlen(*note), &k, 1, &o) == 0 &&
		    gb_checkpoint_parse(*note, o.text_len, c) == 0;
	if (!ok) {
		free(*note);
		*note = NULL;
		return -1;
	}
	return 0;
}

json_t *
vs_proof_json_at(struct gb_registry *r, uint64_t index, const char *note,
    const struct gb_checkpoint *c)
{
	uint8_t p[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES];
	struct gb_reg_error e;
	char root[2 * GB_HASH_BYTES + 1];
	size_t n;
	json_t *j;

	if (r == NULL ||
	    gb_registry_prove_inclusion(r, index, c->size, p, &n, &e) != 0)
		return json_null();
	gb_hex_encode(root, c->root, GB_HASH_BYTES);
	j = json_pack("{s:{s:s, s:I, s:s}, s:I, s:o}", "checkpoint", "note",
	    note, "size", (json_int_t)c->size, "root", root, "index",
	    (json_int_t)index, "inclusion", proof_array(p, n));
	return j != NULL ? j : json_null();
}

json_t *
vs_proof_json(struct gb_registry *r, uint64_t index)
{
	struct gb_checkpoint c;
	char *note;
	json_t *j;

	if (r == NULL || latest(r, &note, &c) != 0)
		return json_null();
	j = vs_proof_json_at(r, index, note, &c);
	free(note);
	return j;
}

char *
vs_tlog_proof(struct gb_registry *r, json_t *proof)
{
	uint8_t (*p)[GB_HASH_BYTES] = NULL;
	json_t *cp = json_object_get(proof, "checkpoint"), *hashes, *h;
	const char *note = json_string_value(json_object_get(cp, "note"));
	json_int_t index = json_integer_value(json_object_get(proof, "index"));
	struct gb_reg_error e;
	char *leaf = NULL, *out = NULL;
	size_t n, i;

	hashes = json_object_get(proof, "inclusion");
	n = json_array_size(hashes);
	if (r == NULL || note == NULL || index < 0 || n > GB_MERKLE_MAX_PROOF ||
	    (p = calloc(n + 1, sizeof *p)) == NULL)
		goto out;
	json_array_foreach(hashes, i, h) {
		const char *hex = json_string_value(h);

		if (hex == NULL || gb_hex_decode(hex, strlen(hex), p[i],
		    GB_HASH_BYTES) != 0)
			goto out;
	}
	if (gb_registry_leaf(r, (uint64_t)index, &leaf, &e) != 0 ||
	    gb_tlog_proof_format(leaf, strlen(leaf), (uint64_t)index,
	    (const uint8_t (*)[GB_HASH_BYTES])p, n, note, strlen(note),
	    &out) != 0)
		out = NULL;
out:
	free(p);
	free(leaf);
	return out;
}

json_t *
vs_release_json(struct gb_registry *r, uint64_t index)
{
	struct gb_reg_error e;
	char *leaf = NULL, hash_hex[17], pcr0[97];
	uint8_t hash[GB_HASH_BYTES];
	json_t *j, *rel, *out = json_null();
	uint64_t idx;
	int64_t revoked = -1;
	char id[17];

	if (r == NULL || gb_registry_leaf(r, index, &leaf, &e) != 0)
		return out;
	gb_merkle_leaf_hash(leaf, strlen(leaf), hash);
	gb_hex_encode(hash_hex, hash, 8);
	j = gb_json_loadb(leaf, strlen(leaf), 0, NULL);
	rel = json_object_get(j, "release");
	if (json_is_object(rel)) {
		/* The release's key register: PCR0 of an enclave image, PCR4
		 * of an instance image (kind "nitrotpm"). */
		json_t *kind = json_object_get(rel, "kind");
		const char *p0 = json_string_value(json_object_get(
		    json_object_get(rel, "pcrs"), kind != NULL ? "4" : "0"));

		snprintf(pcr0, sizeof pcr0, "%s", p0 ? p0 : "");
		if (gb_registry_by_pcr0(r, pcr0, &idx, id, &revoked, &e) != 0)
			revoked = -1;
		out = json_pack("{s:s, s:O, s:O, s:O, s:I, s:o, s:s}", "id",
		    hash_hex, "name", json_object_get(rel, "name"), "version",
		    json_object_get(rel, "version"), "pcrs",
		    json_object_get(rel, "pcrs"), "index", (json_int_t)index,
		    "revoked", revoked >= 0 ? json_integer(revoked) :
		    json_null(), "signer", json_string_value(json_object_get(j,
		    "signer")));
		/* The enclave's result key, when the release names it. */
		if (out != NULL && json_is_string(json_object_get(rel,
		    "signer_key")))
			json_object_set(out, "signer_key", json_object_get(rel,
			    "signer_key"));
		if (out != NULL && json_object_set_new(out, "kind", json_string(
		    kind != NULL ? "nitrotpm" : "enclave")) != 0) {
			json_decref(out);
			out = NULL;
		}
		if (out == NULL)
			out = json_null();
	}
	json_decref(j);
	free(leaf);
	return out;
}

#define RELEASES_PAGE_DEFAULT 100     /* releases per page unless ?limit= */

struct list_ctx {
	struct gb_registry *r;
	json_t *out;
};

static int
list_one(void *arg, const struct gb_reg_release *rel)
{
	struct list_ctx *c = arg;

	json_array_append_new(c->out, vs_release_json(c->r, rel->index));
	return 0;
}

/* A PCR value in a query: 96 hex digits, lower-cased in place. */
static bool
pcr_hex(char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (s[n] >= 'A' && s[n] <= 'F')
			s[n] = (char)(s[n] - 'A' + 'a');
		if (!((s[n] >= '0' && s[n] <= '9') ||
		    (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	}
	return n == 96;
}

/* Appends &name=value, the value percent-encoded, to the URL being built
 * (a fixed buffer: names are at most GB_REG_NAME_MAX bytes). */
static void
url_param(char *url, size_t cap, const char *name, const char *v)
{
	size_t n = strlen(url);

	if (v == NULL)
		return;
	n += (size_t)snprintf(url + n, n < cap ? cap - n : 0, "&%s=", name);
	for (; *v != '\0' && n + 4 < cap; v++) {
		unsigned char c = (unsigned char)*v;

		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			url[n++] = (char)c;
		else
			n += (size_t)snprintf(url + n, cap - n, "%%%02X", c);
	}
	url[n < cap ? n : cap - 1] = '\0';
}

/*
 * GET /api/v1/releases[?name=&pcr0=&pcr=&limit=&after=]: a page of
 * releases in log order (limit 1..GB_REG_PAGE_MAX, default
 * RELEASES_PAGE_DEFAULT), those after the log index `after`; `next` is the
 * URL of the next page (null on the last), `next_after` its cursor. A PCR
 * search is an index lookup in the registry (release_pcrs).
 */
static int
list_releases(struct vs_req *q, struct gb_registry *r)
{
	/* As long as the whole query, so a too-long value is refused rather
	 * than taken for an absent one (vs_query() says NULL to both). */
	char name[GB_HTTPD_QUERY_MAX], pcr0[GB_HTTPD_QUERY_MAX],
	    pcr[GB_HTTPD_QUERY_MAX];
	char url[2 * GB_REG_NAME_MAX * 3 + 512];
	struct list_ctx c = { r, NULL };
	struct gb_reg_filter f;
	struct gb_reg_error e;
	uint64_t limit = RELEASES_PAGE_DEFAULT, after = 0;
	int64_t next;
	int rl, ra;

	if (vs_query_only(q, "name pcr0 pcr limit after") != 0)
		return q->status;
	f.name = vs_query(q, "name", name, sizeof name);
	f.pcr0 = vs_query(q, "pcr0", pcr0, sizeof pcr0);
	f.pcr = vs_query(q, "pcr", pcr, sizeof pcr);
	rl = query_u64(q, "limit", &limit);
	ra = query_u64(q, "after", &after);
	if (rl == -2 || ra == -2 || limit < 1 || limit > GB_REG_PAGE_MAX ||
	    after > INT64_MAX)
		return vs_problem(q, 400, "bad_request", "limit is 1..%d "
		    "(default %d) and after a log index", GB_REG_PAGE_MAX,
		    RELEASES_PAGE_DEFAULT);
	if ((f.pcr0 != NULL && !pcr_hex(pcr0)) ||
	    (f.pcr != NULL && !pcr_hex(pcr)))
		return vs_problem(q, 400, "bad_request", "pcr0 and pcr are 96 "
		    "hex digits (48 bytes)");
	if (f.name != NULL && strlen(name) > GB_REG_NAME_MAX)
		return vs_problem(q, 400, "bad_request", "a name is at most %d "
		    "bytes", GB_REG_NAME_MAX);
	c.out = json_array();
	if (gb_registry_releases_page(r, &f, ra == 0 ? (int64_t)after : -1,
	    (size_t)limit, list_one, &c, &next, &e) != 0) {
		json_decref(c.out);
		return reg_problem(q, &e);
	}
	if (next >= 0) {
		snprintf(url, sizeof url, "/api/v1/releases?after=%" PRId64
		    "&limit=%" PRIu64, next, limit);
		url_param(url, sizeof url, "name", f.name);
		url_param(url, sizeof url, "pcr0", f.pcr0);
		url_param(url, sizeof url, "pcr", f.pcr);
	}
	return vs_reply_json(q, 200, json_pack("{s:o, s:o, s:o}", "releases",
	    c.out, "next", next >= 0 ? json_string(url) : json_null(),
	    "next_after", next >= 0 ? json_integer(next) : json_null()));
}

/* Bearer token, compared in constant time (over SHA-256 of both, so the
 * length does not show either). */
static bool
authorized(struct vs_req *q)
{
	const char *h = vs_header(q, "Authorization");
	uint8_t a[32], b[32];

	if (q->vs->token == NULL || h == NULL || strncmp(h, "Bearer ", 7) != 0)
		return false;
	SHA256((const uint8_t *)h + 7, strlen(h + 7), a);
	SHA256((const uint8_t *)q->vs->token, strlen(q->vs->token), b);
	return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

/* POST bodies: {"statement": base64 of the signed bytes, "signature":
 * the armored detached signature}, nothing else. */
/* After a write: the registry's static tiles follow (gb/registry.h). A
 * failure leaves the entry logged and is logged itself; the next write or
 * "glassbox registry tiles" catches up. */
static void
sync_tiles(struct gb_registry *w)
{
	struct gb_reg_error e = { "", "" };
	json_t *j;
	char *line;

	if (gb_registry_sync_tiles(w, &e) == 0)
		return;
	j = json_pack("{s:s, s:s, s:s}", "event", "tiles_failed", "reason",
	    e.code, "detail", e.message);
	line = j ? json_dumps(j, JSON_COMPACT) : NULL;
	fprintf(stderr, "%s\n", line ? line : "{\"event\":\"tiles_failed\"}");
	free(line);
	json_decref(j);
}

static int
write_op(struct vs_req *q, const char *revoke_id)
{
	struct gb_registry *w = NULL;
	struct gb_reg_entry en;
	struct gb_reg_error e = { "", "" };
	uint8_t *stmt = NULL;
	size_t body_len, stmt_len;
	const char *sig, *b64, *k;
	uint64_t relidx;
	char *body;
	json_t *j, *v;
	int rc;

	if (!authorized(q))
		return vs_problem_h(q, 401, "WWW-Authenticate", "Bearer "
		    "realm=\"glassbox\"", "unauthorized", "writes need "
		    "\"Authorization: Bearer TOKEN\" with the service's token");
	if ((rc = vs_query_only(q, "")) != 0)
		return rc;
	if ((rc = vs_read_body(q, &body, &body_len)) != 0)
		return rc;
	if (!vs_content_type_is(q, "application/json", true)) {
		free(body);
		return vs_problem(q, 415, "unsupported_media_type", "send "
		    "application/json (optionally ; charset=utf-8)");
	}
	j = gb_json_loadb(body, body_len, 0, NULL);
	free(body);
	json_object_foreach(j, k, v) {
		if (strcmp(k, "statement") != 0 && strcmp(k, "signature") != 0) {
			rc = vs_problem(q, 400, "unknown_field", "unknown field "
			    "\"%.64s\" (statement and signature are known)", k);
			json_decref(j);
			return rc;
		}
	}
	b64 = json_string_value(json_object_get(j, "statement"));
	sig = json_string_value(json_object_get(j, "signature"));
	if (b64 == NULL || sig == NULL ||
	    gb_base64_decode_alloc(b64, strlen(b64), GB_REG_STATEMENT_MAX,
	    &stmt, &stmt_len) != 0) {
		json_decref(j);
		return vs_problem(q, 400, "bad_request", "send {\"statement\": "
		    "BASE64, \"signature\": ARMORED}");
	}
	if (revoke_id != NULL) {
		/* The statement must revoke the release the URL names. */
		struct gb_registry *r = vs_registry(q);
		json_t *s = gb_json_loadb((const char *)stmt, stmt_len, 0, NULL);
		const char *p0 = json_string_value(json_object_get(s, "pcr0"));
		uint64_t idx, have;
		int64_t revoked;
		char id[17];
		bool same = r != NULL && p0 != NULL &&
		    gb_registry_find_release(r, revoke_id, &idx, &e) == 0 &&
		    gb_registry_by_pcr0(r, p0, &have, id, &revoked, &e) == 0 &&
		    have == idx;

		json_decref(s);
		if (!same) {
			free(stmt);
			json_decref(j);
			return vs_problem(q, 400, "bad_request", "the statement "
			    "does not revoke release %.16s", revoke_id);
		}
	}
	pthread_mutex_lock(&q->vs->write_mu);
	if (gb_registry_open(q->vs->cfg.db, true, &w, &e) == 0)
		rc = revoke_id == NULL ?
		    gb_registry_publish(w, (const char *)stmt, stmt_len, sig,
		    strlen(sig), &en, &e) :
		    gb_registry_revoke(w, (const char *)stmt, stmt_len, sig,
		    strlen(sig), &en, &e);
	else
		rc = -1;
	if (rc == 0)
		sync_tiles(w);
	gb_registry_close(w);
	pthread_mutex_unlock(&q->vs->write_mu);
	free(stmt);
	json_decref(j);
	if (rc != 0)
		return reg_problem(q, &e);
	relidx = en.index;
	if (revoke_id != NULL && gb_registry_find_release(vs_registry(q),
	    revoke_id, &relidx, &e) != 0)
		relidx = en.index;
	return vs_reply_json(q, en.existed ? 200 : 201, json_pack("{s:{s:I, "
	    "s:I, s:s, s:b}, s:o, s:o}", "entry", "index", (json_int_t)en.index,
	    "size", (json_int_t)en.size, "release", en.id, "existed",
	    en.existed, "release", vs_release_json(vs_registry(q), relidx),
	    "proof", vs_proof_json(vs_registry(q), en.index)));
}

int
vs_api_releases(struct vs_req *q)
{
	const char *uri = vs_path(q);
	const char *rest = uri + strlen("/api/v1/releases");
	struct gb_registry *r = vs_registry(q);
	struct gb_reg_error e;
	char id[64];
	uint64_t idx;

	if (r == NULL)
		return no_registry(q);
	if (*rest == '\0' || strcmp(rest, "/") == 0) {
		if (vs_method(q, "POST"))
			return write_op(q, NULL);
		if (!vs_method(q, "GET"))
			return vs_problem(q, 405, "method_not_allowed", "use GET "
			    "or POST");
		return list_releases(q, r);
	}
	if (sscanf(rest, "/%16[0-9a-f]", id) != 1)
		return vs_problem(q, 404, "not_found", "no such release");
	rest += 1 + strlen(id);
	if (strcmp(rest, "/revoke") == 0) {
		if (!vs_method(q, "POST"))
			return vs_problem(q, 405, "method_not_allowed",
			    "use POST");
		return write_op(q, id);
	}
	if (*rest != '\0')
		return vs_problem(q, 404, "not_found", "no such resource");
	if (!vs_method(q, "GET"))
		return vs_problem(q, 405, "method_not_allowed", "use GET");
	if (vs_query_only(q, "") != 0)
		return q->status;
	if (gb_registry_find_release(r, id, &idx, &e) != 0)
		return reg_problem(q, &e);
	return vs_reply_json(q, 200, json_pack("{s:o, s:o}", "release",
	    vs_release_json(r, idx), "proof", vs_proof_json(r, idx)));
}

static int
key_one(void *arg, const struct gb_reg_key *k)
{
	json_array_append_new(arg, json_pack("{s:s, s:I, s:o}", "fingerprint",
	    k->fpr, "index", (json_int_t)k->index, "revoked", k->revoked >= 0 ?
	    json_integer(k->revoked) : json_null()));
	return 0;
}

int
vs_api_keys(struct vs_req *q)
{
	struct gb_registry *r = vs_registry(q);
	struct gb_reg_error e;
	json_t *a;

	if (!vs_method(q, "GET"))
		return vs_problem(q, 405, "method_not_allowed", "use GET");
	if (vs_query_only(q, "") != 0)
		return q->status;
	if (r == NULL)
		return no_registry(q);
	a = json_array();
	if (gb_registry_keys(r, key_one, a, &e) != 0) {
		json_decref(a);
		return reg_problem(q, &e);
	}
	return vs_reply_json(q, 200, json_pack("{s:o}", "keys", a));
}

int
vs_api_log(struct vs_req *q)
{
	const char *what = vs_path(q) +
	    strlen("/api/v1/log");
	uint8_t p[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES];
	struct gb_registry *r = vs_registry(q);
	struct gb_reg_error e;
	uint64_t a = 0, b = 0, size;
	size_t n;
	char *note;

	if (!vs_method(q, "GET"))
		return vs_problem(q, 405, "method_not_allowed", "use GET");
	if (r == NULL || gb_registry_size(r, &size) != 0)
		return no_registry(q);
	if (strcmp(what, "/checkpoint") == 0) {
		int rc;

		if (vs_query_only(q, "size") != 0)
			return q->status;
		rc = query_u64(q, "size", &a);

		/* ?size=N: the checkpoint signed at that size, for auditors
		 * who check consistency between two signed checkpoints. */
		if (rc == -2)
			return vs_problem(q, 400, "bad_request", "size is a "
			    "decimal number");
		if ((rc == 0 ? gb_registry_checkpoint_at(r, a, &note, &e) :
		    gb_registry_checkpoint(r, &note, &e)) != 0)
			return reg_problem(q, &e);
		rc = vs_reply_text(q, 200, "text/plain; charset=utf-8", note,
		    strlen(note));
		free(note);
		return rc;
	}
	if (strcmp(what, "/entries") == 0) {
		json_t *arr;

		if (vs_query_only(q, "start end") != 0)
			return q->status;
		if (query_u64(q, "start", &a) == -2 ||
		    query_u64(q, "end", &b) == -2)
			return vs_problem(q, 400, "bad_request", "start and end "
			    "are decimal numbers");
		if (query_u64(q, "end", &b) == -1)
			b = size;
		if (b > size)
			b = size;
		if (a > b || b - a > ENTRIES_MAX)
			return vs_problem(q, 400, "out_of_range", "entries "
			    "[start, end) within [0, %" PRIu64 "], at most %d "
			    "at a time", size, ENTRIES_MAX);
		arr = json_array();
		for (uint64_t i = a; i < b; i++) {
			char *leaf;

			if (gb_registry_leaf(r, i, &leaf, &e) != 0)
				break;
			/* data: the leaf's exact bytes, which its hash is
			 * over; leaf: the same, parsed. */
			json_array_append_new(arr, json_pack("{s:I, s:s, s:o}",
			    "index", (json_int_t)i, "data", leaf, "leaf",
			    gb_json_loadb(leaf, strlen(leaf), 0, NULL)));
			free(leaf);
		}
		return vs_reply_json(q, 200, json_pack("{s:I, s:I, s:I, s:o}",
		    "start", (json_int_t)a, "end", (json_int_t)b, "size",
		    (json_int_t)size, "entries", arr));
	}
	if (strcmp(what, "/proof/inclusion") == 0) {
		if (vs_query_only(q, "index size") != 0)
			return q->status;
		if (query_u64(q, "index", &a) != 0 ||
		    query_u64(q, "size", &b) == -2)
			return vs_problem(q, 400, "bad_request", "index (and "
			    "size) are decimal numbers");
		if (query_u64(q, "size", &b) == -1)
			b = size;
		if (gb_registry_prove_inclusion(r, a, b, p, &n, &e) != 0)
			return reg_problem(q, &e);
		return vs_reply_json(q, 200, json_pack("{s:I, s:I, s:o}",
		    "index", (json_int_t)a, "size", (json_int_t)b, "inclusion",
		    proof_array(p, n)));
	}
	if (strcmp(what, "/proof/consistency") == 0) {
		if (vs_query_only(q, "from to") != 0)
			return q->status;
		if (query_u64(q, "from", &a) != 0 ||
		    query_u64(q, "to", &b) == -2)
			return vs_problem(q, 400, "bad_request", "from (and to) "
			    "are decimal numbers");
		if (query_u64(q, "to", &b) == -1)
			b = size;
		if (gb_registry_prove_consistency(r, a, b, p, &n, &e) != 0)
			return reg_problem(q, &e);
		return vs_reply_json(q, 200, json_pack("{s:I, s:I, s:o}",
		    "from", (json_int_t)a, "to", (json_int_t)b, "consistency",
		    proof_array(p, n)));
	}
	return vs_problem(q, 404, "not_found", "no such log resource");
}

/*
 * GET /tlog/checkpoint and /tlog/tile/...: the log as C2SP tlog-tiles, the
 * same bytes `glassbox registry tiles` writes (docs/registry.md "Tiles"),
 * made from the database on each request, so that a mirror or a client
 * can follow this verifier without a static copy. A tile is served at the
 * width the current tree gives it or any smaller (older) width. Full tiles
 * never change and may be cached for good; partial tiles and the
 * checkpoint are not cached.
 */
int
vs_api_tlog(struct vs_req *q)
{
	const char *what = vs_path(q) + strlen("/tlog");
	struct gb_registry *r = vs_registry(q);
	struct gb_reg_error e = { "", "" };
	uint64_t size, n;
	unsigned width;
	uint8_t *data;
	size_t len;
	char *note;
	int level, rc;

	if (!vs_method(q, "GET"))
		return vs_problem(q, 405, "method_not_allowed", "use GET");
	if (vs_query_only(q, "") != 0)
		return q->status;
	if (r == NULL || gb_registry_size(r, &size) != 0)
		return no_registry(q);
	if (strcmp(what, "/checkpoint") == 0) {
		if (gb_registry_checkpoint(r, &note, &e) != 0)
			return reg_problem(q, &e);
		rc = vs_reply_text(q, 200, "text/plain; charset=utf-8", note,
		    strlen(note));
		free(note);
		return rc;
	}
	if (what[0] != '/' || gb_registry_tile_parse(what + 1, &level, &n,
	    &width) != 0)
		return vs_problem(q, 404, "not_found", "no such tile: "
		    "tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]");
	if (gb_registry_tile(r, size, level, n, width, &data, &len, &e) != 0)
		return reg_problem(q, &e);
	rc = vs_reply_text(q, 200, "application/octet-stream",
	    (const char *)data, len);
	free(data);
	if (rc == 200 && width == GB_TILE_WIDTH)
		gb_http_resp_header(q->resp, "Cache-Control",
		    "public, max-age=31536000, immutable");
	return rc;
}
