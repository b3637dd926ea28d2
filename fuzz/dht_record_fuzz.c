/* libFuzzer target: the core/dht signed-record parser (format checks, then the hybrid
 * signature). Invariant: never reads past len; a parsed record's fields lie inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zhtp/dht.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    zhtp_dht_record r;
    if (zhtp_dht_record_parse(&r, copy, size) == ZHTP_OK) {
        if (r.value + r.value_len > copy + size || r.name + r.name_len > copy + size)
            abort();
    }
    free(copy);
    return 0;
}
