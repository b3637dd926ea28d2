/* Fuzzes the compressed-header decoder. The first 9 bytes set the link context (an id-pair
 * selector and the counter base); the rest is the frame. A frame that decodes must survive
 * decompress -> compress -> decompress unchanged (compression need not be canonical, the
 * rebuilt full packet must be). */
#include <stdlib.h>
#include <string.h>

#include "zhtp/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t full[ZHTP_WIRE_MAX_PACKET], cmp[ZHTP_WIRE_MAX_PACKET], full2[ZHTP_WIRE_MAX_PACKET];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9)
        return 0;
    zhtp_wire_link_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.version = ZHTP_WIRE_VERSION;
    memset(ctx.sender_id, data[0] & 0x0F, sizeof ctx.sender_id);
    memset(ctx.target_id, data[0] >> 4, sizeof ctx.target_id);
    ctx.counter_base = 0;
    for (int i = 1; i < 9; i++)
        ctx.counter_base = ctx.counter_base << 8 | data[i];
    data += 9, size -= 9;

    zhtp_wire_header h;
    zhtp_ssize hl = zhtp_wire_compressed_header_decode(&h, data, size, &ctx);
    if (hl < 0)
        return 0;
    if ((size_t)hl > size || zhtp_wire_header_check(&h) != 0)
        abort();
    zhtp_ssize n = zhtp_wire_packet_decompress(full, sizeof full, data, size, &ctx);
    if (n < 0)
        abort();
    zhtp_ssize c = zhtp_wire_packet_compress(cmp, sizeof cmp, full, (size_t)n, &ctx);
    if (c < 0)
        abort();
    zhtp_ssize n2 = zhtp_wire_packet_decompress(full2, sizeof full2, cmp, (size_t)c, &ctx);
    if (n2 != n || memcmp(full, full2, (size_t)n) != 0)
        abort();
    return 0;
}
