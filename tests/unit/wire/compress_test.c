/* The compressed header: full <-> compressed round trips over seeded random packets and
 * contexts, the LoRa overhead target, counter reconstruction, malformed dispatch bytes. */
#include <string.h>

#include "zhtp/wire.h"

#include "testutil.h"
#include "wire_gen.h"

static uint8_t pkt[ZHTP_WIRE_MAX_PACKET], cmp[ZHTP_WIRE_MAX_PACKET], back[ZHTP_WIRE_MAX_PACKET];

/* Sender-side and receiver-side contexts of one link session, from the packet's header
 * (matching = ids equal to the header's, as when one neighbour talks to the other). */
static void contexts(zt_rng *r, const zhtp_wire_header *h, zhtp_wire_link_ctx *tx,
                     zhtp_wire_link_ctx *rx)
{
    memset(tx, 0, sizeof *tx);
    tx->version = ZHTP_WIRE_VERSION;
    if (zt_rng_below(r, 4))
        memcpy(tx->sender_id, h->sender, 32);
    else
        zt_rng_bytes(r, tx->sender_id, 32);
    if (zt_rng_below(r, 4))
        memcpy(tx->target_id, h->target, 32);
    else
        zt_rng_bytes(r, tx->target_id, 32);
    /* The receiver's highest counter: equal to what the sender assumes, as on a lossless
     * link. NONE, or somewhere behind the packet's counter. */
    if (zt_rng_below(r, 5) == 0 || h->counter == 0) {
        tx->counter_base = ZHTP_WIRE_COUNTER_NONE;
    } else {
        uint64_t back_by = 1 + zt_rng_below(r, zt_rng_below(r, 2) ? 200 : 1u << 20);
        tx->counter_base = h->counter >= back_by ? h->counter - back_by : 0;
    }
    *rx = *tx; /* the receiver knows the same ids (mirrored roles) and the same base */
}

static void compressed_and_full_round_trip_over_random_packets(void **state)
{
    zt_rng r;
    wg_arena a;
    zt_rng_seed(&r, 400);
    wg_arena_init(&a, 1 << 20);
    size_t saved = 0, total = 0;
    for (int i = 0; i < 20000; i++) {
        uint8_t op = (uint8_t)(1 + zt_rng_below(&r, ZHTP_WIRE_OP_MAX_));
        wg_arena_reset(&a);
        size_t len = wg_packet(&r, op, pkt, sizeof pkt, &a, false);
        zhtp_wire_header h;
        assert_int_equal(zhtp_wire_header_decode(&h, pkt, len), 0);
        zhtp_wire_link_ctx tx, rx;
        contexts(&r, &h, &tx, &rx);
        zhtp_ssize c = zhtp_wire_packet_compress(cmp, sizeof cmp, pkt, len, &tx);
        assert_true(c > 0);
        assert_int_equal(zhtp_wire_frame_kind(cmp, (size_t)c), ZHTP_WIRE_FRAME_COMPRESSED);
        zhtp_ssize d = zhtp_wire_packet_decompress(back, sizeof back, cmp, (size_t)c, &rx);
        assert_int_equal(d, (zhtp_ssize)len);
        assert_memory_equal(back, pkt, len);
        saved += len - (size_t)c;
        total += len;
    }
    print_message("# 20000 packets: compression saved %zu of %zu bytes\n", saved, total);
    wg_arena_free(&a);
}

/* The design target: a sealed DATA packet between LoRa neighbours costs <= 32 bytes beyond
 * the application's bytes, tag included. */
static void lora_data_packet_overhead_is_at_most_32_bytes(void **state)
{
    zhtp_wire_link_ctx tx, rx;
    memset(&tx, 0, sizeof tx);
    tx.version = ZHTP_WIRE_VERSION;
    memset(tx.sender_id, 0xAA, 32);
    memset(tx.target_id, 0xBB, 32);
    tx.counter_base = 41;
    rx = tx;

    uint8_t app[50];
    memset(app, 'x', sizeof app);
    zhtp_wire_payload p;
    memset(&p, 0, sizeof p);
    p.operation = ZHTP_WIRE_OP_DATA;
    p.u.data.subtype = ZHTP_WIRE_DATA_APP;
    p.u.data.channel = 7;
    p.u.data.body.ptr = app, p.u.data.body.len = sizeof app;

    zhtp_wire_header h;
    memset(&h, 0, sizeof h);
    h.version = ZHTP_WIRE_VERSION;
    h.operation = ZHTP_WIRE_OP_DATA;
    h.flags = ZHTP_WIRE_FLAG_SEALED;
    h.hop_limit = ZHTP_WIRE_DEFAULT_HOP_LIMIT;
    h.route_bound = ZHTP_WIRE_ROUTE_BOUND_NONE;
    memcpy(h.sender, tx.sender_id, 32);
    memcpy(h.target, tx.target_id, 32);
    h.receiver_index = 17;
    /* Worst case this encoding covers: the peer is 127 packets behind (2-byte counter
     * beyond that, one byte more). */
    for (uint64_t ctr = 42; ctr < 42 + 300; ctr++) {
        h.counter = h.message_id = ctr;
        zhtp_ssize pl = zhtp_wire_payload_encode(pkt + 128, sizeof pkt - 128, &p);
        h.payload_len = (uint32_t)pl;
        assert_int_equal(zhtp_wire_header_encode(pkt, sizeof pkt, &h), 128);
        size_t len = zhtp_wire_packet_len(&h);
        zhtp_ssize c = zhtp_wire_packet_compress(cmp, sizeof cmp, pkt, len, &tx);
        size_t overhead = (size_t)c - sizeof app;
        if (ctr == 42)
            print_message("# LoRa DATA: full %zu B, compressed %zd B, overhead %zu B "
                          "(compressed header %zu + DATA sub-header 4 + tag 16)\n",
                          len, c, overhead, overhead - 20);
        assert_true(overhead <= (ctr - 41 < 128 ? 24u : 25u));
        assert_true(overhead <= 32);
        assert_int_equal(zhtp_wire_packet_decompress(back, sizeof back, cmp, (size_t)c, &rx),
                         (zhtp_ssize)len);
        assert_memory_equal(back, pkt, len);
    }
}

static void counter_expansion_recovers_values_within_half_a_window(void **state)
{
    /* RFC 9000 appendix A.3's example, as a 16-bit truncation. */
    assert_true(zhtp_wire_counter_expand(0x9b32, 2, UINT64_C(0xa82f30ea)) == UINT64_C(0xa82f9b32));
    assert_true(zhtp_wire_counter_expand(5, 1, ZHTP_WIRE_COUNTER_NONE) == 5);
    assert_true(zhtp_wire_counter_expand(0x00, 1, 0xFF) == 0x100); /* wraps forward */
    assert_true(zhtp_wire_counter_expand(0xFF, 1, 0x100) == 0xFF); /* a late packet */
    assert_true(zhtp_wire_counter_expand(0xFE, 1, UINT64_MAX - 1) == UINT64_MAX - 1);
    zt_rng r;
    zt_rng_seed(&r, 401);
    static const unsigned widths[] = {1, 2, 4};
    for (int i = 0; i < 200000; i++) {
        unsigned w = widths[zt_rng_below(&r, 3)];
        uint64_t hwin = UINT64_C(1) << (8 * w - 1);
        uint64_t base = zt_rng_below(&r, 3) ? zt_rng_u64(&r) : zt_rng_below(&r, 1000);
        if (base == ZHTP_WIRE_COUNTER_NONE || base == UINT64_MAX - 1)
            continue;
        uint64_t expected = base + 1;
        /* true counter anywhere in [expected - hwin + 1, expected + hwin - 1] (in range) */
        uint64_t delta = zt_rng_below(&r, 2 * hwin - 1);
        uint64_t lo = expected >= hwin - 1 ? expected - (hwin - 1) : 0;
        uint64_t ctr = lo + delta;
        if (ctr < lo || ctr > expected + (hwin - 1) || ctr == UINT64_MAX)
            continue;
        uint64_t mask = (UINT64_C(1) << (8 * w)) - 1;
        uint64_t got = zhtp_wire_counter_expand(ctr & mask, w, base);
        if (got != ctr)
            fail_msg("w=%u base=%llx ctr=%llx got %llx", w, (unsigned long long)base,
                     (unsigned long long)ctr, (unsigned long long)got);
    }
}

static void every_truncation_of_a_compressed_packet_is_rejected(void **state)
{
    zt_rng r;
    wg_arena a;
    zt_rng_seed(&r, 402);
    wg_arena_init(&a, 1 << 20);
    for (int i = 0; i < 300; i++) {
        uint8_t op = (uint8_t)(1 + zt_rng_below(&r, ZHTP_WIRE_OP_MAX_));
        wg_arena_reset(&a);
        size_t len = wg_packet(&r, op, pkt, sizeof pkt, &a, false);
        zhtp_wire_header h;
        assert_int_equal(zhtp_wire_header_decode(&h, pkt, len), 0);
        zhtp_wire_link_ctx tx, rx;
        contexts(&r, &h, &tx, &rx);
        zhtp_ssize c = zhtp_wire_packet_compress(cmp, sizeof cmp, pkt, len, &tx);
        assert_true(c > 0);
        zhtp_wire_header g;
        zhtp_ssize hl = zhtp_wire_compressed_header_decode(&g, cmp, (size_t)c, &rx);
        assert_true(hl > 0);
        size_t tag = (h.flags & ZHTP_WIRE_FLAG_SEALED) ? 16 : 0;
        /* Cutting into the header or the tag is always caught; cutting the payload
         * shortens payload_len, caught by the payload decoder or the AEAD, so the payload
         * decoder must reject it for every op but DATA (checked in payload_test). */
        for (size_t n = 0; n < (size_t)hl + tag; n++)
            assert_true(zhtp_wire_compressed_header_decode(&g, cmp, n, &rx) < 0);
    }
    wg_arena_free(&a);
}

static void malformed_dispatch_bytes_are_rejected(void **state)
{
    zhtp_wire_link_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.version = ZHTP_WIRE_VERSION;
    ctx.counter_base = ZHTP_WIRE_COUNTER_NONE;
    zhtp_wire_header g;
    uint8_t b[200];
    memset(b, 0, sizeof b);
    /* op 0 and op 15 */
    b[0] = 0xFC, b[1] = 0x00 | 0x02;
    assert_int_equal(zhtp_wire_compressed_header_decode(&g, b, sizeof b, &ctx),
                     ZHTP_ERR_WIRE_OPERATION);
    b[1] = 0xF0 | 0x02;
    assert_int_equal(zhtp_wire_compressed_header_decode(&g, b, sizeof b, &ctx),
                     ZHTP_ERR_WIRE_OPERATION);
    /* receiver index width 11 is reserved */
    b[1] = (uint8_t)(ZHTP_WIRE_OP_DATA << 4 | 0x0C | 0x02);
    assert_int_equal(zhtp_wire_compressed_header_decode(&g, b, sizeof b, &ctx),
                     ZHTP_ERR_WIRE_RESERVED);
    /* unsealed (flags inline = 0) with a counter width, M, or an index width */
    b[1] = (uint8_t)(ZHTP_WIRE_OP_DATA << 4 | 0x02 | 0x01);
    b[0] = 0xC0 | 0x30 | 0x04 | 0x01;
    assert_int_equal(zhtp_wire_compressed_header_decode(&g, b, sizeof b, &ctx),
                     ZHTP_ERR_WIRE_RESERVED);
    b[0] = 0xC0 | 0x30 | 0x04 | 0x08;
    assert_int_equal(zhtp_wire_compressed_header_decode(&g, b, sizeof b, &ctx),
                     ZHTP_ERR_WIRE_RESERVED);
    b[0] = 0xC0 | 0x30 | 0x04;
    b[1] = (uint8_t)(ZHTP_WIRE_OP_DATA << 4 | 0x04 | 0x02 | 0x01);
    assert_int_equal(zhtp_wire_compressed_header_decode(&g, b, sizeof b, &ctx),
                     ZHTP_ERR_WIRE_RESERVED);
    /* unknown flag bits inline */
    b[1] = (uint8_t)(ZHTP_WIRE_OP_DATA << 4 | 0x02 | 0x01);
    b[2] = 0x80;
    assert_int_equal(zhtp_wire_compressed_header_decode(&g, b, sizeof b, &ctx),
                     ZHTP_ERR_WIRE_RESERVED);
    /* sealed with receiver index 0 */
    b[0] = 0xC0 | 0x30 | 0x04 | 0x08 | 0x03;
    b[1] = (uint8_t)(ZHTP_WIRE_OP_DATA << 4 | 0x08 | 0x02); /* 1-byte index, flags=SEALED */
    b[2] = 0;
    assert_int_equal(zhtp_wire_compressed_header_decode(&g, b, sizeof b, &ctx),
                     ZHTP_ERR_WIRE_FIELD);
    b[2] = 9; /* with a non-zero index the same frame decodes */
    assert_int_equal(zhtp_wire_compressed_header_decode(&g, b, sizeof b, &ctx), 4);
    assert_int_equal(g.payload_len, sizeof b - 4 - 16);
    /* not a compressed frame at all */
    b[0] = 0x80;
    assert_int_equal(zhtp_wire_compressed_header_decode(&g, b, sizeof b, &ctx), ZHTP_ERR_INVAL);
    /* a version-0 packet is never compressed; a context of another version is refused */
    zhtp_wire_header h;
    memset(&h, 0, sizeof h);
    h.version = 0, h.operation = ZHTP_WIRE_OP_ERROR, h.hop_limit = 1;
    ctx.version = 0;
    assert_int_equal(zhtp_wire_compressed_header_encode(b, sizeof b, &h, &ctx),
                     ZHTP_ERR_WIRE_VERSION);
}

static void a_wrong_context_changes_the_rebuilt_header(void **state)
{
    /* Elision is safe because the rebuilt header is the AEAD's associated data: a receiver
     * whose context differs gets a different header, so the tag check fails. */
    zt_rng r;
    wg_arena a;
    zt_rng_seed(&r, 403);
    wg_arena_init(&a, 1 << 20);
    int checked = 0;
    for (int i = 0; i < 2000; i++) {
        wg_arena_reset(&a);
        size_t len = wg_packet(&r, ZHTP_WIRE_OP_DATA, pkt, sizeof pkt, &a, false);
        zhtp_wire_header h;
        assert_int_equal(zhtp_wire_header_decode(&h, pkt, len), 0);
        zhtp_wire_link_ctx tx, rx;
        contexts(&r, &h, &tx, &rx);
        zhtp_ssize c = zhtp_wire_packet_compress(cmp, sizeof cmp, pkt, len, &tx);
        assert_true(c > 0);
        bool elided_sender = (cmp[0] & 0x20) != 0;
        if (!elided_sender)
            continue;
        rx.sender_id[zt_rng_below(&r, 32)] ^= 1;
        zhtp_ssize d = zhtp_wire_packet_decompress(back, sizeof back, cmp, (size_t)c, &rx);
        assert_int_equal(d, (zhtp_ssize)len);
        assert_memory_not_equal(back, pkt, 128);
        checked++;
    }
    assert_true(checked > 100);
    wg_arena_free(&a);
}

static void frame_kind_is_told_by_the_first_byte(void **state)
{
    uint8_t b[1];
    for (int v = 0; v < 256; v++) {
        b[0] = (uint8_t)v;
        enum zhtp_wire_frame_kind k = zhtp_wire_frame_kind(b, 1);
        enum zhtp_wire_frame_kind want = v == 0x5A            ? ZHTP_WIRE_FRAME_FULL
                                         : (v & 0xC0) == 0xC0 ? ZHTP_WIRE_FRAME_COMPRESSED
                                         : (v & 0xC0) == 0x80 ? ZHTP_WIRE_FRAME_FRAGMENT
                                                              : ZHTP_WIRE_FRAME_INVALID;
        assert_int_equal(k, want);
    }
    assert_int_equal(zhtp_wire_frame_kind(b, 0), ZHTP_WIRE_FRAME_INVALID);
}

static void a_header_with_nothing_to_elide_compresses_to_102_bytes(void **state)
{
    zhtp_wire_link_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.version = ZHTP_WIRE_VERSION;
    ctx.counter_base = ZHTP_WIRE_COUNTER_NONE;
    zhtp_wire_header h;
    memset(&h, 0, sizeof h);
    h.version = ZHTP_WIRE_VERSION;
    h.operation = ZHTP_WIRE_OP_STORE;
    h.flags = ZHTP_WIRE_FLAG_SEALED | ZHTP_WIRE_FLAG_TARGET_IS_KEY;
    h.hop_count = 1, h.hop_limit = 2;
    memset(h.sender, 1, 32);
    memset(h.target, 2, 32);
    h.message_id = 5, h.timestamp_ms = 6;
    h.receiver_index = 0x01000000;
    h.counter = UINT64_C(1) << 40;
    uint8_t b[ZHTP_WIRE_COMPRESSED_MAX_HEADER + 16];
    zhtp_ssize n = zhtp_wire_compressed_header_encode(b, sizeof b, &h, &ctx);
    assert_int_equal(n, ZHTP_WIRE_COMPRESSED_MAX_HEADER);
    assert_int_equal(n, 102);
    assert_int_equal(zhtp_wire_compressed_header_encode(b, 101, &h, &ctx), ZHTP_ERR_NOBUF);
    memset(b + n, 0, 16); /* empty payload, tag */
    zhtp_wire_header g;
    assert_int_equal(zhtp_wire_compressed_header_decode(&g, b, (size_t)n + 16, &ctx), 102);
    assert_true(wg_header_equal(&h, &g));
}

static void conversions_work_in_place(void **state)
{
    zt_rng r;
    wg_arena a;
    zt_rng_seed(&r, 404);
    wg_arena_init(&a, 1 << 20);
    for (int i = 0; i < 500; i++) {
        uint8_t op = (uint8_t)(1 + zt_rng_below(&r, ZHTP_WIRE_OP_MAX_));
        wg_arena_reset(&a);
        size_t len = wg_packet(&r, op, pkt, sizeof pkt, &a, false);
        zhtp_wire_header h;
        assert_int_equal(zhtp_wire_header_decode(&h, pkt, len), 0);
        zhtp_wire_link_ctx tx, rx;
        contexts(&r, &h, &tx, &rx);
        memcpy(back, pkt, len);
        zhtp_ssize c = zhtp_wire_packet_compress(back, sizeof back, back, len, &tx);
        assert_true(c > 0);
        zhtp_ssize d = zhtp_wire_packet_decompress(back, sizeof back, back, (size_t)c, &rx);
        assert_int_equal(d, (zhtp_ssize)len);
        assert_memory_equal(back, pkt, len);
    }
    zhtp_wire_link_ctx z;
    memset(&z, 0, sizeof z);
    uint8_t f[32] = {0xFC, 0xB2};
    zhtp_wire_header g;
    assert_int_equal(zhtp_wire_compressed_header_decode(&g, f, sizeof f, &z),
                     ZHTP_ERR_WIRE_VERSION); /* a version-0 context decodes nothing */
    wg_arena_free(&a);
}

/* The worked example of docs/protocol.md section 11, byte for byte. */
/* Narrow links never carry CLEAR_TAIL (docs/protocol.md section 8): the compressed header has
 * no field for clear_len, so the encoder refuses it and a compressed frame that claims it in
 * its inline flags is rejected. */
static void clear_tail_is_never_compressed(void **state)
{
    zhtp_wire_link_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.version = ZHTP_WIRE_VERSION;
    ctx.counter_base = ZHTP_WIRE_COUNTER_NONE;
    zhtp_wire_header h;
    memset(&h, 0, sizeof h);
    h.version = 1, h.operation = ZHTP_WIRE_OP_DATA;
    h.flags = ZHTP_WIRE_FLAG_SEALED | ZHTP_WIRE_FLAG_CLEAR_TAIL;
    h.hop_limit = 64, h.route_bound = ZHTP_WIRE_ROUTE_BOUND_NONE;
    h.receiver_index = 17, h.counter = h.message_id = 42;
    h.payload_len = 40, h.clear_len = 20;
    uint8_t full[128 + 40 + 16], out[sizeof full];
    memset(full, 0x5C, sizeof full);
    assert_int_equal(zhtp_wire_header_encode(full, sizeof full, &h), 128);
    assert_int_equal(zhtp_wire_compressed_header_encode(out, sizeof out, &h, &ctx),
                     ZHTP_ERR_WIRE_FIELD);
    memset(out, 0xEE, sizeof out);
    assert_int_equal(zhtp_wire_packet_compress(out, sizeof out, full, sizeof full, &ctx),
                     ZHTP_ERR_WIRE_FIELD);
    assert_int_equal(out[0], 0xEE);
    /* The same header without the flag compresses; then set bit 4 in its inline flags. */
    h.flags = ZHTP_WIRE_FLAG_SEALED | ZHTP_WIRE_FLAG_LOCATORS; /* forces flags inline */
    h.clear_len = 0;
    zhtp_ssize hl = zhtp_wire_compressed_header_encode(out, sizeof out, &h, &ctx);
    assert_true(hl > 4);
    assert_int_equal(out[1] & 0x01, 0x01); /* F: flags inline, right after the dispatch */
    assert_int_equal(out[3], ZHTP_WIRE_FLAG_SEALED | ZHTP_WIRE_FLAG_LOCATORS);
    zhtp_wire_header g;
    assert_true(zhtp_wire_compressed_header_decode(&g, out, (size_t)hl + 56, &ctx) == hl);
    out[3] |= 0x10;
    assert_int_equal(zhtp_wire_compressed_header_decode(&g, out, (size_t)hl + 56, &ctx),
                     ZHTP_ERR_WIRE_FIELD);
}

static void documented_example_encodes_byte_for_byte(void **state)
{
    zhtp_wire_header h;
    memset(&h, 0, sizeof h);
    h.version = 1, h.operation = ZHTP_WIRE_OP_DATA, h.flags = ZHTP_WIRE_FLAG_SEALED;
    h.hop_limit = 64, h.route_bound = ZHTP_WIRE_ROUTE_BOUND_NONE;
    memset(h.sender, 0xAA, 32);
    memset(h.target, 0xBB, 32);
    h.receiver_index = 17, h.counter = h.message_id = 42;
    zhtp_wire_payload p;
    memset(&p, 0, sizeof p);
    p.operation = ZHTP_WIRE_OP_DATA, p.u.data.subtype = 1, p.u.data.channel = 7;
    p.u.data.body.ptr = (const uint8_t *)"hi", p.u.data.body.len = 2;
    assert_int_equal(zhtp_wire_payload_encode(pkt + 128, 100, &p), 6);
    h.payload_len = 6;
    assert_int_equal(zhtp_wire_header_encode(pkt, sizeof pkt, &h), 128);
    memset(pkt + 134, 0xEE, 16);
    static const uint8_t head[16] = {0x5a, 0x48, 0x54, 0x50, 0x01, 0x0b, 0x00, 0x01,
                                     0x00, 0x80, 0x00, 0x40, 0x00, 0x00, 0x00, 0x06};
    /* message_id 42 | timestamp 0 | receiver_index 17 | counter 42 | route_bound none */
    static const uint8_t mid[32] = {0, 0, 0, 0, 0, 0,    0,    0x2a, 0,    0,   0,
                                    0, 0, 0, 0, 0, 0,    0,    0,    0x11, 0,   0,
                                    0, 0, 0, 0, 0, 0x2a, 0xff, 0xff, 0xff, 0xff};
    assert_memory_equal(pkt, head, 16);
    assert_memory_equal(pkt + 80, mid, 32);
    zhtp_wire_link_ctx c;
    memset(&c, 0, sizeof c);
    c.version = 1, c.counter_base = 41;
    memset(c.sender_id, 0xAA, 32);
    memset(c.target_id, 0xBB, 32);
    static const uint8_t want[10] = {0xff, 0xba, 0x11, 0x2a, 0x01, 0x00, 0x00, 0x07, 0x68, 0x69};
    assert_int_equal(zhtp_wire_packet_compress(cmp, sizeof cmp, pkt, 150, &c), 26);
    assert_memory_equal(cmp, want, 10);
    uint8_t fr[64];
    static const uint8_t offs[3] = {0x00, 0x07, 0x0e};
    static const zhtp_ssize lens[3] = {64, 64, 46};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(zhtp_wire_fragment_build(fr, sizeof fr, pkt, 150, 64, 0x0102, i), lens[i]);
        const uint8_t fh[8] = {0x80, 0x01, 0x02, 0x00, 0x00, 0x96, 0x00, offs[i]};
        assert_memory_equal(fr, fh, 8);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compressed_and_full_round_trip_over_random_packets),
        cmocka_unit_test(lora_data_packet_overhead_is_at_most_32_bytes),
        cmocka_unit_test(counter_expansion_recovers_values_within_half_a_window),
        cmocka_unit_test(every_truncation_of_a_compressed_packet_is_rejected),
        cmocka_unit_test(malformed_dispatch_bytes_are_rejected),
        cmocka_unit_test(a_wrong_context_changes_the_rebuilt_header),
        cmocka_unit_test(frame_kind_is_told_by_the_first_byte),
        cmocka_unit_test(a_header_with_nothing_to_elide_compresses_to_102_bytes),
        cmocka_unit_test(conversions_work_in_place),
        cmocka_unit_test(documented_example_encodes_byte_for_byte),
        cmocka_unit_test(clear_tail_is_never_compressed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
