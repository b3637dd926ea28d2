# Shared by the loopback integration tests (sourced): TAP output, a watchdog, free ports and an
# HTTP GET, all without root. Each test keeps its own cleanup(), which must kill "$watchdog".

n_test=0 failed=0
ok() { n_test=$((n_test + 1)); echo "ok $n_test - $1"; }
# not_ok NAME [DIAGNOSTIC LINE...]
not_ok() { n_test=$((n_test + 1)); failed=1; echo "not ok $n_test - $1"; shift; for l in "$@"; do echo "# $l"; done; }
# check NAME COMMAND...: one TAP line, ok when COMMAND succeeds
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }

# it_watchdog SECONDS: a hard cap on the whole test, whatever hangs; it ends itself when the
# test does. Sets $watchdog (the test's cleanup kills it).
it_watchdog() {
    local main=$$ ticks=$(($1 * 5)) secs=$1
    ( for _ in $(seq 1 "$ticks"); do sleep 0.2; kill -0 "$main" 2>/dev/null || exit 0; done
      echo "# watchdog: test exceeded $secs s" >&2; kill -TERM "$main" ) 2>/dev/null &
    watchdog=$!
}

# free_port udp|tcp: a port free on 127.0.0.1 now
free_port() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
PY
}
