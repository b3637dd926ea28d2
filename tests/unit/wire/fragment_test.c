/* Fragmentation: split at every link MTU of interest and reassemble through seeded
 * shuffles, duplicates and drops; fragment header rules. */
#include <stdlib.h>
#include <string.h>

#include "zhtp/wire.h"

#include "testutil.h"
#include "wire_gen.h"

static uint8_t pkt[ZHTP_WIRE_MAX_PACKET];

typedef struct frag {
    uint8_t *b;
    size_t len;
} frag;

static void shuffle(zt_rng *r, size_t *ix, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)zt_rng_below(r, i);
        size_t t = ix[i - 1];
        ix[i - 1] = ix[j];
        ix[j] = t;
    }
}

/* Splits packet at mtu, checks every frame, feeds them shuffled with duplicates and with
 * one fragment held back (dropped) until the end: completion happens exactly when the last
 * missing fragment arrives, and the result equals the packet. */
static void split_and_rejoin(zt_rng *r, zhtp_wire_reasm *ra, uint64_t peer, uint16_t tag,
                             const uint8_t *packet, size_t len, size_t mtu, zhtp_time now)
{
    zhtp_ssize count = zhtp_wire_fragment_count(len, mtu);
    assert_true(count >= 1);
    frag *f = calloc((size_t)count, sizeof *f);
    size_t *order = calloc((size_t)count * 2, sizeof *order);
    assert_non_null(f);
    assert_non_null(order);
    size_t sum = 0;
    for (size_t i = 0; i < (size_t)count; i++) {
        f[i].b = malloc(mtu);
        assert_non_null(f[i].b);
        zhtp_ssize n = zhtp_wire_fragment_build(f[i].b, mtu, packet, len, mtu, tag, i);
        assert_true(n > ZHTP_WIRE_FRAG_HEADER_LEN && (size_t)n <= mtu);
        f[i].len = (size_t)n;
        sum += (size_t)n - ZHTP_WIRE_FRAG_HEADER_LEN;
        zhtp_wire_frag_header fh;
        zhtp_wire_bytes d;
        assert_int_equal(zhtp_wire_frag_decode(&fh, &d, f[i].b, f[i].len), 0);
        assert_int_equal(fh.tag, tag);
        assert_int_equal(fh.total_len, len);
    }
    assert_int_equal(sum, len);
    /* order: every fragment once, some twice, shuffled; the "dropped" one goes last */
    size_t n = 0;
    size_t dropped = (size_t)zt_rng_below(r, (size_t)count);
    for (size_t i = 0; i < (size_t)count; i++) {
        if (i == dropped)
            continue;
        order[n++] = i;
        if (zt_rng_below(r, 4) == 0)
            order[n++] = i;
    }
    shuffle(r, order, n);
    const uint8_t *out = NULL;
    for (size_t k = 0; k < n; k++) {
        zhtp_ssize got = zhtp_wire_reasm_feed(ra, peer, f[order[k]].b, f[order[k]].len, now, &out);
        assert_int_equal(got, ZHTP_ERR_AGAIN);
    }
    zhtp_ssize got = zhtp_wire_reasm_feed(ra, peer, f[dropped].b, f[dropped].len, now, &out);
    assert_int_equal(got, (zhtp_ssize)len);
    assert_memory_equal(out, packet, len);
    /* a late duplicate of a completed packet does not start it again */
    got = zhtp_wire_reasm_feed(ra, peer, f[0].b, f[0].len, now, &out);
    assert_int_equal(got, ZHTP_ERR_WIRE_FRAGMENT_LATE);
    for (size_t i = 0; i < (size_t)count; i++)
        free(f[i].b);
    free(f);
    free(order);
}

static void packets_rejoin_at_every_mtu_through_shuffles_duplicates_and_drops(void **state)
{
    static const size_t mtus[] = {200, 576, 1280, 1500, 9000, 65535};
    zt_rng r;
    wg_arena a;
    zt_rng_seed(&r, 500);
    wg_arena_init(&a, 2 << 20);
    zhtp_wire_reasm *ra;
    zhtp_wire_reasm_config cfg = {0};
    cfg.max_bytes_per_peer = cfg.max_bytes_total = 4 << 20;
    assert_int_equal(zhtp_wire_reasm_new(&ra, &cfg), 0);
    uint16_t tag = 0;
    int packets = 0;
    for (size_t m = 0; m < sizeof mtus / sizeof mtus[0]; m++) {
        for (int i = 0; i < 60; i++) {
            uint8_t op = (uint8_t)(1 + zt_rng_below(&r, ZHTP_WIRE_OP_MAX_));
            wg_arena_reset(&a);
            size_t len = wg_packet(&r, op, pkt, sizeof pkt, &a, i % 6 == 0);
            split_and_rejoin(&r, ra, m, tag++, pkt, len, mtus[m], (zhtp_time)i);
            packets++;
        }
        /* and the largest packet there is */
        memset(pkt, (int)m, ZHTP_WIRE_MAX_PACKET);
        split_and_rejoin(&r, ra, m, tag++, pkt, ZHTP_WIRE_MAX_PACKET, mtus[m], 100);
    }
    zhtp_wire_reasm_stats st;
    zhtp_wire_reasm_get_stats(ra, &st);
    assert_int_equal(st.completed, packets + 6);
    zhtp_wire_reasm_free(ra);
    wg_arena_free(&a);
}

static void fragment_count_and_build_check_their_arguments(void **state)
{
    uint8_t b[300];
    assert_int_equal(zhtp_wire_fragment_count(100, 63), ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_wire_fragment_count(100, 65536), ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_wire_fragment_count(0, 200), ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_wire_fragment_count(ZHTP_WIRE_MAX_PACKET + 1, 200), ZHTP_ERR_INVAL);
    /* 200-byte MTU: 192 data bytes per fragment */
    assert_int_equal(zhtp_wire_fragment_count(192, 200), 1);
    assert_int_equal(zhtp_wire_fragment_count(193, 200), 2);
    assert_int_equal(zhtp_wire_fragment_count(ZHTP_WIRE_MAX_PACKET, 200),
                     (ZHTP_WIRE_MAX_PACKET + 191) / 192);
    memset(pkt, 7, 400);
    assert_int_equal(zhtp_wire_fragment_build(b, sizeof b, pkt, 400, 200, 1, 3), ZHTP_ERR_INVAL);
    memset(b, 0xEE, sizeof b);
    assert_int_equal(zhtp_wire_fragment_build(b, 199, pkt, 400, 200, 1, 0), ZHTP_ERR_NOBUF);
    assert_int_equal(b[0], 0xEE);
    /* the exact bytes of fragment 1 of 400 at MTU 200 */
    assert_int_equal(zhtp_wire_fragment_build(b, sizeof b, pkt, 400, 200, 0x1234, 1), 200);
    static const uint8_t want[8] = {0x80, 0x12, 0x34, 0x00, 0x01, 0x90, 0x00, 0x18};
    assert_memory_equal(b, want, 8);
}

static void malformed_fragment_headers_are_rejected(void **state)
{
    zhtp_wire_frag_header fh;
    zhtp_wire_bytes d;
    uint8_t b[64];
    memset(b, 0, sizeof b);
    b[0] = 0x80;
    b[5] = 48; /* total 48, offset 0 */
    assert_int_equal(zhtp_wire_frag_decode(&fh, &d, b, 8 + 48), 0);
    for (size_t n = 1; n < 8; n++)
        assert_int_equal(zhtp_wire_frag_decode(&fh, &d, b, n), ZHTP_ERR_WIRE_TRUNCATED);
    assert_int_equal(zhtp_wire_frag_decode(&fh, &d, b, 8), ZHTP_ERR_WIRE_FRAGMENT); /* empty */
    assert_int_equal(zhtp_wire_frag_decode(&fh, &d, b, 8 + 49), ZHTP_ERR_WIRE_FRAGMENT);
    assert_int_equal(zhtp_wire_frag_decode(&fh, &d, b, 8 + 12), ZHTP_ERR_WIRE_FRAGMENT);
    assert_int_equal(zhtp_wire_frag_decode(&fh, &d, b, 8 + 16), 0); /* 16 of 48, aligned */
    b[7] = 5;                                                       /* offset 40: 40 + 16 > 48 */
    assert_int_equal(zhtp_wire_frag_decode(&fh, &d, b, 8 + 16), ZHTP_ERR_WIRE_FRAGMENT);
    assert_int_equal(zhtp_wire_frag_decode(&fh, &d, b, 8 + 8), 0); /* last fragment */
    b[7] = 0;
    for (int bit = 0; bit < 6; bit++) {
        b[0] = (uint8_t)(0x80 | (1u << bit));
        assert_int_equal(zhtp_wire_frag_decode(&fh, &d, b, 8 + 48), ZHTP_ERR_WIRE_RESERVED);
    }
    b[0] = 0x5A;
    assert_int_equal(zhtp_wire_frag_decode(&fh, &d, b, 8 + 48), ZHTP_ERR_INVAL);
    b[0] = 0x80;
    b[5] = 0; /* total 0 */
    assert_int_equal(zhtp_wire_frag_decode(&fh, &d, b, 8 + 8), ZHTP_ERR_WIRE_FRAGMENT);
    b[3] = 0xFF; /* total above the largest packet */
    assert_int_equal(zhtp_wire_frag_decode(&fh, &d, b, 8 + 8), ZHTP_ERR_WIRE_FRAGMENT);
}

static void a_fragment_lost_for_good_expires_the_packet_and_frees_its_memory(void **state)
{
    zt_rng r;
    zt_rng_seed(&r, 501);
    zhtp_wire_reasm *ra;
    zhtp_wire_reasm_config cfg = {0};
    cfg.timeout_ns = 2 * ZHTP_NS_PER_SEC;
    assert_int_equal(zhtp_wire_reasm_new(&ra, &cfg), 0);
    zt_rng_bytes(&r, pkt, 5000);
    uint8_t f[200];
    const uint8_t *out;
    zhtp_ssize count = zhtp_wire_fragment_count(5000, 200);
    size_t lost = (size_t)zt_rng_below(&r, (uint64_t)count);
    for (size_t i = 0; i < (size_t)count; i++) {
        if (i == lost)
            continue;
        zhtp_ssize n = zhtp_wire_fragment_build(f, sizeof f, pkt, 5000, 200, 77, i);
        assert_int_equal(zhtp_wire_reasm_feed(ra, 5, f, (size_t)n, 0, &out), ZHTP_ERR_AGAIN);
    }
    assert_true(zhtp_wire_reasm_next_deadline(ra) == cfg.timeout_ns);
    assert_int_equal(zhtp_wire_reasm_tick(ra, cfg.timeout_ns), 1);
    zhtp_wire_reasm_stats st;
    zhtp_wire_reasm_get_stats(ra, &st);
    assert_int_equal(st.bytes_total, 0);
    assert_int_equal(st.expired, 1);
    /* the lost fragment turning up late does not revive it */
    zhtp_ssize n = zhtp_wire_fragment_build(f, sizeof f, pkt, 5000, 200, 77, lost);
    assert_int_equal(zhtp_wire_reasm_feed(ra, 5, f, (size_t)n, cfg.timeout_ns + 1, &out),
                     ZHTP_ERR_WIRE_FRAGMENT_LATE);
    zhtp_wire_reasm_free(ra);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(packets_rejoin_at_every_mtu_through_shuffles_duplicates_and_drops),
        cmocka_unit_test(a_fragment_lost_for_good_expires_the_packet_and_frees_its_memory),
        cmocka_unit_test(fragment_count_and_build_check_their_arguments),
        cmocka_unit_test(malformed_fragment_headers_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
