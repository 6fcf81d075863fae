// SPDX-License-Identifier: GPL-2.0
/*
 * enbd-server read|write --addr HOST [--port PORT] [--name NAME]
 *                        --from OFFSET --size SIZE
 * read: the range to stdout; write: exactly SIZE bytes from stdin into it,
 * then a flush.  One request of at most 1 MiB at a time (nbd-peer.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "nbd-peer.h"
#include "nbd-proto.h"
#include "oneshot.h"
#include "sock.h"

#define ONESHOT_CHUNK	(1u << 20)

static int usage(const char *mode, const char *what)
{
	fprintf(stderr, "enbd-server %s: %s\nUsage: enbd-server %s --addr HOST [--port PORT] "
		"[--name NAME] --from OFFSET --size SIZE\n", mode, what, mode);
	return 2;
}

static int transfer(struct nbd_peer *p, bool reading, uint64_t from, uint64_t size, void *buf,
		    char *why, size_t why_len)
{
	while (size) {
		uint32_t n = size < ONESHOT_CHUNK ? (uint32_t)size : ONESHOT_CHUNK;

		if (!reading && read_full(STDIN_FILENO, buf, n) < 0) {
			snprintf(why, why_len, "reading stdin: %s",
				 errno == ECONNRESET ? "fewer bytes than --size" : strerror(errno));
			return -1;
		}
		if (nbd_peer_request(p, reading ? NBD_CMD_READ : NBD_CMD_WRITE, 0, from, n, buf,
				     why, why_len) < 0)
			return -1;
		if (reading && write_full(STDOUT_FILENO, buf, n) < 0) {
			snprintf(why, why_len, "writing stdout: %s", strerror(errno));
			return -1;
		}
		from += n;
		size -= n;
	}
	return reading ? 0 : nbd_peer_request(p, NBD_CMD_FLUSH, 0, 0, 0, NULL, why, why_len);
}

int oneshot_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "from", required_argument, NULL, 'F' },
		{ "size", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	const char *mode = argv[0], *host = NULL, *port = "10809", *name = "";
	bool reading = !strcmp(mode, "read"), have_from = false, have_size = false;
	uint64_t from = 0, size = 0;
	struct nbd_peer peer;
	char why[512];
	void *buf;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "a:p:n:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a': host = optarg; break;
		case 'p': port = optarg; break;
		case 'n': name = optarg; break;
		case 'F': have_from = parse_size(optarg, &from) == 0; break;
		case 'S': have_size = parse_size(optarg, &size) == 0; break;
		default: return usage(mode, "bad option");
		}
	}
	if (!host || !have_from || !have_size || optind != argc)
		return usage(mode, "--addr, --from and --size are needed");
	if (nbd_peer_open(&peer, host, port, name, -1, why, sizeof(why)) < 0) {
		fprintf(stderr, "enbd-server %s: %s\n", mode, why);
		return 1;
	}
	if (from > peer.size || size > peer.size - from) {
		fprintf(stderr, "enbd-server %s: the export has %llu bytes\n", mode,
			(unsigned long long)peer.size);
		nbd_peer_close(&peer);
		return 1;
	}
	buf = malloc(ONESHOT_CHUNK);
	rc = buf ? transfer(&peer, reading, from, size, buf, why, sizeof(why)) : -1;
	if (!buf)
		snprintf(why, sizeof(why), "out of memory");
	free(buf);
	if (rc < 0) {
		fprintf(stderr, "enbd-server %s: %s\n", mode, why);
		nbd_peer_close(&peer);
		return 1;
	}
	nbd_peer_disconnect(&peer);
	return 0;
}
