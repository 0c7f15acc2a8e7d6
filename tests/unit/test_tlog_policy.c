/*
 * tlog-policy files (gb/tlog_policy.h): every kind of line, groups nested,
 * quorum none, the refusals (unknown lines, duplicates, names used before
 * they are defined, each named limit), and the quorum evaluated over real
 * cosignatures made here (good, missing, forged, from the future).
 */
#include <unistd.h>

#include "gb/err.h"
#include "gb/note.h"
#include "gb/tlog_policy.h"
#include "gb/witness.h"
#include "test.h"

#define NOW 1700000000

/* Keys made once per run: a log, three witnesses. */
static struct gb_note_key lk;
static struct gb_cosig_key wk[3];
static char *lv, *wv[3];

static void
keys(void)
{
	static bool made;

	if (made)
		return;
	if (gb_note_key_generate("log.test/policy", &lk) != 0 ||
	    gb_note_vkey_format(&lk, &lv) != 0)
		exit(2);
	for (int i = 0; i < 3; i++) {
		char name[32];

		snprintf(name, sizeof name, "witness.test/w%d", i + 1);
		if (gb_cosig_key_generate(name, &wk[i]) != 0 ||
		    gb_cosig_vkey_format(&wk[i], &wv[i]) != 0)
			exit(2);
	}
	made = true;
}

/* fmt with %1$s replaced by the log key and %2$s..%4$s by the witness
 * keys (by hand: the tables are not format strings the compiler sees). */
static char *
policy_text(const char *fmt)
{
	char *s = malloc(GB_TLOG_POLICY_MAX_BYTES + 1);
	size_t n = 0;

	keys();
	if (s == NULL)
		exit(2);
	while (*fmt != '\0' && n < GB_TLOG_POLICY_MAX_BYTES / 2) {
		if (fmt[0] == '%' && fmt[1] >= '1' && fmt[1] <= '4' &&
		    strncmp(fmt + 2, "$s", 2) == 0) {
			const char *k = fmt[1] == '1' ? lv : wv[fmt[1] - '2'];

			memcpy(s + n, k, strlen(k));
			n += strlen(k);
			fmt += 4;
		} else {
			s[n++] = *fmt++;
		}
	}
	s[n] = '\0';
	return s;
}

static int
parse(const char *fmt, struct gb_tlog_policy **p,
    struct gb_tlog_policy_error *e)
{
	char *s = policy_text(fmt);
	int rc = gb_tlog_policy_parse(s, strlen(s), p, e);

	free(s);
	return rc;
}

static const char *const good[] = {
	"quorum none\n",
	"log %1$s\nquorum none\n",
	"log %1$s https://log.example/\nquorum none",
	"  # a comment\n\t\nlog\t%1$s  \nwitness W1 %2$s https://w1/\n"
	    "quorum W1\n",
	"witness W1 %2$s\nwitness W2 %3$s\nwitness W3 %4$s\n"
	    "group G 2 W1 W2 W3\nquorum G\n",
	"witness W1 %2$s\nwitness W2 %3$s\ngroup A any W1\n"
	    "group B all A W2\nquorum B\n",
	"witness W1 %2$s\nwitness W2 %3$s\ngroup G 02 W1 W2\nquorum G\n",
	"witness \xe2\x84\xaa %2$s\nwitness K %3$s\ngroup G all K \xe2\x84\xaa\n"
	    "quorum G\n",
	"quorum none\nwitness W1 %2$s\n",
};

static const struct {
	const char *fmt;
	unsigned line;          /* the line the error names */
} bad[] = {
	{ "", 0 },
	{ "log %1$s\n", 0 },                            /* no quorum */
	{ "quorum none\nquorum none\n", 2 },
	{ "quorum W1\n", 1 },                           /* undefined */
	{ "quorum W1\nwitness W1 %2$s\n", 1 },          /* defined later */
	{ "quorum\n", 1 },
	{ "quorum none extra\n", 1 },
	{ "logs %1$s\nquorum none\n", 1 },              /* unknown line */
	{ "Quorum none\n", 1 },
	{ "log %1$s\nlog %1$s\nquorum none\n", 2 },     /* duplicate log */
	{ "log %1$s a b\nquorum none\n", 1 },
	{ "log %2$s\nquorum none\n", 1 },               /* a witness key */
	{ "witness W1 %1$s\nquorum none\n", 1 },        /* a log key */
	{ "witness W1 %2$s\nwitness W2 %2$s\nquorum none\n", 2 },
	{ "witness W1 %2$s\nwitness W1 %3$s\nquorum none\n", 2 },
	{ "witness none %2$s\nquorum none\n", 1 },
	{ "witness W1\nquorum none\n", 1 },
	{ "witness W1 %2$s u v\nquorum none\n", 1 },
	{ "witness W1 %2$s\ngroup W1 any W1\nquorum none\n", 2 },
	{ "witness W1 %2$s\ngroup G any\nquorum none\n", 2 },
	{ "witness W1 %2$s\ngroup G 0 W1\nquorum none\n", 2 },
	{ "witness W1 %2$s\ngroup G 2 W1\nquorum none\n", 2 },
	{ "witness W1 %2$s\ngroup G -1 W1\nquorum none\n", 2 },
	{ "witness W1 %2$s\ngroup G some W1\nquorum none\n", 2 },
	{ "witness W1 %2$s\ngroup G any W1 W1\nquorum none\n", 2 },
	{ "witness W1 %2$s\ngroup G any none\nquorum none\n", 2 },
	{ "witness W1 %2$s\ngroup G any W2\nquorum none\n", 2 },
	{ "witness W1 %2$s\ngroup G any G\nquorum none\n", 2 },
	{ "quorum none\r\n", 0 },                       /* CR */
	{ "quorum none\n\x01\n", 0 },
	{ "quorum none\n#\x7f\n", 0 },
};

TEST(every_line_kind)
{
	struct gb_tlog_policy *p = NULL;
	struct gb_tlog_policy_error e;
	const char *name, *url;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		if (parse(good[i], &p, &e) != 0) {
			FAIL_AT("good[%zu]: line %u: %s", i, e.line, e.message);
			return;
		}
		gb_tlog_policy_free(p);
		p = NULL;
	}
	ASSERT_EQ(parse(good[3], &p, &e), 0);
	ASSERT_EQ(gb_tlog_policy_nlogs(p), 1);
	ASSERT_EQ(gb_tlog_policy_log(p, 0, &url) != NULL, 1);
	ASSERT_EQ(url == NULL, 1);
	ASSERT_EQ(gb_tlog_policy_nwitnesses(p), 1);
	ASSERT_EQ(gb_tlog_policy_witness(p, 0, &name, &url) != NULL, 1);
	ASSERT_STR_EQ(name, "W1");
	ASSERT_STR_EQ(url, "https://w1/");
	ASSERT_STR_EQ(gb_tlog_policy_quorum(p), "W1");
	ASSERT_EQ(gb_tlog_policy_witness(p, 1, NULL, NULL) == NULL, 1);
	gb_tlog_policy_free(p);
	p = NULL;
	ASSERT_EQ(parse(good[2], &p, &e), 0);
	ASSERT_EQ(gb_tlog_policy_log(p, 0, &url) != NULL, 1);
	ASSERT_STR_EQ(url, "https://log.example/");
	ASSERT_STR_EQ(gb_tlog_policy_quorum(p), "none");
	gb_tlog_policy_free(p);
	gb_tlog_policy_free(NULL);
	p = NULL;

	/* From a file, and a file that is not there. */
	{
		char path[] = "/tmp/gb-policy-XXXXXX", *t = policy_text(good[4]);
		int fd = mkstemp(path);

		ASSERT(fd >= 0);
		ASSERT_EQ(write(fd, t, strlen(t)), (long long)strlen(t));
		close(fd);
		free(t);
		ASSERT_EQ(gb_tlog_policy_read_file(path, &p, &e), 0);
		ASSERT_EQ(gb_tlog_policy_nwitnesses(p), 3);
		gb_tlog_policy_free(p);
		p = NULL;
		unlink(path);
		ASSERT_EQ(gb_tlog_policy_read_file(path, &p, &e), GB_EINVAL);
		ASSERT(p == NULL && e.line == 0 && e.message[0] != '\0');
	}
}

TEST(refusals)
{
	struct gb_tlog_policy *p = NULL;
	struct gb_tlog_policy_error e;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *s = policy_text(bad[i].fmt);
		int rc = gb_tlog_policy_parse(s, strlen(s), &p, &e);

		free(s);
		if (rc != GB_EINVAL || e.line != bad[i].line ||
		    e.message[0] == '\0') {
			FAIL_AT("bad[%zu]: rc %d, line %u (want %u): %s", i, rc,
			    e.line, bad[i].line, e.message);
			gb_tlog_policy_free(p);
			return;
		}
	}
	/* A NUL inside the file. */
	ASSERT_EQ(gb_tlog_policy_parse("quorum none\n\0\n", 14, &p, &e),
	    GB_EINVAL);
}

/* Each named limit: at it is accepted, past it refused. */
TEST(limits)
{
	struct gb_tlog_policy *p = NULL;
	struct gb_tlog_policy_error e;
	char *s = malloc(GB_TLOG_POLICY_MAX_BYTES + 2), *v;
	size_t n;

	ASSERT(s != NULL);
	keys();
	for (int past = 0; past < 2; past++) {
		/* Witnesses: 32 distinct keys, then a 33rd. */
		n = 0;
		for (int i = 0; i < GB_TLOG_POLICY_WITNESSES_MAX + past; i++) {
			struct gb_cosig_key k;

			ASSERT_EQ(gb_cosig_key_generate("w.test/x", &k), 0);
			ASSERT_EQ(gb_cosig_vkey_format(&k, &v), 0);
			n += (size_t)snprintf(s + n, 4096, "witness W%d %s\n", i,
			    v);
			free(v);
		}
		n += (size_t)snprintf(s + n, 64, "quorum none\n");
		ASSERT_EQ(gb_tlog_policy_parse(s, n, &p, &e),
		    past ? GB_EINVAL : 0);
		gb_tlog_policy_free(p);
		p = NULL;

		/* Logs. */
		n = 0;
		for (int i = 0; i < GB_TLOG_POLICY_LOGS_MAX + past; i++) {
			struct gb_note_key k;

			ASSERT_EQ(gb_note_key_generate("log.test/x", &k), 0);
			ASSERT_EQ(gb_note_vkey_format(&k, &v), 0);
			n += (size_t)snprintf(s + n, 4096, "log %s\n", v);
			free(v);
		}
		n += (size_t)snprintf(s + n, 64, "quorum none\n");
		ASSERT_EQ(gb_tlog_policy_parse(s, n, &p, &e),
		    past ? GB_EINVAL : 0);
		gb_tlog_policy_free(p);
		p = NULL;

		/* Groups. */
		n = (size_t)snprintf(s, 4096, "witness W %s\n", wv[0]);
		for (int i = 0; i < GB_TLOG_POLICY_GROUPS_MAX + past; i++)
			n += (size_t)snprintf(s + n, 64, "group G%d any W\n", i);
		n += (size_t)snprintf(s + n, 64, "quorum none\n");
		ASSERT_EQ(gb_tlog_policy_parse(s, n, &p, &e),
		    past ? GB_EINVAL : 0);
		gb_tlog_policy_free(p);
		p = NULL;

		/* A line, a name, the file. */
		memset(s, '#', GB_TLOG_POLICY_LINE_MAX + (size_t)past);
		n = GB_TLOG_POLICY_LINE_MAX + (size_t)past;
		n += (size_t)snprintf(s + n, 64, "\nquorum none\n");
		ASSERT_EQ(gb_tlog_policy_parse(s, n, &p, &e),
		    past ? GB_EINVAL : 0);
		gb_tlog_policy_free(p);
		p = NULL;

		n = (size_t)snprintf(s, 16, "witness ");
		memset(s + n, 'N', GB_TLOG_POLICY_NAME_MAX + (size_t)past);
		n += GB_TLOG_POLICY_NAME_MAX + (size_t)past;
		n += (size_t)snprintf(s + n, 4096, " %s\nquorum none\n", wv[0]);
		ASSERT_EQ(gb_tlog_policy_parse(s, n, &p, &e),
		    past ? GB_EINVAL : 0);
		gb_tlog_policy_free(p);
		p = NULL;

		n = 0;
		while (n + 64 < GB_TLOG_POLICY_MAX_BYTES)
			n += (size_t)snprintf(s + n, 64, "# %60s\n", "");
		memset(s + n, '#', GB_TLOG_POLICY_MAX_BYTES - 12 - n);
		n = GB_TLOG_POLICY_MAX_BYTES - 12;
		s[n - 1] = '\n';
		n += (size_t)snprintf(s + n, 64, "quorum none\n");
		ASSERT_EQ(n, GB_TLOG_POLICY_MAX_BYTES);
		if (past)
			s[n++] = '\n';
		ASSERT_EQ(gb_tlog_policy_parse(s, n, &p, &e),
		    past ? GB_EINVAL : 0);
		gb_tlog_policy_free(p);
		p = NULL;
	}
	free(s);
}

/* A checkpoint note signed by lk, with cosignatures by the witnesses whose
 * bit is set in which, at time t; forged: the bits whose line is broken. */
static char *
note_with(unsigned which, unsigned forged, uint64_t t)
{
	static const char text[] = "log.test/policy\n3\n"
	    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
	char *note, *all;
	size_t len;

	keys();
	if (gb_note_sign(text, strlen(text), &lk, &note, &len) != 0 ||
	    (all = malloc(len + 3 * 256)) == NULL)
		exit(2);
	memcpy(all, note, len + 1);
	free(note);
	for (int i = 0; i < 3; i++) {
		char *line;

		if (!(which & 1u << i))
			continue;
		if (gb_cosig_sign(&wk[i], text, strlen(text), t, &line) != 0)
			exit(2);
		if (forged & 1u << i) {
			/* One bit of the signature, far from the key ID. */
			size_t l = strlen(line);

			line[l - 10] = line[l - 10] == 'A' ? 'B' : 'A';
		}
		strcat(all, line);
		free(line);
	}
	return all;
}

/* The policy of the last check(): r's names are borrowed from it, so it
 * lives until the next check() (or the test's end). */
static struct gb_tlog_policy *held;

static void
check(const char *fmt, unsigned which, unsigned forged, uint64_t t,
    bool trusted, const char *reason, struct gb_tlog_policy_result *r)
{
	char *note = note_with(which, forged, t);

	gb_tlog_policy_free(held);
	held = NULL;
	ASSERT_EQ(parse(fmt, &held, NULL), 0);
	ASSERT_EQ(gb_tlog_policy_check(held, note, strlen(note), NOW, r), 0);
	free(note);
	if (r->trusted != trusted || (reason == NULL) != (r->reason == NULL) ||
	    (reason != NULL && strcmp(reason, r->reason) != 0))
		FAIL_AT("%s / %x %x: trusted %d (%s), want %d (%s)", fmt, which,
		    forged, r->trusted, r->reason ? r->reason : "-", trusted,
		    reason ? reason : "-");
}

TEST(quorum)
{
	static const char q2[] = "log %1$s\nwitness W1 %2$s\n"
	    "witness W2 %3$s\ngroup G 2 W1 W2\nquorum G\n";
	static const char q1[] = "log %1$s\nwitness W1 %2$s\n"
	    "witness W2 %3$s\ngroup G any W1 W2\nquorum G\n";
	static const char nested[] = "witness W1 %2$s\nwitness W2 %3$s\n"
	    "witness W3 %4$s\ngroup A any W1 W2\ngroup B all A W3\nquorum B\n";
	static const char other_log[] = "log %1$s\nquorum none\n";
	struct gb_tlog_policy_result r;

	check(q2, 3, 0, NOW, true, NULL, &r);
	ASSERT_EQ(r.nwitnesses, 2);
	ASSERT_STR_EQ(r.witness[0].name, "W1");
	ASSERT_EQ(r.witness[0].state, GB_TLOG_COSIG_VERIFIED);
	ASSERT_EQ(r.witness[0].time, NOW);
	ASSERT_EQ(r.checkpoint.size, 3);
	check(q2, 1, 0, NOW, false, "below_quorum", &r);
	ASSERT_EQ(r.witness[1].state, GB_TLOG_COSIG_MISSING);
	ASSERT_STR_EQ(gb_tlog_cosig_state_name(r.witness[1].state), "missing");
	check(q2, 0, 0, NOW, false, "below_quorum", &r);
	check(q1, 2, 0, NOW, true, NULL, &r);
	check(q1, 3, 2, NOW, false, "bad_cosignature", &r);
	ASSERT_EQ(r.witness[1].state, GB_TLOG_COSIG_BAD);
	check(q1, 3, 0, NOW + GB_TLOG_POLICY_SKEW_S, true, NULL, &r);
	check(q1, 3, 0, NOW + GB_TLOG_POLICY_SKEW_S + 1, false,
	    "bad_cosignature", &r);
	ASSERT_EQ(r.witness[0].state, GB_TLOG_COSIG_FUTURE);
	check(nested, 5, 0, NOW, true, NULL, &r);
	check(nested, 6, 0, NOW, true, NULL, &r);
	check(nested, 3, 0, NOW, false, "below_quorum", &r);
	check(nested, 4, 0, NOW, false, "below_quorum", &r);
	check("quorum none\n", 0, 0, NOW, true, NULL, &r);
	check(other_log, 7, 0, NOW, true, NULL, &r);
	gb_tlog_policy_free(held);
	held = NULL;

	/* Signed by a log the policy does not list. */
	{
		struct gb_tlog_policy *p = NULL;
		struct gb_note_key other;
		char *v, *s, *note = note_with(3, 0, NOW);

		ASSERT_EQ(gb_note_key_generate("log.test/policy", &other), 0);
		ASSERT_EQ(gb_note_vkey_format(&other, &v), 0);
		s = malloc(strlen(v) + 32);
		ASSERT(s != NULL);
		sprintf(s, "log %s\nquorum none\n", v);
		ASSERT_EQ(gb_tlog_policy_parse(s, strlen(s), &p, NULL), 0);
		ASSERT_EQ(gb_tlog_policy_check(p, note, strlen(note), NOW, &r),
		    0);
		ASSERT_EQ(r.trusted, 0);
		ASSERT_STR_EQ(r.reason, "bad_log_signature");
		/* Not a note at all. */
		ASSERT_EQ(gb_tlog_policy_check(p, "x\n", 2, NOW, &r),
		    GB_EINVAL);
		ASSERT_EQ(gb_tlog_policy_check(p, note, 20, NOW, &r),
		    GB_EINVAL);
		gb_tlog_policy_free(p);
		free(s);
		free(v);
		free(note);
	}
}

TEST_MAIN(
	T(every_line_kind),
	T(refusals),
	T(limits),
	T(quorum),
)
