/* The sizes and offsets that docs/protocol.md states in prose (sections 3.4, 6.1-6.7, 6.5,
 * 6.8, 6.9, 6.10, 12, 13), rebuilt with the wire codecs: if a constant or a layout changes, the
 * document's numbers fail here instead of silently going stale. No cryptography: tags and
 * signatures are filler bytes of the documented lengths (their contents are the session layer's,
 * checked by tests/unit/core/). */
#include <string.h>

#include "zhtp/wire.h"

#include "testutil.h"

static uint8_t pkt[ZHTP_WIRE_MAX_PACKET], inner[ZHTP_WIRE_MAX_PACKET], cmp[ZHTP_WIRE_MAX_PACKET];
static uint8_t filler[8192];

static const uint8_t ID_A[32] = {0xA1}, ID_B[32] = {0xB2}, ID_C[32] = {0xC3}, ID_D[32] = {0xD4};

/* A sealed header as the node builds it for DATA (section 14), payload_len filled by caller. */
static zhtp_wire_header sealed_header(const uint8_t *sender, const uint8_t *target)
{
    zhtp_wire_header h;
    memset(&h, 0, sizeof h);
    h.version = ZHTP_WIRE_VERSION;
    h.operation = ZHTP_WIRE_OP_DATA;
    h.flags = ZHTP_WIRE_FLAG_SEALED;
    h.hop_limit = ZHTP_WIRE_DEFAULT_HOP_LIMIT;
    h.route_bound = 3;
    memcpy(h.sender, sender, 32);
    memcpy(h.target, target, 32);
    h.message_id = 77;
    h.receiver_index = UINT32_C(0x9ABCDEF0); /* random 32-bit indices: 4 bytes compressed */
    h.counter = 5;
    return h;
}

/* Header + DATA(APP, channel) payload + 16 filler tag bytes into out; returns the length. */
static size_t data_packet(uint8_t *out, zhtp_wire_header h, uint16_t channel, const uint8_t *body,
                          size_t body_len)
{
    zhtp_wire_payload p;
    memset(&p, 0, sizeof p);
    p.operation = ZHTP_WIRE_OP_DATA;
    p.u.data.subtype = ZHTP_WIRE_DATA_APP;
    p.u.data.channel = channel;
    p.u.data.body = (zhtp_wire_bytes){body, body_len};
    zhtp_ssize pl = zhtp_wire_payload_encode(out + ZHTP_WIRE_HEADER_LEN,
                                             ZHTP_WIRE_MAX_PACKET - ZHTP_WIRE_HEADER_LEN, &p);
    assert_true(pl >= 0);
    h.payload_len = (uint32_t)pl;
    assert_int_equal(zhtp_wire_header_encode(out, ZHTP_WIRE_HEADER_LEN, &h), ZHTP_WIRE_HEADER_LEN);
    memset(out + ZHTP_WIRE_HEADER_LEN + pl, 0xEE, ZHTP_WIRE_TAG_LEN);
    size_t len = ZHTP_WIRE_HEADER_LEN + (size_t)pl + ZHTP_WIRE_TAG_LEN;
    zhtp_wire_packet dec;
    assert_int_equal(zhtp_wire_packet_decode(&dec, out, len), 0);
    return len;
}

/* Bytes on the link for one packet: unfragmented if it fits the MTU, else fragment frames
 * actually built; *frames gets their count and *last the last frame's length. */
static size_t on_link(const uint8_t *p, size_t len, size_t mtu, size_t *frames, size_t *last)
{
    if (len <= mtu) {
        *frames = 1;
        *last = len;
        return len;
    }
    zhtp_ssize n = zhtp_wire_fragment_count(len, mtu);
    assert_true(n > 0);
    size_t total = 0;
    uint8_t fr[ZHTP_WIRE_MAX_MTU];
    for (zhtp_ssize i = 0; i < n; i++) {
        zhtp_ssize fl = zhtp_wire_fragment_build(fr, sizeof fr, p, len, mtu, 7, (size_t)i);
        assert_true(fl > 0 && (size_t)fl <= mtu);
        total += (size_t)fl;
        *last = (size_t)fl;
    }
    *frames = (size_t)n;
    return total;
}

static void data_1280_bytes_layers_into_the_documented_sizes(void **state)
{
    (void)state;
    size_t frames, last;
    /* Neighbour: one AEAD. */
    zhtp_wire_header h = sealed_header(ID_A, ID_B);
    size_t nb = data_packet(pkt, h, 3, filler, 1280);
    assert_int_equal(nb, 1428);
    assert_int_equal(on_link(pkt, nb, 1280, &frames, &last), 1444);
    assert_int_equal(frames, 2);
    assert_int_equal(last, 164);
    assert_int_equal(on_link(pkt, nb, 222, &frames, &last), 1484);
    assert_int_equal(frames, 7);
    assert_int_equal(last, 188);

    /* Further away: inner packet sealed end to end, carried on channel 4. */
    size_t in = data_packet(inner, sealed_header(ID_A, ID_D), 3, filler, 1280);
    assert_int_equal(in, 1428);
    size_t mh = data_packet(pkt, sealed_header(ID_A, ID_D), 4, inner, in);
    assert_int_equal(mh, 1576);
    assert_int_equal(on_link(pkt, mh, 1280, &frames, &last), 1592);
    assert_int_equal(frames, 2);
    assert_int_equal(on_link(pkt, mh, 222, &frames, &last), 1640);
    assert_int_equal(frames, 8);
    assert_int_equal(last, 128);
}

static void compressed_link_headers_have_the_documented_lengths(void **state)
{
    (void)state;
    zhtp_wire_link_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.version = ZHTP_WIRE_VERSION;
    ctx.counter_base = 4; /* the peer has counter 4: counter 5 goes in 1 byte */
    size_t frames, last;
    /* Section 12: the origin sends hop_count 0 and route_bound none (H elides them); a
     * forwarder's hop has hop_count >= 1 and a lowered bound. */
    struct {
        const uint8_t *hdr_sender, *hdr_target, *link_sender, *link_target;
        bool origin, inner;
        size_t hdr_len, pkt_len, link_bytes;
    } cases[4] = {
        {ID_A, ID_B, ID_A, ID_B, true, false, 15, 1315, 1371}, /* neighbour */
        {ID_A, ID_D, ID_A, ID_B, true, true, 47, 1495, 1559},  /* distant: origin's hop */
        {ID_A, ID_D, ID_B, ID_C, false, true, 85, 1533, 1597}, /* distant: middle hop */
        {ID_A, ID_D, ID_C, ID_D, false, true, 53, 1501, 1565}, /* distant: last hop */
    };
    size_t in = data_packet(inner, sealed_header(ID_A, ID_D), 3, filler, 1280);
    for (size_t i = 0; i < 4; i++) {
        memcpy(ctx.sender_id, cases[i].link_sender, 32);
        memcpy(ctx.target_id, cases[i].link_target, 32);
        zhtp_wire_header h = sealed_header(cases[i].hdr_sender, cases[i].hdr_target);
        if (cases[i].origin)
            h.route_bound = ZHTP_WIRE_ROUTE_BOUND_NONE;
        else
            h.hop_count = 1;
        size_t len = cases[i].inner ? data_packet(pkt, h, 4, inner, in)
                                    : data_packet(pkt, h, 3, filler, 1280);
        h.payload_len = (uint32_t)(len - ZHTP_WIRE_HEADER_LEN - ZHTP_WIRE_TAG_LEN);
        assert_int_equal(zhtp_wire_compressed_header_encode(cmp, sizeof cmp, &h, &ctx),
                         (zhtp_ssize)cases[i].hdr_len);
        zhtp_ssize cl = zhtp_wire_packet_compress(cmp, sizeof cmp, pkt, len, &ctx);
        assert_int_equal(cl, (zhtp_ssize)cases[i].pkt_len);
        assert_int_equal(on_link(cmp, (size_t)cl, 222, &frames, &last), cases[i].link_bytes);
    }
    /* Empty neighbour DATA from its origin: 35 bytes compressed, 148 full. */
    memcpy(ctx.sender_id, ID_A, 32);
    memcpy(ctx.target_id, ID_B, 32);
    zhtp_wire_header h = sealed_header(ID_A, ID_B);
    h.route_bound = ZHTP_WIRE_ROUTE_BOUND_NONE;
    size_t len = data_packet(pkt, h, 1, NULL, 0);
    assert_int_equal(len, 148);
    assert_int_equal(zhtp_wire_packet_compress(cmp, sizeof cmp, pkt, len, &ctx), 35);
    /* The same packet with a bound (a forwarder's) carries the 6 hop/bound bytes. */
    h.route_bound = 3;
    h.hop_count = 1;
    len = data_packet(pkt, h, 1, NULL, 0);
    assert_int_equal(zhtp_wire_packet_compress(cmp, sizeof cmp, pkt, len, &ctx), 41);
}

/* One handshake container with the field lengths of section 6.8; returns the packet length
 * and checks the identity-field offset the document gives. */
static size_t handshake(uint8_t op, size_t f0, size_t f1, size_t f2, size_t id_off)
{
    zhtp_wire_payload p;
    memset(&p, 0, sizeof p);
    p.operation = op;
    p.u.handshake.sender_index = op == ZHTP_WIRE_OP_COOKIE_REPLY ? 0 : 0x01020304;
    p.u.handshake.receiver_index = op == ZHTP_WIRE_OP_HANDSHAKE_INIT ? 0 : 0x05060708;
    p.u.handshake.suite = op == ZHTP_WIRE_OP_COOKIE_REPLY ? 0 : ZHTP_WIRE_SUITE_HYBRID1;
    p.u.handshake.field[0] = (zhtp_wire_bytes){filler, f0};
    p.u.handshake.field[1] = (zhtp_wire_bytes){filler, f1};
    p.u.handshake.field[2] = (zhtp_wire_bytes){filler, f2};
    zhtp_ssize pl = zhtp_wire_payload_encode(pkt, sizeof pkt, &p);
    assert_true(pl > 0);
    /* Length prefix of the identity field (or the cookie) at the documented offset. */
    assert_int_equal(pkt[id_off], (uint8_t)(f1 >> 8));
    assert_int_equal(pkt[id_off + 1], (uint8_t)f1);
    return ZHTP_WIRE_HEADER_LEN + (size_t)pl;
}

static void handshake_messages_have_the_documented_offsets_and_sizes(void **state)
{
    (void)state;
    const uint8_t I = ZHTP_WIRE_OP_HANDSHAKE_INIT, R = ZHTP_WIRE_OP_HANDSHAKE_RESPONSE;
    /* INIT: identity length at 1226; 2,493 / 5,054 / 41 bytes of identity field; mac 32. */
    assert_int_equal(handshake(I, 1216, 2493, 32, 1226), 3883);
    assert_int_equal(handshake(I, 1216, 2493 + 2561, 32, 1226), 6444);
    assert_int_equal(handshake(I, 1216, 1 + 8 + 32, 32, 1226), 1431);
    /* RESPONSE: identity length at 1134; 2,485 / 5,046 / 1; confirm 16. */
    assert_int_equal(handshake(R, 1120, 2485, 16, 1134), 3767);
    assert_int_equal(handshake(R, 1120, 2485 + 2561, 16, 1134), 6328);
    assert_int_equal(handshake(R, 1120, 1, 16, 1134), 1283);
    /* COOKIE_REPLY: cookie length at 30. */
    assert_int_equal(handshake(ZHTP_WIRE_OP_COOKIE_REPLY, 24, 48, 0, 30), 208);

    /* Wire-level bounds stated in 6.8: identity <= 8192, mac <= 64, exact KEM sizes. */
    zhtp_wire_payload p;
    memset(&p, 0, sizeof p);
    p.operation = I;
    p.u.handshake.sender_index = 1;
    p.u.handshake.suite = ZHTP_WIRE_SUITE_HYBRID1;
    p.u.handshake.field[0] = (zhtp_wire_bytes){filler, 1216};
    p.u.handshake.field[1] = (zhtp_wire_bytes){filler, 8193};
    assert_int_equal(zhtp_wire_payload_encode(pkt, sizeof pkt, &p), ZHTP_ERR_WIRE_LENGTH);
    p.u.handshake.field[1] = (zhtp_wire_bytes){filler, 8192};
    p.u.handshake.field[2] = (zhtp_wire_bytes){filler, 65};
    assert_int_equal(zhtp_wire_payload_encode(pkt, sizeof pkt, &p), ZHTP_ERR_WIRE_LENGTH);
    p.u.handshake.field[2] = (zhtp_wire_bytes){filler, 0};
    p.u.handshake.field[0] = (zhtp_wire_bytes){filler, 1215};
    assert_int_equal(zhtp_wire_payload_encode(pkt, sizeof pkt, &p), ZHTP_ERR_WIRE_LENGTH);
}

static void keepalive_discovery_and_routing_sizes_match_the_text(void **state)
{
    (void)state;
    /* Keepalive: sealed DATA with no payload at all is a valid packet (144 B) whose payload
     * the DATA decoder refuses, so only the session layer can consume it. */
    zhtp_wire_header h = sealed_header(ID_A, ID_B);
    h.hop_limit = 1;
    h.payload_len = 0;
    assert_int_equal(zhtp_wire_header_encode(pkt, sizeof pkt, &h), 128);
    memset(pkt + 128, 0xEE, 16);
    zhtp_wire_packet dec;
    assert_int_equal(zhtp_wire_packet_decode(&dec, pkt, 144), 0);
    zhtp_wire_payload p;
    assert_true(zhtp_wire_payload_decode(&p, ZHTP_WIRE_OP_DATA, pkt + 128, 0) < 0);

    /* PEER_DISCOVERY with versions [1]: 2,698 B with PUB, 137 B without. */
    static const uint8_t v1[1] = {1};
    memset(&p, 0, sizeof p);
    p.operation = ZHTP_WIRE_OP_PEER_DISCOVERY;
    p.u.peer_discovery.kind = ZHTP_WIRE_DISCOVERY_SOLICIT;
    p.u.peer_discovery.version_count = 1;
    p.u.peer_discovery.versions = v1;
    p.u.peer_discovery.identity = (zhtp_wire_bytes){filler, 2561};
    assert_int_equal(128 + zhtp_wire_payload_encode(pkt, sizeof pkt, &p), 2698);
    p.u.peer_discovery.identity = (zhtp_wire_bytes){NULL, 0};
    assert_int_equal(128 + zhtp_wire_payload_encode(pkt, sizeof pkt, &p), 137);

    /* ROUTING with one ANNOUNCE element of depth n: 196 + 6n bytes sealed (n = 13: 274). */
    memset(&p, 0, sizeof p);
    p.operation = ZHTP_WIRE_OP_ROUTING;
    p.u.routing.tlv_count = 1;
    p.u.routing.tlv[0].type = ZHTP_WIRE_ROUTING_ANNOUNCE;
    for (size_t n = 0; n <= 13; n++) {
        p.u.routing.tlv[0].value = (zhtp_wire_bytes){filler, 46 + 6 * n};
        zhtp_ssize pl = zhtp_wire_payload_encode(pkt, sizeof pkt, &p);
        assert_int_equal(128 + pl + 16, (zhtp_ssize)(196 + 6 * n));
        /* One 222-byte LoRa frame holds depth <= 4 with the full header. */
        assert_true((128 + pl + 16 <= 222) == (n <= 4));
    }
    /* Compressed on a narrow link (hop_limit 1 keeps hops/bound inline): 89 + 6n bytes,
     * one LoRa frame up to depth 22. */
    zhtp_wire_link_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.version = ZHTP_WIRE_VERSION;
    ctx.counter_base = 4;
    memcpy(ctx.sender_id, ID_A, 32);
    memcpy(ctx.target_id, ID_B, 32);
    for (size_t n = 20; n <= 23; n++) {
        p.u.routing.tlv[0].value = (zhtp_wire_bytes){filler, 46 + 6 * n};
        zhtp_wire_header rh = sealed_header(ID_A, ID_B);
        rh.operation = ZHTP_WIRE_OP_ROUTING;
        rh.hop_limit = 1;
        rh.route_bound = ZHTP_WIRE_ROUTE_BOUND_NONE;
        zhtp_ssize pl = zhtp_wire_payload_encode(pkt + 128, sizeof pkt - 128, &p);
        assert_true(pl > 0);
        rh.payload_len = (uint32_t)pl;
        assert_int_equal(zhtp_wire_header_encode(pkt, 128, &rh), 128);
        memset(pkt + 128 + pl, 0xEE, 16);
        zhtp_ssize cl =
            zhtp_wire_packet_compress(cmp, sizeof cmp, pkt, (size_t)(128 + pl + 16), &ctx);
        assert_int_equal(cl, (zhtp_ssize)(89 + 6 * n));
        assert_true((cl <= 222) == (n <= 22));
    }
}

/* Section 6.1-6.7 and 6.9: DHT packets and a tunnelled IPv6 packet, built with the wire codecs
 * (header, locator block, DHT framing, DATA). */
static size_t dht_packet(uint8_t *out, const uint8_t *msg, size_t msg_len, size_t depth)
{
    zhtp_wire_header h = sealed_header(ID_A, ID_B);
    h.operation = zhtp_wire_dht_op(msg[0]);
    uint8_t pl[4096];
    size_t off = 0;
    if (depth) {
        uint16_t ports[6] = {1, 2, 3, 4, 5, 6};
        h.flags |= ZHTP_WIRE_FLAG_LOCATORS;
        zhtp_ssize bl = zhtp_wire_locators_encode(pl, sizeof pl, ports, depth, ports, depth);
        assert_true(bl > 0);
        off = (size_t)bl;
    }
    zhtp_wire_payload p;
    memset(&p, 0, sizeof p);
    p.operation = h.operation;
    p.u.dht.msg.ptr = msg;
    p.u.dht.msg.len = msg_len;
    zhtp_ssize ml = zhtp_wire_payload_encode(pl + off, sizeof pl - off, &p);
    assert_int_equal(ml, (zhtp_ssize)msg_len);
    h.payload_len = (uint32_t)(off + msg_len);
    assert_int_equal(zhtp_wire_header_encode(out, ZHTP_WIRE_HEADER_LEN, &h), ZHTP_WIRE_HEADER_LEN);
    memcpy(out + ZHTP_WIRE_HEADER_LEN, pl, off + msg_len);
    memset(out + ZHTP_WIRE_HEADER_LEN + off + msg_len, 0xEE, ZHTP_WIRE_TAG_LEN);
    size_t total = ZHTP_WIRE_HEADER_LEN + off + msg_len + ZHTP_WIRE_TAG_LEN;
    zhtp_wire_packet pk;
    assert_int_equal(zhtp_wire_packet_decode(&pk, out, total), ZHTP_OK);
    return total;
}

static void dht_and_ipv6_packets_have_the_documented_sizes(void **state)
{
    (void)state;
    /* FIND_NODE: type 3 | flags 0 | txid | target[32] = 42 bytes */
    uint8_t find[42] = {3, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    assert_int_equal(dht_packet(pkt, find, sizeof find, 0), 186); /* to a neighbour */
    assert_int_equal(dht_packet(pkt, find, sizeof find, 6), 212); /* with s = d = 6 */
    /* the NODES example: two ids, the first with locator [2, 5], the second without */
    uint8_t nodes[82];
    memset(nodes, 0x44, sizeof nodes);
    nodes[0] = 5, nodes[1] = 1, nodes[10] = 2;
    const uint8_t loc[] = {5, 2, 0, 2, 0, 5, 0};
    memcpy(nodes + 11 + 64, loc, sizeof loc);
    assert_int_equal(11 + 64 + sizeof loc, 82);
    assert_int_equal(dht_packet(pkt, nodes, sizeof nodes, 0), 128 + 82 + 16);
    /* a PONG is an answer: it cannot travel as a QUERY */
    zhtp_wire_payload p;
    uint8_t pong[10] = {2};
    assert_int_equal(zhtp_wire_payload_decode(&p, ZHTP_WIRE_OP_QUERY, pong, sizeof pong),
                     ZHTP_ERR_WIRE_FIELD);
    /* 6.9: a 120-byte IPv6 packet between non-neighbours is a 416-byte packet on every hop */
    uint8_t v6[120] = {0x60};
    zhtp_wire_header ih = sealed_header(ID_A, ID_D);
    memset(&p, 0, sizeof p);
    p.operation = ZHTP_WIRE_OP_DATA;
    p.u.data.subtype = ZHTP_WIRE_DATA_IPV6;
    p.u.data.body.ptr = v6;
    p.u.data.body.len = sizeof v6;
    zhtp_ssize pl = zhtp_wire_payload_encode(inner + ZHTP_WIRE_HEADER_LEN,
                                             sizeof inner - ZHTP_WIRE_HEADER_LEN, &p);
    assert_int_equal(pl, 124);
    ih.payload_len = (uint32_t)pl;
    assert_int_equal(zhtp_wire_header_encode(inner, ZHTP_WIRE_HEADER_LEN, &ih),
                     ZHTP_WIRE_HEADER_LEN);
    size_t il = ZHTP_WIRE_HEADER_LEN + (size_t)pl + ZHTP_WIRE_TAG_LEN;
    assert_int_equal(data_packet(pkt, sealed_header(ID_A, ID_C), 4, inner, il), 416);
    /* 12: with CLEAR_TAIL the same packet (same 416 bytes) leaves the inner packet after its
     * header in clear: clear_len 140 (DATA 4 + IPv6 120 + inner tag 16), and the hop AEAD
     * encrypts only the 132-byte prefix (outer DATA sub-header 4 + inner header 128). */
    zhtp_wire_header th = sealed_header(ID_A, ID_C);
    th.flags |= ZHTP_WIRE_FLAG_CLEAR_TAIL;
    th.clear_len = (uint32_t)(il - ZHTP_WIRE_HEADER_LEN);
    assert_int_equal(th.clear_len, 140);
    assert_int_equal(data_packet(pkt, th, 4, inner, il), 416);
    zhtp_wire_packet dec;
    assert_int_equal(zhtp_wire_packet_decode(&dec, pkt, 416), 0);
    assert_int_equal(dec.hdr.payload_len - dec.hdr.clear_len, 132);
    assert_memory_equal(pkt + 416 - 16 - 140, inner + ZHTP_WIRE_HEADER_LEN, 140);
}

int main(void)
{
    memset(filler, 0x5C, sizeof filler);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(data_1280_bytes_layers_into_the_documented_sizes),
        cmocka_unit_test(compressed_link_headers_have_the_documented_lengths),
        cmocka_unit_test(handshake_messages_have_the_documented_offsets_and_sizes),
        cmocka_unit_test(keepalive_discovery_and_routing_sizes_match_the_text),
        cmocka_unit_test(dht_and_ipv6_packets_have_the_documented_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
