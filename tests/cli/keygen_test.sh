#!/bin/sh
# zhtp keygen / zhtp id end to end, as TAP. Usage: keygen_test.sh PATH/TO/zhtp
# Uses --kdf interactive (64 MiB Argon2id) to stay quick; the format is the same.
set -u
ZHTP=${1:?usage: keygen_test.sh PATH/TO/zhtp}
T=$(mktemp -d "${TMPDIR:-/tmp}/zhtp-keygen-test.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { if [ "$1" = 0 ]; then ok "$2"; else not_ok "$2"; fi; }

echo "1..16"
printf 'correct horse battery staple\n' > "$T/pw"
printf 'correct horse battery stapler\n' > "$T/bad"
K="$T/node.key"

id1=$("$ZHTP" keygen --out "$K" --passphrase-file "$T/pw" --kdf interactive 2>"$T/err"); rc=$?
check "$rc" "keygen exits 0"
echo "$id1" | grep -Eq '^[0-9a-f]{64}$'; check $? "keygen prints a 64-hex-digit node id"
mode=$(stat -c %a "$K" 2>/dev/null)
[ "$mode" = 600 ]; check $? "key file has mode 0600 (got $mode)"

out=$("$ZHTP" id "$K" --passphrase-file "$T/pw"); rc=$?
check "$rc" "id exits 0"
echo "$out" | grep -q "^node_id  *$id1\$"; check $? "id prints the node id keygen printed"
echo "$out" | grep -Eq '^public_identity  *01[0-9a-f]{5120}$'; check $? "id prints the 2561-byte public identity"
"$ZHTP" id "$K" --passphrase-file "$T/pw" --json | grep -q "\"node_id\":\"$id1\""
check $? "id --json carries the same node id"

"$ZHTP" id "$K" --passphrase-file "$T/bad" >/dev/null 2>"$T/err"; rc=$?
[ "$rc" = 1 ] && grep -q "wrong passphrase" "$T/err"
check $? "wrong passphrase exits 1 saying so ($(cat "$T/err"))"

cp "$K" "$T/backup"
"$ZHTP" keygen --out "$K" --passphrase-file "$T/pw" --kdf interactive >/dev/null 2>"$T/err"; rc=$?
[ "$rc" = 1 ] && grep -q "exists" "$T/err" && cmp -s "$K" "$T/backup"
check $? "existing key file is refused and left unchanged"

id2=$("$ZHTP" keygen --out "$K" --passphrase-file "$T/pw" --kdf interactive --force 2>/dev/null)
[ $? = 0 ] && [ "$id2" != "$id1" ] && [ "$("$ZHTP" id "$K" --passphrase-file "$T/pw" | awk '/^node_id/{print $2}')" = "$id2" ]
check $? "--force replaces it with a new identity"

"$ZHTP" keygen --out "$T/other.key" </dev/null >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] && [ ! -e "$T/other.key" ]
check $? "no terminal and no --passphrase-file is a usage error (exit 2), nothing written"

"$ZHTP" keygen --help | grep -q -- "--passphrase-file" && "$ZHTP" id --help | grep -q -- "--json"
check $? "--help of both commands exits 0 and documents the options"

# Flip one byte in the middle of the file: damaged, whatever the passphrase.
cp "$T/backup" "$T/damaged.key"
printf '\377' | dd of="$T/damaged.key" bs=1 seek=150 conv=notrunc 2>/dev/null
"$ZHTP" id "$T/damaged.key" --passphrase-file "$T/bad" >/dev/null 2>"$T/err"; rc=$?
[ "$rc" = 1 ] && grep -q "corrupt" "$T/err"
check $? "a damaged key file exits 1 as corrupt, not as a wrong passphrase"

head -c 200 "$T/backup" > "$T/short.key"
"$ZHTP" id "$T/short.key" --passphrase-file "$T/pw" >/dev/null 2>"$T/err"; rc=$?
[ "$rc" = 1 ] && grep -q "truncated" "$T/err"
check $? "a truncated key file exits 1 as truncated"

# The terminal prompt, driven through a pseudo-terminal: asked twice, echo off.
tty_keygen() { # OUT PASS1 PASS2 -> prints the transcript, exits with zhtp's status
    python3 - "$ZHTP" "$1" "$2" "$3" <<'PY'
import os, pty, select, signal, sys, time
zhtp, out, p1, p2 = sys.argv[1:5]
pid, fd = pty.fork()
if pid == 0:
    os.execv(zhtp, [zhtp, "keygen", "--out", out, "--kdf", "interactive"])
buf = b""
deadline = time.monotonic() + 60
def pump(until=None):
    global buf
    while until is None or until not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            os.kill(pid, signal.SIGKILL)  # never hang the test run
            sys.stdout.write("timeout waiting for %r\n" % until)
            os.waitpid(pid, 0)
            sys.exit(99)
        try:
            d = os.read(fd, 1024)
        except OSError:
            return
        if not d:
            return
        buf += d
pump(b"passphrase: ")
os.write(fd, p1.encode() + b"\n")
pump(b"again: ")
os.write(fd, p2.encode() + b"\n")
pump()
_, st = os.waitpid(pid, 0)
sys.stdout.write(buf.decode(errors="replace"))
sys.exit(os.WEXITSTATUS(st))
PY
}
if command -v python3 >/dev/null 2>&1; then
    tr=$(tty_keygen "$T/tty.key" "open sesame" "open sesame"); rc=$?
    printf 'open sesame\n' > "$T/pw2"
    [ "$rc" = 0 ] && ! echo "$tr" | grep -q "open sesame" &&
        "$ZHTP" id "$T/tty.key" --passphrase-file "$T/pw2" | grep -q "^node_id"
    check $? "terminal prompt: asked twice, not echoed, and the key file opens with it"
    tty_keygen "$T/tty2.key" "open sesame" "open sesam" >"$T/out" 2>&1; rc=$?
    [ "$rc" = 1 ] && grep -q "differ" "$T/out" && [ ! -e "$T/tty2.key" ]
    check $? "terminal prompt: differing passphrases are refused, nothing written"
else
    n=$((n + 1)); echo "ok $n # SKIP python3 absent: no pseudo-terminal driver"
    n=$((n + 1)); echo "ok $n # SKIP python3 absent: no pseudo-terminal driver"
fi

[ "$fails" = 0 ]
