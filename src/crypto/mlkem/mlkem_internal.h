/* ML-KEM-768 internals shared by the portable and AVX2 polynomial code. Not a public API.
 *
 * Representation: a polynomial is 256 int16 coefficients in the natural FIPS 203 order, in
 * both the normal and the NTT domain (the AVX2 code keeps that order too, so the backends
 * are interchangeable call by call and give identical bytes). Coefficients are kept as
 * signed representatives with a documented bound; only the encoders map them to [0, q).
 *
 * Montgomery convention: R = 2^16. The multiply-reduce fqmul(a, b) returns a*b/R mod q.
 * The NTT zetas are stored times R so the NTT stays in the normal domain; the base
 * multiplication leaves a factor 1/R that the inverse NTT (or tomont in KeyGen) cancels. */
#ifndef ZHTP_MLKEM_INTERNAL_H
#define ZHTP_MLKEM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define MLKEM_N            256
#define MLKEM_Q            3329
#define MLKEM_K            3
#define MLKEM_DU           10
#define MLKEM_DV           4
#define MLKEM_POLYBYTES    384 /* ByteEncode12 */
#define MLKEM_POLYVECBYTES (MLKEM_K * MLKEM_POLYBYTES)
#define MLKEM_C1BYTES      (MLKEM_K * 32 * MLKEM_DU) /* 960 */
#define MLKEM_C2BYTES      (32 * MLKEM_DV)           /* 128 */
#define MLKEM_ETA_BYTES    128                       /* 64 * eta, eta1 = eta2 = 2 */

typedef struct mlkem_poly {
    int16_t c[MLKEM_N];
} __attribute__((aligned(32))) mlkem_poly;

typedef struct mlkem_polyvec {
    mlkem_poly p[MLKEM_K];
} mlkem_polyvec;

/* The operations that have a SIMD form. Bounds are contracts every backend meets:
 *  ntt:         in |x| < q   -> out |x| < q (Barrett-reduced)
 *  invntt:      in |x| < q   -> out |x| < q, times R/128, which cancels basemul's 1/R
 *  basemul_acc: r = sum_i a_i o b_i / R with inputs 0 <= x < 4096 or |x| < q (dk_PKE is
 *               not range-checked, so its coefficients may reach 4095) -> out |x| < q */
typedef struct mlkem_arith {
    const char *name;
    void (*ntt)(mlkem_poly *p);
    void (*invntt)(mlkem_poly *p);
    void (*basemul_acc)(mlkem_poly *r, const mlkem_polyvec *a, const mlkem_polyvec *b);
    /* SampleNTT's rejection step on public bytes: appends accepted values to r from index
     * ctr until 256; returns the new count. */
    unsigned (*rej_uniform)(int16_t *r, unsigned ctr, const uint8_t *buf, size_t len);
    /* The hot codecs, same contracts as zhtp_mlkem_poly_compress_du / _decompress_du /
     * _frombytes below (any int16 input to compress; outputs equal the portable ones). */
    void (*compress_du)(uint8_t out[32 * MLKEM_DU], const mlkem_poly *p);
    void (*decompress_du)(mlkem_poly *p, const uint8_t in[32 * MLKEM_DU]);
    void (*frombytes)(mlkem_poly *p, const uint8_t in[MLKEM_POLYBYTES]);
    void (*cbd2)(mlkem_poly *p, const uint8_t buf[MLKEM_ETA_BYTES]);
    void (*compress_dv)(uint8_t out[32 * MLKEM_DV], const mlkem_poly *p);
    void (*tomsg)(uint8_t msg[32], const mlkem_poly *p);
    void (*tobytes)(uint8_t out[MLKEM_POLYBYTES], const mlkem_poly *p);
    void (*tomont)(mlkem_poly *p);
} mlkem_arith;

extern const mlkem_arith zhtp_mlkem_arith_portable;
/* The backend called name ("portable", "avx2"), or NULL when not built or not on this CPU. */
const mlkem_arith *zhtp_mlkem_arith_by_name(const char *name);
#if defined(ZHTP_MLKEM_HAVE_AVX2)
extern const mlkem_arith zhtp_mlkem_arith_avx2;
#endif

/* Montgomery form of the NTT twiddles (zeta_i = 17^BitRev7(i), i = 0..127) and of the
 * base-multiplication factors (gamma_i = 17^(2 BitRev7(i) + 1)), both times R mod q,
 * centered. */
extern const int16_t zhtp_mlkem_zetas[128];
extern const int16_t zhtp_mlkem_gammas[128];

/* Scalar helpers (portable, constant time), inline because the NTT calls them per butterfly. */
#define MLKEM_QINV      (-3327) /* q^-1 mod 2^16, as int16 */
#define MLKEM_BARRETT_V 20159   /* round(2^26 / q) */

/* For |a| < q * 2^15 returns a / R mod q in (-q, q). */
static inline int16_t zhtp_mlkem_montgomery_reduce(int32_t a)
{
    int16_t t = (int16_t)((int16_t)a * MLKEM_QINV);
    return (int16_t)((a - (int32_t)t * MLKEM_Q) >> 16);
}

static inline int16_t zhtp_mlkem_fqmul(int16_t a, int16_t b)
{
    return zhtp_mlkem_montgomery_reduce((int32_t)a * b);
}

/* Any int16 to its representative in [-(q-1)/2, (q-1)/2]. */
static inline int16_t zhtp_mlkem_barrett_reduce(int16_t a)
{
    int16_t t = (int16_t)(((int32_t)MLKEM_BARRETT_V * a + (1 << 25)) >> 26);
    return (int16_t)(a - t * MLKEM_Q);
}

void zhtp_mlkem_poly_reduce(mlkem_poly *p);
void zhtp_mlkem_poly_tomont(mlkem_poly *p);
void zhtp_mlkem_poly_add(mlkem_poly *r, const mlkem_poly *b);
void zhtp_mlkem_poly_sub(mlkem_poly *r, const mlkem_poly *b); /* r = r - b */

/* Encodings (FIPS 203 Alg. 5/6 and §4.2.1). Encoders canonicalise each coefficient first,
 * so any int16 representative is accepted. */
void zhtp_mlkem_poly_tobytes(uint8_t out[MLKEM_POLYBYTES], const mlkem_poly *p);
void zhtp_mlkem_poly_frombytes(mlkem_poly *p, const uint8_t in[MLKEM_POLYBYTES]);
void zhtp_mlkem_poly_compress_du(uint8_t out[32 * MLKEM_DU], const mlkem_poly *p);
void zhtp_mlkem_poly_decompress_du(mlkem_poly *p, const uint8_t in[32 * MLKEM_DU]);
void zhtp_mlkem_poly_compress_dv(uint8_t out[32 * MLKEM_DV], const mlkem_poly *p);
void zhtp_mlkem_poly_decompress_dv(mlkem_poly *p, const uint8_t in[32 * MLKEM_DV]);
void zhtp_mlkem_poly_frommsg(mlkem_poly *p, const uint8_t msg[32]);
void zhtp_mlkem_poly_tomsg(uint8_t msg[32], const mlkem_poly *p);
/* Compress_d(x) for canonical x in [0, q), without division; exported for the unit test. */
uint16_t zhtp_mlkem_compress(uint16_t x, unsigned d);

/* One sponge (SHA3 or SHAKE) for zhtp_mlkem_sponge_run: input is in[0] || in[1] (either may
 * be empty), rate in bytes, ds the domain byte (0x06 SHA3, 0x1f SHAKE), out_len bytes out. */
typedef struct mlkem_sponge_job {
    const uint8_t *in[2];
    size_t in_len[2];
    unsigned rate;
    uint8_t ds;
    uint8_t *out;
    size_t out_len;
} mlkem_sponge_job;

/* Runs up to four independent sponges, in the lanes of one four-way state when the x4
 * backend is SIMD, else one after another. Outputs equal those of separate sponges. */
void zhtp_mlkem_sponge_run(const mlkem_sponge_job *jobs, unsigned n);

/* SamplePolyCBD_2 (Alg. 8) on 128 PRF bytes. */
void zhtp_mlkem_poly_cbd2(mlkem_poly *p, const uint8_t buf[MLKEM_ETA_BYTES]);
/* Â (or its transpose) from the public seed rho, SampleNTT (Alg. 7) four entries at a time. */
/* last, when not NULL, is the corner entry Â[k-1][k-1] already sampled (its seed bytes are
 * the same in Â and its transpose), so only the other eight are generated. */
void zhtp_mlkem_gen_matrix(mlkem_polyvec a[MLKEM_K], const uint8_t rho[32], int transposed,
                           const mlkem_arith *ar, const mlkem_poly *last);
/* SampleNTT from XOF output buf (len a multiple of 168) of SHAKE128(seed); squeezes further
 * from a fresh sponge in the rare case that buf does not yield 256 values. */
void zhtp_mlkem_sample_ntt_finish(mlkem_poly *p, const uint8_t *buf, size_t len,
                                  const uint8_t seed[34], const mlkem_arith *ar);
unsigned zhtp_mlkem_rej_uniform_portable(int16_t *r, unsigned ctr, const uint8_t *buf, size_t len);

#endif
