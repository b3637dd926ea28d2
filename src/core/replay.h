/* core/replay: the sliding anti-replay window of one receive key (docs/sessions.md §5.3).
 *
 * A counter c is fresh when it is above the highest counter accepted so far, or within
 * ZHTP_SESSION_REPLAY_WINDOW below it and not accepted before. The window is a ring bitmap
 * indexed by c mod W, so the check and the update are O(1) for in-order traffic and never
 * above O(W/64) word clears. Plain data, no heap, no secrets. */
#ifndef ZHTP_CORE_REPLAY_H
#define ZHTP_CORE_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "zhtp/session.h"

#define ZHTP_REPLAY_WORDS (ZHTP_SESSION_REPLAY_WINDOW / 64)

typedef struct zhtp_replay {
    uint64_t highest; /* highest accepted counter; meaningless while !any */
    bool any;         /* a counter has been accepted */
    uint64_t bits[ZHTP_REPLAY_WORDS];
} zhtp_replay;

void zhtp_replay_init(zhtp_replay *r);
/* Would c be accepted? Does not change r: call before the (costly) AEAD open. */
bool zhtp_replay_check(const zhtp_replay *r, uint64_t c);
/* Marks c accepted: call only after the packet authenticated. Returns false (and changes
 * nothing) when c is not fresh, so a check/update race cannot accept a counter twice. */
bool zhtp_replay_update(zhtp_replay *r, uint64_t c);

#endif
