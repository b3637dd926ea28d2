/* Hybrid signature Ed25519 + ML-DSA-44 (docs/crypto.md §2).
 *
 *   ph  = BLAKE3.derive_key("zhtp 2026-11 hybrid-sig pk v1", ed25519_pk || mldsa_pk)
 *   M'' = "zhtp 2026-11 hybrid-sig v1" || ph || len(ctx) (1 byte) || ctx || msg
 *   sig = Ed25519.Sign(M'') || ML-DSA-44.Sign(M'', ctx)
 *
 * Both halves sign the same M'', and M'' names the whole hybrid key, so a half cannot be cut
 * from one hybrid signature and glued to another key's half: the other key's ph differs. The
 * domain string keeps a half from passing as a signature of any other zhtp message format. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "zhtp/blake3.h"
#include "zhtp/hybrid.h"
#include "zhtp/util.h"

#define DOMAIN_LEN (sizeof ZHTP_SIGN_HYBRID_DOMAIN - 1)
#define PH_LEN     32
#define OFF_ED_SK  0
#define OFF_ML_SK  ZHTP_ED25519_SECRETKEYBYTES
#define OFF_ML_PK  (ZHTP_ED25519_SECRETKEYBYTES + ZHTP_MLDSA44_SECRETKEYBYTES)

/* Assembles M'' in a fresh heap buffer (freed by the caller), after |pre| spare bytes where
 * the signer puts FIPS 204's M' prefix. *out points at M''. NULL on allocation failure. */
static uint8_t *build_mpp(uint8_t **out, size_t *out_len, size_t pre,
                          const uint8_t pk[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES], const uint8_t *msg,
                          size_t msg_len, const uint8_t *ctx, size_t ctx_len)
{
    size_t head = DOMAIN_LEN + PH_LEN + 1 + ctx_len;
    if (msg_len > SIZE_MAX - head - pre - 1)
        return NULL;
    uint8_t *buf = malloc(pre + head + msg_len + 1); /* +1: never malloc(0) */
    if (!buf)
        return NULL;
    uint8_t *m = buf + pre;
    memcpy(m, ZHTP_SIGN_HYBRID_DOMAIN, DOMAIN_LEN);
    zhtp_blake3_derive_key(m + DOMAIN_LEN, PH_LEN, ZHTP_SIGN_HYBRID_PK_CONTEXT, pk,
                           ZHTP_SIGN_HYBRID_PUBLICKEYBYTES);
    m[DOMAIN_LEN + PH_LEN] = (uint8_t)ctx_len;
    if (ctx_len)
        memcpy(m + DOMAIN_LEN + PH_LEN + 1, ctx, ctx_len);
    if (msg_len)
        memcpy(m + head, msg, msg_len);
    *out = m;
    *out_len = head + msg_len;
    return buf;
}

int zhtp_sign_hybrid_keypair_from_seed(uint8_t pk[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES],
                                       uint8_t sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES],
                                       const uint8_t seed[ZHTP_SIGN_HYBRID_SEEDBYTES])
{
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    crypto_sign_ed25519_seed_keypair(pk, sk + OFF_ED_SK, seed);
    int rc = zhtp_sign_mldsa44_keypair_from_seed(pk + ZHTP_ED25519_PUBLICKEYBYTES, sk + OFF_ML_SK,
                                                 seed + ZHTP_ED25519_SEEDBYTES);
    memcpy(sk + OFF_ML_PK, pk + ZHTP_ED25519_PUBLICKEYBYTES, ZHTP_MLDSA44_PUBLICKEYBYTES);
    return rc;
}

int zhtp_sign_hybrid_keypair(uint8_t pk[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES],
                             uint8_t sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES])
{
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    uint8_t seed[ZHTP_SIGN_HYBRID_SEEDBYTES];
    randombytes_buf(seed, sizeof seed);
    int rc = zhtp_sign_hybrid_keypair_from_seed(pk, sk, seed);
    zhtp_wipe(seed, sizeof seed);
    return rc;
}

int zhtp_sign_hybrid_pk_parse(uint8_t out[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES], const uint8_t *in,
                              size_t len)
{
    if (!in || len != ZHTP_SIGN_HYBRID_PUBLICKEYBYTES)
        return ZHTP_ERR_CRYPTO_LENGTH;
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    /* Canonical, on the curve, in the prime-order subgroup, not of small order. */
    if (!crypto_core_ed25519_is_valid_point(in))
        return ZHTP_ERR_CRYPTO_BADKEY;
    if (out)
        memmove(out, in, ZHTP_SIGN_HYBRID_PUBLICKEYBYTES);
    return ZHTP_OK;
}

int zhtp_sign_hybrid_sign_from_seed(uint8_t sig[ZHTP_SIGN_HYBRID_BYTES], const uint8_t *msg,
                                    size_t msg_len, const uint8_t *ctx, size_t ctx_len,
                                    const uint8_t sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES],
                                    const uint8_t rnd[ZHTP_MLDSA44_RNDBYTES])
{
    int rc = ZHTP_ERR_INVAL;
    uint8_t *buf = NULL, *mpp = NULL;
    size_t mpp_len = 0;
    if (ctx_len > ZHTP_SIGN_HYBRID_CTX_MAX || (!ctx && ctx_len) || (!msg && msg_len))
        goto out;
    rc = ZHTP_ERR_CRYPTO_INIT;
    if (sodium_init() < 0)
        goto out;
    uint8_t pk[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES];
    memcpy(pk, sk + OFF_ED_SK + ZHTP_ED25519_SEEDBYTES, ZHTP_ED25519_PUBLICKEYBYTES);
    memcpy(pk + ZHTP_ED25519_PUBLICKEYBYTES, sk + OFF_ML_PK, ZHTP_MLDSA44_PUBLICKEYBYTES);
    rc = ZHTP_ERR_NOMEM;
    /* One buffer serves both halves: Ed25519 signs M''; ML-DSA signs
     * M' = 0 || len(ctx) || ctx || M'' (FIPS 204 Alg. 2, pure), built in front of it. */
    size_t pre = 2 + ctx_len;
    buf = build_mpp(&mpp, &mpp_len, pre, pk, msg, msg_len, ctx, ctx_len);
    if (!buf)
        goto out;
    buf[0] = 0;
    buf[1] = (uint8_t)ctx_len;
    if (ctx_len)
        memcpy(buf + 2, ctx, ctx_len);
    crypto_sign_ed25519_detached(sig, NULL, mpp, mpp_len, sk + OFF_ED_SK);
    rc = zhtp_sign_mldsa44_sign_internal(sig + ZHTP_ED25519_BYTES, buf, pre + mpp_len, rnd,
                                         sk + OFF_ML_SK);
out:
    free(buf); /* M' is the public message: nothing to wipe */
    if (rc != ZHTP_OK)
        zhtp_wipe(sig, ZHTP_SIGN_HYBRID_BYTES);
    return rc;
}

int zhtp_sign_hybrid_sign(uint8_t sig[ZHTP_SIGN_HYBRID_BYTES], const uint8_t *msg, size_t msg_len,
                          const uint8_t *ctx, size_t ctx_len,
                          const uint8_t sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES])
{
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    uint8_t rnd[ZHTP_MLDSA44_RNDBYTES];
    randombytes_buf(rnd, sizeof rnd);
    int rc = zhtp_sign_hybrid_sign_from_seed(sig, msg, msg_len, ctx, ctx_len, sk, rnd);
    zhtp_wipe(rnd, sizeof rnd);
    return rc;
}

int zhtp_sign_hybrid_sign_deterministic(uint8_t sig[ZHTP_SIGN_HYBRID_BYTES], const uint8_t *msg,
                                        size_t msg_len, const uint8_t *ctx, size_t ctx_len,
                                        const uint8_t sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES])
{
    static const uint8_t zero[ZHTP_MLDSA44_RNDBYTES] = {0};
    return zhtp_sign_hybrid_sign_from_seed(sig, msg, msg_len, ctx, ctx_len, sk, zero);
}

int zhtp_sign_hybrid_verify(const uint8_t *sig, size_t sig_len, const uint8_t *msg, size_t msg_len,
                            const uint8_t *ctx, size_t ctx_len, const uint8_t *pk, size_t pk_len)
{
    if (!sig || sig_len != ZHTP_SIGN_HYBRID_BYTES || !pk ||
        pk_len != ZHTP_SIGN_HYBRID_PUBLICKEYBYTES)
        return ZHTP_ERR_CRYPTO_LENGTH;
    if (ctx_len > ZHTP_SIGN_HYBRID_CTX_MAX || (!ctx && ctx_len) || (!msg && msg_len))
        return ZHTP_ERR_INVAL;
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    size_t mpp_len = 0;
    uint8_t *mpp = NULL;
    uint8_t *buf = build_mpp(&mpp, &mpp_len, 0, pk, msg, msg_len, ctx, ctx_len);
    if (!buf)
        return ZHTP_ERR_NOMEM;
    /* Both halves always run: the result must not depend on which one an attacker broke. */
    int ed_bad = crypto_sign_ed25519_verify_detached(sig, mpp, mpp_len, pk) != 0;
    int ml_bad =
        zhtp_sign_mldsa44_verify(sig + ZHTP_ED25519_BYTES, ZHTP_MLDSA44_BYTES, mpp, mpp_len, ctx,
                                 ctx_len, pk + ZHTP_ED25519_PUBLICKEYBYTES) != ZHTP_OK;
    free(buf);
    return ed_bad | ml_bad ? ZHTP_ERR_CRYPTO_VERIFY : ZHTP_OK;
}
