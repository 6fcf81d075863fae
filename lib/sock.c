// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "sock.h"

int sock_set_nonblocking(int fd, int on)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, flags);
}

int sock_set_nodelay(int fd)
{
	int one = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int sock_set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int sock_set_liveness(int fd, unsigned int seconds)
{
	int user_ms = seconds ? (int)(seconds > 1000000 ? 2000000000u : seconds * 2000) : 0;
	int idle = seconds ? (int)(seconds > 32767 ? 32767 : seconds) : 7200;
	int intvl = seconds ? (idle / 2 ? idle / 2 : 1) : 75, cnt = seconds ? 2 : 9;

	if (setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms, sizeof(user_ms)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)) < 0)
		return -1;
	return setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

int sock_set_abortive(int fd, int on)
{
	struct linger lg = { .l_onoff = on, .l_linger = 0 };

	return setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/*
 * Finish a non-blocking connect within @timeout_ms, unless @cancel_fd
 * becomes readable first (ECANCELED).
 */
static int connect_wait(int fd, int timeout_ms, int cancel_fd)
{
	struct pollfd pfd[2] = {
		{ .fd = fd, .events = POLLOUT }, { .fd = cancel_fd, .events = POLLIN },
	};
	socklen_t len = sizeof(int);
	int err = 0, n;

	do
		n = poll(pfd, cancel_fd >= 0 ? 2 : 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (n > 0 && (pfd[1].revents & POLLIN)) {
		errno = ECANCELED;
		return -1;
	}
	if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -1;
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

/*
 * A source address, or an interface: with one server address the routing
 * table picks the NIC whatever the source address, while SO_BINDTODEVICE
 * makes the connection leave through the interface named.
 */
static int bind_local(int fd, int family, const char *bind_addr)
{
	struct addrinfo hints = { .ai_family = family, .ai_flags = AI_NUMERICHOST | AI_PASSIVE };
	struct addrinfo *res;
	int rc;

	if (getaddrinfo(bind_addr, NULL, &hints, &res) != 0) {
		if (if_nametoindex(bind_addr))
			return setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, bind_addr,
					  strlen(bind_addr) + 1);
		errno = EADDRNOTAVAIL;
		return -1;
	}
	rc = bind(fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return rc;
}

int sock_connect(const char *host, const char *port, const char *bind_addr,
		 int timeout_ms, int cancel_fd, char *why, size_t why_len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	int fd = -1, rc, saved = 0, one = 1;

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(why, why_len, "cannot resolve %s: %s", host, gai_strerror(rc));
		errno = EHOSTUNREACH;
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		/* From the start: a process killed with requests sent resets the connection. */
		sock_set_abortive(fd, 1);
		if (bind_addr && bind_local(fd, ai->ai_family, bind_addr) < 0) {
			saved = errno;
			snprintf(why, why_len, "cannot bind to %s: %s", bind_addr, strerror(saved));
			close(fd);
			fd = -1;
			continue;
		}
		if (sock_set_nonblocking(fd, 1) == 0 &&
		    (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		     (errno == EINPROGRESS && connect_wait(fd, timeout_ms, cancel_fd) == 0)) &&
		    sock_set_nonblocking(fd, 0) == 0)
			break;
		saved = errno;
		if (saved == ECANCELED) {
			close(fd);
			fd = -1;
			break;
		}
		snprintf(why, why_len, "cannot connect to %s port %s: %s", host, port,
			 strerror(saved));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = saved ? saved : ECONNREFUSED;
		return -1;
	}
	sock_set_nodelay(fd);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	return fd;
}

int sock_listen(const char *addr, const char *port, int backlog)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE,
	};
	struct addrinfo *res, *ai;
	int fd = -1, one = 1, zero = 0, saved = EADDRNOTAVAIL;

	if (getaddrinfo(addr, port, &hints, &res) != 0) {
		errno = EADDRNOTAVAIL;
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* "::" takes IPv4 too, whatever net.ipv6.bindv6only says. */
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		errno = saved;
	return fd;
}

ssize_t read_at_least(int fd, void *buf, size_t min, size_t max)
{
	char *p = buf;
	size_t got = 0;

	while (got < min) {
		ssize_t n = read(fd, p + got, max - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int read_full(int fd, void *buf, size_t len)
{
	return read_at_least(fd, buf, len, len) < 0 ? -1 : 0;
}

int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}
