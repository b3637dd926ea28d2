/* TUN segmentation offload, the pure parts (docs/tun.md "Segmentation offload"). No I/O, no
 * allocation: tun.c calls these on the bytes it reads and writes, the unit tests on made-up ones.
 *
 * With IFF_VNET_HDR and TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO6) every read and write of the TUN
 * is preceded by a 10-byte struct virtio_net_hdr (include/uapi/linux/virtio_net.h; we set the
 * device to little-endian with TUNSETVNETLE, so the 16-bit fields are little-endian here on
 * every host). Reading, the kernel may hand us a TCP "super-packet" of up to ~64 KiB (one IPv6
 * packet whose payload is many MSS-sized segments, gso_type TCPV6) whose TCP checksum is only
 * partial (NEEDS_CSUM: the checksum field holds the pseudo-header sum, the rest is ours to
 * add). Writing, a TCP packet larger than the interface MTU may be handed back the same way and
 * the kernel gives it to the local TCP as one buffer (or segments it, if it forwards it).
 *
 * What it owns: the header's encoding, the checks a header from the kernel must pass against
 * its packet, completing a partial checksum (RFC 1071 sum, 64 bits at a time), and building
 * the header for a packet that came from the mesh: only plain TCP over IPv6 without extension
 * headers is ever described as GSO, with every field derived from the packet and our own MTU,
 * so that nothing another node sends can put a hostile hdr_len or gso_size into the kernel.
 *
 * What it must never do: decide what is sent where; tun.c applies the usual checks (ip6.h). */
#ifndef ZHTP_RUNTIME_TUN_OFFLOAD_H
#define ZHTP_RUNTIME_TUN_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZHTP_VNET_HDR_LEN         10   /* sizeof(struct virtio_net_hdr), the TUN default */
#define ZHTP_VNET_F_NEEDS_CSUM    0x01 /* csum_start/csum_offset describe a partial checksum */
#define ZHTP_VNET_GSO_NONE        0
#define ZHTP_VNET_GSO_TCPV6       4
#define ZHTP_VNET_GSO_ECN         0x80 /* flag bit on gso_type: the TCP header carries CWR */
#define ZHTP_TUN_OFFLOAD_TCP_CSUM 16   /* offsetof(struct tcphdr, check) */
#define ZHTP_TUN_OFFLOAD_UDP_CSUM 6    /* offsetof(struct udphdr, check) */
#define ZHTP_TUN_OFFLOAD_TCP_MIN  20   /* TCP header without options */
#define ZHTP_TUN_OFFLOAD_NH_TCP   6
#define ZHTP_TUN_OFFLOAD_NH_UDP   17

typedef struct zhtp_vnet_hdr {
    uint8_t flags;        /* ZHTP_VNET_F_* */
    uint8_t gso_type;     /* ZHTP_VNET_GSO_*, possibly | ZHTP_VNET_GSO_ECN */
    uint16_t hdr_len;     /* IPv6 + TCP header bytes (a hint only: the kernel's may be larger) */
    uint16_t gso_size;    /* payload bytes per segment */
    uint16_t csum_start;  /* offset of the transport header from the start of the packet */
    uint16_t csum_offset; /* offset of the checksum field from csum_start */
} zhtp_vnet_hdr;

void zhtp_vnet_hdr_decode(const uint8_t in[ZHTP_VNET_HDR_LEN], zhtp_vnet_hdr *h);
void zhtp_vnet_hdr_encode(const zhtp_vnet_hdr *h, uint8_t out[ZHTP_VNET_HDR_LEN]);

/* One's complement sum (RFC 1071) of |len| bytes added to |acc|, which is an opaque
 * accumulator: start at 0, chain calls over pieces that each start at an even offset of the
 * summed data, then fold with zhtp_csum_fold. Reads 8 bytes at a time. */
uint64_t zhtp_csum_add(uint64_t acc, const uint8_t *b, size_t len);
/* The 16-bit one's complement sum of an accumulator, as a number (network byte order value:
 * store it high byte first). Not complemented. */
uint16_t zhtp_csum_fold(uint64_t acc);
/* Accumulator of the IPv6 pseudo-header (RFC 8200 8.1): source and destination of the IPv6
 * header |ip6|, upper-layer length |ulen|, next header |nh|. */
uint64_t zhtp_csum_pseudo6(const uint8_t *ip6, uint32_t ulen, uint8_t nh);

/* A packet read from the TUN with its header |h| (from the kernel, still checked): the header
 * must fit the packet (a GSO type other than TCPV6, an odd or out-of-range csum_start, a
 * checksum field past the end, a GSO packet without NEEDS_CSUM or without a TCP header are
 * ZHTP_ERR_INVAL). With NEEDS_CSUM the checksum is completed in place: for TCP or UDP right
 * after the IPv6 header the field is recomputed from scratch (pseudo-header with the packet's
 * whole upper-layer length); otherwise the kernel's partial sum is finished. |*seg_len| is the
 * size of the largest packet the kernel would have sent without offload: for a GSO packet the
 * headers plus gso_size (at most |len|), otherwise |len|. Returns ZHTP_OK. */
ZHTP_NODISCARD int zhtp_tun_offload_from_host(uint8_t *pkt, size_t len, const zhtp_vnet_hdr *h,
                                              size_t *seg_len);

/* How to write |pkt| (a well-formed IPv6 packet from the mesh, checksums complete) to a TUN of
 * MTU |mtu|. Returns 0: write it with an all-zero header (*h zeroed). Returns 1: write it as a
 * TCP super-packet with header *h (TCPV6, NEEDS_CSUM, csum_start 40, csum_offset 16, hdr_len
 * 40 + TCP header, gso_size = mtu - hdr_len) and the checksum field replaced by |check| (the
 * folded pseudo-header sum, high byte first: the kernel's CHECKSUM_PARTIAL convention). Only a
 * packet larger than |mtu| whose next header is TCP is a super-packet. Returns ZHTP_ERR_INVAL
 * when such a packet's TCP header is malformed (data offset < 5 or past the payload, no
 * payload) or |mtu| leaves no room for a segment: drop it. */
ZHTP_NODISCARD int zhtp_tun_offload_to_host(const uint8_t *pkt, size_t len, uint32_t mtu,
                                            zhtp_vnet_hdr *h, uint8_t check[2]);

#ifdef __cplusplus
}
#endif
#endif
