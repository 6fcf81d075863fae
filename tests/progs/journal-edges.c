// SPDX-License-Identifier: GPL-2.0
/*
 * journal-edges: the journal's promises at its edges, driven directly through
 * /dev/enbd-control so each step is deterministic.  One behaviour per mode:
 *
 *  copy-fault      a completion whose READ data cannot be copied in (the
 *                  daemon's buffer faults, provoked with userfaultfd so the
 *                  copy fails exactly while its channel detaches or the
 *                  device shuts down) is rolled back or failed, never left
 *                  with a channel that is gone; a fetch whose request header
 *                  cannot be copied out is rolled back for another channel
 *  aged-reads-wake a READ aged on an already stalled channel wakes a fetcher
 *  aged-bound      a request whose claims keep outliving the aging time fails
 *                  after ENBD_MAX_AGED_CLAIMS of them, counted as "expired"
 *  awake-channel   a new request is left to a channel that fetched or
 *                  completed and has not looked at the queue since (it will
 *                  before it sleeps), not woken for in an idle one; should
 *                  that channel not come back, the idle one is woken soon
 *  errno-map       a daemon's errno reaches the reader only if it is one of
 *                  the few the block layer passes on as a plain failure;
 *                  anything else is EIO
 *
 * Prints TAP.  usage: journal-edges MODE INDEX
 *                     journal-edges --shutdown INDEX   (clean-up)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

static void *buf;
static char data[BLOCK];
static struct enbd_io io_scratch;

static int set_aging(uint32_t ms)
{
	struct enbd_policy p = {
		.size = sizeof(p), .flags = ENBD_POLICY_AGING, .index = dev_index,
		.aging_ms = ms, .token = TOKEN,
	};
	int fd = open_control(), rc;

	rc = ioctl(fd, ENBD_IOC_SET_POLICY, &p);
	close(fd);
	return rc;
}

static short poll_for(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, ms) == 1 ? p.revents : 0;
}

/* The child's exit status if it ends within @ms, else -1: still running. */
static int exit_within(pid_t pid, int ms)
{
	int status, waited;

	for (waited = 0; waited < ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10 * 1000);
	}
	return -1;
}

/* A request is stranded (the failure under test): fail it and stop. */
static void __attribute__((noreturn)) bail_out(const char *what)
{
	printf("Bail out! %s: shutting nd%u down to free the waiting reader\n", what, dev_index);
	shutdown_device();
	exit(1);
}

/* ---- copy-fault ------------------------------------------------------ */

/*
 * A page whose first touch blocks in userfaultfd until released: the
 * kernel's copy from it waits there, and fails once the page is unmapped.
 */
struct trap {
	int uffd;
	void *page;
};

static int trap_set(struct trap *t)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };

	t->uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (t->uffd < 0 || ioctl(t->uffd, UFFDIO_API, &api))
		return -1;
	t->page = mmap(NULL, BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->page == MAP_FAILED)
		return -1;
	reg.range.start = (uintptr_t)t->page;
	reg.range.len = BLOCK;
	return ioctl(t->uffd, UFFDIO_REGISTER, &reg);
}

/* Someone is blocked on the page (within 10 s). */
static int trap_sprung(struct trap *t)
{
	struct uffd_msg msg;

	if (!(poll_for(t->uffd, POLLIN, 10000) & POLLIN))
		return 0;
	return read(t->uffd, &msg, sizeof(msg)) == sizeof(msg) &&
	       msg.event == UFFD_EVENT_PAGEFAULT;
}

/* The blocked copy resumes and faults for good. */
static void trap_fail(struct trap *t)
{
	munmap(t->page, BLOCK);
	close(t->uffd);
}

struct completer {
	pthread_t thread;
	int fd;
	struct enbd_request req;
	void *data;
	int rc, err;
};

static void *completer_main(void *arg)
{
	struct completer *c = arg;

	c->rc = complete(c->fd, &c->req, 0, c->data, BLOCK, NULL);
	c->err = errno;
	return NULL;
}

/* Complete @req on @fd with READ data from a trapped page, in a thread. */
static int completer_start(struct completer *c, int fd, const struct enbd_request *req,
			   struct trap *t)
{
	if (trap_set(t))
		return -1;
	c->fd = fd;
	c->req = *req;
	c->data = t->page;
	return pthread_create(&c->thread, NULL, completer_main, c) ? -1 : 0;
}

static void completer_join(struct completer *c)
{
	pthread_join(c->thread, NULL);
	check(c->rc < 0 && c->err == EFAULT, "the completion fails with EFAULT (%s)",
	      c->rc < 0 ? strerror(c->err) : "succeeded");
}

static void *shutdown_main(void *arg)
{
	*(int *)arg = shutdown_device();
	return NULL;
}

static void copy_fault(void)
{
	int a = channel(), b = channel();
	struct enbd_io *ro_io;
	struct enbd_request req;
	struct completer c;
	pthread_t shutter;
	int rc = -1, status;
	struct trap t;
	pid_t child;

	/* The request header cannot reach the daemon: another channel gets it. */
	ro_io = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	child = start_io(0, 'h');
	memset(ro_io, 0, sizeof(*ro_io));
	ro_io->size = sizeof(*ro_io);
	ro_io->flags = ENBD_IO_FETCH;
	ro_io->data = (uintptr_t)buf;
	ro_io->data_capacity = ENBD_MAX_IO_BYTES;
	mprotect(ro_io, 4096, PROT_READ);
	expect_errno(ioctl(a, ENBD_IOC_IO, ro_io), EFAULT, "fetch into a read-only request header");
	expect_ok(fetch(b, buf, &io_scratch, 1), "another channel fetches the request at once");
	if (failures) {
		/* It stays claimed by A, which never learnt of it: A lets go. */
		ioctl(a, ENBD_IOC_DETACH);
		close(a);
		a = channel();
		fetch(b, buf, &io_scratch, 1);
	}
	complete(b, &io_scratch.req, 0, memset(data, 'h', BLOCK), BLOCK, NULL);
	check(wait_child(child) == 0, "the reader gets that channel's data");

	/* The copy of READ data fails while its channel detaches: rolled back. */
	child = start_io(0, 'd');
	expect_ok(fetch(a, buf, &io_scratch, 0), "A fetches a read");
	req = io_scratch.req;
	check(completer_start(&c, a, &req, &t) == 0, "A completes it from a trapped buffer");
	check(trap_sprung(&t), "the kernel's copy waits on the trapped page");
	expect_ok(ioctl(a, ENBD_IOC_DETACH), "A detaches meanwhile");
	trap_fail(&t);
	completer_join(&c);
	if (fetch(b, buf, &io_scratch, 1)) {
		check(0, "B fetches the read at once (%s)", strerror(errno));
		/* It stays with the detached A's slot: only aging frees it. */
		set_aging(1000);
		fetch(b, buf, &io_scratch, 0);
		set_aging(0);
	} else {
		check(1, "B fetches the read at once");
	}
	check(io_scratch.req.tag == req.tag && io_scratch.req.seq > req.seq, "same request, new claim");
	complete(b, &io_scratch.req, 0, memset(data, 'd', BLOCK), BLOCK, NULL);
	check(wait_child(child) == 0, "the reader gets B's data");
	close(a);

	/* The copy fails while the device shuts down: the request fails. */
	child = start_io(0, 's');
	expect_ok(fetch(b, buf, &io_scratch, 0), "B fetches a read");
	req = io_scratch.req;
	check(completer_start(&c, b, &req, &t) == 0, "B completes it from a trapped buffer");
	check(trap_sprung(&t), "the kernel's copy waits on the trapped page");
	/* In a thread: a shutdown may wait for requests being copied. */
	pthread_create(&shutter, NULL, shutdown_main, &rc);
	check(poll_for(b, POLLHUP, 10000) & POLLHUP, "the device shuts down meanwhile (POLLHUP)");
	trap_fail(&t);
	completer_join(&c);
	status = exit_within(child, 5000);
	if (status < 0) {
		check(0, "the reader is not left waiting");
		/* The request survived the shutdown: a second one ends it. */
		shutdown_device();
		status = wait_child(child);
	}
	check(status == 3, "its read failed");
	pthread_join(shutter, NULL);
	expect_ok(rc, "the shutdown");
	close(b);
}

/* ---- aged-reads-wake -------------------------------------------------- */

static void aged_reads_wake(void)
{
	int a = channel(), b = channel();
	struct enbd_request first, second;
	pid_t reader1, reader2, fetcher;
	int status;

	/* R1 ages at 4-5 s, R2 (claimed 3 s later) at 7-8 s: two passes. */
	expect_ok(set_aging(4000), "aging 4000 ms");
	reader1 = start_io(0, '1');
	expect_ok(fetch(a, buf, &io_scratch, 0), "A fetches a read (R1)");
	first = io_scratch.req;
	reader2 = start_io(0, '2');
	usleep(3000 * 1000);
	expect_ok(fetch(a, buf, &io_scratch, 0), "A fetches a second read (R2) 3 s later");
	second = io_scratch.req;
	expect_ok(fetch(b, buf, &io_scratch, 0), "B, waiting, is woken for R1 when it ages");
	check(io_scratch.req.tag == first.tag, "B got R1");
	complete(b, &io_scratch.req, 0, memset(data, '1', BLOCK), BLOCK, NULL);
	check(wait_child(reader1) == 0, "R1's reader gets B's data");
	if (fetch(b, buf, &io_scratch, 1) == 0) {
		/* Both aged in one pass (a very late pass): nothing to show. */
		check(1, "# SKIP R2 aged in the same pass as R1");
		complete(b, &io_scratch.req, 0, memset(data, '2', BLOCK), BLOCK, NULL);
		wait_child(reader2);
		close(a);
		close(b);
		return;
	}
	fflush(stdout);
	fetcher = fork();
	if (fetcher == 0) {
		/* B waits again; R2's ageing on the stalled A must wake it. */
		if (fetch(b, buf, &io_scratch, 0) || io_scratch.req.tag != second.tag)
			_exit(1);
		complete(b, &io_scratch.req, 0, memset(data, '2', BLOCK), BLOCK, NULL);
		_exit(0);
	}
	status = exit_within(fetcher, 8000);
	check(status == 0, "B is woken for R2 when it ages on the stalled A (%d)", status);
	if (status < 0) {
		kill(fetcher, SIGKILL);
		wait_child(fetcher);
		bail_out("R2 waits for a fetcher nobody woke");
	}
	check(wait_child(reader2) == 0, "R2's reader gets B's data");
	close(a);
	close(b);
}

/* ---- awake-channel ---------------------------------------------------- */

/* A process asleep in poll() for POLLIN on @fd: exits 0 if woken with it
 * within @ms, 1 if not. */
static pid_t start_watcher(int fd, int ms)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(poll_for(fd, POLLIN, ms) & POLLIN ? 0 : 1);
	return pid;
}

/* Whether @pid sleeps (state S) in poll(): the kernel then counts its channel idle. */
static int asleep_in_poll(pid_t pid)
{
	char path[64], line[256] = "", *state;
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f))
		nr = strtol(line, NULL, 10);
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f || !fgets(line, sizeof(line), f))
		line[0] = 0;
	if (f)
		fclose(f);
	state = strrchr(line, ')');
	return (nr == SYS_poll || nr == SYS_ppoll) && state && state[1] == ' ' && state[2] == 'S';
}

static int wait_asleep_in_poll(pid_t pid)
{
	int waited;

	for (waited = 0; waited < 5000 && !asleep_in_poll(pid); waited += 5)
		usleep(5 * 1000);
	return asleep_in_poll(pid);
}

/* The device's queue holds @n requests (within 5 s). */
static int wait_queued(long long n)
{
	int waited;

	for (waited = 0; waited < 5000 && proc_total("Queued") != n; waited++)
		usleep(1000);
	return proc_total("Queued") == n;
}

/* How often @pid went to sleep: each wake-up of its poll() adds one. */
static long sleeps(pid_t pid)
{
	char path[64], line[128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

/*
 * One try: B sleeps idle in poll(), A makes a non-blocking batch call (a
 * fetch finding nothing), then a read comes; A polls, sees it at once and
 * fetches it, and its data completes it.  Returns whether B's poll() was
 * left asleep meanwhile (a wake-up shows as one more sleep, whether or not
 * it still found the read).  A try can also miss by timing alone: the read
 * must come within ENBD_AWAKE_MS of A's call, which a loaded machine may
 * not manage.
 */
static int awake_try(int a, int b, char fill)
{
	int release, slept;
	pid_t reader = start_io_gated(0, fill, &release), watcher;
	long before;

	watcher = start_watcher(b, 10000);
	if (!wait_asleep_in_poll(watcher))
		bail_out("the watcher of B never slept in poll()");
	before = sleeps(watcher);
	fetch(a, buf, &io_scratch, 1);	/* nothing queued yet: A is awake */
	if (write(release, "", 1) != 1)
		bail_out("cannot release the reader");
	close(release);
	/* A looks at the queue only once the read is on it: A never went
	 * idle, so only B could have been woken for the read. */
	if (!wait_queued(1))
		bail_out("the read was not queued");
	if (!(poll_for(a, POLLIN, 5000) & POLLIN) || fetch(a, buf, &io_scratch, 1))
		bail_out("A, polling, was not given the read");
	complete(a, &io_scratch.req, 0, memset(data, fill, BLOCK), BLOCK, NULL);
	check(wait_child(reader) == 0, "the reader gets A's data");
	slept = wait_asleep_in_poll(watcher) && sleeps(watcher) == before;
	kill(watcher, SIGKILL);
	wait_child(watcher);
	return slept;
}

/* A try misses by timing alone when the read comes late (awake_try). */
#define AWAKE_TRIES	5

static void awake_channel(void)
{
	int a = channel(), b = channel(), release, slept = 0, tries;
	pid_t reader, watcher;

	/* Without the rule B is woken every time: tries cost no power. */
	for (tries = 0; tries < AWAKE_TRIES && !slept; tries++)
		slept = awake_try(a, b, (char)('a' + tries));
	check(slept, "a read that came just after A's batch call was left to A, B slept (%d of "
	      "%d tries)", tries, AWAKE_TRIES);

	/* A makes its call, then stops (never polls): B must get the read. */
	reader = start_io_gated(0, 'z', &release);
	watcher = start_watcher(b, 5000);
	if (!wait_asleep_in_poll(watcher))
		bail_out("the watcher of B never slept in poll()");
	fetch(a, buf, &io_scratch, 1);
	if (write(release, "", 1) != 1)
		bail_out("cannot release the reader");
	close(release);
	check(exit_within(watcher, 6000) == 0,
	      "A did not come back for the read: B is woken for it within 5 s");
	if (fetch(b, buf, &io_scratch, 1))
		bail_out("B could not fetch the read");
	complete(b, &io_scratch.req, 0, memset(data, 'z', BLOCK), BLOCK, NULL);
	check(wait_child(reader) == 0, "the reader gets B's data");
	close(a);
	close(b);
}

/* ---- aged-bound -------------------------------------------------------- */

static void aged_bound(void)
{
	struct enbd_request first = { 0 };
	int ch = channel(), status;
	long long expired = proc_journal("expired");
	unsigned int claim;
	pid_t reader;

	expect_ok(set_aging(1000), "aging 1000 ms");
	reader = start_io(0, 'b');
	for (claim = 1; claim <= ENBD_MAX_AGED_CLAIMS; claim++) {
		if (claim > 1)
			ch = channel();
		if (fetch(ch, buf, &io_scratch, 0)) {
			check(0, "claim %u: fetch (%s)", claim, strerror(errno));
			break;
		}
		if (claim == 1)
			first = io_scratch.req;
		check(io_scratch.req.tag == first.tag, "claim %u of the read", claim);
		check(poll_for(ch, POLLPRI, 10000) & POLLPRI, "claim %u ages: its channel stalls", claim);
		close(ch);
	}
	status = exit_within(reader, 5000);
	if (status < 0) {
		check(0, "after %u aged claims the read ends", ENBD_MAX_AGED_CLAIMS);
		bail_out("the read is resubmitted without end");
	}
	check(status == 3, "after %u aged claims the read fails", ENBD_MAX_AGED_CLAIMS);
	check(proc_journal("expired") == expired + 1, "/proc/nbdinfo counts it expired");
	expect_ok(set_aging(0), "aging back to the module's");
}

/* ---- errno-map --------------------------------------------------------- */

/* A child reading BLOCK bytes at 0 with O_DIRECT; exits with its errno. */
static pid_t start_errno_read(void)
{
	char path[32];
	pid_t pid;

	snprintf(path, sizeof(path), "/dev/" ENBD_DISK_PREFIX "%u", dev_index);
	pid = fork();
	if (pid == 0) {
		void *p;
		int fd = open(path, O_RDONLY | O_DIRECT);

		if (fd < 0 || posix_memalign(&p, BLOCK, BLOCK))
			_exit(200);
		_exit(pread(fd, p, BLOCK, 0) == BLOCK ? 0 : errno);
	}
	return pid;
}

static void errno_map(void)
{
	static const struct { int daemon, reader; } map[] = {
		{ EIO, EIO }, { ENOSPC, ENOSPC }, { EOPNOTSUPP, EOPNOTSUPP },
		{ ENODATA, ENODATA }, { ETIMEDOUT, ETIMEDOUT },
		{ EPERM, EIO }, { EROFS, EIO }, { EINVAL, EIO },
		/* Statuses that would ask for a retry or name another cause. */
		{ EAGAIN, EIO }, { ENOMEM, EIO }, { EBUSY, EIO }, { EREMCHG, EIO },
		{ ENOLINK, EIO }, { EREMOTEIO, EIO }, { EBADE, EIO }, { EILSEQ, EIO },
		{ EOVERFLOW, EIO }, { ETOOMANYREFS, EIO }, { ENODEV, EIO },
		{ 4095, EIO },
	};
	int ch = channel();
	unsigned int i;
	pid_t reader;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		int got;

		reader = start_errno_read();
		if (fetch(ch, buf, &io_scratch, 0)) {
			check(0, "fetch (%s)", strerror(errno));
			kill(reader, SIGKILL);
			break;
		}
		expect_ok(complete(ch, &io_scratch.req, -map[i].daemon, NULL, 0, NULL),
			  "completion with an error");
		got = wait_child(reader);
		check(got == map[i].reader, "daemon error %d (%s): the reader sees %s (got %s)",
		      -map[i].daemon, strerror(map[i].daemon), strerror(map[i].reader),
		      got == 0 ? "success" : strerror(got));
	}
	close(ch);
}

int main(int argc, char **argv)
{
	static const struct test_mode modes[] = {
		{ "copy-fault", copy_fault }, { "aged-reads-wake", aged_reads_wake },
		{ "aged-bound", aged_bound }, { "errno-map", errno_map },
		{ "awake-channel", awake_channel },
	};

	buf = malloc(ENBD_MAX_IO_BYTES);
	return test_modes_main(argc, argv, modes, sizeof(modes) / sizeof(modes[0]));
}
