/* ML-DSA-44 (FIPS 204): KeyGen_internal (Alg. 6), Sign_internal (Alg. 7), Verify_internal
 * (Alg. 8) and the pure external API (Alg. 2/3), plus the backend switch.
 *
 * Constant time: secrets (xi, rho', K, s1, s2, t0, rho'', y and everything computed from them)
 * meet no branch and no memory index. Declassified on purpose, and only these: rho (it is the
 * public key's first field); the accept bit of each ExpandS nibble (mldsa_sample.c); one bit
 * saying whether a secret key's s1/s2 lie in [-eta, eta]; the two rejection decisions of each
 * signing attempt; c~ of each candidate; and the hint of the accepted candidate (it is part of
 * the returned signature). The number of attempts and why they failed are public by the
 * design of the rejection loop. c~ is a hash of mu and w1; for an accepted candidate it is in
 * the signature, and for a rejected one it gives nothing about z or the secret key (the
 * published reference implementations treat the challenge as public too). SampleInBall and
 * the sparse products branch and index on c only. */
#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#include "zhtp/ct.h"
#include "zhtp/mldsa.h"
#include "zhtp/util.h"
#include "keccak.h"
#include "mldsa_internal.h"

_Static_assert(MLDSA_PK_BYTES == ZHTP_MLDSA44_PUBLICKEYBYTES, "pk size");
_Static_assert(MLDSA_SK_BYTES == ZHTP_MLDSA44_SECRETKEYBYTES, "sk size");
_Static_assert(MLDSA_SIG_BYTES == ZHTP_MLDSA44_BYTES, "sig size");

/* ---- backend selection ---- */

static const mldsa_backend *backend_auto(void)
{
#if defined(ZHTP_MLDSA_HAVE_AVX2)
    if (__builtin_cpu_supports("avx2"))
        return &mldsa_backend_avx2;
#endif
    return &mldsa_backend_portable;
}

/* NULL until first use, then the chosen backend. Relaxed atomics: two first users racing
 * both store the same choice, and a backend is immutable, so no ordering is needed. Every
 * operation reads the pointer once at its start, so set_impl (for tests and benchmarks)
 * affects only operations that begin after it. */
static _Atomic(const mldsa_backend *) backend;

static const mldsa_backend *be(void)
{
    const mldsa_backend *b = atomic_load_explicit(&backend, memory_order_relaxed);
    if (!b) {
        b = backend_auto();
        atomic_store_explicit(&backend, b, memory_order_relaxed);
    }
    return b;
}

const char *zhtp_sign_mldsa44_impl(void)
{
    return be()->name;
}

int zhtp_sign_mldsa44_set_impl(const char *name)
{
    if (!name)
        return ZHTP_ERR_INVAL;
    if (strcmp(name, "auto") == 0) {
        atomic_store_explicit(&backend, backend_auto(), memory_order_relaxed);
        return ZHTP_OK;
    }
    if (strcmp(name, "portable") == 0) {
        atomic_store_explicit(&backend, &mldsa_backend_portable, memory_order_relaxed);
        return ZHTP_OK;
    }
    if (strcmp(name, "avx2") == 0) {
#if defined(ZHTP_MLDSA_HAVE_AVX2)
        if (__builtin_cpu_supports("avx2")) {
            atomic_store_explicit(&backend, &mldsa_backend_avx2, memory_order_relaxed);
            return ZHTP_OK;
        }
#endif
        return ZHTP_ERR_UNSUPPORTED;
    }
    return ZHTP_ERR_INVAL;
}

/* ---- shared steps ---- */

/* A^ o v^ for every row, then back from the NTT domain: out[i] = NTT^-1(sum_j A[i][j] o v[j]). */
static void matrix_mul(const mldsa_backend *b, mldsa_poly out[MLDSA_K],
                       const mldsa_poly a[MLDSA_K][MLDSA_L], const mldsa_poly v[MLDSA_L])
{
    b->matrix_pointwise(out, a, v);
    for (unsigned i = 0; i < MLDSA_K; i++)
        b->invntt_tomont(&out[i]);
}

/* H = SHAKE256 over the concatenation of up to four pieces. */
static void shake256_cat(uint8_t *out, size_t out_len, const uint8_t *p0, size_t n0,
                         const uint8_t *p1, size_t n1, const uint8_t *p2, size_t n2,
                         const uint8_t *p3, size_t n3)
{
    zhtp_keccak k;
    const uint8_t *p[4] = {p0, p1, p2, p3};
    size_t n[4] = {n0, n1, n2, n3};
    zhtp_shake256_init(&k);
    for (unsigned i = 0; i < 4; i++)
        if (n[i] > 0)
            zhtp_keccak_absorb(&k, p[i], n[i]);
    zhtp_shake_finalize(&k);
    zhtp_keccak_squeeze(&k, out, out_len);
    zhtp_wipe(&k, sizeof k);
}

/* mu = H(tr || M', 64) where M' = prefix || msg (prefix is empty for the internal form, and
 * 0 || len(ctx) || ctx for ML-DSA.Sign/Verify, Alg. 2/3). */
static void compute_mu(uint8_t mu[64], const uint8_t tr[64], const uint8_t *prefix,
                       size_t prefix_len, const uint8_t *ctx, size_t ctx_len, const uint8_t *msg,
                       size_t msg_len)
{
    shake256_cat(mu, 64, tr, 64, prefix, prefix_len, ctx, ctx_len, msg, msg_len);
}

/* ---- KeyGen_internal (Alg. 6) ---- */

typedef struct keygen_state {
    uint8_t seedbuf[34];
    uint8_t expanded[128]; /* rho || rho' || K */
    uint8_t tr[64];
    mldsa_poly a[MLDSA_K][MLDSA_L];
    mldsa_poly s1[MLDSA_L], s1hat[MLDSA_L], s2[MLDSA_K];
    mldsa_poly t[MLDSA_K], t1[MLDSA_K], t0[MLDSA_K];
} keygen_state;

int zhtp_sign_mldsa44_keypair_from_seed(uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES],
                                        uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES],
                                        const uint8_t xi[ZHTP_MLDSA44_SEEDBYTES])
{
    const mldsa_backend *b = be();
    keygen_state st;

    /* (rho, rho', K) = H(xi || k || l, 128) */
    memcpy(st.seedbuf, xi, 32);
    st.seedbuf[32] = MLDSA_K;
    st.seedbuf[33] = MLDSA_L;
    shake256_cat(st.expanded, sizeof st.expanded, st.seedbuf, sizeof st.seedbuf, NULL, 0, NULL, 0,
                 NULL, 0); /* wipes its sponge state, unlike the one-shot helper */
    const uint8_t *rho = st.expanded, *rhop = st.expanded + 32, *key = st.expanded + 96;
    /* rho becomes the public key's first field: public from here on. */
    ZHTP_CT_DECLASSIFY(st.expanded, 32);

    mldsa_expand_a(b, st.a, rho);
    mldsa_expand_s(st.s1, st.s2, rhop);
    for (unsigned j = 0; j < MLDSA_L; j++) {
        st.s1hat[j] = st.s1[j];
        b->ntt(&st.s1hat[j]);
    }
    matrix_mul(b, st.t, st.a, st.s1hat);
    for (unsigned i = 0; i < MLDSA_K; i++) {
        mldsa_poly_add(&st.t[i], &st.t[i], &st.s2[i]);
        b->freeze(&st.t[i]);
        mldsa_poly_power2round(&st.t1[i], &st.t0[i], &st.t[i]);
    }
    mldsa_pack_pk(pk, rho, st.t1);
    zhtp_shake256(st.tr, sizeof st.tr, pk, ZHTP_MLDSA44_PUBLICKEYBYTES);
    mldsa_pack_sk(sk, rho, key, st.tr, st.s1, st.s2, st.t0);
    zhtp_wipe(&st, sizeof st);
    return ZHTP_OK;
}

int zhtp_sign_mldsa44_keypair(uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES],
                              uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES])
{
    uint8_t xi[ZHTP_MLDSA44_SEEDBYTES];
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    randombytes_buf(xi, sizeof xi);
    int rc = zhtp_sign_mldsa44_keypair_from_seed(pk, sk, xi);
    zhtp_wipe(xi, sizeof xi);
    return rc;
}

/* ---- Sign_internal (Alg. 7) ---- */

/* c s for the secret polynomials s = s1, s2, t0 is computed directly from c's 39 nonzero
 * coefficients (mldsa_backend.sparse_mul*) rather than through the NTT: exact integers, so the
 * results need no reduction. Each s is kept as (-s || s), built once per call: in 8 bits for
 * s1 and s2 (|s| <= 2, so |c s| <= 78 fits), in 32 bits for t0 (|c t0| <= 39 * 2^12). */
typedef struct sign_state {
    uint8_t rho[32], key[32], tr[64];
    uint8_t rhopp[64];
    uint8_t ctilde[MLDSA_CTILDE];
    uint8_t w1buf[MLDSA_K * MLDSA_POLY_W1_BYTES];
    uint8_t csupport[MLDSA_TAU], cpos[MLDSA_TAU], cneg[MLDSA_TAU];
    _Alignas(32) int8_t ext_s[MLDSA_L + MLDSA_K][2 * MLDSA_N]; /* s1[0..l), then s2 */
    _Alignas(32) int32_t ext_t0[MLDSA_K][2 * MLDSA_N];
    mldsa_poly y[MLDSA_L], yhat[MLDSA_L], z[MLDSA_L];
    mldsa_poly w[MLDSA_K], w1[MLDSA_K], r[MLDSA_K], r0[MLDSA_K], r1[MLDSA_K];
    mldsa_poly cs2[MLDSA_K], ct0[MLDSA_K], h[MLDSA_K];
    mldsa_poly c;
} sign_state;

/* The signing loop from mu (64 bytes) on. st->rho, key and the ext tables are set. Returns
 * ZHTP_OK, or ZHTP_ERR_CRYPTO_BADKEY after max_attempts rejections (sig untouched). */
static int sign_loop(const mldsa_backend *b, sign_state *st, const mldsa_poly a[MLDSA_K][MLDSA_L],
                     uint8_t sig[ZHTP_MLDSA44_BYTES], const uint8_t mu[64], const uint8_t rnd[32],
                     unsigned max_attempts)
{
    /* rho'' = H(K || rnd || mu, 64) */
    shake256_cat(st->rhopp, 64, st->key, 32, rnd, 32, mu, 64, NULL, 0);

    /* kappa advances by l per attempt; the cap keeps it below 2^16 (IntegerToBytes(kappa, 2)
     * would wrap anyway). Each attempt passes with probability about 1/4.25. */
    uint16_t kappa = 0;
    for (unsigned attempt = 0; attempt < max_attempts;
         attempt++, kappa = (uint16_t)(kappa + MLDSA_L)) {
        mldsa_expand_mask(b, st->y, st->rhopp, kappa);
        for (unsigned j = 0; j < MLDSA_L; j++) {
            st->yhat[j] = st->y[j];
            b->ntt(&st->yhat[j]);
        }
        /* w = NTT^-1(A o NTT(y)), w1 = HighBits(w) */
        matrix_mul(b, st->w, a, st->yhat);
        for (unsigned i = 0; i < MLDSA_K; i++)
            b->decompose(&st->w1[i], &st->r0[i], &st->w[i]); /* freezes on the fly */
        mldsa_pack_w1(st->w1buf, st->w1);
        /* c~ = H(mu || w1Encode(w1), lambda/4) */
        shake256_cat(st->ctilde, MLDSA_CTILDE, mu, 64, st->w1buf, sizeof st->w1buf, NULL, 0, NULL,
                     0);
        ZHTP_CT_DECLASSIFY(st->ctilde, MLDSA_CTILDE); /* see the file comment */
        mldsa_sample_in_ball(&st->c, st->csupport, st->ctilde);
        /* c is public (from c~): its positions may steer loads and branches. */
        unsigned npos = 0, nneg = 0;
        for (unsigned k = 0; k < MLDSA_TAU; k++) {
            uint8_t p = st->csupport[k];
            if (st->c.c[p] == 1)
                st->cpos[npos++] = p;
            else
                st->cneg[nneg++] = p;
        }

        /* z = y + c s1, r = w - c s2, r0 = LowBits(r) */
        uint32_t reject = 0;
        for (unsigned j = 0; j < MLDSA_L; j++) {
            b->sparse_mul8(&st->z[j], st->ext_s[j], st->cpos, npos, st->cneg, nneg);
            reject |= b->add_exceeds(&st->z[j], &st->y[j], MLDSA_GAMMA1 - MLDSA_BETA);
        }
        for (unsigned i = 0; i < MLDSA_K; i++) {
            b->sparse_mul8(&st->cs2[i], st->ext_s[MLDSA_L + i], st->cpos, npos, st->cneg, nneg);
            reject |= b->lowbits_exceeds(&st->r[i], &st->r1[i], &st->w[i], &st->cs2[i],
                                         MLDSA_GAMMA2 - MLDSA_BETA);
        }
        ZHTP_CT_DECLASSIFY(&reject, sizeof reject);
        if (reject)
            continue;

        /* ct0 = c t0; h = MakeHint(-ct0, w - cs2 + ct0), i.e. HighBits(r + ct0) != HighBits(r) */
        uint32_t hints = 0;
        for (unsigned i = 0; i < MLDSA_K; i++) {
            b->sparse_mul(&st->ct0[i], st->ext_t0[i], st->cpos, npos, st->cneg, nneg);
            reject |= b->exceeds(&st->ct0[i], MLDSA_GAMMA2);
            mldsa_poly_add(&st->w[i], &st->r[i], &st->ct0[i]); /* w reused for r + ct0 */
            b->freeze(&st->w[i]);
            hints += b->make_hint(&st->h[i], &st->w[i], &st->r1[i]);
        }
        reject |= (uint32_t)(MLDSA_OMEGA - (int32_t)hints) >> 31; /* hints > omega */
        ZHTP_CT_DECLASSIFY(&reject, sizeof reject);
        if (reject)
            continue;
        /* Accepted: the hint is part of the returned signature. */
        ZHTP_CT_DECLASSIFY(st->h, sizeof st->h);
        mldsa_pack_sig(sig, st->ctilde, st->z, st->h);
        return ZHTP_OK;
    }
    return ZHTP_ERR_CRYPTO_BADKEY;
}

/* ext = (-s || s): x^j s has coefficient i equal to ext[256 + i - j] (negacyclic wrap). */
static void make_ext32(int32_t ext[2 * MLDSA_N], const mldsa_poly *s)
{
    for (unsigned i = 0; i < MLDSA_N; i++) {
        ext[i] = -s->c[i];
        ext[MLDSA_N + i] = s->c[i];
    }
}

/* The same in 8 bits, for s checked to lie in [-2, 2]. Returns 1 when some coefficient is
 * below -2 (skDecode gives [-5, 2]: fields 5..7 mean a malformed key), without a branch. */
static uint32_t make_ext8(int8_t ext[2 * MLDSA_N], const mldsa_poly *s)
{
    uint32_t bad = 0;
    for (unsigned i = 0; i < MLDSA_N; i++) {
        bad |= (uint32_t)(s->c[i] + MLDSA_ETA) >> 31;
        ext[i] = (int8_t)-s->c[i];
        ext[MLDSA_N + i] = (int8_t)s->c[i];
    }
    return bad;
}

/* skDecode and the per-key precomputation (the (-s || s) tables and ExpandA), once a call.
 * s1, s2 and t0 pass through y, cs2 and ct0, which the loop overwrites before reading.
 * Returns ZHTP_ERR_CRYPTO_BADKEY for s1/s2 coefficients outside [-eta, eta], which KeyGen
 * never produces; only that one bit about the key is declassified. */
static int sign_setup(const mldsa_backend *b, sign_state *st, mldsa_poly a[MLDSA_K][MLDSA_L],
                      const uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES])
{
    uint32_t bad = 0;
    mldsa_unpack_sk(st->rho, st->key, st->tr, st->y, st->cs2, st->ct0, sk);
    /* rho is the public key's first field. */
    ZHTP_CT_DECLASSIFY(st->rho, sizeof st->rho);
    for (unsigned j = 0; j < MLDSA_L; j++)
        bad |= make_ext8(st->ext_s[j], &st->y[j]);
    for (unsigned i = 0; i < MLDSA_K; i++) {
        bad |= make_ext8(st->ext_s[MLDSA_L + i], &st->cs2[i]);
        make_ext32(st->ext_t0[i], &st->ct0[i]);
    }
    ZHTP_CT_DECLASSIFY(&bad, sizeof bad);
    if (bad)
        return ZHTP_ERR_CRYPTO_BADKEY;
    mldsa_expand_a(b, a, st->rho);
    return ZHTP_OK;
}

int mldsa_sign_mu(uint8_t sig[ZHTP_MLDSA44_BYTES], const uint8_t *mu_given, const uint8_t *prefix,
                  size_t prefix_len, const uint8_t *ctx, size_t ctx_len, const uint8_t *msg,
                  size_t msg_len, const uint8_t rnd[32],
                  const uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES], unsigned max_attempts)
{
    const mldsa_backend *b = be();
    sign_state st;
    mldsa_poly a[MLDSA_K][MLDSA_L]; /* public (from rho): not wiped */
    uint8_t mu[64];
    int rc = sign_setup(b, &st, a, sk);
    if (rc == ZHTP_OK) {
        if (mu_given)
            memcpy(mu, mu_given, 64);
        else
            compute_mu(mu, st.tr, prefix, prefix_len, ctx, ctx_len, msg, msg_len);
        rc = sign_loop(b, &st, a, sig, mu, rnd,
                       max_attempts > 65536 / MLDSA_L ? 65536 / MLDSA_L : max_attempts);
    }
    if (rc != ZHTP_OK)
        memset(sig, 0, ZHTP_MLDSA44_BYTES);
    zhtp_wipe(&st, sizeof st);
    zhtp_wipe(mu, sizeof mu);
    return rc;
}

int zhtp_sign_mldsa44_sign_internal(uint8_t sig[ZHTP_MLDSA44_BYTES], const uint8_t *mprime,
                                    size_t mprime_len, const uint8_t rnd[ZHTP_MLDSA44_RNDBYTES],
                                    const uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES])
{
    if (!mprime && mprime_len)
        return ZHTP_ERR_INVAL;
    return mldsa_sign_mu(sig, NULL, NULL, 0, NULL, 0, mprime, mprime_len, rnd, sk,
                         MLDSA_MAX_ATTEMPTS);
}

int zhtp_sign_mldsa44_sign_internal_mu(uint8_t sig[ZHTP_MLDSA44_BYTES],
                                       const uint8_t mu[ZHTP_MLDSA44_MUBYTES],
                                       const uint8_t rnd[ZHTP_MLDSA44_RNDBYTES],
                                       const uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES])
{
    return mldsa_sign_mu(sig, mu, NULL, 0, NULL, 0, NULL, 0, rnd, sk, MLDSA_MAX_ATTEMPTS);
}

static int sign_external(uint8_t sig[ZHTP_MLDSA44_BYTES], const uint8_t *msg, size_t msg_len,
                         const uint8_t *ctx, size_t ctx_len,
                         const uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES], int hedged)
{
    uint8_t rnd[ZHTP_MLDSA44_RNDBYTES] = {0};
    if (ctx_len > ZHTP_MLDSA44_CTX_MAX || (!ctx && ctx_len) || (!msg && msg_len))
        return ZHTP_ERR_INVAL;
    if (hedged) {
        if (sodium_init() < 0)
            return ZHTP_ERR_CRYPTO_INIT;
        randombytes_buf(rnd, sizeof rnd);
    }
    /* M' = 0 || len(ctx) || ctx || M (Alg. 2 step 10) */
    const uint8_t prefix[2] = {0, (uint8_t)ctx_len};
    int rc = mldsa_sign_mu(sig, NULL, prefix, 2, ctx, ctx_len, msg, msg_len, rnd, sk,
                           MLDSA_MAX_ATTEMPTS);
    zhtp_wipe(rnd, sizeof rnd);
    return rc;
}

int zhtp_sign_mldsa44_sign(uint8_t sig[ZHTP_MLDSA44_BYTES], const uint8_t *msg, size_t msg_len,
                           const uint8_t *ctx, size_t ctx_len,
                           const uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES])
{
    return sign_external(sig, msg, msg_len, ctx, ctx_len, sk, 1);
}

int zhtp_sign_mldsa44_sign_deterministic(uint8_t sig[ZHTP_MLDSA44_BYTES], const uint8_t *msg,
                                         size_t msg_len, const uint8_t *ctx, size_t ctx_len,
                                         const uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES])
{
    return sign_external(sig, msg, msg_len, ctx, ctx_len, sk, 0);
}

/* ---- Verify_internal (Alg. 8) ---- */

typedef struct verify_state {
    uint8_t rho[32], tr[64], mu[64];
    uint8_t ctilde[MLDSA_CTILDE], ctilde2[MLDSA_CTILDE];
    uint8_t csupport[MLDSA_TAU], cpos[MLDSA_TAU], cneg[MLDSA_TAU];
    uint8_t w1buf[MLDSA_K * MLDSA_POLY_W1_BYTES];
    _Alignas(32) int32_t ext[2 * MLDSA_N];
    mldsa_poly a[MLDSA_K][MLDSA_L];
    mldsa_poly t1[MLDSA_K], z[MLDSA_L], h[MLDSA_K], w[MLDSA_K], ct1;
    mldsa_poly c;
} verify_state;

/* Everything here is public; no wiping needed. Returns ZHTP_OK or ZHTP_ERR_CRYPTO_VERIFY. */
static int verify_core(verify_state *st, const uint8_t *sig, const uint8_t *mu_given,
                       const uint8_t *prefix, size_t prefix_len, const uint8_t *ctx, size_t ctx_len,
                       const uint8_t *msg, size_t msg_len,
                       const uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES])
{
    const mldsa_backend *b = be();
    if (mldsa_unpack_sig(b, st->ctilde, st->z, st->h, sig) != 0)
        return ZHTP_ERR_CRYPTO_VERIFY; /* malformed hint */
    uint32_t bad = 0;
    for (unsigned j = 0; j < MLDSA_L; j++)
        bad |= b->exceeds(&st->z[j], MLDSA_GAMMA1 - MLDSA_BETA);
    if (bad)
        return ZHTP_ERR_CRYPTO_VERIFY;

    mldsa_unpack_pk(st->rho, st->t1, pk);
    if (mu_given) {
        memcpy(st->mu, mu_given, 64);
    } else {
        zhtp_shake256(st->tr, sizeof st->tr, pk, ZHTP_MLDSA44_PUBLICKEYBYTES);
        compute_mu(st->mu, st->tr, prefix, prefix_len, ctx, ctx_len, msg, msg_len);
    }
    mldsa_expand_a(b, st->a, st->rho);
    mldsa_sample_in_ball(&st->c, st->csupport, st->ctilde);
    unsigned npos = 0, nneg = 0;
    for (unsigned k = 0; k < MLDSA_TAU; k++) {
        uint8_t p = st->csupport[k];
        if (st->c.c[p] == 1)
            st->cpos[npos++] = p;
        else
            st->cneg[nneg++] = p;
    }
    for (unsigned j = 0; j < MLDSA_L; j++)
        b->ntt(&st->z[j]);
    /* w'approx = NTT^-1(A^ o NTT(z)) - c t1 2^d. The second term is the exact sparse product
     * (|c t1 2^d| <= 39 * 1023 * 2^13 < 2^29), so it needs no NTT; the sum is reduced once. */
    for (unsigned i = 0; i < MLDSA_K; i++) {
        b->pointwise_acc(&st->w[i], st->a[i], st->z, MLDSA_L);
        b->invntt_tomont(&st->w[i]);
        mldsa_poly_shiftl(&st->t1[i]);
        make_ext32(st->ext, &st->t1[i]);
        b->sparse_mul(&st->ct1, st->ext, st->cpos, npos, st->cneg, nneg);
        mldsa_poly_sub(&st->w[i], &st->w[i], &st->ct1);
        b->freeze(&st->w[i]);
        b->use_hint(&st->w[i], &st->w[i], &st->h[i]);
    }
    mldsa_pack_w1(st->w1buf, st->w);
    shake256_cat(st->ctilde2, MLDSA_CTILDE, st->mu, 64, st->w1buf, sizeof st->w1buf, NULL, 0, NULL,
                 0);
    return zhtp_ct_memcmp(st->ctilde, st->ctilde2, MLDSA_CTILDE) == 0 ? ZHTP_OK
                                                                      : ZHTP_ERR_CRYPTO_VERIFY;
}

int mldsa_verify_prefixed(const uint8_t *sig, const uint8_t *prefix, size_t prefix_len,
                          const uint8_t *ctx, size_t ctx_len, const uint8_t *msg, size_t msg_len,
                          const uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES])
{
    verify_state st;
    return verify_core(&st, sig, NULL, prefix, prefix_len, ctx, ctx_len, msg, msg_len, pk);
}

int zhtp_sign_mldsa44_verify(const uint8_t *sig, size_t sig_len, const uint8_t *msg, size_t msg_len,
                             const uint8_t *ctx, size_t ctx_len,
                             const uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES])
{
    verify_state st;
    if (ctx_len > ZHTP_MLDSA44_CTX_MAX || (!ctx && ctx_len) || (!msg && msg_len) || !pk)
        return ZHTP_ERR_INVAL;
    if (!sig || sig_len != ZHTP_MLDSA44_BYTES)
        return ZHTP_ERR_CRYPTO_LENGTH;
    const uint8_t prefix[2] = {0, (uint8_t)ctx_len};
    return verify_core(&st, sig, NULL, prefix, 2, ctx, ctx_len, msg, msg_len, pk);
}

int zhtp_sign_mldsa44_verify_internal(const uint8_t *sig, size_t sig_len, const uint8_t *mprime,
                                      size_t mprime_len,
                                      const uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES])
{
    verify_state st;
    if ((!mprime && mprime_len) || !pk)
        return ZHTP_ERR_INVAL;
    if (!sig || sig_len != ZHTP_MLDSA44_BYTES)
        return ZHTP_ERR_CRYPTO_LENGTH;
    return verify_core(&st, sig, NULL, NULL, 0, NULL, 0, mprime, mprime_len, pk);
}

int zhtp_sign_mldsa44_verify_internal_mu(const uint8_t *sig, size_t sig_len,
                                         const uint8_t mu[ZHTP_MLDSA44_MUBYTES],
                                         const uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES])
{
    verify_state st;
    if (!mu || !pk)
        return ZHTP_ERR_INVAL;
    if (!sig || sig_len != ZHTP_MLDSA44_BYTES)
        return ZHTP_ERR_CRYPTO_LENGTH;
    return verify_core(&st, sig, mu, NULL, 0, NULL, 0, NULL, 0, pk);
}
