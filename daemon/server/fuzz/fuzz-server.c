// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the input is a small header, then everything a client
 * sends on one connection, from the client flags through option haggling
 * to transmission requests.  The header picks
 *
 *   byte 0       bits 0-1: worker threads per connection (1, 2, 4, 16);
 *                bit 2: the access list is built from the input's specs
 *                (else a fixed one); bit 3: --default-deny
 *   byte 1       the peer's family: even IPv4, odd IPv6
 *   bytes 2-17   the peer's address (IPv4: the first 4 bytes)
 *   byte 18      L, then L bytes: --allow specs separated by ','
 *
 * and the access list decides, as in main.c, whether the connection is
 * refused.  The server side then runs exactly as for a socket (conn_serve),
 * its replies going to /dev/null, against four exports: a memory disk, a
 * read-only one, a file and a stripe over a file and memory (the files are
 * memfds, so nothing reaches a disk).  With more than one thread the order
 * in which requests complete varies from run to run.  Run it with
 * tests/host/server-fuzz-brief.sh or daemon/server/fuzz/run-fuzz.sh.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"

#define HEADER_LEN	19

static struct server srv;
static struct export exports[4];
static struct acl fixed_acl;
static int null_fd = -1;

/* A memfd of @size bytes, as a path file_backend_open() can open. */
static void memfd_path(size_t size, char *path, size_t len)
{
	int fd = memfd_create("fuzz-export", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		abort();
	snprintf(path, len, "/proc/self/fd/%d", fd);	/* stays open: the file lives on */
}

static void add_export(unsigned int i, const char *name, const char *spec, bool readonly)
{
	char why[256];

	exports[i].name = (char *)name;
	exports[i].readonly = readonly;
	exports[i].backend = backend_open(spec, readonly, why, sizeof(why));
	if (!exports[i].backend) {
		fprintf(stderr, "fuzz-server: export %s: %s\n", name, why);
		abort();
	}
}

static void setup(void)
{
	char file[64], part[64], stripe[160];

	log_init("enbd-server-fuzz", -3);	/* errors only: clients' faults are warnings */
	memfd_path(1 << 20, file, sizeof(file));
	memfd_path(256 << 10, part, sizeof(part));
	snprintf(stripe, sizeof(stripe), "stripe:4K:%s,memory:256K", part);
	add_export(0, "", "memory:1M", false);
	add_export(1, "ro", "memory:64K", true);
	add_export(2, "file", file, false);
	add_export(3, "stripe", stripe, false);
	srv.exports = exports;
	srv.nexports = 4;
	if (acl_add(&fixed_acl, "127.0.0.0/8") < 0 || acl_add(&fixed_acl, "::1") < 0 ||
	    acl_add(&fixed_acl, "fd00::/8") < 0)
		abort();
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd < 0)
		abort();
}

/* Build an access list from the ','-separated specs of @p (@len bytes). */
static void acl_from_input(struct acl *acl, const uint8_t *p, size_t len)
{
	char spec[256];
	size_t i, n = 0;

	for (i = 0; i <= len; i++) {
		if (i == len || p[i] == ',') {
			spec[n] = 0;
			acl_add(acl, spec);	/* bad specs are refused, as on the command line */
			n = 0;
		} else if (n + 1 < sizeof(spec)) {
			spec[n++] = p[i] ? (char)p[i] : '?';
		}
	}
}

/* Whether the peer of the header @h may connect, as main.c decides. */
static bool peer_allowed(const uint8_t *h, const uint8_t *specs, size_t specs_len)
{
	static const unsigned int threads[] = { 1, 2, 4, 16 };
	struct sockaddr_storage ss = { 0 };
	struct acl input_acl = { 0 }, *acl = &fixed_acl;
	struct peer_addr pa;
	bool allowed;

	srv.max_threads = threads[h[0] & 3];
	if (h[0] & 4) {
		acl_from_input(&input_acl, specs, specs_len);
		acl = &input_acl;
	}
	acl->default_deny = h[0] & 8;
	if (h[1] & 1) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, h + 2, 16);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, h + 2, 4);
	}
	peer_addr_get((struct sockaddr *)&ss, &pa);
	allowed = acl_allows(acl, &pa);
	acl_free(&input_acl);
	return allowed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *specs = data + HEADER_LEN;
	size_t specs_len;
	struct conn *c;
	bool allowed;
	int in;

	if (null_fd < 0)
		setup();
	if (size < HEADER_LEN || size - HEADER_LEN < data[HEADER_LEN - 1])
		return 0;
	specs_len = data[HEADER_LEN - 1];
	allowed = peer_allowed(data, specs, specs_len);
	if (!allowed)	/* closed by the accepting thread: no connection at all */
		return 0;
	data = specs + specs_len;
	size -= HEADER_LEN + specs_len;

	in = memfd_create("fuzz-input", MFD_CLOEXEC);
	if (in < 0)
		abort();
	if (size && write(in, data, size) != (ssize_t)size)
		abort();
	lseek(in, 0, SEEK_SET);
	c = conn_new(&srv, in, null_fd, "fuzz");
	if (!c)
		abort();
	conn_serve(c);
	conn_free(c);
	close(in);
	return 0;
}
