// SPDX-License-Identifier: GPL-2.0
/*
 * enbdctl: status of the enbd devices and their channels, live, as a table
 * or JSON; tuning at run time; eject.  See enbdctl(8).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: enbdctl status [-j|--json] [DEVICE...]\n"
		"       enbdctl watch|top [-i SECONDS] [-n COUNT] [DEVICE...]\n"
		"       enbdctl policy DEVICE [--aging SECONDS|NNNms] [--outage wait|fail[:MS]]\n"
		"                      [--keepalive SECONDS] [--readahead KIB] [-t|--token TOKEN]\n"
		"       enbdctl option [NAME [VALUE]]\n"
		"       enbdctl eject DEVICE [-t|--token TOKEN]\n"
		"\n"
		"status   every device and channel of /proc/nbdinfo, and the md arrays on them with\n"
		"         the progress of their resync or check (-j: JSON, see enbdctl(8))\n"
		"watch    the same, refreshed every SECONDS (1), with rates; COUNT times (0: until Ctrl-C)\n"
		"top      the same as watch\n"
		"policy   a device's request aging, outage policy, keep-alive and read-ahead\n"
		"         (ENBD_IOC_SET_POLICY; keep-alive, read-ahead 0: the module's option)\n"
		"option   show or set a module option: keepalive, readahead, aging (ndevs: show)\n"
		"eject    shut a device down: fail its requests, eject its channels (ENBD_IOC_SHUTDOWN)\n"
		"\n"
		"DEVICE is /dev/ndN, ndN or N.  TOKEN, the device's session token, defaults to\n"
		"$ENBD_TOKEN, else enbd-guardian's /run/enbd/ndN.token.\n");
}

void ctl_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "enbdctl: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int select_devices(int argc, char **argv, struct ctl_select *sel)
{
	unsigned int index;
	int i;

	memset(sel, 0, sizeof(*sel));
	for (i = 0; i < argc; i++) {
		if (ctl_parse_device(argv[i], &index) < 0)
			return -1;
		sel->any = true;
		sel->index[index] = true;
	}
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_select sel;
	struct nbdinfo *info;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "j", longopts, NULL)) != -1) {
		if (c != 'j')
			return 2;
		json = true;
	}
	if (select_devices(argc - optind, argv + optind, &sel) < 0)
		return 1;
	info = malloc(sizeof(*info));
	if (!info) {
		ctl_error("out of memory");
		return 1;
	}
	if (nbdinfo_read(info) < 0) {
		ctl_error("cannot read /proc/nbdinfo: %m (is the enbd module loaded?)");
		free(info);
		return 1;
	}
	if (json)
		ctl_print_json(info, &sel);
	else
		ctl_print_status(info, &sel);
	free(info);
	return 0;
}

static int cmd_watch(int argc, char **argv)
{
	struct ctl_select sel;
	double interval = 1;
	unsigned long count = 0;
	char *end;
	int c;

	while ((c = getopt(argc, argv, "i:n:")) != -1) {
		switch (c) {
		case 'i':
			interval = strtod(optarg, &end);
			if (*end || !(interval >= 0.1 && interval <= 3600)) {
				ctl_error("-i %s: expected seconds, 0.1 to 3600", optarg);
				return 2;
			}
			break;
		case 'n':
			count = strtoul(optarg, &end, 10);
			if (*end) {
				ctl_error("-n %s: expected a count", optarg);
				return 2;
			}
			break;
		default:
			return 2;
		}
	}
	if (select_devices(argc - optind, argv + optind, &sel) < 0)
		return 1;
	return ctl_watch(&sel, interval, count) < 0 ? 1 : 0;
}

static int cmd_policy(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "aging", required_argument, NULL, 'a' },
		{ "outage", required_argument, NULL, 'o' },
		{ "keepalive", required_argument, NULL, 'k' },
		{ "readahead", required_argument, NULL, 'r' },
		{ "token", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_policy_args args = { NULL };
	unsigned int index;
	int c;

	while ((c = getopt_long(argc, argv, "t:", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': args.aging = optarg; break;
		case 'o': args.outage = optarg; break;
		case 'k': args.keepalive = optarg; break;
		case 'r': args.readahead = optarg; break;
		case 't': args.token = optarg; break;
		default: return 2;
		}
	}
	if (argc - optind != 1)
		return 2;
	if (ctl_parse_device(argv[optind], &index) < 0)
		return 1;
	return ctl_policy(index, &args) < 0 ? 1 : 0;
}

static int cmd_eject(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "token", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *token = NULL;
	unsigned int index;
	int c;

	while ((c = getopt_long(argc, argv, "t:", longopts, NULL)) != -1) {
		if (c != 't')
			return 2;
		token = optarg;
	}
	if (argc - optind != 1)
		return 2;
	if (ctl_parse_device(argv[optind], &index) < 0)
		return 1;
	return ctl_eject(index, token) < 0 ? 1 : 0;
}

static int cmd_option(int argc, char **argv)
{
	if (argc > 3)
		return 2;
	return ctl_option(argc > 1 ? argv[1] : NULL, argc > 2 ? argv[2] : NULL) < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} commands[] = {
		{ "status", cmd_status },
		{ "watch", cmd_watch },
		{ "top", cmd_watch },
		{ "policy", cmd_policy },
		{ "option", cmd_option },
		{ "eject", cmd_eject },
	};
	size_t i;
	int rc;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		rc = commands[i].run(argc - 1, argv + 1);
		if (rc == 2)
			usage(stderr);
		return rc;
	}
	ctl_error("unknown command %s", argv[1]);
	usage(stderr);
	return 2;
}
