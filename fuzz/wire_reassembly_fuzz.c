/* Fuzzes reassembly with a sequence of records parsed from the input:
 *   peer u8 | time step u8 | frame length u8 | frame bytes
 * (a time step of 255 calls tick instead). Small limits make eviction, expiry and the
 * finished-ring all reachable; the memory bounds are checked after every call, and every
 * byte of a completed packet must have come, at its offset, from a fragment fed for that
 * (peer, tag, total length). */
#include <stdlib.h>
#include <string.h>

#include "zhtp/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fed {
    uint8_t peer;
    uint16_t tag;
    uint32_t total, offset;
    const uint8_t *ptr;
    size_t len;
} fed;

/* Whether byte i of a packet of (peer, tag, total) equal to v was fed at that offset. */
static int was_fed(const fed *f, size_t n, uint8_t peer, uint16_t tag, uint32_t total, size_t i,
                   uint8_t v)
{
    for (size_t k = 0; k < n; k++)
        if (f[k].peer == peer && f[k].tag == tag && f[k].total == total && f[k].offset <= i &&
            i - f[k].offset < f[k].len && f[k].ptr[i - f[k].offset] == v)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zhtp_wire_reasm_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_bytes_per_peer = 4096;
    cfg.max_bytes_total = 8192;
    cfg.max_packets_per_peer = 3;
    cfg.max_packets_total = 8;
    cfg.max_packet_len = 3000;
    cfg.timeout_ns = 100;
    cfg.finished_memory = 8;
    zhtp_wire_reasm *r;
    if (zhtp_wire_reasm_new(&r, &cfg) != 0)
        return 0;
    static fed log[4096 / 3 + 1];
    size_t n_log = 0;
    zhtp_time now = 0;
    size_t i = 0;
    while (i + 3 <= size) {
        uint8_t peer = data[i] & 7, step = data[i + 1], len = data[i + 2];
        i += 3;
        if (len > size - i)
            len = (uint8_t)(size - i);
        if (step == 255) {
            zhtp_wire_reasm_tick(r, now);
        } else {
            now += step;
            zhtp_wire_frag_header fh;
            zhtp_wire_bytes body;
            if (zhtp_wire_frag_decode(&fh, &body, data + i, len) == 0)
                log[n_log++] = (fed){peer, fh.tag, fh.total_len, fh.offset, body.ptr, body.len};
            const uint8_t *pkt = NULL;
            zhtp_ssize n = zhtp_wire_reasm_feed(r, peer, data + i, len, now, &pkt);
            if (n > 0) {
                volatile uint8_t sink = pkt[0] ^ pkt[n - 1]; /* ASan checks the range */
                (void)sink;
                if (n != (zhtp_ssize)fh.total_len)
                    abort();
                for (size_t b = 0; b < (size_t)n; b++)
                    if (!was_fed(log, n_log, peer, fh.tag, fh.total_len, b, pkt[b]))
                        abort();
            }
            i += len;
        }
        zhtp_wire_reasm_stats st;
        zhtp_wire_reasm_get_stats(r, &st);
        if (st.bytes_total > cfg.max_bytes_total || st.packets_total > cfg.max_packets_total)
            abort();
        size_t pk;
        if (zhtp_wire_reasm_peer_bytes(r, peer, &pk) > cfg.max_bytes_per_peer ||
            pk > cfg.max_packets_per_peer)
            abort();
        zhtp_time d = zhtp_wire_reasm_next_deadline(r);
        if (d != ZHTP_TIME_NEVER && d <= now)
            abort(); /* everything due was expired by the call */
    }
    zhtp_wire_reasm_free(r);
    return 0;
}
