#!/bin/sh
# timeout: 120
# enbd-client's record layer changes its own sending key (KeyUpdate) once a
# key has sealed TLS_RECORD_KEY_USES records: 2^24 in enbd-client, 32 in
# enbd-client-selftest-key-uses-32 (tests/host/build.mk), which this test
# runs against an OpenSSL server (Python's ssl, client_tls_server.py) that
# counts the KeyUpdates it follows: several come, and every read of what
# was written is right (the writes are what the new keys seal).
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
SELFTEST=$ENBD_BUILD/enbd-client-selftest-key-uses-32
[ -x "$SELFTEST" ] || fail "$SELFTEST not built (make)"
make_pki
FAKE_SERVER=$TOP/tests/host/client_tls_server.py	# started by start_fake
start_fake "$T/pki/server" 2
run_selftest -v -z -w -n 2000 -T require -C "$T/pki/client" -p "$FAKE_PORT" localhost
expect_pass
all_records_userspace "$LOG"
[ "$(st attaches)" -eq 1 ] || fail "reconnected: $(grep '^selftest:' "$LOG")"
kill "$FAKE_PID"
wait_until 10 grep -q 'connection ended: ' "$T/fake.log" || fail "the server did not see the end"
updates=$(sed -n 's/^connection ended: \([0-9]*\) KeyUpdates from the client$/\1/p' "$T/fake.log")
[ -n "$updates" ] && [ "$updates" -ge 10 ] ||
	fail "KeyUpdates from the client: '$updates', at least 10 wanted: $(cat "$T/fake.log")"
exit 0
