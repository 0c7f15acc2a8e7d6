/*
 * glassbox registry: the release registry and its transparency log, for
 * release managers and auditors. A thin layer over gb/registry.h.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "gb/docjson.h"
#include "cli.h"
#include "gb/codec.h"
#include "gb/eif.h"
#include "gb/registry.h"

static const char usage_text[] =
"usage: glassbox registry [--db PATH] [--json] COMMAND ...\n"
"\n"
"  init [--origin NAME]          create the registry, its log key and keyring\n"
"  key add FILE.asc              add a release manager's public key\n"
"  key revoke FPR --reason TEXT  revoke a key (its past entries stay)\n"
"  key list                      keys of the log, active and revoked\n"
"  publish STATEMENT SIG [--eif FILE.eif] [--signer-key FILE]\n"
"                                publish a release: pcr-values.json or\n"
"                                nitro-cli describe-eif JSON, and its\n"
"                                detached armored signature (gpg --armor\n"
"                                --detach-sign); with --eif, refused unless\n"
"                                its PCR0/1/2/8 equal the image's and a\n"
"                                signed image's signature verifies; with\n"
"                                --signer-key (64 hex digits or an Ed25519\n"
"                                PEM public key), unless the statement's\n"
"                                signer_key is that key\n"
"  revoke STATEMENT SIG          revoke a release: a signed JSON statement\n"
"                                {\"action\":\"revoke\",\"origin\":ORIGIN,\n"
"                                \"pcr0\":HEX,\"reason\":TEXT}, ORIGIN this\n"
"                                log's (see checkpoint)\n"
"  list                          releases, in log order\n"
"  show ID|INDEX                 one entry: a release id, or a leaf index\n"
"  checkpoint                    the latest signed checkpoint (C2SP note)\n"
"  prove inclusion ID|INDEX [--size N]\n"
"                                inclusion proof in the tree of N leaves\n"
"                                (default: the whole log)\n"
"  prove consistency OLD NEW     consistency proof between two sizes\n"
"  tiles DIR                     write the log as static tiles (C2SP\n"
"                                tlog-tiles) into DIR, checking any already\n"
"                                there, and keep DIR: every later change\n"
"                                updates it (tiles --off: no longer)\n"
"  witness add URL VKEY          ask the witness at URL (its add-checkpoint\n"
"                                prefix) to cosign every new checkpoint;\n"
"                                VKEY is its verifier key (cosignature/v1)\n"
"  witness remove NAME           stop asking it (its cosignatures are no\n"
"                                longer published)\n"
"  witness list                  the witnesses, the size each last cosigned\n"
"                                and its last failure\n"
"  witness sync                  ask now those without a cosignature of the\n"
"                                latest checkpoint (every change does)\n"
"  audit [--since FILE]          recompute and re-verify the whole log and\n"
"                                every checkpoint it signed; with --since,\n"
"                                also that it grew from the checkpoint in\n"
"                                FILE\n"
"\n"
"  --db PATH   the registry database (default: $GLASSBOX_DB, else\n"
"              ./glassbox-registry.db); its log key is PATH.key (mode 0600),\n"
"              its keyring PATH.gnupg\n"
"  --json      print JSON on standard output\n"
"\n"
"Statements are signed with SHA-256 or stronger (weaker: weak_signature).\n"
"After every change the configured witnesses are asked to cosign the new\n"
"checkpoint, each for at most 5 s, all at once; one that fails is\n"
"reported on standard error and never fails the change.\n"
"\n"
"Exit status: 0 done, 1 refused (a stable code and a message on standard\n"
"error, or in the JSON), 2 usage or I/O error (a full disk is io_error).\n";

struct opts {
	const char *db, *origin, *reason, *since, *eif, *signer_key;
	uint64_t size;
	bool json, has_size, tiles_off;
};

static int
usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "glassbox registry: %s%s%s\n%s", what,
	    arg != NULL ? ": " : "", arg != NULL ? arg : "", usage_text);
	return 2;
}

/* Reports a refusal or failure: exit 2 for what is about the machine
 * (I/O, database, memory), 1 for what is about the input. */
static int
refused(const struct opts *o, const struct gb_reg_error *e)
{
	static const char *const system_codes[] = { "io_error", "db_error",
	    "no_memory", "gpg_error", "crypto_error", "no_registry",
	    "bad_permissions", "read_only" };
	int status = 1;

	for (size_t i = 0; i < sizeof system_codes / sizeof system_codes[0];
	    i++)
		if (strcmp(e->code, system_codes[i]) == 0)
			status = 2;
	if (o->json) {
		json_t *j = json_pack("{s:b, s:s, s:s}", "ok", 0, "code",
		    e->code, "message", e->message);

		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	}
	fprintf(stderr, "glassbox registry: %s: %s\n", e->code, e->message);
	return status;
}

static void
print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	putchar('\n');
	json_decref(j);
}

static int
read_arg_file(const char *path, size_t max, char **out, size_t *len)
{
	uint8_t *buf;

	if (gb_read_file(path, max, &buf, len) != 0) {
		fprintf(stderr, "glassbox registry: cannot read %s (missing, "
		    "or larger than %zu bytes)\n", path, max);
		return 2;
	}
	*out = (char *)buf;
	return 0;
}

static int
entry_done(const struct opts *o, const char *what,
    const struct gb_reg_entry *en)
{
	if (o->json)
		print_json(json_pack("{s:b, s:s, s:I, s:I, s:s, s:b}", "ok", 1,
		    "action", what, "index", (json_int_t)en->index, "size",
		    (json_int_t)en->size, "id", en->id, "existed",
		    en->existed));
	else if (en->existed)
		printf("already there: entry %" PRIu64 "%s%s; nothing "
		    "appended\n", en->index, en->id[0] ? ", release " : "",
		    en->id);
	else
		printf("%s: entry %" PRIu64 "%s%s; log size %" PRIu64 "\n", what,
		    en->index, en->id[0] ? ", release " : "", en->id,
		    en->size);
	return 0;
}

static int
print_release(void *arg, const struct gb_reg_release *r)
{
	json_t *list = arg;

	if (list != NULL) {
		json_array_append_new(list, json_pack("{s:s, s:I, s:s, s:s, "
		    "s:s, s:s, s:o}", "id", r->id, "index",
		    (json_int_t)r->index, "name", r->name, "version",
		    r->version, "pcr0", r->pcr0, "signer", r->signer,
		    "revoked", r->revoked < 0 ? json_null() :
		    json_integer(r->revoked)));
		return 0;
	}
	printf("%s  %-6" PRIu64 " %-24s %-16s %.16s...%s\n", r->id, r->index,
	    r->name, r->version, r->pcr0, r->revoked >= 0 ? "  REVOKED" : "");
	return 0;
}

static int
print_key(void *arg, const struct gb_reg_key *k)
{
	json_t *list = arg;

	if (list != NULL) {
		json_array_append_new(list, json_pack("{s:s, s:I, s:o}",
		    "fingerprint", k->fpr, "index", (json_int_t)k->index,
		    "revoked", k->revoked < 0 ? json_null() :
		    json_integer(k->revoked)));
		return 0;
	}
	printf("%s  added at %" PRIu64 "%s\n", k->fpr, k->index,
	    k->revoked >= 0 ? "  REVOKED" : "");
	return 0;
}

/* ID (16 hex) or INDEX (decimal) to a leaf index. */
static int
resolve(struct gb_registry *r, const char *arg, uint64_t *index,
    struct gb_reg_error *e)
{
	char *end;

	if (arg[0] >= '0' && arg[0] <= '9' && strlen(arg) != 16) {
		*index = strtoull(arg, &end, 10);
		if (*end == '\0')
			return 0;
	}
	return gb_registry_find_release(r, arg, index, e);
}

static int
print_proof(const struct opts *o, const char *kind, uint64_t a, uint64_t b,
    uint8_t (*proof)[GB_HASH_BYTES], size_t n)
{
	char hex[2 * GB_HASH_BYTES + 1];
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		gb_hex_encode(hex, proof[i], GB_HASH_BYTES);
		if (o->json)
			json_array_append_new(arr, json_string(hex));
		else
			printf("%s\n", hex);
	}
	if (o->json)
		print_json(json_pack("{s:s, s:I, s:I, s:o}", "proof", kind,
		    strcmp(kind, "inclusion") == 0 ? "index" : "size1",
		    (json_int_t)a, strcmp(kind, "inclusion") == 0 ? "size" :
		    "size2", (json_int_t)b, "hashes", arr));
	else
		json_decref(arr);
	return 0;
}

/* The statement's PCR0/1/2/8 must be the image's (those it declares;
 * PCR8 only exists for a signed image). */
static int
eif_matches(const char *path, const char *stmt, size_t len,
    struct gb_reg_error *e)
{
	struct gb_release rel;
	struct gb_eif img;
	int rc = 0;

	if (gb_release_parse(stmt, len, &rel, e) != 0)
		return -1;
	/* An instance image's registers are NitroTPM's: none of them is
	 * measured from an EIF, so nothing would be compared. */
	if (rel.instance) {
		e->code = "eif_mismatch";
		snprintf(e->message, sizeof e->message, "the statement describes "
		    "an EC2 instance image (kind nitrotpm), not the enclave "
		    "image %s", path);
		return -1;
	}
	if (gb_eif_measure_file(path, &img) != 0) {
		e->code = "bad_eif";
		snprintf(e->message, sizeof e->message, "%s: %s", path,
		    img.error[0] ? img.error : "cannot read it");
		return -1;
	}
	if (!img.crc_ok) {
		e->code = "bad_eif";
		snprintf(e->message, sizeof e->message, "%s: CRC mismatch: the "
		    "image is damaged", path);
		rc = -1;
	}
	/* A signed image whose signature does not verify is not the image
	 * its signer made: PCR8 would name a certificate that did not sign
	 * this PCR0. */
	if (rc == 0 && img.is_signed && !img.sig_ok) {
		e->code = "bad_eif";
		snprintf(e->message, sizeof e->message, "%s: the image's "
		    "signature does not verify: %s", path, img.sig_error);
		rc = -1;
	}
	for (unsigned i = 0; i < rel.npcrs && rc == 0; i++) {
		unsigned k = rel.pcrs[i].index;
		const uint8_t *have = k == 0 ? img.pcr0 : k == 1 ? img.pcr1 :
		    k == 2 ? img.pcr2 : k == 8 && img.is_signed ? img.pcr8 :
		    NULL;

		if (k != 0 && k != 1 && k != 2 && k != 8)
			continue;       /* not measured from the image */
		if (have == NULL || memcmp(have, rel.pcrs[i].value, 48) != 0) {
			e->code = "eif_mismatch";
			snprintf(e->message, sizeof e->message, "PCR%u of the "
			    "statement is not %s's", k, path);
			rc = -1;
		}
	}
	gb_eif_free(&img);
	return rc;
}

/* tiles DIR: writes (checking what is there) and keeps DIR, as an
 * absolute path so that the verifier's writes find it too; tiles --off. */
static int
tiles_cmd(const struct opts *o, struct gb_registry *r, const char *dir)
{
	struct gb_reg_error e = { "", "" };
	char *abs = NULL;
	uint64_t size;
	int status;

	if (dir == NULL) {
		if (gb_registry_set_tiles_dir(r, NULL, &e) != 0)
			return refused(o, &e);
		printf("tiles: no longer kept\n");
		return 0;
	}
	if (gb_registry_write_tiles(r, dir, true, &e) != 0)
		return refused(o, &e);
	if ((abs = realpath(dir, NULL)) == NULL) {
		fprintf(stderr, "glassbox registry: io_error: %s: %s\n", dir,
		    strerror(errno));
		return 2;
	}
	status = gb_registry_set_tiles_dir(r, abs, &e) != 0 ||
	    gb_registry_size(r, &size) != 0 ? refused(o, &e) : 0;
	if (status == 0 && o->json)
		print_json(json_pack("{s:b, s:s, s:I}", "ok", 1, "tiles", abs,
		    "size", (json_int_t)size));
	else if (status == 0)
		printf("tiles of %" PRIu64 " entries in %s; every change now "
		    "updates them\n", size, abs);
	free(abs);
	return status;
}

#define SIGNER_KEY_FILE_MAX 4096  /* bytes of a --signer-key file */

/* The statement must name, as signer_key, the key in path: 64 hex digits
 * (what glassbox-enclave's /health shows) or an Ed25519 PEM public key. */
static int
signer_key_matches(const char *path, const char *stmt, size_t len,
    struct gb_reg_error *e)
{
	struct gb_release rel;
	uint8_t *buf = NULL, key[32];
	size_t n, raw_len = sizeof key;
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	int rc = -1;

	if (gb_release_parse(stmt, len, &rel, e) != 0)
		return -1;
	e->code = "signer_key_mismatch";
	if (gb_read_file(path, SIGNER_KEY_FILE_MAX, &buf, &n) != 0) {
		snprintf(e->message, sizeof e->message, "%s: cannot read it "
		    "(missing, or larger than %d bytes)", path,
		    SIGNER_KEY_FILE_MAX);
		goto out;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	    buf[n - 1] == ' '))
		n--;
	if (n == 64 && gb_hex_decode((const char *)buf, 64, key, 32) == 0) {
		rc = 0;
	} else if ((bio = BIO_new_mem_buf(buf, (int)n)) != NULL &&
	    (pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) != NULL &&
	    EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519 &&
	    EVP_PKEY_get_raw_public_key(pk, key, &raw_len) == 1 &&
	    raw_len == 32) {
		rc = 0;
	}
	ERR_clear_error();
	if (rc != 0)
		snprintf(e->message, sizeof e->message, "%s is neither 64 hex "
		    "digits nor an Ed25519 PEM public key", path);
	else if (!rel.has_signer_key)
		rc = -1, snprintf(e->message, sizeof e->message, "the "
		    "statement names no signer_key (add \"signer_key\": "
		    "\"HEX\" before signing it)");
	else if (memcmp(rel.signer_key, key, 32) != 0)
		rc = -1, snprintf(e->message, sizeof e->message, "the "
		    "statement's signer_key is not the key in %s", path);
out:
	EVP_PKEY_free(pk);
	BIO_free(bio);
	free(buf);
	return rc;
}

/* After a change: each witness's answer, on standard error (standard
 * output stays the command's own answer). */
static void
told(void *arg, const struct gb_reg_cosign_result *res)
{
	if (res->ok)
		fprintf(stderr, "glassbox registry: witness %s cosigned the "
		    "checkpoint of size %" PRIu64 "\n", res->name, res->size);
	else
		fprintf(stderr, "glassbox registry: witness %s did not cosign "
		    "(the change stands; the next one asks again): %s: %s\n",
		    res->name, res->code, res->message);
}

static int
print_witness(void *arg, const struct gb_reg_witness *w)
{
	json_t *list = arg;

	if (list != NULL) {
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:I, "
		    "s:b, s:o, s:I}", "name", w->name, "vkey", w->vkey, "url",
		    w->url, "size", (json_int_t)w->size, "cosigned_latest",
		    w->cosigned_latest, "error", w->error ?
		    json_string(w->error) : json_null(), "tried",
		    (json_int_t)w->tried));
		return 0;
	}
	printf("%s  %s\n  cosigned size %" PRIu64 "%s%s%s\n  %s\n", w->name,
	    w->url, w->size, w->cosigned_latest ? " (the latest)" : "",
	    w->error ? "; last failure: " : "", w->error ? w->error : "",
	    w->vkey);
	return 0;
}

static int
witness_cmd(const struct opts *o, struct gb_registry *r, int argc,
    char **argv)
{
	struct gb_reg_error e = { "", "" };
	const char *sub = argv[1];

	if (strcmp(sub, "add") == 0 && argc == 4) {
		if (gb_registry_witness_add(r, argv[2], argv[3], &e) != 0)
			return refused(o, &e);
		if (o->json)
			print_json(json_pack("{s:b, s:s, s:s}", "ok", 1, "url",
			    argv[2], "vkey", argv[3]));
		else
			printf("witness added: %s\n", argv[2]);
		return 0;
	}
	if (strcmp(sub, "remove") == 0 && argc == 3) {
		if (gb_registry_witness_remove(r, argv[2], &e) != 0)
			return refused(o, &e);
		if (o->json)
			print_json(json_pack("{s:b, s:s}", "ok", 1, "removed",
			    argv[2]));
		else
			printf("witness removed: %s\n", argv[2]);
		return 0;
	}
	if (strcmp(sub, "list") == 0 && argc == 2) {
		json_t *list = o->json ? json_array() : NULL;
		int status = gb_registry_witnesses(r, print_witness, list,
		    &e) == 0 ? 0 : refused(o, &e);

		if (list != NULL)
			print_json(list);
		return status;
	}
	if (strcmp(sub, "sync") == 0 && argc == 2)
		return 0;       /* the sync after every write does it */
	return usage_error("unknown witness command or wrong arguments", sub);
}

static int
run(const struct opts *o, int argc, char **argv)
{
	struct gb_registry *r = NULL;
	struct gb_reg_entry en;
	struct gb_reg_error e = { "", "" };
	const char *cmd = argv[0], *sub = argc > 1 ? argv[1] : "";
	bool tiles = strcmp(cmd, "tiles") == 0;
	bool witness = strcmp(cmd, "witness") == 0 && argc > 1;
	bool writes = strcmp(cmd, "publish") == 0 ||
	    strcmp(cmd, "revoke") == 0 || (strcmp(cmd, "key") == 0 &&
	    strcmp(sub, "list") != 0) || tiles || (witness &&
	    strcmp(sub, "list") != 0);
	uint8_t proof[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES];
	char *a = NULL, *b = NULL;
	size_t alen, blen, n;
	int status = 1;

	if (strcmp(cmd, "init") == 0) {
		if (argc != 1)
			return usage_error("init takes no arguments", NULL);
		if (gb_registry_init(o->db, o->origin, &e) != 0)
			return refused(o, &e);
		if (gb_registry_open(o->db, false, &r, &e) != 0)
			return refused(o, &e);
		if (o->json)
			print_json(json_pack("{s:b, s:s, s:s}", "ok", 1, "db",
			    o->db, "vkey", gb_registry_vkey(r)));
		else
			printf("created %s (log key %s.key, keyring %s.gnupg)\n"
			    "log verifier key: %s\n", o->db, o->db, o->db,
			    gb_registry_vkey(r));
		gb_registry_close(r);
		return 0;
	}
	if (gb_registry_open(o->db, writes, &r, &e) != 0)
		return refused(o, &e);

	if (strcmp(cmd, "key") == 0 && strcmp(sub, "add") == 0 && argc == 3) {
		if ((status = read_arg_file(argv[2], GB_REG_KEY_MAX, &a,
		    &alen)) == 0)
			status = gb_registry_key_add(r, a, alen, &en, &e) == 0 ?
			    entry_done(o, "key added", &en) : refused(o, &e);
	} else if (strcmp(cmd, "key") == 0 && strcmp(sub, "revoke") == 0 &&
	    argc == 3) {
		if (o->reason == NULL)
			status = usage_error("key revoke needs --reason", NULL);
		else
			status = gb_registry_key_revoke(r, argv[2], o->reason,
			    &en, &e) == 0 ? entry_done(o, "key revoked", &en) :
			    refused(o, &e);
	} else if (strcmp(cmd, "key") == 0 && strcmp(sub, "list") == 0 &&
	    argc == 2) {
		json_t *list = o->json ? json_array() : NULL;

		status = gb_registry_keys(r, print_key, list, &e) == 0 ? 0 :
		    refused(o, &e);
		if (list != NULL)
			print_json(list);
	} else if ((strcmp(cmd, "publish") == 0 || strcmp(cmd, "revoke") == 0)
	    && argc == 3) {
		if ((status = read_arg_file(argv[1], GB_REG_STATEMENT_MAX, &a,
		    &alen)) != 0 || (status = read_arg_file(argv[2],
		    GB_REG_SIGNATURE_MAX, &b, &blen)) != 0)
			goto out;
		if (cmd[0] == 'p' && o->eif != NULL &&
		    eif_matches(o->eif, a, alen, &e) != 0)
			status = refused(o, &e);
		else if (cmd[0] == 'p' && o->signer_key != NULL &&
		    signer_key_matches(o->signer_key, a, alen, &e) != 0)
			status = refused(o, &e);
		else if (cmd[0] == 'p')
			status = gb_registry_publish(r, a, alen, b, blen, &en,
			    &e) == 0 ? entry_done(o, "published", &en) :
			    refused(o, &e);
		else
			status = gb_registry_revoke(r, a, alen, b, blen, &en,
			    &e) == 0 ? entry_done(o, "revoked", &en) :
			    refused(o, &e);
	} else if (strcmp(cmd, "list") == 0 && argc == 1) {
		json_t *list = o->json ? json_array() : NULL;

		status = gb_registry_releases(r, print_release, list, &e) == 0 ?
		    0 : refused(o, &e);
		if (list != NULL)
			print_json(list);
	} else if (strcmp(cmd, "show") == 0 && argc == 2) {
		uint64_t idx;

		if (resolve(r, argv[1], &idx, &e) != 0 ||
		    gb_registry_leaf(r, idx, &a, &e) != 0) {
			status = refused(o, &e);
			goto out;
		}
		if (o->json) {
			json_t *leaf = gb_json_loadb(a, strlen(a), 0, NULL);

			print_json(json_pack("{s:I, s:o}", "index",
			    (json_int_t)idx, "leaf", leaf));
		} else {
			printf("entry %" PRIu64 "\n%s\n", idx, a);
		}
		status = 0;
	} else if (strcmp(cmd, "checkpoint") == 0 && argc == 1) {
		if (gb_registry_checkpoint(r, &a, &e) != 0) {
			status = refused(o, &e);
			goto out;
		}
		if (o->json)
			print_json(json_pack("{s:s, s:s}", "checkpoint", a,
			    "vkey", gb_registry_vkey(r)));
		else
			fputs(a, stdout);
		status = 0;
	} else if (strcmp(cmd, "prove") == 0 && strcmp(sub, "inclusion") == 0 &&
	    argc == 3) {
		uint64_t idx, size;

		if (resolve(r, argv[2], &idx, &e) != 0 ||
		    gb_registry_size(r, &size) != 0) {
			status = refused(o, &e);
			goto out;
		}
		if (o->has_size)
			size = o->size;
		status = gb_registry_prove_inclusion(r, idx, size, proof, &n,
		    &e) == 0 ? print_proof(o, "inclusion", idx, size, proof,
		    n) : refused(o, &e);
	} else if (strcmp(cmd, "prove") == 0 &&
	    strcmp(sub, "consistency") == 0 && argc == 4) {
		char *end1, *end2;
		uint64_t s1 = strtoull(argv[2], &end1, 10);
		uint64_t s2 = strtoull(argv[3], &end2, 10);

		if (*end1 != '\0' || *end2 != '\0' || argv[2][0] == '-' ||
		    argv[3][0] == '-')
			status = usage_error("sizes are decimal numbers", NULL);
		else
			status = gb_registry_prove_consistency(r, s1, s2, proof,
			    &n, &e) == 0 ? print_proof(o, "consistency", s1, s2,
			    proof, n) : refused(o, &e);
	} else if (strcmp(cmd, "audit") == 0 && argc == 1) {
		uint64_t checked = 0;

		if (o->since != NULL && (status = read_arg_file(o->since,
		    GB_REG_STATEMENT_MAX, &a, &alen)) != 0)
			goto out;
		if (gb_registry_audit(r, a, &checked, &e) != 0) {
			status = refused(o, &e);
			goto out;
		}
		if (o->json)
			print_json(json_pack("{s:b, s:I}", "ok", 1, "entries",
			    (json_int_t)checked));
		else
			printf("audit passed: %" PRIu64 " entries, tree, "
			    "signatures and checkpoint all check out\n",
			    checked);
		status = 0;
	} else if (witness) {
		status = witness_cmd(o, r, argc, argv);
	} else if (tiles && (o->tiles_off ? argc == 1 : argc == 2)) {
		status = tiles_cmd(o, r, o->tiles_off ? NULL : argv[1]);
		goto out;
	} else {
		status = usage_error("unknown command or wrong arguments", cmd);
	}
	/* A change is in the log; the static copy follows it. */
	if (status == 0 && writes && gb_registry_sync(r, told, NULL, &e) != 0) {
		fprintf(stderr, "glassbox registry: the change is logged, but "
		    "the tiles were not updated (\"glassbox registry tiles "
		    "DIR\" catches up):\n");
		status = refused(o, &e);
	}
out:
	free(a);
	free(b);
	gb_registry_close(r);
	return status;
}

int
cmd_registry(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "origin", required_argument, NULL, 'o' },
		{ "reason", required_argument, NULL, 'r' },
		{ "since", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'n' },
		{ "eif", required_argument, NULL, 'e' },
		{ "off", no_argument, NULL, 'f' },
		{ "signer-key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .db = getenv("GLASSBOX_DB"),
	    .origin = "glassbox.local/log" };
	char *end;
	int c;

	if (o.db == NULL || o.db[0] == '\0')
		o.db = "glassbox-registry.db";
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.db = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'o':
			o.origin = optarg;
			break;
		case 'r':
			o.reason = optarg;
			break;
		case 's':
			o.since = optarg;
			break;
		case 'e':
			o.eif = optarg;
			break;
		case 'f':
			o.tiles_off = true;
			break;
		case 'k':
			o.signer_key = optarg;
			break;
		case 'n':
			o.size = strtoull(optarg, &end, 10);
			if (*end != '\0' || optarg[0] == '-')
				return usage_error("--size is a decimal number",
				    optarg);
			o.has_size = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage_error("unknown option", NULL);
		}
	}
	if (optind >= argc)
		return usage_error("no command", NULL);
	return run(&o, argc - optind, argv + optind);
}
