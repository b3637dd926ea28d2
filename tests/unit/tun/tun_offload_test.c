/* src/runtime/tun_offload.c: the virtio_net_hdr codec, the fast one's complement sum against a
 * byte-pair reference, completing partial checksums of packets read from the TUN, the headers
 * written for TCP super-packets from the mesh, and hostile headers and packets refused. */
#include <string.h>

#include "ip6.h"
#include "testutil.h"
#include "tun_offload.h"

/* RFC 1071 the slow way: 16-bit big-endian words, end-around carry. Not complemented. */
static uint32_t ref_sum(uint32_t acc, const uint8_t *b, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        acc += (uint32_t)b[i] << 8 | b[i + 1];
        acc = (acc & 0xffff) + (acc >> 16);
    }
    if (len & 1) {
        acc += (uint32_t)b[len - 1] << 8;
        acc = (acc & 0xffff) + (acc >> 16);
    }
    return acc;
}

/* Pseudo-header + upper-layer bytes of an IPv6 packet whose transport header is at |start|
 * (the last next-header value |nh|), checksum field included: a correct checksum gives 0xffff. */
static uint16_t ref_verify(const uint8_t *p, size_t len, size_t start, uint8_t nh)
{
    size_t ulen = len - start;
    uint8_t tail[8] = {(uint8_t)(ulen >> 24),
                       (uint8_t)(ulen >> 16),
                       (uint8_t)(ulen >> 8),
                       (uint8_t)ulen,
                       0,
                       0,
                       0,
                       nh};
    uint32_t acc = ref_sum(0, p + 8, 32);
    acc = ref_sum(acc, tail, 8);
    acc = ref_sum(acc, p + start, ulen);
    return (uint16_t)acc;
}

/* An IPv6 packet with |ulen| bytes of random upper layer after |ext| bytes of destination
 * options; the first byte of the upper layer region is set so a TCP header is |thlen| long. */
static size_t make_packet(zt_rng *r, uint8_t *p, size_t ulen, size_t ext, uint8_t nh, size_t thlen)
{
    size_t plen = ext + ulen;
    zt_rng_bytes(r, p, ZHTP_IP6_HDR_LEN + plen);
    p[0] = 0x60;
    p[4] = (uint8_t)(plen >> 8);
    p[5] = (uint8_t)plen;
    p[6] = ext ? 60 : nh; /* 60: destination options */
    p[7] = 64;
    if (ext) {
        p[40] = nh;
        p[41] = (uint8_t)(ext / 8 - 1);
    }
    if (nh == ZHTP_TUN_OFFLOAD_NH_TCP && thlen && ulen >= 13)
        p[40 + ext + 12] = (uint8_t)((thlen / 4) << 4);
    return ZHTP_IP6_HDR_LEN + plen;
}

static void vnet_header_is_ten_little_endian_bytes_and_round_trips(void **state)
{
    (void)state;
    zhtp_vnet_hdr h = {.flags = ZHTP_VNET_F_NEEDS_CSUM,
                       .gso_type = ZHTP_VNET_GSO_TCPV6,
                       .hdr_len = 0x0102,
                       .gso_size = 0x0304,
                       .csum_start = 0x0506,
                       .csum_offset = 0x0708},
                  back;
    uint8_t b[ZHTP_VNET_HDR_LEN];
    zhtp_vnet_hdr_encode(&h, b);
    static const uint8_t want[ZHTP_VNET_HDR_LEN] = {1, 4, 2, 1, 4, 3, 6, 5, 8, 7};
    assert_memory_equal(b, want, sizeof want);
    zhtp_vnet_hdr_decode(b, &back);
    assert_memory_equal(&back, &h, sizeof h);
}

static void fast_sum_matches_the_reference_on_random_lengths_offsets_and_carries(void **state)
{
    (void)state;
    zt_rng r;
    zt_rng_seed(&r, 71);
    static uint8_t buf[70000];
    for (int iter = 0; iter < 2000; iter++) {
        size_t len = (size_t)zt_rng_below(&r, iter < 1000 ? 200 : 66000);
        size_t misalign = (size_t)zt_rng_below(&r, 8); /* the pointer, not the data offset */
        uint8_t *b = buf + misalign;
        if (iter % 4 == 0)
            memset(b, 0xff, len); /* every word 0xffff: the most carries */
        else
            zt_rng_bytes(&r, b, len);
        uint16_t want = (uint16_t)ref_sum(0, b, len);
        uint16_t got = zhtp_csum_fold(zhtp_csum_add(0, b, len));
        /* 0 and 0xffff are the same number in one's complement; only all-zero data sums to 0 */
        if (want == 0xffff && got == 0)
            got = 0xffff;
        assert_int_equal(got, want);
        /* chained over two pieces split at an even offset */
        size_t cut = len ? (size_t)zt_rng_below(&r, len + 1) & ~(size_t)1 : 0;
        uint16_t two = zhtp_csum_fold(zhtp_csum_add(zhtp_csum_add(0, b, cut), b + cut, len - cut));
        if (want == 0xffff && two == 0)
            two = 0xffff;
        assert_int_equal(two, want);
    }
}

static void tcp_and_udp_checksums_are_completed_over_the_whole_super_packet(void **state)
{
    (void)state;
    zt_rng r;
    zt_rng_seed(&r, 72);
    static uint8_t p[ZHTP_IP6_HDR_LEN + 65535];
    for (int iter = 0; iter < 300; iter++) {
        bool udp = iter % 3 == 2;
        uint8_t nh = udp ? ZHTP_TUN_OFFLOAD_NH_UDP : ZHTP_TUN_OFFLOAD_NH_TCP;
        size_t thlen = udp ? 0 : 20 + 4 * (size_t)zt_rng_below(&r, 11);
        size_t ulen = (udp ? 8 : thlen) + (size_t)zt_rng_below(&r, 65535 - 60 - 8);
        size_t len = make_packet(&r, p, ulen, 0, nh, thlen);
        zhtp_vnet_hdr h = {.flags = ZHTP_VNET_F_NEEDS_CSUM,
                           .csum_start = 40,
                           .csum_offset =
                               udp ? ZHTP_TUN_OFFLOAD_UDP_CSUM : ZHTP_TUN_OFFLOAD_TCP_CSUM};
        size_t mss = 0;
        if (!udp && iter % 2 == 0) {
            mss = 1 + (size_t)zt_rng_below(&r, 16000);
            h.gso_type = ZHTP_VNET_GSO_TCPV6;
            h.gso_size = (uint16_t)mss;
            h.hdr_len = (uint16_t)(40 + thlen);
        }
        size_t seg = 0;
        assert_int_equal(zhtp_tun_offload_from_host(p, len, &h, &seg), ZHTP_OK);
        assert_int_equal(ref_verify(p, len, 40, nh), 0xffff);
        size_t want_seg = mss ? 40 + thlen + mss : len;
        assert_int_equal(seg, want_seg < len ? want_seg : len);
    }
}

/* Behind extension headers the field's partial sum (the kernel's pseudo-header) is finished. */
static void a_partial_sum_behind_extension_headers_is_finished(void **state)
{
    (void)state;
    zt_rng r;
    zt_rng_seed(&r, 73);
    static uint8_t p[4000];
    for (int iter = 0; iter < 100; iter++) {
        size_t ulen = 20 + (size_t)zt_rng_below(&r, 3000);
        size_t len = make_packet(&r, p, ulen, 8, ZHTP_TUN_OFFLOAD_NH_TCP, 20);
        uint16_t ps = zhtp_csum_fold(zhtp_csum_pseudo6(p, (uint32_t)ulen, ZHTP_TUN_OFFLOAD_NH_TCP));
        p[48 + 16] = (uint8_t)(ps >> 8);
        p[48 + 17] = (uint8_t)ps;
        zhtp_vnet_hdr h = {.flags = ZHTP_VNET_F_NEEDS_CSUM, .csum_start = 48, .csum_offset = 16};
        size_t seg;
        assert_int_equal(zhtp_tun_offload_from_host(p, len, &h, &seg), ZHTP_OK);
        assert_int_equal(ref_verify(p, len, 48, ZHTP_TUN_OFFLOAD_NH_TCP), 0xffff);
    }
}

static void a_packet_without_needs_csum_is_left_untouched(void **state)
{
    (void)state;
    zt_rng r;
    zt_rng_seed(&r, 74);
    uint8_t p[600], copy[600];
    size_t len = make_packet(&r, p, 500, 0, ZHTP_TUN_OFFLOAD_NH_TCP, 20);
    memcpy(copy, p, len);
    zhtp_vnet_hdr h = {0};
    size_t seg = 0;
    assert_int_equal(zhtp_tun_offload_from_host(p, len, &h, &seg), ZHTP_OK);
    assert_memory_equal(p, copy, len);
    assert_int_equal(seg, len);
}

static void hostile_headers_from_the_tun_are_refused(void **state)
{
    (void)state;
    zt_rng r;
    zt_rng_seed(&r, 75);
    uint8_t p[3000];
    size_t len = make_packet(&r, p, 2000, 0, ZHTP_TUN_OFFLOAD_NH_TCP, 32);
    const zhtp_vnet_hdr good = {.flags = ZHTP_VNET_F_NEEDS_CSUM,
                                .gso_type = ZHTP_VNET_GSO_TCPV6,
                                .hdr_len = 72,
                                .gso_size = 1208,
                                .csum_start = 40,
                                .csum_offset = 16};
    size_t seg;
    zhtp_vnet_hdr h = good;
    assert_int_equal(zhtp_tun_offload_from_host(p, len, &h, &seg), ZHTP_OK);
    assert_int_equal(seg, 40 + 32 + 1208);
    h = good, h.gso_type = ZHTP_VNET_GSO_TCPV6 | ZHTP_VNET_GSO_ECN; /* CWR: still ours */
    assert_int_equal(zhtp_tun_offload_from_host(p, len, &h, &seg), ZHTP_OK);

    zhtp_vnet_hdr bad[12];
    size_t n = 0;
    bad[n] = good, bad[n++].gso_type = 1;                      /* TCPv4 */
    bad[n] = good, bad[n++].gso_type = 3;                      /* UDP (UFO) */
    bad[n] = good, bad[n++].gso_type = 5;                      /* UDP_L4 */
    bad[n] = good, bad[n++].flags = 0;                         /* GSO, no checksum to finish */
    bad[n] = good, bad[n++].csum_start = 20;                   /* inside the IPv6 header */
    bad[n] = good, bad[n++].csum_start = 41;                   /* odd */
    bad[n] = good, bad[n++].csum_offset = 17;                  /* odd */
    bad[n] = good, bad[n++].csum_offset = 6;                   /* GSO TCP but not TCP's field */
    bad[n] = good, bad[n++].csum_start = (uint16_t)(len - 18); /* TCP header past the end */
    bad[n] = good, bad[n].gso_type = 0, bad[n++].csum_start = (uint16_t)len; /* field past end */
    bad[n] = good, bad[n++].gso_size = 0;
    for (size_t i = 0; i < n; i++) {
        h = bad[i];
        assert_int_equal(zhtp_tun_offload_from_host(p, len, &h, &seg), ZHTP_ERR_INVAL);
    }
    /* a TCP data offset below 5 words, or past the packet */
    h = good;
    p[52] = 0x40;
    assert_int_equal(zhtp_tun_offload_from_host(p, len, &h, &seg), ZHTP_ERR_INVAL);
    p[52] = 0xf0;
    assert_int_equal(zhtp_tun_offload_from_host(p, 90, &h, &seg), ZHTP_ERR_INVAL);
    /* shorter than an IPv6 header */
    assert_int_equal(zhtp_tun_offload_from_host(p, 39, &h, &seg), ZHTP_ERR_INVAL);
}

/* A complete TCP super-packet from the mesh becomes a GSO write whose checksum field, finished
 * the way the kernel finishes CHECKSUM_PARTIAL, is the packet's own checksum again. */
static void a_tcp_packet_above_the_mtu_is_written_as_gso_with_a_partial_checksum(void **state)
{
    (void)state;
    zt_rng r;
    zt_rng_seed(&r, 76);
    static uint8_t p[ZHTP_IP6_HDR_LEN + 65535];
    for (int iter = 0; iter < 200; iter++) {
        uint32_t mtu = 1280 + (uint32_t)zt_rng_below(&r, 20000);
        size_t thlen = 20 + 4 * (size_t)zt_rng_below(&r, 11);
        size_t ulen = mtu - 40 + 1 + (size_t)zt_rng_below(&r, 65535 - (mtu - 40));
        size_t len = make_packet(&r, p, ulen, 0, ZHTP_TUN_OFFLOAD_NH_TCP, thlen);
        zhtp_vnet_hdr h = {.flags = ZHTP_VNET_F_NEEDS_CSUM, .csum_start = 40, .csum_offset = 16};
        size_t seg;
        assert_int_equal(zhtp_tun_offload_from_host(p, len, &h, &seg), ZHTP_OK); /* complete it */
        uint8_t orig[2] = {p[56], p[57]};
        uint8_t check[2];
        assert_int_equal(zhtp_tun_offload_to_host(p, len, mtu, &h, check), 1);
        assert_int_equal(h.flags, ZHTP_VNET_F_NEEDS_CSUM);
        assert_int_equal(h.gso_type, ZHTP_VNET_GSO_TCPV6);
        assert_int_equal(h.hdr_len, 40 + thlen);
        assert_int_equal(h.gso_size, mtu - 40 - thlen);
        assert_int_equal(h.csum_start, 40);
        assert_int_equal(h.csum_offset, 16);
        /* the kernel: sum from csum_start with the partial sum in the field, complement */
        p[56] = check[0];
        p[57] = check[1];
        uint16_t ck = (uint16_t) ~(uint16_t)ref_sum(0, p + 40, len - 40);
        if (ck == 0)
            ck = 0xffff;
        uint16_t want = (uint16_t)(orig[0] << 8 | orig[1]);
        assert_int_equal(ck, want);
    }
}

static void packets_that_fit_or_are_not_tcp_get_an_all_zero_header(void **state)
{
    (void)state;
    zt_rng r;
    zt_rng_seed(&r, 77);
    static uint8_t p[20000];
    static const uint8_t zero[sizeof(zhtp_vnet_hdr)];
    zhtp_vnet_hdr h;
    uint8_t check[2];
    size_t len = make_packet(&r, p, 1240, 0, ZHTP_TUN_OFFLOAD_NH_TCP, 20); /* exactly 1280 */
    memset(&h, 0xaa, sizeof h);
    assert_int_equal(zhtp_tun_offload_to_host(p, len, 1280, &h, check), 0);
    assert_memory_equal(&h, zero, sizeof h);
    len = make_packet(&r, p, 10000, 0, ZHTP_TUN_OFFLOAD_NH_UDP, 0);
    assert_int_equal(zhtp_tun_offload_to_host(p, len, 1280, &h, check), 0);
    assert_memory_equal(&h, zero, sizeof h);
    /* TCP behind an extension header: never described as GSO */
    len = make_packet(&r, p, 10000, 8, ZHTP_TUN_OFFLOAD_NH_TCP, 20);
    assert_int_equal(zhtp_tun_offload_to_host(p, len, 1280, &h, check), 0);
}

static void hostile_packets_from_the_mesh_never_become_gso_writes(void **state)
{
    (void)state;
    zt_rng r;
    zt_rng_seed(&r, 78);
    static uint8_t p[20000];
    zhtp_vnet_hdr h;
    uint8_t check[2];
    size_t len = make_packet(&r, p, 10000, 0, ZHTP_TUN_OFFLOAD_NH_TCP, 20);
    assert_int_equal(zhtp_tun_offload_to_host(p, len, 1280, &h, check), 1);
    p[52] = 0x40; /* data offset 4 words */
    assert_int_equal(zhtp_tun_offload_to_host(p, len, 1280, &h, check), ZHTP_ERR_INVAL);
    p[52] = 0x00;
    assert_int_equal(zhtp_tun_offload_to_host(p, len, 1280, &h, check), ZHTP_ERR_INVAL);
    p[52] = 0x50;
    p[4] ^= 1; /* payload length disagrees with the bytes */
    assert_int_equal(zhtp_tun_offload_to_host(p, len, 1280, &h, check), ZHTP_ERR_INVAL);
    p[4] ^= 1;
    p[0] = 0x40; /* not IPv6 */
    assert_int_equal(zhtp_tun_offload_to_host(p, len, 1280, &h, check), ZHTP_ERR_INVAL);
    p[0] = 0x60;
    /* a header and no payload, above an (absurd) MTU smaller than the headers */
    len = make_packet(&r, p, 60, 0, ZHTP_TUN_OFFLOAD_NH_TCP, 60);
    assert_int_equal(zhtp_tun_offload_to_host(p, len, 80, &h, check), ZHTP_ERR_INVAL);
    len = make_packet(&r, p, 200, 0, ZHTP_TUN_OFFLOAD_NH_TCP, 60);
    assert_int_equal(zhtp_tun_offload_to_host(p, len, 100, &h, check), ZHTP_ERR_INVAL);
    /* fuzz: whatever the bytes, a GSO answer is consistent with the packet and the MTU */
    for (int iter = 0; iter < 20000; iter++) {
        len = 40 + (size_t)zt_rng_below(&r, 3000);
        zt_rng_bytes(&r, p, len);
        p[0] = (uint8_t)(0x60 | (p[0] & 0x0f));
        if (iter & 1) {
            p[4] = (uint8_t)((len - 40) >> 8);
            p[5] = (uint8_t)(len - 40);
            p[6] = ZHTP_TUN_OFFLOAD_NH_TCP;
        }
        uint32_t mtu = 1280;
        int rc = zhtp_tun_offload_to_host(p, len, mtu, &h, check);
        if (rc == 1) {
            assert_true(len > mtu && h.hdr_len >= 60 && h.hdr_len <= 100 && h.hdr_len < len);
            assert_int_equal(h.hdr_len + h.gso_size, mtu);
            assert_int_equal(h.hdr_len, 40 + (p[52] >> 4) * 4);
        } else {
            assert_true(rc == 0 || rc == ZHTP_ERR_INVAL);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vnet_header_is_ten_little_endian_bytes_and_round_trips),
        cmocka_unit_test(fast_sum_matches_the_reference_on_random_lengths_offsets_and_carries),
        cmocka_unit_test(tcp_and_udp_checksums_are_completed_over_the_whole_super_packet),
        cmocka_unit_test(a_partial_sum_behind_extension_headers_is_finished),
        cmocka_unit_test(a_packet_without_needs_csum_is_left_untouched),
        cmocka_unit_test(hostile_headers_from_the_tun_are_refused),
        cmocka_unit_test(a_tcp_packet_above_the_mtu_is_written_as_gso_with_a_partial_checksum),
        cmocka_unit_test(packets_that_fit_or_are_not_tcp_get_an_all_zero_header),
        cmocka_unit_test(hostile_packets_from_the_mesh_never_become_gso_writes),
    };
    return cmocka_run_group_tests_name("tun_offload", tests, NULL, NULL);
}
