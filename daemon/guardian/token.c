// SPDX-License-Identifier: GPL-2.0
/*
 * Session tokens and the guardian's own ioctls.
 *
 * A device's token is made at random (getrandom) by the first guardian that
 * guards it and saved in /run/enbd/ndN.token (mode 0600), so that a
 * guardian started again while the device is still open re-attaches with
 * the same token.  The file is locked (flock) while a guardian uses it, and
 * removed only under that lock: two guardians never guard one device.  The kernel learns the token from the
 * first channel that attaches and forgets it only at ENBD_IOC_SHUTDOWN,
 * after which the guardian removes the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guardian.h"
#include "log.h"

#define TOKEN_TEXT_LEN	19	/* "0x" + 16 hex digits + "\n" */

static void token_path(const struct device *d, char *buf, size_t len)
{
	snprintf(buf, len, G_TOKEN_DIR "/" ENBD_DISK_PREFIX "%u.token", d->index);
}

static int token_dir(void)
{
	struct stat st;

	if (mkdir(G_TOKEN_DIR, 0700) < 0 && errno != EEXIST) {
		log_err("cannot create " G_TOKEN_DIR ": %s", strerror(errno));
		return -1;
	}
	if (lstat(G_TOKEN_DIR, &st) < 0) {
		log_err(G_TOKEN_DIR ": %s", strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
		log_err(G_TOKEN_DIR " is not a directory of ours that only we can write: refusing to keep tokens there");
		return -1;
	}
	return 0;
}

static int parse_token(const char *text, ssize_t len, uint64_t *token)
{
	char *end;

	if (len != TOKEN_TEXT_LEN || strncmp(text, "0x", 2) || text[len - 1] != '\n')
		return -1;
	errno = 0;
	*token = strtoull(text + 2, &end, 16);
	return (errno || end != text + len - 1 || !*token) ? -1 : 0;
}

static int new_token(uint64_t *token)
{
	do {
		if (getrandom(token, sizeof(*token), 0) != sizeof(*token))
			return -1;
	} while (!*token);	/* 0 means "no token" to the kernel */
	return 0;
}

/* ENBD_TOKEN=0x... added to a copy of the environment, for the children. */
static int make_envp(struct device *d)
{
	extern char **environ;
	unsigned int n = 0, i, j = 0;

	while (environ[n])
		n++;
	free(d->envp);
	d->envp = calloc(n + 2, sizeof(*d->envp));
	if (!d->envp)
		return -1;
	snprintf(d->env_token, sizeof(d->env_token), "ENBD_TOKEN=0x%016" PRIx64, d->token);
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "ENBD_TOKEN=", 11))
			d->envp[j++] = environ[i];
	d->envp[j] = d->env_token;
	return 0;
}

/*
 * Open and lock the token file.  A guardian that removes it does so while
 * holding the lock (token_remove), so a lock taken on a file that is no
 * longer the one at @path is a lock on nothing: open the new one and try
 * again.  Returns the locked fd and its @held stat, or -1 after logging why.
 */
static int open_locked(const struct device *d, const char *path, struct stat *held)
{
	struct stat named;
	int fd;

	for (;;) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			log_err("%s: %s", path, strerror(errno));
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			if (errno == EWOULDBLOCK)
				log_err("%s is guarded by another enbd-guardian (it holds %s)",
					d->path, path);
			else
				log_err("%s: lock: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (fstat(fd, held) < 0) {
			log_err("%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (lstat(path, &named) == 0 && named.st_dev == held->st_dev &&
		    named.st_ino == held->st_ino)
			return fd;
		log_debug("%s was removed while we locked it: opening it again", path);
		close(fd);
	}
}

int token_open(struct device *d)
{
	char path[64], text[TOKEN_TEXT_LEN + 1];
	struct stat st;
	ssize_t len;
	int fd;

	if (token_dir() < 0)
		return -1;
	token_path(d, path, sizeof(path));
	fd = open_locked(d, path, &st);
	if (fd < 0)
		return -1;
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		log_err("%s: not a regular file of ours with mode 0600: refusing to use it", path);
		goto fail;
	}
	len = pread(fd, text, sizeof(text), 0);
	if (len > 0 && parse_token(text, len, &d->token) == 0) {
		log_info("%s: using the session token saved in %s", d->path, path);
	} else {
		if (len > 0)
			log_warn("%s: no valid token in it: making a new one", path);
		if (new_token(&d->token) < 0) {
			log_err("getrandom: %s", strerror(errno));
			goto fail;
		}
		snprintf(text, sizeof(text), "0x%016" PRIx64 "\n", d->token);
		if (ftruncate(fd, 0) < 0 || pwrite(fd, text, TOKEN_TEXT_LEN, 0) != TOKEN_TEXT_LEN ||
		    fsync(fd) < 0) {
			log_err("cannot save the token in %s: %s", path, strerror(errno));
			goto fail;
		}
		log_info("%s: new session token saved in %s", d->path, path);
		d->token_new = true;
	}
	if (make_envp(d) < 0) {
		log_err("out of memory");
		goto fail;
	}
	d->token_fd = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

void token_close(struct device *d)
{
	if (d->token_fd >= 0)
		close(d->token_fd);
	d->token_fd = -1;
}

void token_remove(struct device *d)
{
	char path[64];

	if (d->token_fd < 0)
		return;
	token_path(d, path, sizeof(path));
	/* Still holding the lock: no other guardian reads it meanwhile. */
	if (unlink(path) < 0)
		log_warn("cannot remove %s: %s", path, strerror(errno));
	else
		log_info("%s: token forgotten, %s removed", d->path, path);
	token_close(d);
}

static int ctl_open(void)
{
	int fd = open(ENBD_CONTROL_PATH, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
		log_err("enbd module not loaded (no " ENBD_CONTROL_PATH ")");
	else
		log_err("cannot open " ENBD_CONTROL_PATH ": %s", strerror(errno));
	return -1;
}

int kctl_check(void)
{
	int fd = ctl_open();

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static void describe_policy(const struct device *d, char *buf, size_t len)
{
	int n = 0;

	buf[0] = 0;
	if (d->set_aging)
		n = d->aging_ms ? snprintf(buf, len, "aging %u ms", d->aging_ms) :
				  snprintf(buf, len, "aging: the module's");
	if (d->set_outage && d->outage == ENBD_OUTAGE_FAIL)
		snprintf(buf + n, len - n, "%soutage: fail after %u ms", n ? ", " : "",
			 d->outage_ms);
	else if (d->set_outage)
		snprintf(buf + n, len - n, "%soutage: wait", n ? ", " : "");
}

int kctl_apply_policy(const struct device *d)
{
	/* Aging and outage only: the first structure, which every module takes. */
	struct enbd_policy p = {
		.size = ENBD_POLICY_SIZE_V1,
		.flags = (d->set_aging ? ENBD_POLICY_AGING : 0) |
			 (d->set_outage ? ENBD_POLICY_OUTAGE : 0),
		.index = d->index,
		.aging_ms = d->aging_ms,
		.outage = d->outage,
		.outage_ms = d->outage_ms,
		.token = d->token,
	};
	char what[128];
	int fd = ctl_open(), rc;

	if (fd < 0)
		return -1;
	rc = ioctl(fd, ENBD_IOC_SET_POLICY_V1, &p);
	close(fd);
	if (rc < 0) {
		if (errno == EACCES)
			log_err("%s has a session token that is not this guardian's: another guardian or client holds it (shut it down with its token, or unload the module)",
				d->path);
		else if (errno == ENXIO)
			log_err("%s: the module has no device %u (see its ndevs option)", d->path,
				d->index);
		else
			log_err("%s: ENBD_IOC_SET_POLICY: %s", d->path, strerror(errno));
		return -1;
	}
	if (p.flags) {
		describe_policy(d, what, sizeof(what));
		log_info("%s: %s", d->path, what);
	}
	return 0;
}

int kctl_shutdown(const struct device *d, bool quiet)
{
	struct enbd_shutdown s = { .size = sizeof(s), .index = d->index, .token = d->token };
	int fd = ctl_open(), rc;

	if (fd < 0)
		return -1;
	rc = ioctl(fd, ENBD_IOC_SHUTDOWN, &s);
	close(fd);
	if (rc < 0) {
		log_err("%s: shutdown failed: %s", d->path,
			errno == EACCES ? "the device's session token is not ours" : strerror(errno));
		return -1;
	}
	if (!quiet)
		log_info("%s shut down: its queued and in-flight requests failed, its channels ejected",
			 d->path);
	return 0;
}
