// SPDX-License-Identifier: GPL-2.0
/*
 * journal-policy: request aging and the outage policy, driven directly
 * through /dev/enbd-control (no network), so every step is deterministic:
 *  - an aged READ is resubmitted to another channel at once, the stalled
 *    channel is told (POLLPRI) and fetches nothing, its late answer is
 *    discarded;
 *  - an aged WRITE stays with its channel until that channel detaches;
 *  - with no channel, requests wait (default), or fail at once or after a
 *    grace time (ENBD_OUTAGE_FAIL) until a channel returns;
 *  - ENBD_ATTACH_SLOT takes a given slot; re-attaching counts a reconnect.
 * Prints TAP.  usage: journal-policy [INDEX]
 *        journal-policy --shutdown INDEX   (clean-up: fail whatever is left)
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "testlib.h"

static void *buf;
static char data[BLOCK];

static int set_policy(uint32_t flags, uint32_t aging_ms, uint32_t outage, uint32_t outage_ms)
{
	int fd = open_control(), rc;
	struct enbd_policy p = {
		.size = sizeof(p), .flags = flags, .index = dev_index, .aging_ms = aging_ms,
		.outage = outage, .outage_ms = outage_ms, .token = TOKEN,
	};

	rc = ioctl(fd, ENBD_IOC_SET_POLICY, &p);
	close(fd);
	return rc;
}

static short poll_for(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, ms) == 1 ? p.revents : 0;
}

static void aging(void)
{
	int a = open_control(), b = open_control(), c = open_control();
	struct enbd_config cfg = { .size = sizeof(cfg), .bytes = 64 << 20, .block_size = 512 };
	struct enbd_request first, again;
	struct enbd_io io;
	uint32_t result;
	pid_t child;
	int rc;

	expect_ok(attach(a, dev_index, TOKEN), "attach channel A");
	expect_ok(attach(b, dev_index, TOKEN), "attach channel B");
	expect_ok(ioctl(a, ENBD_IOC_CONFIGURE, &cfg), "configure");
	/* Long enough that a loaded machine finishes each step well within it. */
	expect_ok(set_policy(ENBD_POLICY_AGING, 3000, 0, 0), "aging 3000 ms");

	child = start_io(0, 'a');
	expect_ok(fetch(a, buf, &io, 0), "A fetches a read");
	first = io.req;
	check(poll_for(a, POLLPRI, 10000) & POLLPRI, "A is told it stalled (POLLPRI)");
	check(poll_for(b, POLLIN, 1000) & POLLIN, "the aged read is queued again");
	expect_ok(fetch(b, buf, &io, 1), "B fetches it");
	again = io.req;
	check(again.tag == first.tag && again.seq > first.seq, "same request, new claim");
	expect_errno(fetch(a, buf, &io, 1), ENOLINK, "a stalled channel fetches nothing");
	rc = complete(b, &again, 0, memset(data, 'a', BLOCK), BLOCK, &result);
	check(rc == 0 && result == ENBD_DONE_ACCEPTED, "B's completion is accepted");
	check(wait_child(child) == 0, "the reader got B's data");
	rc = complete(a, &first, 0, data, BLOCK, &result);
	check(rc == 0 && result == ENBD_DONE_DISCARDED, "A's late answer is discarded");
	check(proc_journal("resubmitted") == 1, "/proc/nbdinfo counts 1 resubmission");

	/* A write is not resubmitted while its channel may still deliver it. */
	expect_ok(attach(c, dev_index, TOKEN), "attach channel C");
	child = start_io(1, 'w');
	expect_ok(fetch(b, buf, &io, 0), "B fetches a write");
	first = io.req;
	check(poll_for(b, POLLPRI, 10000) & POLLPRI, "B is told it stalled");
	expect_errno(fetch(c, buf, &io, 1), EAGAIN, "C finds nothing: the write stays with B");
	check(still_running(child, 200), "the writer still waits");
	expect_ok(ioctl(b, ENBD_IOC_DETACH), "B detaches");
	expect_ok(fetch(c, buf, &io, 1), "C fetches the write");
	check(io.req.tag == first.tag && ((char *)buf)[0] == 'w', "same write, payload intact");
	rc = complete(c, &io.req, 0, NULL, 0, &result);
	check(rc == 0 && result == ENBD_DONE_ACCEPTED, "C completes it");
	check(wait_child(child) == 0, "the writer succeeded");
	close(a);
	close(b);
	close(c);
}

static void outage(void)
{
	struct enbd_io io;
	uint32_t result;
	pid_t child;
	int ch, rc;

	/* Default: wait for a channel however long it takes. */
	child = start_io(0, 'o');
	check(still_running(child, 1000), "with no channel a read waits");
	ch = open_control();
	expect_ok(attach(ch, dev_index, TOKEN), "a channel returns");
	expect_ok(fetch(ch, buf, &io, 0), "and fetches the waiting read");
	rc = complete(ch, &io.req, 0, memset(data, 'o', BLOCK), BLOCK, &result);
	check(rc == 0 && wait_child(child) == 0, "the read succeeds after the outage");
	close(ch);

	expect_ok(set_policy(ENBD_POLICY_OUTAGE, 0, ENBD_OUTAGE_FAIL, 0), "outage: fail at once");
	check(wait_child(start_io(0, 'f')) == 3, "with no channel a read fails at once");

	expect_ok(set_policy(ENBD_POLICY_OUTAGE, 0, ENBD_OUTAGE_FAIL, 1500), "outage: fail after 1500 ms");
	ch = open_control();
	expect_ok(attach(ch, dev_index, TOKEN), "a channel returns");
	check(proc_total("Sockets") == 1, "/proc/nbdinfo shows one socket");
	close(ch);
	child = start_io(0, 'g');
	check(still_running(child, 500), "a read waits through the grace time");
	check(wait_child(child) == 3, "then fails");

	expect_ok(set_policy(ENBD_POLICY_OUTAGE, 0, ENBD_OUTAGE_WAIT, 0), "outage: wait");
	child = start_io(0, 'h');
	check(still_running(child, 300), "waiting again");
	ch = open_control();
	expect_ok(attach(ch, dev_index, TOKEN), "a channel returns");
	expect_ok(fetch(ch, buf, &io, 0), "and fetches");
	complete(ch, &io.req, 0, memset(data, 'h', BLOCK), BLOCK, NULL);
	check(wait_child(child) == 0, "the read succeeds");
	close(ch);
}

static void slots(void)
{
	struct enbd_attach at = { .size = sizeof(at), .flags = ENBD_ATTACH_SLOT,
				  .index = dev_index, .channel = 5, .token = TOKEN };
	int one = open_control(), two = open_control();
	long long reconnects = proc_total("Reconnects");

	expect_ok(ioctl(one, ENBD_IOC_ATTACH, &at), "attach to slot 5");
	check(at.channel == 5, "got slot 5");
	expect_errno(ioctl(two, ENBD_IOC_ATTACH, &at), EBUSY, "slot 5 is taken");
	at.channel = ENBD_MAX_CHANNELS;
	expect_errno(ioctl(two, ENBD_IOC_ATTACH, &at), EINVAL, "slot out of range");
	expect_ok(ioctl(one, ENBD_IOC_DETACH), "detach slot 5");
	at.channel = 5;
	expect_ok(ioctl(two, ENBD_IOC_ATTACH, &at), "the same daemon takes slot 5 again");
	check(proc_total("Reconnects") == reconnects + 1, "/proc/nbdinfo counts a reconnect");
	close(one);
	close(two);
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "--shutdown")) {
		dev_index = atoi(argv[2]);
		return shutdown_device() ? 1 : 0;
	}
	dev_index = argc > 1 ? (unsigned int)atoi(argv[1]) : 0;
	/* A failed step can leave a child waiting for good: bound the run. */
	alarm(90);
	buf = malloc(ENBD_MAX_IO_BYTES);
	aging();
	outage();
	slots();
	printf("1..%u\n", test_number);
	return failures ? 1 : 0;
}
