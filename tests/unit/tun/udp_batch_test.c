/* src/runtime/udp_batch.c: frames queued for one socket leave in few sendmmsg calls, in order,
 * with partial sends retried, EAGAIN/ENOBUFS dropping the rest and other errors one frame;
 * runs of equal frames to one destination share a UDP GSO message when enabled. */
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
#include "udp_batch.h"
#include "zhtp/err.h"

/* A scripted kernel: each call takes at most script[i].take frames (0: fail with .err). */
typedef struct step {
    int take, err;
} step;

typedef struct fake {
    const step *script;
    bool refuse_gso; /* EINVAL for a message with UDP_SEGMENT, as a kernel without offload */
    size_t gso_msgs;
    size_t n_script, calls;
    uint8_t seen[256]; /* first byte of every frame the fake kernel took, in order */
    size_t n_seen;
    unsigned max_n; /* largest vector length offered */
} fake;

static int fake_send(void *ud, int fd, struct mmsghdr *msgs, unsigned n)
{
    (void)fd;
    fake *f = ud;
    if (n > f->max_n)
        f->max_n = n;
    step s = f->calls < f->n_script ? f->script[f->calls] : (step){1000, 0};
    f->calls++;
    if (s.take == 0) {
        errno = s.err;
        return -1;
    }
    unsigned k = (unsigned)s.take < n ? (unsigned)s.take : n;
    for (unsigned i = 0; i < k; i++) {
        struct msghdr *h = &msgs[i].msg_hdr;
        const uint8_t *b = h->msg_iov[0].iov_base;
        size_t len = h->msg_iov[0].iov_len, seg = len;
        struct cmsghdr *c = h->msg_control != NULL ? CMSG_FIRSTHDR(h) : NULL;
        if (c != NULL) {
            assert_int_equal(c->cmsg_level, SOL_UDP);
            assert_int_equal(c->cmsg_type, UDP_SEGMENT);
            if (f->refuse_gso) {
                if (i == 0) {
                    errno = EINVAL;
                    return -1;
                }
                return (int)i;
            }
            uint16_t gs;
            memcpy(&gs, CMSG_DATA(c), sizeof gs);
            seg = gs;
            f->gso_msgs++;
        }
        /* the kernel cuts a GSO message into segments of gso_size, the last may be shorter */
        for (size_t o = 0; o < len; o += seg)
            f->seen[f->n_seen++] = b[o];
    }
    return (int)k;
}

static struct sockaddr_in v4(uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static void add_frames(zhtp_rt_udp_batch *b, unsigned n, size_t len)
{
    static uint8_t frame[65536];
    struct sockaddr_in a = v4(9);
    for (unsigned i = 0; i < n; i++) {
        memset(frame, (int)i, len);
        assert_int_equal(
            zhtp_rt_udp_batch_add(b, (const struct sockaddr *)&a, sizeof a, frame, len), ZHTP_OK);
    }
}

static void test_frames_leave_in_one_call_per_batch_in_order(void **state)
{
    (void)state;
    fake f = {0};
    zhtp_rt_udp_batch *b = zhtp_rt_udp_batch_new(-1, fake_send, &f);
    assert_non_null(b);
    add_frames(b, 40, 1280);
    assert_int_equal(f.calls, 0); /* nothing leaves before the flush */
    assert_int_equal(zhtp_rt_udp_batch_flush(b), 40);
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.n_seen, 40);
    for (unsigned i = 0; i < 40; i++)
        assert_int_equal(f.seen[i], i);
    /* more than one batch's worth of frames: a full batch flushes by itself */
    add_frames(b, ZHTP_RT_UDP_BATCH_FRAMES + 6, 100);
    assert_int_equal(f.calls, 2);
    assert_int_equal(zhtp_rt_udp_batch_pending(b), 6);
    assert_int_equal(zhtp_rt_udp_batch_flush(b), 6);
    assert_int_equal(f.max_n, ZHTP_RT_UDP_BATCH_FRAMES);
    /* byte room: big frames flush before the arena overflows, none is lost or torn */
    f.n_seen = 0;
    add_frames(b, 10, 60000);
    zhtp_rt_udp_batch_flush(b);
    assert_int_equal(f.n_seen, 10);
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(f.seen[i], i);
    zhtp_rt_udp_batch_stats st;
    zhtp_rt_udp_batch_get_stats(b, &st);
    assert_int_equal(st.frames, 40 + ZHTP_RT_UDP_BATCH_FRAMES + 6 + 10);
    assert_int_equal(st.busy + st.errors, 0);
    zhtp_rt_udp_batch_free(b);
}

static void test_partial_send_is_retried_from_first_unsent(void **state)
{
    (void)state;
    const step script[] = {{3, 0}, {0, EINTR}, {5, 0}};
    fake f = {.script = script, .n_script = 3};
    zhtp_rt_udp_batch *b = zhtp_rt_udp_batch_new(-1, fake_send, &f);
    add_frames(b, 12, 64);
    assert_int_equal(zhtp_rt_udp_batch_flush(b), 12);
    assert_int_equal(f.calls, 4); /* 3, EINTR, 5, the remaining 4 */
    for (unsigned i = 0; i < 12; i++)
        assert_int_equal(f.seen[i], i);
    zhtp_rt_udp_batch_stats st;
    zhtp_rt_udp_batch_get_stats(b, &st);
    assert_int_equal(st.frames, 12);
    assert_int_equal(st.bytes, 12 * 64);
    assert_int_equal(st.calls, 4);
    zhtp_rt_udp_batch_free(b);
}

static void test_eagain_drops_rest_without_retrying(void **state)
{
    (void)state;
    const step script[] = {{4, 0}, {0, EAGAIN}};
    fake f = {.script = script, .n_script = 2};
    zhtp_rt_udp_batch *b = zhtp_rt_udp_batch_new(-1, fake_send, &f);
    add_frames(b, 10, 64);
    assert_int_equal(zhtp_rt_udp_batch_flush(b), 4);
    assert_int_equal(f.calls, 2);
    assert_int_equal(zhtp_rt_udp_batch_pending(b), 0);
    zhtp_rt_udp_batch_stats st;
    zhtp_rt_udp_batch_get_stats(b, &st);
    assert_int_equal(st.busy, 6);
    assert_int_equal(st.last_errno, EAGAIN);
    /* ENOBUFS likewise; the next flush starts afresh */
    const step s2[] = {{0, ENOBUFS}};
    f = (fake){.script = s2, .n_script = 1};
    add_frames(b, 3, 64);
    assert_int_equal(zhtp_rt_udp_batch_flush(b), 0);
    zhtp_rt_udp_batch_get_stats(b, &st);
    assert_int_equal(st.busy, 9);
    add_frames(b, 2, 64);
    assert_int_equal(zhtp_rt_udp_batch_flush(b), 2);
    zhtp_rt_udp_batch_free(b);
}

static void test_other_error_skips_only_its_frame(void **state)
{
    (void)state;
    const step script[] = {{2, 0}, {0, EINVAL}, {0, EMSGSIZE}, {100, 0}};
    fake f = {.script = script, .n_script = 4};
    zhtp_rt_udp_batch *b = zhtp_rt_udp_batch_new(-1, fake_send, &f);
    add_frames(b, 8, 64);
    assert_int_equal(zhtp_rt_udp_batch_flush(b), 6);
    const uint8_t want[] = {0, 1, 4, 5, 6, 7}; /* frames 2 and 3 failed */
    assert_int_equal(f.n_seen, 6);
    assert_memory_equal(f.seen, want, 6);
    zhtp_rt_udp_batch_stats st;
    zhtp_rt_udp_batch_get_stats(b, &st);
    assert_int_equal(st.errors, 2);
    assert_int_equal(st.busy, 0);
    zhtp_rt_udp_batch_free(b);
}

static void test_bad_input_is_refused(void **state)
{
    (void)state;
    fake f = {0};
    zhtp_rt_udp_batch *b = zhtp_rt_udp_batch_new(-1, fake_send, &f);
    struct sockaddr_in a = v4(9);
    uint8_t x[4] = {0};
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_int_equal(zhtp_rt_udp_batch_add(b, &un, sizeof un, x, 4), ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_rt_udp_batch_add(b, (struct sockaddr *)&a, 4, x, 4), ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_rt_udp_batch_add(b, (struct sockaddr *)&a, sizeof a, x, 0),
                     ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_rt_udp_batch_add_again(b, (struct sockaddr *)&a, sizeof a),
                     ZHTP_ERR_INVAL); /* nothing to repeat */
    static uint8_t huge[ZHTP_RT_UDP_BATCH_BYTES + 1];
    assert_int_equal(zhtp_rt_udp_batch_add(b, (struct sockaddr *)&a, sizeof a, huge, sizeof huge),
                     ZHTP_ERR_NOBUF);
    assert_int_equal(zhtp_rt_udp_batch_pending(b), 0);
    zhtp_rt_udp_batch_free(b);
}

/* Real sockets on loopback: IPv4 and IPv6, a frame queued for several destinations once. */
static int bound(int family, struct sockaddr_storage *ss, socklen_t *sl)
{
    return zt_udp_loopback(family, 0, ss, sl);
}

static void real_family(int family)
{
    struct sockaddr_storage tx_a, rx_a[3];
    socklen_t sl;
    int tx = bound(family, &tx_a, &sl);
    if (tx < 0) {
        skip(); /* no IPv6 loopback in this environment */
        return;
    }
    int rx[3];
    for (int i = 0; i < 3; i++) {
        rx[i] = bound(family, &rx_a[i], &sl);
        assert_true(rx[i] >= 0);
    }
    zhtp_rt_udp_batch *b = zhtp_rt_udp_batch_new(tx, NULL, NULL);
    uint8_t frame[1280];
    for (int k = 0; k < 20; k++) {
        memset(frame, k, sizeof frame);
        assert_int_equal(
            zhtp_rt_udp_batch_add(b, (struct sockaddr *)&rx_a[0], sl, frame, sizeof frame),
            ZHTP_OK);
    }
    assert_int_equal(zhtp_rt_udp_batch_add(b, (struct sockaddr *)&rx_a[1], sl, frame, 7), ZHTP_OK);
    assert_int_equal(zhtp_rt_udp_batch_add_again(b, (struct sockaddr *)&rx_a[2], sl), ZHTP_OK);
    assert_int_equal(zhtp_rt_udp_batch_flush(b), 22);
    zhtp_rt_udp_batch_stats st;
    zhtp_rt_udp_batch_get_stats(b, &st);
    assert_int_equal(st.calls, 1);
    /* with UDP GSO the 20 equal frames were one message; the receiver still sees 20 */
    print_message("# %s: %" PRIu64 " GSO messages, %" PRIu64 " fallbacks\n",
                  family == AF_INET ? "IPv4" : "IPv6", st.gso_sends, st.gso_fallbacks);
    assert_int_equal(st.gso_fallbacks, 0);
    uint8_t got[2000];
    for (int k = 0; k < 20; k++) {
        ssize_t n = recv(rx[0], got, sizeof got, MSG_DONTWAIT);
        assert_int_equal(n, 1280);
        assert_int_equal(got[0], k);
        assert_int_equal(got[1279], k);
    }
    assert_int_equal(recv(rx[0], got, sizeof got, MSG_DONTWAIT), -1);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(recv(rx[i], got, sizeof got, MSG_DONTWAIT), 7);
        assert_int_equal(got[6], 19);
    }
    zhtp_rt_udp_batch_free(b);
    close(tx);
    for (int i = 0; i < 3; i++)
        close(rx[i]);
}

static void test_real_ipv4_socket_receives_all_in_order(void **state)
{
    (void)state;
    real_family(AF_INET);
}

static void test_real_ipv6_socket_receives_all_in_order(void **state)
{
    (void)state;
    real_family(AF_INET6);
}

/* A repeat across a full batch keeps its bytes (the arena was emptied by the flush). */
static void test_add_again_across_full_batch_keeps_bytes(void **state)
{
    (void)state;
    fake f = {0};
    zhtp_rt_udp_batch *b = zhtp_rt_udp_batch_new(-1, fake_send, &f);
    add_frames(b, ZHTP_RT_UDP_BATCH_FRAMES - 1, 32); /* last one starts with 62 */
    struct sockaddr_in a = v4(10);
    assert_int_equal(zhtp_rt_udp_batch_add_again(b, (struct sockaddr *)&a, sizeof a), ZHTP_OK);
    assert_int_equal(zhtp_rt_udp_batch_add_again(b, (struct sockaddr *)&a, sizeof a), ZHTP_OK);
    assert_int_equal(f.calls, 1);
    assert_int_equal(zhtp_rt_udp_batch_flush(b), 1);
    assert_int_equal(f.n_seen, ZHTP_RT_UDP_BATCH_FRAMES + 1);
    assert_int_equal(f.seen[ZHTP_RT_UDP_BATCH_FRAMES - 1], ZHTP_RT_UDP_BATCH_FRAMES - 2);
    assert_int_equal(f.seen[ZHTP_RT_UDP_BATCH_FRAMES], ZHTP_RT_UDP_BATCH_FRAMES - 2);
    zhtp_rt_udp_batch_free(b);
}

static void add_one(zhtp_rt_udp_batch *b, uint16_t port, uint8_t first, size_t len)
{
    static uint8_t frame[2000];
    struct sockaddr_in a = v4(port);
    memset(frame, first, len);
    assert_int_equal(zhtp_rt_udp_batch_add(b, (struct sockaddr *)&a, sizeof a, frame, len),
                     ZHTP_OK);
}

static void test_gso_joins_equal_frames_to_one_destination(void **state)
{
    (void)state;
    fake f = {0};
    zhtp_rt_udp_batch *b = zhtp_rt_udp_batch_new(-1, fake_send, &f);
    zhtp_rt_udp_batch_set_gso(b, true);
    /* a 16 KiB packet's fragments: 12 full frames and a short one, one message */
    for (uint8_t k = 0; k < 12; k++)
        add_one(b, 9, k, 1280);
    add_one(b, 9, 12, 600);
    /* after a short frame a new run starts; another destination too; a larger frame too */
    add_one(b, 9, 13, 1280);
    add_one(b, 10, 14, 1280);
    add_one(b, 10, 15, 1280);
    add_one(b, 10, 16, 1300);
    assert_int_equal(zhtp_rt_udp_batch_pending(b), 17);
    assert_int_equal(zhtp_rt_udp_batch_flush(b), 17);
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.gso_msgs, 2); /* frames 0-12 and 14-15; 13 and 16 alone */
    assert_int_equal(f.n_seen, 17);
    for (unsigned i = 0; i < 17; i++)
        assert_int_equal(f.seen[i], i);
    zhtp_rt_udp_batch_stats st;
    zhtp_rt_udp_batch_get_stats(b, &st);
    assert_int_equal(st.frames, 17);
    assert_int_equal(st.bytes, 14 * 1280 + 600 + 1280 + 1300);
    assert_int_equal(st.gso_sends, 2);
    /* a run is capped at ZHTP_RT_UDP_GSO_SEGS frames */
    f.n_seen = 0;
    f.gso_msgs = 0;
    for (unsigned k = 0; k < ZHTP_RT_UDP_GSO_SEGS + 3; k++)
        add_one(b, 9, (uint8_t)k, 100);
    assert_int_equal(zhtp_rt_udp_batch_flush(b), ZHTP_RT_UDP_GSO_SEGS + 3);
    assert_int_equal(f.gso_msgs, 2);
    assert_int_equal(f.seen[ZHTP_RT_UDP_GSO_SEGS + 2], ZHTP_RT_UDP_GSO_SEGS + 2);
    zhtp_rt_udp_batch_free(b);
}

static void test_gso_refused_resends_frames_and_turns_off(void **state)
{
    (void)state;
    fake f = {0};
    f.refuse_gso = true;
    zhtp_rt_udp_batch *b = zhtp_rt_udp_batch_new(-1, fake_send, &f);
    zhtp_rt_udp_batch_set_gso(b, true);
    add_one(b, 11, 0, 500); /* alone: another destination follows */
    for (uint8_t k = 1; k < 6; k++)
        add_one(b, 9, k, 1280);
    add_one(b, 11, 6, 500);
    assert_int_equal(zhtp_rt_udp_batch_flush(b), 7);
    assert_int_equal(f.n_seen, 7);
    for (unsigned i = 0; i < 7; i++)
        assert_int_equal(f.seen[i], i);
    zhtp_rt_udp_batch_stats st;
    zhtp_rt_udp_batch_get_stats(b, &st);
    assert_int_equal(st.gso_fallbacks, 1);
    assert_int_equal(st.errors, 0);
    /* GSO stays off: the next run leaves as single datagrams */
    for (uint8_t k = 0; k < 4; k++)
        add_one(b, 9, k, 1280);
    assert_int_equal(zhtp_rt_udp_batch_flush(b), 4);
    zhtp_rt_udp_batch_get_stats(b, &st);
    assert_int_equal(st.gso_fallbacks, 1);
    assert_int_equal(st.gso_sends, 0);
    zhtp_rt_udp_batch_free(b);
}

/* Frames written in place (reserve/commit) leave like added ones: GSO runs, order, bytes. */
static void test_reserve_commit_writes_in_place_and_joins_gso_runs(void **state)
{
    (void)state;
    fake f = {0};
    zhtp_rt_udp_batch *b = zhtp_rt_udp_batch_new(-1, fake_send, &f);
    zhtp_rt_udp_batch_set_gso(b, true);
    struct sockaddr_in a = v4(9), c = v4(12);
    size_t cap = 0;
    for (uint8_t k = 0; k < 13; k++) {
        uint8_t *p = zhtp_rt_udp_batch_reserve(b, 1280, &cap);
        assert_non_null(p);
        assert_true(cap >= 1280);
        size_t len = k == 12 ? 600 : 1280;
        memset(p, k, len);
        assert_int_equal(zhtp_rt_udp_batch_commit(b, (struct sockaddr *)&a, sizeof a, len),
                         ZHTP_OK);
    }
    /* a reservation abandoned (the node had nothing) leaves no frame */
    assert_non_null(zhtp_rt_udp_batch_reserve(b, 1280, &cap));
    /* a committed frame can be repeated to another destination */
    uint8_t *p = zhtp_rt_udp_batch_reserve(b, 1280, &cap);
    memset(p, 13, 40);
    assert_int_equal(zhtp_rt_udp_batch_commit(b, (struct sockaddr *)&c, sizeof c, 40), ZHTP_OK);
    assert_int_equal(zhtp_rt_udp_batch_add_again(b, (struct sockaddr *)&a, sizeof a), ZHTP_OK);
    /* mixed with add: a copy follows the in-place frames */
    add_one(b, 9, 15, 1280);
    assert_int_equal(zhtp_rt_udp_batch_pending(b), 16);
    assert_int_equal(zhtp_rt_udp_batch_flush(b), 16);
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.gso_msgs, 1); /* frames 0-12 */
    assert_int_equal(f.n_seen, 16);
    static const uint8_t want[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 13, 15};
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(f.seen[i], want[i]);
    zhtp_rt_udp_batch_stats st;
    zhtp_rt_udp_batch_get_stats(b, &st);
    assert_int_equal(st.bytes, 12 * 1280 + 600 + 40 + 40 + 1280);
    zhtp_rt_udp_batch_free(b);
}

/* Reserve flushes a batch that cannot take |min| more bytes or has no message slot left;
 * commit refuses what was not reserved or does not fit the room. */
static void test_reserve_flushes_full_batch_and_commit_checks_room(void **state)
{
    (void)state;
    fake f = {0};
    zhtp_rt_udp_batch *b = zhtp_rt_udp_batch_new(-1, fake_send, &f);
    struct sockaddr_in a = v4(9);
    size_t cap = 0;
    assert_int_equal(zhtp_rt_udp_batch_commit(b, (struct sockaddr *)&a, sizeof a, 10),
                     ZHTP_ERR_INVAL); /* nothing reserved */
    assert_null(zhtp_rt_udp_batch_reserve(b, 0, &cap));
    assert_null(zhtp_rt_udp_batch_reserve(b, ZHTP_RT_UDP_BATCH_BYTES + 1, &cap));
    assert_null(zhtp_rt_udp_batch_reserve(NULL, 10, &cap));
    uint8_t *p0 = zhtp_rt_udp_batch_reserve(b, 10, &cap);
    assert_int_equal(cap, ZHTP_RT_UDP_BATCH_BYTES);
    assert_int_equal(zhtp_rt_udp_batch_commit(b, (struct sockaddr *)&a, sizeof a, cap + 1),
                     ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_rt_udp_batch_commit(b, (struct sockaddr *)&a, sizeof a, 0),
                     ZHTP_ERR_INVAL);
    memset(p0, 1, 200 * 1024);
    assert_int_equal(zhtp_rt_udp_batch_commit(b, (struct sockaddr *)&a, sizeof a, 200 * 1024),
                     ZHTP_OK);
    /* committed once: a second commit has no reservation */
    assert_int_equal(zhtp_rt_udp_batch_commit(b, (struct sockaddr *)&a, sizeof a, 10),
                     ZHTP_ERR_INVAL);
    /* 56 KiB left: a 60 KiB minimum flushes first and gets the whole arena */
    uint8_t *p1 = zhtp_rt_udp_batch_reserve(b, 60 * 1024, &cap);
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.n_seen, 1);
    assert_ptr_equal(p1, p0);
    assert_int_equal(cap, ZHTP_RT_UDP_BATCH_BYTES);
    /* a reservation is abandoned by any other call */
    assert_int_equal(zhtp_rt_udp_batch_flush(b), 0);
    assert_int_equal(zhtp_rt_udp_batch_commit(b, (struct sockaddr *)&a, sizeof a, 10),
                     ZHTP_ERR_INVAL);
    /* with every message slot used, reserve flushes too */
    add_frames(b, ZHTP_RT_UDP_BATCH_FRAMES, 8);
    assert_int_equal(f.calls, 1);
    assert_non_null(zhtp_rt_udp_batch_reserve(b, 8, &cap));
    assert_int_equal(f.calls, 2);
    assert_int_equal(f.n_seen, 1 + ZHTP_RT_UDP_BATCH_FRAMES);
    zhtp_rt_udp_batch_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_leave_in_one_call_per_batch_in_order),
        cmocka_unit_test(test_partial_send_is_retried_from_first_unsent),
        cmocka_unit_test(test_eagain_drops_rest_without_retrying),
        cmocka_unit_test(test_other_error_skips_only_its_frame),
        cmocka_unit_test(test_bad_input_is_refused),
        cmocka_unit_test(test_add_again_across_full_batch_keeps_bytes),
        cmocka_unit_test(test_reserve_commit_writes_in_place_and_joins_gso_runs),
        cmocka_unit_test(test_reserve_flushes_full_batch_and_commit_checks_room),
        cmocka_unit_test(test_gso_joins_equal_frames_to_one_destination),
        cmocka_unit_test(test_gso_refused_resends_frames_and_turns_off),
        cmocka_unit_test(test_real_ipv4_socket_receives_all_in_order),
        cmocka_unit_test(test_real_ipv6_socket_receives_all_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
