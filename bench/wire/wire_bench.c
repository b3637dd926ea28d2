/* Wire codec throughput: ns per encode/decode of the header, payloads, compressed header and
 * fragmentation. Not a test. Run: build-release/tests/unit/wire/wire_bench */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "zhtp/wire.h"

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}
/* CPU time of this process: on the shared machine wall time mostly measures the others. */
static double cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}
static volatile uint64_t sink;
#define BENCH(name, iters, body)                                                                   \
    do {                                                                                           \
        double t0 = now_ns();                                                                      \
        for (long i_ = 0; i_ < (iters); i_++) {                                                    \
            body;                                                                                  \
        }                                                                                          \
        double dt = now_ns() - t0;                                                                 \
        printf("%-44s %8.1f ns/op\n", name, dt / (iters));                                         \
    } while (0)

int main(void)
{
    static uint8_t pkt[ZHTP_WIRE_MAX_PACKET], cmp[4096], back[4096], frag[256];
    uint8_t body[1000];
    memset(body, 'x', sizeof body);
    zhtp_wire_header h;
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.operation = ZHTP_WIRE_OP_DATA;
    h.flags = ZHTP_WIRE_FLAG_SEALED;
    h.hop_limit = 64;
    memset(h.sender, 0xAA, 32);
    memset(h.target, 0xBB, 32);
    h.receiver_index = 17;
    h.counter = h.message_id = 42;
    zhtp_wire_payload p;
    memset(&p, 0, sizeof p);
    p.operation = ZHTP_WIRE_OP_DATA;
    p.u.data.subtype = 1;
    p.u.data.channel = 7;
    p.u.data.body.ptr = body;
    p.u.data.body.len = sizeof body;
    zhtp_ssize pl = zhtp_wire_payload_encode(pkt + 128, sizeof pkt - 128, &p);
    h.payload_len = (uint32_t)pl;
    if (zhtp_wire_header_encode(pkt, sizeof pkt, &h) != 128)
        return 1;
    size_t len = zhtp_wire_packet_len(&h);
    long N = 5000000;
    BENCH("header encode (128 B)", N, {
        h.counter = (uint64_t)i_;
        sink += (uint64_t)zhtp_wire_header_encode(pkt, sizeof pkt, &h);
    });
    h.counter = 42;
    if (zhtp_wire_header_encode(pkt, sizeof pkt, &h) != 128)
        return 1;
    BENCH("header decode (128 B)", N, {
        zhtp_wire_header g;
        sink += (uint64_t)zhtp_wire_header_decode(&g, pkt, len) + g.counter;
    });
    BENCH("packet decode + DATA payload decode (1148 B)", N, {
        zhtp_wire_packet q;
        zhtp_wire_payload d;
        if (zhtp_wire_packet_decode(&q, pkt, len))
            return 2;
        if (zhtp_wire_payload_decode(&d, q.hdr.operation, q.payload.ptr, q.payload.len))
            return 3;
        sink += d.u.data.body.len;
    });
    BENCH("DATA payload encode (1004 B)", N,
          { sink += (uint64_t)zhtp_wire_payload_encode(pkt + 128, sizeof pkt - 128, &p); });
    zhtp_wire_link_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.version = 1;
    memset(ctx.sender_id, 0xAA, 32);
    memset(ctx.target_id, 0xBB, 32);
    ctx.counter_base = 41;
    BENCH("compressed header encode (LoRa DATA)", N,
          { sink += (uint64_t)zhtp_wire_compressed_header_encode(cmp, sizeof cmp, &h, &ctx); });
    zhtp_ssize c = zhtp_wire_packet_compress(cmp, sizeof cmp, pkt, len, &ctx);
    printf("compressed packet %zd B for full %zu B\n", c, len);
    BENCH("compressed header decode (LoRa DATA)", N, {
        zhtp_wire_header g;
        sink += (uint64_t)zhtp_wire_compressed_header_decode(&g, cmp, (size_t)c, &ctx);
    });
    BENCH("packet decompress (full rebuild, 1164 B)", N, {
        sink += (uint64_t)zhtp_wire_packet_decompress(back, sizeof back, cmp, (size_t)c, &ctx);
    });
    zhtp_wire_reasm *r;
    if (zhtp_wire_reasm_new(&r, NULL))
        return 4;
    long M = 200000;
    zhtp_ssize nf = zhtp_wire_fragment_count(len, 200);
    BENCH("fragment (MTU 200) + reassemble 1148 B packet", M, {
        for (zhtp_ssize k = 0; k < nf; k++) {
            zhtp_ssize fl =
                zhtp_wire_fragment_build(frag, sizeof frag, pkt, len, 200, (uint16_t)i_, (size_t)k);
            const uint8_t *out;
            zhtp_ssize got =
                zhtp_wire_reasm_feed(r, 1, frag, (size_t)fl, (zhtp_time)i_ * 1000, &out);
            if (k == nf - 1) {
                if (got != (zhtp_ssize)len)
                    return 5;
                sink += out[0];
            }
        }
    });
    printf("(%zd fragments per packet)\n", nf);
    zhtp_wire_reasm_free(r);

    /* The TUN bench's shape: a 16 KiB TUN packet plus the overlay's header and tag, cut for
     * 1280-byte UDP frames, fed frame by frame (fragmenting is outside the timing; the tag
     * changes per packet as a sender's does). */
    static uint8_t big[16384 + 120], frames[16][1280];
    size_t big_len = sizeof big, frame_len[16];
    for (size_t k = 0; k < big_len; k++)
        big[k] = (uint8_t)(k * 13);
    zhtp_ssize nbig = zhtp_wire_fragment_count(big_len, 1280);
    if (nbig <= 0 || nbig > 16)
        return 6;
    for (zhtp_ssize k = 0; k < nbig; k++) {
        zhtp_ssize fl =
            zhtp_wire_fragment_build(frames[k], sizeof frames[k], big, big_len, 1280, 0, (size_t)k);
        if (fl <= 0)
            return 7;
        frame_len[k] = (size_t)fl;
    }
    if (zhtp_wire_reasm_new(&r, NULL))
        return 4;
    long P = 100000;
    double t0 = cpu_ns();
    for (long i = 0; i < P; i++) {
        for (zhtp_ssize k = 0; k < nbig; k++) {
            frames[k][1] = (uint8_t)(i >> 8), frames[k][2] = (uint8_t)i; /* the tag */
            const uint8_t *out;
            zhtp_ssize got =
                zhtp_wire_reasm_feed(r, 1, frames[k], frame_len[k], (zhtp_time)i * 1000, &out);
            if (k == nbig - 1) {
                if (got != (zhtp_ssize)big_len)
                    return 8;
                sink += out[i % (long)big_len];
            }
        }
    }
    double dt = cpu_ns() - t0;
    printf("%-44s %8.1f CPU ns/frame, %.2f Mframes/CPU s (%zd frames per %zu B packet)\n",
           "reassemble 16 KiB packet from 1280 B frames", dt / (double)(P * nbig),
           (double)(P * nbig) / dt * 1e3, nbig, big_len);
    zhtp_wire_reasm_free(r);
    return 0;
}
