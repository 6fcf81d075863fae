/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel side of a channel: the few operations the channel needs from
 * /dev/enbd-control, behind a small table of functions so that the protocol
 * and transmission code also runs against a simulated device (selftest.c)
 * on machines where the module cannot be loaded.
 *
 * Every operation returns 0 or a negative errno, exactly as the ioctl
 * (include/uapi/enbd.h) would.
 */
#ifndef ENBD_CLIENT_DEV_H
#define ENBD_CLIENT_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uapi/enbd.h"

struct chan_dev;

struct chan_dev_ops {
	/*
	 * ENBD_IOC_ATTACH; also after detach, to rejoin the device.  @slot >= 0
	 * asks for that channel slot (ENBD_ATTACH_SLOT), -1 for any; the slot
	 * obtained is returned in @channel.
	 */
	int (*attach)(struct chan_dev *d, uint64_t token, int slot, uint32_t *channel);
	/* ENBD_IOC_CONFIGURE */
	int (*configure)(struct chan_dev *d, const struct enbd_config *cfg);
	/* ENBD_IOC_IO */
	int (*io)(struct chan_dev *d, struct enbd_io *io);
	/*
	 * ENBD_IOC_BATCH, always ENBD_BATCH_NONBLOCK.  May be NULL, or return
	 * -ENOTTY (a module from before it): the channel then goes through
	 * io, one request at a time.
	 */
	int (*batch)(struct chan_dev *d, struct enbd_batch *b);
	/* ENBD_IOC_DETACH: claimed requests go back to the device's queue. */
	int (*detach)(struct chan_dev *d);
	/* The fd to poll: POLLIN a request waits, POLLHUP the channel is ejected. */
	int (*pollfd)(struct chan_dev *d);
	/*
	 * Was the device shut down (ENBD_IOC_SHUTDOWN) since it was configured?
	 * A detached file is not told (no POLLHUP), so a channel that comes back
	 * from an outage asks before it attaches again.  May be NULL.
	 */
	bool (*was_shut_down)(struct chan_dev *d);
	/*
	 * Seconds of quiet after which the channel probes its server (0: no
	 * probes): the module's keepalive option, which may change at any
	 * time, so the channel asks again every second.
	 */
	unsigned int (*keepalive)(struct chan_dev *d);
	/* ENBD_IOC_EVENT: report ENBD_EVENT_* (a keep-alive answered). */
	int (*event)(struct chan_dev *d, uint32_t event);
	void (*close)(struct chan_dev *d);
};

struct chan_dev {
	const struct chan_dev_ops *ops;
	unsigned int index;	/* N of /dev/ndN */
};

/*
 * Find the device index of block device @path (/dev/ndN).  Returns 0, or -1
 * with a one-line reason in @why.
 */
int kdev_resolve(const char *path, unsigned int *index, char *why, size_t why_len);

/*
 * Open the control file for device @index.  Returns NULL with a one-line
 * reason in @why (e.g. "enbd module not loaded").
 */
struct chan_dev *kdev_open(unsigned int index, char *why, size_t why_len);

/* ENBD_IOC_SHUTDOWN of device @index.  Returns 0 or -1 with @why. */
int kdev_shutdown(unsigned int index, uint64_t token, char *why, size_t why_len);

/* A one-line explanation of errno @err returned by ATTACH or CONFIGURE. */
const char *kdev_attach_error(int err);
const char *kdev_configure_error(int err);

#endif
