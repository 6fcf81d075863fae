// SPDX-License-Identifier: GPL-2.0
/*
 * Live migration, the sending side.  Pass 1 copies the allocated extents of
 * the default export and punches holes where the source has them, so a
 * sparse file stays sparse and a destination left half-written by an
 * earlier attempt is overwritten entirely.  Writes that land meanwhile mark
 * their blocks dirty (migrate.c); each further pass copies what was marked,
 * until what is left is small or stops shrinking.  Then new writes are held
 * at the gate, the last dirty blocks go out, the destination flushes, and
 * NBD_CMD_DISC tells it the migration is complete; once it has closed its
 * end the source answers every request NBD_ESHUTDOWN and the server exits.
 * Any failure before that reopens the gate: clients see nothing.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "migrate.h"
#include "mirror.h"
#include "nbd-peer.h"
#include "nbd-proto.h"

#define MIRROR_CHUNK		(1u << 20)	/* one WRITE */
#define MIRROR_ZERO_CHUNK	(1u << 30)	/* one WRITE_ZEROES */
#define MIRROR_EXTENTS		1024		/* runs asked of the backend at once */
#define MIRROR_FINAL_BYTES	(4u << 20)	/* dirty bytes small enough to switch */
#define MIRROR_MAX_PASSES	20

struct mirror {
	struct backend *b;
	char host[256], port[32];
	char *unlink_path;		/* --unlink */
	uint64_t max_rate;		/* --rate: bytes/s of data sent, or 0 */
	struct nbd_peer peer;
	void *chunk;
	uint64_t copied;		/* bytes done: data and holes */
	uint64_t data_sent;		/* bytes of data */
	unsigned int passes;
	bool switching;			/* writes held: the last pass */
	int64_t started_ms;
	char why[256];
};

/* @job_lock protects @running and @peer_fd, which the mirror thread changes;
 * @job and @joinable belong to the caller of mirror_start/break (one thread
 * at a time); @cancel is set by "break". */
static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mirror *job;
static pthread_t job_thread;
static bool running, joinable;
static int peer_fd = -1, cancel_fd = -1;
static _Atomic bool cancel;
static _Atomic bool exiting;	/* the cancel is the server's own exit, not "break" */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(struct mirror *m)
{
	int64_t ms = now_ms() - m->started_ms;

	migrate_progress(m->copied, m->passes, ms > 0 ? m->copied * 1000 / (uint64_t)ms : 0);
}

static int send_zeroes(struct mirror *m, uint64_t off, uint64_t len)
{
	while (len) {
		uint32_t n = len < MIRROR_ZERO_CHUNK ? (uint32_t)len : MIRROR_ZERO_CHUNK;
		int rc = nbd_peer_send(&m->peer, NBD_CMD_WRITE_ZEROES, 0, off, n, NULL,
				       m->why, sizeof(m->why));

		if (rc < 0)
			return rc;
		off += n;
		len -= n;
		m->copied += n;
	}
	return 0;
}

/* --rate: wait until the data sent so far is within the limit; "break"
 * ends the wait. */
static void throttle(struct mirror *m)
{
	struct pollfd pfd = { .fd = cancel_fd, .events = POLLIN };
	int64_t due;

	if (!m->max_rate || m->switching)	/* clients wait: full speed */
		return;
	due = m->started_ms + (int64_t)(m->data_sent * 1000 / m->max_rate);
	if (due > now_ms())
		poll(&pfd, 1, (int)(due - now_ms()));
}

static int send_data(struct mirror *m, uint64_t off, uint64_t len)
{
	while (len) {
		uint32_t n = len < MIRROR_CHUNK ? (uint32_t)len : MIRROR_CHUNK;
		int rc;

		throttle(m);
		if (cancel)
			return -ECANCELED;
		rc = m->b->ops->pread(m->b, m->chunk, n, off);
		if (rc < 0) {
			snprintf(m->why, sizeof(m->why), "reading the export at %llu: %s",
				 (unsigned long long)off, strerror(-rc));
			return rc;
		}
		rc = nbd_peer_send(&m->peer, NBD_CMD_WRITE, 0, off, n, m->chunk, m->why,
				   sizeof(m->why));
		if (rc < 0)
			return rc;
		off += n;
		len -= n;
		m->copied += n;
		m->data_sent += n;
		report(m);
	}
	return 0;
}

/* Copy [off, off + len): data where the source has it, holes elsewhere. */
static int copy_range(struct mirror *m, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;

	while (off < end) {
		struct extents ex;
		unsigned int i;
		int rc;

		if (cancel)
			return -ECANCELED;
		if (extents_init(&ex, off, end - off, MIRROR_EXTENTS) < 0)
			return -ENOMEM;
		rc = m->b->ops->extents(m->b, &ex);
		if (rc == 0 && ex.covered == 0)
			rc = -EIO;
		for (i = 0; rc == 0 && i < ex.count; i++) {
			const struct extent *e = &ex.runs[i];

			rc = e->flags & EXTENT_HOLE ? send_zeroes(m, off, e->length)
						    : send_data(m, off, e->length);
			off += e->length;
		}
		extents_free(&ex);
		if (rc < 0) {
			if (!m->why[0])
				snprintf(m->why, sizeof(m->why), "%s", strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* One pass over the dirty bitmap: take each word's bits and copy their runs. */
static int copy_dirty(struct mirror *m)
{
	uint64_t words = migrate_dirty_words(), i;

	for (i = 0; i < words; i++) {
		uint64_t w = migrate_take_dirty_word(i);

		while (w) {
			unsigned int first = (unsigned int)__builtin_ctzll(w), n = 0;
			uint64_t off, len;
			int rc;

			while (first + n < 64 && (w >> (first + n)) & 1)
				n++;
			w &= n == 64 ? 0 : ~(((1ull << n) - 1) << first);
			off = (i * 64 + first) * (uint64_t)MIGRATE_BLOCK;
			len = (uint64_t)n * MIGRATE_BLOCK;
			if (off + len > m->b->size)
				len = m->b->size - off;
			rc = copy_range(m, off, len);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static uint64_t dirty_bytes(void)
{
	struct migrate_status st;

	migrate_get_status(&st);
	return st.dirty;
}

/* Copy everything, then what was written meanwhile, until little is left. */
static int converge(struct mirror *m)
{
	uint64_t before, left;
	int rc;

	m->passes = 1;
	rc = copy_range(m, 0, m->b->size);
	if (rc == 0)
		rc = nbd_peer_sync(&m->peer, m->why, sizeof(m->why));
	report(m);
	for (before = UINT64_MAX; rc == 0; before = left) {
		left = dirty_bytes();
		if (left <= MIRROR_FINAL_BYTES || left >= before || m->passes >= MIRROR_MAX_PASSES)
			break;
		m->passes++;
		log_info("mirror: pass %u, %llu bytes written meanwhile", m->passes,
			 (unsigned long long)left);
		rc = copy_dirty(m);
		if (rc == 0)
			rc = nbd_peer_sync(&m->peer, m->why, sizeof(m->why));
		report(m);
	}
	return rc;
}

/* Writes held: the last blocks, a flush, and the completion marker. */
static int finish(struct mirror *m)
{
	int rc;

	m->passes++;
	m->switching = true;
	rc = copy_dirty(m);
	if (rc == 0)
		rc = nbd_peer_request(&m->peer, NBD_CMD_FLUSH, 0, 0, 0, NULL, m->why,
				      sizeof(m->why));
	report(m);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&job_lock);
	peer_fd = -1;
	pthread_mutex_unlock(&job_lock);
	if (nbd_peer_disconnect(&m->peer) < 0) {
		snprintf(m->why, sizeof(m->why), "the destination did not confirm the end");
		return -EIO;
	}
	return 0;
}

static int check_destination(struct mirror *m)
{
	if (m->peer.size != m->b->size) {
		snprintf(m->why, sizeof(m->why), "the destination has %llu bytes, the export %llu",
			 (unsigned long long)m->peer.size, (unsigned long long)m->b->size);
		return -1;
	}
	if (m->peer.flags & NBD_FLAG_READ_ONLY ||
	    !(m->peer.flags & NBD_FLAG_SEND_WRITE_ZEROES) || !(m->peer.flags & NBD_FLAG_SEND_FLUSH)) {
		snprintf(m->why, sizeof(m->why),
			 "the destination must be writable, with WRITE_ZEROES and FLUSH");
		return -1;
	}
	return 0;
}

static void *mirror_thread(void *arg)
{
	struct mirror *m = arg;
	int rc = -1;

	m->started_ms = now_ms();
	if (nbd_peer_open(&m->peer, m->host, m->port, "", cancel_fd, m->why, sizeof(m->why)) < 0)
		goto failed;
	pthread_mutex_lock(&job_lock);
	peer_fd = m->peer.fd;
	pthread_mutex_unlock(&job_lock);
	if (check_destination(m) < 0)
		goto failed;
	if (migrate_track_start(m->b->size) < 0) {
		snprintf(m->why, sizeof(m->why), "out of memory for the dirty bitmap");
		goto failed;
	}
	log_info("mirror: copying %llu bytes to %s port %s", (unsigned long long)m->b->size,
		 m->host, m->port);
	rc = converge(m);
	if (rc == 0) {
		migrate_pause_writes();
		rc = finish(m);
		migrate_resume_writes(rc == 0);
	}
	if (rc < 0)
		goto failed;
	{
		struct migrate_status st;

		migrate_get_status(&st);
		log_info("mirror: complete, %llu bytes in %u passes, %llu bytes/s, writes held "
			 "%llu ms: the export now lives at %s port %s", (unsigned long long)m->copied,
			 m->passes, (unsigned long long)st.rate, (unsigned long long)st.pause_ms,
			 m->host, m->port);
	}
	if (m->unlink_path && unlink(m->unlink_path) < 0)
		log_warn("mirror: cannot remove %s: %s", m->unlink_path, strerror(errno));
	migrate_signal_exit();
	goto out;
failed:
	migrate_fail(cancel ? MIGRATE_BROKEN : MIGRATE_FAILED,
		     !cancel ? m->why : exiting ? "abandoned: the server is stopping" :
		     "stopped by break");
	if (cancel && exiting)
		log_info("mirror: abandoned: the server is stopping");
	else if (cancel)
		log_info("mirror: stopped by break; serving as before");
	else
		log_err("mirror to %s port %s failed: %s; serving as before", m->host, m->port,
			m->why);
out:
	pthread_mutex_lock(&job_lock);
	peer_fd = -1;
	nbd_peer_close(&m->peer);
	running = false;
	pthread_mutex_unlock(&job_lock);
	return NULL;
}

static const char *unlinkable_path(const char *spec)
{
	static const char *const not_files[] = { "memory:", "mem:", "linear:", "stripe:" };
	unsigned int i;

	for (i = 0; i < sizeof(not_files) / sizeof(not_files[0]); i++)
		if (!strncmp(spec, not_files[i], strlen(not_files[i])))
			return NULL;
	return strncmp(spec, "file:", 5) ? spec : spec + 5;
}

/* Join a finished (or broken) mirror thread and free its job.  Called by
 * the control thread alone, and by main after it has stopped it. */
static void reap(void)
{
	if (!joinable)
		return;
	pthread_join(job_thread, NULL);
	joinable = false;
	free(job->chunk);
	free(job->unlink_path);
	free(job);
	job = NULL;
}

int mirror_start(const struct server *srv, const char *host, const char *port, bool unlink,
		 uint64_t max_rate, char *why, size_t why_len)
{
	const struct export *e = srv->nexports ? &srv->exports[0] : NULL;
	struct migrate_status st;
	struct mirror *m;
	const char *path;

	migrate_get_status(&st);
	/* A destination that received the export (done, no total) may pass it on. */
	if (!e || st.state == MIGRATE_LISTENING || st.state == MIGRATE_RECEIVING ||
	    (st.state == MIGRATE_DONE && st.total)) {
		snprintf(why, why_len, "nothing to mirror here (%s)", migrate_state_name(st.state));
		return -1;
	}
	path = unlinkable_path(e->spec);
	if (unlink && !path) {
		snprintf(why, why_len, "--unlink: the export is not a file");
		return -1;
	}
	pthread_mutex_lock(&job_lock);
	if (running) {
		pthread_mutex_unlock(&job_lock);
		snprintf(why, why_len, "a mirror is running already");
		return -1;
	}
	pthread_mutex_unlock(&job_lock);
	reap();
	pthread_mutex_lock(&job_lock);
	m = calloc(1, sizeof(*m));
	if (m)
		m->chunk = malloc(MIRROR_CHUNK);
	if (cancel_fd < 0)
		cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!m || !m->chunk || cancel_fd < 0 || (unlink && !(m->unlink_path = strdup(path)))) {
		pthread_mutex_unlock(&job_lock);
		if (m)
			free(m->chunk);
		free(m);
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	m->b = e->backend;
	m->max_rate = max_rate;
	m->peer.fd = -1;
	snprintf(m->host, sizeof(m->host), "%s", host);
	snprintf(m->port, sizeof(m->port), "%s", port);
	cancel = false;
	eventfd_read(cancel_fd, &(eventfd_t){ 0 });
	migrate_set_state(MIGRATE_MIRRORING);
	if (pthread_create(&job_thread, NULL, mirror_thread, m) != 0) {
		pthread_mutex_unlock(&job_lock);
		migrate_fail(MIGRATE_FAILED, "cannot start a thread");
		free(m->chunk);
		free(m->unlink_path);
		free(m);
		snprintf(why, why_len, "cannot start a thread");
		return -1;
	}
	job = m;
	running = joinable = true;
	pthread_mutex_unlock(&job_lock);
	return 0;
}

int mirror_break(void)
{
	pthread_mutex_lock(&job_lock);
	if (!running) {
		pthread_mutex_unlock(&job_lock);
		return -1;
	}
	cancel = true;
	eventfd_write(cancel_fd, 1);
	if (peer_fd >= 0)
		shutdown(peer_fd, SHUT_RDWR);	/* wakes a request waiting for the destination */
	pthread_mutex_unlock(&job_lock);
	reap();
	return 0;
}

void mirror_cleanup(void)
{
	exiting = true;
	mirror_break();
	reap();
	if (cancel_fd >= 0)
		close(cancel_fd);
	cancel_fd = -1;
}
