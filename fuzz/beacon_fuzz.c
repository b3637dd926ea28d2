/* zhtpd's LAN discovery beacon parser (src/runtime/discovery.h) on arbitrary bytes: never
 * crash or read past the input; an accepted beacon re-encodes to exactly the input bytes, and
 * a refused one leaves the output zeroed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discovery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1); /* exactly size bytes: ASan sees any overread */
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    zhtp_disc_beacon b;
    memset(&b, 0xa5, sizeof b);
    if (zhtp_disc_beacon_decode(&b, buf, size) == ZHTP_OK) {
        uint8_t out[ZHTP_DISC_BEACON_LEN];
        if (b.port == 0 || zhtp_disc_beacon_encode(out, sizeof out, &b) != ZHTP_DISC_BEACON_LEN ||
            size != sizeof out || memcmp(out, buf, size) != 0)
            abort();
    } else {
        static const zhtp_disc_beacon zero;
        if (memcmp(&b, &zero, sizeof b) != 0)
            abort();
    }
    free(buf);
    return 0;
}
