/* Fuzzes ML-DSA-44 verification with arbitrary signature bytes of arbitrary length under a
 * fixed key and message. Never crashes; a wrong length is ZHTP_ERR_CRYPTO_LENGTH; the only
 * accepted input is the one signature we made (the encoding is unique, so anything else that
 * verifies is a forgery or a malleability bug and aborts). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zhtp/mldsa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES], sk[ZHTP_MLDSA44_SECRETKEYBYTES];
static uint8_t good[ZHTP_MLDSA44_BYTES];
static const uint8_t msg[] = "zhtp mldsa fuzz message";
static const uint8_t ctx[] = "fuzz";

static void setup(void)
{
    static int done;
    if (done)
        return;
    uint8_t xi[ZHTP_MLDSA44_SEEDBYTES] = {1, 2, 3, 4};
    if (zhtp_sign_mldsa44_keypair_from_seed(pk, sk, xi) != ZHTP_OK ||
        zhtp_sign_mldsa44_sign_deterministic(good, msg, sizeof msg, ctx, 4, sk) != ZHTP_OK)
        abort();
    done = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    int rc = zhtp_sign_mldsa44_verify(data, size, msg, sizeof msg, ctx, 4, pk);
    if (size != ZHTP_MLDSA44_BYTES) {
        if (rc != ZHTP_ERR_CRYPTO_LENGTH)
            abort();
        return 0;
    }
    if (rc == ZHTP_OK && memcmp(data, good, sizeof good) != 0)
        abort();
    if (rc != ZHTP_OK && rc != ZHTP_ERR_CRYPTO_VERIFY)
        abort();
    if (memcmp(data, good, sizeof good) == 0 && rc != ZHTP_OK)
        abort();
    /* The internal form over the same bytes must never crash either. */
    (void)zhtp_sign_mldsa44_verify_internal(data, size, msg, sizeof msg, pk);
    return 0;
}
