/* The TUN's packet checks and ICMPv6 error builder (src/runtime/ip6.c) on arbitrary bytes, as
 * a node delivering a hostile packet or a local host writing one would give them: never crash
 * or read past the packet; an accepted packet really has the addresses the check promised; an
 * ICMPv6 error is at most 1,280 bytes, well-formed, and checksums to 0. Input: 32 bytes of
 * sender node id, then the packet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ip6.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t me[ZHTP_NODE_ID_LEN] = {0x42, 0x17};
    uint8_t own[ZHTP_IP6_ADDR_LEN], sender_addr[ZHTP_IP6_ADDR_LEN];
    if (size < ZHTP_NODE_ID_LEN)
        return 0;
    const uint8_t *sender = data;
    size_t len = size - ZHTP_NODE_ID_LEN;
    /* A copy of exactly len bytes: ASan catches a read past the packet. */
    uint8_t *pkt = malloc(len ? len : 1);
    if (pkt == NULL)
        return 0;
    memcpy(pkt, data + ZHTP_NODE_ID_LEN, len);
    zhtp_ip6_addr_from_id(me, own);
    zhtp_ip6_addr_from_id(sender, sender_addr);

    if (zhtp_ip6_check_inbound(pkt, len, sender, own) == ZHTP_IP6_OK &&
        (len < ZHTP_IP6_HDR_LEN || memcmp(pkt + 8, sender_addr, 16) != 0 ||
         memcmp(pkt + 24, own, 16) != 0))
        abort();
    /* as if the packet came from the host with its own source */
    if (zhtp_ip6_check_outbound(pkt, len, own) == ZHTP_IP6_OK &&
        (memcmp(pkt + 8, own, 16) != 0 || !zhtp_ip6_addr_is_mesh(pkt + 24)))
        abort();

    uint8_t out[ZHTP_ICMP6_ERROR_MAX_LEN];
    zhtp_ssize n =
        zhtp_ip6_icmp6_error(out, sizeof out, ZHTP_ICMP6_PACKET_TOO_BIG, 0, 1400, pkt, len);
    if (n >= 0) {
        if ((size_t)n > sizeof out || (size_t)n < ZHTP_IP6_HDR_LEN + 8 ||
            !zhtp_ip6_may_send_error(pkt, len) ||
            zhtp_ip6_icmp6_checksum(out + 8, out + 24, out + 40, (size_t)n - 40) != 0 ||
            zhtp_ip6_check_inbound(out, (size_t)n, sender, own) == ZHTP_IP6_MALFORMED)
            abort();
    } else if (n != ZHTP_ERR_INVAL || zhtp_ip6_may_send_error(pkt, len)) {
        abort();
    }
    free(pkt);
    return 0;
}
