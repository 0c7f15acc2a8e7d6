/*
 * glassbox-enclave's sealed signer key (issue 17, docs/enclave.md "The
 * sealed key"): the Ed25519 seed kept across restarts, sealed with
 * AES-256-GCM under a KMS data key that only an attested enclave whose
 * PCRs the key policy admits can obtain.
 */
#ifndef GB_ENCLAVE_SEALED_H
#define GB_ENCLAVE_SEALED_H

#include <stdbool.h>

#include "gb/httpd.h"
#include "gb/kms.h"

struct enclave;

/* The options (--kms-key and the rest); all strings borrowed from argv. */
struct sealed_opts {
	const char *kms_key;            /* NULL: an ephemeral key, as before */
	const char *endpoint;           /* NULL: https://kms.REGION.amazonaws.com */
	const char *region;             /* NULL: from the key ARN */
	const char *ca_file;            /* NULL: libcurl's default bundle */
	const char *proxy_text, *parent_text;
	struct gb_listen_addr proxy;    /* --kms-proxy: glassbox-parent --outbound */
	struct gb_listen_addr parent;   /* --parent: glassbox-parent --credentials */
	bool have_proxy, have_parent;
	const char *sealed;             /* "parent", or a file path */
	bool allow_new_key;             /* a refused blob may be replaced */
	bool require_sealed;            /* no blob: refuse rather than make one */
	unsigned rsa_bits;
	const char *previous_key;       /* rotation: the key the blob may be under */
};

/* The long options, for main()'s getopt table (values from 0x100). */
#define SEALED_OPTIONS \
	{ "kms-key", required_argument, NULL, 0x100 }, \
	{ "kms-endpoint", required_argument, NULL, 0x101 }, \
	{ "kms-region", required_argument, NULL, 0x102 }, \
	{ "kms-ca", required_argument, NULL, 0x103 }, \
	{ "kms-proxy", required_argument, NULL, 0x104 }, \
	{ "parent", required_argument, NULL, 0x105 }, \
	{ "sealed", required_argument, NULL, 0x106 }, \
	{ "allow-new-key", no_argument, NULL, 0x107 }, \
	{ "require-sealed", no_argument, NULL, 0x108 }, \
	{ "kms-rsa-bits", required_argument, NULL, 0x109 }, \
	{ "previous-kms-key", required_argument, NULL, 0x10a }

#define SEALED_USAGE \
"  --kms-key ARN        keep the signer key sealed under this KMS key\n" \
"                       (docs/enclave.md \"The sealed key\"); without it the\n" \
"                       key is new at every start\n" \
"  --sealed parent|FILE where the sealed blob lives: the parent's store\n" \
"                       (glassbox-parent --sealed-file) or a file\n" \
"  --parent ADDR        glassbox-parent --credentials (vsock:3:PORT in an\n" \
"                       enclave; unix:/path or tcp:HOST:PORT in tests)\n" \
"  --kms-proxy ADDR     glassbox-parent --outbound to KMS (same forms)\n" \
"  --kms-endpoint URL   default https://kms.REGION.amazonaws.com\n" \
"  --kms-region R       default: the key ARN's region\n" \
"  --kms-ca FILE        CA bundle for KMS's certificate (default: the\n" \
"                       system's)\n" \
"  --kms-rsa-bits N     the KMS recipient key, 2048..4096 (default 3072)\n" \
"  --require-sealed     no sealed blob: refuse to start (not a new key)\n" \
"  --allow-new-key      a blob KMS or the seal refuses is replaced by a new\n" \
"                       key (the parent keeps the old blob as FILE.prev)\n" \
"  --previous-kms-key ARN  rotation: a blob sealed under ARN is opened and\n" \
"                       the same key sealed again under --kms-key\n"

/* Takes one option of SEALED_OPTIONS. Returns 0, or -1 (message printed). */
int sealed_option(struct sealed_opts *o, int c, const char *arg);

/* Checks the options together (after parsing). Returns 0 or -1. */
int sealed_check(struct sealed_opts *o);

/*
 * Fills e->seed, e->pub and e->key_source: the sealed key (Decrypt with
 * Recipient), or on first start a new key sealed under a new data key
 * (GenerateDataKey with Recipient) and stored; a blob under
 * --previous-kms-key is opened and its key sealed again under --kms-key
 * and stored (rotation). Needs the NSM open. Returns
 * 0, or -1 after printing "glassbox-enclave: sealed key: CODE: message".
 */
int sealed_key_init(struct enclave *e, const struct sealed_opts *o);

#endif /* GB_ENCLAVE_SEALED_H */
