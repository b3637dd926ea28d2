/* Fuzzes the store's on-disk entry decoders (src/store/codec.h): record entries, chunk
 * metadata and peer cache entries, as read back from a possibly damaged file. The structure
 * is decoded without the key (so the check field does not stop the fuzzer); whatever decodes
 * must stay inside the input, re-encode to the same bytes apart from the check field, and
 * the re-encoded entry must pass the keyed decode. */
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[STORE_RECORD_ENTRY_MAX];
    store_record_entry e;
    static const uint8_t key[ZHTP_STORE_KEY_LEN] = {0x42};
    if (store_record_entry_decode(&e, NULL, data, size) == 0) {
        if (e.rec.sig < data || e.rec.value + e.rec.value_len > data + size)
            abort();
        zhtp_ssize n =
            store_record_entry_encode(out, sizeof out, key, &e.rec, e.has_owner ? e.owner : NULL);
        if (n != (zhtp_ssize)size || memcmp(out, data, STORE_RECORD_CHECK_OFF) != 0 ||
            memcmp(out + STORE_RECORD_HDR, data + STORE_RECORD_HDR, size - STORE_RECORD_HDR))
            abort();
        store_record_entry e2;
        if (store_record_entry_decode(&e2, key, out, (size_t)n) != 0 ||
            e2.rec.sequence != e.rec.sequence)
            abort();
    }
    store_chunk_meta m;
    if (store_chunk_meta_decode(&m, NULL, data, size) == 0) {
        store_chunk_meta_encode(out, key, &m);
        store_chunk_meta m2;
        if (size != STORE_CHUNK_META_LEN || memcmp(out, data, STORE_CHUNK_META_CHECK_OFF) != 0 ||
            store_chunk_meta_decode(&m2, key, out, size) != 0 || m2.size != m.size)
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
