// SPDX-License-Identifier: GPL-2.0
/*
 * `server` lines: the enbd-server instances the guardian starts, restarts
 * when they die and stops with its channel daemons,
 *
 *   server [ID] [OPTIONS] [FILE...]
 *
 * OPTIONS are enbd-server's own, those of server_options[] below.  Like a
 * `client` line's fields, every value is checked before anything runs (the
 * server runs as root: a value read as an option, `--port-file /etc/...`,
 * would make it write where it should not), and the server's command line
 * is rebuilt from the checked values in long form, with `--` before the
 * FILEs.  The combinations enbd-server itself would refuse at start are
 * refused here too, so `enbd-guardian -n` finds them with the file and line.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guardian.h"
#include "log.h"
#include "nbd-proto.h"

#define MAX_SERVER_WORDS	130	/* 64 words of a line, each option in long form */

enum value_kind {
	V_FLAG,		/* no value */
	V_PORT,		/* field_port */
	V_HOST,		/* field_host: an address to listen on */
	V_TEXT,		/* field_export: UTF-8 without control characters */
	V_NAMED_TEXT,	/* NAME=TEXT, both V_TEXT */
	V_SIZE,		/* NNN[KMGTPE][i][B] */
	V_COUNT,	/* 1..65536 */
	V_EXPORT,	/* NAME=SPEC */
	V_NETWORK,	/* field_network: ADDR[/LEN] */
	V_TLS_MODE,	/* off, on, require */
	V_PATH,		/* field_device_path: absolute, no blanks or controls */
};

enum { O_PORT, O_ADDRESS, O_READ_ONLY, O_NAME, O_LINEAR, O_STRIPE, O_MEMORY, O_EXPORT,
       O_ALLOW, O_DEFAULT_DENY, O_THREADS, O_MAX_CONNS, O_MAX_CONNS_ADDR, O_HANDSHAKE,
       O_DESCRIPTION, O_EXPORT_DESCRIPTION, O_MEMORY_BUDGET, O_SPLICE, O_TLS,
       O_TLS_CERTIFICATES, O_TLS_PSK, O_TLS_VERIFY_PEER, O_TLS_ALLOW_NAME, O_NR };

static const struct server_option {
	const char *name;	/* enbd-server's long option, as passed on */
	char letter;		/* its short form, or 0 */
	enum value_kind kind;
	bool repeatable;
	const char *expected;	/* what a bad value should have been */
} server_options[O_NR] = {
	[O_PORT] = { "port", 'p', V_PORT, false, "1..65535 or a service name" },
	[O_ADDRESS] = { "address", 'a', V_HOST, false, "a hostname or an IPv4 or IPv6 address" },
	[O_READ_ONLY] = { "read-only", 'r', V_FLAG, false, NULL },
	[O_NAME] = { "name", 'n', V_TEXT, false,
		     "an export name (UTF-8, at most 4096 bytes, no control characters)" },
	[O_LINEAR] = { "linear", 0, V_FLAG, false, NULL },
	[O_STRIPE] = { "stripe", 0, V_SIZE, false, "a size such as 64K" },
	[O_MEMORY] = { "memory", 'm', V_SIZE, false, "a size such as 1G" },
	[O_EXPORT] = { "export", 'e', V_EXPORT, true,
		       "NAME=SPEC, SPEC an absolute PATH, memory:SIZE, linear:SPEC,SPEC... or stripe:CHUNK:SPEC,SPEC..., optionally after ro:" },
	[O_ALLOW] = { "allow", 0, V_NETWORK, true, "an IPv4 or IPv6 address, optionally /LEN" },
	[O_DEFAULT_DENY] = { "default-deny", 0, V_FLAG, false, NULL },
	[O_THREADS] = { "threads", 't', V_COUNT, false, "1..65536" },
	[O_MAX_CONNS] = { "max-connections", 0, V_COUNT, false, "1..65536" },
	[O_MAX_CONNS_ADDR] = { "max-connections-per-address", 0, V_COUNT, false, "1..65536" },
	[O_HANDSHAKE] = { "handshake-timeout", 0, V_COUNT, false, "1..65536 seconds" },
	[O_DESCRIPTION] = { "description", 0, V_TEXT, false,
			    "text (UTF-8, at most 4096 bytes, no control characters)" },
	[O_EXPORT_DESCRIPTION] = { "export-description", 0, V_NAMED_TEXT, true,
				   "NAME=TEXT (UTF-8, no control characters)" },
	[O_MEMORY_BUDGET] = { "memory-budget", 0, V_SIZE, false, "a size such as 256M" },
	[O_SPLICE] = { "splice", 0, V_FLAG, false, NULL },
	[O_TLS] = { "tls", 0, V_TLS_MODE, false, "off, on or require" },
	[O_TLS_CERTIFICATES] = { "tls-certificates", 0, V_PATH, false,
				 "an absolute path without blanks" },
	[O_TLS_PSK] = { "tls-psk", 0, V_PATH, false, "an absolute path without blanks" },
	[O_TLS_VERIFY_PEER] = { "tls-verify-peer", 0, V_FLAG, false, NULL },
	[O_TLS_ALLOW_NAME] = { "tls-allow-name", 0, V_TEXT, true,
			       "a name (UTF-8, no control characters)" },
};

/* As enbd-server's parse_size: digits, then K M G T P or E, then i, then B. */
static bool field_size(const char *s)
{
	size_t digits = strspn(s, "0123456789");

	if (!digits || digits > 19)
		return false;
	s += digits;
	if (!*s)
		return true;
	if (!strchr("KMGTPEkmgtpe", *s++))
		return false;
	if (*s == 'i' || *s == 'I')
		s++;
	if (*s == 'b' || *s == 'B')
		s++;
	return !*s;
}

static bool field_count(const char *s)
{
	size_t len = strlen(s);

	return len && len <= 5 && strspn(s, "0123456789") == len && s[0] != '0' &&
	       strtoul(s, NULL, 10) <= 65536;
}

/* One part of an export: memory:SIZE, mem:SIZE, file:PATH or PATH. */
static bool export_part(const char *s)
{
	if (!strncmp(s, "memory:", 7))
		return field_size(s + 7);
	if (!strncmp(s, "mem:", 4))
		return field_size(s + 4);
	if (!strncmp(s, "file:", 5))
		s += 5;
	return field_device_path(s);
}

/* PART,PART,... */
static bool export_parts(const char *list)
{
	char part[PATH_MAX + 8];
	const char *comma;
	size_t len;

	do {
		comma = strchr(list, ',');
		len = comma ? (size_t)(comma - list) : strlen(list);
		if (!len || len >= sizeof(part))
			return false;
		memcpy(part, list, len);
		part[len] = 0;
		if (!export_part(part))
			return false;
		list = comma + 1;
	} while (comma);
	return true;
}

/* [ro:] linear:PARTS | stripe:SIZE:PARTS | PART, as enbd-server's backend_open. */
static bool export_spec(const char *spec)
{
	const char *colon;
	char chunk[32];

	if (!strncmp(spec, "ro:", 3))
		spec += 3;
	if (!strncmp(spec, "linear:", 7))
		return export_parts(spec + 7);
	if (!strncmp(spec, "stripe:", 7)) {
		colon = strchr(spec + 7, ':');
		if (!colon || (size_t)(colon - spec - 7) >= sizeof(chunk))
			return false;
		memcpy(chunk, spec + 7, colon - spec - 7);
		chunk[colon - spec - 7] = 0;
		return field_size(chunk) && strspn(chunk, "0") != strlen(chunk) &&
		       export_parts(colon + 1);
	}
	return export_part(spec);
}

/* NAME=VALUE with NAME an export name: VALUE checked by @value. */
static bool named(const char *s, bool (*value)(const char *))
{
	const char *eq = strchr(s, '=');
	char name[NBD_MAX_STRING + 1];

	if (!eq || (size_t)(eq - s) > NBD_MAX_STRING)
		return false;
	memcpy(name, s, eq - s);
	name[eq - s] = 0;
	return field_export(name) && value(eq + 1);
}

static bool valid_value(enum value_kind kind, const char *s)
{
	switch (kind) {
	case V_FLAG:
		return true;
	case V_PORT:
		return field_port(s);
	case V_HOST:
		return field_host(s);
	case V_TEXT:
		return field_export(s);
	case V_NAMED_TEXT:
		return named(s, field_export);
	case V_SIZE:
		return field_size(s);
	case V_COUNT:
		return field_count(s);
	case V_EXPORT:
		return named(s, export_spec);
	case V_NETWORK:
		return field_network(s);
	case V_TLS_MODE:
		return !strcmp(s, "off") || !strcmp(s, "on") || !strcmp(s, "require");
	case V_PATH:
		return field_device_path(s);
	}
	return false;
}

static int oom(void)
{
	log_err("out of memory");
	return -1;
}

static int add_arg(struct server *s, const char *word)
{
	if (s->nargs + 1 >= MAX_SERVER_WORDS) {
		log_err("%s: too many options", s->origin);
		return -1;
	}
	s->args[s->nargs] = strdup(word);
	if (!s->args[s->nargs])
		return oom();
	s->nargs++;
	return 0;
}

/* What enbd-server would refuse at start, from the options seen and the FILEs. */
static int check_combination(const struct server *s, const unsigned int *seen, int nfiles)
{
	const char *why = NULL;
	bool tls = seen[O_TLS] && strcmp(s->args[seen[O_TLS] - 1], "off");

	if (seen[O_LINEAR] && seen[O_STRIPE])
		why = "--linear and --stripe exclude each other";
	else if (seen[O_MEMORY] && nfiles)
		why = "--memory and FILE exclude each other";
	else if ((seen[O_LINEAR] || seen[O_STRIPE]) && !nfiles)
		why = "--linear and --stripe need FILEs";
	else if (!seen[O_LINEAR] && !seen[O_STRIPE] && nfiles > 1)
		why = "several FILEs need --linear or --stripe";
	else if (!seen[O_MEMORY] && !nfiles && !seen[O_EXPORT])
		why = "nothing to serve: give FILE, --memory or --export";
	else if (!tls && (seen[O_TLS_CERTIFICATES] || seen[O_TLS_PSK] ||
			  seen[O_TLS_VERIFY_PEER] || seen[O_TLS_ALLOW_NAME]))
		why = "TLS credentials given, but no --tls on or require";
	else if (tls && !seen[O_TLS_CERTIFICATES] == !seen[O_TLS_PSK])
		why = "--tls needs --tls-certificates DIR or --tls-psk FILE";
	else if (seen[O_TLS_VERIFY_PEER] && !seen[O_TLS_CERTIFICATES])
		why = "--tls-verify-peer needs --tls-certificates";
	else if (seen[O_TLS_ALLOW_NAME] && !seen[O_TLS_VERIFY_PEER])
		why = "--tls-allow-name needs --tls-verify-peer";
	if (!why)
		return 0;
	log_err("%s: %s", s->origin, why);
	return -1;
}

/*
 * The options into s->args in long form; seen[i] is 0, or 1 + the index in
 * s->args of option i's value (of its flag for a V_FLAG).
 */
static int parse_options(struct server *s, int argc, char **argv, unsigned int *seen)
{
	static struct option longopts[O_NR + 1];
	static char shortopts[2 * O_NR + 2] = ":";
	const struct server_option *so;
	char longname[40];
	int opt, i;

	if (!longopts[0].name) {
		for (i = 0; i < O_NR; i++) {
			so = &server_options[i];
			longopts[i] = (struct option){ so->name,
						       so->kind == V_FLAG ? no_argument : required_argument,
						       NULL, 256 + i };
			if (so->letter) {
				size_t n = strlen(shortopts);

				shortopts[n] = so->letter;
				shortopts[n + 1] = so->kind == V_FLAG ? 0 : ':';
			}
		}
	}
	optind = 0;	/* glibc: start afresh, permuting options after the operands */
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (opt == ':' || opt == '?') {
			if (optopt)
				log_err("%s: %s -%c", s->origin,
					opt == ':' ? "option needs an argument:" : "unknown option",
					optopt);
			else
				log_err("%s: %s %s", s->origin,
					opt == ':' ? "option needs an argument:" : "unknown option",
					argv[optind - 1]);
			return -1;
		}
		if (opt < 256) {
			for (i = 0; server_options[i].letter != opt; i++)
				;
		} else {
			i = opt - 256;
		}
		so = &server_options[i];
		if (seen[i] && !so->repeatable) {
			log_err("%s: --%s given twice", s->origin, so->name);
			return -1;
		}
		if (so->kind != V_FLAG && !valid_value(so->kind, optarg)) {
			log_err("%s: --%s '%s': expected %s", s->origin, so->name, optarg,
				so->expected);
			return -1;
		}
		snprintf(longname, sizeof(longname), "--%s", so->name);
		if (add_arg(s, longname) < 0)
			return -1;
		if (so->kind != V_FLAG && add_arg(s, optarg) < 0)
			return -1;
		seen[i] = s->nargs;
	}
	return 0;
}

/* argv[0] is the origin (getopt prefixes its messages with it). */
static int parse_server(struct server *s, int argc, char **argv)
{
	unsigned int seen[O_NR] = { 0 };
	int i, nfiles;

	s->args = calloc(MAX_SERVER_WORDS, sizeof(*s->args));
	if (!s->args)
		return oom();
	if (parse_options(s, argc, argv, seen) < 0)
		return -1;
	i = optind;
	if (i < argc && argv[i][0] != '/') {
		if (!field_label(argv[i])) {
			log_err("%s: '%s' is neither an ID (letters, digits, _ - .) nor an absolute FILE",
				s->origin, argv[i]);
			return -1;
		}
		s->label = strdup(argv[i++]);
		if (!s->label)
			return oom();
	}
	nfiles = argc - i;
	if (add_arg(s, "--") < 0)
		return -1;
	for (; i < argc; i++) {
		if (!field_device_path(argv[i])) {
			log_err("%s: FILE '%s': expected an absolute path without blanks or control characters",
				s->origin, argv[i]);
			return -1;
		}
		if (add_arg(s, argv[i]) < 0)
			return -1;
	}
	if (check_combination(s, seen, nfiles) < 0)
		return -1;
	s->port = strdup(seen[O_PORT] ? s->args[seen[O_PORT] - 1] : G_DEFAULT_PORT);
	if (!s->port)
		return oom();
	if (seen[O_ADDRESS]) {
		s->address = strdup(s->args[seen[O_ADDRESS] - 1]);
		if (!s->address)
			return oom();
	}
	if (!s->label && asprintf(&s->label, "server-%s", s->port) < 0) {
		s->label = NULL;
		return oom();
	}
	return 0;
}

int server_parse(struct config *cfg, char **words, int nwords, const char *origin)
{
	struct server *servers, *s;
	char *argv[MAX_SERVER_WORDS];
	int i;

	if (nwords + 2 > MAX_SERVER_WORDS) {
		log_err("%s: too many words", origin);
		return -1;
	}
	servers = realloc(cfg->servers, (cfg->nservers + 1) * sizeof(*servers));
	if (!servers)
		return oom();
	cfg->servers = servers;
	s = &servers[cfg->nservers++];
	memset(s, 0, sizeof(*s));
	snprintf(s->origin, sizeof(s->origin), "%s", origin);
	argv[0] = s->origin;
	for (i = 0; i < nwords; i++)
		argv[i + 1] = words[i];
	argv[nwords + 1] = NULL;
	return parse_server(s, nwords + 1, argv);
}

int server_check(const struct config *cfg)
{
	const struct server *a, *b;
	unsigned int i, j;

	for (i = 0; i < cfg->nservers; i++) {
		a = &cfg->servers[i];
		for (j = 0; j < i; j++) {
			b = &cfg->servers[j];
			if (!strcmp(a->label, b->label)) {
				log_err("%s: server ID %s is already used at %s", a->origin,
					a->label, b->origin);
				return -1;
			}
			/* A server without --address listens on every address. */
			if (!strcmp(a->port, b->port) &&
			    (!a->address || !b->address || !strcmp(a->address, b->address))) {
				log_err("%s: port %s%s%s is already served at %s", a->origin,
					a->port, a->address ? " of " : "",
					a->address ? a->address : "", b->origin);
				return -1;
			}
		}
	}
	return 0;
}

void server_free(struct server *s)
{
	unsigned int i;

	free(s->label);
	free(s->port);
	free(s->address);
	for (i = 0; s->args && i < s->nargs; i++)
		free(s->args[i]);
	free(s->args);
}
