/* Node identity: a hybrid signing key pair (Ed25519 + ML-DSA-44) and a static hybrid KEM key
 * pair (X25519 + ML-KEM-768). The node id is BLAKE3 derive_key of the public identity encoding,
 * so it is self-certifying: whoever shows the public identity proves the id is theirs.
 *
 * The secret identity is its seeds (ZHTP_IDENTITY_SEEDBYTES), from which every key is re-derived;
 * a zhtp_identity keeps seeds and expanded keys in sodium_malloc memory (guard pages, locked,
 * read-only once built) and zhtp_identity_free wipes it. Formats: docs/crypto.md §3. */
#ifndef ZHTP_IDENTITY_H
#define ZHTP_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "zhtp/err.h"
#include "zhtp/hybrid.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZHTP_NODE_ID_BYTES            32
#define ZHTP_IDENTITY_VERSION         1
#define ZHTP_IDENTITY_NODE_ID_CONTEXT "zhtp 2026-11 node id v1"

/* Public identity encoding: version(1) || sig_pk(1344) || kem_pk(1216) = 2561 bytes. */
#define ZHTP_IDENTITY_PUBLIC_BYTES                                                                 \
    (1 + ZHTP_SIGN_HYBRID_PUBLICKEYBYTES + ZHTP_KEM_HYBRID_PUBLICKEYBYTES)

/* Secret identity = ed25519_seed(32) || mldsa_xi(32) || x25519_sk(32) || mlkem_d(32) ||
 * mlkem_z(32). */
#define ZHTP_IDENTITY_SEEDBYTES (ZHTP_SIGN_HYBRID_SEEDBYTES + ZHTP_KEM_HYBRID_SEEDBYTES)

/* A parsed public identity: plain data, may be copied. */
typedef struct zhtp_identity_public {
    uint8_t sig_pk[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES];
    uint8_t kem_pk[ZHTP_KEM_HYBRID_PUBLICKEYBYTES];
    uint8_t node_id[ZHTP_NODE_ID_BYTES];
} zhtp_identity_public;

typedef struct zhtp_identity zhtp_identity; /* opaque; secret */

/* Creates an identity from fresh randomness, or deterministically from seed. Returns ZHTP_OK,
 * ZHTP_ERR_NOMEM (sodium_malloc failed) or ZHTP_ERR_CRYPTO_INIT. *out is NULL on error. */
int zhtp_identity_generate(zhtp_identity **out);
int zhtp_identity_from_seed(zhtp_identity **out, const uint8_t seed[ZHTP_IDENTITY_SEEDBYTES]);
/* Wipes and frees. NULL is a no-op. */
void zhtp_identity_free(zhtp_identity *id);

/* The public half, borrowed until zhtp_identity_free. */
const zhtp_identity_public *zhtp_identity_get_public(const zhtp_identity *id);
/* Copies the secret seeds out (for the key file). The caller wipes them. */
void zhtp_identity_export_seed(const zhtp_identity *id, uint8_t seed[ZHTP_IDENTITY_SEEDBYTES]);

/* Signs with the identity's hybrid key (hedged), or deterministically (tests). Same contract
 * as zhtp_sign_hybrid_sign. */
int zhtp_identity_sign(const zhtp_identity *id, uint8_t sig[ZHTP_SIGN_HYBRID_BYTES],
                       const uint8_t *msg, size_t msg_len, const uint8_t *ctx, size_t ctx_len);
int zhtp_identity_sign_deterministic(const zhtp_identity *id, uint8_t sig[ZHTP_SIGN_HYBRID_BYTES],
                                     const uint8_t *msg, size_t msg_len, const uint8_t *ctx,
                                     size_t ctx_len);
/* With the ML-DSA randomness given (simulator, tests): see zhtp_sign_hybrid_sign_from_seed. */
int zhtp_identity_sign_from_seed(const zhtp_identity *id, uint8_t sig[ZHTP_SIGN_HYBRID_BYTES],
                                 const uint8_t *msg, size_t msg_len, const uint8_t *ctx,
                                 size_t ctx_len, const uint8_t rnd[ZHTP_MLDSA44_RNDBYTES]);
/* Decapsulates a ciphertext sent to the identity's static KEM key (zhtp_kem_hybrid_decaps). */
ZHTP_NODISCARD int zhtp_identity_decaps(const zhtp_identity *id,
                                        uint8_t ss[ZHTP_KEM_HYBRID_SSBYTES], const uint8_t *ct,
                                        size_t ct_len);

/* Writes the public identity encoding. Returns ZHTP_IDENTITY_PUBLIC_BYTES, or ZHTP_ERR_NOBUF
 * (nothing written). */
zhtp_ssize zhtp_identity_public_encode(uint8_t *out, size_t cap, const zhtp_identity_public *pub);

/* Parses an untrusted public identity encoding, strictly: ZHTP_ERR_CRYPTO_LENGTH (len is not
 * ZHTP_IDENTITY_PUBLIC_BYTES), ZHTP_ERR_UNSUPPORTED (unknown version byte),
 * ZHTP_ERR_CRYPTO_BADKEY (a key half fails its check, see zhtp_kem_hybrid_pk_parse and
 * zhtp_sign_hybrid_pk_parse). On ZHTP_OK *out is filled, node_id computed; on error *out is
 * zeroed. */
ZHTP_NODISCARD int zhtp_identity_public_decode(zhtp_identity_public *out, const uint8_t *in,
                                               size_t len);

/* The node id of a public identity encoding (no parsing; any bytes hash). */
void zhtp_identity_node_id(uint8_t node_id[ZHTP_NODE_ID_BYTES], const uint8_t *pub_enc, size_t len);

/* Parses pub_enc and checks it hashes to expected_id. ZHTP_OK, ZHTP_ERR_CRYPTO_ID_MISMATCH, or
 * an error of zhtp_identity_public_decode. out may be NULL. */
ZHTP_NODISCARD int zhtp_identity_check_node_id(zhtp_identity_public *out, const uint8_t *pub_enc,
                                               size_t len,
                                               const uint8_t expected_id[ZHTP_NODE_ID_BYTES]);

#ifdef __cplusplus
}
#endif
#endif
