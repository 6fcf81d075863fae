/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The NBD wire protocol (NetworkBlockDevice/nbd doc/proto.md), fixed
 * newstyle only.  This is the project's single definition of it: every
 * daemon and tool includes this header.
 *
 * Byte order: every multi-byte integer on the wire is big-endian.  The
 * structures below mirror the wire byte for byte (packed); their integer
 * fields hold wire (big-endian) values, so convert with be16toh/be32toh/
 * be64toh on receipt and htobe* before sending.
 */
#ifndef ENBD_NBD_PROTO_H
#define ENBD_NBD_PROTO_H

#include <stdint.h>

/* Handshake */
#define NBD_MAGIC		0x4e42444d41474943ULL	/* "NBDMAGIC" */
#define NBD_IHAVEOPT		0x49484156454f5054ULL	/* "IHAVEOPT" */
#define NBD_REP_MAGIC		0x0003e889045565a9ULL
#define NBD_OLDSTYLE_MAGIC	0x0000420281861253ULL	/* oldstyle: not supported */

/* Handshake flags (server, 16 bits) */
#define NBD_FLAG_FIXED_NEWSTYLE	(1u << 0)
#define NBD_FLAG_NO_ZEROES	(1u << 1)
/* Client flags (32 bits) */
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_C_NO_ZEROES	(1u << 1)

/* Transmission flags (16 bits) */
#define NBD_FLAG_HAS_FLAGS	(1u << 0)
#define NBD_FLAG_READ_ONLY	(1u << 1)
#define NBD_FLAG_SEND_FLUSH	(1u << 2)
#define NBD_FLAG_SEND_FUA	(1u << 3)
#define NBD_FLAG_ROTATIONAL	(1u << 4)
#define NBD_FLAG_SEND_TRIM	(1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define NBD_FLAG_SEND_DF	(1u << 7)
#define NBD_FLAG_CAN_MULTI_CONN	(1u << 8)
#define NBD_FLAG_SEND_RESIZE	(1u << 9)
#define NBD_FLAG_SEND_CACHE	(1u << 10)
#define NBD_FLAG_SEND_FAST_ZERO	(1u << 11)

/* Options */
#define NBD_OPT_EXPORT_NAME	1
#define NBD_OPT_ABORT		2
#define NBD_OPT_LIST		3
#define NBD_OPT_STARTTLS	5
#define NBD_OPT_INFO		6
#define NBD_OPT_GO		7
#define NBD_OPT_STRUCTURED_REPLY 8
#define NBD_OPT_LIST_META_CONTEXT 9
#define NBD_OPT_SET_META_CONTEXT 10

/* Option replies */
#define NBD_REP_ACK		1
#define NBD_REP_SERVER		2
#define NBD_REP_INFO		3
#define NBD_REP_META_CONTEXT	4
#define NBD_REP_FLAG_ERROR	(1u << 31)
#define NBD_REP_ERR_UNSUP	(1u | NBD_REP_FLAG_ERROR)
#define NBD_REP_ERR_POLICY	(2u | NBD_REP_FLAG_ERROR)
#define NBD_REP_ERR_INVALID	(3u | NBD_REP_FLAG_ERROR)
#define NBD_REP_ERR_PLATFORM	(4u | NBD_REP_FLAG_ERROR)
#define NBD_REP_ERR_TLS_REQD	(5u | NBD_REP_FLAG_ERROR)
#define NBD_REP_ERR_UNKNOWN	(6u | NBD_REP_FLAG_ERROR)
#define NBD_REP_ERR_SHUTDOWN	(7u | NBD_REP_FLAG_ERROR)
#define NBD_REP_ERR_BLOCK_SIZE_REQD (8u | NBD_REP_FLAG_ERROR)
#define NBD_REP_ERR_TOO_BIG	(9u | NBD_REP_FLAG_ERROR)

/* NBD_REP_INFO types */
#define NBD_INFO_EXPORT		0
#define NBD_INFO_NAME		1
#define NBD_INFO_DESCRIPTION	2
#define NBD_INFO_BLOCK_SIZE	3

/* Transmission */
#define NBD_REQUEST_MAGIC	0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC	0x67446698u
#define NBD_STRUCTURED_REPLY_MAGIC 0x668e33efu

#define NBD_CMD_READ		0
#define NBD_CMD_WRITE		1
#define NBD_CMD_DISC		2
#define NBD_CMD_FLUSH		3
#define NBD_CMD_TRIM		4
#define NBD_CMD_CACHE		5
#define NBD_CMD_WRITE_ZEROES	6
#define NBD_CMD_BLOCK_STATUS	7

#define NBD_CMD_FLAG_FUA	(1u << 0)
#define NBD_CMD_FLAG_NO_HOLE	(1u << 1)
#define NBD_CMD_FLAG_DF		(1u << 2)
#define NBD_CMD_FLAG_REQ_ONE	(1u << 3)
#define NBD_CMD_FLAG_FAST_ZERO	(1u << 4)

/* Structured reply chunk types and flags */
#define NBD_REPLY_FLAG_DONE	(1u << 0)
#define NBD_REPLY_TYPE_NONE	0
#define NBD_REPLY_TYPE_OFFSET_DATA 1
#define NBD_REPLY_TYPE_OFFSET_HOLE 2
#define NBD_REPLY_TYPE_BLOCK_STATUS 5
#define NBD_REPLY_TYPE_ERROR	32769
#define NBD_REPLY_TYPE_ERROR_OFFSET 32770

/* base:allocation flags */
#define NBD_STATE_HOLE		(1u << 0)
#define NBD_STATE_ZERO		(1u << 1)

/* Error values on the wire (proto.md "Error values"); not host errnos. */
#define NBD_EPERM		1
#define NBD_EIO			5
#define NBD_ENOMEM		12
#define NBD_EINVAL		22
#define NBD_ENOSPC		28
#define NBD_EOVERFLOW		75
#define NBD_ENOTSUP		95
#define NBD_ESHUTDOWN		108

/* Limits this project applies to peers */
#define NBD_MAX_STRING		4096	/* export names, descriptions */
#define NBD_MAX_OPTION_DATA	(64u << 10)
#define NBD_MAX_PAYLOAD		(32u << 20)	/* one READ/WRITE */

/* Server greeting: "NBDMAGIC", "IHAVEOPT", handshake flags */
struct nbd_greeting {
	uint64_t magic;
	uint64_t ihaveopt;
	uint16_t flags;
} __attribute__((packed));

/* Client option header, followed by @length bytes of data */
struct nbd_option {
	uint64_t magic;		/* NBD_IHAVEOPT */
	uint32_t option;
	uint32_t length;
} __attribute__((packed));

/* Server option reply header, followed by @length bytes of data */
struct nbd_option_reply {
	uint64_t magic;		/* NBD_REP_MAGIC */
	uint32_t option;
	uint32_t reply;
	uint32_t length;
} __attribute__((packed));

/* NBD_INFO_EXPORT payload of NBD_REP_INFO (also the EXPORT_NAME reply) */
struct nbd_info_export {
	uint16_t info;		/* NBD_INFO_EXPORT */
	uint64_t size;
	uint16_t flags;		/* transmission flags */
} __attribute__((packed));

/* NBD_INFO_BLOCK_SIZE payload */
struct nbd_info_block_size {
	uint16_t info;		/* NBD_INFO_BLOCK_SIZE */
	uint32_t minimum;
	uint32_t preferred;
	uint32_t maximum;
} __attribute__((packed));

/* Reply to NBD_OPT_EXPORT_NAME: size, flags, then 124 zero bytes unless
 * NBD_FLAG_C_NO_ZEROES was agreed */
struct nbd_export_name_reply {
	uint64_t size;
	uint16_t flags;
} __attribute__((packed));

/* Transmission request, followed by @length bytes for WRITE */
struct nbd_request {
	uint32_t magic;		/* NBD_REQUEST_MAGIC */
	uint16_t flags;		/* NBD_CMD_FLAG_* */
	uint16_t type;		/* NBD_CMD_* */
	uint64_t cookie;	/* opaque; echoed in the reply ("handle") */
	uint64_t offset;
	uint32_t length;
} __attribute__((packed));

/* Simple reply, followed by the payload of a successful READ */
struct nbd_simple_reply {
	uint32_t magic;		/* NBD_SIMPLE_REPLY_MAGIC */
	uint32_t error;		/* NBD_E* or 0 */
	uint64_t cookie;
} __attribute__((packed));

/* Structured reply chunk header, followed by @length bytes */
struct nbd_structured_reply {
	uint32_t magic;		/* NBD_STRUCTURED_REPLY_MAGIC */
	uint16_t flags;		/* NBD_REPLY_FLAG_* */
	uint16_t type;		/* NBD_REPLY_TYPE_* */
	uint64_t cookie;
	uint32_t length;
} __attribute__((packed));

/* Payload of NBD_REPLY_TYPE_OFFSET_DATA: offset, then the data */
struct nbd_chunk_offset_data {
	uint64_t offset;
} __attribute__((packed));

/* Payload of NBD_REPLY_TYPE_OFFSET_HOLE */
struct nbd_chunk_offset_hole {
	uint64_t offset;
	uint32_t length;	/* nonzero */
} __attribute__((packed));

/* Payload of NBD_REPLY_TYPE_ERROR: then @msglen bytes of message */
struct nbd_chunk_error {
	uint32_t error;		/* NBD_E*, nonzero */
	uint16_t msglen;
} __attribute__((packed));

/* Payload of NBD_REPLY_TYPE_BLOCK_STATUS: context id, then descriptors */
struct nbd_block_descriptor {
	uint32_t length;	/* nonzero */
	uint32_t status;	/* NBD_STATE_* for base:allocation */
} __attribute__((packed));

/* Limit on descriptors in one NBD_REPLY_TYPE_BLOCK_STATUS chunk (proto.md) */
#define NBD_MAX_BLOCK_DESCRIPTORS (1u << 20)

_Static_assert(sizeof(struct nbd_greeting) == 18, "wire size");
_Static_assert(sizeof(struct nbd_option) == 16, "wire size");
_Static_assert(sizeof(struct nbd_option_reply) == 20, "wire size");
_Static_assert(sizeof(struct nbd_info_export) == 12, "wire size");
_Static_assert(sizeof(struct nbd_info_block_size) == 14, "wire size");
_Static_assert(sizeof(struct nbd_request) == 28, "wire size");
_Static_assert(sizeof(struct nbd_simple_reply) == 16, "wire size");
_Static_assert(sizeof(struct nbd_structured_reply) == 20, "wire size");
_Static_assert(sizeof(struct nbd_chunk_offset_data) == 8, "wire size");
_Static_assert(sizeof(struct nbd_chunk_offset_hole) == 12, "wire size");
_Static_assert(sizeof(struct nbd_chunk_error) == 6, "wire size");
_Static_assert(sizeof(struct nbd_block_descriptor) == 8, "wire size");

/* Map a host errno to the NBD error to send, and back. */
uint32_t nbd_error_from_errno(int err);
int nbd_error_to_errno(uint32_t nbd_err);
const char *nbd_option_name(uint32_t option);
const char *nbd_reply_name(uint32_t reply);

#endif /* ENBD_NBD_PROTO_H */
