// SPDX-License-Identifier: GPL-2.0
/*
 * LD_PRELOAD for enbd-client tests: once the first sendmsg() has carried a
 * request (the handshake uses send()), every malloc, calloc, realloc or
 * aligned allocation is written as one line, "FUNCTION SIZE", to the file
 * named by $ENBD_MALLOC_LOG — so a test sees whether transmission
 * allocates.  glibc's __libc_* functions do the work: no dlsym in malloc.
 * With $ENBD_MALLOC_ARM_LOG set, it arms instead at the first line written
 * to stderr that holds that text (through TLS no sendmsg() is made).
 * Built by the test that uses it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);

static int log_fd = -1;
static volatile int armed;
static const char *arm_text;
static ssize_t (*real_write)(int, const void *, size_t);

__attribute__((constructor)) static void open_log(void)
{
	const char *path = getenv("ENBD_MALLOC_LOG");

	real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	arm_text = getenv("ENBD_MALLOC_ARM_LOG");
	if (path)
		log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

static void note(const char *fn, size_t size)
{
	char line[64];
	int n;

	if (!armed || log_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s %zu\n", fn, size);
	if (real_write(log_fd, line, (size_t)n) < 0)
		_exit(99);
}

void *malloc(size_t size)
{
	note("malloc", size);
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	note("calloc", n * size);
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	note("realloc", size);
	return __libc_realloc(p, size);
}

int posix_memalign(void **p, size_t align, size_t size)
{
	note("posix_memalign", size);
	*p = __libc_memalign(align, size);
	return *p ? 0 : 12;	/* ENOMEM */
}

void *aligned_alloc(size_t align, size_t size)
{
	note("aligned_alloc", size);
	return __libc_memalign(align, size);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);

	if (!real_sendmsg)
		real_sendmsg = (ssize_t (*)(int, const struct msghdr *, int))
			       dlsym(RTLD_NEXT, "sendmsg");
	if (!arm_text)
		armed = 1;
	return real_sendmsg(fd, msg, flags);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	if (fd == STDERR_FILENO && arm_text && memmem(buf, len, arm_text, strlen(arm_text)))
		armed = 1;
	return real_write(fd, buf, len);
}
