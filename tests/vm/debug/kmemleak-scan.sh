#!/bin/bash
# make check-debug's last step, after every other test: kmemleak scans the
# kernel for objects nobody points to any more and its report is kept in
# kmemleak-scan.d/report for tests/vm/run-debug to sort.  Fails when a
# suspected leak names enbd.  Leaks allocated from a module the harness has
# unloaded since (enbd among them) show bare addresses; run-debug counts them
# apart.
# timeout: 600
. "$ENBD_ROOT/tests/vm/lib.sh"

kmemleak=/sys/kernel/debug/kmemleak
[ -w "$kmemleak" ] || skip "this kernel has no kmemleak ($kmemleak)"
mkdir -p "$ENBD_TEST_OUT"
report=$ENBD_TEST_OUT/report

# An object is reported once it has stayed unreferenced for a whole scan and
# is older than kmemleak's minimum age (5 s): the second scan confirms the
# first.  Each write returns when its scan is done.
log "scanning (twice)"
echo scan >"$kmemleak"
echo scan >"$kmemleak"
cat "$kmemleak" >"$report"
total=$(grep -c '^unreferenced object' "$report" || true)
enbd=$(awk '/^unreferenced object/ { n += hit; hit = 0 } /enbd/ { hit = 1 }
	END { print n + hit }' "$report")
log "kmemleak: $total suspected leaks, $enbd naming enbd (report: $report)"
[ "$enbd" -eq 0 ] || die "kmemleak: $enbd suspected leaks name enbd"
