/* Fuzzes the 128-byte header and whole-packet decoders, and the VERSION_MISMATCH builder.
 * Whatever decodes must re-encode to the same header bytes and keep the CLEAR_TAIL rules. */
#include <stdlib.h>
#include <string.h>

#include "zhtp/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zhtp_wire_header h;
    uint8_t out[ZHTP_WIRE_HEADER_LEN];
    if (zhtp_wire_header_decode(&h, data, size) == 0) {
        if (zhtp_wire_header_encode(out, sizeof out, &h) != ZHTP_WIRE_HEADER_LEN)
            abort();
        if (memcmp(out, data, ZHTP_WIRE_HEADER_LEN) != 0)
            abort();
        /* CLEAR_TAIL only sealed, with a tail of 16..payload_len bytes; clear_len 0 without. */
        if (h.flags & ZHTP_WIRE_FLAG_CLEAR_TAIL) {
            if (!(h.flags & ZHTP_WIRE_FLAG_SEALED) || h.clear_len < ZHTP_WIRE_CLEAR_TAIL_MIN ||
                h.clear_len > h.payload_len)
                abort();
        } else if (h.clear_len != 0) {
            abort();
        }
    }
    zhtp_wire_packet p;
    if (zhtp_wire_packet_decode(&p, data, size) == 0) {
        if (zhtp_wire_packet_len(&p.hdr) != size || p.payload.ptr != data + 128)
            abort();
        if (p.tag && p.tag != data + size - ZHTP_WIRE_TAG_LEN)
            abort();
    }
    static const uint8_t id[ZHTP_NODE_ID_LEN] = {1};
    static const uint8_t versions[] = {1};
    uint8_t reply[256];
    zhtp_ssize n =
        zhtp_wire_version_mismatch_build(reply, sizeof reply, data, size, id, 1, versions, 1);
    if (n > 0 && (size_t)n > size)
        abort(); /* never amplify */
    if (n > 0 && zhtp_wire_packet_decode(&p, reply, (size_t)n) != 0)
        abort();
    return 0;
}
