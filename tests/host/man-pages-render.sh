#!/bin/sh
# Every man page (man/*.[458]) renders with man -l without a warning, has
# the sections a page needs, and is the page for what it names: enbd(4),
# enbd.conf(5), enbd-client(8), enbd-server(8), enbd-guardian(8), enbdctl(8).
# Each option of a program's --help appears in its page.
# sanitizers: no
. "$(dirname "$0")/lib.sh"
need man
cd "$TOP"
for page in enbd.4 enbd.conf.5 enbd-client.8 enbd-server.8 enbd-guardian.8 enbdctl.8; do
	[ -f "man/$page" ] || fail "man/$page missing"
done
for f in man/*.[458]; do
	MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$f" >"$T/out" 2>"$T/warn" || fail "man -l $f failed: $(cat "$T/warn")"
	[ ! -s "$T/warn" ] || fail "man -l $f warns: $(cat "$T/warn")"
	for sect in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
		grep -q "^$sect" "$T/out" || fail "$f has no $sect section"
	done
	name=$(basename "$f")
	title=$(echo "${name%.*}" | tr a-z A-Z)
	head -n 1 "$T/out" | grep -q "^$title(${name##*.})" || fail "$f: title line $(head -n 1 "$T/out")"
done

# --help's long options are in the pages.
for prog in enbd-client enbd-server enbd-guardian; do
	"$ENBD_BUILD/$prog" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u >"$T/opts"
	MANWIDTH=200 man -l "man/$prog.8" 2>/dev/null | sed 's/‐/-/g' >"$T/page"
	while read -r opt; do
		grep -q -- "$opt" "$T/page" || fail "$prog --help has $opt, man/$prog.8 does not"
	done <"$T/opts"
done
echo "PASS $TEST_NAME"
