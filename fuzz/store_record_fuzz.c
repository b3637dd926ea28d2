/* Fuzzes the store's on-disk entry decoders (src/store/codec.h): record entries, chunk
 * metadata and peer cache entries, as read back from a possibly damaged file. Whatever
 * decodes must stay inside the input and re-encode to the same bytes (one encoding per
 * entry). */
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[STORE_RECORD_ENTRY_MAX];
    store_record_entry e;
    if (store_record_entry_decode(&e, data, size) == 0) {
        if (e.rec.sig < data || e.rec.value + e.rec.value_len > data + size)
            abort();
        zhtp_ssize n = store_record_entry_encode(out, sizeof out, &e.rec,
                                                 e.has_owner ? e.owner : NULL);
        if (n != (zhtp_ssize)size || memcmp(out, data, size) != 0)
            abort();
    }
    store_chunk_meta m;
    if (store_chunk_meta_decode(&m, data, size) == 0) {
        store_chunk_meta_encode(out, &m);
        if (size != STORE_CHUNK_META_LEN || memcmp(out, data, size) != 0)
            abort();
    }
    zhtp_addr addr;
    uint64_t seen;
    if (store_peer_decode(&addr, &seen, data, size) == 0) {
        zhtp_ssize n = store_peer_encode(out, &addr, seen);
        if (n != (zhtp_ssize)size || memcmp(out, data, size) != 0)
            abort();
    }
    return 0;
}
