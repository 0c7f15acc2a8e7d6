/*
 * A read-only registry handle for a service that reads the same few rows
 * on every request: its statements are prepared once and kept (SQLite's
 * sqlite3_prepare_v2() costs more than the lookups themselves), and the
 * latest checkpoint can be read cheaply, which is how a caller notices that
 * the log changed (every change to the registry appends a leaf and a
 * checkpoint in one transaction, so the latest checkpoint names the state).
 *
 * One reader belongs to one thread at a time (as a SQLite connection does).
 */
#ifndef GB_REGREAD_H
#define GB_REGREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gb/registry.h"

struct gb_reg_reader;

/* Opens the registry at db read-only. Returns 0 and a new reader in *out
 * (free with gb_reg_reader_close()), or -1 with e set. */
int gb_reg_reader_open(const char *db, struct gb_reg_reader **out,
    struct gb_reg_error *e);

/* The registry handle under the reader (borrowed, valid until
 * gb_reg_reader_close()), for the functions of gb/registry.h. */
struct gb_registry *gb_reg_reader_registry(struct gb_reg_reader *rd);

/* The latest checkpoint note and the tree size it names, read through a
 * statement prepared once. *note points into the reader (borrowed until
 * the next call on rd), NUL-terminated, *len bytes. *changed says whether
 * the database changed in any way since the reader's previous call (any
 * commit by anyone, even one that bypassed the log; true on the first
 * call): SQLite's data version, read in the same transaction. Returns 0,
 * or -1 with e set ("bad_database" when the log has no checkpoint). */
int gb_reg_reader_latest(struct gb_reg_reader *rd, const char **note,
    size_t *len, uint64_t *size, bool *changed, struct gb_reg_error *e);

/* gb_registry_by_pcr0() through a statement prepared once. */
int gb_reg_reader_by_pcr0(struct gb_reg_reader *rd, const char *pcr0,
    uint64_t *index, char id[17], int64_t *revoked, struct gb_reg_error *e);

/* gb_registry_leaf() through a statement prepared once: *json is a new
 * string. */
int gb_reg_reader_leaf(struct gb_reg_reader *rd, uint64_t index, char **json,
    struct gb_reg_error *e);

/* Finalizes the statements and closes the registry; NULL is allowed. */
void gb_reg_reader_close(struct gb_reg_reader *rd);

#endif /* GB_REGREAD_H */
