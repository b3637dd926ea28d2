#!/usr/bin/env bash
# TUN segmentation offload (docs/tun.md "Segmentation offload") across two mesh hops: three
# hosts in network namespaces in a line a - b - c, one zhtpd with `--tun zt0` each. c serves an
# 8 MiB random file on its mesh address, a fetches it with curl (data flows c -> a through the
# relay b), the bytes are compared by SHA-256. Run under five settings, the daemons restarted
# between them (same identities):
#   on        defaults (offload on, tun_mtu 16384): c reads TCP super-packets
#             (zhtp_tun_gso_in_total > 0) and a writes them as GSO (zhtp_tun_gso_out_total > 0)
#   on-1280   the same at tun_mtu 1280, where offload matters most
#   off       --no-tun-offload (b: tun_offload false) everywhere: no super-packet read or
#             written, "offload off" logged
#   mixed     c with offload, a without (tun_mtu 1280): a node without offload takes the
#             super-packets whole and writes them plainly; nothing is dropped
#   mesh-1400 offload on, c with --tun-mesh-mtu 1400: Packet Too Big judges a super-packet by
#             its segment size (judged by total length, TCP could never get a packet through)
# TAP on stdout; needs root (reported skipped otherwise); everything is removed on exit.
# Usage: netns_tun_offload_test.sh PATH/TO/zhtpd [PATH/TO/zhtp]
set -u
# shellcheck source=netns_lib.sh
. "$(dirname "$0")/netns_lib.sh"
nl_init "${1:?usage: netns_tun_offload_test.sh ZHTPD [ZHTP]}" "${2:-}" 240
for b in curl sha256sum; do command -v $b >/dev/null || { skip "needs $b"; nl_done; }; done
[ -c /dev/net/tun ] || { skip "no /dev/net/tun"; nl_done; }

nodes=(a b c)
nl_ns "${nodes[@]}" || { not_ok "namespaces created"; nl_done; }
nl_link a b || { not_ok "veth a-b"; nl_done; }
nl_link b c || { not_ok "veth b-c"; nl_done; }
nl_peers a b
nl_peers b a c
nl_peers c b

www=$NL_DIR/www
mkdir -p "$www"
head -c $((8 << 20)) /dev/urandom >"$www/blob"
want=$(sha256sum <"$www/blob" | cut -d' ' -f1)
srv=""

line_up() { nl_peers_are a 1 && nl_peers_are b 2 && nl_peers_are c 1 && nl_one_tree a b c; }
stop_all() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
    srv=""
    for n in "${nodes[@]}"; do nl_kill "$n"; done
}
m() { nl_metric "$1" "$2"; }
drop() { nl_metric "$1" "zhtp_tun_drops_total{reason=\"$2\"}"; }

# run NAME "A FLAGS" "B FLAGS" "C FLAGS": starts the daemons, fetches the file, leaves the
# counters in gin_c (super-packets read at c), gout_a (GSO writes at a), big_c (too_big at c).
run() {
    local name=$1 fa=$2 fb=$3 fc=$4
    # shellcheck disable=SC2086
    { nl_start a --tun zt0 $fa; nl_start b --tun zt0 $fb; nl_start c --tun zt0 $fc; }
    if ! nl_wait 40 line_up; then
        not_ok "$name: the three daemons form the line a - b - c" \
            "$(for n in "${nodes[@]}"; do echo "$n: $(nl_status "$n")"; done)"
        stop_all
        return 1
    fi
    local addr
    addr=$(nl_ip6 c)
    ip netns exec "${NL_PFX}c" python3 -m http.server --bind "$addr" --directory "$www" 8088 \
        >>"$NL_DIR/http-c.log" 2>&1 </dev/null &
    srv=$!
    nl_wait 10 nl_tcp_listening c 8088
    nl_wait 10 nl_ping6_ok a "$addr" # the end-to-end session and c's id at a
    local t0 t1 got
    t0=$(nl_ms)
    nsx a curl -sS -g --max-time 60 -o "$NL_DIR/got" "http://[$addr]:8088/blob" 2>"$NL_DIR/curl.err"
    t1=$(nl_ms)
    got=$(sha256sum <"$NL_DIR/got" 2>/dev/null | cut -d' ' -f1)
    rm -f "$NL_DIR/got"
    if [ "$got" = "$want" ]; then
        ok "$name: 8 MiB fetched by curl from c's mesh address over 2 hops is byte-identical ($((8 * 8 * 1000 / (t1 - t0 + 1))) Mbit/s)"
    else
        not_ok "$name: 8 MiB fetched by curl from c's mesh address over 2 hops is byte-identical" \
            "sha256 ${got:-none} want $want" "$(cat "$NL_DIR/curl.err")"
    fi
    gin_c=$(m c zhtp_tun_gso_in_total) gout_a=$(m a zhtp_tun_gso_out_total)
    big_c=$(drop c too_big)
    local bad=""
    for r in in_malformed out_malformed tun_error tun_full oversize pending_gso; do
        for n in a c; do [ "$(drop $n $r)" = 0 ] || bad+=" $n:$r=$(drop $n $r)"; done
    done
    if [ -z "$bad" ]; then ok "$name: no malformed, oversize or failed TUN packets at a or c"
    else not_ok "$name: no malformed, oversize or failed TUN packets at a or c" "$bad"; fi
    note "$name: gso_in at c $gin_c, gso_out at a $gout_a, too_big at c $big_c"
    stop_all
}

if run on "" "" ""; then
    check "on: c read TCP super-packets (gso_in $gin_c > 0) and a wrote GSO packets (gso_out $gout_a > 0)" \
        [ "$gin_c" -gt 0 -a "$gout_a" -gt 0 ]
    check "on: every daemon logged offload on (TSO6)" \
        bash -c "for n in a b c; do grep -q 'offload on (TSO6)' $NL_DIR/\$n.log || exit 1; done"
fi
if run on-1280 "--tun-mtu 1280" "--tun-mtu 1280" "--tun-mtu 1280"; then
    check "on-1280: super-packets read at c ($gin_c) and written as GSO at a ($gout_a)" \
        [ "$gin_c" -gt 0 -a "$gout_a" -gt 0 ]
fi
for n in "${nodes[@]}"; do : >"$NL_DIR/$n.log"; done
# b through the config key (tun_offload = false, here as its generic flag form)
if run off "--no-tun-offload" "--tun-offload false" "--no-tun-offload"; then
    check "off: no super-packet read at c ($gin_c) or written at a ($gout_a)" \
        [ "$gin_c" = 0 -a "$gout_a" = 0 ]
    check "off: every daemon logged offload off" \
        bash -c "for n in a b c; do grep -q 'offload off' $NL_DIR/\$n.log || exit 1; done"
fi
if run mixed "--tun-mtu 1280 --no-tun-offload" "--tun-mtu 1280" "--tun-mtu 1280"; then
    check "mixed: c sent super-packets ($gin_c > 0), a without offload wrote none as GSO ($gout_a)" \
        [ "$gin_c" -gt 0 -a "$gout_a" = 0 ]
fi
if run mesh-1400 "" "" "--tun-mesh-mtu 1400"; then
    check "mesh-1400: c answered super-packets of 16 KiB segments with Packet Too Big ($big_c), then super-packets of 1,400-byte segments passed (GSO writes at a: $gout_a)" \
        [ "$big_c" -gt 0 -a "$gout_a" -gt 0 ]
fi
out=$("$NL_ZHTPD" --data-dir "$NL_DIR/x" --listen 127.0.0.1:0 --tun-offload maybe 2>&1)
rc=$?
if [ $rc = 2 ] && grep -q "tun_offload: expected true or false, got 'maybe'" <<<"$out"; then
    ok "tun_offload = maybe is refused at start-up (exit 2) with the key and value named"
else not_ok "tun_offload = maybe is refused at start-up (exit 2) with the key and value named" "rc=$rc" "$out"; fi
nl_done
