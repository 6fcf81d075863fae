// SPDX-License-Identifier: GPL-2.0
/* The real kernel device: ioctls on /dev/enbd-control (include/uapi/enbd.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "dev.h"
#include "log.h"

struct kdev {
	struct chan_dev base;
	int fd;
	int detached;		/* DETACH done on this file */
	bool attached_once;	/* an ATTACH succeeded: a busy slot is no predecessor's */
	bool no_batch;		/* the module has no ENBD_IOC_BATCH */
};

/*
 * A daemon started with --slot while its predecessor in the slot still
 * drains (CHAN_DRAIN_MS, 10 s, after a guardian killed with -9) gets EBUSY
 * until the predecessor detaches: the first attach waits for the slot this
 * long, polling, rather than fail into the guardian's backoff.
 */
#define KDEV_SLOT_WAIT_MS	15000
#define KDEV_SLOT_POLL_MS	50

static int ctl_open(char *why, size_t why_len)
{
	int fd = open(ENBD_CONTROL_PATH, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
		snprintf(why, why_len, "enbd module not loaded (no %s)", ENBD_CONTROL_PATH);
	else if (errno == EACCES || errno == EPERM)
		snprintf(why, why_len, "cannot open %s: permission denied (must be root)",
			 ENBD_CONTROL_PATH);
	else
		snprintf(why, why_len, "cannot open %s: %s", ENBD_CONTROL_PATH, strerror(errno));
	return -1;
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int rc;

	do
		rc = ioctl(fd, req, arg);
	while (rc < 0 && errno == EINTR && req != ENBD_IOC_IO && req != ENBD_IOC_BATCH);
	return rc < 0 ? -errno : 0;
}

/* SIGTERM or SIGINT is pending (blocked for the signalfd): stop waiting. */
static bool stop_pending(void)
{
	sigset_t pending;

	return sigpending(&pending) == 0 &&
	       (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1);
}

/* ENBD_IOC_ATTACH of slot @a->channel, waiting up to KDEV_SLOT_WAIT_MS while it is busy. */
static int attach_wait_slot(struct kdev *k, struct enbd_attach *a)
{
	const struct timespec interval = { .tv_nsec = KDEV_SLOT_POLL_MS * 1000000L };
	int rc = xioctl(k->fd, ENBD_IOC_ATTACH, a), polls = 0;

	if (rc == -EBUSY)
		log_info("channel slot %u is taken: waiting up to %d s for its daemon to leave",
			 a->channel, KDEV_SLOT_WAIT_MS / 1000);
	while (rc == -EBUSY && ++polls <= KDEV_SLOT_WAIT_MS / KDEV_SLOT_POLL_MS && !stop_pending()) {
		nanosleep(&interval, NULL);
		rc = xioctl(k->fd, ENBD_IOC_ATTACH, a);
		if (rc == 0)
			log_info("channel slot %u free after %d ms", a->channel,
				 polls * KDEV_SLOT_POLL_MS);
	}
	return rc;
}

static int kdev_attach(struct chan_dev *d, uint64_t token, int slot, uint32_t *channel)
{
	struct kdev *k = (struct kdev *)d;
	struct enbd_attach a = {
		.size = sizeof(a), .index = d->index, .token = token,
		.flags = slot >= 0 ? ENBD_ATTACH_SLOT : 0,
		.channel = slot >= 0 ? (uint32_t)slot : 0,
	};
	char why[128];
	int rc, fd;

	if (slot >= 0 && !k->attached_once)
		rc = attach_wait_slot(k, &a);
	else
		rc = xioctl(k->fd, ENBD_IOC_ATTACH, &a);
	if (rc && k->detached && rc != -EACCES && rc != -EBUSY && rc != -EPERM && rc != -ENODEV &&
	    rc != -ENXIO && rc != -ESHUTDOWN) {
		/*
		 * The uapi does not promise that a detached file can attach
		 * again: if it cannot, rejoin with a fresh one.
		 */
		log_debug("re-attach on the same control file failed (%s); reopening",
			  strerror(-rc));
		fd = ctl_open(why, sizeof(why));
		if (fd < 0)
			return -errno;
		close(k->fd);
		k->fd = fd;
		rc = xioctl(k->fd, ENBD_IOC_ATTACH, &a);
	}
	if (rc == 0) {
		k->detached = 0;
		k->attached_once = true;
		if (channel)
			*channel = a.channel;
	}
	return rc;
}

static int kdev_configure(struct chan_dev *d, const struct enbd_config *cfg)
{
	struct enbd_config c = *cfg;

	return xioctl(((struct kdev *)d)->fd, ENBD_IOC_CONFIGURE, &c);
}

static int kdev_io(struct chan_dev *d, struct enbd_io *io)
{
	return xioctl(((struct kdev *)d)->fd, ENBD_IOC_IO, io);
}

static int kdev_batch(struct chan_dev *d, struct enbd_batch *b)
{
	struct kdev *k = (struct kdev *)d;
	int rc;

	if (k->no_batch)
		return -ENOTTY;
	rc = xioctl(k->fd, ENBD_IOC_BATCH, b);
	if (rc == -ENOTTY) {
		log_info("the enbd module has no ENBD_IOC_BATCH: one request per call");
		k->no_batch = true;
	}
	return rc;
}

static int kdev_detach(struct chan_dev *d)
{
	struct kdev *k = (struct kdev *)d;
	int rc = xioctl(k->fd, ENBD_IOC_DETACH, NULL);

	k->detached = 1;
	return rc;
}

static int kdev_pollfd(struct chan_dev *d)
{
	return ((struct kdev *)d)->fd;
}

/* ENBD_IOC_SHUTDOWN sets the capacity to 0; only a CONFIGURE sets it again. */
static bool kdev_was_shut_down(struct chan_dev *d)
{
	char path[64];
	unsigned long long sectors = 1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/block/" ENBD_DISK_PREFIX "%u/size", d->index);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fscanf(f, "%llu", &sectors) != 1)
		sectors = 1;
	fclose(f);
	return sectors == 0;
}

#define KEEPALIVE_PARAM "/sys/module/enbd/parameters/keepalive"

static bool read_seconds(const char *path, unsigned int *secs)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f)
		return false;
	ok = fscanf(f, "%u", secs) == 1;
	fclose(f);
	return ok;
}

/*
 * The device's keep-alive in effect (its own, else the module's option),
 * read at every tick so that `enbdctl policy --keepalive` reaches a running
 * daemon; a module without per-device keep-alive has only the option.
 */
static unsigned int kdev_keepalive(struct chan_dev *d)
{
	static bool warned;
	char path[64];
	unsigned int secs = 0;

	snprintf(path, sizeof(path), "/sys/block/" ENBD_DISK_PREFIX "%u/enbd/keepalive", d->index);
	if (read_seconds(path, &secs) || read_seconds(KEEPALIVE_PARAM, &secs))
		return secs;
	if (!warned)
		log_warn("cannot read %s or " KEEPALIVE_PARAM ": no keep-alive probes", path);
	warned = true;
	return 0;
}

static int kdev_event(struct chan_dev *d, uint32_t event)
{
	struct enbd_event e = { .size = sizeof(e), .event = event };

	return xioctl(((struct kdev *)d)->fd, ENBD_IOC_EVENT, &e);
}

static void kdev_close(struct chan_dev *d)
{
	struct kdev *k = (struct kdev *)d;

	if (k->fd >= 0)
		close(k->fd);
	free(k);
}

static const struct chan_dev_ops kdev_ops = {
	.attach = kdev_attach,
	.configure = kdev_configure,
	.io = kdev_io,
	.batch = kdev_batch,
	.detach = kdev_detach,
	.pollfd = kdev_pollfd,
	.was_shut_down = kdev_was_shut_down,
	.keepalive = kdev_keepalive,
	.event = kdev_event,
	.close = kdev_close,
};

struct chan_dev *kdev_open(unsigned int index, char *why, size_t why_len)
{
	struct kdev *k;
	int fd = ctl_open(why, why_len);

	if (fd < 0)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (!k) {
		close(fd);
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	k->base.ops = &kdev_ops;
	k->base.index = index;
	k->fd = fd;
	return &k->base;
}

int kdev_resolve(const char *path, unsigned int *index, char *why, size_t why_len)
{
	char link[PATH_MAX], target[PATH_MAX];
	const char *name;
	unsigned int n, part;
	struct stat st;
	ssize_t len;
	char extra;

	if (stat(path, &st) < 0) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISBLK(st.st_mode)) {
		snprintf(why, why_len, "%s is not a block device", path);
		return -1;
	}
	*index = minor(st.st_rdev) >> ENBD_PART_SHIFT;
	/* The kernel's own name for it tells whether this is really /dev/ndN. */
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(st.st_rdev),
		 minor(st.st_rdev));
	len = readlink(link, target, sizeof(target) - 1);
	if (len < 0 && access("/sys/dev/block", F_OK) == 0) {
		snprintf(why, why_len, "%s is not an enbd device (no such block device is registered)",
			 path);
		return -1;
	}
	if (len < 0) {
		log_debug("no /sys/dev/block: trusting the minor number of %s", path);
		if (minor(st.st_rdev) & ((1u << ENBD_PART_SHIFT) - 1)) {
			snprintf(why, why_len, "%s is a partition, not a whole enbd device", path);
			return -1;
		}
		return 0;
	}
	target[len] = 0;
	name = strrchr(target, '/');
	name = name ? name + 1 : target;
	if (sscanf(name, ENBD_DISK_PREFIX "%up%u%c", &n, &part, &extra) == 2) {
		snprintf(why, why_len, "%s is partition %u of /dev/" ENBD_DISK_PREFIX "%u, not a whole device",
			 path, part, n);
		return -1;
	}
	if (sscanf(name, ENBD_DISK_PREFIX "%u%c", &n, &extra) != 1) {
		snprintf(why, why_len, "%s is not an enbd device (it is %s)", path, name);
		return -1;
	}
	if (n != *index) {
		snprintf(why, why_len, "%s: device %s does not have the expected minor number %u",
			 path, name, minor(st.st_rdev));
		return -1;
	}
	return 0;
}

int kdev_shutdown(unsigned int index, uint64_t token, char *why, size_t why_len)
{
	struct enbd_shutdown s = { .size = sizeof(s), .index = index, .token = token };
	int fd = ctl_open(why, why_len), rc;

	if (fd < 0)
		return -1;
	rc = xioctl(fd, ENBD_IOC_SHUTDOWN, &s);
	close(fd);
	if (rc == 0)
		return 0;
	switch (-rc) {
	case EPERM:
		snprintf(why, why_len, "shutdown refused: permission denied (must be root)");
		break;
	case EACCES:
		snprintf(why, why_len, "shutdown refused: wrong session token (-t)");
		break;
	case ENODEV:
	case ENXIO:
	case EINVAL:
		snprintf(why, why_len, "shutdown failed: no enbd device %u (%s)", index,
			 strerror(-rc));
		break;
	default:
		snprintf(why, why_len, "shutdown failed: %s", strerror(-rc));
		break;
	}
	return -1;
}

const char *kdev_attach_error(int err)
{
	static char buf[128];

	switch (err) {
	case EPERM:
		return "permission denied (must be root)";
	case EACCES:
		return "wrong session token (-t)";
	case ESHUTDOWN:
		return "its session was shut down (a new one needs a new token)";
	case EBUSY:
		return "device busy (no free channel slot, or the one asked for is taken)";
	case ENODEV:
	case ENXIO:
	case EINVAL:
		snprintf(buf, sizeof(buf), "no such enbd device (%s)", strerror(err));
		return buf;
	case ENOTTY:
		return "the enbd module does not understand this client (ABI mismatch)";
	default:
		return strerror(err);
	}
}

const char *kdev_configure_error(int err)
{
	switch (err) {
	case EBUSY:
		return "device busy: already configured with a different size or block size";
	case EPERM:
		return "permission denied (must be root)";
	case EINVAL:
		return "the module rejected the size, block size or flags";
	default:
		return strerror(err);
	}
}
