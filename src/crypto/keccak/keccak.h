/* Keccak-f[1600] and the FIPS 202 functions ML-KEM and ML-DSA need: SHA3-256, SHA3-512,
 * SHAKE128, SHAKE256, incremental, plus a 4-way form that runs four independent instances
 * in one pass (the x4 state interleaves lanes so a SIMD backend can permute all four at once).
 * Internal to libzhtp: not a public API. Inputs may be secret; nothing here branches on data. */
#ifndef ZHTP_KECCAK_H
#define ZHTP_KECCAK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ZHTP_SHAKE128_RATE 168
#define ZHTP_SHAKE256_RATE 136
#define ZHTP_SHA3_256_RATE 136
#define ZHTP_SHA3_512_RATE 72

/* Lanes are little-endian 64-bit words (FIPS 202 §B.1): one load/store on little-endian hosts. */
static inline uint64_t zhtp_keccak_load64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
#endif
}

static inline void zhtp_keccak_store64(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
#endif
}

typedef struct zhtp_keccak {
    uint64_t s[25];
    unsigned pos;  /* byte position inside the current block */
    unsigned rate; /* bytes */
} zhtp_keccak;

void zhtp_keccakf1600(uint64_t s[25]);

/* Incremental sponge: init, absorb any number of times, finalize once, squeeze any number of
 * times. ds is the domain-separation byte (0x1f for SHAKE, 0x06 for SHA3). */
void zhtp_keccak_init(zhtp_keccak *k, unsigned rate);
void zhtp_keccak_absorb(zhtp_keccak *k, const uint8_t *in, size_t len);
void zhtp_keccak_finalize(zhtp_keccak *k, uint8_t ds);
void zhtp_keccak_squeeze(zhtp_keccak *k, uint8_t *out, size_t len);
/* Whole blocks of rate bytes, directly after finalize (or after whole-block squeezes). */
void zhtp_keccak_squeezeblocks(zhtp_keccak *k, uint8_t *out, size_t nblocks);

static inline void zhtp_shake128_init(zhtp_keccak *k)
{
    zhtp_keccak_init(k, ZHTP_SHAKE128_RATE);
}
static inline void zhtp_shake256_init(zhtp_keccak *k)
{
    zhtp_keccak_init(k, ZHTP_SHAKE256_RATE);
}
static inline void zhtp_shake_finalize(zhtp_keccak *k)
{
    zhtp_keccak_finalize(k, 0x1f);
}

void zhtp_shake128(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len);
void zhtp_shake256(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len);
void zhtp_sha3_256(uint8_t out[32], const uint8_t *in, size_t in_len);
void zhtp_sha3_512(uint8_t out[64], const uint8_t *in, size_t in_len);

/* Four independent sponges. Lane i of instance j is s[4*i + j]. */
typedef struct zhtp_keccak_x4 {
    uint64_t s[100];
    unsigned rate;
} zhtp_keccak_x4;

/* Permutes all four states; dispatches to a SIMD backend when the CPU has one. */
void zhtp_keccakf1600_x4(uint64_t s[100]);

/* Absorbs four equal-length inputs in one go and finalizes with ds (a fresh state). */
void zhtp_keccak_x4_absorb_once(zhtp_keccak_x4 *k, unsigned rate, const uint8_t *in0,
                                const uint8_t *in1, const uint8_t *in2, const uint8_t *in3,
                                size_t len, uint8_t ds);
/* Squeezes nblocks whole blocks from each instance. */
void zhtp_keccak_x4_squeezeblocks(zhtp_keccak_x4 *k, uint8_t *out0, uint8_t *out1, uint8_t *out2,
                                  uint8_t *out3, size_t nblocks);

/* Selects the x4 permutation backend: "portable", "avx2" or "auto". Returns 0, or -8
 * (ZHTP_ERR_UNSUPPORTED) when unavailable. Used by tests and benchmarks. */
int zhtp_keccak_x4_set_impl(const char *name);
const char *zhtp_keccak_x4_impl(void);

#endif
