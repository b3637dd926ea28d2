# shellcheck shell=bash disable=SC2034 # OVL, SC_PATHS: globals of run.sh
# zhtpd as a scenario of the shared overlay bench (../shared/bench/overlay/run.sh, sourced by it
# through ZB_SCENARIOS; see bench/overlay/README.md). One zhtpd per namespace zb-a, zb-b, zb-c,
# each with its TUN interface (zb-zh-NODE) and static UDP peers only with its neighbours over
# the underlay IPv6 (a - b - c), so a reaches c only through b's daemon. Defaults otherwise:
# TUN MTU 16384 (zhtpd's default), control socket on, log level warn.
#   zhtpd          the defaults
#   zhtpd-mtu1280  the TUN MTU (and so the largest packet carried) forced to 1280
# ZHTPD_BIN: the daemon to run (default: build-release/tools/zhtpd/zhtpd of this repository).
# ZHTPD_EXTRA: extra "key = value" lines for every node's config (e.g. for experiments).

ZHTPD_SC_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ZHTPD_BIN=${ZHTPD_BIN:-$ZHTPD_SC_REPO/build-release/tools/zhtpd/zhtpd}
ZHTPD_PORT=13100
ZHTPD_HTTP=13180 # on each namespace's own loopback

# zh_get NODE PATH: GET http://127.0.0.1:ZHTPD_HTTP/PATH inside zb-NODE ("" on error).
zh_get() {
	nsx "$1" python3 -c 'import sys, urllib.request
try: sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())
except Exception: pass' "http://127.0.0.1:$ZHTPD_HTTP/$2"
}
# zh_status NODE EXPR: EXPR over d = NODE's /status JSON ("" on error).
zh_status() {
	zh_get "$1" status | python3 -c 'import json, sys
try:
    v = eval(sys.argv[1], {"d": json.load(sys.stdin)})
    print("" if v is None else v)
except Exception: print("")' "$2"
}
zh_tun_up() { nsx "$1" ip -6 addr show dev "zb-zh-$1" scope global | grep -q inet6; }
# distinct neighbour nodes ("peers" counts a node twice when LAN discovery also finds it on
# its link-local address)
zh_peers_are() { [ "$(zh_status "$1" 'len({x["id"] for x in d["neighbours"]})')" = "$2" ]; }

sc_zhtpd_check() {
	[ -x "$ZHTPD_BIN" ] || { echo "no zhtpd at $ZHTPD_BIN (meson setup build-release -Dbuildtype=release; ninja -C build-release)"; return 1; }
	need python3 || return 1
	[ -c /dev/net/tun ] || { echo "no /dev/net/tun"; return 1; }
}
sc_zhtpd_version() {
	local rev=""
	# The repository's revision describes the binary only when it is the repository's build.
	if [ "$ZHTPD_BIN" = "$ZHTPD_SC_REPO/build-release/tools/zhtpd/zhtpd" ]; then
		rev=$(git -C "$ZHTPD_SC_REPO" rev-parse --short HEAD 2>/dev/null)
		rev="${rev:-?}$(git -C "$ZHTPD_SC_REPO" diff --quiet HEAD -- src tools 2>/dev/null || echo '+dirty') "
	fi
	echo "zhtpd ${rev}($ZHTPD_BIN built $(date -u -r "$ZHTPD_BIN" +%FT%TZ 2>/dev/null), tun_mtu ${ZHTPD_TUN_MTU:-default}${ZHTPD_EXTRA:+, $ZHTPD_EXTRA})"
}

sc_zhtpd_start() {
	local d=$WORK/zhtpd n p st
	mkdir -p "$d"
	for n in $NODES; do
		{
			echo "data_dir = $d/$n"
			echo "dev_no_passphrase = true"
			echo "listen = [::]:$ZHTPD_PORT"
			for p in $(neighbours "$n"); do echo "peer = [$(ul6 "$p" "$n")]:$ZHTPD_PORT"; done
			echo "http = 127.0.0.1:$ZHTPD_HTTP"
			echo "tun = zb-zh-$n"
			[ -n "${ZHTPD_TUN_MTU:-}" ] && echo "tun_mtu = $ZHTPD_TUN_MTU"
			echo "log_level = warn"
			[ -n "${ZHTPD_EXTRA:-}" ] && printf '%s\n' "$ZHTPD_EXTRA"
		} >"$d/$n.conf"
		start_daemon "$n" "$WORK/logs/zhtpd-$n.log" "$ZHTPD_BIN" --config "$d/$n.conf"
	done
	for n in $NODES; do
		wait_until 15 zh_tun_up "$n" || { log "zhtpd $n: no TUN address on zb-zh-$n"; return 1; }
	done
	# (wait_until counts 0.1 s sleeps; each probe here also costs ~0.1 s)
	wait_until 30 zh_peers_are b 2 || { log "zhtpd: b has not authenticated both neighbours: $(zh_get b status)"; return 1; }
	wait_until 10 zh_peers_are a 1 || { log "zhtpd: a has not authenticated b: $(zh_get a status)"; return 1; }
	wait_until 10 zh_peers_are c 1 || { log "zhtpd: c has not authenticated b: $(zh_get c status)"; return 1; }
	for n in $NODES; do
		st=$(zh_get "$n" status)
		OVL[$n]=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["ipv6"])' "$st") ||
			{ log "zhtpd $n: unexpected /status: $st"; return 1; }
	done
	SC_PATHS="a:c a:b"
}
