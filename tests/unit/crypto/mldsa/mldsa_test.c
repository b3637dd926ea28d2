/* ML-DSA-44 (FIPS 204): the official ACVP vectors (keyGen tgId 1; sigGen groups 1, 7, 8, 13,
 * 19, 20; sigVer groups 1, 7, 8) on every available backend, arithmetic checked against
 * definitions (exhaustive Decompose, NTT product against schoolbook), and negative tests:
 * bit flips, malformed hints, wrong lengths and contexts, and HashML-DSA (sigGen 2/14,
 * sigVer 2) with all twelve pre-hash functions. */
#include <stdlib.h>
#include <string.h>

#include "zhtp/mldsa.h"
#include "zhtp/util.h"
#include "mldsa_internal.h"

#include "testutil.h"

#define PKB  ZHTP_MLDSA44_PUBLICKEYBYTES
#define SKB  ZHTP_MLDSA44_SECRETKEYBYTES
#define SIGB ZHTP_MLDSA44_BYTES

static const char *const impls[] = {"portable", "avx2"};
#define NIMPLS (sizeof impls / sizeof impls[0])

static const json_t *find_group(const json_t *root, int tgid)
{
    const json_t *groups = json_object_get(root, "testGroups");
    size_t i;
    const json_t *g;
    json_array_foreach(groups, i, g)
    {
        if (json_integer_value(json_object_get(g, "tgId")) == tgid)
            return g;
    }
    fail_msg("tgId %d absent", tgid);
    return NULL;
}

static void restore_impl(void)
{
    assert_int_equal(zhtp_sign_mldsa44_set_impl("auto"), ZHTP_OK);
}

/* ---- known answers ---- */

static void keygen_matches_acvp_tg1_on_every_impl(void **state)
{
    json_t *root = zt_load_vectors("acvp/ML-DSA-keyGen.json");
    if (!root)
        skip();
    const json_t *g = find_group(root, 1);
    assert_string_equal(json_string_value(json_object_get(g, "parameterSet")), "ML-DSA-44");
    unsigned done = 0;
    for (size_t m = 0; m < NIMPLS; m++) {
        if (zhtp_sign_mldsa44_set_impl(impls[m]) != ZHTP_OK)
            continue;
        size_t i;
        const json_t *t;
        json_array_foreach(json_object_get(g, "tests"), i, t)
        {
            uint8_t xi[32], pk[PKB], sk[SKB], want_pk[PKB], want_sk[SKB];
            zt_hex_member_exact(t, "seed", xi, 32);
            zt_hex_member_exact(t, "pk", want_pk, PKB);
            zt_hex_member_exact(t, "sk", want_sk, SKB);
            assert_int_equal(zhtp_sign_mldsa44_keypair_from_seed(pk, sk, xi), ZHTP_OK);
            assert_memory_equal(pk, want_pk, PKB);
            assert_memory_equal(sk, want_sk, SKB);
            done++;
        }
    }
    restore_impl();
    assert_true(done >= 25);
    json_decref(root);
}

/* One sigGen group: every test's signature must match byte for byte. */
static void run_siggen_group(int tgid)
{
    json_t *root = zt_load_vectors("acvp/ML-DSA-sigGen.json");
    if (!root)
        skip();
    const json_t *g = find_group(root, tgid);
    const char *iface = json_string_value(json_object_get(g, "signatureInterface"));
    int is_external = strcmp(iface, "external") == 0;
    int is_det = json_is_true(json_object_get(g, "deterministic"));
    int is_mu = json_is_true(json_object_get(g, "externalMu"));
    if (is_external)
        assert_string_equal(json_string_value(json_object_get(g, "preHash")), "pure");
    unsigned done = 0;
    for (size_t m = 0; m < NIMPLS; m++) {
        if (zhtp_sign_mldsa44_set_impl(impls[m]) != ZHTP_OK)
            continue;
        size_t i;
        const json_t *t;
        json_array_foreach(json_object_get(g, "tests"), i, t)
        {
            uint8_t sk[SKB], want[SIGB], sig[SIGB], rnd[32] = {0};
            zt_hex_member_exact(t, "sk", sk, SKB);
            zt_hex_member_exact(t, "signature", want, SIGB);
            if (!is_det)
                zt_hex_member_exact(t, "rnd", rnd, 32);
            memset(sig, 0xa5, sizeof sig);
            if (is_mu) {
                uint8_t mu[64];
                zt_hex_member_exact(t, "mu", mu, 64);
                assert_int_equal(zhtp_sign_mldsa44_sign_internal_mu(sig, mu, rnd, sk), ZHTP_OK);
            } else {
                size_t msg_len;
                uint8_t *msg = zt_hex_member(t, "message", &msg_len);
                if (is_external) {
                    size_t ctx_len;
                    uint8_t *ctx = zt_hex_member(t, "context", &ctx_len);
                    if (is_det) {
                        assert_int_equal(zhtp_sign_mldsa44_sign_deterministic(sig, msg, msg_len,
                                                                              ctx, ctx_len, sk),
                                         ZHTP_OK);
                    } else {
                        /* The hedged public API draws its own rnd; the given rnd goes through
                         * Sign_internal with M' built as Alg. 2 does. */
                        uint8_t *mp = malloc(2 + ctx_len + msg_len);
                        assert_non_null(mp);
                        mp[0] = 0;
                        mp[1] = (uint8_t)ctx_len;
                        memcpy(mp + 2, ctx, ctx_len);
                        memcpy(mp + 2 + ctx_len, msg, msg_len);
                        assert_int_equal(zhtp_sign_mldsa44_sign_internal(
                                             sig, mp, 2 + ctx_len + msg_len, rnd, sk),
                                         ZHTP_OK);
                        free(mp);
                    }
                    free(ctx);
                } else {
                    assert_int_equal(zhtp_sign_mldsa44_sign_internal(sig, msg, msg_len, rnd, sk),
                                     ZHTP_OK);
                }
                free(msg);
            }
            if (memcmp(sig, want, SIGB) != 0)
                fail_msg("tgId %d tcId %lld impl %s: signature differs", tgid,
                         (long long)json_integer_value(json_object_get(t, "tcId")), impls[m]);
            done++;
        }
    }
    restore_impl();
    assert_true(done >= 15);
    json_decref(root);
}

static void siggen_tg1_external_pure_deterministic(void **state)
{
    run_siggen_group(1);
}
static void siggen_tg13_external_pure_hedged(void **state)
{
    run_siggen_group(13);
}
static void siggen_tg7_internal_external_mu_deterministic(void **state)
{
    run_siggen_group(7);
}
static void siggen_tg8_internal_deterministic(void **state)
{
    run_siggen_group(8);
}
static void siggen_tg19_internal_external_mu_hedged(void **state)
{
    run_siggen_group(19);
}
static void siggen_tg20_internal_hedged(void **state)
{
    run_siggen_group(20);
}

/* ACVP hashAlg name to the zhtp_mldsa_prehash value (the OID's last byte). */
static zhtp_mldsa_prehash prehash_of(const char *name)
{
    static const struct {
        const char *name;
        zhtp_mldsa_prehash ph;
    } map[] = {
        {"SHA2-256", ZHTP_MLDSA_PH_SHA2_256},         {"SHA2-384", ZHTP_MLDSA_PH_SHA2_384},
        {"SHA2-512", ZHTP_MLDSA_PH_SHA2_512},         {"SHA2-224", ZHTP_MLDSA_PH_SHA2_224},
        {"SHA2-512/224", ZHTP_MLDSA_PH_SHA2_512_224}, {"SHA2-512/256", ZHTP_MLDSA_PH_SHA2_512_256},
        {"SHA3-224", ZHTP_MLDSA_PH_SHA3_224},         {"SHA3-256", ZHTP_MLDSA_PH_SHA3_256},
        {"SHA3-384", ZHTP_MLDSA_PH_SHA3_384},         {"SHA3-512", ZHTP_MLDSA_PH_SHA3_512},
        {"SHAKE-128", ZHTP_MLDSA_PH_SHAKE128},        {"SHAKE-256", ZHTP_MLDSA_PH_SHAKE256},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].name, name) == 0)
            return map[i].ph;
    fail_msg("unknown hashAlg %s", name);
    return ZHTP_MLDSA_PH_SHA2_256;
}

/* HashML-DSA sigGen groups 2 (deterministic) and 14 (hedged, given rnd): every case must
 * match byte for byte (an unavailable hash would be counted and fail the test). */
static void run_prehash_siggen_group(int tgid)
{
    json_t *root = zt_load_vectors("acvp/ML-DSA-sigGen.json");
    if (!root)
        skip();
    const json_t *g = find_group(root, tgid);
    assert_string_equal(json_string_value(json_object_get(g, "preHash")), "preHash");
    int is_det = json_is_true(json_object_get(g, "deterministic"));
    unsigned done = 0, unsupported = 0;
    for (size_t m = 0; m < NIMPLS; m++) {
        if (zhtp_sign_mldsa44_set_impl(impls[m]) != ZHTP_OK)
            continue;
        size_t i;
        const json_t *t;
        json_array_foreach(json_object_get(g, "tests"), i, t)
        {
            uint8_t sk[SKB], want[SIGB], sig[SIGB], rnd[32] = {0};
            size_t msg_len, ctx_len;
            zt_hex_member_exact(t, "sk", sk, SKB);
            zt_hex_member_exact(t, "signature", want, SIGB);
            if (!is_det)
                zt_hex_member_exact(t, "rnd", rnd, 32);
            uint8_t *msg = zt_hex_member(t, "message", &msg_len);
            uint8_t *ctx = zt_hex_member(t, "context", &ctx_len);
            zhtp_mldsa_prehash ph = prehash_of(json_string_value(json_object_get(t, "hashAlg")));
            int rc =
                zhtp_sign_mldsa44_prehash_sign_rnd(sig, msg, msg_len, ctx, ctx_len, ph, rnd, sk);
            if (rc == ZHTP_ERR_UNSUPPORTED) {
                unsupported++;
            } else {
                assert_int_equal(rc, ZHTP_OK);
                if (memcmp(sig, want, SIGB) != 0)
                    fail_msg("tgId %d tcId %lld impl %s: signature differs", tgid,
                             (long long)json_integer_value(json_object_get(t, "tcId")), impls[m]);
                done++;
            }
            free(msg);
            free(ctx);
        }
    }
    restore_impl();
    print_message("# tgId %d: %u cases matched, %u not run (hash unavailable)\n", tgid, done,
                  unsupported);
    assert_int_equal(unsupported, 0);
    assert_true(done >= 15);
    json_decref(root);
}

static void siggen_tg2_prehash_deterministic(void **state)
{
    run_prehash_siggen_group(2);
}
static void siggen_tg14_prehash_hedged(void **state)
{
    run_prehash_siggen_group(14);
}

static void sigver_tg2_prehash(void **state)
{
    json_t *root = zt_load_vectors("acvp/ML-DSA-sigVer.json");
    if (!root)
        skip();
    const json_t *g = find_group(root, 2);
    unsigned done = 0, accepted = 0, unsupported = 0;
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(g, "tests"), i, t)
    {
        uint8_t pk[PKB];
        size_t sig_len, msg_len, ctx_len;
        zt_hex_member_exact(t, "pk", pk, PKB);
        uint8_t *sig = zt_hex_member(t, "signature", &sig_len);
        uint8_t *msg = zt_hex_member(t, "message", &msg_len);
        uint8_t *ctx = zt_hex_member(t, "context", &ctx_len);
        zhtp_mldsa_prehash ph = prehash_of(json_string_value(json_object_get(t, "hashAlg")));
        int want = json_is_true(json_object_get(t, "testPassed"));
        int rc = zhtp_sign_mldsa44_prehash_verify(sig, sig_len, msg, msg_len, ctx, ctx_len, ph, pk);
        if (rc == ZHTP_ERR_UNSUPPORTED) {
            unsupported++;
        } else {
            if (want)
                assert_int_equal(rc, ZHTP_OK);
            else
                assert_int_equal(rc, ZHTP_ERR_CRYPTO_VERIFY);
            accepted += rc == ZHTP_OK;
            done++;
        }
        free(sig);
        free(msg);
        free(ctx);
    }
    print_message("# sigVer tgId 2: %u cases checked (%u valid), %u not run (hash unavailable)\n",
                  done, accepted, unsupported);
    assert_int_equal(unsupported, 0);
    assert_true(done == 15 && accepted == 3);
    json_decref(root);
}

/* Round trip for every available pre-hash, and the pure and pre-hash forms do not verify
 * each other's signatures (the domain byte differs). */
static void prehash_round_trips_and_is_separated_from_pure(void **state)
{
    uint8_t xi[32] = {5}, pk[PKB], sk[SKB], sig[SIGB];
    const uint8_t msg[] = "prehash";
    assert_int_equal(zhtp_sign_mldsa44_keypair_from_seed(pk, sk, xi), ZHTP_OK);
    const zhtp_mldsa_prehash avail[] = {
        ZHTP_MLDSA_PH_SHA2_256, ZHTP_MLDSA_PH_SHA2_512,     ZHTP_MLDSA_PH_SHA2_224,
        ZHTP_MLDSA_PH_SHA2_384, ZHTP_MLDSA_PH_SHA2_512_224, ZHTP_MLDSA_PH_SHA2_512_256,
        ZHTP_MLDSA_PH_SHA3_224, ZHTP_MLDSA_PH_SHA3_256,     ZHTP_MLDSA_PH_SHA3_384,
        ZHTP_MLDSA_PH_SHA3_512, ZHTP_MLDSA_PH_SHAKE128,     ZHTP_MLDSA_PH_SHAKE256};
    for (size_t i = 0; i < sizeof avail / sizeof avail[0]; i++) {
        assert_int_equal(zhtp_sign_mldsa44_prehash_sign(sig, msg, sizeof msg, (const uint8_t *)"c",
                                                        1, avail[i], sk),
                         ZHTP_OK);
        assert_int_equal(zhtp_sign_mldsa44_prehash_verify(sig, SIGB, msg, sizeof msg,
                                                          (const uint8_t *)"c", 1, avail[i], pk),
                         ZHTP_OK);
        zhtp_mldsa_prehash other = avail[(i + 1) % (sizeof avail / sizeof avail[0])];
        assert_int_equal(zhtp_sign_mldsa44_prehash_verify(sig, SIGB, msg, sizeof msg,
                                                          (const uint8_t *)"c", 1, other, pk),
                         ZHTP_ERR_CRYPTO_VERIFY);
        assert_int_equal(
            zhtp_sign_mldsa44_verify(sig, SIGB, msg, sizeof msg, (const uint8_t *)"c", 1, pk),
            ZHTP_ERR_CRYPTO_VERIFY);
    }
    assert_int_equal(zhtp_sign_mldsa44_sign(sig, msg, sizeof msg, NULL, 0, sk), ZHTP_OK);
    assert_int_equal(zhtp_sign_mldsa44_prehash_verify(sig, SIGB, msg, sizeof msg, NULL, 0,
                                                      ZHTP_MLDSA_PH_SHA2_256, pk),
                     ZHTP_ERR_CRYPTO_VERIFY);
    uint8_t ctx[256] = {0};
    assert_int_equal(
        zhtp_sign_mldsa44_prehash_sign(sig, msg, sizeof msg, ctx, 256, ZHTP_MLDSA_PH_SHA2_256, sk),
        ZHTP_ERR_INVAL);
    assert_int_equal(
        zhtp_sign_mldsa44_prehash_sign(sig, msg, sizeof msg, NULL, 0, (zhtp_mldsa_prehash)0, sk),
        ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_sign_mldsa44_prehash_verify(sig, SIGB, msg, sizeof msg, NULL, 0,
                                                      (zhtp_mldsa_prehash)13, pk),
                     ZHTP_ERR_INVAL);
}

static void run_sigver_group(int tgid)
{
    json_t *root = zt_load_vectors("acvp/ML-DSA-sigVer.json");
    if (!root)
        skip();
    const json_t *g = find_group(root, tgid);
    const char *iface = json_string_value(json_object_get(g, "signatureInterface"));
    int is_external = strcmp(iface, "external") == 0;
    int is_mu = json_is_true(json_object_get(g, "externalMu"));
    unsigned done = 0, rejected = 0;
    for (size_t m = 0; m < NIMPLS; m++) {
        if (zhtp_sign_mldsa44_set_impl(impls[m]) != ZHTP_OK)
            continue;
        size_t i;
        const json_t *t;
        json_array_foreach(json_object_get(g, "tests"), i, t)
        {
            uint8_t pk[PKB];
            size_t sig_len;
            zt_hex_member_exact(t, "pk", pk, PKB);
            uint8_t *sig = zt_hex_member(t, "signature", &sig_len);
            int want = json_is_true(json_object_get(t, "testPassed"));
            int rc;
            if (is_mu) {
                uint8_t mu[64];
                zt_hex_member_exact(t, "mu", mu, 64);
                rc = zhtp_sign_mldsa44_verify_internal_mu(sig, sig_len, mu, pk);
            } else {
                size_t msg_len;
                uint8_t *msg = zt_hex_member(t, "message", &msg_len);
                if (is_external) {
                    size_t ctx_len;
                    uint8_t *ctx = zt_hex_member(t, "context", &ctx_len);
                    rc = zhtp_sign_mldsa44_verify(sig, sig_len, msg, msg_len, ctx, ctx_len, pk);
                    free(ctx);
                } else {
                    rc = zhtp_sign_mldsa44_verify_internal(sig, sig_len, msg, msg_len, pk);
                }
                free(msg);
            }
            if (want)
                assert_int_equal(rc, ZHTP_OK);
            else if (rc == ZHTP_OK)
                fail_msg("tgId %d tcId %lld (%s) accepted", tgid,
                         (long long)json_integer_value(json_object_get(t, "tcId")),
                         json_string_value(json_object_get(t, "reason")));
            else
                rejected++;
            free(sig);
            done++;
        }
    }
    restore_impl();
    assert_true(done >= 15);
    assert_true(rejected >= 12); /* 4 of the 5 reasons per group are rejections */
    json_decref(root);
}

static void sigver_tg1_external_pure(void **state)
{
    run_sigver_group(1);
}
static void sigver_tg7_internal_external_mu(void **state)
{
    run_sigver_group(7);
}
static void sigver_tg8_internal(void **state)
{
    run_sigver_group(8);
}

/* ---- arithmetic against definitions ---- */

static int64_t mod_q(int64_t a)
{
    a %= MLDSA_Q;
    return a < 0 ? a + MLDSA_Q : a;
}

static void decompose_matches_definition_for_every_residue(void **state)
{
    const int32_t g2 = MLDSA_GAMMA2;
    for (int32_t r = 0; r < MLDSA_Q; r++) {
        /* Alg. 36 literally: r0 = r mod+- 2 gamma2, then the q - 1 corner case. */
        int32_t r0 = r % (2 * g2);
        if (r0 > g2)
            r0 -= 2 * g2;
        int32_t r1;
        if (r - r0 == MLDSA_Q - 1) {
            r1 = 0;
            r0 -= 1;
        } else {
            r1 = (r - r0) / (2 * g2);
        }
        int32_t got1, got0;
        mldsa_decompose(&got1, &got0, r);
        if (got1 != r1 || got0 != r0)
            fail_msg("decompose(%d) = (%d, %d), want (%d, %d)", r, got1, got0, r1, r0);
    }
}

/* Each backend's poly-level Decompose agrees with the scalar one on every residue, and its
 * MakeHint counts and marks exactly the coefficients whose high bits differ. */
static void backend_rounding_matches_scalar_for_every_residue(void **state)
{
    for (size_t m = 0; m < NIMPLS; m++) {
        const mldsa_backend *b = m == 0 ? &mldsa_backend_portable : NULL;
#if defined(ZHTP_MLDSA_HAVE_AVX2)
        if (m == 1 && __builtin_cpu_supports("avx2"))
            b = &mldsa_backend_avx2;
#endif
        if (!b)
            continue;
        for (int32_t base = 0; base < MLDSA_Q; base += MLDSA_N) {
            mldsa_poly a, a1, a0, b1, h;
            for (int i = 0; i < MLDSA_N; i++) {
                int32_t v = base + i;
                a.c[i] = v < MLDSA_Q ? v : v - MLDSA_Q;
                b1.c[i] = (base / MLDSA_N + i) % 44;
            }
            b->decompose(&a1, &a0, &a);
            uint32_t want_count = 0;
            for (int i = 0; i < MLDSA_N; i++) {
                int32_t r1, r0;
                mldsa_decompose(&r1, &r0, a.c[i]);
                if (a1.c[i] != r1 || a0.c[i] != r0)
                    fail_msg("%s decompose(%d)", b->name, a.c[i]);
                want_count += r1 != b1.c[i];
            }
            assert_int_equal(b->make_hint(&h, &a, &b1), want_count);
            for (int i = 0; i < MLDSA_N; i++)
                assert_int_equal(h.c[i], a1.c[i] != b1.c[i]);
        }
    }
}

/* c s by the sparse routines equals the schoolbook negacyclic product, for challenge-shaped c
 * (tau coefficients +-1) and s in the ranges of s1/s2 (8-bit form) and t0 (32-bit form). */
static void backend_sparse_mul_matches_schoolbook(void **state)
{
    zt_rng r;
    zt_rng_seed(&r, 47);
    const mldsa_backend *bs[2] = {&mldsa_backend_portable, NULL};
#if defined(ZHTP_MLDSA_HAVE_AVX2)
    if (__builtin_cpu_supports("avx2"))
        bs[1] = &mldsa_backend_avx2;
#endif
    for (int trial = 0; trial < 100; trial++) {
        int32_t c[MLDSA_N] = {0};
        uint8_t pos[MLDSA_TAU], neg[MLDSA_TAU];
        unsigned npos = 0, nneg = 0;
        for (unsigned placed = 0; placed < MLDSA_TAU;) {
            unsigned j = (unsigned)zt_rng_below(&r, MLDSA_N);
            if (c[j])
                continue;
            c[j] = zt_rng_below(&r, 2) ? 1 : -1;
            placed++;
        }
        for (unsigned j = 0; j < MLDSA_N; j++) {
            if (c[j] == 1)
                pos[npos++] = (uint8_t)j;
            if (c[j] == -1)
                neg[nneg++] = (uint8_t)j;
        }
        int wide = trial % 2; /* t0-sized or s1-sized coefficients */
        int32_t sv[MLDSA_N];
        _Alignas(32) int32_t ext32[2 * MLDSA_N];
        _Alignas(32) int8_t ext8[2 * MLDSA_N];
        for (unsigned i = 0; i < MLDSA_N; i++) {
            sv[i] =
                wide ? (int32_t)zt_rng_below(&r, 8192) - 4095 : (int32_t)zt_rng_below(&r, 5) - 2;
            ext32[i] = -sv[i];
            ext32[MLDSA_N + i] = sv[i];
            ext8[i] = (int8_t)-sv[i];
            ext8[MLDSA_N + i] = (int8_t)sv[i];
        }
        int32_t want[MLDSA_N] = {0};
        for (unsigned j = 0; j < MLDSA_N; j++)
            for (unsigned i = 0; i < MLDSA_N; i++) {
                if (!c[j])
                    continue;
                if (i + j < MLDSA_N)
                    want[i + j] += c[j] * sv[i];
                else
                    want[i + j - MLDSA_N] -= c[j] * sv[i];
            }
        for (int k = 0; k < 2; k++) {
            if (!bs[k])
                continue;
            mldsa_poly out;
            if (wide)
                bs[k]->sparse_mul(&out, ext32, pos, npos, neg, nneg);
            else
                bs[k]->sparse_mul8(&out, ext8, pos, npos, neg, nneg);
            assert_memory_equal(out.c, want, sizeof want);
        }
    }
}

/* The fused checks of the signing loop against their definitions, with bounds on both sides of
 * the actual maximum so that both answers occur. */
static void backend_fused_checks_match_definitions(void **state)
{
    zt_rng r;
    zt_rng_seed(&r, 49);
    const mldsa_backend *bs[2] = {&mldsa_backend_portable, NULL};
#if defined(ZHTP_MLDSA_HAVE_AVX2)
    if (__builtin_cpu_supports("avx2"))
        bs[1] = &mldsa_backend_avx2;
#endif
    for (int trial = 0; trial < 200; trial++) {
        mldsa_poly w, cs2, y, z0;
        for (int i = 0; i < MLDSA_N; i++) {
            w.c[i] = (int32_t)zt_rng_below(&r, MLDSA_Q);
            cs2.c[i] = (int32_t)zt_rng_below(&r, 157) - 78;
            y.c[i] = (int32_t)zt_rng_below(&r, 1u << 18) - (1 << 17);
            z0.c[i] = (int32_t)zt_rng_below(&r, 157) - 78;
        }
        int32_t want_r[MLDSA_N], want_r1[MLDSA_N], max_r0 = 0, max_z = 0;
        for (int i = 0; i < MLDSA_N; i++) {
            int32_t v = (int32_t)mod_q((int64_t)w.c[i] - cs2.c[i]), r1, r0;
            mldsa_decompose(&r1, &r0, v);
            want_r[i] = v;
            want_r1[i] = r1;
            max_r0 = r0 < 0 ? (-r0 > max_r0 ? -r0 : max_r0) : (r0 > max_r0 ? r0 : max_r0);
            int32_t zz = z0.c[i] + y.c[i];
            zz = zz < 0 ? -zz : zz;
            max_z = zz > max_z ? zz : max_z;
        }
        for (int k = 0; k < 2; k++) {
            if (!bs[k])
                continue;
            for (int side = 0; side < 2; side++) {
                mldsa_poly rr, r1, z = z0;
                /* bound = max + 1 passes, bound = max fails */
                uint32_t bad = bs[k]->lowbits_exceeds(&rr, &r1, &w, &cs2, max_r0 + 1 - side);
                assert_int_equal(bad, (uint32_t)side);
                assert_memory_equal(rr.c, want_r, sizeof want_r);
                assert_memory_equal(r1.c, want_r1, sizeof want_r1);
                assert_int_equal(bs[k]->add_exceeds(&z, &y, max_z + 1 - side), (uint32_t)side);
                for (int i = 0; i < MLDSA_N; i++)
                    assert_int_equal(z.c[i], z0.c[i] + y.c[i]);
            }
        }
    }
}

/* matrix_pointwise equals pointwise_acc row by row (inputs at the NTT output bound 9q). */
static void backend_matrix_pointwise_matches_rows(void **state)
{
    zt_rng r;
    zt_rng_seed(&r, 50);
    const mldsa_backend *bs[2] = {&mldsa_backend_portable, NULL};
#if defined(ZHTP_MLDSA_HAVE_AVX2)
    if (__builtin_cpu_supports("avx2"))
        bs[1] = &mldsa_backend_avx2;
#endif
    static mldsa_poly a[MLDSA_K][MLDSA_L], v[MLDSA_L], got[MLDSA_K], want;
    for (int trial = 0; trial < 20; trial++) {
        for (int i = 0; i < MLDSA_K; i++)
            for (int j = 0; j < MLDSA_L; j++)
                for (int c = 0; c < MLDSA_N; c++)
                    a[i][j].c[c] = (int32_t)zt_rng_below(&r, MLDSA_Q);
        for (int j = 0; j < MLDSA_L; j++)
            for (int c = 0; c < MLDSA_N; c++)
                v[j].c[c] = (int32_t)zt_rng_below(&r, 18u * MLDSA_Q) - 9 * MLDSA_Q;
        for (int k = 0; k < 2; k++) {
            if (!bs[k])
                continue;
            bs[k]->matrix_pointwise(got, (const mldsa_poly(*)[MLDSA_L])a, v);
            for (int i = 0; i < MLDSA_K; i++) {
                mldsa_backend_portable.pointwise_acc(&want, a[i], v, MLDSA_L);
                assert_memory_equal(got[i].c, want.c, sizeof want.c);
            }
        }
    }
}

/* SampleInBall: tau coefficients +-1, the rest 0, and support lists exactly the nonzero ones. */
static void sample_in_ball_support_is_the_nonzero_set(void **state)
{
    zt_rng r;
    zt_rng_seed(&r, 48);
    for (int trial = 0; trial < 500; trial++) {
        uint8_t ct[MLDSA_CTILDE], support[MLDSA_TAU];
        mldsa_poly c;
        zt_rng_bytes(&r, ct, sizeof ct);
        mldsa_sample_in_ball(&c, support, ct);
        uint8_t seen[MLDSA_N] = {0};
        for (int k = 0; k < MLDSA_TAU; k++) {
            assert_true(c.c[support[k]] == 1 || c.c[support[k]] == -1);
            assert_int_equal(seen[support[k]], 0);
            seen[support[k]] = 1;
        }
        for (int i = 0; i < MLDSA_N; i++)
            assert_int_equal(c.c[i] != 0, seen[i]);
    }
}

/* RejNTTPoly's sampler: every backend keeps exactly the 23-bit candidates below q, in order,
 * from any starting count, with about half of the candidates rejected (q and just above q
 * included). */
static void backend_rej_uniform_matches_definition(void **state)
{
    zt_rng r;
    zt_rng_seed(&r, 46);
    const mldsa_backend *bs[2] = {&mldsa_backend_portable, NULL};
#if defined(ZHTP_MLDSA_HAVE_AVX2)
    if (__builtin_cpu_supports("avx2"))
        bs[1] = &mldsa_backend_avx2;
#endif
    for (int trial = 0; trial < 300; trial++) {
        uint8_t buf[5 * 168];
        size_t len = 3 * zt_rng_below(&r, sizeof buf / 3 + 1);
        unsigned start = (unsigned)zt_rng_below(&r, MLDSA_N);
        zt_rng_bytes(&r, buf, sizeof buf);
        for (size_t pos = 0; pos + 3 <= sizeof buf; pos += 3) {
            if (zt_rng_below(&r, 2)) { /* a value in [q, 2^23), sometimes exactly q */
                uint32_t v = zt_rng_below(&r, 4) == 0
                                 ? MLDSA_Q
                                 : MLDSA_Q + (uint32_t)zt_rng_below(&r, (1u << 23) - MLDSA_Q);
                buf[pos] = (uint8_t)v;
                buf[pos + 1] = (uint8_t)(v >> 8);
                buf[pos + 2] = (uint8_t)((v >> 16) | (buf[pos + 2] & 0x80));
            }
        }
        int32_t want[MLDSA_N];
        unsigned want_ctr = start;
        for (size_t pos = 0; want_ctr < MLDSA_N && pos + 3 <= len; pos += 3) {
            uint32_t t =
                buf[pos] | (uint32_t)buf[pos + 1] << 8 | (uint32_t)(buf[pos + 2] & 0x7f) << 16;
            if (t < MLDSA_Q)
                want[want_ctr++] = (int32_t)t;
        }
        for (int k = 0; k < 2; k++) {
            if (!bs[k])
                continue;
            int32_t got[MLDSA_N];
            unsigned ctr = bs[k]->rej_uniform(got, start, buf, len);
            assert_int_equal(ctr, want_ctr);
            if (ctr > start)
                assert_memory_equal(got + start, want + start, (ctr - start) * sizeof(int32_t));
        }
    }
}

/* freeze, exceeds (at the exact bound), unpack_z and use_hint agree across backends
 * on random and edge inputs; the portable ones are checked against their definitions. */
static void backend_helpers_agree_with_definitions(void **state)
{
    zt_rng r;
    zt_rng_seed(&r, 45);
    const mldsa_backend *bs[2] = {&mldsa_backend_portable, NULL};
#if defined(ZHTP_MLDSA_HAVE_AVX2)
    if (__builtin_cpu_supports("avx2"))
        bs[1] = &mldsa_backend_avx2;
#endif
    for (int trial = 0; trial < 200; trial++) {
        mldsa_poly a, h;
        uint8_t buf[MLDSA_POLY_Z_BYTES];
        for (int i = 0; i < MLDSA_N; i++) {
            a.c[i] = (int32_t)zt_rng_below(&r, 1u << 31) - (1 << 30);
            h.c[i] = (int32_t)zt_rng_below(&r, 2);
        }
        zt_rng_bytes(&r, buf, sizeof buf);
        int32_t bound = (int32_t)zt_rng_below(&r, 1 << 20) + 1;
        for (int k = 0; k < 2; k++) {
            const mldsa_backend *b = bs[k];
            if (!b)
                continue;
            mldsa_poly f = a, z, u, e;
            b->freeze(&f);
            for (int i = 0; i < MLDSA_N; i++)
                assert_int_equal(f.c[i], mod_q(a.c[i]));
            b->unpack_z(&z, buf);
            for (int i = 0; i < MLDSA_N; i++) {
                uint32_t v = 0;
                for (int bit = 0; bit < 18; bit++)
                    v |= (uint32_t)(buf[(18 * i + bit) / 8] >> ((18 * i + bit) % 8) & 1) << bit;
                assert_int_equal(z.c[i], MLDSA_GAMMA1 - (int32_t)v);
            }
            b->use_hint(&u, &f, &h);
            for (int i = 0; i < MLDSA_N; i++) {
                int32_t r1, r0;
                mldsa_decompose(&r1, &r0, f.c[i]);
                if (h.c[i])
                    r1 = (r1 + (r0 > 0 ? 1 : -1) + 44) % 44;
                assert_int_equal(u.c[i], r1);
            }
            /* exceeds: one coefficient exactly at, or just below, +-bound */
            for (int edge = 0; edge < 4; edge++) {
                memset(&e, 0, sizeof e);
                int32_t v = (edge & 1) ? bound : bound - 1;
                e.c[zt_rng_below(&r, MLDSA_N)] = (edge & 2) ? -v : v;
                assert_int_equal(b->exceeds(&e, bound), (uint32_t)(edge & 1));
            }
        }
    }
}

/* NTT^-1(NTT(a) o NTT(b)) = a b in Z_q[X]/(X^256 + 1), and NTT^-1(NTT(a)) = a, per backend. */
static void ntt_product_matches_schoolbook_on_every_impl(void **state)
{
    zt_rng r;
    zt_rng_seed(&r, 44);
    for (size_t m = 0; m < NIMPLS; m++) {
        const mldsa_backend *b = m == 0 ? &mldsa_backend_portable : NULL;
#if defined(ZHTP_MLDSA_HAVE_AVX2)
        if (m == 1 && __builtin_cpu_supports("avx2"))
            b = &mldsa_backend_avx2;
#endif
        if (!b)
            continue;
        for (int trial = 0; trial < 20; trial++) {
            mldsa_poly a, c, ah, ch, prod;
            int64_t want[MLDSA_N] = {0};
            for (int i = 0; i < MLDSA_N; i++) {
                a.c[i] = (int32_t)zt_rng_below(&r, 2 * MLDSA_Q - 1) - (MLDSA_Q - 1);
                c.c[i] = (int32_t)zt_rng_below(&r, 2 * MLDSA_Q - 1) - (MLDSA_Q - 1);
            }
            for (int i = 0; i < MLDSA_N; i++)
                for (int j = 0; j < MLDSA_N; j++) {
                    int64_t p = mod_q((int64_t)a.c[i] * c.c[j]);
                    if (i + j < MLDSA_N)
                        want[i + j] = mod_q(want[i + j] + p);
                    else
                        want[i + j - MLDSA_N] = mod_q(want[i + j - MLDSA_N] - p);
                }
            ah = a;
            ch = c;
            b->ntt(&ah);
            b->ntt(&ch);
            b->pointwise_acc(&prod, &ah, &ch, 1);
            b->invntt_tomont(&prod);
            for (int i = 0; i < MLDSA_N; i++)
                assert_int_equal(mod_q(prod.c[i]), want[i]);
            /* Without the pointwise R^-1, invntt_tomont leaves a factor R = 2^32 mod q. */
            mldsa_poly_reduce(&ah);
            b->invntt_tomont(&ah);
            for (int i = 0; i < MLDSA_N; i++)
                assert_int_equal(mod_q(ah.c[i]), mod_q((int64_t)a.c[i] * 4193792));
        }
    }
}

/* ---- negative tests ---- */

typedef struct fixture {
    uint8_t pk[PKB], sk[SKB], sig[SIGB];
    uint8_t msg[100];
} fixture;

static void make_fixture(fixture *f, uint64_t seed)
{
    zt_rng r;
    uint8_t xi[32];
    zt_rng_seed(&r, seed);
    zt_rng_bytes(&r, xi, sizeof xi);
    zt_rng_bytes(&r, f->msg, sizeof f->msg);
    assert_int_equal(zhtp_sign_mldsa44_keypair_from_seed(f->pk, f->sk, xi), ZHTP_OK);
    assert_int_equal(
        zhtp_sign_mldsa44_sign(f->sig, f->msg, sizeof f->msg, (const uint8_t *)"ctx", 3, f->sk),
        ZHTP_OK);
    assert_int_equal(zhtp_sign_mldsa44_verify(f->sig, SIGB, f->msg, sizeof f->msg,
                                              (const uint8_t *)"ctx", 3, f->pk),
                     ZHTP_OK);
}

static int verify_fixture(const fixture *f, const uint8_t *sig, const uint8_t *pk)
{
    return zhtp_sign_mldsa44_verify(sig, SIGB, f->msg, sizeof f->msg, (const uint8_t *)"ctx", 3,
                                    pk);
}

/* Every bit of c~, z and the hint area matters: a flipped c~ or z bit changes the recomputed
 * commitment (or pushes z past its bound), a flipped hint index or count either breaks the
 * Alg. 21 encoding rules or moves one w1 coefficient by +-1. No bit is padding. Sampled:
 * every 5th bit, plus every bit of the hint area (the last omega + k bytes). */
static void signature_bit_flips_are_rejected(void **state)
{
    fixture f;
    make_fixture(&f, 1);
    uint8_t bad[SIGB];
    unsigned tried = 0;
    for (size_t bit = 0; bit < 8 * SIGB; bit++) {
        size_t byte = bit / 8;
        if (bit % 5 != 0 && byte < SIGB - (MLDSA_OMEGA + MLDSA_K))
            continue;
        memcpy(bad, f.sig, SIGB);
        bad[byte] ^= (uint8_t)(1u << (bit % 8));
        if (verify_fixture(&f, bad, f.pk) != ZHTP_ERR_CRYPTO_VERIFY)
            fail_msg("flip of bit %zu accepted", bit);
        tried++;
    }
    assert_true(tried > 4000);
}

static void public_key_bit_flips_are_rejected(void **state)
{
    fixture f;
    make_fixture(&f, 2);
    uint8_t bad[PKB];
    for (size_t bit = 0; bit < 8 * PKB; bit += 7) {
        memcpy(bad, f.pk, PKB);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (verify_fixture(&f, f.sig, bad) != ZHTP_ERR_CRYPTO_VERIFY)
            fail_msg("pk flip of bit %zu accepted", bit);
    }
}

static void malformed_hints_are_rejected(void **state)
{
    fixture f;
    uint8_t bad[SIGB];
    uint8_t *hint = bad + SIGB - (MLDSA_OMEGA + MLDSA_K);
    /* Find a signature whose first hint polynomial holds at least two indices. */
    for (uint64_t seed = 3;; seed++) {
        make_fixture(&f, seed);
        const uint8_t *h = f.sig + SIGB - (MLDSA_OMEGA + MLDSA_K);
        if (h[MLDSA_OMEGA] >= 2 && h[MLDSA_OMEGA + MLDSA_K - 1] < MLDSA_OMEGA)
            break;
        assert_true(seed < 50);
    }
    /* indices not strictly increasing: swap the first two */
    memcpy(bad, f.sig, SIGB);
    uint8_t t = hint[0];
    hint[0] = hint[1];
    hint[1] = t;
    assert_int_equal(verify_fixture(&f, bad, f.pk), ZHTP_ERR_CRYPTO_VERIFY);
    /* a repeated index */
    memcpy(bad, f.sig, SIGB);
    hint[1] = hint[0];
    assert_int_equal(verify_fixture(&f, bad, f.pk), ZHTP_ERR_CRYPTO_VERIFY);
    /* a count above omega */
    memcpy(bad, f.sig, SIGB);
    hint[MLDSA_OMEGA + MLDSA_K - 1] = MLDSA_OMEGA + 1;
    assert_int_equal(verify_fixture(&f, bad, f.pk), ZHTP_ERR_CRYPTO_VERIFY);
    /* counts that decrease */
    memcpy(bad, f.sig, SIGB);
    hint[MLDSA_OMEGA + 1] = (uint8_t)(hint[MLDSA_OMEGA] - 1);
    assert_int_equal(verify_fixture(&f, bad, f.pk), ZHTP_ERR_CRYPTO_VERIFY);
    /* a nonzero byte after the last used index */
    memcpy(bad, f.sig, SIGB);
    hint[MLDSA_OMEGA - 1] = 1;
    assert_int_equal(verify_fixture(&f, bad, f.pk), ZHTP_ERR_CRYPTO_VERIFY);
    /* and the untouched one still verifies */
    assert_int_equal(verify_fixture(&f, f.sig, f.pk), ZHTP_OK);
}

/* z at the bound gamma1 - beta must be rejected even if everything else were right; the
 * encoding can carry up to gamma1. Set one coefficient of z to gamma1 (field value 0). */
static void oversized_z_is_rejected(void **state)
{
    fixture f;
    make_fixture(&f, 4);
    uint8_t bad[SIGB];
    memcpy(bad, f.sig, SIGB);
    bad[MLDSA_CTILDE] = 0;
    bad[MLDSA_CTILDE + 1] = 0;
    bad[MLDSA_CTILDE + 2] &= 0xfc; /* z[0][0] = gamma1 */
    assert_int_equal(verify_fixture(&f, bad, f.pk), ZHTP_ERR_CRYPTO_VERIFY);
}

static void wrong_signature_lengths_are_rejected(void **state)
{
    fixture f;
    make_fixture(&f, 5);
    uint8_t longer[SIGB + 1];
    memcpy(longer, f.sig, SIGB);
    longer[SIGB] = 0;
    const size_t lens[] = {0, 1, SIGB - 1, SIGB + 1};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        assert_int_equal(zhtp_sign_mldsa44_verify(longer, lens[i], f.msg, sizeof f.msg,
                                                  (const uint8_t *)"ctx", 3, f.pk),
                         ZHTP_ERR_CRYPTO_LENGTH);
        assert_int_equal(
            zhtp_sign_mldsa44_verify_internal(longer, lens[i], f.msg, sizeof f.msg, f.pk),
            ZHTP_ERR_CRYPTO_LENGTH);
    }
    assert_int_equal(zhtp_sign_mldsa44_verify(longer, SIGB, f.msg, sizeof f.msg,
                                              (const uint8_t *)"ctx", 3, f.pk),
                     ZHTP_OK);
}

static void context_longer_than_255_is_inval(void **state)
{
    fixture f;
    make_fixture(&f, 6);
    uint8_t ctx[256] = {0}, sig[SIGB];
    assert_int_equal(zhtp_sign_mldsa44_sign(sig, f.msg, sizeof f.msg, ctx, 256, f.sk),
                     ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_sign_mldsa44_sign_deterministic(sig, f.msg, sizeof f.msg, ctx, 256, f.sk),
                     ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_sign_mldsa44_verify(f.sig, SIGB, f.msg, sizeof f.msg, ctx, 256, f.pk),
                     ZHTP_ERR_INVAL);
    /* 255 is allowed */
    assert_int_equal(zhtp_sign_mldsa44_sign(sig, f.msg, sizeof f.msg, ctx, 255, f.sk), ZHTP_OK);
    assert_int_equal(zhtp_sign_mldsa44_verify(sig, SIGB, f.msg, sizeof f.msg, ctx, 255, f.pk),
                     ZHTP_OK);
}

static void wrong_context_or_message_is_rejected(void **state)
{
    fixture f;
    make_fixture(&f, 7);
    assert_int_equal(
        zhtp_sign_mldsa44_verify(f.sig, SIGB, f.msg, sizeof f.msg, (const uint8_t *)"ctY", 3, f.pk),
        ZHTP_ERR_CRYPTO_VERIFY);
    assert_int_equal(
        zhtp_sign_mldsa44_verify(f.sig, SIGB, f.msg, sizeof f.msg, (const uint8_t *)"ct", 2, f.pk),
        ZHTP_ERR_CRYPTO_VERIFY);
    assert_int_equal(zhtp_sign_mldsa44_verify(f.sig, SIGB, f.msg, sizeof f.msg, NULL, 0, f.pk),
                     ZHTP_ERR_CRYPTO_VERIFY);
    /* the pure API's M' differs from the internal M = msg */
    assert_int_equal(zhtp_sign_mldsa44_verify_internal(f.sig, SIGB, f.msg, sizeof f.msg, f.pk),
                     ZHTP_ERR_CRYPTO_VERIFY);
    uint8_t msg2[sizeof f.msg];
    memcpy(msg2, f.msg, sizeof msg2);
    msg2[50] ^= 1;
    assert_int_equal(
        zhtp_sign_mldsa44_verify(f.sig, SIGB, msg2, sizeof msg2, (const uint8_t *)"ctx", 3, f.pk),
        ZHTP_ERR_CRYPTO_VERIFY);
    /* another key's pk */
    fixture g;
    make_fixture(&g, 8);
    assert_int_equal(verify_fixture(&f, f.sig, g.pk), ZHTP_ERR_CRYPTO_VERIFY);
}

/* Seeded keys, message lengths 0..10,000; deterministic signatures repeat, hedged ones differ
 * and both verify. Runs on every backend, and the backends agree byte for byte. */
static void sign_verify_round_trips_over_lengths_on_every_impl(void **state)
{
    static uint8_t msg[10001];
    zt_rng r;
    zt_rng_seed(&r, 9);
    zt_rng_bytes(&r, msg, sizeof msg);
    const size_t lens[] = {0,   1,   2,   3,    31,   32,   33,   63,   64,   65,
                           135, 136, 137, 1000, 4095, 4096, 8192, 9999, 10000};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        uint8_t xi[32], pk[PKB], sk[SKB], sig[SIGB], sig2[SIGB], ref[SIGB];
        uint8_t ctx[8];
        size_t ctx_len = li % 9;
        zt_rng_bytes(&r, xi, sizeof xi);
        zt_rng_bytes(&r, ctx, sizeof ctx);
        for (size_t m = 0; m < NIMPLS; m++) {
            if (zhtp_sign_mldsa44_set_impl(impls[m]) != ZHTP_OK)
                continue;
            assert_int_equal(zhtp_sign_mldsa44_keypair_from_seed(pk, sk, xi), ZHTP_OK);
            assert_int_equal(
                zhtp_sign_mldsa44_sign_deterministic(sig, msg, lens[li], ctx, ctx_len, sk),
                ZHTP_OK);
            assert_int_equal(
                zhtp_sign_mldsa44_sign_deterministic(sig2, msg, lens[li], ctx, ctx_len, sk),
                ZHTP_OK);
            assert_memory_equal(sig, sig2, SIGB);
            if (m == 0)
                memcpy(ref, sig, SIGB);
            else
                assert_memory_equal(sig, ref, SIGB);
            assert_int_equal(zhtp_sign_mldsa44_verify(sig, SIGB, msg, lens[li], ctx, ctx_len, pk),
                             ZHTP_OK);
            assert_int_equal(zhtp_sign_mldsa44_sign(sig2, msg, lens[li], ctx, ctx_len, sk),
                             ZHTP_OK);
            assert_memory_not_equal(sig, sig2, SIGB);
            assert_int_equal(zhtp_sign_mldsa44_verify(sig2, SIGB, msg, lens[li], ctx, ctx_len, pk),
                             ZHTP_OK);
            if (lens[li] > 0)
                assert_int_equal(
                    zhtp_sign_mldsa44_verify(sig2, SIGB, msg, lens[li] - 1, ctx, ctx_len, pk),
                    ZHTP_ERR_CRYPTO_VERIFY);
        }
    }
    restore_impl();
}

/* With the loop bound at one attempt, a message whose first candidate is rejected (about three
 * in four) gives ZHTP_ERR_CRYPTO_BADKEY and a zeroed signature; the others give exactly the
 * unbounded signature. */
static void signing_stops_at_the_attempt_bound(void **state)
{
    uint8_t xi[32] = {11}, pk[PKB], sk[SKB], sig[SIGB], want[SIGB], zero[SIGB] = {0};
    const uint8_t rnd[32] = {0};
    assert_int_equal(zhtp_sign_mldsa44_keypair_from_seed(pk, sk, xi), ZHTP_OK);
    unsigned gave_up = 0, signed_ok = 0;
    for (uint8_t m = 0; m < 24; m++) {
        memset(sig, 0xa5, sizeof sig);
        int rc = mldsa_sign_mu(sig, NULL, NULL, 0, NULL, 0, &m, 1, rnd, sk, 1);
        assert_int_equal(zhtp_sign_mldsa44_sign_internal(want, &m, 1, rnd, sk), ZHTP_OK);
        if (rc == ZHTP_ERR_CRYPTO_BADKEY) {
            assert_memory_equal(sig, zero, SIGB);
            gave_up++;
        } else {
            assert_int_equal(rc, ZHTP_OK);
            assert_memory_equal(sig, want, SIGB);
            signed_ok++;
        }
    }
    assert_true(gave_up > 0 && signed_ok > 0);
}

/* A secret key with an s1 or s2 field of 5..7 (a coefficient below -eta) cannot come from
 * KeyGen; signing refuses it and zeroes the signature. Fields 0..4 at the same spot sign. */
static void signing_refuses_out_of_range_secret_coefficients(void **state)
{
    uint8_t xi[32] = {12}, pk[PKB], sk[SKB], bad[SKB], sig[SIGB], zero[SIGB] = {0};
    assert_int_equal(zhtp_sign_mldsa44_keypair_from_seed(pk, sk, xi), ZHTP_OK);
    /* the first 3-bit field of s1[0] (byte 128, bits 0..2), then field 128 of s2[3] */
    const size_t offs[2] = {128, 128 + 7 * MLDSA_POLY_ETA_BYTES + 48};
    for (int k = 0; k < 2; k++) {
        for (uint8_t field = 0; field < 8; field++) {
            memcpy(bad, sk, SKB);
            bad[offs[k]] = (uint8_t)((bad[offs[k]] & ~7u) | field);
            memset(sig, 0xa5, sizeof sig);
            int rc =
                zhtp_sign_mldsa44_sign_deterministic(sig, (const uint8_t *)"m", 1, NULL, 0, bad);
            if (field > 4) {
                assert_int_equal(rc, ZHTP_ERR_CRYPTO_BADKEY);
                assert_memory_equal(sig, zero, SIGB);
            } else {
                assert_int_equal(rc, ZHTP_OK);
            }
        }
    }
}

static void random_keypairs_differ_and_work(void **state)
{
    uint8_t pk1[PKB], sk1[SKB], pk2[PKB], sk2[SKB], sig[SIGB];
    assert_int_equal(zhtp_sign_mldsa44_keypair(pk1, sk1), ZHTP_OK);
    assert_int_equal(zhtp_sign_mldsa44_keypair(pk2, sk2), ZHTP_OK);
    assert_memory_not_equal(pk1, pk2, PKB);
    assert_int_equal(zhtp_sign_mldsa44_sign(sig, (const uint8_t *)"m", 1, NULL, 0, sk1), ZHTP_OK);
    assert_int_equal(zhtp_sign_mldsa44_verify(sig, SIGB, (const uint8_t *)"m", 1, NULL, 0, pk1),
                     ZHTP_OK);
    assert_int_equal(zhtp_sign_mldsa44_verify(sig, SIGB, (const uint8_t *)"m", 1, NULL, 0, pk2),
                     ZHTP_ERR_CRYPTO_VERIFY);
}

static void impl_switch_accepts_known_names_only(void **state)
{
    assert_int_equal(zhtp_sign_mldsa44_set_impl("portable"), ZHTP_OK);
    assert_string_equal(zhtp_sign_mldsa44_impl(), "portable");
    assert_int_equal(zhtp_sign_mldsa44_set_impl("nonsense"), ZHTP_ERR_INVAL);
    int rc = zhtp_sign_mldsa44_set_impl("avx2");
    assert_true(rc == ZHTP_OK || rc == ZHTP_ERR_UNSUPPORTED);
    if (rc == ZHTP_OK)
        assert_string_equal(zhtp_sign_mldsa44_impl(), "avx2");
    restore_impl();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keygen_matches_acvp_tg1_on_every_impl),
        cmocka_unit_test(siggen_tg1_external_pure_deterministic),
        cmocka_unit_test(siggen_tg13_external_pure_hedged),
        cmocka_unit_test(siggen_tg7_internal_external_mu_deterministic),
        cmocka_unit_test(siggen_tg8_internal_deterministic),
        cmocka_unit_test(siggen_tg19_internal_external_mu_hedged),
        cmocka_unit_test(siggen_tg20_internal_hedged),
        cmocka_unit_test(siggen_tg2_prehash_deterministic),
        cmocka_unit_test(siggen_tg14_prehash_hedged),
        cmocka_unit_test(sigver_tg2_prehash),
        cmocka_unit_test(prehash_round_trips_and_is_separated_from_pure),
        cmocka_unit_test(sigver_tg1_external_pure),
        cmocka_unit_test(sigver_tg7_internal_external_mu),
        cmocka_unit_test(sigver_tg8_internal),
        cmocka_unit_test(decompose_matches_definition_for_every_residue),
        cmocka_unit_test(backend_rounding_matches_scalar_for_every_residue),
        cmocka_unit_test(ntt_product_matches_schoolbook_on_every_impl),
        cmocka_unit_test(backend_helpers_agree_with_definitions),
        cmocka_unit_test(backend_rej_uniform_matches_definition),
        cmocka_unit_test(backend_sparse_mul_matches_schoolbook),
        cmocka_unit_test(sample_in_ball_support_is_the_nonzero_set),
        cmocka_unit_test(backend_matrix_pointwise_matches_rows),
        cmocka_unit_test(backend_fused_checks_match_definitions),
        cmocka_unit_test(signature_bit_flips_are_rejected),
        cmocka_unit_test(public_key_bit_flips_are_rejected),
        cmocka_unit_test(malformed_hints_are_rejected),
        cmocka_unit_test(oversized_z_is_rejected),
        cmocka_unit_test(wrong_signature_lengths_are_rejected),
        cmocka_unit_test(context_longer_than_255_is_inval),
        cmocka_unit_test(wrong_context_or_message_is_rejected),
        cmocka_unit_test(sign_verify_round_trips_over_lengths_on_every_impl),
        cmocka_unit_test(signing_stops_at_the_attempt_bound),
        cmocka_unit_test(signing_refuses_out_of_range_secret_coefficients),
        cmocka_unit_test(random_keypairs_differ_and_work),
        cmocka_unit_test(impl_switch_accepts_known_names_only),
    };
    return cmocka_run_group_tests_name("mldsa", tests, NULL, NULL);
}
