// SPDX-License-Identifier: GPL-2.0
/*
 * read-only: a read-only device fails writes, trims and write-zeroes in the
 * module, before any daemon sees them, also those the block layer lets
 * through (it only warns): here they come through a device-mapper table,
 * which opens the device for writing without looking.  This program is the
 * device's only daemon: it serves reads with zeroes and fails, and counts,
 * anything else it is handed.  Runs as root in the VM with the module loaded
 * and device @index unused.  Prints TAP.
 *
 * usage: read-only [INDEX]
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define DM_NAME	"enbd-read-only"
#define SIZE	(16u << 20)

/* The child's writes through the table; bit i set: attempt i did not fail with EIO. */
static int write_through_dm(void)
{
	uint64_t range[2] = { 0, 1 << 20 };
	char cmd[160];
	void *buf;
	int fd, bad = 0;

	snprintf(cmd, sizeof(cmd),
		 "dmsetup create " DM_NAME " --table '0 %u linear /dev/" ENBD_DISK_PREFIX "%u 0'"
		 " && dmsetup mknodes " DM_NAME, SIZE >> 9, dev_index);
	if (system(cmd))
		return 0x80;
	fd = open("/dev/mapper/" DM_NAME, O_RDWR | O_DIRECT);
	if (fd < 0 || posix_memalign(&buf, BLOCK, BLOCK))
		return 0x40;
	memset(buf, 'w', BLOCK);
	if (pwrite(fd, buf, BLOCK, 0) >= 0 || errno != EIO)
		bad |= 1;
	if (ioctl(fd, BLKDISCARD, range) == 0 || errno != EIO)
		bad |= 2;
	if (ioctl(fd, BLKZEROOUT, range) == 0 || errno != EIO)
		bad |= 4;
	close(fd);
	return bad;
}

int main(int argc, char **argv)
{
	struct enbd_config cfg = {
		.size = sizeof(cfg), .bytes = SIZE, .block_size = 512,
		.flags = ENBD_CFG_READ_ONLY | ENBD_CFG_FLUSH | ENBD_CFG_TRIM | ENBD_CFG_WRITE_ZEROES,
	};
	void *buf = malloc(ENBD_MAX_IO_BYTES), *zeroes = calloc(1, ENBD_MAX_IO_BYTES);
	unsigned int reads = 0, writes = 0;
	struct enbd_io io;
	int fd, status = -1, rc;
	pid_t child;

	dev_index = argc > 1 ? (unsigned int)atoi(argv[1]) : 0;
	alarm(60);
	fd = open_control();
	expect_ok(attach(fd, dev_index, TOKEN), "attach");
	expect_ok(ioctl(fd, ENBD_IOC_CONFIGURE, &cfg), "configure read-only, with trim and write-zeroes");

	fflush(stdout);
	child = fork();
	if (child == 0)
		_exit(write_through_dm());
	/* Serve until the child is done. */
	while (waitpid(child, &status, WNOHANG) == 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 50) <= 0 || fetch(fd, buf, &io, 1))
			continue;
		if (io.req.type == ENBD_CMD_READ) {
			reads++;
			rc = complete(fd, &io.req, 0, zeroes, io.req.length, NULL);
		} else {
			writes += io.req.type != ENBD_CMD_FLUSH;
			printf("# the daemon was handed request type %u at %llu+%u\n", io.req.type,
			       (unsigned long long)io.req.offset, io.req.length);
			rc = complete(fd, &io.req, -EIO, NULL, 0, NULL);
		}
		if (rc)
			printf("# completion failed: %s\n", strerror(errno));
	}
	system("dmsetup remove --retry " DM_NAME);
	check(WIFEXITED(status) && WEXITSTATUS(status) < 0x40,
	      "a device-mapper table over the read-only device (status %#x)", status);
	check(WIFEXITED(status) && !(WEXITSTATUS(status) & 1), "a write through it fails with EIO");
	check(WIFEXITED(status) && !(WEXITSTATUS(status) & 2), "a discard through it fails with EIO");
	check(WIFEXITED(status) && !(WEXITSTATUS(status) & 4), "a write-zeroes through it fails with EIO");
	check(writes == 0, "the daemon was handed no write, trim or write-zeroes (%u; %u reads)",
	      writes, reads);
	{
		struct enbd_shutdown sd = { .size = sizeof(sd), .index = dev_index, .token = TOKEN };

		expect_ok(ioctl(fd, ENBD_IOC_SHUTDOWN, &sd), "shut the device down");
	}
	close(fd);
	printf("1..%u\n", test_number);
	return failures ? 1 : 0;
}
