/* TUN segmentation offload, pure parts: virtio_net_hdr, checksum completion, GSO writes. See
 * tun_offload.h for the contract and docs/tun.md "Segmentation offload" for the design. */
#include <string.h>

#include "ip6.h"
#include "tun_offload.h"

static uint16_t get_le16(const uint8_t *b)
{
    return (uint16_t)(b[0] | b[1] << 8);
}

static void put_le16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}

void zhtp_vnet_hdr_decode(const uint8_t in[ZHTP_VNET_HDR_LEN], zhtp_vnet_hdr *h)
{
    h->flags = in[0];
    h->gso_type = in[1];
    h->hdr_len = get_le16(in + 2);
    h->gso_size = get_le16(in + 4);
    h->csum_start = get_le16(in + 6);
    h->csum_offset = get_le16(in + 8);
}

void zhtp_vnet_hdr_encode(const zhtp_vnet_hdr *h, uint8_t out[ZHTP_VNET_HDR_LEN])
{
    out[0] = h->flags;
    out[1] = h->gso_type;
    put_le16(out + 2, h->hdr_len);
    put_le16(out + 4, h->gso_size);
    put_le16(out + 6, h->csum_start);
    put_le16(out + 8, h->csum_offset);
}

/* The sum is taken over native-order words: one's complement addition commutes with byte
 * swapping (RFC 1071 2(B)), so only the folded result is turned into network order. Each
 * 64-bit word is added as two 32-bit halves to a 64-bit accumulator, which cannot overflow for
 * anything shorter than 2^31 bytes: no carry handling in the loop. */
static inline uint64_t add_word(uint64_t acc, uint64_t w)
{
    return acc + (w & 0xffffffffu) + (w >> 32);
}

uint64_t zhtp_csum_add(uint64_t acc, const uint8_t *b, size_t len)
{
    while (len >= 32) {
        uint64_t w[4];
        memcpy(w, b, sizeof w);
        acc = add_word(acc, w[0]);
        acc = add_word(acc, w[1]);
        acc = add_word(acc, w[2]);
        acc = add_word(acc, w[3]);
        b += 32;
        len -= 32;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, b, sizeof w);
        acc = add_word(acc, w);
        b += 8;
        len -= 8;
    }
    if (len > 0) { /* the tail padded with zeros, as RFC 1071 pads an odd byte */
        uint64_t w = 0;
        memcpy(&w, b, len);
        acc = add_word(acc, w);
    }
    return acc;
}

uint16_t zhtp_csum_fold(uint64_t acc)
{
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffu) + (acc >> 16);
    acc = (acc & 0xffffu) + (acc >> 16);
    acc = (acc & 0xffffu) + (acc >> 16);
    uint16_t native = (uint16_t)acc;
    uint8_t b[2];
    memcpy(b, &native, sizeof b); /* the bytes as they would lie in the packet */
    return (uint16_t)(b[0] << 8 | b[1]);
}

uint64_t zhtp_csum_pseudo6(const uint8_t *ip6, uint32_t ulen, uint8_t nh)
{
    const uint8_t tail[8] = {(uint8_t)(ulen >> 24),
                             (uint8_t)(ulen >> 16),
                             (uint8_t)(ulen >> 8),
                             (uint8_t)ulen,
                             0,
                             0,
                             0,
                             nh};
    uint64_t acc = zhtp_csum_add(0, ip6 + 8, 2 * ZHTP_IP6_ADDR_LEN); /* source, destination */
    return zhtp_csum_add(acc, tail, sizeof tail);
}

static size_t tcp_hdr_len(const uint8_t *tcp)
{
    return (size_t)(tcp[12] >> 4) * 4;
}

int zhtp_tun_offload_from_host(uint8_t *pkt, size_t len, const zhtp_vnet_hdr *h, size_t *seg_len)
{
    *seg_len = len;
    uint8_t gso = h->gso_type & (uint8_t)~ZHTP_VNET_GSO_ECN;
    if (gso != ZHTP_VNET_GSO_NONE && gso != ZHTP_VNET_GSO_TCPV6)
        return ZHTP_ERR_INVAL; /* we offered TSO6 only: UDP or IPv4 GSO is not ours to take */
    if (len < ZHTP_IP6_HDR_LEN)
        return ZHTP_ERR_INVAL;
    if (!(h->flags & ZHTP_VNET_F_NEEDS_CSUM)) /* the kernel always asks for the TCP checksum */
        return gso == ZHTP_VNET_GSO_NONE ? ZHTP_OK : ZHTP_ERR_INVAL;
    size_t start = h->csum_start, off = h->csum_offset;
    /* Transport headers start at multiples of 8 in IPv6 and checksum fields are 16-bit
     * aligned: anything else would also misalign the sum. */
    if (start < ZHTP_IP6_HDR_LEN || (start & 1) || (off & 1) || start + off + 2 > len)
        return ZHTP_ERR_INVAL;
    if (gso == ZHTP_VNET_GSO_TCPV6) {
        if (off != ZHTP_TUN_OFFLOAD_TCP_CSUM || start + ZHTP_TUN_OFFLOAD_TCP_MIN > len ||
            h->gso_size == 0)
            return ZHTP_ERR_INVAL;
        size_t thlen = tcp_hdr_len(pkt + start);
        if (thlen < ZHTP_TUN_OFFLOAD_TCP_MIN || start + thlen > len)
            return ZHTP_ERR_INVAL;
        /* not hdr_len: the kernel fills it with its linear head, which may hold payload */
        size_t seg = start + thlen + h->gso_size;
        *seg_len = seg < len ? seg : len;
    }
    uint8_t *field = pkt + start + off;
    uint8_t nh = pkt[6];
    uint64_t acc = 0;
    if (start == ZHTP_IP6_HDR_LEN &&
        ((nh == ZHTP_TUN_OFFLOAD_NH_TCP && off == ZHTP_TUN_OFFLOAD_TCP_CSUM) ||
         (nh == ZHTP_TUN_OFFLOAD_NH_UDP && off == ZHTP_TUN_OFFLOAD_UDP_CSUM))) {
        /* Our own pseudo-header over the whole length: the partial sum in the field was made
         * for the super-packet by the kernel, but it costs nothing to not depend on that. */
        field[0] = field[1] = 0;
        acc = zhtp_csum_pseudo6(pkt, (uint32_t)(len - ZHTP_IP6_HDR_LEN), nh);
    } /* else (extension headers): finish the kernel's partial sum, already in the field */
    acc = zhtp_csum_add(acc, pkt + start, len - start);
    uint16_t ck = (uint16_t)~zhtp_csum_fold(acc);
    if (ck == 0)
        ck = 0xffff; /* the same in one's complement, and the only form UDP over IPv6 allows */
    field[0] = (uint8_t)(ck >> 8);
    field[1] = (uint8_t)ck;
    return ZHTP_OK;
}

int zhtp_tun_offload_to_host(const uint8_t *pkt, size_t len, uint32_t mtu, zhtp_vnet_hdr *h,
                             uint8_t check[2])
{
    memset(h, 0, sizeof *h);
    if (len <= mtu || len < ZHTP_IP6_HDR_LEN || pkt[6] != ZHTP_TUN_OFFLOAD_NH_TCP)
        return 0; /* fits, or not plain TCP: as it is, checksum complete */
    if ((pkt[0] >> 4) != 6 || ((size_t)pkt[4] << 8 | pkt[5]) + ZHTP_IP6_HDR_LEN != len)
        return ZHTP_ERR_INVAL;
    size_t ulen = len - ZHTP_IP6_HDR_LEN;
    if (ulen < ZHTP_TUN_OFFLOAD_TCP_MIN)
        return ZHTP_ERR_INVAL;
    size_t thlen = tcp_hdr_len(pkt + ZHTP_IP6_HDR_LEN);
    size_t hdr = ZHTP_IP6_HDR_LEN + thlen;
    if (thlen < ZHTP_TUN_OFFLOAD_TCP_MIN || thlen >= ulen || mtu <= hdr)
        return ZHTP_ERR_INVAL;
    h->flags = ZHTP_VNET_F_NEEDS_CSUM;
    h->gso_type = ZHTP_VNET_GSO_TCPV6;
    h->hdr_len = (uint16_t)hdr;
    h->gso_size = (uint16_t)(mtu - hdr); /* len > mtu: at least two segments */
    h->csum_start = ZHTP_IP6_HDR_LEN;
    h->csum_offset = ZHTP_TUN_OFFLOAD_TCP_CSUM;
    uint16_t ps = zhtp_csum_fold(zhtp_csum_pseudo6(pkt, (uint32_t)ulen, ZHTP_TUN_OFFLOAD_NH_TCP));
    check[0] = (uint8_t)(ps >> 8);
    check[1] = (uint8_t)ps;
    return 1;
}
