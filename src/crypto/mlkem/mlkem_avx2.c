/* AVX2 backend of the ML-KEM polynomial code: NTT, inverse NTT and the accumulated base
 * multiplication on 16 coefficients per vector, plus the hot codecs (Compress/ByteEncode,
 * ByteDecode/Decompress, CBD, SampleNTT rejection), all in the natural coefficient order.
 * Every arithmetic step is the portable step lane by lane (same Montgomery product, same
 * Barrett rounding, same butterfly order), so the outputs are bit-identical to the portable
 * backend, which the unit tests check (vectors, differential, every int16 for the codecs).
 * Montgomery product: a*b/R = mulhi(a, b) - mulhi(mullo(a, b*q^-1), q); the low halves cancel.
 * This file alone is compiled with -mavx2; mlkem.c selects it only on CPUs with AVX2. */
#include <immintrin.h>
#include <string.h>

#include "mlkem_avx2_tables.h"
#include "mlkem_internal.h"
#include "zhtp/util.h"

#define V(p, i) (((__m256i *)(p)->c)[i])

static inline __m256i montmul(__m256i a, __m256i b, __m256i bqinv, __m256i q)
{
    __m256i lo = _mm256_mullo_epi16(a, bqinv);
    __m256i hi = _mm256_mulhi_epi16(a, b);
    return _mm256_sub_epi16(hi, _mm256_mulhi_epi16(lo, q));
}

/* floor((a * v + 2^25) / 2^26) computed as floor((floor(a v / 2^16) + 2^9) / 2^10): equal. */
static inline __m256i barrett(__m256i a, __m256i q)
{
    const __m256i v = _mm256_set1_epi16(MLKEM_BARRETT_V);
    __m256i t = _mm256_mulhi_epi16(a, v);
    t = _mm256_srai_epi16(_mm256_add_epi16(t, _mm256_set1_epi16(1 << 9)), 10);
    return _mm256_sub_epi16(a, _mm256_mullo_epi16(t, q));
}

static inline __m256i load(const int16_t *p)
{
    return _mm256_load_si256((const __m256i *)p);
}

/* Partner lane (i xor len) for the butterflies inside one vector. */
static inline __m256i swap8(__m256i x)
{
    return _mm256_permute4x64_epi64(x, 0x4e);
}
static inline __m256i swap4(__m256i x)
{
    return _mm256_shuffle_epi32(x, 0x4e);
}
static inline __m256i swap2(__m256i x)
{
    return _mm256_shuffle_epi32(x, 0xb1);
}

/* All-ones in the lanes that hold f[j + len] (bit len of the index set). */
static inline __m256i upper_mask(unsigned len)
{
    __m256i idx = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m256i bit = _mm256_set1_epi16((int16_t)len);
    return _mm256_cmpeq_epi16(_mm256_and_si256(idx, bit), bit);
}

/* Cooley-Tukey butterflies with partner distance len < 16: every lane gets its pair's a and
 * b, lower lanes keep a + zeta b, upper lanes a - zeta b. */
static inline __m256i ct_inner(__m256i x, __m256i partner, __m256i up, __m256i zeta, __m256i zqinv,
                               __m256i sign, __m256i q)
{
    __m256i a = _mm256_blendv_epi8(x, partner, up);
    __m256i b = _mm256_blendv_epi8(partner, x, up);
    __m256i t = montmul(b, zeta, zqinv, q);
    return _mm256_add_epi16(a, _mm256_sign_epi16(t, sign));
}

static void ntt_avx2(mlkem_poly *p)
{
    const __m256i q = _mm256_set1_epi16(MLKEM_Q);
    unsigned k = 1;

    /* len = 128 .. 16: partners are whole vectors len/16 apart, one zeta per block */
    for (unsigned len = 128; len >= 16; len >>= 1) {
        unsigned step = len / 16;
        for (unsigned start = 0; start < 16; start += 2 * step) {
            int16_t z = zhtp_mlkem_zetas[k++];
            __m256i zeta = _mm256_set1_epi16(z);
            __m256i zq = _mm256_set1_epi16((int16_t)(z * MLKEM_QINV));
            for (unsigned j = start; j < start + step; j++) {
                __m256i t = montmul(V(p, j + step), zeta, zq, q);
                __m256i a = V(p, j);
                V(p, j + step) = _mm256_sub_epi16(a, t);
                V(p, j) = _mm256_add_epi16(a, t);
            }
        }
    }
    const __m256i up8 = upper_mask(8), up4 = upper_mask(4), up2 = upper_mask(2);
    const __m256i one = _mm256_set1_epi16(1);
    const __m256i s8 = _mm256_or_si256(up8, one), s4 = _mm256_or_si256(up4, one),
                  s2 = _mm256_or_si256(up2, one); /* +1 lower, -1 upper */
    for (unsigned v = 0; v < 16; v++) {
        __m256i x = V(p, v);
        x = ct_inner(x, swap8(x), up8, load(fwd_zeta_len8[v]), load(fwd_zetaqinv_len8[v]), s8, q);
        x = ct_inner(x, swap4(x), up4, load(fwd_zeta_len4[v]), load(fwd_zetaqinv_len4[v]), s4, q);
        x = ct_inner(x, swap2(x), up2, load(fwd_zeta_len2[v]), load(fwd_zetaqinv_len2[v]), s2, q);
        V(p, v) = barrett(x, q);
    }
}

/* Gentleman-Sande butterflies with partner distance len < 16: lower lanes get
 * Barrett(a + b), upper lanes zeta (b - a). */
static inline __m256i gs_inner(__m256i x, __m256i partner, __m256i up, __m256i zeta, __m256i zqinv,
                               __m256i q)
{
    __m256i a = _mm256_blendv_epi8(x, partner, up);
    __m256i b = _mm256_blendv_epi8(partner, x, up);
    __m256i sum = barrett(_mm256_add_epi16(a, b), q);
    __m256i diff = montmul(_mm256_sub_epi16(b, a), zeta, zqinv, q);
    return _mm256_blendv_epi8(sum, diff, up);
}

static void invntt_avx2(mlkem_poly *p)
{
    const __m256i q = _mm256_set1_epi16(MLKEM_Q);
    const __m256i up8 = upper_mask(8), up4 = upper_mask(4), up2 = upper_mask(2);

    for (unsigned v = 0; v < 16; v++) {
        __m256i x = V(p, v);
        x = gs_inner(x, swap2(x), up2, load(inv_zeta_len2[v]), load(inv_zetaqinv_len2[v]), q);
        x = gs_inner(x, swap4(x), up4, load(inv_zeta_len4[v]), load(inv_zetaqinv_len4[v]), q);
        x = gs_inner(x, swap8(x), up8, load(inv_zeta_len8[v]), load(inv_zetaqinv_len8[v]), q);
        V(p, v) = x;
    }
    unsigned k = 15;
    for (unsigned len = 16; len <= 128; len <<= 1) {
        unsigned step = len / 16;
        for (unsigned start = 0; start < 16; start += 2 * step) {
            int16_t z = zhtp_mlkem_zetas[k--];
            __m256i zeta = _mm256_set1_epi16(z);
            __m256i zq = _mm256_set1_epi16((int16_t)(z * MLKEM_QINV));
            for (unsigned j = start; j < start + step; j++) {
                __m256i t = V(p, j), u = V(p, j + step);
                V(p, j) = barrett(_mm256_add_epi16(t, u), q);
                V(p, j + step) = montmul(_mm256_sub_epi16(u, t), zeta, zq, q);
            }
        }
    }
    const __m256i f = _mm256_set1_epi16(1441); /* R^2 / 128 mod q */
    const __m256i fq = _mm256_set1_epi16((int16_t)(1441 * MLKEM_QINV));
    for (unsigned v = 0; v < 16; v++)
        V(p, v) = montmul(V(p, v), f, fq, q);
}

/* Per coefficient pair (a0, a1), (b0, b1) and root gamma: c0 = a0 b0 + (a1 b1) gamma,
 * c1 = a0 b1 + a1 b0, every product a Montgomery product as in the portable code. The sums of
 * the K terms stay below 6q < 2^15, so int16 accumulation is exact. */
static void basemul_acc_avx2(mlkem_poly *r, const mlkem_polyvec *a, const mlkem_polyvec *b)
{
    const __m256i q = _mm256_set1_epi16(MLKEM_Q);
    const __m256i qinv = _mm256_set1_epi16(MLKEM_QINV);
    const __m256i swap_pairs =
        _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4,
                         5, 10, 11, 8, 9, 14, 15, 12, 13);
    for (unsigned v = 0; v < 16; v++) {
        __m256i acc = _mm256_setzero_si256();
        const __m256i g = load(gamma[v]), gq = load(gammaqinv[v]);
        for (unsigned i = 0; i < MLKEM_K; i++) {
            __m256i x = V(&a->p[i], v), y = V(&b->p[i], v);
            __m256i ys = _mm256_shuffle_epi8(y, swap_pairs);
            __m256i prod = montmul(x, y, _mm256_mullo_epi16(y, qinv), q);    /* a0b0, a1b1 */
            __m256i cross = montmul(x, ys, _mm256_mullo_epi16(ys, qinv), q); /* a0b1, a1b0 */
            __m256i pg = montmul(prod, g, gq, q);                            /* -, a1b1 gamma */
            __m256i t1 = _mm256_blend_epi16(prod, cross, 0xaa);              /* a0b0, a1b0 */
            __m256i t2 = _mm256_shuffle_epi8(_mm256_blend_epi16(cross, pg, 0xaa), swap_pairs);
            acc = _mm256_add_epi16(acc, _mm256_add_epi16(t1, t2)); /* a1b1 gamma, a0b1 */
        }
        V(r, v) = barrett(acc, q);
    }
}

/* SampleNTT's rejection step (Alg. 7) on public XOF bytes, 16 candidates per 24 bytes: each
 * 128-bit half takes 12 bytes, pshufb puts the byte pairs of every 12-bit value in a 16-bit
 * lane, even lanes keep the low 12 bits and odd lanes shift right by 4, values < q are
 * compared in, and rej_pack moves the accepted lanes to the front. Values land in the same
 * order as in the portable loop, which finishes the tail. */
static unsigned rej_uniform_avx2(int16_t *r, unsigned ctr, const uint8_t *buf, size_t len)
{
    const __m256i q = _mm256_set1_epi16(MLKEM_Q);
    const __m256i mask12 = _mm256_set1_epi16(0x0fff);
    const __m256i spread = _mm256_setr_epi8(0, 1, 1, 2, 3, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11, 4, 5,
                                            5, 6, 7, 8, 8, 9, 10, 11, 11, 12, 13, 14, 14, 15);
    size_t pos = 0;

    while (ctr + 16 <= MLKEM_N && pos + 32 <= len) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(buf + pos));
        x = _mm256_permute4x64_epi64(x, 0x94); /* qwords 0 1 | 1 2: bytes 0-15 | 8-23 */
        x = _mm256_shuffle_epi8(x, spread);
        __m256i v = _mm256_blend_epi16(_mm256_and_si256(x, mask12), _mm256_srli_epi16(x, 4), 0xaa);
        __m256i good = _mm256_cmpgt_epi16(q, v);
        unsigned m = (unsigned)_mm256_movemask_epi8(_mm256_packs_epi16(good, good));
        unsigned m0 = m & 0xff, m1 = (m >> 16) & 0xff;
        __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
        lo = _mm_shuffle_epi8(lo, _mm_load_si128((const __m128i *)rej_pack[m0]));
        _mm_storeu_si128((__m128i *)(r + ctr), lo);
        ctr += (unsigned)__builtin_popcount(m0);
        hi = _mm_shuffle_epi8(hi, _mm_load_si128((const __m128i *)rej_pack[m1]));
        _mm_storeu_si128((__m128i *)(r + ctr), hi);
        ctr += (unsigned)__builtin_popcount(m1);
        pos += 24;
    }
    return zhtp_mlkem_rej_uniform_portable(r, ctr, buf + pos, len - pos);
}

/* Any int16 to [0, q): Barrett, then add q to the negative lanes. */
static inline __m256i canonical(__m256i x, __m256i q)
{
    x = barrett(x, q);
    return _mm256_add_epi16(x, _mm256_and_si256(_mm256_srai_epi16(x, 15), q));
}

/* Compress_10 on canonical x: floor((1024 x + 1664) / q) mod 1024, computed as
 * (161271 x + 262016) >> 19 in 32-bit lanes, which equals it for every x in [0, q) (the unit
 * test compares all int16 inputs with the portable code). Then ByteEncode_10: pairs become
 * 20-bit words (madd), pairs of those 40-bit words, and a byte shuffle keeps 5 bytes of each
 * 64-bit lane, 10 per 128-bit half. The stores overlap forward into a padded buffer. */
static void compress_du_avx2(uint8_t out[32 * MLKEM_DU], const mlkem_poly *p)
{
    const __m256i q = _mm256_set1_epi16(MLKEM_Q);
    const __m256i mul = _mm256_set1_epi32(161271), add = _mm256_set1_epi32(262016);
    const __m256i mask10 = _mm256_set1_epi32(1023);
    const __m256i pair = _mm256_set1_epi32(1 << 26 | 1); /* lanes (1, 1024) as int16 pairs */
    const __m256i sh = _mm256_setr_epi32(12, 0, 12, 0, 12, 0, 12, 0);
    const __m256i take5 = _mm256_setr_epi8(0, 1, 2, 3, 4, 8, 9, 10, 11, 12, -1, -1, -1, -1, -1, -1,
                                           0, 1, 2, 3, 4, 8, 9, 10, 11, 12, -1, -1, -1, -1, -1, -1);
    uint8_t tail[32];

    for (unsigned v = 0; v < 16; v++) {
        __m256i x = canonical(V(p, v), q);
        __m256i lo = _mm256_cvtepu16_epi32(_mm256_castsi256_si128(x));
        __m256i hi = _mm256_cvtepu16_epi32(_mm256_extracti128_si256(x, 1));
        lo = _mm256_and_si256(
            _mm256_srli_epi32(_mm256_add_epi32(_mm256_mullo_epi32(lo, mul), add), 19), mask10);
        hi = _mm256_and_si256(
            _mm256_srli_epi32(_mm256_add_epi32(_mm256_mullo_epi32(hi, mul), add), 19), mask10);
        x = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xd8); /* back in order */
        x = _mm256_madd_epi16(x, pair);                                  /* v0 + v1 << 10 */
        x = _mm256_srli_epi64(_mm256_sllv_epi32(x, sh), 12);             /* w0 + w1 << 20 */
        x = _mm256_shuffle_epi8(x, take5);
        /* 20 bytes from two overlapping 16-byte stores; the last group goes through tail so
         * nothing is written past out[319]. */
        uint8_t *dst = v < 15 ? out + 20 * v : tail;
        _mm_storeu_si128((__m128i *)dst, _mm256_castsi256_si128(x));
        _mm_storeu_si128((__m128i *)(dst + 10), _mm256_extracti128_si256(x, 1));
    }
    memcpy(out + 20 * 15, tail, 20);
    zhtp_wipe(tail, sizeof tail); /* the re-encryption in Decaps is secret until compared */
}

/* ByteDecode_10 then Decompress_10: each 16-bit lane gathers the two bytes holding its
 * value, a multiply by 2^(6 - r) and a shift by 6 drop the r low bits and the bits above,
 * and (y * q + 512) >> 10 is mulhrs(4 y, 8 q) exactly. Input is copied to a padded buffer so
 * the 16-byte loads stay inside it. */
static void decompress_du_avx2(mlkem_poly *p, const uint8_t in[32 * MLKEM_DU])
{
    const __m256i gather = _mm256_setr_epi8(0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 6, 7, 7, 8, 8, 9, 0, 1, 1,
                                            2, 2, 3, 3, 4, 5, 6, 6, 7, 7, 8, 8, 9);
    const __m256i align = _mm256_setr_epi16(64, 16, 4, 1, 64, 16, 4, 1, 64, 16, 4, 1, 64, 16, 4, 1);
    const __m256i q8 = _mm256_set1_epi16(8 * MLKEM_Q);
    uint8_t tail[32] = {0}; /* the last group, so no load reads past in[319]; c is public */

    memcpy(tail, in + 20 * 15, 20);
    for (unsigned v = 0; v < 16; v++) {
        const uint8_t *src = v < 15 ? in + 20 * v : tail;
        __m128i lo = _mm_loadu_si128((const __m128i *)src);
        __m128i hi = _mm_loadu_si128((const __m128i *)(src + 10));
        __m256i x = _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo), gather);
        x = _mm256_srli_epi16(_mm256_mullo_epi16(x, align), 6);
        V(p, v) = _mm256_mulhrs_epi16(_mm256_slli_epi16(x, 2), q8);
    }
}

/* ByteDecode_12, the same way: 12 bytes per 128-bit half, shifts r = 0, 4. */
static void frombytes_avx2(mlkem_poly *p, const uint8_t in[MLKEM_POLYBYTES])
{
    const __m256i gather = _mm256_setr_epi8(0, 1, 1, 2, 3, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11, 0, 1,
                                            1, 2, 3, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11);
    const __m256i align = _mm256_setr_epi16(16, 1, 16, 1, 16, 1, 16, 1, 16, 1, 16, 1, 16, 1, 16, 1);
    uint8_t tail[32] = {0}; /* the last group, so no load reads past in[383] */

    memcpy(tail, in + 24 * 15, 24);
    for (unsigned v = 0; v < 16; v++) {
        const uint8_t *src = v < 15 ? in + 24 * v : tail;
        __m128i lo = _mm_loadu_si128((const __m128i *)src);
        __m128i hi = _mm_loadu_si128((const __m128i *)(src + 12));
        __m256i x = _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo), gather);
        V(p, v) = _mm256_srli_epi16(_mm256_mullo_epi16(x, align), 4);
    }
    zhtp_wipe(tail, sizeof tail); /* dk_PKE is secret */
}

/* SamplePolyCBD_2 on 16 bytes (32 coefficients) at a time: adding the even and odd bits
 * gives every 2-bit sum, each nibble then holds (x, y) of one coefficient, and x - y per
 * nibble is interleaved back into coefficient order and sign-extended. */
static void cbd2_avx2(mlkem_poly *p, const uint8_t buf[MLKEM_ETA_BYTES])
{
    const __m128i m55 = _mm_set1_epi8(0x55), m03 = _mm_set1_epi8(0x03);
    for (unsigned i = 0; i < MLKEM_ETA_BYTES / 16; i++) {
        __m128i t = _mm_loadu_si128((const __m128i *)(buf + 16 * i));
        __m128i d = _mm_add_epi8(_mm_and_si128(t, m55), _mm_and_si128(_mm_srli_epi16(t, 1), m55));
        __m128i lo = _mm_sub_epi8(_mm_and_si128(d, m03), _mm_and_si128(_mm_srli_epi16(d, 2), m03));
        __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(d, 4), m03),
                                  _mm_and_si128(_mm_srli_epi16(d, 6), m03));
        V(p, 2 * i) = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(lo, hi));
        V(p, 2 * i + 1) = _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(lo, hi));
    }
}

/* Compress_4 on canonical x is ((x * 630 >> 16) + 1) >> 1 for every x in [0, q) (checked
 * against the portable code on all int16 inputs); then two nibbles per byte. */
static void compress_dv_avx2(uint8_t out[32 * MLKEM_DV], const mlkem_poly *p)
{
    const __m256i q = _mm256_set1_epi16(MLKEM_Q), m = _mm256_set1_epi16(630);
    const __m256i one = _mm256_set1_epi16(1), nib = _mm256_set1_epi16(15);
    const __m256i pair = _mm256_set1_epi16(16 << 8 | 1); /* bytes (1, 16) */
    for (unsigned v = 0; v < 16; v += 2) {
        __m256i a = canonical(V(p, v), q), b = canonical(V(p, v + 1), q);
        a = _mm256_and_si256(_mm256_srli_epi16(_mm256_add_epi16(_mm256_mulhi_epu16(a, m), one), 1),
                             nib);
        b = _mm256_and_si256(_mm256_srli_epi16(_mm256_add_epi16(_mm256_mulhi_epu16(b, m), one), 1),
                             nib);
        /* 32 nibbles as bytes in order, then pairs (lo + 16 hi) into 16 bytes */
        __m256i x = _mm256_permute4x64_epi64(_mm256_packus_epi16(a, b), 0xd8);
        x = _mm256_maddubs_epi16(x, pair);
        x = _mm256_permute4x64_epi64(_mm256_packus_epi16(x, x), 0xd8);
        _mm_storeu_si128((__m128i *)(out + 8 * v), _mm256_castsi256_si128(x));
    }
}

/* Compress_1 on canonical x is 1 exactly for 833 <= x <= 2496: two compares per lane and a
 * byte movemask give 32 message bits at once. */
static void tomsg_avx2(uint8_t msg[32], const mlkem_poly *p)
{
    const __m256i q = _mm256_set1_epi16(MLKEM_Q);
    const __m256i lo = _mm256_set1_epi16(832), hi = _mm256_set1_epi16(2497);
    for (unsigned v = 0; v < 16; v += 2) {
        __m256i a = canonical(V(p, v), q), b = canonical(V(p, v + 1), q);
        a = _mm256_and_si256(_mm256_cmpgt_epi16(a, lo), _mm256_cmpgt_epi16(hi, a));
        b = _mm256_and_si256(_mm256_cmpgt_epi16(b, lo), _mm256_cmpgt_epi16(hi, b));
        __m256i x = _mm256_permute4x64_epi64(_mm256_packs_epi16(a, b), 0xd8);
        uint32_t bits = (uint32_t)_mm256_movemask_epi8(x);
        for (unsigned i = 0; i < 4; i++)
            msg[2 * v + i] = (uint8_t)(bits >> (8 * i));
    }
}

/* ByteEncode_12 of the canonical coefficients: pairs become 24-bit words (madd by 1 and
 * 4096), and a byte shuffle keeps 3 bytes of each 32-bit lane, 12 per 128-bit half. The
 * stores overlap forward; the last group goes through tail. */
static void tobytes_avx2(uint8_t out[MLKEM_POLYBYTES], const mlkem_poly *p)
{
    const __m256i q = _mm256_set1_epi16(MLKEM_Q);
    const __m256i pair = _mm256_set1_epi32(4096 << 16 | 1);
    const __m256i take3 = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                           0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    uint8_t tail[32];
    for (unsigned v = 0; v < 16; v++) {
        __m256i x = _mm256_madd_epi16(canonical(V(p, v), q), pair);
        x = _mm256_shuffle_epi8(x, take3);
        uint8_t *dst = v < 15 ? out + 24 * v : tail;
        _mm_storeu_si128((__m128i *)dst, _mm256_castsi256_si128(x));
        _mm_storeu_si128((__m128i *)(dst + 12), _mm256_extracti128_si256(x, 1));
    }
    memcpy(out + 24 * 15, tail, 24);
    zhtp_wipe(tail, sizeof tail); /* dk_PKE is secret */
}

/* Multiplies by R: a Montgomery product with R^2 mod q. */
static void tomont_avx2(mlkem_poly *p)
{
    const __m256i q = _mm256_set1_epi16(MLKEM_Q);
    const __m256i r2 = _mm256_set1_epi16(1353),
                  r2q = _mm256_set1_epi16((int16_t)(1353 * MLKEM_QINV));
    for (unsigned v = 0; v < 16; v++)
        V(p, v) = montmul(V(p, v), r2, r2q, q);
}

const mlkem_arith zhtp_mlkem_arith_avx2 = {
    .name = "avx2",
    .ntt = ntt_avx2,
    .invntt = invntt_avx2,
    .basemul_acc = basemul_acc_avx2,
    .rej_uniform = rej_uniform_avx2,
    .compress_du = compress_du_avx2,
    .decompress_du = decompress_du_avx2,
    .frombytes = frombytes_avx2,
    .cbd2 = cbd2_avx2,
    .compress_dv = compress_dv_avx2,
    .tomsg = tomsg_avx2,
    .tobytes = tobytes_avx2,
    .tomont = tomont_avx2,
};
