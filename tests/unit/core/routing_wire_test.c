/* The routing announcement codec and the link metric: round trips, every truncation and every
 * bad field rejected, seeded random input never accepted inconsistently. */
#include <string.h>

#include "testutil.h"
#include "zhtp/routing.h"

#define MAXD 64

typedef struct msg {
    zhtp_route_announce a;
    uint16_t ports[MAXD];
    uint32_t tags[MAXD];
    uint8_t buf[ZHTP_ROUTE_ANNOUNCE_LEN(MAXD)];
    size_t len;
} msg;

static void make_msg(msg *m, zt_rng *rng, uint16_t depth)
{
    memset(m, 0, sizeof *m);
    zt_rng_bytes(rng, m->a.root_id, sizeof m->a.root_id);
    m->a.root_seq = (uint32_t)zt_rng_u64(rng);
    m->a.cost = (uint32_t)zt_rng_u64(rng);
    m->a.your_port = (uint16_t)(1 + zt_rng_below(rng, 65535));
    m->a.depth = depth;
    m->a.ports = m->ports;
    m->a.tags = m->tags;
    for (uint16_t i = 0; i < depth; i++) {
        m->ports[i] = (uint16_t)(1 + zt_rng_below(rng, 65535));
        m->tags[i] = (uint32_t)zt_rng_u64(rng);
    }
    zhtp_ssize n = zhtp_route_announce_encode(&m->a, m->buf, sizeof m->buf);
    assert_int_equal(n, ZHTP_ROUTE_ANNOUNCE_LEN(depth));
    m->len = (size_t)n;
}

static int decode(const uint8_t *buf, size_t len, zhtp_route_announce *out, uint16_t *ports,
                  uint32_t *tags)
{
    memset(out, 0, sizeof *out);
    out->ports = ports;
    out->tags = tags;
    return zhtp_route_announce_decode(buf, len, out, MAXD);
}

static void announce_round_trip_preserves_every_field(void **state)
{
    (void)state;
    zt_rng rng;
    zt_rng_seed(&rng, 1);
    for (uint16_t depth = 0; depth <= MAXD; depth++) {
        msg m;
        make_msg(&m, &rng, depth);
        zhtp_route_announce d;
        uint16_t ports[MAXD];
        uint32_t tags[MAXD];
        assert_int_equal(decode(m.buf, m.len, &d, ports, tags), ZHTP_OK);
        assert_memory_equal(d.root_id, m.a.root_id, ZHTP_NODE_ID_LEN);
        assert_int_equal(d.root_seq, m.a.root_seq);
        assert_int_equal(d.cost, m.a.cost);
        assert_int_equal(d.your_port, m.a.your_port);
        assert_int_equal(d.depth, depth);
        if (depth) {
            assert_memory_equal(ports, m.ports, depth * sizeof *ports);
            assert_memory_equal(tags, m.tags, depth * sizeof *tags);
        }
    }
}

static void announce_layout_is_big_endian_as_documented(void **state)
{
    (void)state;
    uint16_t ports[1] = {0x0102};
    uint32_t tags[1] = {0xa1b2c3d4};
    zhtp_route_announce a = {.root_seq = 0x11223344,
                             .cost = 0x55667788,
                             .your_port = 0x99aa,
                             .depth = 1,
                             .ports = ports,
                             .tags = tags};
    memset(a.root_id, 0xee, sizeof a.root_id);
    uint8_t buf[64];
    assert_int_equal(zhtp_route_announce_encode(&a, buf, sizeof buf), 52);
    static const uint8_t tail[] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99,
                                   0xaa, 0x00, 0x01, 0x01, 0x02, 0xa1, 0xb2, 0xc3, 0xd4};
    assert_int_equal(buf[0], ZHTP_ROUTE_MSG_ANNOUNCE);
    assert_int_equal(buf[1], 0);
    assert_int_equal(buf[2], 0xee);
    assert_int_equal(buf[33], 0xee);
    assert_memory_equal(buf + 34, tail, sizeof tail);
}

static void announce_decode_rejects_every_truncation(void **state)
{
    (void)state;
    zt_rng rng;
    zt_rng_seed(&rng, 2);
    msg m;
    make_msg(&m, &rng, 7);
    for (size_t len = 0; len < m.len; len++) {
        zhtp_route_announce d;
        uint16_t ports[MAXD];
        uint32_t tags[MAXD];
        assert_int_equal(decode(m.buf, len, &d, ports, tags), ZHTP_ERR_WIRE_TRUNCATED);
    }
}

static void announce_decode_rejects_trailing_bytes(void **state)
{
    (void)state;
    zt_rng rng;
    zt_rng_seed(&rng, 3);
    msg m;
    make_msg(&m, &rng, 3);
    zhtp_route_announce d;
    uint16_t ports[MAXD];
    uint32_t tags[MAXD];
    assert_int_equal(decode(m.buf, m.len + 1, &d, ports, tags), ZHTP_ERR_WIRE_LENGTH);
}

static void announce_decode_rejects_each_bad_field(void **state)
{
    (void)state;
    zt_rng rng;
    zt_rng_seed(&rng, 4);
    msg m;
    make_msg(&m, &rng, 4);
    zhtp_route_announce d;
    uint16_t ports[MAXD];
    uint32_t tags[MAXD];
    struct {
        size_t off;
        uint8_t val;
        int err;
    } cases[] = {
        {0, 0x00, ZHTP_ERR_WIRE_OPERATION},
        {0, 0x02, ZHTP_ERR_WIRE_OPERATION},
        {1, 0x01, ZHTP_ERR_WIRE_RESERVED},
        {1, 0x80, ZHTP_ERR_WIRE_RESERVED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t b[sizeof m.buf];
        memcpy(b, m.buf, m.len);
        b[cases[i].off] = cases[i].val;
        assert_int_equal(decode(b, m.len, &d, ports, tags), cases[i].err);
    }
    uint8_t b[sizeof m.buf];
    /* your_port 0 */
    memcpy(b, m.buf, m.len);
    b[42] = b[43] = 0;
    assert_int_equal(decode(b, m.len, &d, ports, tags), ZHTP_ERR_WIRE_FIELD);
    /* a zero port in the path, at each position */
    for (size_t i = 0; i < 4; i++) {
        memcpy(b, m.buf, m.len);
        b[46 + 6 * i] = b[47 + 6 * i] = 0;
        assert_int_equal(decode(b, m.len, &d, ports, tags), ZHTP_ERR_WIRE_FIELD);
    }
    /* depth past the maximum, even with enough bytes behind it */
    static uint8_t big[ZHTP_ROUTE_ANNOUNCE_LEN(ZHTP_ROUTE_MAX_DEPTH + 1)];
    memset(big, 0x01, sizeof big);
    big[0] = ZHTP_ROUTE_MSG_ANNOUNCE;
    big[1] = 0;
    big[44] = (uint8_t)((ZHTP_ROUTE_MAX_DEPTH + 1) >> 8);
    big[45] = (uint8_t)(ZHTP_ROUTE_MAX_DEPTH + 1);
    assert_int_equal(decode(big, sizeof big, &d, ports, tags), ZHTP_ERR_WIRE_FIELD);
    /* the maximum itself is accepted, header-only (cap 0) */
    big[44] = (uint8_t)(ZHTP_ROUTE_MAX_DEPTH >> 8);
    big[45] = (uint8_t)ZHTP_ROUTE_MAX_DEPTH;
    zhtp_route_announce h;
    memset(&h, 0, sizeof h);
    assert_int_equal(
        zhtp_route_announce_decode(big, ZHTP_ROUTE_ANNOUNCE_LEN(ZHTP_ROUTE_MAX_DEPTH), &h, 0),
        ZHTP_OK);
    assert_int_equal(h.depth, ZHTP_ROUTE_MAX_DEPTH);
    /* and is too deep for a small caller array */
    assert_int_equal(decode(big, ZHTP_ROUTE_ANNOUNCE_LEN(ZHTP_ROUTE_MAX_DEPTH), &d, ports, tags),
                     ZHTP_ERR_NOBUF);
}

static void announce_encode_too_small_writes_nothing(void **state)
{
    (void)state;
    zt_rng rng;
    zt_rng_seed(&rng, 5);
    msg m;
    make_msg(&m, &rng, 5);
    uint8_t out[ZHTP_ROUTE_ANNOUNCE_LEN(5)];
    memset(out, 0x5a, sizeof out);
    assert_int_equal(zhtp_route_announce_encode(&m.a, out, sizeof out - 1), ZHTP_ERR_NOBUF);
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0x5a);
    m.a.your_port = 0;
    assert_int_equal(zhtp_route_announce_encode(&m.a, out, sizeof out), ZHTP_ERR_INVAL);
}

/* Seeded mutation of valid messages: whatever the decoder accepts must re-encode to the same
 * bytes (no field silently ignored), and it must never read past len (ASan build). */
static void announce_decode_accepts_only_canonical_bytes(void **state)
{
    (void)state;
    zt_rng rng;
    zt_rng_seed(&rng, 6);
    unsigned accepted = 0, rejected = 0;
    for (int it = 0; it < 20000; it++) {
        msg m;
        make_msg(&m, &rng, (uint16_t)zt_rng_below(&rng, 9));
        size_t len = m.len;
        int flips = 1 + (int)zt_rng_below(&rng, 3);
        for (int f = 0; f < flips; f++)
            m.buf[zt_rng_below(&rng, len)] ^= (uint8_t)(1u << zt_rng_below(&rng, 8));
        if (zt_rng_below(&rng, 4) == 0)
            len = (size_t)zt_rng_below(&rng, len + 1);
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, m.buf, len);
        zhtp_route_announce d;
        uint16_t ports[MAXD];
        uint32_t tags[MAXD];
        if (decode(copy, len, &d, ports, tags) == ZHTP_OK) {
            uint8_t re[sizeof m.buf];
            assert_int_equal(zhtp_route_announce_encode(&d, re, sizeof re), (zhtp_ssize)len);
            assert_memory_equal(re, copy, len);
            accepted++;
        } else {
            rejected++;
        }
        free(copy);
    }
    assert_true(accepted > 1000);
    assert_true(rejected > 1000);
}

static void link_cost_orders_media_as_documented(void **state)
{
    (void)state;
    uint32_t wifi =
        zhtp_route_link_cost(zhtp_route_medium_preset(ZHTP_MEDIUM_WIFI_DIRECT), 0, UINT32_MAX);
    uint32_t udp = zhtp_route_link_cost(zhtp_route_medium_preset(ZHTP_MEDIUM_UDP), 0, UINT32_MAX);
    uint32_t ble = zhtp_route_link_cost(zhtp_route_medium_preset(ZHTP_MEDIUM_BLE), 0, UINT32_MAX);
    uint32_t sat =
        zhtp_route_link_cost(zhtp_route_medium_preset(ZHTP_MEDIUM_SATELLITE), 0, UINT32_MAX);
    uint32_t lora = zhtp_route_link_cost(zhtp_route_medium_preset(ZHTP_MEDIUM_LORA), 0, UINT32_MAX);
    assert_true(wifi < udp);
    assert_true(udp < ble);
    assert_true(ble < sat);
    assert_true(sat < lora);
    assert_null(zhtp_route_medium_preset(ZHTP_MEDIUM_COUNT_));
}

static void link_cost_grows_with_rtt_and_loss_and_is_clamped(void **state)
{
    (void)state;
    const zhtp_route_medium *m = zhtp_route_medium_preset(ZHTP_MEDIUM_UDP);
    uint32_t base = zhtp_route_link_cost(m, 20000, 0);
    assert_true(zhtp_route_link_cost(m, 40000, 0) > base);
    assert_true(zhtp_route_link_cost(m, 20000, 100000) > base);
    /* 50 % loss doubles the expected transmissions */
    uint32_t half = zhtp_route_link_cost(m, 20000, 500000);
    assert_true(half >= 2 * base - 2 && half <= 2 * base + 2);
    /* loss above 90 % counts as 90 %; cost never 0 and never above the maximum */
    assert_int_equal(zhtp_route_link_cost(m, 20000, 990000),
                     zhtp_route_link_cost(m, 20000, 900000));
    zhtp_route_medium slow = {"slow", 1, 0, 0, 0, 1, 0};
    assert_int_equal(zhtp_route_link_cost(&slow, 0, 0), ZHTP_ROUTE_COST_MAX);
    zhtp_route_medium fast = {"fast", UINT64_MAX, 0, 0, 0, 0, 0};
    assert_int_equal(zhtp_route_link_cost(&fast, 0, 0), 1);
}

static void tree_distance_counts_hops_through_common_ancestor(void **state)
{
    (void)state;
    const uint16_t a[] = {1, 2, 3}, b[] = {1, 2, 4, 5}, c[] = {7};
    assert_int_equal(zhtp_route_tree_distance(a, 3, a, 3), 0);
    assert_int_equal(zhtp_route_tree_distance(a, 3, b, 4), 3);
    assert_int_equal(zhtp_route_tree_distance(a, 3, a, 2), 1);
    assert_int_equal(zhtp_route_tree_distance(a, 3, c, 1), 4);
    assert_int_equal(zhtp_route_tree_distance(NULL, 0, b, 4), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(announce_round_trip_preserves_every_field),
        cmocka_unit_test(announce_layout_is_big_endian_as_documented),
        cmocka_unit_test(announce_decode_rejects_every_truncation),
        cmocka_unit_test(announce_decode_rejects_trailing_bytes),
        cmocka_unit_test(announce_decode_rejects_each_bad_field),
        cmocka_unit_test(announce_encode_too_small_writes_nothing),
        cmocka_unit_test(announce_decode_accepts_only_canonical_bytes),
        cmocka_unit_test(link_cost_orders_media_as_documented),
        cmocka_unit_test(link_cost_grows_with_rtt_and_loss_and_is_clamped),
        cmocka_unit_test(tree_distance_counts_hops_through_common_ancestor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
