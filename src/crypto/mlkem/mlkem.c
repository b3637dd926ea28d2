/* ML-KEM-768: K-PKE (FIPS 203 §5) and the KEM around it (§6, §7), on top of the arithmetic
 * backend chosen at run time. Every secret intermediate lives in a local that is wiped before
 * return on every path. ZHTP_CT_DECLASSIFY marks only values that are public by design:
 * rho after G(d || k), and the encapsulation key (and its hash) stored inside dk. */
#include <string.h>

#include <sodium.h>

#include "keccak.h"
#include "mlkem_internal.h"
#include "zhtp/ct.h"
#include "zhtp/mlkem.h"
#include "zhtp/util.h"

#define DK_PKE_OFF 0
#define EK_OFF     MLKEM_POLYVECBYTES                      /* 1152 */
#define HEK_OFF    (EK_OFF + ZHTP_MLKEM768_PUBLICKEYBYTES) /* 2336 */
#define Z_OFF      (HEK_OFF + 32)                          /* 2368 */

_Static_assert(Z_OFF + 32 == ZHTP_MLKEM768_SECRETKEYBYTES, "dk layout");
_Static_assert(MLKEM_C1BYTES + MLKEM_C2BYTES == ZHTP_MLKEM768_CIPHERTEXTBYTES, "c layout");

/* ---- backend selection ---- */

static const mlkem_arith *arith_selected;

#if defined(ZHTP_MLKEM_HAVE_AVX2)
static int cpu_has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}
#endif

static const mlkem_arith *arith_auto(void)
{
#if defined(ZHTP_MLKEM_HAVE_AVX2)
    if (cpu_has_avx2())
        return &zhtp_mlkem_arith_avx2;
#endif
    return &zhtp_mlkem_arith_portable;
}

/* The first call may race with another thread's first call; both store the same pointer. */
static const mlkem_arith *arith(void)
{
    const mlkem_arith *a = arith_selected;
    if (a == NULL) {
        a = arith_auto();
        arith_selected = a;
    }
    return a;
}

const mlkem_arith *zhtp_mlkem_arith_by_name(const char *name)
{
    if (strcmp(name, "portable") == 0)
        return &zhtp_mlkem_arith_portable;
#if defined(ZHTP_MLKEM_HAVE_AVX2)
    if (strcmp(name, "avx2") == 0 && cpu_has_avx2())
        return &zhtp_mlkem_arith_avx2;
#endif
    return NULL;
}

const char *zhtp_kem_mlkem768_impl(void)
{
    return arith()->name;
}

/* Also switches the Keccak x4 backend (process-wide, shared with ML-DSA; the results are the
 * same either way), so "portable" measures the all-portable code. */
int zhtp_kem_mlkem768_set_impl(const char *name)
{
    if (strcmp(name, "portable") == 0) {
        zhtp_keccak_x4_set_impl("portable");
        arith_selected = &zhtp_mlkem_arith_portable;
        return ZHTP_OK;
    }
    if (strcmp(name, "auto") == 0) {
        zhtp_keccak_x4_set_impl("auto");
        arith_selected = arith_auto();
        return ZHTP_OK;
    }
#if defined(ZHTP_MLKEM_HAVE_AVX2)
    if (strcmp(name, "avx2") == 0 && cpu_has_avx2()) {
        if (zhtp_keccak_x4_set_impl("avx2") != 0)
            return ZHTP_ERR_UNSUPPORTED;
        arith_selected = &zhtp_mlkem_arith_avx2;
        return ZHTP_OK;
    }
#endif
    return ZHTP_ERR_UNSUPPORTED;
}

/* ---- K-PKE ---- */

/* PRF_eta(s, N) = SHAKE256(s || N, 64 eta) for four N at once (Alg. 13/14 lines 9-17). */
static void prf4(uint8_t out[4][ZHTP_SHAKE256_RATE], const uint8_t key[32], uint8_t n0)
{
    uint8_t in[4][33];
    zhtp_keccak_x4 k4;
    for (unsigned j = 0; j < 4; j++) {
        memcpy(in[j], key, 32);
        in[j][32] = (uint8_t)(n0 + j);
    }
    zhtp_keccak_x4_absorb_once(&k4, ZHTP_SHAKE256_RATE, in[0], in[1], in[2], in[3], 33, 0x1f);
    zhtp_keccak_x4_squeezeblocks(&k4, out[0], out[1], out[2], out[3], 1);
    zhtp_wipe(in, sizeof in);
    zhtp_wipe(&k4, sizeof k4);
}

/* K-PKE.KeyGen (Alg. 13): writes ek and dk_PKE. */
static void pke_keygen(uint8_t ek[ZHTP_MLKEM768_PUBLICKEYBYTES], uint8_t dk_pke[MLKEM_POLYVECBYTES],
                       const uint8_t d[32])
{
    const mlkem_arith *ar = arith();
    struct {
        uint8_t dk[33];
        uint8_t rho_sigma[64];
        uint8_t prf[4][ZHTP_SHAKE256_RATE];
        uint8_t n[2]; /* PRF counters N */
        mlkem_polyvec s, e;
    } sec;
    mlkem_polyvec a[MLKEM_K], t;
    mlkem_poly a_last;

    memcpy(sec.dk, d, 32);
    sec.dk[32] = MLKEM_K; /* domain separation by k, FIPS 203 final */
    zhtp_sha3_512(sec.rho_sigma, sec.dk, 33);
    const uint8_t *rho = sec.rho_sigma, *sigma = sec.rho_sigma + 32;
    ZHTP_CT_DECLASSIFY(sec.rho_sigma, 32); /* rho is published in ek */

    prf4(sec.prf, sigma, 0);
    for (unsigned i = 0; i < 3; i++)
        ar->cbd2(&sec.s.p[i], sec.prf[i]);
    ar->cbd2(&sec.e.p[0], sec.prf[3]);
    /* PRF(sigma, 4), PRF(sigma, 5) and the XOF of the corner entry Â[2][2] share one
     * four-way sponge: 3 permutations instead of 1 four-way and 3 single ones. */
    {
        uint8_t seed[34], xof[3 * ZHTP_SHAKE128_RATE];
        memcpy(seed, rho, 32);
        seed[32] = seed[33] = MLKEM_K - 1;
        sec.n[0] = 4;
        sec.n[1] = 5;
        mlkem_sponge_job jobs[3] = {
            {{sigma, &sec.n[0]}, {32, 1}, ZHTP_SHAKE256_RATE, 0x1f, sec.prf[0], MLKEM_ETA_BYTES},
            {{sigma, &sec.n[1]}, {32, 1}, ZHTP_SHAKE256_RATE, 0x1f, sec.prf[1], MLKEM_ETA_BYTES},
            {{seed, NULL}, {34, 0}, ZHTP_SHAKE128_RATE, 0x1f, xof, sizeof xof},
        };
        zhtp_mlkem_sponge_run(jobs, 3);
        zhtp_mlkem_sample_ntt_finish(&a_last, xof, sizeof xof, seed, ar);
    }
    ar->cbd2(&sec.e.p[1], sec.prf[0]);
    ar->cbd2(&sec.e.p[2], sec.prf[1]);
    zhtp_mlkem_gen_matrix(a, rho, 0, ar, &a_last);

    for (unsigned i = 0; i < MLKEM_K; i++) {
        ar->ntt(&sec.s.p[i]);
        ar->ntt(&sec.e.p[i]);
    }
    /* t̂ = Â ∘ ŝ + ê; basemul leaves 1/R, tomont puts it back. */
    for (unsigned i = 0; i < MLKEM_K; i++) {
        ar->basemul_acc(&t.p[i], &a[i], &sec.s);
        ar->tomont(&t.p[i]);
        zhtp_mlkem_poly_add(&t.p[i], &sec.e.p[i]);
        ar->tobytes(ek + i * MLKEM_POLYBYTES, &t.p[i]);
        ar->tobytes(dk_pke + i * MLKEM_POLYBYTES, &sec.s.p[i]);
    }
    memcpy(ek + MLKEM_POLYVECBYTES, rho, 32);

    zhtp_wipe(&sec, sizeof sec);
    zhtp_wipe(&t, sizeof t); /* t̂ itself is public, but the buffer held sums with ê */
}

/* K-PKE.Encrypt (Alg. 14). ek must have passed the modulus check. a_last: see gen_matrix. */
static void pke_encrypt(uint8_t c[ZHTP_MLKEM768_CIPHERTEXTBYTES],
                        const uint8_t ek[ZHTP_MLKEM768_PUBLICKEYBYTES], const uint8_t m[32],
                        const uint8_t r[32], const mlkem_poly *a_last)
{
    const mlkem_arith *ar = arith();
    struct {
        uint8_t prf[4][ZHTP_SHAKE256_RATE];
        mlkem_polyvec y, e1, u;
        mlkem_poly e2, mu, v;
    } sec;
    mlkem_polyvec at[MLKEM_K], t;

    for (unsigned i = 0; i < MLKEM_K; i++)
        ar->frombytes(&t.p[i], ek + i * MLKEM_POLYBYTES);
    zhtp_mlkem_gen_matrix(at, ek + MLKEM_POLYVECBYTES, 1, ar, a_last);

    prf4(sec.prf, r, 0);
    for (unsigned i = 0; i < 3; i++)
        ar->cbd2(&sec.y.p[i], sec.prf[i]);
    ar->cbd2(&sec.e1.p[0], sec.prf[3]);
    prf4(sec.prf, r, 4);
    ar->cbd2(&sec.e1.p[1], sec.prf[0]);
    ar->cbd2(&sec.e1.p[2], sec.prf[1]);
    ar->cbd2(&sec.e2, sec.prf[2]);

    for (unsigned i = 0; i < MLKEM_K; i++)
        ar->ntt(&sec.y.p[i]);

    /* u = NTT^-1(Âᵀ ∘ ŷ) + e1 */
    for (unsigned i = 0; i < MLKEM_K; i++) {
        ar->basemul_acc(&sec.u.p[i], &at[i], &sec.y);
        ar->invntt(&sec.u.p[i]);
        zhtp_mlkem_poly_add(&sec.u.p[i], &sec.e1.p[i]);
        ar->compress_du(c + i * 32 * MLKEM_DU, &sec.u.p[i]);
    }
    /* v = NTT^-1(t̂ᵀ ∘ ŷ) + e2 + Decompress_1(m) */
    zhtp_mlkem_poly_frommsg(&sec.mu, m);
    ar->basemul_acc(&sec.v, &t, &sec.y);
    ar->invntt(&sec.v);
    zhtp_mlkem_poly_add(&sec.v, &sec.e2);
    zhtp_mlkem_poly_add(&sec.v, &sec.mu);
    ar->compress_dv(c + MLKEM_C1BYTES, &sec.v);

    zhtp_wipe(&sec, sizeof sec);
}

/* K-PKE.Decrypt (Alg. 15). */
static void pke_decrypt(uint8_t m[32], const uint8_t dk_pke[MLKEM_POLYVECBYTES],
                        const uint8_t c[ZHTP_MLKEM768_CIPHERTEXTBYTES])
{
    const mlkem_arith *ar = arith();
    struct {
        mlkem_polyvec s;
        mlkem_poly w;
    } sec;
    mlkem_polyvec u;
    mlkem_poly v;

    for (unsigned i = 0; i < MLKEM_K; i++) {
        ar->decompress_du(&u.p[i], c + i * 32 * MLKEM_DU);
        ar->ntt(&u.p[i]);
        ar->frombytes(&sec.s.p[i], dk_pke + i * MLKEM_POLYBYTES);
    }
    zhtp_mlkem_poly_decompress_dv(&v, c + MLKEM_C1BYTES);
    /* w = v' - NTT^-1(ŝᵀ ∘ NTT(u')) */
    ar->basemul_acc(&sec.w, &sec.s, &u);
    ar->invntt(&sec.w);
    zhtp_mlkem_poly_sub(&v, &sec.w);
    ar->tomsg(m, &v);

    zhtp_wipe(&sec, sizeof sec);
    zhtp_wipe(&v, sizeof v); /* v' - w determines m */
    zhtp_wipe(&u, sizeof u);
}

/* ---- ML-KEM ---- */

/* 0xff when the len bytes at a and b differ, 0 when equal; time depends only on len. Used on
 * the re-encrypted ciphertext, which is secret-derived, so the result feeds a masked select. */
static uint8_t ct_differ_mask(const uint8_t *a, const uint8_t *b, size_t len)
{
    uint64_t d = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        d |= x ^ y;
    }
    for (; i < len; i++)
        d |= (uint64_t)(a[i] ^ b[i]);
    return (uint8_t)(0 - ((d | (0 - d)) >> 63));
}

/* Encaps and Decaps start with hashes of public or independent inputs: H(ek), in Decaps also
 * K̄ = J(z || c) = SHAKE256(z || c, 32), and the XOF output for the matrix corner entry
 * Â[2][2] (seed rho || 2 || 2, the same in Â and Âᵀ). They run as lanes of one four-way
 * sponge: 9 four-way permutations instead of 9 (Encaps) or 18 (Decaps) single ones plus 3.
 * The corner lane gets 8 blocks of output, which the 9 permutations provide for free; when
 * the sponges run one after another (portable x4), it takes 3 and SampleNTT squeezes more in
 * the rare case they fall short. */
#define CORNER_BLOCKS 8

static void start_hashes(uint8_t h[32], uint8_t kbar[32], mlkem_poly *a_last, const uint8_t *ek,
                         const uint8_t *z, const uint8_t *c, const mlkem_arith *ar)
{
    uint8_t seed[34], xof[CORNER_BLOCKS * ZHTP_SHAKE128_RATE];
    size_t xof_len =
        strcmp(zhtp_keccak_x4_impl(), "portable") == 0 ? 3 * ZHTP_SHAKE128_RATE : sizeof xof;
    mlkem_sponge_job jobs[3] = {
        {{ek, NULL}, {ZHTP_MLKEM768_PUBLICKEYBYTES, 0}, ZHTP_SHA3_256_RATE, 0x06, h, 32},
        {{seed, NULL}, {34, 0}, ZHTP_SHAKE128_RATE, 0x1f, xof, xof_len},
        {{z, c}, {32, ZHTP_MLKEM768_CIPHERTEXTBYTES}, ZHTP_SHAKE256_RATE, 0x1f, kbar, 32},
    };
    memcpy(seed, ek + MLKEM_POLYVECBYTES, 32);
    seed[32] = MLKEM_K - 1;
    seed[33] = MLKEM_K - 1;
    zhtp_mlkem_sponge_run(jobs, kbar != NULL ? 3 : 2);
    zhtp_mlkem_sample_ntt_finish(a_last, xof, xof_len, seed, ar);
}

int zhtp_kem_mlkem768_keypair_from_seed(uint8_t pk[ZHTP_MLKEM768_PUBLICKEYBYTES],
                                        uint8_t sk[ZHTP_MLKEM768_SECRETKEYBYTES],
                                        const uint8_t d[32], const uint8_t z[32])
{
    /* Alg. 16: dk = dk_PKE || ek || H(ek) || z */
    pke_keygen(pk, sk + DK_PKE_OFF, d);
    ZHTP_CT_DECLASSIFY(pk, ZHTP_MLKEM768_PUBLICKEYBYTES);
    memcpy(sk + EK_OFF, pk, ZHTP_MLKEM768_PUBLICKEYBYTES);
    zhtp_sha3_256(sk + HEK_OFF, pk, ZHTP_MLKEM768_PUBLICKEYBYTES);
    memcpy(sk + Z_OFF, z, 32);
    return ZHTP_OK;
}

int zhtp_kem_mlkem768_keypair(uint8_t pk[ZHTP_MLKEM768_PUBLICKEYBYTES],
                              uint8_t sk[ZHTP_MLKEM768_SECRETKEYBYTES])
{
    uint8_t dz[64];
    randombytes_buf(dz, sizeof dz);
    int rc = zhtp_kem_mlkem768_keypair_from_seed(pk, sk, dz, dz + 32);
    zhtp_wipe(dz, sizeof dz);
    return rc;
}

int zhtp_kem_mlkem768_check_pk(const uint8_t pk[ZHTP_MLKEM768_PUBLICKEYBYTES])
{
    /* §7.2: ByteEncode12(ByteDecode12(ek)) == ek, i.e. no 12-bit value is >= q. */
    const mlkem_arith *ar = arith();
    mlkem_poly p;
    int16_t bad = 0;
    for (unsigned i = 0; i < MLKEM_K; i++) {
        ar->frombytes(&p, pk + i * MLKEM_POLYBYTES); /* values in [0, 4096) */
        for (unsigned j = 0; j < MLKEM_N; j++)
            bad |= (int16_t)(MLKEM_Q - 1 - p.c[j]); /* negative iff p.c[j] >= q */
    }
    return bad < 0 ? ZHTP_ERR_CRYPTO_BADKEY : ZHTP_OK;
}

int zhtp_kem_mlkem768_check_sk(const uint8_t sk[ZHTP_MLKEM768_SECRETKEYBYTES])
{
    /* §7.3: H(ek) stored in dk must match ek. Both are public parts of dk. */
    uint8_t h[32];
    ZHTP_CT_DECLASSIFY(sk + EK_OFF, ZHTP_MLKEM768_PUBLICKEYBYTES + 32);
    zhtp_sha3_256(h, sk + EK_OFF, ZHTP_MLKEM768_PUBLICKEYBYTES);
    return zhtp_ct_memcmp(h, sk + HEK_OFF, 32) == 0 ? ZHTP_OK : ZHTP_ERR_CRYPTO_BADKEY;
}

int zhtp_kem_mlkem768_encaps_from_seed(uint8_t ct[ZHTP_MLKEM768_CIPHERTEXTBYTES],
                                       uint8_t ss[ZHTP_MLKEM768_SSBYTES],
                                       const uint8_t pk[ZHTP_MLKEM768_PUBLICKEYBYTES],
                                       const uint8_t m[32])
{
    uint8_t mh[64], kr[64]; /* m || H(ek), then (K, r) = G(m || H(ek)) */
    mlkem_poly a_last;      /* public */

    if (zhtp_kem_mlkem768_check_pk(pk) != ZHTP_OK) {
        memset(ct, 0, ZHTP_MLKEM768_CIPHERTEXTBYTES);
        memset(ss, 0, ZHTP_MLKEM768_SSBYTES);
        return ZHTP_ERR_CRYPTO_BADKEY;
    }
    memcpy(mh, m, 32);
    start_hashes(mh + 32, NULL, &a_last, pk, NULL, NULL, arith());
    zhtp_sha3_512(kr, mh, sizeof mh);
    pke_encrypt(ct, pk, m, kr + 32, &a_last);
    ZHTP_CT_DECLASSIFY(ct, ZHTP_MLKEM768_CIPHERTEXTBYTES); /* sent in the clear */
    memcpy(ss, kr, 32);
    zhtp_wipe(mh, sizeof mh);
    zhtp_wipe(kr, sizeof kr);
    return ZHTP_OK;
}

int zhtp_kem_mlkem768_encaps(uint8_t ct[ZHTP_MLKEM768_CIPHERTEXTBYTES],
                             uint8_t ss[ZHTP_MLKEM768_SSBYTES],
                             const uint8_t pk[ZHTP_MLKEM768_PUBLICKEYBYTES])
{
    uint8_t m[32];
    randombytes_buf(m, sizeof m);
    int rc = zhtp_kem_mlkem768_encaps_from_seed(ct, ss, pk, m);
    zhtp_wipe(m, sizeof m);
    return rc;
}

int zhtp_kem_mlkem768_decaps(uint8_t ss[ZHTP_MLKEM768_SSBYTES],
                             const uint8_t ct[ZHTP_MLKEM768_CIPHERTEXTBYTES],
                             const uint8_t sk[ZHTP_MLKEM768_SECRETKEYBYTES])
{
    struct {
        uint8_t mh[64]; /* m' || h */
        uint8_t kr[64]; /* (K', r') = G(m' || h) */
        uint8_t kbar[32];
        uint8_t ct2[ZHTP_MLKEM768_CIPHERTEXTBYTES];
        uint8_t h[32]; /* H(ek), public */
    } sec;
    mlkem_poly a_last; /* public */

    /* §7.3 hash check, with K̄ = J(z || c) computed alongside; ek and H(ek) are public. */
    ZHTP_CT_DECLASSIFY(sk + EK_OFF, ZHTP_MLKEM768_PUBLICKEYBYTES + 32);
    start_hashes(sec.h, sec.kbar, &a_last, sk + EK_OFF, sk + Z_OFF, ct, arith());
    if (zhtp_ct_memcmp(sec.h, sk + HEK_OFF, 32) != 0) {
        memset(ss, 0, ZHTP_MLKEM768_SSBYTES);
        zhtp_wipe(&sec, sizeof sec);
        return ZHTP_ERR_CRYPTO_BADKEY;
    }
    /* Alg. 18 */
    pke_decrypt(sec.mh, sk + DK_PKE_OFF, ct);
    memcpy(sec.mh + 32, sk + HEK_OFF, 32);
    zhtp_sha3_512(sec.kr, sec.mh, sizeof sec.mh);
    pke_encrypt(sec.ct2, sk + EK_OFF, sec.mh, sec.kr + 32, &a_last);
    /* Untrusted c against the re-encryption, without a branch: K = mask ? K̄ : K'. */
    uint8_t mask = ct_differ_mask(ct, sec.ct2, ZHTP_MLKEM768_CIPHERTEXTBYTES);
    for (unsigned i = 0; i < 32; i++)
        ss[i] = (uint8_t)(sec.kr[i] ^ (mask & (sec.kr[i] ^ sec.kbar[i])));
    zhtp_wipe(&sec, sizeof sec);
    return ZHTP_OK;
}
