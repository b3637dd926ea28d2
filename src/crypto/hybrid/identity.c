/* Node identity (docs/crypto.md §3): seeds -> hybrid signing key + hybrid KEM key -> public
 * identity encoding -> node id. */
#include <string.h>

#include <sodium.h>

#include "zhtp/blake3.h"
#include "zhtp/identity.h"
#include "zhtp/util.h"

struct zhtp_identity {
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES];
    uint8_t sig_sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES];
    uint8_t kem_sk[ZHTP_KEM_HYBRID_SECRETKEYBYTES];
    zhtp_identity_public pub;
};

int zhtp_identity_from_seed(zhtp_identity **out, const uint8_t seed[ZHTP_IDENTITY_SEEDBYTES])
{
    if (!out)
        return ZHTP_ERR_INVAL;
    *out = NULL;
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    /* Guard pages, mlock'd (best effort), wiped by sodium_free. */
    zhtp_identity *id = sodium_malloc(sizeof *id);
    if (!id)
        return ZHTP_ERR_NOMEM;
    memcpy(id->seed, seed, ZHTP_IDENTITY_SEEDBYTES);
    int rc = zhtp_sign_hybrid_keypair_from_seed(id->pub.sig_pk, id->sig_sk, id->seed);
    if (rc == ZHTP_OK)
        rc = zhtp_kem_hybrid_keypair_from_seed(id->pub.kem_pk, id->kem_sk,
                                               id->seed + ZHTP_SIGN_HYBRID_SEEDBYTES);
    if (rc != ZHTP_OK) {
        sodium_free(id);
        return rc;
    }
    uint8_t enc[ZHTP_IDENTITY_PUBLIC_BYTES];
    zhtp_identity_public_encode(enc, sizeof enc, &id->pub);
    zhtp_identity_node_id(id->pub.node_id, enc, sizeof enc);
    /* Built once, never written again: a stray write now faults instead of corrupting keys. */
    sodium_mprotect_readonly(id);
    *out = id;
    return ZHTP_OK;
}

int zhtp_identity_generate(zhtp_identity **out)
{
    if (!out)
        return ZHTP_ERR_INVAL;
    *out = NULL;
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES];
    randombytes_buf(seed, sizeof seed);
    int rc = zhtp_identity_from_seed(out, seed);
    zhtp_wipe(seed, sizeof seed);
    return rc;
}

void zhtp_identity_free(zhtp_identity *id)
{
    if (!id)
        return;
    sodium_mprotect_readwrite(id);
    sodium_free(id); /* zeroes the whole allocation before unmapping */
}

const zhtp_identity_public *zhtp_identity_get_public(const zhtp_identity *id)
{
    return &id->pub;
}

void zhtp_identity_export_seed(const zhtp_identity *id, uint8_t seed[ZHTP_IDENTITY_SEEDBYTES])
{
    memcpy(seed, id->seed, ZHTP_IDENTITY_SEEDBYTES);
}

int zhtp_identity_sign(const zhtp_identity *id, uint8_t sig[ZHTP_SIGN_HYBRID_BYTES],
                       const uint8_t *msg, size_t msg_len, const uint8_t *ctx, size_t ctx_len)
{
    return zhtp_sign_hybrid_sign(sig, msg, msg_len, ctx, ctx_len, id->sig_sk);
}

int zhtp_identity_sign_deterministic(const zhtp_identity *id, uint8_t sig[ZHTP_SIGN_HYBRID_BYTES],
                                     const uint8_t *msg, size_t msg_len, const uint8_t *ctx,
                                     size_t ctx_len)
{
    return zhtp_sign_hybrid_sign_deterministic(sig, msg, msg_len, ctx, ctx_len, id->sig_sk);
}

int zhtp_identity_sign_from_seed(const zhtp_identity *id, uint8_t sig[ZHTP_SIGN_HYBRID_BYTES],
                                 const uint8_t *msg, size_t msg_len, const uint8_t *ctx,
                                 size_t ctx_len, const uint8_t rnd[ZHTP_MLDSA44_RNDBYTES])
{
    return zhtp_sign_hybrid_sign_from_seed(sig, msg, msg_len, ctx, ctx_len, id->sig_sk, rnd);
}

int zhtp_identity_decaps(const zhtp_identity *id, uint8_t ss[ZHTP_KEM_HYBRID_SSBYTES],
                         const uint8_t *ct, size_t ct_len)
{
    return zhtp_kem_hybrid_decaps(ss, ct, ct_len, id->kem_sk);
}

zhtp_ssize zhtp_identity_public_encode(uint8_t *out, size_t cap, const zhtp_identity_public *pub)
{
    if (!out || cap < ZHTP_IDENTITY_PUBLIC_BYTES)
        return ZHTP_ERR_NOBUF;
    out[0] = ZHTP_IDENTITY_VERSION;
    memcpy(out + 1, pub->sig_pk, ZHTP_SIGN_HYBRID_PUBLICKEYBYTES);
    memcpy(out + 1 + ZHTP_SIGN_HYBRID_PUBLICKEYBYTES, pub->kem_pk, ZHTP_KEM_HYBRID_PUBLICKEYBYTES);
    return ZHTP_IDENTITY_PUBLIC_BYTES;
}

void zhtp_identity_node_id(uint8_t node_id[ZHTP_NODE_ID_BYTES], const uint8_t *pub_enc, size_t len)
{
    zhtp_blake3_derive_key(node_id, ZHTP_NODE_ID_BYTES, ZHTP_IDENTITY_NODE_ID_CONTEXT, pub_enc,
                           len);
}

int zhtp_identity_public_decode(zhtp_identity_public *out, const uint8_t *in, size_t len)
{
    int rc = ZHTP_ERR_CRYPTO_LENGTH;
    if (!out)
        return ZHTP_ERR_INVAL;
    if (!in || len != ZHTP_IDENTITY_PUBLIC_BYTES)
        goto fail;
    rc = ZHTP_ERR_UNSUPPORTED;
    if (in[0] != ZHTP_IDENTITY_VERSION)
        goto fail;
    /* Untrusted keys: each half gets its own check. */
    rc = zhtp_sign_hybrid_pk_parse(out->sig_pk, in + 1, ZHTP_SIGN_HYBRID_PUBLICKEYBYTES);
    if (rc != ZHTP_OK)
        goto fail;
    rc = zhtp_kem_hybrid_pk_parse(out->kem_pk, in + 1 + ZHTP_SIGN_HYBRID_PUBLICKEYBYTES,
                                  ZHTP_KEM_HYBRID_PUBLICKEYBYTES);
    if (rc != ZHTP_OK)
        goto fail;
    zhtp_identity_node_id(out->node_id, in, len);
    return ZHTP_OK;
fail:
    memset(out, 0, sizeof *out);
    return rc;
}

int zhtp_identity_check_node_id(zhtp_identity_public *out, const uint8_t *pub_enc, size_t len,
                                const uint8_t expected_id[ZHTP_NODE_ID_BYTES])
{
    zhtp_identity_public tmp;
    zhtp_identity_public *p = out ? out : &tmp;
    int rc = zhtp_identity_public_decode(p, pub_enc, len);
    if (rc != ZHTP_OK)
        return rc;
    /* Public values; constant time anyway, it costs nothing. */
    if (zhtp_ct_memcmp(p->node_id, expected_id, ZHTP_NODE_ID_BYTES) != 0) {
        memset(p, 0, sizeof *p);
        return ZHTP_ERR_CRYPTO_ID_MISMATCH;
    }
    return ZHTP_OK;
}
