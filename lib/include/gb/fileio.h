/*
 * Files that must never be seen half-written: keys and other secrets.
 *
 * gb_write_file_atomic() writes the whole content to a temporary file in
 * the target's directory, fsyncs it, gives it its final name in one step
 * (rename, or link for GB_WRITE_EXCL) and fsyncs the directory, so after a
 * crash at any point the file is either absent (or its old self) or whole
 * and durable; never empty, never truncated.
 */
#ifndef GB_FILEIO_H
#define GB_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Fail with errno EEXIST if path exists, instead of replacing it. */
#define GB_WRITE_EXCL 0x1

/*
 * Writes len bytes of data to path with permissions mode (not subject to
 * the umask's loosening: the file is fchmod()ed to mode exactly). Returns 0,
 * or GB_EIO with errno saying why (ENOSPC, EEXIST with GB_WRITE_EXCL, ...),
 * GB_EINVAL for an empty path or unknown flags, or for a path that exists
 * and is not a regular file (a device, a symbolic link: never replaced),
 * GB_ENOMEM. On failure path
 * is unchanged and no temporary file is left behind (a crash may leave one
 * named PATH.tmp-XXXXXX only on file systems without O_TMPFILE).
 */
int gb_write_file_atomic(const char *path, const void *data, size_t len,
    mode_t mode, unsigned flags);

/* fsyncs the directory that holds path (its parent), so that a rename or
 * link there survives a crash. Returns 0 or GB_EIO (errno set). */
int gb_fsync_parent(const char *path);

/* fsyncs the directory dir itself. Returns 0 or GB_EIO (errno set). */
int gb_fsync_dir(const char *dir);

#endif /* GB_FILEIO_H */
