/* Payload codecs: seeded random round trips of every operation, and every malformed form
 * (truncation, trailing bytes, reserved bits, bad enums, counts over their limits). */
#include <string.h>

#include "zhtp/wire.h"

#include "testutil.h"
#include "wire_gen.h"

static uint8_t buf[ZHTP_WIRE_MAX_PAYLOAD + 64];

static void every_operation_round_trips_random_payloads(void **state)
{
    zt_rng r;
    wg_arena a;
    zt_rng_seed(&r, 200);
    wg_arena_init(&a, 4 << 20);
    int n = 0;
    for (uint8_t op = 1; op <= ZHTP_WIRE_OP_MAX_; op++) {
        for (int i = 0; i < 1200; i++) {
            bool big = i % 40 == 0;
            zhtp_wire_payload p, q;
            wg_arena_reset(&a);
            wg_payload(&r, &p, op, &a, big);
            zhtp_ssize len = zhtp_wire_payload_encode(buf, sizeof buf, &p);
            assert_true(len >= 0);
            assert_int_equal(zhtp_wire_payload_decode(&q, op, buf, (size_t)len), 0);
            assert_true(wg_payload_equal(&p, &q));
            /* encode is deterministic: the decoded struct encodes to the same bytes */
            static uint8_t again[ZHTP_WIRE_MAX_PAYLOAD];
            assert_int_equal(zhtp_wire_payload_encode(again, sizeof again, &q), len);
            assert_memory_equal(again, buf, (size_t)len);
            n++;
        }
    }
    print_message("# %d payloads round-tripped\n", n);
    wg_arena_free(&a);
}

static void every_truncation_and_trailing_byte_is_rejected(void **state)
{
    zt_rng r;
    wg_arena a;
    zt_rng_seed(&r, 201);
    wg_arena_init(&a, 1 << 20);
    for (uint8_t op = 1; op <= ZHTP_WIRE_OP_MAX_; op++) {
        for (int i = 0; i < 20; i++) {
            zhtp_wire_payload p, q;
            wg_arena_reset(&a);
            wg_payload(&r, &p, op, &a, false);
            zhtp_ssize len = zhtp_wire_payload_encode(buf, sizeof buf, &p);
            assert_true(len > 0);
            /* DATA's body is "the rest", so only the packet's payload_len bounds it; its
             * truncations are caught a layer up (header_test). Its fixed part still is. */
            bool rest = op == ZHTP_WIRE_OP_DATA || zhtp_wire_dht_op(buf[0]) == op;
            /* A DHT message is likewise the whole rest (its own codec checks its length):
             * only its 10-byte header is the wire layer's. */
            size_t stop = op == ZHTP_WIRE_OP_DATA ? ZHTP_WIRE_DATA_HEADER_LEN
                          : rest                  ? ZHTP_WIRE_DHT_HEADER_LEN
                                                  : (size_t)len;
            for (size_t cut = 0; cut < stop; cut++) {
                int err = zhtp_wire_payload_decode(&q, op, buf, cut);
                if (err == 0)
                    fail_msg("op %u: truncation to %zu of %zd accepted", op, cut, len);
            }
            if (!rest) {
                buf[len] = 0;
                assert_int_equal(zhtp_wire_payload_decode(&q, op, buf, (size_t)len + 1),
                                 ZHTP_ERR_WIRE_LENGTH);
            }
        }
    }
    wg_arena_free(&a);
}

/* Reserved bytes, by operation and offset (docs/protocol.md payload tables). */
static void reserved_payload_bytes_set_are_rejected(void **state)
{
    static const struct {
        uint8_t op;
        size_t off;
    } cases[] = {
        {ZHTP_WIRE_OP_QUERY, 1}, /* DHT flags (only NODES has a flag bit) */
        {ZHTP_WIRE_OP_STORE, 1},
        {ZHTP_WIRE_OP_STORE_ACK, 1},
        {ZHTP_WIRE_OP_RELAY_QUERY, 1},
        {ZHTP_WIRE_OP_RELAY_RESPONSE, 1},
        {ZHTP_WIRE_OP_HANDSHAKE_INIT, 5},
        {ZHTP_WIRE_OP_HANDSHAKE_INIT, 7},
        {ZHTP_WIRE_OP_HANDSHAKE_RESPONSE, 9},
        {ZHTP_WIRE_OP_HANDSHAKE_RESPONSE, 11},
        {ZHTP_WIRE_OP_DATA, 1},
        {ZHTP_WIRE_OP_ROUTING, 1},
        {ZHTP_WIRE_OP_ROUTING, 3},
        {ZHTP_WIRE_OP_RECEIPT, 12 + 45},
        {ZHTP_WIRE_OP_RECEIPT, 12 + 47},
        {ZHTP_WIRE_OP_ERROR, 11},
    };
    zt_rng r;
    wg_arena a;
    zt_rng_seed(&r, 202);
    wg_arena_init(&a, 1 << 20);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        zhtp_wire_payload p, q;
        wg_arena_reset(&a);
        wg_payload(&r, &p, cases[c].op, &a, false);
        zhtp_ssize len = zhtp_wire_payload_encode(buf, sizeof buf, &p);
        assert_true(len > (zhtp_ssize)cases[c].off);
        assert_int_equal(buf[cases[c].off], 0);
        for (int bit = 0; bit < 8; bit++) {
            buf[cases[c].off] = (uint8_t)(1u << bit);
            int err = zhtp_wire_payload_decode(&q, cases[c].op, buf, (size_t)len);
            if (err != ZHTP_ERR_WIRE_RESERVED)
                fail_msg("op %u offset %zu bit %d: got %d", cases[c].op, cases[c].off, bit, err);
        }
    }
    wg_arena_free(&a);
}

static void unknown_operations_are_rejected(void **state)
{
    zhtp_wire_payload q;
    uint8_t b[64] = {0};
    for (int op = 0; op < 256; op++)
        if (op == 0 || op > ZHTP_WIRE_OP_MAX_)
            assert_int_equal(zhtp_wire_payload_decode(&q, (uint8_t)op, b, sizeof b),
                             ZHTP_ERR_WIRE_OPERATION);
    q.operation = 15;
    assert_int_equal(zhtp_wire_payload_encode(b, sizeof b, &q), ZHTP_ERR_WIRE_OPERATION);
}

/* Encodes p, applies one byte edit, expects err from decode. */
static void expect_edit(const zhtp_wire_payload *p, size_t off, uint8_t val, int err)
{
    zhtp_wire_payload q;
    zhtp_ssize len = zhtp_wire_payload_encode(buf, sizeof buf, p);
    assert_true(len > (zhtp_ssize)off);
    buf[off] = val;
    int got = zhtp_wire_payload_decode(&q, p->operation, buf, (size_t)len);
    if (got != err)
        fail_msg("op %u off %zu val %u: got %d want %d", p->operation, off, val, got, err);
}

static void out_of_range_enums_and_counts_are_rejected(void **state)
{
    zt_rng r;
    wg_arena a;
    zhtp_wire_payload p;
    zt_rng_seed(&r, 203);
    wg_arena_init(&a, 1 << 20);

    /* A DHT message under an operation that does not carry its type, or no type at all. */
    wg_payload(&r, &p, ZHTP_WIRE_OP_QUERY, &a, false);
    expect_edit(&p, 0, 0, ZHTP_ERR_WIRE_FIELD);
    expect_edit(&p, 0, 7, ZHTP_ERR_WIRE_FIELD); /* STORE inside QUERY */
    expect_edit(&p, 0, 2, ZHTP_ERR_WIRE_FIELD); /* PONG is an answer: QUERY_RESPONSE */
    expect_edit(&p, 0, 13, ZHTP_ERR_WIRE_FIELD);
    for (uint8_t t = 1; t <= 12; t++)
        assert_int_not_equal(zhtp_wire_dht_op(t), 0);
    assert_int_equal(zhtp_wire_dht_op(0), 0);
    assert_int_equal(zhtp_wire_dht_op(13), 0);

    wg_arena_reset(&a);
    wg_payload(&r, &p, ZHTP_WIRE_OP_PEER_DISCOVERY, &a, false);
    expect_edit(&p, 0, 0, ZHTP_ERR_WIRE_FIELD);     /* kind */
    expect_edit(&p, 1, 0, ZHTP_ERR_WIRE_LENGTH);    /* version_count 0 */
    expect_edit(&p, 1, 33, ZHTP_ERR_WIRE_LENGTH);   /* version_count 33 */
    expect_edit(&p, 2, 0x21, ZHTP_ERR_WIRE_LENGTH); /* identity_len > 8192 */
    expect_edit(&p, 8, 0, ZHTP_ERR_WIRE_FIELD);     /* version 0 in the list */

    wg_arena_reset(&a);
    wg_payload(&r, &p, ZHTP_WIRE_OP_HANDSHAKE_INIT, &a, false);
    expect_edit(&p, 4, 2, ZHTP_ERR_WIRE_FIELD);     /* unknown suite */
    expect_edit(&p, 9, 0xC1, ZHTP_ERR_WIRE_LENGTH); /* ephemeral not 1216 bytes */
    p.u.handshake.sender_index = 0;
    assert_int_equal(zhtp_wire_payload_encode(buf, sizeof buf, &p), ZHTP_ERR_WIRE_FIELD);

    wg_arena_reset(&a);
    wg_payload(&r, &p, ZHTP_WIRE_OP_DATA, &a, false);
    p.u.data.subtype = ZHTP_WIRE_DATA_IPV6;
    p.u.data.channel = 0;
    uint8_t v6[40] = {0x60};
    p.u.data.body.ptr = v6, p.u.data.body.len = sizeof v6;
    expect_edit(&p, 0, 3, ZHTP_ERR_WIRE_FIELD);    /* subtype */
    expect_edit(&p, 4, 0x45, ZHTP_ERR_WIRE_FIELD); /* an IPv4 header tunnelled as IPv6 */
    p.u.data.body.len = 39;
    assert_int_equal(zhtp_wire_payload_encode(buf, sizeof buf, &p), ZHTP_ERR_WIRE_FIELD);

    wg_arena_reset(&a);
    wg_payload(&r, &p, ZHTP_WIRE_OP_ROUTING, &a, false);
    expect_edit(&p, 0, 0, ZHTP_ERR_WIRE_LENGTH);  /* tlv_count 0 */
    expect_edit(&p, 0, 33, ZHTP_ERR_WIRE_LENGTH); /* tlv_count 33 */
    expect_edit(&p, 2, 0, ZHTP_ERR_WIRE_FIELD);   /* tlv type 0 */

    wg_arena_reset(&a);
    wg_payload(&r, &p, ZHTP_WIRE_OP_RECEIPT, &a, false);
    expect_edit(&p, 8, 0x01, ZHTP_ERR_WIRE_LENGTH);  /* entry_count 257+ */
    expect_edit(&p, 10, 0x11, ZHTP_ERR_WIRE_LENGTH); /* sig_len > 4096 */

    wg_arena_reset(&a);
    wg_payload(&r, &p, ZHTP_WIRE_OP_ERROR, &a, false);
    p.u.error.code = 0x0100; /* unknown codes are accepted */
    p.u.error.version_count = 0;
    expect_edit(&p, 8, 0, ZHTP_ERR_WIRE_FIELD); /* code 0 */
    p.u.error.code = 0x0101;
    expect_edit(&p, 8, 0, ZHTP_ERR_WIRE_FIELD); /* VERSION_MISMATCH without versions */
    expect_edit(&p, 10, 33, ZHTP_ERR_WIRE_LENGTH);
    wg_arena_free(&a);
}

static void encode_refuses_bad_structs_and_short_buffers_untouched(void **state)
{
    zt_rng r;
    wg_arena a;
    zt_rng_seed(&r, 204);
    wg_arena_init(&a, 1 << 20);
    for (uint8_t op = 1; op <= ZHTP_WIRE_OP_MAX_; op++) {
        zhtp_wire_payload p;
        wg_arena_reset(&a);
        wg_payload(&r, &p, op, &a, false);
        zhtp_ssize len = zhtp_wire_payload_encode(buf, sizeof buf, &p);
        assert_true(len > 0);
        memset(buf, 0xEE, (size_t)len);
        assert_int_equal(zhtp_wire_payload_encode(buf, (size_t)len - 1, &p), ZHTP_ERR_NOBUF);
        for (zhtp_ssize i = 0; i < len; i++)
            assert_int_equal(buf[i], 0xEE);
    }
    zhtp_wire_payload p;
    memset(&p, 0, sizeof p);
    p.operation = ZHTP_WIRE_OP_STORE;
    p.u.dht.msg.len = 12; /* NULL ptr */
    assert_int_equal(zhtp_wire_payload_encode(buf, sizeof buf, &p), ZHTP_ERR_INVAL);
    uint8_t short_msg[9] = {7};
    p.u.dht.msg.ptr = short_msg, p.u.dht.msg.len = sizeof short_msg; /* under the DHT header */
    assert_int_equal(zhtp_wire_payload_encode(buf, sizeof buf, &p), ZHTP_ERR_WIRE_TRUNCATED);
    wg_arena_free(&a);
}

static void random_bytes_never_crash_any_decoder(void **state)
{
    zt_rng r;
    uint8_t in[600];
    zt_rng_seed(&r, 205);
    for (int i = 0; i < 200000; i++) {
        zhtp_wire_payload q;
        size_t n = (size_t)zt_rng_below(&r, sizeof in + 1);
        zt_rng_bytes(&r, in, n);
        if (n > 2 && zt_rng_below(&r, 2))
            in[0] = in[1] = 0; /* small counts get further */
        uint8_t op = (uint8_t)(1 + zt_rng_below(&r, ZHTP_WIRE_OP_MAX_));
        if (zhtp_wire_payload_decode(&q, op, in, n) == 0) {
            /* whatever decodes must encode back to the same bytes */
            zhtp_ssize len = zhtp_wire_payload_encode(buf, sizeof buf, &q);
            assert_int_equal(len, (zhtp_ssize)n);
            assert_memory_equal(buf, in, n);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_operation_round_trips_random_payloads),
        cmocka_unit_test(every_truncation_and_trailing_byte_is_rejected),
        cmocka_unit_test(reserved_payload_bytes_set_are_rejected),
        cmocka_unit_test(unknown_operations_are_rejected),
        cmocka_unit_test(out_of_range_enums_and_counts_are_rejected),
        cmocka_unit_test(encode_refuses_bad_structs_and_short_buffers_untouched),
        cmocka_unit_test(random_bytes_never_crash_any_decoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
