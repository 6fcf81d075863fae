// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_progname = "enbd";
static enum log_level log_threshold = LOG_LEVEL_INFO;

/* verbosity: 0 is the default (info), each -v adds one, each -q takes one. */
void log_init(const char *progname, int verbosity)
{
	int level = LOG_LEVEL_INFO + verbosity;

	log_progname = progname;
	if (level < LOG_LEVEL_ERROR)
		level = LOG_LEVEL_ERROR;
	if (level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	log_threshold = level;
}

int log_enabled(enum log_level level)
{
	return level <= log_threshold;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char line[1024];
	struct timespec now;
	struct tm tm;
	size_t len;
	va_list ap;

	if (!log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	len += snprintf(line + len, sizeof(line) - len, ".%03ldZ %s[%d]: %s: ",
			now.tv_nsec / 1000000, log_progname, (int)getpid(),
			names[level]);
	va_start(ap, fmt);
	if (len < sizeof(line))
		vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	/* One write per line so lines from several daemons do not interleave. */
	len = strlen(line);
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}
