// SPDX-License-Identifier: GPL-2.0
/*
 * enbd: /proc/nbdinfo, in the spirit of ENBD's: one block per open device,
 * one column per channel slot, runs of closed devices summarised.
 *
 * Link marks per channel: '+' a daemon is attached and working, '*' the
 * most recently active one, '-' the slot is free, or its daemon is stalled,
 * reconnecting or ejected.
 */
#include <linux/backing-dev.h>
#include <linux/jiffies.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

#include "enbd.h"

/* A consistent copy of one device's state, taken under its locks. */
struct enbd_snapshot {
	bool open;
	bool read_only;
	bool has_token;
	u64 bytes;
	u32 block_size;
	u32 cfg_flags;
	unsigned int nr_queued, nr_claimed, max_outstanding;
	u64 nr_discarded, nr_bad_token, nr_resubmitted, nr_expired, next_seq;
	u32 aging_ms, outage_policy, outage_ms;
	u32 keepalive_s, readahead_kb;	/* in effect: the device's or the module's */
	u32 suspect_ms, lat_p99_ms;
	u64 nr_suspects_dropped;
	unsigned long outage_since;
	bool failing;
	int last_error;
	unsigned int nr_slots;		/* slots shown: up to the last used */
	unsigned int nr_attached;
	char mark[ENBD_MAX_CHANNELS];
	struct enbd_channel ch[ENBD_MAX_CHANNELS];
};

static void enbd_snapshot(struct enbd_device *dev, struct enbd_snapshot *s)
{
	unsigned int i;

	mutex_lock(&dev->config_mutex);
	s->open = dev->open;
	s->bytes = dev->bytes;
	s->block_size = dev->block_size;
	s->cfg_flags = dev->cfg_flags;
	s->has_token = dev->has_token;
	spin_lock(&dev->lock);
	s->nr_queued = dev->nr_queued;
	s->nr_claimed = dev->nr_claimed;
	s->max_outstanding = dev->max_outstanding;
	s->nr_discarded = dev->nr_discarded;
	s->nr_bad_token = dev->nr_bad_token;
	s->nr_resubmitted = dev->nr_resubmitted;
	s->nr_expired = dev->nr_expired;
	s->suspect_ms = enbd_suspect_threshold_ms(dev, &s->lat_p99_ms);
	s->nr_suspects_dropped = dev->nr_suspects_dropped;
	s->aging_ms = dev->aging_ms ? dev->aging_ms : READ_ONCE(enbd_aging) * MSEC_PER_SEC;
	s->outage_policy = dev->outage_policy;
	s->outage_ms = dev->outage_ms;
	s->keepalive_s = enbd_device_keepalive(dev);
	/* The disk's, also after a `blockdev --setra`. */
	s->readahead_kb = READ_ONCE(dev->disk->bdi->ra_pages) << (PAGE_SHIFT - 10);
	s->outage_since = dev->outage_since;
	s->failing = dev->failing;
	s->next_seq = dev->next_seq;
	s->last_error = dev->last_error;
	s->nr_slots = 0;
	s->nr_attached = 0;
	for (i = 0; i < ENBD_MAX_CHANNELS; i++) {
		struct enbd_channel *ch = &dev->channels[i];

		s->ch[i] = *ch;
		if (ch->file && !ch->ejected && !ch->stalled) {
			s->nr_attached++;
			s->mark[i] = ch == dev->last_channel ? '*' : '+';
		} else {
			s->mark[i] = '-';
		}
		if (ch->attaches)
			s->nr_slots = i + 1;
	}
	spin_unlock(&dev->lock);
	mutex_unlock(&dev->config_mutex);
}

/* One "[N] Name:\tTOTAL\t(slot0)\t(slot1)..." line of a per-channel counter. */
static void enbd_show_counter(struct seq_file *m, unsigned int index,
			      const char *name, const struct enbd_snapshot *s,
			      size_t offset)
{
	u64 total = 0;
	unsigned int i;

	for (i = 0; i < s->nr_slots; i++)
		total += *(const u64 *)((const char *)&s->ch[i] + offset);
	seq_printf(m, "[%u] %-11s %llu", index, name, total);
	for (i = 0; i < s->nr_slots; i++)
		seq_printf(m, "\t(%llu)",
			   *(const u64 *)((const char *)&s->ch[i] + offset));
	seq_putc(m, '\n');
}

#define ENBD_SHOW(m, idx, name, s, field) \
	enbd_show_counter(m, idx, name, s, offsetof(struct enbd_channel, field))

static void enbd_show_device(struct seq_file *m, unsigned int index,
			     const struct enbd_snapshot *s)
{
	unsigned int i;

	seq_printf(m, "Device %u:\tOpen\n", index);
	seq_printf(m, "[%u] State:      %s, %s, %s, last error %d\n", index,
		   s->failing ? "failing I/O (outage)" :
		   s->nr_attached ? "serving" : "waiting for a channel",
		   s->cfg_flags & ENBD_CFG_READ_ONLY ? "ro" : "rw",
		   s->has_token ? "token set" : "no token", s->last_error);
	seq_printf(m, "[%u] Queued:     %u current/%u real/%u max\n", index,
		   s->nr_queued + s->nr_claimed, s->nr_claimed, s->max_outstanding);
	seq_printf(m, "[%u] Blocksize:  %u\n", index, s->block_size);
	seq_printf(m, "[%u] Size:       %llu\n", index, s->bytes);
	seq_printf(m, "[%u] Blocks:     %llu\n", index, s->bytes / s->block_size);
	seq_printf(m, "[%u] Features:  %s%s%s%s\n", index,
		   s->cfg_flags & ENBD_CFG_FLUSH ? " flush" : "",
		   s->cfg_flags & ENBD_CFG_FUA ? " fua" : "",
		   s->cfg_flags & ENBD_CFG_TRIM ? " trim" : "",
		   s->cfg_flags & ENBD_CFG_WRITE_ZEROES ? " write-zeroes" : "");
	seq_printf(m, "[%u] Policy:     aging %ums, keepalive %us, readahead %uKiB, outage ",
		   index, s->aging_ms, s->keepalive_s, s->readahead_kb);
	if (s->outage_policy == ENBD_OUTAGE_FAIL)
		seq_printf(m, "fail after %ums", s->outage_ms);
	else
		seq_puts(m, "wait");
	if (s->outage_since)
		seq_printf(m, " (no channel for %ums)",
			   jiffies_to_msecs(jiffies - s->outage_since));
	seq_putc(m, '\n');
	seq_printf(m, "[%u] Sockets:    %u", index, s->nr_attached);
	for (i = 0; i < s->nr_slots; i++)
		seq_printf(m, "\t(%c)", s->mark[i]);
	seq_putc(m, '\n');
	ENBD_SHOW(m, index, "Requested:", s, requested);
	ENBD_SHOW(m, index, "Despatched:", s, despatched);
	ENBD_SHOW(m, index, "Errored:", s, errored);
	ENBD_SHOW(m, index, "Pending:", s, pending);
	ENBD_SHOW(m, index, "Discarded:", s, discarded);
	ENBD_SHOW(m, index, "Bytes:", s, bytes);
	ENBD_SHOW(m, index, "Resubmitted:", s, resubmitted);
	ENBD_SHOW(m, index, "Keepalives:", s, keepalives);
	ENBD_SHOW(m, index, "Suspected:", s, suspected);
	ENBD_SHOW(m, index, "Cleared:", s, cleared);
	ENBD_SHOW(m, index, "Reconnects:", s, reconnects);
	ENBD_SHOW(m, index, "Restarts:", s, restarts);
	seq_printf(m, "[%u] Pids:       ", index);
	for (i = 0; i < s->nr_slots; i++)
		seq_printf(m, "\t(%d)", s->ch[i].file ? s->ch[i].pid : 0);
	seq_putc(m, '\n');
	seq_printf(m, "[%u] Journal:    %llu claims, %llu discarded, %llu resubmitted, %llu expired, %llu bad tokens\n",
		   index, s->next_seq, s->nr_discarded, s->nr_resubmitted, s->nr_expired,
		   s->nr_bad_token);
	seq_printf(m, "[%u] Detector:   suspect after %ums (%u x p99 %ums, floor %ums), %llu suspects dropped\n",
		   index, s->suspect_ms, ENBD_SUSPECT_FACTOR, s->lat_p99_ms, ENBD_SUSPECT_FLOOR_MS,
		   s->nr_suspects_dropped);
}

static void enbd_show_closed(struct seq_file *m, int first, unsigned int last)
{
	if (first < 0)
		return;
	if (first == last)
		seq_printf(m, "Device %u:\tClosed\n", last);
	else
		seq_printf(m, "Device %d-%u:\tClosed\n", first, last);
}

static int enbd_proc_show(struct seq_file *m, void *v)
{
	struct enbd_snapshot *s;
	int closed_from = -1;
	unsigned int i;

	s = kmalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	seq_printf(m, "Options:\tkeepalive %us, readahead %uKiB, aging %us\n",
		   READ_ONCE(enbd_keepalive), READ_ONCE(enbd_readahead_kb),
		   READ_ONCE(enbd_aging));
	for (i = 0; i < enbd_ndevs; i++) {
		enbd_snapshot(enbd_get_device(i), s);
		if (!s->open) {
			if (closed_from < 0)
				closed_from = i;
			continue;
		}
		enbd_show_closed(m, closed_from, i - 1);
		closed_from = -1;
		enbd_show_device(m, i, s);
	}
	enbd_show_closed(m, closed_from, enbd_ndevs - 1);
	kfree(s);
	return 0;
}

int enbd_proc_init(void)
{
	return proc_create_single("nbdinfo", 0444, NULL, enbd_proc_show) ? 0 : -ENOMEM;
}

void enbd_proc_exit(void)
{
	remove_proc_entry("nbdinfo", NULL);
}
