/*
 * libFuzzer target for the verifier's HTTP handlers: the input is what a
 * client sends on a connection (a whole raw request, or several), written
 * to a real gb_httpd server on 127.0.0.1 that runs the verifier's own
 * routes (verifier/service.c: verify with JSON and CBOR bodies, challenge,
 * releases, keys, log, verdicts, well-known, health, metrics, openapi, the
 * page), then end of input; the answer is read to the end.
 *
 * The service is set up once as glassbox-verifier sets itself up, against
 * a real registry in a temporary folder: a gpg key (made with gpg), two
 * signed releases, the second one revoked, and the root of a simulator
 * chain (gb/mint.h), so a document minted here is genuine and names a
 * published release: the trusted path is reachable.
 *
 * Documents, nonces and signatures cannot be guessed by a fuzzer, so the
 * input may name them; each name is replaced before the bytes are sent:
 *
 *   @DOC@    base64 of a fresh document of the published release, its
 *            public key the result key and its user_data SHA-256(@RESULT@)
 *   @CBOR@   the same document, raw
 *   @RDOC@   base64 of a fresh document of the revoked release
 *   @NONCE@  hex of a nonce issued now by the service's challenge key;
 *   @NDOC@   base64 of a document carrying it;  @NCBOR@ the same, raw
 *   @RESULT@ base64 of the result payload;  @SIG@ base64 of its signature
 *   @LEN@    (in the head) the length of what follows the first blank line
 *
 * "Fresh" documents are re-minted once a minute (the service's max-age is
 * 600 s). The temporary folder is removed at exit.
 */
#define _GNU_SOURCE             /* nftw(), mkdtemp(), memmem() */
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "gb/codec.h"
#include "gb/ed25519.h"
#include "gb/fileio.h"
#include "gb/mint.h"
#include "gb/registry.h"
#include "gb/result.h"
#include "gb/timefmt.h"
#include "fuzz_exchange.h"
#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_INPUT_MAX 60000    /* longer inputs are skipped */
/* A request after substitution: documents are about 4.5 KB each (6 KB in
 * base64), so this holds dozens of them. */
#define FUZZ_REQ_MAX (1u << 20)
#define FUZZ_REMINT_MS 60000    /* a document is re-minted this often */
#define FUZZ_ORIGIN "fuzz.glassbox/log"
#define FUZZ_RESULT "fuzz result payload"

static struct vs the_vs;
static struct vs_config cfg;
static bool started;
static char dir[] = "/tmp/glassbox-fuzz-verifier-XXXXXX";
static char db[128], root_path[128], token_path[128];
static struct gb_mint_chain *chain;
static uint8_t result_seed[GB_ED25519_SEED_BYTES];
static uint8_t result_pub[GB_ED25519_PUB_BYTES];
static char *result_b64, *sig_b64;
static int server_port;

/* The published release's PCR0..2 (the rest are zero), and the revoked
 * one's PCR0. */
static const uint8_t pcr_fill[3] = { 0xab, 0xcd, 0xef };
static const uint8_t revoked_fill = 0x12;

/* The documents of the moment (@DOC@/@CBOR@, @RDOC@). */
static struct {
	int64_t at_ms;
	uint8_t *doc;
	size_t len;
	char *b64, *rb64;
} cur;

static int
remove_one(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
run(const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "fuzz_verifier: failed: %s\n", cmd);
		abort();
	}
}

static void
stop_service(void)
{
	char cmd[400];

	gb_httpd_stop(the_vs.httpd);
	vs_audit_stop(&the_vs);
	vs_service_fini(&the_vs);
	gb_mint_chain_free(chain);
	free(cur.doc);
	free(cur.b64);
	free(cur.rb64);
	free(result_b64);
	free(sig_b64);
	/* The agents gpg started for the signer's and the registry's
	 * keyrings. */
	snprintf(cmd, sizeof cmd, "gpgconf --homedir %s/g --kill all; "
	    "gpgconf --homedir %s.gnupg --kill all", dir, db);
	(void)system(cmd);
	(void)nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A document of the chain with PCR0..2 filled with fill[] (or PCR0 with
 * fill[0] alone when n is 1), the result key, user_data bound to the
 * result, and nonce (may be NULL). */
static int
mint(const uint8_t *fill, unsigned n, const uint8_t *nonce, size_t nonce_len,
    uint8_t **out, size_t *len)
{
	uint8_t pcrs[16][48] = { { 0 } }, ud[SHA256_DIGEST_SIZE];
	struct sha256_ctx h;
	struct gb_mint_doc d = { .pcr_count = 16 };

	for (unsigned i = 0; i < n; i++)
		memset(pcrs[i], fill[i], 48);
	sha256_init(&h);
	sha256_update(&h, strlen(FUZZ_RESULT), (const uint8_t *)FUZZ_RESULT);
	sha256_digest(&h, sizeof ud, ud);
	d.pcrs = (const uint8_t (*)[48])pcrs;
	d.public_key = (struct gb_span){ result_pub, sizeof result_pub };
	d.user_data = (struct gb_span){ ud, sizeof ud };
	d.nonce = (struct gb_span){ nonce, nonce_len };
	return gb_mint_document(chain, &d, out, len);
}

static int
mint_b64(const uint8_t *fill, unsigned n, const uint8_t *nonce,
    size_t nonce_len, uint8_t **raw, size_t *raw_len, char **b64)
{
	uint8_t *doc;
	size_t len;
	int rc;

	if (mint(fill, n, nonce, nonce_len, &doc, &len) != 0)
		return -1;
	rc = gb_base64_encode_alloc(doc, len, b64);
	if (raw != NULL && rc == 0) {
		*raw = doc;
		*raw_len = len;
	} else {
		free(doc);
	}
	return rc;
}

static void
refresh_docs(void)
{
	int64_t now = gb_time_now_ms();

	if (cur.doc != NULL && now - cur.at_ms < FUZZ_REMINT_MS)
		return;
	free(cur.doc);
	free(cur.b64);
	free(cur.rb64);
	cur.doc = NULL;
	cur.b64 = cur.rb64 = NULL;
	if (mint_b64(pcr_fill, 3, NULL, 0, &cur.doc, &cur.len, &cur.b64) != 0 ||
	    mint_b64(&revoked_fill, 1, NULL, 0, NULL, NULL, &cur.rb64) != 0)
		abort();
	cur.at_ms = now;
}

static char *
slurp(const char *path, size_t *len)
{
	uint8_t *p;

	if (gb_read_file(path, GB_REG_KEY_MAX, &p, len) != 0) {
		fprintf(stderr, "fuzz_verifier: cannot read %s\n", path);
		abort();
	}
	return (char *)p;
}

static void
write_text(const char *path, const char *text)
{
	if (gb_write_file_atomic(path, text, strlen(text), 0600, 0) != 0)
		abort();
}

/* Publishes the statement in dir/NAME.json, signed as dir/NAME.json.asc;
 * a revocation when revoke. */
static void
publish(struct gb_registry *r, const char *name, bool revoke)
{
	char path[200], *stmt, *sig;
	size_t slen, glen;
	struct gb_reg_entry en;
	struct gb_reg_error e;
	int rc;

	snprintf(path, sizeof path, "%s/%s.json", dir, name);
	stmt = slurp(path, &slen);
	snprintf(path, sizeof path, "%s/%s.json.asc", dir, name);
	sig = slurp(path, &glen);
	rc = revoke ? gb_registry_revoke(r, stmt, slen, sig, glen, &en, &e) :
	    gb_registry_publish(r, stmt, slen, sig, glen, &en, &e);
	if (rc != 0) {
		fprintf(stderr, "fuzz_verifier: %s: %s: %s\n", name, e.code,
		    e.message);
		abort();
	}
	free(stmt);
	free(sig);
}

static void
hex_fill(char *out, uint8_t b)
{
	for (int i = 0; i < 48; i++)
		snprintf(out + 2 * i, 3, "%02x", b);
}

/* The registry: a key, release "fuzz" 1.0 (PCR0..2), release "gone" 1.0
 * (PCR0 only), then gone's revocation. */
static void
make_registry(void)
{
	char path[200], h0[97], h1[97], h2[97], text[1024], cmd[1024];
	struct gb_registry *r;
	struct gb_reg_entry en;
	struct gb_reg_error e;
	char *key;
	size_t klen;

	hex_fill(h0, pcr_fill[0]);
	hex_fill(h1, pcr_fill[1]);
	hex_fill(h2, pcr_fill[2]);
	snprintf(text, sizeof text, "{\"name\":\"fuzz\",\"version\":\"1.0\","
	    "\"pcrs\":{\"0\":\"%s\",\"1\":\"%s\",\"2\":\"%s\"}}", h0, h1, h2);
	snprintf(path, sizeof path, "%s/a.json", dir);
	write_text(path, text);
	hex_fill(h0, revoked_fill);
	snprintf(text, sizeof text, "{\"name\":\"gone\",\"version\":\"1.0\","
	    "\"pcrs\":{\"0\":\"%s\"}}", h0);
	snprintf(path, sizeof path, "%s/b.json", dir);
	write_text(path, text);
	snprintf(text, sizeof text, "{\"action\":\"revoke\",\"origin\":\""
	    FUZZ_ORIGIN "\",\"pcr0\":\"%s\",\"reason\":\"fuzz\"}", h0);
	snprintf(path, sizeof path, "%s/c.json", dir);
	write_text(path, text);
	snprintf(cmd, sizeof cmd, "export GNUPGHOME=%s/g; mkdir -m 700 "
	    "$GNUPGHOME && gpg --batch --passphrase '' --quick-gen-key 'Fuzz "
	    "<fuzz@example.com>' ed25519 sign 1y 2>/dev/null && "
	    "for s in a b c; do gpg --batch --armor --detach-sign "
	    "%s/$s.json 2>/dev/null || exit 1; done && "
	    "gpg --armor --export fuzz@example.com > %s/k.asc 2>/dev/null",
	    dir, dir, dir);
	run(cmd);
	snprintf(path, sizeof path, "%s/k.asc", dir);
	key = slurp(path, &klen);
	if (gb_registry_init(db, FUZZ_ORIGIN, &e) != 0 ||
	    gb_registry_open(db, true, &r, &e) != 0 ||
	    gb_registry_key_add(r, key, klen, &en, &e) != 0) {
		fprintf(stderr, "fuzz_verifier: registry: %s: %s\n", e.code,
		    e.message);
		abort();
	}
	free(key);
	publish(r, "a", false);
	publish(r, "b", false);
	publish(r, "c", true);
	gb_registry_close(r);
}

/* The service as glassbox-verifier --db DB --root ROOT --token-file T
 * sets it up (defaults otherwise: caches on, challenge rate limit, log
 * watch), served on 127.0.0.1 with short deadlines (an input that stops
 * early is closed within a second) and two server threads. */
static void
start_service(void)
{
	struct gb_mint_chain_opts co = { 0 };
	struct gb_listen_addr a;
	struct gb_httpd_opts o;
	struct gb_span root;
	uint8_t sig[GB_ED25519_SIG_BYTES];
	const char *why;
	int fd;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(db, sizeof db, "%s/reg.db", dir);
	snprintf(root_path, sizeof root_path, "%s/root.der", dir);
	snprintf(token_path, sizeof token_path, "%s/token", dir);
	if (gb_mint_chain_new(&co, &chain) != 0)
		abort();
	root = gb_mint_chain_cert(chain, 0);
	if (gb_write_file_atomic(root_path, root.ptr, root.len, 0600, 0) != 0)
		abort();
	write_text(token_path, "fuzz-token-0123456789abcdef\n");
	make_registry();
	if (gb_ed25519_generate(result_seed) != 0 ||
	    gb_ed25519_public(result_seed, result_pub) != 0 ||
	    gb_result_sign(result_seed, FUZZ_RESULT, strlen(FUZZ_RESULT),
	    sig) != 0 ||
	    gb_base64_encode_alloc((const uint8_t *)FUZZ_RESULT,
	    strlen(FUZZ_RESULT), &result_b64) != 0 ||
	    gb_base64_encode_alloc(sig, sizeof sig, &sig_b64) != 0)
		abort();

	vs_config_defaults(&cfg);
	cfg.db = db;
	cfg.root = root_path;
	cfg.token_file = token_path;
	cfg.threads = 2;
	cfg.request_timeout_ms = 1000;
	cfg.body_timeout_ms = 1000;
	if (vs_service_init(&the_vs, &cfg) != 0 ||
	    vs_audit_start(&the_vs) != 0)
		abort();
	vs_service_httpd_opts(&the_vs, &o);
	if (gb_listen_parse("tcp:127.0.0.1:0", &a, &why) != 0 ||
	    (fd = gb_listen_open(&a, &why)) < 0)
		abort();
	server_port = gb_listen_port(fd);
	if (gb_httpd_start(fd, &o, &the_vs.httpd) != 0)
		abort();
	started = true;
	atexit(stop_service);
}

/* Appends n bytes to the request being built; false when it would not
 * fit. */
struct buf {
	uint8_t *p;
	size_t len;
};

static bool
put(struct buf *b, const void *s, size_t n)
{
	if (n > FUZZ_REQ_MAX - b->len)
		return false;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return true;
}

static bool
has(const uint8_t *data, size_t size, const char *name)
{
	return memmem(data, size, name, strlen(name)) != NULL;
}

/* The input with every @NAME@ but @LEN@ replaced (see the top). */
static bool
substitute(const uint8_t *data, size_t size, struct buf *b)
{
	uint8_t nonce[VS_NONCE_BYTES], *ndoc = NULL;
	char nhex[2 * VS_NONCE_BYTES + 1] = "", *nb64 = NULL;
	size_t ndoc_len = 0;
	bool ok = true;

	refresh_docs();
	if (has(data, size, "@NONCE@") || has(data, size, "@NDOC@") ||
	    has(data, size, "@NCBOR@")) {
		if (vs_nonce_issue(&the_vs.nonces, gb_time_now_ms(),
		    cfg.nonce_ttl_ms, nonce) != 0 ||
		    mint_b64(pcr_fill, 3, nonce, sizeof nonce, &ndoc, &ndoc_len,
		    &nb64) != 0)
			abort();
		gb_hex_encode(nhex, nonce, sizeof nonce);
	}
	for (size_t i = 0; i < size && ok;) {
		static const char *const names[] = { "@DOC@", "@CBOR@",
		    "@RDOC@", "@NONCE@", "@NDOC@", "@NCBOR@", "@RESULT@",
		    "@SIG@" };
		const void *val[] = { cur.b64, cur.doc, cur.rb64, nhex, nb64,
		    ndoc, result_b64, sig_b64 };
		size_t vlen[] = { 0, cur.len, 0, 0, 0, ndoc_len, 0, 0 };
		size_t k, n = sizeof names / sizeof names[0];

		for (k = 0; k < n; k++) {
			size_t l = strlen(names[k]);

			if (size - i >= l && memcmp(data + i, names[k], l) == 0)
				break;
		}
		if (k == n) {
			ok = put(b, data + i, 1);
			i++;
			continue;
		}
		ok = put(b, val[k], vlen[k] != 0 ? vlen[k] :
		    strlen((const char *)val[k]));
		i += strlen(names[k]);
	}
	free(ndoc);
	free(nb64);
	return ok;
}

/* @LEN@ in the head: the length of what follows the first blank line. */
static bool
fill_lengths(struct buf *in, struct buf *out)
{
	const uint8_t *end = memmem(in->p, in->len, "\r\n\r\n", 4);
	size_t head = end != NULL ? (size_t)(end - in->p) + 4 : in->len;
	char num[24];
	bool ok = true;

	snprintf(num, sizeof num, "%zu", in->len - head);
	for (size_t i = 0; i < in->len && ok;) {
		if (i < head && in->len - i >= 5 &&
		    memcmp(in->p + i, "@LEN@", 5) == 0) {
			ok = put(out, num, strlen(num));
			i += 5;
		} else {
			ok = put(out, in->p + i, 1);
			i++;
		}
	}
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One input at a time: the buffers are the process's. */
	static uint8_t pa[FUZZ_REQ_MAX], pb[FUZZ_REQ_MAX];
	struct buf a = { pa, 0 }, b = { pb, 0 };

	if (!started)
		start_service();
	if (size > FUZZ_INPUT_MAX)
		return 0;
	if (substitute(data, size, &a) && fill_lengths(&a, &b))
		fuzz_exchange(server_port, b.p, b.len, 10000);
	return 0;
}
