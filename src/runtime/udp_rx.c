/* Batched UDP receive with UDP GRO (udp_rx.h): recvmmsg into buffers allocated once, each
 * buffer cut back into the datagrams the sender emitted. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/udp.h>

#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#include "udp_rx.h"

/* Room for the UDP_GRO control message (an int on current kernels) and spare for any other
 * the socket may be given; MSG_CTRUNC is harmless: we read only UDP_GRO. */
#define RX_CTL_SPACE 64

struct zhtp_rt_udp_rx {
    int fd;
    unsigned batch;
    size_t buf_size;
    bool gro;
    int gro_errno;
    zhtp_rt_udp_rx_stats st;
    struct mmsghdr *msgs;
    struct iovec *iov;
    struct sockaddr_storage *from;
    union rx_ctl {
        char buf[RX_CTL_SPACE];
        struct cmsghdr align;
    } * ctl;
    uint8_t *bufs;
};

int zhtp_rt_udp_rx_gro_size(const struct msghdr *h, size_t *seg)
{
    if (h == NULL || seg == NULL)
        return ZHTP_ERR_INVAL;
    *seg = 0;
    if (h->msg_control == NULL || h->msg_controllen < sizeof(struct cmsghdr))
        return ZHTP_OK;
    /* CMSG_NXTHDR takes a non-const msghdr but only reads it. */
    struct msghdr *m = (struct msghdr *)h;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO)
            continue;
        /* A length reaching past the control area is a malformed message: its data is not
         * ours to read (CMSG_NXTHDR only checks that a header fits). */
        size_t left = h->msg_controllen - (size_t)((uint8_t *)c - (uint8_t *)h->msg_control);
        if (c->cmsg_len > left)
            return ZHTP_ERR_INVAL;
        /* The kernel writes an int (udp_cmsg_recv); a uint16_t (gso_size's own type) is
         * accepted too. Anything else is not a segment size we can vouch for. */
        unsigned long v;
        if (c->cmsg_len == CMSG_LEN(sizeof(int))) {
            int x;
            memcpy(&x, CMSG_DATA(c), sizeof x);
            if (x <= 0)
                return ZHTP_ERR_INVAL;
            v = (unsigned long)x;
        } else if (c->cmsg_len == CMSG_LEN(sizeof(uint16_t))) {
            uint16_t x;
            memcpy(&x, CMSG_DATA(c), sizeof x);
            v = x;
        } else {
            return ZHTP_ERR_INVAL;
        }
        if (v == 0 || v > ZHTP_RT_UDP_RX_MAX_SEG)
            return ZHTP_ERR_INVAL;
        *seg = (size_t)v;
        return ZHTP_OK;
    }
    return ZHTP_OK;
}

zhtp_ssize zhtp_rt_udp_rx_split(const uint8_t *buf, size_t len, size_t seg,
                                zhtp_rt_udp_rx_seg_fn fn, void *ud)
{
    if (fn == NULL || seg > ZHTP_RT_UDP_RX_MAX_SEG || (buf == NULL && len > 0))
        return ZHTP_ERR_INVAL;
    if (len == 0)
        return 0;
    if (seg == 0 || seg >= len) {
        fn(ud, buf, len);
        return 1;
    }
    zhtp_ssize n = 0;
    for (size_t off = 0; off < len; off += seg) {
        size_t k = len - off < seg ? len - off : seg;
        fn(ud, buf + off, k);
        n++;
    }
    return n;
}

zhtp_rt_udp_rx *zhtp_rt_udp_rx_new(int fd, unsigned batch, size_t buf_size, bool gro)
{
    if (fd < 0)
        return NULL;
    if (batch == 0)
        batch = ZHTP_RT_UDP_RX_BATCH;
    if (buf_size == 0)
        buf_size = ZHTP_RT_UDP_RX_BUF;
    if (batch > 1024 || buf_size > 16 * ZHTP_RT_UDP_RX_BUF)
        return NULL;
    zhtp_rt_udp_rx *rx = calloc(1, sizeof *rx);
    if (rx == NULL)
        return NULL;
    rx->fd = fd;
    rx->batch = batch;
    rx->buf_size = buf_size;
    rx->msgs = calloc(batch, sizeof *rx->msgs);
    rx->iov = calloc(batch, sizeof *rx->iov);
    rx->from = calloc(batch, sizeof *rx->from);
    rx->ctl = calloc(batch, sizeof *rx->ctl);
    /* malloc, not calloc: pages are touched only as far as datagrams fill them, which keeps
     * an idle daemon's resident memory small. */
    rx->bufs = malloc((size_t)batch * buf_size);
    if (rx->msgs == NULL || rx->iov == NULL || rx->from == NULL || rx->ctl == NULL ||
        rx->bufs == NULL) {
        zhtp_rt_udp_rx_free(rx);
        return NULL;
    }
    for (unsigned i = 0; i < batch; i++) {
        rx->iov[i].iov_base = rx->bufs + (size_t)i * buf_size;
        rx->iov[i].iov_len = buf_size;
    }
    if (gro) {
        int one = 1;
        if (setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0)
            rx->gro = true;
        else
            rx->gro_errno = errno;
    }
    return rx;
}

void zhtp_rt_udp_rx_free(zhtp_rt_udp_rx *rx)
{
    if (rx == NULL)
        return;
    free(rx->msgs);
    free(rx->iov);
    free(rx->from);
    free(rx->ctl);
    free(rx->bufs);
    free(rx);
}

bool zhtp_rt_udp_rx_gro_on(const zhtp_rt_udp_rx *rx, int *err)
{
    if (err != NULL)
        *err = rx != NULL ? rx->gro_errno : EINVAL;
    return rx != NULL && rx->gro;
}

/* What split() hands each datagram to: the caller's function with the buffer's sender. */
typedef struct rx_each {
    zhtp_rt_udp_rx *rx;
    zhtp_rt_udp_rx_fn fn;
    void *ud;
    const struct sockaddr *from;
    socklen_t fromlen;
} rx_each;

static void each(void *ud, const uint8_t *seg, size_t len)
{
    rx_each *e = ud;
    e->rx->st.datagrams++;
    e->rx->st.bytes += len;
    e->fn(e->ud, e->from, e->fromlen, seg, len);
}

size_t zhtp_rt_udp_rx_read(zhtp_rt_udp_rx *rx, zhtp_rt_udp_rx_fn fn, zhtp_rt_udp_rx_done_fn done,
                           void *ud)
{
    if (rx == NULL || fn == NULL)
        return 0;
    /* recvmmsg overwrites the lengths: reset every slot before each call. */
    for (unsigned i = 0; i < rx->batch; i++) {
        struct msghdr *h = &rx->msgs[i].msg_hdr;
        h->msg_name = &rx->from[i];
        h->msg_namelen = sizeof rx->from[i];
        h->msg_iov = &rx->iov[i];
        h->msg_iovlen = 1;
        h->msg_control = rx->ctl[i].buf;
        h->msg_controllen = sizeof rx->ctl[i].buf;
        h->msg_flags = 0;
        rx->msgs[i].msg_len = 0;
    }
    int n;
    do {
        rx->st.calls++;
        n = recvmmsg(rx->fd, rx->msgs, rx->batch, MSG_DONTWAIT, NULL);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            rx->st.errors++;
            rx->st.last_errno = errno;
        }
        return 0;
    }
    for (int i = 0; i < n; i++) {
        struct msghdr *h = &rx->msgs[i].msg_hdr;
        size_t len = rx->msgs[i].msg_len;
        rx->st.buffers++;
        if (h->msg_flags & MSG_TRUNC) {
            /* A datagram (or GRO run) larger than the buffer: its tail is gone, and with it
             * where the datagrams end; none of it is handed on. */
            rx->st.truncated++;
            continue;
        }
        size_t seg = 0;
        if (zhtp_rt_udp_rx_gro_size(h, &seg) != ZHTP_OK) {
            rx->st.bad_cmsg++;
            continue;
        }
        if (seg != 0)
            rx->st.gro_buffers++;
        rx_each e = {rx, fn, ud, (const struct sockaddr *)&rx->from[i], h->msg_namelen};
        zhtp_ssize k = zhtp_rt_udp_rx_split(rx->iov[i].iov_base, len, seg, each, &e);
        if (k > 0 && done != NULL)
            done(ud, e.from, e.fromlen, (size_t)k);
    }
    return (size_t)n;
}

void zhtp_rt_udp_rx_get_stats(const zhtp_rt_udp_rx *rx, zhtp_rt_udp_rx_stats *st)
{
    if (rx == NULL) {
        memset(st, 0, sizeof *st);
        return;
    }
    *st = rx->st;
}
