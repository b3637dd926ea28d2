/* zhtpd's TUN interface: IPv6 packets of the local host in and out of the mesh (docs/tun.md).
 *
 * What it owns: the TUN device (/dev/net/tun, IFF_TUN | IFF_NO_PI [| IFF_VNET_HDR with
 * segmentation offload, tun_offload.h], created with the node's
 * address fd5a:<112 bits of node id>/16, the MTU and link up, through ioctl and rtnetlink), the
 * read loop on it (batched), the map from the id prefix an address carries to the full node id
 * (a cache, the driver's hints, zhtp_node_find_prefix, and a small bounded queue per
 * destination whose lookup is under way), the ICMPv6 errors it gives local senders (Packet Too
 * Big, Destination Unreachable; rate-limited), and its counters.
 *
 * What it must never do: decide routes or touch link sockets. Packets go into the node with
 * zhtp_node_send(..., ZHTP_NODE_SEND_IP6, ...) and come out as ZHTP_NODE_EV_IP6 events, which
 * the runtime hands to zhtp_rt_tun_deliver. The pure parts (addresses, checks, ICMPv6) are in
 * ip6.h.
 *
 * Thread-safety: none; everything runs on the runtime's libuv loop. */
#ifndef ZHTP_RUNTIME_TUN_H
#define ZHTP_RUNTIME_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ip6.h"
#include "zhtp/node.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZHTP_RT_TUN_NAME_MAX    16    /* IFNAMSIZ, with the terminating NUL */
#define ZHTP_RT_TUN_MTU_DEFAULT 16384 /* docs/tun.md "MTU": fragments per packet vs loss */

/* Why a packet was not passed on. Outbound: read from the TUN; inbound: from the mesh. */
typedef enum zhtp_rt_tun_drop {
    ZHTP_RT_TUN_DROP_OUT_MALFORMED = 0,
    ZHTP_RT_TUN_DROP_OUT_NOT_MESH, /* multicast, link-local, other prefixes: not ours */
    ZHTP_RT_TUN_DROP_OUT_BAD_SRC,  /* source is not our address */
    ZHTP_RT_TUN_DROP_OUT_BAD_DST,  /* our own address */
    ZHTP_RT_TUN_DROP_TOO_BIG,      /* above the mesh MTU (Packet Too Big sent, rate allowing) */
    ZHTP_RT_TUN_DROP_UNREACHABLE,  /* no node has that id prefix (Unreachable sent) */
    ZHTP_RT_TUN_DROP_PENDING,      /* lookup under way and its queue full, or it timed out */
    ZHTP_RT_TUN_DROP_NO_ROUTE,     /* the node refused the send (no route or session now) */
    ZHTP_RT_TUN_DROP_HALTED,       /* emergency stop: nothing enters the mesh */
    ZHTP_RT_TUN_DROP_IN_MALFORMED,
    ZHTP_RT_TUN_DROP_IN_BAD_SRC, /* source is not the sending node's address */
    ZHTP_RT_TUN_DROP_IN_BAD_DST, /* destination is not our address */
    ZHTP_RT_TUN_DROP_TUN_FULL,   /* the TUN queue did not take the packet (EAGAIN) */
    ZHTP_RT_TUN_DROP_TUN_ERROR,  /* any other write error */
    /* Segmentation offload (docs/tun.md "Segmentation offload"): */
    ZHTP_RT_TUN_DROP_OVERSIZE,    /* a super-packet longer than the node carries (65,536) */
    ZHTP_RT_TUN_DROP_PENDING_GSO, /* a super-packet while its destination's lookup runs */
    ZHTP_RT_TUN_DROP_COUNT
} zhtp_rt_tun_drop;

/* Label for zhtp_tun_drops_total{reason="..."}. */
const char *zhtp_rt_tun_drop_name(zhtp_rt_tun_drop d);

typedef struct zhtp_rt_tun_stats {
    uint64_t out_packets, out_bytes; /* read from the TUN and handed to the node */
    uint64_t in_packets, in_bytes;   /* delivered by the node and written to the TUN */
    uint64_t icmp_sent, icmp_limited;
    uint64_t gso_in;  /* TCP super-packets read from the TUN (offload on) */
    uint64_t gso_out; /* packets written to the TUN as GSO super-packets */
    uint64_t drops[ZHTP_RT_TUN_DROP_COUNT];
} zhtp_rt_tun_stats;

typedef struct zhtp_rt_tun_config {
    uv_loop_t *loop;
    zhtp_node *node;                   /* borrowed; outlives the TUN */
    const char *name;                  /* interface name (< 16 bytes) */
    uint32_t mtu;                      /* interface MTU, 1280..65535 */
    uint32_t mesh_mtu;                 /* largest packet carried (<= mtu, >= 1280); 0: mtu */
    void *user_data;                   /* passed to the callbacks */
    zhtp_time (*now)(void *user_data); /* the node's clock */
    void (*log)(void *user_data, int level, const char *msg); /* ZHTP_RT_LOG_* levels */
    /* The driver's own knowledge of full node ids (operator hints): true and |id| filled when
     * it knows a node whose id starts with |prefix|. May be NULL. */
    bool (*resolve)(void *user_data, const uint8_t prefix[ZHTP_IP6_ID_BYTES],
                    uint8_t id[ZHTP_NODE_ID_LEN]);
    bool (*is_halted)(void *user_data);   /* emergency stop: drop what the host sends */
    void (*after_input)(void *user_data); /* called after each batch handed to the node */
    /* Segmentation offload (IFF_VNET_HDR, TUNSETOFFLOAD CSUM | TSO6): TCP super-packets of up
     * to ~64 KiB in and out instead of MTU-sized ones. Refused by the kernel: runs without,
     * logged at info. */
    bool offload;
} zhtp_rt_tun_config;

typedef struct zhtp_rt_tun zhtp_rt_tun;

/* Creates the interface and starts reading it. Returns 0, or -1 with a message in |err|
 * (no /dev/net/tun, no permission, name taken, bad MTU). */
int zhtp_rt_tun_open(zhtp_rt_tun **out, const zhtp_rt_tun_config *cfg, char *err, size_t err_cap);
/* A packet the node delivered (ZHTP_NODE_EV_IP6): checked (zhtp_ip6_check_inbound) and
 * written to the interface, or dropped and counted. |pkt| is borrowed for the call. */
void zhtp_rt_tun_deliver(zhtp_rt_tun *t, const uint8_t sender[ZHTP_NODE_ID_LEN], const uint8_t *pkt,
                         size_t len);
const char *zhtp_rt_tun_addr(const zhtp_rt_tun *t); /* "fd5a:...", the node's address */
const char *zhtp_rt_tun_name(const zhtp_rt_tun *t); /* the interface name the kernel gave */
uint32_t zhtp_rt_tun_mtu(const zhtp_rt_tun *t);
uint32_t zhtp_rt_tun_mesh_mtu(const zhtp_rt_tun *t);
bool zhtp_rt_tun_offload(const zhtp_rt_tun *t); /* offload asked for and granted */
void zhtp_rt_tun_get_stats(const zhtp_rt_tun *t, zhtp_rt_tun_stats *st);
/* Frees the TUN after its libuv handles were closed (uv_walk + uv_run at shutdown): closes
 * the fd, which removes the interface. NULL is a no-op. */
void zhtp_rt_tun_free(zhtp_rt_tun *t);

#ifdef __cplusplus
}
#endif
#endif
