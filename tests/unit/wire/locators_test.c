/* The locator block (docs/protocol.md 3.4): documented bytes, round trips, every truncation,
 * zero ports and encoder refusals. */
#include <string.h>

#include "zhtp/wire.h"

#include "testutil.h"

static void locator_block_bytes_are_as_documented(void **state)
{
    (void)state;
    /* The example of docs/protocol.md 3.4: source [3], destination [1, 0x0102]. */
    const uint16_t src[] = {3}, dst[] = {1, 0x0102};
    const uint8_t want[] = {0x01, 0x02, 0x00, 0x03, 0x00, 0x01, 0x01, 0x02};
    uint8_t b[16];
    assert_int_equal(zhtp_wire_locators_encode(b, sizeof b, src, 1, dst, 2), sizeof want);
    assert_memory_equal(b, want, sizeof want);
    zhtp_wire_locators l;
    assert_int_equal(zhtp_wire_locators_decode(&l, b, sizeof want), sizeof want);
    assert_int_equal(l.src_depth, 1);
    assert_int_equal(l.dst_depth, 2);
    uint16_t p[2];
    zhtp_wire_locators_ports(p, l.dst_ports, 2);
    assert_int_equal(p[0], 1);
    assert_int_equal(p[1], 0x0102);
    /* The root: depth 0 on both sides is two bytes. */
    assert_int_equal(zhtp_wire_locators_encode(b, sizeof b, NULL, 0, NULL, 0), 2);
    assert_int_equal(b[0] | b[1], 0);
}

static void locator_blocks_round_trip_and_every_truncation_is_rejected(void **state)
{
    (void)state;
    zt_rng r;
    zt_rng_seed(&r, 77);
    static uint8_t b[ZHTP_WIRE_LOCATORS_LEN(255, 255) + 8];
    for (int i = 0; i < 300; i++) {
        uint16_t src[255], dst[255];
        size_t sd = zt_rng_u64(&r) % (i % 10 == 0 ? 256 : 12);
        size_t dd = zt_rng_u64(&r) % (i % 10 == 1 ? 256 : 12);
        for (size_t k = 0; k < sd; k++)
            src[k] = (uint16_t)(1 + zt_rng_u64(&r) % 65535);
        for (size_t k = 0; k < dd; k++)
            dst[k] = (uint16_t)(1 + zt_rng_u64(&r) % 65535);
        zhtp_ssize len = zhtp_wire_locators_encode(b, sizeof b, src, sd, dst, dd);
        assert_int_equal(len, (zhtp_ssize)ZHTP_WIRE_LOCATORS_LEN(sd, dd));
        /* Payload bytes after the block are not the block's: the length says where it ends. */
        b[len] = 0xEE;
        zhtp_wire_locators l;
        assert_int_equal(zhtp_wire_locators_decode(&l, b, (size_t)len + 1), len);
        uint16_t got[255];
        zhtp_wire_locators_ports(got, l.src_ports, l.src_depth);
        assert_int_equal(l.src_depth, sd);
        if (sd)
            assert_memory_equal(got, src, sd * 2);
        zhtp_wire_locators_ports(got, l.dst_ports, l.dst_depth);
        assert_int_equal(l.dst_depth, dd);
        if (dd)
            assert_memory_equal(got, dst, dd * 2);
        for (zhtp_ssize cut = 0; cut < len; cut++)
            assert_int_equal(zhtp_wire_locators_decode(&l, b, (size_t)cut),
                             ZHTP_ERR_WIRE_TRUNCATED);
    }
}

static void zero_ports_and_bad_arguments_are_refused(void **state)
{
    (void)state;
    uint8_t b[32];
    const uint16_t ok[] = {5, 6}, zero[] = {5, 0};
    assert_int_equal(zhtp_wire_locators_encode(b, sizeof b, ok, 2, zero, 2), ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_wire_locators_encode(b, sizeof b, zero, 2, ok, 2), ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_wire_locators_encode(b, sizeof b, NULL, 1, ok, 2), ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_wire_locators_encode(b, sizeof b, ok, 256, ok, 0), ZHTP_ERR_INVAL);
    memset(b, 0xAB, sizeof b);
    assert_int_equal(zhtp_wire_locators_encode(b, 9, ok, 2, ok, 2), ZHTP_ERR_NOBUF);
    assert_int_equal(b[0], 0xAB); /* nothing written */
    assert_int_equal(zhtp_wire_locators_encode(b, sizeof b, ok, 2, ok, 2), 10);
    b[9] = 0; /* the last destination port becomes 0 */
    b[8] = 0;
    zhtp_wire_locators l;
    assert_int_equal(zhtp_wire_locators_decode(&l, b, 10), ZHTP_ERR_WIRE_FIELD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(locator_block_bytes_are_as_documented),
        cmocka_unit_test(locator_blocks_round_trip_and_every_truncation_is_rejected),
        cmocka_unit_test(zero_ports_and_bad_arguments_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
