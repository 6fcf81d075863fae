/* SPDX-License-Identifier: GPL-2.0 */
/*
 * enbd: internal definitions shared by the module's files.
 *
 * A device's life:  Closed --configure--> Open --shutdown--> Closed.
 * Requests of an Open device wait on the device's queue until a channel
 * claims one; a claimed request is recorded in the device's journal until
 * its owner completes it.  A channel that goes away (detach, death of its
 * daemon) has its claimed requests rolled back onto the queue, so another
 * channel - or the same daemon, restarted - carries them out.
 */
#ifndef ENBD_H
#define ENBD_H

#include <linux/blk-mq.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <uapi/enbd.h>

#define ENBD_QUEUE_DEPTH	128	/* requests per device in the kernel */

/*
 * Suspicion from siblings (enbd_journal.c): a channel silent for
 * ENBD_SUSPECT_FACTOR times the device's recent 99th percentile completion
 * latency, never less than ENBD_SUSPECT_FLOOR_MS, while a sibling completes
 * requests or holds none, is asked to probe its server.  Checked every
 * ENBD_CHECK_FAST_MS while requests are claimed, else once a second.
 */
#define ENBD_SUSPECT_FACTOR	2
#define ENBD_SUSPECT_FLOOR_MS	500
#define ENBD_CHECK_FAST_MS	250
/* How long a channel out of a non-blocking batch call is counted on to
 * look at the queue again (enbd_awake_fetcher_locked); the uapi header
 * states it to daemons (ENBD_IOC_BATCH). */
#define ENBD_AWAKE_MS		20
/*
 * The completion latency histogram is log-linear: below ENBD_LAT_SUB ms one
 * bucket per ms, above it ENBD_LAT_SUB buckets per power of two, so a
 * bucket is at most 1/ENBD_LAT_SUB of its latencies wide (a p99 read from
 * it is off by at most 12.5 %, not 100 % as with log2 buckets) and a
 * latency finds its bucket with shifts alone.  Up to 2^ENBD_LAT_MAX_LOG2
 * ms; the last bucket takes everything longer.
 */
#define ENBD_LAT_SUB_BITS	3
#define ENBD_LAT_SUB		(1u << ENBD_LAT_SUB_BITS)
#define ENBD_LAT_MAX_LOG2	16
#define ENBD_LAT_BUCKETS	((ENBD_LAT_MAX_LOG2 - ENBD_LAT_SUB_BITS + 1) * ENBD_LAT_SUB)

extern unsigned int enbd_ndevs;
extern unsigned int enbd_keepalive;
extern unsigned int enbd_readahead_kb;
extern unsigned int enbd_aging;

/* Where a request is in its life; changed only under enbd_device.lock. */
enum enbd_cmd_state {
	ENBD_CMD_IDLE,		/* not (or no longer) known to the journal */
	ENBD_CMD_QUEUED,	/* on dev->queue, waiting for a channel */
	ENBD_CMD_FETCHING,	/* on dev->journal; its claimer is copying the
				 * write payload out; not yet completable */
	ENBD_CMD_CLAIMED,	/* on dev->journal, carried by cmd->owner */
	ENBD_CMD_COMPLETING,	/* on dev->journal, no longer in dev->claimed;
				 * its completer copies read data in and then
				 * ends it, or puts it back if the copy fails */
};

struct enbd_channel;

/* Per-request data (the blk-mq PDU).  Every field is under dev->lock. */
struct enbd_cmd {
	struct list_head link;		/* on dev->queue or dev->journal */
	struct request *rq;		/* constant: the request we belong to */
	enum enbd_cmd_state state;
	u64 seq;			/* journal sequence of the current claim;
					 * a completion must quote it */
	struct enbd_channel *owner;	/* claiming channel; NULL when queued */
	unsigned long queued_at;	/* jiffies it was (re)queued */
	unsigned long claimed_at;	/* jiffies of the claim, for aging */
	unsigned int aged_claims;	/* claims that outlived the aging time;
					 * ENBD_MAX_AGED_CLAIMS of them fail it */
	bool aged;			/* the current claim is counted there */
	bool aborted;			/* shut down while FETCHING/COMPLETING:
					 * the copier must not put it back */
};

/*
 * One channel slot of a device.  A slot is bound to at most one control
 * file; its counters survive the daemon, so a restarted daemon that takes
 * the slot over continues them.  Fields under dev->lock unless noted.
 */
struct enbd_channel {
	struct enbd_device *dev;	/* constant */
	unsigned int index;		/* constant: slot number */
	struct file *file;		/* bound control file, NULL if free */
	bool ejected;			/* shut down: every call fails */
	bool stalled;			/* a claim outlived the aging time, or
					 * it fetched nothing for that long while
					 * requests waited: no more fetches until
					 * re-attached */
	unsigned long stalled_at;	/* jiffies it stalled, while stalled */
	pid_t pid;			/* tgid of the attaching daemon */
	pid_t last_pid;			/* tgid of the previous attacher */
	unsigned int attaches;		/* times the slot was attached */
	unsigned long last_active;	/* jiffies of the last fetch/complete */
	unsigned long awake_at;		/* jiffies of its last non-blocking
					 * batch call */
	unsigned long last_completed;	/* jiffies of its last completion */
	unsigned long last_heard;	/* jiffies of its last completion or
					 * answered keep-alive: sign of life */
	bool suspect;			/* silent while a sibling completes:
					 * asked to probe its server */
	bool probe_asked;		/* suspect, and its daemon has not yet
					 * said it probes (POLLRDBAND) */
	u64 requested;			/* requests claimed */
	u64 despatched;			/* requests completed successfully */
	u64 errored;			/* requests completed with an error */
	u64 pending;			/* requests claimed and not completed */
	u64 bytes;			/* payload bytes carried */
	u64 discarded;			/* late or doubled completions */
	u64 resubmitted;		/* claims rolled back for another try */
	u64 keepalives;			/* keep-alives answered (daemon says) */
	u64 suspected;			/* times it became suspect */
	u64 cleared;			/* suspicions ended by a sign of life */
	u64 reconnects;			/* re-attached by the same daemon */
	u64 restarts;			/* re-attached by a new daemon */

	wait_queue_head_t wait;		/* its daemon's poll() and blocking
					 * fetch: woken for a request while
					 * idle, and by enbd_settle() */
};

/*
 * One /dev/ndN.
 *
 * Locking:
 *  - config_mutex serialises configuration and life-cycle changes (attach,
 *    configure, shutdown, detach of the last channel) and anything that may
 *    sleep while changing the disk (capacity, limits, read-only).  Take it
 *    before lock, never the other way round.
 *  - lock (a spinlock, never taken from interrupt context: queue_rq runs in
 *    process context and the driver has no timers) protects the queue, the
 *    journal, every enbd_cmd, the channel slots and all counters.  Nothing
 *    that sleeps or may fault on userspace memory runs under it
 *    (copy_to_user_nofault does not).
 */
struct enbd_device {
	unsigned int index;		/* constant: N of /dev/ndN */
	struct gendisk *disk;		/* constant while the module is loaded */
	struct blk_mq_tag_set tag_set;

	struct mutex config_mutex;
	/* under config_mutex */
	bool open;			/* configured: size set, I/O accepted */
	u64 bytes;			/* size presented by the first channel */
	u32 block_size;
	u32 cfg_flags;			/* ENBD_CFG_* */
	bool has_token;
	u64 token;
	u64 session;			/* SHUTDOWNs so far: a file attached in an
					 * earlier session may not attach again */
	bool has_retired_token;
	u64 retired_token;		/* the last shut-down session's token:
					 * ATTACH presenting it gets ESHUTDOWN */

	spinlock_t lock;
	/* under lock */
	struct list_head queue;		/* ENBD_CMD_QUEUED, oldest first */
	struct list_head journal;	/* FETCHING/CLAIMED/COMPLETING, oldest
					 * claim first */
	struct enbd_cmd *claimed[ENBD_QUEUE_DEPTH];	/* CLAIMED ones by tag,
					 * to match a completion in O(1) */
	u64 next_seq;			/* next journal sequence number */
	bool accepting;			/* queue_rq takes requests (== open) */
	unsigned int nr_queued;		/* on queue */
	unsigned int nr_claimed;	/* on journal */
	unsigned int max_outstanding;	/* highest nr_queued + nr_claimed */
	u64 nr_discarded;		/* late/double completions, all slots */
	u64 nr_resubmitted;		/* rollbacks, all slots */
	u64 nr_expired;			/* failed by aging: too many aged claims,
					 * or held by a wedged channel */
	u32 aging_ms;			/* 0: enbd_aging seconds */
	u32 outage_policy;		/* ENBD_OUTAGE_* */
	u32 outage_ms;			/* grace before failing, with _FAIL */
	u32 keepalive_s;		/* 0: enbd_keepalive; read without the
					 * lock by sysfs (READ_ONCE) */
	u32 readahead_kb;		/* 0: enbd_readahead_kb; the disk's
					 * ra_pages is set under the lock too,
					 * so that a policy change racing an
					 * option change leaves the newer */
	unsigned long outage_since;	/* jiffies the last live channel
					 * went, 0 while one is live */
	bool failing;			/* outage policy says fail I/O */
	u64 nr_bad_token;		/* attaches refused for a wrong token */
	int last_error;			/* last error completed, as -errno */
	u32 lat_hist[ENBD_LAT_BUCKETS];	/* recent completion latencies
					 * (claim to completion), halved
					 * by each aging pass */
	unsigned long aged_at;		/* jiffies of the last aging pass */
	u64 nr_suspects_dropped;	/* suspicions ended by the channel
					 * letting go or stalling */
	struct enbd_channel channels[ENBD_MAX_CHANNELS];
	struct enbd_channel *last_channel;	/* most recently active */
	unsigned long idle_channels;	/* bit i: channel i's daemon found the
					 * queue empty when it last asked for a
					 * request (poll for POLLIN, blocking
					 * fetch) and may sleep: the next
					 * request wakes it, and only it */
	unsigned int last_idle;		/* the channel that went idle last */
	unsigned long awake_channels;	/* bit i: channel i made a
					 * non-blocking batch call and has not
					 * looked at the queue since: it will
					 * before it sleeps */

	struct delayed_work age_work;	/* ages the journal once a second
					 * while the device is open, and looks
					 * for suspects every
					 * ENBD_CHECK_FAST_MS while requests
					 * are claimed */
	struct work_struct scan_work;	/* reads the partition table after
					 * CONFIGURE: a daemon must serve it */
};

/* enbd_main.c */
struct enbd_device *enbd_get_device(unsigned int index);
void enbd_apply_readahead(struct enbd_device *dev);
unsigned int enbd_device_keepalive(struct enbd_device *dev);
void enbd_announce_disk(struct enbd_device *dev);
void enbd_invalidate_disk(struct enbd_device *dev);

/* enbd_journal.c: moving requests between queue, journal and completion */
blk_status_t enbd_queue_request(struct enbd_device *dev, struct request *rq);
/* Where one fetch of a batch puts its WRITE payload and its header. */
struct enbd_fetch_to {
	void __user *data;
	struct enbd_request __user *ureq;
};
int enbd_batch(struct enbd_channel *ch, struct file *file, struct enbd_done *done,
	       unsigned int nd, const struct enbd_fetch_to *to, unsigned int nf,
	       bool returns, bool *completed);
int enbd_wait_for_request(struct enbd_channel *ch, struct file *file);
void enbd_release_channel(struct enbd_channel *ch, struct file *file);
void enbd_abort_all(struct enbd_device *dev);
unsigned long enbd_age_requests(struct enbd_device *dev);
u32 enbd_suspect_threshold_ms(struct enbd_device *dev, u32 *p99_ms);
int enbd_channel_event(struct enbd_channel *ch, struct file *file, u32 event);
void enbd_check_outage(struct enbd_device *dev);
void enbd_note_attach(struct enbd_channel *ch);
struct enbd_channel *enbd_note_interest_locked(struct enbd_channel *ch, struct file *file,
					       bool wants);
bool enbd_channel_usable(struct enbd_channel *ch, struct file *file);

/* enbd_ctl.c */
struct enbd_channel *enbd_file_channel(struct file *file);
int enbd_ctl_init(void);
void enbd_ctl_exit(void);

/* enbd_proc.c */
int enbd_proc_init(void);
void enbd_proc_exit(void);

#endif /* ENBD_H */
