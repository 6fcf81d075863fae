/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Storage behind an export.  A backend is a byte array of @size bytes with
 * a small set of operations; every operation gets an already validated
 * range (offset + length <= size, no overflow) and returns 0 or -errno.
 *
 *   file      a regular file or a block device (backend-file.c)
 *   memory    a sparse in-RAM array up to 2^63-1 bytes (backend-memory.c)
 *   linear    components concatenated (backend-raid.c)
 *   stripe    components interleaved in chunks (backend-raid.c)
 *
 * Backends are shared by every connection and called from many threads at
 * once; each one does its own locking.  There is no per-connection cache,
 * so a flush or FUA on one connection covers writes made on all of them.
 */
#ifndef ENBD_SERVER_BACKEND_H
#define ENBD_SERVER_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

/* Flags for ->zero() */
#define ZERO_MAY_TRIM	(1u << 0)	/* may leave a hole (no NBD_CMD_FLAG_NO_HOLE) */
#define ZERO_FAST	(1u << 1)	/* fail with -ENOTSUP rather than write zeroes */

/* Allocation states reported by ->extents(), as in base:allocation */
#define EXTENT_HOLE	(1u << 0)
#define EXTENT_ZERO	(1u << 1)

/*
 * A run-length list of allocation states covering [start, start + covered).
 * Backends append runs in order with extents_add(); it merges neighbours
 * with the same flags and reports when the list is full.
 */
struct extent {
	uint64_t length;
	uint32_t flags;
};

struct extents {
	uint64_t start;		/* offset of the first run */
	uint64_t covered;	/* bytes described so far */
	uint64_t limit;		/* stop describing at start + limit */
	unsigned int count, max;
	struct extent *runs;
};

int extents_init(struct extents *ex, uint64_t start, uint64_t limit, unsigned int max);
void extents_free(struct extents *ex);
/* Append a run; returns 1 when the list is full or complete, 0 to go on, -ENOMEM. */
int extents_add(struct extents *ex, uint64_t length, uint32_t flags);
/* Offset where the next run starts, bytes still wanted. */
static inline uint64_t extents_next(const struct extents *ex)
{
	return ex->start + ex->covered;
}
static inline uint64_t extents_wanted(const struct extents *ex)
{
	return ex->limit - ex->covered;
}
static inline bool extents_done(const struct extents *ex)
{
	return ex->covered >= ex->limit || ex->count >= ex->max;
}

struct backend;

struct backend_ops {
	const char *kind;
	int (*pread)(struct backend *b, void *buf, uint32_t len, uint64_t off);
	int (*pwrite)(struct backend *b, const void *buf, uint32_t len, uint64_t off, bool fua);
	/* Discard: the range may read back as anything afterwards. */
	int (*trim)(struct backend *b, uint64_t len, uint64_t off, bool fua);
	int (*zero)(struct backend *b, uint64_t len, uint64_t off, unsigned int flags, bool fua);
	int (*flush)(struct backend *b);
	/* A hint that the range will be read soon. */
	int (*cache)(struct backend *b, uint64_t len, uint64_t off);
	/* Append runs describing [extents_next(ex), ...) until extents_done(). */
	int (*extents)(struct backend *b, struct extents *ex);
	/*
	 * Optional, for zero-copy reads: if [off, off + len) lies contiguously
	 * in one file descriptor, give that descriptor and the offset there
	 * (the caller splices from it).  0, or -1 when the range must be read
	 * with ->pread().
	 */
	int (*read_source)(struct backend *b, uint64_t off, uint32_t len, int *fd,
			   uint64_t *fd_off);
	void (*close)(struct backend *b);
};

struct backend {
	const struct backend_ops *ops;
	uint64_t size;
	bool readonly;		/* opened read-only */
	bool can_trim;		/* trim can free space */
	char *desc;		/* human-readable, e.g. "file /srv/disk.img" */
};

/*
 * Open a backend from a SPEC (see README.md):
 *   PATH | file:PATH | memory:SIZE | linear:SPEC,SPEC,... |
 *   stripe:CHUNK:SPEC,SPEC,...
 * On failure returns NULL and puts the reason in @why.
 */
struct backend *backend_open(const char *spec, bool readonly, char *why, size_t why_len);
void backend_close(struct backend *b);

struct backend *file_backend_open(const char *path, bool readonly, char *why, size_t why_len);
struct backend *memory_backend_open(uint64_t size, char *why, size_t why_len);
struct backend *linear_backend_open(struct backend **parts, unsigned int n,
				    char *why, size_t why_len);
struct backend *stripe_backend_open(struct backend **parts, unsigned int n, uint64_t chunk,
				    char *why, size_t why_len);

/*
 * A backend that is about to wait for storage (a read that is not in the
 * page cache, a sync) brackets the wait with backend_wait_begin() and
 * backend_wait_end().  They call the hooks the calling thread registered
 * with backend_set_wait_hook() (if any): a connection counts its threads
 * that wait so, and a thread that serves a request while holding on to
 * the connection's input lets go of it first (transmission.c).
 */
struct storage_wait_hook {
	void (*begin)(void *arg);
	void (*end)(void *arg);
	void *arg;
};

void backend_set_wait_hook(const struct storage_wait_hook *hook);
void backend_wait_begin(void);
void backend_wait_end(void);

/* Largest export: offsets are off_t. */
#define BACKEND_MAX_SIZE	((uint64_t)INT64_MAX)

/* Parse "4096", "64K", "1G", "4E" (binary suffixes).  0 or -1 on error. */
int parse_size(const char *s, uint64_t *out);

#endif
