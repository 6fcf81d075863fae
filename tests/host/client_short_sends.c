// SPDX-License-Identifier: GPL-2.0
/*
 * LD_PRELOAD for enbd-client tests: every sendmsg() takes at most
 * SHORT_SEND bytes, as a peer's full socket buffer can make it do.  The
 * channel's sender then passes through every partly-sent state, one a real
 * socket leaves it in only by chance: any bug in resuming from one shows up
 * every run.  Built by the test that uses it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define SHORT_SEND	16	/* less than an NBD request header */

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
	struct iovec iov[SHORT_SEND];
	struct msghdr m = *msg;
	size_t i, n = 0, left = SHORT_SEND;

	if (!real_sendmsg)
		real_sendmsg = (ssize_t (*)(int, const struct msghdr *, int))
			       dlsym(RTLD_NEXT, "sendmsg");
	for (i = 0; i < msg->msg_iovlen && left; i++) {
		size_t len = msg->msg_iov[i].iov_len < left ? msg->msg_iov[i].iov_len : left;

		if (!len)
			continue;
		iov[n].iov_base = msg->msg_iov[i].iov_base;
		iov[n++].iov_len = len;
		left -= len;
	}
	m.msg_iov = iov;
	m.msg_iovlen = n;
	return real_sendmsg(fd, &m, flags);
}
