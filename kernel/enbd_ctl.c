// SPDX-License-Identifier: GPL-2.0
/*
 * enbd: the control device /dev/enbd-control.
 *
 * Each open file can become one channel of one device (ENBD_IOC_ATTACH);
 * its struct enbd_ctl_file then points at the channel slot.  The ABI is described
 * in include/uapi/enbd.h.  Every ioctl checks the magic, the capability, the
 * argument's size field and its flags before anything else.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/algapi.h>
#include <linux/blkdev.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "enbd.h"

/*
 * One open control file.  @lock serialises ATTACH and DETACH of the file;
 * everything else reads @ch without it (enbd_file_channel) and checks under
 * the device's lock that the slot is still bound to this file.
 */
struct enbd_ctl_file {
	struct mutex lock;
	struct enbd_channel *ch;	/* the bound slot, NULL if none */
	/* under lock: the device and session this file last attached to */
	struct enbd_device *joined;
	u64 session;
};

struct enbd_channel *enbd_file_channel(struct file *file)
{
	struct enbd_ctl_file *cf = file->private_data;

	return READ_ONCE(cf->ch);
}

/*
 * Copy an ioctl argument in after checking that its leading size field
 * equals what this module was built with.
 */
static int enbd_copy_arg(void *karg, const void __user *uarg, u32 size)
{
	u32 user_size;

	if (get_user(user_size, (const u32 __user *)uarg))
		return -EFAULT;
	if (user_size != size)
		return -EINVAL;
	if (copy_from_user(karg, uarg, size))
		return -EFAULT;
	return 0;
}

/* 0 if @token opens @dev, else -EACCES, counted. */
static int enbd_check_token(struct enbd_device *dev, u64 token)
{
	lockdep_assert_held(&dev->config_mutex);
	if (!dev->has_token || !crypto_memneq(&token, &dev->token, sizeof(token)))
		return 0;
	spin_lock(&dev->lock);
	dev->nr_bad_token++;
	spin_unlock(&dev->lock);
	return -EACCES;
}

/*
 * Find device @index and take its config_mutex if @token opens it.
 * Returns the device locked, or an ERR_PTR.
 */
static struct enbd_device *enbd_lock_device(u32 index, u64 token)
{
	struct enbd_device *dev = enbd_get_device(index);
	int ret;

	if (!dev)
		return ERR_PTR(-ENXIO);
	mutex_lock(&dev->config_mutex);
	ret = enbd_check_token(dev, token);
	if (ret) {
		mutex_unlock(&dev->config_mutex);
		return ERR_PTR(ret);
	}
	return dev;
}

/*
 * A shut-down session stays shut: a daemon still reconnecting to it, on the
 * control file it used then or presenting the session's token, gets
 * ESHUTDOWN rather than opening the device again as a new session.
 */
static int enbd_may_attach(struct enbd_device *dev, struct enbd_ctl_file *cf, u64 token)
{
	lockdep_assert_held(&dev->config_mutex);
	if (cf->joined == dev && cf->session != dev->session)
		return -ESHUTDOWN;
	if (token && dev->has_retired_token &&
	    !crypto_memneq(&token, &dev->retired_token, sizeof(token)))
		return -ESHUTDOWN;
	return enbd_check_token(dev, token);
}

/*
 * Bind a free slot (slot @arg->channel with ENBD_ATTACH_SLOT) to @file and
 * tell the caller its number.  All or nothing: the number is written without
 * faulting under the lock (the caller faulted its page in), and only once it
 * is out is the slot taken and counted.  -EAGAIN: the page went meanwhile.
 */
static int enbd_bind_slot(struct enbd_device *dev, struct file *file,
			  const struct enbd_attach *arg, struct enbd_attach __user *uarg,
			  struct enbd_channel **chp)
{
	struct enbd_channel *ch = NULL;
	unsigned int i;
	u32 index;
	int ret = 0;

	lockdep_assert_held(&dev->config_mutex);
	spin_lock(&dev->lock);
	for (i = 0; i < ENBD_MAX_CHANNELS && !ch; i++) {
		if (arg->flags & ENBD_ATTACH_SLOT && i != arg->channel)
			continue;
		if (!dev->channels[i].file)
			ch = &dev->channels[i];
	}
	if (!ch) {
		ret = -EBUSY;
		goto unlock;
	}
	index = ch->index;
	if (copy_to_user_nofault(&uarg->channel, &index, sizeof(index))) {
		ret = -EAGAIN;
		goto unlock;
	}
	ch->file = file;
	ch->ejected = false;
	ch->stalled = false;
	enbd_note_attach(ch);
	*chp = ch;
unlock:
	spin_unlock(&dev->lock);
	return ret;
}

static long enbd_ioctl_attach(struct file *file, struct enbd_attach __user *uarg)
{
	struct enbd_ctl_file *cf = file->private_data;
	struct enbd_channel *ch = NULL;
	struct enbd_attach arg;
	struct enbd_device *dev;
	unsigned int tries;
	int ret;

	ret = enbd_copy_arg(&arg, uarg, sizeof(arg));
	if (ret)
		return ret;
	if (arg.flags & ~ENBD_ATTACH_ALL)
		return -EINVAL;
	if ((arg.flags & ENBD_ATTACH_SLOT) && arg.channel >= ENBD_MAX_CHANNELS)
		return -EINVAL;
	dev = enbd_get_device(arg.index);
	if (!dev)
		return -ENXIO;

	mutex_lock(&cf->lock);
	for (tries = 0; tries < 3; tries++) {
		/* Fault in the page that receives the slot number. */
		ret = put_user(arg.channel, &uarg->channel);
		if (ret)
			break;
		if (cf->ch) {
			ret = -EISCONN;
			break;
		}
		mutex_lock(&dev->config_mutex);
		ret = enbd_may_attach(dev, cf, arg.token);
		if (!ret)
			ret = enbd_bind_slot(dev, file, &arg, uarg, &ch);
		if (!ret) {
			if (!dev->has_token && arg.token) {
				dev->has_token = true;
				dev->token = arg.token;
			}
			cf->joined = dev;
			cf->session = dev->session;
			WRITE_ONCE(cf->ch, ch);
		}
		mutex_unlock(&dev->config_mutex);
		if (ret != -EAGAIN)
			break;
	}
	mutex_unlock(&cf->lock);
	return ret == -EAGAIN ? -EFAULT : ret;
}

static int enbd_validate_config(const struct enbd_config *cfg)
{
	if (cfg->flags & ~ENBD_CFG_ALL || cfg->reserved)
		return -EINVAL;
	if (!is_power_of_2(cfg->block_size) || cfg->block_size < SECTOR_SIZE ||
	    cfg->block_size > PAGE_SIZE)
		return -EINVAL;
	if (cfg->bytes < cfg->block_size || cfg->bytes > (u64)LLONG_MAX)
		return -EINVAL;
	return 0;
}

/* Make @dev a disk of the configured size and capabilities. */
static void enbd_open_device(struct enbd_device *dev, const struct enbd_config *cfg)
{
	struct request_queue *q = dev->disk->queue;
	u32 flags = cfg->flags;

	lockdep_assert_held(&dev->config_mutex);
	dev->bytes = round_down(cfg->bytes, cfg->block_size);
	dev->block_size = cfg->block_size;
	dev->cfg_flags = flags;

	blk_queue_logical_block_size(q, cfg->block_size);
	blk_queue_physical_block_size(q, cfg->block_size);
	blk_queue_io_min(q, cfg->block_size);
	blk_queue_write_cache(q, flags & ENBD_CFG_FLUSH, flags & ENBD_CFG_FUA);
	if (flags & ENBD_CFG_TRIM) {
		q->limits.discard_granularity = cfg->block_size;
		blk_queue_max_discard_sectors(q, ENBD_MAX_DISCARD_BYTES >> SECTOR_SHIFT);
	} else {
		blk_queue_max_discard_sectors(q, 0);
	}
	blk_queue_max_write_zeroes_sectors(q, flags & ENBD_CFG_WRITE_ZEROES ?
			ENBD_MAX_DISCARD_BYTES >> SECTOR_SHIFT : 0);
	set_disk_ro(dev->disk, flags & ENBD_CFG_READ_ONLY);

	spin_lock(&dev->lock);
	dev->accepting = true;
	dev->last_error = 0;
	spin_unlock(&dev->lock);
	dev->open = true;
	set_capacity_and_notify(dev->disk, dev->bytes >> SECTOR_SHIFT);
	enbd_apply_readahead(dev);
	schedule_delayed_work(&dev->age_work, HZ);
	enbd_announce_disk(dev);
}

static long enbd_ioctl_configure(struct file *file, struct enbd_config __user *uarg)
{
	struct enbd_channel *ch = enbd_file_channel(file);
	struct enbd_config cfg;
	struct enbd_device *dev;
	bool usable;
	int ret;

	ret = enbd_copy_arg(&cfg, uarg, sizeof(cfg));
	if (ret)
		return ret;
	ret = enbd_validate_config(&cfg);
	if (ret)
		return ret;
	if (!ch)
		return -ENOTCONN;
	dev = ch->dev;

	mutex_lock(&dev->config_mutex);
	spin_lock(&dev->lock);
	usable = enbd_channel_usable(ch, file);
	spin_unlock(&dev->lock);
	if (!usable)
		ret = -ESHUTDOWN;
	else if (!dev->open)
		enbd_open_device(dev, &cfg);
	else if (dev->bytes != round_down(cfg.bytes, cfg.block_size) ||
		 dev->block_size != cfg.block_size)
		ret = -EBUSY;
	mutex_unlock(&dev->config_mutex);
	return ret;
}

/*
 * Carry out the @nd completions in @done and fetch up to @nf requests for
 * @ch into @to (enbd_batch); unless @nonblock, wait while nothing was to be
 * completed and nothing could be fetched.  Returns how many were fetched,
 * or a negative errno with none; *@completed as enbd_batch says.
 */
static int enbd_batch_or_wait(struct enbd_channel *ch, struct file *file,
			      struct enbd_done *done, unsigned int nd,
			      const struct enbd_fetch_to *to, unsigned int nf,
			      bool nonblock, bool *completed)
{
	int ret = enbd_batch(ch, file, done, nd, to, nf, nonblock, completed);

	while (!ret && !nd && nf && !nonblock)
		ret = enbd_wait_for_request(ch, file) ?:
		      enbd_batch(ch, file, NULL, 0, to, nf, false, completed);
	return ret;
}

/* A buffer for WRITE payloads: big enough, and in userspace. */
static bool enbd_payload_buffer_ok(u64 data, u32 capacity)
{
	return capacity >= ENBD_MAX_IO_BYTES && access_ok(u64_to_user_ptr(data), capacity);
}

static long enbd_ioctl_io(struct file *file, struct enbd_io __user *uarg)
{
	struct enbd_channel *ch = enbd_file_channel(file);
	struct enbd_fetch_to to;
	struct enbd_done done;
	struct enbd_io io;
	bool completed;
	int ret;

	ret = enbd_copy_arg(&io, uarg, sizeof(io));
	if (ret)
		return ret;
	if (io.flags & ~ENBD_IO_ALL || io.reserved ||
	    !(io.flags & (ENBD_IO_COMPLETE | ENBD_IO_FETCH)))
		return -EINVAL;
	if ((io.flags & ENBD_IO_FETCH) && !enbd_payload_buffer_ok(io.data, io.data_capacity))
		return -EINVAL;
	if (!ch)
		return -ENOTCONN;

	if (io.flags & ENBD_IO_COMPLETE) {
		done = (struct enbd_done){
			.seq = io.done_seq, .tag = io.done_tag, .error = io.done_error,
			.data = io.done_data, .length = io.done_length,
		};
		ret = enbd_batch(ch, file, &done, 1, NULL, 0, false, &completed) ?:
		      min(done.result, 0);
		if (ret)
			return ret;
		if (put_user((u32)done.result, &uarg->done_result))
			return -EFAULT;
	}
	if (!(io.flags & ENBD_IO_FETCH))
		return 0;
	to = (struct enbd_fetch_to){ .data = u64_to_user_ptr(io.data), .ureq = &uarg->req };
	ret = enbd_batch_or_wait(ch, file, NULL, 0, &to, 1, io.flags & ENBD_IO_NONBLOCK,
				 &completed);
	return ret < 0 ? ret : ret ? 0 : -EAGAIN;
}

/*
 * Read the fetch entries' buffers into @to (see enbd_ioctl_batch).  0,
 * -EINVAL for a bad buffer or reserved field, -EFAULT.
 */
static int enbd_batch_fetch_targets(struct enbd_fetch __user *ufetch, unsigned int n,
				    struct enbd_fetch_to *to)
{
	u32 capacity, reserved;
	unsigned int i;
	u64 data;

	for (i = 0; i < n; i++) {
		if (get_user(data, &ufetch[i].data) ||
		    get_user(capacity, &ufetch[i].data_capacity) ||
		    get_user(reserved, &ufetch[i].reserved))
			return -EFAULT;
		if (reserved || !enbd_payload_buffer_ok(data, capacity))
			return -EINVAL;
		to[i].data = u64_to_user_ptr(data);
		to[i].ureq = &ufetch[i].req;
	}
	return 0;
}

/*
 * Read the completions into @done, and prove their result fields and the
 * header's out fields writable (ENBD_DONE_NONE, 0): once a completion is
 * carried out, the caller must be able to learn it.  0 or -EFAULT.
 */
static int enbd_batch_read_done(struct enbd_batch __user *uarg, struct enbd_done __user *udone,
				unsigned int n, struct enbd_done *done)
{
	unsigned int i;

	if (copy_from_user(done, udone, n * sizeof(*done)))
		return -EFAULT;
	for (i = 0; i < n; i++)
		if (put_user(ENBD_DONE_NONE, &udone[i].result))
			return -EFAULT;
	if (put_user(0, &uarg->completed) || put_user(0, &uarg->fetched))
		return -EFAULT;
	return 0;
}

/*
 * ENBD_IOC_BATCH (include/uapi/enbd.h): everything about the arguments is
 * checked before anything is done.  The results are written back with
 * put_user to fields just proven writable; should that still fail (another
 * thread unmapped them meanwhile), the call says EFAULT and the requests it
 * fetched stay claimed by the channel, to age like any unanswered claim.
 */
static long enbd_ioctl_batch(struct file *file, struct enbd_batch __user *uarg)
{
	struct enbd_channel *ch = enbd_file_channel(file);
	struct enbd_done done[ENBD_BATCH_MAX];
	struct enbd_fetch_to to[ENBD_BATCH_MAX];
	struct enbd_done __user *udone;
	struct enbd_batch b;
	bool completed;
	unsigned int i;
	int ret, fetched;

	ret = enbd_copy_arg(&b, uarg, sizeof(b));
	if (ret)
		return ret;
	if (b.magic != ENBD_BATCH_MAGIC || b.flags & ~ENBD_BATCH_ALL || b.reserved ||
	    b.nr_done > ENBD_BATCH_MAX || b.nr_fetch > ENBD_BATCH_MAX ||
	    !(b.nr_done || b.nr_fetch))
		return -EINVAL;
	udone = u64_to_user_ptr(b.done);
	ret = enbd_batch_fetch_targets(u64_to_user_ptr(b.fetch), b.nr_fetch, to);
	if (!ret)
		ret = enbd_batch_read_done(uarg, udone, b.nr_done, done);
	if (ret)
		return ret;
	if (!ch)
		return -ENOTCONN;

	/* Having completed some, the caller has replies to send: no waiting. */
	fetched = enbd_batch_or_wait(ch, file, done, b.nr_done, to, b.nr_fetch,
				     b.nr_done || (b.flags & ENBD_BATCH_NONBLOCK), &completed);
	for (i = 0; completed && i < b.nr_done; i++)
		if (put_user(done[i].result, &udone[i].result))
			return -EFAULT;
	if (completed && put_user(b.nr_done, &uarg->completed))
		return -EFAULT;
	if (fetched < 0)
		return fetched;
	return put_user(fetched, &uarg->fetched);
}

static long enbd_ioctl_detach(struct file *file)
{
	struct enbd_ctl_file *cf = file->private_data;
	struct enbd_channel *ch;

	mutex_lock(&cf->lock);
	ch = cf->ch;
	if (ch) {
		WRITE_ONCE(cf->ch, NULL);
		enbd_release_channel(ch, file);
	}
	mutex_unlock(&cf->lock);
	return ch ? 0 : -ENOTCONN;
}

static long enbd_ioctl_shutdown(struct enbd_shutdown __user *uarg)
{
	struct enbd_shutdown arg;
	struct enbd_device *dev;
	int ret;

	ret = enbd_copy_arg(&arg, uarg, sizeof(arg));
	if (ret)
		return ret;
	if (arg.flags || arg.reserved)
		return -EINVAL;
	dev = enbd_lock_device(arg.index, arg.token);
	if (IS_ERR(dev))
		return PTR_ERR(dev);
	enbd_abort_all(dev);
	cancel_delayed_work_sync(&dev->age_work);
	/* A partition scan still reading ends now that requests fail. */
	flush_work(&dev->scan_work);
	dev->open = false;
	dev->session++;
	if (dev->has_token) {
		dev->has_retired_token = true;
		dev->retired_token = dev->token;
	}
	dev->has_token = false;
	dev->token = 0;
	dev->bytes = 0;
	enbd_invalidate_disk(dev);
	mutex_unlock(&dev->config_mutex);
	pr_info("%s shut down\n", dev->disk->disk_name);
	return 0;
}

/*
 * @ioc_size: the size in the ioctl number, the caller's sizeof: the current
 * structure, or ENBD_POLICY_SIZE_V1 from a caller built before keep-alive
 * and read-ahead were added, whose missing fields read as 0.
 */
static long enbd_ioctl_set_policy(struct enbd_policy __user *uarg, u32 ioc_size)
{
	struct enbd_policy arg = {};
	struct enbd_device *dev;
	u32 size, known;

	BUILD_BUG_ON(offsetofend(struct enbd_policy, token) != ENBD_POLICY_SIZE_V1);
	if (get_user(size, &uarg->size))
		return -EFAULT;
	if (size != ioc_size || (size != sizeof(arg) && size != ENBD_POLICY_SIZE_V1))
		return -EINVAL;
	if (copy_from_user(&arg, uarg, size))
		return -EFAULT;
	known = size == sizeof(arg) ? ENBD_POLICY_ALL :
				      ENBD_POLICY_AGING | ENBD_POLICY_OUTAGE;
	if (arg.flags & ~known || arg.outage > ENBD_OUTAGE_FAIL ||
	    arg.aging_ms > 3600 * MSEC_PER_SEC || arg.outage_ms > 3600 * MSEC_PER_SEC ||
	    arg.keepalive_s > ENBD_POLICY_MAX_KEEPALIVE_S ||
	    arg.readahead_kb > ENBD_POLICY_MAX_READAHEAD_KB)
		return -EINVAL;
	dev = enbd_lock_device(arg.index, arg.token);
	if (IS_ERR(dev))
		return PTR_ERR(dev);
	spin_lock(&dev->lock);
	if (arg.flags & ENBD_POLICY_AGING)
		dev->aging_ms = arg.aging_ms;
	if (arg.flags & ENBD_POLICY_OUTAGE) {
		dev->outage_policy = arg.outage;
		dev->outage_ms = arg.outage_ms;
	}
	if (arg.flags & ENBD_POLICY_KEEPALIVE)
		WRITE_ONCE(dev->keepalive_s, arg.keepalive_s);
	if (arg.flags & ENBD_POLICY_READAHEAD)
		dev->readahead_kb = arg.readahead_kb;
	spin_unlock(&dev->lock);
	if (arg.flags & ENBD_POLICY_READAHEAD)
		enbd_apply_readahead(dev);
	mutex_unlock(&dev->config_mutex);
	enbd_check_outage(dev);
	return 0;
}

static long enbd_ioctl_event(struct file *file, struct enbd_event __user *uarg)
{
	struct enbd_channel *ch = enbd_file_channel(file);
	struct enbd_event arg;
	int ret;

	ret = enbd_copy_arg(&arg, uarg, sizeof(arg));
	if (ret)
		return ret;
	if (arg.flags || arg.reserved || !arg.event || arg.event > ENBD_EVENT_MAX)
		return -EINVAL;
	if (!ch)
		return -ENOTCONN;
	return enbd_channel_event(ch, file, arg.event);
}

static long enbd_ctl_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	if (_IOC_TYPE(cmd) != ENBD_IOC_MAGIC)
		return -ENOTTY;
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;

	switch (cmd) {
	case ENBD_IOC_ATTACH:
		return enbd_ioctl_attach(file, argp);
	case ENBD_IOC_CONFIGURE:
		return enbd_ioctl_configure(file, argp);
	case ENBD_IOC_IO:
		return enbd_ioctl_io(file, argp);
	case ENBD_IOC_DETACH:
		return enbd_ioctl_detach(file);
	case ENBD_IOC_SHUTDOWN:
		return enbd_ioctl_shutdown(argp);
	case ENBD_IOC_SET_POLICY:
	case ENBD_IOC_SET_POLICY_V1:
		return enbd_ioctl_set_policy(argp, _IOC_SIZE(cmd));
	case ENBD_IOC_EVENT:
		return enbd_ioctl_event(file, argp);
	case ENBD_IOC_BATCH:
		return enbd_ioctl_batch(file, argp);
	default:
		return -ENOTTY;
	}
}

static __poll_t enbd_ctl_poll(struct file *file, poll_table *wait)
{
	struct enbd_channel *ch = enbd_file_channel(file);
	struct enbd_channel *sibling;
	struct enbd_device *dev;
	__poll_t mask = 0;

	if (!ch)
		return EPOLLERR;
	dev = ch->dev;
	poll_wait(file, &ch->wait, wait);
	spin_lock(&dev->lock);
	if (!enbd_channel_usable(ch, file))
		mask = EPOLLHUP;
	else if (ch->stalled)
		mask = EPOLLPRI;
	else if (!list_empty(&dev->queue))
		mask = EPOLLIN | EPOLLRDNORM;
	if (ch->probe_asked)		/* suspect: probe the server */
		mask |= EPOLLRDBAND;
	sibling = enbd_note_interest_locked(ch, file, poll_requested_events(wait) & EPOLLIN);
	spin_unlock(&dev->lock);
	if (sibling)
		wake_up(&sibling->wait);
	return mask;
}

static int enbd_ctl_open(struct inode *inode, struct file *file)
{
	struct enbd_ctl_file *cf = kzalloc(sizeof(*cf), GFP_KERNEL);

	if (!cf)
		return -ENOMEM;
	mutex_init(&cf->lock);
	/* misc_open() left the miscdevice here; we keep our own state. */
	file->private_data = cf;
	return nonseekable_open(inode, file);
}

static int enbd_ctl_release(struct inode *inode, struct file *file)
{
	struct enbd_ctl_file *cf = file->private_data;

	if (cf->ch)
		enbd_release_channel(cf->ch, file);
	mutex_destroy(&cf->lock);
	kfree(cf);
	return 0;
}

static const struct file_operations enbd_ctl_fops = {
	.owner		= THIS_MODULE,
	.open		= enbd_ctl_open,
	.release	= enbd_ctl_release,
	.unlocked_ioctl	= enbd_ctl_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.poll		= enbd_ctl_poll,
	.llseek		= no_llseek,
};

static struct miscdevice enbd_ctl_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= ENBD_CONTROL_NAME,
	.fops	= &enbd_ctl_fops,
	.mode	= 0600,
};

int enbd_ctl_init(void)
{
	return misc_register(&enbd_ctl_misc);
}

void enbd_ctl_exit(void)
{
	misc_deregister(&enbd_ctl_misc);
}
