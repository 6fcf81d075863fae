// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket.  Commands (one line, words split on blanks):
 *
 *   status [--json]           pid, clients, bytes, migration progress
 *   acl [ADDR[/PREFIX]...]    replace the ACL; close connections it refuses
 *   mirror HOST PORT [--unlink] [--rate BYTES]
 *                             migrate the default export (mirror.c)
 *   break                     stop a running mirror
 *
 * The reply is one line: the status, or "ok: ..." or "error: ...".  The
 * thread answers one connection at a time, each bounded by a timeout, so a
 * stuck peer of the socket delays the others by at most that long.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clients.h"
#include "control.h"
#include "log.h"
#include "migrate.h"
#include "mirror.h"
#include "sock.h"

#define CONTROL_LINE_MAX	4096
#define CONTROL_IO_MS		2000
#define CONTROL_MAX_WORDS	256	/* "acl" with 255 entries */

static const struct server *control_srv;
static struct acl *control_acl;
static char *control_path;
static int control_fd = -1, stop_fd = -1;
static pthread_t control_thread;

static int unix_address(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun->sun_path, path);
	return 0;
}

static void status_reply(bool json, char *out, size_t size)
{
	struct migrate_status st;
	bool mirroring;

	/* has_control: false once the export was mirrored away (a received
	 * migration has no total, and this server keeps the export). */
	migrate_get_status(&st);
	mirroring = st.state == MIGRATE_MIRRORING || st.state == MIGRATE_SWITCHING;
	snprintf(out, size, json ?
		 "{\"pid\":%ld,\"is_mirroring\":%s,\"has_control\":%s,\"clients\":%u,"
		 "\"bytes_read\":%llu,\"bytes_written\":%llu,\"migration\":\"%s\","
		 "\"migration_total\":%llu,\"migration_copied\":%llu,\"migration_dirty\":%llu,"
		 "\"migration_passes\":%u,\"migration_rate\":%llu,\"migration_pause_ms\":%llu,"
		 "\"migration_error\":\"%s\"}\n" :
		 "pid=%ld is_mirroring=%s has_control=%s clients=%u bytes_read=%llu "
		 "bytes_written=%llu migration=%s migration_total=%llu migration_copied=%llu "
		 "migration_dirty=%llu migration_passes=%u migration_rate=%llu "
		 "migration_pause_ms=%llu migration_error=\"%s\"\n",
		 (long)getpid(), mirroring ? "true" : "false",
		 st.state == MIGRATE_DONE && st.total ? "false" : "true", clients_count(),
		 (unsigned long long)st.bytes_read, (unsigned long long)st.bytes_written,
		 migrate_state_name(st.state), (unsigned long long)st.total,
		 (unsigned long long)st.copied, (unsigned long long)st.dirty, st.passes,
		 (unsigned long long)st.rate, (unsigned long long)st.pause_ms, st.error);
}

static void acl_command(char **words, int n, char *out, size_t size)
{
	struct acl fresh = { 0 };
	unsigned int closed;
	int i;

	for (i = 1; i < n; i++) {
		if (acl_add(&fresh, words[i]) < 0) {
			acl_free(&fresh);
			snprintf(out, size, "error: bad ACL entry \"%.100s\": expected ADDR[/PREFIX]\n",
				 words[i]);
			return;
		}
	}
	log_info("control: access control list replaced (%d entr%s)", n - 1,
		 n == 2 ? "y" : "ies");
	closed = clients_replace_acl(control_acl, &fresh);
	snprintf(out, size, "ok: %d entr%s, %u connection%s closed\n", n - 1,
		 n == 2 ? "y" : "ies", closed, closed == 1 ? "" : "s");
}

static void mirror_command(char **words, int n, char *out, size_t size)
{
	bool unlink = false;
	uint64_t rate = 0;
	char why[256];
	int i;

	for (i = 3; i < n; i++) {
		if (!strcmp(words[i], "--unlink"))
			unlink = true;
		else if (!strcmp(words[i], "--rate") && i + 1 < n && parse_size(words[i + 1], &rate) == 0)
			i++;
		else
			break;
	}
	if (n < 3 || i < n) {
		snprintf(out, size, "error: usage: mirror HOST PORT [--unlink] [--rate BYTES]\n");
		return;
	}
	if (mirror_start(control_srv, words[1], words[2], unlink, rate, why, sizeof(why)) < 0) {
		snprintf(out, size, "error: %s\n", why);
		return;
	}
	log_info("control: mirroring to %s port %s%s", words[1], words[2],
		 unlink ? ", then removing the file" : "");
	snprintf(out, size, "ok: mirroring to %s port %s\n", words[1], words[2]);
}

static void run_command(char *line, char *out, size_t size)
{
	char *words[CONTROL_MAX_WORDS], *save = NULL, *w;
	int n = 0;

	for (w = strtok_r(line, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == CONTROL_MAX_WORDS) {
			snprintf(out, size, "error: more than %d words\n", CONTROL_MAX_WORDS);
			return;
		}
		words[n++] = w;
	}
	if (n == 0)
		snprintf(out, size, "error: empty command\n");
	else if (!strcmp(words[0], "status") && (n == 1 || (n == 2 && !strcmp(words[1], "--json"))))
		status_reply(n == 2, out, size);
	else if (!strcmp(words[0], "acl"))
		acl_command(words, n, out, size);
	else if (!strcmp(words[0], "mirror"))
		mirror_command(words, n, out, size);
	else if (!strcmp(words[0], "break") && n == 1)
		snprintf(out, size, mirror_break() == 0 ? "ok: mirror stopped\n" :
			 "error: no mirror is running\n");
	else
		snprintf(out, size, "error: unknown command \"%.40s\" (status, acl, mirror, break)\n",
			 words[0]);
}

static void answer(int fd)
{
	char line[CONTROL_LINE_MAX + 1], out[1024];
	size_t len = 0;

	sock_set_timeouts(fd, CONTROL_IO_MS);
	while (len < CONTROL_LINE_MAX && !memchr(line, '\n', len)) {
		ssize_t n = read(fd, line + len, CONTROL_LINE_MAX - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	line[len] = 0;
	if (len == 0)
		return;
	run_command(line, out, sizeof(out));
	if (write_full(fd, out, strlen(out)) < 0)
		log_info("control: cannot send the reply: %s", strerror(errno));
}

static void *control_main(void *arg)
{
	struct pollfd pfd[2] = {
		{ .fd = control_fd, .events = POLLIN },
		{ .fd = stop_fd, .events = POLLIN },
	};

	(void)arg;
	while (poll(pfd, 2, -1) >= 0 || errno == EINTR) {
		int fd;

		if (pfd[1].revents)
			break;
		if (!pfd[0].revents)
			continue;
		fd = accept4(control_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		answer(fd);
		close(fd);
	}
	return NULL;
}

/* A socket file someone still accepts on is in use; anything else is stale. */
static bool socket_in_use(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live = fd >= 0 && connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;

	if (fd >= 0)
		close(fd);
	return live;
}

int control_start(const char *path, const struct server *srv, struct acl *acl)
{
	struct sockaddr_un sun;
	struct stat stt;
	mode_t old_mask;
	int rc;

	if (unix_address(path, &sun) < 0) {
		log_err("--sock %s: path too long", path);
		return -1;
	}
	if (lstat(path, &stt) == 0) {
		if (!S_ISSOCK(stt.st_mode) || socket_in_use(&sun)) {
			log_err("--sock %s: %s", path, S_ISSOCK(stt.st_mode) ?
				"another server answers there" : "exists and is not a socket");
			return -1;
		}
		unlink(path);
	}
	control_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	stop_fd = eventfd(0, EFD_CLOEXEC);
	if (control_fd < 0 || stop_fd < 0)
		goto fail;
	old_mask = umask(0177);	/* created 0600: owner only */
	rc = bind(control_fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_mask);
	if (rc < 0 || listen(control_fd, 16) < 0)
		goto fail;
	control_path = strdup(path);
	control_srv = srv;
	control_acl = acl;
	if (!control_path || pthread_create(&control_thread, NULL, control_main, NULL) != 0) {
		free(control_path);
		control_path = NULL;
		unlink(path);
		goto fail;
	}
	log_info("control socket %s", path);
	return 0;
fail:
	log_err("--sock %s: %s", path, strerror(errno));
	if (control_fd >= 0)
		close(control_fd);
	if (stop_fd >= 0)
		close(stop_fd);
	control_fd = stop_fd = -1;
	return -1;
}

void control_stop(void)
{
	if (!control_path)
		return;
	eventfd_write(stop_fd, 1);
	pthread_join(control_thread, NULL);
	unlink(control_path);
	free(control_path);
	control_path = NULL;
	close(control_fd);
	close(stop_fd);
	control_fd = stop_fd = -1;
}

/* ---- the client ---- */

static const char control_usage[] =
"Usage: enbd-server control --sock PATH COMMAND [ARG...]\n"
"Commands: status [--json] | acl [ADDR[/PREFIX]...] |\n"
"          mirror HOST PORT [--unlink] [--rate BYTES] | break\n";

int control_client(int argc, char **argv)
{
	char line[CONTROL_LINE_MAX + 2], reply[4096];
	struct sockaddr_un sun;
	const char *path = NULL;
	size_t len = 0;
	ssize_t n;
	int i = 1, fd;

	if (argc > 2 && !strcmp(argv[1], "--sock")) {
		path = argv[2];
		i = 3;
	} else if (argc > 1 && !strncmp(argv[1], "--sock=", 7)) {
		path = argv[1] + 7;
		i = 2;
	}
	if (!path || i >= argc) {
		fputs(control_usage, stderr);
		return 2;
	}
	line[0] = 0;
	for (; i < argc; i++) {
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s",
					len ? " " : "", argv[i]);
		if (len >= CONTROL_LINE_MAX) {
			fprintf(stderr, "enbd-server control: command too long\n");
			return 2;
		}
	}
	line[len++] = '\n';
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || unix_address(path, &sun) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "enbd-server control: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (write_full(fd, line, len) < 0) {
		fprintf(stderr, "enbd-server control: %s: %s\n", path, strerror(errno));
		close(fd);
		return 1;
	}
	shutdown(fd, SHUT_WR);
	len = 0;
	while (len < sizeof(reply) - 1 && (n = read(fd, reply + len, sizeof(reply) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	reply[len] = 0;
	fputs(reply, stdout);
	return len == 0 || !strncmp(reply, "error", 5) ? 1 : 0;
}
