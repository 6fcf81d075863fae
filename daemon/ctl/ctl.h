/* SPDX-License-Identifier: GPL-2.0 */
/* enbdctl: the commands (enbdctl(8)). */
#ifndef ENBD_CTL_H
#define ENBD_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "nbdinfo.h"

/* Which devices a command shows: all when none was named. */
struct ctl_select {
	bool any;
	bool index[ENBD_MAX_DEVICES];
};

/* A holder of a device (/sys/block/ndN/holders), e.g. an md array on it. */
struct ctl_holder {
	char name[32];			/* "md0" */
	bool md;			/* the rest is md's */
	char level[16];			/* "raid1" */
	char action[16];		/* md/sync_action: idle, resync, recover, check, ... */
	uint64_t done, total;		/* md/sync_completed, sectors; total 0: none running */
	uint64_t speed_kbs;		/* md/sync_speed */
	unsigned int degraded;		/* md/degraded: members missing */
};

#define CTL_MAX_HOLDERS	8

/* holders.c: up to MAX holders of /dev/ndINDEX, by name. */
int ctl_holders(unsigned int index, struct ctl_holder *h, int max);

/* status.c */
void ctl_print_status(const struct nbdinfo *info, const struct ctl_select *sel);
void ctl_print_json(const struct nbdinfo *info, const struct ctl_select *sel);
int ctl_watch(const struct ctl_select *sel, double interval_s, unsigned long count);

/* tune.c */
int ctl_parse_device(const char *arg, unsigned int *index);
/* enbdctl policy's options as given, NULL if absent */
struct ctl_policy_args {
	const char *aging, *outage, *keepalive, *readahead, *token;
};
int ctl_policy(unsigned int index, const struct ctl_policy_args *args);
int ctl_eject(unsigned int index, const char *token);
int ctl_option(const char *name, const char *value);

void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
