/* Fuzzes ML-DSA-44 verification with arbitrary public keys: the input's first 1312 bytes
 * overwrite the start of the real key (so mutations explore around a valid one), the rest, if
 * 2420 bytes or more, replaces the signature. Never crashes; a signature verifies only under
 * the key that made it, and every other outcome is ZHTP_ERR_CRYPTO_VERIFY. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zhtp/mldsa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES], sk[ZHTP_MLDSA44_SECRETKEYBYTES];
static uint8_t good[ZHTP_MLDSA44_BYTES];
static const uint8_t msg[] = "zhtp mldsa pk fuzz";

static void setup(void)
{
    static int done;
    if (done)
        return;
    uint8_t xi[ZHTP_MLDSA44_SEEDBYTES] = {9, 8, 7};
    if (zhtp_sign_mldsa44_keypair_from_seed(pk, sk, xi) != ZHTP_OK ||
        zhtp_sign_mldsa44_sign_deterministic(good, msg, sizeof msg, NULL, 0, sk) != ZHTP_OK)
        abort();
    done = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t key[ZHTP_MLDSA44_PUBLICKEYBYTES];
    uint8_t sig[ZHTP_MLDSA44_BYTES];
    setup();
    size_t n = size < sizeof key ? size : sizeof key;
    memcpy(key, pk, sizeof key);
    memcpy(key, data, n);
    memcpy(sig, good, sizeof sig);
    if (size >= sizeof key + sizeof sig)
        memcpy(sig, data + sizeof key, sizeof sig);
    int rc = zhtp_sign_mldsa44_verify(sig, sizeof sig, msg, sizeof msg, NULL, 0, key);
    int same = memcmp(key, pk, sizeof key) == 0 && memcmp(sig, good, sizeof sig) == 0;
    if (same ? rc != ZHTP_OK : rc != ZHTP_ERR_CRYPTO_VERIFY)
        abort();
    return 0;
}
