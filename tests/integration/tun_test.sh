#!/usr/bin/env bash
# zhtpd TUN interface across two mesh hops, in three network namespaces:
#
#   [a] zt0 fd5a:<id a>/16                [b]                  [c] zt0 fd5a:<id c>/16
#    veth 10.77.1.1 ---- 10.77.1.2 veth  veth 10.77.2.2 ---- 10.77.2.3 veth
#
# One zhtpd per namespace with static UDP peers (a - b - c), each with a TUN "zt0". Checks: the
# TUN carries the address derived from the node id (status JSON and the interface agree);
# ping a -> c across 2 hops; an HTTP GET from a to a server bound to c's mesh address; iperf3
# a -> c for 2 s; a packet above c's mesh MTU gets ICMPv6 "Packet too big" from c's own daemon;
# an address of no node gets "Destination unreachable"; the metrics count TUN traffic; a
# forged source address is not sent. Root only (namespaces, TUN); otherwise every case is
# reported skipped. All namespaces and daemons are removed on any exit.
# Usage: tun_test.sh PATH/TO/zhtpd PATH/TO/zhtp
set -u
zhtpd=${1:?usage: tun_test.sh ZHTPD ZHTP}
zhtp=${2:?usage: tun_test.sh ZHTPD ZHTP}
N=15
skip_all() { for i in $(seq 1 $N); do echo "ok $i # SKIP $1"; done; exit 0; }
echo "1..$N"
[ "$(id -u)" = 0 ] || skip_all "not root"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
for p in ip ping python3 curl iperf3; do command -v $p >/dev/null || skip_all "needs $p"; done

tag="zt-tun-$$"
dir=$(mktemp -d /tmp/zhtpd-tun-XXXXXX)
declare -A pid
ns() { echo "$tag-$1"; }
cleanup() {
    for n in "${!pid[@]}"; do kill -TERM "${pid[$n]}" 2>/dev/null; done
    sleep 0.3
    for n in "${!pid[@]}"; do kill -KILL "${pid[$n]}" 2>/dev/null; wait "${pid[$n]}" 2>/dev/null; done
    for n in a b c; do
        ip netns pids "$(ns $n)" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
        ip netns del "$(ns $n)" 2>/dev/null
    done
    kill "$watchdog" 2>/dev/null
    rm -rf "$dir" ${npdir:+"$npdir"}
}
trap cleanup EXIT
trap 'exit 1' INT TERM
main=$$
( for _ in $(seq 1 900); do sleep 0.2; kill -0 $main 2>/dev/null || exit 0; done
  echo "# watchdog: test exceeded 180 s" >&2; kill -TERM $main ) 2>/dev/null &
watchdog=$!

n_test=0 failed=0
ok() { n_test=$((n_test + 1)); echo "ok $n_test - $1"; }
not_ok() { n_test=$((n_test + 1)); failed=1; echo "not ok $n_test - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
in_ns() { local n=$1; shift; ip netns exec "$(ns $n)" "$@"; }

for n in a b c; do ip netns add "$(ns $n)" || skip_all "ip netns add failed"; in_ns $n ip link set lo up; done
# veth names are per namespace once moved; create them with unique names, then move them.
ip link add "zta$$" type veth peer name "ztb$$" || skip_all "no veth"
ip link add "ztc$$" type veth peer name "ztd$$"
ip link set "zta$$" netns "$(ns a)"; ip link set "ztb$$" netns "$(ns b)"
ip link set "ztc$$" netns "$(ns b)"; ip link set "ztd$$" netns "$(ns c)"
in_ns a ip addr add 10.77.1.1/24 dev "zta$$"; in_ns a ip link set "zta$$" up
in_ns b ip addr add 10.77.1.2/24 dev "ztb$$"; in_ns b ip link set "ztb$$" up
in_ns b ip addr add 10.77.2.2/24 dev "ztc$$"; in_ns b ip link set "ztc$$" up
in_ns c ip addr add 10.77.2.3/24 dev "ztd$$"; in_ns c ip link set "ztd$$" up

declare -A args
args[a]="--listen 10.77.1.1:7000 --peer 10.77.1.2:7000"
# b: one socket for both links (a static peer goes to the first socket of its family, and the
# kernel picks the source address per route).
args[b]="--listen 0.0.0.0:7000 --peer 10.77.1.1:7000 --peer 10.77.2.3:7000"
# c's daemon carries at most 1,400-byte packets into the mesh: larger ones get Packet Too Big.
args[c]="--listen 10.77.2.3:7000 --peer 10.77.2.2:7000 --tun-mesh-mtu 1400"
# c keeps its control socket, owned by a wallet, for `zhtp status --json`.
echo "test passphrase" >"$dir/pw"
"$zhtp" init --data-dir "$dir/c" --wallet "$dir/owner.key" --passphrase-file "$dir/pw" --kdf min >/dev/null 2>&1
declare -A ctl=([a]=--no-control [b]=--no-control [c]=)
for n in a b c; do
    # shellcheck disable=SC2086
    # not through in_ns: a backgrounded function is a subshell, and $! would be its pid
    ip netns exec "$(ns $n)" "$zhtpd" --data-dir "$dir/$n" --dev-no-passphrase ${ctl[$n]} --http 127.0.0.1:7080 \
        --tun zt0 --log-level debug ${args[$n]} 2>>"$dir/$n.log" &
    pid[$n]=$!
done

get() { # ns URL
    in_ns "$1" python3 -c 'import sys, urllib.request
try: sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())
except Exception: pass' "$2"
}
js() {
    python3 -c 'import json, sys
try:
    v = eval(sys.argv[1], {"d": json.load(sys.stdin)})
    print(json.dumps(v, separators=(",", ":")) if isinstance(v, (dict, list, bool)) else v)
except Exception: print("")' "$1"
}
status() { get "$1" http://127.0.0.1:7080/status; }
field() { status "$1" | js "d$2"; }
metric() { get "$1" http://127.0.0.1:7080/metrics | awk -v k="$2" '$1==k{print $2}'; }
wait_for() {
    local end=$((SECONDS + $1)); shift
    until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.2; done
}
line_up() {
    [ "$(field a '["peers"]')" = 1 ] && [ "$(field b '["peers"]')" = 2 ] && [ "$(field c '["peers"]')" = 1 ] &&
        [ "$(for n in a b c; do field $n '["root_id"]'; done | sort -u | wc -l)" = 1 ]
}
if wait_for 40 line_up; then ok "three daemons with a TUN each form the line a - b - c"
else not_ok "three daemons with a TUN each form the line a - b - c" "$(status a)" "$(status b)" "$(status c)"; fi

# Address = fd5a: + the first 112 bits of the node id, on the interface as /16.
declare -A id addr
for n in a b c; do id[$n]=$(field $n '["node_id"]'); addr[$n]=$(field $n '["ipv6"]'); done
derive() { python3 -c 'import ipaddress, sys; print(ipaddress.IPv6Address(bytes.fromhex("fd5a" + sys.argv[1][:28])))' "$1"; }
addr_ok() {
    for n in a b c; do
        [ -n "${id[$n]}" ] && [ "${addr[$n]}" = "$(derive "${id[$n]}")" ] || return 1
        in_ns $n ip -6 addr show dev zt0 | grep -q "inet6 ${addr[$n]}/16" || return 1
    done
}
if addr_ok; then ok "each TUN has fd5a:<first 112 bits of the node id>/16, as /status says"
else not_ok "each TUN has fd5a:<first 112 bits of the node id>/16, as /status says" "ids ${id[*]}" "addrs ${addr[*]}" "$(in_ns a ip -6 addr show dev zt0)"; fi

st_json=$("$zhtp" status --json --control "$dir/c/control.sock" --wallet "$dir/owner.key" --passphrase-file "$dir/pw" 2>&1)
if [ -n "${addr[c]}" ] && [ "$(js 'd["ipv6"]' <<<"$st_json")" = "${addr[c]}" ]; then ok "zhtp status --json shows the TUN address as ipv6"
else not_ok "zhtp status --json shows the TUN address as ipv6" "$st_json"; fi

# No /hint: the TUN resolves c's address prefix to its node id with zhtp_node_find_prefix (the
# DHT), and the node finds c's coordinates itself (locators, docs/node.md).
# ping: the first packets may wait for the end-to-end session, so allow a warm-up ping first.
in_ns a ping -6 -c 2 -W 3 "${addr[c]}" >/dev/null 2>&1
out=$(in_ns a ping -6 -c 3 -W 3 "${addr[c]}" 2>&1)
if grep -q " 0% packet loss" <<<"$out"; then ok "ping a -> c across 2 hops: 3/3 replies"
else not_ok "ping a -> c across 2 hops: 3/3 replies" "$out"; fi
fwd=$(metric b zhtp_forwarded_packets_total)
check "b relayed the packets (forwarded ${fwd:-0})" [ "${fwd:-0}" -ge 6 ]

# HTTP: a server bound to c's mesh address, a GET from a.
mkdir -p "$dir/www" && echo "hello over the mesh $$" >"$dir/www/index.txt"
ip netns exec "$(ns c)" python3 -m http.server --bind "${addr[c]}" --directory "$dir/www" 8080 >/dev/null 2>&1 &
pid[http]=$!
got() { [ "$(in_ns a curl -sS -g -m 3 "http://[${addr[c]}]:8080/index.txt" 2>/dev/null)" = "hello over the mesh $$" ]; }
if wait_for 10 got; then ok "curl from a fetches a page served on c's mesh address"
else not_ok "curl from a fetches a page served on c's mesh address" "$(in_ns a curl -sS -g -m 3 "http://[${addr[c]}]:8080/index.txt" 2>&1)"; fi

# iperf3 a -> c for 2 s.
ip netns exec "$(ns c)" iperf3 -s -1 -B "${addr[c]}" -p 5201 >/dev/null 2>&1 &
pid[iperf]=$!
sleep 0.5
ip_out=$(in_ns a iperf3 -c "${addr[c]}" -p 5201 -t 2 -J 2>&1)
bps=$(js '[d["end"]["sum_received"]["bits_per_second"]][0]' <<<"$ip_out")
mbps=$(python3 -c 'import sys; print(round(float(sys.argv[1] or 0) / 1e6, 1))' "${bps:-0}" 2>/dev/null)
if [ -n "$bps" ] && python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 1e6 else 1)' "$bps" 2>/dev/null; then
    ok "iperf3 a -> c through 2 hops: $mbps Mbit/s"
else not_ok "iperf3 a -> c through 2 hops (> 1 Mbit/s)" "$(head -c 600 <<<"$ip_out")"; fi

# Packet Too Big: c carries at most 1,400 bytes; a 2,000-byte ping from c to a is answered by
# c's daemon with ICMPv6 Packet Too Big (mtu=1400), which the kernel accepts (checksum, quote).
out=$(in_ns c ping -6 -c 2 -W 2 -s 2000 -M do "${addr[a]}" 2>&1)
if grep -qi "packet too big.*mtu=1400\|mtu = 1400\|mtu=1400" <<<"$out"; then ok "a packet above the mesh MTU gets ICMPv6 Packet too big (mtu=1400)"
else not_ok "a packet above the mesh MTU gets ICMPv6 Packet too big (mtu=1400)" "$out"; fi
big=$(get c http://127.0.0.1:7080/metrics | awk '$1=="zhtp_tun_drops_total{reason=\"too_big\"}"{print $2}')
check "c's /metrics counts the too-big drop ($big)" [ "${big:-0}" -ge 1 ]

# An address in the mesh prefix that belongs to no node.
nobody="fd5a:1:2:3:4:5:6:7"
out=$(in_ns a ping -6 -c 1 -W 6 "$nobody" 2>&1)
if grep -qi "unreachable" <<<"$out"; then ok "an address of no node gets ICMPv6 Destination unreachable"
else not_ok "an address of no node gets ICMPv6 Destination unreachable" "$out"; fi

# Source check: a packet from another address of the prefix (added to a's TUN) is not sent.
in_ns a ip -6 addr add fd5a:9::1/128 dev zt0 nodad
before=$(get a http://127.0.0.1:7080/metrics | awk '$1=="zhtp_tun_drops_total{reason=\"out_bad_src\"}"{print $2}')
out=$(in_ns a ping -6 -c 1 -W 2 -I fd5a:9::1 "${addr[c]}" 2>&1)
after=$(get a http://127.0.0.1:7080/metrics | awk '$1=="zhtp_tun_drops_total{reason=\"out_bad_src\"}"{print $2}')
if grep -q " 100% packet loss" <<<"$out" && [ "${after:-0}" -gt "${before:-0}" ]; then
    ok "a packet whose source is not the node's address is dropped and counted (bad_src $before -> $after)"
else not_ok "a packet whose source is not the node's address is dropped and counted" "$out" "bad_src $before -> $after"; fi

outp=$(metric a 'zhtp_tun_packets_total{dir="out"}'); inp=$(metric c 'zhtp_tun_packets_total{dir="in"}')
counted() { [ "${outp:-0}" -ge 5 ] && [ "${inp:-0}" -ge 5 ]; }
check "/metrics counts TUN packets (a out ${outp:-none}, c in ${inp:-none})" counted

rcs=""
for n in a b c; do kill -TERM "${pid[$n]}" 2>/dev/null; done
for n in a b c; do wait "${pid[$n]}"; rcs="$rcs$?"; unset "pid[$n]"; done
gone() { ! in_ns a ip link show zt0 >/dev/null 2>&1; }
if [ "$rcs" = 000 ] && gone; then ok "daemons exit 0 on SIGTERM and their TUN disappears"
else not_ok "daemons exit 0 on SIGTERM and their TUN disappears" "rcs $rcs"; fi

# Without privileges: --tun fails at start-up with a message naming --no-tun; --no-tun runs.
if command -v setpriv >/dev/null; then
    npdir=$(mktemp -d /tmp/zhtpd-tun-np-XXXXXX) && chmod 777 "$npdir" # $dir is 0700
    np() { timeout 5 setpriv --reuid=65534 --regid=65534 --clear-groups "$zhtpd" --data-dir "$npdir/d" \
        --dev-no-passphrase --no-control --listen 127.0.0.1:0 --tun "zt-np$$" "$@" 2>&1; }
    out=$(np); rc=$?
    if [ $rc = 1 ] && grep -q -- "--no-tun" <<<"$out"; then ok "unprivileged, --tun stops the daemon (exit 1) with a message naming --no-tun"
    else not_ok "unprivileged, --tun stops the daemon (exit 1) with a message naming --no-tun" "rc=$rc" "$(tail -3 <<<"$out")"; fi
    out=$(np --no-tun); rc=$?
    if [ $rc = 124 ] && ! grep -q "error" <<<"$out"; then ok "unprivileged, --no-tun overrides --tun and the daemon runs"
    else not_ok "unprivileged, --no-tun overrides --tun and the daemon runs" "rc=$rc" "$(tail -3 <<<"$out")"; fi
    rm -rf "$npdir"; npdir=""
else
    ok "unprivileged --tun fails clearly # SKIP needs setpriv"
    ok "unprivileged --no-tun runs # SKIP needs setpriv"
fi

if [ $failed != 0 ]; then for n in a b c; do echo "# --- $n.log (tail)"; tail -25 "$dir/$n.log" | sed 's/^/# /'; done; fi
exit $failed
