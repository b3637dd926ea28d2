/* Hybrid KEM X25519 + ML-KEM-768 (docs/crypto.md §1).
 *
 *   ss = BLAKE3.derive_key("zhtp 2026-11 hybrid-kem v1",
 *                          x25519_ss || mlkem_ss || ct_x || ct_m || pk_x || pk_m)
 *
 * Every input has a fixed length, so the concatenation is unambiguous. Binding both
 * ciphertexts and both public keys keeps the combined secret a secure KEM if EITHER half is:
 * X25519 alone is not a KEM with ciphertext binding, and re-using a half with another partner
 * changes the hash input. */
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "zhtp/blake3.h"
#include "zhtp/ct.h"
#include "zhtp/hybrid.h"
#include "zhtp/util.h"

/* ML-KEM-768 dk = dk_PKE(1152) || ek(1184) || H(ek)(32) || z(32): the public key sits in it. */
#define MLKEM_DK_EK_OFFSET 1152

static void combine(uint8_t ss[ZHTP_KEM_HYBRID_SSBYTES], const uint8_t x_ss[32],
                    const uint8_t m_ss[ZHTP_MLKEM768_SSBYTES],
                    const uint8_t ct[ZHTP_KEM_HYBRID_CIPHERTEXTBYTES], const uint8_t pk_x[32],
                    const uint8_t pk_m[ZHTP_MLKEM768_PUBLICKEYBYTES])
{
    zhtp_blake3 h;
    zhtp_blake3_init_derive_key(&h, ZHTP_KEM_HYBRID_CONTEXT);
    zhtp_blake3_update(&h, x_ss, 32);
    zhtp_blake3_update(&h, m_ss, ZHTP_MLKEM768_SSBYTES);
    zhtp_blake3_update(&h, ct, ZHTP_KEM_HYBRID_CIPHERTEXTBYTES);
    zhtp_blake3_update(&h, pk_x, 32);
    zhtp_blake3_update(&h, pk_m, ZHTP_MLKEM768_PUBLICKEYBYTES);
    zhtp_blake3_final(&h, ss, ZHTP_KEM_HYBRID_SSBYTES);
    zhtp_wipe(&h, sizeof h); /* the hasher's buffer held both secrets */
}

int zhtp_kem_hybrid_keypair_from_seed(uint8_t pk[ZHTP_KEM_HYBRID_PUBLICKEYBYTES],
                                      uint8_t sk[ZHTP_KEM_HYBRID_SECRETKEYBYTES],
                                      const uint8_t seed[ZHTP_KEM_HYBRID_SEEDBYTES])
{
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    memcpy(sk, seed, 32);
    crypto_scalarmult_base(pk, sk); /* clamps internally; the stored sk stays the seed */
    return zhtp_kem_mlkem768_keypair_from_seed(pk + 32, sk + 32, seed + 32, seed + 64);
}

int zhtp_kem_hybrid_keypair(uint8_t pk[ZHTP_KEM_HYBRID_PUBLICKEYBYTES],
                            uint8_t sk[ZHTP_KEM_HYBRID_SECRETKEYBYTES])
{
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    uint8_t seed[ZHTP_KEM_HYBRID_SEEDBYTES];
    randombytes_buf(seed, sizeof seed);
    int rc = zhtp_kem_hybrid_keypair_from_seed(pk, sk, seed);
    zhtp_wipe(seed, sizeof seed);
    return rc;
}

/* True when the X25519 public value is of small order (including the twist's): then every
 * shared secret with it is the all-zero string, known to anyone. The value is public. */
static bool x25519_small_order(const uint8_t pk[32])
{
    static const uint8_t probe[32] = {0x5a, 0x5a, 0x5a, 0x5a}; /* any scalar: clamping makes
                                                                  it a multiple of 8 */
    uint8_t out[32];
    int bad = crypto_scalarmult(out, probe, pk) != 0;
    zhtp_wipe(out, sizeof out);
    return bad;
}

int zhtp_kem_hybrid_pk_parse(uint8_t out[ZHTP_KEM_HYBRID_PUBLICKEYBYTES], const uint8_t *in,
                             size_t len)
{
    if (!in || len != ZHTP_KEM_HYBRID_PUBLICKEYBYTES)
        return ZHTP_ERR_CRYPTO_LENGTH;
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    if (x25519_small_order(in) || zhtp_kem_mlkem768_check_pk(in + 32) != ZHTP_OK)
        return ZHTP_ERR_CRYPTO_BADKEY;
    if (out)
        memmove(out, in, ZHTP_KEM_HYBRID_PUBLICKEYBYTES);
    return ZHTP_OK;
}

int zhtp_kem_hybrid_encaps_from_seed(uint8_t ct[ZHTP_KEM_HYBRID_CIPHERTEXTBYTES],
                                     uint8_t ss[ZHTP_KEM_HYBRID_SSBYTES],
                                     const uint8_t pk[ZHTP_KEM_HYBRID_PUBLICKEYBYTES],
                                     const uint8_t seed[ZHTP_KEM_HYBRID_ENCAPS_SEEDBYTES])
{
    uint8_t x_ss[32], m_ss[ZHTP_MLKEM768_SSBYTES];
    int rc = ZHTP_ERR_CRYPTO_INIT;
    if (sodium_init() < 0)
        goto out;
    /* ct_x: the ephemeral X25519 public value. */
    crypto_scalarmult_base(ct, seed);
    /* Rejects an all-zero result: the peer's X25519 value is of small order. Whether that
     * happens depends only on the public pk, so the outcome is declassified. */
    int x_bad = crypto_scalarmult(x_ss, seed, pk) != 0;
    ZHTP_CT_DECLASSIFY(&x_bad, sizeof x_bad);
    if (x_bad) {
        rc = ZHTP_ERR_CRYPTO_BADKEY;
        goto out;
    }
    rc = zhtp_kem_mlkem768_encaps_from_seed(ct + 32, m_ss, pk + 32, seed + 32);
    if (rc != ZHTP_OK)
        goto out;
    combine(ss, x_ss, m_ss, ct, pk, pk + 32);
out:
    zhtp_wipe(x_ss, sizeof x_ss);
    zhtp_wipe(m_ss, sizeof m_ss);
    if (rc != ZHTP_OK) {
        zhtp_wipe(ct, ZHTP_KEM_HYBRID_CIPHERTEXTBYTES);
        zhtp_wipe(ss, ZHTP_KEM_HYBRID_SSBYTES);
    }
    return rc;
}

int zhtp_kem_hybrid_encaps(uint8_t ct[ZHTP_KEM_HYBRID_CIPHERTEXTBYTES],
                           uint8_t ss[ZHTP_KEM_HYBRID_SSBYTES],
                           const uint8_t pk[ZHTP_KEM_HYBRID_PUBLICKEYBYTES])
{
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    uint8_t seed[ZHTP_KEM_HYBRID_ENCAPS_SEEDBYTES];
    randombytes_buf(seed, sizeof seed);
    int rc = zhtp_kem_hybrid_encaps_from_seed(ct, ss, pk, seed);
    zhtp_wipe(seed, sizeof seed);
    return rc;
}

int zhtp_kem_hybrid_decaps(uint8_t ss[ZHTP_KEM_HYBRID_SSBYTES], const uint8_t *ct, size_t ct_len,
                           const uint8_t sk[ZHTP_KEM_HYBRID_SECRETKEYBYTES])
{
    uint8_t x_ss[32], m_ss[ZHTP_MLKEM768_SSBYTES], pk_x[32];
    int rc = ZHTP_ERR_CRYPTO_LENGTH;
    if (!ct || ct_len != ZHTP_KEM_HYBRID_CIPHERTEXTBYTES)
        goto out;
    rc = ZHTP_ERR_CRYPTO_INIT;
    if (sodium_init() < 0)
        goto out;
    crypto_scalarmult_base(pk_x, sk);
    /* Untrusted ct_x. Zero output depends only on ct_x being of small order, which is public,
     * so this branch leaks nothing about sk. */
    int x_bad = crypto_scalarmult(x_ss, sk, ct) != 0;
    ZHTP_CT_DECLASSIFY(&x_bad, sizeof x_bad);
    if (x_bad) {
        rc = ZHTP_ERR_CRYPTO_BADKEY;
        goto out;
    }
    rc = zhtp_kem_mlkem768_decaps(m_ss, ct + 32, sk + 32);
    if (rc != ZHTP_OK)
        goto out;
    combine(ss, x_ss, m_ss, ct, pk_x, sk + 32 + MLKEM_DK_EK_OFFSET);
out:
    zhtp_wipe(x_ss, sizeof x_ss);
    zhtp_wipe(m_ss, sizeof m_ss);
    if (rc != ZHTP_OK)
        zhtp_wipe(ss, ZHTP_KEM_HYBRID_SSBYTES);
    return rc;
}
