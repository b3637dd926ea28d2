/* Byte encodings (FIPS 204 §7.1-7.2): SimpleBitPack/BitPack, pk, sk, sig, w1 and the hint
 * packing of Alg. 20/21. Coefficient i occupies bits [i*b, (i+1)*b) of its polynomial's
 * encoding, least significant bit first. */
#include <string.h>

#include "mldsa_internal.h"

/* Packs c_i = (sub ? off - a_i : a_i), each already in [0, 2^bits). With
 * bits <= 16: eight coefficients make exactly `bits` bytes, assembled in two 64-bit words. Every
 * branch depends only on bits and the position (constants once inlined), never on a coefficient. */
static inline void pack_bits(uint8_t *out, const mldsa_poly *a, unsigned bits, int sub, int32_t off)
{
    const uint32_t mask = (1u << bits) - 1;
    for (unsigned g = 0; g < MLDSA_N / 8; g++, out += bits) {
        uint64_t lo = 0, hi = 0;
        for (unsigned i = 0; i < 8; i++) {
            int32_t c = a->c[8 * g + i];
            uint64_t v = (uint32_t)(sub ? off - c : c) & mask;
            unsigned pos = i * bits;
            if (pos < 64) {
                lo |= v << pos;
                if (pos + bits > 64)
                    hi |= v >> (64 - pos);
            } else {
                hi |= v << (pos - 64);
            }
        }
        for (unsigned k = 0; k < bits; k++)
            out[k] = (uint8_t)(k < 8 ? lo >> (8 * k) : hi >> (8 * (k - 8)));
    }
}

static inline void unpack_bits(mldsa_poly *a, const uint8_t *in, unsigned bits, int sub,
                               int32_t off)
{
    const uint32_t mask = (1u << bits) - 1;
    for (unsigned g = 0; g < MLDSA_N / 8; g++, in += bits) {
        uint64_t lo = 0, hi = 0;
        for (unsigned k = 0; k < bits; k++) {
            if (k < 8)
                lo |= (uint64_t)in[k] << (8 * k);
            else
                hi |= (uint64_t)in[k] << (8 * (k - 8));
        }
        for (unsigned i = 0; i < 8; i++) {
            unsigned pos = i * bits;
            uint64_t v;
            if (pos < 64) {
                v = lo >> pos;
                if (pos + bits > 64)
                    v |= hi << (64 - pos);
            } else {
                v = hi >> (pos - 64);
            }
            int32_t c = (int32_t)(v & mask);
            a->c[8 * g + i] = sub ? off - c : c;
        }
    }
}

/* BitPack(z, gamma1 - 1, gamma1): 18-bit fields gamma1 - z, four coefficients in 9 bytes,
 * assembled in a 64-bit word plus one byte. */
static void pack_z(uint8_t *out, const mldsa_poly *z)
{
    for (unsigned i = 0; i < MLDSA_N / 4; i++) {
        uint64_t v0 = (uint32_t)(MLDSA_GAMMA1 - z->c[4 * i]) & 0x3ffff;
        uint64_t v1 = (uint32_t)(MLDSA_GAMMA1 - z->c[4 * i + 1]) & 0x3ffff;
        uint64_t v2 = (uint32_t)(MLDSA_GAMMA1 - z->c[4 * i + 2]) & 0x3ffff;
        uint64_t v3 = (uint32_t)(MLDSA_GAMMA1 - z->c[4 * i + 3]) & 0x3ffff;
        uint64_t lo = v0 | v1 << 18 | v2 << 36 | v3 << 54;
        uint8_t *o = out + 9 * i;
        for (unsigned k = 0; k < 8; k++)
            o[k] = (uint8_t)(lo >> (8 * k));
        o[8] = (uint8_t)(v3 >> 10);
    }
}

void mldsa_unpack_z(mldsa_poly *z, const uint8_t in[MLDSA_POLY_Z_BYTES])
{
    for (unsigned i = 0; i < MLDSA_N / 4; i++) {
        const uint8_t *p = in + 9 * i;
        uint32_t v0 = p[0] | (uint32_t)p[1] << 8 | (uint32_t)(p[2] & 0x03) << 16;
        uint32_t v1 = p[2] >> 2 | (uint32_t)p[3] << 6 | (uint32_t)(p[4] & 0x0f) << 14;
        uint32_t v2 = p[4] >> 4 | (uint32_t)p[5] << 4 | (uint32_t)(p[6] & 0x3f) << 12;
        uint32_t v3 = p[6] >> 6 | (uint32_t)p[7] << 2 | (uint32_t)p[8] << 10;
        z->c[4 * i + 0] = MLDSA_GAMMA1 - (int32_t)v0;
        z->c[4 * i + 1] = MLDSA_GAMMA1 - (int32_t)v1;
        z->c[4 * i + 2] = MLDSA_GAMMA1 - (int32_t)v2;
        z->c[4 * i + 3] = MLDSA_GAMMA1 - (int32_t)v3;
    }
}

/* pkEncode (Alg. 22): rho || SimpleBitPack(t1[i], 2^10 - 1). */
void mldsa_pack_pk(uint8_t pk[MLDSA_PK_BYTES], const uint8_t rho[32], const mldsa_poly t1[MLDSA_K])
{
    memcpy(pk, rho, 32);
    for (unsigned i = 0; i < MLDSA_K; i++)
        pack_bits(pk + 32 + i * MLDSA_POLY_T1_BYTES, &t1[i], 10, 0, 0);
}

/* pkDecode (Alg. 23). Every 1312-byte string decodes (t1 < 2^10 by construction). */
void mldsa_unpack_pk(uint8_t rho[32], mldsa_poly t1[MLDSA_K], const uint8_t pk[MLDSA_PK_BYTES])
{
    memcpy(rho, pk, 32);
    for (unsigned i = 0; i < MLDSA_K; i++)
        unpack_bits(&t1[i], pk + 32 + i * MLDSA_POLY_T1_BYTES, 10, 0, 0);
}

/* skEncode (Alg. 24): rho || K || tr || BitPack(s1, eta, eta) || BitPack(s2, eta, eta) ||
 * BitPack(t0, 2^12 - 1, 2^12). */
void mldsa_pack_sk(uint8_t sk[MLDSA_SK_BYTES], const uint8_t rho[32], const uint8_t key[32],
                   const uint8_t tr[64], const mldsa_poly s1[MLDSA_L], const mldsa_poly s2[MLDSA_K],
                   const mldsa_poly t0[MLDSA_K])
{
    uint8_t *p = sk;
    memcpy(p, rho, 32);
    memcpy(p + 32, key, 32);
    memcpy(p + 64, tr, 64);
    p += 128;
    for (unsigned i = 0; i < MLDSA_L; i++, p += MLDSA_POLY_ETA_BYTES)
        pack_bits(p, &s1[i], 3, 1, MLDSA_ETA);
    for (unsigned i = 0; i < MLDSA_K; i++, p += MLDSA_POLY_ETA_BYTES)
        pack_bits(p, &s2[i], 3, 1, MLDSA_ETA);
    for (unsigned i = 0; i < MLDSA_K; i++, p += MLDSA_POLY_T0_BYTES)
        pack_bits(p, &t0[i], 13, 1, 1 << (MLDSA_D - 1));
}

/* BitUnpack(in, eta, eta) for eta = 2: eight 3-bit fields in 3 bytes, coefficient 2 - field. */
static void unpack_eta(mldsa_poly *a, const uint8_t *in)
{
    for (unsigned g = 0; g < MLDSA_N / 8; g++, in += 3) {
        uint32_t v = in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16;
        for (unsigned k = 0; k < 8; k++)
            a->c[8 * g + k] = MLDSA_ETA - (int32_t)((v >> (3 * k)) & 7);
    }
}

/* BitUnpack(in, 2^12 - 1, 2^12): eight 13-bit fields in 13 bytes, coefficient 2^12 - field. */
static void unpack_t0(mldsa_poly *a, const uint8_t *in)
{
    for (unsigned g = 0; g < MLDSA_N / 8; g++, in += 13) {
        uint64_t lo = 0, hi = 0;
        for (unsigned k = 0; k < 8; k++)
            lo |= (uint64_t)in[k] << (8 * k);
        for (unsigned k = 0; k < 5; k++)
            hi |= (uint64_t)in[8 + k] << (8 * k);
        uint32_t f[8];
        f[0] = (uint32_t)lo & 0x1fff;
        f[1] = (uint32_t)(lo >> 13) & 0x1fff;
        f[2] = (uint32_t)(lo >> 26) & 0x1fff;
        f[3] = (uint32_t)(lo >> 39) & 0x1fff;
        f[4] = (uint32_t)((lo >> 52) | (hi << 12)) & 0x1fff;
        f[5] = (uint32_t)(hi >> 1) & 0x1fff;
        f[6] = (uint32_t)(hi >> 14) & 0x1fff;
        f[7] = (uint32_t)(hi >> 27) & 0x1fff;
        for (unsigned k = 0; k < 8; k++)
            a->c[8 * g + k] = (1 << (MLDSA_D - 1)) - (int32_t)f[k];
    }
}

/* skDecode (Alg. 25). A malformed key (3-bit fields 5..7) decodes to out-of-range values as
 * the standard's arithmetic says; signing with it gives a signature that does not verify. */
void mldsa_unpack_sk(uint8_t rho[32], uint8_t key[32], uint8_t tr[64], mldsa_poly s1[MLDSA_L],
                     mldsa_poly s2[MLDSA_K], mldsa_poly t0[MLDSA_K],
                     const uint8_t sk[MLDSA_SK_BYTES])
{
    const uint8_t *p = sk;
    memcpy(rho, p, 32);
    memcpy(key, p + 32, 32);
    memcpy(tr, p + 64, 64);
    p += 128;
    for (unsigned i = 0; i < MLDSA_L; i++, p += MLDSA_POLY_ETA_BYTES)
        unpack_eta(&s1[i], p);
    for (unsigned i = 0; i < MLDSA_K; i++, p += MLDSA_POLY_ETA_BYTES)
        unpack_eta(&s2[i], p);
    for (unsigned i = 0; i < MLDSA_K; i++, p += MLDSA_POLY_T0_BYTES)
        unpack_t0(&t0[i], p);
}

/* sigEncode (Alg. 26) with HintBitPack (Alg. 20). The hint is public here: it is part of the
 * signature being returned. */
void mldsa_pack_sig(uint8_t sig[MLDSA_SIG_BYTES], const uint8_t ctilde[MLDSA_CTILDE],
                    const mldsa_poly z[MLDSA_L], const mldsa_poly h[MLDSA_K])
{
    uint8_t *p = sig;
    memcpy(p, ctilde, MLDSA_CTILDE);
    p += MLDSA_CTILDE;
    for (unsigned i = 0; i < MLDSA_L; i++, p += MLDSA_POLY_Z_BYTES)
        pack_z(p, &z[i]);
    /* Most groups of eight coefficients hold no hint: skip those with one test. At most omega
     * ones (the caller's guarantee); the bound check keeps the writes inside p regardless. */
    memset(p, 0, MLDSA_OMEGA + MLDSA_K);
    unsigned idx = 0;
    for (unsigned i = 0; i < MLDSA_K; i++) {
        for (unsigned g = 0; g < MLDSA_N; g += 8) {
            const int32_t *c = h[i].c + g;
            if ((c[0] | c[1] | c[2] | c[3] | c[4] | c[5] | c[6] | c[7]) == 0)
                continue;
            for (unsigned j = g; j < g + 8; j++)
                if (h[i].c[j] != 0 && idx < MLDSA_OMEGA)
                    p[idx++] = (uint8_t)j;
        }
        p[MLDSA_OMEGA + i] = (uint8_t)idx;
    }
}

/* sigDecode (Alg. 27) and HintBitUnpack (Alg. 21). Every check of Alg. 21 is kept: each
 * cumulative count is at most omega and not below the previous one, the indices within a
 * polynomial strictly increase, and the unused index bytes are zero. Together they make the
 * encoding of a hint unique (strong unforgeability). The bytes are untrusted. */
int mldsa_unpack_sig(const mldsa_backend *b, uint8_t ctilde[MLDSA_CTILDE], mldsa_poly z[MLDSA_L],
                     mldsa_poly h[MLDSA_K], const uint8_t sig[MLDSA_SIG_BYTES])
{
    const uint8_t *p = sig;
    memcpy(ctilde, p, MLDSA_CTILDE);
    p += MLDSA_CTILDE;
    for (unsigned i = 0; i < MLDSA_L; i++, p += MLDSA_POLY_Z_BYTES)
        b->unpack_z(&z[i], p);

    memset(h, 0, sizeof(mldsa_poly) * MLDSA_K);
    unsigned idx = 0;
    for (unsigned i = 0; i < MLDSA_K; i++) {
        unsigned end = p[MLDSA_OMEGA + i];
        if (end < idx || end > MLDSA_OMEGA)
            return -1;
        unsigned first = idx;
        for (; idx < end; idx++) {
            if (idx > first && p[idx - 1] >= p[idx])
                return -1;
            h[i].c[p[idx]] = 1;
        }
    }
    for (; idx < MLDSA_OMEGA; idx++)
        if (p[idx] != 0)
            return -1;
    return 0;
}

/* w1Encode (Alg. 28): SimpleBitPack(w1[i], 43), 6 bits each: eight coefficients in 6 bytes. */
void mldsa_pack_w1(uint8_t out[MLDSA_K * MLDSA_POLY_W1_BYTES], const mldsa_poly w1[MLDSA_K])
{
    for (unsigned i = 0; i < MLDSA_K; i++) {
        const int32_t *c = w1[i].c;
        uint8_t *o = out + i * MLDSA_POLY_W1_BYTES;
        for (unsigned g = 0; g < MLDSA_N / 8; g++, c += 8, o += 6) {
            uint64_t v = 0;
            for (unsigned k = 0; k < 8; k++)
                v |= (uint64_t)(uint32_t)c[k] << (6 * k);
            for (unsigned k = 0; k < 6; k++)
                o[k] = (uint8_t)(v >> (8 * k));
        }
    }
}
