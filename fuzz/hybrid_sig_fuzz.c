/* Fuzzes hybrid signature verification under a fixed key and message. The input is laid over
 * a valid signature (first ZHTP_SIGN_HYBRID_BYTES bytes) and then over the public key, so
 * mutations explore around valid values; the raw input is also verified as a signature of its
 * own length. Never crashes. Both halves have unique encodings (libsodium rejects
 * non-canonical Ed25519 S and R; ML-DSA's encoding is unique) and M'' hashes the key, so the
 * only accepted input is the exact signature we made under the exact key: anything else that
 * verifies is a forgery or a malleability bug, and aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zhtp/hybrid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pk[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES], sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES];
static uint8_t good[ZHTP_SIGN_HYBRID_BYTES];
static const uint8_t msg[] = "zhtp hybrid sig fuzz";
static const uint8_t ctx[] = "fuzz";

static void setup(void)
{
    static int done;
    if (done)
        return;
    uint8_t seed[ZHTP_SIGN_HYBRID_SEEDBYTES] = {7, 7, 7};
    if (zhtp_sign_hybrid_keypair_from_seed(pk, sk, seed) != ZHTP_OK ||
        zhtp_sign_hybrid_sign_deterministic(good, msg, sizeof msg, ctx, sizeof ctx, sk) != ZHTP_OK)
        abort();
    done = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    int rc = zhtp_sign_hybrid_verify(data, size, msg, sizeof msg, ctx, sizeof ctx, pk, sizeof pk);
    int exact = size == sizeof good && memcmp(data, good, sizeof good) == 0;
    if (size != sizeof good ? rc != ZHTP_ERR_CRYPTO_LENGTH
                            : rc != (exact ? ZHTP_OK : ZHTP_ERR_CRYPTO_VERIFY))
        abort();

    uint8_t sig[ZHTP_SIGN_HYBRID_BYTES], key[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES];
    memcpy(sig, good, sizeof sig);
    memcpy(key, pk, sizeof key);
    size_t n = size < sizeof sig ? size : sizeof sig;
    memcpy(sig, data, n);
    if (size > sizeof sig) {
        size_t m = size - sizeof sig < sizeof key ? size - sizeof sig : sizeof key;
        memcpy(key, data + sizeof sig, m);
    }
    rc =
        zhtp_sign_hybrid_verify(sig, sizeof sig, msg, sizeof msg, ctx, sizeof ctx, key, sizeof key);
    int same = memcmp(sig, good, sizeof sig) == 0 && memcmp(key, pk, sizeof key) == 0;
    if (rc != (same ? ZHTP_OK : ZHTP_ERR_CRYPTO_VERIFY))
        abort();
    return 0;
}
