# Shared by the host tests of enbd-guardian's configuration checks; source
# after lib.sh.  Needs G (the guardian binary); GUARDIAN_CHECK_OPTS (an
# array, e.g. (-x FAKE-CLIENT)) is passed to `enbd-guardian -n` as well.

# refused LINE MESSAGE: a file whose second line is LINE is refused with
# exit status 1, "FILE:2: MESSAGE" on stderr and no command line on stdout.
refused() {
	printf '# first\n%s\n' "$1" >"$T/bad.conf"
	rc=0
	"$G" -n "${GUARDIAN_CHECK_OPTS[@]}" -c "$T/bad.conf" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = 1 ] || fail "'$1': exit status $rc (expected 1); it would run: $(cat "$T/out")"
	[ ! -s "$T/out" ] || fail "'$1': command lines printed: $(cat "$T/out")"
	grep -qF -- "$T/bad.conf:2: $2" "$T/err" || fail "'$1': message '$(cat "$T/err")', expected '$2'"
}
