/* Sampling from SHAKE (FIPS 204 §7.3): ExpandA, ExpandS, ExpandMask, SampleInBall. */
#include <string.h>

#include "zhtp/ct.h"
#include "zhtp/util.h"
#include "keccak.h"
#include "mldsa_internal.h"

/* RejNTTPoly's loop body (CoeffFromThreeBytes, Alg. 14): appends the accepted coefficients of
 * buf to a from position ctr. rho is public, so branching on the bytes is fine. */
unsigned mldsa_rej_uniform(int32_t *a, unsigned ctr, const uint8_t *buf, size_t len)
{
    /* Branch-free body: the candidate is always written to a[ctr] (ctr < 256 here) and kept
     * by advancing ctr only when it is below q. */
    for (size_t pos = 0; ctr < MLDSA_N && pos + 3 <= len; pos += 3) {
        uint32_t t = buf[pos] | (uint32_t)buf[pos + 1] << 8 | (uint32_t)(buf[pos + 2] & 0x7f) << 16;
        a[ctr] = (int32_t)t;
        ctr += t < MLDSA_Q;
    }
    return ctr;
}

/* 5 blocks give 280 candidates for 256 slots; each is accepted with probability q/2^23. */
#define EXPAND_A_BLOCKS 5

void mldsa_expand_a(const mldsa_backend *b, mldsa_poly a[MLDSA_K][MLDSA_L], const uint8_t rho[32])
{
    uint8_t seed[4][34];
    uint8_t buf[4][EXPAND_A_BLOCKS * ZHTP_SHAKE128_RATE];
    for (unsigned base = 0; base < MLDSA_K * MLDSA_L; base += 4) {
        int32_t *out[4];
        unsigned ctr[4];
        for (unsigned t = 0; t < 4; t++) {
            unsigned r = (base + t) / MLDSA_L, s = (base + t) % MLDSA_L;
            memcpy(seed[t], rho, 32);
            seed[t][32] = (uint8_t)s;
            seed[t][33] = (uint8_t)r;
            out[t] = a[r][s].c;
        }
        zhtp_keccak_x4 k;
        zhtp_keccak_x4_absorb_once(&k, ZHTP_SHAKE128_RATE, seed[0], seed[1], seed[2], seed[3], 34,
                                   0x1f);
        zhtp_keccak_x4_squeezeblocks(&k, buf[0], buf[1], buf[2], buf[3], EXPAND_A_BLOCKS);
        for (unsigned t = 0; t < 4; t++)
            ctr[t] = b->rej_uniform(out[t], 0, buf[t], sizeof buf[t]);
        while (ctr[0] < MLDSA_N || ctr[1] < MLDSA_N || ctr[2] < MLDSA_N || ctr[3] < MLDSA_N) {
            zhtp_keccak_x4_squeezeblocks(&k, buf[0], buf[1], buf[2], buf[3], 1);
            for (unsigned t = 0; t < 4; t++)
                ctr[t] = b->rej_uniform(out[t], ctr[t], buf[t], ZHTP_SHAKE128_RATE);
        }
    }
}

/* RejBoundedPoly's loop body for eta = 2 (CoeffFromHalfByte, Alg. 15): a nibble b < 15 gives
 * 2 - (b mod 5). The bytes come from the secret rho', so the accept decision is the only
 * thing declassified before the branch: which nibbles were rejected is independent of the
 * accepted values (FIPS 204 lets the rejection pattern leak), and the value itself is
 * computed without a branch or a table. */
static unsigned rej_eta(int32_t *a, unsigned ctr, const uint8_t *buf, size_t len)
{
    for (size_t pos = 0; ctr < MLDSA_N && pos < len; pos++) {
        uint32_t nib[2] = {buf[pos] & 0x0fu, buf[pos] >> 4};
        for (unsigned h = 0; h < 2 && ctr < MLDSA_N; h++) {
            uint32_t b = nib[h];
            uint32_t ok = (b - 15) >> 31; /* 1 when b < 15 */
            ZHTP_CT_DECLASSIFY(&ok, sizeof ok);
            int32_t v = 2 - (int32_t)(b - ((b * 205) >> 10) * 5); /* (b*205)>>10 = b/5, b < 15 */
            if (ok)
                a[ctr++] = v;
        }
    }
    return ctr;
}

void mldsa_expand_s(mldsa_poly s1[MLDSA_L], mldsa_poly s2[MLDSA_K], const uint8_t rhop[64])
{
    uint8_t seed[4][66];
    uint8_t buf[4][2 * ZHTP_SHAKE256_RATE];
    zhtp_keccak_x4 k;
    for (unsigned base = 0; base < MLDSA_L + MLDSA_K; base += 4) {
        int32_t *out[4];
        unsigned ctr[4];
        for (unsigned t = 0; t < 4; t++) {
            unsigned r = base + t;
            memcpy(seed[t], rhop, 64);
            seed[t][64] = (uint8_t)r;
            seed[t][65] = (uint8_t)(r >> 8);
            out[t] = r < MLDSA_L ? s1[r].c : s2[r - MLDSA_L].c;
        }
        zhtp_keccak_x4_absorb_once(&k, ZHTP_SHAKE256_RATE, seed[0], seed[1], seed[2], seed[3], 66,
                                   0x1f);
        zhtp_keccak_x4_squeezeblocks(&k, buf[0], buf[1], buf[2], buf[3], 2);
        for (unsigned t = 0; t < 4; t++)
            ctr[t] = rej_eta(out[t], 0, buf[t], sizeof buf[t]);
        while (ctr[0] < MLDSA_N || ctr[1] < MLDSA_N || ctr[2] < MLDSA_N || ctr[3] < MLDSA_N) {
            zhtp_keccak_x4_squeezeblocks(&k, buf[0], buf[1], buf[2], buf[3], 1);
            for (unsigned t = 0; t < 4; t++)
                ctr[t] = rej_eta(out[t], ctr[t], buf[t], ZHTP_SHAKE256_RATE);
        }
    }
    zhtp_wipe(seed, sizeof seed);
    zhtp_wipe(buf, sizeof buf);
    zhtp_wipe(&k, sizeof k);
}

#define EXPAND_MASK_BLOCKS ((MLDSA_POLY_Z_BYTES + ZHTP_SHAKE256_RATE - 1) / ZHTP_SHAKE256_RATE)

void mldsa_expand_mask(const mldsa_backend *b, mldsa_poly y[MLDSA_L], const uint8_t rhopp[64],
                       uint16_t kappa)
{
    uint8_t seed[4][66];
    uint8_t buf[4][EXPAND_MASK_BLOCKS * ZHTP_SHAKE256_RATE];
    zhtp_keccak_x4 k;
    for (unsigned t = 0; t < 4; t++) {
        uint16_t n = (uint16_t)(kappa + t);
        memcpy(seed[t], rhopp, 64);
        seed[t][64] = (uint8_t)n;
        seed[t][65] = (uint8_t)(n >> 8);
    }
    zhtp_keccak_x4_absorb_once(&k, ZHTP_SHAKE256_RATE, seed[0], seed[1], seed[2], seed[3], 66,
                               0x1f);
    zhtp_keccak_x4_squeezeblocks(&k, buf[0], buf[1], buf[2], buf[3], EXPAND_MASK_BLOCKS);
    for (unsigned t = 0; t < MLDSA_L; t++)
        b->unpack_z(&y[t], buf[t]);
    zhtp_wipe(seed, sizeof seed);
    zhtp_wipe(buf, sizeof buf);
    zhtp_wipe(&k, sizeof k);
}

void mldsa_sample_in_ball(mldsa_poly *c, uint8_t support[MLDSA_TAU],
                          const uint8_t ctilde[MLDSA_CTILDE])
{
    unsigned n = 0;
    uint8_t buf[ZHTP_SHAKE256_RATE];
    zhtp_keccak k;
    zhtp_shake256_init(&k);
    zhtp_keccak_absorb(&k, ctilde, MLDSA_CTILDE);
    zhtp_shake_finalize(&k);
    zhtp_keccak_squeezeblocks(&k, buf, 1);
    uint64_t signs = 0;
    for (unsigned i = 0; i < 8; i++)
        signs |= (uint64_t)buf[i] << (8 * i);
    unsigned pos = 8;
    memset(c->c, 0, sizeof c->c);
    for (unsigned i = MLDSA_N - MLDSA_TAU; i < MLDSA_N; i++) {
        unsigned j;
        do {
            if (pos == sizeof buf) {
                zhtp_keccak_squeezeblocks(&k, buf, 1);
                pos = 0;
            }
            j = buf[pos++];
        } while (j > i);
        /* Each step adds one nonzero position: i when c_j was already nonzero or j = i
         * (c_i takes c_j's value or is set itself), else j. */
        support[n++] = (uint8_t)((c->c[j] != 0 || j == i) ? i : j);
        c->c[i] = c->c[j];
        c->c[j] = 1 - 2 * (int32_t)(signs & 1);
        signs >>= 1;
    }
}
