/* src/runtime/udp_rx.c: a received buffer is cut back into the datagrams its sender emitted
 * (UDP GRO gives runs of equal-size datagrams as one buffer and their size in a control
 * message); malformed sizes and truncated buffers are dropped and counted, never fed. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"
#include "udp_loopback.h"
#include "udp_rx.h"
#include "zhtp/err.h"

/* What the callbacks saw: every datagram's length, first and last byte, in order. */
typedef struct seen {
    size_t n;
    size_t len[256];
    uint8_t first[256], last[256];
    size_t buffers; /* done callbacks */
    size_t done_total;
} seen;

static void on_seg(void *ud, const uint8_t *seg, size_t len)
{
    seen *s = ud;
    assert_true(s->n < 256);
    s->len[s->n] = len;
    s->first[s->n] = seg[0];
    s->last[s->n] = seg[len - 1];
    s->n++;
}

static void on_dgram(void *ud, const struct sockaddr *from, socklen_t fromlen, const uint8_t *d,
                     size_t len)
{
    assert_non_null(from);
    assert_true(fromlen >= (socklen_t)sizeof(struct sockaddr_in));
    on_seg(ud, d, len);
}

static void on_done(void *ud, const struct sockaddr *from, socklen_t fromlen, size_t datagrams)
{
    (void)from;
    (void)fromlen;
    seen *s = ud;
    s->buffers++;
    s->done_total += datagrams;
}

/* A buffer of |n| datagrams of |seg| bytes, datagram k filled with k, the last |last| bytes. */
static size_t fill_run(uint8_t *buf, size_t seg, size_t n, size_t last)
{
    size_t off = 0;
    for (size_t k = 0; k < n; k++) {
        size_t len = k + 1 == n ? last : seg;
        memset(buf + off, (int)k, len);
        off += len;
    }
    return off;
}

static void test_split_cuts_equal_segments_and_short_last(void **state)
{
    (void)state;
    static uint8_t buf[65536];
    size_t len = fill_run(buf, 1280, 13, 1024); /* a 16 KiB packet's link frames */
    seen s = {0};
    assert_int_equal(zhtp_rt_udp_rx_split(buf, len, 1280, on_seg, &s), 13);
    assert_int_equal(s.n, 13);
    for (size_t k = 0; k < 13; k++) {
        assert_int_equal(s.len[k], k == 12 ? 1024 : 1280);
        assert_int_equal(s.first[k], k);
        assert_int_equal(s.last[k], k);
    }
    /* exact multiple: no empty tail */
    memset(&s, 0, sizeof s);
    len = fill_run(buf, 100, 5, 100);
    assert_int_equal(zhtp_rt_udp_rx_split(buf, len, 100, on_seg, &s), 5);
    assert_int_equal(s.len[4], 100);
    /* maximum segment count a 64 KiB buffer can carry at 1 byte */
    memset(&s, 0, sizeof s);
    assert_int_equal(zhtp_rt_udp_rx_split(buf, 200, 1, on_seg, &s), 200);
    assert_int_equal(s.n, 200);
}

static void test_split_without_gro_or_with_large_size_is_one_datagram(void **state)
{
    (void)state;
    static uint8_t buf[3000];
    memset(buf, 7, sizeof buf);
    seen s = {0};
    assert_int_equal(zhtp_rt_udp_rx_split(buf, 1500, 0, on_seg, &s), 1);
    assert_int_equal(zhtp_rt_udp_rx_split(buf, 1500, 1500, on_seg, &s), 1);
    assert_int_equal(zhtp_rt_udp_rx_split(buf, 1500, 9000, on_seg, &s), 1);
    assert_int_equal(s.n, 3);
    for (size_t k = 0; k < 3; k++)
        assert_int_equal(s.len[k], 1500);
    /* an empty datagram feeds nothing */
    assert_int_equal(zhtp_rt_udp_rx_split(buf, 0, 1280, on_seg, &s), 0);
    assert_int_equal(s.n, 3);
}

static void test_split_refuses_bad_arguments(void **state)
{
    (void)state;
    uint8_t buf[10] = {0};
    seen s = {0};
    assert_int_equal(zhtp_rt_udp_rx_split(buf, sizeof buf, ZHTP_RT_UDP_RX_MAX_SEG + 1, on_seg, &s),
                     ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_rt_udp_rx_split(buf, sizeof buf, 4, NULL, &s), ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_rt_udp_rx_split(NULL, 4, 4, on_seg, &s), ZHTP_ERR_INVAL);
    assert_int_equal(s.n, 0);
}

/* A msghdr whose control buffer holds one cmsg (level, type) with |dlen| bytes of |data|. */
typedef struct ctl_msg {
    struct msghdr h;
    union {
        char buf[CMSG_SPACE(16)];
        struct cmsghdr align;
    } u;
} ctl_msg;

static void make_ctl(ctl_msg *m, int level, int type, const void *data, size_t dlen)
{
    memset(m, 0, sizeof *m);
    m->h.msg_control = m->u.buf;
    m->h.msg_controllen = CMSG_SPACE(dlen);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m->h);
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(dlen);
    memcpy(CMSG_DATA(c), data, dlen);
}

static void test_gro_size_from_control_message(void **state)
{
    (void)state;
    ctl_msg m;
    size_t seg = 99;
    /* none at all, or another option's message: an ordinary datagram */
    struct msghdr plain = {0};
    assert_int_equal(zhtp_rt_udp_rx_gro_size(&plain, &seg), ZHTP_OK);
    assert_int_equal(seg, 0);
    int v = 1280;
    make_ctl(&m, SOL_SOCKET, UDP_GRO, &v, sizeof v);
    seg = 99;
    assert_int_equal(zhtp_rt_udp_rx_gro_size(&m.h, &seg), ZHTP_OK);
    assert_int_equal(seg, 0);
    /* the kernel's int */
    make_ctl(&m, SOL_UDP, UDP_GRO, &v, sizeof v);
    assert_int_equal(zhtp_rt_udp_rx_gro_size(&m.h, &seg), ZHTP_OK);
    assert_int_equal(seg, 1280);
    /* a uint16_t */
    uint16_t v16 = 1452;
    make_ctl(&m, SOL_UDP, UDP_GRO, &v16, sizeof v16);
    assert_int_equal(zhtp_rt_udp_rx_gro_size(&m.h, &seg), ZHTP_OK);
    assert_int_equal(seg, 1452);
    v = 65535;
    make_ctl(&m, SOL_UDP, UDP_GRO, &v, sizeof v);
    assert_int_equal(zhtp_rt_udp_rx_gro_size(&m.h, &seg), ZHTP_OK);
    assert_int_equal(seg, 65535);
}

static void test_gro_size_hostile_values_rejected(void **state)
{
    (void)state;
    ctl_msg m;
    size_t seg;
    static const int bad[] = {0, -1, -1280, 65536, 1 << 30};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        make_ctl(&m, SOL_UDP, UDP_GRO, &bad[i], sizeof bad[i]);
        assert_int_equal(zhtp_rt_udp_rx_gro_size(&m.h, &seg), ZHTP_ERR_INVAL);
    }
    uint16_t z = 0;
    make_ctl(&m, SOL_UDP, UDP_GRO, &z, sizeof z);
    assert_int_equal(zhtp_rt_udp_rx_gro_size(&m.h, &seg), ZHTP_ERR_INVAL);
    /* a length that is neither an int nor a uint16_t */
    uint64_t v64 = 1280;
    make_ctl(&m, SOL_UDP, UDP_GRO, &v64, sizeof v64);
    assert_int_equal(zhtp_rt_udp_rx_gro_size(&m.h, &seg), ZHTP_ERR_INVAL);
    uint8_t v8 = 128;
    make_ctl(&m, SOL_UDP, UDP_GRO, &v8, sizeof v8);
    assert_int_equal(zhtp_rt_udp_rx_gro_size(&m.h, &seg), ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_rt_udp_rx_gro_size(NULL, &seg), ZHTP_ERR_INVAL);
    /* a message claiming more bytes than the control area holds (found by fuzz/udp_rx): its
     * data lies past the area and must not be read */
    int ok = 1280;
    make_ctl(&m, SOL_UDP, UDP_GRO, &ok, sizeof ok);
    m.h.msg_controllen = sizeof(struct cmsghdr);
    assert_int_equal(zhtp_rt_udp_rx_gro_size(&m.h, &seg), ZHTP_ERR_INVAL);
}

/* ---- real sockets on loopback ---- */

static int bound(int family, struct sockaddr_storage *ss, socklen_t *sl)
{
    return zt_udp_loopback(family, SOCK_NONBLOCK, ss, sl);
}

/* One sendmsg of |len| bytes at |buf| to |to|, as UDP GSO segments of |seg| bytes when
 * |seg| > 0. 0, or the errno. */
static int send_gso(int fd, const struct sockaddr_storage *to, socklen_t tl, const uint8_t *buf,
                    size_t len, uint16_t seg)
{
    struct iovec v = {.iov_base = (void *)buf, .iov_len = len};
    union {
        char b[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } u;
    struct msghdr h = {.msg_name = (void *)to, .msg_namelen = tl, .msg_iov = &v, .msg_iovlen = 1};
    if (seg > 0) {
        memset(&u, 0, sizeof u);
        h.msg_control = u.b;
        h.msg_controllen = sizeof u.b;
        struct cmsghdr *c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof seg);
        memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
    return sendmsg(fd, &h, 0) == (ssize_t)len ? 0 : errno;
}

/* Reads until |want| datagrams came or the socket stays empty (loopback delivers at once). */
static void read_all(zhtp_rt_udp_rx *rx, seen *s, size_t want)
{
    for (int tries = 0; tries < 100 && s->n < want; tries++)
        if (zhtp_rt_udp_rx_read(rx, on_dgram, on_done, s) == 0)
            usleep(1000);
}

static void gso_to_gro(int family)
{
    struct sockaddr_storage ta, ra;
    socklen_t sl;
    int tx = bound(family, &ta, &sl);
    if (tx < 0) {
        skip(); /* no IPv6 loopback in this environment */
        return;
    }
    int rxfd = bound(family, &ra, &sl);
    assert_true(rxfd >= 0);
    zhtp_rt_udp_rx *rx = zhtp_rt_udp_rx_new(rxfd, 0, 0, true);
    assert_non_null(rx);
    int err = 0;
    if (!zhtp_rt_udp_rx_gro_on(rx, &err)) {
        print_message("# kernel refused UDP_GRO: %s\n", strerror(err));
        zhtp_rt_udp_rx_free(rx);
        close(tx);
        close(rxfd);
        skip(); /* Linux before 5.0: nothing to check */
        return;
    }
    static uint8_t buf[65536];
    /* a 16 KiB packet's 13 frames in one GSO message, then an ordinary datagram */
    size_t len = fill_run(buf, 1280, 13, 1024);
    int e = send_gso(tx, &ra, sl, buf, len, 1280);
    if (e == EIO || e == EINVAL || e == ENOPROTOOPT) {
        print_message("# kernel refused UDP_SEGMENT: %s\n", strerror(e));
        zhtp_rt_udp_rx_free(rx);
        close(tx);
        close(rxfd);
        skip();
        return;
    }
    assert_int_equal(e, 0);
    memset(buf, 0xab, 300);
    assert_int_equal(send_gso(tx, &ra, sl, buf, 300, 0), 0);
    seen s = {0};
    read_all(rx, &s, 14);
    assert_int_equal(s.n, 14);
    for (size_t k = 0; k < 13; k++) {
        assert_int_equal(s.len[k], k == 12 ? 1024 : 1280);
        assert_int_equal(s.first[k], k);
        assert_int_equal(s.last[k], k);
    }
    assert_int_equal(s.len[13], 300);
    assert_int_equal(s.first[13], 0xab);
    zhtp_rt_udp_rx_stats st;
    zhtp_rt_udp_rx_get_stats(rx, &st);
    print_message("# %s: %" PRIu64 " buffers, %" PRIu64 " GRO, %" PRIu64 " calls\n",
                  family == AF_INET ? "IPv4" : "IPv6", st.buffers, st.gro_buffers, st.calls);
    /* loopback keeps a GSO message whole for a GRO socket: one buffer, cut in 13 here */
    assert_int_equal(st.buffers, 2);
    assert_int_equal(st.gro_buffers, 1);
    assert_int_equal(st.datagrams, 14);
    assert_int_equal(st.bytes, 12 * 1280 + 1024 + 300);
    assert_int_equal(s.buffers, 2);
    assert_int_equal(s.done_total, 14);
    zhtp_rt_udp_rx_free(rx);
    close(tx);
    close(rxfd);
}

static void test_gso_message_reaches_gro_socket_as_original_frames_ipv4(void **state)
{
    (void)state;
    gso_to_gro(AF_INET);
}

static void test_gso_message_reaches_gro_socket_as_original_frames_ipv6(void **state)
{
    (void)state;
    gso_to_gro(AF_INET6);
}

/* Without GRO the kernel segments: the same frames, one buffer each. */
static void test_without_gro_each_frame_is_its_own_buffer(void **state)
{
    (void)state;
    struct sockaddr_storage ta, ra;
    socklen_t sl;
    int tx = bound(AF_INET, &ta, &sl);
    int rxfd = bound(AF_INET, &ra, &sl);
    assert_true(tx >= 0 && rxfd >= 0);
    zhtp_rt_udp_rx *rx = zhtp_rt_udp_rx_new(rxfd, 4, 0, false);
    assert_non_null(rx);
    assert_false(zhtp_rt_udp_rx_gro_on(rx, NULL));
    static uint8_t buf[65536];
    size_t len = fill_run(buf, 1000, 6, 10);
    int e = send_gso(tx, &ra, sl, buf, len, 1000);
    if (e != 0) {
        close(tx);
        close(rxfd);
        zhtp_rt_udp_rx_free(rx);
        skip(); /* no UDP_SEGMENT */
        return;
    }
    seen s = {0};
    read_all(rx, &s, 6);
    assert_int_equal(s.n, 6);
    for (size_t k = 0; k < 6; k++) {
        assert_int_equal(s.len[k], k == 5 ? 10 : 1000);
        assert_int_equal(s.first[k], k);
    }
    zhtp_rt_udp_rx_stats st;
    zhtp_rt_udp_rx_get_stats(rx, &st);
    assert_int_equal(st.buffers, 6);
    assert_int_equal(st.gro_buffers, 0);
    assert_true(st.calls >= 2); /* a batch of 4 */
    zhtp_rt_udp_rx_free(rx);
    close(tx);
    close(rxfd);
}

/* A datagram larger than the buffer arrives with MSG_TRUNC: counted, none of it fed; the
 * next one is read normally. */
static void test_truncated_datagram_is_counted_and_dropped(void **state)
{
    (void)state;
    struct sockaddr_storage ta, ra;
    socklen_t sl;
    int tx = bound(AF_INET, &ta, &sl);
    int rxfd = bound(AF_INET, &ra, &sl);
    assert_true(tx >= 0 && rxfd >= 0);
    zhtp_rt_udp_rx *rx = zhtp_rt_udp_rx_new(rxfd, 2, 512, false);
    assert_non_null(rx);
    static uint8_t buf[2000];
    memset(buf, 1, 1000);
    assert_int_equal(send_gso(tx, &ra, sl, buf, 1000, 0), 0);
    memset(buf, 2, 512);
    assert_int_equal(send_gso(tx, &ra, sl, buf, 512, 0), 0);
    seen s = {0};
    for (int tries = 0; tries < 100; tries++) {
        zhtp_rt_udp_rx_stats st;
        zhtp_rt_udp_rx_get_stats(rx, &st);
        if (st.buffers >= 2)
            break;
        if (zhtp_rt_udp_rx_read(rx, on_dgram, on_done, &s) == 0)
            usleep(1000);
    }
    zhtp_rt_udp_rx_stats st;
    zhtp_rt_udp_rx_get_stats(rx, &st);
    assert_int_equal(st.buffers, 2);
    assert_int_equal(st.truncated, 1);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.len[0], 512);
    assert_int_equal(s.first[0], 2);
    assert_int_equal(s.buffers, 1);
    zhtp_rt_udp_rx_free(rx);
    close(tx);
    close(rxfd);
}

static void test_new_refuses_bad_arguments(void **state)
{
    (void)state;
    assert_null(zhtp_rt_udp_rx_new(-1, 0, 0, true));
    assert_null(zhtp_rt_udp_rx_new(0, 100000, 0, true));
    seen s = {0};
    assert_int_equal(zhtp_rt_udp_rx_read(NULL, on_dgram, on_done, &s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_cuts_equal_segments_and_short_last),
        cmocka_unit_test(test_split_without_gro_or_with_large_size_is_one_datagram),
        cmocka_unit_test(test_split_refuses_bad_arguments),
        cmocka_unit_test(test_gro_size_from_control_message),
        cmocka_unit_test(test_gro_size_hostile_values_rejected),
        cmocka_unit_test(test_gso_message_reaches_gro_socket_as_original_frames_ipv4),
        cmocka_unit_test(test_gso_message_reaches_gro_socket_as_original_frames_ipv6),
        cmocka_unit_test(test_without_gro_each_frame_is_its_own_buffer),
        cmocka_unit_test(test_truncated_datagram_is_counted_and_dropped),
        cmocka_unit_test(test_new_refuses_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
