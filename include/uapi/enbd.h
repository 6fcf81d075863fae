/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * enbd: the ABI between the enbd kernel module and its userspace daemons.
 *
 * Every channel daemon opens ENBD_CONTROL_PATH; the open file becomes one
 * channel of a device once ENBD_IOC_ATTACH succeeds.  Closing the file (or
 * the daemon dying) detaches the channel; requests it had claimed are put
 * back on the device's queue for another channel.
 *
 * Every argument structure starts with a __u32 size (must equal the
 * sizeof() the caller was built with) and a __u32 flags word; unknown flag
 * bits are rejected with EINVAL.  All ioctls need CAP_SYS_ADMIN.
 */
#ifndef _UAPI_ENBD_H
#define _UAPI_ENBD_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define ENBD_CONTROL_NAME	"enbd-control"
#define ENBD_CONTROL_PATH	"/dev/" ENBD_CONTROL_NAME
#define ENBD_DISK_PREFIX	"nd"	/* /dev/nd0, /dev/nd1, ... */
#define ENBD_PART_SHIFT		4	/* minor = index << ENBD_PART_SHIFT */
#define ENBD_MAX_DEVICES	256
#define ENBD_MAX_CHANNELS	16	/* channels (daemons) per device */
#define ENBD_MAX_IO_BYTES	(512u << 10)	/* largest READ/WRITE request */
#define ENBD_MAX_DISCARD_BYTES	(64u << 20)	/* largest TRIM/WRITE_ZEROES:
						 * bounded work per request */

/*
 * Request types.  The values are the NBD command numbers (NetworkBlockDevice
 * doc/proto.md) so a daemon can put them on the wire unchanged.
 */
#define ENBD_CMD_READ		0
#define ENBD_CMD_WRITE		1
#define ENBD_CMD_FLUSH		3
#define ENBD_CMD_TRIM		4
#define ENBD_CMD_WRITE_ZEROES	6

/* Request flags: the NBD command flag values for the same reason. */
#define ENBD_CMD_FLAG_FUA	(1u << 0)
#define ENBD_CMD_FLAG_NO_HOLE	(1u << 1)	/* WRITE_ZEROES must allocate */

/* ENBD_IOC_ATTACH: make this open file a channel of device @index. */
#define ENBD_ATTACH_SLOT	(1u << 0)	/* take slot @channel or fail with
						 * EBUSY (a restarted daemon taking
						 * over its predecessor's place) */
#define ENBD_ATTACH_ALL		ENBD_ATTACH_SLOT
struct enbd_attach {
	__u32 size;		/* sizeof(struct enbd_attach) */
	__u32 flags;		/* ENBD_ATTACH_* */
	__u32 index;		/* N of /dev/ndN */
	__u32 channel;		/* out (in with ENBD_ATTACH_SLOT): channel
				 * slot, 0..ENBD_MAX_CHANNELS-1 */
	__u64 token;		/* session token; see below */
};
/*
 * Session token: if the device has no token, a non-zero @token becomes the
 * device's token and 0 leaves it without one.  If the device has a token,
 * @token must match it or the attach fails with EACCES (and is counted).
 * The token is forgotten only by ENBD_IOC_SHUTDOWN.
 *
 * A shut-down session stays shut: a daemon that was reconnecting to it must
 * not open the device again as a new session.  So ATTACH fails with
 * ESHUTDOWN (not counted) when @token is the token of the last session shut
 * down with one (a new session needs a new token), and on a control file
 * that was attached to the device before its last SHUTDOWN (a new session
 * needs a new file).  A daemon without a token that opens a fresh control
 * file cannot be told from a new session: give sessions a token.
 * ATTACH is all or nothing: one that fails (EFAULT for @channel included)
 * leaves no trace on the device - no slot, counter or outage change.
 */

/* ENBD_IOC_CONFIGURE: set geometry and capabilities from the NBD handshake. */
#define ENBD_CFG_READ_ONLY	(1u << 0)
#define ENBD_CFG_FLUSH		(1u << 1)	/* server takes NBD_CMD_FLUSH */
#define ENBD_CFG_FUA		(1u << 2)	/* server honours NBD_CMD_FLAG_FUA */
#define ENBD_CFG_TRIM		(1u << 3)
#define ENBD_CFG_WRITE_ZEROES	(1u << 4)
#define ENBD_CFG_ALL		(ENBD_CFG_READ_ONLY | ENBD_CFG_FLUSH | \
				 ENBD_CFG_FUA | ENBD_CFG_TRIM | \
				 ENBD_CFG_WRITE_ZEROES)
struct enbd_config {
	__u32 size;		/* sizeof(struct enbd_config) */
	__u32 flags;		/* ENBD_CFG_* */
	__u64 bytes;		/* export size; rounded down to block_size */
	__u32 block_size;	/* logical block size: power of 2, 512..4096 */
	__u32 reserved;		/* must be 0 */
};
/*
 * The first channel configures the device: it gets its size, like new media
 * (a change uevent), and its partition table is read in the background
 * (through the channels: /dev/ndNpM appear once a channel serves it).  A
 * later channel must present the same size and block size (EBUSY otherwise);
 * its flags are ignored.  With ENBD_CFG_READ_ONLY every write, trim and
 * write-zeroes fails with an I/O error in the module, also one the block
 * layer lets through (from a device mapper table, a filesystem mounted
 * before): no daemon ever fetches one.
 */

/* One request handed to a daemon. */
struct enbd_request {
	__u64 seq;		/* journal sequence number, unique per device */
	__u64 offset;		/* bytes from the start of the device */
	__u32 tag;		/* identifies the request together with seq */
	__u32 length;		/* bytes; 0 for FLUSH */
	__u16 type;		/* ENBD_CMD_* */
	__u16 flags;		/* ENBD_CMD_FLAG_* */
	__u32 reserved;
};

/*
 * ENBD_IOC_IO: complete one request, fetch the next one, or both in one call.
 * The completion is carried out first.  If it fails the call fails and
 * nothing is fetched.  If it succeeds, @done_result says whether it was
 * accepted or discarded (a late or second completion of a request that is
 * no longer outstanding is discarded silently and counted, not an error).
 * Fetching then blocks until a request is queued (unless ENBD_IO_NONBLOCK:
 * EAGAIN), the call is interrupted (EINTR: the completion stands) or the
 * channel is ejected (ESHUTDOWN).  The control file is also pollable:
 * POLLIN while a request waits to be fetched, POLLHUP once ejected, and
 * POLLPRI once the channel is stalled: a request it claimed outlived the
 * aging time, or it fetched and completed nothing for the aging time while
 * a request waited to be fetched; the daemon should drop its connection
 * (abortively), detach and reconnect.  A stalled channel's aged READs are
 * resubmitted at once; its other aged requests are resubmitted only when it
 * detaches, so a write is never in flight on two connections at once.
 * FLUSH, TRIM and WRITE_ZEROES age after ENBD_SLOW_AGING_FACTOR times the
 * aging time.  A request whose claims outlive their aging time
 * ENBD_MAX_AGED_CLAIMS times fails with an I/O error (counted "expired" in
 * /proc/nbdinfo).
 *
 * If the copy of a fetched request (its header or WRITE payload) to the
 * caller's buffers fails, the call fails with EFAULT and the request goes
 * back to the queue.  If the copy of READ data from @done_data fails, the
 * call fails with EFAULT and the request stays claimed by this channel for
 * a correct completion - unless the channel was detached, ejected or marked
 * stalled meanwhile (then it is resubmitted) or the device shut down (then
 * it fails).
 *
 * @done_error: the block layer gets ENOSPC, EOPNOTSUPP, ENODATA (a medium
 * error) and ETIMEDOUT as they are; every other errno becomes EIO.
 */
#define ENBD_SLOW_AGING_FACTOR	4	/* aging of FLUSH, TRIM, WRITE_ZEROES */
#define ENBD_MAX_AGED_CLAIMS	4	/* aged claims that fail a request */

#define ENBD_IO_COMPLETE	(1u << 0)
#define ENBD_IO_FETCH		(1u << 1)
#define ENBD_IO_NONBLOCK	(1u << 2)
#define ENBD_IO_ALL		(ENBD_IO_COMPLETE | ENBD_IO_FETCH | \
				 ENBD_IO_NONBLOCK)

#define ENBD_DONE_NONE		0	/* no completion was asked for */
#define ENBD_DONE_ACCEPTED	1
#define ENBD_DONE_DISCARDED	2	/* not outstanding: late or doubled */

struct enbd_io {
	__u32 size;		/* sizeof(struct enbd_io) */
	__u32 flags;		/* ENBD_IO_* */
	/* completion, with ENBD_IO_COMPLETE */
	__u64 done_seq;
	__u32 done_tag;
	__s32 done_error;	/* 0, or a negative errno for a failed request */
	__u64 done_data;	/* user address of the READ payload */
	__u32 done_length;	/* must equal the request's length for a
				 * successful READ, else 0 */
	__u32 done_result;	/* out: ENBD_DONE_* */
	/* fetch, with ENBD_IO_FETCH */
	__u64 data;		/* user buffer that receives a WRITE payload */
	__u32 data_capacity;	/* its size: at least ENBD_MAX_IO_BYTES */
	__u32 reserved;		/* must be 0 */
	struct enbd_request req;	/* out: the fetched request */
};

/*
 * ENBD_IOC_BATCH: complete up to ENBD_BATCH_MAX requests and fetch up to
 * ENBD_BATCH_MAX new ones in one call; the same journal rules as ENBD_IOC_IO
 * apply to each.  @done and @fetch are user addresses of @nr_done struct
 * enbd_done and @nr_fetch struct enbd_fetch; either count may be 0, not
 * both.  The header is checked first (size, magic, flags, reserved, counts:
 * EINVAL), then every fetch entry's buffer (EINVAL as for ENBD_IOC_IO);
 * nothing is done if any of that fails.
 *
 * The completions are carried out in order, before anything is fetched (a
 * fetched WRITE may go into the buffer a completed READ came from).  Each
 * stands alone: its @result says ENBD_DONE_ACCEPTED, ENBD_DONE_DISCARDED
 * (late or doubled, also within one batch), -EINVAL (malformed, as
 * ENBD_IOC_IO would refuse it) or -EFAULT (its READ data could not be
 * copied in: the request stays claimed for a correct completion, as with
 * ENBD_IOC_IO).  A failed entry does not fail the call nor stop the others.
 *
 * Then up to @nr_fetch requests are fetched, oldest first, into
 * fetch[0 .. @fetched - 1].  The call waits for one only if @nr_done is 0
 * and ENBD_BATCH_NONBLOCK is not set; otherwise it returns at once, with
 * @fetched possibly 0 (never EAGAIN).  If entry k cannot be written (its
 * header or WRITE payload: a bad buffer), it and the entries after it go
 * back to the queue and @fetched is k; with k == 0 the call fails with
 * EFAULT.  A stalled channel fetches nothing (ENOLINK), an ejected or
 * detached one fails with ESHUTDOWN, a wait can be interrupted (EINTR).
 *
 * A call with ENBD_BATCH_NONBLOCK tells the module that its caller will look
 * at the queue again (poll(), or another call) before it sleeps: for up to
 * 20 ms, or until it does, a new request is left to it instead of waking an
 * idle channel.  A daemon that makes such a call and then waits elsewhere
 * delays new requests by that much.
 *
 * When the call fails nothing was fetched, and @completed is @nr_done if
 * the completions were carried out before the failure (their results are
 * written), else 0.  The results and the header's out fields are proven
 * writable before anything is done (EFAULT).
 */
#define ENBD_BATCH_MAGIC	0x656e6264	/* "enbd" */
#define ENBD_BATCH_MAX		16		/* entries per array and call */
#define ENBD_BATCH_NONBLOCK	(1u << 0)
#define ENBD_BATCH_ALL		ENBD_BATCH_NONBLOCK

struct enbd_done {
	__u64 seq;		/* the request's seq and tag, as fetched */
	__u32 tag;
	__s32 error;		/* 0, or a negative errno: see @done_error */
	__u64 data;		/* user address of the READ payload */
	__u32 length;		/* the request's length for a successful
				 * READ, else 0 */
	__s32 result;		/* out: ENBD_DONE_ACCEPTED, _DISCARDED or
				 * a negative errno for this entry */
};

struct enbd_fetch {
	__u64 data;		/* user buffer that receives a WRITE payload */
	__u32 data_capacity;	/* its size: at least ENBD_MAX_IO_BYTES */
	__u32 reserved;		/* must be 0 */
	struct enbd_request req;	/* out: the fetched request */
};

struct enbd_batch {
	__u32 size;		/* sizeof(struct enbd_batch) */
	__u32 flags;		/* ENBD_BATCH_* */
	__u32 magic;		/* ENBD_BATCH_MAGIC */
	__u32 nr_done;		/* entries at @done, 0..ENBD_BATCH_MAX */
	__u32 nr_fetch;		/* entries at @fetch, 0..ENBD_BATCH_MAX */
	__u32 completed;	/* out: completions carried out */
	__u32 fetched;		/* out: requests fetched */
	__u32 reserved;		/* must be 0 */
	__u64 done;		/* user address of struct enbd_done[nr_done] */
	__u64 fetch;		/* user address of struct enbd_fetch[nr_fetch] */
};

/*
 * ENBD_IOC_SHUTDOWN: error out every queued and in-flight request of device
 * @index, eject its channels (their calls fail with ESHUTDOWN, their files
 * report POLLHUP), forget its token and size.  Like the removal of a disk:
 * its partitions go (unless one is still open), no page of the old export
 * stays in the page cache, a change uevent is sent.  The session stays shut
 * (see the session token above).  Needs the device's token if it has one.
 * Afterwards the module can be removed once the daemons exit.
 */
struct enbd_shutdown {
	__u32 size;		/* sizeof(struct enbd_shutdown) */
	__u32 flags;		/* none defined: must be 0 */
	__u32 index;
	__u32 reserved;		/* must be 0 */
	__u64 token;
};

/*
 * ENBD_IOC_SET_POLICY: per-device aging, outage, keep-alive and read-ahead
 * policy.  Needs the device's token if it has one; the file need not be
 * attached.
 * Outage: while no channel is attached, requests wait however long it takes
 * (ENBD_OUTAGE_WAIT, the default: the filesystem never sees an error), or,
 * with ENBD_OUTAGE_FAIL, queued and new requests fail once the outage has
 * lasted @outage_ms (0: at once) - for a member of an md mirror that should
 * fail over - until a channel attaches again.  With ENBD_OUTAGE_FAIL a
 * channel that stays stalled for @outage_ms (its daemon neither answers nor
 * detaches: stopped, or stuck in D state) also loses its claims: its READs
 * are resubmitted, its other requests fail (counted "expired").  It stays
 * stalled (POLLPRI), so a daemon that wakes up reconnects.
 * Keep-alive and read-ahead (0: the module's keepalive and readahead
 * options, followed when they change): @keepalive_s (up to 3600) is read
 * by the device's channel daemons from /sys/block/ndN/enbd/keepalive (the
 * effective value, read-only) at each keep-alive tick; @readahead_kb (up
 * to 65536) is the disk's read-ahead, applied at once and again when a new
 * session configures the device (a `blockdev --setra` lasts until then).
 * Both are shown by the device's "Policy:" line in /proc/nbdinfo.
 * The structure grew: a caller built before them passes
 * ENBD_POLICY_SIZE_V1 as @size (with the ioctl number of that size) and
 * may not set their flags.
 */
#define ENBD_POLICY_AGING	(1u << 0)	/* set aging_ms */
#define ENBD_POLICY_OUTAGE	(1u << 1)	/* set outage and outage_ms */
#define ENBD_POLICY_KEEPALIVE	(1u << 2)	/* set keepalive_s */
#define ENBD_POLICY_READAHEAD	(1u << 3)	/* set readahead_kb */
#define ENBD_POLICY_ALL		(ENBD_POLICY_AGING | ENBD_POLICY_OUTAGE | \
				 ENBD_POLICY_KEEPALIVE | ENBD_POLICY_READAHEAD)
#define ENBD_POLICY_SIZE_V1	32	/* up to @token: aging and outage only */
#define ENBD_IOC_SET_POLICY_V1	_IOC(_IOC_WRITE, ENBD_IOC_MAGIC, 6, ENBD_POLICY_SIZE_V1)
#define ENBD_POLICY_MAX_KEEPALIVE_S	3600
#define ENBD_POLICY_MAX_READAHEAD_KB	65536
#define ENBD_OUTAGE_WAIT	0
#define ENBD_OUTAGE_FAIL	1
struct enbd_policy {
	__u32 size;		/* sizeof(struct enbd_policy) */
	__u32 flags;		/* ENBD_POLICY_*: which settings to change */
	__u32 index;
	__u32 aging_ms;		/* 0: the module's aging option */
	__u32 outage;		/* ENBD_OUTAGE_* */
	__u32 outage_ms;	/* with ENBD_OUTAGE_FAIL */
	__u64 token;
	__u32 keepalive_s;	/* 0: the module's keepalive option */
	__u32 readahead_kb;	/* 0: the module's readahead option */
};

/*
 * Suspicion from siblings: a channel none of whose READs or WRITEs has been
 * completed, and none of whose keep-alives answered, for 2 times the
 * device's recent 99th percentile completion latency (at least 500 ms),
 * while it holds such a claim and another channel of the device completed
 * a request meanwhile or holds none, becomes suspect: its control file reports
 * POLLRDBAND until the daemon answers with ENBD_EVENT_PROBING.  The daemon
 * should probe its server at once with a short deadline and, with no
 * answer, drop the connection as after a keep-alive timeout (abortively),
 * detach and reconnect.  Nothing is resubmitted because of a suspicion; a
 * completion or ENBD_EVENT_KEEPALIVE from the channel ends it ("Cleared"
 * in /proc/nbdinfo), a detach or a stall drops it.  POLLRDBAND is only
 * reported to a poll() that asks for it, so daemons that do not know it
 * see nothing new.
 */

/* ENBD_IOC_EVENT: a channel daemon reports what only it can see. */
#define ENBD_EVENT_KEEPALIVE	1	/* a keep-alive probe was answered */
#define ENBD_EVENT_PROBING	2	/* it saw POLLRDBAND and is probing:
					 * the bit is cleared */
#define ENBD_EVENT_MAX		ENBD_EVENT_PROBING
struct enbd_event {
	__u32 size;		/* sizeof(struct enbd_event) */
	__u32 flags;		/* none defined: must be 0 */
	__u32 event;		/* ENBD_EVENT_* */
	__u32 reserved;		/* must be 0 */
};

#define ENBD_IOC_MAGIC		0xE6
#define ENBD_IOC_ATTACH		_IOWR(ENBD_IOC_MAGIC, 1, struct enbd_attach)
#define ENBD_IOC_CONFIGURE	_IOW(ENBD_IOC_MAGIC, 2, struct enbd_config)
#define ENBD_IOC_IO		_IOWR(ENBD_IOC_MAGIC, 3, struct enbd_io)
#define ENBD_IOC_DETACH		_IO(ENBD_IOC_MAGIC, 4)
#define ENBD_IOC_SHUTDOWN	_IOW(ENBD_IOC_MAGIC, 5, struct enbd_shutdown)
#define ENBD_IOC_SET_POLICY	_IOW(ENBD_IOC_MAGIC, 6, struct enbd_policy)
#define ENBD_IOC_EVENT		_IOW(ENBD_IOC_MAGIC, 7, struct enbd_event)
#define ENBD_IOC_BATCH		_IOWR(ENBD_IOC_MAGIC, 8, struct enbd_batch)

#endif /* _UAPI_ENBD_H */
