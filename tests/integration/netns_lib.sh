# shellcheck shell=bash
# netns_lib.sh: helpers for multi-host zhtpd tests in Linux network namespaces. Sourced, not run.
#
# Each test builds its own topology: one namespace per node, veth pairs between given pairs of
# nodes, one zhtpd per namespace. Nothing leaves the namespaces: every daemon listens on the
# wildcard address inside its namespace and its HTTP status responder on 127.0.0.1:NL_HTTP of
# that namespace's own loopback. Names are unique per run (the test's PID), so two runs, or a
# run beside run.sh's zb-* bench namespaces, never collide. The EXIT trap kills every process
# that was started (by PID, then whatever is still inside our namespaces), deletes the
# namespaces and the temp dir, whatever happens; a watchdog ends a test that hangs.
#
# Usage (see netns_chain_test.sh):
#   . netns_lib.sh
#   nl_init ZHTPD [ZHTP] [WATCHDOG_S]  # not root: prints "1..1 / ok 1 # SKIP not root", exits 0
#   nl_ns a b c                        # namespaces zt<pid>-a ...
#   nl_link a b [RATE]                 # veth a<->b, 10.77.K.1/24 and .2/24 (K: link number),
#                                      # RATE (tc syntax, e.g. 1mbit): tbf on both egresses
#   nl_peers a b; nl_peers b a c; ...  # static zhtpd peers of a node (over the links above)
#   nl_start a [EXTRA ZHTPD FLAGS...]  # config in $NL_DIR/a.conf, data dir $NL_DIR/a, log a.log
#   nl_wait 30 some_condition args...  # polls every 0.2 s
#   nl_field a '["peers"]'             # a value from a's /status
#   ok/not_ok/check/skip, nl_done      # TAP; nl_done prints the plan and exits
#
# Requires root (ip netns), iproute2, python3 (HTTP and JSON: curl/jq are not required).

NL_UDP=7000  # zhtpd UDP port in every namespace
NL_HTTP=8080 # zhtpd HTTP status port on every namespace's loopback
NL_PFX=""    # namespace name prefix, "zt<pid>-"
NL_DIR=""    # temp dir: configs, data dirs, logs
NL_ZHTPD=""
NL_ZHTP=""
NL_NODES=()                  # every namespace created, in order
declare -A NL_PID=()         # node -> zhtpd PID (empty when not running)
declare -A NL_ADDR=()        # "a:b" -> a's address on the link to b
declare -A NL_DEV=()         # "a:b" -> a's veth name facing b
declare -A NL_PEERS=()       # node -> "b c": static peers
NL_LINKS=0
NL_WATCHDOG=""
nl_n=0 nl_failed=0

# ---- TAP ----
ok() {
    nl_n=$((nl_n + 1))
    echo "ok $nl_n - $1"
}
not_ok() {
    nl_n=$((nl_n + 1))
    nl_failed=1
    echo "not ok $nl_n - $1"
    shift
    local l
    for l in "$@"; do echo "# $l"; done
}
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}
skip() {
    nl_n=$((nl_n + 1))
    echo "ok $nl_n # SKIP $1"
}
note() { echo "# $*"; }
# nl_done: plan at the end (TAP allows it), the tail of every log on failure, exit status.
nl_done() {
    echo "1..$nl_n"
    if [ "$nl_failed" != 0 ]; then
        local n rc
        for n in "${NL_NODES[@]}"; do
            # A daemon that died on its own (crash, abort) is the first thing to know.
            if [ -n "${NL_PID[$n]:-}" ] && ! kill -0 "${NL_PID[$n]}" 2>/dev/null; then
                wait "${NL_PID[$n]}" 2>/dev/null
                rc=$?
                echo "# zhtpd on $n died during the test: exit status $rc$([ $rc -gt 128 ] && echo " (signal $((rc - 128)))")"
                NL_PID[$n]=""
            fi
        done
        for n in "${NL_NODES[@]}"; do
            [ -f "$NL_DIR/$n.log" ] || continue
            echo "# --- $n.log (tail)"
            tail -12 "$NL_DIR/$n.log" | sed 's/^/# /'
        done
    fi
    exit "$nl_failed"
}

# ---- set-up and teardown ----
nl_init() {
    NL_ZHTPD=${1:?nl_init ZHTPD [ZHTP] [WATCHDOG_S]}
    NL_ZHTP=${2:-}
    local wd=${3:-90}
    if [ "$(id -u)" != 0 ]; then
        echo "1..1"
        echo "ok 1 # SKIP not root (network namespaces need root)"
        exit 0
    fi
    local b
    for b in ip tc python3; do
        command -v "$b" >/dev/null || {
            echo "1..1"
            echo "ok 1 # SKIP needs $b (scripts/install-deps)"
            exit 0
        }
    done
    [ -x "$NL_ZHTPD" ] || {
        echo "1..1"
        echo "not ok 1 - zhtpd binary $NL_ZHTPD is not executable"
        exit 1
    }
    NL_PFX="zt$$-"
    NL_DIR=$(mktemp -d /tmp/zhtp-netns-XXXXXX)
    trap nl_cleanup EXIT
    trap 'exit 1' INT TERM
    local main=$$
    (
        for _ in $(seq 1 $((wd * 5))); do
            sleep 0.2
            kill -0 "$main" 2>/dev/null || exit 0
        done
        echo "# watchdog: test exceeded $wd s" >&2
        kill -TERM "$main"
    ) 2>/dev/null &
    NL_WATCHDOG=$!
}

nl_cleanup() {
    local n p
    trap - EXIT INT TERM
    for n in "${!NL_PID[@]}"; do
        [ -n "${NL_PID[$n]}" ] && kill -TERM "${NL_PID[$n]}" 2>/dev/null
    done
    for _ in $(seq 1 20); do
        local alive=0
        for n in "${!NL_PID[@]}"; do
            [ -n "${NL_PID[$n]}" ] && kill -0 "${NL_PID[$n]}" 2>/dev/null && alive=1
        done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for n in "${!NL_PID[@]}"; do
        [ -n "${NL_PID[$n]}" ] && kill -KILL "${NL_PID[$n]}" 2>/dev/null
        [ -n "${NL_PID[$n]}" ] && wait "${NL_PID[$n]}" 2>/dev/null
    done
    # Anything else still inside our namespaces (a ping, an iperf) was started by this test.
    for n in "${NL_NODES[@]}"; do
        for p in $(ip netns pids "$NL_PFX$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    done
    for n in "${NL_NODES[@]}"; do ip netns del "$NL_PFX$n" 2>/dev/null; done
    [ -n "$NL_WATCHDOG" ] && kill "$NL_WATCHDOG" 2>/dev/null
    [ -n "$NL_DIR" ] && rm -rf "$NL_DIR"
    return 0
}

# nsx NODE CMD...: run CMD inside NODE's namespace.
nsx() {
    local n=$1
    shift
    ip netns exec "$NL_PFX$n" "$@"
}

# nl_ns NODE...: one namespace per node, loopback up, no router advertisements.
nl_ns() {
    local n
    for n in "$@"; do
        ip netns add "$NL_PFX$n" || return 1
        NL_NODES+=("$n")
        NL_PID[$n]=""
        nsx "$n" ip link set lo up
        nsx "$n" sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
        nsx "$n" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
    done
}

# nl_link A B [RATE]: a veth pair between A and B (created inside the namespaces, so the names
# never meet in the root namespace), IPv4 10.77.K.1/24 on A and .2 on B. RATE: tbf on both
# egresses (burst 10 ms of the rate, at least 4000 bytes; queue 200 ms).
nl_link() {
    local a=$1 b=$2 rate=${3:-}
    NL_LINKS=$((NL_LINKS + 1))
    local k=$NL_LINKS
    NL_DEV[$a:$b]="v$k$b" NL_DEV[$b:$a]="v$k$a"
    NL_ADDR[$a:$b]="10.77.$k.1" NL_ADDR[$b:$a]="10.77.$k.2"
    ip link add "v$k$b" netns "$NL_PFX$a" type veth peer name "v$k$a" netns "$NL_PFX$b" || return 1
    nsx "$a" ip addr add "10.77.$k.1/24" dev "v$k$b" || return 1
    nsx "$b" ip addr add "10.77.$k.2/24" dev "v$k$a" || return 1
    nsx "$a" ip link set "v$k$b" up || return 1
    nsx "$b" ip link set "v$k$a" up || return 1
    [ -z "$rate" ] || nl_rate "$a" "$b" "$rate"
}

# nl_rate A B RATE: (re)shape both directions of link A-B with tbf; "" removes the shaping.
nl_rate() {
    local a=$1 b=$2 rate=$3 n dev
    for n in "$a:$b" "$b:$a"; do
        dev=${NL_DEV[$n]}
        if [ -z "$rate" ]; then
            nsx "${n%%:*}" tc qdisc del dev "$dev" root 2>/dev/null
            continue
        fi
        local bps burst
        bps=$(nl_rate_bps "$rate") || return 1
        burst=$((bps / 8 / 100))
        ((burst < 4000)) && burst=4000
        nsx "${n%%:*}" tc qdisc replace dev "$dev" root tbf rate "$rate" burst "$burst" latency 200ms || return 1
    done
}
nl_rate_bps() { # tc rate -> bit/s
    echo "$1" | awk '{ if (match(tolower($0), /^[0-9.]+/)) { v = substr($0, 1, RLENGTH); u = tolower(substr($0, RLENGTH + 1)) } else exit 1
        m = (u == "bit" || u == "") ? 1 : (u == "kbit") ? 1e3 : (u == "mbit") ? 1e6 : (u == "gbit") ? 1e9 : -1
        if (m < 0) exit 1; printf "%d\n", v * m }'
}

# nl_peers NODE PEER...: NODE's static zhtpd peers (their address on the shared link).
nl_peers() {
    local n=$1
    shift
    NL_PEERS[$n]="$*"
}

# nl_config NODE [EXTRA "key = value" LINES...]: writes $NL_DIR/NODE.conf.
nl_config() {
    local n=$1 p
    shift
    {
        echo "# generated by netns_lib.sh for node $n"
        echo "data_dir = $NL_DIR/$n"
        echo "dev_no_passphrase = true"
        echo "listen = 0.0.0.0:$NL_UDP"
        echo "http = 127.0.0.1:$NL_HTTP"
        echo "log_level = ${NL_LOG_LEVEL:-info}"
        for p in ${NL_PEERS[$n]:-}; do
            [ -n "${NL_ADDR[$p:$n]:-}" ] || { echo "nl_config: no link $n-$p" >&2; return 1; }
            echo "peer = ${NL_ADDR[$p:$n]}:$NL_UDP"
        done
        for p in "$@"; do echo "$p"; done
    } >"$NL_DIR/$n.conf"
}

# nl_start NODE [EXTRA ZHTPD FLAGS...]: zhtpd in NODE's namespace, in the foreground of a
# background job (`ip netns exec` execs, so $! is zhtpd itself). Writes the config first unless
# one exists (nl_config NODE ... for extra keys). Appends to $NL_DIR/NODE.log.
nl_start() {
    local n=$1
    shift
    [ -f "$NL_DIR/$n.conf" ] || nl_config "$n" || return 1
    echo "=== start $(date -u +%T.%N)" >>"$NL_DIR/$n.log"
    ip netns exec "$NL_PFX$n" "$NL_ZHTPD" --config "$NL_DIR/$n.conf" "$@" \
        >>"$NL_DIR/$n.log" 2>&1 </dev/null &
    NL_PID[$n]=$!
}

# nl_kill NODE [SIGNAL]: signal NODE's zhtpd by PID (default TERM) and reap it (KILL after 3 s).
nl_kill() {
    local n=$1 sig=${2:-TERM} p=${NL_PID[$1]:-}
    [ -n "$p" ] || return 0
    kill "-$sig" "$p" 2>/dev/null
    for _ in $(seq 1 30); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    NL_PID[$n]=""
    return 0
}

# ---- waiting and looking ----
# nl_wait TIMEOUT_S CMD...: polls CMD every 0.2 s; 0 as soon as it succeeds, 1 at the timeout.
nl_wait() {
    local end
    end=$(($(date +%s%N) + $1 * 1000000000))
    shift
    until "$@"; do
        [ "$(date +%s%N)" -ge "$end" ] && return 1
        sleep 0.2
    done
}
nl_ms() { echo $(($(date +%s%N) / 1000000)); } # wall clock in ms, for measured durations

# nl_get NODE PATH: body of GET http://127.0.0.1:NL_HTTP/PATH inside NODE ("" on any error).
nl_get() {
    nsx "$1" python3 -c 'import sys, urllib.request
try: sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())
except Exception: pass' "http://127.0.0.1:$NL_HTTP/$2"
}
# nl_js EXPR: EXPR over d = the JSON on stdin ("" on any error).
nl_js() {
    python3 -c 'import json, sys
try:
    v = eval(sys.argv[1], {"d": json.load(sys.stdin)})
    print(json.dumps(v, separators=(",", ":")) if isinstance(v, (dict, list, bool)) else v)
except Exception: print("")' "$1"
}
nl_status() { nl_get "$1" status; }
nl_field() { nl_status "$1" | nl_js "d$2"; } # nl_field NODE '["messages"]["acked"]'
nl_id() { nl_field "$1" '["node_id"]'; }
nl_metric() { # nl_metric NODE NAME: a Prometheus counter from /metrics (0 when absent)
    local v
    v=$(nl_get "$1" metrics | awk -v m="$2" '$1 == m {print $2}')
    echo "${v:-0}"
}

# nl_peers_are NODE N: NODE's router has N distinct neighbour nodes (/status "neighbours"; the
# "peers" count may count one node twice when it is reached over two addresses, e.g. a static
# peer also found by LAN discovery on its link-local address).
nl_peers_are() { [ "$(nl_status "$1" | nl_js 'len({x["id"] for x in d["neighbours"]})')" = "$2" ]; }
# nl_one_tree NODE...: every node answers and all report the same tree root.
nl_one_tree() {
    local n r out=""
    for n in "$@"; do
        r=$(nl_field "$n" '["root_id"]')
        [ -n "$r" ] || return 1
        out+="$r"$'\n'
    done
    [ "$(printf '%s' "$out" | sort -u | wc -l)" = 1 ]
}
# nl_answers NODE...: every node's HTTP responder answers with a node id.
nl_answers() {
    local n
    for n in "$@"; do [ -n "$(nl_id "$n")" ] || return 1; done
}

# nl_send FROM TO_ID TEXT: a reliable end-to-end message via FROM's /send (TEXT: [A-Za-z0-9-]).
nl_send() { nl_get "$1" "send?to=$2&msg=$3"; }
# nl_received NODE TEXT FROM_ID: NODE's last received message is TEXT, from FROM_ID.
nl_received() {
    local st
    st=$(nl_status "$1")
    [ "$(nl_js 'd["messages"]["last_text"]' <<<"$st")" = "$2" ] &&
        [ "$(nl_js 'd["messages"]["last_from"]' <<<"$st")" = "$3" ]
}

# ---- over the TUN interface (zhtpd --tun NAME; docs/zhtpd.conf.md) ----
# nl_ip6 NODE: NODE's mesh IPv6 address from /status ("" without a TUN).
nl_ip6() {
    local v
    v=$(nl_field "$1" '["ipv6"]')
    [ "$v" = None ] && v=""
    echo "$v"
}
# nl_ping6_ok FROM ADDR: one ping -6 answered within 1 s.
nl_ping6_ok() { nsx "$1" ping -6 -n -c1 -W1 "$2" >/dev/null 2>&1; }

# nl_serve NODE ADDR PORT DIR: a static HTTP server (python3 http.server) for DIR on [ADDR]:PORT
# in NODE's namespace, in the background; killed by the cleanup (it runs in our namespace).
nl_serve() {
    nsx "$1" python3 -m http.server --bind "$2" --directory "$4" "$3" >>"$NL_DIR/http-$1.log" 2>&1 </dev/null &
}
# nl_tcp_listening NODE PORT
nl_tcp_listening() { nsx "$1" ss -Hltn "sport = :$2" | grep -q .; }

# nl_tcp_rate FROM TO TO_ADDR BYTES [LIMIT_S]: one TCP connection FROM -> [TO_ADDR]:5001
# carrying BYTES; prints "BYTES_RECEIVED MS" as measured by the receiver (first byte to end of
# stream), or nothing when the transfer failed or took more than LIMIT_S (default 60) s.
nl_tcp_rate() {
    local from=$1 to=$2 addr=$3 bytes=$4 lim=${5:-60} out=$NL_DIR/tcp-rate.$$
    rm -f "$out"
    nsx "$to" timeout $((lim + 10)) python3 - "$addr" >"$out" 2>>"$NL_DIR/tcp-rate.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001)); s.listen(1)
c, _ = s.accept()
n, t0 = 0, None
while True:
    b = c.recv(65536)
    if not b: break
    if t0 is None: t0 = time.monotonic()
    n += len(b)
print(n, int((time.monotonic() - (t0 or time.monotonic())) * 1000), flush=True)
c.close()
PY
    local rp=$!
    nl_wait 5 nl_tcp_listening "$to" 5001 || { kill "$rp" 2>/dev/null; wait "$rp" 2>/dev/null; return 1; }
    nsx "$from" timeout "$lim" python3 - "$addr" "$bytes" 2>>"$NL_DIR/tcp-rate.log" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], 5001), timeout=30)
buf = b"z" * 65536
left = int(sys.argv[2])
while left > 0:
    k = min(left, len(buf)); s.sendall(buf[:k]); left -= k
s.shutdown(socket.SHUT_WR)
s.recv(1)
s.close()
PY
    kill "$rp" 2>/dev/null # the sender gave up: do not wait for the receiver's own timeout
    wait "$rp" 2>/dev/null
    cat "$out" 2>/dev/null
}

# ---- the zhtp command line (control socket; a Unix socket, so no namespace needed) ----
# nl_owner NODE...: `zhtp init` for each NODE's data dir (before its daemon starts), one wallet
# $NL_DIR/owner.key for all (cheapest KDF). Needs the zhtp binary given to nl_init.
nl_owner() {
    local n
    [ -n "$NL_ZHTP" ] || return 1
    [ -f "$NL_DIR/pw" ] || echo "netns test passphrase" >"$NL_DIR/pw"
    for n in "$@"; do
        "$NL_ZHTP" init --data-dir "$NL_DIR/$n" --wallet "$NL_DIR/owner.key" \
            --passphrase-file "$NL_DIR/pw" --kdf min >/dev/null || return 1
    done
}
# nl_zhtp NODE ARGS...: zhtp ARGS against NODE's daemon, as the owner.
nl_zhtp() {
    local n=$1
    shift
    "$NL_ZHTP" "$@" --data-dir "$NL_DIR/$n" --wallet "$NL_DIR/owner.key" --passphrase-file "$NL_DIR/pw"
}
