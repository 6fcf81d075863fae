// SPDX-License-Identifier: GPL-2.0
/*
 * enbd-server: serve files, block devices, memory, or linear / striped
 * sets of them over the standard NBD protocol.  See README.md.
 *
 * The main thread parses the command line, opens the exports, then
 * accepts connections (clients.c); each connection gets its own thread
 * (conn.c), which
 * may add helpers while serving requests (transmission.c).
 */
#include <errno.h>
#include <getopt.h>
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
#include "clients.h"
#include "control.h"
#include "log.h"
#include "migrate.h"
#include "mirror.h"
#include "nbd-proto.h"
#include "oneshot.h"
#include "server.h"
#include "sock.h"
#include "tls.h"

#define DEFAULT_PORT		"10809"
#define DEFAULT_THREADS		16
#define DEFAULT_MAX_CONNS	256
#define DEFAULT_MAX_PER_ADDR	16
#define DEFAULT_HANDSHAKE_S	10

static const char usage_text[] =
"Usage: enbd-server [OPTIONS] [FILE...]\n"
"       enbd-server control --sock PATH COMMAND [ARG...]\n"
"       enbd-server read|write --addr HOST [--port PORT] [--name NAME]\n"
"                   --from OFFSET --size SIZE\n"
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
"      --max-connections-per-address N\n"
"                           ... from one client address (default 16)\n"
"      --handshake-timeout SECONDS\n"
"                           close clients still negotiating after this long\n"
"                           (default 10)\n"
"      --description TEXT   describe every export to clients (LIST, INFO)\n"
"      --export-description NAME=TEXT\n"
"                           describe export NAME (repeatable)\n"
"      --memory-budget SIZE request buffers of all connections together\n"
"                           (default 256M, at least 32M)\n"
"      --port-file FILE     write the port listened on to FILE\n"
"      --splice             zero-copy reads from files (less CPU, more blocking)\n"
"      --tls off|on|require TLS (NBD_OPT_STARTTLS): refused, offered, or required\n"
"      --tls-certificates DIR\n"
"                           X.509: DIR/server-cert.pem, server-key.pem and\n"
"                           ca-cert.pem (for --tls-verify-peer)\n"
"      --tls-psk FILE       PSK: lines of identity:hexkey\n"
"      --tls-verify-peer    X.509: clients need a certificate signed by the CA\n"
"      --tls-allow-name NAME\n"
"                           ... naming NAME (repeatable; default: any name)\n"
"      --sock PATH          control socket (status, acl, mirror, break)\n"
"      --listen             receive one inbound migration before serving\n"
"      --exit-after-migration\n"
"                           with --listen: exit 0 once it is received\n"
"  -v, --verbose            more log lines (repeat for more)\n"
"  -q, --quiet              fewer log lines\n"
"  -h, --help               this text\n"
"\n"
"control: send COMMAND to the server at --sock PATH: status [--json],\n"
"acl [ADDR[/LEN]...], mirror HOST PORT [--unlink] [--rate BYTES], break.\n"
"read, write: copy --size bytes at --from of an NBD export (any server) to\n"
"stdout, or from stdin.\n";

struct options {
	const char *port, *addr, *port_file, *name, *memory, *stripe, *sock;
	bool readonly, linear, splice, listen, exit_after_migration;
	int tls_mode;
	struct tls_config tls;
	const char **tls_names;
	int verbosity;
	unsigned int threads, max_conns;
	unsigned int max_per_addr, handshake_s;
	char **export_args;
	unsigned int nexport_args;
	const char *description;
	char **export_descs;
	unsigned int nexport_descs;
	struct acl acl;
};

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

/* Descriptions go to every client: printable text of a string's length. */
static const char *check_description(const char *text, const char *option)
{
	const unsigned char *p;

	if (strlen(text) > NBD_MAX_STRING)
		usage_error("%s: longer than 4096 bytes", option);
	for (p = (const unsigned char *)text; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			usage_error("%s: control characters", option);
	return text;
}

static void check_tls_options(const struct options *o)
{
	const struct tls_config *t = &o->tls;

	if (o->tls_mode == TLS_OFF) {
		if (t->certs_dir || t->psk_file || t->verify_peer || t->nallowed)
			usage_error("%s", "TLS credentials given, but no --tls on or require");
		return;
	}
	if (!t->certs_dir == !t->psk_file)
		usage_error("%s", "--tls needs --tls-certificates DIR or --tls-psk FILE");
	if (t->verify_peer && !t->certs_dir)
		usage_error("%s", "--tls-verify-peer needs --tls-certificates");
	if (t->nallowed && !t->verify_peer)
		usage_error("%s", "--tls-allow-name needs --tls-verify-peer");
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_LINEAR = 256, OPT_STRIPE, OPT_ALLOW, OPT_DENY, OPT_MAXCONN,
	       OPT_MAXCONN_ADDR, OPT_HANDSHAKE_TIMEOUT, OPT_DESC, OPT_EXPORT_DESC,
	       OPT_PORTFILE, OPT_SPLICE, OPT_BUDGET, OPT_TLS, OPT_TLS_CERTS, OPT_TLS_PSK,
	       OPT_TLS_VERIFY, OPT_TLS_ALLOW, OPT_SOCK, OPT_LISTEN, OPT_EXIT_AFTER };
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
		{ "max-connections-per-address", required_argument, NULL, OPT_MAXCONN_ADDR },
		{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT },
		{ "description", required_argument, NULL, OPT_DESC },
		{ "export-description", required_argument, NULL, OPT_EXPORT_DESC },
		{ "port-file", required_argument, NULL, OPT_PORTFILE },
		{ "splice", no_argument, NULL, OPT_SPLICE },
		{ "memory-budget", required_argument, NULL, OPT_BUDGET },
		{ "tls", required_argument, NULL, OPT_TLS },
		{ "tls-certificates", required_argument, NULL, OPT_TLS_CERTS },
		{ "tls-psk", required_argument, NULL, OPT_TLS_PSK },
		{ "tls-verify-peer", no_argument, NULL, OPT_TLS_VERIFY },
		{ "tls-allow-name", required_argument, NULL, OPT_TLS_ALLOW },
		{ "sock", required_argument, NULL, OPT_SOCK },
		{ "listen", no_argument, NULL, OPT_LISTEN },
		{ "exit-after-migration", no_argument, NULL, OPT_EXIT_AFTER },
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
	o->max_per_addr = DEFAULT_MAX_PER_ADDR;
	o->handshake_s = DEFAULT_HANDSHAKE_S;
	o->export_args = calloc(argc, sizeof(char *));
	o->export_descs = calloc(argc, sizeof(char *));
	o->tls_names = calloc(argc, sizeof(char *));
	o->tls.allowed_names = o->tls_names;
	if (!o->export_args || !o->export_descs || !o->tls_names)
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
		case OPT_MAXCONN_ADDR:
			o->max_per_addr = parse_count(optarg, "--max-connections-per-address");
			break;
		case OPT_HANDSHAKE_TIMEOUT:
			o->handshake_s = parse_count(optarg, "--handshake-timeout");
			break;
		case OPT_DESC:
			o->description = check_description(optarg, "--description");
			break;
		case OPT_EXPORT_DESC:
			if (!strchr(optarg, '='))
				usage_error("--export-description \"%s\": expected NAME=TEXT", optarg);
			check_description(strchr(optarg, '=') + 1, "--export-description");
			o->export_descs[o->nexport_descs++] = optarg;
			break;
		case OPT_PORTFILE: o->port_file = optarg; break;
		case OPT_SPLICE: o->splice = true; break;
		case OPT_BUDGET:
			if (parse_size(optarg, &budget) < 0 || budget < BUFFER_BUDGET_MIN)
				usage_error("bad --memory-budget \"%s\": a size of at least 32M", optarg);
			buffer_budget_set(budget);
			break;
		case OPT_TLS:
			o->tls_mode = tls_mode_parse(optarg);
			if (o->tls_mode < 0)
				usage_error("bad --tls \"%s\": expected off, on or require", optarg);
			break;
		case OPT_TLS_CERTS: o->tls.certs_dir = optarg; break;
		case OPT_TLS_PSK: o->tls.psk_file = optarg; break;
		case OPT_TLS_VERIFY: o->tls.verify_peer = true; break;
		case OPT_TLS_ALLOW: o->tls_names[o->tls.nallowed++] = optarg; break;
		case OPT_SOCK: o->sock = optarg; break;
		case OPT_LISTEN: o->listen = true; break;
		case OPT_EXIT_AFTER: o->exit_after_migration = true; break;
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
	if (o->exit_after_migration && !o->listen)
		usage_error("%s", "--exit-after-migration needs --listen");
	if (o->listen && (o->readonly || o->nexport_args))
		usage_error("%s", "--listen receives into one writable export");
	check_tls_options(o);
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

/* --description for every export, then --export-description NAME=TEXT. */
static int describe_exports(struct server *srv, const struct options *o)
{
	unsigned int i;

	for (i = 0; i < srv->nexports; i++)
		srv->exports[i].description = o->description;
	for (i = 0; i < o->nexport_descs; i++) {
		char *arg = o->export_descs[i], *eq = strchr(arg, '=');
		const struct export *e;

		*eq = 0;
		e = export_find(srv, arg);
		if (!e)
			log_err("--export-description: no export \"%s\"", arg);
		*eq = '=';
		if (!e)
			return -1;
		srv->exports[e - srv->exports].description = eq + 1;
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

	/* With no address, one dual-stack IPv6 socket; plain IPv4 where the
	 * host has no IPv6. */
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

/* Accept connections until a signal: returns the exit status. */
static int serve(int lfd, int sfd, const struct server *srv, const struct options *o)
{
	const struct admission adm = {
		.acl = &o->acl,
		.max_conns = o->max_conns,
		.max_per_addr = o->max_per_addr,
		.handshake_ms = (int)o->handshake_s * 1000,
	};
	struct pollfd pfd[3] = {
		{ .fd = lfd, .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
		{ .fd = migrate_event_fd(), .events = POLLIN },
	};

	for (;;) {
		bool accepting;
		int timeout = clients_tick(&accepting);

		pfd[0].fd = accepting ? lfd : -1;	/* poll() skips -1 */
		if (poll(pfd, 3, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			return 1;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				log_info("signal %u: shutting down", si.ssi_signo);
			return 0;
		}
		if (pfd[2].revents)	/* migrated away, or received and told to exit */
			return 0;
		if (pfd[0].revents)
			clients_accept(lfd, srv, &adm);
	}
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct server srv = { 0 };
	sigset_t sigs;
	char port[NI_MAXSERV];
	int lfd, sfd, status = 0;

	if (argc > 1 && !strcmp(argv[1], "control"))
		return control_client(argc - 1, argv + 1);
	if (argc > 1 && (!strcmp(argv[1], "read") || !strcmp(argv[1], "write")))
		return oneshot_main(argc - 1, argv + 1);
	parse_options(argc, argv, &o);
	log_init("enbd-server", o.verbosity);
	srv.max_threads = o.threads;
	srv.splice = o.splice;
	srv.tls_mode = (enum tls_mode)o.tls_mode;

	/* Signals are taken from a signalfd by the main thread alone. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);

	status = 1;
	if (srv.tls_mode != TLS_OFF) {
		char why[512];

		srv.tls = tls_server_ctx_new(&o.tls, why, sizeof(why));
		if (!srv.tls) {
			log_err("TLS: %s", why);
			goto free_options;
		}
	}
	if (sfd < 0 || open_exports(&srv, &o, argc, argv) < 0 || describe_exports(&srv, &o) < 0)
		goto close_exports;
	lfd = listen_on(&o);
	if (lfd < 0 || sock_set_nonblocking(lfd, 1) < 0) {
		log_err("cannot listen on %s port %s: %s", o.addr ? o.addr : "*", o.port,
			strerror(errno));
		goto close_exports;
	}
	if (local_port(lfd, port, sizeof(port)) < 0)
		snprintf(port, sizeof(port), "%s", o.port);
	if (o.port_file && write_port_file(o.port_file, port) < 0) {
		log_err("cannot write %s: %s", o.port_file, strerror(errno));
		goto close_listener;
	}
	if (o.sock && control_start(o.sock, &srv, &o.acl) < 0)
		goto remove_port_file;
	if (o.listen)
		migrate_listen(o.exit_after_migration);
	log_info("%s on %s port %s, %u export%s", o.listen ? "waiting for a migration" :
		 "listening", o.addr ? o.addr : "*", port, srv.nexports,
		 srv.nexports == 1 ? "" : "s");

	status = serve(lfd, sfd, &srv, &o);
	control_stop();
	mirror_cleanup();
	if (!clients_close_all()) {
		log_err("clients still busy after %d s: exiting anyway",
			2 * CLIENTS_SHUTDOWN_GRACE_S);
		_exit(1);
	}
remove_port_file:
	if (o.port_file)
		unlink(o.port_file);
close_listener:
	close(lfd);
close_exports:
	close_exports(&srv);
	tls_ctx_free(srv.tls);
free_options:
	if (sfd >= 0)
		close(sfd);
	acl_free(&o.acl);
	free(o.export_args);
	free(o.export_descs);
	free(o.tls_names);
	migrate_cleanup();
	return status;
}
