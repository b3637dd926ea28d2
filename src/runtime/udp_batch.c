/* Batched UDP sends (udp_batch.h): frames packed into one arena, one mmsghdr per frame. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/udp.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#include "udp_batch.h"
#include "zhtp/err.h"

struct zhtp_rt_udp_batch {
    int fd;
    zhtp_rt_udp_send_fn send;
    void *ud;
    unsigned n;  /* frames queued */
    size_t used; /* arena bytes used */
    /* The latest frame copied in (for add_again): its place in the arena. */
    size_t last_off, last_len;
    bool have_last;
    /* A reserve not yet committed: the room at arena[used..used+reserved_cap). */
    bool reserved;
    size_t reserved_cap;
    bool gso; /* runs of equal frames to one destination go out as one UDP_SEGMENT message */
    zhtp_rt_udp_batch_stats st;
    /* Per message: its segment size (its first frame's length) and segment count. */
    uint16_t seg_size[ZHTP_RT_UDP_BATCH_FRAMES];
    uint16_t segs[ZHTP_RT_UDP_BATCH_FRAMES];
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } ctl[ZHTP_RT_UDP_BATCH_FRAMES];
    struct mmsghdr msgs[ZHTP_RT_UDP_BATCH_FRAMES];
    struct iovec iov[ZHTP_RT_UDP_BATCH_FRAMES];
    struct sockaddr_storage to[ZHTP_RT_UDP_BATCH_FRAMES];
    uint8_t arena[ZHTP_RT_UDP_BATCH_BYTES];
};

static int default_send(void *ud, int fd, struct mmsghdr *msgs, unsigned n)
{
    (void)ud;
    return sendmmsg(fd, msgs, n, MSG_DONTWAIT);
}

zhtp_rt_udp_batch *zhtp_rt_udp_batch_new(int fd, zhtp_rt_udp_send_fn send, void *ud)
{
    /* calloc: the arena's pages are only touched as far as frames fill it. */
    zhtp_rt_udp_batch *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->fd = fd;
    b->send = send != NULL ? send : default_send;
    b->ud = ud;
    /* The kernel knows UDP_SEGMENT (Linux 4.18) when it can report the option's value. */
    int v = 0;
    socklen_t vl = sizeof v;
    b->gso = fd >= 0 && getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &vl) == 0;
    return b;
}

void zhtp_rt_udp_batch_set_gso(zhtp_rt_udp_batch *b, bool on)
{
    if (b != NULL)
        b->gso = on;
}

void zhtp_rt_udp_batch_free(zhtp_rt_udp_batch *b)
{
    free(b);
}

static bool addr_ok(const struct sockaddr *to, socklen_t tolen)
{
    if (to == NULL)
        return false;
    if (to->sa_family == AF_INET)
        return tolen >= (socklen_t)sizeof(struct sockaddr_in);
    if (to->sa_family == AF_INET6)
        return tolen >= (socklen_t)sizeof(struct sockaddr_in6);
    return false;
}

static socklen_t addr_len(const struct sockaddr *to)
{
    return to->sa_family == AF_INET ? (socklen_t)sizeof(struct sockaddr_in)
                                    : (socklen_t)sizeof(struct sockaddr_in6);
}

/* Fills slot n with |to| and the bytes at arena[off..off+len). */
static void queue(zhtp_rt_udp_batch *b, const struct sockaddr *to, size_t off, size_t len)
{
    unsigned i = b->n++;
    socklen_t sl = addr_len(to);
    memcpy(&b->to[i], to, (size_t)sl);
    b->iov[i].iov_base = b->arena + off;
    b->iov[i].iov_len = len;
    memset(&b->msgs[i], 0, sizeof b->msgs[i]);
    b->msgs[i].msg_hdr.msg_name = &b->to[i];
    b->msgs[i].msg_hdr.msg_namelen = sl;
    b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
    b->msgs[i].msg_hdr.msg_iovlen = 1;
    b->seg_size[i] = (uint16_t)(len > UINT16_MAX ? UINT16_MAX : len);
    b->segs[i] = 1;
}

/* GSO: the frame just copied to arena[off..off+len) joins the previous message when it goes
 * to the same place, follows it in the arena, the previous segments are all full-size and it
 * is not larger (a shorter one ends the run), and the result stays a valid GSO send. */
static bool join_previous(zhtp_rt_udp_batch *b, const struct sockaddr *to, size_t off, size_t len)
{
    if (!b->gso || b->n == 0)
        return false;
    unsigned i = b->n - 1;
    struct iovec *v = &b->iov[i];
    size_t seg = b->seg_size[i];
    if ((uint8_t *)v->iov_base + v->iov_len != b->arena + off || len > seg ||
        v->iov_len % seg != 0 || v->iov_len / seg != b->segs[i] ||
        b->segs[i] >= ZHTP_RT_UDP_GSO_SEGS || v->iov_len + len > ZHTP_RT_UDP_GSO_BYTES)
        return false;
    socklen_t sl = addr_len(to);
    if (b->msgs[i].msg_hdr.msg_namelen != sl || memcmp(&b->to[i], to, (size_t)sl) != 0)
        return false;
    v->iov_len += len;
    b->segs[i]++;
    struct msghdr *h = &b->msgs[i].msg_hdr;
    if (h->msg_control == NULL) {
        memset(&b->ctl[i], 0, sizeof b->ctl[i]);
        h->msg_control = b->ctl[i].buf;
        h->msg_controllen = sizeof b->ctl[i].buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t gs = (uint16_t)seg;
        memcpy(CMSG_DATA(c), &gs, sizeof gs);
    }
    return true;
}

uint8_t *zhtp_rt_udp_batch_reserve(zhtp_rt_udp_batch *b, size_t min, size_t *cap)
{
    if (b == NULL || cap == NULL || min == 0 || min > ZHTP_RT_UDP_BATCH_BYTES)
        return NULL;
    b->reserved = false;
    if (b->n == ZHTP_RT_UDP_BATCH_FRAMES || ZHTP_RT_UDP_BATCH_BYTES - b->used < min)
        (void)zhtp_rt_udp_batch_flush(b);
    b->reserved = true;
    b->reserved_cap = ZHTP_RT_UDP_BATCH_BYTES - b->used;
    *cap = b->reserved_cap;
    return b->arena + b->used;
}

int zhtp_rt_udp_batch_commit(zhtp_rt_udp_batch *b, const struct sockaddr *to, socklen_t tolen,
                             size_t len)
{
    if (b == NULL || !b->reserved || len == 0 || len > b->reserved_cap || !addr_ok(to, tolen))
        return ZHTP_ERR_INVAL;
    b->reserved = false;
    b->last_off = b->used;
    b->last_len = len;
    b->have_last = true;
    b->used += len;
    if (!join_previous(b, to, b->last_off, len))
        queue(b, to, b->last_off, len);
    return ZHTP_OK;
}

int zhtp_rt_udp_batch_add(zhtp_rt_udp_batch *b, const struct sockaddr *to, socklen_t tolen,
                          const uint8_t *frame, size_t len)
{
    if (b == NULL || frame == NULL || len == 0 || !addr_ok(to, tolen))
        return ZHTP_ERR_INVAL;
    if (len > ZHTP_RT_UDP_BATCH_BYTES) {
        b->st.too_big++;
        return ZHTP_ERR_NOBUF;
    }
    size_t cap;
    uint8_t *p = zhtp_rt_udp_batch_reserve(b, len, &cap);
    memcpy(p, frame, len);
    return zhtp_rt_udp_batch_commit(b, to, tolen, len);
}

int zhtp_rt_udp_batch_add_again(zhtp_rt_udp_batch *b, const struct sockaddr *to, socklen_t tolen)
{
    if (b == NULL || !b->have_last || !addr_ok(to, tolen))
        return ZHTP_ERR_INVAL;
    b->reserved = false;
    if (b->n == ZHTP_RT_UDP_BATCH_FRAMES) {
        (void)zhtp_rt_udp_batch_flush(b);
        /* The flush emptied the arena; the frame moves to its start for the next sends. */
        memmove(b->arena, b->arena + b->last_off, b->last_len);
        b->last_off = 0;
        b->used = b->last_len;
        b->have_last = true;
    }
    queue(b, to, b->last_off, b->last_len);
    return ZHTP_OK;
}

static bool is_busy(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS;
}

static size_t send_vec(zhtp_rt_udp_batch *b, struct mmsghdr *msgs, const uint16_t *segs,
                       unsigned n);

/* A GSO message the kernel refused (the route's MTU is below a segment, no checksum offload
 * on the device ...): its frames go again one datagram each, and GSO stays off on this
 * socket. Returns the frames sent. */
static size_t send_split(zhtp_rt_udp_batch *b, const struct mmsghdr *m, unsigned seg_size,
                         unsigned segs)
{
    struct mmsghdr one[ZHTP_RT_UDP_GSO_SEGS];
    struct iovec iov[ZHTP_RT_UDP_GSO_SEGS];
    uint16_t ones[ZHTP_RT_UDP_GSO_SEGS];
    const struct iovec *v = m->msg_hdr.msg_iov;
    size_t left = v->iov_len;
    uint8_t *p = v->iov_base;
    for (unsigned k = 0; k < segs; k++) {
        size_t len = left < seg_size ? left : seg_size;
        iov[k].iov_base = p;
        iov[k].iov_len = len;
        p += len;
        left -= len;
        memset(&one[k], 0, sizeof one[k]);
        one[k].msg_hdr.msg_name = m->msg_hdr.msg_name;
        one[k].msg_hdr.msg_namelen = m->msg_hdr.msg_namelen;
        one[k].msg_hdr.msg_iov = &iov[k];
        one[k].msg_hdr.msg_iovlen = 1;
        ones[k] = 1;
    }
    return send_vec(b, one, ones, segs);
}

/* The sendmmsg loop over |n| messages carrying segs[i] frames each. */
static size_t send_vec(zhtp_rt_udp_batch *b, struct mmsghdr *msgs, const uint16_t *segs, unsigned n)
{
    size_t sent = 0;
    unsigned off = 0;
    while (off < n) {
        b->st.calls++;
        int r = b->send(b->ud, b->fd, msgs + off, n - off);
        if (r > 0) {
            unsigned k = (unsigned)r > n - off ? n - off : (unsigned)r;
            for (unsigned i = off; i < off + k; i++) {
                b->st.bytes += msgs[i].msg_hdr.msg_iov[0].iov_len;
                b->st.frames += segs[i];
                sent += segs[i];
                if (segs[i] > 1)
                    b->st.gso_sends++;
            }
            off += k;
            continue;
        }
        int e = r < 0 ? errno : EIO; /* 0 frames taken without an error: treat as one */
        if (e == EINTR)
            continue;
        b->st.last_errno = e;
        if (is_busy(e)) {
            /* The socket buffer is full: waiting would stall the loop, and what the node
             * emits next is as good to drop as this. The transport above retransmits. */
            for (unsigned i = off; i < n; i++)
                b->st.busy += segs[i];
            break;
        }
        if (segs[off] > 1) {
            b->gso = false;
            b->st.gso_fallbacks++;
            const struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[off].msg_hdr);
            uint16_t gs;
            memcpy(&gs, CMSG_DATA(c), sizeof gs);
            sent += send_split(b, &msgs[off], gs, segs[off]);
            off++;
            continue;
        }
        /* The error is the first unsent frame's (a destination the socket cannot reach,
         * a frame above the path MTU with DF ...): that frame alone is lost. */
        b->st.errors++;
        off++;
    }
    return sent;
}

size_t zhtp_rt_udp_batch_flush(zhtp_rt_udp_batch *b)
{
    if (b == NULL)
        return 0;
    b->reserved = false;
    if (b->n == 0)
        return 0;
    b->st.flushes++;
    size_t sent = send_vec(b, b->msgs, b->segs, b->n);
    b->n = 0;
    b->used = 0;
    b->have_last = false;
    return sent;
}

size_t zhtp_rt_udp_batch_pending(const zhtp_rt_udp_batch *b)
{
    size_t f = 0;
    if (b != NULL)
        for (unsigned i = 0; i < b->n; i++)
            f += b->segs[i];
    return f;
}

void zhtp_rt_udp_batch_get_stats(const zhtp_rt_udp_batch *b, zhtp_rt_udp_batch_stats *st)
{
    if (b == NULL) {
        memset(st, 0, sizeof *st);
        return;
    }
    *st = b->st;
}
