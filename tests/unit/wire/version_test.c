/* Version negotiation: an unknown version is answered with a version-0 ERROR /
 * VERSION_MISMATCH listing ours, never a crash; negotiation packets are never answered;
 * no amplification; both sides pick the highest common version. */
#include <string.h>

#include "zhtp/wire.h"

#include "testutil.h"

static const uint8_t local_id[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

/* A packet from a hypothetical version v: our magic and v, then anything. */
static void future_packet(uint8_t *b, size_t len, uint8_t v, zt_rng *r)
{
    zt_rng_bytes(r, b, len);
    memcpy(b, "ZHTP", 4);
    b[4] = v;
}

static void unknown_version_is_answered_with_supported_versions(void **state)
{
    zt_rng r;
    uint8_t in[400], out[400];
    const uint8_t ours[] = {3, 1};
    zt_rng_seed(&r, 300);
    for (int v = 2; v < 256; v++) {
        if (v == 3)
            continue;
        future_packet(in, sizeof in, (uint8_t)v, &r);
        zhtp_wire_header h;
        assert_int_equal(zhtp_wire_header_decode(&h, in, sizeof in), ZHTP_ERR_WIRE_VERSION);
        zhtp_ssize n = zhtp_wire_version_mismatch_build(out, sizeof out, in, sizeof in, local_id,
                                                        77, ours, sizeof ours);
        assert_int_equal(n, 128 + 14 + 2);
        zhtp_wire_packet p;
        assert_int_equal(zhtp_wire_packet_decode(&p, out, (size_t)n), 0);
        assert_int_equal(p.hdr.version, ZHTP_WIRE_VERSION_NEGOTIATION);
        assert_int_equal(p.hdr.operation, ZHTP_WIRE_OP_ERROR);
        assert_int_equal(p.hdr.flags, 0);
        assert_int_equal(p.hdr.message_id, 77);
        assert_memory_equal(p.hdr.sender, local_id, 32);
        zhtp_wire_payload e;
        assert_int_equal(
            zhtp_wire_payload_decode(&e, p.hdr.operation, p.payload.ptr, p.payload.len), 0);
        assert_int_equal(e.u.error.code, ZHTP_WIRE_ERROR_VERSION_MISMATCH);
        assert_int_equal(e.u.error.version_count, 2);
        assert_memory_equal(e.u.error.versions, ours, 2);
    }
}

static void negotiation_packets_and_our_versions_are_never_answered(void **state)
{
    zt_rng r;
    uint8_t in[400], out[400];
    const uint8_t ours[] = {1};
    zt_rng_seed(&r, 301);
    future_packet(in, sizeof in, 0, &r);
    assert_int_equal(
        zhtp_wire_version_mismatch_build(out, sizeof out, in, sizeof in, local_id, 1, ours, 1),
        ZHTP_ERR_INVAL);
    future_packet(in, sizeof in, 1, &r);
    assert_int_equal(
        zhtp_wire_version_mismatch_build(out, sizeof out, in, sizeof in, local_id, 1, ours, 1),
        ZHTP_ERR_INVAL);
    future_packet(in, sizeof in, 9, &r);
    in[0] = 'X';
    assert_int_equal(
        zhtp_wire_version_mismatch_build(out, sizeof out, in, sizeof in, local_id, 1, ours, 1),
        ZHTP_ERR_INVAL);
    /* our own list must be valid: descending, non-zero */
    const uint8_t bad[] = {1, 2};
    in[0] = 'Z';
    assert_int_equal(
        zhtp_wire_version_mismatch_build(out, sizeof out, in, sizeof in, local_id, 1, bad, 2),
        ZHTP_ERR_INVAL);
}

static void short_packets_get_no_reply_against_amplification(void **state)
{
    zt_rng r;
    uint8_t in[400], out[400];
    const uint8_t ours[] = {1};
    zt_rng_seed(&r, 302);
    future_packet(in, sizeof in, 7, &r);
    size_t reply = 128 + 14 + 1;
    for (size_t n = 5; n < reply; n++)
        assert_int_equal(
            zhtp_wire_version_mismatch_build(out, sizeof out, in, n, local_id, 1, ours, 1),
            ZHTP_ERR_WIRE_TRUNCATED);
    assert_int_equal(
        zhtp_wire_version_mismatch_build(out, sizeof out, in, reply, local_id, 1, ours, 1),
        (zhtp_ssize)reply);
    memset(out, 0xEE, sizeof out);
    assert_int_equal(
        zhtp_wire_version_mismatch_build(out, reply - 1, in, reply, local_id, 1, ours, 1),
        ZHTP_ERR_NOBUF);
    assert_int_equal(out[0], 0xEE);
}

static void pick_takes_the_highest_common_version(void **state)
{
    const uint8_t a[] = {5, 3, 1}, b[] = {4, 3, 2, 1}, c[] = {9, 8}, d[] = {1, 3};
    assert_int_equal(zhtp_wire_version_pick(a, 3, b, 4), 3);
    assert_int_equal(zhtp_wire_version_pick(b, 4, a, 3), 3);
    assert_int_equal(zhtp_wire_version_pick(a, 3, c, 2), ZHTP_ERR_WIRE_VERSION);
    assert_int_equal(zhtp_wire_version_pick(d, 2, a, 3), 3); /* order of the lists is free */
    assert_int_equal(zhtp_wire_version_pick(a, 3, a, 0), ZHTP_ERR_WIRE_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unknown_version_is_answered_with_supported_versions),
        cmocka_unit_test(negotiation_packets_and_our_versions_are_never_answered),
        cmocka_unit_test(short_packets_get_no_reply_against_amplification),
        cmocka_unit_test(pick_takes_the_highest_common_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
