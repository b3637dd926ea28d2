/* HashML-DSA (FIPS 204 §5.4, Alg. 4/5): the message is hashed first and
 * M' = 1 || len(ctx) || ctx || OID || PH(M) is signed with Sign_internal. The hashes come from
 * keccak.h (SHA3, SHAKE) and libsodium (SHA2-256, SHA2-512). SHA2-224, SHA2-384 and
 * SHA2-512/t are, by FIPS 180-4, the SHA2-256/512 compression started from another initial
 * value and truncated: libsodium's state structs are public (crypto_hash_sha*.h), so we
 * initialise them, replace the eight chaining words with the FIPS 180-4 §5.3 values, and
 * truncate the output. Checked against Python's hashlib and by the ACVP pre-hash vectors. */
#include <string.h>

#include <sodium.h>

#include "zhtp/mldsa.h"
#include "zhtp/util.h"
#include "keccak.h"
#include "mldsa_internal.h"

#define OID_BYTES 11
#define PH_MAX    64

static const uint32_t iv_sha224[8] = {0xc1059ed8u, 0x367cd507u, 0x3070dd17u, 0xf70e5939u,
                                      0xffc00b31u, 0x68581511u, 0x64f98fa7u, 0xbefa4fa4u};
static const uint64_t iv_sha384[8] = {0xcbbb9d5dc1059ed8u, 0x629a292a367cd507u, 0x9159015a3070dd17u,
                                      0x152fecd8f70e5939u, 0x67332667ffc00b31u, 0x8eb44a8768581511u,
                                      0xdb0c2e0d64f98fa7u, 0x47b5481dbefa4fa4u};
static const uint64_t iv_sha512_224[8] = {
    0x8c3d37c819544da2u, 0x73e1996689dcd4d6u, 0x1dfab7ae32ff9c82u, 0x679dd514582f9fcfu,
    0x0f6d2b697bd44da8u, 0x77e36f7304c48942u, 0x3f9d85a86a1d36c8u, 0x1112e6ad91d692a1u};
static const uint64_t iv_sha512_256[8] = {
    0x22312194fc2bf72cu, 0x9f555fa3c84c64c2u, 0x2393b86b6f53b151u, 0x963877195940eabdu,
    0x96283ee2a88effe3u, 0xbe5e1e2553863992u, 0x2b0199fc2c85b8aau, 0x0eb72ddc81c52ca2u};

static void sha512_from_iv(uint8_t *out, size_t out_len, const uint64_t iv[8], const uint8_t *msg,
                           size_t msg_len)
{
    crypto_hash_sha512_state st;
    uint8_t full[64];
    crypto_hash_sha512_init(&st);
    memcpy(st.state, iv, sizeof st.state);
    crypto_hash_sha512_update(&st, msg, msg_len);
    crypto_hash_sha512_final(&st, full);
    memcpy(out, full, out_len);
}

static void sha224(uint8_t out[28], const uint8_t *msg, size_t msg_len)
{
    crypto_hash_sha256_state st;
    uint8_t full[32];
    crypto_hash_sha256_init(&st);
    memcpy(st.state, iv_sha224, sizeof st.state);
    crypto_hash_sha256_update(&st, msg, msg_len);
    crypto_hash_sha256_final(&st, full);
    memcpy(out, full, 28);
}

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
        sha224(d, msg, msg_len);
        d_len = 28;
        break;
    case ZHTP_MLDSA_PH_SHA2_384:
        sha512_from_iv(d, 48, iv_sha384, msg, msg_len);
        d_len = 48;
        break;
    case ZHTP_MLDSA_PH_SHA2_512_224:
        sha512_from_iv(d, 28, iv_sha512_224, msg, msg_len);
        d_len = 28;
        break;
    case ZHTP_MLDSA_PH_SHA2_512_256:
        sha512_from_iv(d, 32, iv_sha512_256, msg, msg_len);
        d_len = 32;
        break;
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
    return mldsa_sign_mu(sig, NULL, prefix, 2, ctx, ctx_len, tail, (size_t)n, rnd, sk,
                         MLDSA_MAX_ATTEMPTS);
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
