/* ML-DSA-44 (FIPS 204): module-lattice signatures. Constant time in every secret (the
 * rejection loop's iteration count is public by design). Keys and signatures are the FIPS 204
 * byte encodings. */
#ifndef ZHTP_MLDSA_H
#define ZHTP_MLDSA_H

#include <stddef.h>
#include <stdint.h>

#include "zhtp/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZHTP_MLDSA44_PUBLICKEYBYTES 1312
#define ZHTP_MLDSA44_SECRETKEYBYTES 2560
#define ZHTP_MLDSA44_BYTES          2420 /* signature */
#define ZHTP_MLDSA44_SEEDBYTES      32   /* xi */
#define ZHTP_MLDSA44_RNDBYTES       32
#define ZHTP_MLDSA44_MUBYTES        64
#define ZHTP_MLDSA44_CTX_MAX        255

/* ML-DSA.KeyGen_internal(xi), FIPS 204 Alg. 6. */
int zhtp_sign_mldsa44_keypair_from_seed(uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES],
                                        uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES],
                                        const uint8_t xi[ZHTP_MLDSA44_SEEDBYTES]);
int zhtp_sign_mldsa44_keypair(uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES],
                              uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES]);

/* ML-DSA.Sign (Alg. 2), pure, with a context string of 0..255 bytes. Hedged: rnd is fresh
 * randomness. Returns ZHTP_OK, or ZHTP_ERR_INVAL (ctx_len > 255). sig gets exactly
 * ZHTP_MLDSA44_BYTES.
 * Every signing function may also return ZHTP_ERR_CRYPTO_BADKEY (sig zeroed): the signing
 * loop is bounded at 1000 attempts (FIPS 204 allows a bound of at least 814; a well-formed key
 * needs about 4.25 on average and exceeds 814 with negligible probability), so only a
 * malformed secret key can end there; a key whose s1/s2 coefficients lie outside [-2, 2]
 * (which KeyGen never produces) is refused up front. */
int zhtp_sign_mldsa44_sign(uint8_t sig[ZHTP_MLDSA44_BYTES], const uint8_t *msg, size_t msg_len,
                           const uint8_t *ctx, size_t ctx_len,
                           const uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES]);
/* The deterministic variant (rnd = 32 zero bytes). */
int zhtp_sign_mldsa44_sign_deterministic(uint8_t sig[ZHTP_MLDSA44_BYTES], const uint8_t *msg,
                                         size_t msg_len, const uint8_t *ctx, size_t ctx_len,
                                         const uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES]);
/* ML-DSA.Sign_internal(sk, M', rnd), Alg. 7: M' is the already-formatted message. */
int zhtp_sign_mldsa44_sign_internal(uint8_t sig[ZHTP_MLDSA44_BYTES], const uint8_t *mprime,
                                    size_t mprime_len, const uint8_t rnd[ZHTP_MLDSA44_RNDBYTES],
                                    const uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES]);
/* Sign_internal with mu (64 bytes) given in place of H(tr || M') ("external mu"). */
int zhtp_sign_mldsa44_sign_internal_mu(uint8_t sig[ZHTP_MLDSA44_BYTES],
                                       const uint8_t mu[ZHTP_MLDSA44_MUBYTES],
                                       const uint8_t rnd[ZHTP_MLDSA44_RNDBYTES],
                                       const uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES]);

/* ML-DSA.Verify (Alg. 3). ZHTP_OK, ZHTP_ERR_CRYPTO_VERIFY, ZHTP_ERR_CRYPTO_LENGTH (sig_len is
 * not ZHTP_MLDSA44_BYTES) or ZHTP_ERR_INVAL (ctx_len > 255). */
ZHTP_NODISCARD int zhtp_sign_mldsa44_verify(const uint8_t *sig, size_t sig_len, const uint8_t *msg,
                                            size_t msg_len, const uint8_t *ctx, size_t ctx_len,
                                            const uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES]);
/* Verify_internal (Alg. 8) over M', and its external-mu form. */
ZHTP_NODISCARD int zhtp_sign_mldsa44_verify_internal(const uint8_t *sig, size_t sig_len,
                                                     const uint8_t *mprime, size_t mprime_len,
                                                     const uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES]);
ZHTP_NODISCARD int
zhtp_sign_mldsa44_verify_internal_mu(const uint8_t *sig, size_t sig_len,
                                     const uint8_t mu[ZHTP_MLDSA44_MUBYTES],
                                     const uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES]);

/* HashML-DSA (FIPS 204 Alg. 4/5): signs PH(msg) with M' = 1 || len(ctx) || ctx || OID || PH(msg).
 * The values are the last byte of each hash's NIST OID 2.16.840.1.101.3.4.2.x. All twelve
 * are available (SHA2-224 and SHA2-512/224 are weaker than ML-DSA-44's category; the standard
 * allows them). */
typedef enum zhtp_mldsa_prehash {
    ZHTP_MLDSA_PH_SHA2_256 = 0x01,
    ZHTP_MLDSA_PH_SHA2_384 = 0x02,
    ZHTP_MLDSA_PH_SHA2_512 = 0x03,
    ZHTP_MLDSA_PH_SHA2_224 = 0x04,
    ZHTP_MLDSA_PH_SHA2_512_224 = 0x05,
    ZHTP_MLDSA_PH_SHA2_512_256 = 0x06,
    ZHTP_MLDSA_PH_SHA3_224 = 0x07,
    ZHTP_MLDSA_PH_SHA3_256 = 0x08,
    ZHTP_MLDSA_PH_SHA3_384 = 0x09,
    ZHTP_MLDSA_PH_SHA3_512 = 0x0a,
    ZHTP_MLDSA_PH_SHAKE128 = 0x0b, /* 256-bit output */
    ZHTP_MLDSA_PH_SHAKE256 = 0x0c, /* 512-bit output */
} zhtp_mldsa_prehash;

/* HashML-DSA.Sign, hedged (fresh rnd). ZHTP_OK or ZHTP_ERR_INVAL (ctx_len > 255 or unknown
 * ph). */
int zhtp_sign_mldsa44_prehash_sign(uint8_t sig[ZHTP_MLDSA44_BYTES], const uint8_t *msg,
                                   size_t msg_len, const uint8_t *ctx, size_t ctx_len,
                                   zhtp_mldsa_prehash ph,
                                   const uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES]);
/* The same with a caller-chosen rnd (32 zero bytes: the deterministic variant). */
int zhtp_sign_mldsa44_prehash_sign_rnd(uint8_t sig[ZHTP_MLDSA44_BYTES], const uint8_t *msg,
                                       size_t msg_len, const uint8_t *ctx, size_t ctx_len,
                                       zhtp_mldsa_prehash ph,
                                       const uint8_t rnd[ZHTP_MLDSA44_RNDBYTES],
                                       const uint8_t sk[ZHTP_MLDSA44_SECRETKEYBYTES]);
/* HashML-DSA.Verify. The errors of zhtp_sign_mldsa44_verify (unknown ph: ZHTP_ERR_INVAL). */
ZHTP_NODISCARD int zhtp_sign_mldsa44_prehash_verify(const uint8_t *sig, size_t sig_len,
                                                    const uint8_t *msg, size_t msg_len,
                                                    const uint8_t *ctx, size_t ctx_len,
                                                    zhtp_mldsa_prehash ph,
                                                    const uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES]);

/* Implementation in use ("avx2" or "portable") and a switch for tests and benchmarks. */
const char *zhtp_sign_mldsa44_impl(void);
int zhtp_sign_mldsa44_set_impl(const char *name);

#ifdef __cplusplus
}
#endif
#endif
