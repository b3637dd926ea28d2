/* BLAKE3 with SSE4.1 (built with -msse4.1; called only after a CPU check in blake3.c).
 *
 * Two shapes. Single-block compression keeps the 4x4 state as four row vectors and turns
 * columns into diagonals with lane rotations. hash_many runs 4 inputs side by side: vector i
 * holds state word i of all four inputs ("transposed"), so each G step is one instruction
 * for all four, and message words are transposed in on load and CVs transposed out. */
#include <immintrin.h>

#include "blake3_impl.h"

#define ADD(a, b) _mm_add_epi32((a), (b))
#define XOR(a, b) _mm_xor_si128((a), (b))

#define LOADU(p)     _mm_loadu_si128((const __m128i *)(const void *)(p))
#define STOREU(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))

B3_INLINE __m128i rotr16(__m128i x)
{
    return _mm_shuffle_epi8(x, _mm_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2));
}

B3_INLINE __m128i rotr12(__m128i x)
{
    return _mm_or_si128(_mm_srli_epi32(x, 12), _mm_slli_epi32(x, 20));
}

B3_INLINE __m128i rotr8(__m128i x)
{
    return _mm_shuffle_epi8(x, _mm_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1));
}

B3_INLINE __m128i rotr7(__m128i x)
{
    return _mm_or_si128(_mm_srli_epi32(x, 7), _mm_slli_epi32(x, 25));
}

/* G on four (a, b, c, d) groups at once, spec §2.2. */
B3_INLINE void g4(__m128i *a, __m128i *b, __m128i *c, __m128i *d, __m128i mx, __m128i my)
{
    *a = _mm_add_epi32(_mm_add_epi32(*a, *b), mx);
    *d = rotr16(_mm_xor_si128(*d, *a));
    *c = _mm_add_epi32(*c, *d);
    *b = rotr12(_mm_xor_si128(*b, *c));
    *a = _mm_add_epi32(_mm_add_epi32(*a, *b), my);
    *d = rotr8(_mm_xor_si128(*d, *a));
    *c = _mm_add_epi32(*c, *d);
    *b = rotr7(_mm_xor_si128(*b, *c));
}

/* ---- one block, row form ---- */

B3_INLINE void compress_rows(__m128i rows[4], const uint32_t cv[8], const uint8_t block[64],
                             uint8_t block_len, uint64_t counter, uint8_t flags)
{
    uint32_t m[16];
    memcpy(m, block, sizeof m); /* x86 is little-endian: bytes are already words */
    __m128i r0 = LOADU(cv), r1 = LOADU(cv + 4);
    __m128i r2 = _mm_setr_epi32((int)B3_IV[0], (int)B3_IV[1], (int)B3_IV[2], (int)B3_IV[3]);
    __m128i r3 = _mm_setr_epi32((int)(uint32_t)counter, (int)(uint32_t)(counter >> 32),
                                (int)block_len, (int)flags);
    for (int r = 0; r < 7; r++) {
        const uint8_t *s = B3_MSG_SCHEDULE[r];
        __m128i mx = _mm_setr_epi32((int)m[s[0]], (int)m[s[2]], (int)m[s[4]], (int)m[s[6]]);
        __m128i my = _mm_setr_epi32((int)m[s[1]], (int)m[s[3]], (int)m[s[5]], (int)m[s[7]]);
        g4(&r0, &r1, &r2, &r3, mx, my);
        /* Diagonals: rotate rows 1..3 left by 1..3 lanes so they line up under row 0. */
        r1 = _mm_shuffle_epi32(r1, _MM_SHUFFLE(0, 3, 2, 1));
        r2 = _mm_shuffle_epi32(r2, _MM_SHUFFLE(1, 0, 3, 2));
        r3 = _mm_shuffle_epi32(r3, _MM_SHUFFLE(2, 1, 0, 3));
        mx = _mm_setr_epi32((int)m[s[8]], (int)m[s[10]], (int)m[s[12]], (int)m[s[14]]);
        my = _mm_setr_epi32((int)m[s[9]], (int)m[s[11]], (int)m[s[13]], (int)m[s[15]]);
        g4(&r0, &r1, &r2, &r3, mx, my);
        r1 = _mm_shuffle_epi32(r1, _MM_SHUFFLE(2, 1, 0, 3));
        r2 = _mm_shuffle_epi32(r2, _MM_SHUFFLE(1, 0, 3, 2));
        r3 = _mm_shuffle_epi32(r3, _MM_SHUFFLE(0, 3, 2, 1));
    }
    rows[0] = r0;
    rows[1] = r1;
    rows[2] = r2;
    rows[3] = r3;
}

void zhtp_blake3_compress_in_place_sse41(uint32_t cv[8], const uint8_t block[64], uint8_t block_len,
                                         uint64_t counter, uint8_t flags)
{
    __m128i rows[4];
    compress_rows(rows, cv, block, block_len, counter, flags);
    STOREU(cv, _mm_xor_si128(rows[0], rows[2]));
    STOREU(cv + 4, _mm_xor_si128(rows[1], rows[3]));
}

void zhtp_blake3_compress_xof_sse41(const uint32_t cv[8], const uint8_t block[64],
                                    uint8_t block_len, uint64_t counter, uint8_t flags,
                                    uint8_t out[64])
{
    __m128i rows[4];
    compress_rows(rows, cv, block, block_len, counter, flags);
    STOREU(out, _mm_xor_si128(rows[0], rows[2]));
    STOREU(out + 16, _mm_xor_si128(rows[1], rows[3]));
    STOREU(out + 32, _mm_xor_si128(rows[2], LOADU(cv)));
    STOREU(out + 48, _mm_xor_si128(rows[3], LOADU(cv + 4)));
}

/* ---- four inputs, transposed form ---- */

/* Half of G (spec §2.2) on four column or diagonal groups at once, step by step across the
 * groups: GCC does not reorder instructions much on x86, and this order gives the CPU four
 * independent chains at every step instead of one long chain per group. */
#define G_HALF(v, a0, b0, c0, d0, a1, b1, c1, d1, a2, b2, c2, d2, a3, b3, c3, d3, m0, m1, m2, m3,  \
               ROT_D, ROT_B)                                                                       \
    do {                                                                                           \
        v[a0] = ADD(ADD(v[a0], m0), v[b0]);                                                        \
        v[a1] = ADD(ADD(v[a1], m1), v[b1]);                                                        \
        v[a2] = ADD(ADD(v[a2], m2), v[b2]);                                                        \
        v[a3] = ADD(ADD(v[a3], m3), v[b3]);                                                        \
        v[d0] = ROT_D(XOR(v[d0], v[a0]));                                                          \
        v[d1] = ROT_D(XOR(v[d1], v[a1]));                                                          \
        v[d2] = ROT_D(XOR(v[d2], v[a2]));                                                          \
        v[d3] = ROT_D(XOR(v[d3], v[a3]));                                                          \
        v[c0] = ADD(v[c0], v[d0]);                                                                 \
        v[c1] = ADD(v[c1], v[d1]);                                                                 \
        v[c2] = ADD(v[c2], v[d2]);                                                                 \
        v[c3] = ADD(v[c3], v[d3]);                                                                 \
        v[b0] = ROT_B(XOR(v[b0], v[c0]));                                                          \
        v[b1] = ROT_B(XOR(v[b1], v[c1]));                                                          \
        v[b2] = ROT_B(XOR(v[b2], v[c2]));                                                          \
        v[b3] = ROT_B(XOR(v[b3], v[c3]));                                                          \
    } while (0)

B3_INLINE void round_x4(__m128i v[16], const __m128i m[16], int r)
{
    const uint8_t *s = B3_MSG_SCHEDULE[r];
    /* Columns (0,4,8,12) .. (3,7,11,15), then diagonals (0,5,10,15) .. (3,4,9,14). */
    G_HALF(v, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, m[s[0]], m[s[2]], m[s[4]],
           m[s[6]], rotr16, rotr12);
    G_HALF(v, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, m[s[1]], m[s[3]], m[s[5]],
           m[s[7]], rotr8, rotr7);
    G_HALF(v, 0, 5, 10, 15, 1, 6, 11, 12, 2, 7, 8, 13, 3, 4, 9, 14, m[s[8]], m[s[10]], m[s[12]],
           m[s[14]], rotr16, rotr12);
    G_HALF(v, 0, 5, 10, 15, 1, 6, 11, 12, 2, 7, 8, 13, 3, 4, 9, 14, m[s[9]], m[s[11]], m[s[13]],
           m[s[15]], rotr8, rotr7);
}

/* 4x4 transpose of 32-bit words: row j becomes column j. Its own inverse. */
B3_INLINE void transpose4(__m128i x[4])
{
    __m128i t0 = _mm_unpacklo_epi32(x[0], x[1]);
    __m128i t1 = _mm_unpackhi_epi32(x[0], x[1]);
    __m128i t2 = _mm_unpacklo_epi32(x[2], x[3]);
    __m128i t3 = _mm_unpackhi_epi32(x[2], x[3]);
    x[0] = _mm_unpacklo_epi64(t0, t2);
    x[1] = _mm_unpackhi_epi64(t0, t2);
    x[2] = _mm_unpacklo_epi64(t1, t3);
    x[3] = _mm_unpackhi_epi64(t1, t3);
}

B3_INLINE void load_msg_x4(__m128i m[16], const uint8_t *const *inputs, size_t off,
                           size_t next_group)
{
    /* Fetch the same spot of the next group of inputs ahead of time: see blake3_avx2.c. */
    for (int j = 0; j < 4; j++)
        _mm_prefetch((const char *)((uintptr_t)inputs[j] + off + next_group), _MM_HINT_T0);
    for (int q = 0; q < 4; q++) {
        __m128i *x = m + 4 * q;
        for (int j = 0; j < 4; j++)
            x[j] = LOADU(inputs[j] + off + 16 * q);
        transpose4(x);
    }
}

static void hash4(const uint8_t *const *inputs, size_t blocks, const uint32_t key[8],
                  uint64_t counter, bool increment_counter, uint8_t flags, uint8_t flags_start,
                  uint8_t flags_end, uint8_t *out)
{
    __m128i h[8];
    for (int i = 0; i < 8; i++)
        h[i] = _mm_set1_epi32((int)key[i]);
    uint32_t lo[4], hi[4];
    for (int j = 0; j < 4; j++) {
        uint64_t c = counter + (increment_counter ? (uint64_t)j : 0);
        lo[j] = (uint32_t)c;
        hi[j] = (uint32_t)(c >> 32);
    }
    const __m128i ctr_lo = LOADU(lo), ctr_hi = LOADU(hi);
    uint8_t block_flags = flags | flags_start;
    for (size_t b = 0; b < blocks; b++) {
        if (b + 1 == blocks)
            block_flags |= flags_end;
        __m128i m[16], v[16];
        load_msg_x4(m, inputs, 64 * b, 4 * 64 * blocks);
        for (int i = 0; i < 8; i++)
            v[i] = h[i];
        v[8] = _mm_set1_epi32((int)B3_IV[0]);
        v[9] = _mm_set1_epi32((int)B3_IV[1]);
        v[10] = _mm_set1_epi32((int)B3_IV[2]);
        v[11] = _mm_set1_epi32((int)B3_IV[3]);
        v[12] = ctr_lo;
        v[13] = ctr_hi;
        v[14] = _mm_set1_epi32(ZHTP_BLAKE3_BLOCK_LEN);
        v[15] = _mm_set1_epi32((int)block_flags);
        round_x4(v, m, 0);
        round_x4(v, m, 1);
        round_x4(v, m, 2);
        round_x4(v, m, 3);
        round_x4(v, m, 4);
        round_x4(v, m, 5);
        round_x4(v, m, 6);
        for (int i = 0; i < 8; i++)
            h[i] = _mm_xor_si128(v[i], v[i + 8]);
        block_flags = flags;
    }
    /* After transposing, h[j] holds words 0..3 of input j's CV and h[4 + j] words 4..7. */
    transpose4(h);
    transpose4(h + 4);
    for (int j = 0; j < 4; j++) {
        STOREU(out + 32 * j, h[j]);
        STOREU(out + 32 * j + 16, h[4 + j]);
    }
}

void zhtp_blake3_hash_many_sse41(const uint8_t *const *inputs, size_t num_inputs, size_t blocks,
                                 const uint32_t key[8], uint64_t counter, bool increment_counter,
                                 uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                                 uint8_t *out)
{
    while (num_inputs >= 4) {
        hash4(inputs, blocks, key, counter, increment_counter, flags, flags_start, flags_end, out);
        if (increment_counter)
            counter += 4;
        inputs += 4;
        num_inputs -= 4;
        out += 4 * ZHTP_BLAKE3_OUT_LEN;
    }
    for (; num_inputs > 0; num_inputs--) {
        uint32_t cv[8];
        memcpy(cv, key, sizeof cv);
        uint8_t block_flags = flags | flags_start;
        for (size_t b = 0; b < blocks; b++) {
            if (b + 1 == blocks)
                block_flags |= flags_end;
            zhtp_blake3_compress_in_place_sse41(cv, inputs[0] + 64 * b, ZHTP_BLAKE3_BLOCK_LEN,
                                                counter, block_flags);
            block_flags = flags;
        }
        memcpy(out, cv, sizeof cv);
        if (increment_counter)
            counter++;
        inputs++;
        out += ZHTP_BLAKE3_OUT_LEN;
    }
}
