/*
 * libFuzzer target for what crosses the wire between a log and its
 * witnesses (gb/witness.h): the witness's add-checkpoint request parser
 * (then, as the witness does, the note opened with the log key, the
 * checkpoint read with its extension lines, the consistency proof checked,
 * and a cosignature made and found back, which must verify), the client's
 * reading of a witness's answer (cosignature lines), the 409 size body,
 * and witness keys. The first byte picks which; the rest is the input.
 *
 * Keys are test keys: the log key is golang.org/x/mod/sumdb/note's
 * published PeterNeumann key (../shared/vectors/signed-note), the witness
 * key the same seed as a cosignature/v1 key named witness.test/fuzz, so
 * that the seeds of corpus_witness/ (make_witness_corpus.py) reach the
 * signature checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gb/merkle.h"
#include "gb/note.h"
#include "gb/witness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char log_vkey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char witness_skey[] =
    "PRIVATE+KEY+witness.test/fuzz+69d48d80+"
    "BIEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
/* The checkpoint text the answers of corpus_witness/ cosign. */
static const char answer_text[] =
    "PeterNeumann\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

static void
request(const uint8_t *p, size_t n, const struct gb_cosig_key *w)
{
	struct gb_witness_request *rq = malloc(sizeof *rq);
	struct gb_span proof[GB_WITNESS_PROOF_MAX];
	struct gb_note_opened o;
	struct gb_checkpoint c;
	struct gb_note_key k;
	const char *why;
	char *line = NULL;
	uint64_t t;
	size_t off, len;

	if (rq == NULL)
		return;
	if (gb_witness_request_parse((const char *)p, n, rq, &why) != 0)
		goto out;
	if (gb_note_vkey_parse(log_vkey, &k) != 0)
		abort();
	(void)gb_note_open(rq->note, rq->note_len, NULL, 0, &o);
	if (gb_note_open(rq->note, rq->note_len, &k, 1, &o) != 0 ||
	    gb_witness_checkpoint_parse(rq->note, o.text_len, &c) != 0)
		goto out;
	for (size_t i = 0; i < rq->nproof; i++)
		proof[i] = (struct gb_span){ rq->proof[i], GB_HASH_BYTES };
	(void)gb_merkle_verify_consistency(rq->old_size, c.size,
	    (struct gb_span){ c.root, GB_HASH_BYTES },
	    (struct gb_span){ c.root, GB_HASH_BYTES }, proof, rq->nproof);
	/* What the witness signs, its client must find and verify. */
	if (gb_cosig_sign(w, rq->note, o.text_len, 1700000000, &line) != 0 ||
	    gb_cosig_find(w, rq->note, o.text_len, line, strlen(line), &t,
	    &off, &len) != 0 || t != 1700000000 || off != 0 ||
	    len != strlen(line))
		abort();
out:
	free(line);
	free(rq);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gb_cosig_key w, k;
	uint64_t t, v;
	size_t off, len;
	char *s;

	if (size == 0)
		return 0;
	if (gb_cosig_skey_parse(witness_skey, &w) != 0)
		abort();
	switch (data[0] % 5) {
	case 0:
		request(data + 1, size - 1, &w);
		break;
	case 1:
		(void)gb_cosig_find(&w, answer_text, strlen(answer_text),
		    (const char *)data + 1, size - 1, &t, &off, &len);
		break;
	case 2:
		(void)gb_witness_size_parse((const char *)data + 1, size - 1,
		    &v);
		break;
	default:
		/* Key strings are C strings. */
		if ((s = malloc(size)) == NULL)
			break;
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		if (data[0] % 5 == 3)
			(void)gb_cosig_vkey_parse(s, &k);
		else
			(void)gb_cosig_skey_parse(s, &k);
		gb_cosig_key_clear(&k);
		free(s);
		break;
	}
	gb_cosig_key_clear(&w);
	return 0;
}
