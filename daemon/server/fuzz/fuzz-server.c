// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the input is everything a client sends on one
 * connection, from the client flags through option haggling to
 * transmission requests.  The server side runs exactly as for a socket
 * (conn_serve), single-threaded, against two small memory exports; its
 * replies go to /dev/null.  Run it with tests/host/server-fuzz-brief.sh
 * or daemon/server/fuzz/run-fuzz.sh.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"

static struct server srv;
static struct export exports[2];
static int null_fd = -1;

static void setup(void)
{
	char why[256];

	log_init("enbd-server-fuzz", -3);	/* errors only: clients' faults are warnings */
	exports[0].name = "";
	exports[0].backend = memory_backend_open(1 << 20, why, sizeof(why));
	exports[1].name = "ro";
	exports[1].backend = memory_backend_open(64 << 10, why, sizeof(why));
	exports[1].readonly = true;
	if (!exports[0].backend || !exports[1].backend)
		abort();
	srv.exports = exports;
	srv.nexports = 2;
	srv.max_threads = 1;		/* deterministic: no helper threads */
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conn *c;
	int in;

	if (null_fd < 0)
		setup();
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
