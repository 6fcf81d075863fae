// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the replies of a hostile server in transmission.
 *
 * The input's first bytes set the scene: the server's maximum payload (so
 * requests are split into parts), whether a keep-alive probe is
 * outstanding, whether the channel is one of several (the adaptive window
 * samples completions), and up to 8 requests the simulated device hands to
 * the channel.  The channel fetches and sends them through a socketpair;
 * the rest of the input is what the server answers, then EOF.  The reply
 * parser (xmit-rx.c) and everything a reply sets off (completion, the next
 * fetch, the window, the probe) run exactly as in enbd-client.
 *
 * Besides the sanitizers, the simulated device aborts on what would harm
 * the kernel: a completion of a request not outstanding or completed twice,
 * a malformed completion, a success before every part was answered, a
 * READ's data outside its buffer.  Run it with
 * tests/host/client-fuzz-reply-brief.sh or tools/run-fuzz client-reply.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "xmit.h"

#define MAX_REQS	8
#define SCENE_BYTES	(3 + 4 * MAX_REQS)
#define EXPORT_BYTES	(1u << 20)
#define MAX_REPLY_BYTES	(64u << 10)	/* what the socketpair takes at once */

struct fuzz_dev {
	struct chan_dev base;
	struct enbd_request reqs[MAX_REQS];
	bool done[MAX_REQS];
	unsigned int nreqs, next;
	uint8_t sum;		/* READ data is read here, for ASan to check */
};

static struct fuzz_dev fdev;
static struct channel_opts opts = { .channels = 1, .sigfd = -1 };
static struct channel chan;
static int peer = -1;		/* the server's end of the socketpair */
static bool ready;

/* A request completed without error had every one of its parts answered. */
static void check_all_answered(uint64_t seq)
{
	unsigned int i, p;

	for (i = 0; i < CHAN_SLOTS; i++) {
		const struct slot *s = &chan.slots[i];

		if (s->req.seq != seq)
			continue;
		for (p = 0; p < s->nparts; p++)
			if (!(s->answered[p / 64] & (1ull << (p % 64))))
				abort();
		return;
	}
	abort();
}

static int f_io(struct chan_dev *d, struct enbd_io *io)
{
	struct fuzz_dev *f = (struct fuzz_dev *)d;
	uint32_t i;

	if (io->flags & ENBD_IO_COMPLETE) {
		const struct enbd_request *r;

		if (io->done_tag >= f->nreqs || f->done[io->done_tag])
			abort();	/* not outstanding, or completed twice */
		r = &f->reqs[io->done_tag];
		if (io->done_seq != r->seq || io->done_error > 0 || io->done_error < -4095)
			abort();
		if (io->done_length != (r->type == ENBD_CMD_READ && !io->done_error ? r->length : 0))
			abort();
		if (!io->done_error)
			check_all_answered(r->seq);
		for (i = 0; i < io->done_length; i++)
			f->sum += ((const uint8_t *)(uintptr_t)io->done_data)[i];
		f->done[io->done_tag] = true;
		io->done_result = ENBD_DONE_ACCEPTED;
	}
	if (!(io->flags & ENBD_IO_FETCH))
		return 0;
	if (f->next == f->nreqs)
		return -EAGAIN;
	io->req = f->reqs[f->next++];
	return 0;
}

static int f_event(struct chan_dev *d, uint32_t event)
{
	(void)d;
	return event == ENBD_EVENT_KEEPALIVE ? 0 : -EINVAL;
}

static unsigned int f_keepalive(struct chan_dev *d)
{
	(void)d;
	return 0;
}

static const struct chan_dev_ops fdev_ops = {
	.io = f_io, .event = f_event, .keepalive = f_keepalive,
};

static void setup(void)
{
	log_init("enbd-client-fuzz-reply", -3);	/* a server's faults are warnings */
	fdev.base.ops = &fdev_ops;
	chan.o = &opts;
	chan.dev = &fdev.base;
	if (xmit_init(&chan) < 0)
		abort();
}

/* A fresh connection: the channel's end and the server's. */
static void connect_pair(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	chan.sock = sv[0];
	peer = sv[1];
}

/* Read and drop what the channel sent: its requests. */
static void drop_requests(void)
{
	static uint8_t sink[1 << 16];

	while (recv(peer, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
}

/* The requests of the scene; false if the input is too short for one. */
static bool set_scene(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = {
		ENBD_CMD_READ, ENBD_CMD_WRITE, ENBD_CMD_READ, ENBD_CMD_WRITE,
		ENBD_CMD_FLUSH, ENBD_CMD_TRIM, ENBD_CMD_WRITE_ZEROES, ENBD_CMD_READ,
	};
	uint64_t off = 0;
	unsigned int i;

	if (size < SCENE_BYTES)
		return false;
	chan.part_size = 512u << (data[0] % 11);	/* 512 bytes .. 512 KiB */
	opts.channels = data[1] & 1 ? 2 : 1;
	fdev.nreqs = 1 + data[2] % MAX_REQS;
	fdev.next = 0;
	memset(fdev.done, 0, sizeof(fdev.done));
	for (i = 0; i < fdev.nreqs; i++) {
		const uint8_t *d = data + 3 + 4 * i;
		struct enbd_request *r = &fdev.reqs[i];

		*r = (struct enbd_request){
			.seq = 100 + i, .tag = i, .type = types[d[0] % 8],
			.length = 512u * (1 + (d[1] | (d[2] & 0x7f) << 8) % 128),
		};
		if (r->type == ENBD_CMD_FLUSH)
			r->length = 0;
		if (d[3] & 1)
			r->flags |= ENBD_CMD_FLAG_FUA;
		if ((d[3] & 2) && r->type == ENBD_CMD_WRITE_ZEROES)
			r->flags |= ENBD_CMD_FLAG_NO_HOLE;
		r->offset = off;
		off = (off + r->length) % (EXPORT_BYTES / 2);
	}
	return true;
}

/* Fetch and send every request of the scene.  false: the channel gave up. */
static bool send_requests(void)
{
	int rounds;

	for (rounds = 0; rounds < 1000; rounds++) {
		if (xmit_pump(&chan) < 0)
			return false;
		drop_requests();
		if (xmit_tx(&chan) < 0)
			return false;
		if (!output_pending(&chan) && fdev.next == fdev.nreqs)
			return true;
	}
	abort();	/* the channel stopped fetching for no reason */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct enbd_request probe = { .type = ENBD_CMD_READ, .length = 512 };
	unsigned int i;
	int rounds;

	if (!ready) {
		setup();
		ready = true;
	}
	if (!set_scene(data, size) || size - SCENE_BYTES > MAX_REPLY_BYTES)
		return 0;
	xmit_reset(&chan);
	for (i = 0; i <= CHAN_PROBE; i++) {
		chan.slots[i].gen = 1;	/* the same cookies for the same input */
		chan.slots[i].req.seq = 0;
	}
	chan.ejected = false;
	chan.ex = (struct nbd_export){
		.size = EXPORT_BYTES, .min_block = 512, .max_payload = chan.part_size,
		.tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
			  NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES,
	};
	chan.cfg.block_size = 512;
	connect_pair();
	if (data[1] & 2) {
		slot_start(probe_slot(&chan), &probe);
		sendq_push(&chan, probe_slot(&chan));
	}
	if (send_requests()) {
		data += SCENE_BYTES;
		size -= SCENE_BYTES;
		if (size && send(peer, data, size, 0) != (ssize_t)size)
			abort();
		shutdown(peer, SHUT_WR);
		/* The replies, then EOF: the channel must give up the connection. */
		for (rounds = 0; !chan.want && rounds < 1000; rounds++) {
			xmit_rx(&chan);
			drop_requests();
		}
		if (!chan.want)
			abort();
	}
	close(chan.sock);
	close(peer);
	chan.want = 0;
	return 0;
}
