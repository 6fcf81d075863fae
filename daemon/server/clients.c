// SPDX-License-Identifier: GPL-2.0
/*
 * Client connections, from accept to close.  Every decision that costs
 * nothing is taken here, in the accepting thread, before a connection gets
 * its thread and buffers: a peer the ACL refuses, or one over the global or
 * per-address cap, is closed at once and never counted.  A connection that
 * is let in has a total handshake deadline, enforced here by shutting its
 * socket down, so a client that drips bytes cannot keep its slot.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clients.h"
#include "conn.h"
#include "log.h"
#include "migrate.h"
#include "sock.h"

struct client {
	struct conn *conn;
	int fd;
	struct peer_addr addr;
	int64_t handshake_deadline;	/* CLOCK_MONOTONIC, ms */
	struct client *next;
};

/* @clients_lock protects the list, @nclients, the live ACL (the control
 * socket replaces it), and each client's @fd until its thread closes it. */
static pthread_mutex_t clients_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t clients_gone = PTHREAD_COND_INITIALIZER;
static struct client *clients;
static unsigned int nclients;

#define ACCEPT_PAUSE_MS	100

/* Accepting thread only: failed accepts in the current run of failures
 * (logged once), and the end of the pause after the last one. */
static unsigned int accept_failures;
static int64_t accept_paused_until;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *client_thread(void *arg)
{
	struct client *cl = arg, **pp;

	conn_serve(cl->conn);
	log_info("%s: disconnected", cl->conn->peer);
	pthread_mutex_lock(&clients_lock);
	for (pp = &clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	nclients--;
	migrate_conn_ended(cl->conn);	/* before close: a sender waits for it */
	close(cl->fd);
	pthread_cond_broadcast(&clients_gone);
	pthread_mutex_unlock(&clients_lock);
	conn_free(cl->conn);
	free(cl);
	return NULL;
}

static void peer_name(const struct sockaddr_storage *ss, socklen_t len, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN + 16], port[8];
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	/* IPv4 through the IPv6 socket: show it as IPv4 */
	if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
	    inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], host, sizeof(host))) {
		snprintf(buf, size, "%s:%u", host, ntohs(s6->sin6_port));
		return;
	}
	if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(buf, size, "unknown peer");
	else if (ss->ss_family == AF_INET6)
		snprintf(buf, size, "[%s]:%s", host, port);
	else
		snprintf(buf, size, "%s:%s", host, port);
}

/* With @clients_lock held: connections from @addr. */
static unsigned int conns_from(const struct peer_addr *addr)
{
	const struct client *cl;
	unsigned int n = 0;

	for (cl = clients; cl; cl = cl->next)
		n += peer_addr_equal(&cl->addr, addr);
	return n;
}

/* Why @addr may not have another connection now, or NULL. */
static const char *admission_refused(const struct admission *adm, const struct peer_addr *addr)
{
	const char *why = NULL;

	pthread_mutex_lock(&clients_lock);	/* the control socket may replace the ACL */
	if (!acl_allows(adm->acl, addr))
		why = "refused by access control";
	else if (nclients >= adm->max_conns)
		why = "too many connections";
	else if (conns_from(addr) >= adm->max_per_addr)
		why = "too many connections from this address";
	else
		why = migrate_refuses_client(nclients);
	pthread_mutex_unlock(&clients_lock);
	return why;
}

/* EMFILE and the like leave the connection in the backlog, where poll()
 * reports it again at once: pause, and log a run of failures once, when it
 * starts and when it ends.  The other errors only mean that this
 * connection went away. */
static void accept_failed(int err)
{
	if (err == EAGAIN || err == EINTR || err == ECONNABORTED || err == EPROTO)
		return;
	if (accept_failures++ == 0)
		log_warn("accept: %s: pausing new connections", strerror(err));
	accept_paused_until = now_ms() + ACCEPT_PAUSE_MS;
}

void clients_accept(int lfd, const struct server *srv, const struct admission *adm)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct client *cl;
	struct peer_addr addr;
	pthread_attr_t attr;
	pthread_t tid;
	char peer[sizeof(((struct conn *)0)->peer)];
	const char *why;
	int fd, one = 1;

	fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (fd < 0) {
		accept_failed(errno);
		return;
	}
	if (accept_failures) {
		log_info("accepting again after %u failed accepts", accept_failures);
		accept_failures = 0;
	}
	peer_name(&ss, len, peer, sizeof(peer));
	peer_addr_get((struct sockaddr *)&ss, &addr);
	why = admission_refused(adm, &addr);
	if (why) {
		log_warn("%s: %s, closing", peer, why);
		close(fd);
		return;
	}
	sock_set_nodelay(fd);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	cl = calloc(1, sizeof(*cl));
	if (!cl || !(cl->conn = conn_new(srv, fd, fd, peer))) {
		log_err("%s: out of memory", peer);
		free(cl);
		close(fd);
		return;
	}
	cl->fd = fd;
	cl->addr = addr;
	cl->handshake_deadline = now_ms() + adm->handshake_ms;
	log_info("%s: connected", peer);
	pthread_mutex_lock(&clients_lock);
	cl->next = clients;
	clients = cl;
	nclients++;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, client_thread, cl) != 0) {
		clients = cl->next;
		nclients--;
		pthread_mutex_unlock(&clients_lock);
		log_err("%s: cannot start a thread", peer);
		conn_free(cl->conn);
		free(cl);
		close(fd);
	} else {
		pthread_mutex_unlock(&clients_lock);
	}
	pthread_attr_destroy(&attr);
}

int clients_tick(bool *accepting)
{
	int64_t now = now_ms(), next = -1;
	struct client *cl;

	*accepting = now >= accept_paused_until;
	if (!*accepting)
		next = accept_paused_until - now;

	pthread_mutex_lock(&clients_lock);
	for (cl = clients; cl; cl = cl->next) {
		if (cl->conn->phase != CONN_HANDSHAKE)
			continue;
		if (now < cl->handshake_deadline) {
			if (next < 0 || cl->handshake_deadline - now < next)
				next = cl->handshake_deadline - now;
		} else if (conn_expire_handshake(cl->conn)) {
			log_warn("%s: handshake not finished in time, closing", cl->conn->peer);
			shutdown(cl->fd, SHUT_RDWR);
		}
	}
	pthread_mutex_unlock(&clients_lock);
	return (int)next;
}

unsigned int clients_count(void)
{
	unsigned int n;

	pthread_mutex_lock(&clients_lock);
	n = nclients;
	pthread_mutex_unlock(&clients_lock);
	return n;
}

unsigned int clients_replace_acl(struct acl *live, struct acl *fresh)
{
	struct client *cl;
	unsigned int closed = 0;

	pthread_mutex_lock(&clients_lock);
	fresh->default_deny = live->default_deny;
	acl_free(live);
	*live = *fresh;
	fresh->entries = NULL;
	fresh->count = 0;
	for (cl = clients; cl; cl = cl->next) {
		if (acl_allows(live, &cl->addr))
			continue;
		log_info("%s: no longer allowed by access control, closing", cl->conn->peer);
		shutdown(cl->fd, SHUT_RDWR);
		closed++;
	}
	pthread_mutex_unlock(&clients_lock);
	return closed;
}

/* With @clients_lock held: shut every client socket down (@how) and wait
 * up to CLIENTS_SHUTDOWN_GRACE_S for their threads to finish. */
static void shutdown_clients(int how)
{
	struct timespec deadline;
	struct client *cl;

	for (cl = clients; cl; cl = cl->next) {
		conn_stop(cl->conn);	/* what was read is still carried out */
		shutdown(cl->fd, how);
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += CLIENTS_SHUTDOWN_GRACE_S;
	while (nclients &&
	       pthread_cond_timedwait(&clients_gone, &clients_lock, &deadline) != ETIMEDOUT)
		;
}

/*
 * Stop reading requests (in-flight ones are finished and answered), then,
 * for clients that do not read their replies, stop writing too.
 */
bool clients_close_all(void)
{
	bool all_gone;

	pthread_mutex_lock(&clients_lock);
	if (nclients)
		shutdown_clients(SHUT_RD);
	if (nclients)
		shutdown_clients(SHUT_RDWR);
	all_gone = nclients == 0;
	pthread_mutex_unlock(&clients_lock);
	return all_gone;
}
