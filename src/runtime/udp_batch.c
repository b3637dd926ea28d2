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
    zhtp_rt_udp_batch_stats st;
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
    return b;
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
    if (b->n == ZHTP_RT_UDP_BATCH_FRAMES || ZHTP_RT_UDP_BATCH_BYTES - b->used < len)
        (void)zhtp_rt_udp_batch_flush(b);
    memcpy(b->arena + b->used, frame, len);
    b->last_off = b->used;
    b->last_len = len;
    b->have_last = true;
    b->used += len;
    queue(b, to, b->last_off, len);
    return ZHTP_OK;
}

int zhtp_rt_udp_batch_add_again(zhtp_rt_udp_batch *b, const struct sockaddr *to, socklen_t tolen)
{
    if (b == NULL || !b->have_last || !addr_ok(to, tolen))
        return ZHTP_ERR_INVAL;
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

size_t zhtp_rt_udp_batch_flush(zhtp_rt_udp_batch *b)
{
    if (b == NULL || b->n == 0)
        return 0;
    b->st.flushes++;
    size_t sent = 0;
    unsigned off = 0;
    while (off < b->n) {
        b->st.calls++;
        int r = b->send(b->ud, b->fd, b->msgs + off, b->n - off);
        if (r > 0) {
            unsigned k = (unsigned)r > b->n - off ? b->n - off : (unsigned)r;
            for (unsigned i = off; i < off + k; i++)
                b->st.bytes += b->iov[i].iov_len;
            b->st.frames += k;
            sent += k;
            off += k;
            continue;
        }
        int e = r < 0 ? errno : EIO; /* 0 frames taken without an error: treat as one */
        if (e == EINTR)
            continue;
        b->st.last_errno = e;
        if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
            /* The socket buffer is full: waiting would stall the loop, and what the node
             * emits next is as good to drop as this. The transport above retransmits. */
            b->st.busy += b->n - off;
            break;
        }
        /* The error is the first unsent frame's (a destination the socket cannot reach,
         * a frame above the path MTU with DF ...): that frame alone is lost. */
        b->st.errors++;
        off++;
    }
    b->n = 0;
    b->used = 0;
    b->have_last = false;
    return sent;
}

size_t zhtp_rt_udp_batch_pending(const zhtp_rt_udp_batch *b)
{
    return b != NULL ? b->n : 0;
}

void zhtp_rt_udp_batch_get_stats(const zhtp_rt_udp_batch *b, zhtp_rt_udp_batch_stats *st)
{
    if (b == NULL) {
        memset(st, 0, sizeof *st);
        return;
    }
    *st = b->st;
}
