#!/usr/bin/env bash
# zhtp put / get / ping through three zhtpd on 127.0.0.1 (no root, no TUN):
#
#     a ---- b ---- c        static UDP peers; a and c have an owner wallet (zhtp init);
#                            c's store quota is 1 KiB, so it holds no replica
#
# Checks: a random 3 MiB file put on a is fetched on c byte-identical (zhtp get -o), and to
# stdout; the content id is 64 hex digits; get of an unknown id exits 4 and leaves no file; a
# get into a directory that cannot be written fails before any network work; put of a missing
# file exits 1; ping from a to c crosses 2 hops and reports an RTT, by node id and by mesh IPv6
# address; ping --json; the put/get
# counters and the latency histogram appear on a's and c's /metrics; a wallet with no role is
# refused put (exit 1). TAP on stdout; every wait is bounded; the daemons are killed on exit.
# Usage: xfer_test.sh PATH/TO/zhtpd PATH/TO/zhtp
set -u
. "${BASH_SOURCE[0]%/*}/it_lib.sh"
zhtpd=${1:?usage: xfer_test.sh ZHTPD ZHTP}
zhtp=${2:?usage: xfer_test.sh ZHTPD ZHTP}
command -v python3 >/dev/null || { echo "1..0 # SKIP needs python3"; exit 0; }
dir=$(mktemp -d /tmp/zhtp-xfer-it-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    kill "$watchdog" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
it_watchdog 120

skip() { n_test=$((n_test + 1)); echo "ok $n_test # SKIP $1"; }
get() { python3 -c 'import sys, urllib.request
try: sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())
except Exception: pass' "$1"; }
js() { python3 -c 'import json, sys
try:
    v = eval(sys.argv[1], {"d": json.load(sys.stdin)})
    print(json.dumps(v) if isinstance(v, (dict, list, bool)) else v)
except Exception: print("")' "$1"; }

echo "test passphrase" > "$dir/pw"
names=(a b c)
declare -A udp http
for n in "${names[@]}"; do udp[$n]=$(free_port udp); http[$n]=$(free_port tcp); done
for n in a c; do
    "$zhtp" init --data-dir "$dir/$n" --wallet "$dir/owner.key" --passphrase-file "$dir/pw" --kdf min >/dev/null 2>&1
done
"$zhtp" wallet create --wallet "$dir/nobody.key" --passphrase-file "$dir/pw" --kdf min >/dev/null
for i in 0 1 2; do
    n=${names[$i]}
    args=(--data-dir "$dir/$n" --dev-no-passphrase --listen "127.0.0.1:${udp[$n]}" --http "127.0.0.1:${http[$n]}")
    [ "$i" -gt 0 ] && args+=(--peer "127.0.0.1:${udp[${names[$((i - 1))]}]}")
    [ "$i" -lt 2 ] && args+=(--peer "127.0.0.1:${udp[${names[$((i + 1))]}]}")
    # c holds nothing for the mesh (1 KiB store quota): its gets must fetch every chunk from a
    # or b across the mesh instead of finding the put's replicas in its own store.
    [ "$i" -eq 2 ] && args+=(--store-quota 1K)
    "$zhtpd" "${args[@]}" 2>"$dir/$n.log" &
    pids+=($!)
done
as() { local who=$1 node=$2; shift 2; "$zhtp" "$@" --data-dir "$dir/$node" --wallet "$dir/$who.key" --passphrase-file "$dir/pw"; }
status() { get "http://127.0.0.1:${http[$1]}/status"; }

converged=0
for _ in $(seq 1 150); do
    roots=$(for n in "${names[@]}"; do status "$n" | js 'd["root_id"]'; done | sort -u | wc -l)
    [ "$roots" = 1 ] && [ "$(status b | js 'd["peers"]')" = 2 ] && [ -S "$dir/a/control.sock" ] &&
        [ -S "$dir/c/control.sock" ] && { converged=1; break; }
    sleep 0.2
done
if [ $converged = 0 ]; then
    not_ok "the three daemons form one tree" "$(tail -3 "$dir/a.log")"
    echo "1..$n_test"; exit 1
fi
ok "the three daemons form one tree"

# ---- put on a, get on c ----
head -c $((3 * 1024 * 1024)) /dev/urandom > "$dir/file.bin"
id=$(as owner a put "$dir/file.bin" 2>"$dir/put.err")
rc=$?
{
    check "zhtp put of 3 MiB on a exits 0 and prints a 64-hex content id" \
        test $rc -eq 0 -a ${#id} -eq 64 -a -z "$(printf %s "$id" | tr -d 0-9a-f)"
    [ $rc -eq 0 ] || echo "# $(cat "$dir/put.err")"
    rxb() { get "http://127.0.0.1:${http[c]}/metrics" | awk '$1 == "zhtp_rx_bytes_total" { print $2 }'; }
    rx0=$(rxb)
    as owner c get "$id" -o "$dir/out.bin" 2>"$dir/get.err"
    rc=$?
    rx1=$(rxb)
    check "zhtp get on c (2 hops away) exits 0 and the file is byte-identical" \
        eval "test $rc -eq 0 && cmp -s '$dir/file.bin' '$dir/out.bin'"
    [ $rc -eq 0 ] || echo "# $(cat "$dir/get.err")"
    check "c's get crossed the mesh: c received over 3 MiB on its link meanwhile" \
        test $((${rx1:-0} - ${rx0:-0})) -gt $((3 * 1024 * 1024))
    check "no temporary file is left beside the output" \
        test -z "$(ls -A "$dir" | grep '\.zhtp-')"
    as owner c get "$id" 2>/dev/null | cmp -s - "$dir/file.bin"
    check "zhtp get to stdout gives the same bytes" test "${PIPESTATUS[0]}${PIPESTATUS[1]}" = 00
    unknown=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    as owner c get "$unknown" -o "$dir/none.bin" 2>"$dir/nf.err"
    rc=$?
    check "get of an unknown id exits 4 and writes nothing" \
        test $rc -eq 4 -a ! -e "$dir/none.bin" -a -z "$(ls -A "$dir" | grep '\.zhtp-')"
    [ $rc -eq 4 ] || echo "# rc=$rc $(cat "$dir/nf.err")"
    total=$(as owner c audit --json 2>/dev/null | js 'd["total"]')
    last=$(as owner c audit --from $((${total:-4} - 4)) --json 2>/dev/null |
           js '[e for e in d["entries"] if e["op"] == "get"][-1]')
    check "the failed get is in c's audit log as a failure (after the allowed entry)" \
        test "$(echo "$last" | js 'd["success"] == False and "no node holds" in d["reason"]')" = true
}
mkdir "$dir/ro" && chmod 0500 "$dir/ro"
if [ "$(id -u)" = 0 ]; then
    skip "unwritable output directory (root writes anywhere)"
else
    as owner c get "$(printf '%064d' 0)" -o "$dir/ro/x" 2>/dev/null
    check "get into an unwritable directory exits 1 at once" test $? -eq 1
fi
as owner a put "$dir/missing" 2>/dev/null
check "put of a missing file exits 1" test $? -eq 1
as nobody a put "$dir/pw" 2>"$dir/nobody.err"
rc=$?
check "a wallet with no role is refused put (exit 1, DENIED)" \
    eval "test $rc -eq 1 && grep -q DENIED '$dir/nobody.err'"
as owner a get "abc" 2>/dev/null
check "get of a malformed id exits 2" test $? -eq 2

# ---- ping a -> c across b ----
c_id=$(status c | js 'd["node_id"]')
out=$(as owner a ping "$c_id" -c 3 -i 0.2 2>&1)
rc=$?
check "ping a -> c exits 0 with replies over 2 hops" \
    eval "test $rc -eq 0 && echo \"\$out\" | grep -q 'hops=2'"
[ $rc -eq 0 ] || echo "# $out" | head -5
check "ping prints a summary line" eval "echo \"\$out\" | grep -q '3 sent, [1-3] received'"
out=$(as owner a ping "$c_id" -c 1 --json 2>&1)
check "ping --json reports received 1 and an rtt" \
    test "$(echo "$out" | js 'd["received"] == 1 and d["replies"][0]["rtt_ms"] > 0')" = true
# c's mesh address: fd5a::/16 then the first 112 bits of its node id (src/runtime/ip6.h);
# the daemon resolves the id prefix through the node (zhtp_node_find_prefix).
c_ip6=$(python3 -c 'import ipaddress, sys; print(ipaddress.IPv6Address(bytes([0xfd, 0x5a]) + bytes.fromhex(sys.argv[1])[:14]))' "$c_id")
out=$(as owner a ping "$c_ip6" -c 2 -i 0.2 2>&1)
check "ping by mesh IPv6 address ($c_ip6) reaches c" \
    eval "echo \"\$out\" | grep -q 'reply from ${c_id:0:16}'"
[ -n "$(echo "$out" | grep 'reply from')" ] || echo "# $out" | head -3
as owner a ping "$(printf '%064d' 7)" -c 1 -i 0 >/dev/null 2>&1
check "ping of a node that does not exist exits 1" test $? -eq 1

# ---- metrics ----
m=$(get "http://127.0.0.1:${http[a]}/metrics")
check "/metrics has the operation histogram (_bucket, _sum, _count)" \
    eval "echo \"\$m\" | grep -q 'zhtp_dht_operation_seconds_bucket{op=\"ping\",le=\"+Inf\"} [1-9]' &&
          echo \"\$m\" | grep -q 'zhtp_dht_operation_seconds_sum{op=\"ping\"}' &&
          echo \"\$m\" | grep -q 'zhtp_dht_operation_seconds_count{op=\"ping\"} [1-9]'"
mc=$(get "http://127.0.0.1:${http[c]}/metrics")
check "/metrics counts the put on a and the gets on c" \
    eval "echo \"\$m\" | grep -q 'zhtp_dht_operations_total{op=\"put\",result=\"ok\"} 1' &&
          echo \"\$mc\" | grep -q 'zhtp_dht_operations_total{op=\"get\",result=\"ok\"} 2' &&
          echo \"\$mc\" | grep -q 'zhtp_dht_operations_total{op=\"get\",result=\"error\"} 1'"
echo "1..$n_test"
exit $failed
