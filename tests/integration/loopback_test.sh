#!/usr/bin/env bash
# zhtpd on loopback: 3 daemons in a line a - b - c (static UDP peers on 127.0.0.1).
# Checks: the ends authenticate the middle and share one tree; an end-to-end message from a
# to c is delivered through b and acknowledged; SIGTERM stops a daemon within 2 s with status
# 0; a restarted daemon keeps its node id (identity persisted) and rejoins; bad flags exit 2
# with a message; SIGHUP reloads peers from the config file. TAP on stdout. Every wait is bounded; all daemons are killed on any exit.
# Usage: loopback_test.sh PATH/TO/zhtpd
set -u
. "${BASH_SOURCE[0]%/*}/it_lib.sh"
zhtpd=${1:?usage: loopback_test.sh ZHTPD}
command -v python3 >/dev/null || { echo "1..0 # SKIP needs python3"; exit 0; }
dir=$(mktemp -d /tmp/zhtpd-it-XXXXXX)
declare -A pid udp http
cleanup() {
    for n in "${!pid[@]}"; do kill -TERM "${pid[$n]}" 2>/dev/null; done
    sleep 0.3
    for n in "${!pid[@]}"; do kill -KILL "${pid[$n]}" 2>/dev/null; wait "${pid[$n]}" 2>/dev/null; done
    kill "$watchdog" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
it_watchdog 120


for n in a b c d; do udp[$n]=$(free_port udp); http[$n]=$(free_port tcp); done
peers_a=(--peer "127.0.0.1:${udp[b]}")
peers_b=(--peer "127.0.0.1:${udp[a]}" --peer "127.0.0.1:${udp[c]}")
peers_c=(--peer "127.0.0.1:${udp[b]}")
start() { # name
    local n=$1 v="peers_$1[@]"
    "$zhtpd" --data-dir "$dir/$n" --dev-no-passphrase --listen "127.0.0.1:${udp[$n]}" \
        --http "127.0.0.1:${http[$n]}" --log-level debug "${!v}" 2>>"$dir/$n.log" &
    pid[$n]=$!
}
# HTTP GET and JSON field extraction with python3 only (in scripts/install-deps; curl and jq
# are not). get URL: the body, empty on any error. js EXPR: EXPR over d = JSON from stdin.
get() {
    python3 -c 'import sys, urllib.request
try: sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())
except Exception: pass' "$1"
}
js() {
    python3 -c 'import json, sys
try:
    v = eval(sys.argv[1], {"d": json.load(sys.stdin)})
    print(json.dumps(v, separators=(",", ":")) if isinstance(v, (dict, list, bool)) else v)
except Exception: print("")' "$1"
}
status() { get "http://127.0.0.1:${http[$1]}/status"; }
field() { status "$1" | js "d$2"; } # field NODE '["messages"]["acked"]'
wait_for() { # timeout_s command...: polls every 0.2 s
    local end=$((SECONDS + $1)); shift
    until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.2; done
}
line_up() {
    [ "$(field a '["peers"]')" = 1 ] && [ "$(field b '["peers"]')" = 2 ] && [ "$(field c '["peers"]')" = 1 ] &&
        [ "$(for n in a b c; do field $n '["root_id"]'; done | sort -u | wc -l)" = 1 ]
}

echo "1..15"
start a; start b; start c
all_answer() { [ -n "$(field a '["node_id"]')" ] && [ -n "$(field b '["node_id"]')" ] && [ -n "$(field c '["node_id"]')" ]; }
check "three daemons answer /status" wait_for 10 all_answer
if wait_for 30 line_up; then ok "the ends authenticate the middle and all three share one tree root"
else not_ok "the ends authenticate the middle and all three share one tree root" "$(status a)" "$(status b)" "$(status c)"; fi

declare -A id co
for n in a b c; do id[$n]=$(field $n '["node_id"]'); co[$n]=$(status $n | js '".".join(map(str, d["coords"]))'); done
for n in a b c; do for m in a b c; do
    [ $n = $m ] || get "http://127.0.0.1:${http[$n]}/hint?id=${id[$m]}&coords=${co[$m]}" >/dev/null
done; done
get "http://127.0.0.1:${http[a]}/send?to=${id[c]}&msg=it-probe" >/dev/null
delivered() { [ "$(field c '["messages"]["received"]')" -ge 1 ] 2>/dev/null && [ "$(field c '["messages"]["last_text"]')" = it-probe ] &&
    [ "$(field c '["messages"]["last_from"]')" = "${id[a]}" ] && [ "$(field a '["messages"]["acked"]')" -ge 1 ] 2>/dev/null; }
if wait_for 20 delivered; then ok "a message from a reaches c through b and is acknowledged end to end"
else not_ok "a message from a reaches c through b and is acknowledged end to end" "$(status a)" "$(status c)"; fi
fwd=$(get "http://127.0.0.1:${http[b]}/metrics" | awk '$1=="zhtp_forwarded_packets_total"{print $2}')
check "b's /metrics counts the packets it relayed" [ "${fwd:-0}" -ge 1 ]
m=$(get "http://127.0.0.1:${http[b]}/metrics")
mval() { awk -v k="$1" '$1==k{print $2}' <<<"$m"; }
hs=$(($(mval 'zhtp_handshakes_total{role="initiator"}') + $(mval 'zhtp_handshakes_total{role="responder"}')))
echo "# b: $(grep -E '^zhtp_(peers|sessions|handshakes_total|link_)' <<<"$m" | tr '\n' ' ')"
check "b's /metrics: 2 udp peers, >= 2 sessions and handshakes, packets both ways on its link" \
    [ "$(mval 'zhtp_peers{medium="udp",state="authenticated"}')" = 2 -a "$(mval zhtp_sessions)" -ge 2 \
    -a "$hs" -ge 2 -a "$(mval "zhtp_link_packets_total{link=\"127.0.0.1:${udp[b]}\",dir=\"in\"}")" -ge 1 \
    -a "$(mval "zhtp_link_bytes_total{link=\"127.0.0.1:${udp[b]}\",dir=\"out\"}")" -ge 1 ]

# SIGTERM: clean exit within 2 s.
old_c=${id[c]}
t0=$(date +%s%N)
kill -TERM "${pid[c]}"
rc=124
for _ in $(seq 1 20); do
    if ! kill -0 "${pid[c]}" 2>/dev/null; then wait "${pid[c]}"; rc=$?; break; fi
    sleep 0.1
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
unset 'pid[c]'
if [ $rc = 0 ]; then ok "SIGTERM stops a daemon with status 0 within 2 s (${ms} ms)"
else not_ok "SIGTERM stops a daemon with status 0 within 2 s" "rc=$rc after ${ms} ms"; fi

# Wait until b has noticed c is gone: this tests loss detection. (A restart inside b's expiry
# window also heals now, whichever side dials: node_test's node_restarted_neighbour_* cases.)
b_lost_c() { [ "$(field b '["peers"]')" = 1 ]; }
check "b notices the stopped daemon is gone (neighbour expiry)" wait_for 15 b_lost_c
same_id() { [ "$(field c '["node_id"]')" = "$old_c" ]; }
start c
check "a restarted daemon keeps its node id (identity persisted in --data-dir)" \
    wait_for 10 same_id
check "the restarted daemon rejoins: b sees both neighbours again" wait_for 30 line_up

out=$("$zhtpd" --data-dir "$dir/x" --listen 127.0.0.1:1 --bogus-flag 1 2>&1); rc=$?
if [ $rc = 2 ] && grep -q "unknown key" <<<"$out"; then ok "an unknown flag exits 2 with a message"
else not_ok "an unknown flag exits 2 with a message" "rc=$rc: $out"; fi
out=$("$zhtpd" --data-dir "$dir/x" --listen not-an-address 2>&1); rc=$?
if [ $rc = 2 ] && grep -q "ADDR:PORT" <<<"$out"; then ok "a malformed --listen exits 2 with a message"
else not_ok "a malformed --listen exits 2 with a message" "rc=$rc: $out"; fi

printf 'data_dir = %s/x\nlisten = 127.0.0.1:1\nlisten_typo = 1\n' "$dir" >"$dir/bad.conf"
out=$("$zhtpd" --config "$dir/bad.conf" 2>&1); rc=$?
if [ $rc = 2 ] && grep -q "bad.conf:3: unknown key 'listen_typo'" <<<"$out"; then ok "a bad config key exits 2 naming FILE:LINE"
else not_ok "a bad config key exits 2 naming FILE:LINE" "rc=$rc: $out"; fi
out=$("$zhtpd" --help 2>&1); rc=$?
if [ $rc = 0 ] && grep -q -- "--listen ADDR:PORT" <<<"$out"; then ok "--help exits 0 and lists the flags"
else not_ok "--help exits 0 and lists the flags" "rc=$rc"; fi

# SIGHUP: d starts from a config file without peers, then a's address is added to the file and
# d is sent SIGHUP. a never lists d: it learns d from d's datagrams ("heard" peers).
printf 'listen = 127.0.0.1:%s\nlog_level = debug\n' "${udp[d]}" >"$dir/d.conf"
"$zhtpd" --config "$dir/d.conf" --data-dir "$dir/d" --dev-no-passphrase \
    --http "127.0.0.1:${http[d]}" 2>>"$dir/d.log" &
pid[d]=$!
d_alone() { [ "$(field d '["state"]')" = searching ]; }
wait_for 10 d_alone && sleep 1.5
d_alone_still=$(field d '["peers"]')
printf 'peer = 127.0.0.1:%s\n' "${udp[a]}" >>"$dir/d.conf"
kill -HUP "${pid[d]}"
d_joined() { [ "$(field d '["peers"]')" = 1 ] && [ "$(field a '["peers"]')" = 2 ]; }
if [ "$d_alone_still" = 0 ] && wait_for 15 d_joined; then ok "SIGHUP adds the config file's new peer; the peer accepts a node it does not list"
else not_ok "SIGHUP adds the config file's new peer; the peer accepts a node it does not list" "before: $d_alone_still" "$(status d)" "$(status a)"; fi

# Every daemon stops cleanly (status 0: also no sanitizer report in sanitizer builds).
rcs=""
for n in a b c d; do kill -TERM "${pid[$n]}" 2>/dev/null; done
for n in a b c d; do wait "${pid[$n]}"; rcs="$rcs$?"; unset "pid[$n]"; done
check "all daemons exit 0 on SIGTERM at the end (rcs $rcs)" [ "$rcs" = 0000 ]

if [ $failed != 0 ]; then for n in a b c d; do echo "# --- $n.log (tail)"; tail -15 "$dir/$n.log" | sed 's/^/# /'; done; fi
exit $failed
