/* ML-KEM polynomial arithmetic (portable backend) and the encodings, compression and
 * samplers shared by every backend. FIPS 203 §4.2-4.3. No branch or memory index here depends
 * on a coefficient, except in the matrix sampler, which only ever sees the public seed rho. */
#include <string.h>

#include "keccak.h"
#include "mlkem_internal.h"
#include "zhtp/util.h"

#define MONT_R2 1353 /* R^2 mod q: fqmul by it multiplies by R */
#define INV_F   1441 /* R^2 / 128 mod q: the last step of the inverse NTT */

const int16_t zhtp_mlkem_zetas[128] = {
    -1044, -758,  -359,  -1517, 1493,  1422,  287,   202,   -171,  622,   1577,  182,   962,
    -1202, -1474, 1468,  573,   -1325, 264,   383,   -829,  1458,  -1602, -130,  -681,  1017,
    732,   608,   -1542, 411,   -205,  -1571, 1223,  652,   -552,  1015,  -1293, 1491,  -282,
    -1544, 516,   -8,    -320,  -666,  -1618, -1162, 126,   1469,  -853,  -90,   -271,  830,
    107,   -1421, -247,  -951,  -398,  961,   -1508, -725,  448,   -1065, 677,   -1275, -1103,
    430,   555,   843,   -1251, 871,   1550,  105,   422,   587,   177,   -235,  -291,  -460,
    1574,  1653,  -246,  778,   1159,  -147,  -777,  1483,  -602,  1119,  -1590, 644,   -872,
    349,   418,   329,   -156,  -75,   817,   1097,  603,   610,   1322,  -1285, -1465, 384,
    -1215, -136,  1218,  -1335, -874,  220,   -1187, -1659, -1185, -1530, -1278, 794,   -1510,
    -854,  -870,  478,   -108,  -308,  996,   991,   958,   -1460, 1522,  1628,
};

/* gamma_{2i+1} = -gamma_{2i}: the two roots of each quadratic factor X^2 - gamma. */
const int16_t zhtp_mlkem_gammas[128] = {
    -1103, 1103,  430,   -430,  555,   -555,  843,  -843,  -1251, 1251,  871,   -871,  1550,
    -1550, 105,   -105,  422,   -422,  587,   -587, 177,   -177,  -235,  235,   -291,  291,
    -460,  460,   1574,  -1574, 1653,  -1653, -246, 246,   778,   -778,  1159,  -1159, -147,
    147,   -777,  777,   1483,  -1483, -602,  602,  1119,  -1119, -1590, 1590,  644,   -644,
    -872,  872,   349,   -349,  418,   -418,  329,  -329,  -156,  156,   -75,   75,    817,
    -817,  1097,  -1097, 603,   -603,  610,   -610, 1322,  -1322, -1285, 1285,  -1465, 1465,
    384,   -384,  -1215, 1215,  -136,  136,   1218, -1218, -1335, 1335,  -874,  874,   220,
    -220,  -1187, 1187,  -1659, 1659,  -1185, 1185, -1530, 1530,  -1278, 1278,  794,   -794,
    -1510, 1510,  -854,  854,   -870,  870,   478,  -478,  -108,  108,   -308,  308,   996,
    -996,  991,   -991,  958,   -958,  -1460, 1460, 1522,  -1522, 1628,  -1628,
};

/* Any int16 to [0, q) without a branch. */
static inline uint16_t canonical(int16_t a)
{
    a = zhtp_mlkem_barrett_reduce(a);
    a = (int16_t)(a + ((a >> 15) & MLKEM_Q));
    return (uint16_t)a;
}

/* ---- portable NTT backend (Alg. 9, 10, 11, 12) ---- */

static void ntt_portable(mlkem_poly *p)
{
    int16_t *f = p->c;
    unsigned k = 1;
    /* Each layer adds less than q to |x|: from |x| < q the output stays below 8q < 2^15. */
    for (unsigned len = 128; len >= 2; len >>= 1) {
        for (unsigned start = 0; start < MLKEM_N; start += 2 * len) {
            int16_t zeta = zhtp_mlkem_zetas[k++];
            for (unsigned j = start; j < start + len; j++) {
                int16_t t = zhtp_mlkem_fqmul(zeta, f[j + len]);
                f[j + len] = (int16_t)(f[j] - t);
                f[j] = (int16_t)(f[j] + t);
            }
        }
    }
    zhtp_mlkem_poly_reduce(p);
}

static void invntt_portable(mlkem_poly *p)
{
    int16_t *f = p->c;
    unsigned k = 127;
    for (unsigned len = 2; len <= 128; len <<= 1) {
        for (unsigned start = 0; start < MLKEM_N; start += 2 * len) {
            int16_t zeta = zhtp_mlkem_zetas[k--];
            for (unsigned j = start; j < start + len; j++) {
                int16_t t = f[j];
                f[j] = zhtp_mlkem_barrett_reduce((int16_t)(t + f[j + len]));
                f[j + len] = zhtp_mlkem_fqmul(zeta, (int16_t)(f[j + len] - t));
            }
        }
    }
    for (unsigned j = 0; j < MLKEM_N; j++)
        f[j] = zhtp_mlkem_fqmul(f[j], INV_F);
}

static void basemul_acc_portable(mlkem_poly *r, const mlkem_polyvec *a, const mlkem_polyvec *b)
{
    for (unsigned i = 0; i < MLKEM_N / 2; i++) {
        int16_t gamma = zhtp_mlkem_gammas[i];
        int32_t c0 = 0, c1 = 0;
        for (unsigned v = 0; v < MLKEM_K; v++) {
            int16_t a0 = a->p[v].c[2 * i], a1 = a->p[v].c[2 * i + 1];
            int16_t b0 = b->p[v].c[2 * i], b1 = b->p[v].c[2 * i + 1];
            /* Each term is below q in magnitude, so the sums stay far inside int32. */
            c0 += zhtp_mlkem_fqmul(zhtp_mlkem_fqmul(a1, b1), gamma);
            c0 += zhtp_mlkem_fqmul(a0, b0);
            c1 += zhtp_mlkem_fqmul(a0, b1);
            c1 += zhtp_mlkem_fqmul(a1, b0);
        }
        r->c[2 * i] = zhtp_mlkem_barrett_reduce((int16_t)c0);
        r->c[2 * i + 1] = zhtp_mlkem_barrett_reduce((int16_t)c1);
    }
}

const mlkem_arith zhtp_mlkem_arith_portable = {
    .name = "portable",
    .ntt = ntt_portable,
    .invntt = invntt_portable,
    .basemul_acc = basemul_acc_portable,
    .rej_uniform = zhtp_mlkem_rej_uniform_portable,
    .compress_du = zhtp_mlkem_poly_compress_du,
    .decompress_du = zhtp_mlkem_poly_decompress_du,
    .frombytes = zhtp_mlkem_poly_frombytes,
    .cbd2 = zhtp_mlkem_poly_cbd2,
    .compress_dv = zhtp_mlkem_poly_compress_dv,
    .tomsg = zhtp_mlkem_poly_tomsg,
    .tobytes = zhtp_mlkem_poly_tobytes,
    .tomont = zhtp_mlkem_poly_tomont,
};

/* ---- coefficient-wise helpers ---- */

void zhtp_mlkem_poly_reduce(mlkem_poly *p)
{
    for (unsigned i = 0; i < MLKEM_N; i++)
        p->c[i] = zhtp_mlkem_barrett_reduce(p->c[i]);
}

void zhtp_mlkem_poly_tomont(mlkem_poly *p)
{
    for (unsigned i = 0; i < MLKEM_N; i++)
        p->c[i] = zhtp_mlkem_fqmul(p->c[i], MONT_R2);
}

void zhtp_mlkem_poly_add(mlkem_poly *r, const mlkem_poly *b)
{
    for (unsigned i = 0; i < MLKEM_N; i++)
        r->c[i] = (int16_t)(r->c[i] + b->c[i]);
}

void zhtp_mlkem_poly_sub(mlkem_poly *r, const mlkem_poly *b)
{
    for (unsigned i = 0; i < MLKEM_N; i++)
        r->c[i] = (int16_t)(r->c[i] - b->c[i]);
}

/* ---- ByteEncode_d / ByteDecode_d (Alg. 5, 6): little-endian bit packing ---- */

/* round(2^d / q * x) mod 2^d = floor((x * 2^d + q/2) / q) mod 2^d. The quotient comes from a
 * multiplication by ceil(2^35 / q): for numerators below 2^23 the error is below 1/q, so the
 * floor is exact (the unit test checks every x and d). */
static inline uint16_t compress(uint16_t x, unsigned d)
{
    uint64_t n = ((uint64_t)x << d) + MLKEM_Q / 2;
    return (uint16_t)(((n * 10321340u) >> 35) & ((1u << d) - 1));
}

uint16_t zhtp_mlkem_compress(uint16_t x, unsigned d)
{
    return compress(x, d);
}

static inline int16_t decompress(uint16_t y, unsigned d)
{
    return (int16_t)(((uint32_t)y * MLKEM_Q + (1u << (d - 1))) >> d);
}

/* ByteEncode_d / ByteDecode_d (Alg. 5, 6), fused with the per-coefficient map. Groups of g
 * coefficients fill exactly g*d/8 bytes (d = 12, 10: 4; d = 4: 8), so each group passes
 * through one 64-bit word and no secret-holding array is left on the stack. Only d, a public
 * constant, steers the loops. */
enum coef_map { MAP_CANONICAL, MAP_COMPRESS };

static inline __attribute__((always_inline)) void encode(uint8_t *out, const mlkem_poly *p,
                                                         unsigned d, enum coef_map map)
{
    const unsigned g = d >= 10 ? 4 : 8, nbytes = g * d / 8;
    for (unsigned i = 0; i < MLKEM_N; i += g, out += nbytes) {
        uint64_t acc = 0;
        for (unsigned j = 0; j < g; j++) {
            uint16_t x = canonical(p->c[i + j]);
            if (map == MAP_COMPRESS)
                x = compress(x, d);
            acc |= (uint64_t)x << (d * j);
        }
        for (unsigned b = 0; b < nbytes; b++)
            out[b] = (uint8_t)(acc >> (8 * b));
    }
}

static inline __attribute__((always_inline)) void decode(mlkem_poly *p, const uint8_t *in,
                                                         unsigned d, int decompress_it)
{
    const unsigned g = d >= 10 ? 4 : 8, nbytes = g * d / 8;
    for (unsigned i = 0; i < MLKEM_N; i += g, in += nbytes) {
        uint64_t acc = 0;
        for (unsigned b = 0; b < nbytes; b++)
            acc |= (uint64_t)in[b] << (8 * b);
        for (unsigned j = 0; j < g; j++) {
            uint16_t y = (uint16_t)((acc >> (d * j)) & ((1u << d) - 1));
            p->c[i + j] = decompress_it ? decompress(y, d) : (int16_t)y;
        }
    }
}

void zhtp_mlkem_poly_tobytes(uint8_t out[MLKEM_POLYBYTES], const mlkem_poly *p)
{
    encode(out, p, 12, MAP_CANONICAL);
}

/* Values < 4096; ek is range-checked separately (§7.2), dk_PKE is not required to be. */
void zhtp_mlkem_poly_frombytes(mlkem_poly *p, const uint8_t in[MLKEM_POLYBYTES])
{
    decode(p, in, 12, 0);
}

static inline __attribute__((always_inline)) void compress_poly(uint8_t *out, const mlkem_poly *p,
                                                                unsigned d)
{
    encode(out, p, d, MAP_COMPRESS);
}

static inline __attribute__((always_inline)) void decompress_poly(mlkem_poly *p, const uint8_t *in,
                                                                  unsigned d)
{
    decode(p, in, d, 1);
}

void zhtp_mlkem_poly_compress_du(uint8_t out[32 * MLKEM_DU], const mlkem_poly *p)
{
    compress_poly(out, p, MLKEM_DU);
}

void zhtp_mlkem_poly_decompress_du(mlkem_poly *p, const uint8_t in[32 * MLKEM_DU])
{
    decompress_poly(p, in, MLKEM_DU);
}

void zhtp_mlkem_poly_compress_dv(uint8_t out[32 * MLKEM_DV], const mlkem_poly *p)
{
    compress_poly(out, p, MLKEM_DV);
}

void zhtp_mlkem_poly_decompress_dv(mlkem_poly *p, const uint8_t in[32 * MLKEM_DV])
{
    decompress_poly(p, in, MLKEM_DV);
}

/* Decompress_1(ByteDecode_1(m)): bit b becomes b * round(q/2) = b * 1665, by masking. */
void zhtp_mlkem_poly_frommsg(mlkem_poly *p, const uint8_t msg[32])
{
    for (unsigned i = 0; i < 32; i++)
        for (unsigned j = 0; j < 8; j++) {
            int16_t bit = (int16_t)((msg[i] >> j) & 1);
            p->c[8 * i + j] = (int16_t)(-bit & ((MLKEM_Q + 1) / 2));
        }
}

void zhtp_mlkem_poly_tomsg(uint8_t msg[32], const mlkem_poly *p)
{
    for (unsigned i = 0; i < 32; i++) {
        uint8_t byte = 0;
        for (unsigned j = 0; j < 8; j++)
            byte |= (uint8_t)(compress(canonical(p->c[8 * i + j]), 1) << j);
        msg[i] = byte;
    }
}

/* ---- samplers ---- */

static inline uint32_t load32_le(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Alg. 8 with eta = 2: coefficient i is (b[4i] + b[4i+1]) - (b[4i+2] + b[4i+3]) over the bit
 * string; adding the even and odd bits of a word forms all the 2-bit sums at once. */
void zhtp_mlkem_poly_cbd2(mlkem_poly *p, const uint8_t buf[MLKEM_ETA_BYTES])
{
    for (unsigned i = 0; i < MLKEM_ETA_BYTES / 4; i++) {
        uint32_t t = load32_le(buf + 4 * i);
        uint32_t d = (t & 0x55555555u) + ((t >> 1) & 0x55555555u);
        for (unsigned j = 0; j < 8; j++) {
            int16_t a = (int16_t)((d >> (4 * j)) & 3);
            int16_t b = (int16_t)((d >> (4 * j + 2)) & 3);
            p->c[8 * i + j] = (int16_t)(a - b);
        }
    }
}

/* Rejection step of SampleNTT (Alg. 7) on public XOF output; returns the new count. */
unsigned zhtp_mlkem_rej_uniform_portable(int16_t *r, unsigned ctr, const uint8_t *buf, size_t len)
{
    for (size_t pos = 0; ctr < MLKEM_N && pos + 3 <= len; pos += 3) {
        uint16_t d1 = (uint16_t)(buf[pos] | (buf[pos + 1] & 0x0f) << 8);
        uint16_t d2 = (uint16_t)(buf[pos + 1] >> 4 | buf[pos + 2] << 4);
        if (d1 < MLKEM_Q)
            r[ctr++] = (int16_t)d1;
        if (d2 < MLKEM_Q && ctr < MLKEM_N)
            r[ctr++] = (int16_t)d2;
    }
    return ctr;
}

/* 3 blocks of 168 bytes give 336 candidates; 256 of them pass with overwhelming
 * probability, and the loops below squeeze more only when needed. */
#define GEN_BLOCKS 3

void zhtp_mlkem_sample_ntt_finish(mlkem_poly *p, const uint8_t *buf, size_t len,
                                  const uint8_t seed[34], const mlkem_arith *ar)
{
    unsigned ctr = ar->rej_uniform(p->c, 0, buf, len);
    if (ctr < MLKEM_N) {
        /* Rare: re-run the XOF, skip the blocks already used, and continue. */
        uint8_t blk[ZHTP_SHAKE128_RATE];
        zhtp_keccak k;
        zhtp_shake128_init(&k);
        zhtp_keccak_absorb(&k, seed, 34);
        zhtp_shake_finalize(&k);
        for (size_t b = 0; b < len / ZHTP_SHAKE128_RATE; b++)
            zhtp_keccak_squeezeblocks(&k, blk, 1);
        while (ctr < MLKEM_N) {
            zhtp_keccak_squeezeblocks(&k, blk, 1);
            ctr = ar->rej_uniform(p->c, ctr, blk, sizeof blk);
        }
    }
}

void zhtp_mlkem_gen_matrix(mlkem_polyvec a[MLKEM_K], const uint8_t rho[32], int transposed,
                           const mlkem_arith *ar, const mlkem_poly *last)
{
    uint8_t seed[4][34];
    uint8_t buf[4][GEN_BLOCKS * ZHTP_SHAKE128_RATE];
    unsigned entry = 0;
    const unsigned total = last != NULL ? MLKEM_K * MLKEM_K - 1 : MLKEM_K * MLKEM_K;

    if (last != NULL)
        a[MLKEM_K - 1].p[MLKEM_K - 1] = *last;

    for (unsigned j = 0; j < 4; j++)
        memcpy(seed[j], rho, 32);
    while (entry < total) {
        unsigned lanes = total - entry < 4 ? total - entry : 4;
        int16_t *dst[4];
        unsigned ctr[4] = {0, 0, 0, 0};
        for (unsigned j = 0; j < 4; j++) {
            /* Idle lanes repeat the last entry; their output is discarded. */
            unsigned e = entry + (j < lanes ? j : lanes - 1);
            unsigned row = e / MLKEM_K, col = e % MLKEM_K;
            /* Â[row][col] = SampleNTT(rho || col || row); the transpose swaps the bytes. */
            seed[j][32] = (uint8_t)(transposed ? row : col);
            seed[j][33] = (uint8_t)(transposed ? col : row);
            dst[j] = a[row].p[col].c;
        }
        if (lanes == 1) {
            zhtp_keccak k;
            zhtp_shake128_init(&k);
            zhtp_keccak_absorb(&k, seed[0], 34);
            zhtp_shake_finalize(&k);
            zhtp_keccak_squeezeblocks(&k, buf[0], GEN_BLOCKS);
            ctr[0] = ar->rej_uniform(dst[0], 0, buf[0], sizeof buf[0]);
            while (ctr[0] < MLKEM_N) {
                zhtp_keccak_squeezeblocks(&k, buf[0], 1);
                ctr[0] = ar->rej_uniform(dst[0], ctr[0], buf[0], ZHTP_SHAKE128_RATE);
            }
        } else {
            zhtp_keccak_x4 k4;
            zhtp_keccak_x4_absorb_once(&k4, ZHTP_SHAKE128_RATE, seed[0], seed[1], seed[2], seed[3],
                                       34, 0x1f);
            zhtp_keccak_x4_squeezeblocks(&k4, buf[0], buf[1], buf[2], buf[3], GEN_BLOCKS);
            for (unsigned j = 0; j < lanes; j++)
                ctr[j] = ar->rej_uniform(dst[j], 0, buf[j], sizeof buf[j]);
            for (;;) {
                unsigned done = 1;
                for (unsigned j = 0; j < lanes; j++)
                    done &= ctr[j] >= MLKEM_N;
                if (done)
                    break;
                zhtp_keccak_x4_squeezeblocks(&k4, buf[0], buf[1], buf[2], buf[3], 1);
                for (unsigned j = 0; j < lanes; j++)
                    ctr[j] = ar->rej_uniform(dst[j], ctr[j], buf[j], ZHTP_SHAKE128_RATE);
            }
        }
        entry += lanes;
    }
}
