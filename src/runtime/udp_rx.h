/* Batched UDP receive for zhtpd's link sockets, with UDP GRO (docs/tun.md "Batched receive").
 *
 * The peers send runs of equal-size link frames as one UDP GSO message (udp_batch.h). With
 * the UDP_GRO socket option (Linux 5.0+) such a run crossing veth or loopback reaches the
 * socket whole: one recvmmsg buffer holding several datagrams back to back, plus a UDP_GRO
 * control message giving their size (the last one may be shorter). This module reads a
 * socket with recvmmsg into buffers allocated once, cuts every buffer back into the
 * datagrams the sender emitted and hands them to the caller in order.
 *
 * What it owns: the receive buffers and control buffers (one allocation at creation), the
 * recvmmsg call, the parsing of the UDP_GRO control message and the counters. What it must
 * never do: block (MSG_DONTWAIT), hand on a truncated buffer (MSG_TRUNC: counted, dropped),
 * or trust a segment size it cannot check (a malformed or zero UDP_GRO value drops the
 * buffer, counted in bad_cmsg).
 *
 * zhtp_rt_udp_rx_gro_size and zhtp_rt_udp_rx_split are pure functions (unit tests).
 *
 * Thread-safety: none; one receiver per socket, used from the runtime's loop. */
#ifndef ZHTP_RUNTIME_UDP_RX_H
#define ZHTP_RUNTIME_UDP_RX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "zhtp/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZHTP_RT_UDP_RX_BUF   65536 /* a GRO buffer holds at most one IP packet's 64 KiB */
#define ZHTP_RT_UDP_RX_BATCH 8     /* messages per recvmmsg: 512 KiB of buffers per socket */
/* The largest segment size a UDP_GRO control message may give: a UDP payload. */
#define ZHTP_RT_UDP_RX_MAX_SEG 65535

/* One datagram cut out of a received buffer. */
typedef void (*zhtp_rt_udp_rx_seg_fn)(void *ud, const uint8_t *seg, size_t len);

/* The segment size a UDP_GRO control message in |h| gives. ZHTP_OK and *seg = 0 when |h| has
 * none (an ordinary datagram); ZHTP_OK and *seg = the size; ZHTP_ERR_INVAL when the message
 * is malformed: a data length other than an int's or a uint16_t's, or a value of 0 or above
 * ZHTP_RT_UDP_RX_MAX_SEG. */
int zhtp_rt_udp_rx_gro_size(const struct msghdr *h, size_t *seg);

/* Cuts |len| bytes at |buf| into datagrams of |seg| bytes (the last may be shorter) and calls
 * |fn| for each, in order; |seg| 0 (no GRO) or >= |len|: one datagram. |len| 0: none. Returns
 * the number of datagrams, or ZHTP_ERR_INVAL (|seg| above ZHTP_RT_UDP_RX_MAX_SEG, NULL |fn|,
 * NULL |buf| with a non-zero |len|) without calling |fn|. */
zhtp_ssize zhtp_rt_udp_rx_split(const uint8_t *buf, size_t len, size_t seg,
                                zhtp_rt_udp_rx_seg_fn fn, void *ud);

typedef struct zhtp_rt_udp_rx_stats {
    uint64_t calls;       /* recvmmsg calls */
    uint64_t buffers;     /* messages (buffers) received */
    uint64_t gro_buffers; /* of those, buffers that carried a UDP_GRO segment size */
    uint64_t datagrams;   /* datagrams handed on (a GRO buffer counts its segments) */
    uint64_t bytes;       /* their bytes */
    uint64_t truncated;   /* buffers dropped: MSG_TRUNC (larger than the buffer) */
    uint64_t bad_cmsg;    /* buffers dropped: malformed UDP_GRO control message */
    uint64_t errors;      /* recvmmsg failures other than EAGAIN/EINTR */
    int last_errno;
} zhtp_rt_udp_rx_stats;

typedef struct zhtp_rt_udp_rx zhtp_rt_udp_rx;

/* A receiver for the non-blocking datagram socket |fd| (not owned) with |batch| buffers of
 * |buf_size| bytes (0: ZHTP_RT_UDP_RX_BATCH and ZHTP_RT_UDP_RX_BUF). |gro|: ask the kernel for
 * UDP_GRO on |fd|; zhtp_rt_udp_rx_gro_on tells whether it agreed. NULL when out of memory or
 * an argument is invalid. */
zhtp_rt_udp_rx *zhtp_rt_udp_rx_new(int fd, unsigned batch, size_t buf_size, bool gro);
void zhtp_rt_udp_rx_free(zhtp_rt_udp_rx *rx);

/* Whether UDP_GRO is on for the socket; when the kernel refused it, |err| (if not NULL) is the
 * errno it gave. */
bool zhtp_rt_udp_rx_gro_on(const zhtp_rt_udp_rx *rx, int *err);

/* Called for every datagram received, in order: |from| is its sender (|fromlen| bytes). */
typedef void (*zhtp_rt_udp_rx_fn)(void *ud, const struct sockaddr *from, socklen_t fromlen,
                                  const uint8_t *dgram, size_t len);
/* Called once after the datagrams of one received buffer (one sender) were handed on;
 * |datagrams| > 0. May be NULL. */
typedef void (*zhtp_rt_udp_rx_done_fn)(void *ud, const struct sockaddr *from, socklen_t fromlen,
                                       size_t datagrams);

/* One recvmmsg of up to |batch| messages; hands every datagram to |fn|. Returns the number of
 * buffers received (0: nothing to read, or an error, counted). Never blocks. */
size_t zhtp_rt_udp_rx_read(zhtp_rt_udp_rx *rx, zhtp_rt_udp_rx_fn fn, zhtp_rt_udp_rx_done_fn done,
                           void *ud);

void zhtp_rt_udp_rx_get_stats(const zhtp_rt_udp_rx *rx, zhtp_rt_udp_rx_stats *st);

#ifdef __cplusplus
}
#endif

#endif
