/* Untrusted encapsulation keys: any 1184-byte input goes through the §7.2 check, and the ones
 * that pass are encapsulated to (with a fixed m). Must never crash or read out of bounds; a
 * rejected key must leave zeroed outputs. Other lengths are not keys and are ignored. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zhtp/mlkem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t pk[ZHTP_MLKEM768_PUBLICKEYBYTES], ct[ZHTP_MLKEM768_CIPHERTEXTBYTES], ss[32];
    uint8_t ct2[ZHTP_MLKEM768_CIPHERTEXTBYTES], ss2[32];
    const uint8_t m[32] = {42};

    if (size != sizeof pk)
        return -1;
    memcpy(pk, data, sizeof pk);
    int check = zhtp_kem_mlkem768_check_pk(pk);
    int rc = zhtp_kem_mlkem768_encaps_from_seed(ct, ss, pk, m);
    if (check != rc)
        abort();
    if (rc != ZHTP_OK) {
        for (size_t i = 0; i < sizeof ct; i++)
            if (ct[i] != 0)
                abort();
        return 0;
    }
    /* Deterministic: the same key and m give the same ciphertext and key. */
    if (zhtp_kem_mlkem768_encaps_from_seed(ct2, ss2, pk, m) != ZHTP_OK ||
        memcmp(ct, ct2, sizeof ct) != 0 || memcmp(ss, ss2, sizeof ss) != 0)
        abort();
    return 0;
}
