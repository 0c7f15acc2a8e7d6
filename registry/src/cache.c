/*
 * gb/regread.h: a read-only registry handle whose statements are prepared
 * once. It lives in a file of its own so that registry.c keeps its simple
 * prepare-per-call queries for the CLI.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb/regread.h"
#include "reg_int.h"

struct gb_reg_reader {
	struct gb_registry *r;          /* owned */
	sqlite3_stmt *latest, *by_pcr0, *leaf;  /* prepared on first use */
	char *note;                     /* the last note read, from malloc() */
	size_t note_cap;
	bool seen;                      /* data_version holds a value */
	unsigned data_version;          /* SQLite's, at the previous call */
};

int
gb_reg_reader_open(const char *db, struct gb_reg_reader **out,
    struct gb_reg_error *e)
{
	struct gb_reg_reader *rd;

	*out = NULL;
	if ((rd = calloc(1, sizeof *rd)) == NULL)
		return gb__reg_fail(e, "no_memory", "out of memory");
	if (gb_registry_open(db, false, &rd->r, e) != 0) {
		free(rd);
		return -1;
	}
	*out = rd;
	return 0;
}

struct gb_registry *
gb_reg_reader_registry(struct gb_reg_reader *rd)
{
	return rd->r;
}

/* The statement in *st, prepared on first use, reset for reuse. */
static sqlite3_stmt *
stmt(struct gb_reg_reader *rd, sqlite3_stmt **st, const char *sql,
    struct gb_reg_error *e)
{
	if (*st == NULL && sqlite3_prepare_v3(rd->r->db, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
		gb__reg_fail(e, "db_error", "prepare: %s",
		    sqlite3_errmsg(rd->r->db));
		return NULL;
	}
	return *st;
}

/* Ends a statement's run: reset (which ends its read transaction) and
 * unbound. */
static void
done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int
gb_reg_reader_latest(struct gb_reg_reader *rd, const char **note,
    size_t *len, uint64_t *size, bool *changed, struct gb_reg_error *e)
{
	sqlite3_stmt *st = stmt(rd, &rd->latest, "SELECT size, note FROM "
	    "checkpoints ORDER BY size DESC LIMIT 1", e);
	const unsigned char *t;
	unsigned dv = 0;
	size_t n;
	int rc, out = -1;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	/* While the statement's read transaction is open, the pager's data
	 * version is that of the snapshot read (it is brought up to date
	 * when a transaction starts). */
	if (sqlite3_file_control(rd->r->db, "main", SQLITE_FCNTL_DATA_VERSION,
	    &dv) != SQLITE_OK) {
		gb__reg_fail(e, "db_error", "reading the data version");
		goto out;
	}
	if (rc == SQLITE_DONE) {
		gb__reg_fail(e, "bad_database", "the log has no checkpoint");
		goto out;
	}
	if (rc != SQLITE_ROW || sqlite3_column_int64(st, 0) < 0 ||
	    (t = sqlite3_column_text(st, 1)) == NULL) {
		gb__reg_fail(e, "db_error", "reading the checkpoint: %s",
		    sqlite3_errmsg(rd->r->db));
		goto out;
	}
	n = (size_t)sqlite3_column_bytes(st, 1);
	if (n + 1 > rd->note_cap) {
		char *p = realloc(rd->note, n + 1);

		if (p == NULL) {
			gb__reg_fail(e, "no_memory", "out of memory");
			goto out;
		}
		rd->note = p;
		rd->note_cap = n + 1;
	}
	memcpy(rd->note, t, n);
	rd->note[n] = '\0';
	*note = rd->note;
	*len = n;
	*size = (uint64_t)sqlite3_column_int64(st, 0);
	*changed = !rd->seen || dv != rd->data_version;
	rd->seen = true;
	rd->data_version = dv;
	out = 0;
out:
	done(st);
	/* With the witnesses' cosignatures of that size, as
	 * gb_registry_checkpoint() serves it: the verifier's receipts carry
	 * them, and a new cosignature is a new note (its caches start over). */
	if (out == 0) {
		char *before = rd->note;

		if (gb__cosigned(rd->r, &rd->note, e) != 0) {
			free(rd->note);
			rd->note = NULL;
			rd->note_cap = 0;
			return -1;
		}
		if (rd->note != before)
			rd->note_cap = strlen(rd->note) + 1;
		*note = rd->note;
		*len = strlen(rd->note);
	}
	return out;
}

int
gb_reg_reader_by_pcr0(struct gb_reg_reader *rd, const char *pcr0,
    uint64_t *index, char id[17], int64_t *revoked, struct gb_reg_error *e)
{
	sqlite3_stmt *st = stmt(rd, &rd->by_pcr0, "SELECT leaf, id, "
	    "coalesce(revoked, -1) FROM releases WHERE pcr0 = ?", e);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, pcr0, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*index = (uint64_t)sqlite3_column_int64(st, 0);
		snprintf(id, 17, "%s", (const char *)sqlite3_column_text(st, 1));
		*revoked = sqlite3_column_int64(st, 2);
	}
	done(st);
	if (rc == SQLITE_DONE)
		return gb__reg_fail(e, "not_found", "no release has this PCR0");
	if (rc != SQLITE_ROW)
		return gb__reg_fail(e, "db_error", "query: %s",
		    sqlite3_errmsg(rd->r->db));
	return 0;
}

int
gb_reg_reader_leaf(struct gb_reg_reader *rd, uint64_t index, char **json,
    struct gb_reg_error *e)
{
	sqlite3_stmt *st = stmt(rd, &rd->leaf, "SELECT body FROM leaves WHERE "
	    "idx = ?", e);
	const unsigned char *t;
	int rc, out = 0;

	*json = NULL;
	if (st == NULL)
		return -1;
	if (index > INT64_MAX) {
		done(st);
		return gb__reg_fail(e, "not_found", "no entry %" PRIu64, index);
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && (t = sqlite3_column_text(st, 0)) != NULL) {
		if ((*json = strdup((const char *)t)) == NULL)
			out = gb__reg_fail(e, "no_memory", "out of memory");
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		out = gb__reg_fail(e, "not_found", "no entry %" PRIu64, index);
	} else {
		out = gb__reg_fail(e, "db_error", "query: %s",
		    sqlite3_errmsg(rd->r->db));
	}
	done(st);
	return out;
}

void
gb_reg_reader_close(struct gb_reg_reader *rd)
{
	if (rd == NULL)
		return;
	/* Finalized before the connection closes, or it would stay open. */
	sqlite3_finalize(rd->latest);
	sqlite3_finalize(rd->by_pcr0);
	sqlite3_finalize(rd->leaf);
	gb_registry_close(rd->r);
	free(rd->note);
	free(rd);
}
