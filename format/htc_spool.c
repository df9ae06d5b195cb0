/* SPDX-License-Identifier: MIT */
/*
 * htc_spool.c - inputs that can be read only once.  The tools open a
 * capture more than once (a check of its header, the merged read, and for
 * httpanalyze the events table that reads the files again when queried),
 * which a pipe, a FIFO or standard input cannot serve: a second open of a
 * FIFO blocks forever, and a second read of a pipe starts in the middle.
 * Such an input is copied once, to its end, into an unlinked temporary
 * file, which can then be opened as often as wanted through /proc/self/fd.
 * Regular files are used as they are (no copy: captures are large).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htc.h"

int htc_tmpfile(void)
{
	const char *dir = getenv("TMPDIR");
	char tmpl[4096];
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd >= 0 ? fd : -errno;
	/* a file system without O_TMPFILE: create, then unlink at once */
	if ((size_t)snprintf(tmpl, sizeof(tmpl), "%s/httpcap-tmp.XXXXXX", dir) >= sizeof(tmpl))
		return -ENAMETOOLONG;
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(tmpl);
	return fd;
}

/* Copy all of in to out; -errno of the read or write that failed. */
static int spool_copy(int in, int out, uint64_t *copied)
{
	static const size_t bufsz = 1 << 20;
	char *buf = malloc(bufsz);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	*copied = 0;
	for (;;) {
		ssize_t n = read(in, buf, bufsz), off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		while (off < n) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				err = w < 0 ? -errno : -EIO;
				goto done;
			}
			off += w;
		}
		*copied += (uint64_t)n;
	}
done:
	free(buf);
	return err;
}

int htc_spool(const char *path, struct htc_spool *sp)
{
	struct stat st;
	int in, err;

	memset(sp, 0, sizeof(*sp));
	sp->fd = -1;
	if (!path)
		return -EINVAL;
	if (strcmp(path, "-")) {
		if (stat(path, &st))
			return -errno;
		if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
			snprintf(sp->path, sizeof(sp->path), "%s", path);
			if (strlen(path) >= sizeof(sp->path))
				return -ENAMETOOLONG;
			return 0;
		}
		if (S_ISDIR(st.st_mode))
			return -EISDIR;
		in = open(path, O_RDONLY | O_CLOEXEC);
		if (in < 0)
			return -errno;
	} else {
		in = STDIN_FILENO;
	}
	sp->fd = htc_tmpfile();
	if (sp->fd < 0) {
		err = sp->fd;
		sp->fd = -1;
		sp->failed_write = 1;
		goto fail;
	}
	err = spool_copy(in, sp->fd, &sp->bytes);
	if (err) {
		/* a write error (ENOSPC...) or a read error of the input */
		sp->failed_write = err == -ENOSPC || err == -EDQUOT || err == -EFBIG;
		goto fail;
	}
	if (in != STDIN_FILENO)
		close(in);
	snprintf(sp->path, sizeof(sp->path), "/proc/self/fd/%d", sp->fd);
	sp->spooled = 1;
	return 0;
fail:
	if (in != STDIN_FILENO)
		close(in);
	htc_spool_close(sp);
	return err;
}

void htc_spool_close(struct htc_spool *sp)
{
	if (!sp)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
	sp->spooled = 0;
}
