// SPDX-License-Identifier: GPL-2.0
/*
 * The supervisor of enbd-client -n N (supervise.h).  The kernel already
 * spreads the device's requests over its channels (each fetches while it has
 * room), so the supervisor only starts them and waits.  Signals come from a
 * signalfd in its loop.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "sig.h"
#include "supervise.h"

struct chan_proc {
	pid_t pid;		/* 0 once it has ended */
	int status;		/* its wait status then */
};

/* In the new process: one channel, as a single enbd-client would run it. */
static void __attribute__((noreturn)) run_channel(struct channel_opts o, unsigned int index,
						   pid_t supervisor, int supervisor_sigfd)
{
	char why[256];
	int rc;

	close(supervisor_sigfd);
	/* The channels belong to the supervisor: if it dies, they stop in order. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != supervisor)
		exit(1);
	o.sigfd = sig_open_fd(SIGTERM, SIGINT, SIGHUP, 0);
	if (o.sigfd < 0) {
		log_err("signalfd: %s", strerror(errno));
		exit(1);
	}
	/* Its own control file: one open file is one channel to the kernel. */
	o.dev = kdev_open(index, why, sizeof(why));
	if (!o.dev) {
		log_err("%s", why);
		exit(1);
	}
	rc = channel_run(&o);
	o.dev->ops->close(o.dev);
	close(o.sigfd);
	tls_ctx_free(o.tls_ctx);
	exit(rc);
}

static void signal_all(const struct chan_proc *ch, unsigned int n, int sig)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (ch[i].pid)
			kill(ch[i].pid, sig);
}

struct supervisor {
	struct chan_proc *ch;
	unsigned int n, running;
	bool stopping;		/* SIGTERM or SIGINT passed on */
	bool shut;		/* a channel was ejected: the device was shut down */
	bool failed;		/* a channel could not be started */
	const char *devname;
};

static void reap(struct supervisor *s)
{
	char how[96];
	unsigned int i;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < s->n && s->ch[i].pid != pid; i++)
			;
		if (i == s->n)
			continue;
		s->ch[i].pid = 0;
		s->ch[i].status = status;
		s->running--;
		sig_describe_status(status, how, sizeof(how));
		if (WIFEXITED(status) && WEXITSTATUS(status) == CHAN_EXIT_EJECTED) {
			log_info("channel %u: pid %d, %s: ejected", i, pid, how);
			if (!s->shut && s->running) {
				/* One still reconnecting would not notice until its server is back. */
				log_info("%s was shut down: stopping the other %u channels", s->devname,
					 s->running);
				signal_all(s->ch, s->n, SIGTERM);
			}
			s->shut = true;
		} else if (s->stopping || s->shut) {
			log_info("channel %u: pid %d stopped, %s", i, pid, how);
		} else {
			log_warn("lost channel %u: pid %d, %s; %u channel%s left, not restarted", i, pid,
				 how, s->running, s->running == 1 ? "" : "s");
		}
	}
}

static void handle_signals(struct supervisor *s, int sigfd)
{
	struct signalfd_siginfo si;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			reap(s);
			continue;
		}
		if (si.ssi_signo != SIGHUP)
			s->stopping = true;
		log_info("%s: passing it on to %u channel%s", strsignal(si.ssi_signo), s->running,
			 s->running == 1 ? "" : "s");
		signal_all(s->ch, s->n, (int)si.ssi_signo);
	}
}

static int exit_status(const struct supervisor *s)
{
	bool all_zero = true, all_zero_or_ejected = true;
	unsigned int i;
	int st;

	for (i = 0; i < s->n; i++) {
		st = s->ch[i].status;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			all_zero = false;
		if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != CHAN_EXIT_EJECTED))
			all_zero_or_ejected = false;
	}
	if (s->failed)
		return 1;
	if (s->shut && all_zero_or_ejected)
		return CHAN_EXIT_EJECTED;
	return all_zero ? 0 : 1;
}

int supervise_run(const struct channel_opts *o, unsigned int index, unsigned int n,
		  char *const *binds, unsigned int nbinds)
{
	struct supervisor s = { .n = n, .devname = o->devname };
	struct pollfd pfd = { .events = POLLIN };
	pid_t self = getpid(), pid;
	int sigfd, rc;
	unsigned int i;

	s.ch = calloc(s.n, sizeof(*s.ch));
	sigfd = sig_open_fd(SIGTERM, SIGINT, SIGHUP, SIGCHLD, 0);
	if (!s.ch || sigfd < 0) {
		log_err("%s", !s.ch ? "out of memory" : strerror(errno));
		free(s.ch);
		return 1;
	}
	for (i = 0; i < s.n; i++) {
		struct channel_opts co = *o;

		co.bind = nbinds ? binds[i % nbinds] : NULL;
		pid = fork();
		if (pid == 0)
			run_channel(co, index, self, sigfd);
		if (pid < 0) {
			log_err("channel %u: fork: %s", i, strerror(errno));
			break;
		}
		s.ch[i].pid = pid;
		s.running++;
		log_info("channel %u: pid %d%s%s", i, pid, co.bind ? ", from " : "",
			 co.bind ? co.bind : "");
	}
	if (i < s.n) {
		s.failed = true;
		s.stopping = true;
		signal_all(s.ch, s.n, SIGTERM);
	}
	pfd.fd = sigfd;
	while (s.running) {
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR && !s.stopping) {
			log_err("poll: %s: stopping the channels", strerror(errno));
			s.stopping = true;
			signal_all(s.ch, s.n, SIGTERM);
		}
		handle_signals(&s, sigfd);
	}
	rc = exit_status(&s);
	log_info("all %u channels ended: exit status %d", s.n, rc);
	close(sigfd);
	free(s.ch);
	return rc;
}
