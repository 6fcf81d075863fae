// SPDX-License-Identifier: GPL-2.0
/*
 * File or block device backend.  One descriptor shared by all connections
 * (positioned I/O only), so the page cache is shared and fdatasync() covers
 * every connection's writes.  Trim punches holes in files and discards
 * (BLKDISCARD) on block devices; write-zeroes punches holes or uses
 * FALLOC_FL_ZERO_RANGE as the client allows, and falls back to writing
 * zeroes unless the client asked for a fast zero; block status uses
 * SEEK_DATA / SEEK_HOLE.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "backend.h"

/*
 * fallocate() on a block device: zero without unmapping and without the
 * kernel's fallback of writing zeroes (Linux 6.17; older kernels refuse it).
 */
#ifndef FALLOC_FL_WRITE_ZEROES
#define FALLOC_FL_WRITE_ZEROES	0x80
#endif

struct file_backend {
	struct backend b;
	int fd;
	bool is_blockdev;
	unsigned int sector_size;	/* block devices: logical block size */
	bool no_punch;		/* fallocate(PUNCH_HOLE) unsupported */
	bool no_zero_range;	/* fallocate(ZERO_RANGE) unsupported */
	bool no_write_zeroes;	/* fallocate(WRITE_ZEROES) unsupported */
	bool no_discard;	/* BLKDISCARD unsupported */
	bool no_seek_data;	/* SEEK_DATA unsupported */
	bool no_nowait;		/* preadv2(RWF_NOWAIT) unsupported */
};

static struct file_backend *to_file(struct backend *b)
{
	return (struct file_backend *)b;
}

/*
 * Read what the page cache holds without blocking (RWF_NOWAIT); 1 when the
 * rest must come from storage, 0 when done, or -errno.
 */
static int file_pread_cached(struct file_backend *f, char **p, uint32_t *len, uint64_t *off)
{
	while (*len && !__atomic_load_n(&f->no_nowait, __ATOMIC_RELAXED)) {
		struct iovec iov = { .iov_base = *p, .iov_len = *len };
		ssize_t n = preadv2(f->fd, &iov, 1, (off_t)*off, RWF_NOWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 1;
		if (n < 0 && (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS)) {
			__atomic_store_n(&f->no_nowait, true, __ATOMIC_RELAXED);
			break;
		}
		if (n <= 0)
			return n < 0 ? -errno : 1;	/* 0: let pread() tell EOF */
		*p += n;
		*off += (uint64_t)n;
		*len -= (uint32_t)n;
	}
	return *len ? 1 : 0;
}

static int file_pread(struct backend *b, void *buf, uint32_t len, uint64_t off)
{
	struct file_backend *f = to_file(b);
	char *p = buf;
	int rc = file_pread_cached(f, &p, &len, &off);

	if (rc <= 0)
		return rc;
	backend_wait_begin();
	while (len) {
		ssize_t n = pread(f->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0) {		/* the file shrank under us: read zeroes */
			memset(p, 0, len);
			break;
		}
		p += n;
		off += n;
		len -= n;
	}
	backend_wait_end();
	return rc < 0 ? rc : 0;
}

static int file_sync(struct file_backend *f)
{
	int rc;

	backend_wait_begin();
	rc = fdatasync(f->fd) < 0 ? -errno : 0;
	backend_wait_end();
	return rc;
}

static int file_pwrite(struct backend *b, const void *buf, uint32_t len, uint64_t off, bool fua)
{
	struct file_backend *f = to_file(b);
	const char *p = buf;
	int rwf = fua ? RWF_DSYNC : 0, rc = 0;

	/* Other writes only dirty the page cache. */
	if (fua)
		backend_wait_begin();
	while (len) {
		struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
		ssize_t n = pwritev2(f->fd, &iov, 1, (off_t)off, rwf);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EOPNOTSUPP && rwf) {
			rwf = 0;	/* no RWF_DSYNC: write, then fdatasync */
			continue;
		}
		if (n < 0) {
			rc = -errno;
			break;
		}
		p += n;
		off += n;
		len -= n;
	}
	if (fua)
		backend_wait_end();
	return rc == 0 && fua && !rwf ? file_sync(f) : rc;
}

static int file_flush(struct backend *b)
{
	return file_sync(to_file(b));
}

/* fallocate with @mode, remembering which modes the file system lacks. */
static int file_fallocate(struct file_backend *f, int mode, uint64_t len, uint64_t off)
{
	bool *unsupported = mode & FALLOC_FL_PUNCH_HOLE ? &f->no_punch :
			    mode & FALLOC_FL_WRITE_ZEROES ? &f->no_write_zeroes : &f->no_zero_range;
	int rc = 0;

	if (__atomic_load_n(unsupported, __ATOMIC_RELAXED))
		return -EOPNOTSUPP;
	backend_wait_begin();
	if (!(mode & FALLOC_FL_WRITE_ZEROES))	/* which refuses KEEP_SIZE */
		mode |= FALLOC_FL_KEEP_SIZE;
	while (fallocate(f->fd, mode, (off_t)off, (off_t)len) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EOPNOTSUPP || errno == ENOSYS) {
			__atomic_store_n(unsupported, true, __ATOMIC_RELAXED);
			rc = -EOPNOTSUPP;
		} else if (errno == EINVAL) {	/* e.g. unaligned on a block device */
			rc = -EOPNOTSUPP;
		} else {
			rc = -errno;
		}
		break;
	}
	backend_wait_end();
	return rc;
}

/* Discard the whole logical blocks of [off, off + len) on a block device. */
static int file_discard(struct file_backend *f, uint64_t len, uint64_t off)
{
	uint64_t mask = f->sector_size - 1;
	uint64_t start = (off + mask) & ~mask, end = (off + len) & ~mask;
	uint64_t range[2] = { start, end - start };
	int rc;

	if (end <= start || __atomic_load_n(&f->no_discard, __ATOMIC_RELAXED))
		return 0;
	backend_wait_begin();
	rc = ioctl(f->fd, BLKDISCARD, range) < 0 ? -errno : 0;
	backend_wait_end();
	if (rc == -EOPNOTSUPP || rc == -ENOTTY) {
		__atomic_store_n(&f->no_discard, true, __ATOMIC_RELAXED);
		rc = 0;
	}
	return rc;
}

static int file_trim(struct backend *b, uint64_t len, uint64_t off, bool fua)
{
	struct file_backend *f = to_file(b);
	int rc;

	if (f->is_blockdev) {
		rc = file_discard(f, len, off);
	} else {
		rc = file_fallocate(f, FALLOC_FL_PUNCH_HOLE, len, off);
		if (rc == -EOPNOTSUPP)
			rc = 0;		/* trim is advisory */
	}
	if (rc == 0 && fua)
		rc = file_sync(f);
	return rc;
}

static int file_write_zero_buffer(struct file_backend *f, uint64_t len, uint64_t off)
{
	static const char zeroes[64 << 10];

	while (len) {
		uint32_t n = len < sizeof(zeroes) ? (uint32_t)len : sizeof(zeroes);
		int rc = file_pwrite(&f->b, zeroes, n, off, false);

		if (rc)
			return rc;
		off += n;
		len -= n;
	}
	return 0;
}

/*
 * Zero [off, off + len) the quickest way the client allows.  With ZERO_FAST
 * only what cannot end in writing zeroes is tried: on a file, punching a
 * hole or FALLOC_FL_ZERO_RANGE; on a block device, fallocate(PUNCH_HOLE),
 * which the kernel does without its fallback of writing zeroes, or
 * FALLOC_FL_WRITE_ZEROES, while ZERO_RANGE and BLKZEROOUT there write
 * zeroes when the device cannot zero by itself.
 */
static int file_zero(struct backend *b, uint64_t len, uint64_t off, unsigned int flags, bool fua)
{
	struct file_backend *f = to_file(b);
	bool fast = flags & ZERO_FAST;
	int rc = -EOPNOTSUPP;

	if (flags & ZERO_MAY_TRIM)
		rc = file_fallocate(f, FALLOC_FL_PUNCH_HOLE, len, off);
	if (rc == -EOPNOTSUPP && f->is_blockdev && fast)
		rc = file_fallocate(f, FALLOC_FL_WRITE_ZEROES, len, off);
	if (rc == -EOPNOTSUPP && !(f->is_blockdev && fast))
		rc = file_fallocate(f, FALLOC_FL_ZERO_RANGE, len, off);
	if (rc == -EOPNOTSUPP && f->is_blockdev && !fast) {
		uint64_t range[2] = { off, len };

		backend_wait_begin();
		rc = ioctl(f->fd, BLKZEROOUT, range) < 0 ? -errno : 0;
		backend_wait_end();
		if (rc == -ENOTTY || rc == -EINVAL)
			rc = -EOPNOTSUPP;
	}
	if (rc == -EOPNOTSUPP) {
		if (fast)
			return -ENOTSUP;
		rc = file_write_zero_buffer(f, len, off);
	}
	if (rc == 0 && fua)
		rc = file_sync(f);
	return rc;
}

static int file_cache(struct backend *b, uint64_t len, uint64_t off)
{
	int rc = posix_fadvise(to_file(b)->fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);

	return rc == 0 || rc == ESPIPE ? 0 : -rc;
}

static int file_extents(struct backend *b, struct extents *ex)
{
	struct file_backend *f = to_file(b);

	while (!extents_done(ex)) {
		uint64_t pos = extents_next(ex), end = pos + extents_wanted(ex);
		off_t data, hole;
		int rc;

		if (f->no_seek_data)
			return extents_add(ex, end - pos, 0) < 0 ? -ENOMEM : 0;
		data = lseek(f->fd, (off_t)pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO) {
			data = (off_t)end;	/* only a hole up to the end of file */
		} else if (data < 0) {
			f->no_seek_data = true;
			continue;
		}
		if ((uint64_t)data > pos) {
			rc = extents_add(ex, (uint64_t)data - pos, EXTENT_HOLE | EXTENT_ZERO);
		} else {
			hole = lseek(f->fd, (off_t)pos, SEEK_HOLE);
			if (hole < 0 || (uint64_t)hole <= pos)
				hole = (off_t)end;
			rc = extents_add(ex, (uint64_t)hole - pos, 0);
		}
		if (rc < 0)
			return -ENOMEM;
	}
	return 0;
}

static int file_read_source(struct backend *b, uint64_t off, uint32_t len, int *fd,
			    uint64_t *fd_off)
{
	(void)len;
	*fd = to_file(b)->fd;
	*fd_off = off;
	return 0;
}

static void file_close(struct backend *b)
{
	struct file_backend *f = to_file(b);

	close(f->fd);
	free(f->b.desc);
	free(f);
}

static const struct backend_ops file_ops = {
	.kind = "file",
	.pread = file_pread,
	.pwrite = file_pwrite,
	.trim = file_trim,
	.zero = file_zero,
	.flush = file_flush,
	.cache = file_cache,
	.extents = file_extents,
	.read_source = file_read_source,
	.close = file_close,
};

struct backend *file_backend_open(const char *path, bool readonly, char *why, size_t why_len)
{
	struct file_backend *f;
	struct stat st;
	uint64_t size;
	int fd, ssz;

	fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_len, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(why, why_len, "cannot stat %s: %s", path, strerror(errno));
		goto fail;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
			snprintf(why, why_len, "cannot size %s: %s", path, strerror(errno));
			goto fail;
		}
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else {
		snprintf(why, why_len, "%s is neither a regular file nor a block device", path);
		goto fail;
	}
	f = calloc(1, sizeof(*f));
	if (!f || asprintf(&f->b.desc, "%s %s", S_ISBLK(st.st_mode) ? "block device" : "file",
			   path) < 0) {
		free(f);
		snprintf(why, why_len, "out of memory");
		goto fail;
	}
	f->b.ops = &file_ops;
	f->b.size = size;
	f->b.readonly = readonly;
	f->b.can_trim = true;
	f->fd = fd;
	f->is_blockdev = S_ISBLK(st.st_mode);
	f->sector_size = 512;
	if (f->is_blockdev && ioctl(fd, BLKSSZGET, &ssz) == 0 && ssz > 0 && !(ssz & (ssz - 1)))
		f->sector_size = (unsigned int)ssz;
	return &f->b;
fail:
	close(fd);
	return NULL;
}
