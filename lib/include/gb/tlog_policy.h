/*
 * Transparency log trust policies (c2sp.org/tlog-policy): which logs sign
 * checkpoints, which witnesses cosign them, and the quorum of witnesses a
 * checkpoint needs before anyone trusts it. The verifier (--policy),
 * `glassbox check-verdict --policy`, mirrors and the web page (web/check.js,
 * the same rules) all evaluate a checkpoint note against one of these.
 *
 * A policy file is lines of space- or tab-separated items:
 *
 *     log VKEY [URL]
 *     witness NAME VKEY [URL]
 *     group NAME all|any|K MEMBER...
 *     quorum NAME|none
 *
 * plus blank lines and comments ("#" first). Log keys are signed-note
 * Ed25519 verifier keys (type 0x01); witness keys are cosignature/v1 keys
 * (type 0x04, gb/witness.h): other types are refused. docs/witness.md,
 * "Policy", has every rule this parser applies.
 */
#ifndef GB_TLOG_POLICY_H
#define GB_TLOG_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gb/note.h"
#include "gb/witness.h"

/* The limits tlog-policy recommends every implementation supports: 32
 * logs, 32 witnesses, 32 groups. More is refused, never truncated. */
#define GB_TLOG_POLICY_LOGS_MAX 32
#define GB_TLOG_POLICY_WITNESSES_MAX 32
#define GB_TLOG_POLICY_GROUPS_MAX 32
/* A whole policy file: 32 + 32 lines of a key (about 100 bytes) and a URL,
 * groups and comments fit many times over. */
#define GB_TLOG_POLICY_MAX_BYTES 65536
/* One line; a URL longer than this is not one anyone types. */
#define GB_TLOG_POLICY_LINE_MAX 2048
/* Witness and group names, in bytes (opaque octets, as the spec says). */
#define GB_TLOG_POLICY_NAME_MAX 255
/* How far a cosignature's timestamp may be ahead of the checker's clock,
 * in seconds (the same allowance as a verdict's iat). */
#define GB_TLOG_POLICY_SKEW_S 60

struct gb_tlog_policy;

/* Why a policy file was refused: the line (1-based; 0 for the file as a
 * whole) and a sentence. */
struct gb_tlog_policy_error {
	unsigned line;
	char message[160];
};

/*
 * Parses a policy file text[0..len). Returns 0 and a new policy in *out
 * (free with gb_tlog_policy_free()), GB_EINVAL with *err filled when the
 * file breaks a rule (err may be NULL), GB_ENOMEM.
 */
int gb_tlog_policy_parse(const char *text, size_t len,
    struct gb_tlog_policy **out, struct gb_tlog_policy_error *err);

/* gb_tlog_policy_parse() of the file at path (at most
 * GB_TLOG_POLICY_MAX_BYTES): 0, GB_EINVAL (err says why; line 0 and the
 * I/O error's sentence when the file cannot be read), GB_ETOOBIG,
 * GB_ENOMEM. */
int gb_tlog_policy_read_file(const char *path, struct gb_tlog_policy **out,
    struct gb_tlog_policy_error *err);

/* Frees p; NULL is allowed. */
void gb_tlog_policy_free(struct gb_tlog_policy *p);

/* What the policy holds (pointers borrowed from p). */
size_t gb_tlog_policy_nlogs(const struct gb_tlog_policy *p);
/* The i-th log's key and URL (NULL when none). */
const struct gb_note_key *gb_tlog_policy_log(const struct gb_tlog_policy *p,
    size_t i, const char **url);
size_t gb_tlog_policy_nwitnesses(const struct gb_tlog_policy *p);
/* The i-th witness (in file order): its policy name, key and URL. */
const struct gb_cosig_key *gb_tlog_policy_witness(
    const struct gb_tlog_policy *p, size_t i, const char **name,
    const char **url);
/* The quorum's name ("none" when no cosignature is required). */
const char *gb_tlog_policy_quorum(const struct gb_tlog_policy *p);

/* One witness's cosignature of a checkpoint, as evaluated. */
enum gb_tlog_cosig_state {
	GB_TLOG_COSIG_MISSING = 0,  /* no line by its key */
	GB_TLOG_COSIG_VERIFIED,     /* a cosignature/v1 that verifies */
	GB_TLOG_COSIG_BAD,          /* a line by its key that fails */
	GB_TLOG_COSIG_FUTURE,       /* verifies, but timestamped ahead of now
	                             * by more than GB_TLOG_POLICY_SKEW_S */
};

/* "missing", "verified", "bad", "future". */
const char *gb_tlog_cosig_state_name(enum gb_tlog_cosig_state s);

struct gb_tlog_policy_result {
	bool log_signed;     /* signed by one of the policy's logs, or the
	                      * policy lists none (the caller checks the log
	                      * key it pins) */
	bool quorum;         /* the quorum rule holds over the verified ones */
	bool bad;            /* some witness's line failed (BAD or FUTURE) */
	bool trusted;        /* log_signed && quorum && !bad */
	const char *reason;  /* NULL when trusted; else "bad_log_signature",
	                      * "bad_cosignature" or "below_quorum" */
	size_t nwitnesses;
	struct {
		const char *name;   /* borrowed from the policy */
		enum gb_tlog_cosig_state state;
		uint64_t time;      /* the cosignature's timestamp, if any */
	} witness[GB_TLOG_POLICY_WITNESSES_MAX];
	struct gb_checkpoint checkpoint;  /* origin, size, root of the note */
};

/*
 * Evaluates the checkpoint note[0..len) (text, blank line, signature
 * lines: as served, with its cosignatures) against p at time now_s
 * (seconds since 1970). Returns 0 with *r filled (r->trusted says whether
 * to trust it); GB_EINVAL when the note is not a signed note whose text is
 * a checkpoint (*r is zeroed then).
 */
int gb_tlog_policy_check(const struct gb_tlog_policy *p, const char *note,
    size_t len, int64_t now_s, struct gb_tlog_policy_result *r);

#endif /* GB_TLOG_POLICY_H */
