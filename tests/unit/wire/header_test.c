/* The 128-byte header and whole-packet framing: byte layout as docs/protocol.md states it,
 * round trips over seeded random headers, and rejection of every malformed input. */
#include <string.h>

#include "zhtp/wire.h"

#include "testutil.h"
#include "wire_gen.h"

static void sample_header(zhtp_wire_header *h)
{
    memset(h, 0, sizeof *h);
    h->version = 1;
    h->operation = ZHTP_WIRE_OP_DATA;
    h->flags = ZHTP_WIRE_FLAG_SEALED | ZHTP_WIRE_FLAG_RECEIPT_REQUESTED;
    h->hop_count = 3;
    h->hop_limit = 9;
    h->payload_len = 0x010203;
    for (int i = 0; i < 32; i++) {
        h->sender[i] = (uint8_t)(0xA0 + i);
        h->target[i] = (uint8_t)(0x40 + i);
    }
    h->message_id = UINT64_C(0x1122334455667788);
    h->timestamp_ms = UINT64_C(0x0000018B2C3D4E5F);
    h->receiver_index = 0xCAFEBABE;
    h->counter = UINT64_C(0x0102030405060708);
    h->route_bound = 0xA1B2C3D4;
}

static void header_bytes_sit_at_the_documented_offsets(void **state)
{
    zhtp_wire_header h;
    uint8_t b[128];
    sample_header(&h);
    assert_int_equal(zhtp_wire_header_encode(b, sizeof b, &h), 128);
    static const uint8_t head[16] = {'Z',  'H',  'T', 'P', 1,    11,   0x00, 0x03,
                                     0x00, 0x80, 3,   9,   0x00, 0x01, 0x02, 0x03};
    assert_memory_equal(b, head, 16);
    assert_memory_equal(b + 16, h.sender, 32);
    assert_memory_equal(b + 48, h.target, 32);
    static const uint8_t tail[32] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                                     0x00, 0x00, 0x01, 0x8B, 0x2C, 0x3D, 0x4E, 0x5F,
                                     0xCA, 0xFE, 0xBA, 0xBE, 0x01, 0x02, 0x03, 0x04,
                                     0x05, 0x06, 0x07, 0x08, 0xA1, 0xB2, 0xC3, 0xD4};
    assert_memory_equal(b + 80, tail, 32);
    for (int i = 112; i < 128; i++)
        assert_int_equal(b[i], 0);
}

static void random_headers_round_trip(void **state)
{
    zt_rng r;
    zt_rng_seed(&r, 100);
    for (int i = 0; i < 20000; i++) {
        zhtp_wire_header h, g;
        uint8_t b[128];
        wg_header(&r, &h, (uint8_t)(1 + zt_rng_below(&r, ZHTP_WIRE_OP_MAX_)));
        h.payload_len = (uint32_t)zt_rng_below(&r, ZHTP_WIRE_MAX_PAYLOAD + 1);
        if ((h.flags & ZHTP_WIRE_FLAG_SEALED) && h.payload_len >= 16 && zt_rng_below(&r, 3) == 0) {
            h.flags |= ZHTP_WIRE_FLAG_CLEAR_TAIL;
            h.clear_len = 16 + (uint32_t)zt_rng_below(&r, h.payload_len - 16 + 1);
        }
        assert_int_equal(zhtp_wire_header_encode(b, sizeof b, &h), 128);
        assert_int_equal(zhtp_wire_header_decode(&g, b, sizeof b), 0);
        assert_true(wg_header_equal(&h, &g));
    }
}

/* CLEAR_TAIL (docs/protocol.md 3.1, 3.2): clear_len sits big-endian in bytes 112..115 and
 * the rest of the reserved bytes stay zero. */
static void clear_tail_length_sits_at_bytes_112_to_115(void **state)
{
    zhtp_wire_header h, g;
    uint8_t b[128];
    sample_header(&h);
    h.flags |= ZHTP_WIRE_FLAG_CLEAR_TAIL;
    h.clear_len = 0x010203; /* == payload_len: the whole payload in clear is still valid */
    assert_int_equal(zhtp_wire_header_encode(b, sizeof b, &h), 128);
    assert_int_equal(b[6], 0x00);
    assert_int_equal(b[7], 0x13);
    static const uint8_t cl[4] = {0x00, 0x01, 0x02, 0x03};
    assert_memory_equal(b + 112, cl, 4);
    for (int i = 116; i < 128; i++)
        assert_int_equal(b[i], 0);
    assert_int_equal(zhtp_wire_header_decode(&g, b, sizeof b), 0);
    assert_true(wg_header_equal(&h, &g));
    h.clear_len = 16; /* the smallest tail: just the inner tag */
    assert_int_equal(zhtp_wire_header_encode(b, sizeof b, &h), 128);
    assert_int_equal(zhtp_wire_header_decode(&g, b, sizeof b), 0);
    assert_int_equal(g.clear_len, 16);
    /* A whole packet keeps its usual length: the tail is part of payload_len. */
    assert_int_equal(zhtp_wire_packet_len(&g), 128 + 0x010203 + 16);
}

/* Every CLEAR_TAIL rule, on both the encoder (header_check) and the decoder. */
static void clear_tail_misuse_is_rejected(void **state)
{
    zhtp_wire_header h, g;
    uint8_t b[128], c[128];
    sample_header(&h);
    h.flags |= ZHTP_WIRE_FLAG_CLEAR_TAIL;
    h.clear_len = 100;
    assert_int_equal(zhtp_wire_header_encode(b, sizeof b, &h), 128);

    /* Flag without SEALED (an unsealed header also has no index or counter). */
    zhtp_wire_header u = h;
    u.flags &= (uint16_t)~ZHTP_WIRE_FLAG_SEALED;
    u.receiver_index = 0;
    u.counter = 0;
    assert_int_equal(zhtp_wire_header_check(&u), ZHTP_ERR_WIRE_FIELD);
    assert_int_equal(zhtp_wire_header_encode(c, sizeof c, &u), ZHTP_ERR_WIRE_FIELD);
    u.flags &= (uint16_t)~ZHTP_WIRE_FLAG_CLEAR_TAIL;
    u.clear_len = 0;
    assert_int_equal(zhtp_wire_header_encode(c, sizeof c, &u), 128);
    c[7] |= 0x10;
    c[115] = 100;
    assert_int_equal(zhtp_wire_header_decode(&g, c, sizeof c), ZHTP_ERR_WIRE_FIELD);

    /* clear_len 0, below 16, or beyond the payload. */
    static const uint32_t bad[] = {0, 1, 15, 0x010204, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        zhtp_wire_header x = h;
        x.clear_len = bad[i];
        assert_int_equal(zhtp_wire_header_check(&x), ZHTP_ERR_WIRE_FIELD);
        memcpy(c, b, sizeof c);
        c[112] = (uint8_t)(bad[i] >> 24);
        c[113] = (uint8_t)(bad[i] >> 16);
        c[114] = (uint8_t)(bad[i] >> 8);
        c[115] = (uint8_t)bad[i];
        assert_int_equal(zhtp_wire_header_decode(&g, c, sizeof c), ZHTP_ERR_WIRE_FIELD);
    }

    /* clear_len in the struct without the flag: the encoder refuses it; on the wire the same
     * bytes are reserved ones. */
    zhtp_wire_header x = h;
    x.flags &= (uint16_t)~ZHTP_WIRE_FLAG_CLEAR_TAIL;
    assert_int_equal(zhtp_wire_header_check(&x), ZHTP_ERR_WIRE_FIELD);
    memcpy(c, b, sizeof c);
    c[7] &= (uint8_t)~0x10;
    assert_int_equal(zhtp_wire_header_decode(&g, c, sizeof c), ZHTP_ERR_WIRE_RESERVED);

    /* With the flag, bytes 116..127 stay reserved. */
    for (int i = 116; i < 128; i++) {
        memcpy(c, b, sizeof c);
        c[i] = 0x01;
        assert_int_equal(zhtp_wire_header_decode(&g, c, sizeof c), ZHTP_ERR_WIRE_RESERVED);
    }
    assert_int_equal(zhtp_wire_header_decode(&g, b, sizeof b), 0);
}

static void encode_into_short_buffer_writes_nothing(void **state)
{
    zhtp_wire_header h;
    uint8_t b[128];
    sample_header(&h);
    memset(b, 0xEE, sizeof b);
    assert_int_equal(zhtp_wire_header_encode(b, 127, &h), ZHTP_ERR_NOBUF);
    for (size_t i = 0; i < sizeof b; i++)
        assert_int_equal(b[i], 0xEE);
}

static void every_truncation_of_a_header_is_rejected(void **state)
{
    zhtp_wire_header h, g;
    uint8_t b[128];
    sample_header(&h);
    assert_int_equal(zhtp_wire_header_encode(b, sizeof b, &h), 128);
    for (size_t n = 0; n < 128; n++)
        assert_int_equal(zhtp_wire_header_decode(&g, b, n), ZHTP_ERR_WIRE_TRUNCATED);
}

static void every_truncation_and_extension_of_a_packet_is_rejected(void **state)
{
    zt_rng r;
    wg_arena a;
    static uint8_t pkt[ZHTP_WIRE_MAX_PACKET + 1];
    zt_rng_seed(&r, 101);
    wg_arena_init(&a, 1 << 20);
    for (uint8_t op = 1; op <= ZHTP_WIRE_OP_MAX_; op++) {
        for (int k = 0; k < 5; k++) {
            wg_arena_reset(&a);
            size_t len = wg_packet(&r, op, pkt, sizeof pkt - 1, &a, false);
            zhtp_wire_packet p;
            assert_int_equal(zhtp_wire_packet_decode(&p, pkt, len), 0);
            assert_ptr_equal(p.payload.ptr, pkt + 128);
            assert_int_equal(p.payload.len, len - 128 - (p.tag ? 16 : 0));
            if (p.tag)
                assert_ptr_equal(p.tag, pkt + len - 16);
            for (size_t n = 0; n < len; n++)
                assert_int_equal(zhtp_wire_packet_decode(&p, pkt, n), ZHTP_ERR_WIRE_TRUNCATED);
            assert_int_equal(zhtp_wire_packet_decode(&p, pkt, len + 1), ZHTP_ERR_WIRE_LENGTH);
        }
    }
    wg_arena_free(&a);
}

static void any_reserved_byte_or_flag_bit_set_is_rejected(void **state)
{
    zhtp_wire_header h, g;
    uint8_t b[128];
    sample_header(&h);
    assert_int_equal(zhtp_wire_header_encode(b, sizeof b, &h), 128);
    for (int i = 112; i < 128; i++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t c[128];
            memcpy(c, b, 128);
            c[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(zhtp_wire_header_decode(&g, c, 128), ZHTP_ERR_WIRE_RESERVED);
        }
    }
    for (int bit = 5; bit < 16; bit++) { /* bits 0..4: SEALED .. CLEAR_TAIL */
        uint8_t c[128];
        memcpy(c, b, 128);
        c[6 + (bit < 8)] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(zhtp_wire_header_decode(&g, c, 128), ZHTP_ERR_WIRE_RESERVED);
        h.flags = (uint16_t)(ZHTP_WIRE_FLAG_SEALED | (1u << bit));
        assert_int_equal(zhtp_wire_header_encode(c, sizeof c, &h), ZHTP_ERR_WIRE_RESERVED);
    }
}

static void bad_magic_version_length_and_operation_are_rejected(void **state)
{
    zhtp_wire_header h, g;
    uint8_t b[128], c[128];
    sample_header(&h);
    assert_int_equal(zhtp_wire_header_encode(b, sizeof b, &h), 128);
    for (int i = 0; i < 4; i++) {
        memcpy(c, b, 128);
        c[i] ^= 0x01;
        assert_int_equal(zhtp_wire_header_decode(&g, c, 128), ZHTP_ERR_WIRE_MAGIC);
    }
    for (int v = 2; v < 256; v++) {
        memcpy(c, b, 128);
        c[4] = (uint8_t)v;
        assert_int_equal(zhtp_wire_header_decode(&g, c, 128), ZHTP_ERR_WIRE_VERSION);
    }
    memcpy(c, b, 128);
    c[9] = 127; /* header_len 127 */
    assert_int_equal(zhtp_wire_header_decode(&g, c, 128), ZHTP_ERR_WIRE_LENGTH);
    for (int op = 0; op < 256; op++) {
        if (op >= 1 && op <= ZHTP_WIRE_OP_MAX_)
            continue;
        memcpy(c, b, 128);
        c[5] = (uint8_t)op;
        assert_int_equal(zhtp_wire_header_decode(&g, c, 128), ZHTP_ERR_WIRE_OPERATION);
    }
    memcpy(c, b, 128);
    c[12] = 0x7F; /* payload_len far above the limit */
    assert_int_equal(zhtp_wire_header_decode(&g, c, 128), ZHTP_ERR_WIRE_LENGTH);
}

static void inconsistent_hop_and_session_fields_are_rejected(void **state)
{
    zhtp_wire_header h;
    uint8_t b[128];
    sample_header(&h);
    h.hop_count = 10; /* > hop_limit 9 */
    assert_int_equal(zhtp_wire_header_check(&h), ZHTP_ERR_WIRE_FIELD);
    sample_header(&h);
    h.hop_limit = 0;
    h.hop_count = 0;
    assert_int_equal(zhtp_wire_header_check(&h), ZHTP_ERR_WIRE_FIELD);
    sample_header(&h);
    h.receiver_index = 0; /* sealed without a session */
    assert_int_equal(zhtp_wire_header_check(&h), ZHTP_ERR_WIRE_FIELD);
    sample_header(&h);
    h.flags = 0; /* unsealed but carrying a counter */
    assert_int_equal(zhtp_wire_header_check(&h), ZHTP_ERR_WIRE_FIELD);
    sample_header(&h);
    h.operation = ZHTP_WIRE_OP_HANDSHAKE_INIT; /* handshakes cannot be sealed */
    assert_int_equal(zhtp_wire_header_check(&h), ZHTP_ERR_WIRE_FIELD);
    sample_header(&h);
    h.version = 0; /* version 0 is only for an unsealed ERROR */
    assert_int_equal(zhtp_wire_header_check(&h), ZHTP_ERR_WIRE_FIELD);
    h.flags = 0, h.receiver_index = 0, h.counter = 0, h.operation = ZHTP_WIRE_OP_ERROR;
    assert_int_equal(zhtp_wire_header_check(&h), 0);
    sample_header(&h);
    h.payload_len = ZHTP_WIRE_MAX_PAYLOAD + 1;
    assert_int_equal(zhtp_wire_header_encode(b, sizeof b, &h), ZHTP_ERR_WIRE_LENGTH);
    /* The same rules hold on decode: flip hop_count above hop_limit in encoded bytes. */
    sample_header(&h);
    assert_int_equal(zhtp_wire_header_encode(b, sizeof b, &h), 128);
    b[10] = 10;
    zhtp_wire_header g;
    assert_int_equal(zhtp_wire_header_decode(&g, b, 128), ZHTP_ERR_WIRE_FIELD);
}

static void random_bytes_never_crash_and_rarely_decode(void **state)
{
    zt_rng r;
    uint8_t b[128];
    zt_rng_seed(&r, 102);
    int ok = 0;
    for (int i = 0; i < 100000; i++) {
        zhtp_wire_header g;
        zt_rng_bytes(&r, b, sizeof b);
        memcpy(b, "ZHTP", 4); /* get past magic so the later checks run */
        b[4] = (uint8_t)zt_rng_below(&r, 2);
        ok += zhtp_wire_header_decode(&g, b, sizeof b) == 0;
    }
    assert_int_equal(ok, 0); /* 20 reserved random bytes all zero: never, in practice */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_bytes_sit_at_the_documented_offsets),
        cmocka_unit_test(random_headers_round_trip),
        cmocka_unit_test(clear_tail_length_sits_at_bytes_112_to_115),
        cmocka_unit_test(clear_tail_misuse_is_rejected),
        cmocka_unit_test(encode_into_short_buffer_writes_nothing),
        cmocka_unit_test(every_truncation_of_a_header_is_rejected),
        cmocka_unit_test(every_truncation_and_extension_of_a_packet_is_rejected),
        cmocka_unit_test(any_reserved_byte_or_flag_bit_set_is_rejected),
        cmocka_unit_test(bad_magic_version_length_and_operation_are_rejected),
        cmocka_unit_test(inconsistent_hop_and_session_fields_are_rejected),
        cmocka_unit_test(random_bytes_never_crash_and_rarely_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
