/* SPDX-License-Identifier: GPL-2.0 */
/* enbdctl: the commands (enbdctl(8)). */
#ifndef ENBD_CTL_H
#define ENBD_CTL_H

#include <stdbool.h>

#include "nbdinfo.h"

/* Which devices a command shows: all when none was named. */
struct ctl_select {
	bool any;
	bool index[ENBD_MAX_DEVICES];
};

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
