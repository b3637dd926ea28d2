#!/usr/bin/env bash
# zhtp hash against b3sum (Debian package b3sum) on the same inputs, plus the exit codes and
# messages of the error paths. Prints TAP. Usage: hash_test.sh PATH/TO/zhtp
# Cases that need b3sum report "ok N # SKIP b3sum absent" without it; the others always run.
set -u

ZHTP=${1:?usage: hash_test.sh PATH/TO/zhtp}
# Commands run from a scratch directory, so make the path absolute (meson passes it relative).
case $ZHTP in
/*) ;;
*) ZHTP=$PWD/$ZHTP ;;
esac
export ZHTP
HAVE_B3SUM=0
# ZHTP_TEST_NO_B3SUM=1 exercises the skip path on a machine that has b3sum.
if [ -z "${ZHTP_TEST_NO_B3SUM:-}" ] && command -v b3sum >/dev/null 2>&1; then
    HAVE_B3SUM=1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/zhtp-hash-test.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    shift
    for line in "$@"; do printf '#   %s\n' "$line"; done
}
skip_b3sum() { n=$((n + 1)); echo "ok $n # SKIP b3sum absent: $1"; }

# same NAME CMD_ZHTP CMD_B3SUM [STDIN_FILE]: both commands (strings run by bash in $T) must
# print the same bytes and both exit 0.
same() {
    local name=$1 ours=$2 theirs=$3 input=${4:-/dev/null}
    if [ $HAVE_B3SUM = 0 ]; then
        skip_b3sum "$name"
        return
    fi
    (cd "$T" && bash -c "$ours" <"$input" >"$T/ours.out" 2>"$T/ours.err")
    local rc_ours=$?
    (cd "$T" && bash -c "$theirs" <"$input" >"$T/theirs.out" 2>/dev/null)
    local rc_theirs=$?
    if [ $rc_ours = 0 ] && [ $rc_theirs = 0 ] && cmp -s "$T/ours.out" "$T/theirs.out"; then
        ok "$name"
    else
        not_ok "$name" "zhtp exit $rc_ours, b3sum exit $rc_theirs" \
            "zhtp:  $(head -c 300 "$T/ours.out" | tr '\n' '|') $(head -c 200 "$T/ours.err")" \
            "b3sum: $(head -c 300 "$T/theirs.out" | tr '\n' '|')"
    fi
}

# expect_exit NAME WANT_RC STDERR_REGEX CMD: exit code and a message on stderr.
expect_exit() {
    local name=$1 want=$2 pattern=$3 cmd=$4
    (cd "$T" && bash -c "$cmd" </dev/null >"$T/ours.out" 2>"$T/ours.err")
    local rc=$?
    if [ $rc = "$want" ] && grep -Eq -- "$pattern" "$T/ours.err"; then
        ok "$name"
    else
        not_ok "$name" "exit $rc (want $want); stderr: $(head -c 300 "$T/ours.err" | tr '\n' '|')"
    fi
}

# Inputs. Deterministic content so a failure can be reproduced.
: >"$T/empty"
printf 'a' >"$T/one"
seq 1 1000 | head -c 1025 >"$T/f1025"
seq 1 300000 | head -c 1048576 >"$T/mib"
printf 'x' >"$T/new"$'\n'"line"
printf 'y' >"$T/back\\slash"
KEYHEX=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
printf '%s' "$KEYHEX" | sed 's/../\\x&/g' | xargs -0 printf >"$T/key.bin"

Z='"$ZHTP" hash' # expanded inside each bash -c, from the environment

echo "1..23"

# Known answer that needs no b3sum: the official vector for the empty input.
out=$("$ZHTP" hash "$T/empty" 2>&1)
if [ "$out" = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262  $T/empty" ]; then
    ok "empty file gives the official BLAKE3 empty-input hash"
else
    not_ok "empty file gives the official BLAKE3 empty-input hash" "got: $out"
fi

same "empty file matches b3sum" "$Z empty" "b3sum empty"
same "1-byte file matches b3sum" "$Z one" "b3sum one"
same "1025-byte file (two chunks) matches b3sum" "$Z f1025" "b3sum f1025"
same "1 MiB file matches b3sum" "$Z mib" "b3sum mib"
same "several files in one call match b3sum" "$Z empty one f1025 mib" "b3sum empty one f1025 mib"
same "stdin (no FILE) matches b3sum" "$Z" "b3sum" "$T/mib"
same "stdin as - matches b3sum" "$Z - one" "b3sum - one" "$T/f1025"
same "--length 131 matches b3sum" "$Z --length 131 one mib" "b3sum --length 131 one mib"
same "--derive-key matches b3sum" "$Z --derive-key 'zhtp 2026 test context' mib one" \
    "b3sum --derive-key 'zhtp 2026 test context' mib one"
same "--keyed KEYHEX matches b3sum --keyed (raw key on stdin)" "$Z --keyed $KEYHEX mib f1025" \
    "b3sum --keyed mib f1025" "$T/key.bin"
same "--no-names matches b3sum" "$Z --no-names one mib" "b3sum --no-names one mib"
same "names with newline and backslash are escaped like b3sum" \
    "$Z new*line back*slash" "b3sum new*line back*slash"

# A missing file: message naming it, exit 1, and the other files still hashed.
(cd "$T" && "$ZHTP" hash one missing-file f1025 >"$T/ours.out" 2>"$T/ours.err")
rc=$?
if [ $rc = 1 ] && grep -q 'missing-file' "$T/ours.err" && [ "$(wc -l <"$T/ours.out")" = 2 ] &&
    grep -q '  one$' "$T/ours.out" && grep -q '  f1025$' "$T/ours.out"; then
    ok "missing file: exit 1, message, other files still printed"
else
    not_ok "missing file: exit 1, message, other files still printed" "exit $rc" \
        "stdout: $(tr '\n' '|' <"$T/ours.out")" "stderr: $(tr '\n' '|' <"$T/ours.err")"
fi
if [ $HAVE_B3SUM = 1 ]; then
    (cd "$T" && b3sum one f1025 >"$T/theirs.out")
    if cmp -s "$T/ours.out" "$T/theirs.out"; then
        ok "missing file: the lines printed for the others match b3sum"
    else
        not_ok "missing file: the lines printed for the others match b3sum"
    fi
else
    skip_b3sum "missing file: the lines printed for the others match b3sum"
fi

expect_exit "a directory is an error for that name (exit 1)" 1 'Is a directory' "$Z ."
expect_exit "unknown option: exit 2" 2 "unknown option '--bogus'" "$Z --bogus one"
expect_exit "--keyed with a short key: exit 2, says 64 hex digits" 2 '64 hex digits' \
    "$Z --keyed 0011 one"
expect_exit "--keyed with 64 non-hex characters: exit 2" 2 'not all hex' \
    "$Z --keyed $(printf 'zz%.0s' $(seq 32)) one"
expect_exit "--keyed with --derive-key: exit 2" 2 'exclude each other' \
    "$Z --keyed $KEYHEX --derive-key ctx one"
expect_exit "--length 0: exit 2" 2 'length' "$Z --length 0 one"
expect_exit "--length without a value: exit 2" 2 'needs a value' "$Z --length"

if "$ZHTP" hash --help >"$T/ours.out" 2>&1 && grep -q '^usage: zhtp hash' "$T/ours.out"; then
    ok "--help prints the usage and exits 0"
else
    not_ok "--help prints the usage and exits 0"
fi

[ $n = 23 ] || echo "# planned 23 cases but ran $n"
exit $((failed > 0))
