/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The client side of the NBD handshake (fixed newstyle), run on a connected
 * socket within one deadline for the whole exchange (a server trickling
 * bytes cannot stretch it), watching the daemon's signalfd.
 *
 * Sequence: greeting -> client flags -> [NBD_OPT_STARTTLS -> TLS handshake,
 * the rest inside TLS] -> NBD_OPT_GO (name + NBD_INFO_BLOCK_SIZE request) ->
 * NBD_REP_INFO... -> NBD_REP_ACK; if the server answers GO with
 * NBD_REP_ERR_UNSUP (or is not fixed newstyle) fall back to
 * NBD_OPT_EXPORT_NAME.  Options that later work adds (NBD_OPT_STRUCTURED_REPLY
 * before GO) slot in as further steps of nbd_handshake() and further fields
 * of struct nbd_export.
 */
#ifndef ENBD_CLIENT_HANDSHAKE_H
#define ENBD_CLIENT_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "tls.h"

/* What the server told us about the export. */
struct nbd_export {
	uint64_t size;		/* bytes */
	uint16_t hflags;	/* handshake flags from the greeting */
	uint16_t tflags;	/* transmission flags (0 unless HAS_FLAGS) */
	/* NBD_INFO_BLOCK_SIZE; all 0 when the server did not send it */
	uint32_t min_block;
	uint32_t pref_block;
	uint32_t max_payload;
	int via_go;		/* 1: NBD_OPT_GO, 0: NBD_OPT_EXPORT_NAME */
	int no_zeroes;		/* NBD_FLAG_C_NO_ZEROES agreed */
};

enum hs_status {
	HS_OK = 0,
	HS_IO = -1,		/* transport failure or timeout: retry later */
	HS_PROTO = -2,		/* the server broke the protocol */
	HS_REFUSED = -3,	/* the server refused (unknown export, policy, TLS) */
	HS_STOPPED = -4,	/* a signal is waiting on the signalfd (not read) */
};

/* TLS for one handshake (NULL: off). */
struct hs_tls {
	enum tls_mode mode;	/* ON: when the server offers it; REQUIRE: or refuse */
	struct tls_ctx *ctx;
	const char *hostname;	/* the server's certificate must name it */
	struct tls_conn *conn;	/* out: the connection's TLS, NULL: plaintext */
};

/*
 * Run the handshake on connected socket @fd for export @name, all of it
 * within @timeout_ms; a readable @sigfd (-1: none) stops it with
 * HS_STOPPED.  On success the connection is in the transmission phase.  On
 * failure returns an hs_status with a one-line explanation in @why; after a
 * refusal a soft disconnect (NBD_OPT_ABORT) has been sent and the caller
 * just closes.  With @tls, the connection's TLS (after success only) is in
 * @tls->conn: from then on every byte goes through it.
 */
int nbd_handshake(int fd, const char *name, struct nbd_export *ex, int sigfd, int timeout_ms,
		  struct hs_tls *tls, char *why, size_t why_len);

/* Human-readable list of the transmission flags, e.g. "flush fua trim". */
void nbd_tflags_str(uint16_t tflags, char *buf, size_t len);

#endif
