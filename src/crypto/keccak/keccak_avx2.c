/* Keccak-f[1600] on four interleaved states with AVX2: one 256-bit vector holds lane (x, y) of
 * all four instances (s[4 (x + 5y) + j] for instance j), so every step of FIPS 202 §3.2 is one
 * vector operation per lane. This file alone is compiled with -mavx2; keccak.c calls it only
 * after __builtin_cpu_supports("avx2"). The round body is the same row-by-row form as the
 * portable permutation in keccak.c, except that the column parities C of the next round are
 * accumulated as chi produces each lane, so theta does not re-read the state (fewer spills). */
#include <immintrin.h>
#include <stdint.h>

#include "keccak_impl.h"

static const uint64_t round_constants[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* Rotations by whole bytes are a byte shuffle; the others are two shifts and an OR. n is
 * always a literal, so the compiler keeps one branch. */
#define ROL256(x, n)                                                                               \
    ((n) == 8    ? _mm256_shuffle_epi8((x), rot8)                                                  \
     : (n) == 56 ? _mm256_shuffle_epi8((x), rot56)                                                 \
                 : _mm256_or_si256(_mm256_slli_epi64((x), (n)), _mm256_srli_epi64((x), 64 - (n))))

void zhtp_keccakf1600_x4_avx2(uint64_t s[100])
{
    const __m256i rot8 = _mm256_setr_epi8(7, 0, 1, 2, 3, 4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14, 7,
                                          0, 1, 2, 3, 4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14);
    const __m256i rot56 = _mm256_setr_epi8(1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8, 1,
                                           2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8);
    __m256i a00 = _mm256_loadu_si256((const __m256i *)(s + 4 * 0));
    __m256i a10 = _mm256_loadu_si256((const __m256i *)(s + 4 * 1));
    __m256i a20 = _mm256_loadu_si256((const __m256i *)(s + 4 * 2));
    __m256i a30 = _mm256_loadu_si256((const __m256i *)(s + 4 * 3));
    __m256i a40 = _mm256_loadu_si256((const __m256i *)(s + 4 * 4));
    __m256i a01 = _mm256_loadu_si256((const __m256i *)(s + 4 * 5));
    __m256i a11 = _mm256_loadu_si256((const __m256i *)(s + 4 * 6));
    __m256i a21 = _mm256_loadu_si256((const __m256i *)(s + 4 * 7));
    __m256i a31 = _mm256_loadu_si256((const __m256i *)(s + 4 * 8));
    __m256i a41 = _mm256_loadu_si256((const __m256i *)(s + 4 * 9));
    __m256i a02 = _mm256_loadu_si256((const __m256i *)(s + 4 * 10));
    __m256i a12 = _mm256_loadu_si256((const __m256i *)(s + 4 * 11));
    __m256i a22 = _mm256_loadu_si256((const __m256i *)(s + 4 * 12));
    __m256i a32 = _mm256_loadu_si256((const __m256i *)(s + 4 * 13));
    __m256i a42 = _mm256_loadu_si256((const __m256i *)(s + 4 * 14));
    __m256i a03 = _mm256_loadu_si256((const __m256i *)(s + 4 * 15));
    __m256i a13 = _mm256_loadu_si256((const __m256i *)(s + 4 * 16));
    __m256i a23 = _mm256_loadu_si256((const __m256i *)(s + 4 * 17));
    __m256i a33 = _mm256_loadu_si256((const __m256i *)(s + 4 * 18));
    __m256i a43 = _mm256_loadu_si256((const __m256i *)(s + 4 * 19));
    __m256i a04 = _mm256_loadu_si256((const __m256i *)(s + 4 * 20));
    __m256i a14 = _mm256_loadu_si256((const __m256i *)(s + 4 * 21));
    __m256i a24 = _mm256_loadu_si256((const __m256i *)(s + 4 * 22));
    __m256i a34 = _mm256_loadu_si256((const __m256i *)(s + 4 * 23));
    __m256i a44 = _mm256_loadu_si256((const __m256i *)(s + 4 * 24));
    __m256i e00, e10, e20, e30, e40, e01, e11, e21, e31, e41, e02, e12, e22, e32, e42, e03, e13,
        e23, e33, e43, e04, e14, e24, e34, e44;
    __m256i c0, c1, c2, c3, c4, d0, d1, d2, d3, d4, b0, b1, b2, b3, b4;

    c0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(a00, a01), a02), a03),
                          a04);
    c1 = _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(a10, a11), a12), a13),
                          a14);
    c2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(a20, a21), a22), a23),
                          a24);
    c3 = _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(a30, a31), a32), a33),
                          a34);
    c4 = _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(a40, a41), a42), a43),
                          a44);
    for (int round = 0; round < 24; round += 2) {
        d0 = _mm256_xor_si256(c4, ROL256(c1, 1));
        d1 = _mm256_xor_si256(c0, ROL256(c2, 1));
        d2 = _mm256_xor_si256(c1, ROL256(c3, 1));
        d3 = _mm256_xor_si256(c2, ROL256(c4, 1));
        d4 = _mm256_xor_si256(c3, ROL256(c0, 1));
        b0 = _mm256_xor_si256(a00, d0);
        b1 = ROL256(_mm256_xor_si256(a11, d1), 44);
        b2 = ROL256(_mm256_xor_si256(a22, d2), 43);
        b3 = ROL256(_mm256_xor_si256(a33, d3), 21);
        b4 = ROL256(_mm256_xor_si256(a44, d4), 14);
        e00 = _mm256_xor_si256(_mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2)),
                               _mm256_set1_epi64x((long long)round_constants[round]));
        c0 = e00;
        e10 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3));
        c1 = e10;
        e20 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4));
        c2 = e20;
        e30 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0));
        c3 = e30;
        e40 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1));
        c4 = e40;
        b0 = ROL256(_mm256_xor_si256(a30, d3), 28);
        b1 = ROL256(_mm256_xor_si256(a41, d4), 20);
        b2 = ROL256(_mm256_xor_si256(a02, d0), 3);
        b3 = ROL256(_mm256_xor_si256(a13, d1), 45);
        b4 = ROL256(_mm256_xor_si256(a24, d2), 61);
        e01 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2));
        c0 = _mm256_xor_si256(c0, e01);
        e11 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3));
        c1 = _mm256_xor_si256(c1, e11);
        e21 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4));
        c2 = _mm256_xor_si256(c2, e21);
        e31 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0));
        c3 = _mm256_xor_si256(c3, e31);
        e41 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1));
        c4 = _mm256_xor_si256(c4, e41);
        b0 = ROL256(_mm256_xor_si256(a10, d1), 1);
        b1 = ROL256(_mm256_xor_si256(a21, d2), 6);
        b2 = ROL256(_mm256_xor_si256(a32, d3), 25);
        b3 = ROL256(_mm256_xor_si256(a43, d4), 8);
        b4 = ROL256(_mm256_xor_si256(a04, d0), 18);
        e02 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2));
        c0 = _mm256_xor_si256(c0, e02);
        e12 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3));
        c1 = _mm256_xor_si256(c1, e12);
        e22 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4));
        c2 = _mm256_xor_si256(c2, e22);
        e32 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0));
        c3 = _mm256_xor_si256(c3, e32);
        e42 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1));
        c4 = _mm256_xor_si256(c4, e42);
        b0 = ROL256(_mm256_xor_si256(a40, d4), 27);
        b1 = ROL256(_mm256_xor_si256(a01, d0), 36);
        b2 = ROL256(_mm256_xor_si256(a12, d1), 10);
        b3 = ROL256(_mm256_xor_si256(a23, d2), 15);
        b4 = ROL256(_mm256_xor_si256(a34, d3), 56);
        e03 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2));
        c0 = _mm256_xor_si256(c0, e03);
        e13 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3));
        c1 = _mm256_xor_si256(c1, e13);
        e23 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4));
        c2 = _mm256_xor_si256(c2, e23);
        e33 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0));
        c3 = _mm256_xor_si256(c3, e33);
        e43 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1));
        c4 = _mm256_xor_si256(c4, e43);
        b0 = ROL256(_mm256_xor_si256(a20, d2), 62);
        b1 = ROL256(_mm256_xor_si256(a31, d3), 55);
        b2 = ROL256(_mm256_xor_si256(a42, d4), 39);
        b3 = ROL256(_mm256_xor_si256(a03, d0), 41);
        b4 = ROL256(_mm256_xor_si256(a14, d1), 2);
        e04 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2));
        c0 = _mm256_xor_si256(c0, e04);
        e14 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3));
        c1 = _mm256_xor_si256(c1, e14);
        e24 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4));
        c2 = _mm256_xor_si256(c2, e24);
        e34 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0));
        c3 = _mm256_xor_si256(c3, e34);
        e44 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1));
        c4 = _mm256_xor_si256(c4, e44);
        d0 = _mm256_xor_si256(c4, ROL256(c1, 1));
        d1 = _mm256_xor_si256(c0, ROL256(c2, 1));
        d2 = _mm256_xor_si256(c1, ROL256(c3, 1));
        d3 = _mm256_xor_si256(c2, ROL256(c4, 1));
        d4 = _mm256_xor_si256(c3, ROL256(c0, 1));
        b0 = _mm256_xor_si256(e00, d0);
        b1 = ROL256(_mm256_xor_si256(e11, d1), 44);
        b2 = ROL256(_mm256_xor_si256(e22, d2), 43);
        b3 = ROL256(_mm256_xor_si256(e33, d3), 21);
        b4 = ROL256(_mm256_xor_si256(e44, d4), 14);
        a00 = _mm256_xor_si256(_mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2)),
                               _mm256_set1_epi64x((long long)round_constants[round + 1]));
        c0 = a00;
        a10 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3));
        c1 = a10;
        a20 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4));
        c2 = a20;
        a30 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0));
        c3 = a30;
        a40 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1));
        c4 = a40;
        b0 = ROL256(_mm256_xor_si256(e30, d3), 28);
        b1 = ROL256(_mm256_xor_si256(e41, d4), 20);
        b2 = ROL256(_mm256_xor_si256(e02, d0), 3);
        b3 = ROL256(_mm256_xor_si256(e13, d1), 45);
        b4 = ROL256(_mm256_xor_si256(e24, d2), 61);
        a01 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2));
        c0 = _mm256_xor_si256(c0, a01);
        a11 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3));
        c1 = _mm256_xor_si256(c1, a11);
        a21 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4));
        c2 = _mm256_xor_si256(c2, a21);
        a31 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0));
        c3 = _mm256_xor_si256(c3, a31);
        a41 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1));
        c4 = _mm256_xor_si256(c4, a41);
        b0 = ROL256(_mm256_xor_si256(e10, d1), 1);
        b1 = ROL256(_mm256_xor_si256(e21, d2), 6);
        b2 = ROL256(_mm256_xor_si256(e32, d3), 25);
        b3 = ROL256(_mm256_xor_si256(e43, d4), 8);
        b4 = ROL256(_mm256_xor_si256(e04, d0), 18);
        a02 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2));
        c0 = _mm256_xor_si256(c0, a02);
        a12 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3));
        c1 = _mm256_xor_si256(c1, a12);
        a22 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4));
        c2 = _mm256_xor_si256(c2, a22);
        a32 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0));
        c3 = _mm256_xor_si256(c3, a32);
        a42 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1));
        c4 = _mm256_xor_si256(c4, a42);
        b0 = ROL256(_mm256_xor_si256(e40, d4), 27);
        b1 = ROL256(_mm256_xor_si256(e01, d0), 36);
        b2 = ROL256(_mm256_xor_si256(e12, d1), 10);
        b3 = ROL256(_mm256_xor_si256(e23, d2), 15);
        b4 = ROL256(_mm256_xor_si256(e34, d3), 56);
        a03 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2));
        c0 = _mm256_xor_si256(c0, a03);
        a13 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3));
        c1 = _mm256_xor_si256(c1, a13);
        a23 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4));
        c2 = _mm256_xor_si256(c2, a23);
        a33 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0));
        c3 = _mm256_xor_si256(c3, a33);
        a43 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1));
        c4 = _mm256_xor_si256(c4, a43);
        b0 = ROL256(_mm256_xor_si256(e20, d2), 62);
        b1 = ROL256(_mm256_xor_si256(e31, d3), 55);
        b2 = ROL256(_mm256_xor_si256(e42, d4), 39);
        b3 = ROL256(_mm256_xor_si256(e03, d0), 41);
        b4 = ROL256(_mm256_xor_si256(e14, d1), 2);
        a04 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2));
        c0 = _mm256_xor_si256(c0, a04);
        a14 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3));
        c1 = _mm256_xor_si256(c1, a14);
        a24 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4));
        c2 = _mm256_xor_si256(c2, a24);
        a34 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0));
        c3 = _mm256_xor_si256(c3, a34);
        a44 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1));
        c4 = _mm256_xor_si256(c4, a44);
    }
    _mm256_storeu_si256((__m256i *)(s + 4 * 0), a00);
    _mm256_storeu_si256((__m256i *)(s + 4 * 1), a10);
    _mm256_storeu_si256((__m256i *)(s + 4 * 2), a20);
    _mm256_storeu_si256((__m256i *)(s + 4 * 3), a30);
    _mm256_storeu_si256((__m256i *)(s + 4 * 4), a40);
    _mm256_storeu_si256((__m256i *)(s + 4 * 5), a01);
    _mm256_storeu_si256((__m256i *)(s + 4 * 6), a11);
    _mm256_storeu_si256((__m256i *)(s + 4 * 7), a21);
    _mm256_storeu_si256((__m256i *)(s + 4 * 8), a31);
    _mm256_storeu_si256((__m256i *)(s + 4 * 9), a41);
    _mm256_storeu_si256((__m256i *)(s + 4 * 10), a02);
    _mm256_storeu_si256((__m256i *)(s + 4 * 11), a12);
    _mm256_storeu_si256((__m256i *)(s + 4 * 12), a22);
    _mm256_storeu_si256((__m256i *)(s + 4 * 13), a32);
    _mm256_storeu_si256((__m256i *)(s + 4 * 14), a42);
    _mm256_storeu_si256((__m256i *)(s + 4 * 15), a03);
    _mm256_storeu_si256((__m256i *)(s + 4 * 16), a13);
    _mm256_storeu_si256((__m256i *)(s + 4 * 17), a23);
    _mm256_storeu_si256((__m256i *)(s + 4 * 18), a33);
    _mm256_storeu_si256((__m256i *)(s + 4 * 19), a43);
    _mm256_storeu_si256((__m256i *)(s + 4 * 20), a04);
    _mm256_storeu_si256((__m256i *)(s + 4 * 21), a14);
    _mm256_storeu_si256((__m256i *)(s + 4 * 22), a24);
    _mm256_storeu_si256((__m256i *)(s + 4 * 23), a34);
    _mm256_storeu_si256((__m256i *)(s + 4 * 24), a44);
}
