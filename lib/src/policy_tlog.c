/*
 * c2sp.org/tlog-policy files (gb/tlog_policy.h): the parser, and the
 * evaluation of a checkpoint note's cosignatures against the quorum.
 *
 * The file is untrusted input as much as a note is (a policy may be given
 * by a user, or fetched once by the page): it is read with a cursor and an
 * end, every count is bounded by a named limit, and anything the spec does
 * not define is refused rather than skipped, so two readers of one file
 * can never disagree about what it says.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb/codec.h"
#include "gb/err.h"
#include "gb/tlog_policy.h"

#define NODES_MAX (GB_TLOG_POLICY_WITNESSES_MAX + GB_TLOG_POLICY_GROUPS_MAX)
/* Items on one line: "group NAME K" and every defined name once. */
#define ITEMS_MAX (3 + NODES_MAX)
#define URL_MAX GB_TLOG_POLICY_LINE_MAX

/* A witness or a group: they share one namespace. */
struct node {
	char name[GB_TLOG_POLICY_NAME_MAX + 1];
	bool group;
	struct gb_cosig_key key;        /* a witness's */
	char *url;                      /* a witness's, from malloc(), or NULL */
	unsigned k, n;                  /* a group's threshold and size */
	unsigned member[NODES_MAX];     /* indices of earlier nodes */
};

struct gb_tlog_policy {
	size_t nlogs;
	struct gb_note_key log[GB_TLOG_POLICY_LOGS_MAX];
	char *log_url[GB_TLOG_POLICY_LOGS_MAX];  /* from malloc(), or NULL */
	size_t nnodes, nwitnesses, ngroups;
	struct node node[NODES_MAX];
	int quorum;                     /* a node index; -1: "none" */
	bool has_quorum;
};

/* An item of a line: a span of the text. */
struct item {
	const char *s;
	size_t n;
};

static int
fail(struct gb_tlog_policy_error *err, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records why the file is refused; returns GB_EINVAL. */
static int
fail(struct gb_tlog_policy_error *err, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		err->line = line;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	return GB_EINVAL;
}

static bool
item_is(const struct item *it, const char *word)
{
	return it->n == strlen(word) && memcmp(it->s, word, it->n) == 0;
}

/* The node named by it, or -1. */
static int
find_node(const struct gb_tlog_policy *p, const struct item *it)
{
	for (size_t i = 0; i < p->nnodes; i++)
		if (strlen(p->node[i].name) == it->n &&
		    memcmp(p->node[i].name, it->s, it->n) == 0)
			return (int)i;
	return -1;
}

/* A copy of it as a new string (NULL: no memory). */
static char *
item_dup(const struct item *it)
{
	char *s = malloc(it->n + 1);

	if (s != NULL) {
		memcpy(s, it->s, it->n);
		s[it->n] = '\0';
	}
	return s;
}

/* A new name: not too long, not "none", not defined before. */
static int
new_name(const struct gb_tlog_policy *p, const struct item *it,
    unsigned line, struct gb_tlog_policy_error *err)
{
	if (it->n > GB_TLOG_POLICY_NAME_MAX)
		return fail(err, line, "a name is longer than %s bytes",
		    "255");
	if (item_is(it, "none"))
		return fail(err, line, "%s is predefined and cannot be "
		    "defined again", "none");
	if (find_node(p, it) >= 0)
		return fail(err, line, "%s", "a witness or group of this "
		    "name is defined already (they share one namespace)");
	return 0;
}

static int
parse_log(struct gb_tlog_policy *p, const struct item *it, size_t n,
    unsigned line, struct gb_tlog_policy_error *err)
{
	char buf[GB_TLOG_POLICY_LINE_MAX + 1];
	struct gb_note_key k;

	if (n != 2 && n != 3)
		return fail(err, line, "%s", "a log line is \"log VKEY [URL]\"");
	if (p->nlogs == GB_TLOG_POLICY_LOGS_MAX)
		return fail(err, line, "more logs than the limit of %s", "32");
	memcpy(buf, it[1].s, it[1].n);
	buf[it[1].n] = '\0';
	if (gb_note_vkey_parse(buf, &k) != 0)
		return fail(err, line, "%s", "the log key is not an Ed25519 "
		    "signed-note verifier key (NAME+KEYID+BASE64, type 0x01)");
	for (size_t i = 0; i < p->nlogs; i++)
		if (memcmp(p->log[i].pub, k.pub, sizeof k.pub) == 0)
			return fail(err, line, "%s", "a log with this public key "
			    "is listed already");
	if (n == 3 && (p->log_url[p->nlogs] = item_dup(&it[2])) == NULL)
		return GB_ENOMEM;
	p->log[p->nlogs++] = k;
	return 0;
}

static int
parse_witness(struct gb_tlog_policy *p, const struct item *it, size_t n,
    unsigned line, struct gb_tlog_policy_error *err)
{
	char buf[GB_TLOG_POLICY_LINE_MAX + 1];
	struct node *w;
	int rc;

	if (n != 3 && n != 4)
		return fail(err, line, "%s", "a witness line is \"witness NAME "
		    "VKEY [URL]\"");
	if ((rc = new_name(p, &it[1], line, err)) != 0)
		return rc;
	if (p->nwitnesses == GB_TLOG_POLICY_WITNESSES_MAX)
		return fail(err, line, "more witnesses than the limit of %s",
		    "32");
	w = &p->node[p->nnodes];
	memset(w, 0, sizeof *w);
	memcpy(buf, it[2].s, it[2].n);
	buf[it[2].n] = '\0';
	if (gb_cosig_vkey_parse(buf, &w->key) != 0)
		return fail(err, line, "%s", "the witness key is not a "
		    "cosignature/v1 verifier key (NAME+KEYID+BASE64, type "
		    "0x04)");
	for (size_t i = 0; i < p->nnodes; i++)
		if (!p->node[i].group && memcmp(p->node[i].key.pub,
		    w->key.pub, sizeof w->key.pub) == 0)
			return fail(err, line, "a witness with this public key "
			    "is listed already (as %s)", p->node[i].name);
	memcpy(w->name, it[1].s, it[1].n);
	w->name[it[1].n] = '\0';
	if (n == 4 && (w->url = item_dup(&it[3])) == NULL)
		return GB_ENOMEM;
	p->nnodes++;
	p->nwitnesses++;
	return 0;
}

/* k: "all", "any" or decimal digits (1 <= k <= n, checked by the caller);
 * 0 when it is none of these. */
static unsigned
threshold(const struct item *it, unsigned n)
{
	unsigned long v = 0;

	if (item_is(it, "all"))
		return n;
	if (item_is(it, "any"))
		return 1;
	/* More digits than NODES_MAX can have is out of range anyway; the
	 * cap keeps the arithmetic far from overflow. */
	if (it->n == 0 || it->n > 9)
		return 0;
	for (size_t i = 0; i < it->n; i++) {
		if (it->s[i] < '0' || it->s[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(it->s[i] - '0');
	}
	return v <= NODES_MAX ? (unsigned)v : 0;
}

static int
parse_group(struct gb_tlog_policy *p, const struct item *it, size_t n,
    unsigned line, struct gb_tlog_policy_error *err)
{
	struct node *g;
	unsigned members;
	int rc;

	if (n < 4)
		return fail(err, line, "%s", "a group line is \"group NAME "
		    "all|any|K MEMBER...\" with at least one member");
	if ((rc = new_name(p, &it[1], line, err)) != 0)
		return rc;
	if (p->ngroups == GB_TLOG_POLICY_GROUPS_MAX)
		return fail(err, line, "more groups than the limit of %s", "32");
	members = (unsigned)(n - 3);
	g = &p->node[p->nnodes];
	memset(g, 0, sizeof *g);
	g->group = true;
	g->n = members;
	g->k = threshold(&it[2], members);
	if (g->k < 1 || g->k > members)
		return fail(err, line, "%s", "the threshold is not all, any or "
		    "a decimal K with 1 <= K <= the number of members");
	for (unsigned i = 0; i < members; i++) {
		const struct item *m = &it[3 + i];
		int idx;

		if (item_is(m, "none"))
			return fail(err, line, "%s cannot be a group member",
			    "none");
		if ((idx = find_node(p, m)) < 0)
			return fail(err, line, "%s", "a member is not a "
			    "witness or group defined on an earlier line");
		for (unsigned j = 0; j < i; j++)
			if (g->member[j] == (unsigned)idx)
				return fail(err, line, "%s", "a member is "
				    "listed twice in one group");
		g->member[i] = (unsigned)idx;
	}
	memcpy(g->name, it[1].s, it[1].n);
	g->name[it[1].n] = '\0';
	p->nnodes++;
	p->ngroups++;
	return 0;
}

static int
parse_quorum(struct gb_tlog_policy *p, const struct item *it, size_t n,
    unsigned line, struct gb_tlog_policy_error *err)
{
	if (n != 2)
		return fail(err, line, "%s", "a quorum line is \"quorum "
		    "NAME\"");
	if (p->has_quorum)
		return fail(err, line, "%s", "a second quorum line (a policy "
		    "has exactly one)");
	if (item_is(&it[1], "none"))
		p->quorum = -1;
	else if ((p->quorum = find_node(p, &it[1])) < 0)
		return fail(err, line, "%s", "the quorum is not a witness or "
		    "group defined on an earlier line");
	p->has_quorum = true;
	return 0;
}

/* One line s[0..n) (no newline): its items, then its definition. */
static int
parse_line(struct gb_tlog_policy *p, const char *s, size_t n, unsigned line,
    struct gb_tlog_policy_error *err)
{
	struct item it[ITEMS_MAX];
	size_t ni = 0, i = 0;

	while (i < n) {
		size_t start;

		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == n)
			break;
		if (ni == 0 && s[i] == '#')
			return 0;
		if (ni == ITEMS_MAX)
			return fail(err, line, "%s", "more items on a line than "
			    "any definition can have");
		start = i;
		while (i < n && s[i] != ' ' && s[i] != '\t')
			i++;
		it[ni++] = (struct item){ s + start, i - start };
	}
	if (ni == 0)
		return 0;
	if (item_is(&it[0], "log"))
		return parse_log(p, it, ni, line, err);
	if (item_is(&it[0], "witness"))
		return parse_witness(p, it, ni, line, err);
	if (item_is(&it[0], "group"))
		return parse_group(p, it, ni, line, err);
	if (item_is(&it[0], "quorum"))
		return parse_quorum(p, it, ni, line, err);
	return fail(err, line, "%s", "an unknown kind of line (log, witness, "
	    "group, quorum, a comment or a blank line)");
}

int
gb_tlog_policy_parse(const char *text, size_t len,
    struct gb_tlog_policy **out, struct gb_tlog_policy_error *err)
{
	struct gb_tlog_policy *p = NULL;
	const char *s = text, *end = text + len;
	unsigned line = 0;
	int rc;

	if (err != NULL)
		memset(err, 0, sizeof *err);
	if (len > GB_TLOG_POLICY_MAX_BYTES) {
		rc = fail(err, 0, "the policy is larger than %s bytes",
		    "65536");
		goto out;
	}
	/* Tab, newline, printable ASCII and any octet with the high bit:
	 * nothing else (no CR, no NUL), before any line is read. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c < 0x20 && c != '\t' && c != '\n') {
			rc = fail(err, 0, "%s", "the policy has a control "
			    "character other than tab and newline");
			goto out;
		}
		if (c == 0x7f) {
			rc = fail(err, 0, "%s", "the policy has a DEL "
			    "character");
			goto out;
		}
	}
	if ((p = calloc(1, sizeof *p)) == NULL) {
		rc = GB_ENOMEM;
		goto out;
	}
	/* A last line without its newline is read as if it had one. */
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl != NULL ? (size_t)(nl - s) : (size_t)(end - s);

		line++;
		if (n > GB_TLOG_POLICY_LINE_MAX) {
			rc = fail(err, line, "a line is longer than %s bytes",
			    "2048");
			goto out;
		}
		if ((rc = parse_line(p, s, n, line, err)) != 0)
			goto out;
		s += n + (nl != NULL);
	}
	if (!p->has_quorum) {
		rc = fail(err, 0, "%s", "the policy has no quorum line");
		goto out;
	}
	*out = p;
	p = NULL;
	rc = 0;
out:
	gb_tlog_policy_free(p);
	return rc;
}

int
gb_tlog_policy_read_file(const char *path, struct gb_tlog_policy **out,
    struct gb_tlog_policy_error *err)
{
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if ((rc = gb_read_file(path, GB_TLOG_POLICY_MAX_BYTES, &buf,
	    &len)) != 0) {
		if (err != NULL) {
			err->line = 0;
			snprintf(err->message, sizeof err->message, "%s",
			    rc == GB_ETOOBIG ? "the policy is larger than 65536 "
			    "bytes" : gb_strerror(rc));
		}
		return rc == GB_ENOMEM || rc == GB_ETOOBIG ? rc : GB_EINVAL;
	}
	rc = gb_tlog_policy_parse((const char *)buf, len, out, err);
	free(buf);
	return rc;
}

void
gb_tlog_policy_free(struct gb_tlog_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nlogs; i++)
		free(p->log_url[i]);
	for (size_t i = 0; i < p->nnodes; i++)
		free(p->node[i].url);
	free(p);
}

size_t
gb_tlog_policy_nlogs(const struct gb_tlog_policy *p)
{
	return p->nlogs;
}

const struct gb_note_key *
gb_tlog_policy_log(const struct gb_tlog_policy *p, size_t i, const char **url)
{
	if (i >= p->nlogs)
		return NULL;
	if (url != NULL)
		*url = p->log_url[i];
	return &p->log[i];
}

size_t
gb_tlog_policy_nwitnesses(const struct gb_tlog_policy *p)
{
	return p->nwitnesses;
}

const struct gb_cosig_key *
gb_tlog_policy_witness(const struct gb_tlog_policy *p, size_t i,
    const char **name, const char **url)
{
	for (size_t j = 0; j < p->nnodes; j++) {
		if (p->node[j].group)
			continue;
		if (i-- == 0) {
			if (name != NULL)
				*name = p->node[j].name;
			if (url != NULL)
				*url = p->node[j].url;
			return &p->node[j].key;
		}
	}
	return NULL;
}

const char *
gb_tlog_policy_quorum(const struct gb_tlog_policy *p)
{
	return p->quorum < 0 ? "none" : p->node[p->quorum].name;
}

const char *
gb_tlog_cosig_state_name(enum gb_tlog_cosig_state s)
{
	switch (s) {
	case GB_TLOG_COSIG_VERIFIED:
		return "verified";
	case GB_TLOG_COSIG_BAD:
		return "bad";
	case GB_TLOG_COSIG_FUTURE:
		return "future";
	default:
		return "missing";
	}
}

int
gb_tlog_policy_check(const struct gb_tlog_policy *p, const char *note,
    size_t len, int64_t now_s, struct gb_tlog_policy_result *r)
{
	bool witnessed[NODES_MAX] = { false };
	struct gb_note_opened o;
	const char *sigs;
	size_t text_len = 0, sigs_len, wi = 0;

	memset(r, 0, sizeof *r);
	if (len > GB_NOTE_MAX_BYTES)
		return GB_EINVAL;
	/* The text ends at the first blank line; signature lines follow. */
	for (size_t i = 0; i + 1 < len; i++) {
		if (note[i] == '\n' && note[i + 1] == '\n') {
			text_len = i + 1;
			break;
		}
	}
	if (text_len == 0 || gb_witness_checkpoint_parse(note, text_len,
	    &r->checkpoint) != 0) {
		memset(r, 0, sizeof *r);
		return GB_EINVAL;
	}
	sigs = note + text_len + 1;
	sigs_len = len - text_len - 1;
	if (sigs_len == 0 || note[len - 1] != '\n') {
		memset(r, 0, sizeof *r);
		return GB_EINVAL;
	}
	r->log_signed = p->nlogs == 0 ||
	    (gb_note_open(note, len, p->log, p->nlogs, &o) == 0 &&
	    o.text_len == text_len);

	for (size_t i = 0; i < p->nnodes; i++) {
		const struct node *nd = &p->node[i];

		if (nd->group) {
			unsigned got = 0;

			for (unsigned j = 0; j < nd->n; j++)
				got += witnessed[nd->member[j]];
			witnessed[i] = got >= nd->k;
			continue;
		}
		{
			uint64_t t = 0;
			size_t off, n;
			int rc = gb_cosig_find(&nd->key, note, text_len, sigs,
			    sigs_len, &t, &off, &n);
			enum gb_tlog_cosig_state st;

			if (rc == GB_ENOENT)
				st = GB_TLOG_COSIG_MISSING;
			else if (rc != 0)
				st = GB_TLOG_COSIG_BAD;
			else if (now_s < 0 || (t > (uint64_t)now_s &&
			    t - (uint64_t)now_s > GB_TLOG_POLICY_SKEW_S))
				st = GB_TLOG_COSIG_FUTURE;
			else
				st = GB_TLOG_COSIG_VERIFIED;
			witnessed[i] = st == GB_TLOG_COSIG_VERIFIED;
			r->bad |= st == GB_TLOG_COSIG_BAD ||
			    st == GB_TLOG_COSIG_FUTURE;
			r->witness[wi].name = nd->name;
			r->witness[wi].state = st;
			r->witness[wi].time = st == GB_TLOG_COSIG_MISSING ||
			    st == GB_TLOG_COSIG_BAD ? 0 : t;
			wi++;
		}
	}
	r->nwitnesses = wi;
	r->quorum = p->quorum < 0 || witnessed[p->quorum];
	r->trusted = r->log_signed && r->quorum && !r->bad;
	r->reason = !r->log_signed ? "bad_log_signature" :
	    r->bad ? "bad_cosignature" : !r->quorum ? "below_quorum" : NULL;
	return 0;
}
