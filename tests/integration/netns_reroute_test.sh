#!/usr/bin/env bash
# Rerouting around a dead relay. Four hosts in network namespaces, a square of veth links:
#
#       b
#     /   \        a reaches d through b or through c (no IP forwarding anywhere)
#   a       d
#     \   /
#       c
#
# After the mesh forms, a sends d a message and the middle node that relayed it (the one whose
# forwarded-packet counter moved) is killed with SIGKILL, so it says goodbye to no one. a keeps
# sending d a fresh message every 0.5 s; the time from the kill to the first of those delivered
# at d is measured, printed, and must be at most 5 s. TAP on stdout; needs root.
# Usage: netns_reroute_test.sh PATH/TO/zhtpd [PATH/TO/zhtp]
set -u
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
for n in "${nodes[@]}"; do nl_start "$n"; done

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
nl_hint_all "${nodes[@]}"

fb=$(nl_metric b zhtp_forwarded_packets_total)
fc=$(nl_metric c zhtp_forwarded_packets_total)
nl_send a "${id[d]}" before-$$ >/dev/null
if nl_wait 20 nl_received d "before-$$" "${id[a]}"; then
    ok "a message from a reaches d before the failure"
else
    not_ok "a message from a reaches d before the failure" "a: $(nl_status a)" "d: $(nl_status d)"
    nl_done
fi
db=$(($(nl_metric b zhtp_forwarded_packets_total) - fb))
dc=$(($(nl_metric c zhtp_forwarded_packets_total) - fc))
if [ "$db" -ge "$dc" ]; then victim=b other=c; else victim=c other=b; fi
note "relayed: b $db, c $dc packets; killing $victim (root was $(nl_field a '["root_id"]' | cut -c1-16), $victim is ${id[$victim]:0:16})"
check "one of the middle nodes relayed the message" [ $((db + dc)) -gt 0 ]

# SIGKILL the relay in use, then one fresh message every 0.5 s until one arrives.
t_kill=$(nl_ms)
nl_kill "$victim" KILL
seq_no=0 t_ok="" t_last_send=0
while [ $(($(nl_ms) - t_kill)) -lt 20000 ]; do
    now=$(nl_ms)
    if [ $((now - t_last_send)) -ge 500 ]; then
        seq_no=$((seq_no + 1))
        nl_send a "${id[d]}" "after-$$-$seq_no" >/dev/null
        t_last_send=$now
    fi
    last=$(nl_field d '["messages"]["last_text"]')
    if [[ $last == after-$$-* ]]; then
        t_ok=$(nl_ms)
        break
    fi
    sleep 0.1
done
if [ -n "$t_ok" ]; then
    ms=$((t_ok - t_kill))
    note "reroute: first message sent after the kill delivered at d $ms ms after the SIGKILL ($last of $seq_no sent)"
    check "traffic a -> d recovers within $((REROUTE_MAX_MS / 1000)) s of the SIGKILL of $victim (measured $ms ms)" \
        [ "$ms" -le "$REROUTE_MAX_MS" ]
else
    not_ok "traffic a -> d recovers within $((REROUTE_MAX_MS / 1000)) s of the SIGKILL of $victim" \
        "nothing sent after the kill arrived in 20 s ($seq_no sent)" "a: $(nl_status a)" "d: $(nl_status d)"
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
