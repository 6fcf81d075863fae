#!/bin/sh
# timeout: 60
# NBD_CMD_CACHE is advertised and succeeds on file, memory and linear
# exports; it is range-checked like a read.
. "$(dirname "$0")/server-lib.sh"
truncate -s 2M "$T/a.img" "$T/b.img"
start_server "$T/a.img" -e mem=memory:2M -e lin=linear:$T/a.img,$T/b.img
for name in "" mem lin; do
	nbdsh_run "$URI/$name" <<'PY' || fail "cache on export \"$name\""
import nbd
assert h.can_cache()
h.cache(1 << 20, 512 << 10)
h.cache(1, h.get_size() - 1)
h.set_strict_mode(0)
try:
    h.cache(2, h.get_size() - 1)
    raise SystemExit("cache past the end succeeded")
except nbd.Error as e:
    assert e.errnum == 22, e      # EINVAL
PY
done
stop_server
