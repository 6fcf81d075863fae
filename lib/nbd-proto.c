// SPDX-License-Identifier: GPL-2.0
/* Helpers around the NBD wire definitions in nbd-proto.h. */
#include <errno.h>

#include "nbd-proto.h"

uint32_t nbd_error_from_errno(int err)
{
	switch (err) {
	case 0:
		return 0;
	case EPERM:
	case EROFS:
		return NBD_EPERM;
	case ENOMEM:
		return NBD_ENOMEM;
	case EINVAL:
		return NBD_EINVAL;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return NBD_ENOSPC;
	case EOVERFLOW:
		return NBD_EOVERFLOW;
	case ENOTSUP:
		return NBD_ENOTSUP;
	case ESHUTDOWN:
		return NBD_ESHUTDOWN;
	default:
		return NBD_EIO;
	}
}

int nbd_error_to_errno(uint32_t nbd_err)
{
	switch (nbd_err) {
	case 0:
		return 0;
	case NBD_EPERM:
		return EPERM;
	case NBD_ENOMEM:
		return ENOMEM;
	case NBD_EINVAL:
		return EINVAL;
	case NBD_ENOSPC:
		return ENOSPC;
	case NBD_EOVERFLOW:
		return EOVERFLOW;
	case NBD_ENOTSUP:
		return ENOTSUP;
	case NBD_ESHUTDOWN:
		return ESHUTDOWN;
	default:		/* the spec says treat unknown values as EINVAL */
		return nbd_err == NBD_EIO ? EIO : EINVAL;
	}
}

const char *nbd_option_name(uint32_t option)
{
	switch (option) {
	case NBD_OPT_EXPORT_NAME: return "NBD_OPT_EXPORT_NAME";
	case NBD_OPT_ABORT: return "NBD_OPT_ABORT";
	case NBD_OPT_LIST: return "NBD_OPT_LIST";
	case NBD_OPT_STARTTLS: return "NBD_OPT_STARTTLS";
	case NBD_OPT_INFO: return "NBD_OPT_INFO";
	case NBD_OPT_GO: return "NBD_OPT_GO";
	case NBD_OPT_STRUCTURED_REPLY: return "NBD_OPT_STRUCTURED_REPLY";
	case NBD_OPT_LIST_META_CONTEXT: return "NBD_OPT_LIST_META_CONTEXT";
	case NBD_OPT_SET_META_CONTEXT: return "NBD_OPT_SET_META_CONTEXT";
	default: return "unknown option";
	}
}

const char *nbd_reply_name(uint32_t reply)
{
	switch (reply) {
	case NBD_REP_ACK: return "ACK";
	case NBD_REP_SERVER: return "SERVER";
	case NBD_REP_INFO: return "INFO";
	case NBD_REP_META_CONTEXT: return "META_CONTEXT";
	case NBD_REP_ERR_UNSUP: return "unsupported";
	case NBD_REP_ERR_POLICY: return "refused by policy";
	case NBD_REP_ERR_INVALID: return "invalid";
	case NBD_REP_ERR_PLATFORM: return "unsupported on this platform";
	case NBD_REP_ERR_TLS_REQD: return "TLS required";
	case NBD_REP_ERR_UNKNOWN: return "unknown export";
	case NBD_REP_ERR_SHUTDOWN: return "server shutting down";
	case NBD_REP_ERR_BLOCK_SIZE_REQD: return "block size required";
	case NBD_REP_ERR_TOO_BIG: return "too big";
	default: return "unknown reply";
	}
}
