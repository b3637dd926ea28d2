/* Portable Keccak-f[1600] (FIPS 202 §3) and the sponge around it. Lanes are little-endian
 * 64-bit words; the byte interface loads and stores them explicitly so the code is
 * endian-neutral. */
#include <string.h>

#include "keccak.h"
#include "keccak_impl.h"

static const uint64_t round_constants[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* Lanes live in locals named aXY / eXY (x column, y row; s[x + 5y]) so the compiler can keep
 * them in registers. Each round is FIPS 202 §3.2 spelled out row by row: for output row y',
 * B[x'][y'] = ROT(A[x][y] ^ D[x], r[x][y]) with x' = y and y' = 2x + 3y (theta, rho, pi), then
 * chi on that row, and iota on lane (0, 0). Rounds alternate between the a and e sets. */
#define ROL64(x, n) (((x) << (n)) | ((x) >> (64 - (n))))

void zhtp_keccakf1600(uint64_t s[25])
{
    uint64_t a00 = s[0];
    uint64_t a10 = s[1];
    uint64_t a20 = s[2];
    uint64_t a30 = s[3];
    uint64_t a40 = s[4];
    uint64_t a01 = s[5];
    uint64_t a11 = s[6];
    uint64_t a21 = s[7];
    uint64_t a31 = s[8];
    uint64_t a41 = s[9];
    uint64_t a02 = s[10];
    uint64_t a12 = s[11];
    uint64_t a22 = s[12];
    uint64_t a32 = s[13];
    uint64_t a42 = s[14];
    uint64_t a03 = s[15];
    uint64_t a13 = s[16];
    uint64_t a23 = s[17];
    uint64_t a33 = s[18];
    uint64_t a43 = s[19];
    uint64_t a04 = s[20];
    uint64_t a14 = s[21];
    uint64_t a24 = s[22];
    uint64_t a34 = s[23];
    uint64_t a44 = s[24];
    uint64_t e00, e10, e20, e30, e40, e01, e11, e21, e31, e41, e02, e12, e22, e32, e42, e03, e13,
        e23, e33, e43, e04, e14, e24, e34, e44;
    uint64_t c0, c1, c2, c3, c4, d0, d1, d2, d3, d4, b0, b1, b2, b3, b4;

    for (int round = 0; round < 24; round += 2) {
        c0 = ((((a00 ^ a01) ^ a02) ^ a03) ^ a04);
        c1 = ((((a10 ^ a11) ^ a12) ^ a13) ^ a14);
        c2 = ((((a20 ^ a21) ^ a22) ^ a23) ^ a24);
        c3 = ((((a30 ^ a31) ^ a32) ^ a33) ^ a34);
        c4 = ((((a40 ^ a41) ^ a42) ^ a43) ^ a44);
        d0 = (c4 ^ ROL64(c1, 1));
        d1 = (c0 ^ ROL64(c2, 1));
        d2 = (c1 ^ ROL64(c3, 1));
        d3 = (c2 ^ ROL64(c4, 1));
        d4 = (c3 ^ ROL64(c0, 1));
        b0 = (a00 ^ d0);
        b1 = ROL64((a11 ^ d1), 44);
        b2 = ROL64((a22 ^ d2), 43);
        b3 = ROL64((a33 ^ d3), 21);
        b4 = ROL64((a44 ^ d4), 14);
        e00 = ((b0 ^ (~b1 & b2)) ^ round_constants[round]);
        e10 = (b1 ^ (~b2 & b3));
        e20 = (b2 ^ (~b3 & b4));
        e30 = (b3 ^ (~b4 & b0));
        e40 = (b4 ^ (~b0 & b1));
        b0 = ROL64((a30 ^ d3), 28);
        b1 = ROL64((a41 ^ d4), 20);
        b2 = ROL64((a02 ^ d0), 3);
        b3 = ROL64((a13 ^ d1), 45);
        b4 = ROL64((a24 ^ d2), 61);
        e01 = (b0 ^ (~b1 & b2));
        e11 = (b1 ^ (~b2 & b3));
        e21 = (b2 ^ (~b3 & b4));
        e31 = (b3 ^ (~b4 & b0));
        e41 = (b4 ^ (~b0 & b1));
        b0 = ROL64((a10 ^ d1), 1);
        b1 = ROL64((a21 ^ d2), 6);
        b2 = ROL64((a32 ^ d3), 25);
        b3 = ROL64((a43 ^ d4), 8);
        b4 = ROL64((a04 ^ d0), 18);
        e02 = (b0 ^ (~b1 & b2));
        e12 = (b1 ^ (~b2 & b3));
        e22 = (b2 ^ (~b3 & b4));
        e32 = (b3 ^ (~b4 & b0));
        e42 = (b4 ^ (~b0 & b1));
        b0 = ROL64((a40 ^ d4), 27);
        b1 = ROL64((a01 ^ d0), 36);
        b2 = ROL64((a12 ^ d1), 10);
        b3 = ROL64((a23 ^ d2), 15);
        b4 = ROL64((a34 ^ d3), 56);
        e03 = (b0 ^ (~b1 & b2));
        e13 = (b1 ^ (~b2 & b3));
        e23 = (b2 ^ (~b3 & b4));
        e33 = (b3 ^ (~b4 & b0));
        e43 = (b4 ^ (~b0 & b1));
        b0 = ROL64((a20 ^ d2), 62);
        b1 = ROL64((a31 ^ d3), 55);
        b2 = ROL64((a42 ^ d4), 39);
        b3 = ROL64((a03 ^ d0), 41);
        b4 = ROL64((a14 ^ d1), 2);
        e04 = (b0 ^ (~b1 & b2));
        e14 = (b1 ^ (~b2 & b3));
        e24 = (b2 ^ (~b3 & b4));
        e34 = (b3 ^ (~b4 & b0));
        e44 = (b4 ^ (~b0 & b1));
        c0 = ((((e00 ^ e01) ^ e02) ^ e03) ^ e04);
        c1 = ((((e10 ^ e11) ^ e12) ^ e13) ^ e14);
        c2 = ((((e20 ^ e21) ^ e22) ^ e23) ^ e24);
        c3 = ((((e30 ^ e31) ^ e32) ^ e33) ^ e34);
        c4 = ((((e40 ^ e41) ^ e42) ^ e43) ^ e44);
        d0 = (c4 ^ ROL64(c1, 1));
        d1 = (c0 ^ ROL64(c2, 1));
        d2 = (c1 ^ ROL64(c3, 1));
        d3 = (c2 ^ ROL64(c4, 1));
        d4 = (c3 ^ ROL64(c0, 1));
        b0 = (e00 ^ d0);
        b1 = ROL64((e11 ^ d1), 44);
        b2 = ROL64((e22 ^ d2), 43);
        b3 = ROL64((e33 ^ d3), 21);
        b4 = ROL64((e44 ^ d4), 14);
        a00 = ((b0 ^ (~b1 & b2)) ^ round_constants[round + 1]);
        a10 = (b1 ^ (~b2 & b3));
        a20 = (b2 ^ (~b3 & b4));
        a30 = (b3 ^ (~b4 & b0));
        a40 = (b4 ^ (~b0 & b1));
        b0 = ROL64((e30 ^ d3), 28);
        b1 = ROL64((e41 ^ d4), 20);
        b2 = ROL64((e02 ^ d0), 3);
        b3 = ROL64((e13 ^ d1), 45);
        b4 = ROL64((e24 ^ d2), 61);
        a01 = (b0 ^ (~b1 & b2));
        a11 = (b1 ^ (~b2 & b3));
        a21 = (b2 ^ (~b3 & b4));
        a31 = (b3 ^ (~b4 & b0));
        a41 = (b4 ^ (~b0 & b1));
        b0 = ROL64((e10 ^ d1), 1);
        b1 = ROL64((e21 ^ d2), 6);
        b2 = ROL64((e32 ^ d3), 25);
        b3 = ROL64((e43 ^ d4), 8);
        b4 = ROL64((e04 ^ d0), 18);
        a02 = (b0 ^ (~b1 & b2));
        a12 = (b1 ^ (~b2 & b3));
        a22 = (b2 ^ (~b3 & b4));
        a32 = (b3 ^ (~b4 & b0));
        a42 = (b4 ^ (~b0 & b1));
        b0 = ROL64((e40 ^ d4), 27);
        b1 = ROL64((e01 ^ d0), 36);
        b2 = ROL64((e12 ^ d1), 10);
        b3 = ROL64((e23 ^ d2), 15);
        b4 = ROL64((e34 ^ d3), 56);
        a03 = (b0 ^ (~b1 & b2));
        a13 = (b1 ^ (~b2 & b3));
        a23 = (b2 ^ (~b3 & b4));
        a33 = (b3 ^ (~b4 & b0));
        a43 = (b4 ^ (~b0 & b1));
        b0 = ROL64((e20 ^ d2), 62);
        b1 = ROL64((e31 ^ d3), 55);
        b2 = ROL64((e42 ^ d4), 39);
        b3 = ROL64((e03 ^ d0), 41);
        b4 = ROL64((e14 ^ d1), 2);
        a04 = (b0 ^ (~b1 & b2));
        a14 = (b1 ^ (~b2 & b3));
        a24 = (b2 ^ (~b3 & b4));
        a34 = (b3 ^ (~b4 & b0));
        a44 = (b4 ^ (~b0 & b1));
    }
    s[0] = a00;
    s[1] = a10;
    s[2] = a20;
    s[3] = a30;
    s[4] = a40;
    s[5] = a01;
    s[6] = a11;
    s[7] = a21;
    s[8] = a31;
    s[9] = a41;
    s[10] = a02;
    s[11] = a12;
    s[12] = a22;
    s[13] = a32;
    s[14] = a42;
    s[15] = a03;
    s[16] = a13;
    s[17] = a23;
    s[18] = a33;
    s[19] = a43;
    s[20] = a04;
    s[21] = a14;
    s[22] = a24;
    s[23] = a34;
    s[24] = a44;
}

static inline void xor_byte(uint64_t *s, unsigned pos, uint8_t b)
{
    s[pos / 8] ^= (uint64_t)b << (8 * (pos % 8));
}

static inline uint8_t get_byte(const uint64_t *s, unsigned pos)
{
    return (uint8_t)(s[pos / 8] >> (8 * (pos % 8)));
}

void zhtp_keccak_init(zhtp_keccak *k, unsigned rate)
{
    memset(k->s, 0, sizeof k->s);
    k->pos = 0;
    k->rate = rate;
}

void zhtp_keccak_absorb(zhtp_keccak *k, const uint8_t *in, size_t len)
{
    while (len > 0 && k->pos % 8 != 0) {
        xor_byte(k->s, k->pos++, *in++);
        len--;
        if (k->pos == k->rate) {
            zhtp_keccakf1600(k->s);
            k->pos = 0;
        }
    }
    while (len >= 8) {
        k->s[k->pos / 8] ^= zhtp_keccak_load64(in);
        k->pos += 8;
        in += 8;
        len -= 8;
        if (k->pos == k->rate) {
            zhtp_keccakf1600(k->s);
            k->pos = 0;
        }
    }
    while (len > 0) {
        xor_byte(k->s, k->pos++, *in++);
        len--;
        if (k->pos == k->rate) {
            zhtp_keccakf1600(k->s);
            k->pos = 0;
        }
    }
}

void zhtp_keccak_finalize(zhtp_keccak *k, uint8_t ds)
{
    xor_byte(k->s, k->pos, ds);
    xor_byte(k->s, k->rate - 1, 0x80);
    /* pos == rate means "block exhausted": the first squeeze permutes. */
    k->pos = k->rate;
}

void zhtp_keccak_squeeze(zhtp_keccak *k, uint8_t *out, size_t len)
{
    while (len > 0) {
        if (k->pos == k->rate) {
            zhtp_keccakf1600(k->s);
            k->pos = 0;
        }
        if (k->pos % 8 == 0 && len >= 8 && k->pos + 8 <= k->rate) {
            zhtp_keccak_store64(out, k->s[k->pos / 8]);
            out += 8;
            k->pos += 8;
            len -= 8;
        } else {
            *out++ = get_byte(k->s, k->pos++);
            len--;
        }
    }
}

void zhtp_keccak_squeezeblocks(zhtp_keccak *k, uint8_t *out, size_t nblocks)
{
    zhtp_keccak_squeeze(k, out, nblocks * k->rate);
}

/* Zeroes a sponge that held secret input (SHA3-512 of d or m in ML-KEM, for example). The
 * empty asm with a memory clobber keeps the compiler from dropping the store as dead. */
static void wipe_state(void *p, size_t len)
{
    memset(p, 0, len);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

static void oneshot(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len, unsigned rate,
                    uint8_t ds)
{
    zhtp_keccak k;
    zhtp_keccak_init(&k, rate);
    zhtp_keccak_absorb(&k, in, in_len);
    zhtp_keccak_finalize(&k, ds);
    zhtp_keccak_squeeze(&k, out, out_len);
    wipe_state(&k, sizeof k);
}

void zhtp_shake128(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len)
{
    oneshot(out, out_len, in, in_len, ZHTP_SHAKE128_RATE, 0x1f);
}

void zhtp_shake256(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len)
{
    oneshot(out, out_len, in, in_len, ZHTP_SHAKE256_RATE, 0x1f);
}

void zhtp_sha3_256(uint8_t out[32], const uint8_t *in, size_t in_len)
{
    oneshot(out, 32, in, in_len, ZHTP_SHA3_256_RATE, 0x06);
}

void zhtp_sha3_512(uint8_t out[64], const uint8_t *in, size_t in_len)
{
    oneshot(out, 64, in, in_len, ZHTP_SHA3_512_RATE, 0x06);
}

/* ---- four-way ---- */

static void keccakf1600_x4_portable(uint64_t s[100])
{
    for (int j = 0; j < 4; j++) {
        uint64_t one[25];
        for (int i = 0; i < 25; i++)
            one[i] = s[4 * i + j];
        zhtp_keccakf1600(one);
        for (int i = 0; i < 25; i++)
            s[4 * i + j] = one[i];
    }
}

#if defined(ZHTP_KECCAK_HAVE_AVX2)
static int cpu_has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}
#endif

/* A backend is one pointer to a constant {function, name} pair, so a reader never sees the
 * function of one backend with the name of another. */
typedef struct x4_backend {
    void (*permute)(uint64_t s[100]);
    const char *name;
} x4_backend;

static const x4_backend backend_portable = {keccakf1600_x4_portable, "portable"};
#if defined(ZHTP_KECCAK_HAVE_AVX2)
static const x4_backend backend_avx2 = {zhtp_keccakf1600_x4_avx2, "avx2"};
#endif

static const x4_backend *backend_auto(void)
{
#if defined(ZHTP_KECCAK_HAVE_AVX2)
    if (cpu_has_avx2())
        return &backend_avx2;
#endif
    return &backend_portable;
}

/* Chosen on first use ("auto"). Two threads racing on the first call store the same pointer. */
static const x4_backend *x4_selected;

static const x4_backend *x4_current(void)
{
    const x4_backend *b = x4_selected;
    if (b == NULL) {
        b = backend_auto();
        x4_selected = b;
    }
    return b;
}

int zhtp_keccak_x4_set_impl(const char *name)
{
    if (strcmp(name, "auto") == 0) {
        x4_selected = backend_auto();
        return 0;
    }
    if (strcmp(name, "portable") == 0) {
        x4_selected = &backend_portable;
        return 0;
    }
#if defined(ZHTP_KECCAK_HAVE_AVX2)
    if (strcmp(name, "avx2") == 0 && cpu_has_avx2()) {
        x4_selected = &backend_avx2;
        return 0;
    }
#endif
    return -8;
}

const char *zhtp_keccak_x4_impl(void)
{
    return x4_current()->name;
}

void zhtp_keccakf1600_x4(uint64_t s[100])
{
    x4_current()->permute(s);
}

void zhtp_keccak_x4_absorb_once(zhtp_keccak_x4 *k, unsigned rate, const uint8_t *in0,
                                const uint8_t *in1, const uint8_t *in2, const uint8_t *in3,
                                size_t len, uint8_t ds)
{
    const uint8_t *in[4] = {in0, in1, in2, in3};
    size_t off = 0;

    memset(k->s, 0, sizeof k->s);
    k->rate = rate;
    while (len - off >= rate) {
        for (unsigned i = 0; i < rate / 8; i++)
            for (int j = 0; j < 4; j++)
                k->s[4 * i + j] ^= zhtp_keccak_load64(in[j] + off + 8 * i);
        zhtp_keccakf1600_x4(k->s);
        off += rate;
    }
    /* The last partial block goes straight into the state (no stack copy of the input, which
     * may be secret), then the padding. */
    size_t rem = len - off;
    for (int j = 0; j < 4; j++) {
        const uint8_t *p = in[j] + off;
        size_t b = 0;
        for (; b + 8 <= rem; b += 8)
            k->s[4 * (b / 8) + j] ^= zhtp_keccak_load64(p + b);
        for (; b < rem; b++)
            k->s[4 * (b / 8) + j] ^= (uint64_t)p[b] << (8 * (b % 8));
        k->s[4 * (rem / 8) + j] ^= (uint64_t)ds << (8 * (rem % 8));
        k->s[4 * ((rate - 1) / 8) + j] ^= (uint64_t)0x80 << (8 * ((rate - 1) % 8));
    }
}

void zhtp_keccak_x4_squeezeblocks(zhtp_keccak_x4 *k, uint8_t *out0, uint8_t *out1, uint8_t *out2,
                                  uint8_t *out3, size_t nblocks)
{
    uint8_t *out[4] = {out0, out1, out2, out3};
    for (size_t b = 0; b < nblocks; b++) {
        zhtp_keccakf1600_x4(k->s);
        for (unsigned i = 0; i < k->rate / 8; i++)
            for (int j = 0; j < 4; j++)
                zhtp_keccak_store64(out[j] + b * k->rate + 8 * i, k->s[4 * i + j]);
    }
}
