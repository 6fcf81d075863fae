// SPDX-License-Identifier: GPL-2.0
/*
 * enbd-client-selftest: the enbd-client channel (state table, handshake,
 * transmission) run against a simulated enbd device instead of the kernel
 * module, so the whole NBD side can be tested on any machine against any NBD
 * server.
 *
 * The simulated device behaves like the module's control file as the uapi
 * describes it: a queue of requests (tags, fresh sequence numbers at each
 * claim), fetch with ENBD_IO_FETCH|NONBLOCK (EAGAIN when empty), completion
 * matched by (tag, seq), late completions discarded and counted, DETACH
 * putting claimed requests back at the head of the queue, POLLIN while a
 * request waits and POLLHUP once ejected.  It generates a random workload
 * (reads, writes, flushes, trims, write-zeroes; FUA, NO_HOLE) that never has
 * two overlapping requests outstanding, keeps a shadow copy of the disk and
 * checks every read against it.  When the wanted number of requests has
 * completed it ejects the channel, which then disconnects and exits (or,
 * with -I, leaves the channel idle until SIGTERM).  Its keepalive option is
 * -K; the keep-alives the channel reports are counted.
 *
 * Fails (exit 1) on any wrong data, a completion of a request the channel
 * does not own (a bogus or late completion), a malformed completion, or an
 * error reply unless -E.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "dev.h"
#include "log.h"
#include "sig.h"

#define MAX_DEPTH	256
#define SHADOW_MAX	(1ull << 30)

enum { FQ_FREE, FQ_QUEUED, FQ_CLAIMED };

struct freq {
	struct enbd_request r;
	int state;
	uint64_t pattern;	/* seed of a WRITE's payload */
};

struct fdev {
	struct chan_dev base;
	int pipe[2];
	bool signalled, ejected, attached, configured;
	struct enbd_config cfg;
	uint8_t *shadow;
	uint8_t *known;		/* per 512-byte sector */
	struct freq reqs[MAX_DEPTH];
	unsigned int queue[MAX_DEPTH], qlen;
	/* options */
	unsigned int depth;
	uint64_t total;
	bool rw_only, zero_init, allow_errors, idle;
	unsigned int keepalive;
	int expect_errno;	/* every error must be this one (0: any) */
	uint64_t rng;
	/* counters */
	uint64_t next_seq, issued, completed, requeued, discarded, mismatches;
	uint64_t bad, errors, attaches, detaches, fetches, keepalives;
	uint64_t by_type[8];
};

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t rnd(struct fdev *f)
{
	f->rng = splitmix(f->rng);
	return f->rng;
}

/* The payload of a write: a function of its seed and the absolute position. */
static void fill_pattern(uint64_t pattern, uint64_t offset, uint8_t *buf, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t v = splitmix(pattern ^ ((offset + i) / 8));

		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

static void update_signal(struct fdev *f)
{
	char b = 0;
	bool want = f->qlen > 0 && !f->ejected;

	if (want && !f->signalled) {
		if (write(f->pipe[1], &b, 1) == 1)
			f->signalled = true;
	} else if (!want && f->signalled) {
		if (read(f->pipe[0], &b, 1) == 1)
			f->signalled = false;
	}
}

static bool overlaps(struct fdev *f, uint64_t off, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < f->depth; i++) {
		const struct freq *q = &f->reqs[i];

		if (q->state == FQ_FREE || q->r.type == ENBD_CMD_FLUSH)
			continue;
		if (off < q->r.offset + q->r.length && q->r.offset < off + len)
			return true;
	}
	return false;
}

/* Make a new random request in free entry @q.  false if none fits now. */
static bool make_request(struct fdev *f, struct freq *q)
{
	uint32_t bs = f->cfg.block_size, flags = f->cfg.flags;
	uint64_t nblocks = f->cfg.bytes / bs, maxb, len, off;
	unsigned int pick, type, tries;

	pick = rnd(f) % 100;
	if (flags & ENBD_CFG_READ_ONLY)
		type = ENBD_CMD_READ;
	else if (pick < 45)
		type = ENBD_CMD_READ;
	else if (pick < 85 || f->rw_only)
		type = ENBD_CMD_WRITE;
	else if (pick < 90)
		type = (flags & ENBD_CFG_FLUSH) ? ENBD_CMD_FLUSH : ENBD_CMD_WRITE;
	else if (pick < 95)
		type = (flags & ENBD_CFG_TRIM) ? ENBD_CMD_TRIM : ENBD_CMD_READ;
	else
		type = (flags & ENBD_CFG_WRITE_ZEROES) ? ENBD_CMD_WRITE_ZEROES : ENBD_CMD_WRITE;

	memset(&q->r, 0, sizeof(q->r));
	q->r.type = type;
	q->r.tag = (uint32_t)(q - f->reqs);
	if (type != ENBD_CMD_FLUSH) {
		maxb = (type == ENBD_CMD_READ || type == ENBD_CMD_WRITE) ?
		       ENBD_MAX_IO_BYTES / bs : (4u << 20) / bs;
		if (rnd(f) % 2)
			maxb = maxb < 8 ? maxb : 8;
		if (maxb > nblocks)
			maxb = nblocks;
		for (tries = 0;; tries++) {
			if (tries == 8)
				return false;
			len = 1 + rnd(f) % maxb;
			off = rnd(f) % (nblocks - len + 1);
			if (!overlaps(f, off * bs, len * bs))
				break;
		}
		q->r.offset = off * bs;
		q->r.length = len * bs;
	}
	if (type == ENBD_CMD_WRITE && (flags & ENBD_CFG_FUA) && rnd(f) % 10 == 0)
		q->r.flags |= ENBD_CMD_FLAG_FUA;
	if (type == ENBD_CMD_WRITE_ZEROES && rnd(f) % 2)
		q->r.flags |= ENBD_CMD_FLAG_NO_HOLE;
	q->pattern = rnd(f);
	q->state = FQ_QUEUED;
	f->queue[f->qlen++] = q->r.tag;
	f->issued++;
	return true;
}

static void refill(struct fdev *f)
{
	unsigned int i;

	if (!f->configured || f->ejected)
		return;
	for (i = 0; i < f->depth && f->issued < f->total; i++)
		if (f->reqs[i].state == FQ_FREE && !make_request(f, &f->reqs[i]))
			break;
	update_signal(f);
}

static void set_known(struct fdev *f, uint64_t off, uint64_t len, uint8_t v)
{
	memset(f->known + off / 512, v, len / 512);
}

static int f_attach(struct chan_dev *d, uint64_t token, int slot, uint32_t *channel)
{
	struct fdev *f = (struct fdev *)d;

	(void)token;
	if (slot > 0)
		return -EBUSY;	/* one slot: 0 */
	if (f->attached)
		return -EISCONN;
	if (f->ejected)
		return -ESHUTDOWN;
	f->attached = true;
	f->attaches++;
	*channel = 0;
	return 0;
}

static int f_configure(struct chan_dev *d, const struct enbd_config *cfg)
{
	struct fdev *f = (struct fdev *)d;

	if (!f->attached)
		return -ENOTCONN;
	if (cfg->size != sizeof(*cfg) || cfg->reserved || (cfg->flags & ~ENBD_CFG_ALL) ||
	    cfg->block_size < 512 || cfg->block_size > 4096 ||
	    (cfg->block_size & (cfg->block_size - 1)) || cfg->bytes < cfg->block_size)
		return -EINVAL;
	if (f->configured) {
		if (cfg->bytes / cfg->block_size * cfg->block_size != f->cfg.bytes ||
		    cfg->block_size != f->cfg.block_size)
			return -EBUSY;
		return 0;
	}
	f->cfg = *cfg;
	f->cfg.bytes = cfg->bytes / cfg->block_size * cfg->block_size;
	if (f->cfg.bytes > SHADOW_MAX) {
		log_err("selftest: export too large for the shadow copy (max %llu bytes)",
			SHADOW_MAX);
		return -EFBIG;
	}
	f->shadow = calloc(1, f->cfg.bytes);
	f->known = malloc(f->cfg.bytes / 512);
	if (!f->shadow || !f->known)
		return -ENOMEM;
	memset(f->known, f->zero_init, f->cfg.bytes / 512);
	f->configured = true;
	refill(f);
	return 0;
}

static void check_read(struct fdev *f, const struct freq *q, const uint8_t *data)
{
	uint64_t s;

	for (s = 0; s < q->r.length / 512; s++) {
		uint64_t off = q->r.offset + s * 512;

		if (!f->known[off / 512] || !memcmp(f->shadow + off, data + s * 512, 512))
			continue;
		if (f->mismatches++ < 5)
			log_err("selftest: READ seq %llu: wrong data at offset %llu",
				(unsigned long long)q->r.seq, (unsigned long long)off);
	}
}

static int complete(struct fdev *f, struct enbd_io *io)
{
	struct freq *q;

	if (io->done_tag >= f->depth || io->done_seq == 0 || io->done_error > 0 ||
	    io->done_error < -4095) {
		f->bad++;
		log_err("selftest: malformed completion (tag %u, seq %llu, error %d)",
			io->done_tag, (unsigned long long)io->done_seq, io->done_error);
		return -EINVAL;
	}
	q = &f->reqs[io->done_tag];
	if (q->state != FQ_CLAIMED || q->r.seq != io->done_seq) {
		f->discarded++;
		log_err("selftest: completion of seq %llu tag %u, which the channel does not own",
			(unsigned long long)io->done_seq, io->done_tag);
		io->done_result = ENBD_DONE_DISCARDED;
		return 0;
	}
	if (io->done_length != (q->r.type == ENBD_CMD_READ && !io->done_error ? q->r.length : 0)) {
		f->bad++;
		log_err("selftest: completion of seq %llu with done_length %u",
			(unsigned long long)io->done_seq, io->done_length);
		return -EINVAL;
	}
	if (io->done_error) {
		f->errors++;
		if (f->expect_errno && io->done_error != -f->expect_errno) {
			f->bad++;
			log_err("selftest: request seq %llu failed with %s, expected %s",
				(unsigned long long)q->r.seq, strerror(-io->done_error),
				strerror(f->expect_errno));
		}
		if (!f->allow_errors)
			log_err("selftest: request seq %llu (type %u) failed: %s",
				(unsigned long long)q->r.seq, q->r.type, strerror(-io->done_error));
		if (q->r.type != ENBD_CMD_READ && q->r.type != ENBD_CMD_FLUSH)
			set_known(f, q->r.offset, q->r.length, 0);
	} else {
		switch (q->r.type) {
		case ENBD_CMD_READ:
			check_read(f, q, (const uint8_t *)(uintptr_t)io->done_data);
			break;
		case ENBD_CMD_WRITE:
			fill_pattern(q->pattern, q->r.offset, f->shadow + q->r.offset, q->r.length);
			set_known(f, q->r.offset, q->r.length, 1);
			break;
		case ENBD_CMD_WRITE_ZEROES:
			memset(f->shadow + q->r.offset, 0, q->r.length);
			set_known(f, q->r.offset, q->r.length, 1);
			break;
		case ENBD_CMD_TRIM:
			set_known(f, q->r.offset, q->r.length, 0);
			break;
		}
	}
	f->by_type[q->r.type & 7]++;
	q->state = FQ_FREE;
	f->completed++;
	io->done_result = ENBD_DONE_ACCEPTED;
	if (f->completed == f->total && f->idle) {
		log_info("selftest: all %llu requests completed: idle until SIGTERM",
			 (unsigned long long)f->total);
		return 0;
	}
	if (f->completed == f->total) {
		log_info("selftest: all %llu requests completed: ejecting the channel",
			 (unsigned long long)f->total);
		f->ejected = true;
		update_signal(f);
		close(f->pipe[1]);
		f->pipe[1] = -1;
		return 0;
	}
	refill(f);
	return 0;
}

static int f_io(struct chan_dev *d, struct enbd_io *io)
{
	struct fdev *f = (struct fdev *)d;
	struct freq *q;
	int rc;

	if (io->size != sizeof(*io) || (io->flags & ~ENBD_IO_ALL) || io->reserved ||
	    !(io->flags & (ENBD_IO_COMPLETE | ENBD_IO_FETCH))) {
		f->bad++;
		return -EINVAL;
	}
	if ((io->flags & ENBD_IO_FETCH) &&
	    (io->data_capacity < ENBD_MAX_IO_BYTES || !(io->flags & ENBD_IO_NONBLOCK))) {
		f->bad++;
		log_err("selftest: fetch without NONBLOCK or with a short buffer");
		return -EINVAL;
	}
	if (!f->attached) {
		f->bad++;
		log_err("selftest: ENBD_IOC_IO on a detached channel");
		return -ENOTCONN;
	}
	io->done_result = ENBD_DONE_NONE;
	if (io->flags & ENBD_IO_COMPLETE) {
		if (f->ejected && f->completed == f->total) {
			f->discarded++;
			return -ESHUTDOWN;
		}
		rc = complete(f, io);
		if (rc)
			return rc;
	}
	if (!(io->flags & ENBD_IO_FETCH))
		return 0;
	if (f->ejected)
		return -ESHUTDOWN;
	if (f->qlen == 0)
		return -EAGAIN;
	q = &f->reqs[f->queue[0]];
	memmove(f->queue, f->queue + 1, --f->qlen * sizeof(f->queue[0]));
	q->state = FQ_CLAIMED;
	q->r.seq = ++f->next_seq;
	f->fetches++;
	if (q->r.type == ENBD_CMD_WRITE)
		fill_pattern(q->pattern, q->r.offset, (uint8_t *)(uintptr_t)io->data, q->r.length);
	io->req = q->r;
	update_signal(f);
	return 0;
}

static int f_detach(struct chan_dev *d)
{
	struct fdev *f = (struct fdev *)d;
	unsigned int claimed[MAX_DEPTH], n = 0, i, j;

	if (!f->attached)
		return -ENOTCONN;
	for (i = 0; i < f->depth; i++)
		if (f->reqs[i].state == FQ_CLAIMED)
			claimed[n++] = i;
	/* Oldest claim first, at the head of the queue. */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && f->reqs[claimed[j]].r.seq < f->reqs[claimed[j - 1]].r.seq; j--) {
			unsigned int t = claimed[j];

			claimed[j] = claimed[j - 1];
			claimed[j - 1] = t;
		}
	memmove(f->queue + n, f->queue, f->qlen * sizeof(f->queue[0]));
	for (i = 0; i < n; i++) {
		f->reqs[claimed[i]].state = FQ_QUEUED;
		f->queue[i] = claimed[i];
	}
	f->qlen += n;
	f->requeued += n;
	f->attached = false;
	f->detaches++;
	update_signal(f);
	return 0;
}

static int f_pollfd(struct chan_dev *d)
{
	return ((struct fdev *)d)->pipe[0];
}

static unsigned int f_keepalive(struct chan_dev *d)
{
	return ((struct fdev *)d)->keepalive;
}

static int f_event(struct chan_dev *d, uint32_t event)
{
	struct fdev *f = (struct fdev *)d;

	if (event != ENBD_EVENT_KEEPALIVE) {
		f->bad++;
		log_err("selftest: unknown event %u", event);
		return -EINVAL;
	}
	if (!f->attached) {
		f->bad++;
		log_err("selftest: ENBD_IOC_EVENT on a detached channel");
		return -ENOTCONN;
	}
	if (f->ejected)
		return -ESHUTDOWN;
	f->keepalives++;
	return 0;
}

static void f_close(struct chan_dev *d)
{
	(void)d;
}

static const struct chan_dev_ops fdev_ops = {
	.attach = f_attach,
	.configure = f_configure,
	.io = f_io,
	.detach = f_detach,
	.pollfd = f_pollfd,
	.keepalive = f_keepalive,
	.event = f_event,
	.close = f_close,
};

static int dump_shadow(struct fdev *f, const char *path)
{
	FILE *fp = fopen(path, "w");

	if (!fp || fwrite(f->shadow, 1, f->cfg.bytes, fp) != f->cfg.bytes || fclose(fp)) {
		log_err("selftest: cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: enbd-client-selftest [-e EXPORT] [-p PORT] [-b ADDR] [-n REQUESTS] [-D DEPTH]\n"
		"                            [-s SEED] [-z] [-w] [-E] [-X ERRNO] [-o DUMP] [-I] [-K SECS]\n"
		"                            [-B MiB] [-T off|on|require] [-C DIR | -k PSKFILE [-U ID]]\n"
		"                            [-H NAME] [-N]\n"
		"                            [-v] [-q] HOST\n"
		"  -n  requests to complete (default 10000; 0: until SIGTERM)\n"
		"  -D  requests queued or outstanding at once (default 128, max %d)\n"
		"  -z  the export starts out zeroed: check every read\n"
		"  -w  reads and writes only (no flush, trim, write-zeroes)\n"
		"  -E  error replies are expected (count them, do not fail)\n"
		"  -X  like -E, and every error must be errno number ERRNO\n"
		"  -o  write the shadow copy of the disk to DUMP at the end\n"
		"  -I  once the requests have completed, stay idle until SIGTERM (no ejection)\n"
		"  -K  the keepalive option: seconds of quiet before a probe (default 0: none)\n"
		"  -B  enbd-client's --buffer-budget (MiB of request buffers)\n"
		"  -T, -C, -k, -U, -H  enbd-client's --tls, --tls-certificates, --tls-psk,\n"
		"      --tls-username, --tls-hostname\n"
		"  -N  TLS: never resume a session (tools/bench-tls-reconnect)\n",
		MAX_DEPTH);
}

int main(int argc, char **argv)
{
	struct channel_opts o = {
		.port = "10809", .export = "", .devname = "the simulated device", .slot = -1,
	};
	struct tls_config tls = { 0 };
	struct fdev *f;
	const char *dump = NULL;
	char why[300];
	int opt, verbosity = 0, rc;
	bool failed;

	f = calloc(1, sizeof(*f));
	if (!f)
		return 1;
	f->depth = 128;
	f->total = 10000;
	f->rng = 1;
	while ((opt = getopt(argc, argv, "e:p:b:n:D:s:zwEX:o:IK:B:T:C:k:U:H:Nvqh")) != -1) {
		switch (opt) {
		case 'e': o.export = optarg; break;
		case 'p': o.port = optarg; break;
		case 'b': o.bind = optarg; break;
		case 'n': f->total = strtoull(optarg, NULL, 0); break;
		case 'D': f->depth = strtoul(optarg, NULL, 0); break;
		case 's': f->rng = strtoull(optarg, NULL, 0); break;
		case 'z': f->zero_init = true; break;
		case 'w': f->rw_only = true; break;
		case 'E': f->allow_errors = true; break;
		case 'X': f->allow_errors = true; f->expect_errno = atoi(optarg); break;
		case 'o': dump = optarg; break;
		case 'I': f->idle = true; break;
		case 'K': f->keepalive = strtoul(optarg, NULL, 0); break;
		case 'B': o.buffer_budget_mib = strtoul(optarg, NULL, 0); break;
		case 'T':
			rc = tls_mode_parse(optarg);
			if (rc < 0) {
				usage(stderr);
				return 2;
			}
			o.tls_mode = (enum tls_mode)rc;
			break;
		case 'C': tls.certs_dir = optarg; break;
		case 'k': tls.psk_file = optarg; break;
		case 'U': tls.psk_identity = optarg; break;
		case 'H': o.tls_hostname = optarg; break;
		case 'N': tls.no_resume = true; break;
		case 'v': verbosity++; break;
		case 'q': verbosity--; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 1 || f->depth < 1 || f->depth > MAX_DEPTH) {
		usage(stderr);
		return 2;
	}
	if (f->total == 0)
		f->total = UINT64_MAX;
	log_init("enbd-client-selftest", verbosity);
	o.host = argv[optind];
	if (channel_tls_setup(&o, &tls, &rc, why, sizeof(why)) < 0) {
		log_err("%s", why);
		return rc;
	}
	o.sigfd = sig_open_fd(SIGTERM, SIGINT, SIGHUP, 0);
	if (pipe2(f->pipe, O_NONBLOCK | O_CLOEXEC) < 0 || o.sigfd < 0) {
		log_err("selftest: %s", strerror(errno));
		return 1;
	}
	f->base.ops = &fdev_ops;
	o.dev = &f->base;

	rc = channel_run(&o);
	if (rc == CHAN_EXIT_EJECTED && f->ejected)
		rc = 0;		/* the simulated device ejects the channel when done */

	failed = rc != 0 || f->mismatches || f->discarded || f->bad ||
		 (f->errors && !f->allow_errors);
	/* Stopped by a signal: the channel must have detached, leaving nothing claimed. */
	if (rc == 0 && !f->ejected && f->attached) {
		log_err("selftest: the channel exited without detaching");
		failed = true;
	}
	printf("selftest: completed=%llu issued=%llu fetches=%llu requeued=%llu discarded=%llu "
	       "mismatches=%llu bad=%llu errors=%llu attaches=%llu detaches=%llu keepalives=%llu "
	       "reads=%llu writes=%llu flushes=%llu trims=%llu zeroes=%llu exit=%d %s\n",
	       (unsigned long long)f->completed, (unsigned long long)f->issued,
	       (unsigned long long)f->fetches, (unsigned long long)f->requeued,
	       (unsigned long long)f->discarded, (unsigned long long)f->mismatches,
	       (unsigned long long)f->bad, (unsigned long long)f->errors,
	       (unsigned long long)f->attaches, (unsigned long long)f->detaches,
	       (unsigned long long)f->keepalives,
	       (unsigned long long)f->by_type[ENBD_CMD_READ],
	       (unsigned long long)f->by_type[ENBD_CMD_WRITE],
	       (unsigned long long)f->by_type[ENBD_CMD_FLUSH],
	       (unsigned long long)f->by_type[ENBD_CMD_TRIM],
	       (unsigned long long)f->by_type[ENBD_CMD_WRITE_ZEROES], rc,
	       failed ? "FAIL" : "PASS");
	if (dump && f->configured && dump_shadow(f, dump) < 0)
		failed = true;
	free(f->shadow);
	free(f->known);
	close(f->pipe[0]);
	if (f->pipe[1] >= 0)
		close(f->pipe[1]);
	close(o.sigfd);
	tls_ctx_free(o.tls_ctx);
	free(f);
	return failed ? 1 : 0;
}
