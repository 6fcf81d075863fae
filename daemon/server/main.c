// SPDX-License-Identifier: GPL-2.0
/*
 * enbd-server: serve files, block devices, memory, or linear / striped
 * sets of them over the standard NBD protocol.  See README.md.
 *
 * The main thread parses the command line, opens the exports, then
 * accepts connections; each connection gets its own thread (conn.c), which
 * may add helpers while serving requests (transmission.c).
 */
#include <errno.h>
#include <getopt.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buffer.h"
#include "conn.h"
#include "log.h"
#include "nbd-proto.h"
#include "server.h"
#include "sock.h"

#define DEFAULT_PORT		"10809"
#define DEFAULT_THREADS		16
#define DEFAULT_MAX_CONNS	256
#define HANDSHAKE_TIMEOUT_MS	30000
#define SHUTDOWN_GRACE_S	10

static const char usage_text[] =
"Usage: enbd-server [OPTIONS] [FILE...]\n"
"Serve FILE (a file or block device), or several FILEs joined with --linear\n"
"or --stripe, or --memory SIZE, as the default export over NBD.\n"
"\n"
"  -p, --port PORT          TCP port (default 10809; 0 picks a free one)\n"
"  -a, --address ADDR       listen on ADDR only (default: every address)\n"
"  -r, --read-only          serve every export read-only\n"
"  -n, --name NAME          name of the default export (default \"\")\n"
"      --linear             join FILE... end to end\n"
"      --stripe CHUNK       stripe over FILE... in CHUNK-byte chunks\n"
"  -m, --memory SIZE        default export is a sparse in-RAM disk of SIZE\n"
"                           bytes (suffixes K M G T P E; up to 2^63-1)\n"
"  -e, --export NAME=SPEC   another export; SPEC is PATH, memory:SIZE,\n"
"                           linear:SPEC,SPEC..., stripe:CHUNK:SPEC,SPEC...,\n"
"                           with a ro: prefix for read-only (repeatable)\n"
"      --allow ADDR[/LEN]   accept clients from this network (repeatable)\n"
"      --default-deny       with no --allow, refuse everyone\n"
"  -t, --threads N          at most N worker threads per connection (default 16)\n"
"      --max-connections N  connections served at once (default 256)\n"
"      --memory-budget SIZE request buffers of all connections together\n"
"                           (default 256M, at least 32M)\n"
"      --port-file FILE     write the port listened on to FILE\n"
"      --splice             zero-copy reads from files (less CPU, more blocking)\n"
"  -v, --verbose            more log lines (repeat for more)\n"
"  -q, --quiet              fewer log lines\n"
"  -h, --help               this text\n";

struct options {
	const char *port, *addr, *port_file, *name, *memory, *stripe;
	bool readonly, linear, splice;
	int verbosity;
	unsigned int threads, max_conns;
	char **export_args;
	unsigned int nexport_args;
	struct acl acl;
};

/* ---- connections ---- */

struct client {
	struct conn *conn;
	int fd;
	struct client *next;
};

static pthread_mutex_t clients_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t clients_gone = PTHREAD_COND_INITIALIZER;
static struct client *clients;
static unsigned int nclients;

static void *client_thread(void *arg)
{
	struct client *cl = arg, **pp;

	conn_serve(cl->conn);
	log_info("%s: disconnected", cl->conn->peer);
	pthread_mutex_lock(&clients_lock);
	for (pp = &clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	nclients--;
	close(cl->fd);
	pthread_cond_broadcast(&clients_gone);
	pthread_mutex_unlock(&clients_lock);
	conn_free(cl->conn);
	free(cl);
	return NULL;
}

static void peer_name(const struct sockaddr_storage *ss, socklen_t len, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN + 16], port[8];
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	/* IPv4 through the IPv6 socket: show it as IPv4 */
	if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
	    inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], host, sizeof(host))) {
		snprintf(buf, size, "%s:%u", host, ntohs(s6->sin6_port));
		return;
	}
	if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(buf, size, "unknown peer");
	else if (ss->ss_family == AF_INET6)
		snprintf(buf, size, "[%s]:%s", host, port);
	else
		snprintf(buf, size, "%s:%s", host, port);
}

static void accept_one(int lfd, const struct server *srv, const struct options *o)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct client *cl;
	pthread_attr_t attr;
	pthread_t tid;
	char peer[sizeof(((struct conn *)0)->peer)];
	bool allowed;
	int fd, one = 1;

	fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept: %s", strerror(errno));
		return;
	}
	peer_name(&ss, len, peer, sizeof(peer));
	allowed = acl_allows(&o->acl, (struct sockaddr *)&ss);
	if (!allowed)
		log_warn("%s: refused by access control", peer);
	pthread_mutex_lock(&clients_lock);
	if (nclients >= o->max_conns) {
		pthread_mutex_unlock(&clients_lock);
		log_warn("%s: too many connections (%u), closing", peer, o->max_conns);
		close(fd);
		return;
	}
	pthread_mutex_unlock(&clients_lock);
	sock_set_nodelay(fd);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	cl = calloc(1, sizeof(*cl));
	if (!cl || !(cl->conn = conn_new(srv, fd, fd, peer, !allowed))) {
		log_err("%s: out of memory", peer);
		free(cl);
		close(fd);
		return;
	}
	cl->fd = fd;
	if (allowed)
		log_info("%s: connected", peer);
	pthread_mutex_lock(&clients_lock);
	cl->next = clients;
	clients = cl;
	nclients++;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, client_thread, cl) != 0) {
		clients = cl->next;
		nclients--;
		pthread_mutex_unlock(&clients_lock);
		log_err("%s: cannot start a thread", peer);
		conn_free(cl->conn);
		free(cl);
		close(fd);
	} else {
		pthread_mutex_unlock(&clients_lock);
	}
	pthread_attr_destroy(&attr);
}

/* With @clients_lock held: shut every client socket down (@how) and wait
 * up to SHUTDOWN_GRACE_S for their threads to finish. */
static void shutdown_clients(int how)
{
	struct timespec deadline;
	struct client *cl;

	for (cl = clients; cl; cl = cl->next) {
		conn_stop(cl->conn);	/* what was read is still carried out */
		shutdown(cl->fd, how);
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += SHUTDOWN_GRACE_S;
	while (nclients &&
	       pthread_cond_timedwait(&clients_gone, &clients_lock, &deadline) != ETIMEDOUT)
		;
}

/*
 * Server shutdown: stop reading requests (in-flight ones are finished and
 * answered), then, for clients that do not read their replies, stop
 * writing too.  Returns true when every client is gone.
 */
static bool close_clients(void)
{
	bool all_gone;

	pthread_mutex_lock(&clients_lock);
	if (nclients)
		shutdown_clients(SHUT_RD);
	if (nclients)
		shutdown_clients(SHUT_RDWR);
	all_gone = nclients == 0;
	pthread_mutex_unlock(&clients_lock);
	return all_gone;
}

/* ---- start-up ---- */

static void usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "enbd-server: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'enbd-server --help'.\n");
	exit(2);
}

static unsigned int parse_count(const char *s, const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v == 0 || v > 65536)
		usage_error("bad %s", what);
	return (unsigned int)v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_LINEAR = 256, OPT_STRIPE, OPT_ALLOW, OPT_DENY, OPT_MAXCONN, OPT_PORTFILE,
	       OPT_SPLICE, OPT_BUDGET };
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "address", required_argument, NULL, 'a' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "linear", no_argument, NULL, OPT_LINEAR },
		{ "stripe", required_argument, NULL, OPT_STRIPE },
		{ "memory", required_argument, NULL, 'm' },
		{ "export", required_argument, NULL, 'e' },
		{ "allow", required_argument, NULL, OPT_ALLOW },
		{ "default-deny", no_argument, NULL, OPT_DENY },
		{ "threads", required_argument, NULL, 't' },
		{ "max-connections", required_argument, NULL, OPT_MAXCONN },
		{ "port-file", required_argument, NULL, OPT_PORTFILE },
		{ "splice", no_argument, NULL, OPT_SPLICE },
		{ "memory-budget", required_argument, NULL, OPT_BUDGET },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t budget;
	int ch;

	o->port = DEFAULT_PORT;
	o->name = "";
	o->threads = DEFAULT_THREADS;
	o->max_conns = DEFAULT_MAX_CONNS;
	o->export_args = calloc(argc, sizeof(char *));
	if (!o->export_args)
		exit(1);
	while ((ch = getopt_long(argc, argv, "p:a:rn:m:e:t:vqh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p': o->port = optarg; break;
		case 'a': o->addr = optarg; break;
		case 'r': o->readonly = true; break;
		case 'n': o->name = optarg; break;
		case OPT_LINEAR: o->linear = true; break;
		case OPT_STRIPE: o->stripe = optarg; break;
		case 'm': o->memory = optarg; break;
		case 'e': o->export_args[o->nexport_args++] = optarg; break;
		case OPT_ALLOW:
			if (acl_add(&o->acl, optarg) < 0)
				usage_error("bad --allow \"%s\": expected ADDR[/PREFIX]", optarg);
			break;
		case OPT_DENY: o->acl.default_deny = true; break;
		case 't': o->threads = parse_count(optarg, "--threads"); break;
		case OPT_MAXCONN: o->max_conns = parse_count(optarg, "--max-connections"); break;
		case OPT_PORTFILE: o->port_file = optarg; break;
		case OPT_SPLICE: o->splice = true; break;
		case OPT_BUDGET:
			if (parse_size(optarg, &budget) < 0 || budget < BUFFER_BUDGET_MIN)
				usage_error("bad --memory-budget \"%s\": a size of at least 32M", optarg);
			buffer_budget_set(budget);
			break;
		case 'v': o->verbosity++; break;
		case 'q': o->verbosity--; break;
		case 'h': fputs(usage_text, stdout); exit(0);
		default: usage_error("%s", "bad option");
		}
	}
	if (o->linear && o->stripe)
		usage_error("%s", "--linear and --stripe exclude each other");
	if (o->memory && optind < argc)
		usage_error("%s", "--memory and FILE exclude each other");
	if ((o->linear || o->stripe) && optind >= argc)
		usage_error("%s", "--linear and --stripe need FILEs");
	if (!o->linear && !o->stripe && argc - optind > 1)
		usage_error("%s", "several FILEs need --linear or --stripe");
	if (!o->memory && optind >= argc && o->nexport_args == 0)
		usage_error("%s", "nothing to serve: give FILE, --memory or --export");
}

/* Join FILE... into one spec for backend_open(). */
static char *default_spec(const struct options *o, int argc, char **argv)
{
	size_t len = 64;
	char *spec;
	int i;

	for (i = optind; i < argc; i++)
		len += strlen(argv[i]) + 1;
	spec = malloc(len + (o->memory ? strlen(o->memory) : 0) +
		      (o->stripe ? strlen(o->stripe) : 0));
	if (!spec)
		return NULL;
	if (o->memory) {
		sprintf(spec, "memory:%s", o->memory);
		return spec;
	}
	if (o->linear)
		strcpy(spec, "linear:");
	else if (o->stripe)
		sprintf(spec, "stripe:%s:", o->stripe);
	else
		strcpy(spec, "file:");
	for (i = optind; i < argc; i++) {
		strcat(spec, argv[i]);
		if (i + 1 < argc)
			strcat(spec, ",");
	}
	return spec;
}

static int add_export(struct server *srv, const char *name, const char *spec, bool readonly)
{
	struct export *e = &srv->exports[srv->nexports];
	char why[512];
	unsigned int i;

	if (strlen(name) > NBD_MAX_STRING) {
		log_err("export name too long: \"%.40s...\"", name);
		return -1;
	}
	for (i = 0; i < srv->nexports; i++) {
		if (!strcmp(srv->exports[i].name, name)) {
			log_err("export \"%s\" given twice", name);
			return -1;
		}
	}
	if (!strncmp(spec, "ro:", 3)) {
		readonly = true;
		spec += 3;
	}
	e->backend = backend_open(spec, readonly, why, sizeof(why));
	if (!e->backend) {
		log_err("export \"%s\": %s", name, why);
		return -1;
	}
	e->name = strdup(name);
	e->spec = strdup(spec);
	e->readonly = readonly;
	srv->nexports++;
	log_info("export \"%s\": %s%s", name, e->backend->desc, readonly ? ", read-only" : "");
	return e->name && e->spec ? 0 : -1;
}

static int open_exports(struct server *srv, const struct options *o, int argc, char **argv)
{
	unsigned int i;

	srv->exports = calloc(o->nexport_args + 1, sizeof(*srv->exports));
	if (!srv->exports)
		return -1;
	if (o->memory || optind < argc) {
		char *spec = default_spec(o, argc, argv);
		int rc = spec ? add_export(srv, o->name, spec, o->readonly) : -1;

		free(spec);
		if (rc < 0)
			return -1;
	}
	for (i = 0; i < o->nexport_args; i++) {
		char *arg = o->export_args[i], *eq = strchr(arg, '=');
		int rc;

		if (!eq) {
			log_err("--export \"%s\": expected NAME=SPEC", arg);
			return -1;
		}
		*eq = 0;
		rc = add_export(srv, arg, eq + 1, o->readonly);
		*eq = '=';
		if (rc < 0)
			return -1;
	}
	return 0;
}

static void close_exports(struct server *srv)
{
	unsigned int i;

	for (i = 0; i < srv->nexports; i++) {
		struct backend *b = srv->exports[i].backend;

		if (!srv->exports[i].readonly && b->ops->flush(b) < 0)
			log_warn("export \"%s\": flush failed", srv->exports[i].name);
		backend_close(b);
		free(srv->exports[i].name);
		free(srv->exports[i].spec);
	}
	free(srv->exports);
}

static int listen_on(const struct options *o)
{
	int fd;

	/* With no address, one IPv6 socket takes IPv4 too; else plain IPv4. */
	if (o->addr)
		return sock_listen(o->addr, o->port, 128);
	fd = sock_listen("::", o->port, 128);
	return fd >= 0 ? fd : sock_listen(NULL, o->port, 128);
}

/* The port @lfd listens on, as a string. */
static int local_port(int lfd, char *port, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(lfd, (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, NULL, 0, port, size, NI_NUMERICSERV) != 0)
		return -1;
	return 0;
}

static int write_port_file(const char *path, const char *port)
{
	char tmp[4096];
	FILE *f;

	/* Write then rename, so a reader never sees half a file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%s\n", port);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct server srv = { 0 };
	struct pollfd pfd[2];
	sigset_t sigs;
	char port[NI_MAXSERV];
	int lfd, sfd, status = 0;

	parse_options(argc, argv, &o);
	log_init("enbd-server", o.verbosity);
	srv.max_threads = o.threads;
	srv.splice = o.splice;
	srv.handshake_timeout_ms = HANDSHAKE_TIMEOUT_MS;

	/* Signals are taken from a signalfd by the main thread alone. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);

	if (sfd < 0 || open_exports(&srv, &o, argc, argv) < 0) {
		close_exports(&srv);
		return 1;
	}
	lfd = listen_on(&o);
	if (lfd < 0) {
		log_err("cannot listen on %s port %s: %s", o.addr ? o.addr : "*", o.port,
			strerror(errno));
		close_exports(&srv);
		return 1;
	}
	if (local_port(lfd, port, sizeof(port)) < 0)
		snprintf(port, sizeof(port), "%s", o.port);
	if (o.port_file && write_port_file(o.port_file, port) < 0) {
		log_err("cannot write %s: %s", o.port_file, strerror(errno));
		close_exports(&srv);
		return 1;
	}
	log_info("listening on %s port %s, %u export%s", o.addr ? o.addr : "*", port,
		 srv.nexports, srv.nexports == 1 ? "" : "s");

	pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			status = 1;
			break;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				log_info("signal %u: shutting down", si.ssi_signo);
			break;
		}
		if (pfd[0].revents)
			accept_one(lfd, &srv, &o);
	}
	close(lfd);
	if (!close_clients()) {
		log_err("clients still busy after %d s: exiting anyway", 2 * SHUTDOWN_GRACE_S);
		_exit(1);
	}
	close_exports(&srv);
	close(sfd);
	acl_free(&o.acl);
	free(o.export_args);
	if (o.port_file)
		unlink(o.port_file);
	return status;
}
