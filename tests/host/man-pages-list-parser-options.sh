#!/bin/sh
# Every option a program's parser accepts is in its manual page: the long
# names of each `struct option' table and the letters of each getopt string
# in the source (not --help, which can forget one as easily as the page),
# looked up in the page as man renders it.  enbd-client(8): client/main.c;
# enbd-server(8): server/main.c and its migration subcommand (oneshot.c);
# enbd-guardian(8): guardian/main.c; enbd.conf(5): the options of client
# lines (guardian/config.c) and of server lines (guardian/server.c's table);
# enbdctl(8): its commands and their options; enbd(4): the module's
# parameters, the ioctls of include/uapi/enbd.h and the lines and counters
# of /proc/nbdinfo (kernel/enbd_proc.c).
# sanitizers: no
. "$(dirname "$0")/lib.sh"
need man
cd "$TOP"
"$PYTHON" - <<'EOT' || fail "options missing from their manual pages (above)"
import re, subprocess, sys

def render(page):
    out = subprocess.run(["man", "-l", "man/" + page], capture_output=True, text=True,
                         env={"MANWIDTH": "250", "LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"},
                         check=True).stdout
    out = re.sub(r".\x08", "", out)
    return out.replace("\u2010", "-").replace("\u2212", "-")

def parser_options(path):
    src = open(path).read()
    longs = set()
    for table in re.findall(r"struct option\s+\w+\[[^\]]*\]\s*=\s*\{(.*?)\n\s*\};", src, re.S):
        longs |= set(re.findall(r'\{\s*"([a-z][a-z-]*)"', table))
    # The guardian's server-line table: [O_X] = { "name", 'l', ...
    longs |= set(re.findall(r'\[O_[A-Z_]+\]\s*=\s*\{\s*"([a-z][a-z-]*)"', src))
    shorts = set()
    for s in re.findall(r'getopt(?:_long)?\(argc, argv, "([^"]*)"', src):
        shorts |= set(c for c in s if c.isalnum())
    shorts |= set(re.findall(r'\[O_[A-Z_]+\]\s*=\s*\{\s*"[a-z-]+",\s*\'(\w)\'', src))
    return longs - {"help"}, shorts - {"h"}

def mentions(text, word):
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None

missing = []
def check(page, sources, extra_words=()):
    text = render(page)
    for src in sources:
        longs, shorts = parser_options(src)
        for name in sorted(longs):
            if not mentions(text, "--" + name):
                missing.append(f"{page}: --{name} ({src})")
        for letter in sorted(shorts):
            if not mentions(text, "-" + letter):
                missing.append(f"{page}: -{letter} ({src})")
    for word in extra_words:
        if not mentions(text, word):
            missing.append(f"{page}: {word}")

check("enbd-client.8", ["daemon/client/main.c"])
check("enbd-server.8", ["daemon/server/main.c", "daemon/server/oneshot.c"])
check("enbd-guardian.8", ["daemon/guardian/main.c"])
check("enbd.conf.5", ["daemon/guardian/config.c", "daemon/guardian/server.c"])
ctl = open("daemon/ctl/main.c").read()
commands = re.findall(r'\{ "(\w+)", cmd_\w+ \}', ctl)
assert commands, "no commands found in daemon/ctl/main.c"
check("enbdctl.8", ["daemon/ctl/main.c"], commands)
kernel = "".join(open(f"kernel/{f}").read() for f in ("enbd_main.c",))
params = re.findall(r"module_param(?:_cb|_named)?\((\w+),", kernel)
ioctls = sorted(set(re.findall(r"#define (ENBD_IOC_(?!MAGIC)\w+)\s+_IO", open("include/uapi/enbd.h").read())))
proc = open("kernel/enbd_proc.c").read()
lines = sorted(set(re.findall(r'"\[%u\] (\w+):', proc) + re.findall(r'ENBD_SHOW\(m, index, "(\w+):', proc)))
assert params and ioctls and lines, (params, ioctls, lines)
check("enbd.4", [], params + ioctls + lines)
for m in missing:
    print("missing:", m, file=sys.stderr)
sys.exit(1 if missing else 0)
EOT
echo "PASS $TEST_NAME"
