/* Fuzzes every payload decoder: byte 0 picks the operation, the rest is the payload.
 * Whatever decodes must re-encode to exactly the input. */
#include <stdlib.h>
#include <string.h>

#include "zhtp/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[ZHTP_WIRE_MAX_PAYLOAD];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    zhtp_wire_payload p;
    if (zhtp_wire_payload_decode(&p, data[0], data + 1, size - 1) != 0)
        return 0;
    zhtp_ssize n = zhtp_wire_payload_encode(out, sizeof out, &p);
    if (n != (zhtp_ssize)(size - 1) || memcmp(out, data + 1, size - 1) != 0)
        abort();
    if (p.operation == ZHTP_WIRE_OP_RECEIPT) {
        zhtp_wire_receipt_entry e;
        for (size_t i = 0; i < p.u.receipt.entry_count; i++)
            zhtp_wire_receipt_entry_get(&p.u.receipt, i, &e);
    }
    return 0;
}
