/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One channel: one NBD connection carrying the requests of one enbd device.
 *
 * The channel's life is a single state table (channel.c):
 *
 *   CONNECT --> NEGOTIATE --> SETUP --> READY --(signal)--> DRAIN --> DISCONNECT --> EXIT
 *      ^                                  |                                  |
 *      |                    (broken link, | malformed reply,                 | (SIGHUP,
 *      |                        stalled,  | keep-alive unanswered)           |  server
 *      |                                  v                                  |  shutdown)
 *      +------------ BACKOFF <-------- DEAD <--------------------------------+
 *
 * CONNECT    TCP connect (bounded), TCP_NODELAY, non-blocking and polled
 *            with the signalfd, so that SIGTERM stops the daemon at once.
 * NEGOTIATE  the NBD handshake (handshake.c) within one deadline
 *            (--handshake-timeout), SIGTERM stopping it; with --tls,
 *            NBD_OPT_STARTTLS and the TLS handshake come first in it (after
 *            the greeting, under the same deadline), and from then on the
 *            connection's bytes go through c->tls; check that the export is
 *            the one the device was configured with.
 * SETUP      ENBD_IOC_ATTACH (again, after DEAD) and ENBD_IOC_CONFIGURE;
 *            --probe prints the export here instead.
 * READY      transmission (xmit.c): poll() on the control file, the socket
 *            and the signalfd; many requests in flight.  Keep-alive: after
 *            `keepalive` seconds (module option) without a byte from the
 *            server, one probe; if the server stays silent another
 *            `keepalive` seconds, DEAD.  A hung server is thus given up
 *            within 2 x keepalive of its last answer.
 * DRAIN      no more fetching; wait (bounded) for the replies in flight.
 * DISCONNECT NBD_CMD_DISC, close, ENBD_IOC_DETACH.
 * DEAD       close the socket, ENBD_IOC_DETACH: the kernel requeues what we
 *            had claimed.  Before the device was ever served: exit 1.
 * BACKOFF    wait 100 ms, doubling up to 5 s, then CONNECT again.
 *
 * Single-threaded; no handler ever blocks on the socket in transmission.
 */
#ifndef ENBD_CLIENT_CHANNEL_H
#define ENBD_CLIENT_CHANNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "dev.h"
#include "handshake.h"
#include "nbd-proto.h"

#define CHAN_SLOTS		64	/* NBD requests in flight per connection, at most */
/* Default of --buffer-budget: the slot buffers preallocated per channel (32 slots). */
#define CHAN_BUFFER_BUDGET_MIB	16
#define CHAN_BUFFER_BUDGET_MAX	(CHAN_SLOTS * (ENBD_MAX_IO_BYTES >> 10) >> 10)
#define CHAN_CONNECT_MS		10000
#define CHAN_HANDSHAKE_MS	10000	/* default of --handshake-timeout */
#define CHAN_DRAIN_MS		10000
#define CHAN_DISC_MS		2000
#define CHAN_BACKOFF_MIN_MS	100
#define CHAN_BACKOFF_MAX_MS	5000
#define CHAN_RXBUF		(256u << 10)
#define CHAN_PROBE		CHAN_SLOTS	/* slot (and cookie) of the keep-alive probe */
#define CHAN_PROBE_MAX		4096		/* largest block size, so the probe's length */
#define CHAN_KA_REREAD_MS	1000		/* how often the keepalive option is read */
#define CHAN_SUSPECT_PROBE_MS	500		/* deadline of a probe the kernel asked for */
/* Latency classes of the adaptive window (xmit-window.c): READ and WRITE by size. */
#define CHAN_WIN_SIZES		8		/* 4 KiB, 8 KiB, ... ENBD_MAX_IO_BYTES (512 KiB) */
#define CHAN_WIN_CLASSES	(2 * CHAN_WIN_SIZES)

struct channel_opts {
	const char *host;
	const char *port;
	const char *export;
	const char *bind;	/* local address or interface name, or NULL */
	uint64_t token;
	int slot;		/* channel slot to take (--slot), -1: any */
	unsigned int channels;	/* channels of the device this one is part of */
	bool force_multi_conn;	/* several channels without NBD_FLAG_CAN_MULTI_CONN */
	bool probe;		/* handshake only, print, disconnect */
	int handshake_ms;	/* deadline of the whole NBD handshake */
	bool lock_memory;	/* PR_SET_IO_FLUSHER, mlockall: a daemon of a real device */
	unsigned int buffer_budget_mib;	/* slot buffers (--buffer-budget); 0: the default */
	enum tls_mode tls_mode;		/* --tls */
	struct tls_ctx *tls_ctx;	/* its credentials; NULL with TLS_OFF */
	const char *tls_hostname;	/* the name the server's certificate must carry */
	const char *devname;	/* for messages */
	struct chan_dev *dev;	/* NULL with probe */
	int sigfd;		/* signalfd: SIGTERM, SIGINT, SIGHUP */
};

enum chan_state {
	CS_CONNECT,
	CS_NEGOTIATE,
	CS_SETUP,
	CS_READY,
	CS_DRAIN,
	CS_DISCONNECT,
	CS_DEAD,
	CS_BACKOFF,
	CS_EXIT,
	CS__COUNT
};

/* What to do once the connection has been wound down. */
enum chan_after {
	AFTER_EXIT,		/* signal or ejection: leave */
	AFTER_RECONNECT,	/* SIGHUP, server shutdown: connect again */
};

enum slot_state {
	SLOT_FREE,
	SLOT_BUSY,		/* holds a request claimed from the kernel */
	SLOT_HELD,		/* claimed, but left for the kernel to requeue */
};

/*
 * A request claimed from the kernel, carried as one NBD request or, when
 * the server's maximum payload is smaller than the request, as several
 * ("parts").  NBD cookie = generation << 32 | part << 16 | slot index.
 */
struct slot {
	enum slot_state state;
	uint32_t gen;
	struct enbd_request req;
	uint8_t *buf;		/* ENBD_MAX_IO_BYTES, from xmit_init; NULL beyond nslots */
	uint16_t nparts;
	uint16_t parts_sent;	/* parts completely written to the socket */
	uint16_t parts_done;	/* parts answered */
	bool queued;		/* on the send queue */
	uint64_t start_us;	/* fetched (CLOCK_MONOTONIC) */
	int error;		/* first error of a part, negative errno */
	uint64_t answered[ENBD_MAX_IO_BYTES / 512 / 64];	/* part bitmap */
	int next_free;
};

struct channel_stats {
	uint64_t requests, replies, errors, bytes_read, bytes_written;
	uint64_t connects, reconnects, keepalives;
	unsigned int max_in_flight;
};

struct channel {
	const struct channel_opts *o;
	struct chan_dev *dev;
	int exit_code;
	enum chan_after after;
	bool served;		/* the device was configured and served */
	bool attached;
	uint32_t channel;	/* the slot we got at the last attach */
	bool ejected;
	bool stop;		/* quit requested (SIGTERM/SIGINT) */
	bool fatal;		/* cannot go on: exit after DEAD */
	bool draining;		/* DRAIN: fetch nothing more */
	int want;		/* a result xmit_run should return (enum xmit_result + 1) */
	int backoff_ms;
	bool conn_up;		/* this connection reached READY */
	struct timespec connect_start;	/* CONNECT of this connection began */
	struct timespec ready_since;

	/* the current connection */
	int sock;
	struct tls_conn *tls;		/* NULL: plaintext */
	struct nbd_export ex;
	struct nbd_export first;	/* what the device was configured from */
	uint32_t dev_block_size;	/* block size of a device configured before us, or 0 */
	struct enbd_config cfg;
	uint32_t part_size;		/* largest payload of one NBD request */
	uint16_t nbd_flags_ok;		/* command flags the server accepts */

	/* transmission (xmit*.c) */
	struct slot slots[CHAN_SLOTS + 1];	/* + the probe, never on the free list */
	unsigned int nslots;		/* slots in use: what the buffer budget holds */
	int free_head;
	unsigned int busy;		/* slots not FREE, the probe not counted */
	unsigned int held;		/* slots HELD */
	unsigned int sendq[CHAN_SLOTS + 1];
	unsigned int doneq[CHAN_SLOTS];	/* finished, to complete with the next pump */
	unsigned int ndone;
	unsigned int sq_head, sq_len;
	uint32_t send_off;		/* bytes of the head part already sent */
	uint32_t tx_committed;		/* bytes after send_off handed to a TLS write
					 * that is not finished: they go out */
	bool tx_wants_in;		/* that TLS write waits for the socket's POLLIN */
	bool rx_wants_out;		/* a TLS read waits for the socket's POLLOUT */
	uint8_t disc[sizeof(struct nbd_request)];
	uint32_t disc_len, disc_off;
	uint8_t *rxbuf;
	uint32_t rx_pos, rx_end;
	/* reply being received: header done, payload pending */
	struct slot *rx_slot;
	uint32_t rx_part;
	uint8_t *rx_dst;
	uint32_t rx_left;
	uint64_t conn_replies;
	/* keep-alive */
	unsigned int ka_ms;		/* 0: off */
	struct timespec ka_read;	/* when ka_ms was last read */
	struct timespec heard;		/* last bytes from the server */
	struct timespec probe_at;	/* the outstanding probe was queued */
	bool probe_urgent;		/* the kernel suspects the channel: the
					 * probe has CHAN_SUSPECT_PROBE_MS */
	uint64_t turn_us;		/* this turn of the loop woke (turn_us()); 0: not read */
	/* adaptive in-flight window (xmit-window.c) */
	unsigned int window;		/* fetch only while busy is below this */
	uint32_t base_us[CHAN_WIN_CLASSES][2];	/* least latency: this period, the last */
	uint64_t base_since_us;		/* this period began */
	unsigned int rnd_n;		/* samples taken this round */
	uint64_t rnd_start_us;		/* this round began */
	double rnd_work;		/* the samples' unloaded latencies, summed */
	double rnd_ratio, rnd_busy;	/* sums of latency / unloaded, of requests in flight */
	bool rnd_full;			/* the window was filled during the round */
	double prev_tput;		/* the last round's throughput; 0: none to compare */
	unsigned int prev_window;	/* the window it had */
	unsigned int win_logged;	/* last window logged */
	uint64_t win_logged_us;

	struct channel_stats st;
};

/* Exit status when the kernel ejected the channel (device shut down). */
#define CHAN_EXIT_EJECTED	3

/*
 * The TLS of o->tls_mode from @cfg: checks that credentials come with
 * TLS on or require and not without, and makes o->tls_ctx.  0, or -1 with
 * @why: 2 a usage error, 1 the credentials cannot be loaded (in @status).
 */
int channel_tls_setup(struct channel_opts *o, const struct tls_config *cfg, int *status,
		      char *why, size_t why_len);

/* Run a channel to the end.  Returns the process exit code. */
int channel_run(const struct channel_opts *o);

/* xmit.c: transmission on the current connection. */
enum xmit_result {
	XMIT_BROKEN,		/* connection lost or malformed: go DEAD */
	XMIT_STOP,		/* SIGTERM/SIGINT: drain and exit */
	XMIT_RECONNECT,		/* SIGHUP or server shutdown: drain and reconnect */
	XMIT_EJECTED,		/* the kernel ejected us: exit now */
	XMIT_DRAINED,		/* DRAIN: nothing in flight any more */
	XMIT_TIMEOUT,		/* DRAIN: deadline passed (or second signal) */
	XMIT_FATAL,		/* out of memory or a kernel interface error */
};
int xmit_init(struct channel *c);
void xmit_free(struct channel *c);
void xmit_reset(struct channel *c);
enum xmit_result xmit_run(struct channel *c, bool drain, int timeout_ms);
void xmit_abandon_unsent(struct channel *c);
int xmit_disconnect(struct channel *c, int timeout_ms);
void xmit_close(struct channel *c);
unsigned int xmit_in_flight(const struct channel *c);
const char *xmit_result_name(enum xmit_result r);

long chan_ms_since(const struct timespec *t);
long chan_us_since(const struct timespec *t);

#endif
