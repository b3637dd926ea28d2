/* Fuzzes the strict public identity parser. Never crashes; the only outcomes are the
 * documented errors; an accepted identity re-encodes to exactly the input and its node id
 * checks out (and a different id does not). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zhtp/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zhtp_identity_public pub;
    int rc = zhtp_identity_public_decode(&pub, data, size);
    if (rc != ZHTP_OK) {
        if (rc != ZHTP_ERR_CRYPTO_LENGTH && rc != ZHTP_ERR_UNSUPPORTED &&
            rc != ZHTP_ERR_CRYPTO_BADKEY)
            abort();
        if (size != ZHTP_IDENTITY_PUBLIC_BYTES && rc != ZHTP_ERR_CRYPTO_LENGTH)
            abort();
        return 0;
    }
    uint8_t enc[ZHTP_IDENTITY_PUBLIC_BYTES];
    if (zhtp_identity_public_encode(enc, sizeof enc, &pub) != (zhtp_ssize)sizeof enc ||
        size != sizeof enc || memcmp(enc, data, size) != 0)
        abort();
    if (zhtp_identity_check_node_id(NULL, data, size, pub.node_id) != ZHTP_OK)
        abort();
    pub.node_id[0] ^= 1;
    if (zhtp_identity_check_node_id(NULL, data, size, pub.node_id) != ZHTP_ERR_CRYPTO_ID_MISMATCH)
        abort();
    return 0;
}
