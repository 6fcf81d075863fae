// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl-random: random calls of every ENBD ioctl - random sizes, flags, tags,
 * sequence numbers, tokens, indexes and pointers (bad, unmapped, read-only,
 * straddling a page end, kernel addresses) - interleaved with legitimate
 * attach, configure, fetch/complete, detach and shutdown so that queued,
 * claimed, stalled, failing and shut-down states are reached while processes
 * do I/O on the device.  Two root workers share their control files (so calls
 * race on one file); an unprivileged worker (uid nobody) makes calls on
 * inherited files, each of which must fail with EPERM (or ENOTTY).  Every
 * errno must be one the ABI documents.  Afterwards the device must still
 * serve a request.  Runs as root in the VM with the module loaded and device
 * @index unused; the harness checks the kernel log.  Prints TAP.
 *
 * usage: ioctl-random [-s SEED] [-n CALLS] [INDEX]
 *   CALLS (default 100000) are made by the root workers; the unprivileged
 *   one makes CALLS / 10 more.  The seed is printed; -s repeats a run.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

#define ROOT_WORKERS	2
#define IO_CHILDREN	3
#define NFDS		6
#define PAGE		4096
#define DEV_BYTES	(1u << 20)	/* legitimate configurations */
#define KERNEL_PTR	0xffff888000000000UL
/* Tokens presented without regard to the session; few, so the end can shut down. */
#define WILD_TOKEN	0x3a5f0000c0ffee00ULL
#define WILD_TOKENS	8

/* Shared by every process: what the device's session token is now. */
struct shared {
	uint64_t token;		/* last token a successful ATTACH presented */
	uint64_t next_fresh;	/* tokens never used yet start here */
	unsigned long errno_bad;	/* calls that failed with an undocumented errno */
	unsigned long unpriv_ok;	/* unprivileged calls that got past EPERM */
	unsigned long calls, ok;
	unsigned long ok_by_nr[9];	/* successful calls by command number */
	unsigned long fetched;		/* requests fetched by random calls */
	unsigned long joined, served;	/* legitimate: sessions joined, requests served */
};

static struct shared *sh;
static uint64_t rng;
static int fds[NFDS];
static unsigned char *region;	/* PAGE-aligned: [rw ... rw][ro][no access] */
static size_t region_rw;	/* bytes of the read-write part */
static unsigned char *ro_page, *hole;
static char *payload;		/* ENBD_MAX_IO_BYTES and an inaccessible page */

/* xorshift64*: the whole run follows from the seed. */
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static unsigned int below(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

static int one_in(unsigned int n)
{
	return below(n) == 0;
}

/* Recently fetched requests, so that completions can quote real claims. */
static struct enbd_request recent[16];
static unsigned int nrecent;

static void remember(const struct enbd_request *req)
{
	recent[nrecent++ % 16] = *req;
}

static const struct enbd_request *some_request(void)
{
	static const struct enbd_request none;

	return nrecent ? &recent[below(nrecent < 16 ? nrecent : 16)] : &none;
}

static uint32_t pick_u32(uint32_t good)
{
	switch (below(20)) {
	case 0: return 0;
	case 1: return good + 1;
	case 2: return good - 1;
	case 3: return 0xffffffffu;
	case 4: return (uint32_t)rnd();
	default: return good;
	}
}

static uint64_t pick_token(void)
{
	switch (below(6)) {
	case 0: return 0;
	case 1: return __atomic_add_fetch(&sh->next_fresh, 1, __ATOMIC_RELAXED);
	case 2: return WILD_TOKEN + below(WILD_TOKENS);
	default: return __atomic_load_n(&sh->token, __ATOMIC_RELAXED);
	}
}

static uint32_t pick_index(void)
{
	switch (below(8)) {
	case 0: return below(4);
	case 1: return ENBD_MAX_DEVICES + below(4);
	case 2: return (uint32_t)rnd();
	default: return dev_index;
	}
}

static uint32_t pick_flags(uint32_t all)
{
	return one_in(4) ? (uint32_t)rnd() : (uint32_t)rnd() & all;
}

/*
 * A payload buffer: mostly good, sometimes not.  Never any other memory of
 * ours: the kernel writes fetched payloads there.
 */
static uint64_t pick_buffer(void)
{
	switch (below(12)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return (uintptr_t)hole;
	case 3: return KERNEL_PTR + (rnd() & 0xffff000);
	case 4: return (uintptr_t)ro_page;
	case 5: /* a larger payload runs into the guard page */
		return (uintptr_t)payload + ENBD_MAX_IO_BYTES - PAGE * (1 + below(16));
	case 6: return rnd() | 1ULL << 63;
	default: return (uintptr_t)payload;
	}
}

/* Where the argument structure goes: mostly a good place, sometimes not. */
static void *pick_arg_place(size_t size)
{
	switch (below(32)) {
	case 0: return NULL;
	case 1: return (void *)1;
	case 2: return hole;
	case 3: return (void *)KERNEL_PTR;
	case 4: return ro_page + below(PAGE - size);	/* answers cannot get out */
	case 5: return ro_page - size / 2;	/* the answer may not get out */
	case 6: return hole - size / 2;		/* straddles the end of the mapping */
	default: return region + region_rw - PAGE + below(PAGE - size);
	}
}

/* Put the argument at @place, as far as it lies in our mapping. */
static void put_arg(unsigned char *place, const void *arg, size_t size)
{
	size_t i;

	if (place < region || place >= hole)
		return;
	mprotect(ro_page, PAGE, PROT_READ | PROT_WRITE);
	for (i = 0; i < size && place + i < hole; i++)
		place[i] = ((const unsigned char *)arg)[i];
	mprotect(ro_page, PAGE, PROT_READ);
}

static void fill_attach(struct enbd_attach *a)
{
	a->size = pick_u32(sizeof(*a));
	a->flags = pick_flags(ENBD_ATTACH_ALL);
	a->index = pick_index();
	a->channel = one_in(4) ? (uint32_t)rnd() : below(ENBD_MAX_CHANNELS);
	a->token = pick_token();
}

static void fill_config(struct enbd_config *c)
{
	static const uint64_t sizes[] = { DEV_BYTES, DEV_BYTES, DEV_BYTES, 64 << 20, 0, 511,
					  4095, 1ULL << 62, ~0ULL, 0x7fffffffffffffffULL };
	static const uint32_t blocks[] = { 512, 512, 1024, 4096, 0, 1000, 8192, 256 };

	c->size = pick_u32(sizeof(*c));
	c->flags = pick_flags(ENBD_CFG_ALL);
	c->bytes = one_in(8) ? rnd() : sizes[below(10)];
	c->block_size = one_in(8) ? (uint32_t)rnd() : blocks[below(8)];
	c->reserved = one_in(8) ? (uint32_t)rnd() : 0;
}

static void fill_io(struct enbd_io *io)
{
	const struct enbd_request *req = some_request();
	static const int32_t errors[] = { 0, 0, 0, -EIO, -ENOSPC, -EOPNOTSUPP, 1, -4096,
					  -4095, INT32_MIN };

	memset(io, 0, sizeof(*io));
	io->size = pick_u32(sizeof(*io));
	io->flags = pick_flags(ENBD_IO_ALL);
	/* A blocking fetch is allowed: the interval timer interrupts it. */
	io->done_seq = one_in(3) ? rnd() % 100000 : req->seq + (one_in(6) ? below(3) : 0);
	io->done_tag = one_in(4) ? (uint32_t)rnd() % 300 : req->tag;
	io->done_error = one_in(8) ? (int32_t)rnd() : errors[below(10)];
	io->done_length = one_in(4) ? pick_u32(req->length) : (io->done_error ? 0 : req->length);
	io->done_data = pick_buffer();
	io->data = pick_buffer();
	io->data_capacity = one_in(6) ? pick_u32(ENBD_MAX_IO_BYTES) : ENBD_MAX_IO_BYTES;
	io->reserved = one_in(10) ? (uint32_t)rnd() : 0;
	if (one_in(10))
		io->req.seq = rnd();	/* an "out" field filled in */
}

/* A batch array: where it belongs (@good), sometimes somewhere bad. */
static uint64_t pick_array(unsigned char *good, size_t size)
{
	switch (below(12)) {
	case 0: return 0;
	case 1: return (uintptr_t)hole - size / 2;
	case 2: return (uintptr_t)ro_page;
	case 3: return KERNEL_PTR;
	default: return (uintptr_t)good;
	}
}

/* The arrays live in the region's first page: completions, then fetches. */
#define BATCH_DONE	((struct enbd_done *)region)
#define BATCH_FETCH	((struct enbd_fetch *)(region + 1024))

static void fill_batch(struct enbd_batch *b)
{
	struct enbd_io io;
	unsigned int i;

	b->size = pick_u32(sizeof(*b));
	b->flags = pick_flags(ENBD_BATCH_ALL);
	b->magic = one_in(10) ? (uint32_t)rnd() : ENBD_BATCH_MAGIC;
	b->nr_done = one_in(10) ? pick_u32(ENBD_BATCH_MAX) : below(ENBD_BATCH_MAX + 1);
	b->nr_fetch = one_in(10) ? pick_u32(ENBD_BATCH_MAX) : below(ENBD_BATCH_MAX + 1);
	b->reserved = one_in(10) ? (uint32_t)rnd() : 0;
	/* Entries like those of ENBD_IOC_IO, and one past the limit. */
	for (i = 0; i <= ENBD_BATCH_MAX; i++) {
		fill_io(&io);
		BATCH_DONE[i] = (struct enbd_done){
			.seq = io.done_seq, .tag = io.done_tag, .error = io.done_error,
			.data = io.done_data, .length = io.done_length, .result = (int32_t)rnd(),
		};
		BATCH_FETCH[i] = (struct enbd_fetch){
			.data = io.data, .data_capacity = io.data_capacity, .reserved = io.reserved,
		};
	}
	b->done = pick_array(region, (ENBD_BATCH_MAX + 1) * sizeof(struct enbd_done));
	b->fetch = pick_array(region + 1024, (ENBD_BATCH_MAX + 1) * sizeof(struct enbd_fetch));
}

/* Remember what a successful batch at @place fetched. */
static void remember_batch(const void *place)
{
	struct enbd_batch b;
	unsigned int i;

	memcpy(&b, place, sizeof(b));
	for (i = 0; i < b.fetched && i < b.nr_fetch && i <= ENBD_BATCH_MAX; i++)
		remember(&BATCH_FETCH[i].req);
	__atomic_add_fetch(&sh->fetched, b.fetched, __ATOMIC_RELAXED);
}

static void fill_shutdown(struct enbd_shutdown *s)
{
	s->size = pick_u32(sizeof(*s));
	s->flags = one_in(6) ? (uint32_t)rnd() : 0;
	s->index = pick_index();
	s->reserved = one_in(6) ? (uint32_t)rnd() : 0;
	s->token = pick_token();
}

static void fill_policy(struct enbd_policy *p)
{
	static const uint32_t ms[] = { 0, 1, 200, 1000, 3600000, 3600001, 0xffffffffu };

	p->size = pick_u32(sizeof(*p));
	p->flags = pick_flags(ENBD_POLICY_ALL);
	p->index = pick_index();
	p->aging_ms = one_in(5) ? (uint32_t)rnd() : ms[below(7)];
	p->outage = one_in(5) ? (uint32_t)rnd() : below(3);
	p->outage_ms = one_in(5) ? (uint32_t)rnd() : ms[below(7)];
	p->token = pick_token();
	p->keepalive_s = one_in(5) ? (uint32_t)rnd() : below(ENBD_POLICY_MAX_KEEPALIVE_S + 2);
	p->readahead_kb = one_in(5) ? (uint32_t)rnd() : below(ENBD_POLICY_MAX_READAHEAD_KB + 2);
}

static void fill_event(struct enbd_event *e)
{
	e->size = pick_u32(sizeof(*e));
	e->flags = one_in(6) ? (uint32_t)rnd() : 0;
	e->event = one_in(4) ? (uint32_t)rnd() : ENBD_EVENT_KEEPALIVE;
	e->reserved = one_in(6) ? (uint32_t)rnd() : 0;
}

/* errnos the ABI documents for the calls (EINTR: the interval timer). */
static int documented(int err)
{
	switch (err) {
	case EINVAL: case EFAULT: case ENXIO: case EISCONN: case ENOTCONN:
	case EACCES: case EBUSY: case ESHUTDOWN: case EAGAIN: case EINTR:
	case ENOTTY: case ENOLINK: case EPERM:
		return 1;
	default:
		return 0;
	}
}

static void note_result(unsigned long cmd, const void *arg, int rc, int err, int privileged)
{
	__atomic_add_fetch(&sh->calls, 1, __ATOMIC_RELAXED);
	if (rc == 0)
		__atomic_add_fetch(&sh->ok, 1, __ATOMIC_RELAXED);
	if (!privileged) {
		if (rc == 0 || (err != EPERM && err != ENOTTY)) {
			__atomic_add_fetch(&sh->unpriv_ok, 1, __ATOMIC_RELAXED);
			printf("# unprivileged call %#lx: %s\n", cmd, rc ? strerror(err) : "succeeded");
		}
		return;
	}
	if (rc && !documented(err)) {
		__atomic_add_fetch(&sh->errno_bad, 1, __ATOMIC_RELAXED);
		printf("# call %#lx failed with undocumented %s\n", cmd, strerror(err));
	}
	if (rc == 0 && _IOC_TYPE(cmd) == ENBD_IOC_MAGIC && _IOC_NR(cmd) < 9)
		__atomic_add_fetch(&sh->ok_by_nr[_IOC_NR(cmd)], 1, __ATOMIC_RELAXED);
	if (rc == 0 && cmd == ENBD_IOC_ATTACH &&
	    ((const struct enbd_attach *)arg)->index == dev_index)
		__atomic_store_n(&sh->token, ((const struct enbd_attach *)arg)->token, __ATOMIC_RELAXED);
}

/* Replace our copy of fds[@i] by a new file. */
static void reopen(int i)
{
	close(fds[i]);
	fds[i] = open_control();
}

/*
 * After a shutdown the next session needs a new token.  (Files attached in
 * the old one are replaced when they get ESHUTDOWN.)
 */
static void session_over(void)
{
	__atomic_store_n(&sh->token, __atomic_add_fetch(&sh->next_fresh, 1, __ATOMIC_RELAXED),
			 __ATOMIC_RELAXED);
}

/* One random call on a random file of ours. */
static void random_call(int privileged)
{
	union {
		struct enbd_attach a;
		struct enbd_config c;
		struct enbd_io io;
		struct enbd_shutdown s;
		struct enbd_policy p;
		struct enbd_event e;
		struct enbd_batch b;
		unsigned char raw[256];
	} arg;
	static const unsigned long cmds[] = {
		ENBD_IOC_ATTACH, ENBD_IOC_CONFIGURE, ENBD_IOC_IO, ENBD_IOC_IO, ENBD_IOC_IO,
		ENBD_IOC_DETACH, ENBD_IOC_SHUTDOWN, ENBD_IOC_SET_POLICY, ENBD_IOC_EVENT,
		ENBD_IOC_BATCH, ENBD_IOC_BATCH,
	};
	unsigned long cmd;
	size_t size = sizeof(arg.raw);
	void *place;
	unsigned int i, f = below(NFDS);
	int fd = fds[f], rc, err;

	if (one_in(10)) {
		cmd = _IOC(below(4), one_in(8) ? below(256) : ENBD_IOC_MAGIC, below(16), below(300));
		for (i = 0; i < sizeof(arg.raw); i++)
			arg.raw[i] = (unsigned char)rnd();
	} else {
		cmd = cmds[below(sizeof(cmds) / sizeof(cmds[0]))];
		/* Sessions must last a while to get anywhere. */
		if (cmd == ENBD_IOC_SHUTDOWN && !one_in(8))
			cmd = ENBD_IOC_IO;
		memset(&arg, 0, sizeof(arg));
		switch (_IOC_NR(cmd)) {
		case 1: fill_attach(&arg.a); size = sizeof(arg.a); break;
		case 2: fill_config(&arg.c); size = sizeof(arg.c); break;
		case 3: fill_io(&arg.io); size = sizeof(arg.io); break;
		case 5: fill_shutdown(&arg.s); size = sizeof(arg.s); break;
		case 6: fill_policy(&arg.p); size = sizeof(arg.p); break;
		case 7: fill_event(&arg.e); size = sizeof(arg.e); break;
		case 8: fill_batch(&arg.b); size = sizeof(arg.b); break;
		default: break;
		}
	}
	place = pick_arg_place(size);
	put_arg(place, &arg, size);
	rc = ioctl(fd, cmd, place);
	err = errno;
	if (rc == 0 && cmd == ENBD_IOC_IO && (arg.io.flags & ENBD_IO_FETCH)) {
		remember(&((struct enbd_io *)place)->req);
		__atomic_add_fetch(&sh->fetched, 1, __ATOMIC_RELAXED);
	}
	if (rc == 0 && cmd == ENBD_IOC_BATCH)
		remember_batch(place);
	note_result(cmd, &arg, rc, err, privileged);
	if (privileged && rc == 0 && cmd == ENBD_IOC_SHUTDOWN && arg.s.index == dev_index)
		session_over();
	else if (privileged && rc && err == ESHUTDOWN && one_in(4))
		reopen(f);
}

/* Legitimate steps, so that the random calls find the device in every state. */
/* Shut the device down, whichever token the run left it with. */
static int shut_down_any(void)
{
	struct enbd_shutdown s = { .size = sizeof(s), .index = dev_index, .token = sh->token };
	int fd = open_control(), rc;
	uint64_t t;

	rc = ioctl(fd, ENBD_IOC_SHUTDOWN, &s);
	for (t = WILD_TOKEN; rc && t < WILD_TOKEN + WILD_TOKENS; t++) {
		s.token = t;
		rc = ioctl(fd, ENBD_IOC_SHUTDOWN, &s);
	}
	for (t = TOKEN; rc && t <= sh->next_fresh; t++) {
		s.token = t;
		rc = ioctl(fd, ENBD_IOC_SHUTDOWN, &s);
	}
	close(fd);
	return rc;
}

/* Attach @f to the device's session (a new one if that is over) and configure it. */
static int join_session(unsigned int f)
{
	struct enbd_config c = { .size = sizeof(c), .bytes = DEV_BYTES, .block_size = 512,
				 .flags = one_in(5) ? ENBD_CFG_READ_ONLY :
					  ENBD_CFG_FLUSH | ENBD_CFG_TRIM | ENBD_CFG_WRITE_ZEROES };
	uint64_t token = __atomic_load_n(&sh->token, __ATOMIC_RELAXED);
	int rc = attach(fds[f], dev_index, token);

	if (rc && errno == ESHUTDOWN) {
		/* The file was attached to a session now over: a new file. */
		reopen(f);
		rc = attach(fds[f], dev_index, token);
	}
	if (rc && errno == ESHUTDOWN) {
		/* The token's session is over: start a new one. */
		token = __atomic_add_fetch(&sh->next_fresh, 1, __ATOMIC_RELAXED);
		rc = attach(fds[f], dev_index, token);
	}
	if (rc == 0)
		__atomic_store_n(&sh->token, token, __ATOMIC_RELAXED);
	else if (errno == EACCES && one_in(4) && shut_down_any() == 0)
		session_over();	/* the workers lost track of the token: start afresh */
	if (rc && errno != EISCONN)
		return -1;
	if (ioctl(fds[f], ENBD_IOC_CONFIGURE, &c) == 0 || errno == EBUSY)
		return 0;
	if (errno == ESHUTDOWN)
		reopen(f);	/* ejected */
	return -1;
}

/* Legitimate steps, so that the random calls find the device in every state. */
static void legit_step(void)
{
	unsigned int f = below(NFDS);
	uint64_t token = __atomic_load_n(&sh->token, __ATOMIC_RELAXED);
	struct enbd_io io;

	switch (below(12)) {
	case 0: case 1: case 2: case 3: case 4: case 5:
		/* Serve what is queued, correctly. */
		if (join_session(f))
			break;
		__atomic_add_fetch(&sh->joined, 1, __ATOMIC_RELAXED);
		while (fetch(fds[f], payload, &io, 1) == 0) {
			__atomic_add_fetch(&sh->served, 1, __ATOMIC_RELAXED);
			remember(&io.req);
			if (one_in(8))
				break;	/* leave it claimed, for aging or a detach */
			complete(fds[f], &io.req, 0, payload,
				 io.req.type == ENBD_CMD_READ ? io.req.length : 0, NULL);
		}
		break;
	case 6:
		ioctl(fds[f], ENBD_IOC_DETACH);
		break;
	case 7: {
		struct enbd_policy p = { .size = sizeof(p), .index = dev_index, .token = token,
					 .flags = ENBD_POLICY_ALL, .aging_ms = 200 + below(1000),
					 .outage = below(2), .outage_ms = below(300) };

		ioctl(fds[f], ENBD_IOC_SET_POLICY, &p);
		break;
	}
	case 8:
		if (one_in(10)) {
			struct enbd_shutdown s = { .size = sizeof(s), .index = dev_index, .token = token };

			if (ioctl(fds[f], ENBD_IOC_SHUTDOWN, &s) == 0)
				session_over();
		}
		break;
	case 9:
		reopen(f);	/* its channel, if any, is released */
		break;
	default:
		break;
	}
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Interrupt any call that blocks (a fetch with nothing queued) after a while. */
static void start_interval_timer(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval it = { { 0, 20000 }, { 0, 20000 } };

	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

static void worker(unsigned long calls, uint64_t seed, int privileged)
{
	unsigned long i;

	rng = seed;
	start_interval_timer();
	if (!privileged) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(2);
		if (open(ENBD_CONTROL_PATH, O_RDWR) >= 0 || errno != EACCES)
			__atomic_add_fetch(&sh->unpriv_ok, 1, __ATOMIC_RELAXED);
	}
	for (i = 0; i < calls; i++) {
		random_call(privileged);
		if (privileged && one_in(4))
			legit_step();
	}
	_exit(0);
}

/* Reads and writes on the device, so that requests are queued and claimed. */
static void io_child(uint64_t seed)
{
	char path[32];
	void *buf;
	int fd;

	rng = seed;
	snprintf(path, sizeof(path), "/dev/" ENBD_DISK_PREFIX "%u", dev_index);
	if (posix_memalign(&buf, PAGE, 64 << 10))
		_exit(2);
	memset(buf, 'x', 64 << 10);
	for (;;) {
		size_t len = (1 + below(16)) * PAGE;
		off_t off = (off_t)below(DEV_BYTES / PAGE - 16) * PAGE;
		struct timespec pause = { 0, 2 * 1000 * 1000 };
		ssize_t n;

		fd = open(path, O_RDWR | O_DIRECT);
		if (fd < 0)
			fd = open(path, O_RDONLY | O_DIRECT);
		n = fd < 0 ? -1 : one_in(2) ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
		if (fd >= 0 && one_in(8))
			fsync(fd);
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			nanosleep(&pause, NULL);
	}
}

static pid_t spawn(void (*fn)(unsigned long, uint64_t, int), unsigned long calls, uint64_t seed,
		   int privileged)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		fn(calls, seed, privileged);
	return pid;
}

static void set_up_memory(void)
{
	region_rw = 2 * PAGE;
	region = mmap(NULL, region_rw + 2 * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro_page = region + region_rw;
	hole = ro_page + PAGE;
	mprotect(ro_page, PAGE, PROT_READ);
	/* Not unmapped: a later mapping (ours, glibc's) could take its place. */
	mprotect(hole, PAGE, PROT_NONE);
	payload = mmap(NULL, ENBD_MAX_IO_BYTES + PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(payload + ENBD_MAX_IO_BYTES, PAGE, PROT_NONE);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED || payload == MAP_FAILED || sh == MAP_FAILED) {
		printf("Bail out! mmap: %s\n", strerror(errno));
		exit(1);
	}
}

/* After the storm a new session still serves a read. */
static void still_serves(void)
{
	uint64_t token = ++sh->next_fresh;
	struct enbd_config c = { .size = sizeof(c), .bytes = DEV_BYTES, .block_size = 512 };
	int fd = open_control();
	struct enbd_io io;
	unsigned int served = 0;
	int status = -1;
	pid_t reader;

	expect_ok(attach(fd, dev_index, token), "a new session attaches after the random calls");
	expect_ok(ioctl(fd, ENBD_IOC_CONFIGURE, &c), "and configures the device");
	reader = start_io(0, 'z');
	/* Serve everything (a partition scan may read too) until the reader is done. */
	memset(payload, 'z', ENBD_MAX_IO_BYTES);
	while (waitpid(reader, &status, WNOHANG) == 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 50) <= 0)
			continue;
		while (fetch(fd, payload, &io, 1) == 0) {
			served += io.req.type == ENBD_CMD_READ;
			complete(fd, &io.req, 0, payload,
				 io.req.type == ENBD_CMD_READ ? io.req.length : 0, NULL);
		}
	}
	check(served > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "its reads are served (%u), the reader got the data (status %#x)", served, status);
	{
		struct enbd_shutdown s = { .size = sizeof(s), .index = dev_index, .token = token };

		expect_ok(ioctl(fd, ENBD_IOC_SHUTDOWN, &s), "and the session shuts down");
	}
	close(fd);
}

int main(int argc, char **argv)
{
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	unsigned long calls = 100000;
	pid_t workers[ROOT_WORKERS + 1], io[IO_CHILDREN];
	struct timespec t0, t1;
	int opt, i, status;

	while ((opt = getopt(argc, argv, "s:n:")) != -1) {
		if (opt == 's')
			seed = strtoull(optarg, NULL, 0);
		else if (opt == 'n')
			calls = strtoul(optarg, NULL, 0);
		else
			return 2;
	}
	dev_index = optind < argc ? (unsigned int)atoi(argv[optind]) : 0;
	printf("# seed %llu (repeat with -s %llu -n %lu %u)\n", (unsigned long long)seed,
	       (unsigned long long)seed, calls, dev_index);
	signal(SIGPIPE, SIG_IGN);
	set_up_memory();
	sh->token = TOKEN;
	sh->next_fresh = TOKEN;
	for (i = 0; i < NFDS; i++)
		fds[i] = open_control();

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < IO_CHILDREN; i++) {
		fflush(stdout);
		io[i] = fork();
		if (io[i] == 0)
			io_child(seed * 7 + i);
	}
	for (i = 0; i < ROOT_WORKERS; i++)
		workers[i] = spawn(worker, calls / ROOT_WORKERS, seed + i, 1);
	workers[ROOT_WORKERS] = spawn(worker, calls / 10, seed + 99, 0);
	for (i = 0; i <= ROOT_WORKERS; i++) {
		int rc = wait_child(workers[i]);

		check(rc == 0, "worker %d (%s) finished (status %d)", i,
		      i < ROOT_WORKERS ? "root" : "nobody", rc);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	/* Fail what the I/O children wait for, then stop them. */
	check(shut_down_any() == 0, "the device shuts down after the random calls");
	for (i = 0; i < IO_CHILDREN; i++)
		kill(io[i], SIGKILL);
	for (i = 0; i < IO_CHILDREN; i++)
		waitpid(io[i], &status, 0);
	for (i = 0; i < NFDS; i++)
		close(fds[i]);

	printf("# %lu calls (%lu succeeded) in %.1f s\n", sh->calls, sh->ok,
	       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf("# succeeded: %lu attach, %lu configure, %lu io, %lu batch (%lu fetches), "
	       "%lu detach, %lu shutdown, %lu policy, %lu event\n", sh->ok_by_nr[1],
	       sh->ok_by_nr[2], sh->ok_by_nr[3], sh->ok_by_nr[8], sh->fetched, sh->ok_by_nr[4],
	       sh->ok_by_nr[5], sh->ok_by_nr[6], sh->ok_by_nr[7]);
	printf("# legitimate steps: %lu joined a session, %lu requests served\n", sh->joined,
	       sh->served);
	check(sh->calls >= calls + calls / 10, "%lu random calls made", sh->calls);
	check(sh->errno_bad == 0, "every failure had a documented errno (%lu did not)", sh->errno_bad);
	check(sh->unpriv_ok == 0, "every unprivileged call failed with EPERM (%lu did not)",
	      sh->unpriv_ok);
	still_serves();
	printf("1..%u\n", test_number);
	return failures ? 1 : 0;
}
