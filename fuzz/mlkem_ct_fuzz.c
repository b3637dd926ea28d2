/* Untrusted ciphertexts: decapsulation of arbitrary 1088-byte inputs under a fixed key must
 * never crash and must be deterministic (implicit rejection is a function of z and c). Inputs
 * of other lengths are cut or zero-padded to 1088 bytes, since ciphertexts have one size. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zhtp/mlkem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pk[ZHTP_MLKEM768_PUBLICKEYBYTES], sk[ZHTP_MLKEM768_SECRETKEYBYTES];
static int have_key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t ct[ZHTP_MLKEM768_CIPHERTEXTBYTES] = {0}, ss[32], ss2[32];

    if (!have_key) {
        const uint8_t d[32] = {1, 2, 3}, z[32] = {4, 5, 6};
        zhtp_kem_mlkem768_keypair_from_seed(pk, sk, d, z);
        have_key = 1;
    }
    memcpy(ct, data, size < sizeof ct ? size : sizeof ct);
    if (zhtp_kem_mlkem768_decaps(ss, ct, sk) != ZHTP_OK)
        abort();
    if (zhtp_kem_mlkem768_decaps(ss2, ct, sk) != ZHTP_OK || memcmp(ss, ss2, sizeof ss) != 0)
        abort();
    return 0;
}
