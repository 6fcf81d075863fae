// SPDX-License-Identifier: GPL-2.0
/* enbdctl status and watch: the state of /proc/nbdinfo as a table or JSON. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

static bool selected(const struct ctl_select *sel, unsigned int i)
{
	return !sel->any || sel->index[i];
}

static void print_size(uint64_t bytes)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes;
	int u = -1;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		printf("%" PRIu64 " B", bytes);
	else
		printf("%.1f %ciB", v, units[u]);
}

/* Closed devices as runs: "closed: nd1-nd3 nd5". */
static void print_closed(const struct nbdinfo *info, const struct ctl_select *sel)
{
	unsigned int i, first;
	bool any = false;

	for (i = 0; i < info->nr_devices; i++) {
		if (info->dev[i].open || !selected(sel, i))
			continue;
		first = i;
		while (i + 1 < info->nr_devices && !info->dev[i + 1].open && selected(sel, i + 1))
			i++;
		printf("%s" ENBD_DISK_PREFIX "%u", any ? " " : "closed: ", first);
		if (i > first)
			printf("-" ENBD_DISK_PREFIX "%u", i);
		any = true;
	}
	if (any)
		putchar('\n');
}

/* What is built on the device, and how far an md array's sync has got. */
static void print_holders(unsigned int index)
{
	struct ctl_holder h[CTL_MAX_HOLDERS];
	int i, n = ctl_holders(index, h, CTL_MAX_HOLDERS);

	for (i = 0; i < n; i++) {
		printf("  held by %s", h[i].name);
		if (h[i].md) {
			printf(": %s, %s", h[i].level, *h[i].action ? h[i].action : "idle");
			if (h[i].total)
				printf(" %.1f%% (%" PRIu64 " of %" PRIu64 " KiB), %" PRIu64 " KiB/s",
				       100.0 * (double)h[i].done / (double)h[i].total, h[i].done / 2,
				       h[i].total / 2, h[i].speed_kbs);
			if (h[i].degraded)
				printf(", degraded (%u missing)", h[i].degraded);
		}
		putchar('\n');
	}
}

static void print_device(const struct nbdinfo_device *d)
{
	unsigned int c, s;
	int w[NBDINFO_MAX_COUNTERS];

	printf("/dev/" ENBD_DISK_PREFIX "%u: %s, %s, %s", d->index, d->state,
	       d->read_only ? "ro" : "rw", d->token ? "token set" : "no token");
	if (d->last_error)
		printf(", last error %d", d->last_error);
	printf("; ");
	print_size(d->size);
	printf(", block %" PRIu64, d->block_size);
	if (*d->features)
		printf("; %s", d->features);
	putchar('\n');
	printf("  policy: aging %" PRIu64 " ms, ", d->aging_ms);
	if (d->keepalive_s >= 0)
		printf("keepalive %" PRId64 " s, ", d->keepalive_s);
	if (d->readahead_kb >= 0)
		printf("readahead %" PRId64 " KiB, ", d->readahead_kb);
	printf("outage ");
	if (d->outage_fail)
		printf("fail after %" PRIu64 " ms", d->outage_ms);
	else
		printf("wait");
	if (d->outage_for_ms >= 0)
		printf(" (no channel for %" PRId64 " ms)", d->outage_for_ms);
	printf("\n  queue: %u queued, %u claimed, %u max; journal: %" PRIu64 " claims, %"
	       PRIu64 " discarded, %" PRIu64 " resubmitted, %" PRIu64 " bad tokens\n",
	       d->queued, d->claimed, d->max_outstanding, d->claims, d->discarded,
	       d->resubmitted, d->bad_tokens);
	printf("  %-5s %-4s %8s", "slot", "link", "pid");
	for (c = 0; c < d->nr_counters; c++) {
		w[c] = (int)strlen(d->counter[c].name);
		if (w[c] < 9)
			w[c] = 9;
		printf(" %*s", w[c], d->counter[c].name);
	}
	putchar('\n');
	for (s = 0; s < d->nr_slots; s++) {
		printf("  %-5u %-4c %8ld", s, d->mark[s] ? d->mark[s] : '-', d->pid[s]);
		for (c = 0; c < d->nr_counters; c++)
			printf(" %*" PRIu64, w[c], d->counter[c].slot[s]);
		putchar('\n');
	}
	printf("  %-5s %-4s %8s", "total", "", "");
	for (c = 0; c < d->nr_counters; c++)
		printf(" %*" PRIu64, w[c], d->counter[c].total);
	printf("\n  attached: %u of %u slots\n", d->sockets, d->nr_slots);
	print_holders(d->index);
}

void ctl_print_status(const struct nbdinfo *info, const struct ctl_select *sel)
{
	unsigned int i;

	printf("enbd: keepalive %us, readahead %u KiB, aging %us\n", info->keepalive_s,
	       info->readahead_kb, info->aging_s);
	for (i = 0; i < info->nr_devices; i++)
		if (info->dev[i].open && selected(sel, i))
			print_device(&info->dev[i]);
	print_closed(info, sel);
}

/* --- JSON (schema in enbdctl(8)) ----------------------------------------- */

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* A counter's key: its name in lower case, other than letters and digits "_". */
static void json_key(const char *name)
{
	putchar('"');
	for (; *name; name++)
		putchar(isalnum((unsigned char)*name) ? tolower((unsigned char)*name) : '_');
	printf("\": ");
}

static void json_features(const char *features)
{
	char copy[sizeof(((struct nbdinfo_device *)0)->features)];
	char *word, *save = NULL;
	bool first = true;

	snprintf(copy, sizeof(copy), "%s", features);
	putchar('[');
	for (word = strtok_r(copy, " ", &save); word; word = strtok_r(NULL, " ", &save)) {
		printf("%s", first ? "" : ", ");
		json_string(word);
		first = false;
	}
	putchar(']');
}

static void json_holders(unsigned int index)
{
	struct ctl_holder h[CTL_MAX_HOLDERS];
	int i, n = ctl_holders(index, h, CTL_MAX_HOLDERS);

	printf(",\n     \"holders\": [");
	for (i = 0; i < n; i++) {
		printf("%s{\"name\": ", i ? ", " : "");
		json_string(h[i].name);
		if (h[i].md) {
			printf(", \"level\": ");
			json_string(h[i].level);
			printf(", \"degraded\": %u, \"sync_action\": ", h[i].degraded);
			json_string(*h[i].action ? h[i].action : "idle");
			printf(", \"sync\": ");
			if (h[i].total)
				printf("{\"done_kib\": %" PRIu64 ", \"total_kib\": %" PRIu64
				       ", \"kib_per_s\": %" PRIu64 "}", h[i].done / 2, h[i].total / 2,
				       h[i].speed_kbs);
			else
				printf("null");
		}
		putchar('}');
	}
	putchar(']');
}

/* -1: not known */
static void json_int_or_null(int64_t v)
{
	if (v >= 0)
		printf("%" PRId64, v);
	else
		printf("null");
}

static void json_device(const struct nbdinfo_device *d)
{
	unsigned int c, s;

	printf("    {\"index\": %u, \"device\": \"/dev/" ENBD_DISK_PREFIX "%u\", \"open\": %s",
	       d->index, d->index, d->open ? "true" : "false");
	if (!d->open) {
		printf("}");
		return;
	}
	printf(",\n     \"state\": ");
	json_string(d->state);
	printf(", \"read_only\": %s, \"token\": %s, \"last_error\": %d,\n",
	       d->read_only ? "true" : "false", d->token ? "true" : "false", d->last_error);
	printf("     \"size\": %" PRIu64 ", \"block_size\": %" PRIu64 ", \"features\": ",
	       d->size, d->block_size);
	json_features(d->features);
	printf(",\n     \"queued\": %u, \"claimed\": %u, \"max_outstanding\": %u,\n",
	       d->queued, d->claimed, d->max_outstanding);
	printf("     \"aging_ms\": %" PRIu64 ", \"outage\": \"%s\", \"outage_ms\": %" PRIu64
	       ", \"outage_for_ms\": ", d->aging_ms, d->outage_fail ? "fail" : "wait",
	       d->outage_ms);
	json_int_or_null(d->outage_for_ms);
	printf(",\n     \"keepalive_s\": ");
	json_int_or_null(d->keepalive_s);
	printf(", \"readahead_kb\": ");
	json_int_or_null(d->readahead_kb);
	printf(",\n     \"attached\": %u,\n", d->sockets);
	printf("     \"journal\": {\"claims\": %" PRIu64 ", \"discarded\": %" PRIu64
	       ", \"resubmitted\": %" PRIu64 ", \"bad_tokens\": %" PRIu64 "},\n",
	       d->claims, d->discarded, d->resubmitted, d->bad_tokens);
	printf("     \"totals\": {");
	for (c = 0; c < d->nr_counters; c++) {
		printf("%s", c ? ", " : "");
		json_key(d->counter[c].name);
		printf("%" PRIu64, d->counter[c].total);
	}
	printf("},\n     \"channels\": [");
	for (s = 0; s < d->nr_slots; s++) {
		printf("%s\n       {\"slot\": %u, \"mark\": \"%c\", \"attached\": %s, \"pid\": %ld",
		       s ? "," : "", s, d->mark[s] ? d->mark[s] : '-',
		       d->mark[s] == '+' || d->mark[s] == '*' ? "true" : "false", d->pid[s]);
		for (c = 0; c < d->nr_counters; c++) {
			printf(", ");
			json_key(d->counter[c].name);
			printf("%" PRIu64, d->counter[c].slot[s]);
		}
		putchar('}');
	}
	putchar(']');
	json_holders(d->index);
	putchar('}');
}

void ctl_print_json(const struct nbdinfo *info, const struct ctl_select *sel)
{
	unsigned int i;
	bool first = true;

	printf("{\"options\": {\"keepalive_s\": %u, \"readahead_kb\": %u, \"aging_s\": %u},\n",
	       info->keepalive_s, info->readahead_kb, info->aging_s);
	printf(" \"devices\": [");
	for (i = 0; i < info->nr_devices; i++) {
		if (!selected(sel, i))
			continue;
		printf("%s\n", first ? "" : ",");
		json_device(&info->dev[i]);
		first = false;
	}
	printf("\n ]}\n");
}

/* --- watch ---------------------------------------------------------------- */

static uint64_t total_of(const struct nbdinfo_device *d, const char *name)
{
	const struct nbdinfo_counter *c = nbdinfo_counter(d, name);

	return c ? c->total : 0;
}

/* Requests and bytes per second of each device since the last refresh. */
static void print_rates(const struct nbdinfo *now, const struct nbdinfo *before,
			const struct ctl_select *sel, double secs)
{
	unsigned int i;

	for (i = 0; i < now->nr_devices; i++) {
		const struct nbdinfo_device *d = &now->dev[i], *b = &before->dev[i];

		if (!d->open || !b->open || !selected(sel, i))
			continue;
		printf("/dev/" ENBD_DISK_PREFIX "%u: %.0f requests/s, ", i,
		       (double)(total_of(d, "Requested") - total_of(b, "Requested")) / secs);
		print_size((uint64_t)((double)(total_of(d, "Bytes") - total_of(b, "Bytes")) / secs));
		printf("/s, %" PRIu64 " resubmitted, %" PRIu64 " reconnects since the last refresh\n",
		       total_of(d, "Resubmitted") - total_of(b, "Resubmitted"),
		       total_of(d, "Reconnects") - total_of(b, "Reconnects"));
	}
}

int ctl_watch(const struct ctl_select *sel, double interval_s, unsigned long count)
{
	struct nbdinfo *info[2];
	struct timespec tick = {
		.tv_sec = (time_t)interval_s,
		.tv_nsec = (long)((interval_s - (double)(time_t)interval_s) * 1e9),
	};
	bool tty = isatty(STDOUT_FILENO);
	unsigned long n;
	int cur = 0, ret = 0;
	char stamp[32];
	time_t t;

	info[0] = calloc(1, sizeof(*info[0]));
	info[1] = calloc(1, sizeof(*info[1]));
	if (!info[0] || !info[1]) {
		ctl_error("out of memory");
		ret = -1;
		goto out;
	}
	for (n = 0; !count || n < count; n++) {
		if (n)
			nanosleep(&tick, NULL);
		if (nbdinfo_read(info[cur]) < 0) {
			ctl_error("cannot read /proc/nbdinfo: %s (is the enbd module loaded?)",
				  strerror(errno));
			ret = -1;
			goto out;
		}
		t = time(NULL);
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", localtime(&t));
		/* Into a file or a pipe: one status after the other, no escapes. */
		printf("%s%s, every %.1f s (Ctrl-C ends)\n", tty ? "\033[H\033[2J" : n ? "\n" : "",
		       stamp, interval_s);
		ctl_print_status(info[cur], sel);
		if (n)
			print_rates(info[cur], info[!cur], sel, interval_s);
		fflush(stdout);
		cur = !cur;
	}
out:
	free(info[0]);
	free(info[1]);
	return ret;
}
