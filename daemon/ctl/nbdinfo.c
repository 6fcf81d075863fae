// SPDX-License-Identifier: GPL-2.0
/* enbdctl: /proc/nbdinfo parsed (see nbdinfo.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nbdinfo.h"

#define NBDINFO_PATH	"/proc/nbdinfo"
#define NBDINFO_MAX	(1u << 20)

/* "(a)\t(b)..." after the first value: each parenthesised word in turn. */
static unsigned int parse_slots(const char *p, char words[][24], unsigned int max)
{
	unsigned int n = 0;
	const char *open, *close;

	while (n < max && (open = strchr(p, '(')) && (close = strchr(open, ')'))) {
		size_t len = (size_t)(close - open - 1);

		if (len >= sizeof(words[0]))
			len = sizeof(words[0]) - 1;
		memcpy(words[n], open + 1, len);
		words[n][len] = '\0';
		n++;
		p = close + 1;
	}
	return n;
}

static void parse_state(struct nbdinfo_device *d, const char *v)
{
	const char *comma = strstr(v, ", ");
	size_t len = comma ? (size_t)(comma - v) : strlen(v);
	const char *err;

	if (len >= sizeof(d->state))
		len = sizeof(d->state) - 1;
	memcpy(d->state, v, len);
	d->state[len] = '\0';
	d->read_only = strstr(v, ", ro,") != NULL;
	d->token = strstr(v, "token set") != NULL;
	err = strstr(v, "last error ");
	d->last_error = err ? atoi(err + strlen("last error ")) : 0;
}

static void parse_policy(struct nbdinfo_device *d, const char *v)
{
	const char *p;

	if (sscanf(v, "aging %" SCNu64, &d->aging_ms) != 1)
		d->aging_ms = 0;
	d->outage_fail = false;
	d->outage_ms = 0;
	d->outage_for_ms = -1;
	p = strstr(v, "keepalive ");
	d->keepalive_s = p ? strtoll(p + strlen("keepalive "), NULL, 10) : -1;
	p = strstr(v, "readahead ");
	d->readahead_kb = p ? strtoll(p + strlen("readahead "), NULL, 10) : -1;
	p = strstr(v, "outage fail after ");
	if (p) {
		d->outage_fail = true;
		d->outage_ms = strtoull(p + strlen("outage fail after "), NULL, 10);
	}
	p = strstr(v, "no channel for ");
	if (p)
		d->outage_for_ms = strtoll(p + strlen("no channel for "), NULL, 10);
}

static void parse_counter(struct nbdinfo_device *d, const char *name, const char *v)
{
	char words[ENBD_MAX_CHANNELS][24];
	struct nbdinfo_counter *c;
	unsigned int i, n;

	if (d->nr_counters == NBDINFO_MAX_COUNTERS)
		return;
	c = &d->counter[d->nr_counters++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->total = strtoull(v, NULL, 10);
	n = parse_slots(v, words, ENBD_MAX_CHANNELS);
	for (i = 0; i < n; i++)
		c->slot[i] = strtoull(words[i], NULL, 10);
	if (n > d->nr_slots)
		d->nr_slots = n;
}

/* One "[N] Name:   value" line of an open device. */
static void parse_device_line(struct nbdinfo_device *d, const char *name, const char *v)
{
	char words[ENBD_MAX_CHANNELS][24];
	unsigned int i, n;

	if (!strcmp(name, "State")) {
		parse_state(d, v);
	} else if (!strcmp(name, "Queued")) {
		sscanf(v, "%u current/%u real/%u max", &d->queued, &d->claimed,
		       &d->max_outstanding);
	} else if (!strcmp(name, "Blocksize")) {
		d->block_size = strtoull(v, NULL, 10);
	} else if (!strcmp(name, "Size")) {
		d->size = strtoull(v, NULL, 10);
	} else if (!strcmp(name, "Blocks")) {
		/* Size / Blocksize */
	} else if (!strcmp(name, "Features")) {
		snprintf(d->features, sizeof(d->features), "%s", v);
	} else if (!strcmp(name, "Policy")) {
		parse_policy(d, v);
	} else if (!strcmp(name, "Sockets")) {
		d->sockets = (unsigned int)strtoul(v, NULL, 10);
		n = parse_slots(v, words, ENBD_MAX_CHANNELS);
		for (i = 0; i < n; i++)
			d->mark[i] = words[i][0];
		if (n > d->nr_slots)
			d->nr_slots = n;
	} else if (!strcmp(name, "Pids")) {
		n = parse_slots(v, words, ENBD_MAX_CHANNELS);
		for (i = 0; i < n; i++)
			d->pid[i] = strtol(words[i], NULL, 10);
	} else if (!strcmp(name, "Journal")) {
		sscanf(v, "%" SCNu64 " claims, %" SCNu64 " discarded, %" SCNu64
		       " resubmitted, %" SCNu64 " bad tokens", &d->claims,
		       &d->discarded, &d->resubmitted, &d->bad_tokens);
	} else if (*v >= '0' && *v <= '9') {
		parse_counter(d, name, v);
	}
}

static void mark_closed(struct nbdinfo *info, unsigned int first, unsigned int last)
{
	unsigned int i;

	for (i = first; i <= last && i < ENBD_MAX_DEVICES; i++) {
		info->dev[i].index = i;
		info->dev[i].open = false;
	}
	if (last + 1 > info->nr_devices)
		info->nr_devices = last + 1 > ENBD_MAX_DEVICES ? ENBD_MAX_DEVICES : last + 1;
}

static void parse_line(struct nbdinfo *info, char *line)
{
	unsigned int first, last;
	char *colon, *v;
	int used = 0;

	if (sscanf(line, "Options: keepalive %us, readahead %uKiB, aging %us",
		   &info->keepalive_s, &info->readahead_kb, &info->aging_s) >= 1)
		return;
	if (sscanf(line, "Device %u-%u: Closed%n", &first, &last, &used) == 2 && used) {
		mark_closed(info, first, last);
		return;
	}
	if (sscanf(line, "Device %u: %n", &first, &used) == 1 && used) {
		if (!strcmp(line + used, "Closed")) {
			mark_closed(info, first, first);
		} else if (!strcmp(line + used, "Open") && first < ENBD_MAX_DEVICES) {
			info->dev[first].index = first;
			info->dev[first].open = true;
			if (first + 1 > info->nr_devices)
				info->nr_devices = first + 1;
		}
		return;
	}
	if (sscanf(line, "[%u] %n", &first, &used) != 1 || !used ||
	    first >= ENBD_MAX_DEVICES || !info->dev[first].open)
		return;
	colon = strchr(line + used, ':');
	if (!colon)
		return;
	*colon = '\0';
	v = colon + 1 + strspn(colon + 1, " \t");
	parse_device_line(&info->dev[first], line + used, v);
}

int nbdinfo_parse(const char *text, struct nbdinfo *info)
{
	char *copy, *line, *save = NULL;

	memset(info, 0, sizeof(*info));
	if (strncmp(text, "Options:", strlen("Options:")) != 0)
		return -1;
	copy = strdup(text);
	if (!copy)
		return -1;
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		parse_line(info, line);
	free(copy);
	return 0;
}

/*
 * In one read: /proc/nbdinfo is a seq_file, regenerated from the state of
 * the moment for every read that does not continue where the last ended.
 */
int nbdinfo_read(struct nbdinfo *info)
{
	const char *path = getenv("ENBD_NBDINFO") ? getenv("ENBD_NBDINFO") : NBDINFO_PATH;
	size_t len = 0;
	ssize_t n = 0;
	char *buf;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	buf = malloc(NBDINFO_MAX + 1);
	if (!buf)
		goto out_close;
	while (len < NBDINFO_MAX && (n = read(fd, buf + len, NBDINFO_MAX - len)) > 0)
		len += (size_t)n;
	if (n < 0 && len < NBDINFO_MAX)
		goto out_free;
	buf[len] = '\0';
	ret = nbdinfo_parse(buf, info);
	if (ret < 0)
		errno = EINVAL;
out_free:
	free(buf);
out_close:
	close(fd);
	return ret;
}

const struct nbdinfo_counter *nbdinfo_counter(const struct nbdinfo_device *d,
					      const char *name)
{
	unsigned int i;

	for (i = 0; i < d->nr_counters; i++)
		if (!strcmp(d->counter[i].name, name))
			return &d->counter[i];
	return NULL;
}
