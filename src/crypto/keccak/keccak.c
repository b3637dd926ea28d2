/* Portable Keccak-f[1600] (FIPS 202 §3) and the sponge around it. Lanes are little-endian
 * 64-bit words; the byte interface loads and stores them explicitly so the code is
 * endian-neutral. */
#include <string.h>

#include "keccak.h"

static const uint64_t round_constants[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

static inline uint64_t rol(uint64_t x, unsigned n)
{
    return n ? (x << n) | (x >> (64 - n)) : x;
}

/* rho offsets and pi destinations, walked along the (x, y) -> (y, 2x + 3y) cycle from lane 1. */
static const unsigned rho_offset[24] = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                        27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
static const unsigned pi_lane[24] = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                     15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};

void zhtp_keccakf1600(uint64_t s[25])
{
    for (int round = 0; round < 24; round++) {
        uint64_t c[5], t;
        /* theta */
        for (int x = 0; x < 5; x++)
            c[x] = s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20];
        for (int x = 0; x < 5; x++) {
            t = c[(x + 4) % 5] ^ rol(c[(x + 1) % 5], 1);
            for (int y = 0; y < 25; y += 5)
                s[y + x] ^= t;
        }
        /* rho and pi together */
        t = s[1];
        for (int i = 0; i < 24; i++) {
            unsigned j = pi_lane[i];
            uint64_t next = s[j];
            s[j] = rol(t, rho_offset[i]);
            t = next;
        }
        /* chi */
        for (int y = 0; y < 25; y += 5) {
            uint64_t row[5];
            memcpy(row, &s[y], sizeof row);
            for (int x = 0; x < 5; x++)
                s[y + x] = row[x] ^ (~row[(x + 1) % 5] & row[(x + 2) % 5]);
        }
        /* iota */
        s[0] ^= round_constants[round];
    }
}

static inline void xor_byte(uint64_t *s, unsigned pos, uint8_t b)
{
    s[pos / 8] ^= (uint64_t)b << (8 * (pos % 8));
}

static inline uint8_t get_byte(const uint64_t *s, unsigned pos)
{
    return (uint8_t)(s[pos / 8] >> (8 * (pos % 8)));
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline void store64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
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
        k->s[k->pos / 8] ^= load64(in);
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
            store64(out, k->s[k->pos / 8]);
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

static void oneshot(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len,
                    unsigned rate, uint8_t ds)
{
    zhtp_keccak k;
    zhtp_keccak_init(&k, rate);
    zhtp_keccak_absorb(&k, in, in_len);
    zhtp_keccak_finalize(&k, ds);
    zhtp_keccak_squeeze(&k, out, out_len);
    memset(&k, 0, sizeof k);
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

static void (*x4_permute)(uint64_t s[100]) = keccakf1600_x4_portable;
static const char *x4_name = "portable";

int zhtp_keccak_x4_set_impl(const char *name)
{
    if (strcmp(name, "portable") == 0 || strcmp(name, "auto") == 0) {
        x4_permute = keccakf1600_x4_portable;
        x4_name = "portable";
        return 0;
    }
    return -8;
}

const char *zhtp_keccak_x4_impl(void)
{
    return x4_name;
}

void zhtp_keccakf1600_x4(uint64_t s[100])
{
    x4_permute(s);
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
                k->s[4 * i + j] ^= load64(in[j] + off + 8 * i);
        zhtp_keccakf1600_x4(k->s);
        off += rate;
    }
    for (int j = 0; j < 4; j++) {
        uint8_t block[200] = {0};
        memcpy(block, in[j] + off, len - off);
        block[len - off] ^= ds;
        block[rate - 1] ^= 0x80;
        for (unsigned i = 0; i < rate / 8; i++)
            k->s[4 * i + j] ^= load64(block + 8 * i);
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
                store64(out[j] + b * k->rate + 8 * i, k->s[4 * i + j]);
    }
}
