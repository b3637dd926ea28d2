#!/usr/bin/env bash
# A chain of 5 hosts a - b - c - d - e, each in its own network namespace with one zhtpd, joined
# by veth links (one /24 per link, no IP forwarding: a cannot reach e's underlay address, so
# whatever crosses the chain is carried by the daemons). Checks: every daemon authenticates
# exactly its neighbours and all share one tree; end-to-end messages a -> e and e -> a cross the
# 4 hops, are acknowledged, and every middle node relays; over the daemons' TUN interfaces,
# ping -6 from a reaches e and curl on a fetches a file from an HTTP server on e, byte-identical;
# 1 MiB stored with `zhtp put` on a comes back byte-identical from `zhtp get` on e.
# TAP on stdout; needs root (reported
# skipped otherwise); everything is removed on exit (netns_lib.sh).
# Usage: netns_chain_test.sh PATH/TO/zhtpd [PATH/TO/zhtp]
set -u
# shellcheck source=netns_lib.sh
. "$(dirname "$0")/netns_lib.sh"
nl_init "${1:?usage: netns_chain_test.sh ZHTPD [ZHTP]}" "${2:-}" 75

nodes=(a b c d e)
nl_ns "${nodes[@]}" || { not_ok "namespaces created"; nl_done; }
for i in 0 1 2 3; do nl_link "${nodes[$i]}" "${nodes[$((i + 1))]}" || { not_ok "veth links"; nl_done; }; done
nl_peers a b
nl_peers b a c
nl_peers c b d
nl_peers d c e
nl_peers e d

# The underlay really is cut between non-neighbours: a reaches b, but not c (2 links away).
if nsx a ping -n -c1 -W1 "${NL_ADDR[b:a]}" >/dev/null 2>&1 &&
    ! nsx a ping -n -c1 -W1 "${NL_ADDR[c:b]}" >/dev/null 2>&1; then
    ok "underlay: a reaches its neighbour b but not c (no IP forwarding)"
else
    not_ok "underlay: a reaches its neighbour b but not c (no IP forwarding)"
fi

# Owners for zhtp put on a and zhtp get on e (zhtp init before the daemons start).
have_zhtp=0
[ -x "${NL_ZHTP:-}" ] && nl_owner a e && have_zhtp=1
# e stores nothing for the mesh (quota 1 KiB), so its zhtp get must fetch across the mesh.
nl_config e "store_quota = 1K"
for n in "${nodes[@]}"; do nl_start "$n" --tun zt0; done
check "five daemons answer /status in their namespaces" nl_wait 10 nl_answers "${nodes[@]}"
chain_up() {
    nl_peers_are a 1 && nl_peers_are b 2 && nl_peers_are c 2 && nl_peers_are d 2 &&
        nl_peers_are e 1 && nl_one_tree "${nodes[@]}"
}
t0=$(nl_ms)
if nl_wait 40 chain_up; then
    ok "each daemon authenticates exactly its neighbours and all five share one tree ($(($(nl_ms) - t0)) ms)"
else
    not_ok "each daemon authenticates exactly its neighbours and all five share one tree" \
        "$(for n in "${nodes[@]}"; do echo "$n: $(nl_status "$n")"; done)"
fi

declare -A id
for n in "${nodes[@]}"; do id[$n]=$(nl_id "$n"); done
fwd0=$(for n in b c d; do nl_metric "$n" zhtp_forwarded_packets_total; done)

# a -> e: delivered to e from a, acknowledged end to end back at a.
acked0=$(nl_field a '["messages"]["acked"]')
t0=$(nl_ms)
nl_send a "${id[e]}" chain-a-to-e-$$ >/dev/null
acked_more() { [ "$(nl_field "$1" '["messages"]["acked"]')" -gt "$2" ] 2>/dev/null; }
a_to_e() { nl_received e "chain-a-to-e-$$" "${id[a]}" && acked_more a "$acked0"; }
if nl_wait 20 a_to_e; then
    ok "a message from a reaches e across 4 hops and is acknowledged ($(($(nl_ms) - t0)) ms)"
else
    not_ok "a message from a reaches e across 4 hops and is acknowledged" "a: $(nl_status a)" "e: $(nl_status e)"
fi

acked0=$(nl_field e '["messages"]["acked"]')
t0=$(nl_ms)
nl_send e "${id[a]}" chain-e-to-a-$$ >/dev/null
e_to_a() { nl_received a "chain-e-to-a-$$" "${id[e]}" && acked_more e "$acked0"; }
if nl_wait 20 e_to_a; then
    ok "a message from e reaches a across 4 hops and is acknowledged ($(($(nl_ms) - t0)) ms)"
else
    not_ok "a message from e reaches a across 4 hops and is acknowledged" "e: $(nl_status e)" "a: $(nl_status a)"
fi

# Each of b, c, d relayed packets of that exchange.
relayed=1
i=0
for n in b c d; do
    i=$((i + 1))
    before=$(sed -n "${i}p" <<<"$fwd0")
    after=$(nl_metric "$n" zhtp_forwarded_packets_total)
    note "$n forwarded $before -> $after packets"
    [ "$after" -gt "$before" ] 2>/dev/null || relayed=0
done
check "every middle node (b, c, d) relayed packets of the exchange (/metrics)" [ $relayed = 1 ]

# ---- IPv6 over the mesh: the TUN interface of every daemon ----
ip6_a=$(nl_ip6 a) ip6_e=$(nl_ip6 e)
check "a and e have mesh IPv6 addresses (a $ip6_a, e $ip6_e)" [ -n "$ip6_a" -a -n "$ip6_e" ]
t0=$(nl_ms)
if [ -n "$ip6_e" ] && nl_wait 20 nl_ping6_ok a "$ip6_e"; then
    ok "ping -6 from a to e's mesh address is answered across 4 hops (first reply after $(($(nl_ms) - t0)) ms)"
    rtt=$(nsx a ping -6 -n -c 5 -i 0.2 -W 2 "$ip6_e" | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | sort -g | sed -n 3p)
    note "ping a -> e (4 hops): median RTT ${rtt:-?} ms of 5"
else
    not_ok "ping -6 from a to e's mesh address is answered across 4 hops" "$(nsx a ping -6 -n -c1 -W1 "$ip6_e" 2>&1)" \
        "a tun: $(nl_get a metrics | grep zhtp_tun | tr '\n' ' ')"
fi
if command -v curl >/dev/null; then
    mkdir -p "$NL_DIR/www"
    head -c 300000 /dev/urandom >"$NL_DIR/www/blob"
    nl_serve e "$ip6_e" 8000 "$NL_DIR/www"
    nl_wait 5 nl_tcp_listening e 8000
    t0=$(nl_ms)
    nsx a curl -sS -g --max-time 30 -o "$NL_DIR/got" "http://[$ip6_e]:8000/blob" 2>"$NL_DIR/curl.err"
    if cmp -s "$NL_DIR/www/blob" "$NL_DIR/got"; then
        ok "curl on a fetches 300 kB from an HTTP server on e across 4 hops, byte-identical ($(($(nl_ms) - t0)) ms)"
    else
        not_ok "curl on a fetches 300 kB from an HTTP server on e across 4 hops, byte-identical" \
            "$(cat "$NL_DIR/curl.err")" "got $(stat -c %s "$NL_DIR/got" 2>/dev/null || echo no) bytes"
    fi
else
    not_ok "curl on a fetches a file from e across 4 hops" "curl is not installed (scripts/install-deps)"
fi

# ---- content through the DHT: zhtp put on a, zhtp get on e ----
if [ $have_zhtp = 1 ]; then
    head -c 1048576 /dev/urandom >"$NL_DIR/content.bin"
    t0=$(nl_ms)
    cid=$(nl_zhtp a put "$NL_DIR/content.bin" 2>"$NL_DIR/put.err")
    rc=$?
    if [ $rc = 0 ] && [ ${#cid} = 64 ]; then
        ok "zhtp put on a stores 1 MiB in the mesh ($(($(nl_ms) - t0)) ms, id ${cid:0:16}...)"
        t0=$(nl_ms)
        rx0=$(nl_metric e zhtp_rx_bytes_total)
        nl_zhtp e get "$cid" -o "$NL_DIR/fetched.bin" 2>"$NL_DIR/get.err"
        rc=$?
        rx=$(($(nl_metric e zhtp_rx_bytes_total) - rx0))
        if [ $rc = 0 ] && cmp -s "$NL_DIR/content.bin" "$NL_DIR/fetched.bin"; then
            ok "zhtp get on e, 4 hops from a, returns the same 1 MiB byte for byte ($(($(nl_ms) - t0)) ms)"
        else
            not_ok "zhtp get on e, 4 hops from a, returns the same 1 MiB byte for byte" "exit $rc: $(tail -3 "$NL_DIR/get.err")"
        fi
        check "e holds no replica: its get received $rx link bytes (>= 1 MiB) from the mesh" [ "$rx" -ge 1048576 ]
    else
        not_ok "zhtp put on a stores 1 MiB in the mesh" "exit $rc: $(tail -3 "$NL_DIR/put.err")"
    fi
else
    not_ok "zhtp put on a / zhtp get on e" "no zhtp binary given, or zhtp init failed"
fi

rcs=""
for n in "${nodes[@]}"; do
    p=${NL_PID[$n]}
    kill -TERM "$p" 2>/dev/null
    wait "$p"
    rcs+=$?
    NL_PID[$n]=""
done
check "all five daemons exit 0 on SIGTERM (rcs $rcs)" [ "$rcs" = 00000 ]
nl_done
