/*
 * Every size, count and depth limit Glassbox applies to untrusted input, in one
 * place. Each has a unit in its name and a comment saying where the value comes
 * from. Anything past a limit is refused with a reason code, never truncated.
 */
#ifndef GB_LIMITS_H
#define GB_LIMITS_H

/* A whole attestation document (COSE_Sign1). The NSM driver's response buffer is
 * 12288 bytes and real documents are 4.4-4.7 KiB, so 16 KiB leaves room without
 * inviting abuse. */
#define GB_DOC_MAX_BYTES 16384

/* Text encodings of a document (base64 or hex) are read up to this size:
 * hex doubles the bytes, plus room for line breaks. */
#define GB_DOC_TEXT_MAX_BYTES (2 * GB_DOC_MAX_BYTES + 4096)

/* Nesting of CBOR arrays, maps and tags that we walk. Real documents nest
 * three deep (array, payload map, pcrs map / cabundle array). */
#define GB_MAX_DEPTH 16

/* Pairs in any one CBOR map. The payload has nine keys, pcrs at most 32. */
#define GB_CBOR_MAP_MAX_PAIRS 64

/* PCRs: indices 0..31 (AWS), 1..32 entries. */
#define GB_PCR_MAX_COUNT 32

/* PCR values are SHA-256, SHA-384 or SHA-512 digests. */
#define GB_PCR_MAX_BYTES 64

/* module_id: non-empty printable ASCII. Real ones are 39 characters. */
#define GB_MODULE_ID_MAX_BYTES 128

/* DER certificate sizes (AWS: "certificate" and each cabundle entry 1..1024). */
#define GB_CERT_MAX_BYTES 1024

/* cabundle entries. AWS chains have 4 (root, regional, zonal, instance). */
#define GB_CABUNDLE_MAX_CERTS 8

/* public_key, user_data and nonce: null or a byte string of at most 1024 bytes
 * (AWS attestation document specification). */
#define GB_OPT_FIELD_MAX_BYTES 1024

/* The largest timestamp accepted, in ms since the epoch: 9999-12-31T23:59:59.999Z.
 * It keeps every time computation inside int64_t. */
#define GB_TIMESTAMP_MAX_MS 253402300799999LL

/* Entries in each verification cache (chains, leaves, whole documents).
 * At ~5 KiB a document this bounds the caches to about 10 MiB. */
#define GB_CACHE_MAX_ENTRIES 1024

/* --expect-pcr options on the command line. */
#define GB_EXPECT_PCR_MAX 32

/* Nesting of JSON arrays and objects in anything we parse (request bodies,
 * statements, leaves). jansson recurses once per level, and 1000 levels
 * overflow a small worker stack; our formats nest at most 4 deep, so 32
 * refuses only hostile input. Checked before jansson sees the text. */
#define GB_JSON_MAX_DEPTH 32

#endif /* GB_LIMITS_H */
