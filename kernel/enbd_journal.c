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
 * dev->lock in the FETCHING and COMPLETING states, which nothing else may end.
 *
 * Aging (enbd_age_requests, once a second): a claim older than the aging time
 * marks its channel stalled.  A stalled channel fetches nothing more and is
 * told (POLLPRI) to drop its connection and re-attach.  Its aged READs are
 * rolled back at once - if the old connection answers after all, that answer
 * is a late completion and discarded.  Its aged writes, trims, zeroes and
 * flushes stay claimed until the channel detaches, closing its connection:
 * were a write resubmitted while its first copy could still reach the server,
 * the first copy could land after a newer write to the same blocks had been
 * acknowledged.  Flushes need nothing more: the block layer sends a flush
 * only once the writes it covers have completed, and a write completes only
 * through the one claim that carried it.
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

static void enbd_note_outstanding(struct enbd_device *dev)
{
	unsigned int now = dev->nr_queued + dev->nr_claimed;

	lockdep_assert_held(&dev->lock);
	if (now > dev->max_outstanding)
		dev->max_outstanding = now;
}

blk_status_t enbd_queue_request(struct enbd_device *dev, struct request *rq)
{
	struct enbd_cmd *cmd = blk_mq_rq_to_pdu(rq);

	spin_lock(&dev->lock);
	if (!dev->accepting || dev->failing) {
		spin_unlock(&dev->lock);
		return BLK_STS_IOERR;
	}
	cmd->state = ENBD_CMD_QUEUED;
	cmd->owner = NULL;
	cmd->seq = 0;
	cmd->resubmits = 0;
	cmd->aborted = false;
	list_add_tail(&cmd->link, &dev->queue);
	dev->nr_queued++;
	enbd_note_outstanding(dev);
	spin_unlock(&dev->lock);
	wake_up(&dev->fetch_wait);
	return BLK_STS_OK;
}

/*
 * Take @cmd off the journal (it is FETCHING or CLAIMED) and put it back at
 * the head of the queue, or, if the device no longer accepts I/O, on @failed
 * for the caller to end after dropping the lock.
 */
static void enbd_rollback_locked(struct enbd_device *dev, struct enbd_cmd *cmd,
				 struct list_head *failed)
{
	lockdep_assert_held(&dev->lock);
	if (cmd->state == ENBD_CMD_CLAIMED)
		dev->claimed[cmd->rq->tag] = NULL;
	cmd->owner->pending--;
	cmd->owner = NULL;
	dev->nr_claimed--;
	if (dev->accepting) {
		cmd->state = ENBD_CMD_QUEUED;
		list_move(&cmd->link, &dev->queue);
		dev->nr_queued++;
	} else {
		cmd->state = ENBD_CMD_IDLE;
		list_move_tail(&cmd->link, failed);
	}
}

/* Roll back a claim that reached a channel, to be carried out again. */
static void enbd_resubmit_locked(struct enbd_device *dev, struct enbd_cmd *cmd,
				 struct list_head *failed)
{
	cmd->owner->resubmitted++;
	dev->nr_resubmitted++;
	cmd->resubmits++;
	enbd_rollback_locked(dev, cmd, failed);
}

static void enbd_end_failed(struct list_head *failed)
{
	struct enbd_cmd *cmd, *next;

	list_for_each_entry_safe(cmd, next, failed, link) {
		list_del_init(&cmd->link);
		blk_mq_end_request(cmd->rq, BLK_STS_IOERR);
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
	spin_unlock(&dev->lock);
	return ready;
}

int enbd_fetch(struct enbd_channel *ch, struct file *file,
	       struct enbd_io *io, bool nonblock)
{
	struct enbd_device *dev = ch->dev;
	LIST_HEAD(failed);
	struct enbd_cmd *cmd;
	struct request *rq;
	int ret = 0;

	for (;;) {
		spin_lock(&dev->lock);
		if (!enbd_channel_usable(ch, file)) {
			spin_unlock(&dev->lock);
			return -ESHUTDOWN;
		}
		if (ch->stalled) {
			spin_unlock(&dev->lock);
			return -ENOLINK;
		}
		if (!list_empty(&dev->queue))
			break;
		spin_unlock(&dev->lock);
		if (nonblock)
			return -EAGAIN;
		if (wait_event_interruptible_exclusive(dev->fetch_wait,
				enbd_fetch_ready(dev, ch, file)))
			return -EINTR;
	}

	cmd = list_first_entry(&dev->queue, struct enbd_cmd, link);
	rq = cmd->rq;
	list_move_tail(&cmd->link, &dev->journal);
	dev->nr_queued--;
	dev->nr_claimed++;
	cmd->state = ENBD_CMD_FETCHING;
	cmd->owner = ch;
	cmd->seq = ++dev->next_seq;
	cmd->claimed_at = jiffies;
	ch->requested++;
	ch->pending++;
	ch->last_active = jiffies;
	dev->last_channel = ch;

	io->req.seq = cmd->seq;
	io->req.tag = rq->tag;
	/* A flush covers the whole device: NBD wants offset and length 0. */
	if (req_op(rq) == REQ_OP_FLUSH) {
		io->req.offset = 0;
		io->req.length = 0;
	} else {
		io->req.offset = (u64)blk_rq_pos(rq) << SECTOR_SHIFT;
		io->req.length = blk_rq_bytes(rq);
	}
	io->req.type = enbd_request_type(rq, &io->req.flags);
	io->req.reserved = 0;
	spin_unlock(&dev->lock);

	if (io->req.type == ENBD_CMD_WRITE)
		ret = enbd_copy_payload(rq, u64_to_user_ptr(io->data), true);

	spin_lock(&dev->lock);
	if (cmd->aborted) {
		/* enbd_abort_all() ran while we copied: we end it. */
		list_del_init(&cmd->link);
		cmd->state = ENBD_CMD_IDLE;
		dev->nr_claimed--;
		ch->pending--;
		list_add(&cmd->link, &failed);
		ret = -ESHUTDOWN;
	} else if (ret || !enbd_channel_usable(ch, file)) {
		/* Bad buffer, or detached meanwhile: someone else takes it. */
		ch->requested--;	/* never left the kernel */
		enbd_rollback_locked(dev, cmd, &failed);
		if (!ret)
			ret = -ESHUTDOWN;
	} else {
		cmd->state = ENBD_CMD_CLAIMED;
		dev->claimed[rq->tag] = cmd;
	}
	spin_unlock(&dev->lock);
	enbd_end_failed(&failed);
	if (ret)
		wake_up(&dev->fetch_wait);
	return ret;
}

int enbd_complete(struct enbd_channel *ch, struct file *file, struct enbd_io *io)
{
	struct enbd_device *dev = ch->dev;
	blk_status_t status;
	struct enbd_cmd *cmd;
	struct request *rq;
	bool copy_in;
	int ret;

	if (io->done_tag >= ENBD_QUEUE_DEPTH || io->done_seq == 0 ||
	    io->done_error > 0 || io->done_error < -MAX_ERRNO)
		return -EINVAL;

	spin_lock(&dev->lock);
	if (!enbd_channel_usable(ch, file)) {
		spin_unlock(&dev->lock);
		return -ESHUTDOWN;
	}
	if (io->done_seq > dev->next_seq) {
		/* Never handed out: not late, made up. */
		spin_unlock(&dev->lock);
		return -EINVAL;
	}
	cmd = dev->claimed[io->done_tag];
	if (!cmd || cmd->seq != io->done_seq || cmd->owner != ch) {
		ch->discarded++;
		dev->nr_discarded++;
		spin_unlock(&dev->lock);
		io->done_result = ENBD_DONE_DISCARDED;
		return 0;
	}
	rq = cmd->rq;
	copy_in = req_op(rq) == REQ_OP_READ && io->done_error == 0;
	if (io->done_length != (copy_in ? blk_rq_bytes(rq) : 0)) {
		spin_unlock(&dev->lock);
		return -EINVAL;
	}
	dev->claimed[io->done_tag] = NULL;
	list_del_init(&cmd->link);
	cmd->state = ENBD_CMD_COMPLETING;
	dev->nr_claimed--;
	ch->pending--;
	spin_unlock(&dev->lock);

	ret = copy_in ? enbd_copy_payload(rq, u64_to_user_ptr(io->done_data), false) : 0;

	spin_lock(&dev->lock);
	if (ret) {
		/* Keep the request outstanding: a correct completion may follow. */
		cmd->state = ENBD_CMD_CLAIMED;
		list_add(&cmd->link, &dev->journal);
		dev->claimed[io->done_tag] = cmd;
		dev->nr_claimed++;
		ch->pending++;
		spin_unlock(&dev->lock);
		return ret;
	}
	cmd->state = ENBD_CMD_IDLE;
	ch->last_active = jiffies;
	dev->last_channel = ch;
	if (io->done_error) {
		ch->errored++;
		dev->last_error = io->done_error;
		status = errno_to_blk_status(io->done_error);
	} else {
		ch->despatched++;
		if (req_op(rq) == REQ_OP_READ || req_op(rq) == REQ_OP_WRITE)
			ch->bytes += blk_rq_bytes(rq);
		status = BLK_STS_OK;
	}
	spin_unlock(&dev->lock);
	blk_mq_end_request(rq, status);
	io->done_result = ENBD_DONE_ACCEPTED;
	return 0;
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
	enbd_end_failed(&failed);
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
	ch->dev->outage_since = 0;
	ch->dev->failing = false;
}

/*
 * Age the journal: see the comment at the top.  Runs once a second from
 * the device's age_work while the device is open.
 */
void enbd_age_requests(struct enbd_device *dev)
{
	unsigned long aging;
	struct enbd_cmd *cmd, *next;
	LIST_HEAD(failed);
	bool stalled = false;

	spin_lock(&dev->lock);
	aging = dev->aging_ms ? msecs_to_jiffies(dev->aging_ms) :
		READ_ONCE(enbd_aging) * HZ;
	list_for_each_entry_safe(cmd, next, &dev->journal, link) {
		struct enbd_channel *ch = cmd->owner;

		if (!aging || cmd->state != ENBD_CMD_CLAIMED ||
		    time_before(jiffies, cmd->claimed_at + aging))
			continue;
		if (!ch->stalled) {
			ch->stalled = true;
			stalled = true;
			pr_info_ratelimited("%s: channel %u stalled: a request waited %u ms\n",
					    dev->disk->disk_name, ch->index,
					    jiffies_to_msecs(jiffies - cmd->claimed_at));
		}
		if (req_op(cmd->rq) == REQ_OP_READ)
			enbd_resubmit_locked(dev, cmd, &failed);
	}
	enbd_check_outage_locked(dev, &failed);
	spin_unlock(&dev->lock);
	enbd_end_failed(&failed);
	if (stalled)
		wake_up_all(&dev->fetch_wait);
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
	ch->file = NULL;
	ch->ejected = false;
	ch->stalled = false;
	ch->pid = 0;
	if (dev->last_channel == ch)
		dev->last_channel = NULL;
	enbd_note_outstanding(dev);
	enbd_check_outage_locked(dev, &failed);
	spin_unlock(&dev->lock);
	enbd_end_failed(&failed);
	wake_up_all(&dev->fetch_wait);
}

/*
 * Stop accepting I/O, fail everything queued or outstanding and eject every
 * channel.  Requests being copied are failed by their copier.
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
		if (cmd->state == ENBD_CMD_FETCHING)
			cmd->aborted = true;
		else
			enbd_rollback_locked(dev, cmd, &failed);
	}
	for (i = 0; i < ENBD_MAX_CHANNELS; i++)
		if (dev->channels[i].file)
			dev->channels[i].ejected = true;
	spin_unlock(&dev->lock);
	enbd_end_failed(&failed);
	wake_up_all(&dev->fetch_wait);
}
