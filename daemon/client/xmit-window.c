// SPDX-License-Identifier: GPL-2.0
/*
 * The adaptive in-flight window of a channel (xmit.c).  Several channels of
 * a device pull requests from one queue; a channel that takes more than its
 * link can carry at once only makes them wait in its socket while a faster
 * channel idles.  With the queue deeper than all slots together that is
 * harmless (the fast channel still finds requests), but with fewer requests
 * outstanding a slow channel hoards them and the whole device runs at its
 * pace.  So a channel fetches only while its requests in flight are below
 * c->window: the smallest window that still buys throughput.
 *
 * Each round (WIN_ROUND_MS and WIN_ROUND_MIN completions at least) yields
 * two figures.  The throughput: work completed per time (sizes: below).
 * And, after TCP Vegas, the requests only queueing: with n in flight and a
 * mean latency of `ratio` times the unloaded one, about n * (1 - 1 / ratio)
 * (Little's law).  Vegas alone would do on a saturated link, where latency
 * grows in proportion to the requests in flight and the throughput stays
 * flat.  But latency also grows where more in flight does pay: a busy
 * server (or client) handles requests in batches, and on a loaded machine
 * the unloaded latency is mostly wakeups and scheduling.  There most
 * requests look queued, and Vegas cut a lone channel's window to 4 or 5,
 * costing it a third to two thirds of its throughput (measured in the test
 * VM).  So the throughput comes first:
 *
 *   - the window grew and the throughput rose by WIN_GAIN: grow again;
 *   - the window shrank and the throughput fell by WIN_GAIN: back to the
 *     window before, and grow from there;
 *   - otherwise nothing is at stake, and the queue decides: halve the
 *     window while more than WIN_BETA requests queue, double it while
 *     fewer than WIN_ALPHA do.
 *
 * On a saturated link the window thus shrinks to a few requests however
 * its latency is made up; a server that is slow for its own reasons but
 * serves requests in parallel keeps its latency and grows to all its slots
 * (nslots: what its buffer budget holds);
 * and a channel that gains from every step grows to all of them too, each
 * step down there being undone by the throughput it costs.  A round in
 * which the window was never filled says nothing about it: it changes
 * nothing, and the next round is compared with none.  An idle spell is no
 * measure of throughput either: the first fetch after one starts a round.
 *
 * Sizes: requests of 4 KiB and of 512 KiB are not the same work, and a
 * request's cost is a fixed part plus its bytes over the link's rate,
 * either of which can dominate (4 KiB on a WAN, 512 KiB on a slow link), so
 * neither a count nor bytes nor any one size term fits every link.  So a
 * completion counts as the work its class takes unloaded: the least latency
 * seen for READ or WRITE (their payloads cross the link in opposite
 * directions) of its size, rounded up to a power of two from 4 KiB.  Within
 * a class sizes differ by less than 2x, and a change in the mix of sizes
 * does not read as a change in throughput.  Commands without payload
 * (FLUSH, TRIM, ...) take as long as the server's work on them, unrelated
 * to the link or their length, and are not timed.
 *
 * A lone channel (the device has one) keeps all its slots: it has no one
 * to leave requests to, and where throughput grows slower than the window
 * the climb settles below them and gives some of it up (in a trial in
 * the test VM, 4 KiB random reads settled at a window of 4 to 8 with 15 %
 * fewer IOPS than at 64).
 *
 * The unloaded latency is the least seen in its class over the last
 * WIN_BASE_MS to 2 * WIN_BASE_MS, so it follows a server or path that got
 * slower or faster (a round compared with one of another period would
 * compare different units, so a period starts with no comparison).  No
 * window sticks at WIN_MIN: with WIN_MIN in flight fewer than WIN_ALPHA can
 * be queueing, so it grows, and it goes on growing while that pays.
 */
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "nbd-proto.h"
#include "xmit.h"

#define WIN_MIN		2	/* never fewer: one request's reply overlaps the next request */
#define WIN_INIT	8	/* new connection: low enough that a slow link hoards little
				 * before it has learnt, and a few rounds from all slots */
#define WIN_ROUND_MIN	8	/* completions per round at least: one or two are noise */
#define WIN_ROUND_MS	200	/* and time: shorter, scheduling noise dominates (TCG VM) */
#define WIN_GAIN	0.15	/* throughput change that counts for a step of 2x: a slow
				 * link's rounds of a few completions vary by more than
				 * 5 % (reads and writes load its two directions unevenly),
				 * and at 5 % a slow channel's window drifted up to 32 */
#define WIN_ALPHA	2.0	/* requests queueing below which the window grows ... */
#define WIN_BETA	4.0	/* ... and above which it shrinks: a few keep the link busy */
#define WIN_BASE_MS	5000	/* period of the unloaded latency's windowed minimum */
#define WIN_LOG_MS	1000	/* window changes logged at most this often (-v) */

/* A new round of the adaptive window (below). */
void win_round_start(struct channel *c)
{
	c->rnd_n = 0;
	c->rnd_start_us = turn_us(c);
	c->rnd_work = c->rnd_ratio = c->rnd_busy = 0;
	c->rnd_full = false;
}

/* Nothing to compare the next round with: the unloaded latencies changed. */
static void win_restart(struct channel *c)
{
	c->prev_tput = 0;
	c->prev_window = c->window;
	win_round_start(c);
}

static bool win_adaptive(const struct channel *c)
{
	return c->o->channels > 1;
}

/* A new connection may take another path or server: learn it afresh. */
void win_reset(struct channel *c)
{
	c->window = win_adaptive(c) && WIN_INIT < c->nslots ? WIN_INIT : c->nslots;
	memset(c->base_us, 0xff, sizeof(c->base_us));
	c->base_since_us = turn_us(c);
	win_restart(c);
}

/* The latency class of a request; -1 if it is not timed. */
static int win_class(const struct enbd_request *r)
{
	uint32_t len = r->length;
	int k = 0;

	if (r->type != ENBD_CMD_READ && r->type != ENBD_CMD_WRITE)
		return -1;
	while (len > 4096 && k < CHAN_WIN_SIZES - 1) {
		len >>= 1;
		k++;
	}
	return (r->type == ENBD_CMD_WRITE ? CHAN_WIN_SIZES : 0) + k;
}

static void win_set(struct channel *c, unsigned int w, double tput, double queued)
{
	uint64_t now = turn_us(c);

	c->prev_tput = tput;
	c->prev_window = c->window;
	c->window = w;
	if (w != c->win_logged && now - c->win_logged_us >= WIN_LOG_MS * 1000ull) {
		log_debug("window %u (throughput %.3f, ~%.1f requests queueing)", w, tput, queued);
		c->win_logged = w;
		c->win_logged_us = now;
	}
}

/* End of a round: one step (see the top). */
static void win_adapt(struct channel *c, uint64_t now)
{
	double tput = c->rnd_work / (double)(now - c->rnd_start_us);
	double ratio = c->rnd_ratio / c->rnd_n;
	double queued = c->rnd_busy / c->rnd_n * (1 - 1 / ratio);
	unsigned int w = c->window;
	bool grew = w > c->prev_window, shrank = w < c->prev_window;

	if (!c->rnd_full) {
		/* The next full round may be under another load: compare it with none. */
		win_restart(c);
		return;
	}
	/*
	 * Steps of a factor of 2 both ways: where throughput grows slower
	 * than the window (a busy server; the test VM: 12x the window for
	 * 1.35x) a smaller step's gain is lost in the rounds' noise, and a
	 * slow link's rounds are long.
	 */
	if (c->prev_tput && shrank && tput <= c->prev_tput * (1 - WIN_GAIN))
		w = c->prev_window;
	else if ((c->prev_tput && grew && tput >= c->prev_tput * (1 + WIN_GAIN)) ||
		 queued < WIN_ALPHA)
		w *= 2;
	else if (queued > WIN_BETA)
		w -= w / 2;
	if (w > c->nslots)
		w = c->nslots;
	if (w < WIN_MIN)
		w = WIN_MIN;
	win_set(c, w, tput, queued);
	win_round_start(c);
}

/*
 * Request @s was fetched: time it.  Only a window that adapts reads the
 * clock (turn_us: once per turn of the loop at most).
 */
void win_fetched(struct channel *c, struct slot *s)
{
	if (!win_adaptive(c))
		return;
	s->start_us = turn_us(c);
	if (c->busy == 0)
		win_round_start(c);	/* an idle spell is no measure of throughput */
}

/* Request @s completed: take its latency into the window. */
void win_sample(struct channel *c, const struct slot *s)
{
	int k = win_class(&s->req);
	uint64_t now, lat;
	uint32_t *b, base;
	int i;

	if (k < 0 || s->error || !win_adaptive(c))
		return;
	now = turn_us(c);
	lat = now - s->start_us;
	if (now - c->base_since_us >= WIN_BASE_MS * 1000ull) {
		for (i = 0; i < CHAN_WIN_CLASSES; i++) {
			c->base_us[i][1] = c->base_us[i][0];
			c->base_us[i][0] = UINT32_MAX;
		}
		c->base_since_us = now;
		win_restart(c);
	}
	if (lat == 0)
		lat = 1;
	if (lat > UINT32_MAX)
		lat = UINT32_MAX;
	b = c->base_us[k];
	if (lat < b[0])
		b[0] = (uint32_t)lat;
	base = b[0] < b[1] ? b[0] : b[1];
	c->rnd_work += base;
	c->rnd_ratio += (double)lat / base;
	c->rnd_busy += c->busy;
	if (++c->rnd_n >= WIN_ROUND_MIN && now - c->rnd_start_us >= WIN_ROUND_MS * 1000ull)
		win_adapt(c, now);
}
