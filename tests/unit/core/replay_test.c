/* The anti-replay window: fixed edge cases, then a differential test against a dumb model
 * (a set of every accepted counter) driven by seeded random counters. */
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "testutil.h"

#define W ZHTP_SESSION_REPLAY_WINDOW

static void replay_accepts_each_counter_once(void **state)
{
    (void)state;
    zhtp_replay r;
    zhtp_replay_init(&r);
    for (uint64_t c = 0; c < 5000; c++) {
        assert_true(zhtp_replay_check(&r, c));
        assert_true(zhtp_replay_update(&r, c));
        assert_false(zhtp_replay_check(&r, c));
        assert_false(zhtp_replay_update(&r, c));
    }
}

static void replay_window_edges(void **state)
{
    (void)state;
    zhtp_replay r;
    zhtp_replay_init(&r);
    assert_true(zhtp_replay_update(&r, 10000));
    assert_true(zhtp_replay_check(&r, 10000 - (W - 1))); /* last slot inside */
    assert_false(zhtp_replay_check(&r, 10000 - W));      /* first slot outside */
    assert_true(zhtp_replay_update(&r, 10000 - (W - 1)));
    assert_false(zhtp_replay_update(&r, 10000 - (W - 1)));
    /* A jump of exactly W clears everything, including the slot of 10000 - W + W. */
    assert_true(zhtp_replay_update(&r, 10000 + W));
    assert_false(zhtp_replay_check(&r, 10000));
    assert_true(zhtp_replay_check(&r, 10000 + 1));
    /* Counter 0 and UINT64_MAX. */
    zhtp_replay_init(&r);
    assert_true(zhtp_replay_update(&r, 0));
    assert_false(zhtp_replay_check(&r, 0));
    assert_true(zhtp_replay_update(&r, UINT64_MAX));
    assert_false(zhtp_replay_check(&r, UINT64_MAX));
    assert_false(zhtp_replay_check(&r, 0));
    assert_true(zhtp_replay_check(&r, UINT64_MAX - 1));
}

/* Dumb model: the highest accepted and a sorted-free list of every accepted counter. */
typedef struct model {
    uint64_t *seen;
    size_t n, cap;
    uint64_t highest;
    int any;
} model;

static int model_has(const model *m, uint64_t c)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->seen[i] == c)
            return 1;
    return 0;
}

static int model_check(const model *m, uint64_t c)
{
    if (!m->any || c > m->highest)
        return 1;
    if (m->highest - c >= W)
        return 0;
    return !model_has(m, c);
}

static void model_add(model *m, uint64_t c)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 1024;
        m->seen = realloc(m->seen, m->cap * sizeof *m->seen);
        assert_non_null(m->seen);
    }
    m->seen[m->n++] = c;
    if (!m->any || c > m->highest)
        m->highest = c;
    m->any = 1;
}

static void replay_matches_model_on_random_counters(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        zt_rng rng;
        zt_rng_seed(&rng, seed);
        zhtp_replay r;
        zhtp_replay_init(&r);
        model m = {0};
        uint64_t base = seed == 6 ? UINT64_MAX - 30000 : 0;
        uint64_t top = base;
        for (int i = 0; i < 20000; i++) {
            uint64_t c;
            switch (zt_rng_below(&rng, 5)) {
            case 0: /* forward jump, sometimes beyond the window */
                top += 1 + zt_rng_below(&rng, seed % 2 ? 3000 : 70);
                c = top;
                break;
            case 1: /* duplicate of something recent */
                c = top - zt_rng_below(&rng, 64 < top - base + 1 ? 64 : top - base + 1);
                break;
            default: /* reordered, near the window edge */
                c = top - zt_rng_below(&rng, W + 200 < top - base + 1 ? W + 200 : top - base + 1);
                break;
            }
            int want = model_check(&m, c);
            assert_int_equal(zhtp_replay_check(&r, c), want);
            if (zt_rng_below(&rng, 4) != 0) { /* 1 in 4: the AEAD failed, no update */
                assert_int_equal(zhtp_replay_update(&r, c), want);
                if (want)
                    model_add(&m, c);
            }
        }
        free(m.seen);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replay_accepts_each_counter_once),
        cmocka_unit_test(replay_window_edges),
        cmocka_unit_test(replay_matches_model_on_random_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
