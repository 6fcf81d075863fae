// SPDX-License-Identifier: GPL-2.0
/*
 * An enbd device's configuration read back from sysfs; see devconfig.h.
 * The module sets these from ENBD_IOC_CONFIGURE (kernel/enbd_ctl.c,
 * enbd_open_device): capacity, logical block size, read-only, the write
 * cache (flush) and FUA, and the hardware discard / write-zeroes limits
 * (0 without TRIM / WRITE_ZEROES), which unlike discard_max_bytes a user
 * cannot change.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "devconfig.h"

/* The first line of @dir/@name, without its newline.  0 or -1. */
static int read_attr(const char *dir, const char *name, char *buf, size_t len)
{
	char path[256];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return -1;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int read_u64(const char *dir, const char *name, uint64_t *v)
{
	char buf[64], *end;

	if (read_attr(dir, name, buf, sizeof(buf)) < 0)
		return -1;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	return errno || end == buf || *end ? -1 : 0;
}

int devconfig_read(const char *devname, struct enbd_config *cfg, char *why, size_t len)
{
	static const struct { const char *attr; uint32_t flag; } nonzero[] = {
		{ "ro", ENBD_CFG_READ_ONLY },
		{ "queue/fua", ENBD_CFG_FUA },
		{ "queue/discard_max_hw_bytes", ENBD_CFG_TRIM },
		{ "queue/write_zeroes_max_bytes", ENBD_CFG_WRITE_ZEROES },
	};
	char dir[96], cache[32];
	uint64_t sectors, bs, v;
	struct stat st;
	size_t i;

	if (stat(devname, &st) < 0 || !S_ISBLK(st.st_mode))
		return 0;
	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev));
	if (read_u64(dir, "size", &sectors) < 0)
		goto unreadable;
	if (!sectors)
		return 0;
	*cfg = (struct enbd_config){ .size = sizeof(*cfg), .bytes = sectors * 512 };
	if (read_u64(dir, "queue/logical_block_size", &bs) < 0 ||
	    read_attr(dir, "queue/write_cache", cache, sizeof(cache)) < 0)
		goto unreadable;
	cfg->block_size = (uint32_t)bs;
	if (!strcmp(cache, "write back"))
		cfg->flags |= ENBD_CFG_FLUSH;
	for (i = 0; i < sizeof(nonzero) / sizeof(nonzero[0]); i++) {
		if (read_u64(dir, nonzero[i].attr, &v) < 0)
			goto unreadable;
		if (v)
			cfg->flags |= nonzero[i].flag;
	}
	return 1;
unreadable:
	snprintf(why, len, "cannot read the configuration of %s from %s: %s", devname, dir,
		 strerror(errno ? errno : EINVAL));
	return -1;
}
