/*
 * glassbox verify: is this attestation document genuine, and what does it
 * say? The contract (flags, input detection, exit status, JSON fields) is
 * DESIGN.md's "CLI contract".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "gb/attest.h"
#include "gb/codec.h"
#include "gb/docjson.h"
#include "gb/timefmt.h"

static const char usage_text[] =
"usage: glassbox verify [--root PEM] [--at document|now|UNIX_MS|RFC3339]\n"
"                       [--json] [--expect-pcr N=HEX]... [--nonce HEX]\n"
"                       [--allow-debug] [--kind enclave|nitrotpm] DOC\n"
"\n"
"Verifies an AWS Nitro attestation document, an enclave's (pcrs) or an EC2\n"
"instance's NitroTPM (nitrotpm_pcrs): CBOR syntax, COSE headers, payload\n"
"fields, the certificate chain to the pinned AWS root, validity at the\n"
"chosen time, the ES384 signature, then the policy given here.\n"
"\n"
"  DOC               a file of raw CBOR, or of base64 or hex text; - for stdin\n"
"  --root PEM        trust this root (PEM or DER) instead of AWS Root-G1\n"
"  --at WHEN         verification time: now (default), document (its own\n"
"                    timestamp), milliseconds since 1970, or RFC 3339\n"
"  --json            print one JSON object on standard output\n"
"  --expect-pcr N=HEX  require PCR N to equal HEX (repeatable); the\n"
"                    registers of the document's kind\n"
"  --kind KIND       require an enclave's document or an instance's\n"
"                    NitroTPM document (default: either)\n"
"  --nonce HEX       require the document's nonce to equal HEX\n"
"  --allow-debug     accept a debug-mode document (PCR0-2 zero)\n"
"\n"
"Exit status: 0 valid, 1 rejected (reason code on standard error, or in the\n"
"JSON), 2 usage or I/O error.\n";

/* Says what is wrong with the command line; returns exit status 2. */
static int
usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "glassbox verify: %s%s%s\n%s", what,
	    arg != NULL ? ": " : "", arg != NULL ? arg : "", usage_text);
	return 2;
}

static int
parse_expect(const char *arg, struct gb_expect_pcr *e)
{
	const char *eq = strchr(arg, '=');
	char *end;
	unsigned long idx;
	size_t hexlen;

	if (eq == NULL || eq == arg)
		return -1;
	idx = strtoul(arg, &end, 10);
	if (end != eq || idx >= GB_PCR_MAX_COUNT)
		return -1;
	hexlen = strlen(eq + 1);
	if (hexlen % 2 != 0 || hexlen / 2 > GB_PCR_MAX_BYTES || hexlen == 0)
		return -1;
	e->index = (unsigned)idx;
	e->len = hexlen / 2;
	return gb_hex_decode(eq + 1, hexlen, e->value, e->len) == 0 ? 0 : -1;
}

static json_t *
json_text(struct gb_span s)
{
	return s.ptr != NULL ? json_stringn((const char *)s.ptr, s.len) :
	    json_null();
}

static int
print_json(const struct gb_doc *doc, bool parsed, const struct gb_result *res,
    int64_t at_ms)
{
	json_t *o = json_object();
	int err;

	if (o == NULL)
		return -1;
	json_object_set_new(o, "valid", json_boolean(res->reason == GB_R_OK));
	json_object_set_new(o, "reason", res->reason == GB_R_OK ? json_null() :
	    json_string(gb_reason_code(res->reason)));
	json_object_set_new(o, "message", json_string(res->detail));
	json_object_set_new(o, "module_id", parsed ? json_text(doc->module_id) :
	    json_null());
	json_object_set_new(o, "timestamp", parsed ?
	    json_integer((json_int_t)doc->timestamp_ms) : json_null());
	json_object_set_new(o, "digest", parsed ? json_text(doc->digest) :
	    json_null());
	/* The registers under the document's own name for them, so that a
	 * reader of "pcrs" never takes an instance's TPM registers for an
	 * enclave's measurements. */
	json_object_set_new(o, "kind", parsed ?
	    json_string(gb_doc_kind_name(doc->kind)) : json_null());
	json_object_set_new(o, gb_doc_pcrs_key(parsed ? doc->kind :
	    GB_DOC_ENCLAVE), parsed ? gb_json_pcrs(doc) : json_null());
	json_object_set_new(o, "public_key", parsed ?
	    gb_json_hex(doc->public_key) : json_null());
	json_object_set_new(o, "user_data", parsed ?
	    gb_json_hex(doc->user_data) : json_null());
	json_object_set_new(o, "nonce", parsed ?
	    gb_json_hex(doc->nonce) : json_null());
	json_object_set_new(o, "debug", json_boolean(parsed &&
	    gb_doc_is_debug(doc)));
	json_object_set_new(o, "verified_at", json_integer(
	    at_ms == GB_AT_DOCUMENT && parsed ? (json_int_t)doc->timestamp_ms :
	    (json_int_t)at_ms));
	err = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("\n");
	json_decref(o);
	return err;
}

static void
print_text(const struct gb_doc *doc)
{
	char when[40], *h;

	gb_time_format_rfc3339((int64_t)doc->timestamp_ms, when, sizeof when);
	printf("valid: %.*s at %s (%s)%s\n", (int)doc->module_id.len,
	    (const char *)doc->module_id.ptr, when, doc->kind ==
	    GB_DOC_NITROTPM ? "NitroTPM instance" : "enclave",
	    gb_doc_is_debug(doc) ? " (debug mode)" : "");
	for (unsigned i = 0; i < GB_PCR_MAX_COUNT; i++) {
		if (doc->pcrs[i].ptr == NULL)
			continue;
		if ((h = malloc(2 * doc->pcrs[i].len + 1)) == NULL)
			return;
		gb_hex_encode(h, doc->pcrs[i].ptr, doc->pcrs[i].len);
		printf("PCR%-2u %s\n", i, h);
		free(h);
	}
}

int
cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "at", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "expect-pcr", required_argument, NULL, 'p' },
		{ "nonce", required_argument, NULL, 'n' },
		{ "allow-debug", no_argument, NULL, 'd' },
		{ "kind", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gb_expect_pcr expect[GB_EXPECT_PCR_MAX];
	struct gb_policy pol = { .expect = expect };
	struct gb_result res = { GB_R_OK, "" };
	struct gb_verifier *v = NULL;
	struct gb_doc doc;
	uint8_t *root = NULL, *input = NULL, *buf = NULL, *nonce = NULL;
	size_t root_len = 0, input_len, len, nonce_len = 0;
	const char *root_path = NULL, *nonce_hex = NULL;
	int64_t at_ms = 0;
	bool json = false, have_at = false, parsed;
	int c, err, status = 2;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			root_path = optarg;
			break;
		case 'a':
			/* "document" is GB_AT_DOCUMENT; any other negative
			 * time (before 1970) is refused. */
			if (gb_time_parse_at(optarg, &at_ms) != 0 ||
			    (at_ms < 0 && strcmp(optarg, "document") != 0))
				return usage_error("bad --at", optarg);
			have_at = true;
			break;
		case 'j':
			json = true;
			break;
		case 'p':
			if (pol.expect_count == GB_EXPECT_PCR_MAX)
				return usage_error("too many --expect-pcr", NULL);
			if (parse_expect(optarg, &expect[pol.expect_count]) != 0)
				return usage_error("bad --expect-pcr (want N=HEX, "
				    "N 0..31, at most 64 bytes)", optarg);
			pol.expect_count++;
			break;
		case 'n':
			nonce_hex = optarg;
			break;
		case 'd':
			pol.allow_debug = true;
			break;
		case 'k':
			if (strcmp(optarg, "enclave") == 0)
				pol.kind = GB_DOC_ENCLAVE;
			else if (strcmp(optarg, "nitrotpm") == 0)
				pol.kind = GB_DOC_NITROTPM;
			else
				return usage_error("bad --kind (want enclave or "
				    "nitrotpm)", optarg);
			pol.check_kind = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind != argc - 1)
		return usage_error("expected one document", NULL);
	if (nonce_hex != NULL && gb_hex_decode_alloc(nonce_hex,
	    strlen(nonce_hex), GB_OPT_FIELD_MAX_BYTES, &nonce, &nonce_len) != 0)
		return usage_error("bad --nonce (want hex, at most 1024 "
		    "bytes)", nonce_hex);
	if (!have_at)
		at_ms = gb_time_now_ms();
	pol.nonce = nonce;
	pol.nonce_len = nonce_len;

	if (root_path != NULL &&
	    (err = gb_cert_read_file(root_path, &root, &root_len)) != 0) {
		fprintf(stderr, "glassbox verify: %s: cannot read a PEM or DER "
		    "certificate: %s\n", root_path, gb_strerror(err));
		goto out;
	}
	/* Input too large, empty or not a document at all is a rejection
	 * (malformed, exit 1); only a file that cannot be read is exit 2. */
	if ((err = gb_read_file(argv[optind], GB_DOC_TEXT_MAX_BYTES, &input,
	    &input_len)) == GB_ETOOBIG) {
		gb_result_set(&res, GB_R_MALFORMED, "the input is larger than "
		    "%d bytes: too large for any attestation document",
		    GB_DOC_TEXT_MAX_BYTES);
	} else if (err != 0) {
		fprintf(stderr, "glassbox verify: %s: %s\n", argv[optind],
		    gb_strerror(err));
		goto out;
	} else if ((err = gb_doc_decode_input(input, input_len, &buf,
	    &len)) != 0) {
		/* Not raw CBOR, hex or base64: the document is malformed. */
		gb_result_set(&res, GB_R_MALFORMED, "%s",
		    err == GB_ETOOBIG ? "the document is larger than 16384 "
		    "bytes: too large for an attestation document" :
		    input_len == 0 ? "the input is empty" :
		    "the input is neither CBOR nor hex nor base64 text");
		buf = NULL;
		len = 0;
	}
	if (err == GB_ENOMEM) {
		fprintf(stderr, "glassbox verify: %s\n", gb_strerror(err));
		goto out;
	}
	if ((err = gb_verifier_new(root, root_len, &v)) != 0) {
		fprintf(stderr, "glassbox verify: cannot use the root: %s\n",
		    gb_strerror(err));
		goto out;
	}
	parsed = false;
	memset(&doc, 0, sizeof doc);
	if (res.reason == GB_R_OK) {
		gb_verifier_verify(v, buf, len, at_ms, &doc, &res);
		parsed = res.reason == GB_R_OK || res.reason > GB_R_BAD_FIELD;
		if (res.reason == GB_R_OK)
			gb_policy_check(&pol, &doc, &res);
	}
	if (json) {
		if (print_json(&doc, parsed, &res, at_ms) != 0) {
			fprintf(stderr, "glassbox verify: cannot write output\n");
			goto out;
		}
	} else if (res.reason == GB_R_OK) {
		print_text(&doc);
	}
	if (res.reason != GB_R_OK)
		fprintf(stderr, "glassbox verify: %s: %s\n",
		    gb_reason_code(res.reason), res.detail);
	status = res.reason == GB_R_OK ? 0 : 1;
	if (fflush(stdout) != 0)
		status = 2;
out:
	gb_verifier_free(v);
	free(root);
	free(input);
	free(buf);
	free(nonce);
	return status;
}
