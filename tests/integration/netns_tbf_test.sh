#!/usr/bin/env bash
# A slow link in the path, and a relay restarted mid-run. Three hosts in network namespaces in a
# line a - b - c; the b - c veth is shaped to 1 Mbit/s with tc tbf in both directions. Checks:
# the daemons authenticate across the slow link (a handshake is ~13 KB); a message a -> c
# crosses it; a burst of 800-byte messages all arrive; ping -6 over the daemons' TUN crosses
# it; a TCP stream over the TUN crosses it at a plausible rate (200..1000 kbit/s); zhtpd on b
# is stopped mid-stream and started again: it rejoins both neighbours with the same node id
# and messages flow again. TAP on stdout; needs root.
# Usage: netns_tbf_test.sh PATH/TO/zhtpd [PATH/TO/zhtp]
set -u
# shellcheck source=netns_lib.sh
. "$(dirname "$0")/netns_lib.sh"
nl_init "${1:?usage: netns_tbf_test.sh ZHTPD [ZHTP]}" "${2:-}" 90
RATE=${TBF_RATE-1mbit} # TBF_RATE="" : no shaping, for comparison
BURST_N=${BURST_N:-50}
BURST_LEN=800 # /send takes request lines up to 1 KiB (path buffer), so < ~900 bytes

nodes=(a b c)
nl_ns "${nodes[@]}" || { not_ok "namespaces created"; nl_done; }
nl_link a b || { not_ok "veth a-b"; nl_done; }
nl_link b c "$RATE" || { not_ok "veth b-c with tbf $RATE"; nl_done; }
check "tc shows tbf at 1Mbit on b's link to c" \
    bash -c "ip netns exec ${NL_PFX}b tc qdisc show dev ${NL_DEV[b:c]} | grep -q 'tbf.*rate 1Mbit'"
nl_peers a b
nl_peers b a c
nl_peers c b
for n in "${nodes[@]}"; do nl_start "$n" --tun zt0; done

line_up() { nl_peers_are a 1 && nl_peers_are b 2 && nl_peers_are c 1 && nl_one_tree a b c; }
t0=$(nl_ms)
if nl_wait 40 line_up; then
    ok "the three daemons authenticate across the 1 Mbit/s link, one tree ($(($(nl_ms) - t0)) ms)"
else
    not_ok "the three daemons authenticate across the 1 Mbit/s link, one tree" \
        "$(for n in "${nodes[@]}"; do echo "$n: $(nl_status "$n")"; done)"
    nl_done
fi
declare -A id
for n in "${nodes[@]}"; do id[$n]=$(nl_id "$n"); done

nl_send a "${id[c]}" slow-$$ >/dev/null
t0=$(nl_ms)
if nl_wait 20 nl_received c "slow-$$" "${id[a]}"; then
    ok "a message from a reaches c across the 1 Mbit/s link ($(($(nl_ms) - t0)) ms)"
else
    not_ok "a message from a reaches c across the 1 Mbit/s link" "a: $(nl_status a)" "c: $(nl_status c)"
fi

# Burst: BURST_N messages of BURST_LEN bytes queued at a at once (one python process, so the
# HTTP calls take milliseconds, not the link); the clock runs until c has received them all.
received() { nl_field c '["messages"]["received"]'; }
r0=$(received)
t0=$(nl_ms)
nsx a python3 - "$NL_HTTP" "${id[c]}" "$BURST_N" "$BURST_LEN" <<'PY'
import sys, urllib.request
port, to, n, ln = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for i in range(n):
    body = ("burst%05d-" % i).ljust(ln, "x")
    urllib.request.urlopen("http://127.0.0.1:%s/send?to=%s&msg=%s" % (port, to, body), timeout=5).read()
PY
all_in() { [ "$(received)" -ge $((r0 + BURST_N)) ] 2>/dev/null; }
if nl_wait 40 all_in; then
    ms=$(($(nl_ms) - t0))
    kbit=$((BURST_N * BURST_LEN * 8 / ms)) # bits per ms = kbit/s
    ok "all $BURST_N messages of $BURST_LEN bytes cross the 1 Mbit/s link ($ms ms)"
    # Not asserted: the burst overflows tbf's 200 ms queue and reliable messages back off.
    note "message burst goodput: $kbit kbit/s of application bytes over a 1000 kbit/s tbf link"
else
    not_ok "all $BURST_N messages of $BURST_LEN bytes cross the 1 Mbit/s link" \
        "c received $(($(received) - r0)) in 40 s" "a: $(nl_status a)"
fi

# Small packets over the TUN (default settings) cross the slow link.
ip6_c=$(nl_ip6 c)
if [ -n "$ip6_c" ] && nl_wait 15 nl_ping6_ok a "$ip6_c"; then
    ok "ping -6 from a to c's mesh address is answered across the 1 Mbit/s link"
else
    not_ok "ping -6 from a to c's mesh address is answered across the 1 Mbit/s link" "c ipv6: '$ip6_c'"
fi
# TCP over the daemons' TUN interfaces at the default TUN MTU: TCP paces itself to the link,
# so a stream a -> c reaches the link's rate less the overheads: plausible between 200 and
# 1000 kbit/s of payload. (With the former default TUN MTU of 65535 it stalled: one 64 KiB
# packet is ~50 frames, more than tbf's 200 ms queue at 1 Mbit/s holds.)
read -r got ms < <(nl_tcp_rate a c "$ip6_c" 262144 30)
if [ "${got:-0}" = 262144 ] && [ "${ms:-0}" -gt 0 ]; then
    kbit=$((got * 8 / ms))
    ok "a TCP stream a -> c over the mesh crosses the 1 Mbit/s link: 256 KiB in $ms ms ($kbit kbit/s)"
    check "the measured TCP rate is plausible for the link: 200 <= $kbit <= 1000 kbit/s" \
        [ "$kbit" -ge 200 -a "$kbit" -le 1000 ]
else
    not_ok "a TCP stream a -> c over the mesh crosses the 1 Mbit/s link" "received ${got:-nothing} in ${ms:-?} ms (limit 30 s)" \
        "$(tail -3 "$NL_DIR/tcp-rate.log" 2>/dev/null)"
fi
# With TUN offload (the default) TCP sizes its super-packets by its pacing rate: few and small
# on this link. Not asserted; shows whether big packets crossed the slow link.
note "TUN offload during the stream: super-packets read at a $(nl_metric a zhtp_tun_gso_in_total), GSO writes at c $(nl_metric c zhtp_tun_gso_out_total)"

# Restart of the relay mid-run: a keeps sending; b is stopped (SIGTERM), restarted 1 s later
# with the same data dir, must come back to both neighbours with the same id, and carry again.
old_b=${id[b]}
co_c=$(nl_status c | nl_js '".".join(map(str, d["coords"]))')
nl_send a "${id[c]}" pre-restart-$$ >/dev/null
sleep 0.3
nl_kill b TERM
t_stop=$(nl_ms)
nl_send a "${id[c]}" while-down-$$ >/dev/null
sleep 1
nl_start b
rejoined() { nl_peers_are b 2 && nl_peers_are a 1 && nl_peers_are c 1; }
if nl_wait 30 rejoined; then
    ok "zhtpd on b restarted mid-run rejoins a and c ($(($(nl_ms) - t_stop)) ms after the stop)"
else
    not_ok "zhtpd on b restarted mid-run rejoins a and c" "a: $(nl_status a)" "b: $(nl_status b)" "c: $(nl_status c)"
fi
check "the restarted b has the same node id" [ "$(nl_id b)" = "$old_b" ]
co_c2=$(nl_status c | nl_js '".".join(map(str, d["coords"]))')
note "c's tree coordinates: [$co_c] before the restart, [$co_c2] after"
seq_no=0 t_ok=""
while [ $(($(nl_ms) - t_stop)) -lt 30000 ]; do
    seq_no=$((seq_no + 1))
    nl_send a "${id[c]}" "resumed-$$-$seq_no" >/dev/null
    if nl_wait 1 nl_received c "resumed-$$-$seq_no" "${id[a]}"; then
        t_ok=$(nl_ms)
        break
    fi
done
if [ -n "$t_ok" ]; then
    ok "traffic a -> c resumes through the restarted b ($((t_ok - t_stop)) ms after the stop)"
else
    not_ok "traffic a -> c resumes through the restarted b" "a: $(nl_status a)" "c: $(nl_status c)"
fi

rcs=""
for n in "${nodes[@]}"; do
    p=${NL_PID[$n]}
    kill -TERM "$p" 2>/dev/null
    wait "$p"
    rcs+=$?
    NL_PID[$n]=""
done
check "all three daemons exit 0 on SIGTERM (rcs $rcs)" [ "$rcs" = 000 ]
nl_done
