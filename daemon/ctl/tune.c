// SPDX-License-Identifier: GPL-2.0
/*
 * enbdctl policy, eject and option: a device's aging, outage policy,
 * keep-alive and read-ahead (ENBD_IOC_SET_POLICY), its shutdown (ENBD_IOC_SHUTDOWN), and the module's
 * options in /sys/module/enbd/parameters.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ctl.h"

#define PARAMS_DIR	"/sys/module/enbd/parameters"
#define TOKEN_DIR	"/run/enbd"	/* enbd-guardian's token files */
#define MAX_AGING_MS	3600000u	/* the module's limit for aging and outage */

static const char *const options[] = { "keepalive", "readahead", "aging", "ndevs" };

/* /dev/ndN, a link to it, ndN or N. */
int ctl_parse_device(const char *arg, unsigned int *index)
{
	char resolved[PATH_MAX];
	const char *name = arg, *slash;
	unsigned long n;
	char *end;

	if (strchr(arg, '/') && realpath(arg, resolved))
		name = resolved;
	slash = strrchr(name, '/');
	if (slash)
		name = slash + 1;
	if (!strncmp(name, ENBD_DISK_PREFIX, strlen(ENBD_DISK_PREFIX)))
		name += strlen(ENBD_DISK_PREFIX);
	errno = 0;
	n = strtoul(name, &end, 10);
	if (errno || end == name || *end || n >= ENBD_MAX_DEVICES) {
		ctl_error("%s: not an enbd device (/dev/ndN)", arg);
		return -1;
	}
	*index = (unsigned int)n;
	return 0;
}

/* -t TOKEN, else $ENBD_TOKEN, else the guardian's token file, else none. */
static int find_token(unsigned int index, const char *arg, __u64 *token)
{
	char path[64], text[32];
	const char *src = arg ? arg : getenv("ENBD_TOKEN");
	char *end;
	FILE *f;

	*token = 0;
	if (!src || !*src) {
		snprintf(path, sizeof(path), TOKEN_DIR "/" ENBD_DISK_PREFIX "%u.token", index);
		f = fopen(path, "re");
		if (!f)
			return 0;
		if (!fgets(text, sizeof(text), f))
			text[0] = '\0';
		fclose(f);
		text[strcspn(text, "\n")] = '\0';
		src = text;
	}
	errno = 0;
	*token = strtoull(src, &end, 0);
	if (errno || end == src || *end) {
		ctl_error("invalid token '%s': expected a 64-bit number", src);
		return -1;
	}
	return 0;
}

static int control_ioctl(unsigned long request, void *arg, const char *what,
			 unsigned int index)
{
	int fd, ret;

	fd = open(ENBD_CONTROL_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ctl_error("cannot open " ENBD_CONTROL_PATH ": %s (is the enbd module loaded?)",
			  strerror(errno));
		return -1;
	}
	ret = ioctl(fd, request, arg);
	if (ret < 0)
		ctl_error("/dev/" ENBD_DISK_PREFIX "%u: %s: %s%s", index, what, strerror(errno),
			  errno == EACCES ? " (the device's token is needed: -t, $ENBD_TOKEN or "
			  TOKEN_DIR "/ndN.token)" :
			  errno == ENOTTY ? " (the loaded enbd module is older than enbdctl)" : "");
	close(fd);
	return ret;
}

/* SECONDS or NNNms -> milliseconds */
static int parse_ms(const char *s, bool seconds_by_default, uint32_t *ms)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (!strcmp(end, "ms"))
		;
	else if (!*end && seconds_by_default)
		v *= 1000;
	else if (*end)
		return -1;
	if (v > MAX_AGING_MS)
		return -1;
	*ms = (uint32_t)v;
	return 0;
}

/* A whole number from 0 to @max */
static int parse_bounded(const char *s, uint32_t max, uint32_t *value)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		return -1;
	*value = (uint32_t)v;
	return 0;
}

int ctl_policy(unsigned int index, const struct ctl_policy_args *args)
{
	struct enbd_policy p = { .size = sizeof(p), .index = index };
	const char *aging = args->aging, *outage = args->outage;

	if (aging) {
		if (parse_ms(aging, true, &p.aging_ms) < 0) {
			ctl_error("--aging %s: expected SECONDS or NNNms (up to 3600 s)", aging);
			return -1;
		}
		p.flags |= ENBD_POLICY_AGING;
	}
	if (outage) {
		if (!strcmp(outage, "wait")) {
			p.outage = ENBD_OUTAGE_WAIT;
		} else if (!strcmp(outage, "fail")) {
			p.outage = ENBD_OUTAGE_FAIL;
		} else if (!strncmp(outage, "fail:", 5) &&
			   parse_ms(outage + 5, false, &p.outage_ms) == 0) {
			p.outage = ENBD_OUTAGE_FAIL;
		} else {
			ctl_error("--outage %s: expected wait, fail or fail:MS (0..3600000)", outage);
			return -1;
		}
		p.flags |= ENBD_POLICY_OUTAGE;
	}
	if (args->keepalive) {
		if (parse_bounded(args->keepalive, ENBD_POLICY_MAX_KEEPALIVE_S, &p.keepalive_s) < 0) {
			ctl_error("--keepalive %s: expected SECONDS (0..%u, 0: the module's option)",
				  args->keepalive, ENBD_POLICY_MAX_KEEPALIVE_S);
			return -1;
		}
		p.flags |= ENBD_POLICY_KEEPALIVE;
	}
	if (args->readahead) {
		if (parse_bounded(args->readahead, ENBD_POLICY_MAX_READAHEAD_KB, &p.readahead_kb) < 0) {
			ctl_error("--readahead %s: expected KiB (0..%u, 0: the module's option)",
				  args->readahead, ENBD_POLICY_MAX_READAHEAD_KB);
			return -1;
		}
		p.flags |= ENBD_POLICY_READAHEAD;
	}
	if (!p.flags) {
		ctl_error("policy: nothing to change (--aging, --outage, --keepalive, --readahead)");
		return -1;
	}
	if (find_token(index, args->token, &p.token) < 0)
		return -1;
	/*
	 * Aging and outage alone fit the first structure, which a module
	 * loaded before an upgrade knows too.
	 */
	if (!(p.flags & ~(ENBD_POLICY_AGING | ENBD_POLICY_OUTAGE))) {
		p.size = ENBD_POLICY_SIZE_V1;
		return control_ioctl(ENBD_IOC_SET_POLICY_V1, &p, "setting the policy", index);
	}
	return control_ioctl(ENBD_IOC_SET_POLICY, &p, "setting the policy", index);
}

int ctl_eject(unsigned int index, const char *token)
{
	struct enbd_shutdown s = { .size = sizeof(s), .index = index };

	if (find_token(index, token, &s.token) < 0)
		return -1;
	return control_ioctl(ENBD_IOC_SHUTDOWN, &s, "shutting down", index);
}

static int show_option(const char *name)
{
	char path[128], value[32];
	FILE *f;

	snprintf(path, sizeof(path), PARAMS_DIR "/%s", name);
	f = fopen(path, "re");
	if (!f) {
		ctl_error("cannot read %s: %s (is the enbd module loaded?)", path, strerror(errno));
		return -1;
	}
	if (!fgets(value, sizeof(value), f))
		value[0] = '\0';
	fclose(f);
	printf("%s %s", name, value);
	return 0;
}

int ctl_option(const char *name, const char *value)
{
	char path[128];
	size_t i;
	int fd;
	ssize_t n;

	if (!name) {
		for (i = 0; i < sizeof(options) / sizeof(options[0]); i++)
			if (show_option(options[i]) < 0)
				return -1;
		return 0;
	}
	for (i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (!strcmp(name, options[i]))
			break;
	if (i == sizeof(options) / sizeof(options[0])) {
		ctl_error("unknown option %s (keepalive, readahead, aging, ndevs)", name);
		return -1;
	}
	if (!value)
		return show_option(name);
	snprintf(path, sizeof(path), PARAMS_DIR "/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		ctl_error("cannot open %s: %s%s", path, strerror(errno),
			  errno == EACCES ? " (ndevs is set at load time only)" : "");
		return -1;
	}
	n = write(fd, value, strlen(value));
	close(fd);
	if (n < 0) {
		ctl_error("%s %s: %s", name, value, strerror(errno));
		return -1;
	}
	return show_option(name);
}
