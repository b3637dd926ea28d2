/* Hybrid KEM X25519 + ML-KEM-768: round trips, determinism of the seeded forms, the combiner
 * recomputed independently from docs/crypto.md §1, tampering with either ciphertext half,
 * small-order X25519 values and the ML-KEM modulus check. */
#include <string.h>

#include <sodium.h>

#include "zhtp/blake3.h"
#include "zhtp/hybrid.h"
#include "zhtp/util.h"

#include "testutil.h"

#define PK ZHTP_KEM_HYBRID_PUBLICKEYBYTES
#define SK ZHTP_KEM_HYBRID_SECRETKEYBYTES
#define CT ZHTP_KEM_HYBRID_CIPHERTEXTBYTES
#define SS ZHTP_KEM_HYBRID_SSBYTES

static void keypair_seeded(uint8_t pk[PK], uint8_t sk[SK], uint64_t s)
{
    uint8_t seed[ZHTP_KEM_HYBRID_SEEDBYTES];
    zt_rng r;
    zt_rng_seed(&r, s);
    zt_rng_bytes(&r, seed, sizeof seed);
    assert_int_equal(zhtp_kem_hybrid_keypair_from_seed(pk, sk, seed), ZHTP_OK);
}

static void encaps_seeded(uint8_t ct[CT], uint8_t ss[SS], const uint8_t pk[PK], uint64_t s)
{
    uint8_t seed[ZHTP_KEM_HYBRID_ENCAPS_SEEDBYTES];
    zt_rng r;
    zt_rng_seed(&r, s);
    zt_rng_bytes(&r, seed, sizeof seed);
    assert_int_equal(zhtp_kem_hybrid_encaps_from_seed(ct, ss, pk, seed), ZHTP_OK);
}

static void hybrid_kem_round_trip_agrees_on_the_secret(void **state)
{
    for (int i = 0; i < 10; i++) {
        uint8_t pk[PK], sk[SK], ct[CT], ss1[SS], ss2[SS];
        assert_int_equal(zhtp_kem_hybrid_keypair(pk, sk), ZHTP_OK);
        assert_int_equal(zhtp_kem_hybrid_pk_parse(NULL, pk, sizeof pk), ZHTP_OK);
        assert_int_equal(zhtp_kem_hybrid_encaps(ct, ss1, pk), ZHTP_OK);
        assert_int_equal(zhtp_kem_hybrid_decaps(ss2, ct, sizeof ct, sk), ZHTP_OK);
        assert_memory_equal(ss1, ss2, SS);
    }
}

static void hybrid_kem_seeded_forms_are_deterministic(void **state)
{
    uint8_t pk1[PK], sk1[SK], pk2[PK], sk2[SK], ct1[CT], ct2[CT], ss1[SS], ss2[SS];
    keypair_seeded(pk1, sk1, 1);
    keypair_seeded(pk2, sk2, 1);
    assert_memory_equal(pk1, pk2, PK);
    assert_memory_equal(sk1, sk2, SK);
    encaps_seeded(ct1, ss1, pk1, 7);
    encaps_seeded(ct2, ss2, pk1, 7);
    assert_memory_equal(ct1, ct2, CT);
    assert_memory_equal(ss1, ss2, SS);
    /* Another encapsulation seed, another ciphertext and secret. */
    encaps_seeded(ct2, ss2, pk1, 8);
    assert_memory_not_equal(ct1, ct2, CT);
    assert_memory_not_equal(ss1, ss2, SS);
    /* Another key seed, another key. */
    keypair_seeded(pk2, sk2, 2);
    assert_memory_not_equal(pk1, pk2, PK);
}

/* The secret is exactly the documented combiner over the two component secrets, computed
 * here from libsodium and ML-KEM directly. */
static void hybrid_kem_secret_is_the_documented_combiner(void **state)
{
    uint8_t pk[PK], sk[SK], ct[CT], ss[SS];
    uint8_t eseed[ZHTP_KEM_HYBRID_ENCAPS_SEEDBYTES];
    keypair_seeded(pk, sk, 3);
    zt_rng r;
    zt_rng_seed(&r, 4);
    zt_rng_bytes(&r, eseed, sizeof eseed);
    assert_int_equal(zhtp_kem_hybrid_encaps_from_seed(ct, ss, pk, eseed), ZHTP_OK);

    uint8_t x_ss[32], eph_pk[32], m_ct[ZHTP_MLKEM768_CIPHERTEXTBYTES], m_ss[32];
    assert_int_equal(crypto_scalarmult_base(eph_pk, eseed), 0);
    assert_int_equal(crypto_scalarmult(x_ss, eseed, pk), 0);
    assert_int_equal(zhtp_kem_mlkem768_encaps_from_seed(m_ct, m_ss, pk + 32, eseed + 32), ZHTP_OK);
    assert_memory_equal(ct, eph_pk, 32);
    assert_memory_equal(ct + 32, m_ct, sizeof m_ct);

    uint8_t in[32 + 32 + CT + PK], want[SS];
    memcpy(in, x_ss, 32);
    memcpy(in + 32, m_ss, 32);
    memcpy(in + 64, ct, CT);
    memcpy(in + 64 + CT, pk, PK);
    zhtp_blake3_derive_key(want, sizeof want, "zhtp 2026-11 hybrid-kem v1", in, sizeof in);
    assert_memory_equal(ss, want, SS);
    /* And the X25519 secret half alone is not the output. */
    assert_memory_not_equal(ss, x_ss, SS);
    assert_memory_not_equal(ss, m_ss, SS);
}

static void hybrid_kem_flipped_bit_in_either_ct_half_changes_the_secret(void **state)
{
    uint8_t pk[PK], sk[SK], ct[CT], ss[SS], ss2[SS];
    keypair_seeded(pk, sk, 5);
    encaps_seeded(ct, ss, pk, 6);
    zt_rng r;
    zt_rng_seed(&r, 7);
    int tried_x = 0, tried_m = 0;
    /* Every bit of the X25519 half (bit 255 is ignored by X25519 itself: only the transcript
     * binding catches it), and 300 sampled bits of the ML-KEM half. */
    for (size_t i = 0; i < 256 + 300; i++) {
        size_t bit = i < 256 ? i : 256 + (size_t)zt_rng_below(&r, (CT - 32) * 8);
        ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int rc = zhtp_kem_hybrid_decaps(ss2, ct, sizeof ct, sk);
        if (rc == ZHTP_OK)
            assert_memory_not_equal(ss, ss2, SS);
        else
            assert_int_equal(rc, ZHTP_ERR_CRYPTO_BADKEY); /* flipped into a small-order point */
        ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (i < 256)
            tried_x++;
        else
            tried_m++;
    }
    assert_int_equal(tried_x, 256);
    assert_int_equal(zhtp_kem_hybrid_decaps(ss2, ct, sizeof ct, sk), ZHTP_OK);
    assert_memory_equal(ss, ss2, SS);
}

static void hybrid_kem_other_secret_key_gives_another_secret(void **state)
{
    uint8_t pk[PK], sk[SK], pk2[PK], sk2[SK], ct[CT], ss[SS], ss2[SS];
    keypair_seeded(pk, sk, 8);
    keypair_seeded(pk2, sk2, 9);
    encaps_seeded(ct, ss, pk, 10);
    assert_int_equal(zhtp_kem_hybrid_decaps(ss2, ct, sizeof ct, sk2), ZHTP_OK);
    assert_memory_not_equal(ss, ss2, SS);
}

static void hybrid_kem_rejects_small_order_x25519_values(void **state)
{
    /* Two points of small order on Curve25519: 0 and 1 (u-coordinates). */
    static const uint8_t small[2][32] = {{0}, {1}};
    uint8_t pk[PK], sk[SK], ct[CT], ss[SS], ss2[SS];
    keypair_seeded(pk, sk, 11);
    encaps_seeded(ct, ss, pk, 12);
    for (int i = 0; i < 2; i++) {
        uint8_t bad_pk[PK], bad_ct[CT];
        memcpy(bad_pk, pk, PK);
        memcpy(bad_pk, small[i], 32);
        assert_int_equal(zhtp_kem_hybrid_pk_parse(NULL, bad_pk, sizeof bad_pk),
                         ZHTP_ERR_CRYPTO_BADKEY);
        uint8_t eseed[ZHTP_KEM_HYBRID_ENCAPS_SEEDBYTES] = {1};
        memset(ss2, 0x55, sizeof ss2);
        assert_int_equal(zhtp_kem_hybrid_encaps_from_seed(bad_ct, ss2, bad_pk, eseed),
                         ZHTP_ERR_CRYPTO_BADKEY);
        uint8_t zero[SS] = {0};
        assert_memory_equal(ss2, zero, SS);
        memcpy(bad_ct, ct, CT);
        memcpy(bad_ct, small[i], 32);
        assert_int_equal(zhtp_kem_hybrid_decaps(ss2, bad_ct, sizeof bad_ct, sk),
                         ZHTP_ERR_CRYPTO_BADKEY);
    }
}

static void hybrid_kem_pk_parse_checks_length_and_mlkem_modulus(void **state)
{
    uint8_t pk[PK], sk[SK], out[PK];
    keypair_seeded(pk, sk, 13);
    assert_int_equal(zhtp_kem_hybrid_pk_parse(out, pk, PK), ZHTP_OK);
    assert_memory_equal(out, pk, PK);
    assert_int_equal(zhtp_kem_hybrid_pk_parse(out, pk, PK - 1), ZHTP_ERR_CRYPTO_LENGTH);
    assert_int_equal(zhtp_kem_hybrid_pk_parse(out, pk, 0), ZHTP_ERR_CRYPTO_LENGTH);
    assert_int_equal(zhtp_kem_hybrid_pk_parse(out, NULL, PK), ZHTP_ERR_CRYPTO_LENGTH);
    /* First ML-KEM coefficient set to 4095 >= q = 3329: fails the FIPS 203 §7.2 check. */
    pk[32] = 0xff;
    pk[33] |= 0x0f;
    assert_int_equal(zhtp_kem_hybrid_pk_parse(out, pk, PK), ZHTP_ERR_CRYPTO_BADKEY);
    uint8_t ct[CT], ss[SS];
    assert_int_equal(zhtp_kem_hybrid_encaps(ct, ss, pk), ZHTP_ERR_CRYPTO_BADKEY);
}

static void hybrid_kem_decaps_rejects_wrong_ciphertext_length(void **state)
{
    uint8_t pk[PK], sk[SK], ct[CT + 1], ss[SS];
    keypair_seeded(pk, sk, 14);
    encaps_seeded(ct, ss, pk, 15);
    assert_int_equal(zhtp_kem_hybrid_decaps(ss, ct, CT - 1, sk), ZHTP_ERR_CRYPTO_LENGTH);
    assert_int_equal(zhtp_kem_hybrid_decaps(ss, ct, CT + 1, sk), ZHTP_ERR_CRYPTO_LENGTH);
    assert_int_equal(zhtp_kem_hybrid_decaps(ss, NULL, CT, sk), ZHTP_ERR_CRYPTO_LENGTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hybrid_kem_round_trip_agrees_on_the_secret),
        cmocka_unit_test(hybrid_kem_seeded_forms_are_deterministic),
        cmocka_unit_test(hybrid_kem_secret_is_the_documented_combiner),
        cmocka_unit_test(hybrid_kem_flipped_bit_in_either_ct_half_changes_the_secret),
        cmocka_unit_test(hybrid_kem_other_secret_key_gives_another_secret),
        cmocka_unit_test(hybrid_kem_rejects_small_order_x25519_values),
        cmocka_unit_test(hybrid_kem_pk_parse_checks_length_and_mlkem_modulus),
        cmocka_unit_test(hybrid_kem_decaps_rejects_wrong_ciphertext_length),
    };
    return cmocka_run_group_tests_name("hybrid_kem", tests, NULL, NULL);
}
