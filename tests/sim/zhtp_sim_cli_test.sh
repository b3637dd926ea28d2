#!/bin/sh
# zhtp-sim CLI: --help works, the same seed prints byte-identical JSON, another seed differs,
# a bad topology is refused.
B="$ZHTP_BUILD_DIR/tools/zhtp-sim/zhtp-sim"
echo "1..4"
if "$B" --help | grep -q -- "--topology"; then echo "ok 1 help"; else echo "not ok 1 help"; fi
A=$("$B" --topology random:30:3 --seed 4 --media mixed --messages 20 --loss 0.05 --cut-link-at 18 --json)
C=$("$B" --topology random:30:3 --seed 4 --media mixed --messages 20 --loss 0.05 --cut-link-at 18 --json)
D=$("$B" --topology random:30:3 --seed 5 --media mixed --messages 20 --loss 0.05 --cut-link-at 18 --json)
if [ -n "$A" ] && [ "$A" = "$C" ]; then echo "ok 2 same seed byte-identical"; else echo "not ok 2 same seed byte-identical"; fi
if [ "$A" != "$D" ]; then echo "ok 3 other seed differs"; else echo "not ok 3 other seed differs"; fi
if "$B" --topology grid:3 >/dev/null 2>&1; then echo "not ok 4 bad topology refused"; else echo "ok 4 bad topology refused"; fi
