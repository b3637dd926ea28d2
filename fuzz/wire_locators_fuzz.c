/* libFuzzer target: the locator block decoder (docs/protocol.md 3.4). Invariants: it never
 * reads past len; a block that decodes has exactly the stated length and re-encodes to the
 * same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zhtp/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    zhtp_wire_locators l;
    zhtp_ssize n = zhtp_wire_locators_decode(&l, copy, size);
    if (n >= 0) {
        if ((size_t)n != ZHTP_WIRE_LOCATORS_LEN(l.src_depth, l.dst_depth) || (size_t)n > size)
            abort();
        uint16_t src[255], dst[255];
        zhtp_wire_locators_ports(src, l.src_ports, l.src_depth);
        zhtp_wire_locators_ports(dst, l.dst_ports, l.dst_depth);
        uint8_t out[ZHTP_WIRE_LOCATORS_LEN(255, 255)];
        zhtp_ssize m =
            zhtp_wire_locators_encode(out, sizeof out, src, l.src_depth, dst, l.dst_depth);
        if (m != n || memcmp(out, data, (size_t)n) != 0)
            abort();
    }
    free(copy);
    return 0;
}
