// SPDX-License-Identifier: GPL-2.0
/* Backend specs, sizes and extent lists shared by every backend. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

static __thread const struct storage_wait_hook *wait_hook;

void backend_set_wait_hook(const struct storage_wait_hook *hook)
{
	wait_hook = hook;
}

void backend_wait_begin(void)
{
	if (wait_hook)
		wait_hook->begin(wait_hook->arg);
}

void backend_wait_end(void)
{
	if (wait_hook)
		wait_hook->end(wait_hook->arg);
}

int parse_size(const char *s, uint64_t *out)
{
	static const char suffixes[] = "KMGTPE";
	const char *p;
	char *end;
	unsigned long long v;
	unsigned int shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end) {
		p = strchr(suffixes, *end & ~0x20);
		if (!p || !*p)
			return -1;
		shift = 10 * (unsigned int)(p - suffixes + 1);
		end++;
		/* allow "K", "KiB", "KB" */
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
		if (*end)
			return -1;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int extents_init(struct extents *ex, uint64_t start, uint64_t limit, unsigned int max)
{
	memset(ex, 0, sizeof(*ex));
	ex->start = start;
	ex->limit = limit;
	ex->max = max ? max : 1;
	return 0;
}

void extents_free(struct extents *ex)
{
	free(ex->runs);
	ex->runs = NULL;
	ex->count = 0;
}

int extents_add(struct extents *ex, uint64_t length, uint32_t flags)
{
	uint64_t room = extents_wanted(ex);

	if (extents_done(ex))
		return 1;
	if (length > room)
		length = room;
	if (length == 0)
		return 0;
	if (ex->count && ex->runs[ex->count - 1].flags == flags) {
		ex->runs[ex->count - 1].length += length;
	} else {
		if ((ex->count & 15) == 0) {
			struct extent *r = realloc(ex->runs, (ex->count + 16) * sizeof(*r));

			if (!r)
				return -ENOMEM;
			ex->runs = r;
		}
		ex->runs[ex->count].length = length;
		ex->runs[ex->count].flags = flags;
		ex->count++;
	}
	ex->covered += length;
	return extents_done(ex) ? 1 : 0;
}

/* Split "A,B,C" into backends; every part is itself a SPEC without commas. */
static int open_parts(const char *list, bool readonly, struct backend ***parts,
		      unsigned int *n, char *why, size_t why_len)
{
	char *copy = strdup(list), *save = NULL, *tok;
	struct backend **v = NULL;
	unsigned int count = 0;

	if (!copy) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct backend **nv = realloc(v, (count + 1) * sizeof(*v));

		if (!nv) {
			snprintf(why, why_len, "out of memory");
			goto fail;
		}
		v = nv;
		v[count] = backend_open(tok, readonly, why, why_len);
		if (!v[count])
			goto fail;
		count++;
	}
	free(copy);
	if (count == 0) {
		snprintf(why, why_len, "no components in \"%s\"", list);
		free(v);
		return -1;
	}
	*parts = v;
	*n = count;
	return 0;
fail:
	while (count)
		backend_close(v[--count]);
	free(v);
	free(copy);
	return -1;
}

struct backend *backend_open(const char *spec, bool readonly, char *why, size_t why_len)
{
	struct backend **parts, *b;
	unsigned int n;
	uint64_t size;

	if (!strncmp(spec, "file:", 5))
		return file_backend_open(spec + 5, readonly, why, why_len);
	if (!strncmp(spec, "memory:", 7) || !strncmp(spec, "mem:", 4)) {
		const char *s = strchr(spec, ':') + 1;

		if (parse_size(s, &size) < 0) {
			snprintf(why, why_len, "bad size in \"%s\"", spec);
			return NULL;
		}
		return memory_backend_open(size, why, why_len);
	}
	if (!strncmp(spec, "linear:", 7)) {
		if (open_parts(spec + 7, readonly, &parts, &n, why, why_len) < 0)
			return NULL;
		b = linear_backend_open(parts, n, why, why_len);
		free(parts);
		return b;
	}
	if (!strncmp(spec, "stripe:", 7)) {
		const char *list = strchr(spec + 7, ':');
		char chunk_str[32];

		if (!list || (size_t)(list - spec - 7) >= sizeof(chunk_str)) {
			snprintf(why, why_len, "expected stripe:CHUNK:SPEC,... in \"%s\"", spec);
			return NULL;
		}
		memcpy(chunk_str, spec + 7, list - spec - 7);
		chunk_str[list - spec - 7] = 0;
		if (parse_size(chunk_str, &size) < 0 || size == 0) {
			snprintf(why, why_len, "bad stripe chunk size \"%s\"", chunk_str);
			return NULL;
		}
		if (open_parts(list + 1, readonly, &parts, &n, why, why_len) < 0)
			return NULL;
		b = stripe_backend_open(parts, n, size, why, why_len);
		free(parts);
		return b;
	}
	return file_backend_open(spec, readonly, why, why_len);
}

void backend_close(struct backend *b)
{
	if (b)
		b->ops->close(b);
}
