#!/usr/bin/env bash
# iperf3 TCP through zhtpd's TUN across two mesh hops (docs/tun.md "Throughput"). Root only.
#
#   [a] zt0 --veth 10.78.1.0/24-- [b] --veth 10.78.2.0/24-- [c] zt0       a -> c, relayed by b
#
# Usage: bench/tun/iperf.sh ZHTPD TUN_MTU SECONDS [iperf3 client args]
# Env: ZARGS extra zhtpd flags (e.g. "--udp-mtu 32000"); PERF=1 records a perf profile of the
# three daemons to ${PERF_OUT:-/tmp/zt-tunb-perf.data}. Prints iperf3's summary, the daemons' CPU seconds (a/b/c)
# and CPU seconds per GB received (as ../shared/bench/overlay counts them), then per node the kernel's
# UDP buffer drops and the non-zero zhtpd drop counters. Everything is removed on exit.
set -u
zhtpd=${1:?usage: iperf.sh ZHTPD TUN_MTU SECONDS} mtu=${2:?} secs=${3:?}; shift 3
[ "$(id -u)" = 0 ] || { echo "iperf.sh: needs root (namespaces, TUN)" >&2; exit 1; }
tag="zt-tunb-$$"; dir=$(mktemp -d /tmp/zt-tunb-XXXXXX)
ns() { echo "$tag-$1"; }
x() { ip netns exec "$(ns $1)" "${@:2}"; }
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.3
    for n in a b c; do ip netns pids "$(ns $n)" 2>/dev/null | xargs -r kill -KILL; ip netns del "$(ns $n)" 2>/dev/null; done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
for n in a b c; do ip netns add "$(ns $n)"; x $n ip link set lo up; done
ip link add "zba$$" type veth peer name "zbb$$"; ip link add "zbc$$" type veth peer name "zbd$$"
ip link set "zba$$" netns "$(ns a)"; ip link set "zbb$$" netns "$(ns b)"
ip link set "zbc$$" netns "$(ns b)"; ip link set "zbd$$" netns "$(ns c)"
x a ip addr add 10.78.1.1/24 dev "zba$$"; x a ip link set "zba$$" up
x b ip addr add 10.78.1.2/24 dev "zbb$$"; x b ip link set "zbb$$" up
x b ip addr add 10.78.2.2/24 dev "zbc$$"; x b ip link set "zbc$$" up
x c ip addr add 10.78.2.3/24 dev "zbd$$"; x c ip link set "zbd$$" up
declare -A A
A[a]="--listen 10.78.1.1:7000 --peer 10.78.1.2:7000"
A[b]="--listen 0.0.0.0:7000 --peer 10.78.1.1:7000 --peer 10.78.2.3:7000"
A[c]="--listen 10.78.2.3:7000 --peer 10.78.2.2:7000"
for n in a b c; do
    # shellcheck disable=SC2086
    ip netns exec "$(ns $n)" "$zhtpd" --data-dir "$dir/$n" --dev-no-passphrase --no-control \
        --http 127.0.0.1:7080 --tun zt0 --tun-mtu "$mtu" ${ZARGS:-} --log-level warn ${A[$n]} \
        2>"$dir/$n.log" &
    pids+=($!)
done
get() { x "$1" python3 -c 'import sys, urllib.request
try: print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())
except Exception: pass' "$2"; }
js() { python3 -c 'import json, sys
try: d = json.load(sys.stdin); print(eval(sys.argv[1]))
except Exception: print("")' "$1"; }
st() { get "$1" http://127.0.0.1:7080/status; }
for _ in $(seq 1 150); do
    roots=$(for n in a b c; do st $n | js 'd["root_id"]'; done | sort -u | wc -l)
    [ "$roots" = 1 ] && [ "$(st a | js 'd["peers"]')" = 1 ] && [ "$(st c | js 'd["peers"]')" = 1 ] && break
    sleep 0.2
done
declare -A id co ad
for n in a b c; do
    s=$(st $n); id[$n]=$(js 'd["node_id"]' <<<"$s"); ad[$n]=$(js 'd["ipv6"]' <<<"$s")
    co[$n]=$(js '".".join(map(str, d["coords"]))' <<<"$s")
done
for n in a b c; do for m in a b c; do
    [ $n = $m ] || get $n "http://127.0.0.1:7080/hint?id=${id[$m]}&coords=${co[$m]}" >/dev/null
done; done
x a ping -6 -c 2 -W 3 "${ad[c]}" >/dev/null || echo "# warning: warm-up ping a -> c failed"
ip netns exec "$(ns c)" iperf3 -s -1 -B "${ad[c]}" >/dev/null 2>&1 &
pids+=($!)
sleep 0.5
if [ -n "${PERF:-}" ]; then
    perf record -q -g -o "${PERF_OUT:-/tmp/zt-tunb-perf.data}" -p "$(IFS=,; echo "${pids[*]:0:3}")" \
        -- sleep $((secs > 1 ? secs - 1 : 1)) >/dev/null 2>&1 &
    perf_pid=$!
fi
cpu() { awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); split($0, f, " "); printf "%.2f", (f[12] + f[13]) / hz}' "/proc/$1/stat"; }
declare -A c0
for i in 0 1 2; do c0[$i]=$(cpu "${pids[$i]}"); done
x a iperf3 -c "${ad[c]}" -t "$secs" "$@" | tee "$dir/iperf.out" | tail -4
[ -n "${PERF:-}" ] && wait "$perf_pid"
# CPU seconds of the three daemons during the run, and per GB received (as the overlay bench)
cs=""; tot=0
for i in 0 1 2; do d=$(awk -v a="$(cpu "${pids[$i]}")" -v b="${c0[$i]}" 'BEGIN {printf "%.2f", a - b}'); cs+="${cs:+/}$d"; tot=$(awk -v a="$tot" -v b="$d" 'BEGIN {print a + b}'); done
gb=$(awk '/receiver/ {v = $5; u = $6} END {m = u ~ /^G/ ? 1.073741824 : u ~ /^M/ ? 0.001048576 : 0.000001024; print v * m}' "$dir/iperf.out")
echo "== daemon CPU s a/b/c: $cs; CPU s/GB: $(awk -v c="$tot" -v g="$gb" 'BEGIN {if (g > 0) printf "%.2f", c / g; else print "NA"}')"
for n in a b c; do
    echo "== $n: $(x $n nstat -az UdpRcvbufErrors UdpSndbufErrors | awk '!/^#/{printf "%s %s  ", $1, $2}')"
    get $n http://127.0.0.1:7080/metrics | grep -E '^zhtp_(tun_)?drops_total' | grep -v ' 0$'
done
