/* Fuzzes the parsers of untrusted hybrid public keys (KEM and signature). Never crashes; a key
 * that parses is copied exactly and is usable: encapsulation to an accepted KEM key succeeds.
 * A length other than the exact key size is always ZHTP_ERR_CRYPTO_LENGTH. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zhtp/hybrid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t kpk[ZHTP_KEM_HYBRID_PUBLICKEYBYTES], spk[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES];
    int rc = zhtp_kem_hybrid_pk_parse(kpk, data, size);
    if (size != sizeof kpk ? rc != ZHTP_ERR_CRYPTO_LENGTH
                           : rc != ZHTP_OK && rc != ZHTP_ERR_CRYPTO_BADKEY)
        abort();
    if (rc == ZHTP_OK) {
        static const uint8_t seed[ZHTP_KEM_HYBRID_ENCAPS_SEEDBYTES] = {1, 2, 3};
        uint8_t ct[ZHTP_KEM_HYBRID_CIPHERTEXTBYTES], ss[ZHTP_KEM_HYBRID_SSBYTES];
        if (memcmp(kpk, data, size) != 0 ||
            zhtp_kem_hybrid_encaps_from_seed(ct, ss, kpk, seed) != ZHTP_OK)
            abort();
    }
    /* The same bytes as a signature key. */
    rc = zhtp_sign_hybrid_pk_parse(spk, data, size);
    if (size != sizeof spk ? rc != ZHTP_ERR_CRYPTO_LENGTH
                           : rc != ZHTP_OK && rc != ZHTP_ERR_CRYPTO_BADKEY)
        abort();
    if (rc == ZHTP_OK && memcmp(spk, data, sizeof spk) != 0)
        abort();
    return 0;
}
