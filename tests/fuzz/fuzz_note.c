/*
 * libFuzzer target for the transparency log's parsers: signed notes,
 * verifier and signer keys, checkpoint bodies, and Merkle proof
 * verification. The first byte picks which; the rest is the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gb/merkle.h"
#include "gb/note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The published test key of golang.org/x/mod/sumdb/note, so that seeds
 * made from ../shared/vectors/signed-note reach the signature check. */
static const char peter[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

static uint64_t
u64_at(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* index/size1 (8 bytes), size (8), then 32-byte values: the leaf hash or
 * first root, the root, and the proof. */
static void
merkle(const uint8_t *p, size_t n, int consistency)
{
	struct gb_span v[2 + GB_MERKLE_MAX_PROOF + 1];
	size_t k = 0;

	if (n < 16)
		return;
	for (size_t o = 16; o < n && k < sizeof v / sizeof v[0]; o += 32, k++)
		v[k] = (struct gb_span){ p + o, n - o < 32 ? n - o : 32 };
	if (k < 2)
		return;
	if (consistency)
		(void)gb_merkle_verify_consistency(u64_at(p), u64_at(p + 8),
		    v[0], v[1], v + 2, k - 2);
	else
		(void)gb_merkle_verify_inclusion(u64_at(p), u64_at(p + 8),
		    v[0], v + 2, k - 2, v[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gb_note_opened o;
	struct gb_checkpoint c;
	struct gb_note_key k;
	char *s;

	if (size == 0)
		return 0;
	switch (data[0] % 5) {
	case 0:
		if (gb_note_vkey_parse(peter, &k) != 0)
			abort();
		if (gb_note_open((const char *)data + 1, size - 1, &k, 1,
		    &o) == 0 || o.unverified > 0)
			(void)gb_checkpoint_parse((const char *)data + 1,
			    o.text_len, &c);
		break;
	case 1:
	case 2:
		/* Key strings are C strings. */
		if ((s = malloc(size)) == NULL)
			return 0;
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		if (data[0] % 5 == 1)
			(void)gb_note_vkey_parse(s, &k);
		else
			(void)gb_note_skey_parse(s, &k);
		gb_note_key_clear(&k);
		free(s);
		break;
	case 3:
		(void)gb_checkpoint_parse((const char *)data + 1, size - 1, &c);
		break;
	default:
		merkle(data + 1, size - 1, data[0] & 0x80);
		break;
	}
	return 0;
}
