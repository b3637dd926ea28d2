/* zhtpd's receive path (src/runtime/udp_rx.c) on arbitrary bytes: the UDP_GRO control message
 * parser over a control area as recvmmsg could fill it, and the cutting of a buffer into
 * segments. Never read outside the control area or the buffer; a segment size accepted is
 * 1..ZHTP_RT_UDP_RX_MAX_SEG; the cut segments are contiguous, in order, cover the buffer
 * exactly and none is longer than the segment size. Input: 2 bytes of segment size
 * (big-endian), 1 byte of control-area length, that many control bytes, then the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "udp_rx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct cut {
    const uint8_t *next; /* where the next segment must start */
    size_t seg, count;
} cut;

static void on_seg(void *ud, const uint8_t *p, size_t len)
{
    cut *c = ud;
    if (p != c->next || len == 0 || (c->seg != 0 && len > c->seg))
        abort();
    c->next = p + len;
    c->count++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t seg = (size_t)data[0] << 8 | data[1];
    size_t clen = data[2];
    if (size - 3 < clen)
        return 0;
    /* The control area in aligned memory of exactly clen bytes, as the kernel hands it. */
    struct msghdr h;
    memset(&h, 0, sizeof h);
    size_t cap = (clen + sizeof(size_t) - 1) & ~(sizeof(size_t) - 1);
    void *ctl = clen ? aligned_alloc(sizeof(size_t), cap) : NULL;
    if (clen && ctl == NULL)
        return 0;
    if (clen)
        memcpy(ctl, data + 3, clen);
    h.msg_control = ctl;
    h.msg_controllen = clen;
    size_t gro = 99;
    int rc = zhtp_rt_udp_rx_gro_size(&h, &gro);
    if (rc == ZHTP_OK && gro > ZHTP_RT_UDP_RX_MAX_SEG)
        abort();
    if (rc != ZHTP_OK && rc != ZHTP_ERR_INVAL)
        abort();
    free(ctl);

    size_t len = size - 3 - clen;
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 3 + clen, len);
    cut c = {.next = buf, .seg = seg};
    zhtp_ssize n = zhtp_rt_udp_rx_split(buf, len, seg, on_seg, &c);
    if (n < 0) {
        if (seg <= ZHTP_RT_UDP_RX_MAX_SEG || c.count != 0)
            abort();
    } else {
        size_t want = len == 0 ? 0 : seg == 0 || seg >= len ? 1 : (len + seg - 1) / seg;
        if ((size_t)n != c.count || c.count != want || c.next != buf + len)
            abort();
    }
    free(buf);
    return 0;
}
