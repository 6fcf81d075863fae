// SPDX-License-Identifier: GPL-2.0
/*
 * enbd-guardian: options, start-up and the event loop (see guardian.h and
 * daemon/guardian/README.md).
 *
 * The loop waits on a signalfd, with a timeout up to the next due restart
 * or stop deadline:
 *   SIGCHLD          reap; restart with backoff (children.c)
 *   SIGTERM, SIGINT  SIGTERM to every child, SIGKILL after G_STOP_WAIT_MS;
 *                    exit 0 once all are gone (a second one: SIGKILL now)
 *   SIGUSR2          ENBD_IOC_SHUTDOWN of every device with its token: its
 *                    requests fail, its channels are ejected and exit 3;
 *                    stragglers get SIGTERM, later SIGKILL; the token files
 *                    are removed; exit 0 (1 if a shutdown failed)
 *   SIGHUP           passed on to every child: each reconnects
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "guardian.h"
#include "log.h"
#include "sig.h"

enum mode { MODE_RUN, MODE_STOP, MODE_SHUTDOWN };

struct guardian {
	struct config cfg;
	struct children cs;
	enum mode mode;
	int64_t term_at;	/* SIGTERM the remaining children then (-1: no) */
	int64_t kill_at;	/* SIGKILL them then (-1: no) */
	int exit_code;
	int sigfd;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: enbd-guardian [-fmnqv] [-c FILE] [-l LOGFILE] [-P PIDFILE] [-x PROGRAM]\n"
		"                     [--client \"[ID] DEVICE HOST[,HOST...] [PORT] [OPTIONS]\"]...\n"
		"\n"
		"Start and watch the channel daemons (enbd-client) of enbd devices, and the\n"
		"enbd-servers of `server' lines.\n"
		"\n"
		"  -c FILE        read `client', `module' and `server' lines from FILE (default " G_DEFAULT_CONFIG
		" unless --client is given)\n"
		"      --client L one device, as a `client' line without the keyword\n"
		"  -f             stay in the foreground, log on stderr\n"
		"  -n             check the configuration, print the commands that would run, exit\n"
		"  -m             print the `module' lines as a modprobe.d line (options enbd ...), exit\n"
		"  -l FILE        log to FILE (default: " G_DEFAULT_LOG " once daemonized)\n"
		"  -P FILE        write the guardian's pid to FILE\n"
		"  -x PROGRAM     the enbd-client to run (default: the one next to enbd-guardian,\n"
		"                 else enbd-client from PATH)\n"
		"  -v, -q         more or fewer messages (passed on to the channel daemons)\n"
		"\n"
		"Device options: -n N channels, -e EXPORT, -b LOCALADDR (repeatable: channel i\n"
		"takes the next), --aging SECONDS (or NNNms), --outage wait|fail[:MS],\n"
		"--force-multi-conn (several channels although the server does not advertise\n"
		"NBD_FLAG_CAN_MULTI_CONN; without it their daemons refuse such a server),\n"
		"--tls off|on|require with --tls-certificates DIR or --tls-psk FILE\n"
		"[--tls-username ID], --tls-hostname NAME (as enbd-client's: file names only).\n"
		"\n"
		"Signals: SIGTERM/SIGINT stop the channels in order and exit; SIGUSR2 shuts every\n"
		"device down (fails its requests, ejects its channels) and exits, leaving the\n"
		"module free to unload; SIGHUP makes every channel reconnect.\n");
}

static int executable(const char *path)
{
	return access(path, X_OK) == 0;
}

/* The absolute path of @name (enbd-client, enbd-server) to run; NULL after logging why. */
static char *find_program(const char *given, const char *name)
{
	char self[PATH_MAX], path[PATH_MAX + 16], *dir, *p, *list, *save = NULL;
	const char *env;
	ssize_t len;

	if (given) {
		if (!strchr(given, '/') || !realpath(given, path) || !executable(path)) {
			log_err("-x %s: not an executable file (give a path)", given);
			return NULL;
		}
		return strdup(path);
	}
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len > 0) {
		self[len] = 0;
		dir = strrchr(self, '/');
		if (dir) {
			*dir = 0;
			snprintf(path, sizeof(path), "%s/%s", self, name);
			if (executable(path))
				return strdup(path);
		}
	}
	env = getenv("PATH");
	list = strdup(env ? env : "/usr/sbin:/usr/bin:/sbin:/bin");
	for (p = list ? strtok_r(list, ":", &save) : NULL; p; p = strtok_r(NULL, ":", &save)) {
		snprintf(path, sizeof(path), "%s/%s", p, name);
		if (*p == '/' && executable(path)) {
			free(list);
			return strdup(path);
		}
	}
	free(list);
	log_err("cannot find %s next to enbd-guardian or in PATH%s", name,
		strcmp(name, "enbd-client") ? "" : ": give -x PROGRAM");
	return NULL;
}

/* stdin and stdout to /dev/null, stderr to @logfile; then daemon(3). */
static int redirect_output(const char *logfile, int daemonize)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), fd;

	fd = open(logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 || null < 0) {
		log_err("cannot open %s: %s", fd < 0 ? logfile : "/dev/null", strerror(errno));
		if (fd >= 0)
			close(fd);
		if (null >= 0)
			close(null);
		return -1;
	}
	if ((daemonize && (dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)) ||
	    dup2(fd, STDERR_FILENO) < 0) {
		log_err("dup2: %s", strerror(errno));
		close(fd);
		close(null);
		return -1;
	}
	close(fd);
	close(null);
	if (daemonize && daemon(0, 1) < 0) {
		log_err("daemon: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int write_pidfile(const char *file)
{
	FILE *f = fopen(file, "we");

	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) {
		log_err("cannot write %s: %s", file, strerror(errno));
		return -1;
	}
	return 0;
}

/* A device whose channels are all gone after a shutdown: forget its token. */
static void forget_shut_devices(struct guardian *g)
{
	unsigned int i;

	for (i = 0; i < g->cfg.ndevs; i++) {
		struct device *d = &g->cfg.devs[i];

		if (d->shut && d->token_fd >= 0 && !children_running(&g->cs, d))
			token_remove(d);
	}
}

/* Every device was shut down, and there are no servers to keep running. */
static bool all_shut(const struct guardian *g)
{
	unsigned int i;

	if (g->cfg.nservers)
		return false;
	for (i = 0; i < g->cfg.ndevs; i++)
		if (!g->cfg.devs[i].shut)
			return false;
	return true;
}

static void begin_stop(struct guardian *g, const char *why)
{
	if (g->mode != MODE_RUN) {
		log_info("%s again: killing the remaining channel daemons", why);
		g->kill_at = now_ms();
		return;
	}
	log_info("%s: stopping %u channel daemons", why, children_running(&g->cs, NULL));
	g->mode = MODE_STOP;
	children_cancel(&g->cs, NULL);
	children_signal(&g->cs, NULL, SIGTERM);
	g->kill_at = now_ms() + G_STOP_WAIT_MS;
}

static void begin_shutdown(struct guardian *g)
{
	unsigned int i;

	log_info("SIGUSR2: shutting down %u device%s", g->cfg.ndevs, g->cfg.ndevs == 1 ? "" : "s");
	children_cancel(&g->cs, NULL);
	for (i = 0; i < g->cfg.ndevs; i++) {
		struct device *d = &g->cfg.devs[i];

		if (d->shut)
			continue;
		if (kctl_shutdown(d, false) == 0)
			d->shut = true;
		else
			g->exit_code = 1;
	}
	if (g->mode == MODE_RUN) {
		/* Ejected daemons exit by themselves; one busy reconnecting may not notice. */
		g->term_at = now_ms() + G_EJECT_WAIT_MS;
		g->kill_at = g->term_at + G_KILL_WAIT_MS;
	}
	g->mode = MODE_SHUTDOWN;
}

static void handle_signals(struct guardian *g)
{
	struct signalfd_siginfo si;
	unsigned int i;

	while (read(g->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			children_reap(&g->cs, g->mode != MODE_RUN);
			break;
		case SIGTERM:
		case SIGINT:
			begin_stop(g, si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		case SIGUSR2:
			begin_shutdown(g);
			break;
		case SIGHUP:
			/* Not to the servers: SIGHUP stops enbd-server. */
			log_info("SIGHUP: every channel reconnects");
			for (i = 0; i < g->cfg.ndevs; i++)
				children_signal(&g->cs, &g->cfg.devs[i], SIGHUP);
			break;
		}
	}
}

/* Send what is due; return the poll timeout up to the next deadline. */
static int run_deadlines(struct guardian *g)
{
	int64_t now = now_ms(), next = -1;
	int t;

	if (g->term_at >= 0 && now >= g->term_at) {
		if (children_running(&g->cs, NULL))
			log_info("%u channel daemons still running: SIGTERM",
				 children_running(&g->cs, NULL));
		children_signal(&g->cs, NULL, SIGTERM);
		g->term_at = -1;
	}
	if (g->kill_at >= 0 && now >= g->kill_at) {
		if (children_running(&g->cs, NULL))
			log_warn("%u channel daemons still running: SIGKILL",
				 children_running(&g->cs, NULL));
		children_signal(&g->cs, NULL, SIGKILL);
		g->kill_at = -1;
	}
	if (g->term_at >= 0)
		next = g->term_at;
	if (g->kill_at >= 0 && (next < 0 || g->kill_at < next))
		next = g->kill_at;
	t = g->mode == MODE_RUN ? children_next_timeout(&g->cs) : -1;
	if (next >= 0 && (t < 0 || next - now < t))
		t = (int)(next - now);
	return t;
}

static void event_loop(struct guardian *g)
{
	struct pollfd pfd = { .fd = g->sigfd, .events = POLLIN };
	unsigned int i;
	int timeout;

	for (;;) {
		if (g->mode == MODE_RUN)
			children_start_due(&g->cs);
		if (!children_running(&g->cs, NULL) && g->mode == MODE_SHUTDOWN) {
			/*
			 * A daemon started just before the shutdown may have
			 * attached after it and set its device up again.
			 */
			for (i = 0; i < g->cfg.ndevs; i++)
				if (g->cfg.devs[i].shut)
					kctl_shutdown(&g->cfg.devs[i], true);
		}
		if (g->mode != MODE_SHUTDOWN || !children_running(&g->cs, NULL))
			forget_shut_devices(g);
		if (!children_running(&g->cs, NULL)) {
			if (g->mode != MODE_RUN)
				return;
			if (all_shut(g)) {
				log_info("every device was shut down: nothing left to guard");
				return;
			}
		}
		timeout = run_deadlines(g);
		if (poll(&pfd, 1, timeout) < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			g->exit_code = 1;
			begin_stop(g, "internal error");
		}
		handle_signals(g);
	}
}

/*
 * Tokens, policies: everything that can fail before the children run.  On
 * failure, a token made now never reached the kernel: its file goes.
 */
static int prepare_devices(struct guardian *g)
{
	unsigned int i;

	if (!g->cfg.ndevs)
		return 0;	/* only servers: the module is not needed */
	if (kctl_check() < 0 || config_verify_devices(&g->cfg) < 0)
		return -1;
	for (i = 0; i < g->cfg.ndevs; i++) {
		struct device *d = &g->cfg.devs[i];

		if (token_open(d) < 0 || kctl_apply_policy(d) < 0)
			break;
	}
	if (i == g->cfg.ndevs)
		return 0;
	for (i = 0; i < g->cfg.ndevs; i++)
		if (g->cfg.devs[i].token_new)
			token_remove(&g->cfg.devs[i]);
	return -1;
}

int main(int argc, char **argv)
{
	enum { OPT_CLIENT = 256 };
	static const struct option longopts[] = {
		{ "client", required_argument, NULL, OPT_CLIENT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct guardian g = { .term_at = -1, .kill_at = -1, .sigfd = -1 };
	const char *conffile = NULL, *logfile = NULL, *pidfile = NULL, *given_prog = NULL;
	int opt, verbosity = 0, foreground = 0, configtest = 0, modprobe_options = 0, rc = 1;
	char **clients = NULL, **more, *program = NULL, *server_program = NULL;
	unsigned int nclients = 0, i;

	while ((opt = getopt_long(argc, argv, "c:fmnl:P:x:vqh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conffile = optarg;
			break;
		case OPT_CLIENT:
			more = realloc(clients, (nclients + 1) * sizeof(*clients));
			if (!more) {
				fprintf(stderr, "enbd-guardian: out of memory\n");
				free(clients);
				return 1;
			}
			clients = more;
			clients[nclients++] = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'n':
			configtest = 1;
			break;
		case 'm':
			modprobe_options = 1;
			break;
		case 'l':
			logfile = optarg;
			break;
		case 'P':
			pidfile = optarg;
			break;
		case 'x':
			given_prog = optarg;
			break;
		case 'v':
			verbosity++;
			break;
		case 'q':
			verbosity--;
			break;
		case 'h':
			usage(stdout);
			free(clients);
			return 0;
		default:
			usage(stderr);
			free(clients);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		free(clients);
		return 2;
	}
	log_init("enbd-guardian", verbosity);

	if (!conffile && !nclients)
		conffile = G_DEFAULT_CONFIG;
	if (conffile && config_read_file(&g.cfg, conffile) < 0)
		goto out;
	for (i = 0; i < nclients; i++)
		if (config_add_arg(&g.cfg, clients[i], i + 1) < 0)
			goto out;
	if (modprobe_options) {
		module_print_options(&g.cfg.module);
		rc = 0;
		goto out;
	}
	if (config_check(&g.cfg) < 0)
		goto out;
	program = find_program(given_prog, "enbd-client");
	if (!program || children_init(&g.cs, &g.cfg, program, verbosity) < 0)
		goto out;
	if (g.cfg.nservers) {
		server_program = find_program(NULL, "enbd-server");
		if (!server_program || children_add_servers(&g.cs, &g.cfg, server_program) < 0)
			goto out;
	}
	if (configtest) {
		module_print_options(&g.cfg.module);
		children_print(&g.cs);
		rc = 0;
		goto out;
	}
	if (prepare_devices(&g) < 0)
		goto out;
	if ((logfile || !foreground) &&
	    redirect_output(logfile ? logfile : G_DEFAULT_LOG, !foreground) < 0)
		goto out;
	if (pidfile && write_pidfile(pidfile) < 0)
		goto out;
	g.sigfd = sig_open_fd(SIGCHLD, SIGTERM, SIGINT, SIGUSR2, SIGHUP, 0);
	if (g.sigfd < 0) {
		log_err("signalfd: %s", strerror(errno));
		goto out;
	}
	log_info("guarding %u device%s with %u channel daemons (%s)", g.cfg.ndevs,
		 g.cfg.ndevs == 1 ? "" : "s", g.cs.n - g.cfg.nservers, program);
	if (g.cfg.nservers)
		log_info("running %u server%s (%s)", g.cfg.nservers,
			 g.cfg.nservers == 1 ? "" : "s", server_program);
	event_loop(&g);
	if (pidfile)
		unlink(pidfile);
	log_info("exiting");
	rc = g.exit_code;
out:
	for (i = 0; i < g.cfg.ndevs; i++)
		token_close(&g.cfg.devs[i]);
	if (g.sigfd >= 0)
		close(g.sigfd);
	children_free(&g.cs);
	config_free(&g.cfg);
	free(program);
	free(server_program);
	free(clients);
	return rc;
}
