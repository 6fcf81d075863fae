/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the files of transmission, not outside them (channel.h has the
 * interface channel.c uses):
 *
 *   xmit.c            the poll() loop, signals, wind-down and disconnect
 *   xmit-kernel.c     slots, and the pump: complete and fetch (ENBD_IOC_BATCH)
 *   xmit-tx.c         requests out: checks, parts, the send queue, sendmsg
 *   xmit-rx.c         replies in: reading and parsing, cookie matching
 *   xmit-keepalive.c  the probe of a quiet server
 *   xmit-window.c     the adaptive in-flight window
 *
 * Functions returning int return 0, or -1 with c->want set: the loop must
 * stop and xmit_run returns that result.
 */
#ifndef ENBD_CLIENT_XMIT_H
#define ENBD_CLIENT_XMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "channel.h"

/* Record why the loop must stop; the first reason wins. */
static inline int want(struct channel *c, enum xmit_result r)
{
	if (!c->want)
		c->want = (int)r + 1;
	return -1;
}

uint64_t now_us(void);
uint64_t turn_us(struct channel *c);
void coarse_now(struct timespec *t);
long coarse_ms_since(const struct timespec *t);

/* xmit-kernel.c */
void slot_start(struct slot *s, const struct enbd_request *req);
bool xmit_can_fetch(const struct channel *c);
int xmit_stalled(struct channel *c);
void xmit_done(struct channel *c, struct slot *s);
int xmit_pump(struct channel *c);

/* xmit-tx.c */
uint32_t part_len(const struct channel *c, const struct slot *s, unsigned int p);
int check_request(struct channel *c, struct slot *s);
void sendq_push(struct channel *c, struct slot *s);
struct slot *sendq_at(struct channel *c, unsigned int i);
unsigned int sendq_committed(const struct channel *c);
int xmit_tx(struct channel *c);
bool output_pending(const struct channel *c);

/* xmit-rx.c */
int xmit_rx(struct channel *c);

/* xmit-keepalive.c */
struct slot *probe_slot(struct channel *c);
void probe_end(struct channel *c);
int probe_answered(struct channel *c, uint32_t nbd_err);
void keepalive_start(struct channel *c);
int keepalive_tick(struct channel *c);
void keepalive_suspect(struct channel *c);

/* xmit-window.c */
void win_round_start(struct channel *c);
void win_fetched(struct channel *c, struct slot *s);
void win_reset(struct channel *c);
void win_sample(struct channel *c, const struct slot *s);

#endif
