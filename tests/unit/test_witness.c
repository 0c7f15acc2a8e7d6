/*
 * Witness cosignatures and requests (gb/witness.h): the cosignature/v1
 * message against tlog-cosignature's own example (in
 * ../shared/vectors/signed-note/notes.json), key IDs of type 0x04, keys
 * that must be refused, cosignature lines found, ignored and refused, and
 * the add-checkpoint and 409 parsers, table-driven.
 */
#include <jansson.h>

#include "gb/codec.h"
#include "gb/ed25519.h"
#include "gb/err.h"
#include "gb/witness.h"
#include "test.h"

/* golang.org/x/mod/sumdb/note's published test seed, as a witness key. */
static const char skey[] = "PRIVATE+KEY+witness.test/fuzz+69d48d80+"
    "BIEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char vkey[] = "witness.test/fuzz+69d48d80+"
    "BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

static json_t *
examples(void)
{
	json_error_t e;
	json_t *j = json_load_file(GB_VECTORS_DIR "/signed-note/notes.json", 0,
	    &e), *x;

	if (j == NULL || (x = json_object_get(j,
	    "checkpoint_examples_unverifiable")) == NULL) {
		fprintf(stderr, "notes.json: %s\n", j ? "no examples" : e.text);
		exit(2);
	}
	json_incref(x);
	json_decref(j);
	return x;
}

/* Decodes a signature line's base64 into raw (exactly n bytes). */
static void
line_bytes(const char *line, uint8_t *raw, size_t n)
{
	const char *sp = strrchr(line, ' ');
	uint8_t *b = NULL;
	size_t len = 0;

	ASSERT_EQ(sp != NULL, 1);
	ASSERT_EQ(gb_base64_decode_alloc(sp + 1, strcspn(sp + 1, "\n"), 1024,
	    &b, &len), 0);
	ASSERT_EQ(len, n);
	memcpy(raw, b, n);
	free(b);
}

TEST(the_spec_example_message)
{
	json_t *x = examples();
	const char *msg = json_string_value(json_object_get(x,
	    "cosignature_v1_signed_message_example"));
	const char *cp = json_string_value(json_object_get(x, "checkpoint"));
	const char *text = msg + strlen("cosignature/v1\ntime 1679315147\n");
	const char *w1 = strstr(cp, "\xe2\x80\x94 witness.example.com/w1 ");
	struct gb_cosig_key k;
	uint8_t raw[GB_COSIG_SIG_BYTES];
	uint64_t t = 0;
	char *line = NULL;

	ASSERT_EQ(msg != NULL && cp != NULL && w1 != NULL, 1);
	ASSERT_EQ(strncmp(msg, "cosignature/v1\ntime 1679315147\n", 31), 0);
	/* The example's witness line: key ID, the example's timestamp. */
	line_bytes(w1, raw, sizeof raw);
	for (int i = 0; i < 8; i++)
		t = t << 8 | raw[4 + i];
	ASSERT_EQ(t, 1679315147);
	/* Ours at that time signs exactly the spec's message. */
	ASSERT_EQ(gb_cosig_skey_parse(skey, &k), 0);
	ASSERT_EQ(gb_cosig_sign(&k, text, strlen(text), 1679315147, &line), 0);
	ASSERT_EQ(strncmp(line, "\xe2\x80\x94 witness.test/fuzz ", 22), 0);
	line_bytes(line, raw, sizeof raw);
	ASSERT_EQ(raw[0] << 24 | raw[1] << 16 | raw[2] << 8 | raw[3],
	    0x69d48d80);
	ASSERT_EQ(gb_ed25519_verify(k.pub, msg, strlen(msg), raw + 12), 1);
	/* Not the plain note signature over the text alone. */
	ASSERT_EQ(gb_ed25519_verify(k.pub, text, strlen(text), raw + 12), 0);
	free(line);
	gb_cosig_key_clear(&k);
	json_decref(x);
}

TEST(keys)
{
	struct gb_cosig_key k, p;
	char *v = NULL, *s = NULL;
	static const char *const bad[] = {
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"witness.test/fuzz+69d48d81+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"witness.test/fuzz+69D48D80+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"witness.test/Fuzz+69d48d80+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"witness.test/fuzz+69d48d80+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
		"witness.test/fuzz+69d48d80+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=",
		"witness.test/fuzz+69d48d80",
		"+69d48d80+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"",
	};

	ASSERT_EQ(gb_cosig_vkey_parse(vkey, &k), 0);
	ASSERT_STR_EQ(k.name, "witness.test/fuzz");
	ASSERT_EQ(k.id, 0x69d48d80);
	ASSERT_EQ(k.has_seed, 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ASSERT_EQ(gb_cosig_vkey_parse(bad[i], &p), GB_EINVAL);
	ASSERT_EQ(gb_cosig_skey_parse(vkey, &p), GB_EINVAL);
	ASSERT_EQ(gb_cosig_skey_parse(skey, &p), 0);
	ASSERT_EQ(memcmp(p.pub, k.pub, 32), 0);
	ASSERT_EQ(gb_cosig_vkey_format(&p, &v), 0);
	ASSERT_STR_EQ(v, vkey);
	ASSERT_EQ(gb_cosig_skey_format(&p, &s), 0);
	ASSERT_STR_EQ(s, skey);
	{
		char *none = NULL;

		ASSERT_EQ(gb_cosig_skey_format(&k, &none), GB_EINVAL);
		ASSERT_EQ(none == NULL, 1);
	}
	ASSERT_EQ(gb_cosig_key_generate("has space", &p), GB_EINVAL);
	ASSERT_EQ(gb_cosig_key_generate("has+plus", &p), GB_EINVAL);
	ASSERT_EQ(gb_cosig_key_generate("", &p), GB_EINVAL);
	ASSERT_EQ(gb_cosig_key_generate("w.example/new", &p), 0);
	free(v);
	free(s);
}

TEST(lines)
{
	static const char text[] = "example.com/log\n3\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
	struct gb_cosig_key k, other;
	char *good = NULL, *theirs = NULL, buf[1024];
	uint64_t t;
	size_t off, len;

	ASSERT_EQ(gb_cosig_skey_parse(skey, &k), 0);
	ASSERT_EQ(gb_cosig_key_generate("w2.example/x", &other), 0);
	ASSERT_EQ(gb_cosig_sign(&k, text, strlen(text), 42, &good), 0);
	ASSERT_EQ(gb_cosig_sign(&other, text, strlen(text), 43, &theirs), 0);
	ASSERT_EQ(gb_cosig_find(&k, text, strlen(text), good, strlen(good), &t,
	    &off, &len), 0);
	ASSERT_EQ(t, 42);
	ASSERT_EQ(off, 0);
	ASSERT_EQ(len, strlen(good));
	/* Another key's line is skipped; ours after it is found. */
	snprintf(buf, sizeof buf, "%s%s", theirs, good);
	ASSERT_EQ(gb_cosig_find(&k, text, strlen(text), buf, strlen(buf), &t,
	    &off, &len), 0);
	ASSERT_EQ(off, strlen(theirs));
	ASSERT_EQ(gb_cosig_find(&k, text, strlen(text), theirs, strlen(theirs),
	    &t, &off, &len), GB_ENOENT);
	/* Over another text, or a flipped byte: refused. */
	ASSERT_EQ(gb_cosig_find(&k, "example.com/log\n4\nAAAA\n", 23, good,
	    strlen(good), &t, &off, &len), GB_EINVAL);
	snprintf(buf, sizeof buf, "%s", good);
	buf[strlen(buf) - 10] = buf[strlen(buf) - 10] == 'A' ? 'B' : 'A';
	ASSERT_EQ(gb_cosig_find(&k, text, strlen(text), buf, strlen(buf), &t,
	    &off, &len), GB_EINVAL);
	/* Not signature lines. */
	ASSERT_EQ(gb_cosig_find(&k, text, strlen(text), "<html>\n", 7, &t, &off,
	    &len), GB_EINVAL);
	ASSERT_EQ(gb_cosig_find(&k, text, strlen(text), good, strlen(good) - 1,
	    &t, &off, &len), GB_EINVAL);
	/* A timestamp over 2^63 - 1 is never signed. */
	{
		char *none = NULL;

		ASSERT_EQ(gb_cosig_sign(&k, text, strlen(text),
		    (uint64_t)INT64_MAX + 1, &none), GB_EINVAL);
		ASSERT_EQ(none == NULL, 1);
	}
	free(good);
	free(theirs);
	gb_cosig_key_clear(&k);
	gb_cosig_key_clear(&other);
}

TEST(requests)
{
	static const char h[] = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n";
	static const char note[] = "log\n5\nroot\n\n\xe2\x80\x94 log sig\n";
	static const struct {
		const char *body;
		int ok;
		uint64_t old;
		size_t nproof;
	} cases[] = {
		{ "old 0\n\nX", 1, 0, 0 },
		{ "old 20852014\n\nX", 1, 20852014, 0 },
		{ "old 9223372036854775807\n\nX", 1, INT64_MAX, 0 },
		{ "old 9223372036854775808\n\nX", 0, 0, 0 },
		{ "old 00\n\nX", 0, 0, 0 },
		{ "old 01\n\nX", 0, 0, 0 },
		{ "old -1\n\nX", 0, 0, 0 },
		{ "old  1\n\nX", 0, 0, 0 },
		{ "old 1 \n\nX", 0, 0, 0 },
		{ "Old 1\n\nX", 0, 0, 0 },
		{ "old \n\nX", 0, 0, 0 },
		{ "old 1\n\n", 0, 0, 0 },
		{ "old 1\n", 0, 0, 0 },
		{ "old 1", 0, 0, 0 },
		{ "", 0, 0, 0 },
		{ "old 1\nAQEB\n\nX", 0, 0, 0 },
		{ "old 1\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB\n\nX", 0,
		    0, 0 },
		{ "old 1\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\r\n\nX", 0,
		    0, 0 },
		{ "old 1\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE*\n\nX", 0,
		    0, 0 },
	};
	struct gb_witness_request *rq = malloc(sizeof *rq);
	const char *why;
	char *body = malloc(64 * 45 + 128);

	ASSERT_EQ(rq != NULL && body != NULL, 1);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = gb_witness_request_parse(cases[i].body,
		    strlen(cases[i].body), rq, &why);

		if ((rc == 0) != cases[i].ok)
			fprintf(stderr, "case %zu: %s\n", i, cases[i].body);
		ASSERT_EQ(rc == 0, cases[i].ok);
		if (rc == 0) {
			ASSERT_EQ(rq->old_size, cases[i].old);
			ASSERT_EQ(rq->nproof, cases[i].nproof);
			ASSERT_EQ(rq->note_len, 1);
		}
	}
	/* 63 proof lines, then 64. */
	for (int n = 62; n <= 64; n++) {
		size_t o = (size_t)sprintf(body, "old 7\n");

		for (int i = 0; i < n; i++)
			o += (size_t)sprintf(body + o, "%s", h);
		o += (size_t)sprintf(body + o, "\n%s", note);
		ASSERT_EQ(gb_witness_request_parse(body, o, rq, &why) == 0,
		    n <= GB_WITNESS_PROOF_MAX);
		if (n <= GB_WITNESS_PROOF_MAX) {
			ASSERT_EQ(rq->nproof, (size_t)n);
			ASSERT_EQ(rq->proof[n - 1][31], 1);
			ASSERT_EQ(rq->note_len, strlen(note));
		}
	}
	free(body);
	free(rq);
}

TEST(sizes_and_checkpoints)
{
	struct gb_checkpoint c;
	uint64_t v = 0;
	static const char cp[] = "example.com/log\n3\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

	ASSERT_EQ(gb_witness_size_parse("0\n", 2, &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(gb_witness_size_parse("20852163\n", 9, &v), 0);
	ASSERT_EQ(v, 20852163);
	ASSERT_EQ(gb_witness_size_parse("20852163", 8, &v), GB_EINVAL);
	ASSERT_EQ(gb_witness_size_parse("020\n", 4, &v), GB_EINVAL);
	ASSERT_EQ(gb_witness_size_parse("\n", 1, &v), GB_EINVAL);
	ASSERT_EQ(gb_witness_size_parse("1 \n", 3, &v), GB_EINVAL);
	ASSERT_EQ(gb_witness_checkpoint_parse(cp, strlen(cp), &c), 0);
	ASSERT_EQ(c.size, 3);
	{
		char ext[256];

		snprintf(ext, sizeof ext, "%sext one\next two\n", cp);
		ASSERT_EQ(gb_witness_checkpoint_parse(ext, strlen(ext), &c), 0);
		snprintf(ext, sizeof ext, "%s\next\n", cp);
		ASSERT_EQ(gb_witness_checkpoint_parse(ext, strlen(ext), &c),
		    GB_EINVAL);
		snprintf(ext, sizeof ext, "%sext", cp);
		ASSERT_EQ(gb_witness_checkpoint_parse(ext, strlen(ext), &c),
		    GB_EINVAL);
	}
	ASSERT_EQ(gb_witness_checkpoint_parse("a\n1\n", 4, &c), GB_EINVAL);
}

TEST_MAIN(
	T(the_spec_example_message),
	T(keys),
	T(lines),
	T(requests),
	T(sizes_and_checkpoints),
)
