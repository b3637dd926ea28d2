/* src/runtime/ip6.c: the node's IPv6 address, the checks on packets entering and leaving the
 * mesh, ICMPv6 errors (Packet Too Big, Unreachable) and their checksum, the rate limit. */
#include <string.h>

#include "ip6.h"
#include "testutil.h"

/* An ICMPv6 echo request ::1 -> ::1 with 12 bytes of data, captured on lo from the Linux
 * kernel's ping (its checksum 0x9bbe was computed by the kernel, not by us). */
static const char *const kernel_echo_hex =
    "600bffb800143a40000000000000000000000000000000010000000000000000000000000000000180009bbe"
    "057d00017a687a687a687a687a687a68";

static void unhex(uint8_t *out, const char *h)
{
    for (size_t i = 0; h[2 * i]; i++) {
        unsigned v;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void make_id(uint8_t id[ZHTP_NODE_ID_LEN], uint64_t seed)
{
    zt_rng r;
    zt_rng_seed(&r, seed);
    zt_rng_bytes(&r, id, ZHTP_NODE_ID_LEN);
}

/* A UDP packet src -> dst with |payload| bytes of body. */
static size_t make_packet(uint8_t *p, const uint8_t *src, const uint8_t *dst, size_t payload,
                          uint8_t nh)
{
    memset(p, 0, ZHTP_IP6_HDR_LEN + payload);
    p[0] = 0x60;
    p[4] = (uint8_t)(payload >> 8);
    p[5] = (uint8_t)payload;
    p[6] = nh;
    p[7] = 64;
    memcpy(p + 8, src, 16);
    memcpy(p + 24, dst, 16);
    for (size_t i = 0; i < payload; i++)
        p[40 + i] = (uint8_t)(i * 7);
    return ZHTP_IP6_HDR_LEN + payload;
}

static void address_is_the_ula_prefix_then_the_first_112_id_bits(void **state)
{
    (void)state;
    uint8_t id[ZHTP_NODE_ID_LEN], a[16], pre[ZHTP_IP6_ID_BYTES];
    for (size_t i = 0; i < sizeof id; i++)
        id[i] = (uint8_t)(0x10 + i);
    zhtp_ip6_addr_from_id(id, a);
    static const uint8_t want[16] = {0xfd, 0x5a, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                                     0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d};
    assert_memory_equal(a, want, 16);
    assert_true((a[0] & 0xfe) == 0xfc && (a[0] & 1)); /* fc00::/7 with L = 1: a ULA */
    assert_true(zhtp_ip6_addr_is_mesh(a));
    assert_true(zhtp_ip6_addr_matches_id(a, id));
    zhtp_ip6_addr_id_prefix(a, pre);
    assert_memory_equal(pre, id, ZHTP_IP6_ID_BYTES);
    assert_int_equal(ZHTP_IP6_ID_BITS, 112);
    /* bits past the 112th do not matter; one bit inside does */
    id[31] ^= 1;
    assert_true(zhtp_ip6_addr_matches_id(a, id));
    id[13] ^= 1;
    assert_false(zhtp_ip6_addr_matches_id(a, id));
    a[1] = 0x5b;
    assert_false(zhtp_ip6_addr_is_mesh(a));
}

static void outbound_accepts_only_our_source_to_another_mesh_address(void **state)
{
    (void)state;
    uint8_t me[32], you[32], own[16], dst[16], other[16], p[200];
    make_id(me, 1);
    make_id(you, 2);
    zhtp_ip6_addr_from_id(me, own);
    zhtp_ip6_addr_from_id(you, dst);
    zhtp_ip6_addr_from_id(you, other);
    other[15] ^= 0x55; /* another host claiming to be in the mesh */
    size_t n = make_packet(p, own, dst, 24, 17);
    assert_int_equal(zhtp_ip6_check_outbound(p, n, own), ZHTP_IP6_OK);
    n = make_packet(p, other, dst, 24, 17);
    assert_int_equal(zhtp_ip6_check_outbound(p, n, own), ZHTP_IP6_BAD_SRC);
    n = make_packet(p, own, own, 24, 17);
    assert_int_equal(zhtp_ip6_check_outbound(p, n, own), ZHTP_IP6_BAD_DST);
    static const uint8_t mcast[16] = {0xff, 0x02, [15] = 0x16}; /* MLD reports */
    n = make_packet(p, own, mcast, 24, 58);
    assert_int_equal(zhtp_ip6_check_outbound(p, n, own), ZHTP_IP6_NOT_MESH);
    static const uint8_t ula[16] = {0xfd, 0x00, [15] = 1}; /* a ULA that is not ours */
    n = make_packet(p, own, ula, 24, 17);
    assert_int_equal(zhtp_ip6_check_outbound(p, n, own), ZHTP_IP6_NOT_MESH);
}

static void malformed_packets_are_refused_both_ways(void **state)
{
    (void)state;
    uint8_t me[32], you[32], own[16], dst[16], p[200];
    make_id(me, 3);
    make_id(you, 4);
    zhtp_ip6_addr_from_id(me, own);
    zhtp_ip6_addr_from_id(you, dst);
    size_t n = make_packet(p, own, dst, 24, 17);
    assert_int_equal(zhtp_ip6_check_outbound(p, 39, own), ZHTP_IP6_MALFORMED);
    assert_int_equal(zhtp_ip6_check_outbound(p, n - 1, own), ZHTP_IP6_MALFORMED); /* length */
    assert_int_equal(zhtp_ip6_check_outbound(p, n + 1, own), ZHTP_IP6_MALFORMED);
    p[0] = 0x45; /* IPv4 */
    assert_int_equal(zhtp_ip6_check_outbound(p, n, own), ZHTP_IP6_MALFORMED);
    n = make_packet(p, dst, own, 24, 17);
    p[5] = 0; /* payload_len 0 with a body: a jumbogram claim */
    assert_int_equal(zhtp_ip6_check_inbound(p, n, you, own), ZHTP_IP6_MALFORMED);
}

static void inbound_needs_the_senders_address_as_source_and_ours_as_destination(void **state)
{
    (void)state;
    uint8_t me[32], you[32], third[32], own[16], yours[16], thirds[16], p[200];
    make_id(me, 5);
    make_id(you, 6);
    make_id(third, 7);
    zhtp_ip6_addr_from_id(me, own);
    zhtp_ip6_addr_from_id(you, yours);
    zhtp_ip6_addr_from_id(third, thirds);
    size_t n = make_packet(p, yours, own, 100, 6);
    assert_int_equal(zhtp_ip6_check_inbound(p, n, you, own), ZHTP_IP6_OK);
    /* node "you" forging the source address of "third" */
    n = make_packet(p, thirds, own, 100, 6);
    assert_int_equal(zhtp_ip6_check_inbound(p, n, you, own), ZHTP_IP6_BAD_SRC);
    /* sent to someone else's address: not ours to deliver */
    n = make_packet(p, yours, thirds, 100, 6);
    assert_int_equal(zhtp_ip6_check_inbound(p, n, you, own), ZHTP_IP6_BAD_DST);
}

static void checksum_matches_the_kernels_on_a_captured_echo_request(void **state)
{
    (void)state;
    uint8_t p[88];
    unhex(p, kernel_echo_hex);
    size_t n = ZHTP_IP6_HDR_LEN + 20;
    assert_int_equal(zhtp_ip6_icmp6_checksum(p + 8, p + 24, p + 40, n - 40), 0);
    uint16_t ck = (uint16_t)(p[42] << 8 | p[43]);
    p[42] = p[43] = 0;
    assert_int_equal(zhtp_ip6_icmp6_checksum(p + 8, p + 24, p + 40, n - 40), ck);
    assert_int_equal(ck, 0x9bbe);
}

static void packet_too_big_quotes_the_packet_within_1280_bytes_and_checksums(void **state)
{
    (void)state;
    static uint8_t orig[9000], out[2000];
    uint8_t me[32], you[32], own[16], dst[16];
    make_id(me, 8);
    make_id(you, 9);
    zhtp_ip6_addr_from_id(me, own);
    zhtp_ip6_addr_from_id(you, dst);
    size_t n = make_packet(orig, own, dst, 8000, 17);
    zhtp_ssize k =
        zhtp_ip6_icmp6_error(out, sizeof out, ZHTP_ICMP6_PACKET_TOO_BIG, 0, 4000, orig, n);
    assert_int_equal(k, 1280);
    assert_int_equal(out[0] >> 4, 6);
    assert_int_equal(out[4] << 8 | out[5], 1280 - 40);
    assert_int_equal(out[6], 58);
    assert_int_equal(out[7], 255);
    assert_memory_equal(out + 8, dst, 16); /* from the far end, as the first router would be */
    assert_memory_equal(out + 24, own, 16);
    assert_int_equal(out[40], 2);
    assert_int_equal(out[41], 0);
    assert_int_equal((uint32_t)out[44] << 24 | out[45] << 16 | out[46] << 8 | out[47], 4000);
    assert_memory_equal(out + 48, orig, 1280 - 48);
    assert_int_equal(zhtp_ip6_icmp6_checksum(out + 8, out + 24, out + 40, 1240), 0);
    /* well-formed, from the destination's address to ours */
    assert_int_equal(zhtp_ip6_check_inbound(out, (size_t)k, you, own), ZHTP_IP6_OK);
    /* a short original is quoted whole */
    n = make_packet(orig, own, dst, 10, 17);
    k = zhtp_ip6_icmp6_error(out, sizeof out, ZHTP_ICMP6_DST_UNREACH, 3, 0, orig, n);
    assert_int_equal(k, 40 + 8 + 50);
    assert_int_equal(out[40], 1);
    assert_int_equal(out[41], 3);
    assert_memory_equal(out + 48, orig, 50);
    assert_int_equal(zhtp_ip6_icmp6_checksum(out + 8, out + 24, out + 40, 58), 0);
    out[60] ^= 1;
    assert_int_not_equal(zhtp_ip6_icmp6_checksum(out + 8, out + 24, out + 40, 58), 0);
    /* too small a buffer: nothing written */
    memset(out, 0xee, sizeof out);
    assert_int_equal(zhtp_ip6_icmp6_error(out, 97, ZHTP_ICMP6_DST_UNREACH, 3, 0, orig, n),
                     ZHTP_ERR_NOBUF);
    assert_int_equal(out[0], 0xee);
}

static void no_icmp_error_about_errors_multicast_or_unspecified_sources(void **state)
{
    (void)state;
    uint8_t p[200], out[1280];
    uint8_t me[32], you[32], own[16], dst[16];
    make_id(me, 10);
    make_id(you, 11);
    zhtp_ip6_addr_from_id(me, own);
    zhtp_ip6_addr_from_id(you, dst);
    size_t n = make_packet(p, own, dst, 16, 58);
    p[40] = 128; /* echo request: an error about it is fine */
    assert_true(zhtp_ip6_may_send_error(p, n));
    p[40] = 2; /* a Packet Too Big itself: never an error about an error */
    assert_false(zhtp_ip6_may_send_error(p, n));
    assert_int_equal(zhtp_ip6_icmp6_error(out, sizeof out, 1, 3, 0, p, n), ZHTP_ERR_INVAL);
    /* the same error behind a hop-by-hop options header (8 bytes) */
    n = make_packet(p, own, dst, 24, 0);
    p[40] = 58;
    p[41] = 0;
    p[48] = 1;
    assert_false(zhtp_ip6_may_send_error(p, n));
    p[48] = 129; /* an echo reply behind it */
    assert_true(zhtp_ip6_may_send_error(p, n));
    static const uint8_t mcast[16] = {0xff, 0x02, [15] = 1}, unspec[16] = {0};
    n = make_packet(p, own, mcast, 16, 17);
    assert_false(zhtp_ip6_may_send_error(p, n));
    n = make_packet(p, unspec, dst, 16, 17);
    assert_false(zhtp_ip6_may_send_error(p, n));
    n = make_packet(p, mcast, dst, 16, 17);
    assert_false(zhtp_ip6_may_send_error(p, n));
    assert_false(zhtp_ip6_may_send_error(p, 30)); /* malformed */
}

static void rate_limit_allows_a_burst_then_one_per_interval(void **state)
{
    (void)state;
    zhtp_ip6_ratelim rl = {.burst = 3, .interval_ns = 100};
    zhtp_time t = 1000;
    for (int i = 0; i < 3; i++)
        assert_true(zhtp_ip6_ratelim_take(&rl, t));
    assert_false(zhtp_ip6_ratelim_take(&rl, t));
    assert_false(zhtp_ip6_ratelim_take(&rl, t + 99));
    assert_true(zhtp_ip6_ratelim_take(&rl, t + 100));
    assert_false(zhtp_ip6_ratelim_take(&rl, t + 150));
    /* a long silence refills only up to the burst */
    t += 1000000;
    int ok = 0;
    for (int i = 0; i < 10; i++)
        ok += zhtp_ip6_ratelim_take(&rl, t);
    assert_int_equal(ok, 3);
    /* time going backwards (never from a monotonic clock) grants nothing */
    assert_false(zhtp_ip6_ratelim_take(&rl, t - 500));
}

static void verdict_names_are_distinct(void **state)
{
    (void)state;
    for (int a = 0; a < ZHTP_IP6_VERDICT_COUNT; a++)
        for (int b = a + 1; b < ZHTP_IP6_VERDICT_COUNT; b++)
            assert_string_not_equal(zhtp_ip6_verdict_name((zhtp_ip6_verdict)a),
                                    zhtp_ip6_verdict_name((zhtp_ip6_verdict)b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(address_is_the_ula_prefix_then_the_first_112_id_bits),
        cmocka_unit_test(outbound_accepts_only_our_source_to_another_mesh_address),
        cmocka_unit_test(malformed_packets_are_refused_both_ways),
        cmocka_unit_test(inbound_needs_the_senders_address_as_source_and_ours_as_destination),
        cmocka_unit_test(checksum_matches_the_kernels_on_a_captured_echo_request),
        cmocka_unit_test(packet_too_big_quotes_the_packet_within_1280_bytes_and_checksums),
        cmocka_unit_test(no_icmp_error_about_errors_multicast_or_unspecified_sources),
        cmocka_unit_test(rate_limit_allows_a_burst_then_one_per_interval),
        cmocka_unit_test(verdict_names_are_distinct),
    };
    return cmocka_run_group_tests_name("ip6", tests, NULL, NULL);
}
