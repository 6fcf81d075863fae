// SPDX-License-Identifier: GPL-2.0
/*
 * ENBD's RAID modes: components joined into one export.
 *   linear   component i holds [start_i, start_i + size_i); sizes may differ
 *   stripe   chunk k of the export is chunk k / n of component k % n;
 *            each component contributes its size rounded down to a chunk,
 *            all cut to the smallest one
 * Both only differ in how an export offset maps to a component, so every
 * operation is one loop over the pieces of its range (raid_each).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

struct raid_backend {
	struct backend b;
	unsigned int n;
	struct backend **parts;
	uint64_t *starts;	/* linear: n + 1 cumulative offsets */
	uint64_t chunk;		/* stripe: chunk size */
	/* Map export offset @off to component @part, offset @poff in it and the
	 * number of bytes @run that stay contiguous in that component. */
	void (*map)(const struct raid_backend *r, uint64_t off, unsigned int *part,
		    uint64_t *poff, uint64_t *run);
};

static struct raid_backend *to_raid(struct backend *b)
{
	return (struct raid_backend *)b;
}

static void linear_map(const struct raid_backend *r, uint64_t off, unsigned int *part,
		       uint64_t *poff, uint64_t *run)
{
	unsigned int lo = 1, hi = r->n;	/* first j with starts[j] > off */

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (r->starts[mid] > off)
			hi = mid;
		else
			lo = mid + 1;
	}
	*part = lo - 1;
	*poff = off - r->starts[lo - 1];
	*run = r->starts[lo] - off;
}

static void stripe_map(const struct raid_backend *r, uint64_t off, unsigned int *part,
		       uint64_t *poff, uint64_t *run)
{
	uint64_t chunk = off / r->chunk, in_chunk = off % r->chunk;

	*part = (unsigned int)(chunk % r->n);
	*poff = chunk / r->n * r->chunk + in_chunk;
	*run = r->chunk - in_chunk;
}

struct piece_op {
	int (*fn)(struct backend *part, uint64_t poff, uint64_t len, struct piece_op *op);
	char *buf;		/* pread/pwrite: current position */
	unsigned int flags;
	bool fua;
};

static int raid_each(struct raid_backend *r, uint64_t off, uint64_t len, struct piece_op *op)
{
	while (len) {
		unsigned int part;
		uint64_t poff, run;
		int rc;

		r->map(r, off, &part, &poff, &run);
		if (run > len)
			run = len;
		rc = op->fn(r->parts[part], poff, run, op);
		if (rc)
			return rc;
		if (op->buf)
			op->buf += run;
		off += run;
		len -= run;
	}
	return 0;
}

static int piece_pread(struct backend *p, uint64_t poff, uint64_t len, struct piece_op *op)
{
	return p->ops->pread(p, op->buf, (uint32_t)len, poff);
}

static int piece_pwrite(struct backend *p, uint64_t poff, uint64_t len, struct piece_op *op)
{
	return p->ops->pwrite(p, op->buf, (uint32_t)len, poff, op->fua);
}

static int piece_trim(struct backend *p, uint64_t poff, uint64_t len, struct piece_op *op)
{
	return p->ops->trim(p, len, poff, op->fua);
}

static int piece_zero(struct backend *p, uint64_t poff, uint64_t len, struct piece_op *op)
{
	return p->ops->zero(p, len, poff, op->flags, op->fua);
}

static int piece_cache(struct backend *p, uint64_t poff, uint64_t len, struct piece_op *op)
{
	(void)op;
	return p->ops->cache(p, len, poff);
}

static int raid_pread(struct backend *b, void *buf, uint32_t len, uint64_t off)
{
	struct piece_op op = { .fn = piece_pread, .buf = buf };

	return raid_each(to_raid(b), off, len, &op);
}

static int raid_pwrite(struct backend *b, const void *buf, uint32_t len, uint64_t off, bool fua)
{
	struct piece_op op = { .fn = piece_pwrite, .buf = (char *)buf, .fua = fua };

	return raid_each(to_raid(b), off, len, &op);
}

static int raid_trim(struct backend *b, uint64_t len, uint64_t off, bool fua)
{
	struct piece_op op = { .fn = piece_trim, .fua = fua };

	return raid_each(to_raid(b), off, len, &op);
}

static int raid_zero(struct backend *b, uint64_t len, uint64_t off, unsigned int flags, bool fua)
{
	struct piece_op op = { .fn = piece_zero, .flags = flags, .fua = fua };

	return raid_each(to_raid(b), off, len, &op);
}

static int raid_cache(struct backend *b, uint64_t len, uint64_t off)
{
	struct piece_op op = { .fn = piece_cache };

	return raid_each(to_raid(b), off, len, &op);
}

static int raid_flush(struct backend *b)
{
	struct raid_backend *r = to_raid(b);
	unsigned int i;
	int rc = 0;

	for (i = 0; i < r->n; i++) {
		int prc = r->parts[i]->ops->flush(r->parts[i]);

		if (prc && !rc)
			rc = prc;
	}
	return rc;
}

static int raid_extents(struct backend *b, struct extents *ex)
{
	struct raid_backend *r = to_raid(b);

	while (!extents_done(ex)) {
		struct extents sub;
		struct backend *p;
		unsigned int part, i;
		uint64_t poff, run;
		int rc = 0;

		r->map(r, extents_next(ex), &part, &poff, &run);
		if (run > extents_wanted(ex))
			run = extents_wanted(ex);
		p = r->parts[part];
		extents_init(&sub, poff, run, ex->max - ex->count + 1);
		rc = p->ops->extents(p, &sub);
		for (i = 0; rc == 0 && i < sub.count; i++)
			rc = extents_add(ex, sub.runs[i].length, sub.runs[i].flags) < 0 ? -ENOMEM : 0;
		extents_free(&sub);
		if (rc)
			return rc;
		if (sub.covered < run)
			break;		/* the component stopped early */
	}
	return 0;
}

static int raid_read_source(struct backend *b, uint64_t off, uint32_t len, int *fd,
			    uint64_t *fd_off)
{
	struct raid_backend *r = to_raid(b);
	unsigned int part;
	uint64_t poff, run;
	struct backend *p;

	r->map(r, off, &part, &poff, &run);
	p = r->parts[part];
	if (run < len || !p->ops->read_source)
		return -1;
	return p->ops->read_source(p, poff, len, fd, fd_off);
}

static void raid_close(struct backend *b)
{
	struct raid_backend *r = to_raid(b);
	unsigned int i;

	for (i = 0; i < r->n; i++)
		backend_close(r->parts[i]);
	free(r->parts);
	free(r->starts);
	free(r->b.desc);
	free(r);
}

static const struct backend_ops raid_ops = {
	.kind = "raid",
	.pread = raid_pread,
	.pwrite = raid_pwrite,
	.trim = raid_trim,
	.zero = raid_zero,
	.flush = raid_flush,
	.cache = raid_cache,
	.extents = raid_extents,
	.read_source = raid_read_source,
	.close = raid_close,
};

/* Common part: takes the components (closing them on failure). */
static struct raid_backend *raid_new(struct backend **parts, unsigned int n, const char *mode,
				     char *why, size_t why_len)
{
	struct raid_backend *r = calloc(1, sizeof(*r));
	size_t desc_len = strlen(mode) + 3;
	unsigned int i;

	if (!r || !(r->parts = malloc(n * sizeof(*parts))))
		goto oom;
	memcpy(r->parts, parts, n * sizeof(*parts));
	r->n = n;
	r->b.ops = &raid_ops;
	r->b.can_trim = true;
	for (i = 0; i < n; i++) {
		desc_len += strlen(parts[i]->desc) + 2;
		r->b.readonly |= parts[i]->readonly;
		r->b.can_trim &= parts[i]->can_trim;
	}
	r->b.desc = malloc(desc_len);
	if (!r->b.desc)
		goto oom;
	strcpy(r->b.desc, mode);
	strcat(r->b.desc, " (");
	for (i = 0; i < n; i++) {
		strcat(r->b.desc, parts[i]->desc);
		strcat(r->b.desc, i + 1 < n ? ", " : ")");
	}
	return r;
oom:
	if (r)
		free(r->parts);
	free(r);
	for (i = 0; i < n; i++)
		backend_close(parts[i]);
	snprintf(why, why_len, "out of memory");
	return NULL;
}

struct backend *linear_backend_open(struct backend **parts, unsigned int n,
				    char *why, size_t why_len)
{
	struct raid_backend *r = raid_new(parts, n, "linear", why, why_len);
	unsigned int i;

	if (!r)
		return NULL;
	r->map = linear_map;
	r->starts = calloc(n + 1, sizeof(uint64_t));
	if (!r->starts) {
		snprintf(why, why_len, "out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		if (parts[i]->size > BACKEND_MAX_SIZE - r->starts[i]) {
			snprintf(why, why_len, "linear export would be larger than 2^63-1 bytes");
			goto fail;
		}
		r->starts[i + 1] = r->starts[i] + parts[i]->size;
	}
	r->b.size = r->starts[n];
	return &r->b;
fail:
	raid_close(&r->b);
	return NULL;
}

struct backend *stripe_backend_open(struct backend **parts, unsigned int n, uint64_t chunk,
				    char *why, size_t why_len)
{
	struct raid_backend *r = raid_new(parts, n, "stripe", why, why_len);
	uint64_t smallest = UINT64_MAX;
	unsigned int i;

	if (!r)
		return NULL;
	r->map = stripe_map;
	r->chunk = chunk;
	for (i = 0; i < n; i++)
		if (parts[i]->size < smallest)
			smallest = parts[i]->size;
	smallest -= smallest % chunk;
	if (smallest > BACKEND_MAX_SIZE / n) {
		snprintf(why, why_len, "striped export would be larger than 2^63-1 bytes");
		raid_close(&r->b);
		return NULL;
	}
	r->b.size = smallest * n;
	return &r->b;
}
