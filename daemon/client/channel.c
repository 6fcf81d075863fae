// SPDX-License-Identifier: GPL-2.0
/* The channel's state table; see channel.h for the picture. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "devconfig.h"
#include "log.h"
#include "sock.h"

typedef enum chan_state (*state_fn)(struct channel *c);

/* Stop with exit status 1 before the device was ever served. */
static enum chan_state give_up(struct channel *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static enum chan_state give_up(struct channel *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_err("%s", line);
	c->exit_code = 1;
	c->fatal = true;
	return CS_DEAD;
}

/* A failure to (re)establish the connection: fatal only the first time. */
static enum chan_state conn_failed(struct channel *c, const char *why)
{
	if (!c->served)
		return give_up(c, "%s", why);
	log_warn("%s", why);
	return CS_DEAD;
}

/* A signal while we are not in the transmission loop. */
static bool stop_requested(struct channel *c, bool *hup)
{
	struct signalfd_siginfo si;

	while (read(c->o->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (hup)
				*hup = true;
			continue;
		}
		log_info("%s: exiting", strsignal(si.ssi_signo));
		c->stop = true;
	}
	return c->stop;
}

static enum chan_state st_connect(struct channel *c)
{
	char why[256];

	if (stop_requested(c, NULL))
		return CS_EXIT;
	log_debug("connecting to %s port %s", c->o->host, c->o->port);
	clock_gettime(CLOCK_MONOTONIC, &c->connect_start);
	/* The connect watches the signalfd: SIGTERM during it stops the daemon at once. */
	c->sock = sock_connect(c->o->host, c->o->port, c->o->bind, CHAN_CONNECT_MS, c->o->sigfd,
			       why, sizeof(why));
	if (c->sock < 0 && errno == ECANCELED) {
		bool hup = false;

		if (stop_requested(c, &hup))
			return CS_EXIT;
		if (hup)
			log_info("SIGHUP during the connect: connecting again");
		return CS_CONNECT;
	}
	if (c->sock < 0)
		return conn_failed(c, why);
	c->st.connects++;
	return CS_NEGOTIATE;
}

/* The ENBD_CFG_* flags of an export. */
static uint32_t export_cfg_flags(const struct nbd_export *ex)
{
	static const struct { uint16_t tflag; uint32_t cfg; } map[] = {
		{ NBD_FLAG_READ_ONLY, ENBD_CFG_READ_ONLY },
		{ NBD_FLAG_SEND_FLUSH, ENBD_CFG_FLUSH },
		{ NBD_FLAG_SEND_FUA, ENBD_CFG_FUA },
		{ NBD_FLAG_SEND_TRIM, ENBD_CFG_TRIM },
		{ NBD_FLAG_SEND_WRITE_ZEROES, ENBD_CFG_WRITE_ZEROES },
	};
	uint32_t flags = 0;
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (ex->tflags & map[i].tflag)
			flags |= map[i].cfg;
	return flags;
}

/*
 * Can the export of this connection serve the device as configured (@dev:
 * by this channel before a reconnect, or, read back from sysfs, by a
 * predecessor or another channel)?
 */
static int export_compatible(struct channel *c, const struct enbd_config *dev, char *why,
			     size_t len)
{
	const struct nbd_export *b = &c->ex;
	uint32_t bs = dev->block_size, now = export_cfg_flags(b);
	uint32_t lost = dev->flags & ~now &
			(ENBD_CFG_FLUSH | ENBD_CFG_FUA | ENBD_CFG_TRIM | ENBD_CFG_WRITE_ZEROES);

	if (dev->bytes / bs != b->size / bs) {
		snprintf(why, len, "export size changed from %" PRIu64 " to %" PRIu64 " bytes",
			 (uint64_t)dev->bytes, b->size);
		return 0;
	}
	if (b->min_block > bs) {
		snprintf(why, len, "export minimum block size grew to %u (device uses %u)",
			 b->min_block, bs);
		return 0;
	}
	if ((now & ENBD_CFG_READ_ONLY) && !(dev->flags & ENBD_CFG_READ_ONLY)) {
		snprintf(why, len, "export became read-only");
		return 0;
	}
	if (lost) {
		snprintf(why, len, "export no longer supports:%s%s%s%s",
			 lost & ENBD_CFG_FLUSH ? " flush" : "", lost & ENBD_CFG_FUA ? " fua" : "",
			 lost & ENBD_CFG_TRIM ? " trim" : "",
			 lost & ENBD_CFG_WRITE_ZEROES ? " write-zeroes" : "");
		return 0;
	}
	return 1;
}

/*
 * The configuration the device already has, when this channel did not set
 * it: 1 (in @cfg), 0 none (not configured, or a probe), -1 with @why.
 */
static int configured_elsewhere(struct channel *c, struct enbd_config *cfg, char *why,
				size_t len)
{
	if (c->served || !c->dev)
		return 0;
	return devconfig_read(c->o->devname, cfg, why, len);
}

static void export_describe(const struct nbd_export *ex, char *buf, size_t len)
{
	char flags[256];

	nbd_tflags_str(ex->tflags, flags, sizeof(flags));
	if (ex->min_block)
		snprintf(buf, len, "size %" PRIu64 ", flags 0x%x (%s), block size %u/%u/%u, via %s",
			 ex->size, ex->tflags, flags, ex->min_block, ex->pref_block,
			 ex->max_payload, ex->via_go ? "NBD_OPT_GO" : "NBD_OPT_EXPORT_NAME");
	else
		snprintf(buf, len, "size %" PRIu64 ", flags 0x%x (%s), no block size constraints, via %s",
			 ex->size, ex->tflags, flags,
			 ex->via_go ? "NBD_OPT_GO" : "NBD_OPT_EXPORT_NAME");
}

/* Send NBD_CMD_DISC on a connection in transmission and close it. */
static void close_politely(struct channel *c)
{
	sock_set_nonblocking(c->sock, 1);
	xmit_disconnect(c, CHAN_DISC_MS);
}

/*
 * Several connections to one export are safe only if the server says so:
 * without NBD_FLAG_CAN_MULTI_CONN a flush or FUA write acknowledged on one
 * connection need not cover writes completed on the others, so what the
 * filesystem was told is on stable storage may not be.
 */
static int multi_conn_allowed(struct channel *c, char *why, size_t len)
{
	if (c->o->channels < 2 || (c->ex.tflags & NBD_FLAG_CAN_MULTI_CONN))
		return 1;
	if (!c->o->force_multi_conn) {
		snprintf(why, len, "%s port %s: export '%s' does not advertise NBD_FLAG_CAN_MULTI_CONN, "
			 "so %u channels (connections) are not safe: a flush acknowledged on one need not "
			 "cover writes made through another; use one channel, or --force-multi-conn",
			 c->o->host, c->o->port, c->o->export, c->o->channels);
		return 0;
	}
	if (!c->served || (c->first.tflags & NBD_FLAG_CAN_MULTI_CONN))
		log_warn("%s port %s: export '%s' does not advertise NBD_FLAG_CAN_MULTI_CONN; "
			 "--force-multi-conn: going on with %u channels, but a flush or FUA write "
			 "acknowledged on one connection may not cover writes made through the others",
			 c->o->host, c->o->port, c->o->export, c->o->channels);
	return 1;
}

static enum chan_state st_negotiate(struct channel *c)
{
	char why[512], desc[512];
	struct enbd_config devcfg;
	struct hs_tls tls = { .mode = c->o->tls_mode, .ctx = c->o->tls_ctx,
			      .hostname = c->o->tls_hostname ? c->o->tls_hostname : c->o->host };
	int rc;

	rc = nbd_handshake(c->sock, c->o->export, &c->ex, c->o->sigfd,
			   c->o->handshake_ms > 0 ? c->o->handshake_ms : CHAN_HANDSHAKE_MS,
			   &tls, why, sizeof(why));
	c->tls = tls.conn;
	if (rc == HS_STOPPED) {
		bool hup = false;

		xmit_close(c);
		if (stop_requested(c, &hup))
			return CS_EXIT;
		log_info("SIGHUP during the handshake: connecting again");
		return CS_CONNECT;
	}
	if (rc != HS_OK) {
		char line[700];

		snprintf(line, sizeof(line), "%s port %s: %s", c->o->host, c->o->port, why);
		return conn_failed(c, line);
	}
	/* What a reconnect costs (tools/bench-tls-reconnect reads it). */
	log_debug("connection set up in %.2f ms (TCP, TLS, NBD handshake)",
		  chan_us_since(&c->connect_start) / 1000.0);
	export_describe(&c->ex, desc, sizeof(desc));
	log_info("connected to %s port %s, export '%s': %s", c->o->host, c->o->port,
		 c->o->export, desc);
	rc = configured_elsewhere(c, &devcfg, why, sizeof(why));
	if (rc < 0) {
		close_politely(c);
		return give_up(c, "%s", why);
	}
	c->dev_block_size = rc ? devcfg.block_size : 0;
	if (!multi_conn_allowed(c, why, sizeof(why)) ||
	    ((c->served || rc) && !export_compatible(c, c->served ? &c->cfg : &devcfg, why,
						      sizeof(why)))) {
		close_politely(c);
		if (!c->served && !rc)
			return give_up(c, "%s", why);
		log_err("%s: refusing to serve %s from it", why, c->o->devname);
		c->exit_code = 1;
		c->fatal = true;
		return CS_DEAD;
	}
	if (sock_set_nonblocking(c->sock, 1) < 0) {
		snprintf(why, sizeof(why), "socket setup: %s", strerror(errno));
		return conn_failed(c, why);
	}
	return CS_SETUP;
}

/* The device geometry from the export.  0, or -1 with @why. */
static int make_config(struct channel *c, char *why, size_t len)
{
	const struct nbd_export *ex = &c->ex;
	struct enbd_config *cfg = &c->cfg;
	uint32_t bs = ex->min_block > 512 ? ex->min_block : 512;

	if (c->dev_block_size)
		bs = c->dev_block_size;	/* configured before: keep it */

	if (bs > 4096) {
		snprintf(why, len, "server minimum block size %u is larger than 4096, the most enbd supports",
			 bs);
		return -1;
	}
	if (ex->size < bs) {
		snprintf(why, len, "export is too small (%" PRIu64 " bytes)", ex->size);
		return -1;
	}
	if (ex->size % bs)
		log_warn("export size %" PRIu64 " is not a multiple of %u: the last %" PRIu64
			 " bytes are not used", ex->size, bs, ex->size % bs);
	*cfg = (struct enbd_config){ .size = sizeof(*cfg), .bytes = ex->size, .block_size = bs,
				     .flags = export_cfg_flags(ex) };
	return 0;
}

/* The largest payload of one NBD request on this connection. */
static void set_part_size(struct channel *c)
{
	uint32_t bs = c->cfg.block_size ? c->cfg.block_size : 512;

	c->part_size = ENBD_MAX_IO_BYTES;
	if (c->ex.max_payload && c->ex.max_payload < ENBD_MAX_IO_BYTES) {
		c->part_size = c->ex.max_payload / bs * bs;
		if (c->part_size < bs)
			c->part_size = bs;
		log_info("server takes at most %u bytes per request: larger requests are split",
			 c->ex.max_payload);
	}
}

static void probe_print(const struct channel *c)
{
	const struct nbd_export *ex = &c->ex;
	char flags[256];

	nbd_tflags_str(ex->tflags, flags, sizeof(flags));
	printf("export: '%s'\n", c->o->export);
	printf("size: %" PRIu64 "\n", ex->size);
	printf("flags: 0x%04x %s\n", ex->tflags, flags);
	if (ex->min_block)
		printf("block-size: %u %u %u\n", ex->min_block, ex->pref_block, ex->max_payload);
	else
		printf("block-size: none\n");
	printf("handshake: %s%s%s\n", ex->hflags & NBD_FLAG_FIXED_NEWSTYLE ? "fixed-newstyle" : "newstyle",
	       ex->no_zeroes ? " no-zeroes" : "", ex->via_go ? " go" : " export-name");
	printf("tls: %s\n", c->tls ? tls_describe(c->tls) : "none");
	fflush(stdout);
}

static enum chan_state st_setup(struct channel *c)
{
	char why[256];
	uint32_t channel = 0;
	int rc;

	if (c->o->probe) {
		probe_print(c);
		c->after = AFTER_EXIT;
		return CS_DISCONNECT;
	}
	if (!c->served && make_config(c, why, sizeof(why)) < 0) {
		close_politely(c);
		return give_up(c, "%s port %s: %s", c->o->host, c->o->port, why);
	}
	set_part_size(c);
	if (!c->attached && c->dev->ops->was_shut_down && c->dev->ops->was_shut_down(c->dev)) {
		log_info("%s was shut down while this channel was disconnected: not attaching again",
			 c->o->devname);
		close_politely(c);
		c->exit_code = CHAN_EXIT_EJECTED;
		c->fatal = true;
		return CS_DEAD;
	}
	if (!c->attached) {
		/* Back into our own slot, so the kernel counts a reconnect. */
		rc = c->dev->ops->attach(c->dev, c->o->token,
					 c->o->slot >= 0 ? c->o->slot : (int)c->channel, &channel);
		if (rc == -EBUSY && c->o->slot < 0)
			rc = c->dev->ops->attach(c->dev, c->o->token, -1, &channel);
		if (rc) {
			log_err("cannot attach to %s again: %s", c->o->devname,
				kdev_attach_error(-rc));
			close_politely(c);
			if (rc == -EACCES || rc == -EPERM || rc == -ENOTTY || rc == -ESHUTDOWN) {
				c->exit_code = rc == -ESHUTDOWN ? CHAN_EXIT_EJECTED : 1;
				c->fatal = true;
			}
			return CS_DEAD;
		}
		c->attached = true;
		c->channel = channel;
		log_info("attached to %s again as channel %u", c->o->devname, channel);
	}
	rc = c->dev->ops->configure(c->dev, &c->cfg);
	if (rc == -ESHUTDOWN) {
		log_info("%s was shut down: channel ejected", c->o->devname);
		close_politely(c);
		c->ejected = true;
		c->exit_code = CHAN_EXIT_EJECTED;
		c->fatal = true;
		return CS_DEAD;
	}
	if (rc) {
		close_politely(c);
		if (!c->served)
			return give_up(c, "cannot configure %s: %s", c->o->devname,
				       kdev_configure_error(-rc));
		log_err("cannot configure %s again: %s", c->o->devname, kdev_configure_error(-rc));
		if (rc == -EBUSY || rc == -EINVAL || rc == -ENOTTY) {
			c->exit_code = 1;
			c->fatal = true;
		}
		return CS_DEAD;
	}
	if (!c->served)
		log_info("serving %s: %" PRIu64 " bytes, block size %u%s", c->o->devname,
			 (uint64_t)c->cfg.bytes, c->cfg.block_size,
			 (c->cfg.flags & ENBD_CFG_READ_ONLY) ? ", read-only" : "");
	else
		log_info("serving %s again", c->o->devname);
	if (c->served)
		c->st.reconnects++;
	if (!c->served)
		c->first = c->ex;
	c->served = true;
	clock_gettime(CLOCK_MONOTONIC, &c->ready_since);
	c->conn_replies = 0;
	c->conn_up = true;
	return CS_READY;
}

/* The ends READY and DRAIN share: ejected, fatal, broken. */
static enum chan_state xmit_ended(struct channel *c, enum xmit_result r)
{
	switch (r) {
	case XMIT_EJECTED:
		log_info("%s was shut down: channel ejected", c->o->devname);
		c->after = AFTER_EXIT;
		c->exit_code = CHAN_EXIT_EJECTED;
		return CS_DISCONNECT;
	case XMIT_FATAL:
		c->exit_code = 1;
		c->fatal = true;
		return CS_DEAD;
	default:
		return CS_DEAD;
	}
}

static enum chan_state st_ready(struct channel *c)
{
	enum xmit_result r = xmit_run(c, false, -1);

	log_debug("transmission ended: %s", xmit_result_name(r));
	switch (r) {
	case XMIT_STOP:
		c->after = AFTER_EXIT;
		return CS_DRAIN;
	case XMIT_RECONNECT:
		c->after = AFTER_RECONNECT;
		return CS_DRAIN;
	default:
		return xmit_ended(c, r);
	}
}

static enum chan_state st_drain(struct channel *c)
{
	enum xmit_result r;

	c->draining = true;
	xmit_abandon_unsent(c);
	if (xmit_in_flight(c))
		log_info("waiting for %u requests in flight", xmit_in_flight(c));
	r = xmit_run(c, true, CHAN_DRAIN_MS);
	log_debug("drain ended: %s", xmit_result_name(r));
	switch (r) {
	case XMIT_DRAINED:
	case XMIT_RECONNECT:
		return CS_DISCONNECT;
	case XMIT_TIMEOUT:
		if (xmit_in_flight(c))
			log_warn("%u requests still in flight: leaving them to the kernel to requeue",
				 xmit_in_flight(c));
		return CS_DISCONNECT;
	default:
		return xmit_ended(c, r);
	}
}

static void detach(struct channel *c)
{
	int rc;

	if (!c->attached || c->ejected)
		return;
	rc = c->dev->ops->detach(c->dev);
	if (rc)
		log_warn("ENBD_IOC_DETACH: %s", strerror(-rc));
	c->attached = false;
}

static void log_stats(const struct channel *c)
{
	log_info("%" PRIu64 " requests (at most %u in flight), %" PRIu64 " errors, %" PRIu64
		 " bytes read, %" PRIu64 " bytes written, %" PRIu64 " reconnects, %" PRIu64
		 " keep-alives answered",
		 c->st.requests, c->st.max_in_flight, c->st.errors, c->st.bytes_read,
		 c->st.bytes_written, c->st.reconnects, c->st.keepalives);
}

static enum chan_state st_disconnect(struct channel *c)
{
	xmit_disconnect(c, CHAN_DISC_MS);
	if (c->dev)
		detach(c);
	xmit_reset(c);
	if (c->after == AFTER_EXIT || c->stop) {
		if (c->dev)
			log_stats(c);
		return CS_EXIT;
	}
	/*
	 * A deliberate reconnect (SIGHUP, NBD_ESHUTDOWN) is at once only after
	 * a connection that stood: a server answering everything with
	 * NBD_ESHUTDOWN, or SIGHUPs in a row, back off like a broken link.
	 */
	if (c->conn_up && chan_ms_since(&c->ready_since) >= CHAN_BACKOFF_MAX_MS)
		c->backoff_ms = 0;
	c->conn_up = false;
	return CS_BACKOFF;
}

static enum chan_state st_dead(struct channel *c)
{
	bool healthy = c->conn_up && (c->conn_replies > 0 ||
				      chan_ms_since(&c->ready_since) >= CHAN_BACKOFF_MAX_MS);

	/* Abortive (RST) since sock_connect: the connection is broken or stalled. */
	xmit_close(c);
	if (c->dev)
		detach(c);
	xmit_reset(c);
	if (c->fatal || !c->served)
		return CS_EXIT;
	if (c->stop) {
		log_stats(c);
		return CS_EXIT;
	}
	if (healthy)
		c->backoff_ms = CHAN_BACKOFF_MIN_MS;
	c->conn_up = false;
	return CS_BACKOFF;
}

static enum chan_state st_backoff(struct channel *c)
{
	struct pollfd pfd = { .fd = c->o->sigfd, .events = POLLIN };
	struct timespec start;
	bool hup = false;
	int wait = c->backoff_ms;

	if (wait)
		log_info("reconnecting in %d ms", wait);
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (wait > 0) {
		if (poll(&pfd, 1, wait) > 0) {
			if (stop_requested(c, &hup)) {
				log_stats(c);
				return CS_EXIT;
			}
			if (hup)
				break;
		}
		wait = c->backoff_ms - (int)chan_ms_since(&start);
	}
	if (c->backoff_ms < CHAN_BACKOFF_MIN_MS)
		c->backoff_ms = CHAN_BACKOFF_MIN_MS;
	else
		c->backoff_ms = c->backoff_ms * 2 > CHAN_BACKOFF_MAX_MS ?
				CHAN_BACKOFF_MAX_MS : c->backoff_ms * 2;
	return CS_CONNECT;
}

/* The table.  TLS is a step of NEGOTIATE (channel.h). */
static const struct {
	const char *name;
	state_fn run;
} states[CS__COUNT] = {
	[CS_CONNECT] = { "CONNECT", st_connect },
	[CS_NEGOTIATE] = { "NEGOTIATE", st_negotiate },
	[CS_SETUP] = { "SETUP", st_setup },
	[CS_READY] = { "READY", st_ready },
	[CS_DRAIN] = { "DRAIN", st_drain },
	[CS_DISCONNECT] = { "DISCONNECT", st_disconnect },
	[CS_DEAD] = { "DEAD", st_dead },
	[CS_BACKOFF] = { "BACKOFF", st_backoff },
	[CS_EXIT] = { "EXIT", NULL },
};

/*
 * Writeback to /dev/ndN may wait for this daemon, so it must not wait for
 * that writeback itself: PR_SET_IO_FLUSHER makes its allocations skip I/O
 * reclaim (and the dirty throttling of its own writes), and its memory is
 * locked so that carrying a request never needs a page-in.  xmit_init
 * allocated every request buffer before, so MCL_CURRENT faults them in and
 * the request path never allocates.
 */
static void reclaim_proof(void)
{
#if defined(__SANITIZE_ADDRESS__)
	/* Locking AddressSanitizer's terabytes of shadow would fail or eat the RAM. */
	log_debug("AddressSanitizer build: memory not locked");
#else
	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) < 0)
		log_warn("PR_SET_IO_FLUSHER: %s (needs Linux 5.6 and CAP_SYS_RESOURCE): writeback "
			 "under memory pressure may wait for this daemon's own allocations",
			 strerror(errno));
	if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
		log_warn("mlockall: %s: under memory pressure this daemon may be paged out",
			 strerror(errno));
#endif
}

int channel_tls_setup(struct channel_opts *o, const struct tls_config *cfg, int *status,
		      char *why, size_t why_len)
{
	bool creds = cfg->certs_dir || cfg->psk_file;
	char reason[256];

	*status = 2;
	if (o->tls_mode == TLS_OFF) {
		if (!creds && !cfg->psk_identity && !o->tls_hostname)
			return 0;
		snprintf(why, why_len, "TLS options given, but no --tls on or require");
		return -1;
	}
	if (!creds || (cfg->certs_dir && cfg->psk_file)) {
		snprintf(why, why_len, "--tls %s needs --tls-certificates DIR or --tls-psk FILE "
			 "(one of them)", o->tls_mode == TLS_ON ? "on" : "require");
		return -1;
	}
	if (cfg->psk_identity && !cfg->psk_file) {
		snprintf(why, why_len, "--tls-username goes with --tls-psk");
		return -1;
	}
	o->tls_ctx = tls_client_ctx_new(cfg, reason, sizeof(reason));
	if (!o->tls_ctx) {
		*status = 1;
		snprintf(why, why_len, "TLS: %s", reason);
		return -1;
	}
	return 0;
}

int channel_run(const struct channel_opts *o)
{
	struct channel *c;
	enum chan_state s = CS_CONNECT;
	uint32_t channel = 0;
	int rc;

	c = calloc(1, sizeof(*c));
	if (c)
		c->o = o;	/* xmit_init reads the options */
	if (!c || xmit_init(c) < 0) {
		log_err("out of memory");
		free(c);
		return 1;
	}
	c->dev = o->dev;
	c->sock = -1;
	c->backoff_ms = CHAN_BACKOFF_MIN_MS;
	if (o->lock_memory)
		reclaim_proof();

	/* Attach before touching the network: busy, token and module errors come first. */
	if (c->dev) {
		rc = c->dev->ops->attach(c->dev, o->token, o->slot, &channel);
		if (rc) {
			if (rc == -EBUSY && o->slot >= 0)
				log_err("cannot attach to %s: channel slot %d is taken", o->devname,
					o->slot);
			else
				log_err("cannot attach to %s: %s", o->devname, kdev_attach_error(-rc));
			s = CS_EXIT;
			c->exit_code = rc == -ESHUTDOWN ? CHAN_EXIT_EJECTED : 1;
		} else {
			c->attached = true;
			c->channel = channel;
			log_debug("attached to %s as channel %u", o->devname, channel);
		}
	}
	while (s != CS_EXIT) {
		enum chan_state next = states[s].run(c);

		log_debug("state %s -> %s", states[s].name, states[next].name);
		s = next;
	}
	xmit_close(c);
	if (c->dev)
		detach(c);
	rc = c->exit_code;
	xmit_free(c);
	free(c);
	return rc;
}
