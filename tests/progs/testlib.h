/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the test programs that drive /dev/enbd-control directly:
 * TAP output, the ioctls with their argument set-up, and child processes
 * doing one O_DIRECT request on the device under test.
 */
#ifndef ENBD_TESTLIB_H
#define ENBD_TESTLIB_H

#include <stdint.h>
#include <sys/types.h>

#include <uapi/enbd.h>

#define TOKEN	0x5eed5eed5eedULL
#define BLOCK	4096

extern unsigned int test_number, failures;
extern unsigned int dev_index;	/* the device under test */

void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void expect_errno(int rc, int want, const char *what);
void expect_ok(int rc, const char *what);
int open_control(void);
int attach(int fd, unsigned int index, uint64_t token);
/* Shut the device under test down (ENBD_IOC_SHUTDOWN with TOKEN). */
int shutdown_device(void);
/* A channel of the device under test; the first one configures 64 MiB. */
int channel(void);
int fetch(int fd, void *buf, struct enbd_io *io, int nonblock);
int complete(int fd, const struct enbd_request *req, int error,
	     const void *data, uint32_t length, uint32_t *result);
/* A counter of the "[N] Journal:" line of /proc/nbdinfo, e.g. "discarded". */
long long proc_journal(const char *counter);
/* The total column of the "[N] NAME:" line of /proc/nbdinfo. */
long long proc_total(const char *name);
pid_t start_io(int writing, char fill);
/* start_io, ready to send its request once a byte is written to *@release. */
pid_t start_io_gated(int writing, char fill, int *release);
int wait_child(pid_t pid);
/* The child has not exited within @ms (if it has, it is reaped). */
int still_running(pid_t pid, int ms);

/*
 * main() of a program with one behaviour per mode, "PROG MODE INDEX" or
 * "PROG --shutdown INDEX" (clean-up): sets dev_index, bounds the run to
 * 90 s, runs the mode and prints the TAP plan.  Returns main's status.
 */
struct test_mode {
	const char *name;
	void (*run)(void);
};
int test_modes_main(int argc, char **argv, const struct test_mode *modes, unsigned int nr_modes);

#endif
