/*
 * Crash-safe writes of small files (gb/fileio.h).
 *
 * Where the file system has O_TMPFILE (Linux: ext4, xfs, btrfs, tmpfs), the
 * content goes to an unnamed file in the target's directory, which is
 * linked into place only once it is complete and fsynced: a crash before
 * that leaves nothing behind at all. Elsewhere a named temporary file
 * (PATH.tmp-XXXXXX, made by mkstemp) plays its part and is removed on every
 * failure this process lives through.
 */
#define _GNU_SOURCE             /* O_TMPFILE, linkat() with AT_SYMLINK_FOLLOW */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gb/err.h"
#include "gb/fileio.h"

/* The directory part of path ("." if none), as a new string. */
static char *
parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	if ((d = malloc((size_t)(slash - path) + 1)) == NULL)
		return NULL;
	memcpy(d, path, (size_t)(slash - path));
	d[slash - path] = '\0';
	return d;
}

int
gb_fsync_dir(const char *dir)
{
	int fd, rc = 0, saved;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return GB_EIO;
	/* Some file systems cannot fsync a directory (EINVAL): nothing more
	 * can be done there, and the data itself was fsynced. */
	if (fsync(fd) != 0 && errno != EINVAL)
		rc = GB_EIO;
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int
gb_fsync_parent(const char *path)
{
	char *dir = parent_of(path);
	int rc;

	if (dir == NULL)
		return GB_ENOMEM;
	rc = gb_fsync_dir(dir);
	free(dir);
	return rc;
}

/* Writes all of data to fd, fsyncs it; GB_EIO with errno on failure. */
static int
fill(int fd, const void *data, size_t len, mode_t mode)
{
	const char *p = data;

	/* The umask may only have tightened mode; make it exact. */
	if (fchmod(fd, mode) != 0)
		return GB_EIO;
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			return GB_EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return fsync(fd) == 0 ? 0 : GB_EIO;
}

/* The O_TMPFILE way, for GB_WRITE_EXCL only (linkat never replaces).
 * Returns 1 if the file system cannot do it (the caller falls back). */
static int
write_unnamed(const char *path, const char *dir, const void *data,
    size_t len, mode_t mode)
{
	char proc[64];
	int fd, rc, saved;

	fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
	if (fd < 0)
		return errno == EOPNOTSUPP || errno == EISDIR ||
		    errno == EINVAL ? 1 : GB_EIO;
	rc = fill(fd, data, len, mode);
	if (rc == 0) {
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, path,
		    AT_SYMLINK_FOLLOW) != 0)
			rc = errno == ENOENT && access("/proc/self/fd", F_OK)
			    != 0 ? 1 : GB_EIO;     /* no /proc: fall back */
	}
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* The named way: PATH.tmp-XXXXXX, then rename (or link for exclusive). */
static int
write_named(const char *path, const void *data, size_t len, mode_t mode,
    unsigned flags)
{
	size_t n = strlen(path) + sizeof ".tmp-XXXXXX";
	char *tmp = malloc(n);
	int fd = -1, rc = GB_EIO, saved;

	if (tmp == NULL)
		return GB_ENOMEM;
	snprintf(tmp, n, "%s.tmp-XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0)
		goto out;
	if ((rc = fill(fd, data, len, mode)) != 0)
		goto out;
	rc = GB_EIO;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (flags & GB_WRITE_EXCL) {
		if (link(tmp, path) != 0)
			goto out;
	} else if (rename(tmp, path) != 0) {
		goto out;
	}
	rc = 0;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);      /* gone already after a rename */
	free(tmp);
	errno = saved;
	return rc;
}

int
gb_write_file_atomic(const char *path, const void *data, size_t len,
    mode_t mode, unsigned flags)
{
	struct stat sb;
	char *dir;
	int rc = 1;

	if (path == NULL || path[0] == '\0' || (flags & ~GB_WRITE_EXCL) != 0 ||
	    (data == NULL && len > 0)) {
		errno = EINVAL;
		return GB_EINVAL;
	}
	if ((dir = parent_of(path)) == NULL) {
		errno = ENOMEM;
		return GB_ENOMEM;
	}
	/* rename() would put a regular file in place of a device, a socket
	 * or a symbolic link: only a regular file is ever replaced. */
	if (!(flags & GB_WRITE_EXCL) && lstat(path, &sb) == 0 &&
	    !S_ISREG(sb.st_mode)) {
		free(dir);
		errno = EINVAL;
		return GB_EINVAL;
	}
	if (flags & GB_WRITE_EXCL)
		rc = write_unnamed(path, dir, data, len, mode);
	if (rc == 1)
		rc = write_named(path, data, len, mode, flags);
	if (rc == 0)
		rc = gb_fsync_dir(dir);
	free(dir);
	return rc;
}
