/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TLS for the daemons (OpenSSL 3).  This module owns every SSL_* call.
 *
 * A tls_ctx holds the credentials: X.509 (CA, certificate, key, optional
 * verification of the peer's certificate and an allow-list of names it
 * must carry) or a PSK file in the "identity:hexkey" format nbdkit and
 * qemu use.  TLS 1.2 is the minimum, 1.3 is preferred; session tickets are
 * on; kernel TLS is requested and used when the kernel has it.
 *
 * A tls_conn is one connection after the TLS handshake.  The io_* calls
 * take a tls_conn or NULL (plain) and block until done, so their callers
 * do not care which it is.  They may be called from several threads at
 * once on one connection (one reading, others writing): the socket is
 * made non-blocking and every SSL call is taken under the connection's
 * lock, waiting in poll() outside it.  Where kernel TLS carries the
 * sending side (tls_ktls_send), the socket is blocking again and whatever
 * is written to it plainly (write, sendmsg, splice) goes out encrypted.
 * With TLS 1.3, once a record has come in after the handshake, the records
 * are no longer OpenSSL's but lib/tls-record.c's (both ways, or receiving
 * only where kernel TLS sends), which reads and writes under a lock per
 * direction: what kernel TLS does, in userspace.
 *
 * Key material never leaves this module: it is read from files only and
 * appears in no log line or error message.
 */
#ifndef ENBD_TLS_H
#define ENBD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

enum tls_mode { TLS_OFF, TLS_ON, TLS_REQUIRE };

struct tls_config {
	/* X.509: a directory holding ca-cert.pem, <role>-cert.pem and
	 * <role>-key.pem (role "server" or "client"), as nbdkit and qemu */
	const char *certs_dir;
	/* or PSK: lines of "identity:hexkey" */
	const char *psk_file;
	/* X.509: require and check the peer's certificate against ca-cert.pem */
	bool verify_peer;
	/* With verify_peer: the peer's certificate must name one of these
	 * (subjectAltName DNS, or CN when it has none); none: any name */
	const char *const *allowed_names;
	unsigned int nallowed;
	/* Client with PSK: the identity to use (NULL: the file's first) */
	const char *psk_identity;
	/* Client: never offer the kept session (to measure what it saves) */
	bool no_resume;
};

struct tls_ctx;
struct tls_conn;

/* Parse "off", "on" or "require"; -1 if none of them. */
int tls_mode_parse(const char *s);

/* A server context from @cfg, or NULL with the reason in @why. */
struct tls_ctx *tls_server_ctx_new(const struct tls_config *cfg, char *why, size_t why_len);
void tls_ctx_free(struct tls_ctx *ctx);

/*
 * TLS handshake as the server on the blocking socket @fd, which is left
 * non-blocking.  Returns the connection, or NULL with a one-line reason
 * in @why (for the server's log).  Ending the socket (shutdown()) from
 * another thread ends a handshake in progress.
 */
struct tls_conn *tls_accept(struct tls_ctx *ctx, int fd, char *why, size_t why_len);
/* Protocol and cipher, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384, PSK identity alice". */
const char *tls_describe(const struct tls_conn *t);
/* Whether kernel TLS carries the sending or receiving side (settled by
 * the handshake; with the send side, write to the socket directly). */
bool tls_ktls_send(const struct tls_conn *t);
bool tls_ktls_recv(const struct tls_conn *t);
/* Which sides lib/tls-record.c carries (the records are no longer
 * OpenSSL's): "none", "receive" (kernel TLS sends) or "both". */
const char *tls_userspace_records(struct tls_conn *t);
/* Send close_notify if the socket takes it at once, and free @t. */
void tls_close(struct tls_conn *t);
/* Free what OpenSSL keeps for the calling thread (error queue, random
 * generators) now: a detached thread's own clean-up may otherwise still be
 * running when the process exits, and show up as a leak. */
void tls_thread_done(void);

/*
 * Blocking I/O on @fd, through @t when it is not NULL.  0 (or a count),
 * or -1 with errno set: ECONNRESET for an early end of stream, EPROTO for
 * a TLS failure.
 */
int io_read_full(struct tls_conn *t, int fd, void *buf, size_t len);
/* At least @min, at most @max bytes; the count. */
ssize_t io_read_at_least(struct tls_conn *t, int fd, void *buf, size_t min, size_t max);
int io_write_full(struct tls_conn *t, int fd, const void *buf, size_t len);
/* All of @n pieces, in as few TLS records as they fit in. */
int io_writev_full(struct tls_conn *t, int fd, const struct iovec *iov, int n);

/* ---- the client side (enbd-client) ---- */

/*
 * A client context from @cfg (certs_dir: ca-cert.pem, or the system's CAs
 * when it is missing, and an optional client-cert.pem/client-key.pem; or
 * psk_file with psk_identity), or NULL with the reason in @why.  With
 * X.509 the server's certificate is always verified.  The context keeps
 * the newest session ticket the server gave, for the next tls_connect.
 */
struct tls_ctx *tls_client_ctx_new(const struct tls_config *cfg, char *why, size_t why_len);

/*
 * TLS handshake as the client on the non-blocking socket @fd, within
 * @timeout_ms; the server's certificate must name @hostname (a DNS name
 * or an IP address).  Offers the session kept from the last connection.
 * A readable @cancel_fd (-1: none) stops it.  Returns the connection, or
 * NULL with errno ETIMEDOUT, ECANCELED or EPROTO (the reason in @why).
 */
struct tls_conn *tls_connect(struct tls_ctx *ctx, int fd, const char *hostname,
			     int timeout_ms, int cancel_fd, char *why, size_t why_len);
/* Whether the handshake resumed a session from a ticket (no full handshake);
 * tls_describe then ends in ", resumed", else (X.509) in ", full handshake". */
bool tls_resumed(const struct tls_conn *t);

/*
 * Non-blocking I/O for a poll() loop: the count (0 from tls_recv_nb: end of
 * stream), or -1 with errno; EAGAIN with *@want_out true when the socket
 * must become writable (rather than readable) first.  A tls_send_nb that
 * returned EAGAIN must be repeated with the same bytes, and may be given
 * more after them (the buffer may move).
 */
ssize_t tls_recv_nb(struct tls_conn *t, void *buf, size_t len, bool *want_out);
ssize_t tls_send_nb(struct tls_conn *t, const void *buf, size_t len, bool *want_out);
/* Bytes already read from the socket and not yet returned: poll() would
 * not tell about them. */
bool tls_buffered(struct tls_conn *t);

#endif
