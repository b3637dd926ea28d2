/* Hybrid signature Ed25519 + ML-DSA-44: round trips, the documented M'' checked against each
 * primitive directly, and rejection of every kind of tampering: flipped bits (sampled over the
 * whole signature and public key), stripped or zeroed halves, halves swapped between two keys
 * (also under a recombined public key), a signature whose only valid half is Ed25519 or only
 * ML-DSA, context and length mismatches. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "zhtp/blake3.h"
#include "zhtp/hybrid.h"
#include "zhtp/util.h"

#include "testutil.h"

#define PK  ZHTP_SIGN_HYBRID_PUBLICKEYBYTES
#define SK  ZHTP_SIGN_HYBRID_SECRETKEYBYTES
#define SIG ZHTP_SIGN_HYBRID_BYTES
#define ED  ZHTP_ED25519_BYTES

static const uint8_t msg[] = "route receipt batch 42";
static const uint8_t ctx[] = "zhtp receipts";
#define MSG_LEN (sizeof msg - 1)
#define CTX_LEN (sizeof ctx - 1)

static void keypair_seeded(uint8_t pk[PK], uint8_t sk[SK], uint64_t s)
{
    uint8_t seed[ZHTP_SIGN_HYBRID_SEEDBYTES];
    zt_rng r;
    zt_rng_seed(&r, s);
    zt_rng_bytes(&r, seed, sizeof seed);
    assert_int_equal(zhtp_sign_hybrid_keypair_from_seed(pk, sk, seed), ZHTP_OK);
}

static int verify(const uint8_t *sig, size_t sig_len, const uint8_t *pk, size_t pk_len)
{
    return zhtp_sign_hybrid_verify(sig, sig_len, msg, MSG_LEN, ctx, CTX_LEN, pk, pk_len);
}

/* M'' built from docs/crypto.md §2, independently of the library. malloc'd. */
static uint8_t *mpp(size_t *len, const uint8_t pk[PK], const uint8_t *m, size_t m_len,
                    const uint8_t *c, size_t c_len)
{
    const char *dom = "zhtp 2026-11 hybrid-sig v1";
    size_t dl = strlen(dom);
    uint8_t *out = malloc(dl + 32 + 1 + c_len + m_len);
    assert_non_null(out);
    memcpy(out, dom, dl);
    zhtp_blake3_derive_key(out + dl, 32, "zhtp 2026-11 hybrid-sig pk v1", pk, PK);
    out[dl + 32] = (uint8_t)c_len;
    memcpy(out + dl + 33, c, c_len);
    memcpy(out + dl + 33 + c_len, m, m_len);
    *len = dl + 33 + c_len + m_len;
    return out;
}

static void hybrid_sig_round_trip_verifies(void **state)
{
    uint8_t pk[PK], sk[SK], sig[SIG], sig2[SIG];
    assert_int_equal(zhtp_sign_hybrid_keypair(pk, sk), ZHTP_OK);
    assert_int_equal(zhtp_sign_hybrid_pk_parse(NULL, pk, PK), ZHTP_OK);
    assert_int_equal(zhtp_sign_hybrid_sign(sig, msg, MSG_LEN, ctx, CTX_LEN, sk), ZHTP_OK);
    assert_int_equal(verify(sig, SIG, pk, PK), ZHTP_OK);
    /* Hedged: a second signature differs in its ML-DSA half and verifies too. */
    assert_int_equal(zhtp_sign_hybrid_sign(sig2, msg, MSG_LEN, ctx, CTX_LEN, sk), ZHTP_OK);
    assert_memory_equal(sig, sig2, ED); /* Ed25519 is deterministic */
    assert_memory_not_equal(sig + ED, sig2 + ED, SIG - ED);
    assert_int_equal(verify(sig2, SIG, pk, PK), ZHTP_OK);
    /* Empty message and empty context. */
    assert_int_equal(zhtp_sign_hybrid_sign(sig, NULL, 0, NULL, 0, sk), ZHTP_OK);
    assert_int_equal(zhtp_sign_hybrid_verify(sig, SIG, NULL, 0, NULL, 0, pk, PK), ZHTP_OK);
    /* Largest context. */
    uint8_t big[255];
    memset(big, 'c', sizeof big);
    assert_int_equal(zhtp_sign_hybrid_sign(sig, msg, MSG_LEN, big, sizeof big, sk), ZHTP_OK);
    assert_int_equal(zhtp_sign_hybrid_verify(sig, SIG, msg, MSG_LEN, big, sizeof big, pk, PK),
                     ZHTP_OK);
}

static void hybrid_sig_deterministic_variant_repeats(void **state)
{
    uint8_t pk[PK], sk[SK], pk2[PK], sk2[SK], s1[SIG], s2[SIG];
    keypair_seeded(pk, sk, 1);
    keypair_seeded(pk2, sk2, 1);
    assert_memory_equal(pk, pk2, PK);
    assert_memory_equal(sk, sk2, SK);
    assert_int_equal(zhtp_sign_hybrid_sign_deterministic(s1, msg, MSG_LEN, ctx, CTX_LEN, sk),
                     ZHTP_OK);
    assert_int_equal(zhtp_sign_hybrid_sign_deterministic(s2, msg, MSG_LEN, ctx, CTX_LEN, sk),
                     ZHTP_OK);
    assert_memory_equal(s1, s2, SIG);
    assert_int_equal(verify(s1, SIG, pk, PK), ZHTP_OK);
}

static void hybrid_sig_seeded_randomness_is_reproducible(void **state)
{
    uint8_t pk[PK], sk[SK], s1[SIG], s2[SIG], s3[SIG], det[SIG];
    uint8_t rnd[ZHTP_MLDSA44_RNDBYTES], rnd2[ZHTP_MLDSA44_RNDBYTES], zero[32] = {0};
    keypair_seeded(pk, sk, 12);
    memset(rnd, 0x11, sizeof rnd);
    memset(rnd2, 0x22, sizeof rnd2);
    assert_int_equal(zhtp_sign_hybrid_sign_from_seed(s1, msg, MSG_LEN, ctx, CTX_LEN, sk, rnd),
                     ZHTP_OK);
    assert_int_equal(zhtp_sign_hybrid_sign_from_seed(s2, msg, MSG_LEN, ctx, CTX_LEN, sk, rnd),
                     ZHTP_OK);
    assert_int_equal(zhtp_sign_hybrid_sign_from_seed(s3, msg, MSG_LEN, ctx, CTX_LEN, sk, rnd2),
                     ZHTP_OK);
    assert_memory_equal(s1, s2, SIG);
    assert_memory_not_equal(s1 + ED, s3 + ED, SIG - ED);
    assert_int_equal(verify(s1, SIG, pk, PK), ZHTP_OK);
    assert_int_equal(verify(s3, SIG, pk, PK), ZHTP_OK);
    /* rnd = 0 is the deterministic variant, and its ML-DSA half is exactly what FIPS 204's
     * pure deterministic ML-DSA.Sign(sk, M'', ctx) gives: the library's M' formatting is
     * the standard's. */
    assert_int_equal(zhtp_sign_hybrid_sign_from_seed(s1, msg, MSG_LEN, ctx, CTX_LEN, sk, zero),
                     ZHTP_OK);
    assert_int_equal(zhtp_sign_hybrid_sign_deterministic(det, msg, MSG_LEN, ctx, CTX_LEN, sk),
                     ZHTP_OK);
    assert_memory_equal(s1, det, SIG);
    size_t len;
    uint8_t *m = mpp(&len, pk, msg, MSG_LEN, ctx, CTX_LEN);
    uint8_t ml[ZHTP_MLDSA44_BYTES];
    assert_int_equal(zhtp_sign_mldsa44_sign_deterministic(ml, m, len, ctx, CTX_LEN, sk + 64),
                     ZHTP_OK);
    assert_memory_equal(det + ED, ml, sizeof ml);
    free(m);
}

static void hybrid_sig_halves_are_the_documented_construction(void **state)
{
    uint8_t pk[PK], sk[SK], sig[SIG];
    keypair_seeded(pk, sk, 2);
    assert_int_equal(zhtp_sign_hybrid_sign(sig, msg, MSG_LEN, ctx, CTX_LEN, sk), ZHTP_OK);
    size_t len;
    uint8_t *m = mpp(&len, pk, msg, MSG_LEN, ctx, CTX_LEN);
    assert_int_equal(crypto_sign_ed25519_verify_detached(sig, m, len, pk), 0);
    assert_int_equal(zhtp_sign_mldsa44_verify(sig + ED, SIG - ED, m, len, ctx, CTX_LEN, pk + 32),
                     ZHTP_OK);
    /* Neither half is a signature of the bare message. */
    assert_int_not_equal(crypto_sign_ed25519_verify_detached(sig, msg, MSG_LEN, pk), 0);
    assert_int_not_equal(
        zhtp_sign_mldsa44_verify(sig + ED, SIG - ED, msg, MSG_LEN, ctx, CTX_LEN, pk + 32), ZHTP_OK);
    free(m);
}

static void hybrid_sig_sampled_flipped_bits_are_rejected(void **state)
{
    uint8_t pk[PK], sk[SK], sig[SIG];
    keypair_seeded(pk, sk, 3);
    assert_int_equal(zhtp_sign_hybrid_sign(sig, msg, MSG_LEN, ctx, CTX_LEN, sk), ZHTP_OK);
    zt_rng r;
    zt_rng_seed(&r, 4);
    /* Every bit of the Ed25519 half, 600 sampled bits of the ML-DSA half. */
    for (size_t i = 0; i < ED * 8 + 600; i++) {
        size_t bit = i < ED * 8 ? i : ED * 8 + (size_t)zt_rng_below(&r, (SIG - ED) * 8);
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (verify(sig, SIG, pk, PK) != ZHTP_ERR_CRYPTO_VERIFY)
            fail_msg("signature bit %zu flipped and still accepted", bit);
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* Every bit of the Ed25519 key, 600 sampled bits of the ML-DSA key. */
    for (size_t i = 0; i < 32 * 8 + 600; i++) {
        size_t bit = i < 256 ? i : 256 + (size_t)zt_rng_below(&r, (PK - 32) * 8);
        pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (verify(sig, SIG, pk, PK) != ZHTP_ERR_CRYPTO_VERIFY)
            fail_msg("public key bit %zu flipped and still accepted", bit);
        pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* The message and the context too. */
    uint8_t m2[MSG_LEN];
    memcpy(m2, msg, MSG_LEN);
    for (size_t bit = 0; bit < MSG_LEN * 8; bit += 5) {
        m2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(zhtp_sign_hybrid_verify(sig, SIG, m2, MSG_LEN, ctx, CTX_LEN, pk, PK),
                         ZHTP_ERR_CRYPTO_VERIFY);
        m2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(verify(sig, SIG, pk, PK), ZHTP_OK);
}

static void hybrid_sig_stripped_or_zeroed_halves_are_rejected(void **state)
{
    uint8_t pk[PK], sk[SK], sig[SIG], t[SIG];
    keypair_seeded(pk, sk, 5);
    assert_int_equal(zhtp_sign_hybrid_sign(sig, msg, MSG_LEN, ctx, CTX_LEN, sk), ZHTP_OK);
    /* Stripped: one half alone has the wrong length. */
    assert_int_equal(verify(sig, ED, pk, PK), ZHTP_ERR_CRYPTO_LENGTH);
    assert_int_equal(verify(sig + ED, SIG - ED, pk, PK), ZHTP_ERR_CRYPTO_LENGTH);
    /* Zeroed in place. */
    memcpy(t, sig, SIG);
    memset(t, 0, ED);
    assert_int_equal(verify(t, SIG, pk, PK), ZHTP_ERR_CRYPTO_VERIFY);
    memcpy(t, sig, SIG);
    memset(t + ED, 0, SIG - ED);
    assert_int_equal(verify(t, SIG, pk, PK), ZHTP_ERR_CRYPTO_VERIFY);
}

static void hybrid_sig_halves_swapped_between_keys_are_rejected(void **state)
{
    uint8_t pka[PK], ska[SK], pkb[PK], skb[SK], sa[SIG], sb[SIG], mix[SIG], pkmix[PK];
    keypair_seeded(pka, ska, 6);
    keypair_seeded(pkb, skb, 7);
    assert_int_equal(zhtp_sign_hybrid_sign(sa, msg, MSG_LEN, ctx, CTX_LEN, ska), ZHTP_OK);
    assert_int_equal(zhtp_sign_hybrid_sign(sb, msg, MSG_LEN, ctx, CTX_LEN, skb), ZHTP_OK);
    for (int which = 0; which < 2; which++) {
        const uint8_t *ed_sig = which ? sb : sa, *ml_sig = which ? sa : sb;
        const uint8_t *ed_pk = which ? pkb : pka, *ml_pk = which ? pka : pkb;
        memcpy(mix, ed_sig, ED);
        memcpy(mix + ED, ml_sig + ED, SIG - ED);
        /* Against either original key, */
        assert_int_equal(verify(mix, SIG, pka, PK), ZHTP_ERR_CRYPTO_VERIFY);
        assert_int_equal(verify(mix, SIG, pkb, PK), ZHTP_ERR_CRYPTO_VERIFY);
        /* and against the recombined key whose halves each signed their half: the hash of the
         * whole key in M'' is what stops this one. */
        memcpy(pkmix, ed_pk, 32);
        memcpy(pkmix + 32, ml_pk + 32, PK - 32);
        assert_int_equal(verify(mix, SIG, pkmix, PK), ZHTP_ERR_CRYPTO_VERIFY);
    }
}

/* A signature where exactly one half is a valid signature of the right M'' under the right
 * key, and the other is a valid signature of something else. */
static void hybrid_sig_one_valid_half_is_not_enough(void **state)
{
    uint8_t pk[PK], sk[SK], good[SIG], other[SIG], t[SIG];
    keypair_seeded(pk, sk, 8);
    assert_int_equal(zhtp_sign_hybrid_sign(good, msg, MSG_LEN, ctx, CTX_LEN, sk), ZHTP_OK);
    assert_int_equal(zhtp_sign_hybrid_sign(other, (const uint8_t *)"other", 5, ctx, CTX_LEN, sk),
                     ZHTP_OK);
    /* Ed25519-only valid. */
    memcpy(t, good, ED);
    memcpy(t + ED, other + ED, SIG - ED);
    assert_int_equal(verify(t, SIG, pk, PK), ZHTP_ERR_CRYPTO_VERIFY);
    /* ML-DSA-only valid. */
    memcpy(t, other, ED);
    memcpy(t + ED, good + ED, SIG - ED);
    assert_int_equal(verify(t, SIG, pk, PK), ZHTP_ERR_CRYPTO_VERIFY);
    /* ML-DSA half valid over M'' but without the context in ML-DSA's own ctx. */
    size_t len;
    uint8_t *m = mpp(&len, pk, msg, MSG_LEN, ctx, CTX_LEN);
    memcpy(t, good, ED);
    assert_int_equal(zhtp_sign_mldsa44_sign(t + ED, m, len, NULL, 0, sk + 64), ZHTP_OK);
    assert_int_equal(verify(t, SIG, pk, PK), ZHTP_ERR_CRYPTO_VERIFY);
    /* Rebuilt by hand from the components: accepted (the control for the cases above). */
    assert_int_equal(zhtp_sign_mldsa44_sign(t + ED, m, len, ctx, CTX_LEN, sk + 64), ZHTP_OK);
    assert_int_equal(verify(t, SIG, pk, PK), ZHTP_OK);
    free(m);
}

static void hybrid_sig_context_mismatch_is_rejected(void **state)
{
    uint8_t pk[PK], sk[SK], sig[SIG];
    keypair_seeded(pk, sk, 9);
    assert_int_equal(zhtp_sign_hybrid_sign(sig, msg, MSG_LEN, ctx, CTX_LEN, sk), ZHTP_OK);
    assert_int_equal(zhtp_sign_hybrid_verify(sig, SIG, msg, MSG_LEN, NULL, 0, pk, PK),
                     ZHTP_ERR_CRYPTO_VERIFY);
    assert_int_equal(zhtp_sign_hybrid_verify(sig, SIG, msg, MSG_LEN, ctx, CTX_LEN - 1, pk, PK),
                     ZHTP_ERR_CRYPTO_VERIFY);
    /* Moving bytes between context and message does not verify either. */
    uint8_t cm[CTX_LEN + MSG_LEN];
    memcpy(cm, ctx, CTX_LEN);
    memcpy(cm + CTX_LEN, msg, MSG_LEN);
    assert_int_equal(zhtp_sign_hybrid_verify(sig, SIG, cm + 1, sizeof cm - 1, cm, 1, pk, PK),
                     ZHTP_ERR_CRYPTO_VERIFY);
    uint8_t big[256] = {0};
    assert_int_equal(zhtp_sign_hybrid_sign(sig, msg, MSG_LEN, big, sizeof big, sk), ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_sign_hybrid_verify(sig, SIG, msg, MSG_LEN, big, sizeof big, pk, PK),
                     ZHTP_ERR_INVAL);
}

static void hybrid_sig_wrong_lengths_are_rejected(void **state)
{
    uint8_t pk[PK + 1], sk[SK], sig[SIG + 1];
    keypair_seeded(pk, sk, 10);
    assert_int_equal(zhtp_sign_hybrid_sign(sig, msg, MSG_LEN, ctx, CTX_LEN, sk), ZHTP_OK);
    sig[SIG] = 0;
    pk[PK] = 0;
    assert_int_equal(verify(sig, SIG + 1, pk, PK), ZHTP_ERR_CRYPTO_LENGTH);
    assert_int_equal(verify(sig, SIG - 1, pk, PK), ZHTP_ERR_CRYPTO_LENGTH);
    assert_int_equal(verify(sig, SIG, pk, PK + 1), ZHTP_ERR_CRYPTO_LENGTH);
    assert_int_equal(verify(sig, SIG, pk, PK - 1), ZHTP_ERR_CRYPTO_LENGTH);
    assert_int_equal(verify(sig, 0, pk, PK), ZHTP_ERR_CRYPTO_LENGTH);
    assert_int_equal(zhtp_sign_hybrid_pk_parse(NULL, pk, PK + 1), ZHTP_ERR_CRYPTO_LENGTH);
    assert_int_equal(verify(sig, SIG, pk, PK), ZHTP_OK);
}

static void hybrid_sig_pk_parse_rejects_small_order_ed25519(void **state)
{
    uint8_t pk[PK], sk[SK], out[PK];
    keypair_seeded(pk, sk, 11);
    assert_int_equal(zhtp_sign_hybrid_pk_parse(out, pk, PK), ZHTP_OK);
    assert_memory_equal(out, pk, PK);
    memset(pk, 0, 32);
    pk[0] = 1; /* the neutral element (0, 1) */
    assert_int_equal(zhtp_sign_hybrid_pk_parse(out, pk, PK), ZHTP_ERR_CRYPTO_BADKEY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hybrid_sig_round_trip_verifies),
        cmocka_unit_test(hybrid_sig_deterministic_variant_repeats),
        cmocka_unit_test(hybrid_sig_seeded_randomness_is_reproducible),
        cmocka_unit_test(hybrid_sig_halves_are_the_documented_construction),
        cmocka_unit_test(hybrid_sig_sampled_flipped_bits_are_rejected),
        cmocka_unit_test(hybrid_sig_stripped_or_zeroed_halves_are_rejected),
        cmocka_unit_test(hybrid_sig_halves_swapped_between_keys_are_rejected),
        cmocka_unit_test(hybrid_sig_one_valid_half_is_not_enough),
        cmocka_unit_test(hybrid_sig_context_mismatch_is_rejected),
        cmocka_unit_test(hybrid_sig_wrong_lengths_are_rejected),
        cmocka_unit_test(hybrid_sig_pk_parse_rejects_small_order_ed25519),
    };
    return cmocka_run_group_tests_name("hybrid_sig", tests, NULL, NULL);
}
