/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What an already configured /dev/ndN was configured with, read back from
 * sysfs (no kernel interface needed): a daemon restarted by the guardian,
 * or a further channel, compares it with what its server offers now.
 */
#ifndef ENBD_CLIENT_DEVCONFIG_H
#define ENBD_CLIENT_DEVCONFIG_H

#include <stddef.h>

#include "uapi/enbd.h"

/*
 * Fill @cfg (bytes, block size, ENBD_CFG_* flags) from the sysfs directory
 * of block device @devname.  Returns 1, 0 when the device is not configured
 * (no capacity) or is not a block device with sysfs (the selftest's
 * simulated one), -1 with @why when sysfs cannot be read.
 */
int devconfig_read(const char *devname, struct enbd_config *cfg, char *why, size_t len);

#endif
