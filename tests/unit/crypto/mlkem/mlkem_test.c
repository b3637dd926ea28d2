/* ML-KEM-768 against the official ACVP vectors (keyGen tgId 2; encapDecap tgIds 2, 5, 9, 10),
 * run once per implementation ("portable", and "avx2" when built and the CPU has it), plus
 * negative and property tests: implicit rejection computed independently, malformed keys
 * rejected, seeded round trips, and portable == avx2 on the same seeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keccak.h"
#include "mlkem_internal.h"
#include "zhtp/mlkem.h"
#include "zhtp/util.h"

#include "testutil.h"

#define PK ZHTP_MLKEM768_PUBLICKEYBYTES
#define SK ZHTP_MLKEM768_SECRETKEYBYTES
#define CT ZHTP_MLKEM768_CIPHERTEXTBYTES

/* Selects the implementation named by the test's prestate; skips when it is unavailable. */
static void use_impl(void **state)
{
    const char *name = *state;
    if (zhtp_kem_mlkem768_set_impl(name) != ZHTP_OK) {
        printf("# %s implementation unavailable on this build/CPU\n", name);
        skip();
    }
    assert_string_equal(zhtp_kem_mlkem768_impl(), name);
}

static int restore_auto(void **state)
{
    (void)state;
    return zhtp_kem_mlkem768_set_impl("auto");
}

/* The tests array of group tgId in file, or skip() when the file is absent. */
static json_t *load_group(json_t **root, const char *file, int tg_id)
{
    *root = zt_load_vectors(file);
    if (*root == NULL) {
        printf("# %s absent\n", file);
        skip();
    }
    json_t *groups = json_object_get(*root, "testGroups");
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g)
    {
        if (json_integer_value(json_object_get(g, "tgId")) == tg_id) {
            assert_string_equal(json_string_value(json_object_get(g, "parameterSet")),
                                "ML-KEM-768");
            return json_object_get(g, "tests");
        }
    }
    fail_msg("group %d missing from %s", tg_id, file);
    return NULL;
}

static void keygen_matches_acvp_vectors(void **state)
{
    use_impl(state);
    json_t *root, *tests = load_group(&root, "acvp/ML-KEM-keyGen.json", 2), *t;
    size_t i, n = 0;
    json_array_foreach(tests, i, t)
    {
        uint8_t d[32], z[32], ek[PK], dk[SK], pk[PK], sk[SK];
        zt_hex_member_exact(t, "d", d, 32);
        zt_hex_member_exact(t, "z", z, 32);
        zt_hex_member_exact(t, "ek", ek, PK);
        zt_hex_member_exact(t, "dk", dk, SK);
        assert_int_equal(zhtp_kem_mlkem768_keypair_from_seed(pk, sk, d, z), ZHTP_OK);
        assert_memory_equal(pk, ek, PK);
        assert_memory_equal(sk, dk, SK);
        n++;
    }
    assert_int_equal(n, 25);
    json_decref(root);
}

static void encaps_matches_acvp_vectors_and_decaps_inverts(void **state)
{
    use_impl(state);
    json_t *root, *tests = load_group(&root, "acvp/ML-KEM-encapDecap.json", 2), *t;
    size_t i, n = 0;
    json_array_foreach(tests, i, t)
    {
        uint8_t ek[PK], dk[SK], m[32], c[CT], k[32], ct[CT], ss[32], ss2[32];
        zt_hex_member_exact(t, "ek", ek, PK);
        zt_hex_member_exact(t, "dk", dk, SK);
        zt_hex_member_exact(t, "m", m, 32);
        zt_hex_member_exact(t, "c", c, CT);
        zt_hex_member_exact(t, "k", k, 32);
        assert_int_equal(zhtp_kem_mlkem768_encaps_from_seed(ct, ss, ek, m), ZHTP_OK);
        assert_memory_equal(ct, c, CT);
        assert_memory_equal(ss, k, 32);
        assert_int_equal(zhtp_kem_mlkem768_decaps(ss2, c, dk), ZHTP_OK);
        assert_memory_equal(ss2, k, 32);
        n++;
    }
    assert_int_equal(n, 25);
    json_decref(root);
}

static void decaps_matches_acvp_vectors_including_modified_ciphertexts(void **state)
{
    use_impl(state);
    json_t *root, *tests = load_group(&root, "acvp/ML-KEM-encapDecap.json", 5), *t;
    size_t i, n = 0, modified = 0;
    json_array_foreach(tests, i, t)
    {
        uint8_t dk[SK], c[CT], k[32], ss[32];
        zt_hex_member_exact(t, "dk", dk, SK);
        zt_hex_member_exact(t, "c", c, CT);
        zt_hex_member_exact(t, "k", k, 32);
        assert_int_equal(zhtp_kem_mlkem768_decaps(ss, c, dk), ZHTP_OK);
        assert_memory_equal(ss, k, 32);
        if (strcmp(json_string_value(json_object_get(t, "reason")), "modified ciphertext") == 0)
            modified++;
        n++;
    }
    assert_int_equal(n, 10);
    assert_int_equal(modified, 5);
    json_decref(root);
}

static void key_checks_match_acvp_vectors(void **state)
{
    use_impl(state);
    json_t *root, *tests, *t;
    size_t i, n = 0, rejected = 0;

    tests = load_group(&root, "acvp/ML-KEM-encapDecap.json", 9);
    json_array_foreach(tests, i, t)
    {
        uint8_t dk[SK];
        zt_hex_member_exact(t, "dk", dk, SK);
        int want = json_is_true(json_object_get(t, "testPassed"));
        int rc = zhtp_kem_mlkem768_check_sk(dk);
        assert_int_equal(rc, want ? ZHTP_OK : ZHTP_ERR_CRYPTO_BADKEY);
        if (!want) {
            uint8_t ss[32], c[CT] = {0};
            memset(ss, 0xaa, sizeof ss);
            assert_int_equal(zhtp_kem_mlkem768_decaps(ss, c, dk), ZHTP_ERR_CRYPTO_BADKEY);
            for (int b = 0; b < 32; b++)
                assert_int_equal(ss[b], 0);
            rejected++;
        }
        n++;
    }
    json_decref(root);

    tests = load_group(&root, "acvp/ML-KEM-encapDecap.json", 10);
    json_array_foreach(tests, i, t)
    {
        uint8_t ek[PK];
        zt_hex_member_exact(t, "ek", ek, PK);
        int want = json_is_true(json_object_get(t, "testPassed"));
        assert_int_equal(zhtp_kem_mlkem768_check_pk(ek), want ? ZHTP_OK : ZHTP_ERR_CRYPTO_BADKEY);
        if (!want) {
            uint8_t ss[32], c[CT], m[32] = {1};
            memset(ss, 0xaa, sizeof ss);
            memset(c, 0xaa, sizeof c);
            assert_int_equal(zhtp_kem_mlkem768_encaps_from_seed(c, ss, ek, m),
                             ZHTP_ERR_CRYPTO_BADKEY);
            for (int b = 0; b < 32; b++)
                assert_int_equal(ss[b], 0);
            for (int b = 0; b < CT; b++)
                assert_int_equal(c[b], 0);
            rejected++;
        }
        n++;
    }
    assert_int_equal(n, 20);
    assert_int_equal(rejected, 10); /* 5 modified H(ek), 5 coefficients >= q */
    json_decref(root);
}

/* Sampled single-bit flips of a valid ciphertext: the key changes and equals
 * SHAKE256(z || c', 32) computed here directly from the parts of dk. */
static void flipped_ciphertext_yields_implicit_rejection_key(void **state)
{
    use_impl(state);
    zt_rng r;
    zt_rng_seed(&r, 203);
    uint8_t d[32], z[32], m[32], pk[PK], sk[SK], ct[CT], ss[32], bad[32], want[32];
    zt_rng_bytes(&r, d, 32);
    zt_rng_bytes(&r, z, 32);
    zt_rng_bytes(&r, m, 32);
    zhtp_kem_mlkem768_keypair_from_seed(pk, sk, d, z);
    assert_int_equal(zhtp_kem_mlkem768_encaps_from_seed(ct, ss, pk, m), ZHTP_OK);
    for (int trial = 0; trial < 40; trial++) {
        size_t bit = (size_t)zt_rng_below(&r, CT * 8);
        ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(zhtp_kem_mlkem768_decaps(bad, ct, sk), ZHTP_OK);
        uint8_t zc[32 + CT];
        memcpy(zc, sk + SK - 32, 32);
        memcpy(zc + 32, ct, CT);
        zhtp_shake256(want, 32, zc, sizeof zc);
        assert_memory_not_equal(bad, ss, 32);
        assert_memory_equal(bad, want, 32);
        ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(zhtp_kem_mlkem768_decaps(bad, ct, sk), ZHTP_OK);
    assert_memory_equal(bad, ss, 32);
}

static void pk_with_coefficient_at_least_q_is_rejected(void **state)
{
    use_impl(state);
    uint8_t d[32] = {7}, z[32] = {9}, m[32] = {3}, pk[PK], sk[SK], ct[CT], ss[32];
    zhtp_kem_mlkem768_keypair_from_seed(pk, sk, d, z);
    assert_int_equal(zhtp_kem_mlkem768_check_pk(pk), ZHTP_OK);
    /* Every coefficient position, both halves of a 3-byte group, values q and 4095. */
    for (size_t pos = 0; pos < 768; pos += 37) {
        for (unsigned v = MLKEM_Q; v <= 4095; v += 4095 - MLKEM_Q) {
            uint8_t bad[PK];
            memcpy(bad, pk, PK);
            size_t g = 3 * (pos / 2);
            if (pos % 2 == 0) {
                bad[g] = (uint8_t)v;
                bad[g + 1] = (uint8_t)((bad[g + 1] & 0xf0) | (v >> 8));
            } else {
                bad[g + 1] = (uint8_t)((bad[g + 1] & 0x0f) | (v & 0x0f) << 4);
                bad[g + 2] = (uint8_t)(v >> 4);
            }
            assert_int_equal(zhtp_kem_mlkem768_check_pk(bad), ZHTP_ERR_CRYPTO_BADKEY);
            assert_int_equal(zhtp_kem_mlkem768_encaps_from_seed(ct, ss, bad, m),
                             ZHTP_ERR_CRYPTO_BADKEY);
        }
    }
}

static void sk_with_altered_ek_hash_is_rejected(void **state)
{
    use_impl(state);
    uint8_t d[32] = {1}, z[32] = {2}, pk[PK], sk[SK], ss[32], ct[CT] = {0};
    zhtp_kem_mlkem768_keypair_from_seed(pk, sk, d, z);
    assert_int_equal(zhtp_kem_mlkem768_check_sk(sk), ZHTP_OK);
    for (size_t off = SK - 64; off < SK - 32; off += 5) {
        sk[off] ^= 0x10;
        assert_int_equal(zhtp_kem_mlkem768_check_sk(sk), ZHTP_ERR_CRYPTO_BADKEY);
        assert_int_equal(zhtp_kem_mlkem768_decaps(ss, ct, sk), ZHTP_ERR_CRYPTO_BADKEY);
        sk[off] ^= 0x10;
    }
    /* ek inside dk altered but H(ek) kept: also a mismatch */
    sk[1152 + 100] ^= 1;
    assert_int_equal(zhtp_kem_mlkem768_check_sk(sk), ZHTP_ERR_CRYPTO_BADKEY);
}

static void seeded_round_trips_agree(void **state)
{
    use_impl(state);
    zt_rng r;
    zt_rng_seed(&r, 768);
    for (int i = 0; i < 50; i++) {
        uint8_t d[32], z[32], m[32], pk[PK], sk[SK], ct[CT], ss[32], ss2[32];
        zt_rng_bytes(&r, d, 32);
        zt_rng_bytes(&r, z, 32);
        zt_rng_bytes(&r, m, 32);
        zhtp_kem_mlkem768_keypair_from_seed(pk, sk, d, z);
        assert_int_equal(zhtp_kem_mlkem768_encaps_from_seed(ct, ss, pk, m), ZHTP_OK);
        assert_int_equal(zhtp_kem_mlkem768_decaps(ss2, ct, sk), ZHTP_OK);
        assert_memory_equal(ss, ss2, 32);
    }
    /* The randomized entry points too. */
    uint8_t pk[PK], sk[SK], ct[CT], ss[32], ss2[32];
    assert_int_equal(zhtp_kem_mlkem768_keypair(pk, sk), ZHTP_OK);
    assert_int_equal(zhtp_kem_mlkem768_encaps(ct, ss, pk), ZHTP_OK);
    assert_int_equal(zhtp_kem_mlkem768_decaps(ss2, ct, sk), ZHTP_OK);
    assert_memory_equal(ss, ss2, 32);
}

/* Differential: every backend gives the portable bytes on seeded inputs, including
 * decapsulation of random (garbage) ciphertexts. */
static void backends_agree_with_portable(void **state)
{
    const char *impls[] = {"portable", "avx2"};
    zt_rng r;
    int others = 0;
    zt_rng_seed(&r, 99);
    for (int i = 0; i < 20; i++) {
        uint8_t d[32], z[32], m[32], junk[CT];
        uint8_t out[2][PK + SK + CT + 32 + 32];
        zt_rng_bytes(&r, d, 32);
        zt_rng_bytes(&r, z, 32);
        zt_rng_bytes(&r, m, 32);
        zt_rng_bytes(&r, junk, CT);
        for (int b = 0; b < 2; b++) {
            uint8_t *o = out[b];
            if (zhtp_kem_mlkem768_set_impl(impls[b]) != ZHTP_OK) {
                memcpy(out[b], out[0], sizeof out[0]);
                continue;
            }
            others += b;
            zhtp_kem_mlkem768_keypair_from_seed(o, o + PK, d, z);
            assert_int_equal(
                zhtp_kem_mlkem768_encaps_from_seed(o + PK + SK, o + PK + SK + CT, o, m), ZHTP_OK);
            assert_int_equal(zhtp_kem_mlkem768_decaps(o + PK + SK + CT + 32, junk, o + PK),
                             ZHTP_OK);
        }
        assert_memory_equal(out[0], out[1], sizeof out[0]);
    }
    if (others == 0) {
        printf("# no second implementation to compare\n");
        skip();
    }
}

static void compress_without_division_matches_definition(void **state)
{
    (void)state;
    const unsigned ds[] = {1, 4, 10, 11};
    for (unsigned k = 0; k < 4; k++) {
        unsigned d = ds[k];
        for (unsigned x = 0; x < MLKEM_Q; x++) {
            unsigned want = (((x << d) + MLKEM_Q / 2) / MLKEM_Q) & ((1u << d) - 1);
            assert_int_equal(zhtp_mlkem_compress((uint16_t)x, d), want);
        }
    }
}

/* The four-lane sponge scheduler against one incremental sponge per job, with lanes of
 * different rates, padding, input splits and output lengths, on both x4 backends. */
static void sponge_lanes_match_separate_sponges(void **state)
{
    use_impl(state);
    const unsigned rates[3] = {ZHTP_SHA3_512_RATE, ZHTP_SHAKE256_RATE, ZHTP_SHAKE128_RATE};
    static uint8_t in[4][2][700], out[4][900], want[900];
    zt_rng r;
    zt_rng_seed(&r, 1600);
    for (int trial = 0; trial < 60; trial++) {
        unsigned n = 1 + (unsigned)zt_rng_below(&r, 4);
        mlkem_sponge_job jobs[4];
        for (unsigned l = 0; l < n; l++) {
            size_t len0 = (size_t)zt_rng_below(&r, 700),
                   len1 = (size_t)zt_rng_below(&r, 3) == 0 ? 0 : (size_t)zt_rng_below(&r, 700);
            zt_rng_bytes(&r, in[l][0], len0);
            zt_rng_bytes(&r, in[l][1], len1);
            jobs[l] = (mlkem_sponge_job){{in[l][0], in[l][1]},
                                         {len0, len1},
                                         rates[zt_rng_below(&r, 3)],
                                         zt_rng_below(&r, 2) ? 0x1f : 0x06,
                                         out[l],
                                         1 + (size_t)zt_rng_below(&r, 900)};
        }
        zhtp_mlkem_sponge_run(jobs, n);
        for (unsigned l = 0; l < n; l++) {
            zhtp_keccak k;
            zhtp_keccak_init(&k, jobs[l].rate);
            zhtp_keccak_absorb(&k, jobs[l].in[0], jobs[l].in_len[0]);
            zhtp_keccak_absorb(&k, jobs[l].in[1], jobs[l].in_len[1]);
            zhtp_keccak_finalize(&k, jobs[l].ds);
            zhtp_keccak_squeeze(&k, want, jobs[l].out_len);
            assert_memory_equal(out[l], want, jobs[l].out_len);
        }
    }
}

/* SampleNTT finishing from a short XOF prefix must continue the same XOF stream: the result
 * equals sampling from a long prefix. */
static void sample_ntt_fallback_continues_the_xof(void **state)
{
    (void)state;
    uint8_t seed[34], xof[12 * ZHTP_SHAKE128_RATE];
    mlkem_poly full, part;
    zt_rng r;
    zt_rng_seed(&r, 7);
    for (int trial = 0; trial < 10; trial++) {
        zt_rng_bytes(&r, seed, sizeof seed);
        zhtp_shake128(xof, sizeof xof, seed, sizeof seed);
        zhtp_mlkem_sample_ntt_finish(&full, xof, sizeof xof, seed, &zhtp_mlkem_arith_portable);
        for (size_t blocks = 0; blocks <= 2; blocks++) {
            memset(&part, 0, sizeof part);
            zhtp_mlkem_sample_ntt_finish(&part, xof, blocks * ZHTP_SHAKE128_RATE, seed,
                                         &zhtp_mlkem_arith_portable);
            assert_memory_equal(&part, &full, sizeof full);
        }
        for (int i = 0; i < MLKEM_N; i++)
            assert_true(full.c[i] >= 0 && full.c[i] < MLKEM_Q);
    }
}

/* The SIMD codecs against the portable ones: Compress_10, _4, _1, ByteEncode_12 and tomont
 * on every int16 input (in 256
 * polynomials), decoding and CBD sampling on random bytes. */
static void simd_codecs_match_portable_on_all_inputs(void **state)
{
    (void)state;
    const mlkem_arith *port = zhtp_mlkem_arith_by_name("portable");
    const mlkem_arith *simd = zhtp_mlkem_arith_by_name("avx2");
    if (simd == NULL)
        skip();
    mlkem_poly p, a, b;
    uint8_t want[MLKEM_POLYBYTES], got[MLKEM_POLYBYTES];
    for (int base = -32768; base < 32768; base += MLKEM_N) {
        for (int i = 0; i < MLKEM_N; i++)
            p.c[i] = (int16_t)(base + i);
        port->compress_du(want, &p);
        simd->compress_du(got, &p);
        assert_memory_equal(got, want, 32 * MLKEM_DU);
        port->compress_dv(want, &p);
        simd->compress_dv(got, &p);
        assert_memory_equal(got, want, 32 * MLKEM_DV);
        port->tomsg(want, &p);
        simd->tomsg(got, &p);
        assert_memory_equal(got, want, 32);
        port->tobytes(want, &p);
        simd->tobytes(got, &p);
        assert_memory_equal(got, want, MLKEM_POLYBYTES);
        a = p;
        b = p;
        port->tomont(&a);
        simd->tomont(&b);
        assert_memory_equal(&a, &b, sizeof a);
    }
    zt_rng r;
    zt_rng_seed(&r, 10);
    for (int trial = 0; trial < 200; trial++) {
        uint8_t in[MLKEM_POLYBYTES];
        zt_rng_bytes(&r, in, sizeof in);
        port->decompress_du(&a, in);
        simd->decompress_du(&b, in);
        assert_memory_equal(&a, &b, sizeof a);
        port->frombytes(&a, in);
        simd->frombytes(&b, in);
        assert_memory_equal(&a, &b, sizeof a);
        port->cbd2(&a, in);
        simd->cbd2(&b, in);
        assert_memory_equal(&a, &b, sizeof a);
    }
}

#define PER_IMPL(fn)                                                                               \
    cmocka_unit_test_prestate_setup_teardown(fn, NULL, restore_auto, (void *)"portable"),          \
        cmocka_unit_test_prestate_setup_teardown(fn, NULL, restore_auto, (void *)"avx2")

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compress_without_division_matches_definition),
        PER_IMPL(keygen_matches_acvp_vectors),
        PER_IMPL(encaps_matches_acvp_vectors_and_decaps_inverts),
        PER_IMPL(decaps_matches_acvp_vectors_including_modified_ciphertexts),
        PER_IMPL(key_checks_match_acvp_vectors),
        PER_IMPL(flipped_ciphertext_yields_implicit_rejection_key),
        PER_IMPL(pk_with_coefficient_at_least_q_is_rejected),
        PER_IMPL(sk_with_altered_ek_hash_is_rejected),
        PER_IMPL(seeded_round_trips_agree),
        PER_IMPL(sponge_lanes_match_separate_sponges),
        cmocka_unit_test(sample_ntt_fallback_continues_the_xof),
        cmocka_unit_test(simd_codecs_match_portable_on_all_inputs),
        cmocka_unit_test_teardown(backends_agree_with_portable, restore_auto),
    };
    return cmocka_run_group_tests_name("mlkem", tests, NULL, NULL);
}
