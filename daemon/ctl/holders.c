// SPDX-License-Identifier: GPL-2.0
/*
 * enbdctl: what is built on a device (/sys/block/ndN/holders) and, for an md
 * array, the progress of its resync, recovery or check (md/sync_completed),
 * so that status and watch show a long operation advancing.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* $ENBD_SYSFS (for tests) or /sys */
static const char *sysfs_root(void)
{
	const char *root = getenv("ENBD_SYSFS");

	return root ? root : "/sys";
}

/* The first line of SYSFS/block/NAME/ATTR, without its newline; "" if none. */
static void read_attr(const char *name, const char *attr, char *buf, size_t len)
{
	char path[512];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/block/%s/%s", sysfs_root(), name, attr);
	f = fopen(path, "re");
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

static void read_md(struct ctl_holder *h)
{
	char text[64];

	read_attr(h->name, "md/level", h->level, sizeof(h->level));
	if (!*h->level)
		return;
	h->md = true;
	read_attr(h->name, "md/degraded", text, sizeof(text));
	h->degraded = (unsigned int)strtoul(text, NULL, 10);
	read_attr(h->name, "md/sync_action", h->action, sizeof(h->action));
	/* "DONE / TOTAL" in sectors while a sync runs, else "none" or "delayed". */
	read_attr(h->name, "md/sync_completed", text, sizeof(text));
	if (sscanf(text, "%" SCNu64 " / %" SCNu64, &h->done, &h->total) != 2)
		h->done = h->total = 0;
	read_attr(h->name, "md/sync_speed", text, sizeof(text));
	h->speed_kbs = strtoull(text, NULL, 10);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct ctl_holder *)a)->name, ((const struct ctl_holder *)b)->name);
}

int ctl_holders(unsigned int index, struct ctl_holder *h, int max)
{
	char path[512];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "%s/block/" ENBD_DISK_PREFIX "%u/holders", sysfs_root(),
		 index);
	dir = opendir(path);
	if (!dir)
		return 0;
	while (n < max && (e = readdir(dir))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(h[n].name))
			continue;
		memset(&h[n], 0, sizeof(h[n]));
		strcpy(h[n].name, e->d_name);
		read_md(&h[n]);
		n++;
	}
	closedir(dir);
	qsort(h, (size_t)n, sizeof(*h), by_name);
	return n;
}
