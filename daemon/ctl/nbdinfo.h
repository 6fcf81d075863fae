/* SPDX-License-Identifier: GPL-2.0 */
/*
 * /proc/nbdinfo parsed (format: enbd(4), kernel/enbd_proc.c).  Tolerant:
 * a line it does not know is ignored, and any "[N] Name: TOTAL (s0) (s1)..."
 * line not known by name is kept as a per-channel counter, so a counter the
 * kernel adds later shows up without a change here.
 */
#ifndef ENBD_CTL_NBDINFO_H
#define ENBD_CTL_NBDINFO_H

#include <stdbool.h>
#include <stdint.h>

#include <uapi/enbd.h>

#define NBDINFO_MAX_COUNTERS	24

struct nbdinfo_counter {
	char name[24];			/* as in the file, e.g. "Requested" */
	uint64_t total;
	uint64_t slot[ENBD_MAX_CHANNELS];
};

struct nbdinfo_device {
	unsigned int index;
	bool open;
	char state[48];			/* "serving", "waiting for a channel", ... */
	bool read_only;
	bool token;
	int last_error;
	unsigned int queued, claimed, max_outstanding;
	uint64_t block_size, size;
	char features[96];		/* space-separated */
	uint64_t aging_ms;
	int64_t keepalive_s, readahead_kb;	/* in effect; -1: not shown
						 * (an older module) */
	bool outage_fail;
	uint64_t outage_ms;
	int64_t outage_for_ms;		/* -1: a channel is attached */
	unsigned int sockets;
	unsigned int nr_slots;		/* slots shown: up to the last used */
	char mark[ENBD_MAX_CHANNELS];	/* '+' '*' '-' */
	long pid[ENBD_MAX_CHANNELS];
	uint64_t claims, discarded, resubmitted, bad_tokens;	/* Journal: */
	unsigned int nr_counters;
	struct nbdinfo_counter counter[NBDINFO_MAX_COUNTERS];
};

struct nbdinfo {
	unsigned int keepalive_s, readahead_kb, aging_s;
	unsigned int nr_devices;	/* devices 0..nr_devices-1 */
	struct nbdinfo_device dev[ENBD_MAX_DEVICES];
};

/* Parse TEXT (the whole file) into INFO; -1 if it is not /proc/nbdinfo. */
int nbdinfo_parse(const char *text, struct nbdinfo *info);

/* Read and parse /proc/nbdinfo (or $ENBD_NBDINFO); -1 with errno set. */
int nbdinfo_read(struct nbdinfo *info);

const struct nbdinfo_counter *nbdinfo_counter(const struct nbdinfo_device *d,
					      const char *name);

#endif
