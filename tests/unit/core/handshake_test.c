/* Handshake messages as pure functions: build/parse round trips, exact sizes, every
 * truncation rejected, and each cryptographic check failing on the field it protects. */
#include <string.h>

#include "handshake.h"
#include "testutil.h"

typedef struct fx {
    zhtp_identity *i, *r;
    uint8_t init[ZHTP_HS_INIT_LEN_MAX], resp[ZHTP_HS_RESP_LEN_MAX];
    size_t ilen, rlen;
    zhtp_hs_initiator st;
    zhtp_hs_keys rkeys;
    zhtp_session_stats ops;
} fx;

static fx F;

static int setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES];
    memset(seed, 1, sizeof seed);
    assert_int_equal(zhtp_identity_from_seed(&F.i, seed), 0);
    memset(seed, 2, sizeof seed);
    assert_int_equal(zhtp_identity_from_seed(&F.r, seed), 0);
    const zhtp_identity_public *rp = zhtp_identity_get_public(F.r);
    uint8_t s1[ZHTP_HS_INIT_SEEDBYTES] = {1}, s2[ZHTP_HS_RESP_SEEDBYTES] = {2};
    zhtp_ssize n = zhtp_hs_init_build(F.init, sizeof F.init, &F.st, F.i, rp->node_id, 0x01020304,
                                      12345, ZHTP_HS_FLAG_IDENTITY | ZHTP_HS_FLAG_WANT_IDENTITY, 9,
                                      NULL, NULL, s1, &F.ops);
    assert_int_equal(n, ZHTP_HS_INIT_LEN_MAX);
    F.ilen = (size_t)n;
    zhtp_hs_init_msg m;
    assert_int_equal(zhtp_hs_init_parse(&m, F.init, F.ilen), 0);
    uint8_t h1[32];
    assert_int_equal(zhtp_hs_init_verify(&m, zhtp_identity_get_public(F.i), h1, &F.ops), 0);
    n = zhtp_hs_response_build(F.resp, sizeof F.resp, &F.rkeys, F.r, &m, h1, 0x0a0b0c0d, true, 10,
                               NULL, s2, &F.ops);
    assert_int_equal(n, ZHTP_HS_RESP_LEN_MAX);
    F.rlen = (size_t)n;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    zhtp_identity_free(F.i);
    zhtp_identity_free(F.r);
    return 0;
}

static void init_parses_back_to_what_was_built(void **state)
{
    (void)state;
    zhtp_hs_init_msg m;
    assert_int_equal(zhtp_hs_init_parse(&m, F.init, F.ilen), 0);
    assert_int_equal(m.sender_index, 0x01020304);
    assert_int_equal(m.timestamp, 12345);
    assert_int_equal(m.flags, ZHTP_HS_FLAG_IDENTITY | ZHTP_HS_FLAG_WANT_IDENTITY);
    assert_non_null(m.pub);
    assert_memory_equal(m.hdr.sender, zhtp_identity_get_public(F.i)->node_id, 32);
    assert_true(zhtp_hs_init_mac1_ok(&m, zhtp_identity_get_public(F.r)->node_id));
    assert_false(zhtp_hs_init_mac1_ok(&m, zhtp_identity_get_public(F.i)->node_id));
    static const uint8_t zero[16];
    assert_memory_equal(m.mac2, zero, 16);
}

static void init_every_truncation_and_bad_flag_rejected(void **state)
{
    (void)state;
    zhtp_hs_init_msg m;
    for (size_t len = 0; len < F.ilen; len += (len < 200 ? 1 : 61))
        assert_int_not_equal(zhtp_hs_init_parse(&m, F.init, len), 0);
    static uint8_t bad[ZHTP_HS_INIT_LEN_MAX];
    memcpy(bad, F.init, F.ilen);
    size_t flags_off = 128 + 8 + 2 + 1216 + 2;
    bad[flags_off] = 0x08; /* unknown flag */
    assert_int_equal(zhtp_hs_init_parse(&m, bad, F.ilen), ZHTP_ERR_WIRE_RESERVED);
    bad[flags_off] = 0x00; /* says "no identity" but the field has one */
    assert_int_equal(zhtp_hs_init_parse(&m, bad, F.ilen), ZHTP_ERR_WIRE_LENGTH);
}

static void init_signature_covers_the_ephemeral_key_and_timestamp(void **state)
{
    (void)state;
    static uint8_t bad[ZHTP_HS_INIT_LEN_MAX];
    size_t offs[] = {128 + 10 + 5, 128 + 10 + 1000, 128 + 8 + 2 + 1216 + 2 + 3, 128 + 0};
    for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
        memcpy(bad, F.init, F.ilen);
        bad[offs[k]] ^= 1;
        zhtp_hs_init_msg m;
        assert_int_equal(zhtp_hs_init_parse(&m, bad, F.ilen), 0);
        uint8_t h1[32];
        assert_int_equal(zhtp_hs_init_verify(&m, zhtp_identity_get_public(F.i), h1, &F.ops),
                         ZHTP_ERR_CRYPTO_VERIFY);
        assert_false(zhtp_hs_init_mac1_ok(&m, zhtp_identity_get_public(F.r)->node_id));
    }
}

static void signatures_are_hedged_with_the_seed_rnd(void **state)
{
    (void)state;
    static uint8_t p1[ZHTP_HS_INIT_LEN_MAX], p2[ZHTP_HS_INIT_LEN_MAX];
    uint8_t s1[ZHTP_HS_INIT_SEEDBYTES] = {1}, s2[ZHTP_HS_INIT_SEEDBYTES] = {1};
    s2[ZHTP_HS_INIT_SEEDBYTES - 1] = 1; /* same KEM seed, other ML-DSA rnd */
    zhtp_hs_initiator a, b;
    const uint8_t *rid = zhtp_identity_get_public(F.r)->node_id;
    assert_true(
        zhtp_hs_init_build(p1, sizeof p1, &a, F.i, rid, 5, 6, 0, 7, NULL, NULL, s1, &F.ops) > 0);
    assert_true(
        zhtp_hs_init_build(p2, sizeof p2, &b, F.i, rid, 5, 6, 0, 7, NULL, NULL, s2, &F.ops) > 0);
    assert_memory_equal(a.h1, b.h1, 32);                       /* same transcript */
    assert_memory_not_equal(a.sig_i + 64, b.sig_i + 64, 2420); /* ML-DSA half differs */
    assert_memory_equal(a.sig_i, b.sig_i, 64);                 /* Ed25519 is deterministic */
    zhtp_hs_init_msg m;
    uint8_t h1[32];
    assert_int_equal(zhtp_hs_init_parse(&m, p2, ZHTP_HS_INIT_LEN_MIN), 0);
    assert_int_equal(zhtp_hs_init_verify(&m, zhtp_identity_get_public(F.i), h1, &F.ops), 0);
    zhtp_hs_initiator_clear(&a);
    zhtp_hs_initiator_clear(&b);
}

static void response_opens_verifies_and_keys_agree(void **state)
{
    (void)state;
    zhtp_hs_resp_msg m;
    assert_int_equal(zhtp_hs_response_parse(&m, F.resp, F.rlen), 0);
    assert_int_equal(m.receiver_index, 0x01020304);
    assert_int_equal(m.sender_index, 0x0a0b0c0d);
    zhtp_hs_keys k;
    uint8_t h2[32];
    assert_int_equal(zhtp_hs_response_open(&m, &F.st, &k, h2, &F.ops), 0);
    assert_int_equal(zhtp_hs_response_verify(&m, zhtp_identity_get_public(F.r), h2, &F.ops), 0);
    assert_memory_equal(k.i2r, F.rkeys.i2r, 32);
    assert_memory_equal(k.r2i, F.rkeys.r2i, 32);
    assert_memory_not_equal(k.i2r, k.r2i, 32);
    /* Wrong identity for the signature. */
    assert_int_equal(zhtp_hs_response_verify(&m, zhtp_identity_get_public(F.i), h2, &F.ops),
                     ZHTP_ERR_CRYPTO_VERIFY);
}

static void response_tampering_fails_confirmation_or_signature(void **state)
{
    (void)state;
    static uint8_t bad[ZHTP_HS_RESP_LEN_MAX];
    /* ciphertext (ML-KEM half), confirm tag, signature, flags-independent index */
    size_t ct_off = 128 + 14, confirm_off = F.rlen - 16, sig_off = F.rlen - 18 - 100;
    size_t offs[] = {ct_off + 500, confirm_off + 3, sig_off, 128 + 1};
    int want[] = {ZHTP_ERR_CRYPTO_DECRYPT, ZHTP_ERR_CRYPTO_DECRYPT, ZHTP_ERR_CRYPTO_VERIFY,
                  ZHTP_ERR_CRYPTO_DECRYPT};
    for (size_t k = 0; k < 4; k++) {
        memcpy(bad, F.resp, F.rlen);
        bad[offs[k]] ^= 4;
        zhtp_hs_resp_msg m;
        assert_int_equal(zhtp_hs_response_parse(&m, bad, F.rlen), 0);
        zhtp_hs_keys keys;
        uint8_t h2[32];
        int rc = zhtp_hs_response_open(&m, &F.st, &keys, h2, &F.ops);
        if (rc == 0)
            rc = zhtp_hs_response_verify(&m, zhtp_identity_get_public(F.r), h2, &F.ops);
        assert_int_equal(rc, want[k]);
    }
    for (size_t len = 0; len < F.rlen; len += (len < 200 ? 1 : 53)) {
        zhtp_hs_resp_msg m;
        assert_int_not_equal(zhtp_hs_response_parse(&m, F.resp, len), 0);
    }
}

static void cookie_reply_round_trip(void **state)
{
    (void)state;
    zt_rng rng;
    zt_rng_seed(&rng, 1);
    zhtp_cookie_state cs;
    memset(&cs, 0, sizeof cs);
    zt_rng_bytes(&rng, cs.secret, 32);
    zhtp_hs_init_msg m;
    assert_int_equal(zhtp_hs_init_parse(&m, F.init, F.ilen), 0);
    zhtp_addr a = {.len = 4, .bytes = {10, 0, 0, 1}};
    uint8_t nonce[24] = {5}, out[ZHTP_HS_COOKIE_LEN];
    const uint8_t *rid = zhtp_identity_get_public(F.r)->node_id;
    zhtp_ssize n = zhtp_hs_cookie_build(out, sizeof out, &cs, rid, &m, 1, &a, nonce, 3);
    assert_int_equal(n, ZHTP_HS_COOKIE_LEN);
    assert_int_equal(n, 208);
    zhtp_hs_cookie_msg c;
    assert_int_equal(zhtp_hs_cookie_parse(&c, out, (size_t)n), 0);
    assert_int_equal(c.receiver_index, 0x01020304);
    uint8_t cookie[32], want[32];
    assert_int_equal(zhtp_cookie_open(cookie, c.sealed, c.nonce, rid, F.st.mac1), 0);
    zhtp_cookie_make(&cs, want, 1, &a);
    assert_memory_equal(cookie, want, 32);
    for (size_t len = 0; len < (size_t)n; len++)
        assert_int_not_equal(zhtp_hs_cookie_parse(&c, out, len), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_parses_back_to_what_was_built),
        cmocka_unit_test(init_every_truncation_and_bad_flag_rejected),
        cmocka_unit_test(init_signature_covers_the_ephemeral_key_and_timestamp),
        cmocka_unit_test(signatures_are_hedged_with_the_seed_rnd),
        cmocka_unit_test(response_opens_verifies_and_keys_agree),
        cmocka_unit_test(response_tampering_fails_confirmation_or_signature),
        cmocka_unit_test(cookie_reply_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
