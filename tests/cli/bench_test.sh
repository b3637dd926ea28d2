#!/usr/bin/env bash
# zhtp bench crypto: the JSON has every documented key with a positive number, the text form
# lists every primitive, and bad usage exits 2. (Speed itself is for make bench, not here.)
# Usage: bench_test.sh ZHTP_BINARY
set -u
ZHTP=${1:?usage: bench_test.sh ZHTP_BINARY}
n=0 fails=0
check() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi; }
echo "1..4"

json=$("$ZHTP" bench crypto --quick --json)
check $? "bench crypto --json exits 0"
python3 - "$json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
keys = ["mlkem768_keygen", "mlkem768_encaps", "mlkem768_decaps", "mldsa44_keygen",
        "mldsa44_sign", "mldsa44_verify", "hybrid_kem_encaps", "hybrid_kem_decaps",
        "hybrid_sign", "hybrid_verify", "blake3_1k_gib_s", "blake3_64k_gib_s", "blake3_64m_gib_s"]
missing = [k for k in keys if not (isinstance(d.get(k), (int, float)) and d[k] > 0)]
sys.exit(1 if missing else 0)
PY
check $? "the JSON has all 13 documented keys with positive values"

"$ZHTP" bench crypto --quick >/tmp/zhtp-bench-text.$$ 2>&1
grep -q "ML-DSA-44 verify" /tmp/zhtp-bench-text.$$ && grep -q "BLAKE3 64 MiB" /tmp/zhtp-bench-text.$$
check $? "the text form lists the primitives"
rm -f /tmp/zhtp-bench-text.$$

"$ZHTP" bench nonsense >/dev/null 2>&1
[ $? = 2 ]
check $? "an unknown benchmark exits 2"
[ "$fails" = 0 ]
