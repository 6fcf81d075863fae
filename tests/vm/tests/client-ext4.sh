#!/bin/bash
# enbd-client serves /dev/nd0 from nbdkit memory: an ext4 filesystem made,
# mounted, filled, unmounted, caches dropped, remounted: every file's
# checksum matches and fsck finds nothing.  Then SIGTERM: the client
# finishes, sends NBD_CMD_DISC, detaches and exits 0; rmmod succeeds.
# timeout: 240
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd nbdkit mkfs.ext4 e2fsck sha256sum

load_enbd
# Should a step fail with I/O still waiting for a channel: fail it, so rmmod works.
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
start_nbdkit -v memory 256M >/dev/null
log_file=$ENBD_TEST_TMP/client.log
start_enbd_client --log "$log_file" -p "$NBDKIT_PORT" 127.0.0.1 /dev/nd0
client=$ENBD_CLIENT_PID
wait_for_disk /dev/nd0
[ "$(blockdev --getsize64 /dev/nd0)" -eq $((256 << 20)) ] || die "wrong size"

mnt=$ENBD_TEST_TMP/mnt
ext4_round_trip /dev/nd0 "$mnt"
umount "$mnt"

# Clean stop: exit 0, NBD_CMD_DISC reached the server, then rmmod.
kill_and_wait "$client" || die "enbd-client exited with status $?"
grep -q 'client sent NBD_CMD_DISC' "$NBDKIT_LOG" || die "no NBD_CMD_DISC at the server"
grep -q 'error:' "$log_file" && die "client logged errors"
grep -q ' 0 errors' "$log_file" || die "requests failed: $(tail -n 1 "$log_file")"
unload_enbd
! grep -q '^enbd ' /proc/modules || die "rmmod failed"
log "ext4 round trip passed"
