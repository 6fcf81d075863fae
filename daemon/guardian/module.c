// SPDX-License-Identifier: GPL-2.0
/*
 * `module` lines of the configuration: the enbd module's options,
 *
 *   module NAME=VALUE...     keepalive (0..3600 s), readahead (0..65536 KiB),
 *                            aging (0..3600 s), ndevs (1..256)
 *
 * checked like `client` lines, and applied through modprobe.d: `enbd-guardian
 * -m` prints them as an "options enbd ..." line for /run/modprobe.d, which
 * enbd-guardian.service writes before its modprobe.  The limits are the
 * module's (kernel/enbd_main.c), so a value it would refuse never gets there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guardian.h"
#include "log.h"

static const struct {
	const char *name;
	unsigned long min, max;
} module_options[MODULE_NR_OPTIONS] = {
	[MODULE_KEEPALIVE] = { "keepalive", 0, 3600 },
	[MODULE_READAHEAD] = { "readahead", 0, 65536 },
	[MODULE_AGING] = { "aging", 0, 3600 },
	[MODULE_NDEVS] = { "ndevs", 1, 256 },
};

static int module_parse_word(struct module_config *m, const char *word, const char *origin)
{
	const char *eq = strchr(word, '=');
	unsigned long v;
	size_t len;
	char *end;
	int i;

	len = eq ? (size_t)(eq - word) : strlen(word);
	for (i = 0; i < MODULE_NR_OPTIONS; i++)
		if (strlen(module_options[i].name) == len &&
		    !strncmp(word, module_options[i].name, len))
			break;
	if (i == MODULE_NR_OPTIONS) {
		log_err("%s: unknown module option '%.*s' (expected keepalive, readahead, aging or ndevs)",
			origin, (int)len, word);
		return -1;
	}
	if (!eq) {
		log_err("%s: %s: expected %s=VALUE", origin, word, word);
		return -1;
	}
	errno = 0;
	v = strtoul(eq + 1, &end, 10);
	if (errno || end == eq + 1 || *end || eq[1] == '-' ||
	    v < module_options[i].min || v > module_options[i].max) {
		log_err("%s: %s: expected %s=%lu..%lu", origin, word, module_options[i].name,
			module_options[i].min, module_options[i].max);
		return -1;
	}
	if (m->set[i]) {
		log_err("%s: %s is already set at %s", origin, module_options[i].name,
			m->origin[i]);
		return -1;
	}
	m->set[i] = true;
	m->value[i] = (unsigned int)v;
	snprintf(m->origin[i], sizeof(m->origin[i]), "%s", origin);
	return 0;
}

int module_parse(struct module_config *m, char **words, int nwords, const char *origin)
{
	int i;

	if (!nwords) {
		log_err("%s: module: expected NAME=VALUE...", origin);
		return -1;
	}
	for (i = 0; i < nwords; i++)
		if (module_parse_word(m, words[i], origin) < 0)
			return -1;
	return 0;
}

void module_print_options(const struct module_config *m)
{
	bool any = false;
	int i;

	for (i = 0; i < MODULE_NR_OPTIONS; i++) {
		if (!m->set[i])
			continue;
		printf("%s%s=%u", any ? " " : "options enbd ", module_options[i].name, m->value[i]);
		any = true;
	}
	if (any)
		putchar('\n');
}
