// SPDX-License-Identifier: GPL-2.0
/*
 * enbd: the request journal.
 *
 * A request moves  queue --fetch--> journal --complete--> ended.
 * Rolling back (the owner detached or died) moves it from the journal to the
 * head of the queue with a fresh claim to come, so any completion quoting the
 * old sequence number is recognised as late and discarded.  A request is
 * ended exactly once: by the completion that takes it off the journal, or by
 * an abort.  Copies between request pages and userspace happen outside
 * dev->lock in the FETCHING and COMPLETING states, which nothing else may end
 * or move: a shutdown marks such a request aborted and its copier fails it.
 * A request with no payload to copy skips them: its fetch writes the header
 * under the lock where that goes without faulting, its completion ends it
 * in one hold of the lock.
 * A copy that fails (a bad user buffer) puts the request back: a fetch rolls
 * it back onto the queue; a completion leaves it claimed if its channel can
 * still send a good one, rolls it back if not, and fails it if aborted.
 * A new request wakes one idle channel (enbd_take_idle_locked), unless a
 * channel just out of a non-blocking batch call will look at the queue again
 * anyway (enbd_awake_fetcher_locked); whatever else puts work on the queue, or
 * changes a channel, wakes them all.
 *
 * Aging (enbd_age_requests, once a second): a claim older than the aging time
 * (ENBD_SLOW_AGING_FACTOR times that for flushes, trims and write-zeroes)
 * marks its channel stalled; so does fetching nothing for the aging time
 * while the request at the head of the queue waited that long (a daemon
 * stopped between requests claims nothing that could age).  A stalled
 * channel fetches nothing more and is
 * told (POLLPRI) to drop its connection and re-attach.  Its aged READs are
 * rolled back at once - if the old connection answers after all, that answer
 * is a late completion and discarded.  Its aged writes, trims, zeroes and
 * flushes stay claimed until the channel detaches, closing its connection:
 * were a write resubmitted while its first copy could still reach the server,
 * the first copy could land after a newer write to the same blocks had been
 * acknowledged.  Flushes need nothing more: the block layer sends a flush
 * only once the writes it covers have completed, and a write completes only
 * through the one claim that carried it.
 *
 * Suspicion from siblings (enbd_suspect_locked, every ENBD_CHECK_FAST_MS
 * while requests are claimed): a dead link among live ones would otherwise
 * hold its requests for the aging time or two keep-alive intervals.  The
 * device keeps a histogram of recent completion latencies (claim to
 * completion, halved once a second).  A live channel that holds a READ or
 * WRITE claim and showed no life (no completion, no answered keep-alive)
 * for ENBD_SUSPECT_FACTOR times their 99th percentile, never less than
 * ENBD_SUSPECT_FLOOR_MS, while another live channel completed a request
 * meanwhile or holds none (enbd_live_sibling), becomes suspect: its daemon
 * is asked (POLLRDBAND) to probe the server with a short deadline and to
 * drop the connection if unanswered.
 * The kernel moves nothing on a suspicion: a merely slow channel answers
 * and is left alone; a dead one detaches, which hands its claims back as
 * any detach does.  Flushes, trims and write-zeroes may rightly take long
 * and do not count.  Any sign of life ends a suspicion.
 *
 * Aging is bounded twice.  A request whose claims outlived the aging time
 * ENBD_MAX_AGED_CLAIMS times fails instead of going back to the queue: it
 * would only reset connection after connection.  And with ENBD_OUTAGE_FAIL a
 * channel that stays stalled for outage_ms (its daemon stopped or stuck, so
 * it never lets go) loses its claims: its reads are resubmitted, its other
 * claims fail, so that an md mirror faults this member instead of waiting
 * for it.  It stays stalled, so a daemon that wakes up reconnects.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blk-mq.h>
#include <linux/uio.h>
#include <linux/jiffies.h>
#include <linux/sched.h>
#include <linux/uaccess.h>

#include "enbd.h"

bool enbd_channel_usable(struct enbd_channel *ch, struct file *file)
{
	lockdep_assert_held(&ch->dev->lock);
	return ch->file == file && !ch->ejected;
}

/* A channel that can take work: attached, not ejected, not stalled. */
static bool enbd_channel_live(struct enbd_channel *ch)
{
	lockdep_assert_held(&ch->dev->lock);
	return ch->file && !ch->ejected && !ch->stalled;
}

/* The bucket of dev->lat_hist that counts a latency of @ms (see enbd.h). */
static unsigned int enbd_lat_bucket(unsigned int ms)
{
	unsigned int shift;

	if (ms < ENBD_LAT_SUB)
		return ms;
	/* ms >> shift keeps the top ENBD_LAT_SUB_BITS + 1 bits: SUB..2*SUB-1. */
	shift = fls(ms) - 1 - ENBD_LAT_SUB_BITS;
	return min_t(unsigned int, (shift + 1) * ENBD_LAT_SUB + (ms >> shift) - ENBD_LAT_SUB,
		     ENBD_LAT_BUCKETS - 1);
}

/* The latencies bucket @b counts: [*@low, *@low + *@width) ms. */
static void enbd_lat_bucket_range(unsigned int b, u32 *low, u32 *width)
{
	unsigned int shift;

	if (b < ENBD_LAT_SUB) {
		*low = b;
		*width = 1;
		return;
	}
	shift = b / ENBD_LAT_SUB - 1;
	*low = (ENBD_LAT_SUB + b % ENBD_LAT_SUB) << shift;
	*width = 1u << shift;
}

/* Count a completion of a request claimed at @claimed_at in dev->lat_hist. */
static void enbd_note_latency_locked(struct enbd_device *dev, unsigned long claimed_at)
{
	lockdep_assert_held(&dev->lock);
	dev->lat_hist[enbd_lat_bucket(jiffies_to_msecs(jiffies - claimed_at))]++;
}

/* Halve the latency histogram (once a second), so that it shows recent ones. */
static void enbd_decay_latency_locked(struct enbd_device *dev)
{
	unsigned int b;

	lockdep_assert_held(&dev->lock);
	for (b = 0; b < ENBD_LAT_BUCKETS; b++)
		dev->lat_hist[b] /= 2;
}

/*
 * How long (ms) a channel may stay silent while it holds claims and a
 * sibling completes: ENBD_SUSPECT_FACTOR times the recent 99th percentile
 * completion latency (interpolated within its histogram bucket; 0 when
 * nothing completed lately: *@p99_ms), at least ENBD_SUSPECT_FLOOR_MS.
 */
u32 enbd_suspect_threshold_ms(struct enbd_device *dev, u32 *p99_ms)
{
	u64 total = 0, seen = 0, rank;
	u32 p99 = 0, low, width;
	unsigned int b;

	lockdep_assert_held(&dev->lock);
	for (b = 0; b < ENBD_LAT_BUCKETS; b++)
		total += dev->lat_hist[b];
	rank = DIV_ROUND_UP_ULL(total * 99, 100);
	for (b = 0; total && b < ENBD_LAT_BUCKETS; b++) {
		if (seen + dev->lat_hist[b] >= rank) {
			enbd_lat_bucket_range(b, &low, &width);
			p99 = low + div64_u64((u64)width * (rank - seen), dev->lat_hist[b]);
			break;
		}
		seen += dev->lat_hist[b];
	}
	if (p99_ms)
		*p99_ms = p99;
	return max_t(u32, ENBD_SUSPECT_FACTOR * p99, ENBD_SUSPECT_FLOOR_MS);
}

/* @ch showed life (a completion, an answered keep-alive): no longer suspect. */
static void enbd_heard_locked(struct enbd_channel *ch)
{
	lockdep_assert_held(&ch->dev->lock);
	ch->last_heard = jiffies;
	if (!ch->suspect)
		return;
	ch->suspect = false;
	ch->probe_asked = false;
	ch->cleared++;
}

/* @ch lets go or stalls: its suspicion, if any, ends without an answer. */
static void enbd_drop_suspicion_locked(struct enbd_channel *ch)
{
	lockdep_assert_held(&ch->dev->lock);
	if (!ch->suspect)
		return;
	ch->suspect = false;
	ch->probe_asked = false;
	ch->dev->nr_suspects_dropped++;
}

static void enbd_note_outstanding(struct enbd_device *dev)
{
	unsigned int now = dev->nr_queued + dev->nr_claimed;

	lockdep_assert_held(&dev->lock);
	if (now > dev->max_outstanding)
		dev->max_outstanding = now;
}

/*
 * The idle channel to wake, no longer idle; NULL if none.  The one with the
 * fewest requests in flight: on links of different speeds, the fast one's
 * requests are back first, and a channel still waiting for its server is
 * the worse choice.  Among equals the one that went idle last: it slept
 * least long (on a busy host its CPU may not have gone idle yet).  Bits of
 * channels that died, stalled or were ejected since they went idle are
 * dropped: those were woken when that happened.
 */
static struct enbd_channel *enbd_take_idle_locked(struct enbd_device *dev)
{
	struct enbd_channel *ch, *best = NULL;
	unsigned int i;

	lockdep_assert_held(&dev->lock);
	BUILD_BUG_ON(ENBD_MAX_CHANNELS > BITS_PER_LONG);
	for_each_set_bit(i, &dev->idle_channels, ENBD_MAX_CHANNELS) {
		ch = &dev->channels[i];
		if (!enbd_channel_live(ch)) {
			__clear_bit(i, &dev->idle_channels);
			continue;
		}
		if (!best || ch->pending < best->pending ||
		    (ch->pending == best->pending && i == dev->last_idle))
			best = ch;
	}
	if (best)
		__clear_bit(best->index, &dev->idle_channels);
	return best;
}

/*
 * @ch's daemon looks at the queue before it may sleep, wanting a request
 * (@wants: it polls for POLLIN, or fetches blocking) or not.  It is idle if
 * it wants one and none is there: the next request wakes it.  If requests
 * wait that it does not take, it may be the idle channel woken for them:
 * returns an idle sibling for the caller to wake in its place, so that no
 * request waits while a channel that would take it sleeps.
 */
struct enbd_channel *enbd_note_interest_locked(struct enbd_channel *ch, struct file *file,
					       bool wants)
{
	struct enbd_device *dev = ch->dev;

	lockdep_assert_held(&dev->lock);
	__clear_bit(ch->index, &dev->awake_channels);
	if (wants && list_empty(&dev->queue) && enbd_channel_usable(ch, file) && !ch->stalled) {
		if (!__test_and_set_bit(ch->index, &dev->idle_channels))
			dev->last_idle = ch->index;
		return NULL;
	}
	__clear_bit(ch->index, &dev->idle_channels);
	return wants || list_empty(&dev->queue) ? NULL : enbd_take_idle_locked(dev);
}

/*
 * Whether a channel that made a non-blocking batch call within the last
 * ENBD_AWAKE_MS has not looked at the queue since: it will before it
 * sleeps, and take what came meanwhile (or, its window full, wake an idle
 * sibling for it).  A new
 * request then wakes nobody: on a host with fewer CPUs than channels each
 * wake-up costs more than the request, and spreading a burst over every
 * channel made 4 channels slower than 1.  A daemon stopped while awake is
 * trusted no longer than that; the next request, or the next check
 * (enbd_age_requests), wakes an idle one.
 */
static bool enbd_awake_fetcher_locked(struct enbd_device *dev)
{
	unsigned long since = jiffies - msecs_to_jiffies(ENBD_AWAKE_MS);
	struct enbd_channel *ch;
	unsigned int i;

	lockdep_assert_held(&dev->lock);
	for_each_set_bit(i, &dev->awake_channels, ENBD_MAX_CHANNELS) {
		ch = &dev->channels[i];
		if (enbd_channel_live(ch) && time_after_eq(ch->awake_at, since))
			return true;
	}
	return false;
}

blk_status_t enbd_queue_request(struct enbd_device *dev, struct request *rq)
{
	struct enbd_cmd *cmd = blk_mq_rq_to_pdu(rq);
	struct enbd_channel *idle;

	spin_lock(&dev->lock);
	if (!dev->accepting || dev->failing) {
		spin_unlock(&dev->lock);
		return BLK_STS_IOERR;
	}
	cmd->state = ENBD_CMD_QUEUED;
	cmd->queued_at = jiffies;
	cmd->owner = NULL;
	cmd->seq = 0;
	cmd->aged_claims = 0;
	cmd->aged = false;
	cmd->aborted = false;
	list_add_tail(&cmd->link, &dev->queue);
	dev->nr_queued++;
	enbd_note_outstanding(dev);
	idle = enbd_awake_fetcher_locked(dev) ? NULL : enbd_take_idle_locked(dev);
	spin_unlock(&dev->lock);
	/* The others are busy: each fetches again before it sleeps. */
	if (idle)
		wake_up(&idle->wait);
	return BLK_STS_OK;
}

/* Take @cmd (FETCHING, CLAIMED or COMPLETING) off the journal: it is IDLE. */
static void enbd_unclaim_locked(struct enbd_device *dev, struct enbd_cmd *cmd)
{
	lockdep_assert_held(&dev->lock);
	if (cmd->state == ENBD_CMD_CLAIMED)
		dev->claimed[cmd->rq->tag] = NULL;
	list_del_init(&cmd->link);
	cmd->owner->pending--;
	cmd->owner = NULL;
	dev->nr_claimed--;
	cmd->state = ENBD_CMD_IDLE;
}

/* Take @cmd off the journal onto @failed, for the caller to end unlocked. */
static void enbd_fail_locked(struct enbd_device *dev, struct enbd_cmd *cmd,
			     struct list_head *failed)
{
	enbd_unclaim_locked(dev, cmd);
	list_add_tail(&cmd->link, failed);
}

/*
 * Take @cmd off the journal and put it back at the head of the queue; or fail
 * it (onto @failed) if the device no longer accepts I/O or its claims have
 * outlived the aging time too often.  Returns true if it was queued: the
 * caller must then wake a fetcher (enbd_settle).
 */
static bool enbd_rollback_locked(struct enbd_device *dev, struct enbd_cmd *cmd,
				 struct list_head *failed)
{
	struct request *rq = cmd->rq;

	enbd_unclaim_locked(dev, cmd);
	if (dev->accepting && cmd->aged_claims < ENBD_MAX_AGED_CLAIMS) {
		cmd->state = ENBD_CMD_QUEUED;
		cmd->queued_at = jiffies;
		list_add(&cmd->link, &dev->queue);
		dev->nr_queued++;
		return true;
	}
	if (dev->accepting) {
		dev->nr_expired++;
		pr_warn_ratelimited("%s: %s %llu+%u failed: %u claims outlived the aging time\n",
				    dev->disk->disk_name, blk_op_str(req_op(rq)),
				    (u64)blk_rq_pos(rq) << SECTOR_SHIFT, blk_rq_bytes(rq),
				    cmd->aged_claims);
	}
	list_add_tail(&cmd->link, failed);
	return false;
}

/* Roll back a claim that reached a channel, to be carried out again. */
static bool enbd_resubmit_locked(struct enbd_device *dev, struct enbd_cmd *cmd,
				 struct list_head *failed)
{
	struct enbd_channel *ch = cmd->owner;

	if (!enbd_rollback_locked(dev, cmd, failed))
		return false;
	ch->resubmitted++;
	dev->nr_resubmitted++;
	return true;
}

/*
 * After dropping dev->lock: end the requests on @failed with an I/O error,
 * and wake every channel's daemon if @wake: work was put on the queue, or a
 * channel stalled, was ejected, let go or became suspect.
 */
static void enbd_settle(struct enbd_device *dev, struct list_head *failed, bool wake)
{
	struct enbd_cmd *cmd, *next;
	unsigned int i;

	list_for_each_entry_safe(cmd, next, failed, link) {
		list_del_init(&cmd->link);
		blk_mq_end_request(cmd->rq, BLK_STS_IOERR);
	}
	for (i = 0; wake && i < ENBD_MAX_CHANNELS; i++)
		wake_up_all(&dev->channels[i].wait);
}

/*
 * The block layer's status for a daemon's errno.  Only statuses that just
 * say "this request failed" pass: the others would have the block layer or
 * dm retry (AGAIN, RESOURCE, DM_REQUEUE) or name causes a network disk does
 * not have (zones, reservations, protection information).  EPERM and EROFS,
 * a server refusing a write, have no status of their own: EIO.
 */
static blk_status_t enbd_errno_status(int error)
{
	switch (error) {
	case -ENOSPC:
		return BLK_STS_NOSPC;
	case -EOPNOTSUPP:
		return BLK_STS_NOTSUPP;
	case -ENODATA:
		return BLK_STS_MEDIUM;
	case -ETIMEDOUT:
		return BLK_STS_TIMEOUT;
	default:
		return BLK_STS_IOERR;
	}
}

static u16 enbd_request_type(struct request *rq, u16 *flags)
{
	*flags = 0;
	switch (req_op(rq)) {
	case REQ_OP_READ:
		return ENBD_CMD_READ;
	case REQ_OP_WRITE:
		if (rq->cmd_flags & REQ_FUA)
			*flags |= ENBD_CMD_FLAG_FUA;
		return ENBD_CMD_WRITE;
	case REQ_OP_FLUSH:
		return ENBD_CMD_FLUSH;
	case REQ_OP_DISCARD:
		return ENBD_CMD_TRIM;
	default:	/* REQ_OP_WRITE_ZEROES: queue_rq let nothing else in */
		if (rq->cmd_flags & REQ_NOUNMAP)
			*flags |= ENBD_CMD_FLAG_NO_HOLE;
		return ENBD_CMD_WRITE_ZEROES;
	}
}

/*
 * Copy a WRITE's payload to @ubuf, or a READ's payload from @ubuf.
 *
 * Through an iov_iter, page by page: a bio's pages may be slab memory (jbd2
 * writes 1 KiB blocks from a kmem_cache), which hardened usercopy rightly
 * refuses to let copy_to_user() expose as an object, but which is plain
 * request data here.
 */
static int enbd_copy_payload(struct request *rq, void __user *ubuf, bool to_user)
{
	struct req_iterator iter;
	struct iov_iter uiter;
	struct bio_vec bvec;
	struct iovec iov;
	size_t done;
	int ret;

	ret = import_single_range(to_user ? ITER_DEST : ITER_SOURCE, ubuf,
				  blk_rq_bytes(rq), &iov, &uiter);
	if (ret)
		return ret;
	rq_for_each_segment(bvec, rq, iter) {
		if (to_user)
			done = copy_page_to_iter(bvec.bv_page, bvec.bv_offset,
						 bvec.bv_len, &uiter);
		else
			done = copy_page_from_iter(bvec.bv_page, bvec.bv_offset,
						   bvec.bv_len, &uiter);
		if (done != bvec.bv_len)
			return -EFAULT;
	}
	return 0;
}

static bool enbd_fetch_ready(struct enbd_device *dev, struct enbd_channel *ch,
			     struct file *file)
{
	bool ready;

	spin_lock(&dev->lock);
	ready = !list_empty(&dev->queue) || !enbd_channel_usable(ch, file) ||
		ch->stalled;
	enbd_note_interest_locked(ch, file, true);
	spin_unlock(&dev->lock);
	return ready;
}

/*
 * Sleep until a request is queued, or @ch can fetch no more (detached,
 * ejected, stalled: the next fetch says which).  0, or -EINTR.
 */
int enbd_wait_for_request(struct enbd_channel *ch, struct file *file)
{
	if (wait_event_interruptible(ch->wait, enbd_fetch_ready(ch->dev, ch, file)))
		return -EINTR;
	return 0;
}

/* @cmd's fetch reached its daemon: a completion may now quote it. */
static void enbd_mark_claimed_locked(struct enbd_device *dev, struct enbd_cmd *cmd)
{
	lockdep_assert_held(&dev->lock);
	cmd->state = ENBD_CMD_CLAIMED;
	dev->claimed[cmd->rq->tag] = cmd;
}

/*
 * Move the oldest queued request onto the journal, FETCHING for @ch, with a
 * fresh sequence number; its header for the daemon in @req.
 */
static struct enbd_cmd *enbd_claim_locked(struct enbd_channel *ch, struct enbd_request *req)
{
	struct enbd_device *dev = ch->dev;
	struct enbd_cmd *cmd;
	struct request *rq;

	lockdep_assert_held(&dev->lock);
	cmd = list_first_entry(&dev->queue, struct enbd_cmd, link);
	rq = cmd->rq;
	list_move_tail(&cmd->link, &dev->journal);
	dev->nr_queued--;
	dev->nr_claimed++;
	cmd->state = ENBD_CMD_FETCHING;
	cmd->owner = ch;
	cmd->seq = ++dev->next_seq;
	cmd->claimed_at = jiffies;
	cmd->aged = false;
	ch->requested++;
	ch->pending++;
	ch->last_active = jiffies;
	dev->last_channel = ch;
	/* Busy: it looks at the queue again before it sleeps. */
	__clear_bit(ch->index, &dev->idle_channels);

	req->seq = cmd->seq;
	req->tag = rq->tag;
	/* A flush covers the whole device: NBD wants offset and length 0. */
	if (req_op(rq) == REQ_OP_FLUSH) {
		req->offset = 0;
		req->length = 0;
	} else {
		req->offset = (u64)blk_rq_pos(rq) << SECTOR_SHIFT;
		req->length = blk_rq_bytes(rq);
	}
	req->type = enbd_request_type(rq, &req->flags);
	req->reserved = 0;
	return cmd;
}

/*
 * The READ data of @cmd's completion could not be copied in: a bad buffer.
 * A correct completion may follow if its channel can still send one; if not
 * (detached, ejected or stalled meanwhile) the request goes back to the
 * queue, and if the device was shut down meanwhile it fails.  Returns true
 * if it was queued.
 */
static bool enbd_completion_failed_locked(struct enbd_channel *ch, struct file *file,
					  struct enbd_cmd *cmd, struct list_head *failed)
{
	struct enbd_device *dev = ch->dev;

	lockdep_assert_held(&dev->lock);
	if (cmd->aborted) {
		enbd_fail_locked(dev, cmd, failed);
		return false;
	}
	if (enbd_channel_usable(ch, file) && !ch->stalled) {
		enbd_mark_claimed_locked(dev, cmd);
		return false;
	}
	return enbd_resubmit_locked(dev, cmd, failed);
}

/*
 * Find the claim completion @d quotes.  Returns it, COMPLETING (no longer
 * completable by anyone else), with d->result ENBD_DONE_ACCEPTED; or NULL
 * with d->result ENBD_DONE_DISCARDED (late or doubled, counted) or -EINVAL
 * (malformed: nothing changes).
 */
static struct enbd_cmd *enbd_match_done_locked(struct enbd_channel *ch, struct enbd_done *d)
{
	struct enbd_device *dev = ch->dev;
	struct enbd_cmd *cmd;
	bool copy_in;

	lockdep_assert_held(&dev->lock);
	d->result = -EINVAL;
	if (d->tag >= ENBD_QUEUE_DEPTH || d->seq == 0 || d->error > 0 || d->error < -MAX_ERRNO)
		return NULL;
	if (d->seq > dev->next_seq)
		return NULL;	/* never handed out: not late, made up */
	cmd = dev->claimed[d->tag];
	if (!cmd || cmd->seq != d->seq || cmd->owner != ch) {
		ch->discarded++;
		dev->nr_discarded++;
		d->result = ENBD_DONE_DISCARDED;
		return NULL;
	}
	copy_in = req_op(cmd->rq) == REQ_OP_READ && d->error == 0;
	if (d->length != (copy_in ? blk_rq_bytes(cmd->rq) : 0))
		return NULL;
	dev->claimed[d->tag] = NULL;
	cmd->state = ENBD_CMD_COMPLETING;
	d->result = ENBD_DONE_ACCEPTED;
	return cmd;
}

/*
 * Take COMPLETING @cmd, completed by @ch with @error, off the journal: the
 * book-keeping.  Returns the status to end its request with, unlocked.
 * Ended even if shut down meanwhile: its data is complete.
 */
static blk_status_t enbd_finish_locked(struct enbd_channel *ch, struct enbd_cmd *cmd, int error)
{
	struct enbd_device *dev = ch->dev;
	struct request *rq = cmd->rq;

	lockdep_assert_held(&dev->lock);
	enbd_unclaim_locked(dev, cmd);
	enbd_note_latency_locked(dev, cmd->claimed_at);
	ch->last_active = jiffies;
	ch->last_completed = jiffies;
	enbd_heard_locked(ch);
	dev->last_channel = ch;
	if (error) {
		ch->errored++;
		dev->last_error = error;
		return enbd_errno_status(error);
	}
	ch->despatched++;
	if (req_op(rq) == REQ_OP_READ || req_op(rq) == REQ_OP_WRITE)
		ch->bytes += blk_rq_bytes(rq);
	return BLK_STS_OK;
}

/*
 * The completions of a batch that carry READ data: copy it in, outside the
 * lock (they are COMPLETING).  A failed copy leaves result -EFAULT.
 */
static void enbd_copy_completions(struct enbd_done *done, unsigned int n,
				  struct enbd_cmd **cmds)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (cmds[i] && done[i].length &&
		    enbd_copy_payload(cmds[i]->rq, u64_to_user_ptr(done[i].data), false))
			done[i].result = -EFAULT;
}

/*
 * End, under the lock again, the completions whose READ data was copied in
 * (their status in @status), and hand back those whose copy failed (cmds[i]
 * becomes NULL).  Returns true if one went back to the queue.
 */
static bool enbd_end_copied_locked(struct enbd_channel *ch, struct file *file,
				   struct enbd_done *done, unsigned int n,
				   struct enbd_cmd **cmds, blk_status_t *status,
				   struct list_head *failed)
{
	bool requeued = false;
	unsigned int i;

	lockdep_assert_held(&ch->dev->lock);
	for (i = 0; i < n; i++) {
		if (!cmds[i] || !done[i].length)
			continue;
		if (done[i].result == -EFAULT) {
			requeued |= enbd_completion_failed_locked(ch, file, cmds[i], failed);
			cmds[i] = NULL;
		} else {
			status[i] = enbd_finish_locked(ch, cmds[i], 0);
		}
	}
	return requeued;
}

/*
 * Claim up to @n queued requests, oldest first, for @ch: their headers in
 * @req.  Headers without a payload are written to to[i].ureq here, where
 * that goes without faulting (the daemon's arrays are in memory): those are
 * CLAIMED at once.  From the first that needs more (a WRITE, a header whose
 * page is out), the rest stay FETCHING for enbd_fetch_copy_out, which
 * starts at *@copy_from.  Returns how many were claimed, or a negative
 * errno (detached, ejected: -ESHUTDOWN; stalled: -ENOLINK) with none.
 */
static int enbd_claim_batch_locked(struct enbd_channel *ch, struct file *file,
				   const struct enbd_fetch_to *to, unsigned int n,
				   struct enbd_request *req, struct enbd_cmd **cmds,
				   unsigned int *copy_from)
{
	struct enbd_device *dev = ch->dev;
	unsigned int claimed;

	lockdep_assert_held(&dev->lock);
	*copy_from = n;
	if (!enbd_channel_usable(ch, file))
		return -ESHUTDOWN;
	if (ch->stalled)
		return -ENOLINK;
	for (claimed = 0; claimed < n && !list_empty(&dev->queue); claimed++) {
		cmds[claimed] = enbd_claim_locked(ch, &req[claimed]);
		if (*copy_from == n && req[claimed].type != ENBD_CMD_WRITE &&
		    !copy_to_user_nofault(to[claimed].ureq, &req[claimed], sizeof(*req)))
			enbd_mark_claimed_locked(dev, cmds[claimed]);
		else if (*copy_from == n)
			*copy_from = claimed;
	}
	return claimed;
}

/*
 * Hand the FETCHING requests copy_from .. claimed - 1 to the daemon, in
 * order, outside the lock: the WRITE payload to to[i].data, the header to
 * to[i].ureq.  If entry k fails (a bad buffer), it and those after it go
 * back to the queue, so that what the daemon gets is always a prefix.
 * Returns how many it got in all (k), -EFAULT if none, -ESHUTDOWN if the
 * channel went meanwhile (those claimed under the lock went with it).
 */
static int enbd_fetch_copy_out(struct enbd_channel *ch, struct file *file,
			       const struct enbd_fetch_to *to, const struct enbd_request *req,
			       struct enbd_cmd **cmds, unsigned int copy_from,
			       unsigned int claimed)
{
	struct enbd_device *dev = ch->dev;
	unsigned int i, copied;
	bool requeued = false, usable;
	LIST_HEAD(failed);
	int ret = 0;

	for (copied = copy_from; copied < claimed; copied++) {
		if (req[copied].type == ENBD_CMD_WRITE)
			ret = enbd_copy_payload(cmds[copied]->rq, to[copied].data, true);
		if (!ret && copy_to_user(to[copied].ureq, &req[copied], sizeof(*req)))
			ret = -EFAULT;
		if (ret)
			break;
	}

	spin_lock(&dev->lock);
	usable = enbd_channel_usable(ch, file);
	/* Backwards: what goes back keeps its order at the head of the queue. */
	for (i = claimed; i-- > copy_from; ) {
		if (cmds[i]->aborted) {
			/* enbd_abort_all() ran while we copied: we end it. */
			enbd_fail_locked(dev, cmds[i], &failed);
		} else if (i >= copied || !usable) {
			/* Bad buffer, or detached meanwhile: someone else takes it. */
			ch->requested--;	/* never left the kernel */
			requeued |= enbd_rollback_locked(dev, cmds[i], &failed);
		} else {
			enbd_mark_claimed_locked(dev, cmds[i]);
		}
	}
	spin_unlock(&dev->lock);
	enbd_settle(dev, &failed, requeued);
	if (!usable)
		return -ESHUTDOWN;
	return copied ?: ret;
}

/*
 * One batch of @ch (at most ENBD_BATCH_MAX of each): carry out the @nd
 * completions in @done, then fetch up to @nf queued requests into @to.
 *
 * Each completion stands alone: done[i].result says what became of it
 * (see struct enbd_done).  Those without READ data end, and the fetch
 * claims its requests, in one hold of the device lock; READ data is copied
 * in outside it first, and WRITE payloads (or headers whose page is out)
 * out after it, each taking one more hold.
 *
 * Returns how many requests were fetched (0: none queued), or a negative
 * errno with none: -ESHUTDOWN (detached or ejected), -ENOLINK (stalled),
 * -EFAULT (the first fetch could not be copied out).  *@completed says
 * whether the completions were carried out: they are, unless the channel
 * was detached or ejected before.  @returns: the caller does not wait in
 * this call (non-blocking) and so looks at the queue again before it
 * sleeps, in poll() or another call: it counts as awake meanwhile.
 */
int enbd_batch(struct enbd_channel *ch, struct file *file, struct enbd_done *done,
	       unsigned int nd, const struct enbd_fetch_to *to, unsigned int nf,
	       bool returns, bool *completed)
{
	struct enbd_request req[ENBD_BATCH_MAX];
	struct enbd_cmd *cmds[ENBD_BATCH_MAX], *fetching[ENBD_BATCH_MAX];
	blk_status_t status[ENBD_BATCH_MAX];
	struct enbd_device *dev = ch->dev;
	bool copy_in = false, requeued = false;
	unsigned int i, copy_from = 0;
	LIST_HEAD(failed);
	int claimed = 0;

	*completed = false;
	if (WARN_ON_ONCE(nd > ENBD_BATCH_MAX || nf > ENBD_BATCH_MAX))
		return -EINVAL;
	spin_lock(&dev->lock);
	if (!enbd_channel_usable(ch, file)) {
		spin_unlock(&dev->lock);
		return -ESHUTDOWN;
	}
	if (returns) {
		__set_bit(ch->index, &dev->awake_channels);
		ch->awake_at = jiffies;
	}
	for (i = 0; i < nd; i++) {
		cmds[i] = enbd_match_done_locked(ch, &done[i]);
		if (cmds[i] && done[i].length)
			copy_in = true;
		else if (cmds[i])
			status[i] = enbd_finish_locked(ch, cmds[i], done[i].error);
	}
	if (copy_in) {
		spin_unlock(&dev->lock);
		enbd_copy_completions(done, nd, cmds);
		spin_lock(&dev->lock);
		requeued = enbd_end_copied_locked(ch, file, done, nd, cmds, status, &failed);
	}
	*completed = true;
	if (nf)
		claimed = enbd_claim_batch_locked(ch, file, to, nf, req, fetching, &copy_from);
	spin_unlock(&dev->lock);
	for (i = 0; i < nd; i++)
		if (cmds[i])
			blk_mq_end_request(cmds[i]->rq, status[i]);
	enbd_settle(dev, &failed, requeued);
	if (claimed <= 0 || copy_from >= (unsigned int)claimed)
		return claimed;
	return enbd_fetch_copy_out(ch, file, to, req, fetching, copy_from, claimed);
}

static unsigned int enbd_live_channels(struct enbd_device *dev)
{
	unsigned int i, live = 0;

	for (i = 0; i < ENBD_MAX_CHANNELS; i++)
		live += enbd_channel_live(&dev->channels[i]);
	return live;
}

/*
 * Apply the outage policy: with ENBD_OUTAGE_FAIL and no live channel for
 * outage_ms, fail what is queued (onto @failed) and, through dev->failing,
 * what comes, until a channel is live again.
 */
static void enbd_check_outage_locked(struct enbd_device *dev, struct list_head *failed)
{
	struct enbd_cmd *cmd;

	lockdep_assert_held(&dev->lock);
	if (enbd_live_channels(dev) || !dev->accepting) {
		dev->outage_since = 0;
		dev->failing = false;
		return;
	}
	if (!dev->outage_since)
		dev->outage_since = jiffies ?: 1;
	if (dev->outage_policy != ENBD_OUTAGE_FAIL) {
		dev->failing = false;
		return;
	}
	if (!dev->failing &&
	    time_before(jiffies, dev->outage_since + msecs_to_jiffies(dev->outage_ms)))
		return;
	if (!dev->failing)
		pr_warn("%s: no channel for %u ms: failing I/O until one returns\n",
			dev->disk->disk_name, jiffies_to_msecs(jiffies - dev->outage_since));
	dev->failing = true;
	list_for_each_entry(cmd, &dev->queue, link)
		cmd->state = ENBD_CMD_IDLE;
	list_splice_tail_init(&dev->queue, failed);
	dev->nr_queued = 0;
}

void enbd_check_outage(struct enbd_device *dev)
{
	LIST_HEAD(failed);

	spin_lock(&dev->lock);
	enbd_check_outage_locked(dev, &failed);
	spin_unlock(&dev->lock);
	enbd_settle(dev, &failed, false);
}

/* Book-keeping for a channel that has just been attached to its slot. */
void enbd_note_attach(struct enbd_channel *ch)
{
	pid_t pid = task_tgid_vnr(current);

	lockdep_assert_held(&ch->dev->lock);
	if (ch->attaches && pid == ch->last_pid)
		ch->reconnects++;
	else if (ch->attaches)
		ch->restarts++;
	ch->attaches++;
	ch->pid = pid;
	ch->last_pid = pid;
	ch->last_active = jiffies;
	ch->last_heard = jiffies;
	ch->last_completed = jiffies - MAX_JIFFY_OFFSET;	/* nothing yet */
	ch->dev->outage_since = 0;
	ch->dev->failing = false;
}

/*
 * How long a claim of @rq may last.  Flushes (whatever the server has cached),
 * trims and write-zeroes (up to ENBD_MAX_DISCARD_BYTES) may take long on a
 * healthy server, and resending them gains nothing: they get
 * ENBD_SLOW_AGING_FACTOR times the aging time.
 */
static unsigned long enbd_claim_aging(struct request *rq, unsigned long aging)
{
	switch (req_op(rq)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
		return aging;
	default:
		return aging * ENBD_SLOW_AGING_FACTOR;
	}
}

/*
 * With ENBD_OUTAGE_FAIL, give up on the claims of each channel stalled for
 * outage_ms: its daemon neither answers nor lets go (stopped, or stuck in D
 * state).  Its READs go back to the queue; its other claims fail, since its
 * connection might still deliver them.  The channel stays stalled, not
 * ejected: should its daemon wake up, it sees POLLPRI, resets its
 * connection and attaches again like after any stall.  Returns true if
 * work was queued.
 */
static bool enbd_fail_wedged_locked(struct enbd_device *dev, struct list_head *failed)
{
	unsigned long grace = msecs_to_jiffies(dev->outage_ms);
	struct enbd_cmd *cmd, *next;
	bool queued = false;
	unsigned int i, nr_failed;

	lockdep_assert_held(&dev->lock);
	if (dev->outage_policy != ENBD_OUTAGE_FAIL)
		return false;
	for (i = 0; i < ENBD_MAX_CHANNELS; i++) {
		struct enbd_channel *ch = &dev->channels[i];

		/* A stalled channel fetches nothing: once emptied, it stays so. */
		if (!ch->file || ch->ejected || !ch->stalled || !ch->pending ||
		    time_before(jiffies, ch->stalled_at + grace))
			continue;
		nr_failed = 0;
		list_for_each_entry_safe(cmd, next, &dev->journal, link) {
			if (cmd->owner != ch || cmd->state != ENBD_CMD_CLAIMED)
				continue;
			if (req_op(cmd->rq) == REQ_OP_READ) {
				queued |= enbd_resubmit_locked(dev, cmd, failed);
				continue;
			}
			enbd_fail_locked(dev, cmd, failed);
			dev->nr_expired++;
			nr_failed++;
		}
		pr_warn("%s: channel %u stalled for %u ms: its claims given up, %u requests failed\n",
			dev->disk->disk_name, ch->index,
			jiffies_to_msecs(jiffies - ch->stalled_at), nr_failed);
	}
	return queued;
}

/* Mark @ch stalled: see the comment at the top. */
static void enbd_stall_locked(struct enbd_channel *ch, const char *why, unsigned long since)
{
	lockdep_assert_held(&ch->dev->lock);
	enbd_drop_suspicion_locked(ch);
	ch->stalled = true;
	ch->stalled_at = jiffies;
	pr_info_ratelimited("%s: channel %u stalled: %s %u ms\n", ch->dev->disk->disk_name,
			    ch->index, why, jiffies_to_msecs(jiffies - since));
}

/*
 * Nobody fetched the request at the head of the queue for @aging: stall the
 * live channels that fetched and completed nothing meanwhile.  Returns true
 * if one was stalled.
 */
static bool enbd_stall_idle_locked(struct enbd_device *dev, unsigned long aging)
{
	struct enbd_cmd *head;
	bool stalled = false;
	unsigned int i;

	lockdep_assert_held(&dev->lock);
	head = list_first_entry_or_null(&dev->queue, struct enbd_cmd, link);
	if (!aging || !head || time_before(jiffies, head->queued_at + aging))
		return false;
	for (i = 0; i < ENBD_MAX_CHANNELS; i++) {
		struct enbd_channel *ch = &dev->channels[i];

		if (!enbd_channel_live(ch) || time_before(jiffies, ch->last_active + aging))
			continue;
		enbd_stall_locked(ch, "fetched nothing while a request waited", head->queued_at);
		stalled = true;
	}
	return stalled;
}

/*
 * A live channel other than @ch that is not silent itself: it completed a
 * request after @since, or it holds none.  An idle sibling counts: when
 * everything the application waits for sits on @ch (one request at a time,
 * or an md mirror's writes held up by it), no other channel gets anything
 * to complete, and requiring a completion would leave @ch to the keep-alive.
 * Only when every live sibling holds unanswered requests too (a server or
 * all its links silent) is nothing suspected.
 */
static struct enbd_channel *enbd_live_sibling(struct enbd_channel *ch, unsigned long since)
{
	struct enbd_device *dev = ch->dev;
	unsigned int i;

	lockdep_assert_held(&dev->lock);
	for (i = 0; i < ENBD_MAX_CHANNELS; i++) {
		struct enbd_channel *sib = &dev->channels[i];

		if (sib != ch && enbd_channel_live(sib) &&
		    (!sib->pending || time_after(sib->last_completed, since)))
			return sib;
	}
	return NULL;
}

/*
 * Suspicion from siblings: see the comment at the top.  Returns true if a
 * channel became suspect: its daemon waits for POLLRDBAND.
 */
static bool enbd_suspect_locked(struct enbd_device *dev)
{
	unsigned long oldest[ENBD_MAX_CHANNELS], threshold, quiet_since;
	struct enbd_channel *ch, *sib;
	const char *sib_state;
	struct enbd_cmd *cmd;
	bool raised = false;
	u32 holds = 0;
	unsigned int i;

	lockdep_assert_held(&dev->lock);
	threshold = msecs_to_jiffies(enbd_suspect_threshold_ms(dev, NULL));
	/* The journal is in claim order: the first claim seen is the oldest. */
	list_for_each_entry(cmd, &dev->journal, link) {
		i = cmd->owner->index;
		if (cmd->state != ENBD_CMD_CLAIMED || holds & BIT(i) ||
		    (req_op(cmd->rq) != REQ_OP_READ && req_op(cmd->rq) != REQ_OP_WRITE))
			continue;
		holds |= BIT(i);
		oldest[i] = cmd->claimed_at;
	}
	for (i = 0; i < ENBD_MAX_CHANNELS; i++) {
		ch = &dev->channels[i];
		if (!(holds & BIT(i)) || ch->suspect || !enbd_channel_live(ch))
			continue;
		quiet_since = time_after(ch->last_heard, oldest[i]) ? ch->last_heard : oldest[i];
		if (time_before(jiffies, quiet_since + threshold))
			continue;
		sib = enbd_live_sibling(ch, quiet_since);
		if (!sib)
			continue;
		ch->suspect = true;
		ch->probe_asked = true;
		ch->suspected++;
		raised = true;
		sib_state = time_after(sib->last_completed, quiet_since) ? "completes" : "is idle";
		pr_info_ratelimited("%s: channel %u suspect: silent for %u ms (threshold %u ms) while channel %u %s: asked to probe\n",
				    dev->disk->disk_name, ch->index,
				    jiffies_to_msecs(jiffies - quiet_since),
				    jiffies_to_msecs(threshold), sib->index, sib_state);
	}
	return raised;
}

/*
 * Age the claims: see the comment at the top.  Returns true if a channel
 * stalled or a request was requeued.
 */
static bool enbd_age_claims_locked(struct enbd_device *dev, unsigned long aging,
				   struct list_head *failed)
{
	struct enbd_cmd *cmd, *next;
	bool wake = false;

	lockdep_assert_held(&dev->lock);
	list_for_each_entry_safe(cmd, next, &dev->journal, link) {
		struct enbd_channel *ch = cmd->owner;

		if (!aging || cmd->state != ENBD_CMD_CLAIMED ||
		    time_before(jiffies, cmd->claimed_at + enbd_claim_aging(cmd->rq, aging)))
			continue;
		if (!cmd->aged) {
			cmd->aged = true;
			cmd->aged_claims++;
		}
		if (!ch->stalled) {
			enbd_stall_locked(ch, "a request waited", cmd->claimed_at);
			wake = true;	/* its daemon waits for POLLPRI */
		}
		if (req_op(cmd->rq) == REQ_OP_READ)
			wake |= enbd_resubmit_locked(dev, cmd, failed);
	}
	return wake;
}

/*
 * Age the journal and look for suspects: see the comment at the top.  Runs
 * from the device's age_work while the device is open; returns the delay
 * (jiffies) until the next run.  Aging, the outage policy and the latency
 * histogram keep to once a second; only suspicion is checked faster.
 */
unsigned long enbd_age_requests(struct enbd_device *dev)
{
	unsigned long aging, delay;
	struct enbd_channel *idle = NULL;
	LIST_HEAD(failed);
	bool wake = false;

	spin_lock(&dev->lock);
	/* Also when aged_at was never set: it need not lie behind. */
	if (!time_in_range(jiffies, dev->aged_at, dev->aged_at + HZ - 1)) {
		dev->aged_at = jiffies;
		aging = dev->aging_ms ? msecs_to_jiffies(dev->aging_ms) :
			READ_ONCE(enbd_aging) * HZ;
		wake |= enbd_age_claims_locked(dev, aging, &failed);
		wake |= enbd_stall_idle_locked(dev, aging);
		wake |= enbd_fail_wedged_locked(dev, &failed);
		enbd_decay_latency_locked(dev);
		enbd_check_outage_locked(dev, &failed);
	}
	wake |= enbd_suspect_locked(dev);
	/* Requests left to an awake channel that did not come back for them. */
	if (!wake && !list_empty(&dev->queue) && !enbd_awake_fetcher_locked(dev))
		idle = enbd_take_idle_locked(dev);
	delay = dev->nr_claimed ? msecs_to_jiffies(ENBD_CHECK_FAST_MS) : HZ;
	spin_unlock(&dev->lock);
	if (idle)
		wake_up(&idle->wait);
	enbd_settle(dev, &failed, wake);
	return delay;
}

/* What a channel daemon reports with ENBD_IOC_EVENT (checked by the caller). */
int enbd_channel_event(struct enbd_channel *ch, struct file *file, u32 event)
{
	int ret = 0;

	spin_lock(&ch->dev->lock);
	if (!enbd_channel_usable(ch, file)) {
		ret = -ESHUTDOWN;
	} else if (event == ENBD_EVENT_KEEPALIVE) {
		ch->keepalives++;
		enbd_heard_locked(ch);
	} else {
		ch->probe_asked = false;	/* ENBD_EVENT_PROBING */
	}
	spin_unlock(&ch->dev->lock);
	return ret;
}

/*
 * Unbind @ch from @file: its outstanding requests go back on the queue for
 * the other channels (or fail if the device was shut down).
 */
void enbd_release_channel(struct enbd_channel *ch, struct file *file)
{
	struct enbd_device *dev = ch->dev;
	struct enbd_cmd *cmd, *prev;
	LIST_HEAD(failed);

	spin_lock(&dev->lock);
	if (ch->file != file) {
		spin_unlock(&dev->lock);
		return;
	}
	/* Walk backwards so the oldest claim ends up first in the queue. */
	list_for_each_entry_safe_reverse(cmd, prev, &dev->journal, link) {
		if (cmd->owner == ch && cmd->state == ENBD_CMD_CLAIMED)
			enbd_resubmit_locked(dev, cmd, &failed);
	}
	/* A FETCHING request of ours finds the slot unbound and rolls back. */
	enbd_drop_suspicion_locked(ch);
	ch->file = NULL;
	ch->ejected = false;
	ch->stalled = false;
	ch->pid = 0;
	/* Not counted on by a new request once the slot is attached again. */
	__clear_bit(ch->index, &dev->awake_channels);
	if (dev->last_channel == ch)
		dev->last_channel = NULL;
	enbd_note_outstanding(dev);
	enbd_check_outage_locked(dev, &failed);
	spin_unlock(&dev->lock);
	/* Also when nothing was queued: a FETCHING copier of ours must see it. */
	enbd_settle(dev, &failed, true);
}

/*
 * Stop accepting I/O, fail everything queued or outstanding and eject every
 * channel.  Requests being copied are ended by their copier.
 */
void enbd_abort_all(struct enbd_device *dev)
{
	struct enbd_cmd *cmd, *next;
	LIST_HEAD(failed);
	unsigned int i;

	spin_lock(&dev->lock);
	dev->accepting = false;
	list_splice_init(&dev->queue, &failed);
	dev->nr_queued = 0;
	list_for_each_entry(cmd, &failed, link)
		cmd->state = ENBD_CMD_IDLE;
	list_for_each_entry_safe(cmd, next, &dev->journal, link) {
		if (cmd->state == ENBD_CMD_CLAIMED)
			enbd_fail_locked(dev, cmd, &failed);
		else
			cmd->aborted = true;
	}
	for (i = 0; i < ENBD_MAX_CHANNELS; i++)
		if (dev->channels[i].file)
			dev->channels[i].ejected = true;
	spin_unlock(&dev->lock);
	/* Ejected channels' waiters must see it. */
	enbd_settle(dev, &failed, true);
}
