/* TUN segmentation offload (src/runtime/tun_offload.c) on arbitrary bytes: a virtio_net_hdr
 * and a packet as the kernel could hand them to us, and a packet as a hostile node could
 * deliver it. Never crash or touch a byte outside the packet; a completed TCP/UDP checksum
 * verifies; a GSO write header is consistent with the packet and the MTU (never a hdr_len past
 * the packet, never a segment larger than the MTU). Input: 10 bytes of header, 2 bytes of MTU
 * (big-endian, 1280 added), then the packet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ip6.h"
#include "tun_offload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < ZHTP_VNET_HDR_LEN + 2)
        return 0;
    zhtp_vnet_hdr h;
    zhtp_vnet_hdr_decode(data, &h);
    uint32_t mtu = 1280u + (uint32_t)(data[10] << 8 | data[11]);
    size_t len = size - ZHTP_VNET_HDR_LEN - 2;
    /* A copy of exactly len bytes: ASan catches a read or write past the packet. */
    uint8_t *pkt = malloc(len ? len : 1);
    if (pkt == NULL)
        return 0;
    memcpy(pkt, data + ZHTP_VNET_HDR_LEN + 2, len);

    zhtp_vnet_hdr out;
    uint8_t check[2];
    int rc = zhtp_tun_offload_to_host(pkt, len, mtu, &out, check);
    if (rc == 1) {
        size_t thlen = (size_t)(pkt[52] >> 4) * 4;
        if (len <= mtu || pkt[6] != ZHTP_TUN_OFFLOAD_NH_TCP || out.hdr_len != 40 + thlen ||
            out.hdr_len >= len || out.gso_size == 0 || out.hdr_len + out.gso_size != mtu ||
            out.csum_start != 40 || out.csum_offset != 16 || out.gso_type != ZHTP_VNET_GSO_TCPV6 ||
            out.flags != ZHTP_VNET_F_NEEDS_CSUM)
            abort();
    } else if (rc != 0 && rc != ZHTP_ERR_INVAL) {
        abort();
    }

    size_t seg = 0;
    if (zhtp_tun_offload_from_host(pkt, len, &h, &seg) == ZHTP_OK) {
        if (seg > len)
            abort();
        uint8_t nh = len >= ZHTP_IP6_HDR_LEN ? pkt[6] : 0;
        if ((h.flags & ZHTP_VNET_F_NEEDS_CSUM) && h.csum_start == ZHTP_IP6_HDR_LEN &&
            ((nh == ZHTP_TUN_OFFLOAD_NH_TCP && h.csum_offset == ZHTP_TUN_OFFLOAD_TCP_CSUM) ||
             (nh == ZHTP_TUN_OFFLOAD_NH_UDP && h.csum_offset == ZHTP_TUN_OFFLOAD_UDP_CSUM))) {
            uint64_t acc = zhtp_csum_pseudo6(pkt, (uint32_t)(len - ZHTP_IP6_HDR_LEN), nh);
            acc = zhtp_csum_add(acc, pkt + ZHTP_IP6_HDR_LEN, len - ZHTP_IP6_HDR_LEN);
            if (zhtp_csum_fold(acc) != 0xffff)
                abort();
        }
    }
    free(pkt);
    return 0;
}
