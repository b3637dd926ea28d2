#!/usr/bin/env bash
# A restarted zhtpd rejoins from its peer memory (DATA_DIR/store, src/runtime/peers.h), without
# the peers of its configuration:
#
#     run 1:  a --peer b  ---->  b (no peers; accepts a by hearing it)
#     run 2:  a (no peers)       b (no peers, and its store deleted: b cannot call a)
#
# Checks: run 1 connects; in run 2 a logs its remembered peer and both have a neighbour again
# within 20 s, and b's node id is the one a saw before; a third node with an empty data
# directory and no peers, started beside them, stays alone (nothing but memory brought a and b
# together). TAP; bounded waits; daemons killed on exit.
# Usage: restart_test.sh PATH/TO/zhtpd
set -u
. "${BASH_SOURCE[0]%/*}/it_lib.sh"
zhtpd=${1:?usage: restart_test.sh ZHTPD}
command -v python3 >/dev/null || { echo "1..0 # SKIP needs python3"; exit 0; }
dir=$(mktemp -d /tmp/zhtp-restart-it-XXXXXX)
declare -A pid
cleanup() {
    for p in "${pid[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${pid[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    kill "$watchdog" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
it_watchdog 90

get() { python3 -c 'import sys, urllib.request
try: sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())
except Exception: pass' "$1"; }
js() { python3 -c 'import json, sys
try: print(eval(sys.argv[1], {"d": json.load(sys.stdin)}))
except Exception: print("")' "$1"; }

declare -A udp http
for n in a b c; do udp[$n]=$(free_port udp); http[$n]=$(free_port tcp); done
start() { # name [extra args]
    local n=$1; shift
    "$zhtpd" --data-dir "$dir/$n" --dev-no-passphrase --no-control --listen "127.0.0.1:${udp[$n]}" \
        --http "127.0.0.1:${http[$n]}" "$@" 2>>"$dir/$n.log" &
    pid[$n]=$!
}
stop() {
    kill -TERM "${pid[$1]}"; wait "${pid[$1]}" 2>/dev/null; unset "pid[$1]"
}
peers() { get "http://127.0.0.1:${http[$1]}/status" | js 'd["peers"]'; }
wait_peers() { # name count seconds
    for _ in $(seq 1 $(($3 * 5))); do [ "$(peers "$1")" = "$2" ] && return 0; sleep 0.2; done
    return 1
}

start b
start a --peer "127.0.0.1:${udp[b]}"
check "run 1: a (with --peer b) and b (no peers) become neighbours" \
    eval "wait_peers a 1 20 && wait_peers b 1 10"
b_id=$(get "http://127.0.0.1:${http[b]}/status" | js 'd["node_id"]')
sleep 1.5 # one beacon round after the neighbour came up: the entry is written at NEIGHBOUR_UP
stop a
stop b
check "a's peer memory exists in DATA_DIR/store" test -f "$dir/a/store/data.mdb"
rm -rf "$dir/b/store" # b forgets a: only a's memory can bring them together again

: >"$dir/a.log"
start b
start a
start c
check "run 2: a (no peers configured) rejoins b within 20 s" \
    eval "wait_peers a 1 20 && wait_peers b 1 10"
check "a logged the remembered peer b" grep -q "remembered peer 127.0.0.1:${udp[b]}" "$dir/a.log"
nbr=$(get "http://127.0.0.1:${http[a]}/status" | js 'd["neighbours"][0]["id"]')
check "a's neighbour is b's node id from run 1" test "$nbr" = "$b_id"
check "c (empty data directory, no peers) stays alone" test "$(peers c)" = 0
echo "1..$n_test"
exit $failed
