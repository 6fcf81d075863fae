// SPDX-License-Identifier: GPL-2.0
/*
 * The child table: one enbd-client per channel of every device.
 *
 *   WAITING --(due)--> RUNNING --(died)--> WAITING   (restart after backoff)
 *                         |
 *                         +--(exit 3: ejected; or stopping)--> DONE
 *
 * Backoff against crash loops: the first restart comes G_BACKOFF_MIN_MS
 * after the death; a child that dies again within G_STABLE_MS of its start
 * waits twice as long as the last time, up to G_BACKOFF_MAX_MS; one that
 * lived longer starts over from G_BACKOFF_MIN_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guardian.h"
#include "log.h"
#include "sig.h"

/* enbd-client's exit status when its channel was ejected by a shutdown. */
#define CLIENT_EXIT_EJECTED	3

int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * enbd-client --slot I [--channels N [--force-multi-conn]] [-b ADDR] [-e EXPORT]
 *             [--tls MODE [--tls-certificates DIR | --tls-psk FILE [--tls-username ID]]
 *             [--tls-hostname NAME]] -p PORT [-v|-q]... -- HOST DEVICE
 * `--` ends the options: an operand is never read as one, whatever it is
 * (fields.c checks what it is).  --channels tells a channel of a device with several that the server must
 * allow several connections (NBD_FLAG_CAN_MULTI_CONN).  The token goes in
 * the environment (ENBD_TOKEN), never on the command line.
 */
static char **make_argv(const struct children *cs, const struct device *d, unsigned int slot)
{
	unsigned int nverb = cs->verbosity < 0 ? -cs->verbosity : cs->verbosity;
	char **argv = calloc(26 + nverb, sizeof(*argv));
	unsigned int n = 0, i;
	char num[16];

	if (!argv)
		return NULL;
	snprintf(num, sizeof(num), "%u", slot);
	argv[n++] = strdup(cs->program);
	argv[n++] = strdup("--slot");
	argv[n++] = strdup(num);
	if (d->channels > 1) {
		snprintf(num, sizeof(num), "%u", d->channels);
		argv[n++] = strdup("--channels");
		argv[n++] = strdup(num);
		if (d->force_multi_conn)
			argv[n++] = strdup("--force-multi-conn");
	}
	if (d->nbinds) {
		argv[n++] = strdup("-b");
		argv[n++] = strdup(d->binds[slot % d->nbinds]);
	}
	if (d->export) {
		argv[n++] = strdup("-e");
		argv[n++] = strdup(d->export);
	}
	if (d->tls) {
		const struct { const char *opt, *arg; } tls[] = {
			{ "--tls", d->tls }, { "--tls-certificates", d->tls_certs },
			{ "--tls-psk", d->tls_psk }, { "--tls-username", d->tls_username },
			{ "--tls-hostname", d->tls_hostname },
		};

		for (i = 0; i < sizeof(tls) / sizeof(tls[0]); i++) {
			if (!tls[i].arg)
				continue;
			argv[n++] = strdup(tls[i].opt);
			argv[n++] = strdup(tls[i].arg);
		}
	}
	argv[n++] = strdup("-p");
	argv[n++] = strdup(d->port);
	for (i = 0; i < nverb; i++)
		argv[n++] = strdup(cs->verbosity < 0 ? "-q" : "-v");
	argv[n++] = strdup("--");
	argv[n++] = strdup(d->hosts[slot % d->nhosts]);
	argv[n++] = strdup(d->path);
	for (i = 0; i < n; i++) {
		if (!argv[i]) {
			for (i = 0; i < n; i++)
				free(argv[i]);
			free(argv);
			return NULL;
		}
	}
	return argv;
}

int children_init(struct children *cs, struct config *cfg, const char *program, int verbosity)
{
	unsigned int i, slot, total = 0;
	struct child *c;

	memset(cs, 0, sizeof(*cs));
	cs->program = program;
	cs->verbosity = verbosity;
	cs->devnull = -1;
	for (i = 0; i < cfg->ndevs; i++)
		total += cfg->devs[i].channels;
	cs->tab = calloc(total, sizeof(*cs->tab));
	if (!cs->tab) {
		log_err("out of memory");
		return -1;
	}
	for (i = 0; i < cfg->ndevs; i++) {
		for (slot = 0; slot < cfg->devs[i].channels; slot++) {
			c = &cs->tab[cs->n];
			c->dev = &cfg->devs[i];
			c->slot = slot;
			snprintf(c->name, sizeof(c->name), "%s channel %u", c->dev->path, slot);
			c->state = CHILD_WAITING;	/* due at once */
			c->argv = make_argv(cs, c->dev, slot);
			if (!c->argv) {
				log_err("out of memory");
				return -1;
			}
			cs->n++;
		}
	}
	return 0;
}

/* enbd-server [-v|-q]... OPTIONS -- FILE..., all checked by server.c. */
static char **server_argv(const char *program, const struct server *srv, int verbosity)
{
	unsigned int nverb = verbosity < 0 ? -verbosity : verbosity, n = 0, i;
	char **argv = calloc(srv->nargs + nverb + 2, sizeof(*argv));

	if (!argv || !(argv[n++] = strdup(program)))
		goto fail;
	for (i = 0; i < nverb; i++)
		if (!(argv[n++] = strdup(verbosity < 0 ? "-q" : "-v")))
			goto fail;
	for (i = 0; i < srv->nargs; i++)
		if (!(argv[n++] = strdup(srv->args[i])))
			goto fail;
	return argv;
fail:
	for (i = 0; argv && i < n; i++)
		free(argv[i]);
	free(argv);
	return NULL;
}

int children_add_servers(struct children *cs, const struct config *cfg, const char *program)
{
	struct child *tab, *c;
	unsigned int i;

	if (!cfg->nservers)
		return 0;
	tab = realloc(cs->tab, (cs->n + cfg->nservers) * sizeof(*tab));
	if (!tab) {
		log_err("out of memory");
		return -1;
	}
	cs->tab = tab;
	for (i = 0; i < cfg->nservers; i++) {
		c = &cs->tab[cs->n];
		memset(c, 0, sizeof(*c));
		c->srv = &cfg->servers[i];
		c->state = CHILD_WAITING;	/* due at once */
		snprintf(c->name, sizeof(c->name), "server %s", c->srv->label);
		c->argv = server_argv(program, c->srv, cs->verbosity);
		if (!c->argv) {
			log_err("out of memory");
			return -1;
		}
		cs->n++;
	}
	return 0;
}

void children_free(struct children *cs)
{
	unsigned int i;
	char **a;

	for (i = 0; i < cs->n; i++) {
		for (a = cs->tab[i].argv; a && *a; a++)
			free(*a);
		free(cs->tab[i].argv);
	}
	free(cs->tab);
	if (cs->devnull >= 0)
		close(cs->devnull);
	memset(cs, 0, sizeof(*cs));
	cs->devnull = -1;
}

/* In the new process: a clean signal state, then exec. */
static void __attribute__((noreturn)) child_exec(const struct children *cs, const struct child *c,
						  pid_t guardian)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* The guardian owns its children: if it dies, they stop (and detach). */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != guardian)
		_exit(1);
	if (dup2(cs->devnull, STDIN_FILENO) < 0)
		_exit(1);
	/* A server gets the guardian's environment: no session token. */
	execve(c->argv[0], c->argv, c->dev ? c->dev->envp : environ);
	log_err("cannot run %s: %s", c->argv[0], strerror(errno));
	_exit(127);
}

/* The next restart's delay after a death at @now. */
static void schedule_restart(struct child *c, int64_t now)
{
	if (!c->backoff_ms || now - c->started_ms >= G_STABLE_MS)
		c->backoff_ms = G_BACKOFF_MIN_MS;
	else
		c->backoff_ms = c->backoff_ms * 2 > G_BACKOFF_MAX_MS ? G_BACKOFF_MAX_MS :
								       c->backoff_ms * 2;
	c->restart_at_ms = now + c->backoff_ms;
	c->state = CHILD_WAITING;
}

static void child_start(struct children *cs, struct child *c)
{
	pid_t guardian = getpid(), pid;

	if (cs->devnull < 0) {
		cs->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (cs->devnull < 0) {
			log_err("/dev/null: %s", strerror(errno));
			c->started_ms = now_ms();
			schedule_restart(c, c->started_ms);
			return;
		}
	}
	c->started_ms = now_ms();
	pid = fork();
	if (pid == 0)
		child_exec(cs, c, guardian);
	if (pid < 0) {
		log_err("%s: fork: %s", c->name, strerror(errno));
		schedule_restart(c, c->started_ms);
		return;
	}
	c->pid = pid;
	c->state = CHILD_RUNNING;
	if (c->starts++)
		log_info("%s: restarted, pid %d (restart %u)", c->name, pid, c->starts - 1);
	else
		log_info("%s: started, pid %d", c->name, pid);
}

void children_start_due(struct children *cs)
{
	int64_t now = now_ms();
	unsigned int i;

	for (i = 0; i < cs->n; i++)
		if (cs->tab[i].state == CHILD_WAITING && cs->tab[i].restart_at_ms <= now)
			child_start(cs, &cs->tab[i]);
}

static struct child *find_child(struct children *cs, pid_t pid)
{
	unsigned int i;

	for (i = 0; i < cs->n; i++)
		if (cs->tab[i].state == CHILD_RUNNING && cs->tab[i].pid == pid)
			return &cs->tab[i];
	return NULL;
}

/* A device was shut down behind our back: stop its other channels. */
static void device_was_shut(struct children *cs, struct device *d)
{
	if (d->shut)
		return;
	d->shut = true;
	log_warn("%s was shut down: stopping its other channels, not restarting them", d->path);
	children_cancel(cs, d);
	children_signal(cs, d, SIGTERM);
}

void children_reap(struct children *cs, bool stopping)
{
	char how[96];
	int64_t now, lived;
	struct child *c;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		c = find_child(cs, pid);
		if (!c)
			continue;
		now = now_ms();
		lived = now - c->started_ms;
		c->pid = 0;
		sig_describe_status(status, how, sizeof(how));
		if (c->dev && WIFEXITED(status) && WEXITSTATUS(status) == CLIENT_EXIT_EJECTED) {
			log_info("lost child: pid %d, %s: %s was ejected by a shutdown", pid, how,
				 c->name);
			c->state = CHILD_DONE;
			device_was_shut(cs, c->dev);
		} else if (stopping || (c->dev && c->dev->shut)) {
			log_info("child pid %d (%s) stopped: %s", pid, c->name, how);
			c->state = CHILD_DONE;
		} else {
			schedule_restart(c, now);
			log_warn("lost child: pid %d, %s, after %lld.%03lld s: %s, restart in %d ms",
				 pid, how, (long long)(lived / 1000), (long long)(lived % 1000),
				 c->name, c->backoff_ms);
		}
	}
}

int children_next_timeout(const struct children *cs)
{
	int64_t now = now_ms(), next = -1;
	unsigned int i;

	for (i = 0; i < cs->n; i++) {
		const struct child *c = &cs->tab[i];

		if (c->state == CHILD_WAITING && (next < 0 || c->restart_at_ms < next))
			next = c->restart_at_ms;
	}
	if (next < 0)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

void children_signal(struct children *cs, const struct device *d, int sig)
{
	unsigned int i;

	for (i = 0; i < cs->n; i++)
		if (cs->tab[i].state == CHILD_RUNNING && (!d || cs->tab[i].dev == d))
			kill(cs->tab[i].pid, sig);
}

void children_cancel(struct children *cs, const struct device *d)
{
	unsigned int i;

	for (i = 0; i < cs->n; i++)
		if (cs->tab[i].state == CHILD_WAITING && (!d || cs->tab[i].dev == d))
			cs->tab[i].state = CHILD_DONE;
}

unsigned int children_running(const struct children *cs, const struct device *d)
{
	unsigned int i, n = 0;

	for (i = 0; i < cs->n; i++)
		if (cs->tab[i].state == CHILD_RUNNING && (!d || cs->tab[i].dev == d))
			n++;
	return n;
}

/* A word as the shell would need it. */
static void print_word(const char *w)
{
	if (*w && !strpbrk(w, " \t\n\"'\\$`*?[]#;&|<>()~!{}")) {
		fputs(w, stdout);
		return;
	}
	putchar('\'');
	for (; *w; w++) {
		if (*w == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*w);
	}
	putchar('\'');
}

void children_print(const struct children *cs)
{
	const struct device *d = NULL;
	unsigned int i;
	char **a;

	for (i = 0; i < cs->n; i++) {
		const struct child *c = &cs->tab[i];

		if (c->srv) {
			printf("server %s (from %s): port %s%s%s\n ", c->srv->label, c->srv->origin,
			       c->srv->port, c->srv->address ? " of " : "",
			       c->srv->address ? c->srv->address : "");
			for (a = c->argv; *a; a++) {
				putchar(' ');
				print_word(*a);
			}
			putchar('\n');
			continue;
		}
		if (c->dev != d) {
			d = c->dev;
			printf("device %s (%s, from %s): %u channel%s%s", d->path, d->label, d->origin,
			       d->channels, d->channels == 1 ? "" : "s",
			       d->force_multi_conn && d->channels > 1 ? " (multi-conn forced)" : "");
			if (d->set_aging)
				printf(", aging %u ms", d->aging_ms);
			if (d->set_outage && d->outage == ENBD_OUTAGE_FAIL)
				printf(", outage fail after %u ms", d->outage_ms);
			else if (d->set_outage)
				printf(", outage wait");
			putchar('\n');
		}
		printf("  channel %u: ENBD_TOKEN=...", c->slot);
		for (a = c->argv; *a; a++) {
			putchar(' ');
			print_word(*a);
		}
		putchar('\n');
	}
	fflush(stdout);
}
