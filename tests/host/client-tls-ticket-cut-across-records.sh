#!/bin/sh
# timeout: 60
# A server may cut a session ticket across records (RFC 8446 5.1).  When
# the cut reaches enbd's client just as it could hand the records over to
# lib/tls-record.c (the ticket's first record read, nothing more there),
# OpenSSL must keep the records until the ticket is whole: the rest would
# otherwise reach lib/tls-record.c as a message of its own, and the
# connection would fail (EPROTO).  tls-ticket-across-records
# (tests/host/build.mk) stages exactly that with an OpenSSL server of
# 512-byte records and large tickets, then checks the client reads, hands
# over and writes through its own records.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tls-lib.sh"
PROG=$ENBD_BUILD/tls-ticket-across-records
[ -x "$PROG" ] || fail "$PROG not built (make)"
make_psk
for round in 1 2 3; do
	out=$(timeout 30 "$PROG" "$T/psk/keys.psk" 2>&1) || fail "round $round: $out"
	case $out in
	*"ticket records; the client read hello after the cut and sent world"*) ;;
	*) fail "round $round: unexpected output: $out" ;;
	esac
done
exit 0
