// SPDX-License-Identifier: GPL-2.0
/*
 * Sparse in-RAM backend.  Data lives in 4 KiB pages hung off a radix tree
 * (512-way nodes), so an export may be as large as 2^63-1 bytes while
 * only the pages written to take memory.  Pages never written, trimmed or
 * zeroed (without NO_HOLE) are holes and read as zeroes; no request but a
 * WRITE allocates.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define PAGE_SHIFT	12
#define PAGE_SIZE	(1u << PAGE_SHIFT)
#define NODE_SHIFT	9
#define NODE_SLOTS	(1u << NODE_SHIFT)

struct memory_backend {
	struct backend b;
	pthread_rwlock_t lock;
	unsigned int levels;	/* node levels; level 0 holds page pointers */
	void **root;
	uint64_t pages;		/* pages allocated, for the log */
};

static struct memory_backend *to_mem(struct backend *b)
{
	return (struct memory_backend *)b;
}

static unsigned int slot(uint64_t idx, unsigned int level)
{
	return (unsigned int)(idx >> (NODE_SHIFT * level)) & (NODE_SLOTS - 1);
}

/* The page holding page index @idx, or NULL; with @alloc, create it. */
static char *page_get(struct memory_backend *m, uint64_t idx, bool alloc)
{
	void **node = m->root;
	unsigned int level;

	for (level = m->levels - 1; level > 0; level--) {
		void **next = node[slot(idx, level)];

		if (!next) {
			if (!alloc)
				return NULL;
			next = calloc(NODE_SLOTS, sizeof(void *));
			if (!next)
				return NULL;
			node[slot(idx, level)] = next;
		}
		node = next;
	}
	if (!node[slot(idx, 0)] && alloc) {
		node[slot(idx, 0)] = calloc(1, PAGE_SIZE);
		if (node[slot(idx, 0)])
			m->pages++;
	}
	return node[slot(idx, 0)];
}

static void page_free(struct memory_backend *m, uint64_t idx)
{
	void **node = m->root;
	unsigned int level;

	for (level = m->levels - 1; level > 0; level--) {
		node = node[slot(idx, level)];
		if (!node)
			return;
	}
	if (node[slot(idx, 0)]) {
		free(node[slot(idx, 0)]);
		node[slot(idx, 0)] = NULL;
		m->pages--;
	}
}

/* Smallest allocated page index >= @from below @node (covering from @base). */
static bool next_page(void **node, unsigned int level, uint64_t base, uint64_t from,
		      uint64_t *found)
{
	unsigned int shift = NODE_SHIFT * level;
	unsigned int i = from > base ? (unsigned int)((from - base) >> shift) : 0;

	for (; i < NODE_SLOTS; i++) {
		uint64_t child = base + ((uint64_t)i << shift);

		if (!node[i])
			continue;
		if (level == 0) {
			*found = child;
			return true;
		}
		if (next_page(node[i], level - 1, child, from > child ? from : child, found))
			return true;
	}
	return false;
}

/* Iterate over the page-bounded pieces of [off, off + len): page @idx, offset
 * @poff in it, @plen bytes. */
#define for_each_piece(off, len, idx, poff, plen)				\
	for (uint64_t _o = (off), _e = (off) + (len);				\
	     _o < _e && ((idx) = _o >> PAGE_SHIFT, (poff) = _o & (PAGE_SIZE - 1),	\
			 (plen) = PAGE_SIZE - (poff) < _e - _o ? PAGE_SIZE - (poff) : _e - _o, 1); \
	     _o += (plen))

static int memory_pread(struct backend *b, void *buf, uint32_t len, uint64_t off)
{
	struct memory_backend *m = to_mem(b);
	char *out = buf;
	uint64_t idx, poff, plen;

	pthread_rwlock_rdlock(&m->lock);
	for_each_piece(off, len, idx, poff, plen) {
		char *page = page_get(m, idx, false);

		if (page)
			memcpy(out, page + poff, plen);
		else
			memset(out, 0, plen);
		out += plen;
	}
	pthread_rwlock_unlock(&m->lock);
	return 0;
}

static int memory_pwrite(struct backend *b, const void *buf, uint32_t len, uint64_t off,
			 bool fua)
{
	struct memory_backend *m = to_mem(b);
	const char *in = buf;
	uint64_t idx, poff, plen;
	int rc = 0;

	(void)fua;
	pthread_rwlock_wrlock(&m->lock);
	for_each_piece(off, len, idx, poff, plen) {
		char *page = page_get(m, idx, true);

		if (!page) {
			rc = -ENOSPC;
			break;
		}
		memcpy(page + poff, in, plen);
		in += plen;
	}
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

/*
 * Zero [off, off + len): only pages already allocated are touched, so a
 * request costs no memory however large its range (a hole reads as
 * zeroes already).  Without NO_HOLE whole pages are freed; with it they
 * stay allocated and are cleared, and holes stay holes: RAM cannot be
 * reserved without using it, so "allocated" here means "written since it
 * was last trimmed", and a later write may still fail with ENOSPC when
 * the host runs out of memory, as any write to a memory disk may.
 */
static int memory_zero(struct backend *b, uint64_t len, uint64_t off, unsigned int flags,
		       bool fua)
{
	struct memory_backend *m = to_mem(b);
	uint64_t end = off + len, idx;
	uint64_t first = off >> PAGE_SHIFT, last = (end - 1) >> PAGE_SHIFT;

	(void)fua;
	pthread_rwlock_wrlock(&m->lock);
	/* Visit only allocated pages: the range may span terabytes. */
	while (first <= last && next_page(m->root, m->levels - 1, 0, first, &idx) &&
	       idx <= last) {
		uint64_t ps = idx << PAGE_SHIFT;
		uint64_t from = ps > off ? ps : off;
		uint64_t to = ps + PAGE_SIZE < end ? ps + PAGE_SIZE : end;

		if ((flags & ZERO_MAY_TRIM) && from == ps && to == ps + PAGE_SIZE)
			page_free(m, idx);
		else
			memset(page_get(m, idx, false) + (from - ps), 0, to - from);
		first = idx + 1;
	}
	pthread_rwlock_unlock(&m->lock);
	return 0;
}

static int memory_trim(struct backend *b, uint64_t len, uint64_t off, bool fua)
{
	return memory_zero(b, len, off, ZERO_MAY_TRIM, fua);
}

static int memory_nop(struct backend *b)
{
	(void)b;
	return 0;
}

static int memory_cache(struct backend *b, uint64_t len, uint64_t off)
{
	(void)len;
	(void)off;
	return memory_nop(b);
}

static int memory_extents(struct backend *b, struct extents *ex)
{
	struct memory_backend *m = to_mem(b);
	int rc = 0;

	pthread_rwlock_rdlock(&m->lock);
	while (rc == 0 && !extents_done(ex)) {
		uint64_t pos = extents_next(ex), idx = pos >> PAGE_SHIFT, next;
		uint64_t run_end;

		if (page_get(m, idx, false)) {
			/* data up to the first missing page */
			next = idx + 1;
			while ((next << PAGE_SHIFT) < pos + extents_wanted(ex) &&
			       page_get(m, next, false))
				next++;
			rc = extents_add(ex, (next << PAGE_SHIFT) - pos, 0);
		} else {
			if (next_page(m->root, m->levels - 1, 0, idx, &next) &&
			    next <= (b->size - 1) >> PAGE_SHIFT)
				run_end = next << PAGE_SHIFT;
			else
				run_end = b->size;
			rc = extents_add(ex, run_end - pos, EXTENT_HOLE | EXTENT_ZERO);
		}
	}
	pthread_rwlock_unlock(&m->lock);
	return rc < 0 ? rc : 0;
}

static void free_node(void **node, unsigned int level)
{
	unsigned int i;

	for (i = 0; i < NODE_SLOTS; i++) {
		if (node[i] && level > 0)
			free_node(node[i], level - 1);
		else
			free(node[i]);
	}
	free(node);
}

static void memory_close(struct backend *b)
{
	struct memory_backend *m = to_mem(b);

	free_node(m->root, m->levels - 1);
	pthread_rwlock_destroy(&m->lock);
	free(m->b.desc);
	free(m);
}

static const struct backend_ops memory_ops = {
	.kind = "memory",
	.pread = memory_pread,
	.pwrite = memory_pwrite,
	.trim = memory_trim,
	.zero = memory_zero,
	.flush = memory_nop,
	.cache = memory_cache,
	.extents = memory_extents,
	.close = memory_close,
};

struct backend *memory_backend_open(uint64_t size, char *why, size_t why_len)
{
	struct memory_backend *m;
	uint64_t max_idx;

	if (size > BACKEND_MAX_SIZE) {
		snprintf(why, why_len, "memory size %llu is larger than 2^63-1",
			 (unsigned long long)size);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		goto oom;
	m->levels = 1;
	max_idx = size ? (size - 1) >> PAGE_SHIFT : 0;
	while (m->levels * NODE_SHIFT < 64 && (max_idx >> (m->levels * NODE_SHIFT)))
		m->levels++;
	m->root = calloc(NODE_SLOTS, sizeof(void *));
	if (!m->root || asprintf(&m->b.desc, "memory %llu bytes", (unsigned long long)size) < 0)
		goto oom;
	pthread_rwlock_init(&m->lock, NULL);
	m->b.ops = &memory_ops;
	m->b.size = size;
	m->b.can_trim = true;
	return &m->b;
oom:
	if (m)
		free(m->root);
	free(m);
	snprintf(why, why_len, "out of memory");
	return NULL;
}
