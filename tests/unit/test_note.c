/*
 * Signed notes and checkpoints (gb/note.h) against
 * ../shared/vectors/signed-note/notes.json: key IDs, the published
 * signatures, the published test key reproducing its signature byte for
 * byte, a note with a second signer, and every malformed note refused.
 */
#include <jansson.h>

#include "gb/codec.h"
#include "gb/err.h"
#include "gb/note.h"
#include "test.h"

static json_t *
notes(void)
{
	json_error_t e;
	json_t *j = json_load_file(GB_VECTORS_DIR "/signed-note/notes.json", 0,
	    &e);

	if (j == NULL) {
		fprintf(stderr, "notes.json: %s\n", e.text);
		exit(2);
	}
	return j;
}

static const char *
str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL) {
		fprintf(stderr, "notes.json: no %s\n", key);
		exit(2);
	}
	return s;
}

TEST(published_notes_verify)
{
	json_t *j = notes(), *v;
	size_t i;

	json_array_foreach(json_object_get(j, "valid"), i, v) {
		const char *note = str(v, "note"), *text = str(v, "text");
		struct gb_note_key k;
		struct gb_note_opened o;
		char id[9];

		ASSERT_EQ(gb_note_vkey_parse(str(v, "vkey"), &k), 0);
		snprintf(id, sizeof id, "%08x", k.id);
		ASSERT_STR_EQ(id, str(v, "key_id"));
		if (i == 2) {
			/* Signed by PeterNeumann and EnochRoot: one key
			 * verifies one and counts the other, both verify
			 * both, none refuses. */
			struct gb_note_key both[2];

			ASSERT_EQ(gb_note_open(note, strlen(note), &k, 1, &o),
			    0);
			ASSERT_EQ(o.verified, 1);
			ASSERT_EQ(o.unverified, 1);
			ASSERT_EQ(gb_note_vkey_parse(str(json_array_get(
			    json_object_get(j, "valid"), 1), "vkey"), &both[0]),
			    0);
			both[1] = k;
			ASSERT_EQ(gb_note_open(note, strlen(note), both, 2, &o),
			    0);
			ASSERT_EQ(o.verified, 2);
			ASSERT_EQ(o.unverified, 0);
			ASSERT(gb_note_open(note, strlen(note), NULL, 0, &o) !=
			    0);
			ASSERT_STR_EQ(o.error, "no signature by a known key");
			continue;
		}
		ASSERT_EQ(gb_note_open(note, strlen(note), &k, 1, &o), 0);
		ASSERT_EQ(o.verified, 1);
		ASSERT_EQ(o.text_len, strlen(text));
		ASSERT(memcmp(note, text, o.text_len) == 0);
		/* One flipped bit of the text, and the signature fails. */
		{
			char *bad = strdup(note);

			bad[0] ^= 0x20;
			ASSERT(gb_note_open(bad, strlen(bad), &k, 1, &o) != 0);
			ASSERT_STR_EQ(o.error, "a signature by a known key does "
			    "not verify");
			free(bad);
		}
	}
	json_decref(j);
}

/* Ed25519 is deterministic: the published test seed signs the text into
 * exactly the published note, and formats back to the same key strings. */
TEST(published_test_key_reproduces_its_signature)
{
	json_t *j = notes();
	json_t *v = json_array_get(json_object_get(j, "valid"), 1);
	const char *text = str(v, "text");
	struct gb_note_key k;
	char *note, *skey, *vkey;
	size_t len;

	ASSERT_EQ(gb_note_skey_parse(str(v, "skey"), &k), 0);
	ASSERT_EQ(gb_note_sign(text, strlen(text), &k, &note, &len), 0);
	ASSERT_EQ(len, strlen(note));
	ASSERT_STR_EQ(note, str(v, "note"));
	ASSERT_EQ(gb_note_skey_format(&k, &skey), 0);
	ASSERT_STR_EQ(skey, str(v, "skey"));
	ASSERT_EQ(gb_note_vkey_format(&k, &vkey), 0);
	ASSERT_STR_EQ(vkey, str(v, "vkey"));
	free(note);
	free(skey);
	free(vkey);
	gb_note_key_clear(&k);
	json_decref(j);
}

TEST(malformed_notes_are_refused)
{
	json_t *j = notes(), *v;
	json_t *peter = json_array_get(json_object_get(j, "valid"), 1);
	struct gb_note_key k;
	struct gb_note_opened o;
	size_t i;

	ASSERT_EQ(gb_note_vkey_parse(str(peter, "vkey"), &k), 0);
	json_array_foreach(json_object_get(json_object_get(j,
	    "malformed_notes_must_reject"), "cases"), i, v) {
		const char *note = str(v, "note");

		if (gb_note_open(note, strlen(note), &k, 1, &o) == 0)
			FAIL_AT("accepted: %s", str(v, "desc"));
		else if (o.error == NULL)
			FAIL_AT("no reason given: %s", str(v, "desc"));
	}
	ASSERT_EQ(i, 6);
	json_decref(j);
}

/* What the vectors' "also" asks: an invalid UTF-8 byte, and more than 100
 * signatures; and keys that do not hold together. */
TEST(limits_and_bad_keys)
{
	json_t *j = notes();
	json_t *peter = json_array_get(json_object_get(j, "valid"), 1);
	const char *good = str(peter, "note");
	const char *sig = strstr(good, "\n\n") + 2;
	struct gb_note_key k, g;
	struct gb_note_opened o;
	char *buf, *vkey;
	size_t n;

	ASSERT_EQ(gb_note_vkey_parse(str(peter, "vkey"), &k), 0);
	ASSERT((buf = malloc(strlen(good) + 102 * 160)) != NULL);
	sprintf(buf, "\xff%s", good);
	ASSERT(gb_note_open(buf, strlen(buf), &k, 1, &o) != 0);
	/* 100 more signatures by unknown keys, 101 in all. */
	strcpy(buf, good);
	for (int i = 0; i < 100; i++) {
		uint8_t raw[68] = { 0xee, 0, 0, (uint8_t)i };
		char *b64;

		ASSERT_EQ(gb_base64_encode_alloc(raw, sizeof raw, &b64), 0);
		sprintf(buf + strlen(buf), "\xe2\x80\x94 other%d %s\n", i, b64);
		free(b64);
	}
	ASSERT(gb_note_open(buf, strlen(buf), &k, 1, &o) != 0);
	ASSERT_STR_EQ(o.error, "more signatures than the limit");
	/* 99 more are within it. */
	*strstr(buf, "\xe2\x80\x94 other99 ") = '\0';
	ASSERT_EQ(gb_note_open(buf, strlen(buf), &k, 1, &o), 0);
	ASSERT_EQ(o.unverified, 99);
	/* The same signature twice. */
	sprintf(buf, "%s%s", good, sig);
	ASSERT(gb_note_open(buf, strlen(buf), &k, 1, &o) != 0);
	free(buf);

	/* A key ID that is not the key's; names with a space or a plus. */
	ASSERT(gb_note_vkey_parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzh"
	    "KqiBfsVkmqq/LDE4izWy10TW", &g) != 0);
	ASSERT(gb_note_vkey_parse("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbz"
	    "hKqiBfsVkmqq/LDE4izWy10TW", &g) != 0);
	ASSERT(gb_note_key_generate("a+b", &g) != 0);
	ASSERT(gb_note_key_generate("", &g) != 0);
	/* A fresh key round-trips and signs what it verifies. */
	ASSERT_EQ(gb_note_key_generate("glassbox.test/log", &g), 0);
	ASSERT_EQ(gb_note_vkey_format(&g, &vkey), 0);
	ASSERT_EQ(gb_note_vkey_parse(vkey, &k), 0);
	ASSERT_EQ(k.id, g.id);
	ASSERT_EQ(gb_note_sign("hello\n", 6, &g, &buf, &n), 0);
	ASSERT_EQ(gb_note_open(buf, n, &k, 1, &o), 0);
	free(buf);
	ASSERT(gb_note_sign("no newline", 10, &g, &buf, &n) != 0);
	ASSERT(buf == NULL);
	ASSERT(gb_note_sign("bell\a\n", 6, &g, &buf, &n) != 0);
	free(vkey);
	gb_note_key_clear(&g);
	json_decref(j);
}

TEST(checkpoints)
{
	json_t *j = notes();
	const char *ex = str(json_object_get(j, "checkpoint_examples_unverifiable"),
	    "checkpoint");
	struct gb_checkpoint c, d;
	struct gb_note_opened o;
	struct gb_note_key k;
	char *text, *note;
	size_t n;

	/* The C2SP example's text parses (its keys are not published: the
	 * log's signature and the witness's can only be counted). */
	ASSERT(gb_note_open(ex, strlen(ex), NULL, 0, &o) != 0);
	ASSERT_EQ(o.unverified, 2);
	ASSERT_EQ(gb_checkpoint_parse(ex, o.text_len, &c), 0);
	ASSERT_STR_EQ(c.origin, "example.com/behind-the-sofa");
	ASSERT_EQ(c.size, 20852163);
	ASSERT_EQ(c.root[0], 0x0a);
	/* Ours: format, sign, open, parse, equal. */
	ASSERT_EQ(gb_note_key_generate("glassbox.test/log", &k), 0);
	strcpy(c.origin, "glassbox.test/log");
	ASSERT_EQ(gb_checkpoint_format(&c, &text), 0);
	ASSERT_EQ(gb_note_sign(text, strlen(text), &k, &note, &n), 0);
	ASSERT_EQ(gb_note_open(note, n, &k, 1, &o), 0);
	ASSERT_EQ(gb_checkpoint_parse(note, o.text_len, &d), 0);
	ASSERT_STR_EQ(d.origin, c.origin);
	ASSERT_EQ(d.size, c.size);
	ASSERT(memcmp(d.root, c.root, sizeof c.root) == 0);
	free(text);
	free(note);
	/* Bad bodies. */
	ASSERT(gb_checkpoint_parse("o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3"
	    "j2jxq2I=\n", 51, &d) != 0);
	ASSERT(gb_checkpoint_parse("o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3"
	    "j2jxq2I=\n", 51, &d) != 0);
	ASSERT(gb_checkpoint_parse("o\n99999999999999999999\nCsUYapGGPo4dkMgIA"
	    "Uqom/Xajj7h2fB2MPA3j2jxq2I=\n", 69, &d) != 0);
	ASSERT(gb_checkpoint_parse("o\n1\nCsUY\n", 10, &d) != 0);
	ASSERT(gb_checkpoint_parse("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3"
	    "j2jxq2I=\next\n", 54, &d) != 0);
	gb_note_key_clear(&k);
	json_decref(j);
}

/* A signed checkpoint note of size and root byte r, by k. */
static char *
signed_checkpoint(const struct gb_note_key *k, uint64_t size, uint8_t r)
{
	struct gb_checkpoint c;
	char *text = NULL, *note = NULL;
	size_t n;

	memset(&c, 0, sizeof c);
	strcpy(c.origin, k->name);
	c.size = size;
	memset(c.root, r, sizeof c.root);
	if (gb_checkpoint_format(&c, &text) == 0)
		(void)gb_note_sign(text, strlen(text), k, &note, &n);
	free(text);
	return note;
}

/* The checkpoint verifier parses the key once and remembers the last
 * checkpoint that opened by its exact bytes: a note differing in one byte,
 * even of the same length, is checked again and refused. */
TEST(checkpoint_verifier)
{
	struct gb_checkpoint_verifier *v = NULL;
	struct gb_note_key k, other;
	struct gb_checkpoint c;
	char *vkey, *a, *b, *forged, *alien, *hello;
	size_t n;

	ASSERT_EQ(gb_note_key_generate("glassbox.test/log", &k), 0);
	ASSERT_EQ(gb_note_key_generate("glassbox.test/log", &other), 0);
	ASSERT_EQ(gb_note_vkey_format(&k, &vkey), 0);
	ASSERT(gb_checkpoint_verifier_new("glassbox.test/log+00000000+AAAA",
	    &v) == GB_EINVAL && v == NULL);
	ASSERT_EQ(gb_checkpoint_verifier_new(vkey, &v), 0);
	ASSERT_EQ(gb_checkpoint_verifier_key(v)->id, k.id);
	ASSERT((a = signed_checkpoint(&k, 7, 0xaa)) != NULL);
	ASSERT((b = signed_checkpoint(&k, 8, 0xbb)) != NULL);
	ASSERT((alien = signed_checkpoint(&other, 7, 0xaa)) != NULL);
	ASSERT_EQ(gb_note_sign("hello\n", 6, &k, &hello, &n), 0);
	/* The root's first base64 digit changed: same length, bad signature. */
	ASSERT((forged = strdup(a)) != NULL);
	*(strchr(strchr(forged, '\n') + 1, '\n') + 1) ^= 1;

	for (int round = 0; round < 2; round++) {   /* the memo, then again */
		ASSERT_EQ(gb_checkpoint_verifier_open(v, a, strlen(a), &c), 0);
		ASSERT_EQ(c.size, 7);
		ASSERT_EQ(c.root[0], 0xaa);
		ASSERT_STR_EQ(c.origin, "glassbox.test/log");
		c.size = 0;
		ASSERT_EQ(gb_checkpoint_verifier_open(v, forged, strlen(forged),
		    &c), GB_EINVAL);
		ASSERT_EQ(gb_checkpoint_verifier_open(v, alien, strlen(alien),
		    &c), GB_EINVAL);
		ASSERT_EQ(gb_checkpoint_verifier_open(v, hello, strlen(hello),
		    &c), GB_EINVAL);
		ASSERT_EQ(gb_checkpoint_verifier_open(v, a, strlen(a) - 1, &c),
		    GB_EINVAL);
		ASSERT_EQ(gb_checkpoint_verifier_open(v, b, strlen(b), &c), 0);
		ASSERT_EQ(c.size, 8);
		ASSERT_EQ(c.root[31], 0xbb);
	}
	gb_checkpoint_verifier_free(v);
	gb_checkpoint_verifier_free(NULL);
	free(vkey);
	free(a);
	free(b);
	free(forged);
	free(alien);
	free(hello);
	gb_note_key_clear(&k);
	gb_note_key_clear(&other);
}

TEST_MAIN(
	T(published_notes_verify),
	T(published_test_key_reproduces_its_signature),
	T(malformed_notes_are_refused),
	T(limits_and_bad_keys),
	T(checkpoints),
	T(checkpoint_verifier),
)
