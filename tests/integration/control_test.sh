#!/usr/bin/env bash
# zhtpd's control socket driven by the zhtp command line (docs/cli.md, docs/security.md).
# One daemon on 127.0.0.1, everything else in a temp dir. Checks: init sets the owner (and is
# refused a second time); status --json fields; socket mode 0660; a wallet with no role is
# refused `admin stop` (exit 1) and the refusal is in the audit log; an admin added by the owner
# reads the audit log; the owner's stop is reported and survives a restart; resume; a replayed
# request line is refused; an over-long line gets an error line; an unreachable socket exits 3;
# `audit verify` passes, and fails on a copy of the LMDB file with one entry's bytes altered.
# TAP on stdout; every wait is bounded; the daemon is killed on any exit.
# Usage: control_test.sh PATH/TO/zhtpd PATH/TO/zhtp
set -u
. "${BASH_SOURCE[0]%/*}/it_lib.sh"
zhtpd=${1:?usage: control_test.sh ZHTPD ZHTP}
zhtp=${2:?usage: control_test.sh ZHTPD ZHTP}
command -v python3 >/dev/null || { echo "1..0 # SKIP needs python3"; exit 0; }
dir=$(mktemp -d /tmp/zhtp-ctl-it-XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && sleep 0.3
    [ -n "$pid" ] && { kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
    kill "$watchdog" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
it_watchdog 90


data=$dir/node
sock=$data/control.sock
echo "test passphrase" > "$dir/pw"
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Sends one garbage UDP datagram to the daemon, then prints its count of bad datagrams.
bad_after_junk() {
    python3 - "$port" "$hport" <<'PY2'
import socket, sys, time, urllib.request
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b"junk", ("127.0.0.1", int(sys.argv[1])))
time.sleep(0.3)
m = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[2], timeout=5).read().decode()
print([l.split()[-1] for l in m.splitlines() if l.startswith('zhtp_drops_total{reason="bad"}')][0])
PY2
}
as() { local who=$1; shift; "$zhtp" "$@" --control "$sock" --wallet "$dir/$who.key" --passphrase-file "$dir/pw"; }
json_get() { python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1:]: v=v[k]
print(json.dumps(v) if not isinstance(v,str) else v)' "$@"; }

start() {
    "$zhtpd" --data-dir "$data" --dev-no-passphrase --listen "127.0.0.1:$port" --http "127.0.0.1:$hport" 2>>"$dir/zhtpd.log" &
    pid=$!
    for _ in $(seq 1 50); do [ -S "$sock" ] && return 0; sleep 0.1; done
    return 1
}
stop_daemon() {
    kill -TERM "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    wait "$pid" 2>/dev/null; pid=""
}

# ---- owner ----
out=$("$zhtp" init --data-dir "$data" --wallet "$dir/owner.key" --passphrase-file "$dir/pw" --kdf min 2>&1)
check "zhtp init creates the owner wallet and sets it as owner" test $? -eq 0 -a -f "$dir/owner.key"
"$zhtp" init --data-dir "$data" --wallet "$dir/other.key" --passphrase-file "$dir/pw" --kdf min 2>/dev/null
rc=$?
check "a second zhtp init is refused (exit 1) and creates no wallet" test $rc -eq 1 -a ! -e "$dir/other.key"
for w in admin nobody; do
    "$zhtp" wallet create --wallet "$dir/$w.key" --passphrase-file "$dir/pw" --kdf min >/dev/null
done

if ! start; then
    not_ok "zhtpd starts and creates its control socket" "$(tail -5 "$dir/zhtpd.log")"
    echo "1..$n_test"; exit 1
fi
ok "zhtpd starts and creates its control socket"
check "the control socket has mode 0660" test "$(stat -c %a "$sock")" = 660

st=$(as owner status --json)
fields=$(echo "$st" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(all(k in d for k in ("node_id","state","peers","uptime_s")) and len(d["node_id"])==64 and d["ipv6"] is None)')
check "status --json has node_id, state, peers, uptime_s (ipv6 null)" test "$fields" = True

# ---- roles ----
as nobody status >/dev/null
check "a wallet with no role may read status" test $? -eq 0
as nobody peers >/dev/null 2>&1
check "a wallet with no role is refused peers (exit 1)" test $? -eq 1
as nobody admin stop 2>"$dir/err"
rc=$?
check "a wallet with no role is refused admin stop with exit 1" test $rc -eq 1
check "the refusal names the permission error" grep -q ZHTP_ERR_SEC_DENIED "$dir/err"
nobody_id=$("$zhtp" wallet show --json --wallet "$dir/nobody.key" --passphrase-file "$dir/pw" | json_get wallet_id)
admin_pk=$("$zhtp" wallet show --json --wallet "$dir/admin.key" --passphrase-file "$dir/pw" | json_get public_key)
as admin audit >/dev/null 2>&1
check "an admin not yet added may not read the audit log" test $? -eq 1
as owner admin add-admin "$admin_pk" >/dev/null
check "the owner adds an admin" test $? -eq 0
page=$(as admin audit --json --count 100)
check "the added admin reads the audit log" test $? -eq 0
refused=$(echo "$page" | python3 -c 'import json,sys; d=json.load(sys.stdin)
print(any(e["op"]=="stop" and not e["success"] and e["caller"]==sys.argv[1] for e in d["entries"]))' "$nobody_id")
check "the refused stop of the no-role wallet is in the audit log" test "$refused" = True
as admin admin stop >/dev/null 2>&1
check "an admin is refused the owner's stop (exit 1)" test $? -eq 1

# ---- emergency stop ----
as owner admin stop >/dev/null
check "the owner's stop succeeds" test $? -eq 0
check "the daemon reports state stopped" test "$(as owner status --json | json_get state)" = stopped
b1=$(bad_after_junk); b2=$(bad_after_junk)
check "while stopped, datagrams do not reach the node (bad-datagram count stays $b1)" test "$b1" = "$b2"
stop_daemon
start
check "after a restart the daemon is still stopped" test "$(as owner status --json | json_get state)" = stopped
as owner admin resume >/dev/null
state=$(as owner status --json | json_get state)
check "after resume the daemon is no longer stopped" test "$state" = searching
b1=$(bad_after_junk); b2=$(bad_after_junk)
check "after resume, datagrams reach the node again (bad-datagram count $b1 -> $b2)" test "$b2" -gt "$b1"
as owner admin limit 5 >/dev/null
check "limit is stored and reported by status" test "$(as owner status --json | json_get connection_limit)" = 5
check "limit is applied to the node's session layer (enforced: true)" \
    test "$(as owner admin limit 7 --json | json_get enforced)" = true
as owner admin disconnect "$(printf '%064d' 0)" >/dev/null 2>&1
check "disconnecting a peer that is not a neighbour fails (exit 1)" test $? -eq 1

# ---- raw socket: replay and over-long line ----
as owner status --request-out "$dir/req.line"
replay=$(python3 - "$sock" "$dir/req.line" <<'PY'
import json, socket, sys
line = open(sys.argv[2], "rb").read()
out = []
for _ in range(2):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(10); s.connect(sys.argv[1])
    s.sendall(line); buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(65536)
        if not c: break
        buf += c
    s.close(); d = json.loads(buf)
    out.append("ok" if d["ok"] else d["error"])
print(" ".join(out))
PY
)
check "a request line sent twice: first answered, second refused as a replay" test "$replay" = "ok ZHTP_ERR_SEC_REPLAY"
long=$(python3 - "$sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(10); s.connect(sys.argv[1])
try:
    s.sendall(b"x" * 70000)
except OSError:
    pass
buf = b""
while not buf.endswith(b"\n"):
    c = s.recv(65536)
    if not c: break
    buf += c
print(json.loads(buf)["error"] if buf else "nothing")
PY
)
check "a line over 64 KiB gets an error line" test "$long" = ZHTP_ERR_SEC_TOO_LARGE
check "status still answers after the bad client" test "$(as owner status --json | json_get state)" = searching

"$zhtp" status --control "$dir/nope.sock" --wallet "$dir/owner.key" --passphrase-file "$dir/pw" 2>/dev/null
check "an unreachable control socket exits 3" test $? -eq 3

# ---- audit chain ----
"$zhtp" audit verify --data-dir "$data" >/dev/null
check "audit verify passes on the live log" test $? -eq 0
stop_daemon
mkdir -p "$dir/copy/audit"
cp "$data/audit/data.mdb" "$dir/copy/audit/"
"$zhtp" audit verify --data-dir "$dir/copy" >/dev/null
check "audit verify passes on an unaltered copy" test $? -eq 0
# Alter every stored copy of the add-admin entry's operation name (LMDB may keep stale pages).
n=$(python3 - "$dir/copy/audit/data.mdb" <<'PY'
import sys
p = sys.argv[1]; b = open(p, "rb").read()
n = b.count(b"add-admin")
open(p, "wb").write(b.replace(b"add-admin", b"add-admix"))
print(n)
PY
)
"$zhtp" audit verify --data-dir "$dir/copy" >"$dir/verify.out" 2>&1
rc=$?
check "audit verify fails (exit 1) on the copy with one entry altered ($n stored copies altered)" test $rc -eq 1 -a "$n" -gt 0
check "the failure names the tampering" grep -q TAMPERED "$dir/verify.out"

"$zhtpd" --data-dir "$dir/nc" --dev-no-passphrase --listen 127.0.0.1:0 --no-control 2>/dev/null &
pid=$!
sleep 0.7
check "--no-control: the daemon runs without a control socket" test ! -e "$dir/nc/control.sock" -a -e "$dir/nc/identity.key"
stop_daemon

echo "1..$n_test"
exit $failed
