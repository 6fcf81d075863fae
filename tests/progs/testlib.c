// SPDX-License-Identifier: GPL-2.0
/* Helpers for the test programs: see testlib.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

unsigned int test_number, failures;
unsigned int dev_index;

void check(int ok, const char *fmt, ...)
{
	va_list ap;

	test_number++;
	printf("%sok %u - ", ok ? "" : "not ", test_number);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!ok)
		failures++;
}

/* The ioctl fails with exactly @want. */
void expect_errno(int rc, int want, const char *what)
{
	int got = rc < 0 ? errno : 0;

	check(rc < 0 && got == want, "%s -> %s (got %s)", what, strerror(want),
	      rc < 0 ? strerror(got) : "success");
}

void expect_ok(int rc, const char *what)
{
	check(rc == 0, "%s succeeds (%s)", what, rc ? strerror(errno) : "ok");
}

int open_control(void)
{
	int fd = open(ENBD_CONTROL_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("Bail out! cannot open %s: %s\n", ENBD_CONTROL_PATH, strerror(errno));
		exit(1);
	}
	return fd;
}

int attach(int fd, unsigned int index, uint64_t token)
{
	struct enbd_attach a = { .size = sizeof(a), .index = index, .token = token };

	return ioctl(fd, ENBD_IOC_ATTACH, &a);
}

int shutdown_device(void)
{
	struct enbd_shutdown sd = { .size = sizeof(sd), .index = dev_index, .token = TOKEN };
	int fd = open_control(), rc;

	rc = ioctl(fd, ENBD_IOC_SHUTDOWN, &sd);
	close(fd);
	return rc;
}

int channel(void)
{
	struct enbd_config cfg = { .size = sizeof(cfg), .bytes = 64 << 20, .block_size = 512 };
	int fd = open_control();

	if (attach(fd, dev_index, TOKEN) || ioctl(fd, ENBD_IOC_CONFIGURE, &cfg)) {
		printf("Bail out! cannot attach and configure nd%u: %s\n", dev_index, strerror(errno));
		exit(1);
	}
	return fd;
}

int fetch(int fd, void *buf, struct enbd_io *io, int nonblock)
{
	memset(io, 0, sizeof(*io));
	io->size = sizeof(*io);
	io->flags = ENBD_IO_FETCH | (nonblock ? ENBD_IO_NONBLOCK : 0);
	io->data = (uintptr_t)buf;
	io->data_capacity = ENBD_MAX_IO_BYTES;
	return ioctl(fd, ENBD_IOC_IO, io);
}

int complete(int fd, const struct enbd_request *req, int error,
		    const void *data, uint32_t length, uint32_t *result)
{
	struct enbd_io io = {
		.size = sizeof(io), .flags = ENBD_IO_COMPLETE,
		.done_seq = req->seq, .done_tag = req->tag, .done_error = error,
		.done_data = (uintptr_t)data, .done_length = length,
	};
	int rc = ioctl(fd, ENBD_IOC_IO, &io);

	if (result)
		*result = io.done_result;
	return rc;
}

long long proc_journal(const char *counter)
{
	char line[256], prefix[32], *p;
	long long found = -1;
	FILE *f = fopen("/proc/nbdinfo", "r");

	if (!f)
		return -1;
	snprintf(prefix, sizeof(prefix), "[%u] Journal:", dev_index);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, prefix, strlen(prefix)))
			continue;
		/* "... 12 claims, 3 discarded, ..." : the number before @counter */
		p = strstr(line, counter);
		while (p && p > line && p[-1] == ' ') {
			char *q = p - 1;

			while (q > line && q[-1] >= '0' && q[-1] <= '9')
				q--;
			found = strtoll(q, NULL, 10);
			break;
		}
	}
	fclose(f);
	return found;
}

/* Start a child doing one O_DIRECT read (or write) of BLOCK bytes at 0. */
/* start_io, the request sent once a byte can be read from @gate (if not -1). */
static pid_t start_io_after(int writing, char fill, int gate)
{
	char path[32], go;
	pid_t pid;

	snprintf(path, sizeof(path), "/dev/" ENBD_DISK_PREFIX "%u", dev_index);
	pid = fork();
	if (pid == 0) {
		void *buf;
		ssize_t n;
		int fd = open(path, (writing ? O_WRONLY : O_RDONLY) | O_DIRECT);

		if (fd < 0 || posix_memalign(&buf, BLOCK, BLOCK))
			_exit(2);
		memset(buf, fill, BLOCK);
		if (gate >= 0 && read(gate, &go, 1) != 1)
			_exit(5);
		n = writing ? pwrite(fd, buf, BLOCK, 0) : pread(fd, buf, BLOCK, 0);
		if (n != BLOCK)
			_exit(3);
		/* A read must see what the daemon completed it with. */
		_exit(!writing && ((char *)buf)[BLOCK - 1] != fill ? 4 : 0);
	}
	return pid;
}

pid_t start_io(int writing, char fill)
{
	return start_io_after(writing, fill, -1);
}

pid_t start_io_gated(int writing, char fill, int *release)
{
	int gate[2];
	pid_t pid;

	if (pipe(gate))
		return -1;
	pid = start_io_after(writing, fill, gate[0]);
	close(gate[0]);
	*release = gate[1];
	return pid;
}

int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int still_running(pid_t pid, int ms)
{
	struct timespec step = { 0, 10 * 1000 * 1000 };
	int status, waited;

	for (waited = 0; waited < ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return 0;
		nanosleep(&step, NULL);
	}
	return 1;
}

long long proc_total(const char *name)
{
	char line[512], prefix[48];
	long long found = -1;
	FILE *f = fopen("/proc/nbdinfo", "r");

	if (!f)
		return -1;
	snprintf(prefix, sizeof(prefix), "[%u] %s:", dev_index, name);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, prefix, strlen(prefix)))
			found = strtoll(line + strlen(prefix), NULL, 10);
	fclose(f);
	return found;
}

int test_modes_main(int argc, char **argv, const struct test_mode *modes, unsigned int nr_modes)
{
	unsigned int i;

	if (argc != 3) {
		fprintf(stderr, "usage: %s MODE|--shutdown INDEX\n", argv[0]);
		return 2;
	}
	dev_index = (unsigned int)atoi(argv[2]);
	if (!strcmp(argv[1], "--shutdown"))
		return shutdown_device() ? 1 : 0;
	/* A failed step can leave a child waiting for good: bound the run. */
	alarm(90);
	for (i = 0; i < nr_modes; i++)
		if (!strcmp(argv[1], modes[i].name))
			break;
	if (i == nr_modes) {
		fprintf(stderr, "%s: unknown mode %s\n", argv[0], argv[1]);
		return 2;
	}
	modes[i].run();
	printf("1..%u\n", test_number);
	return failures ? 1 : 0;
}
