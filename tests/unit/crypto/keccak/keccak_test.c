/* FIPS 202 known answers (the standard's own examples for the empty string and "abc") and
 * differential checks: incremental == one-shot at every split, x4 == four single sponges. */
#include <string.h>

#include "zhtp/util.h"
#include "keccak.h"

#include "testutil.h"

static void assert_hex(const uint8_t *got, size_t len, const char *want)
{
    char hex[2 * 256 + 1];
    assert_true(len <= 256);
    zhtp_hex_encode(hex, sizeof hex, got, len);
    assert_string_equal(hex, want);
}

static void sha3_and_shake_known_answers(void **state)
{
    uint8_t out[64];
    zhtp_sha3_256(out, (const uint8_t *)"", 0);
    assert_hex(out, 32, "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
    zhtp_sha3_256(out, (const uint8_t *)"abc", 3);
    assert_hex(out, 32, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
    zhtp_sha3_512(out, (const uint8_t *)"abc", 3);
    assert_hex(out, 64,
               "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a"
               "7ec57647e3934057340b4cf408d5a56592f8274eec53f0");
    zhtp_shake128(out, 32, (const uint8_t *)"", 0);
    assert_hex(out, 32, "7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26");
    zhtp_shake256(out, 64, (const uint8_t *)"", 0);
    assert_hex(out, 64,
               "46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762fd75dc4ddd8c0f200cb"
               "05019d67b592f6fc821c49479ab48640292eacb3b7c4be");
}

static void incremental_matches_oneshot_at_every_split(void **state)
{
    zt_rng r;
    uint8_t in[700], want[500], got[500];
    zt_rng_seed(&r, 1);
    zt_rng_bytes(&r, in, sizeof in);
    zhtp_shake128(want, sizeof want, in, sizeof in);
    for (size_t split = 0; split <= sizeof in; split += 7) {
        zhtp_keccak k;
        zhtp_shake128_init(&k);
        zhtp_keccak_absorb(&k, in, split);
        zhtp_keccak_absorb(&k, in + split, sizeof in - split);
        zhtp_shake_finalize(&k);
        size_t a = split % 200;
        zhtp_keccak_squeeze(&k, got, a);
        zhtp_keccak_squeeze(&k, got + a, sizeof got - a);
        assert_memory_equal(got, want, sizeof want);
    }
}

static void x4_matches_four_single_sponges(void **state)
{
    zt_rng r;
    zt_rng_seed(&r, 2);
    const unsigned rates[2] = {ZHTP_SHAKE128_RATE, ZHTP_SHAKE256_RATE};
    for (size_t len = 0; len < 400; len += 33) {
        for (int ri = 0; ri < 2; ri++) {
            uint8_t in[4][400], out[4][3 * 168], want[3 * 168];
            for (int j = 0; j < 4; j++)
                zt_rng_bytes(&r, in[j], len);
            zhtp_keccak_x4 k4;
            zhtp_keccak_x4_absorb_once(&k4, rates[ri], in[0], in[1], in[2], in[3], len, 0x1f);
            zhtp_keccak_x4_squeezeblocks(&k4, out[0], out[1], out[2], out[3], 3);
            for (int j = 0; j < 4; j++) {
                if (ri == 0)
                    zhtp_shake128(want, 3 * rates[ri], in[j], len);
                else
                    zhtp_shake256(want, 3 * rates[ri], in[j], len);
                assert_memory_equal(out[j], want, 3 * rates[ri]);
            }
        }
    }
}

/* The SIMD x4 backend against the portable one on random states, and the x4 sponges under
 * each backend against single sponges. Skipped (not passed) when the CPU lacks AVX2. */
static void x4_avx2_permutation_matches_portable(void **state)
{
    zt_rng r;
    zt_rng_seed(&r, 3);
    if (zhtp_keccak_x4_set_impl("avx2") != 0) {
        zhtp_keccak_x4_set_impl("auto");
        skip();
    }
    for (int trial = 0; trial < 200; trial++) {
        uint64_t a[100], b[100], one[25];
        zt_rng_bytes(&r, a, sizeof a);
        memcpy(b, a, sizeof a);
        for (int i = 0; i < 25; i++) /* instance trial % 4, permuted alone */
            one[i] = a[4 * i + trial % 4];
        zhtp_keccakf1600(one);
        assert_int_equal(zhtp_keccak_x4_set_impl("avx2"), 0);
        assert_string_equal(zhtp_keccak_x4_impl(), "avx2");
        zhtp_keccakf1600_x4(a);
        assert_int_equal(zhtp_keccak_x4_set_impl("portable"), 0);
        zhtp_keccakf1600_x4(b);
        assert_memory_equal(a, b, sizeof a);
        for (int i = 0; i < 25; i++)
            assert_true(a[4 * i + trial % 4] == one[i]);
    }
    assert_int_equal(zhtp_keccak_x4_set_impl("avx2"), 0);
    x4_matches_four_single_sponges(state);
    zhtp_keccak_x4_set_impl("auto");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha3_and_shake_known_answers),
        cmocka_unit_test(incremental_matches_oneshot_at_every_split),
        cmocka_unit_test(x4_matches_four_single_sponges),
        cmocka_unit_test(x4_avx2_permutation_matches_portable),
    };
    return cmocka_run_group_tests_name("keccak", tests, NULL, NULL);
}
