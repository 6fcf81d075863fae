// SPDX-License-Identifier: GPL-2.0
/*
 * enbd: enhanced network block device.
 *
 * /dev/nd0, /dev/nd1, ... are blk-mq disks whose requests are carried out by
 * userspace channel daemons through the control device (enbd_ctl.c).  This
 * file holds the module options, the devices and the blk-mq glue.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/backing-dev.h>
#include <linux/blkdev.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>

#include "enbd.h"

/* Serialises option updates against device creation and removal. */
static DEFINE_MUTEX(enbd_devices_mutex);
static struct enbd_device *enbd_devices;	/* under enbd_devices_mutex */
static int enbd_major;

unsigned int enbd_ndevs = 4;
static int enbd_set_ndevs(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, ENBD_MAX_DEVICES);
}
static const struct kernel_param_ops enbd_ndevs_ops = {
	.set = enbd_set_ndevs,
	.get = param_get_uint,
};
module_param_cb(ndevs, &enbd_ndevs_ops, &enbd_ndevs, 0444);
MODULE_PARM_DESC(ndevs, "Number of devices /dev/ndN to create (1-256). Default: 4");

unsigned int enbd_keepalive = 10;
static int enbd_set_keepalive(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, 3600);
}
static const struct kernel_param_ops enbd_keepalive_ops = {
	.set = enbd_set_keepalive,
	.get = param_get_uint,
};
module_param_cb(keepalive, &enbd_keepalive_ops, &enbd_keepalive, 0644);
MODULE_PARM_DESC(keepalive,
		 "Seconds of quiet after which channel daemons probe their server (0: never; per device with ENBD_IOC_SET_POLICY; changeable at runtime). Default: 10");

unsigned int enbd_readahead_kb = 128;
static int enbd_set_readahead(const char *val, const struct kernel_param *kp)
{
	unsigned int i;
	int ret;

	ret = param_set_uint_minmax(val, kp, 0, 65536);
	if (ret)
		return ret;
	/* Called before enbd_init() when given at load: no devices yet. */
	mutex_lock(&enbd_devices_mutex);
	for (i = 0; enbd_devices && i < enbd_ndevs; i++)
		enbd_apply_readahead(&enbd_devices[i]);
	mutex_unlock(&enbd_devices_mutex);
	return 0;
}
static const struct kernel_param_ops enbd_readahead_ops = {
	.set = enbd_set_readahead,
	.get = param_get_uint,
};
module_param_cb(readahead, &enbd_readahead_ops, &enbd_readahead_kb, 0644);
MODULE_PARM_DESC(readahead,
		 "Read-ahead of every device in KiB (0-65536; per device with ENBD_IOC_SET_POLICY; changeable at runtime). Default: 128");

unsigned int enbd_aging = 30;
static int enbd_set_aging(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, 3600);
}
static const struct kernel_param_ops enbd_aging_ops = {
	.set = enbd_set_aging,
	.get = param_get_uint,
};
module_param_cb(aging, &enbd_aging_ops, &enbd_aging, 0644);
MODULE_PARM_DESC(aging,
		 "Seconds a request may stay with one channel before it is resubmitted and the channel told to reconnect (0: never; per device with ENBD_IOC_SET_POLICY; changeable at runtime). Default: 30");

static bool enbd_partscan = true;
module_param_named(partscan, enbd_partscan, bool, 0644);
MODULE_PARM_DESC(partscan,
		 "Read a device's partition table when it is configured (N: only on BLKRRPART, for test programs that serve every request themselves; changeable at runtime). Default: Y");

struct enbd_device *enbd_get_device(unsigned int index)
{
	if (index >= enbd_ndevs)
		return NULL;
	return &enbd_devices[index];
}

/* The device's own read-ahead if it has one, else the module's. */
void enbd_apply_readahead(struct enbd_device *dev)
{
	unsigned int kb;

	if (!dev->disk)
		return;
	spin_lock(&dev->lock);
	kb = dev->readahead_kb ? dev->readahead_kb : READ_ONCE(enbd_readahead_kb);
	dev->disk->bdi->ra_pages = kb >> (PAGE_SHIFT - 10);
	spin_unlock(&dev->lock);
}

/* Seconds of quiet before the device's channel daemons probe (0: never). */
unsigned int enbd_device_keepalive(struct enbd_device *dev)
{
	unsigned int secs = READ_ONCE(dev->keepalive_s);

	return secs ? secs : READ_ONCE(enbd_keepalive);
}

/*
 * /sys/block/ndN/enbd/keepalive: the channel daemons read it at each
 * keep-alive tick, so a change reaches them without a restart.  Removed
 * by del_gendisk() before the device goes.
 */
static ssize_t keepalive_show(struct device *ddev, struct device_attribute *attr,
			      char *buf)
{
	struct enbd_device *dev = dev_to_disk(ddev)->private_data;

	return sysfs_emit(buf, "%u\n", enbd_device_keepalive(dev));
}
static DEVICE_ATTR_RO(keepalive);

static struct attribute *enbd_disk_attrs[] = {
	&dev_attr_keepalive.attr,
	NULL,
};
static const struct attribute_group enbd_disk_group = {
	.name	= "enbd",
	.attrs	= enbd_disk_attrs,
};
static const struct attribute_group *enbd_disk_groups[] = {
	&enbd_disk_group,
	NULL,
};

static blk_status_t enbd_queue_rq(struct blk_mq_hw_ctx *hctx,
				  const struct blk_mq_queue_data *bd)
{
	struct enbd_device *dev = hctx->queue->queuedata;

	switch (req_op(bd->rq)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
	case REQ_OP_FLUSH:
	case REQ_OP_DISCARD:
	case REQ_OP_WRITE_ZEROES:
		break;
	default:
		return BLK_STS_NOTSUPP;
	}
	/*
	 * The block layer only warns about a write to a read-only disk
	 * (bio_check_ro) and lets it through, e.g. from a device mapper
	 * table or a filesystem mounted before: no daemon may get it.
	 */
	if (op_is_write(req_op(bd->rq)) && get_disk_ro(dev->disk))
		return BLK_STS_IOERR;
	blk_mq_start_request(bd->rq);
	return enbd_queue_request(dev, bd->rq);
}

/*
 * The journal, not the block layer's timer, decides when a request has taken
 * too long: a request waiting for a channel must wait as long as it takes.
 */
static enum blk_eh_timer_return enbd_timeout(struct request *rq)
{
	return BLK_EH_RESET_TIMER;
}

static int enbd_init_request(struct blk_mq_tag_set *set, struct request *rq,
			     unsigned int hctx_idx, unsigned int numa_node)
{
	struct enbd_cmd *cmd = blk_mq_rq_to_pdu(rq);

	INIT_LIST_HEAD(&cmd->link);
	cmd->rq = rq;
	cmd->state = ENBD_CMD_IDLE;
	return 0;
}

static const struct blk_mq_ops enbd_mq_ops = {
	.queue_rq	= enbd_queue_rq,
	.timeout	= enbd_timeout,
	.init_request	= enbd_init_request,
};

static const struct block_device_operations enbd_fops = {
	.owner		= THIS_MODULE,
};

static void enbd_age_work(struct work_struct *work)
{
	struct enbd_device *dev = container_of(to_delayed_work(work),
					       struct enbd_device, age_work);

	/* Shutdown stops us with cancel_delayed_work_sync(). */
	schedule_delayed_work(&dev->age_work, enbd_age_requests(dev));
}

/*
 * Read the partition table as loop does.  Not in CONFIGURE itself: the table
 * is read through a daemon, maybe the caller.  Without opening the disk, so
 * that a scan waiting for a daemon does not pin the module: rmmod fails the
 * wait (enbd_destroy_device).
 */
static void enbd_scan_work(struct work_struct *work)
{
	struct enbd_device *dev = container_of(work, struct enbd_device, scan_work);

	mutex_lock(&dev->disk->open_mutex);
	bdev_disk_changed(dev->disk, false);
	mutex_unlock(&dev->disk->open_mutex);
}

/* A configured disk, like new media: userspace is told, partitions appear. */
void enbd_announce_disk(struct enbd_device *dev)
{
	lockdep_assert_held(&dev->config_mutex);
	kobject_uevent(&disk_to_dev(dev->disk)->kobj, KOBJ_CHANGE);
	if (READ_ONCE(enbd_partscan))
		queue_work(system_long_wq, &dev->scan_work);
}

/*
 * A shut-down disk, like removed media: its partitions go (unless one is
 * still open) and no page of the old export stays cached, so the next
 * export shows its own data.  Requests fail by now, so dirty pages are
 * dropped after one failed write.
 */
void enbd_invalidate_disk(struct enbd_device *dev)
{
	struct gendisk *disk = dev->disk;
	struct block_device *part;
	unsigned long idx;

	lockdep_assert_held(&dev->config_mutex);
	mutex_lock(&disk->open_mutex);
	xa_for_each_start(&disk->part_tbl, idx, part, 1)
		__invalidate_device(part, true);
	/* Drops the partitions and sends the change uevent; -EBUSY if one is open. */
	bdev_disk_changed(disk, true);
	mutex_unlock(&disk->open_mutex);
	__invalidate_device(disk->part0, true);
	/* Also forgets the write errors of the old export; capacity 0. */
	invalidate_disk(disk);
}

static int enbd_create_device(struct enbd_device *dev, unsigned int index)
{
	struct gendisk *disk;
	unsigned int i;
	int ret;

	dev->index = index;
	mutex_init(&dev->config_mutex);
	spin_lock_init(&dev->lock);
	INIT_LIST_HEAD(&dev->queue);
	INIT_LIST_HEAD(&dev->journal);
	INIT_DELAYED_WORK(&dev->age_work, enbd_age_work);
	INIT_WORK(&dev->scan_work, enbd_scan_work);
	for (i = 0; i < ENBD_MAX_CHANNELS; i++) {
		dev->channels[i].dev = dev;
		dev->channels[i].index = i;
		init_waitqueue_head(&dev->channels[i].wait);
	}

	dev->tag_set.ops = &enbd_mq_ops;
	dev->tag_set.nr_hw_queues = 1;
	dev->tag_set.queue_depth = ENBD_QUEUE_DEPTH;
	dev->tag_set.numa_node = NUMA_NO_NODE;
	dev->tag_set.cmd_size = sizeof(struct enbd_cmd);
	/*
	 * No I/O scheduler by default (like virtio-blk and nvme): sorting
	 * requests for a server that orders its own I/O buys nothing, and
	 * plugging still merges neighbours.  udev or sysfs may choose one.
	 */
	dev->tag_set.flags = BLK_MQ_F_SHOULD_MERGE | BLK_MQ_F_NO_SCHED_BY_DEFAULT;
	dev->tag_set.driver_data = dev;
	ret = blk_mq_alloc_tag_set(&dev->tag_set);
	if (ret)
		return ret;

	disk = blk_mq_alloc_disk(&dev->tag_set, dev);
	if (IS_ERR(disk)) {
		ret = PTR_ERR(disk);
		goto free_tag_set;
	}
	disk->major = enbd_major;
	disk->first_minor = index << ENBD_PART_SHIFT;
	disk->minors = 1 << ENBD_PART_SHIFT;
	disk->fops = &enbd_fops;
	disk->private_data = dev;
	snprintf(disk->disk_name, sizeof(disk->disk_name),
		 ENBD_DISK_PREFIX "%u", index);
	set_capacity(disk, 0);

	blk_queue_max_hw_sectors(disk->queue, ENBD_MAX_IO_BYTES >> SECTOR_SHIFT);
	/* Payloads are copied page by page, never DMA'd: no segment limits. */
	blk_queue_max_segments(disk->queue, USHRT_MAX);
	blk_queue_max_segment_size(disk->queue, UINT_MAX);
	blk_queue_rq_timeout(disk->queue, 60 * HZ);
	blk_queue_flag_set(QUEUE_FLAG_NONROT, disk->queue);
	blk_queue_flag_clear(QUEUE_FLAG_ADD_RANDOM, disk->queue);

	ret = device_add_disk(NULL, disk, enbd_disk_groups);
	if (ret)
		goto put_disk;
	dev->disk = disk;
	/* add_disk() computes its own read-ahead; ours overrides it. */
	enbd_apply_readahead(dev);
	return 0;

put_disk:
	put_disk(disk);
free_tag_set:
	blk_mq_free_tag_set(&dev->tag_set);
	return ret;
}

/* Shuts the device down (no daemon can be attached: the module is going). */
static void enbd_destroy_device(struct enbd_device *dev)
{
	mutex_lock(&dev->config_mutex);
	enbd_abort_all(dev);
	cancel_delayed_work_sync(&dev->age_work);
	flush_work(&dev->scan_work);
	mutex_unlock(&dev->config_mutex);
	del_gendisk(dev->disk);
	put_disk(dev->disk);
	blk_mq_free_tag_set(&dev->tag_set);
}

static int __init enbd_init(void)
{
	struct enbd_device *devices;
	unsigned int i;
	int ret;

	devices = kcalloc(enbd_ndevs, sizeof(*devices), GFP_KERNEL);
	if (!devices)
		return -ENOMEM;

	enbd_major = register_blkdev(0, "enbd");
	if (enbd_major < 0) {
		ret = enbd_major;
		goto free_devices;
	}
	for (i = 0; i < enbd_ndevs; i++) {
		ret = enbd_create_device(&devices[i], i);
		if (ret)
			goto destroy_devices;
	}
	mutex_lock(&enbd_devices_mutex);
	enbd_devices = devices;
	mutex_unlock(&enbd_devices_mutex);

	ret = enbd_proc_init();
	if (ret)
		goto unpublish_devices;
	/* Last: once it exists, daemons may attach to everything above. */
	ret = enbd_ctl_init();
	if (ret)
		goto remove_proc;
	pr_info("%u devices, keepalive %us, readahead %uKiB\n",
		enbd_ndevs, enbd_keepalive, enbd_readahead_kb);
	return 0;

remove_proc:
	enbd_proc_exit();
unpublish_devices:
	mutex_lock(&enbd_devices_mutex);
	enbd_devices = NULL;
	mutex_unlock(&enbd_devices_mutex);
destroy_devices:
	while (i--)
		enbd_destroy_device(&devices[i]);
	unregister_blkdev(enbd_major, "enbd");
free_devices:
	kfree(devices);
	return ret;
}

static void __exit enbd_exit(void)
{
	struct enbd_device *devices;
	unsigned int i;

	/* No control file is open: each holds a reference on the module. */
	enbd_ctl_exit();
	enbd_proc_exit();
	mutex_lock(&enbd_devices_mutex);
	devices = enbd_devices;
	enbd_devices = NULL;
	mutex_unlock(&enbd_devices_mutex);
	for (i = 0; i < enbd_ndevs; i++)
		enbd_destroy_device(&devices[i]);
	unregister_blkdev(enbd_major, "enbd");
	kfree(devices);
}

module_init(enbd_init);
module_exit(enbd_exit);
MODULE_DESCRIPTION("Enhanced network block device: requests carried by userspace NBD daemons");
MODULE_LICENSE("GPL");
