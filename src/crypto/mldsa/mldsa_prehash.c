/* HashML-DSA (FIPS 204 §5.4, Alg. 4/5): the message is hashed first and
 * M' = 1 || len(ctx) || ctx || OID || PH(M) is signed with Sign_internal. The hashes come from
 * keccak.h (SHA3, SHAKE) and libsodium (SHA2-256, SHA2-512). */
#include <string.h>

#include <sodium.h>

#include "zhtp/mldsa.h"
#include "zhtp/util.h"
#include "keccak.h"
#include "mldsa_internal.h"

#define OID_BYTES 11
#define PH_MAX    64

/* Writes OID || PH(msg) to out; returns its length, or a negative zhtp_err. */
static int oid_and_digest(uint8_t out[OID_BYTES + PH_MAX], zhtp_mldsa_prehash ph,
                          const uint8_t *msg, size_t msg_len)
{
    /* DER of 2.16.840.1.101.3.4.2.x: 06 09 60 86 48 01 65 03 04 02 x */
    static const uint8_t oid_prefix[OID_BYTES - 1] = {0x06, 0x09, 0x60, 0x86, 0x48,
                                                      0x01, 0x65, 0x03, 0x04, 0x02};
    uint8_t *d = out + OID_BYTES;
    size_t d_len;
    unsigned sha3_rate = 0;
    switch (ph) {
    case ZHTP_MLDSA_PH_SHA2_256:
        crypto_hash_sha256(d, msg, msg_len);
        d_len = 32;
        break;
    case ZHTP_MLDSA_PH_SHA2_512:
        crypto_hash_sha512(d, msg, msg_len);
        d_len = 64;
        break;
    case ZHTP_MLDSA_PH_SHA3_224:
        sha3_rate = 144, d_len = 28;
        break;
    case ZHTP_MLDSA_PH_SHA3_256:
        sha3_rate = 136, d_len = 32;
        break;
    case ZHTP_MLDSA_PH_SHA3_384:
        sha3_rate = 104, d_len = 48;
        break;
    case ZHTP_MLDSA_PH_SHA3_512:
        sha3_rate = 72, d_len = 64;
        break;
    case ZHTP_MLDSA_PH_SHAKE128:
        zhtp_shake128(d, 32, msg, msg_len);
        d_len = 32;
        break;
    case ZHTP_MLDSA_PH_SHAKE256:
        zhtp_shake256(d, 64, msg, msg_len);
        d_len = 64;
        break;
    case ZHTP_MLDSA_PH_SHA2_224:
    case ZHTP_MLDSA_PH_SHA2_384:
    case ZHTP_MLDSA_PH_SHA2_512_224:
    case ZHTP_MLDSA_PH_SHA2_512_256:
        return ZHTP_ERR_UNSUPPORTED;
    default:
        return ZHTP_ERR_INVAL;
    }
    if (sha3_rate) {
        /* SHA3-d: rate 200 - 2 d/8 bytes, domain bits 01 (FIPS 202 §6.1) */
        zhtp_keccak k;
        zhtp_keccak_init(&k, sha3_rate);
        if (msg_len)
            zhtp_keccak_absorb(&k, msg, msg_len);
        zhtp_keccak_finalize(&k, 0x06);
        zhtp_keccak_squeeze(&k, d, d_len);
    }
    memcpy(out, oid_prefix, sizeof oid_prefix);
    out[OID_BYTES - 1] = (uint8_t)ph;
    return (int)(OID_BYTES + d_len);
}

int zhtp_sign_mldsa44_prehash_sign_rnd(uint8_t sig[ZHTP_MLDSA44_BYTES], const uint8_t *msg,
                                       size_t msg_len, const uint8_t *ctx, size_t ctx_len,
                                       zhtp_mldsa_prehash ph,
                                       const uint8_t rnd[ZHTP_MLDSA44_RNDBYTES],
                                       const uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES])
{
    uint8_t tail[OID_BYTES + PH_MAX];
    if (ctx_len > ZHTP_MLDSA44_CTX_MAX || (!ctx && ctx_len) || (!msg && msg_len) || !rnd)
        return ZHTP_ERR_INVAL;
    int n = oid_and_digest(tail, ph, msg, msg_len);
    if (n < 0)
        return n;
    const uint8_t prefix[2] = {1, (uint8_t)ctx_len};
    mldsa_sign_mu(sig, NULL, prefix, 2, ctx, ctx_len, tail, (size_t)n, rnd, sk);
    return ZHTP_OK;
}

int zhtp_sign_mldsa44_prehash_sign(uint8_t sig[ZHTP_MLDSA44_BYTES], const uint8_t *msg,
                                   size_t msg_len, const uint8_t *ctx, size_t ctx_len,
                                   zhtp_mldsa_prehash ph,
                                   const uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES])
{
    uint8_t rnd[ZHTP_MLDSA44_RNDBYTES];
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    randombytes_buf(rnd, sizeof rnd);
    int rc = zhtp_sign_mldsa44_prehash_sign_rnd(sig, msg, msg_len, ctx, ctx_len, ph, rnd, sk);
    zhtp_wipe(rnd, sizeof rnd);
    return rc;
}

int zhtp_sign_mldsa44_prehash_verify(const uint8_t *sig, size_t sig_len, const uint8_t *msg,
                                     size_t msg_len, const uint8_t *ctx, size_t ctx_len,
                                     zhtp_mldsa_prehash ph,
                                     const uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES])
{
    uint8_t tail[OID_BYTES + PH_MAX];
    if (ctx_len > ZHTP_MLDSA44_CTX_MAX || (!ctx && ctx_len) || (!msg && msg_len) || !pk)
        return ZHTP_ERR_INVAL;
    int n = oid_and_digest(tail, ph, msg, msg_len);
    if (n < 0)
        return n;
    if (!sig || sig_len != ZHTP_MLDSA44_BYTES)
        return ZHTP_ERR_CRYPTO_LENGTH;
    const uint8_t prefix[2] = {1, (uint8_t)ctx_len};
    return mldsa_verify_prefixed(sig, prefix, 2, ctx, ctx_len, tail, (size_t)n, pk);
}
