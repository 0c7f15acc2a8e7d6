/*
 * The log as static files (C2SP tlog-tiles): a directory that any web
 * server, object store or CDN can serve, and from which a client or a
 * mirror can rebuild every tree head and every entry.
 *
 *   checkpoint                    the latest signed note
 *   tile/<L>/<N>[.p/<W>]          hashes: W (256 when full) consecutive
 *                                 nodes of tree level 8L, from 256N
 *   tile/entries/<N>[.p/<W>]      the leaves 256N.. as they were hashed,
 *                                 each after its length (uint16, big endian)
 *
 * The tree's nodes table already holds every perfect subtree, so a tile is
 * a range of one of its levels. Writes are ordered so that a reader never
 * sees a torn file or a checkpoint the tiles cannot back: every file goes
 * through gb_write_file_atomic() (temporary file, fsync, rename, directory
 * fsync), tiles first and the checkpoint last, and a checkpoint never
 * replaces a larger one. Full tiles are immutable: one that is already
 * there must hold exactly the bytes this log gives it, or nothing more is
 * written (a directory shared with another log, or damaged, is refused
 * rather than mixed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "gb/fileio.h"
#include "gb/note.h"
#include "reg_int.h"

#define TILE_PATH_MAX 4096

/* "x001/x234/067" for 1234067: groups of three digits, all but the last
 * with an x. */
static void
index_path(uint64_t n, char *out, size_t cap)
{
	unsigned groups[7], k = 0;
	size_t o = 0;

	do {
		groups[k++] = (unsigned)(n % 1000);
		n /= 1000;
	} while (n > 0);
	while (k-- > 0)
		o += (size_t)snprintf(out + o, cap - o, "%s%03u%s", k > 0 ?
		    "x" : "", groups[k], k > 0 ? "/" : "");
}

int
gb_registry_tile_path(int level, uint64_t n, unsigned width, char *out,
    size_t cap)
{
	char idx[64];
	int len;

	if (width == 0 || width > GB_TILE_WIDTH || level < -1 ||
	    level > GB_TILE_LEVEL_MAX)
		return -1;
	index_path(n, idx, sizeof idx);
	if (level < 0)
		len = snprintf(out, cap, "tile/entries/%s", idx);
	else
		len = snprintf(out, cap, "tile/%d/%s", level, idx);
	if (len > 0 && width < GB_TILE_WIDTH)
		len += snprintf(out + len, cap > (size_t)len ? cap -
		    (size_t)len : 0, ".p/%u", width);
	return len > 0 && (size_t)len < cap ? 0 : -1;
}

/* How many nodes tree level 8 * level has in a tree of size leaves. */
static uint64_t
level_count(uint64_t size, int level)
{
	return 8 * level >= 64 ? 0 : size >> (8 * level);
}

/* The width of tile n of a level with count nodes (0: no such tile). */
static unsigned
tile_width(uint64_t count, uint64_t n)
{
	uint64_t first = n * GB_TILE_WIDTH;

	if (n > UINT64_MAX / GB_TILE_WIDTH || first >= count)
		return 0;
	return count - first >= GB_TILE_WIDTH ? GB_TILE_WIDTH :
	    (unsigned)(count - first);
}

static int
db_fail(struct gb_registry *r, struct gb_reg_error *e, const char *what)
{
	return gb__reg_fail(e, gb__sqlite_code(sqlite3_extended_errcode(r->db)),
	    "%s: %s", what, sqlite3_errmsg(r->db));
}

/* The hash tile's bytes: nodes n*256 .. n*256+width-1 of level 8*level. */
static int
hash_tile(struct gb_registry *r, int level, uint64_t n, unsigned width,
    uint8_t **out, size_t *len, struct gb_reg_error *e)
{
	uint64_t first = n * GB_TILE_WIDTH;
	sqlite3_stmt *st = NULL;
	uint8_t *buf;
	unsigned got = 0;
	int rc;

	if ((buf = malloc((size_t)width * GB_HASH_BYTES)) == NULL)
		return gb__reg_fail(e, "no_memory", "out of memory");
	if (sqlite3_prepare_v2(r->db, "SELECT idx, hash FROM nodes WHERE"
	    " level = ? AND idx >= ? AND idx < ? ORDER BY idx", -1, &st,
	    NULL) != SQLITE_OK) {
		free(buf);
		return db_fail(r, e, "prepare");
	}
	sqlite3_bind_int(st, 1, 8 * level);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)first);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)(first + width));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && got < width) {
		if ((uint64_t)sqlite3_column_int64(st, 0) != first + got ||
		    sqlite3_column_bytes(st, 1) != GB_HASH_BYTES)
			break;
		memcpy(buf + (size_t)got * GB_HASH_BYTES,
		    sqlite3_column_blob(st, 1), GB_HASH_BYTES);
		got++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_fail(r, e, "reading the tree");
		goto fail;
	}
	if (got != width) {
		gb__reg_fail(e, "log_damaged", "the tree lacks node %u of "
		    "level %d from %" PRIu64, got, 8 * level, first);
		goto fail;
	}
	sqlite3_finalize(st);
	*out = buf;
	*len = (size_t)width * GB_HASH_BYTES;
	return 0;
fail:
	sqlite3_finalize(st);
	free(buf);
	return -1;
}

/* The entry bundle's bytes: leaves n*256 .. n*256+width-1. */
static int
entry_bundle(struct gb_registry *r, uint64_t n, unsigned width,
    uint8_t **out, size_t *len, struct gb_reg_error *e)
{
	uint64_t first = n * GB_TILE_WIDTH;
	sqlite3_stmt *st = NULL;
	uint8_t *buf = NULL;
	size_t o = 0, cap = 0;
	unsigned got = 0;
	int rc;

	if (sqlite3_prepare_v2(r->db, "SELECT idx, body FROM leaves WHERE"
	    " idx >= ? AND idx < ? ORDER BY idx", -1, &st, NULL) != SQLITE_OK)
		return db_fail(r, e, "prepare");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)first);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(first + width));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && got < width) {
		const void *body = sqlite3_column_text(st, 1);
		size_t bl = (size_t)sqlite3_column_bytes(st, 1);

		if ((uint64_t)sqlite3_column_int64(st, 0) != first + got ||
		    body == NULL)
			break;
		if (bl > GB_REG_LEAF_MAX) {
			gb__reg_fail(e, "too_large", "leaf %" PRIu64 " is %zu "
			    "bytes: an entry bundle holds at most %d", first +
			    got, bl, GB_REG_LEAF_MAX);
			goto fail;
		}
		if (o + 2 + bl > cap) {
			size_t nc = (o + 2 + bl) * 2;
			uint8_t *nb = realloc(buf, nc);

			if (nb == NULL) {
				gb__reg_fail(e, "no_memory", "out of memory");
				goto fail;
			}
			buf = nb;
			cap = nc;
		}
		buf[o] = (uint8_t)(bl >> 8);
		buf[o + 1] = (uint8_t)bl;
		memcpy(buf + o + 2, body, bl);
		o += 2 + bl;
		got++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_fail(r, e, "reading the leaves");
		goto fail;
	}
	if (got != width) {
		gb__reg_fail(e, "log_damaged", "the log lacks leaf %" PRIu64,
		    first + got);
		goto fail;
	}
	sqlite3_finalize(st);
	*out = buf;
	*len = o;
	return 0;
fail:
	sqlite3_finalize(st);
	free(buf);
	return -1;
}

int
gb_registry_tile(struct gb_registry *r, uint64_t size, int level, uint64_t n,
    unsigned width, uint8_t **out, size_t *len, struct gb_reg_error *e)
{
	uint64_t count;

	*out = NULL;
	*len = 0;
	if (level < -1 || level > GB_TILE_LEVEL_MAX)
		return gb__reg_fail(e, "not_found", "no tile level %d", level);
	count = level_count(size, level < 0 ? 0 : level);
	/* A tile is served at the width the tree of this size gives it, or
	 * a smaller (older) partial width, never wider. */
	if (width == 0 || width > tile_width(count, n))
		return gb__reg_fail(e, "not_found", "no such tile in a tree of "
		    "%" PRIu64 " entries", size);
	return level < 0 ? entry_bundle(r, n, width, out, len, e) :
	    hash_tile(r, level, n, width, out, len, e);
}

static int
mkdirs(const char *path, struct gb_reg_error *e)
{
	char buf[TILE_PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof buf)
		return gb__reg_fail(e, "bad_path", "path too long");
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return gb__reg_fail(e, "io_error", "cannot make %s: %s",
			    buf, strerror(errno));
		if (c == '\0')
			return 0;
		*p = c;
	}
}

/* Reads at most max bytes of path: 1 and *out (new) if it exists, 0 if
 * not, -1 on error. */
static int
read_small(const char *path, size_t max, uint8_t **out, size_t *len,
    struct gb_reg_error *e)
{
	struct stat sb;
	ssize_t got = 0;
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return 0;
		return gb__reg_fail(e, "io_error", "cannot open %s: %s", path,
		    strerror(errno));
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size > max) {
		close(fd);
		return gb__reg_fail(e, "tiles_conflict", "%s is not a tile "
		    "this log wrote", path);
	}
	if ((*out = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		return gb__reg_fail(e, "no_memory", "out of memory");
	}
	while ((size_t)got < (size_t)sb.st_size) {
		ssize_t k = read(fd, *out + got, (size_t)sb.st_size - (size_t)got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += k;
	}
	close(fd);
	if ((size_t)got != (size_t)sb.st_size) {
		free(*out);
		*out = NULL;
		return gb__reg_fail(e, "io_error", "cannot read %s", path);
	}
	*len = (size_t)got;
	return 1;
}

/* Writes one file of the directory: a new one, or one whose bytes are
 * already these (full tiles, and partial ones written before, never
 * change). */
static int
put_file(const char *dir, const char *rel, const uint8_t *data, size_t len,
    bool replace, struct gb_reg_error *e)
{
	char path[TILE_PATH_MAX], *slash;
	uint8_t *old = NULL;
	size_t old_len = 0;
	int rc;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, rel) >=
	    sizeof path)
		return gb__reg_fail(e, "bad_path", "path too long");
	if (!replace) {
		rc = read_small(path, len, &old, &old_len, e);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			rc = old_len == len && memcmp(old, data, len) == 0 ? 0 :
			    gb__reg_fail(e, "tiles_conflict", "%s holds other "
			    "bytes than this log's: refusing to publish into "
			    "it", path);
			free(old);
			return rc;
		}
	}
	slash = strrchr(path, '/');
	*slash = '\0';
	rc = mkdirs(path, e);
	*slash = '/';
	if (rc != 0)
		return -1;
	/* A tile is a new file (O_TMPFILE and link: a crash leaves nothing
	 * behind); the checkpoint replaces its predecessor (a named temporary
	 * file, removed by the next write if a crash left it). */
	if (gb_write_file_atomic(path, data, len, 0644, replace ? 0 :
	    GB_WRITE_EXCL) != 0)
		return gb__reg_fail(e, "io_error", "cannot write %s: %s", path,
		    strerror(errno));
	return 0;
}

/* Removes checkpoint.tmp-XXXXXX files an interrupted write left in dir. */
static void
remove_leftovers(const char *dir)
{
	char path[TILE_PATH_MAX];
	struct dirent *d;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL)
		if (strncmp(d->d_name, "checkpoint.tmp-", 15) == 0 &&
		    (size_t)snprintf(path, sizeof path, "%s/%s", dir,
		    d->d_name) < sizeof path)
			(void)unlink(path);
	closedir(dp);
}

/* The tree size of the checkpoint file already in dir (0 if none). It must
 * be a checkpoint of this log, signed by its key. */
static int
published_size(struct gb_registry *r, const char *dir, uint64_t *size,
    struct gb_reg_error *e)
{
	char path[TILE_PATH_MAX];
	struct gb_note_opened o;
	struct gb_checkpoint c;
	struct gb_note_key k;
	uint8_t root[GB_HASH_BYTES];
	uint64_t have;
	uint8_t *old;
	size_t len;
	int rc;

	*size = 0;
	snprintf(path, sizeof path, "%s/checkpoint", dir);
	if ((rc = read_small(path, GB_NOTE_MAX_BYTES, &old, &len, e)) <= 0)
		return rc;
	rc = gb_note_vkey_parse(r->vkey, &k) != 0 ||
	    gb_note_open((const char *)old, len, &k, 1, &o) != 0 ||
	    gb_checkpoint_parse((const char *)old, o.text_len, &c) != 0 ||
	    strcmp(c.origin, r->origin) != 0;
	free(old);
	if (rc != 0)
		return gb__reg_fail(e, "tiles_conflict", "%s is not a "
		    "checkpoint of %s signed by its key", path, r->origin);
	/* Signed by this log's key, but of this history? A database
	 * restored from an older backup and grown again is another tree;
	 * its tiles must not be laid over the published ones. (A larger
	 * published tree is refused by the caller.) */
	if (gb_registry_size(r, &have) == 0 && c.size <= have) {
		struct gb_merkle_store st = gb__store_of(r);

		if (gb_merkle_root(&st, c.size, root) != 0 ||
		    memcmp(root, c.root, sizeof root) != 0)
			return gb__reg_fail(e, "tiles_conflict", "%s is of "
			    "another history than this log's at size %" PRIu64
			    " (a database restored and grown again?): "
			    "refusing to publish over it", path, c.size);
	}
	*size = c.size;
	return 0;
}

static int
write_tile(struct gb_registry *r, const char *dir, uint64_t size, int level,
    uint64_t n, unsigned width, struct gb_reg_error *e)
{
	char rel[256];
	uint8_t *data;
	size_t len;
	int rc;

	if (gb_registry_tile_path(level, n, width, rel, sizeof rel) != 0)
		return gb__reg_fail(e, "bad_path", "tile path");
	if (gb_registry_tile(r, size, level, n, width, &data, &len, e) != 0)
		return -1;
	rc = put_file(dir, rel, data, len, false, e);
	free(data);
	return rc;
}

/* Every tile of the tree of size leaves that is not behind done (the size
 * already published: its full tiles are there), then the checkpoint. */
static int
write_all(struct gb_registry *r, const char *dir, uint64_t done,
    uint64_t size, const char *note, struct gb_reg_error *e)
{
	for (int level = -1; level <= GB_TILE_LEVEL_MAX; level++) {
		uint64_t count = level_count(size, level < 0 ? 0 : level);
		uint64_t from = level_count(done, level < 0 ? 0 : level) /
		    GB_TILE_WIDTH;

		if (count == 0)
			break;
		for (uint64_t n = from; n * GB_TILE_WIDTH < count; n++)
			if (write_tile(r, dir, size, level, n,
			    tile_width(count, n), e) != 0)
				return -1;
	}
	return put_file(dir, "checkpoint", (const uint8_t *)note, strlen(note),
	    true, e);
}

int
gb_registry_write_tiles(struct gb_registry *r, const char *dir, bool full,
    struct gb_reg_error *e)
{
	uint64_t size, done = 0, had = 0;
	char *note = NULL;
	int lock = -1, rc = -1;

	if (mkdirs(dir, e) != 0)
		return -1;
	/* One writer per directory: two that raced could otherwise put an
	 * older checkpoint over a newer one. */
	if ((lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return gb__reg_fail(e, "io_error", "cannot open %s: %s", dir,
		    strerror(errno));
	while (flock(lock, LOCK_EX) != 0 && errno == EINTR)
		;
	remove_leftovers(dir);
	/* One snapshot of the log: its size, its nodes and leaves, and the
	 * checkpoint of that size. */
	if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(r, e, "begin");
		goto out;
	}
	if (gb_registry_size(r, &size) != 0) {
		db_fail(r, e, "reading the log size");
		goto rollback;
	}
	if (gb_registry_checkpoint_at(r, size, &note, e) != 0 ||
	    (full ? 0 : published_size(r, dir, &done, e)) != 0)
		goto rollback;
	/* Even a full rewrite never moves the published tree back. */
	if (full && published_size(r, dir, &had, e) != 0)
		goto rollback;
	if (done > size || had > size) {
		gb__reg_fail(e, "tiles_conflict", "%s/checkpoint is of %"
		    PRIu64 " entries, the log has %" PRIu64 ": refusing to "
		    "publish an older tree", dir, done > had ? done : had,
		    size);
		goto rollback;
	}
	/* Full tiles below done were written (and checked) before; the
	 * partial tiles at done's edge are rewritten as full or wider. */
	rc = write_all(r, dir, done, size, note, e);
rollback:
	(void)sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
out:
	free(note);
	close(lock);
	return rc;
}

int
gb_registry_tiles_dir(struct gb_registry *r, char **dir,
    struct gb_reg_error *e)
{
	sqlite3_stmt *st;
	int rc;

	*dir = NULL;
	if (sqlite3_prepare_v2(r->db, "SELECT v FROM meta WHERE k = 'tiles'",
	    -1, &st, NULL) != SQLITE_OK)
		return db_fail(r, e, "prepare");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL &&
	    (*dir = strdup((const char *)sqlite3_column_text(st, 0))) == NULL)
		rc = SQLITE_NOMEM;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(r, e, "query");
	return 0;
}

int
gb_registry_set_tiles_dir(struct gb_registry *r, const char *dir,
    struct gb_reg_error *e)
{
	sqlite3_stmt *st;
	int rc;

	if (!r->writable)
		return gb__reg_fail(e, "read_only", "the registry was opened "
		    "read-only");
	if (sqlite3_prepare_v2(r->db, dir != NULL ? "INSERT OR REPLACE INTO"
	    " meta(k, v) VALUES ('tiles', ?)" : "DELETE FROM meta WHERE k ="
	    " 'tiles'", -1, &st, NULL) != SQLITE_OK)
		return db_fail(r, e, "prepare");
	if (dir != NULL)
		sqlite3_bind_text(st, 1, dir, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(r, e, "storing the tiles "
	    "directory");
}

/* Rewrites dir's checkpoint with the cosignatures held now, if it is the
 * checkpoint of size (so its tiles are there; a larger one is never
 * replaced by an older one). */
static int
recosign(struct gb_registry *r, const char *dir, uint64_t size,
    struct gb_reg_error *e)
{
	uint64_t done = 0;
	char *note = NULL;
	int lock, rc = 0;

	if ((lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return gb__reg_fail(e, "io_error", "cannot open %s: %s", dir,
		    strerror(errno));
	while (flock(lock, LOCK_EX) != 0 && errno == EINTR)
		;
	if ((rc = published_size(r, dir, &done, e)) == 0 && done == size &&
	    (rc = gb_registry_checkpoint_at(r, size, &note, e)) == 0)
		rc = put_file(dir, "checkpoint", (const uint8_t *)note,
		    strlen(note), true, e);
	free(note);
	close(lock);
	return rc;
}

struct sync {
	struct gb_registry *r;
	const char *dir;                /* the tiles, or NULL */
	gb_reg_cosign_fn fn;
	void *arg;
};

/* A JSON line on standard error, as the services log. */
static void
log_event(const char *event, const char *witness, uint64_t size,
    const char *code, const char *detail)
{
	json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s}", "event", event,
	    "witness", witness ? witness : "", "size", (json_int_t)size,
	    "reason", code ? code : "", "detail", detail ? detail : "");
	char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;

	fprintf(stderr, "%s\n", line ? line : "{\"event\":\"witness\"}");
	free(line);
	json_decref(j);
}

static void
cosigned_one(void *arg, const struct gb_reg_cosign_result *res)
{
	struct sync *s = arg;
	struct gb_reg_error e = { "", "" };

	/* Published as soon as it is here: a slower witness does not hold
	 * back this one's cosignature. */
	if (res->ok && s->dir != NULL && recosign(s->r, s->dir, res->size,
	    &e) != 0 && s->fn == NULL)
		log_event("tiles_failed", res->name, res->size, e.code,
		    e.message);
	if (s->fn != NULL)
		s->fn(s->arg, res);
	else if (!res->ok)
		log_event("witness_failed", res->name, res->size, res->code,
		    res->message);
}

int
gb_registry_sync(struct gb_registry *r, gb_reg_cosign_fn fn, void *arg,
    struct gb_reg_error *e)
{
	struct gb_reg_error we = { "", "" };
	struct sync s = { .r = r, .fn = fn, .arg = arg };
	char *dir;
	int rc;

	if (gb_registry_tiles_dir(r, &dir, e) != 0)
		return -1;
	rc = dir == NULL ? 0 : gb_registry_write_tiles(r, dir, false, e);
	/* The change is committed, and the tiles (if any) back it: now the
	 * witnesses, whose answers can only add cosignatures. */
	s.dir = rc == 0 ? dir : NULL;
	if (gb_registry_cosign(r, cosigned_one, &s, &we) != 0)
		log_event("witness_failed", NULL, 0, we.code, we.message);
	free(dir);
	return rc;
}

int
gb_registry_sync_tiles(struct gb_registry *r, struct gb_reg_error *e)
{
	return gb_registry_sync(r, NULL, NULL, e);
}

/* Reads a decimal number of 1..maxdig digits without a leading zero (a
 * lone "0" is fine) from *p; advances *p. */
static bool
read_dec(const char **p, unsigned maxdig, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	unsigned n = 0;

	while (s[n] >= '0' && s[n] <= '9' && n < maxdig) {
		v = v * 10 + (uint64_t)(s[n] - '0');
		n++;
	}
	if (n == 0 || (n > 1 && s[0] == '0') || (s[n] >= '0' && s[n] <= '9'))
		return false;
	*p = s + n;
	*out = v;
	return true;
}

int
gb_registry_tile_parse(const char *path, int *level, uint64_t *n,
    unsigned *width)
{
	const char *p = path;
	uint64_t v = 0, l;
	unsigned groups = 0;

	if (strncmp(p, "tile/", 5) != 0)
		return -1;
	p += 5;
	if (strncmp(p, "entries/", 8) == 0) {
		*level = -1;
		p += 8;
	} else {
		if (!read_dec(&p, 1, &l) || l > GB_TILE_LEVEL_MAX || *p != '/')
			return -1;
		*level = (int)l;
		p++;
	}
	/* x001/x234/067: every group three digits, all but the last after
	 * an x; the same index has one spelling only. */
	for (;;) {
		bool x = *p == 'x';

		if (x)
			p++;
		if (!(p[0] >= '0' && p[0] <= '9' && p[1] >= '0' &&
		    p[1] <= '9' && p[2] >= '0' && p[2] <= '9'))
			return -1;
		if (v > (UINT64_MAX - 999) / 1000)
			return -1;
		v = v * 1000 + (uint64_t)((p[0] - '0') * 100 + (p[1] - '0') *
		    10 + (p[2] - '0'));
		p += 3;
		groups++;
		if (!x)
			break;
		if (*p != '/' || (groups == 1 && v == 0))
			return -1;      /* x000/ would spell 0..999 twice */
		p++;
	}
	*n = v;
	*width = GB_TILE_WIDTH;
	if (*p == '\0')
		return 0;
	if (strncmp(p, ".p/", 3) != 0)
		return -1;
	p += 3;
	if (!read_dec(&p, 3, &l) || l == 0 || l >= GB_TILE_WIDTH || *p != '\0')
		return -1;
	*width = (unsigned)l;
	return 0;
}
