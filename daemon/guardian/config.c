// SPDX-License-Identifier: GPL-2.0
/*
 * The device table, from `client` lines in a configuration file and from
 * --client arguments (the same line without the keyword), and the module's
 * options from `module` lines (module.c):
 *
 *   client [ID] DEVICE HOST[,HOST...] [PORT] [-n N] [-e EXPORT] [-b ADDR]...
 *          [--aging SECONDS] [--outage wait|fail[:MS]] [--force-multi-conn]
 *          [--tls off|on|require] [--tls-certificates DIR | --tls-psk FILE
 *          [--tls-username ID]] [--tls-hostname NAME]
 *
 * Words are separated by blanks; "double" or 'single' quotes keep blanks in a word;
 * '#' at the start of a word comments out the rest of the line.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "guardian.h"
#include "log.h"
#include "nbd-proto.h"

#define MAX_WORDS	64

/* Split @line into words in place.  Returns the count, or -1 (logged). */
static int split_words(char *line, char **words, const char *origin)
{
	int n = 0;
	char *p = line, *out;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p || *p == '#')
			return n;
		if (n == MAX_WORDS) {
			log_err("%s: more than %d words", origin, MAX_WORDS);
			return -1;
		}
		words[n++] = out = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			if (*p == '"' || *p == '\'') {
				char *end = strchr(p + 1, *p);

				if (!end) {
					log_err("%s: unterminated quote", origin);
					return -1;
				}
				memmove(out, p + 1, end - p - 1);
				out += end - p - 1;
				p = end + 1;
			} else {
				*out++ = *p++;
			}
		}
		if (*p)
			p++;
		*out = 0;
	}
}

static int parse_uint(const char *s, unsigned long max, unsigned long *val)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*val = strtoul(s, &end, 10);
	return (errno || *end || *val > max) ? -1 : 0;
}

/* SECONDS, or NNNms.  0..3600 s. */
static int parse_aging(const char *s, uint32_t *ms)
{
	unsigned long v;
	size_t len = strlen(s);
	char num[32];

	if (len > 2 && len < sizeof(num) && !strcmp(s + len - 2, "ms")) {
		memcpy(num, s, len - 2);
		num[len - 2] = 0;
		if (parse_uint(num, 3600000, &v) < 0)
			return -1;
		*ms = v;
		return 0;
	}
	if (parse_uint(s, 3600, &v) < 0)
		return -1;
	*ms = v * 1000;
	return 0;
}

/* wait | fail | fail:MS */
static int parse_outage(const char *s, uint32_t *policy, uint32_t *ms)
{
	unsigned long v;

	*ms = 0;
	if (!strcmp(s, "wait")) {
		*policy = ENBD_OUTAGE_WAIT;
		return 0;
	}
	*policy = ENBD_OUTAGE_FAIL;
	if (!strcmp(s, "fail"))
		return 0;
	if (strncmp(s, "fail:", 5) || parse_uint(s + 5, 3600000, &v) < 0)
		return -1;
	*ms = v;
	return 0;
}

/*
 * N of /dev/ndN: from the name the path resolves to (a symbolic link is
 * followed), or from the path itself while it does not exist.
 */
static int device_index(const char *path, unsigned int *index)
{
	char real[PATH_MAX];
	const char *name, *num;
	unsigned long n;

	if (!realpath(path, real)) {
		if (strlen(path) >= sizeof(real))
			return -1;
		strcpy(real, path);
	}
	name = strrchr(real, '/');
	name = name ? name + 1 : real;
	num = name + strlen(ENBD_DISK_PREFIX);
	if (strncmp(name, ENBD_DISK_PREFIX, strlen(ENBD_DISK_PREFIX)) ||
	    (num[0] == '0' && num[1]) || parse_uint(num, ENBD_MAX_DEVICES - 1, &n) < 0)
		return -1;
	*index = n;
	return 0;
}

static void device_free(struct device *d)
{
	unsigned int i;

	free(d->label);
	free(d->path);
	for (i = 0; i < d->nhosts; i++)
		free(d->hosts[i]);
	free(d->port);
	free(d->export);
	free(d->tls);
	free(d->tls_certs);
	free(d->tls_psk);
	free(d->tls_username);
	free(d->tls_hostname);
	for (i = 0; i < d->nbinds; i++)
		free(d->binds[i]);
	free(d->envp);
}

static int oom(void)
{
	log_err("out of memory");
	return -1;
}

static int split_hosts(struct device *d, const char *list)
{
	const char *p = list, *comma;
	char *host;

	do {
		comma = strchr(p, ',');
		if (comma == p || !*p || d->nhosts == ENBD_MAX_CHANNELS) {
			log_err("%s: bad host list '%s' (HOST or HOST,HOST,...; at most %d)", d->origin,
				list, ENBD_MAX_CHANNELS);
			return -1;
		}
		host = comma ? strndup(p, comma - p) : strdup(p);
		if (!host)
			return oom();
		d->hosts[d->nhosts++] = host;
		if (!field_host(host)) {
			log_err("%s: host '%s' is neither a hostname (RFC 1123) nor an IPv4 or IPv6 address",
				d->origin, host);
			return -1;
		}
		p = comma + 1;
	} while (comma);
	return 0;
}

/*
 * One of the TLS options (@which: --tls, --tls-certificates, --tls-psk,
 * --tls-username, --tls-hostname).  Credentials are absolute paths: the
 * daemons read the keys from the files, so no key is ever in a command line.
 */
static int parse_tls_option(struct device *d, int which, const char *arg)
{
	static const struct {
		const char *name;
		bool (*valid)(const char *);
		const char *expect;
		size_t field;
	} opts[] = {
		{ "--tls", field_tls_mode, "off, on or require", offsetof(struct device, tls) },
		{ "--tls-certificates", field_file_path,
		  "an absolute path (no blanks) of a directory", offsetof(struct device, tls_certs) },
		{ "--tls-psk", field_file_path, "an absolute path (no blanks) of a file of "
		  "identity:hexkey lines, never the key itself", offsetof(struct device, tls_psk) },
		{ "--tls-username", field_psk_identity, "a PSK identity (letters, digits, _ . - @)",
		  offsetof(struct device, tls_username) },
		{ "--tls-hostname", field_host, "a hostname (RFC 1123) or an IP address",
		  offsetof(struct device, tls_hostname) },
	};
	char **field = (char **)((char *)d + opts[which].field);

	if (!opts[which].valid(arg)) {
		/* A PSK given in place of its file must not reach the log. */
		log_err("%s: bad %s argument: expected %s", d->origin, opts[which].name,
			opts[which].expect);
		return -1;
	}
	free(*field);
	*field = strdup(arg);
	return *field ? 0 : oom();
}

/* The TLS options fit together, as enbd-client wants them.  0, or -1 (logged). */
static int check_tls(const struct device *d)
{
	bool on = d->tls && strcmp(d->tls, "off");

	if (!on && (d->tls_certs || d->tls_psk || d->tls_username || d->tls_hostname)) {
		log_err("%s: TLS options without --tls on or require", d->origin);
		return -1;
	}
	if (on && !d->tls_certs == !d->tls_psk) {
		log_err("%s: --tls %s needs --tls-certificates DIR or --tls-psk FILE (one of them)",
			d->origin, d->tls);
		return -1;
	}
	if (d->tls_username && !d->tls_psk) {
		log_err("%s: --tls-username goes with --tls-psk", d->origin);
		return -1;
	}
	return 0;
}

/* argv[0] is the origin (getopt prefixes its messages with it). */
static int parse_device(struct device *d, int argc, char **argv)
{
	enum { OPT_AGING = 256, OPT_OUTAGE, OPT_FORCE_MULTI_CONN, OPT_TLS, OPT_TLS_CERTIFICATES,
	       OPT_TLS_PSK, OPT_TLS_USERNAME, OPT_TLS_HOSTNAME };
	static const struct option longopts[] = {
		{ "channels", required_argument, NULL, 'n' },
		{ "export", required_argument, NULL, 'e' },
		{ "bind", required_argument, NULL, 'b' },
		{ "aging", required_argument, NULL, OPT_AGING },
		{ "outage", required_argument, NULL, OPT_OUTAGE },
		{ "force-multi-conn", no_argument, NULL, OPT_FORCE_MULTI_CONN },
		{ "tls", required_argument, NULL, OPT_TLS },
		{ "tls-certificates", required_argument, NULL, OPT_TLS_CERTIFICATES },
		{ "tls-psk", required_argument, NULL, OPT_TLS_PSK },
		{ "tls-username", required_argument, NULL, OPT_TLS_USERNAME },
		{ "tls-hostname", required_argument, NULL, OPT_TLS_HOSTNAME },
		{ NULL, 0, NULL, 0 },
	};
	const char *origin = argv[0], *pos[4];
	unsigned long v;
	int opt, npos, i;

	d->channels = 0;
	optind = 0;	/* glibc: start afresh, permuting options after the operands */
	while ((opt = getopt_long(argc, argv, ":n:e:b:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (parse_uint(optarg, ENBD_MAX_CHANNELS, &v) < 0 || !v) {
				log_err("%s: -n %s: expected 1..%d channels", origin, optarg,
					ENBD_MAX_CHANNELS);
				return -1;
			}
			d->channels = v;
			break;
		case 'e':
			if (!field_export(optarg)) {
				log_err("%s: bad export name '%s' (UTF-8, at most %d bytes, no control characters)",
					origin, optarg, NBD_MAX_STRING);
				return -1;
			}
			free(d->export);
			d->export = strdup(optarg);
			if (!d->export)
				return oom();
			break;
		case 'b':
			if (d->nbinds == ENBD_MAX_CHANNELS) {
				log_err("%s: more than %d -b addresses", origin, ENBD_MAX_CHANNELS);
				return -1;
			}
			if (!field_bind(optarg)) {
				log_err("%s: -b %s: expected an IPv4 or IPv6 address or an interface name",
					origin, optarg);
				return -1;
			}
			d->binds[d->nbinds] = strdup(optarg);
			if (!d->binds[d->nbinds])
				return oom();
			d->nbinds++;
			break;
		case OPT_AGING:
			if (parse_aging(optarg, &d->aging_ms) < 0) {
				log_err("%s: --aging %s: expected 0..3600 seconds (or NNNms); 0 is the module's value",
					origin, optarg);
				return -1;
			}
			d->set_aging = true;
			break;
		case OPT_OUTAGE:
			if (parse_outage(optarg, &d->outage, &d->outage_ms) < 0) {
				log_err("%s: --outage %s: expected wait, fail or fail:MS (0..3600000)",
					origin, optarg);
				return -1;
			}
			d->set_outage = true;
			break;
		case OPT_FORCE_MULTI_CONN:
			d->force_multi_conn = true;
			break;
		case OPT_TLS:
		case OPT_TLS_CERTIFICATES:
		case OPT_TLS_PSK:
		case OPT_TLS_USERNAME:
		case OPT_TLS_HOSTNAME:
			if (parse_tls_option(d, opt - OPT_TLS, optarg) < 0)
				return -1;
			break;
		case ':':
			if (optopt)
				log_err("%s: option -%c needs an argument", origin, optopt);
			else
				log_err("%s: option %s needs an argument", origin, argv[optind - 1]);
			return -1;
		default:
			if (optopt)
				log_err("%s: unknown option -%c", origin, optopt);
			else
				log_err("%s: unknown option %s", origin, argv[optind - 1]);
			return -1;
		}
	}
	npos = argc - optind;
	if (npos < 2 || npos > 4) {
		log_err("%s: expected [ID] DEVICE HOST [PORT] and options", origin);
		return -1;
	}
	for (i = 0; i < npos; i++)
		pos[i] = argv[optind + i];
	i = 0;
	if (pos[0][0] != '/') {
		if (!field_label(pos[0])) {
			log_err("%s: '%s' is neither an ID (letters, digits, _ - .) nor a device path",
				origin, pos[0]);
			return -1;
		}
		d->label = strdup(pos[i++]);
		if (!d->label)
			return oom();
	}
	if (npos - i < 2 || npos - i > 3 || !field_device_path(pos[i])) {
		log_err("%s: expected [ID] DEVICE HOST [PORT]: DEVICE is a path such as /dev/nd0",
			origin);
		return -1;
	}
	d->path = strdup(pos[i]);
	if (!d->path)
		return oom();
	if (device_index(d->path, &d->index) < 0) {
		log_err("%s: %s is not an enbd device /dev/" ENBD_DISK_PREFIX "N (N < %d)", origin,
			d->path, ENBD_MAX_DEVICES);
		return -1;
	}
	if (split_hosts(d, pos[i + 1]) < 0)
		return -1;
	d->port = strdup(npos - i == 3 ? pos[i + 2] : G_DEFAULT_PORT);
	if (!d->port)
		return oom();
	if (!field_port(d->port)) {
		log_err("%s: bad port '%s' (1..65535 or a service name)", origin, d->port);
		return -1;
	}
	if (!d->label && asprintf(&d->label, ENBD_DISK_PREFIX "%u", d->index) < 0) {
		d->label = NULL;
		return oom();
	}
	if (check_tls(d) < 0)
		return -1;
	if (!d->channels)
		d->channels = d->nbinds > d->nhosts ? d->nbinds : d->nhosts;
	if (d->nbinds > d->channels || d->nhosts > d->channels) {
		log_err("%s: more -b addresses (%u) or hosts (%u) than channels (%u): channel i takes the i-th of each",
			origin, d->nbinds, d->nhosts, d->channels);
		return -1;
	}
	return 0;
}

static int add_device(struct config *cfg, char **words, int nwords, const char *origin)
{
	struct device *devs, *d;
	char *argv[MAX_WORDS + 2];
	int i;

	devs = realloc(cfg->devs, (cfg->ndevs + 1) * sizeof(*devs));
	if (!devs)
		return oom();
	cfg->devs = devs;
	d = &devs[cfg->ndevs++];
	memset(d, 0, sizeof(*d));
	d->token_fd = -1;
	snprintf(d->origin, sizeof(d->origin), "%s", origin);
	argv[0] = d->origin;
	for (i = 0; i < nwords; i++)
		argv[i + 1] = words[i];
	argv[nwords + 1] = NULL;
	return parse_device(d, nwords + 1, argv);
}

int config_read_file(struct config *cfg, const char *file)
{
	char *line = NULL, *words[MAX_WORDS], origin[64];
	size_t cap = 0;
	unsigned int lineno = 0;
	int n, rc = 0;
	FILE *f;

	f = fopen(file, "re");
	if (!f) {
		log_err("cannot read %s: %s", file, strerror(errno));
		return -1;
	}
	while (rc == 0 && getline(&line, &cap, f) >= 0) {
		lineno++;
		snprintf(origin, sizeof(origin), "%s:%u", file, lineno);
		n = split_words(line, words, origin);
		if (n < 0) {
			rc = -1;
		} else if (n == 0) {
			continue;
		} else if (!strcmp(words[0], "client")) {
			rc = add_device(cfg, words + 1, n - 1, origin);
		} else if (!strcmp(words[0], "module")) {
			rc = module_parse(&cfg->module, words + 1, n - 1, origin);
		} else if (!strcmp(words[0], "server")) {
			rc = server_parse(cfg, words + 1, n - 1, origin);
		} else {
			log_err("%s: unknown keyword '%s' (expected: client, module or server)", origin,
				words[0]);
			rc = -1;
		}
	}
	if (rc == 0 && ferror(f)) {
		log_err("cannot read %s: %s", file, strerror(errno));
		rc = -1;
	}
	free(line);
	fclose(f);
	return rc;
}

int config_add_arg(struct config *cfg, const char *spec, unsigned int nth)
{
	char *copy = strdup(spec), *words[MAX_WORDS], origin[64];
	int n, rc = -1;

	if (!copy)
		return oom();
	snprintf(origin, sizeof(origin), "--client #%u", nth);
	n = split_words(copy, words, origin);
	if (n == 0)
		log_err("%s: empty", origin);
	else if (n > 0)
		rc = add_device(cfg, words, n, origin);
	free(copy);
	return rc;
}

int config_check(const struct config *cfg)
{
	unsigned int i, j;

	if (!cfg->ndevs && !cfg->nservers) {
		log_err("nothing to guard: give -c FILE with client or server lines, or --client");
		return -1;
	}
	for (i = 0; i < cfg->ndevs; i++) {
		for (j = 0; j < i; j++) {
			if (cfg->devs[i].index == cfg->devs[j].index) {
				log_err("%s: %s is already configured at %s", cfg->devs[i].origin,
					cfg->devs[i].path, cfg->devs[j].origin);
				return -1;
			}
			if (!strcmp(cfg->devs[i].label, cfg->devs[j].label)) {
				log_err("%s: ID %s is already used at %s", cfg->devs[i].origin,
					cfg->devs[i].label, cfg->devs[j].origin);
				return -1;
			}
		}
	}
	return server_check(cfg);
}

int config_verify_devices(const struct config *cfg)
{
	char link[64], target[PATH_MAX], want[16];
	const struct device *d;
	const char *name = "";
	struct stat st;
	unsigned int i;
	ssize_t len;

	for (i = 0; i < cfg->ndevs; i++) {
		d = &cfg->devs[i];
		if (stat(d->path, &st) < 0) {
			log_err("%s: %s: %s", d->origin, d->path, strerror(errno));
			return -1;
		}
		snprintf(want, sizeof(want), ENBD_DISK_PREFIX "%u", d->index);
		snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(st.st_rdev),
			 minor(st.st_rdev));
		len = S_ISBLK(st.st_mode) ? readlink(link, target, sizeof(target) - 1) : -1;
		if (len >= 0) {
			target[len] = 0;
			name = strrchr(target, '/');
			name = name ? name + 1 : target;
		}
		if (len < 0 || strcmp(name, want)) {
			log_err("%s: %s is not the enbd block device %s", d->origin, d->path, want);
			return -1;
		}
	}
	return 0;
}

void config_free(struct config *cfg)
{
	unsigned int i;

	for (i = 0; i < cfg->ndevs; i++)
		device_free(&cfg->devs[i]);
	free(cfg->devs);
	cfg->devs = NULL;
	cfg->ndevs = 0;
	for (i = 0; i < cfg->nservers; i++)
		server_free(&cfg->servers[i]);
	free(cfg->servers);
	cfg->servers = NULL;
	cfg->nservers = 0;
}
