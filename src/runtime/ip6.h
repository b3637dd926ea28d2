/* IPv6 over the mesh: the pure parts (docs/tun.md). No I/O, no allocation, no clock: the TUN
 * driver (tun.c) and the unit tests (tests/unit/tun) call these with bytes and times.
 *
 * What it owns: the mapping node id -> IPv6 address (the fixed ULA prefix fd5a::/16 followed by
 * the first 112 bits of the node id), the checks a packet must pass before it enters or leaves
 * the mesh (well-formed header, source address bound to the node that sends it), the ICMPv6
 * errors the node gives its local senders (Packet Too Big, Destination Unreachable) with their
 * checksum, and the token bucket that limits them.
 *
 * What it must never do: decide routes or touch the node core; it only looks at packets. */
#ifndef ZHTP_RUNTIME_IP6_H
#define ZHTP_RUNTIME_IP6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/err.h"
#include "zhtp/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZHTP_IP6_ADDR_LEN 16
#define ZHTP_IP6_HDR_LEN  40
#define ZHTP_IP6_MIN_MTU  1280  /* RFC 8200: every link carries this much */
#define ZHTP_IP6_MAX_LEN  65535 /* largest packet without a jumbogram (payload_len is 16 bits) */

/* Mesh prefix fd5a::/16: a ULA (fc00::/7 with L = 1); 0x5a is 'Z'. Fixed, so that any two zhtp
 * nodes agree on each other's address with nothing but the node id. */
#define ZHTP_IP6_PREFIX_0    0xfd
#define ZHTP_IP6_PREFIX_1    0x5a
#define ZHTP_IP6_PREFIX_BITS 16
/* Bits of the node id an address carries: everything after the prefix. */
#define ZHTP_IP6_ID_BITS  (128 - ZHTP_IP6_PREFIX_BITS)
#define ZHTP_IP6_ID_BYTES (ZHTP_IP6_ID_BITS / 8)

#define ZHTP_IP6_NH_ICMP6           58
#define ZHTP_ICMP6_DST_UNREACH      1
#define ZHTP_ICMP6_PACKET_TOO_BIG   2
#define ZHTP_ICMP6_UNREACH_NO_ROUTE 0
#define ZHTP_ICMP6_UNREACH_ADDR     3
#define ZHTP_ICMP6_ERROR_MAX_LEN    ZHTP_IP6_MIN_MTU /* RFC 4443 2.4(c) */

/* The node's address: prefix, then id bits 0..111 (network order: id[0] first). */
void zhtp_ip6_addr_from_id(const uint8_t id[ZHTP_NODE_ID_LEN], uint8_t addr[ZHTP_IP6_ADDR_LEN]);
/* True when |addr| lies in the mesh prefix. */
bool zhtp_ip6_addr_is_mesh(const uint8_t addr[ZHTP_IP6_ADDR_LEN]);
/* The id prefix a mesh address carries (ZHTP_IP6_ID_BITS bits, whole bytes). */
void zhtp_ip6_addr_id_prefix(const uint8_t addr[ZHTP_IP6_ADDR_LEN],
                             uint8_t prefix[ZHTP_IP6_ID_BYTES]);
/* True when |addr| is the address of node |id|. */
bool zhtp_ip6_addr_matches_id(const uint8_t addr[ZHTP_IP6_ADDR_LEN],
                              const uint8_t id[ZHTP_NODE_ID_LEN]);

/* Verdict on a packet; every value but OK is a drop reason with its own counter. */
typedef enum zhtp_ip6_verdict {
    ZHTP_IP6_OK = 0,
    ZHTP_IP6_MALFORMED, /* shorter than 40, version != 6, or payload_len + 40 != length */
    ZHTP_IP6_NOT_MESH,  /* outbound: destination outside the mesh prefix (multicast, ...) */
    ZHTP_IP6_BAD_SRC,   /* outbound: source is not our address; inbound: not the sender's */
    ZHTP_IP6_BAD_DST,   /* outbound: ourselves; inbound: not our address */
    ZHTP_IP6_VERDICT_COUNT
} zhtp_ip6_verdict;

/* Short name for metrics labels ("malformed", "not_mesh", "bad_src", "bad_dst"; "ok"). */
const char *zhtp_ip6_verdict_name(zhtp_ip6_verdict v);

/* A packet the local host wrote to the TUN: it may enter the mesh only if it is well-formed,
 * its source is our own address |own| (nothing else on this host speaks for our node id) and
 * its destination is another mesh address. */
zhtp_ip6_verdict zhtp_ip6_check_outbound(const uint8_t *pkt, size_t len,
                                         const uint8_t own[ZHTP_IP6_ADDR_LEN]);
/* A packet the node delivered from node |sender| (authenticated end to end by the session):
 * it may reach the local host only if it is well-formed, its source is the sender's own
 * address (a node cannot speak for another id) and its destination is |own|. */
zhtp_ip6_verdict zhtp_ip6_check_inbound(const uint8_t *pkt, size_t len,
                                        const uint8_t sender[ZHTP_NODE_ID_LEN],
                                        const uint8_t own[ZHTP_IP6_ADDR_LEN]);

/* The ICMPv6 checksum of |len| bytes of ICMPv6 message |msg| between |src| and |dst| (RFC 4443
 * 2.3: one's complement sum over the pseudo-header and the message, with the message's own
 * checksum field counted as it stands). A message with a correct checksum gives 0. */
uint16_t zhtp_ip6_icmp6_checksum(const uint8_t src[ZHTP_IP6_ADDR_LEN],
                                 const uint8_t dst[ZHTP_IP6_ADDR_LEN], const uint8_t *msg,
                                 size_t len);

/* True when RFC 4443 2.4(e) allows an ICMPv6 error about |orig|: it is well-formed, its source
 * is a unicast address (not unspecified, not multicast), its destination is not multicast, and
 * it is not itself an ICMPv6 error message (found past the extension headers). */
bool zhtp_ip6_may_send_error(const uint8_t *orig, size_t len);

/* Builds a whole IPv6 packet carrying an ICMPv6 error about |orig| (a packet from the local
 * host): source = orig's destination (the error appears to come from the far end of the
 * tunnel, as from the first router), destination = orig's source, hop limit 255, body = as
 * much of orig as keeps the packet within 1,280 bytes. |out| must not overlap |orig|. |param| is
 * the 32-bit field after the checksum (the MTU for Packet Too Big, 0 for Unreachable). Returns the
 * packet length, ZHTP_ERR_INVAL when zhtp_ip6_may_send_error says no, or ZHTP_ERR_NOBUF (nothing
 * written). */
zhtp_ssize zhtp_ip6_icmp6_error(uint8_t *out, size_t cap, uint8_t type, uint8_t code,
                                uint32_t param, const uint8_t *orig, size_t orig_len);

/* Token bucket for ICMPv6 errors (RFC 4443 2.4(f)): |burst| at once, then one per
 * |interval_ns| (0: no limit). Time is passed in. Zero-initialise, then set burst and
 * interval_ns. */
typedef struct zhtp_ip6_ratelim {
    uint32_t burst;
    zhtp_time interval_ns;
    zhtp_time credit_ns; /* accrued credit, at most burst * interval_ns */
    zhtp_time last;
    bool started;
} zhtp_ip6_ratelim;
/* True (one token taken) when an error may be sent at |now|. */
bool zhtp_ip6_ratelim_take(zhtp_ip6_ratelim *rl, zhtp_time now);

#ifdef __cplusplus
}
#endif
#endif
