/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Logging shared by the daemons: one line per event on stderr, prefixed
 * with a timestamp, the program name and pid.  -v raises and -q lowers the
 * level; errors always print.
 */
#ifndef ENBD_LOG_H
#define ENBD_LOG_H

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_init(const char *progname, int verbosity);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int log_enabled(enum log_level level);

#define log_err(...)	log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
