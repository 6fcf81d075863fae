#!/bin/bash
# The session token: enbd-guardian makes a random one per device, keeps it
# in /run/enbd/ndN.token (0600) and gives it to its channel daemons in the
# environment, never on the command line.  A foreign enbd-client with a
# wrong ENBD_TOKEN, or none, is refused with EACCES and the kernel counts a
# bad token; with the right one it attaches.  A second guardian cannot take
# the device: the token file is locked, and a guardian with another token
# is refused before it starts anything.
# timeout: 150
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"

load_enbd
start_enbd_server
start_guardian --client "/dev/nd0 127.0.0.1 $SERVER_PORT -n 1"
wait_for_disk /dev/nd0
wait_for -t 20 slots_attached 0 1 || die "the channel did not attach"
nbd_line 0 State: | grep -q 'token set' || die "the device has no token: $(nbd_line 0 State:)"

tf=/run/enbd/nd0.token
[ "$(stat -c '%a %U %F' "$tf")" = "600 root regular file" ] || die "token file: $(stat -c '%a %U %F' "$tf")"
token=$(cat "$tf")
[[ $token =~ ^0x[0-9a-f]{16}$ ]] || die "token file holds '$token'"
pid=$(nbd_slot 0 Pids: 0)
tr '\0' '\n' <"/proc/$pid/environ" | grep -qx "ENBD_TOKEN=$token" ||
	die "daemon $pid was not given the token in its environment"
tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qi "${token#0x}" && die "the token is on daemon $pid's command line"

bad_tokens() {
	nbd_line 0 Journal: | sed -n 's/.* \([0-9]*\) bad tokens.*/\1/p'
}
[ "$(bad_tokens)" = 0 ] || die "bad tokens before the test: $(nbd_line 0 Journal:)"

# A wrong token.
wrong=0x0123456789abcdef
[ "$wrong" != "$token" ] || wrong=0x0123456789abcdee
rc=0
ENBD_TOKEN=$wrong timeout 20 "$ENBD_CLIENT" -p "$SERVER_PORT" 127.0.0.1 /dev/nd0 \
	</dev/null 2>"$ENBD_TEST_TMP/wrong.err" || rc=$?
cat "$ENBD_TEST_TMP/wrong.err" >&2
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || die "enbd-client with a wrong token: exit status $rc"
grep -qi 'token' "$ENBD_TEST_TMP/wrong.err" || die "enbd-client did not say its token was refused"
[ "$(bad_tokens)" = 1 ] || die "the kernel did not count the bad token: $(nbd_line 0 Journal:)"

# No token at all.
rc=0
env -u ENBD_TOKEN timeout 20 "$ENBD_CLIENT" -p "$SERVER_PORT" 127.0.0.1 /dev/nd0 \
	</dev/null 2>"$ENBD_TEST_TMP/none.err" || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || die "enbd-client without a token: exit status $rc"
grep -qi 'token' "$ENBD_TEST_TMP/none.err" || die "enbd-client did not say its token was refused"
[ "$(bad_tokens)" = 2 ] || die "the kernel did not count the missing token: $(nbd_line 0 Journal:)"

# The right token: a second channel attaches.
ENBD_TOKEN=$token start_enbd_client -p "$SERVER_PORT" 127.0.0.1 /dev/nd0
wait_for -t 20 slots_attached 0 2 || die "enbd-client with the right token did not attach"
kill_and_wait "$ENBD_CLIENT_PID" || die "enbd-client with the right token exited with status $?"
[ "$(bad_tokens)" = 2 ] || die "bad tokens changed: $(nbd_line 0 Journal:)"

# A second guardian: the token file is locked.
rc=0
timeout 20 "$GUARDIAN" -f --client "/dev/nd0 127.0.0.1 $SERVER_PORT" 2>"$ENBD_TEST_TMP/g2.err" || rc=$?
cat "$ENBD_TEST_TMP/g2.err" >&2
[ "$rc" = 1 ] || die "a second guardian: exit status $rc"
grep -q 'guarded by another enbd-guardian' "$ENBD_TEST_TMP/g2.err" || die "the second guardian did not say why"

# A guardian whose token file is lost makes a new token: the kernel's check
# refuses it before it starts a daemon, and it removes the file it made.
mv "$tf" "$ENBD_TEST_TMP/saved.token"
rc=0
timeout 20 "$GUARDIAN" -f --client "/dev/nd0 127.0.0.1 $SERVER_PORT" 2>"$ENBD_TEST_TMP/g3.err" || rc=$?
cat "$ENBD_TEST_TMP/g3.err" >&2
[ "$rc" = 1 ] || die "a guardian with another token: exit status $rc"
grep -q 'session token that is not this' "$ENBD_TEST_TMP/g3.err" || die "the guardian did not say why"
grep -q 'started, pid' "$ENBD_TEST_TMP/g3.err" && die "the guardian with another token started a daemon"
[ -e "$tf" ] && die "the refused guardian left its token file behind"
mv "$ENBD_TEST_TMP/saved.token" "$tf"
slots_attached 0 1 || die "the first guardian's channel is gone"
