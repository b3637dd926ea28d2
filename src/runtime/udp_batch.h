/* Batched UDP sends for zhtpd's link sockets: the frames one drive of the node emits for a
 * socket are copied into a preallocated batch and leave in as few sendmmsg(2) calls as the
 * kernel allows (docs/tun.md "Throughput").
 *
 * What it owns: the batch's memory (one allocation at creation, none per frame), the
 * sendmmsg loop with its partial sends and errors, its counters. What it must never do: block
 * (every call is MSG_DONTWAIT; a full socket buffer drops the rest of the batch and counts
 * it), reorder frames, or decide where a frame goes (the caller gives each destination).
 *
 * The send function is injectable so that tests can play the kernel's partial sends and
 * errors; the runtime uses sendmmsg on the socket's descriptor.
 *
 * Thread-safety: none; one batch per socket, used from the runtime's loop. */
#ifndef ZHTP_RUNTIME_UDP_BATCH_H
#define ZHTP_RUNTIME_UDP_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZHTP_RT_UDP_BATCH_FRAMES 64           /* frames per sendmmsg (UIO_MAXIOV is 1024) */
#define ZHTP_RT_UDP_BATCH_BYTES  (256 * 1024) /* frame bytes held; a full batch flushes first */
/* UDP GSO (UDP_SEGMENT): at most this many frames, and bytes, in one message (the kernel's
 * UDP_MAX_SEGMENTS was 64 before Linux 5.x raised it; a UDP datagram's payload limit). */
#define ZHTP_RT_UDP_GSO_SEGS  64
#define ZHTP_RT_UDP_GSO_BYTES 65000

/* sendmmsg(2)'s contract: returns how many of the first |n| messages were sent (>= 1), or -1
 * with errno set for the first one. */
typedef int (*zhtp_rt_udp_send_fn)(void *ud, int fd, struct mmsghdr *msgs, unsigned n);

typedef struct zhtp_rt_udp_batch_stats {
    uint64_t frames;        /* frames the kernel took */
    uint64_t bytes;         /* their bytes */
    uint64_t calls;         /* send function calls (syscalls with the default) */
    uint64_t flushes;       /* non-empty flushes */
    uint64_t busy;          /* frames dropped: EAGAIN / ENOBUFS (socket buffer full) */
    uint64_t errors;        /* frames dropped: any other error (bad destination, ...) */
    uint64_t too_big;       /* frames refused by add: larger than the batch's byte room */
    uint64_t gso_sends;     /* messages that carried more than one frame (UDP_SEGMENT) */
    uint64_t gso_fallbacks; /* GSO messages the kernel refused, resent frame by frame */
    int last_errno;         /* errno of the latest error or busy drop, 0 if none yet */
} zhtp_rt_udp_batch_stats;

typedef struct zhtp_rt_udp_batch zhtp_rt_udp_batch;

/* A batch for the socket |fd|. |send| NULL: sendmmsg(fd, ..., MSG_DONTWAIT). NULL when out of
 * memory. */
zhtp_rt_udp_batch *zhtp_rt_udp_batch_new(int fd, zhtp_rt_udp_send_fn send, void *ud);
void zhtp_rt_udp_batch_free(zhtp_rt_udp_batch *b);

/* GSO on or off (it starts on when the kernel knows UDP_SEGMENT, which new() asks on |fd|).
 * With it, consecutive frames to one destination whose sizes are equal (the last of a run may
 * be shorter) share one message and the kernel cuts them apart; the receiver sees the same
 * datagrams. A GSO message the kernel refuses is resent as single datagrams and turns GSO off
 * for this batch. */
void zhtp_rt_udp_batch_set_gso(zhtp_rt_udp_batch *b, bool on);

/* Queues a copy of |frame| for |to| (IPv4 or IPv6, |tolen| bytes). A full batch is flushed
 * first. ZHTP_OK; ZHTP_ERR_INVAL for a bad address or an empty frame; ZHTP_ERR_NOBUF for a
 * frame larger than ZHTP_RT_UDP_BATCH_BYTES (counted in too_big). */
int zhtp_rt_udp_batch_add(zhtp_rt_udp_batch *b, const struct sockaddr *to, socklen_t tolen,
                          const uint8_t *frame, size_t len);

/* Room for the next frame, to be written in place (no copy): returns where to write it and
 * sets *cap to the bytes of room there (>= |min|). A batch without a free message slot or
 * with less than |min| bytes of room is flushed first. NULL for a NULL batch, |min| 0 or
 * above ZHTP_RT_UDP_BATCH_BYTES. The room is held until the next call on the batch:
 * zhtp_rt_udp_batch_commit queues what was written there, any other call abandons it. */
uint8_t *zhtp_rt_udp_batch_reserve(zhtp_rt_udp_batch *b, size_t min, size_t *cap);

/* Queues the first |len| bytes written at the latest reserve for |to|, as add would have
 * (GSO runs included). ZHTP_OK; ZHTP_ERR_INVAL without a reservation, for |len| 0 or above the
 * reserved room, or a bad address (the reservation stays). */
int zhtp_rt_udp_batch_commit(zhtp_rt_udp_batch *b, const struct sockaddr *to, socklen_t tolen,
                             size_t len);

/* Queues the frame of the latest successful add (or commit) again, for another destination,
 * without copying it (a broadcast to every peer of a link). ZHTP_ERR_INVAL if the batch is empty or
 * the address bad; a full batch is flushed first (the frame's bytes are kept for the next). */
int zhtp_rt_udp_batch_add_again(zhtp_rt_udp_batch *b, const struct sockaddr *to, socklen_t tolen);

/* Sends everything queued, in order, and empties the batch. Never blocks: a partial send is
 * retried from the first unsent frame; EINTR is retried; EAGAIN/ENOBUFS drop the rest
 * (counted in busy); any other error drops the one frame it belongs to (errors) and goes on.
 * Returns the number of frames the kernel took. Counters count frames, not messages. */
size_t zhtp_rt_udp_batch_flush(zhtp_rt_udp_batch *b);

/* Frames queued and not yet flushed (GSO messages count their frames). */
size_t zhtp_rt_udp_batch_pending(const zhtp_rt_udp_batch *b);

void zhtp_rt_udp_batch_get_stats(const zhtp_rt_udp_batch *b, zhtp_rt_udp_batch_stats *st);

#ifdef __cplusplus
}
#endif

#endif
