#!/usr/bin/env bash
# LAN discovery (src/runtime/discovery.h) in network namespaces, no static peers anywhere:
#
#     ns a (eth0) --+
#     ns b (eth0) --+-- bridge br0 (ns br)
#     ns c (eth0) --+
#
# Phase 1: a zhtpd in each of a, b, c listening on [::]:7000 only: IPv6 link-local multicast
# beacons; every node must have the other two as authenticated neighbours. Phase 2: a second
# zhtpd in a and in b listening on 0.0.0.0:7002 only (no IPv6 socket): the IPv4 broadcast
# fallback; they must become neighbours. Negative control: a zhtpd in c with --discovery off
# stays alone; a zhtpd given an interface that does not exist refuses to start (exit 1).
# Needs root (namespaces); otherwise every case is reported skipped. TAP; bounded; cleans up.
# Usage: lan_test.sh PATH/TO/zhtpd
set -u
. "${BASH_SOURCE[0]%/*}/it_lib.sh"
zhtpd=${1:?usage: lan_test.sh ZHTPD}
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v python3 >/dev/null; then
    echo "1..1"; echo "ok 1 # SKIP needs root, iproute2 and python3 (network namespaces)"; exit 0
fi
dir=$(mktemp -d /tmp/zhtp-lan-it-XXXXXX)
sfx=$$
nss=(zla$sfx zlb$sfx zlc$sfx)
br=zlbr$sfx
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for n in "${nss[@]}" "$br"; do ip netns del "$n" 2>/dev/null; done
    kill "$watchdog" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
it_watchdog 120


# ---- topology ----
ip netns add "$br" && ip -n "$br" link add br0 type bridge && ip -n "$br" link set br0 up || {
    echo "1..1"; echo "ok 1 # SKIP cannot create namespaces or a bridge here"; exit 0; }
i=0
for n in "${nss[@]}"; do
    i=$((i + 1))
    ip netns add "$n"
    ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip link add "v$i$sfx" netns "$n" type veth peer name "p$i$sfx" netns "$br"
    ip -n "$n" link set "v$i$sfx" name eth0
    ip -n "$n" addr add "10.77.0.$i/24" brd + dev eth0
    ip -n "$n" link set lo up
    ip -n "$n" link set eth0 up
    ip -n "$br" link set "p$i$sfx" master br0
    ip -n "$br" link set "p$i$sfx" up
done
sleep 0.5 # link-local addresses (no DAD) and the bridge ports come up

start() { # ns name listen http [extra]
    local ns=$1 name=$2 listen=$3 http=$4; shift 4
    ip netns exec "$ns" "$zhtpd" --data-dir "$dir/$name" --dev-no-passphrase --no-control \
        --listen "$listen" --http "127.0.0.1:$http" --discovery-interval-ms 500 "$@" \
        2>"$dir/$name.log" &
    pids+=($!)
}
status() { # ns http
    ip netns exec "$1" python3 -c 'import sys, urllib.request
try: sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:%s/status" % sys.argv[1], timeout=2).read().decode())
except Exception: pass' "$2"
}
peers() { status "$1" "$2" | python3 -c 'import json, sys
try: print(json.load(sys.stdin)["peers"])
except Exception: print("")'; }
wait_peers() { # ns http count seconds
    for _ in $(seq 1 $(($4 * 5))); do [ "$(peers "$1" "$2")" = "$3" ] && return 0; sleep 0.2; done
    return 1
}

# ---- phase 1: IPv6 multicast ----
for k in 0 1 2; do start "${nss[$k]}" "n$k" "[::]:7000" 8080; done
got=1
for k in 0 1 2; do wait_peers "${nss[$k]}" 8080 2 25 || got=0; done
check "IPv6 multicast: each of 3 nodes with no static peers has the other 2 as neighbours" test $got = 1
[ $got = 1 ] || { for k in 0 1 2; do echo "# n$k peers=$(peers "${nss[$k]}" 8080): $(grep -m2 -i 'discovery' "$dir/n$k.log" | tr '\n' ' ')"; done; }
check "the daemon logs the candidate from a beacon (link-local source)" \
    grep -q "LAN discovery: candidate peer \[fe80::" "$dir/n0.log"

# ---- phase 2: IPv4 broadcast fallback ----
start "${nss[0]}" v4a "0.0.0.0:7002" 8081
start "${nss[1]}" v4b "0.0.0.0:7002" 8081
got=1
wait_peers "${nss[0]}" 8081 1 25 && wait_peers "${nss[1]}" 8081 1 10 || got=0
check "IPv4 broadcast fallback: two IPv4-only nodes become neighbours" test $got = 1
check "the IPv4 candidate came from a broadcast beacon" \
    grep -q "LAN discovery: candidate peer 10.77.0.2:7002" "$dir/v4a.log"

# ---- negative controls ----
start "${nss[2]}" off "[::]:7003" 8082 --discovery off
sleep 3
check "a node with --discovery off and no peers stays alone" test "$(peers "${nss[2]}" 8082)" = 0
ip netns exec "${nss[2]}" "$zhtpd" --data-dir "$dir/bad" --dev-no-passphrase --no-control \
    --listen "[::]:7004" --discovery-interfaces nosuch0 2>"$dir/bad.log"
rc=$?
check "an unknown discovery interface is a start-up error (exit 1)" \
    eval "test $rc -eq 1 && grep -q 'no interface .nosuch0.' '$dir/bad.log'"
echo "1..$n_test"
exit $failed
