/*
 * glassbox check-verdict: a client checks, offline, a verdict the verifier
 * signed: that it is authentic (the pinned verdict key), about this
 * document, result and nonce, unexpired, that the release it names is in
 * the log (a tlog-proof under the pinned log key), and that it affirms.
 * The checks are gb_verdict_check()'s (lib/include/gb/verdict.h); the
 * contract is docs/verdict.md. Keys are read from files, never fetched.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "gb/codec.h"
#include "gb/docjson.h"
#include "gb/note.h"
#include "gb/timefmt.h"
#include "gb/tlog_policy.h"
#include "gb/verdict.h"

/* A saved verify answer: the verdict, the tlog-proof, the document summary
 * and checks; 1 MiB is far above any answer the verifier sends. */
#define ANSWER_MAX_BYTES (1 << 20)
/* A key file: a JWK, a vkey line, or the whole /.well-known/glassbox. */
#define KEYFILE_MAX_BYTES 65536
/* A result: the verifier takes at most --max-body (64 MiB at most). */
#define RESULT_MAX_BYTES (64 << 20)

static const char usage_text[] =
"usage: glassbox check-verdict --verdict-key JWK_FILE --log-key VKEY_FILE\n"
"                              [--policy FILE] [--proof FILE]\n"
"                              [--result FILE] [--nonce HEX]\n"
"                              [--at now|document|MS|RFC3339]\n"
"                              [--now UNIX_S] [--json] ANSWER DOC\n"
"\n"
"Checks offline a verdict signed by glassbox-verifier (docs/verdict.md):\n"
"its signature under the pinned verdict key; that it is about DOC (and the\n"
"result and nonce given); that it has not expired; that the release it\n"
"names is in the log (its tlog-proof, under a checkpoint signed by the\n"
"pinned log key, cosigned by the policy's quorum of witnesses when\n"
"--policy is given); that it answers the question asked (--at); then that\n"
"it affirms.\n"
"\n"
"  ANSWER           the verify answer JSON as received (its \"verdict\" and\n"
"                   \"tlog_proof\" are used), or just the compact JWS\n"
"  DOC              the document sent: raw CBOR, or base64 or hex text\n"
"                   (detected as glassbox verify does; other bytes are\n"
"                   taken as they are)\n"
"  --verdict-key F  the verifier's JWK, or the whole /.well-known/glassbox\n"
"                   JSON (its verdict_key)\n"
"  --log-key F      the log's C2SP verifier key line, or the whole\n"
"                   /.well-known/glassbox JSON (its log_key)\n"
"  --policy F       a C2SP tlog-policy file (docs/witness.md, \"Policy\"):\n"
"                   the receipt's checkpoint must be signed by a log it\n"
"                   lists (if any) and cosigned (cosignature/v1, dated at\n"
"                   most 60 s after now) by its quorum: below_quorum\n"
"                   otherwise, bad_proof for a cosignature that fails\n"
"  --proof F        the tlog-proof text (when ANSWER is a bare JWS, or to\n"
"                   use another one)\n"
"  --result F       the result that was sent (its exact bytes)\n"
"  --nonce HEX      the nonce that was sent\n"
"  --at WHEN        the time that was asked, as sent: now (the default),\n"
"                   document, ms since 1970 or RFC 3339. A verdict about\n"
"                   another time is refused (verdict_mismatch, glassbox.at),\n"
"                   and one about a time (not \"document\") must say what\n"
"                   freshness it checked (glassbox.freshness)\n"
"  --now UNIX_S     check expiry at this time (seconds; default: now)\n"
"  --json           print {\"valid\", \"reason\", \"claim\", \"message\",\n"
"                   \"claims\", \"quorum\"} on standard output (quorum:\n"
"                   null, or {\"met\", \"rule\", \"witnesses\": [{\"name\",\n"
"                   \"state\", \"time\"}]} once a receipt was evaluated\n"
"                   under --policy)\n"
"\n"
"Keys are only read from files: pin them once, never fetch them silently.\n"
"\n"
"Exit status: 0 valid (authentic, bound, unexpired, proven, affirming),\n"
"1 refused (bad_verdict, bad_verdict_signature, verdict_mismatch naming\n"
"the claim, verdict_expired, bad_proof, below_quorum, or the verdict's own\n"
"reason; on standard error, or in the JSON), 2 usage or I/O error.\n";

static int
usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "glassbox check-verdict: %s%s%s\n%s", what,
	    arg != NULL ? ": " : "", arg != NULL ? arg : "", usage_text);
	return 2;
}

/* Reads a file whole; prints why not and returns -1. */
static int
read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	int err = gb_read_file(path, max, out, len);

	if (err != 0) {
		fprintf(stderr, "glassbox check-verdict: %s: %s\n", path,
		    err == GB_ETOOBIG ? "larger than such a file can be" :
		    gb_strerror(err));
		return -1;
	}
	return 0;
}

/* The text between leading and trailing white space of buf[0..len). */
static const char *
trimmed(const uint8_t *buf, size_t len, size_t *out_len)
{
	const char *s = (const char *)buf, *e = s + len;

	while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		e--;
	*out_len = (size_t)(e - s);
	return s;
}

/* base64url (no padding) of exactly n bytes into out. */
static int
b64url_exact(const char *s, uint8_t *out, size_t n)
{
	uint8_t *d = NULL;
	size_t dl = 0;
	int rc = -1;

	if (gb_base64url_decode_alloc(s, strlen(s), n, &d, &dl) == 0 &&
	    dl == n) {
		memcpy(out, d, n);
		rc = 0;
	}
	free(d);
	return rc;
}

/* The pinned verdict key: a JWK, or /.well-known/glassbox's verdict_key. */
static int
load_jwk(const char *path, uint8_t pub[GB_ED25519_PUB_BYTES],
    char kid[GB_VERDICT_KID_BYTES])
{
	uint8_t *buf = NULL;
	size_t len;
	json_t *j = NULL, *k;
	const char *x, *jkid;
	int rc = -1;

	if (read_file(path, KEYFILE_MAX_BYTES, &buf, &len) != 0)
		return -1;
	j = gb_json_loadb((const char *)buf, len, 0, NULL);
	k = json_is_object(json_object_get(j, "verdict_key")) ?
	    json_object_get(j, "verdict_key") : j;
	x = json_string_value(json_object_get(k, "x"));
	if (!json_is_object(k) || x == NULL ||
	    !json_is_string(json_object_get(k, "kty")) ||
	    strcmp(json_string_value(json_object_get(k, "kty")), "OKP") != 0 ||
	    !json_is_string(json_object_get(k, "crv")) ||
	    strcmp(json_string_value(json_object_get(k, "crv")), "Ed25519") !=
	    0 || b64url_exact(x, pub, GB_ED25519_PUB_BYTES) != 0) {
		fprintf(stderr, "glassbox check-verdict: %s: not an Ed25519 "
		    "JWK (kty OKP, crv Ed25519, x) nor /.well-known/glassbox "
		    "with one\n", path);
		goto out;
	}
	gb_verdict_kid(pub, kid);
	jkid = json_string_value(json_object_get(k, "kid"));
	if (json_object_get(k, "kid") != NULL && (jkid == NULL ||
	    strcmp(jkid, kid) != 0)) {
		fprintf(stderr, "glassbox check-verdict: %s: the JWK's kid is "
		    "not its key's (%s)\n", path, kid);
		goto out;
	}
	rc = 0;
out:
	json_decref(j);
	free(buf);
	return rc;
}

/* The pinned log key: a vkey line, or /.well-known/glassbox's log_key.
 * *out is a new string. */
static int
load_vkey(const char *path, char **out)
{
	struct gb_note_key k;
	uint8_t *buf = NULL;
	size_t len, n;
	const char *s;
	json_t *j = NULL;
	int rc = -1;

	if (read_file(path, KEYFILE_MAX_BYTES, &buf, &len) != 0)
		return -1;
	s = trimmed(buf, len, &n);
	if (n > 0 && s[0] == '{') {
		j = gb_json_loadb(s, n, 0, NULL);
		s = json_string_value(json_object_get(j, "log_key"));
		n = s != NULL ? strlen(s) : 0;
	}
	if (s == NULL || (*out = strndup(s, n)) == NULL ||
	    gb_note_vkey_parse(*out, &k) != 0) {
		if (s != NULL) {
			free(*out);
			*out = NULL;
		}
		fprintf(stderr, "glassbox check-verdict: %s: not a C2SP "
		    "verifier key (NAME+ID+KEY) nor /.well-known/glassbox with "
		    "one\n", path);
		goto out;
	}
	rc = 0;
out:
	json_decref(j);
	free(buf);
	return rc;
}

/* The policy file, parsed; prints why not and returns -1. */
static int
load_policy(const char *path, struct gb_tlog_policy **out)
{
	struct gb_tlog_policy_error e;
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if (read_file(path, GB_TLOG_POLICY_MAX_BYTES, &buf, &len) != 0)
		return -1;
	rc = gb_tlog_policy_parse((const char *)buf, len, out, &e);
	free(buf);
	if (rc == GB_EINVAL)
		fprintf(stderr, "glassbox check-verdict: %s:%u: not a "
		    "tlog-policy: %s\n", path, e.line, e.message);
	else if (rc != 0)
		fprintf(stderr, "glassbox check-verdict: %s\n",
		    gb_strerror(rc));
	return rc == 0 ? 0 : -1;
}

/* {"met", "rule", "witnesses": [{"name", "state", "time"}]}, or null
 * when no receipt was evaluated under a policy. */
static json_t *
quorum_json(const struct gb_verdict_outcome *o,
    const struct gb_tlog_policy *p)
{
	json_t *a;

	if (!o->quorum_checked || (a = json_array()) == NULL)
		return json_null();
	for (size_t i = 0; i < o->quorum.nwitnesses; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:o}", "name",
		    o->quorum.witness[i].name, "state",
		    gb_tlog_cosig_state_name(o->quorum.witness[i].state),
		    "time", o->quorum.witness[i].time != 0 ? json_integer(
		    (json_int_t)o->quorum.witness[i].time) : json_null()));
	return json_pack("{s:b, s:s, s:o}", "met", o->quorum.quorum, "rule",
	    gb_tlog_policy_quorum(p), "witnesses", a);
}

/* Prints the outcome; returns the exit status. */
static int
report(const struct gb_verdict_outcome *o, const struct gb_tlog_policy *p,
    bool json)
{
	if (json) {
		json_t *j = json_pack("{s:b, s:s?, s:s?, s:s, s:O?, s:o}",
		    "valid", o->valid, "reason", o->valid ? NULL : o->reason,
		    "claim", o->claim[0] ? o->claim : NULL, "message",
		    o->message, "claims", o->claims, "quorum",
		    quorum_json(o, p));

		if (j == NULL || json_dumpf(j, stdout, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER) != 0) {
			json_decref(j);
			fprintf(stderr, "glassbox check-verdict: cannot write "
			    "output\n");
			return 2;
		}
		json_decref(j);
		printf("\n");
	} else if (o->valid) {
		json_t *sub = json_object_get(json_object_get(o->claims,
		    "submods"), "glassbox");
		json_t *rel = json_object_get(sub, "glassbox.release");
		json_t *at = json_object_get(sub, "glassbox.at");
		char when[40], asked[40];

		gb_time_format_rfc3339((int64_t)json_integer_value(
		    json_object_get(o->claims, "exp")) * 1000, when,
		    sizeof when);
		/* The asked time as the verdict says it: a word, or the ms it
		 * was evaluated at (in RFC 3339). */
		if (json_is_string(at) && (strcmp(json_string_value(at),
		    "now") == 0 || strcmp(json_string_value(at), "document") ==
		    0))
			snprintf(asked, sizeof asked, "%s", json_string_value(at));
		else
			gb_time_format_rfc3339((int64_t)json_integer_value(
			    json_object_get(sub, "glassbox.at_ms")), asked,
			    sizeof asked);
		printf("valid: affirmed for this document at %s; release %s %s "
		    "(log index %" JSON_INTEGER_FORMAT "); expires %s\n", asked,
		    json_string_value(json_object_get(rel, "name")),
		    json_string_value(json_object_get(rel, "version")),
		    json_integer_value(json_object_get(rel, "index")), when);
		if (o->quorum_checked) {
			printf("quorum %s holds:", gb_tlog_policy_quorum(p));
			for (size_t i = 0; i < o->quorum.nwitnesses; i++)
				printf(" %s %s", o->quorum.witness[i].name,
				    gb_tlog_cosig_state_name(
				    o->quorum.witness[i].state));
			printf("\n");
		}
	}
	if (!o->valid)
		fprintf(stderr, "glassbox check-verdict: %s%s%s%s: %s\n",
		    o->reason, o->claim[0] ? " (" : "", o->claim,
		    o->claim[0] ? ")" : "", o->message);
	if (fflush(stdout) != 0)
		return 2;
	return o->valid ? 0 : 1;
}

int
cmd_check_verdict(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "verdict-key", required_argument, NULL, 'k' },
		{ "log-key", required_argument, NULL, 'l' },
		{ "policy", required_argument, NULL, 'P' },
		{ "proof", required_argument, NULL, 'p' },
		{ "result", required_argument, NULL, 'r' },
		{ "nonce", required_argument, NULL, 'n' },
		{ "now", required_argument, NULL, 't' },
		{ "at", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gb_verdict_input in = { .jws = NULL };
	struct gb_verdict_outcome o = { .valid = false };
	struct gb_tlog_policy *policy = NULL;
	const char *jwk_path = NULL, *vkey_path = NULL, *proof_path = NULL,
	    *policy_path = NULL,
	    *result_path = NULL, *nonce_hex = NULL, *s;
	uint8_t pub[GB_ED25519_PUB_BYTES], *answer = NULL, *proof = NULL,
	    *result = NULL, *nonce = NULL, *input = NULL, *doc = NULL;
	size_t answer_len, proof_len, result_len, nonce_len, input_len,
	    doc_len, n;
	char kid[GB_VERDICT_KID_BYTES], *vkey = NULL, *end;
	json_t *aj = NULL;
	int64_t at_ms;
	bool json = false;
	int c, err, status = 2;

	in.now_s = (int64_t)time(NULL);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': jwk_path = optarg; break;
		case 'l': vkey_path = optarg; break;
		case 'P': policy_path = optarg; break;
		case 'p': proof_path = optarg; break;
		case 'r': result_path = optarg; break;
		case 'n': nonce_hex = optarg; break;
		case 'a': in.at = optarg; break;
		case 'j': json = true; break;
		case 't':
			in.now_s = strtoll(optarg, &end, 10);
			if (end == optarg || *end != '\0' || optarg[0] == '-' ||
			    in.now_s < 0 || in.now_s > GB_TIMESTAMP_MAX_MS / 1000)
				return usage_error("bad --now (want seconds "
				    "since 1970)", optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind != argc - 2)
		return usage_error("expected ANSWER and DOC", NULL);
	if (jwk_path == NULL || vkey_path == NULL)
		return usage_error("--verdict-key and --log-key are required "
		    "(pinned keys, from files)", NULL);
	if (nonce_hex != NULL && (gb_hex_decode_alloc(nonce_hex,
	    strlen(nonce_hex), GB_OPT_FIELD_MAX_BYTES, &nonce, &nonce_len) !=
	    0 || nonce_len == 0)) {
		free(nonce);
		return usage_error("bad --nonce (want hex, 1 to 1024 bytes)",
		    nonce_hex);
	}
	if (in.at != NULL && strcmp(in.at, "now") != 0 &&
	    strcmp(in.at, "document") != 0 && (gb_time_parse_at(in.at,
	    &at_ms) != 0 || at_ms < 0)) {
		free(nonce);
		return usage_error("bad --at (want now, document, ms since 1970 "
		    "or RFC 3339)", in.at);
	}
	if (load_jwk(jwk_path, pub, kid) != 0 || load_vkey(vkey_path,
	    &vkey) != 0)
		goto out;
	if (policy_path != NULL && load_policy(policy_path, &policy) != 0)
		goto out;
	if (read_file(argv[optind], ANSWER_MAX_BYTES, &answer,
	    &answer_len) != 0 || read_file(argv[optind + 1],
	    GB_DOC_TEXT_MAX_BYTES, &input, &input_len) != 0)
		goto out;
	if (proof_path != NULL && read_file(proof_path,
	    GB_TLOG_PROOF_MAX_BYTES, &proof, &proof_len) != 0)
		goto out;
	if (result_path != NULL && read_file(result_path, RESULT_MAX_BYTES,
	    &result, &result_len) != 0)
		goto out;

	/* The answer: the verify JSON, or the bare JWS. */
	s = trimmed(answer, answer_len, &n);
	if (n > 0 && s[0] == '{') {
		json_t *t;

		aj = gb_json_loadb(s, n, 0, NULL);
		if ((s = json_string_value(json_object_get(aj, "verdict"))) !=
		    NULL) {
			in.jws = s;
			in.jws_len = strlen(s);
		}
		t = json_object_get(aj, "tlog_proof");
		if (proof == NULL && json_is_string(t)) {
			in.tlog_proof = json_string_value(t);
			in.tlog_proof_len = json_string_length(t);
		}
	} else {
		in.jws = s;
		in.jws_len = n;
	}
	if (proof != NULL) {
		/* A file saved with `jq -r` or an editor may end in a second
		 * newline, which is no part of the note: drop such extras. */
		while (proof_len >= 2 && proof[proof_len - 1] == '\n' &&
		    proof[proof_len - 2] == '\n')
			proof_len--;
		in.tlog_proof = (const char *)proof;
		in.tlog_proof_len = proof_len;
	}
	/* The document as the verifier got it: decoded as glassbox verify
	 * decodes it, or else the bytes as they are (the CBOR form of a
	 * verify request takes any bytes). */
	if ((err = gb_doc_decode_input(input, input_len, &doc, &doc_len)) ==
	    GB_ENOMEM)
		goto out;
	if (err != 0) {
		doc = NULL;
		in.doc = input;
		in.doc_len = input_len;
	} else {
		in.doc = doc;
		in.doc_len = doc_len;
	}
	in.result = result;
	in.result_len = result_len;
	in.nonce = nonce;
	in.nonce_len = nonce_len;
	in.verdict_pub = pub;
	in.verdict_kid = kid;
	in.log_vkey = vkey;
	in.policy = policy;
	if (in.jws == NULL)
		in.jws = "";
	if ((err = gb_verdict_check(&in, &o)) != 0) {
		fprintf(stderr, "glassbox check-verdict: %s\n",
		    gb_strerror(err));
		goto out;
	}
	status = report(&o, policy, json);
out:
	gb_tlog_policy_free(policy);
	json_decref(o.claims);
	json_decref(aj);
	free(vkey);
	free(answer);
	free(proof);
	free(result);
	free(nonce);
	free(input);
	free(doc);
	return status;
}
