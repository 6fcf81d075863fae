/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where the server stands in a live migration, shared by the request path
 * (command.c), the connection table (clients.c), the mirror (mirror.c), the
 * control socket (control.c) and the accepting loop (main.c).
 *
 * Source side: while a mirror runs, every write-type request (WRITE, TRIM,
 * WRITE_ZEROES) passes a gate on its way in and marks the blocks it touched
 * dirty on its way out, after the backend has them, so that a block the
 * mirror copied before the write lands is copied again.  For the switch the
 * mirror closes the gate (new writes wait), waits for the writes in flight,
 * copies the last dirty blocks, and then either reopens it (failure: they go
 * on as if nothing happened) or marks the export gone: from then on every
 * request is answered NBD_ESHUTDOWN.
 *
 * Destination side (--listen): one connection at a time is the sender; it
 * completes the migration by ending with NBD_CMD_FLUSH answered and then
 * NBD_CMD_DISC (see README.md, Migration).
 */
#ifndef ENBD_SERVER_MIGRATE_H
#define ENBD_SERVER_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

struct conn;

/* Dirty-tracking granularity. */
#define MIGRATE_BLOCK_SHIFT	12
#define MIGRATE_BLOCK		(1u << MIGRATE_BLOCK_SHIFT)

enum migrate_state {
	MIGRATE_IDLE,		/* serving, no migration */
	MIGRATE_LISTENING,	/* --listen: waiting for a sender */
	MIGRATE_RECEIVING,	/* --listen: a sender is connected */
	MIGRATE_MIRRORING,	/* copying to a destination, clients still write */
	MIGRATE_SWITCHING,	/* writes paused, the last blocks going out */
	MIGRATE_DONE,		/* the export lives elsewhere now (or was received) */
	MIGRATE_FAILED,		/* the last mirror failed; serving as before */
	MIGRATE_BROKEN,		/* the last mirror was stopped by "break" */
};

const char *migrate_state_name(int state);

/* Progress and counters, for "status". */
struct migrate_status {
	int state;
	uint64_t bytes_read, bytes_written;	/* served to clients */
	uint64_t total, copied;			/* mirror: export size, bytes sent */
	uint64_t dirty;				/* bytes marked dirty, not yet copied */
	unsigned int passes;
	uint64_t rate;				/* bytes/s since the mirror started */
	uint64_t pause_ms;			/* writes held at the last switch */
	char error[160];			/* why the last mirror failed */
};
void migrate_get_status(struct migrate_status *st);

/* ---- command.c ---- */
/* Before carrying @type out: false when it must be answered NBD_ESHUTDOWN
 * (the export has moved).  A write-type request may wait here while the
 * mirror switches over. */
bool migrate_request_begin(uint16_t type);
/* After: count the bytes, mark written blocks dirty, note a flush. */
void migrate_request_end(uint16_t type, uint64_t offset, uint64_t length, int rc);

/* ---- clients.c ---- */
/* Why a new connection must be refused (@nclients already in), or NULL. */
const char *migrate_refuses_client(unsigned int nclients);
/* A connection ended; on a --listen destination this may complete the
 * inbound migration. */
void migrate_conn_ended(const struct conn *c);

/* ---- main.c ---- */
/* --listen: wait for an inbound migration before serving. */
void migrate_listen(bool exit_after);
/* Readable when the accepting loop must end: the export was migrated away,
 * or received with --exit-after-migration.  -1 if it cannot be made. */
int migrate_event_fd(void);
void migrate_cleanup(void);

/* ---- mirror.c ---- */
/* Start tracking writes to an export of @size bytes; -1 when out of memory. */
int migrate_track_start(uint64_t size);
/* Take the dirty bits of word @i (64 blocks) and clear them. */
uint64_t migrate_take_dirty_word(uint64_t i);
uint64_t migrate_dirty_words(void);
void migrate_set_state(int state);
void migrate_progress(uint64_t copied, unsigned int passes, uint64_t rate);
void migrate_fail(int state, const char *why);
/* Close the write gate and wait for the writes in flight (ms waited). */
void migrate_pause_writes(void);
/* Reopen it: @gone, answer everything NBD_ESHUTDOWN from now on. */
void migrate_resume_writes(bool gone);
/* Tell the accepting loop to end. */
void migrate_signal_exit(void);

#endif
