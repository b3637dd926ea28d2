/* ML-KEM-768 (FIPS 203): module-lattice key encapsulation. Constant time in every secret.
 * Keys and ciphertexts are the FIPS 203 byte encodings. Randomness for the plain entry points
 * comes from libsodium's randombytes; every randomized function has a _from_seed form. */
#ifndef ZHTP_MLKEM_H
#define ZHTP_MLKEM_H

#include <stdint.h>

#include "zhtp/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZHTP_MLKEM768_PUBLICKEYBYTES  1184 /* ek */
#define ZHTP_MLKEM768_SECRETKEYBYTES  2400 /* dk = dk_PKE || ek || H(ek) || z */
#define ZHTP_MLKEM768_CIPHERTEXTBYTES 1088
#define ZHTP_MLKEM768_SSBYTES         32
#define ZHTP_MLKEM768_SEEDBYTES       32 /* each of d, z, m */

/* ML-KEM.KeyGen_internal(d, z), FIPS 203 Alg. 16. Always returns ZHTP_OK. */
int zhtp_kem_mlkem768_keypair_from_seed(uint8_t pk[ZHTP_MLKEM768_PUBLICKEYBYTES],
                                        uint8_t sk[ZHTP_MLKEM768_SECRETKEYBYTES],
                                        const uint8_t d[32], const uint8_t z[32]);
/* ML-KEM.KeyGen with fresh d, z. */
int zhtp_kem_mlkem768_keypair(uint8_t pk[ZHTP_MLKEM768_PUBLICKEYBYTES],
                              uint8_t sk[ZHTP_MLKEM768_SECRETKEYBYTES]);

/* Encapsulation key check, FIPS 203 §7.2 (modulus check). ZHTP_OK or ZHTP_ERR_CRYPTO_BADKEY. */
ZHTP_NODISCARD int zhtp_kem_mlkem768_check_pk(const uint8_t pk[ZHTP_MLKEM768_PUBLICKEYBYTES]);
/* Decapsulation key check, FIPS 203 §7.3 (hash check). ZHTP_OK or ZHTP_ERR_CRYPTO_BADKEY. */
ZHTP_NODISCARD int zhtp_kem_mlkem768_check_sk(const uint8_t sk[ZHTP_MLKEM768_SECRETKEYBYTES]);

/* ML-KEM.Encaps_internal(ek, m), Alg. 17, after the §7.2 check. Returns ZHTP_OK, or
 * ZHTP_ERR_CRYPTO_BADKEY (pk fails the check; ct and ss are zeroed). */
ZHTP_NODISCARD int zhtp_kem_mlkem768_encaps_from_seed(
    uint8_t ct[ZHTP_MLKEM768_CIPHERTEXTBYTES], uint8_t ss[ZHTP_MLKEM768_SSBYTES],
    const uint8_t pk[ZHTP_MLKEM768_PUBLICKEYBYTES], const uint8_t m[32]);
ZHTP_NODISCARD int zhtp_kem_mlkem768_encaps(uint8_t ct[ZHTP_MLKEM768_CIPHERTEXTBYTES],
                                            uint8_t ss[ZHTP_MLKEM768_SSBYTES],
                                            const uint8_t pk[ZHTP_MLKEM768_PUBLICKEYBYTES]);

/* ML-KEM.Decaps, Alg. 18 after the §7.3 check. A modified ciphertext is not an error: it
 * yields the implicit-rejection key J(z || c) and ZHTP_OK, as FIPS 203 specifies. Returns
 * ZHTP_ERR_CRYPTO_BADKEY only when sk fails the hash check (ss zeroed). */
ZHTP_NODISCARD int zhtp_kem_mlkem768_decaps(uint8_t ss[ZHTP_MLKEM768_SSBYTES],
                                            const uint8_t ct[ZHTP_MLKEM768_CIPHERTEXTBYTES],
                                            const uint8_t sk[ZHTP_MLKEM768_SECRETKEYBYTES]);

/* Name of the implementation in use ("avx2" or "portable"), and a switch for tests and
 * benchmarks ("portable", "avx2", "auto"); ZHTP_ERR_UNSUPPORTED when unavailable. Both give
 * identical bytes. The default is "auto" (AVX2 when the CPU has it). The switch is
 * process-wide, also selects the matching four-way Keccak backend (shared with ML-DSA), and
 * must not race with other calls into the library. */
const char *zhtp_kem_mlkem768_impl(void);
int zhtp_kem_mlkem768_set_impl(const char *name);

#ifdef __cplusplus
}
#endif
#endif
