/* ML-DSA-44 internals shared by the files of src/crypto/mldsa/: parameters (FIPS 204 Table 1),
 * the polynomial type, arithmetic, sampling and encodings. Not a public API.
 *
 * Conventions. A coefficient is an int32_t. "Centered" means the representative in
 * [-(q-1)/2, (q-1)/2]; "frozen" means [0, q). The NTT domain is FIPS 204's (Alg. 41) with the
 * twiddles in Montgomery form (R = 2^32), so ntt() returns the plain NTT, pointwise products
 * carry a factor R^-1 and invntt_tomont() multiplies by R to cancel it. Nothing here branches
 * on or indexes by a secret unless its comment says why that is allowed. */
#ifndef ZHTP_MLDSA_INTERNAL_H
#define ZHTP_MLDSA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define MLDSA_N      256
#define MLDSA_Q      8380417
#define MLDSA_D      13
#define MLDSA_TAU    39
#define MLDSA_LAMBDA 128
#define MLDSA_CTILDE (MLDSA_LAMBDA / 4) /* bytes of the commitment hash c~ */
#define MLDSA_GAMMA1 (1 << 17)
#define MLDSA_GAMMA2 ((MLDSA_Q - 1) / 88)
#define MLDSA_K      4
#define MLDSA_L      4
#define MLDSA_ETA    2
#define MLDSA_BETA   (MLDSA_TAU * MLDSA_ETA)
#define MLDSA_OMEGA  80

#define MLDSA_POLY_T1_BYTES  320 /* 10 bits a coefficient */
#define MLDSA_POLY_T0_BYTES  416 /* 13 bits */
#define MLDSA_POLY_ETA_BYTES 96  /* 3 bits */
#define MLDSA_POLY_Z_BYTES   576 /* 18 bits */
#define MLDSA_POLY_W1_BYTES  192 /* 6 bits */

#define MLDSA_PK_BYTES (32 + MLDSA_K * MLDSA_POLY_T1_BYTES)
#define MLDSA_SK_BYTES                                                                             \
    (128 + (MLDSA_K + MLDSA_L) * MLDSA_POLY_ETA_BYTES + MLDSA_K * MLDSA_POLY_T0_BYTES)
#define MLDSA_SIG_BYTES (MLDSA_CTILDE + MLDSA_L * MLDSA_POLY_Z_BYTES + MLDSA_OMEGA + MLDSA_K)

typedef struct mldsa_poly {
    _Alignas(32) int32_t c[MLDSA_N];
} mldsa_poly;

/* ---- arithmetic backend (portable or AVX2; selected in mldsa.c) ---- */

typedef struct mldsa_backend {
    const char *name;
    /* In place. Input |a| < q; output |a| < 9q (not reduced). */
    void (*ntt)(mldsa_poly *a);
    /* In place. Input |a| <= q; output |a| < q, multiplied by R (cancels one pointwise R^-1). */
    void (*invntt_tomont)(mldsa_poly *a);
    /* out = reduce32(sum_i a[i] o b[i] R^-1), n <= 4, inputs as ntt() returns them or smaller. */
    void (*pointwise_acc)(mldsa_poly *out, const mldsa_poly *a, const mldsa_poly *b, unsigned n);
    /* pointwise_acc for every row: out[i] = reduce32(sum_j a[i][j] o v[j] R^-1). */
    void (*matrix_pointwise)(mldsa_poly out[MLDSA_K], const mldsa_poly a[MLDSA_K][MLDSA_L],
                             const mldsa_poly v[MLDSA_L]);
    /* Decompose (Alg. 36) of every coefficient of a, which is frozen first (any |a_i| below
     * 2^31 - 2^22). */
    void (*decompose)(mldsa_poly *a1, mldsa_poly *a0, const mldsa_poly *a);
    /* h_i = (HighBits(a_i) != b1_i) for frozen a; returns the number of ones. With
     * b1 = HighBits(r) and a = r + z this is MakeHint(z, r) (Alg. 39). */
    uint32_t (*make_hint)(mldsa_poly *h, const mldsa_poly *a, const mldsa_poly *b1);
    /* UseHint (Alg. 40) on a frozen polynomial; public data (verify only). */
    void (*use_hint)(mldsa_poly *out, const mldsa_poly *a, const mldsa_poly *h);
    void (*freeze)(mldsa_poly *a); /* to [0, q), from |a| < 2^31 - 2^22 */
    /* 1 when some |a_i| >= bound (a centered), else 0, without an early exit. */
    uint32_t (*exceeds)(const mldsa_poly *a, int32_t bound);
    /* BitUnpack(in, gamma1 - 1, gamma1): 18-bit fields, coefficient gamma1 - field. */
    void (*unpack_z)(mldsa_poly *z, const uint8_t in[MLDSA_POLY_Z_BYTES]);
    /* RejNTTPoly's sampling loop (Alg. 30 with CoeffFromThreeBytes, Alg. 14) on public bytes:
     * appends the accepted coefficients of buf[0..len) to a from position ctr, stops at 256,
     * returns the new count. len is a multiple of 3. */
    unsigned (*rej_uniform)(int32_t *a, unsigned ctr, const uint8_t *buf, size_t len);
    /* out = c s in Z[X]/(X^256 + 1), exactly, for c with +1 at pos[0..npos) and -1 at
     * neg[0..nneg) (public positions) and ext = (-s || s). |out_i| <= (npos + nneg) max|s|. */
    void (*sparse_mul)(mldsa_poly *out, const int32_t ext[2 * MLDSA_N], const uint8_t *pos,
                       unsigned npos, const uint8_t *neg, unsigned nneg);
    /* z += y, then exceeds(z, bound): the z check of Alg. 7 in one pass. */
    uint32_t (*add_exceeds)(mldsa_poly *z, const mldsa_poly *y, int32_t bound);
    /* r = (w - cs2) frozen, r1 = HighBits(r), and 1 when some |LowBits(r)| >= bound: the r0
     * check of Alg. 7 in one pass (w frozen, |cs2| small). */
    uint32_t (*lowbits_exceeds)(mldsa_poly *r, mldsa_poly *r1, const mldsa_poly *w,
                                const mldsa_poly *cs2, int32_t bound);
    /* The same with 8-bit ext, for |s| <= 2 (s1, s2 of a well-formed key): |c s| <= 78. */
    void (*sparse_mul8)(mldsa_poly *out, const int8_t ext[2 * MLDSA_N], const uint8_t *pos,
                        unsigned npos, const uint8_t *neg, unsigned nneg);
} mldsa_backend;

extern const mldsa_backend mldsa_backend_portable;
#if defined(ZHTP_MLDSA_HAVE_AVX2)
extern const mldsa_backend mldsa_backend_avx2;
#endif

/* ---- scalar helpers (mldsa_poly.c) ---- */

/* a R^-1 mod q, |result| < q for |a| < 2^31 q. */
static inline int32_t mldsa_montgomery_reduce(int64_t a)
{
    int32_t t = (int32_t)((uint64_t)a * 58728449u); /* q^-1 mod 2^32 */
    return (int32_t)((a - (int64_t)t * MLDSA_Q) >> 32);
}

/* a - round(a / 2^23) q, same class mod q, |result| <= 6283009 (|a| < 2^31 - 2^22): q is just
 * below 2^23, so this removes nearly all multiples of q. */
static inline int32_t mldsa_reduce32(int32_t a)
{
    int32_t t = (a + (1 << 22)) >> 23;
    return a - t * MLDSA_Q;
}

void mldsa_poly_reduce(mldsa_poly *a);
void mldsa_poly_freeze(mldsa_poly *a); /* portable backend->freeze */
void mldsa_poly_add(mldsa_poly *r, const mldsa_poly *a, const mldsa_poly *b);
void mldsa_poly_sub(mldsa_poly *r, const mldsa_poly *a, const mldsa_poly *b);
void mldsa_poly_shiftl(mldsa_poly *a);                           /* a * 2^d */
uint32_t mldsa_poly_exceeds(const mldsa_poly *a, int32_t bound); /* portable backend->exceeds */

/* Power2Round (Alg. 35) on a frozen polynomial: a = a1 2^d + a0. */
void mldsa_poly_power2round(mldsa_poly *a1, mldsa_poly *a0, const mldsa_poly *a);
/* Decompose (Alg. 36) of one frozen coefficient; exposed for the exhaustive unit test. */
void mldsa_decompose(int32_t *r1, int32_t *r0, int32_t r);
void mldsa_poly_use_hint(mldsa_poly *out, const mldsa_poly *a, const mldsa_poly *h);

/* ---- sampling (mldsa_sample.c) ---- */

/* ExpandA (Alg. 32): A[r][s] = RejNTTPoly(rho || s || r), four entries per x4 sponge. */
void mldsa_expand_a(const mldsa_backend *b, mldsa_poly a[MLDSA_K][MLDSA_L], const uint8_t rho[32]);
unsigned mldsa_rej_uniform(int32_t *a, unsigned ctr, const uint8_t *buf, size_t len); /* portable */
/* ExpandS (Alg. 33): s1, s2 from rho' (64 bytes), coefficients in [-eta, eta]. */
void mldsa_expand_s(mldsa_poly s1[MLDSA_L], mldsa_poly s2[MLDSA_K], const uint8_t rhop[64]);
/* ExpandMask (Alg. 34): y from rho'' and kappa. */
void mldsa_expand_mask(const mldsa_backend *b, mldsa_poly y[MLDSA_L], const uint8_t rhopp[64],
                       uint16_t kappa);
/* SampleInBall (Alg. 29). ctilde must be public (declassified) when called. support gets the
 * tau positions where c is nonzero, in no particular order. */
void mldsa_sample_in_ball(mldsa_poly *c, uint8_t support[MLDSA_TAU],
                          const uint8_t ctilde[MLDSA_CTILDE]);

/* ---- encodings (mldsa_pack.c) ---- */

void mldsa_pack_pk(uint8_t pk[MLDSA_PK_BYTES], const uint8_t rho[32], const mldsa_poly t1[MLDSA_K]);
void mldsa_unpack_pk(uint8_t rho[32], mldsa_poly t1[MLDSA_K], const uint8_t pk[MLDSA_PK_BYTES]);
void mldsa_pack_sk(uint8_t sk[MLDSA_SK_BYTES], const uint8_t rho[32], const uint8_t key[32],
                   const uint8_t tr[64], const mldsa_poly s1[MLDSA_L], const mldsa_poly s2[MLDSA_K],
                   const mldsa_poly t0[MLDSA_K]);
void mldsa_unpack_sk(uint8_t rho[32], uint8_t key[32], uint8_t tr[64], mldsa_poly s1[MLDSA_L],
                     mldsa_poly s2[MLDSA_K], mldsa_poly t0[MLDSA_K],
                     const uint8_t sk[MLDSA_SK_BYTES]);
/* z must be centered; h is 0/1 per coefficient with at most omega ones (public). */
void mldsa_pack_sig(uint8_t sig[MLDSA_SIG_BYTES], const uint8_t ctilde[MLDSA_CTILDE],
                    const mldsa_poly z[MLDSA_L], const mldsa_poly h[MLDSA_K]);
/* sigDecode (Alg. 27) with HintBitUnpack (Alg. 21). Returns 0, or -1 when the hint encoding
 * is malformed (h = bottom). z comes out centered. */
int mldsa_unpack_sig(const mldsa_backend *b, uint8_t ctilde[MLDSA_CTILDE], mldsa_poly z[MLDSA_L],
                     mldsa_poly h[MLDSA_K], const uint8_t sig[MLDSA_SIG_BYTES]);
/* portable backend->unpack_z */
void mldsa_unpack_z(mldsa_poly *z, const uint8_t in[MLDSA_POLY_Z_BYTES]);
/* w1Encode (Alg. 28). */
void mldsa_pack_w1(uint8_t out[MLDSA_K * MLDSA_POLY_W1_BYTES], const mldsa_poly w1[MLDSA_K]);

/* ---- shared by mldsa.c and mldsa_prehash.c ---- */

/* FIPS 204 lets an implementation bound the signing loop if the bound is at least 814 (a valid
 * key exceeds that with negligible probability); only a malformed secret key gets near it. */
#define MLDSA_MAX_ATTEMPTS 1000

/* Sign_internal with mu = H(tr || prefix || ctx || msg) (or mu_given when not NULL), giving up
 * after max_attempts rejected candidates. ZHTP_OK, or ZHTP_ERR_CRYPTO_BADKEY with sig zeroed. */
int mldsa_sign_mu(uint8_t sig[MLDSA_SIG_BYTES], const uint8_t *mu_given, const uint8_t *prefix,
                  size_t prefix_len, const uint8_t *ctx, size_t ctx_len, const uint8_t *msg,
                  size_t msg_len, const uint8_t rnd[32], const uint8_t sk[MLDSA_SK_BYTES],
                  unsigned max_attempts);
/* Verify_internal over M' = prefix || ctx || msg; sig is MLDSA_SIG_BYTES long. ZHTP_OK or
 * ZHTP_ERR_CRYPTO_VERIFY. */
int mldsa_verify_prefixed(const uint8_t *sig, const uint8_t *prefix, size_t prefix_len,
                          const uint8_t *ctx, size_t ctx_len, const uint8_t *msg, size_t msg_len,
                          const uint8_t pk[MLDSA_PK_BYTES]);

/* zetas[i] = 1753^BitRev8(i) * 2^32 mod q, centered (Montgomery form; [0] unused). One table
 * for both backends, 32-byte aligned for the AVX2 loads. Defined in mldsa_poly.c. */
extern const int32_t mldsa_zetas[256];

#endif
