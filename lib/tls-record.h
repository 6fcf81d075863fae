/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TLS 1.3 records of an established connection, in userspace: what kernel
 * TLS does, for where the kernel has none.  lib/tls.c hands a connection
 * over once the handshake is done (its secrets and how many records each
 * way used them); from then on these calls carry the data, and OpenSSL
 * is not called on it again.
 *
 * Why: OpenSSL 3.0's record layer decrypts in its own buffer and copies
 * out, copies what it encrypts into its buffer first, moves the rest of
 * its read-ahead buffer to the front for every record, writes each 16 KiB
 * record with a system call of its own, and allocates per record.  Here a
 * record is opened from the receive buffer straight into the caller's
 * memory, sealed from the caller's memory straight into the send buffer,
 * and the buffers are read and written whole.
 *
 * AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305.  Received KeyUpdates
 * are followed (and answered when asked), NewSessionTickets dropped (the
 * client keeps the ticket OpenSSL saw), close_notify ends the stream.
 *
 * Not thread-safe: the receiving calls and the sending calls each need
 * their own lock; the two sides share nothing but an atomic flag.
 */
#ifndef ENBD_TLS_RECORD_H
#define ENBD_TLS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <openssl/evp.h>

struct tls_records;

/*
 * A record layer for @fd (non-blocking, or blocking for the receiving side
 * alone) from the two traffic secrets of the cipher suite @cipher_nid /
 * @md, each already used for @rx_seq and @tx_seq records; @tx_secret NULL
 * when kernel TLS sends (then a KeyUpdate the peer asks for is refused:
 * the kernel cannot follow).  NULL: out of memory, or a suite not handled
 * here.
 */
struct tls_records *tls_records_new(int fd, int cipher_nid, const EVP_MD *md,
				    const unsigned char *rx_secret, const unsigned char *tx_secret,
				    size_t secret_len, uint64_t rx_seq, uint64_t tx_seq);
/* Send close_notify if the socket takes it at once, and free @r. */
void tls_records_close(struct tls_records *r);

/*
 * Up to @len bytes, as many as were read already or at least @min (whole
 * records are opened as long as fewer are in): the count, 0 at the end of
 * the stream, or -1 with errno (EAGAIN: wait for the socket to become
 * readable).  The socket is read only while nothing is in hand.
 */
ssize_t tls_records_recv(struct tls_records *r, void *buf, size_t min, size_t len);
/* Plaintext, a whole record or the peer's error in hand: poll() would not tell. */
bool tls_records_buffered(const struct tls_records *r);

/*
 * The start of @n pieces: the count taken, or -1 with errno.  EAGAIN: wait
 * for the socket to become writable, then call again with the same bytes
 * in front (they may have moved, and more may follow them).
 */
ssize_t tls_records_send(struct tls_records *r, const struct iovec *iov, int n);

#endif
