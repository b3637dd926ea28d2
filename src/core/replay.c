/* Anti-replay window: ring bitmap of ZHTP_SESSION_REPLAY_WINDOW bits, bit (c mod W) set when
 * counter c in (highest - W, highest] was accepted. */
#include "replay.h"

#include <string.h>

#define W ((uint64_t)ZHTP_SESSION_REPLAY_WINDOW)

void zhtp_replay_init(zhtp_replay *r)
{
    memset(r, 0, sizeof *r);
}

static bool bit_get(const zhtp_replay *r, uint64_t c)
{
    uint64_t i = c % W;
    return (r->bits[i / 64] >> (i % 64)) & 1u;
}

bool zhtp_replay_check(const zhtp_replay *r, uint64_t c)
{
    if (!r->any || c > r->highest)
        return true;
    if (r->highest - c >= W) /* left of the window: its bit was recycled, so refuse */
        return false;
    return !bit_get(r, c);
}

bool zhtp_replay_update(zhtp_replay *r, uint64_t c)
{
    if (!zhtp_replay_check(r, c))
        return false;
    if (!r->any || c > r->highest) {
        /* Clear the bits of the counters skipped between the old highest and c: their ring
         * slots held counters that are now left of the window. */
        uint64_t gap = r->any ? c - r->highest : W;
        if (gap >= W) {
            memset(r->bits, 0, sizeof r->bits);
        } else {
            for (uint64_t x = r->highest + 1; x != c; x++) {
                uint64_t i = x % W;
                if (i % 64 == 0 && c - x >= 64) { /* whole word skipped */
                    r->bits[i / 64] = 0;
                    x += 63;
                    continue;
                }
                r->bits[i / 64] &= ~(UINT64_C(1) << (i % 64));
            }
        }
        r->highest = c;
        r->any = true;
    }
    uint64_t i = c % W;
    r->bits[i / 64] |= UINT64_C(1) << (i % 64);
    return true;
}
