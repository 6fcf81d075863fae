// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the input is everything a hostile server sends on one
 * connection, from the greeting through option replies (NBD_REP_INFO of
 * every kind, errors, export sizes and flags, block-size constraints,
 * lengths up to 4 GiB) to the end of the handshake.  The client side runs
 * nbd_handshake() exactly as a channel does, on one end of a socketpair
 * whose other end holds the input; what the client sends is left unread.
 * The first input byte picks the export name (default, short, longest).
 * Run it with tests/host/client-fuzz-handshake-brief.sh or
 * tools/run-fuzz client-handshake.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "handshake.h"
#include "log.h"
#include "nbd-proto.h"

static char longest[NBD_MAX_STRING + 1];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *names[3] = { "", "disk", longest };
	struct nbd_export ex;
	char why[512], flags[256];
	int sv[2];

	if (!longest[0]) {
		log_init("enbd-client-fuzz", -3);	/* errors only */
		memset(longest, 'n', NBD_MAX_STRING);
	}
	if (!size)
		return 0;
	/* Room for the whole input and everything the client writes back. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (size > 1 && write(sv[1], data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	shutdown(sv[1], SHUT_WR);
	if (nbd_handshake(sv[0], names[data[0] % 3], &ex, -1, 1000, NULL, why, sizeof(why)) == HS_OK)
		nbd_tflags_str(ex.tflags, flags, sizeof(flags));
	else if (!memchr(why, 0, sizeof(why)))
		abort();
	close(sv[0]);
	close(sv[1]);
	return 0;
}
