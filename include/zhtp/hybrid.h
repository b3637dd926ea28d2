/* Hybrid post-quantum + classical primitives, so that a flaw in one half alone breaks nothing:
 *
 *   key exchange  X25519 + ML-KEM-768, both secrets, both ciphertexts and both public keys
 *                 combined by BLAKE3 derive_key;
 *   signatures    Ed25519 + ML-DSA-44 over one domain-separated message that binds the whole
 *                 hybrid public key; valid only when BOTH halves verify.
 *
 * The byte formats and the reasons for them are in docs/crypto.md. The classical halves are
 * libsodium's; the post-quantum halves are include/zhtp/mlkem.h and mldsa.h. Every entry point
 * calls sodium_init() itself (it is idempotent). Secret keys here are plain byte arrays owned by
 * the caller; long-lived ones belong in sodium_malloc memory (zhtp_identity does that). */
#ifndef ZHTP_HYBRID_H
#define ZHTP_HYBRID_H

#include <stddef.h>
#include <stdint.h>

#include "zhtp/err.h"
#include "zhtp/mldsa.h"
#include "zhtp/mlkem.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Hybrid KEM: X25519 + ML-KEM-768 -------------------------------------------------------- */

#define ZHTP_X25519_BYTES 32

/* pk = x25519_pk(32) || mlkem_ek(1184) */
#define ZHTP_KEM_HYBRID_PUBLICKEYBYTES (ZHTP_X25519_BYTES + ZHTP_MLKEM768_PUBLICKEYBYTES)
/* sk = x25519_sk(32) || mlkem_dk(2400); the public key is recoverable from it. */
#define ZHTP_KEM_HYBRID_SECRETKEYBYTES (ZHTP_X25519_BYTES + ZHTP_MLKEM768_SECRETKEYBYTES)
/* ct = x25519_ephemeral_pk(32) || mlkem_ct(1088) */
#define ZHTP_KEM_HYBRID_CIPHERTEXTBYTES (ZHTP_X25519_BYTES + ZHTP_MLKEM768_CIPHERTEXTBYTES)
#define ZHTP_KEM_HYBRID_SSBYTES         32
/* keypair seed = x25519_sk(32) || mlkem_d(32) || mlkem_z(32) */
#define ZHTP_KEM_HYBRID_SEEDBYTES 96
/* encaps seed = x25519_ephemeral_sk(32) || mlkem_m(32) */
#define ZHTP_KEM_HYBRID_ENCAPS_SEEDBYTES 64

/* The BLAKE3 derive_key context of the combiner (docs/crypto.md §1). */
#define ZHTP_KEM_HYBRID_CONTEXT "zhtp 2026-11 hybrid-kem v1"

/* Deterministic key generation. Returns ZHTP_OK, or ZHTP_ERR_CRYPTO_INIT. */
int zhtp_kem_hybrid_keypair_from_seed(uint8_t pk[ZHTP_KEM_HYBRID_PUBLICKEYBYTES],
                                      uint8_t sk[ZHTP_KEM_HYBRID_SECRETKEYBYTES],
                                      const uint8_t seed[ZHTP_KEM_HYBRID_SEEDBYTES]);
/* Key generation from libsodium's randombytes. */
int zhtp_kem_hybrid_keypair(uint8_t pk[ZHTP_KEM_HYBRID_PUBLICKEYBYTES],
                            uint8_t sk[ZHTP_KEM_HYBRID_SECRETKEYBYTES]);

/* Checks an untrusted public key: length exactly ZHTP_KEM_HYBRID_PUBLICKEYBYTES (else
 * ZHTP_ERR_CRYPTO_LENGTH), an X25519 half that is not of small order and an ML-KEM half that
 * passes the FIPS 203 §7.2 modulus check (else ZHTP_ERR_CRYPTO_BADKEY). On ZHTP_OK the bytes
 * are copied to out (out may be NULL to only check). */
ZHTP_NODISCARD int zhtp_kem_hybrid_pk_parse(uint8_t out[ZHTP_KEM_HYBRID_PUBLICKEYBYTES],
                                            const uint8_t *in, size_t len);

/* Encapsulates to pk with the given ephemeral randomness (tests; production uses
 * zhtp_kem_hybrid_encaps). Returns ZHTP_OK, or ZHTP_ERR_CRYPTO_BADKEY when pk fails the checks
 * of zhtp_kem_hybrid_pk_parse (ct and ss are then zeroed). */
ZHTP_NODISCARD int
zhtp_kem_hybrid_encaps_from_seed(uint8_t ct[ZHTP_KEM_HYBRID_CIPHERTEXTBYTES],
                                 uint8_t ss[ZHTP_KEM_HYBRID_SSBYTES],
                                 const uint8_t pk[ZHTP_KEM_HYBRID_PUBLICKEYBYTES],
                                 const uint8_t seed[ZHTP_KEM_HYBRID_ENCAPS_SEEDBYTES]);
ZHTP_NODISCARD int zhtp_kem_hybrid_encaps(uint8_t ct[ZHTP_KEM_HYBRID_CIPHERTEXTBYTES],
                                          uint8_t ss[ZHTP_KEM_HYBRID_SSBYTES],
                                          const uint8_t pk[ZHTP_KEM_HYBRID_PUBLICKEYBYTES]);

/* Decapsulates an untrusted ciphertext of ct_len bytes. Returns ZHTP_OK,
 * ZHTP_ERR_CRYPTO_LENGTH (ct_len wrong), ZHTP_ERR_CRYPTO_BADKEY (the X25519 half of ct is of
 * small order: a public property of ct, so the error leaks nothing; or sk fails the ML-KEM
 * §7.3 hash check). A modified ML-KEM half is NOT an error: like ML-KEM itself it yields an
 * unrelated secret, and the session's first AEAD packet fails. ss is zeroed on error. */
ZHTP_NODISCARD int zhtp_kem_hybrid_decaps(uint8_t ss[ZHTP_KEM_HYBRID_SSBYTES], const uint8_t *ct,
                                          size_t ct_len,
                                          const uint8_t sk[ZHTP_KEM_HYBRID_SECRETKEYBYTES]);

/* ---- Hybrid signature: Ed25519 + ML-DSA-44 -------------------------------------------------- */

#define ZHTP_ED25519_PUBLICKEYBYTES 32
#define ZHTP_ED25519_SECRETKEYBYTES 64 /* libsodium form: seed(32) || pk(32) */
#define ZHTP_ED25519_BYTES          64
#define ZHTP_ED25519_SEEDBYTES      32

/* pk = ed25519_pk(32) || mldsa_pk(1312) */
#define ZHTP_SIGN_HYBRID_PUBLICKEYBYTES (ZHTP_ED25519_PUBLICKEYBYTES + ZHTP_MLDSA44_PUBLICKEYBYTES)
/* sk = ed25519_sk(64) || mldsa_sk(2560) || mldsa_pk(1312): the whole public key is in it, because
 * every signature binds a hash of it. */
#define ZHTP_SIGN_HYBRID_SECRETKEYBYTES                                                            \
    (ZHTP_ED25519_SECRETKEYBYTES + ZHTP_MLDSA44_SECRETKEYBYTES + ZHTP_MLDSA44_PUBLICKEYBYTES)
/* sig = ed25519_sig(64) || mldsa_sig(2420) */
#define ZHTP_SIGN_HYBRID_BYTES (ZHTP_ED25519_BYTES + ZHTP_MLDSA44_BYTES)
/* keypair seed = ed25519_seed(32) || mldsa_xi(32) */
#define ZHTP_SIGN_HYBRID_SEEDBYTES 64
#define ZHTP_SIGN_HYBRID_CTX_MAX   255

/* Domain string at the start of M'' and the derive_key context of the public-key hash. */
#define ZHTP_SIGN_HYBRID_DOMAIN     "zhtp 2026-11 hybrid-sig v1"
#define ZHTP_SIGN_HYBRID_PK_CONTEXT "zhtp 2026-11 hybrid-sig pk v1"

int zhtp_sign_hybrid_keypair_from_seed(uint8_t pk[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES],
                                       uint8_t sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES],
                                       const uint8_t seed[ZHTP_SIGN_HYBRID_SEEDBYTES]);
int zhtp_sign_hybrid_keypair(uint8_t pk[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES],
                             uint8_t sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES]);

/* Checks an untrusted public key: length (ZHTP_ERR_CRYPTO_LENGTH) and an Ed25519 half that is
 * a canonical point of large order (ZHTP_ERR_CRYPTO_BADKEY). Every 1312-byte string is a valid
 * ML-DSA-44 key encoding, so that half has no check. out may be NULL. */
ZHTP_NODISCARD int zhtp_sign_hybrid_pk_parse(uint8_t out[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES],
                                             const uint8_t *in, size_t len);

/* Signs msg under the context string ctx (0..255 bytes; ctx may be NULL when ctx_len is 0).
 * Hedged ML-DSA (fresh randomness; Ed25519 is deterministic by design). Returns ZHTP_OK,
 * ZHTP_ERR_INVAL (ctx_len > 255) or ZHTP_ERR_NOMEM (M'' is assembled in one heap buffer, because
 * Ed25519 needs the message contiguous). sig is zeroed on error. */
int zhtp_sign_hybrid_sign(uint8_t sig[ZHTP_SIGN_HYBRID_BYTES], const uint8_t *msg, size_t msg_len,
                          const uint8_t *ctx, size_t ctx_len,
                          const uint8_t sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES]);
/* The same with deterministic ML-DSA (rnd = 0): same inputs, same signature. For tests. */
int zhtp_sign_hybrid_sign_deterministic(uint8_t sig[ZHTP_SIGN_HYBRID_BYTES], const uint8_t *msg,
                                        size_t msg_len, const uint8_t *ctx, size_t ctx_len,
                                        const uint8_t sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES]);

/* The same with the ML-DSA randomness rnd given (FIPS 204's rnd): for the simulator and tests,
 * which need the same trace from the same seed. rnd must be fresh and secret in production. */
int zhtp_sign_hybrid_sign_from_seed(uint8_t sig[ZHTP_SIGN_HYBRID_BYTES], const uint8_t *msg,
                                    size_t msg_len, const uint8_t *ctx, size_t ctx_len,
                                    const uint8_t sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES],
                                    const uint8_t rnd[ZHTP_MLDSA44_RNDBYTES]);

/* Verifies an untrusted signature of sig_len bytes against an untrusted public key of pk_len
 * bytes. ZHTP_OK only when both halves verify over the same M''. Otherwise
 * ZHTP_ERR_CRYPTO_LENGTH (sig_len or pk_len wrong), ZHTP_ERR_CRYPTO_VERIFY, ZHTP_ERR_INVAL
 * (ctx_len > 255) or ZHTP_ERR_NOMEM. */
ZHTP_NODISCARD int zhtp_sign_hybrid_verify(const uint8_t *sig, size_t sig_len, const uint8_t *msg,
                                           size_t msg_len, const uint8_t *ctx, size_t ctx_len,
                                           const uint8_t *pk, size_t pk_len);

#ifdef __cplusplus
}
#endif
#endif
