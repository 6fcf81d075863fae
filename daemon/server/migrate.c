// SPDX-License-Identifier: GPL-2.0
/*
 * Migration state shared by the request path and the mirror: the write
 * gate, the dirty-block bitmap, the counters "status" shows, and how a
 * --listen destination notices that the migration it receives is complete.
 * See migrate.h for who calls what.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "migrate.h"
#include "nbd-proto.h"

/*
 * @gate_lock protects @state, changes of @paused and @gone (writers read
 * them without it: see migrate_request_begin), and the progress fields.  The bitmap is allocated once and kept until exit, so a
 * writer that saw @tracking may mark it however late; its words change
 * only with atomic operations.
 */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_changed = PTHREAD_COND_INITIALIZER;
static int state = MIGRATE_IDLE;
static _Atomic bool paused, gone;	/* read without the lock by every request */
static _Atomic unsigned int writes_in_flight;
static uint64_t total, copied, rate, pause_ms;
static unsigned int passes;
static char error[160];

static _Atomic bool tracking;
static _Atomic uint64_t *bitmap;
static uint64_t bitmap_words;
static _Atomic uint64_t dirty_blocks;
static _Atomic uint64_t bytes_read, bytes_written;

/* --listen */
static bool listen_exit_after;
static _Atomic bool sender_flushed;	/* last request: a FLUSH that succeeded */
static int event_fd = -1;

static bool is_write(uint16_t type)
{
	return type == NBD_CMD_WRITE || type == NBD_CMD_TRIM || type == NBD_CMD_WRITE_ZEROES;
}

const char *migrate_state_name(int s)
{
	static const char *const names[] = {
		[MIGRATE_IDLE] = "idle", [MIGRATE_LISTENING] = "listening",
		[MIGRATE_RECEIVING] = "receiving", [MIGRATE_MIRRORING] = "mirroring",
		[MIGRATE_SWITCHING] = "switching", [MIGRATE_DONE] = "done",
		[MIGRATE_FAILED] = "failed", [MIGRATE_BROKEN] = "broken",
	};

	return s >= 0 && s <= MIGRATE_BROKEN ? names[s] : "unknown";
}

void migrate_get_status(struct migrate_status *st)
{
	pthread_mutex_lock(&gate_lock);
	st->state = state;
	st->total = total;
	st->copied = copied;
	st->passes = passes;
	st->rate = rate;
	st->pause_ms = pause_ms;
	snprintf(st->error, sizeof(st->error), "%s", error);
	pthread_mutex_unlock(&gate_lock);
	st->dirty = dirty_blocks * MIGRATE_BLOCK;
	st->bytes_read = bytes_read;
	st->bytes_written = bytes_written;
}

/* ---- the request path ---- */

/* A write leaves the gate; the last one out wakes a mirror waiting to switch. */
static void leave_gate(void)
{
	if (atomic_fetch_sub(&writes_in_flight, 1) == 1 && paused) {
		pthread_mutex_lock(&gate_lock);
		pthread_cond_broadcast(&gate_changed);
		pthread_mutex_unlock(&gate_lock);
	}
}

/*
 * No lock on the way in unless the gate is closed: a writer counts itself
 * in, then looks at @paused; the mirror sets @paused, then looks at the
 * count.  Both sequentially consistent, so either the mirror waits for
 * this write or the writer sees the gate closed and backs out.
 */
bool migrate_request_begin(uint16_t type)
{
	if (!is_write(type))
		return !gone;
	for (;;) {
		atomic_fetch_add(&writes_in_flight, 1);
		if (!paused)
			break;
		leave_gate();
		backend_wait_begin();	/* another thread reads on meanwhile */
		pthread_mutex_lock(&gate_lock);
		while (paused)
			pthread_cond_wait(&gate_changed, &gate_lock);
		pthread_mutex_unlock(&gate_lock);
		backend_wait_end();
	}
	if (gone) {
		leave_gate();
		return false;
	}
	return true;
}

static void mark_dirty(uint64_t offset, uint64_t length)
{
	uint64_t first = offset >> MIGRATE_BLOCK_SHIFT;
	uint64_t last = (offset + length - 1) >> MIGRATE_BLOCK_SHIFT, b;

	for (b = first; b <= last && b / 64 < bitmap_words; ) {
		unsigned int bit = b % 64;
		uint64_t n = last - b + 1 < 64 - bit ? last - b + 1 : 64 - bit;
		uint64_t mask = (n == 64 ? ~0ull : ((1ull << n) - 1)) << bit;
		uint64_t old = atomic_fetch_or(&bitmap[b / 64], mask);

		dirty_blocks += (uint64_t)__builtin_popcountll(mask & ~old);
		b += n;
	}
}

void migrate_request_end(uint16_t type, uint64_t offset, uint64_t length, int rc)
{
	if (type == NBD_CMD_READ) {
		if (rc == 0)
			bytes_read += length;
		sender_flushed = false;
		return;
	}
	if (type == NBD_CMD_FLUSH) {
		sender_flushed = rc == 0;
		return;
	}
	if (!is_write(type))
		return;
	sender_flushed = false;
	if (rc == 0 && type == NBD_CMD_WRITE)
		bytes_written += length;
	/* Failed writes too: they may have changed part of the range. */
	if (tracking && length)
		mark_dirty(offset, length);
	leave_gate();
}

/* ---- the connection table ---- */

const char *migrate_refuses_client(unsigned int nclients)
{
	const char *why = NULL;

	pthread_mutex_lock(&gate_lock);
	if (gone)
		why = "the export has migrated away";
	else if ((state == MIGRATE_LISTENING || state == MIGRATE_RECEIVING) && nclients > 0)
		why = "receiving a migration";
	else if (state == MIGRATE_LISTENING)
		state = MIGRATE_RECEIVING;
	pthread_mutex_unlock(&gate_lock);
	return why;
}

void migrate_conn_ended(const struct conn *c)
{
	bool complete;

	pthread_mutex_lock(&gate_lock);
	if (state != MIGRATE_RECEIVING) {
		pthread_mutex_unlock(&gate_lock);
		return;
	}
	complete = c->end == CONN_DISC && sender_flushed;
	state = complete ? MIGRATE_DONE : MIGRATE_LISTENING;
	pthread_mutex_unlock(&gate_lock);
	sender_flushed = false;
	if (!complete) {
		log_warn("%s: the sender left before the migration was complete: waiting "
			 "for it to start again", c->peer);
		return;
	}
	log_info("%s: inbound migration complete%s", c->peer,
		 listen_exit_after ? ": exiting" : ": serving");
	if (listen_exit_after)
		migrate_signal_exit();
}

/* ---- the accepting loop ---- */

static int ensure_event_fd(void)
{
	if (event_fd < 0)
		event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return event_fd;
}

void migrate_listen(bool exit_after)
{
	listen_exit_after = exit_after;
	state = MIGRATE_LISTENING;
}

int migrate_event_fd(void)
{
	return ensure_event_fd();
}

void migrate_signal_exit(void)
{
	uint64_t one = 1;

	if (ensure_event_fd() >= 0 && write(event_fd, &one, sizeof(one)) < 0)
		log_warn("eventfd: %s", strerror(errno));
}

void migrate_cleanup(void)
{
	free(bitmap);
	bitmap = NULL;
	if (event_fd >= 0)
		close(event_fd);
	event_fd = -1;
}

/* ---- the mirror ---- */

int migrate_track_start(uint64_t size)
{
	uint64_t words = ((size + MIGRATE_BLOCK - 1) / MIGRATE_BLOCK + 63) / 64, i;

	if (!bitmap) {
		bitmap = calloc(words ? words : 1, sizeof(*bitmap));
		if (!bitmap)
			return -1;
		bitmap_words = words;
	}
	for (i = 0; i < bitmap_words; i++)
		bitmap[i] = 0;
	dirty_blocks = 0;
	pthread_mutex_lock(&gate_lock);
	total = size;
	copied = passes = 0;
	rate = pause_ms = 0;
	error[0] = 0;
	state = MIGRATE_MIRRORING;
	pthread_mutex_unlock(&gate_lock);
	tracking = true;
	return 0;
}

uint64_t migrate_dirty_words(void)
{
	return bitmap_words;
}

uint64_t migrate_take_dirty_word(uint64_t i)
{
	uint64_t w = atomic_exchange(&bitmap[i], 0);

	dirty_blocks -= (uint64_t)__builtin_popcountll(w);
	return w;
}

void migrate_set_state(int s)
{
	pthread_mutex_lock(&gate_lock);
	state = s;
	pthread_mutex_unlock(&gate_lock);
}

void migrate_progress(uint64_t bytes, unsigned int pass, uint64_t bytes_per_s)
{
	pthread_mutex_lock(&gate_lock);
	copied = bytes;
	passes = pass;
	rate = bytes_per_s;
	pthread_mutex_unlock(&gate_lock);
}

void migrate_fail(int s, const char *why)
{
	char *p;

	tracking = false;
	pthread_mutex_lock(&gate_lock);
	state = s;
	snprintf(error, sizeof(error), "%s", why);
	/* "status" quotes it, as a string of JSON too; it may hold a host name
	 * as the operator typed it */
	for (p = error; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '?';
	pthread_mutex_unlock(&gate_lock);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t paused_at;

void migrate_pause_writes(void)
{
	pthread_mutex_lock(&gate_lock);
	paused = true;
	paused_at = now_ms();
	state = MIGRATE_SWITCHING;
	while (writes_in_flight)
		pthread_cond_wait(&gate_changed, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

void migrate_resume_writes(bool moved)
{
	pthread_mutex_lock(&gate_lock);
	pause_ms = (uint64_t)(now_ms() - paused_at);
	gone = moved;
	paused = false;
	if (moved)
		state = MIGRATE_DONE;
	pthread_cond_broadcast(&gate_changed);
	pthread_mutex_unlock(&gate_lock);
	if (moved)
		tracking = false;
}
