/* SPDX-License-Identifier: GPL-2.0 */
/*
 * enbd-client -n N: the N channels of one device, each its own process with
 * its own control file and NBD connection, under a small supervisor that
 * passes SIGTERM, SIGINT and SIGHUP on to them, logs each one that ends and
 * exits when all have.  It never restarts a channel: that is enbd-guardian's
 * job.
 */
#ifndef ENBD_CLIENT_SUPERVISE_H
#define ENBD_CLIENT_SUPERVISE_H

#include "channel.h"

/*
 * Run @n channels of device @index (-n; @o->channels, the device's total,
 * may be more: other processes run the rest); the @o->dev of the caller is
 * not used.  Channel i connects from @binds[i % @nbinds] (@nbinds 0: no
 * bind).  Returns the exit status: 0 every channel was stopped by a signal,
 * CHAN_EXIT_EJECTED the device was shut down (each channel was ejected or
 * stopped after that), otherwise 1.
 */
int supervise_run(const struct channel_opts *o, unsigned int index, unsigned int n,
		  char *const *binds, unsigned int nbinds);

#endif
