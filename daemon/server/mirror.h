/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The outbound side of a live migration: one mirror thread copies the
 * default export to a listening destination while clients keep writing,
 * then switches over (see README.md, Migration, and migrate.h).
 */
#ifndef ENBD_SERVER_MIRROR_H
#define ENBD_SERVER_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server.h"

/* Start mirroring @srv's default export to HOST PORT, sending at most
 * @max_rate bytes of data per second (0: no limit); @unlink: remove the
 * file once the destination has it.  0, or -1 with the reason in @why (one
 * already running, nothing to unlink, ...). */
int mirror_start(const struct server *srv, const char *host, const char *port, bool unlink,
		 uint64_t max_rate, char *why, size_t why_len);
/* Stop a running mirror and wait for it; the source serves as before.
 * -1 when none runs. */
int mirror_break(void);
/* At exit: break a running mirror, reap a finished one. */
void mirror_cleanup(void);

#endif
