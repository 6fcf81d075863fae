/* SPDX-License-Identifier: GPL-2.0 */
/* Socket helpers shared by the daemons. */
#ifndef ENBD_SOCK_H
#define ENBD_SOCK_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Connect to HOST:PORT (numeric or by name), optionally from @bind_addr: a
 * numeric local address, or the name of a network interface to leave
 * through (SO_BINDTODEVICE, which needs CAP_NET_RAW), giving up after
 * @timeout_ms.  Sets TCP_NODELAY and
 * SO_KEEPALIVE.  Returns the fd, or -1 with errno set and a description of
 * what failed in @why; ECANCELED (nothing in @why) when @cancel_fd (if not
 * -1) became readable while the connect was in progress, so a daemon can
 * watch its signalfd without a thread.  The name lookup is not cancellable:
 * give a numeric address where that matters.
 *
 * The socket is abortive (SO_LINGER 0) from its creation: however it is
 * closed — by its process, or by the kernel when the process is killed —
 * the peer gets a reset, not an orderly end, so a server drops the requests
 * it has not started instead of carrying them out after the kernel has
 * given them to another connection.  A caller that ends the connection
 * deliberately and cleanly turns that off (sock_set_abortive) first.
 */
int sock_connect(const char *host, const char *port, const char *bind_addr,
		 int timeout_ms, int cancel_fd, char *why, size_t why_len);

/*
 * Listen on ADDR:PORT (ADDR NULL for every address).  An IPv6 socket is
 * always dual-stack (IPV6_V6ONLY off), so "::" takes IPv4 clients too.
 * Returns the fd or -1 with errno set.
 */
int sock_listen(const char *addr, const char *port, int backlog);

/* Set or clear O_NONBLOCK. */
int sock_set_nonblocking(int fd, int on);
/* Set TCP_NODELAY. */
int sock_set_nodelay(int fd);
/* SO_LINGER 0 (@on) or the default orderly close (!@on). */
int sock_set_abortive(int fd, int on);
/*
 * The kernel's own bound on a dead peer, whatever the process does: with
 * @seconds > 0, TCP_USER_TIMEOUT 2 x @seconds (unacknowledged data, or
 * keep-alive probes unanswered, that long: the connection is reset) and
 * keep-alive probes after @seconds of silence, 2 of them @seconds / 2
 * apart; with 0, no user timeout and Linux's default keep-alive (7200 s,
 * 75 s, 9 probes).  SO_KEEPALIVE must be on (sock_connect sets it).
 */
int sock_set_liveness(int fd, unsigned int seconds);
/* Bound blocking reads and writes on @fd to @timeout_ms (0: no bound). */
int sock_set_timeouts(int fd, int timeout_ms);

/*
 * Read or write exactly @len bytes on a blocking fd, retrying short
 * transfers and EINTR.  Return 0, or -1 with errno set (ECONNRESET for an
 * early end of stream).
 */
int read_full(int fd, void *buf, size_t len);
int write_full(int fd, const void *buf, size_t len);

/*
 * Read at least @min and at most @max bytes into @buf (for read-ahead
 * buffers): keeps reading until @min bytes are in.  Returns the count, or
 * -1 with errno set (ECONNRESET for an early end of stream).
 */
ssize_t read_at_least(int fd, void *buf, size_t min, size_t max);

#endif
