// SPDX-License-Identifier: GPL-2.0
/*
 * enbd-client: one channel daemon.  Connects to an NBD server, sets up
 * /dev/ndN from what the server advertises and carries the device's
 * requests over the connection (channel.h).  With -n N, N such channels,
 * each its own process, under a supervisor (supervise.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "dev.h"
#include "log.h"
#include "sig.h"
#include "supervise.h"

#define DEFAULT_PORT "10809"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: enbd-client [-e EXPORT] [-p PORT] [-n N] [-b LOCALADDR]... [-t TOKEN] [--slot N]\n"
		"                   [--channels N] [--force-multi-conn] [--handshake-timeout SECS]\n"
		"                   [--buffer-budget MiB] [TLS options] [-v] [-q] [-f] HOST /dev/ndN\n"
		"       enbd-client --probe [-e EXPORT] [-p PORT] [-b LOCALADDR] [-n N]\n"
		"                   [--handshake-timeout SECS] [TLS options] [-v] [-q] HOST\n"
		"       enbd-client -d /dev/ndN [-t TOKEN]\n"
		"\n"
		"Serve /dev/ndN from export EXPORT (default: the server's default export) of the\n"
		"NBD server HOST (port PORT, default " DEFAULT_PORT ").  Runs in the foreground.\n"
		"\n"
		"  -e, --export NAME     export name\n"
		"  -p, --port PORT       server port\n"
		"  -n N                  run N channels (1..%d), each its own process and NBD\n"
		"                        connection; default: the number of -b, or 1.  With N > 1\n"
		"                        this process supervises them: it passes signals on, logs\n"
		"                        each channel that ends and exits when all have; it does\n"
		"                        not restart them (enbd-guardian does)\n"
		"  -b, --bind ADDR       connect from this local address, or through this network\n"
		"                        interface (a name such as eth1: SO_BINDTODEVICE);\n"
		"                        repeatable: channel i uses the i-th (round robin when\n"
		"                        fewer than channels)\n"
		"      --channels N      the device has N channels in all (this one, or the -n\n"
		"                        ones here, among them); enbd-guardian passes it\n"
		"      --force-multi-conn  more than one channel even though the server does not\n"
		"                        advertise NBD_FLAG_CAN_MULTI_CONN (a warning: a flush on\n"
		"                        one connection may not cover writes made through another)\n"
		"      --handshake-timeout SECS  give up a handshake that has not ended after\n"
		"                        SECS seconds (default %d), however the server trickles\n"
		"      --buffer-budget MiB  request buffers preallocated per channel, 512 KiB\n"
		"                        each (1..%u, default %u): the most requests in flight\n"
		"  -t, --token TOKEN     the device's session token (decimal or 0x hex); default:\n"
		"                        $ENBD_TOKEN (which, unlike -t, ps does not show)\n"
		"      --slot N          take channel slot N of the device (a restarted daemon\n"
		"                        taking over its predecessor's place)\n"
		"      --tls off|on|require  TLS (NBD_OPT_STARTTLS): never (default), when the\n"
		"                        server offers it, or always (a server without it is refused)\n"
		"      --tls-certificates DIR  X.509: DIR/ca-cert.pem verifies the server (without\n"
		"                        it, the system's CAs); DIR/client-cert.pem and\n"
		"                        DIR/client-key.pem, if there, are our certificate\n"
		"      --tls-hostname NAME  the name the server's certificate must carry\n"
		"                        (default: HOST)\n"
		"      --tls-psk FILE    PSK: lines of identity:hexkey (the key never in argv)\n"
		"      --tls-username ID  the PSK identity to use (default: the file's first)\n"
		"  -d, --disconnect      shut the device down: fail all its requests, eject its channels\n"
		"      --probe           handshake only: print the export's size, flags and block sizes\n"
		"  -f, --foreground      stay in the foreground (the default)\n"
		"  -v, --verbose         more messages; -q, --quiet: fewer\n"
		"\n"
		"With more than one channel the server must advertise NBD_FLAG_CAN_MULTI_CONN\n"
		"(--probe -n N checks it), or the channels exit 1 before serving the device.\n"
		"\n"
		"Signals: SIGTERM/SIGINT finish the requests in flight, disconnect and detach\n"
		"(a second one stops waiting); SIGHUP reconnects.  With -n they go to every channel.\n"
		"Exit status: 0 stopped by a signal, 1 error, 2 usage, 3 the device was shut\n"
		"down (enbd-client -d) and the channel ejected.  With -n: 0 every channel was\n"
		"stopped by a signal, 3 the device was shut down, otherwise 1.\n",
		ENBD_MAX_CHANNELS, CHAN_HANDSHAKE_MS / 1000, CHAN_BUFFER_BUDGET_MAX,
		CHAN_BUFFER_BUDGET_MIB);
}

/* 1..ENBD_MAX_CHANNELS, or 0. */
static unsigned int parse_channels(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > ENBD_MAX_CHANNELS)
		return 0;
	return (unsigned int)v;
}

static int parse_token(const char *s, uint64_t *token)
{
	char *end;

	errno = 0;
	*token = strtoull(s, &end, 0);
	return (errno || end == s || *end || *s == '-') ? -1 : 0;
}

/* A probe, one channel, or the supervisor of several. */
static int start(struct channel_opts *o, const char *devname, unsigned int nchannels,
		 char **binds, unsigned int nbinds)
{
	char why[256];
	unsigned int index;
	int rc;

	o->lock_memory = !o->probe;
	if (o->probe)
		o->buffer_budget_mib = 1;	/* carries no request: the least */
	if (!o->probe) {
		o->devname = devname;
		if (kdev_resolve(o->devname, &index, why, sizeof(why)) < 0) {
			/* No /dev/ndN and no control file: no module. */
			if (access(o->devname, F_OK) < 0 && errno == ENOENT &&
			    access(ENBD_CONTROL_PATH, F_OK) < 0 && errno == ENOENT)
				snprintf(why, sizeof(why), "enbd module not loaded (no %s)",
					 ENBD_CONTROL_PATH);
			log_err("%s", why);
			return 1;
		}
		o->dev = kdev_open(index, why, sizeof(why));
		if (!o->dev) {
			log_err("%s", why);
			return 1;
		}
	}
	if (o->dev && nchannels > 1) {
		/* Opened only to report a missing module or permission once, not per channel. */
		o->dev->ops->close(o->dev);
		o->dev = NULL;
		return supervise_run(o, index, nchannels, binds, nbinds);
	}
	o->sigfd = sig_open_fd(SIGTERM, SIGINT, SIGHUP, 0);
	if (o->sigfd < 0) {
		log_err("signalfd: %s", strerror(errno));
		if (o->dev)
			o->dev->ops->close(o->dev);
		return 1;
	}
	rc = channel_run(o);
	if (o->dev)
		o->dev->ops->close(o->dev);
	close(o->sigfd);
	return rc;
}

int main(int argc, char **argv)
{
	enum { OPT_CHANNELS = 256, OPT_FORCE_MULTI_CONN, OPT_HANDSHAKE_TIMEOUT,
	       OPT_BUFFER_BUDGET, OPT_TLS, OPT_TLS_CERTIFICATES, OPT_TLS_HOSTNAME, OPT_TLS_PSK,
	       OPT_TLS_USERNAME };
	static const struct option longopts[] = {
		{ "export", required_argument, NULL, 'e' },
		{ "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, 'b' },
		{ "token", required_argument, NULL, 't' },
		{ "disconnect", no_argument, NULL, 'd' },
		{ "probe", no_argument, NULL, 'P' },
		{ "slot", required_argument, NULL, 'S' },
		{ "channels", required_argument, NULL, OPT_CHANNELS },
		{ "force-multi-conn", no_argument, NULL, OPT_FORCE_MULTI_CONN },
		{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT },
		{ "buffer-budget", required_argument, NULL, OPT_BUFFER_BUDGET },
		{ "tls", required_argument, NULL, OPT_TLS },
		{ "tls-certificates", required_argument, NULL, OPT_TLS_CERTIFICATES },
		{ "tls-hostname", required_argument, NULL, OPT_TLS_HOSTNAME },
		{ "tls-psk", required_argument, NULL, OPT_TLS_PSK },
		{ "tls-username", required_argument, NULL, OPT_TLS_USERNAME },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct channel_opts o = { .port = DEFAULT_PORT, .export = "", .slot = -1,
				  .handshake_ms = CHAN_HANDSHAKE_MS };
	struct tls_config tls = { 0 };
	int opt, verbosity = 0, disconnect = 0, rc, tls_mode;
	const char *token_arg = NULL;
	char why[256], *binds[ENBD_MAX_CHANNELS];
	unsigned int index, nchannels = 0, nbinds = 0;

	while ((opt = getopt_long(argc, argv, "e:p:n:b:t:dfvqh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e':
			o.export = optarg;
			break;
		case 'p':
			o.port = optarg;
			break;
		case 'n':
			nchannels = parse_channels(optarg);
			if (!nchannels) {
				fprintf(stderr, "enbd-client: -n must be 1..%d\n", ENBD_MAX_CHANNELS);
				return 2;
			}
			break;
		case 'b':
			if (nbinds == ENBD_MAX_CHANNELS) {
				fprintf(stderr, "enbd-client: more than %d -b addresses\n",
					ENBD_MAX_CHANNELS);
				return 2;
			}
			binds[nbinds++] = optarg;
			break;
		case OPT_CHANNELS:
			o.channels = parse_channels(optarg);
			if (!o.channels) {
				fprintf(stderr, "enbd-client: --channels must be 1..%d\n",
					ENBD_MAX_CHANNELS);
				return 2;
			}
			break;
		case OPT_FORCE_MULTI_CONN:
			o.force_multi_conn = true;
			break;
		case OPT_HANDSHAKE_TIMEOUT: {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < 1 || v > 3600) {
				fprintf(stderr, "enbd-client: --handshake-timeout must be 1..3600 seconds\n");
				return 2;
			}
			o.handshake_ms = (int)v * 1000;
			break;
		}
		case OPT_BUFFER_BUDGET: {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < 1 || v > CHAN_BUFFER_BUDGET_MAX) {
				fprintf(stderr, "enbd-client: --buffer-budget must be 1..%u MiB\n",
					CHAN_BUFFER_BUDGET_MAX);
				return 2;
			}
			o.buffer_budget_mib = (unsigned int)v;
			break;
		}
		case OPT_TLS:
			tls_mode = tls_mode_parse(optarg);
			if (tls_mode < 0) {
				fprintf(stderr, "enbd-client: --tls must be off, on or require\n");
				return 2;
			}
			o.tls_mode = (enum tls_mode)tls_mode;
			break;
		case OPT_TLS_CERTIFICATES:
			tls.certs_dir = optarg;
			break;
		case OPT_TLS_HOSTNAME:
			o.tls_hostname = optarg;
			break;
		case OPT_TLS_PSK:
			tls.psk_file = optarg;
			break;
		case OPT_TLS_USERNAME:
			tls.psk_identity = optarg;
			break;
		case 't':
			token_arg = optarg;
			break;
		case 'd':
			disconnect = 1;
			break;
		case 'P':
			o.probe = true;
			break;
		case 'S': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < 0 || v >= ENBD_MAX_CHANNELS) {
				fprintf(stderr, "enbd-client: --slot must be 0..%d\n",
					ENBD_MAX_CHANNELS - 1);
				return 2;
			}
			o.slot = (int)v;
			break;
		}
		case 'f':
			break;
		case 'v':
			verbosity++;
			break;
		case 'q':
			verbosity--;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	log_init("enbd-client", verbosity);
	if (!token_arg && getenv("ENBD_TOKEN") && *getenv("ENBD_TOKEN"))
		token_arg = getenv("ENBD_TOKEN");
	if (token_arg && parse_token(token_arg, &o.token) < 0) {
		log_err("invalid token: expected a 64-bit number");
		return 2;
	}
	if (strlen(o.export) > NBD_MAX_STRING) {
		log_err("export name longer than %d bytes", NBD_MAX_STRING);
		return 2;
	}
	if (!nchannels)
		nchannels = nbinds ? nbinds : 1;
	if (nbinds > nchannels) {
		log_err("more -b addresses (%u) than channels (%u)", nbinds, nchannels);
		return 2;
	}
	if (!o.channels)
		o.channels = nchannels;
	if (o.channels < nchannels) {
		log_err("--channels %u is fewer than the %u channels of -n", o.channels, nchannels);
		return 2;
	}
	if (nchannels > 1 && o.slot >= 0 && !o.probe) {
		log_err("--slot takes one channel slot: not with -n %u", nchannels);
		return 2;
	}
	o.bind = nbinds ? binds[0] : NULL;

	if (disconnect) {
		if (argc - optind != 1 || o.probe) {
			usage(stderr);
			return 2;
		}
		if (access(argv[optind], F_OK) < 0 && errno == ENOENT &&
		    access(ENBD_CONTROL_PATH, F_OK) < 0 && errno == ENOENT) {
			log_err("enbd module not loaded (no %s)", ENBD_CONTROL_PATH);
			return 1;
		}
		if (kdev_resolve(argv[optind], &index, why, sizeof(why)) < 0 ||
		    kdev_shutdown(index, o.token, why, sizeof(why)) < 0) {
			log_err("%s", why);
			return 1;
		}
		log_info("%s shut down", argv[optind]);
		return 0;
	}

	if (argc - optind != (o.probe ? 1 : 2)) {
		usage(stderr);
		return 2;
	}
	o.host = argv[optind];
	if (channel_tls_setup(&o, &tls, &rc, why, sizeof(why)) < 0) {
		log_err("%s", why);
		return rc;
	}
	rc = start(&o, argv[optind + 1], nchannels, binds, nbinds);
	tls_ctx_free(o.tls_ctx);
	return rc;
}
