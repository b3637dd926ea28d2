/* BLAKE3 hash_many with AVX2 (built with -mavx2; called only after a CPU check in blake3.c):
 * 8 inputs side by side, vector i holding state word i of all eight, as in the SSE4.1
 * transposed form. Fewer than 8 remaining inputs go to the SSE4.1 path. */
#include <immintrin.h>

#include "blake3_impl.h"

#define LOADU(p)     _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define STOREU(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), (v))

static inline __m256i rotr16(__m256i x)
{
    /* Byte shuffles act within each 128-bit half, so the pattern is given twice. */
    return _mm256_shuffle_epi8(x, _mm256_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3,
                                                  2, 13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0,
                                                  3, 2));
}

static inline __m256i rotr12(__m256i x)
{
    return _mm256_or_si256(_mm256_srli_epi32(x, 12), _mm256_slli_epi32(x, 20));
}

static inline __m256i rotr8(__m256i x)
{
    return _mm256_shuffle_epi8(x, _mm256_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2,
                                                  1, 12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3,
                                                  2, 1));
}

static inline __m256i rotr7(__m256i x)
{
    return _mm256_or_si256(_mm256_srli_epi32(x, 7), _mm256_slli_epi32(x, 25));
}

static inline void g8(__m256i *a, __m256i *b, __m256i *c, __m256i *d, __m256i mx, __m256i my)
{
    *a = _mm256_add_epi32(_mm256_add_epi32(*a, *b), mx);
    *d = rotr16(_mm256_xor_si256(*d, *a));
    *c = _mm256_add_epi32(*c, *d);
    *b = rotr12(_mm256_xor_si256(*b, *c));
    *a = _mm256_add_epi32(_mm256_add_epi32(*a, *b), my);
    *d = rotr8(_mm256_xor_si256(*d, *a));
    *c = _mm256_add_epi32(*c, *d);
    *b = rotr7(_mm256_xor_si256(*b, *c));
}

static inline void round_x8(__m256i v[16], const __m256i m[16], int r)
{
    const uint8_t *s = B3_MSG_SCHEDULE[r];
    g8(&v[0], &v[4], &v[8], &v[12], m[s[0]], m[s[1]]);
    g8(&v[1], &v[5], &v[9], &v[13], m[s[2]], m[s[3]]);
    g8(&v[2], &v[6], &v[10], &v[14], m[s[4]], m[s[5]]);
    g8(&v[3], &v[7], &v[11], &v[15], m[s[6]], m[s[7]]);
    g8(&v[0], &v[5], &v[10], &v[15], m[s[8]], m[s[9]]);
    g8(&v[1], &v[6], &v[11], &v[12], m[s[10]], m[s[11]]);
    g8(&v[2], &v[7], &v[8], &v[13], m[s[12]], m[s[13]]);
    g8(&v[3], &v[4], &v[9], &v[14], m[s[14]], m[s[15]]);
}

/* 8x8 transpose of 32-bit words: row j becomes column j. Its own inverse. */
static inline void transpose8(__m256i x[8])
{
    __m256i t0 = _mm256_unpacklo_epi32(x[0], x[1]);
    __m256i t1 = _mm256_unpackhi_epi32(x[0], x[1]);
    __m256i t2 = _mm256_unpacklo_epi32(x[2], x[3]);
    __m256i t3 = _mm256_unpackhi_epi32(x[2], x[3]);
    __m256i t4 = _mm256_unpacklo_epi32(x[4], x[5]);
    __m256i t5 = _mm256_unpackhi_epi32(x[4], x[5]);
    __m256i t6 = _mm256_unpacklo_epi32(x[6], x[7]);
    __m256i t7 = _mm256_unpackhi_epi32(x[6], x[7]);
    /* Each 128-bit half now pairs rows; the 64-bit unpacks gather four rows per half. */
    __m256i u0 = _mm256_unpacklo_epi64(t0, t2);
    __m256i u1 = _mm256_unpackhi_epi64(t0, t2);
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3);
    __m256i u3 = _mm256_unpackhi_epi64(t1, t3);
    __m256i u4 = _mm256_unpacklo_epi64(t4, t6);
    __m256i u5 = _mm256_unpackhi_epi64(t4, t6);
    __m256i u6 = _mm256_unpacklo_epi64(t5, t7);
    __m256i u7 = _mm256_unpackhi_epi64(t5, t7);
    /* Low halves hold columns 0..3, high halves columns 4..7: join rows 0-3 with rows 4-7. */
    x[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
    x[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
    x[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
    x[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
    x[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
    x[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
    x[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
    x[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

static inline void load_msg_x8(__m256i m[16], const uint8_t *const *inputs, size_t off)
{
    for (int half = 0; half < 2; half++) {
        __m256i *x = m + 8 * half;
        for (int j = 0; j < 8; j++)
            x[j] = LOADU(inputs[j] + off + 32 * half);
        transpose8(x);
    }
}

static void hash8(const uint8_t *const *inputs, size_t blocks, const uint32_t key[8],
                  uint64_t counter, bool increment_counter, uint8_t flags, uint8_t flags_start,
                  uint8_t flags_end, uint8_t *out)
{
    __m256i h[8];
    for (int i = 0; i < 8; i++)
        h[i] = _mm256_set1_epi32((int)key[i]);
    uint32_t lo[8], hi[8];
    for (int j = 0; j < 8; j++) {
        uint64_t c = counter + (increment_counter ? (uint64_t)j : 0);
        lo[j] = (uint32_t)c;
        hi[j] = (uint32_t)(c >> 32);
    }
    const __m256i ctr_lo = LOADU(lo), ctr_hi = LOADU(hi);
    uint8_t block_flags = flags | flags_start;
    for (size_t b = 0; b < blocks; b++) {
        if (b + 1 == blocks)
            block_flags |= flags_end;
        __m256i m[16], v[16];
        load_msg_x8(m, inputs, 64 * b);
        for (int i = 0; i < 8; i++)
            v[i] = h[i];
        v[8] = _mm256_set1_epi32((int)B3_IV[0]);
        v[9] = _mm256_set1_epi32((int)B3_IV[1]);
        v[10] = _mm256_set1_epi32((int)B3_IV[2]);
        v[11] = _mm256_set1_epi32((int)B3_IV[3]);
        v[12] = ctr_lo;
        v[13] = ctr_hi;
        v[14] = _mm256_set1_epi32(ZHTP_BLAKE3_BLOCK_LEN);
        v[15] = _mm256_set1_epi32((int)block_flags);
        round_x8(v, m, 0);
        round_x8(v, m, 1);
        round_x8(v, m, 2);
        round_x8(v, m, 3);
        round_x8(v, m, 4);
        round_x8(v, m, 5);
        round_x8(v, m, 6);
        for (int i = 0; i < 8; i++)
            h[i] = _mm256_xor_si256(v[i], v[i + 8]);
        block_flags = flags;
    }
    /* After transposing, h[j] is input j's whole CV. */
    transpose8(h);
    for (int j = 0; j < 8; j++)
        STOREU(out + 32 * j, h[j]);
}

void zhtp_blake3_hash_many_avx2(const uint8_t *const *inputs, size_t num_inputs, size_t blocks,
                                const uint32_t key[8], uint64_t counter, bool increment_counter,
                                uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out)
{
    while (num_inputs >= 8) {
        hash8(inputs, blocks, key, counter, increment_counter, flags, flags_start, flags_end, out);
        if (increment_counter)
            counter += 8;
        inputs += 8;
        num_inputs -= 8;
        out += 8 * ZHTP_BLAKE3_OUT_LEN;
    }
    zhtp_blake3_hash_many_sse41(inputs, num_inputs, blocks, key, counter, increment_counter, flags,
                                flags_start, flags_end, out);
}
