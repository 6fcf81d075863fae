// SPDX-License-Identifier: GPL-2.0
/*
 * failover-detector: the kernel's suspicion from siblings, driven directly
 * through /dev/enbd-control so that who holds what, and since when, is
 * exact.  Two channels A and B of one device, module defaults (aging 30 s,
 * the detector's floor 500 ms, checked every 250 ms).  One behaviour per mode:
 *
 *  idle-sibling    A holds a read and answers nothing, B completed its last
 *                  request before A's claim and holds none (everything the
 *                  application waits for sits on A): A is suspected
 *                  (POLLRDBAND) within seconds, not left to the keep-alive
 *  all-silent      A and B each hold a read and answer nothing (a silent
 *                  server, or all its links): neither is suspected; once B
 *                  completes, A is
 *  p99-sub-buckets 16 reads held about 300 ms each: the detector's p99 (the
 *                  Detector line of /proc/nbdinfo) lies within one
 *                  sub-bucket (1/8) above the longest of them, not on the
 *                  power of two above (512 ms)
 *
 * Prints TAP.  usage: failover-detector MODE INDEX
 *                     failover-detector --shutdown INDEX   (clean-up)
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

/* Suspicion takes the floor (500 ms) plus up to a 1 s pass: ample under TCG. */
#define SUSPECT_WITHIN_MS	6000
#define P99_READS		16
#define P99_HOLD_MS		300

static void *buf;
static char data[BLOCK];

static int event(int fd, uint32_t what)
{
	struct enbd_event ev = { .size = sizeof(ev), .event = what };

	return ioctl(fd, ENBD_IOC_EVENT, &ev);
}

/* Which of @a and @b report POLLRDBAND within @ms: bit 0 A, bit 1 B. */
static int suspected_within(int a, int b, int ms)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLRDBAND }, { .fd = b, .events = POLLRDBAND } };

	if (poll(p, 2, ms) <= 0)
		return 0;
	return (p[0].revents & POLLRDBAND ? 1 : 0) | (p[1].revents & POLLRDBAND ? 2 : 0);
}

/* Fetch a read on @fd (blocking): its request into @req. */
static void fetch_read(int fd, const char *who, struct enbd_request *req)
{
	struct enbd_io io;

	if (fetch(fd, buf, &io, 0)) {
		printf("Bail out! %s cannot fetch: %s\n", who, strerror(errno));
		shutdown_device();
		exit(1);
	}
	*req = io.req;
}

static void complete_read(int fd, const struct enbd_request *req, char fill)
{
	expect_ok(complete(fd, req, 0, memset(data, fill, BLOCK), BLOCK, NULL),
		  "completing the read");
}

/* The suspect A probes (the bit is cleared) and answers: cleared. */
static void answer(int a, const struct enbd_request *req, char fill, pid_t reader)
{
	long long cleared = proc_total("Cleared");

	expect_ok(event(a, ENBD_EVENT_PROBING), "A says it probes");
	complete_read(a, req, fill);
	check(wait_child(reader) == 0, "the reader gets A's data");
	check(proc_total("Cleared") == cleared + 1, "A's completion clears the suspicion");
}

/* ---- idle-sibling ------------------------------------------------------ */

static void idle_sibling(void)
{
	int a = channel(), b = channel();
	struct enbd_request req;
	pid_t reader;

	reader = start_io(0, 'b');
	fetch_read(b, "B", &req);
	complete_read(b, &req, 'b');
	check(wait_child(reader) == 0, "B serves a read and holds nothing more");

	reader = start_io(0, 'a');
	fetch_read(a, "A", &req);
	check(suspected_within(a, b, SUSPECT_WITHIN_MS) == 1,
	      "A, silent with a read while B is idle, is suspected within %d ms (B is not)",
	      SUSPECT_WITHIN_MS);
	check(proc_total("Suspected") == 1, "/proc/nbdinfo counts one suspicion");
	answer(a, &req, 'a', reader);
	close(a);
	close(b);
}

/* ---- all-silent -------------------------------------------------------- */

static void all_silent(void)
{
	int a = channel(), b = channel();
	struct enbd_request ra, rb;
	pid_t reader_a, reader_b;

	reader_a = start_io(0, 'a');
	fetch_read(a, "A", &ra);
	reader_b = start_io(0, 'b');
	fetch_read(b, "B", &rb);
	check(suspected_within(a, b, 2500) == 0,
	      "A and B each hold a read and answer nothing: neither is suspected for 2.5 s");
	complete_read(b, &rb, 'b');
	check(wait_child(reader_b) == 0, "B answers its read");
	check(suspected_within(a, b, SUSPECT_WITHIN_MS) == 1,
	      "now A, still silent, is suspected within %d ms (B is not)", SUSPECT_WITHIN_MS);
	answer(a, &ra, 'a', reader_a);
	close(a);
	close(b);
}

/* ---- p99-sub-buckets --------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* The p99 (ms) on the device's Detector line, or -1. */
static long long detector_p99(void)
{
	char line[256], prefix[32];
	unsigned int after, factor, p99;
	long long found = -1;
	FILE *f = fopen("/proc/nbdinfo", "r");

	if (!f)
		return -1;
	snprintf(prefix, sizeof(prefix), "[%u] Detector:", dev_index);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, prefix, strlen(prefix)) &&
		    sscanf(line + strlen(prefix), " suspect after %ums (%u x p99 %ums",
			   &after, &factor, &p99) == 3)
			found = p99;
	fclose(f);
	return found;
}

static void p99_sub_buckets(void)
{
	struct enbd_request req[P99_READS];
	pid_t reader[P99_READS];
	long long t_first_fetch, t_last_fetch, t_first_done, t_last_done, shortest, longest, p99;
	int a = channel(), i, waited;

	for (i = 0; i < P99_READS; i++)
		reader[i] = start_io(0, 'p');
	/* All queued first, so that they are claimed within a few ms. */
	for (waited = 0; proc_total("Queued") < P99_READS && waited < 20000; waited += 10)
		usleep(10 * 1000);
	check(proc_total("Queued") == P99_READS, "%d reads queued", P99_READS);
	t_first_fetch = now_ms();
	for (i = 0; i < P99_READS; i++)
		fetch_read(a, "A", &req[i]);
	t_last_fetch = now_ms();
	usleep(P99_HOLD_MS * 1000);
	t_first_done = now_ms();
	for (i = 0; i < P99_READS; i++)
		complete(a, &req[i], 0, memset(data, 'p', BLOCK), BLOCK, NULL);
	t_last_done = now_ms();
	p99 = detector_p99();
	for (i = 0; i < P99_READS; i++)
		wait_child(reader[i]);
	shortest = t_first_done - t_last_fetch;
	longest = t_last_done - t_first_fetch;
	/* One jiffy (4 ms at HZ 250, 10 at HZ 100) either way for rounding. */
	check(p99 >= shortest - 10 && p99 <= longest + longest / 8 + 10,
	      "p99 %lld ms for reads held %lld-%lld ms: within a sub-bucket above the longest (at most %lld)",
	      p99, shortest, longest, longest + longest / 8 + 10);
	close(a);
}

int main(int argc, char **argv)
{
	static const struct test_mode modes[] = {
		{ "idle-sibling", idle_sibling }, { "all-silent", all_silent },
		{ "p99-sub-buckets", p99_sub_buckets },
	};

	buf = malloc(ENBD_MAX_IO_BYTES);
	return test_modes_main(argc, argv, modes, sizeof(modes) / sizeof(modes[0]));
}
