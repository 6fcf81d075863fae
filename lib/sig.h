/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Signals for the daemons' single-threaded event loops: they are read from
 * a signalfd in the loop, never handled in signal handlers.
 */
#ifndef ENBD_SIG_H
#define ENBD_SIG_H

#include <stddef.h>

/*
 * Block the signals listed (a 0 ends the list), so that they wait for a
 * read() instead of interrupting, and return a non-blocking, close-on-exec
 * signalfd that delivers them.  SIGPIPE is ignored: a write to a peer that
 * went away fails with EPIPE instead of killing the process.  Returns the
 * fd, or -1 with errno set.
 */
int sig_open_fd(int sig, ...);

/*
 * How a child ended, from its wait status: "exit status 1" or
 * "signal 9 (Killed)", with ", core dumped" when it did.
 */
void sig_describe_status(int status, char *buf, size_t len);

#endif
