// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl-hostile: throw bad arguments at /dev/enbd-control and check that each
 * gets the documented errno, that requests survive every failed call, and
 * that a second completion is discarded and counted.  Runs as root in the VM
 * with the module loaded and device @index unused.  Prints TAP.
 *
 * usage: ioctl-hostile [INDEX]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

static void argument_checks(void)
{
	int fd = open_control(), fd2;
	struct enbd_attach a;
	struct enbd_config cfg;
	struct enbd_io io;
	char buf[16];
	pid_t child;

	expect_errno(ioctl(fd, _IOW(0x12, 1, int), buf), ENOTTY, "foreign magic");
	expect_errno(ioctl(fd, _IO(ENBD_IOC_MAGIC, 99)), ENOTTY, "unknown command");
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a) - 1;
	expect_errno(ioctl(fd, ENBD_IOC_ATTACH, &a), EINVAL, "attach with short size");
	a.size = sizeof(a) + 8;
	expect_errno(ioctl(fd, ENBD_IOC_ATTACH, &a), EINVAL, "attach with long size");
	a.size = sizeof(a);
	a.flags = 0x80;
	expect_errno(ioctl(fd, ENBD_IOC_ATTACH, &a), EINVAL, "attach with unknown flags");
	a.flags = 0;
	a.index = ENBD_MAX_DEVICES + 5;
	expect_errno(ioctl(fd, ENBD_IOC_ATTACH, &a), ENXIO, "attach to a missing device");
	expect_errno(ioctl(fd, ENBD_IOC_ATTACH, NULL), EFAULT, "attach with NULL");
	expect_errno(ioctl(fd, ENBD_IOC_ATTACH, (void *)1), EFAULT, "attach with pointer 1");
	expect_errno(ioctl(fd, ENBD_IOC_ATTACH, (void *)0xffff888000000000UL), EFAULT,
		     "attach with a kernel pointer");

	memset(&io, 0, sizeof(io));
	io.size = sizeof(io);
	io.flags = ENBD_IO_COMPLETE;
	io.done_seq = 1;
	expect_errno(ioctl(fd, ENBD_IOC_IO, &io), ENOTCONN, "complete on a non-attached fd");
	memset(&cfg, 0, sizeof(cfg));
	cfg.size = sizeof(cfg);
	cfg.bytes = 1 << 20;
	cfg.block_size = 512;
	expect_errno(ioctl(fd, ENBD_IOC_CONFIGURE, &cfg), ENOTCONN, "configure on a non-attached fd");
	expect_errno(ioctl(fd, ENBD_IOC_DETACH), ENOTCONN, "detach on a non-attached fd");
	{
		struct pollfd p = { .fd = fd, .events = POLLIN };

		check(poll(&p, 1, 0) == 1 && (p.revents & POLLERR),
		      "poll on a non-attached fd reports POLLERR");
	}
	cfg.block_size = 1000;
	expect_errno(ioctl(fd, ENBD_IOC_CONFIGURE, &cfg), EINVAL, "block size 1000");
	cfg.block_size = 512;
	cfg.flags = 1u << 30;
	expect_errno(ioctl(fd, ENBD_IOC_CONFIGURE, &cfg), EINVAL, "unknown config flag");

	/* Unprivileged caller, with the file already open. */
	fflush(stdout);
	child = fork();
	if (child == 0) {
		if (setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		a.index = dev_index;
		_exit(ioctl(fd, ENBD_IOC_ATTACH, &a) < 0 && errno == EPERM ? 0 : 1);
	}
	check(wait_child(child) == 0, "attach without CAP_SYS_ADMIN -> EPERM");

	expect_ok(attach(fd, dev_index, TOKEN), "attach with a token");
	expect_errno(attach(fd, dev_index, TOKEN), EISCONN, "second attach of one fd");
	fd2 = open_control();
	expect_errno(attach(fd2, dev_index, TOKEN + 1), EACCES, "attach with the wrong token");
	expect_errno(attach(fd2, dev_index, 0), EACCES, "attach without the token");
	close(fd2);
	expect_ok(ioctl(fd, ENBD_IOC_DETACH), "detach");
	expect_errno(ioctl(fd, ENBD_IOC_DETACH), ENOTCONN, "second detach");
	close(fd);
}

/* Pointer to an unmapped page. */
static void *unmapped_page(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	munmap(p, 4096);
	return p;
}

static void request_checks(void)
{
	int fd = open_control(), other = open_control(), stranger = open_control();
	struct enbd_config cfg = { .size = sizeof(cfg), .bytes = 64 << 20, .block_size = 512 };
	struct enbd_request req, first;
	void *buf = malloc(ENBD_MAX_IO_BYTES);
	char *data = malloc(BLOCK);
	struct enbd_io io;
	uint32_t result;
	int rc;
	pid_t child;

	expect_ok(attach(fd, dev_index, TOKEN), "attach channel 0");
	expect_ok(attach(other, dev_index, TOKEN), "attach channel 1");
	expect_ok(ioctl(fd, ENBD_IOC_CONFIGURE, &cfg), "configure 64 MiB");
	cfg.bytes = 32 << 20;
	expect_errno(ioctl(other, ENBD_IOC_CONFIGURE, &cfg), EBUSY,
		     "a second channel presenting another size");
	expect_errno(fetch(fd, buf, &io, 1), EAGAIN, "non-blocking fetch with nothing queued");

	/* A read: bad completions first, each leaving it outstanding. */
	child = start_io(0, 'r');
	expect_ok(fetch(fd, buf, &io, 0), "blocking fetch of a read");
	req = io.req;
	check(req.type == ENBD_CMD_READ && req.length == BLOCK && req.offset == 0,
	      "fetched READ 0+%u (type %u)", req.length, req.type);
	memset(data, 'r', BLOCK);
	{
		struct enbd_request bad = req;

		bad.tag = 100000;
		expect_errno(complete(fd, &bad, 0, data, BLOCK, NULL), EINVAL, "completion with tag out of range");
		bad = req;
		bad.seq = req.seq + 1000;
		expect_errno(complete(fd, &bad, 0, data, BLOCK, NULL), EINVAL, "completion quoting a seq never issued");
		bad.seq = 0;
		expect_errno(complete(fd, &bad, 0, data, BLOCK, NULL), EINVAL, "completion quoting seq 0");
	}
	expect_errno(complete(fd, &req, 0, data, BLOCK - 1, NULL), EINVAL, "read completion with the wrong length");
	expect_errno(complete(fd, &req, 1, NULL, 0, NULL), EINVAL, "positive error value");
	expect_errno(complete(fd, &req, 0, unmapped_page(), BLOCK, NULL), EFAULT, "read data at an unmapped address");
	expect_errno(complete(fd, &req, 0, (void *)0xffff888000000000UL, BLOCK, NULL), EFAULT,
		     "read data at a kernel address");
	expect_errno(complete(stranger, &req, 0, data, BLOCK, NULL), ENOTCONN, "completion from a non-attached fd");
	rc = complete(other, &req, 0, data, BLOCK, &result);
	check(rc == 0 && result == ENBD_DONE_DISCARDED,
	      "completion by a channel that does not own it is discarded (result %u)", result);
	rc = complete(fd, &req, 0, data, BLOCK, &result);
	check(rc == 0 && result == ENBD_DONE_ACCEPTED,
	      "the owner's completion is accepted (result %u)", result);
	check(wait_child(child) == 0, "the reader got the data");
	rc = complete(fd, &req, 0, data, BLOCK, &result);
	check(rc == 0 && result == ENBD_DONE_DISCARDED,
	      "a second completion is discarded silently (result %u)", result);

	/* A write whose payload cannot be copied out goes back on the queue. */
	child = start_io(1, 'w');
	expect_errno(fetch(fd, unmapped_page(), &io, 0), EFAULT, "fetch of a write into an unmapped buffer");
	expect_ok(fetch(other, buf, &io, 0), "another channel fetches the rolled-back write");
	first = io.req;
	check(first.type == ENBD_CMD_WRITE && ((char *)buf)[BLOCK - 1] == 'w',
	      "its payload arrives intact");
	/* Channel 1 detaches: its write goes back to the queue for channel 0. */
	expect_ok(ioctl(other, ENBD_IOC_DETACH), "detach channel 1 with a write outstanding");
	expect_ok(fetch(fd, buf, &io, 1), "channel 0 fetches the write again");
	check(io.req.tag == first.tag && io.req.seq > first.seq,
	      "same request, new claim (seq %llu > %llu)",
	      (unsigned long long)io.req.seq, (unsigned long long)first.seq);
	req = io.req;
	rc = complete(fd, &first, 0, NULL, 0, &result);
	check(rc == 0 && result == ENBD_DONE_DISCARDED,
	      "completion quoting the old claim is discarded");
	/* Complete with an error: the writer sees EIO. */
	rc = complete(fd, &req, -EIO, NULL, 0, &result);
	check(rc == 0 && result == ENBD_DONE_ACCEPTED,
	      "completion with -EIO accepted");
	check(wait_child(child) == 3, "the writer saw the error");

	/* Combined complete + fetch. */
	child = start_io(0, 'c');
	expect_ok(fetch(fd, buf, &io, 0), "fetch a read");
	req = io.req;
	{
		struct enbd_io both = {
			.size = sizeof(both), .flags = ENBD_IO_COMPLETE | ENBD_IO_FETCH | ENBD_IO_NONBLOCK,
			.done_seq = req.seq, .done_tag = req.tag,
			.done_data = (uintptr_t)memset(data, 'c', BLOCK), .done_length = BLOCK,
			.data = (uintptr_t)buf, .data_capacity = ENBD_MAX_IO_BYTES,
		};
		int rc = ioctl(fd, ENBD_IOC_IO, &both);

		check(rc < 0 && errno == EAGAIN && both.done_result == ENBD_DONE_ACCEPTED,
		      "complete+fetch completes, then finds nothing (EAGAIN)");
	}
	check(wait_child(child) == 0, "the reader got the combined completion's data");

	check(proc_journal("discarded") == 3, "/proc/nbdinfo counts the 3 discarded completions (%lld)",
	      proc_journal("discarded"));

	/* Shutdown: token checked, outstanding request failed, channel ejected. */
	child = start_io(0, 'x');
	expect_ok(fetch(fd, buf, &io, 0), "fetch a read before shutdown");
	{
		struct enbd_shutdown sd = { .size = sizeof(sd), .index = dev_index, .token = TOKEN + 1 };
		struct pollfd p = { .fd = fd, .events = POLLIN };

		expect_errno(ioctl(stranger, ENBD_IOC_SHUTDOWN, &sd), EACCES, "shutdown with the wrong token");
		sd.token = TOKEN;
		expect_ok(ioctl(stranger, ENBD_IOC_SHUTDOWN, &sd), "shutdown with the token");
		check(wait_child(child) == 3, "the outstanding read failed");
		check(poll(&p, 1, 1000) == 1 && (p.revents & POLLHUP), "ejected channel polls POLLHUP");
		expect_errno(fetch(fd, buf, &io, 1), ESHUTDOWN, "fetch on an ejected channel");
	}
	close(fd);
	close(other);
	close(stranger);
	free(buf);
	free(data);
}

/* The text after "[N] NAME:" in /proc/nbdinfo, or "" if there is none. */
static const char *proc_line(const char *name)
{
	static char line[512];
	char prefix[48];
	FILE *f = fopen("/proc/nbdinfo", "r");
	const char *found = "";

	snprintf(prefix, sizeof(prefix), "[%u] %s:", dev_index, name);
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, prefix, strlen(prefix))) {
			found = line + strlen(prefix);
			break;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* Milliseconds of the outage /proc/nbdinfo reports, -1 if none. */
static long outage_ms(void)
{
	const char *p = strstr(proc_line("Policy"), "no channel for ");

	return p ? strtol(p + strlen("no channel for "), NULL, 10) : -1;
}

static int set_outage_fail(int fd, uint64_t token)
{
	struct enbd_policy pol = {
		.size = sizeof(pol), .flags = ENBD_POLICY_OUTAGE, .index = dev_index,
		.outage = ENBD_OUTAGE_FAIL, .outage_ms = 0, .token = token,
	};

	return ioctl(fd, ENBD_IOC_SET_POLICY, &pol);
}

static int shutdown_dev(int fd, uint64_t token)
{
	struct enbd_shutdown sd = { .size = sizeof(sd), .index = dev_index, .token = token };

	return ioctl(fd, ENBD_IOC_SHUTDOWN, &sd);
}

/*
 * An ATTACH that fails after it found a slot - here because the slot number
 * cannot be written back - leaves nothing behind: no counter, no slot, no
 * change to the outage.
 */
static void attach_unwind_checks(void)
{
	const uint64_t token = TOKEN + 1;
	struct enbd_config cfg = { .size = sizeof(cfg), .bytes = 1 << 20, .block_size = 512 };
	int fd = open_control(), other = open_control();
	struct enbd_attach *ro;
	long long reconnects, restarts;
	struct timespec pause = { 0, 300 * 1000 * 1000 };
	long before;

	expect_ok(attach(fd, dev_index, token), "attach to a new session");
	expect_ok(ioctl(fd, ENBD_IOC_CONFIGURE, &cfg), "configure it");
	expect_ok(set_outage_fail(fd, token), "outage policy: fail at once");
	expect_ok(ioctl(fd, ENBD_IOC_DETACH), "detach: the outage starts");
	check(strstr(proc_line("State"), "failing") != NULL, "the device fails I/O (%s)",
	      proc_line("State"));
	nanosleep(&pause, NULL);
	reconnects = proc_total("Reconnects");
	restarts = proc_total("Restarts");
	before = outage_ms();

	/* Readable, so the arguments get in; read-only, so the answer cannot get out. */
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	*ro = (struct enbd_attach){ .size = sizeof(*ro), .index = dev_index, .token = token };
	mprotect(ro, 4096, PROT_READ);
	expect_errno(ioctl(fd, ENBD_IOC_ATTACH, ro), EFAULT, "attach whose slot number cannot be written back");
	expect_errno(ioctl(other, ENBD_IOC_ATTACH, ro), EFAULT, "the same from another file");
	munmap(ro, 4096);
	check(proc_total("Reconnects") == reconnects && proc_total("Restarts") == restarts,
	      "no reconnect or restart counted (%lld, %lld)", proc_total("Reconnects"),
	      proc_total("Restarts"));
	check(strstr(proc_line("State"), "failing") != NULL, "the device still fails I/O");
	check(outage_ms() >= before && before >= 300,
	      "the outage goes on: %ld ms, was %ld ms", outage_ms(), before);
	expect_ok(attach(other, dev_index, token), "a good attach after them");
	expect_ok(shutdown_dev(other, token), "shut the session down");
	close(fd);
	close(other);
}

/*
 * A daemon reconnecting when its session was shut down gets ESHUTDOWN - on
 * the file it used, or presenting the session's token - and does not open the
 * device again.  A new session needs a new token (or, without one, a new file).
 */
static void shutdown_stays_shut_checks(void)
{
	const uint64_t old = TOKEN + 2, fresh = TOKEN + 3;
	struct enbd_config cfg = { .size = sizeof(cfg), .bytes = 1 << 20, .block_size = 512 };
	int serving = open_control(), reconnecting = open_control(), restarted = open_control();
	int newcomer = open_control(), tokenless = open_control(), stale = open_control();

	expect_ok(attach(serving, dev_index, old), "session 1: a channel attaches");
	expect_ok(ioctl(serving, ENBD_IOC_CONFIGURE, &cfg), "session 1: configured");
	expect_ok(attach(reconnecting, dev_index, old), "session 1: a second channel");
	expect_ok(ioctl(reconnecting, ENBD_IOC_DETACH), "which detaches to reconnect");
	expect_ok(shutdown_dev(serving, old), "session 1 shut down");
	expect_errno(attach(reconnecting, dev_index, old), ESHUTDOWN,
		     "the reconnecting channel comes back with the token");
	expect_errno(attach(reconnecting, dev_index, 0), ESHUTDOWN, "or without it");
	expect_errno(attach(restarted, dev_index, old), ESHUTDOWN,
		     "a restarted daemon (new file) presenting the old token");
	check(proc_journal("bad") == -1, "the device is not open again (not in /proc/nbdinfo)");
	expect_ok(attach(newcomer, dev_index, fresh), "session 2 with a new token");
	expect_errno(attach(restarted, dev_index, old), ESHUTDOWN, "the old token, with session 2 open");
	expect_ok(ioctl(newcomer, ENBD_IOC_CONFIGURE, &cfg), "session 2 configured");
	expect_ok(shutdown_dev(newcomer, fresh), "session 2 shut down");

	/* Without tokens the file tells the sessions apart. */
	expect_ok(attach(tokenless, dev_index, 0), "session 3 without a token");
	expect_ok(ioctl(tokenless, ENBD_IOC_CONFIGURE, &cfg), "session 3 configured");
	expect_ok(attach(stale, dev_index, 0), "session 3: a second channel");
	expect_ok(ioctl(stale, ENBD_IOC_DETACH), "which detaches to reconnect");
	expect_ok(shutdown_dev(tokenless, 0), "session 3 shut down");
	expect_errno(attach(stale, dev_index, 0), ESHUTDOWN, "its channel reconnecting without a token");
	close(stale);
	stale = open_control();
	expect_ok(attach(stale, dev_index, 0), "a new file without a token: a new session");
	expect_ok(shutdown_dev(stale, 0), "shut down again");
	close(serving);
	close(reconnecting);
	close(restarted);
	close(newcomer);
	close(tokenless);
	close(stale);
}

/* The number a sysfs file starts with, -1 if unreadable. */
static long read_number(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* /sys/block/ndN/NAME of device @index */
static long sysfs_number(unsigned int index, const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/block/" ENBD_DISK_PREFIX "%u/%s", index, name);
	return read_number(path);
}

static long module_option(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/enbd/parameters/%s", name);
	return read_number(path);
}

/*
 * Per-device keep-alive and read-ahead: bounds, flags and sizes are checked,
 * a caller built with the first, shorter structure is still served, the
 * values reach sysfs for this device only, and a CONFIGURE keeps the
 * device's read-ahead.  Needs the device without a token.
 */
static void policy_checks(void)
{
	const unsigned int other = dev_index ? 0 : 1;
	struct enbd_config cfg = { .size = sizeof(cfg), .bytes = 1 << 20, .block_size = 512 };
	struct enbd_policy p;
	int fd = open_control();
	long module_ka = module_option("keepalive"), module_ra = module_option("readahead");

	p = (struct enbd_policy){ .size = sizeof(p), .index = dev_index,
				  .flags = ENBD_POLICY_KEEPALIVE, .keepalive_s = 3601 };
	expect_errno(ioctl(fd, ENBD_IOC_SET_POLICY, &p), EINVAL, "keep-alive of 3601 s");
	p = (struct enbd_policy){ .size = sizeof(p), .index = dev_index,
				  .flags = ENBD_POLICY_READAHEAD, .readahead_kb = 65537 };
	expect_errno(ioctl(fd, ENBD_IOC_SET_POLICY, &p), EINVAL, "read-ahead of 65537 KiB");
	p = (struct enbd_policy){ .size = sizeof(p), .index = dev_index,
				  .flags = ENBD_POLICY_ALL + 1 };
	expect_errno(ioctl(fd, ENBD_IOC_SET_POLICY, &p), EINVAL, "unknown policy flag");
	p = (struct enbd_policy){ .size = ENBD_POLICY_SIZE_V1, .index = dev_index,
				  .flags = ENBD_POLICY_AGING };
	expect_errno(ioctl(fd, ENBD_IOC_SET_POLICY, &p), EINVAL,
		     "the old size with the new ioctl number");
	p = (struct enbd_policy){ .size = sizeof(p), .index = dev_index, .flags = ENBD_POLICY_AGING };
	expect_errno(ioctl(fd, ENBD_IOC_SET_POLICY_V1, &p), EINVAL,
		     "the new size with the old ioctl number");
	p = (struct enbd_policy){ .size = ENBD_POLICY_SIZE_V1, .index = dev_index,
				  .flags = ENBD_POLICY_KEEPALIVE };
	expect_errno(ioctl(fd, ENBD_IOC_SET_POLICY_V1, &p), EINVAL,
		     "the old size with the keep-alive flag");
	p = (struct enbd_policy){ .size = ENBD_POLICY_SIZE_V1, .index = dev_index,
				  .flags = ENBD_POLICY_AGING, .aging_ms = 5000,
				  .keepalive_s = 7 };
	expect_ok(ioctl(fd, ENBD_IOC_SET_POLICY_V1, &p), "the old size (an older enbdctl) is served");
	check(sysfs_number(dev_index, "enbd/keepalive") == module_ka,
	      "its keep-alive is the module's (%ld)", sysfs_number(dev_index, "enbd/keepalive"));

	p = (struct enbd_policy){ .size = sizeof(p), .index = dev_index,
				  .flags = ENBD_POLICY_KEEPALIVE | ENBD_POLICY_READAHEAD,
				  .keepalive_s = 7, .readahead_kb = 2048 };
	expect_ok(ioctl(fd, ENBD_IOC_SET_POLICY, &p), "keep-alive 7 s, read-ahead 2048 KiB");
	check(sysfs_number(dev_index, "enbd/keepalive") == 7, "enbd/keepalive shows 7 (%ld)",
	      sysfs_number(dev_index, "enbd/keepalive"));
	check(sysfs_number(dev_index, "queue/read_ahead_kb") == 2048, "read_ahead_kb is 2048 (%ld)",
	      sysfs_number(dev_index, "queue/read_ahead_kb"));
	check(sysfs_number(other, "enbd/keepalive") == module_ka &&
	      sysfs_number(other, "queue/read_ahead_kb") == module_ra,
	      "the other device keeps the module's (%ld s, %ld KiB)",
	      sysfs_number(other, "enbd/keepalive"), sysfs_number(other, "queue/read_ahead_kb"));

	expect_ok(attach(fd, dev_index, 0), "attach");
	expect_ok(ioctl(fd, ENBD_IOC_CONFIGURE, &cfg), "configure");
	check(sysfs_number(dev_index, "queue/read_ahead_kb") == 2048,
	      "the device's read-ahead survives CONFIGURE (%ld)",
	      sysfs_number(dev_index, "queue/read_ahead_kb"));
	check(strstr(proc_line("Policy"), "keepalive 7s, readahead 2048KiB") != NULL,
	      "/proc/nbdinfo shows them (%s)", proc_line("Policy"));
	expect_ok(shutdown_dev(fd, 0), "shut down");

	p = (struct enbd_policy){ .size = sizeof(p), .index = dev_index, .flags = ENBD_POLICY_ALL,
				  .outage = ENBD_OUTAGE_WAIT };
	expect_ok(ioctl(fd, ENBD_IOC_SET_POLICY, &p), "0: back to the module's options");
	check(sysfs_number(dev_index, "enbd/keepalive") == module_ka &&
	      sysfs_number(dev_index, "queue/read_ahead_kb") == module_ra,
	      "the module's again (%ld s, %ld KiB)", sysfs_number(dev_index, "enbd/keepalive"),
	      sysfs_number(dev_index, "queue/read_ahead_kb"));
	close(fd);
}

/* One ENBD_IOC_BATCH: @nd completions, room for @nf fetches. */
static int batch(int fd, uint32_t flags, struct enbd_done *done, uint32_t nd,
		 struct enbd_fetch *fetch, uint32_t nf, struct enbd_batch *b)
{
	*b = (struct enbd_batch){
		.size = sizeof(*b), .flags = flags, .magic = ENBD_BATCH_MAGIC,
		.nr_done = nd, .nr_fetch = nf, .done = (uintptr_t)done, .fetch = (uintptr_t)fetch,
	};
	return ioctl(fd, ENBD_IOC_BATCH, b);
}

static struct enbd_fetch fetch_into(void *buf)
{
	return (struct enbd_fetch){ .data = (uintptr_t)buf, .data_capacity = ENBD_MAX_IO_BYTES };
}

static struct enbd_done done_with(const struct enbd_request *r, int error, const void *data,
				  uint32_t length)
{
	return (struct enbd_done){
		.seq = r->seq, .tag = r->tag, .error = error, .data = (uintptr_t)data,
		.length = length, .result = 12345,
	};
}

/* Wait up to 30 s (a loaded machine) until the device has @n requests queued or claimed. */
static int wait_outstanding(long long n)
{
	struct timespec step = { 0, 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < 3000 && proc_total("Queued") != n; i++)
		nanosleep(&step, NULL);
	return proc_total("Queued") == n;
}

/* Fetch @n requests into @reqs with batches, waiting for them as needed. */
static int batch_fetch_n(int fd, struct enbd_request *reqs, unsigned int n, void *buf)
{
	struct enbd_fetch f[ENBD_BATCH_MAX];
	struct enbd_batch b;
	unsigned int got = 0, i;

	while (got < n) {
		for (i = 0; i < n - got; i++)
			f[i] = fetch_into(buf);
		if (batch(fd, 0, NULL, 0, f, n - got, &b) < 0)
			return -1;
		for (i = 0; i < b.fetched; i++)
			reqs[got++] = f[i].req;
	}
	return 0;
}

/* ENBD_IOC_BATCH: arguments refused before anything is done. */
static void batch_argument_checks(int fd, void *buf)
{
	struct enbd_fetch f[ENBD_BATCH_MAX + 1], *ro_fetch;
	struct enbd_done d[ENBD_BATCH_MAX + 1];
	struct enbd_batch b, *ro;
	unsigned int i;

	for (i = 0; i <= ENBD_BATCH_MAX; i++)
		f[i] = fetch_into(buf);
	memset(d, 0, sizeof(d));
	batch(fd, ENBD_BATCH_NONBLOCK, d, 0, f, 1, &b);
	b.magic ^= 1;
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, &b), EINVAL, "batch with a bad magic");
	b.magic ^= 1;
	b.size = sizeof(b) - 8;
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, &b), EINVAL, "batch with a short size");
	b.size = sizeof(b) + 8;
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, &b), EINVAL, "batch with a long size");
	b.size = sizeof(b);
	b.flags = 1u << 7;
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, &b), EINVAL, "batch with an unknown flag");
	b.flags = ENBD_BATCH_NONBLOCK;
	b.reserved = 1;
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, &b), EINVAL, "batch with reserved set");
	b.reserved = 0;
	b.nr_fetch = ENBD_BATCH_MAX + 1;
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, &b), EINVAL, "batch fetching more than ENBD_BATCH_MAX");
	b.nr_fetch = 0;
	b.nr_done = ENBD_BATCH_MAX + 1;
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, &b), EINVAL, "batch completing more than ENBD_BATCH_MAX");
	b.nr_done = 0;
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, &b), EINVAL, "batch with nothing to do");
	b.nr_fetch = 1;
	f[0].data_capacity = ENBD_MAX_IO_BYTES - 1;
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, &b), EINVAL, "batch with a short fetch buffer");
	f[0].data = 0xffff888000000000UL;
	f[0].data_capacity = ENBD_MAX_IO_BYTES;
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, &b), EINVAL, "batch with a kernel fetch buffer");
	f[0] = fetch_into(buf);
	f[0].reserved = 1;
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, &b), EINVAL, "batch with a fetch entry's reserved set");
	f[0].reserved = 0;
	b.fetch = (uintptr_t)unmapped_page();
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, &b), EFAULT, "batch with the fetch array unmapped");
	b.fetch = (uintptr_t)f;
	b.nr_done = 1;
	b.done = (uintptr_t)unmapped_page();
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, &b), EFAULT, "batch with the done array unmapped");
	b.done = 0xffff888000000000UL;
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, &b), EFAULT, "batch with the done array in the kernel");
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, NULL), EFAULT, "batch with NULL");

	/* Readable but not writable: refused before anything is done. */
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro_fetch = (struct enbd_fetch *)(ro + 1);
	batch(fd, ENBD_BATCH_NONBLOCK, NULL, 0, ro_fetch, 1, ro);
	ro_fetch[0] = fetch_into(buf);
	mprotect(ro, 4096, PROT_READ);
	expect_errno(ioctl(fd, ENBD_IOC_BATCH, ro), EFAULT, "batch whose header cannot be written back");
	munmap(ro, 4096);
}

/*
 * ENBD_IOC_BATCH on a device: several requests per call, every completion
 * on its own (a bad one does not stop the others), a failed fetch copy
 * hands over a prefix and puts the rest back in order.
 */
static void batch_checks(void)
{
	const uint64_t token = TOKEN + 4;
	struct enbd_config cfg = { .size = sizeof(cfg), .bytes = 64 << 20, .block_size = 512 };
	struct enbd_policy patient = {
		.size = sizeof(patient), .index = dev_index, .token = token,
		.flags = ENBD_POLICY_AGING | ENBD_POLICY_OUTAGE,
		.aging_ms = 3600 * 1000, .outage = ENBD_OUTAGE_WAIT,
	};
	int fd = open_control(), stranger = open_control();
	void *buf = malloc(ENBD_MAX_IO_BYTES), *buf2 = malloc(ENBD_MAX_IO_BYTES);
	char *data = malloc(BLOCK);
	struct enbd_request r[3], w[2];
	struct enbd_done d[6], *ro_done;
	struct enbd_fetch f[2];
	struct enbd_batch b;
	long long discarded;
	pid_t readers[3], writers[2];
	unsigned int i;
	int rc;

	memset(data, 'b', BLOCK);
	f[0] = fetch_into(buf);
	expect_errno(batch(stranger, ENBD_BATCH_NONBLOCK, NULL, 0, f, 1, &b), ENOTCONN,
		     "batch on a non-attached fd");
	expect_ok(attach(fd, dev_index, token), "batch: attach to a new session");
	/* Claims are held on purpose below: aging must not take them, however slow the machine. */
	expect_ok(ioctl(fd, ENBD_IOC_SET_POLICY, &patient), "batch: aging 1 h, outages wait");
	expect_ok(ioctl(fd, ENBD_IOC_CONFIGURE, &cfg), "batch: configure 64 MiB");
	batch_argument_checks(fd, buf);
	rc = batch(fd, ENBD_BATCH_NONBLOCK, NULL, 0, f, 1, &b);
	check(rc == 0 && b.fetched == 0, "non-blocking batch with nothing queued fetches 0 (rc %d)", rc);

	/*
	 * Three reads in one call or a few, queued one after the other: r[i]
	 * must be readers[i]'s request, whatever order a loaded machine would
	 * run three children started at once in.
	 */
	for (i = 0; i < 3; i++) {
		readers[i] = start_io(0, 'b');
		check(wait_outstanding(i + 1), "read %u queued", i + 1);
	}
	expect_ok(batch_fetch_n(fd, r, 3, buf), "batch-fetch three reads");
	check(r[0].type == ENBD_CMD_READ && r[1].type == ENBD_CMD_READ && r[2].type == ENBD_CMD_READ &&
	      r[0].tag != r[1].tag && r[1].tag != r[2].tag && r[0].tag != r[2].tag,
	      "three reads, three tags (%u %u %u)", r[0].tag, r[1].tag, r[2].tag);

	/*
	 * One batch mixing good and bad completions: each stands alone.  The
	 * bad ones change nothing; the one whose data cannot be copied stays
	 * claimed; a second completion within the batch is discarded.
	 */
	discarded = proc_journal("discarded");
	d[0] = done_with(&r[0], 0, data, BLOCK);
	d[1] = done_with(&r[1], 0, data, BLOCK);
	d[1].tag = 100000;
	d[2] = done_with(&r[0], 0, data, BLOCK);
	d[3] = done_with(&r[1], 0, unmapped_page(), BLOCK);
	d[4] = done_with(&r[2], 0, data, BLOCK);
	d[4].seq = 1;		/* an old claim's */
	d[5] = done_with(&r[2], 0, data, BLOCK - 512);
	f[0] = fetch_into(buf);
	rc = batch(fd, 0, d, 6, f, 1, &b);
	check(rc == 0 && b.completed == 6 && b.fetched == 0,
	      "a mixed batch succeeds: %u completions carried out, %u fetched (rc %d)",
	      b.completed, b.fetched, rc);
	check(d[0].result == ENBD_DONE_ACCEPTED, "good completion accepted (%d)", d[0].result);
	check(d[1].result == -EINVAL, "tag out of range: -EINVAL (%d)", d[1].result);
	check(d[2].result == ENBD_DONE_DISCARDED, "second completion in one batch discarded (%d)",
	      d[2].result);
	check(d[3].result == -EFAULT, "read data unmapped: -EFAULT (%d)", d[3].result);
	check(d[4].result == ENBD_DONE_DISCARDED, "stale seq discarded (%d)", d[4].result);
	check(d[5].result == -EINVAL, "wrong length: -EINVAL (%d)", d[5].result);
	check(proc_journal("discarded") == discarded + 2, "two discards counted (%lld)",
	      proc_journal("discarded") - discarded);
	check(wait_child(readers[0]) == 0, "the first reader got its data");
	check(still_running(readers[1], 200) && still_running(readers[2], 1),
	      "the other two still wait: their claims stand");

	/* The completions cannot be written back: nothing is completed. */
	ro_done = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro_done[0] = done_with(&r[1], 0, data, BLOCK);
	mprotect(ro_done, 4096, PROT_READ);
	expect_errno(batch(fd, 0, ro_done, 1, NULL, 0, &b), EFAULT,
		     "batch whose results cannot be written back");
	munmap(ro_done, 4096);
	check(still_running(readers[1], 100), "and its completion was not carried out");

	/* The two left, completed together with a fetch of a write queued meanwhile. */
	writers[0] = start_io(1, 'w');
	check(wait_outstanding(3), "a write queued behind the two claimed reads");
	d[0] = done_with(&r[1], 0, data, BLOCK);
	d[1] = done_with(&r[2], 0, data, BLOCK);
	f[0] = fetch_into(buf2);
	f[1] = fetch_into(buf);
	rc = batch(fd, 0, d, 2, f, 2, &b);
	check(rc == 0 && d[0].result == ENBD_DONE_ACCEPTED && d[1].result == ENBD_DONE_ACCEPTED &&
	      b.fetched == 1 && f[0].req.type == ENBD_CMD_WRITE && ((char *)buf2)[BLOCK - 1] == 'w',
	      "complete two and fetch the write in one call (rc %d, %d %d, fetched %u)", rc,
	      d[0].result, d[1].result, b.fetched);
	check(wait_child(readers[1]) == 0 && wait_child(readers[2]) == 0, "both readers got their data");
	w[0] = f[0].req;
	d[0] = done_with(&w[0], 0, NULL, 0);
	expect_ok(batch(fd, 0, d, 1, NULL, 0, &b), "complete the write");
	check(d[0].result == ENBD_DONE_ACCEPTED && wait_child(writers[0]) == 0, "the writer is done");

	/* A fetch whose copy fails for entry k hands over k, the rest go back in order. */
	writers[0] = start_io(1, 'x');
	check(wait_outstanding(1), "a first write queued");
	writers[1] = start_io(1, 'y');
	check(wait_outstanding(2), "a second write queued behind it");
	f[0] = fetch_into(unmapped_page());
	f[1] = fetch_into(buf);
	expect_errno(batch(fd, 0, NULL, 0, f, 2, &b), EFAULT,
		     "batch fetch whose first write cannot be copied out");
	check(proc_total("Queued") == 2, "both writes went back (%lld outstanding)", proc_total("Queued"));
	f[0] = fetch_into(buf);
	f[1] = fetch_into(unmapped_page());
	rc = batch(fd, 0, NULL, 0, f, 2, &b);
	check(rc == 0 && b.fetched == 1 && ((char *)buf)[BLOCK - 1] == 'x',
	      "with the second one's buffer bad, the first is handed over alone (rc %d, %u)", rc,
	      b.fetched);
	w[0] = f[0].req;
	f[0] = fetch_into(buf2);
	rc = batch(fd, ENBD_BATCH_NONBLOCK, NULL, 0, f, 1, &b);
	check(rc == 0 && b.fetched == 1 && ((char *)buf2)[BLOCK - 1] == 'y' && f[0].req.seq > w[0].seq,
	      "the second comes next, a new claim (rc %d, %u)", rc, b.fetched);
	w[1] = f[0].req;
	d[0] = done_with(&w[1], 0, NULL, 0);
	d[1] = done_with(&w[0], 0, NULL, 0);
	rc = batch(fd, 0, d, 2, NULL, 0, &b);
	check(rc == 0 && d[0].result == ENBD_DONE_ACCEPTED && d[1].result == ENBD_DONE_ACCEPTED,
	      "both writes completed in one call, out of order");
	check(wait_child(writers[0]) == 0 && wait_child(writers[1]) == 0, "both writers are done");

	/* Ejected: the batch says so. */
	readers[0] = start_io(0, 'z');
	expect_ok(batch_fetch_n(fd, r, 1, buf), "fetch a read before shutdown");
	expect_ok(shutdown_dev(stranger, token), "batch: shut the session down");
	check(wait_child(readers[0]) == 3, "the claimed read failed");
	d[0] = done_with(&r[0], 0, data, BLOCK);
	expect_errno(batch(fd, 0, d, 1, NULL, 0, &b), ESHUTDOWN, "batch completion on an ejected channel");
	expect_errno(batch(fd, ENBD_BATCH_NONBLOCK, NULL, 0, f, 1, &b), ESHUTDOWN,
		     "batch fetch on an ejected channel");
	close(fd);
	close(stranger);
	free(buf);
	free(buf2);
	free(data);
}

/* Random arguments to every command number: the kernel must survive. */
static void random_calls(void)
{
	unsigned char arg[256];
	unsigned int i, j;
	int fd = open_control();

	srand(42);
	for (i = 0; i < 20000; i++) {
		unsigned int nr = rand() % 8, size = rand() % 2 ? 0 : rand() % 200;
		static const unsigned long real[] = {
			ENBD_IOC_ATTACH, ENBD_IOC_CONFIGURE, ENBD_IOC_IO, ENBD_IOC_DETACH,
		};
		unsigned long cmd = rand() % 2 ? real[rand() % 4] :
			_IOC(rand() % 4, ENBD_IOC_MAGIC, nr, size);
		void *ptr = arg;

		for (j = 0; j < sizeof(arg); j++)
			arg[j] = rand();
		/* Sometimes a plausible header, to get past the size check. */
		if (rand() % 2)
			*(uint32_t *)arg = rand() % 2 ? 24 : (rand() % 2 ? 88 : 32);
		if (rand() % 4 == 0)
			*(uint32_t *)(arg + 4) = 0;
		/* Never point a fetch at our own stack copy of arguments. */
		if (rand() % 8 == 0)
			ptr = (void *)(uintptr_t)rand();
		if (cmd == ENBD_IOC_SHUTDOWN || (_IOC_NR(cmd) == 3 && (*(uint32_t *)(arg + 4) & ENBD_IO_FETCH) &&
						 !(*(uint32_t *)(arg + 4) & ENBD_IO_NONBLOCK)))
			continue;	/* would shut a device or block */
		ioctl(fd, cmd, ptr);
		if (i % 1000 == 999) {
			close(fd);
			fd = open_control();
		}
	}
	close(fd);
	check(1, "20000 random calls survived");
}

int main(int argc, char **argv)
{
	dev_index = argc > 1 ? (unsigned int)atoi(argv[1]) : 0;
	signal(SIGPIPE, SIG_IGN);
	argument_checks();
	request_checks();
	attach_unwind_checks();
	shutdown_stays_shut_checks();
	policy_checks();
	batch_checks();
	random_calls();
	printf("1..%u\n", test_number);
	return failures ? 1 : 0;
}
