#!/usr/bin/env bash
# Rerouting around a dead relay. Four hosts in network namespaces, a square of veth links:
#
#       b
#     /   \        a reaches d through b or through c (no IP forwarding anywhere)
#   a       d
#     \   /
#       c
#
# After the mesh forms, a sends d a message and pings d's mesh IPv6 address (zhtpd --tun); the
# middle node that relayed them (the one whose forwarded-packet counter moved most) is killed
# with SIGKILL, so it says goodbye to no one. Two measures of the recovery, each printed: a ping
# every 0.1 s runs across the kill, and the time from the kill to the first reply after it, the
# data-plane outage, must be at most 5 s; a fresh end-to-end message is sent every 0.5 s after
# the kill, and the first one must be delivered at d within 10 s (sampling is coarser).
# No operator hints: the nodes locate each other themselves (the node's DHT locator).
# TAP on stdout; needs root.
# Usage: netns_reroute_test.sh PATH/TO/zhtpd [PATH/TO/zhtp]
set -u
# shellcheck source=netns_lib.sh
. "$(dirname "$0")/netns_lib.sh"
nl_init "${1:?usage: netns_reroute_test.sh ZHTPD [ZHTP]}" "${2:-}" 75
REROUTE_MAX_MS=${REROUTE_MAX_MS:-5000}

nodes=(a b c d)
nl_ns "${nodes[@]}" || { not_ok "namespaces created"; nl_done; }
for l in a:b a:c b:d c:d; do nl_link "${l%:*}" "${l#*:}" || { not_ok "veth links"; nl_done; }; done
nl_peers a b c
nl_peers b a d
nl_peers c a d
nl_peers d b c
for n in "${nodes[@]}"; do nl_start "$n" --tun zt0; done

square_up() {
    local n
    for n in "${nodes[@]}"; do nl_peers_are "$n" 2 || return 1; done
    nl_one_tree "${nodes[@]}"
}
t0=$(nl_ms)
if nl_wait 40 square_up; then
    ok "the square forms: every daemon has its 2 neighbours, one tree ($(($(nl_ms) - t0)) ms)"
else
    not_ok "the square forms: every daemon has its 2 neighbours, one tree" \
        "$(for n in "${nodes[@]}"; do echo "$n: $(nl_status "$n")"; done)"
    nl_done
fi
declare -A id
for n in "${nodes[@]}"; do id[$n]=$(nl_id "$n"); done

ip6_d=$(nl_ip6 d)
check "d has a mesh IPv6 address ($ip6_d)" [ -n "$ip6_d" ]
fb=$(nl_metric b zhtp_forwarded_packets_total)
fc=$(nl_metric c zhtp_forwarded_packets_total)
nl_send a "${id[d]}" before-$$ >/dev/null
if nl_wait 20 nl_received d "before-$$" "${id[a]}"; then
    ok "a message from a reaches d before the failure"
else
    not_ok "a message from a reaches d before the failure" "a: $(nl_status a)" "d: $(nl_status d)"
    nl_done
fi
if nl_wait 15 nl_ping6_ok a "$ip6_d"; then
    ok "ping -6 from a to d's mesh address is answered before the failure"
    nsx a ping -6 -n -q -c 10 -i 0.05 -W 1 "$ip6_d" >/dev/null 2>&1
else
    not_ok "ping -6 from a to d's mesh address is answered before the failure"
fi
db=$(($(nl_metric b zhtp_forwarded_packets_total) - fb))
dc=$(($(nl_metric c zhtp_forwarded_packets_total) - fc))
if [ "$db" -ge "$dc" ]; then victim=b other=c; else victim=c other=b; fi
note "relayed: b $db, c $dc packets; killing $victim (root was $(nl_field a '["root_id"]' | cut -c1-16), $victim is ${id[$victim]:0:16})"
check "one of the middle nodes relayed the message" [ $((db + dc)) -gt 0 ]

# A ping every 0.1 s, timestamped (-D), across the kill.
nsx a ping -6 -n -D -i 0.1 -W 1 -c 250 "$ip6_d" >"$NL_DIR/ping.out" 2>&1 &
ping_pid=$!
sleep 1.5
# SIGKILL the relay in use. Then, for up to 20 s, a fresh message every 0.5 s; stop when both a
# message sent after the kill and a ping reply after it have arrived.
survivors=()
for n in "${nodes[@]}"; do [ "$n" = "$victim" ] || survivors+=("$n"); done
ping_after_kill() { awk -v k="$t_kill" '/bytes from/ && substr($1, 2) * 1000 >= k {f = 1} END {exit !f}' "$NL_DIR/ping.out"; }
t_kill=$(nl_ms)
nl_kill "$victim" KILL
seq_no=0 t_ok="" t_last_send=0 last=""
while [ $(($(nl_ms) - t_kill)) -lt 20000 ]; do
    now=$(nl_ms)
    if [ $((now - t_last_send)) -ge 500 ]; then
        seq_no=$((seq_no + 1))
        nl_send a "${id[d]}" "after-$$-$seq_no" >/dev/null
        t_last_send=$now
    fi
    if [ -z "$t_ok" ]; then
        last=$(nl_field d '["messages"]["last_text"]')
        [[ $last == after-$$-* ]] && t_ok=$(nl_ms)
    fi
    [ -n "$t_ok" ] && ping_after_kill && break
    sleep 0.1
done
kill -INT "$ping_pid" 2>/dev/null
wait "$ping_pid" 2>/dev/null
# Where the time went: when each survivor logged the dead neighbour as down (expiry).
for n in "${survivors[@]}"; do
    t=$(grep "neighbour down ${id[$victim]:0:16}" "$NL_DIR/$n.log" | head -1 | cut -d' ' -f1)
    [ -n "$t" ] && note "$n logged $victim down $(($(date -d "$t" +%s%3N) - t_kill)) ms after the SIGKILL"
done
if [ -n "$t_ok" ]; then
    ms=$((t_ok - t_kill))
    note "reroute: first message sent after the kill delivered at d $ms ms after the SIGKILL ($last of $seq_no sent)"
    # Coarser than the ping: a probe every 0.5 s plus HTTP polling add up to ~1.5 s here.
    check "messages a -> d recover within $((REROUTE_MAX_MS / 1000 + 5)) s of the SIGKILL of $victim (measured $ms ms)" \
        [ "$ms" -le $((REROUTE_MAX_MS + 5000)) ]
else
    not_ok "messages a -> d recover within $((REROUTE_MAX_MS / 1000 + 5)) s of the SIGKILL of $victim" \
        "nothing sent after the kill arrived in 20 s ($seq_no sent)" "a: $(nl_status a)" "d: $(nl_status d)"
fi
# The ping outage: from the kill to the first reply after it (replies carry [epoch.us]).
read -r p_before _ gap < <(awk -v k="$t_kill" '/bytes from/ { t = substr($1, 2) * 1000
    if (t < k) { last = t; nb++ } else if (first == "") first = t }
    END { printf "%d %d %d\n", nb, first == "" ? -1 : 1, first == "" ? -1 : first - k }' "$NL_DIR/ping.out")
note "ping a -> d: $p_before replies before the kill; first reply after it ${gap} ms after the SIGKILL"
if [ "$p_before" -gt 0 ] && [ "$gap" -ge 0 ]; then
    check "ping a -> d recovers within $((REROUTE_MAX_MS / 1000)) s of the SIGKILL of $victim (measured $gap ms)" \
        [ "$gap" -le "$REROUTE_MAX_MS" ]
else
    not_ok "ping a -> d recovers within $((REROUTE_MAX_MS / 1000)) s of the SIGKILL of $victim" \
        "$(tail -5 "$NL_DIR/ping.out")"
fi
if [ "$nl_failed" != 0 ]; then
    note "tree coordinates now: $(for n in "${survivors[@]}"; do printf '%s=[%s] ' "$n" "$(nl_status "$n" | nl_js '".".join(map(str, d["coords"]))')"; done)"
    for n in "${survivors[@]}"; do
        note "$n drops: $(nl_get "$n" metrics | grep -E '^zhtp_(tun_)?drops_total' | grep -v ' 0$' | tr '\n' ' ')"
    done
fi
fo=$(nl_metric "$other" zhtp_forwarded_packets_total)
note "$other forwarded $fo packets in total"
check "the surviving middle node $other carries the traffic now" [ "$fo" -gt 0 ]
lost() { nl_peers_are a 1 && nl_peers_are d 1; }
check "a and d drop the dead node: one neighbour each" nl_wait 10 lost

rcs=""
for n in "${nodes[@]}"; do
    [ "$n" = "$victim" ] && continue
    p=${NL_PID[$n]}
    kill -TERM "$p" 2>/dev/null
    wait "$p"
    rcs+=$?
    NL_PID[$n]=""
done
check "the three survivors exit 0 on SIGTERM (rcs $rcs)" [ "$rcs" = 000 ]
nl_done
