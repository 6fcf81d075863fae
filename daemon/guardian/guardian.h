/* SPDX-License-Identifier: GPL-2.0 */
/*
 * enbd-guardian: starts the channel daemons (enbd-client, one process per
 * channel) of one or more enbd devices, restarts them when they die, holds
 * each device's session token, and on SIGUSR2 shuts the devices down.
 *
 *   config.c    the device table, from /etc/enbd.conf lines and --client
 *   server.c    `server` lines: the enbd-server instances the guardian runs
 *   fields.c    what a field that goes on a daemon's command line may be
 *   token.c     session tokens in /run/enbd/ndN.token; the ioctls the
 *               guardian itself makes (SET_POLICY, SHUTDOWN)
 *   children.c  the child table: spawn, reap, restart with backoff, stop
 *   main.c      options, start-up, daemonizing, the signalfd event loop
 *
 * Single-threaded.  Signals are read from a signalfd in the event loop,
 * never handled in signal handlers.
 */
#ifndef ENBD_GUARDIAN_H
#define ENBD_GUARDIAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "uapi/enbd.h"

#define G_TOKEN_DIR		"/run/enbd"
#define G_DEFAULT_CONFIG	"/etc/enbd.conf"
#define G_DEFAULT_LOG		"/var/log/enbd.log"
#define G_DEFAULT_PORT		"10809"

/* Restart policy (children.c). */
#define G_BACKOFF_MIN_MS	250	/* first restart, and after a long life */
#define G_BACKOFF_MAX_MS	30000
#define G_STABLE_MS		10000	/* a child that lived this long was healthy */
/* Stopping: SIGTERM/SIGINT, then SIGKILL after this long. */
#define G_STOP_WAIT_MS		20000
/* SIGUSR2: ejected children exit by themselves; the rest get SIGTERM after this. */
#define G_EJECT_WAIT_MS		2000
#define G_KILL_WAIT_MS		10000

/* One device, from one `client` line. */
struct device {
	/* from the configuration */
	char *label;		/* the line's ID, or "ndN" */
	char *path;		/* /dev/ndN as written */
	unsigned int index;	/* N */
	char *hosts[ENBD_MAX_CHANNELS];	/* channel i connects to hosts[i % nhosts] */
	unsigned int nhosts;
	char *port;
	char *export;		/* NULL: the server's default export */
	char *binds[ENBD_MAX_CHANNELS];	/* channel i binds binds[i % nbinds] */
	unsigned int nbinds;
	unsigned int channels;
	bool force_multi_conn;	/* channels without NBD_FLAG_CAN_MULTI_CONN */
	/* enbd-client's TLS options, checked (config.c); NULL: not given */
	char *tls;		/* off, on or require */
	char *tls_certs;	/* absolute paths: the key material stays in files */
	char *tls_psk;
	char *tls_username;
	char *tls_hostname;
	bool set_aging;
	uint32_t aging_ms;	/* 0: the module's aging option */
	bool set_outage;
	uint32_t outage;	/* ENBD_OUTAGE_* */
	uint32_t outage_ms;
	char origin[64];	/* "FILE:LINE" or "--client N", for messages */

	/* at run time */
	uint64_t token;
	int token_fd;		/* /run/enbd/ndN.token, locked; -1 when not open */
	bool token_new;		/* made by this guardian, not read from the file */
	char **envp;		/* the environment for its children: + ENBD_TOKEN */
	char env_token[32];	/* "ENBD_TOKEN=0x..." */
	bool shut;		/* shut down: its children are not restarted */
};

/* The module's options from `module` lines (module.c). */
enum module_option { MODULE_KEEPALIVE, MODULE_READAHEAD, MODULE_AGING, MODULE_NDEVS,
		     MODULE_NR_OPTIONS };
struct module_config {
	bool set[MODULE_NR_OPTIONS];
	unsigned int value[MODULE_NR_OPTIONS];
	char origin[MODULE_NR_OPTIONS][64];	/* where each was set */
};

/* One enbd-server, from one `server` line (server.c). */
struct server {
	char *label;		/* the line's ID, or "server-PORT" */
	char *port;
	char *address;		/* NULL: every address */
	char **args;		/* enbd-server's options and operands, checked, NULL-terminated */
	unsigned int nargs;
	char origin[64];	/* "FILE:LINE", for messages */
};

struct config {
	struct device *devs;
	unsigned int ndevs;
	struct module_config module;
	struct server *servers;
	unsigned int nservers;
};

/* One `module` line's words (after the keyword).  0, or -1 after logging why. */
int module_parse(struct module_config *m, char **words, int nwords, const char *origin);
/* "options enbd NAME=VALUE..." for modprobe.d, or nothing if none was set. */
void module_print_options(const struct module_config *m);

/* One `server` line's words (after the keyword) into @cfg.  0, or -1 after logging why. */
int server_parse(struct config *cfg, char **words, int nwords, const char *origin);
/* Every server's ID once, and no address and port served twice.  0 or -1. */
int server_check(const struct config *cfg);
void server_free(struct server *s);

/* Parse the `client` lines of FILE into @cfg.  0, or -1 after logging why. */
int config_read_file(struct config *cfg, const char *file);
/* Parse one --client argument (a `client` line without the keyword). */
int config_add_arg(struct config *cfg, const char *spec, unsigned int nth);
/* After all sources are read: every device once, at least one device. */
int config_check(const struct config *cfg);
/* Each DEVICE is the block device /dev/ndN (needs the module).  0 or -1. */
int config_verify_devices(const struct config *cfg);
void config_free(struct config *cfg);

/* The fields that go on a channel daemon's command line (fields.c). */
bool field_host(const char *s);		/* RFC 1123 hostname, IPv4 or IPv6 literal */
bool field_bind(const char *s);		/* IP literal or interface name */
bool field_ifname(const char *s);
bool field_port(const char *s);		/* 1..65535 or a service name */
bool field_export(const char *s);	/* UTF-8, <= 4096 bytes, no controls */
bool field_device_path(const char *s);	/* absolute, no blanks or controls */
bool field_file_path(const char *s);	/* the same, for a credentials file or directory */
bool field_tls_mode(const char *s);	/* off, on, require */
bool field_psk_identity(const char *s);	/* letters, digits, _ . - @; <= 64 */
bool field_label(const char *s);	/* an ID: letters, digits, _ - . */
bool field_network(const char *s);	/* ADDR[/LEN] */

/*
 * Open and lock /run/enbd/ndN.token, taking the token saved there or
 * making and saving a new random one.  0, or -1 after logging why.
 */
int token_open(struct device *d);
/* Unlink the token file (the kernel forgot the token) and close it. */
void token_remove(struct device *d);
void token_close(struct device *d);

/* The control device is there (the module is loaded).  0 or -1 (logged). */
int kctl_check(void);
/*
 * ENBD_IOC_SET_POLICY with the device's settings from the configuration;
 * with none, a call that changes nothing and only checks the token.
 */
int kctl_apply_policy(const struct device *d);
/* ENBD_IOC_SHUTDOWN with the device's token.  0 or -1 (logged); @quiet: no success message. */
int kctl_shutdown(const struct device *d, bool quiet);

enum child_state {
	CHILD_RUNNING,
	CHILD_WAITING,		/* dead; restart at restart_at */
	CHILD_DONE,		/* dead; not to be restarted */
};

/* One channel daemon, or an enbd-server. */
struct child {
	struct device *dev;	/* NULL for a server */
	const struct server *srv;	/* NULL for a channel daemon */
	char name[96];		/* "/dev/ndN channel I" or "server ID", for messages */
	unsigned int slot;	/* its channel slot: --slot */
	char **argv;		/* the enbd-client command line */
	enum child_state state;
	pid_t pid;		/* while RUNNING */
	int64_t started_ms;	/* monotonic */
	int64_t restart_at_ms;	/* while WAITING */
	int backoff_ms;		/* 0 until its first death */
	unsigned int starts;	/* restarts: starts - 1 */
};

struct children {
	struct child *tab;
	unsigned int n;
	const char *program;	/* absolute path of enbd-client */
	int verbosity;		/* -v/-q passed on to the children */
	int devnull;		/* their stdin */
};

int64_t now_ms(void);

/* Build the table: one child per channel of every device.  0 or -1. */
int children_init(struct children *cs, struct config *cfg, const char *program,
		  int verbosity);
/* Add one child per `server` line, running @program (enbd-server).  0 or -1. */
int children_add_servers(struct children *cs, const struct config *cfg, const char *program);
void children_free(struct children *cs);
/* Start every child that is RUNNING-to-be or WAITING and due. */
void children_start_due(struct children *cs);
/* Reap every dead child; schedule restarts unless @stopping. */
void children_reap(struct children *cs, bool stopping);
/* Milliseconds until the next restart is due (-1: none). */
int children_next_timeout(const struct children *cs);
/* Send @sig to every running child (of device @d, or all if NULL). */
void children_signal(struct children *cs, const struct device *d, int sig);
/* Cancel pending restarts (of device @d, or all if NULL). */
void children_cancel(struct children *cs, const struct device *d);
unsigned int children_running(const struct children *cs, const struct device *d);
/* Print the command lines that would run (configtest). */
void children_print(const struct children *cs);

#endif
