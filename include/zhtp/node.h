/* zhtp node: the sans-I/O protocol core of one mesh node.
 *
 * What it owns: the node's links (one per interface the driver opened, each with an MTU and a
 * medium profile), its neighbours (learnt by PEER_DISCOVERY on those links), link framing
 * (full 128-byte headers on wide links, compressed headers on narrow ones, fragmentation and
 * reassembly to each link's MTU), the router (include/zhtp/routing.h) fed with neighbours and
 * announcements, forwarding of DATA under the loop-freedom bound and a hop limit, and an end-to-end
 * layer for application messages (delivery events, end-to-end acknowledgements and retransmission
 * with backoff for reliable messages).
 *
 * What it must never do: touch a socket, a clock, a file, printf, a thread or a mutable global;
 * allocate except through the injected zhtp_mem. Drivers (runtime/, zhtp-sim) feed datagrams
 * with zhtp_node_recv, drain zhtp_node_next_datagram and zhtp_node_next_event after every call,
 * and re-arm one timer at zhtp_node_next_deadline. Same seed, same inputs: same outputs.
 *
 * Security: a neighbour is announced to the router only once a link session (session.h)
 * authenticated it; everything but PEER_DISCOVERY and handshakes is sealed per link, and
 * application data is sealed again end to end (an inner sealed packet carried in DATA), so
 * relays see only ciphertext. With a DHT (config.dht) destination coordinates come from the
 * locator blocks packets carry and from DHT lookups; without one, from a lookup callback the
 * driver injects (zhtp-sim's oracle mode).
 *
 * Thread-safety: none; one handle per thread at a time; handles are independent. */
#ifndef ZHTP_NODE_H
#define ZHTP_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/dht.h"
#include "zhtp/err.h"
#include "zhtp/identity.h"
#include "zhtp/mem.h"
#include "zhtp/routing.h"
#include "zhtp/session.h"
#include "zhtp/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* zhtp_link_id, zhtp_addr and zhtp_rng_fn are in include/zhtp/types.h (shared with session.h). */
/* Log lines for humans; never receives secrets. |msg| is valid during the call only. */
typedef void (*zhtp_log_fn)(void *user_data, int level, const char *msg);

/* Application payload limit of one zhtp_node_send. */
#define ZHTP_NODE_MAX_MESSAGE 65536

/* zhtp_node_send flags */
#define ZHTP_NODE_SEND_RELIABLE 0x1u /* retransmit until the destination acknowledges */
/* IPv6 over the mesh: |bytes| is a whole IPv6 packet (>= 40 bytes, version nibble 6), carried
 * as DATA subtype IPV6 inside the end-to-end session (docs/protocol.md 6.9): unreliable, never
 * acknowledged or retransmitted. The destination raises ZHTP_NODE_EV_IP6. Not combinable with
 * ZHTP_NODE_SEND_RELIABLE. */
#define ZHTP_NODE_SEND_IP6 0x2u

typedef struct zhtp_node_config {
    const zhtp_mem *mem; /* NULL: default allocator */
    zhtp_rng_fn rng;     /* required; seeded in tests and the simulator */
    zhtp_log_fn log;     /* NULL: silent */
    void *user_data;     /* passed to rng, log and lookup */
    /* Maps a node id to its tree coordinates (contract of zhtp_route_lookup_fn). Optional
     * fallback, asked after the node's own locator cache (zhtp-sim's oracle mode, zhtpd's
     * hints). NULL and no DHT: only neighbours are reachable. */
    zhtp_route_lookup_fn lookup;
    /* NULL: no DHT in this node. Copied at zhtp_node_new; its store ops are required; its
     * mem/rng may be NULL (the node's are used); its locator hooks are the node's own (any
     * given are replaced). With a DHT the node carries the DHT's messages over the mesh
     * (docs/protocol.md 6.1-6.7), puts locator blocks on the packets it originates to
     * non-neighbours and resolves unknown destinations by DHT lookups (docs/routing.md
     * "Locators"). */
    const zhtp_dht_config *dht;
    size_t locator_cache;         /* 0: 512. Entries of the id -> coordinates cache (DHT only) */
    uint32_t capabilities;        /* ZHTP_WIRE_CAP_* announced in PEER_DISCOVERY */
    zhtp_time beacon_interval_ns; /* 0: 1 s. Keepalive beacon on every link */
    uint32_t beacon_misses;       /* 0: 4. A neighbour silent this many intervals is lost */
    zhtp_time route_refresh_ns;   /* 0: the router's default (2 s) */
    zhtp_time rto_initial_ns;     /* 0: 1 s. First end-to-end retransmission timeout */
    zhtp_time rto_max_ns;         /* 0: 8 s. Backoff cap */
    uint32_t max_retransmits;     /* 0: 32. Then ZHTP_NODE_EV_FAILED */
    uint8_t hop_limit;            /* 0: ZHTP_WIRE_DEFAULT_HOP_LIMIT */
    size_t max_queue_bytes;       /* 0: 4 MiB of outgoing frames; beyond, new frames dropped */
    /* false (default): every packet between neighbours is sealed by a link session
     * (include/zhtp/session.h) and application data by an end-to-end session between source
     * and destination, so relays never see plaintext. true: no sessions, packets travel in
     * clear: for simulations of very large meshes only, never on a real network. */
    bool insecure_plaintext;
} zhtp_node_config;

/* The link id the node uses internally for end-to-end sessions carried over the mesh; a
 * driver must not add a link with this id. */
#define ZHTP_NODE_LINK_MESH UINT64_MAX

typedef struct zhtp_node zhtp_node;

/* Creates a node. |cfg| is copied; |id| is borrowed and must outlive the node (its public half
 * is sent in discovery). Returns ZHTP_OK, ZHTP_ERR_INVAL (NULL argument, no rng) or
 * ZHTP_ERR_NOMEM (nothing allocated remains). */
int zhtp_node_new(zhtp_node **out, const zhtp_node_config *cfg, const zhtp_identity *id,
                  zhtp_time now);
void zhtp_node_free(zhtp_node *n); /* NULL is a no-op */

/* The node's DHT, or NULL when configured without one. The application calls zhtp_dht_put /
 * get / publish / resolve / put_content / get_content / relay_get on it with the same |now| it
 * gives the node, then (as after every node call) drains zhtp_node_next_datagram and re-arms
 * its timer at zhtp_node_next_deadline: the node moves the DHT's messages onto the mesh and
 * ticks it. DHT completions are read with zhtp_dht_next_event(zhtp_node_dht(n), &ev). */
zhtp_dht *zhtp_node_dht(zhtp_node *n);

/* Finds the full node id whose first |bits| bits (1..256) equal |prefix| ((bits + 7) / 8 bytes
 * are read; bits past |bits| are ignored) (used for IPv6 addresses, which carry only a prefix
 * of the id). ZHTP_OK and |id| filled when known now
 * (this node, neighbours, the node's locator cache, the DHT table); ZHTP_ERR_AGAIN when a DHT
 * lookup was started or is running (ask again later, e.g. on the next packet);
 * ZHTP_ERR_NOTFOUND when a lookup of the last 3 s found nothing (negative cache, 5 s) or the
 * node has no DHT; ZHTP_ERR_INVAL; ZHTP_ERR_NOMEM. */
int zhtp_node_find_prefix(zhtp_node *n, const uint8_t *prefix, size_t bits,
                          uint8_t id[ZHTP_NODE_ID_LEN], zhtp_time now);

/* Adds a link. |mtu| is the largest frame the link carries (ZHTP_WIRE_MIN_MTU..MAX_MTU; 0: the
 * medium's). |medium| is copied (zhtp_route_medium_preset gives typical profiles). The node
 * solicits neighbours on it at once. Returns ZHTP_OK, ZHTP_ERR_EXISTS, ZHTP_ERR_INVAL or
 * ZHTP_ERR_NOMEM. */
int zhtp_node_link_add(zhtp_node *n, zhtp_link_id link, uint32_t mtu,
                       const zhtp_route_medium *medium, zhtp_time now);
/* Removes a link (interface went down): its neighbours are lost at once. ZHTP_OK or
 * ZHTP_ERR_NOTFOUND. */
int zhtp_node_link_remove(zhtp_node *n, zhtp_link_id link, zhtp_time now);

/* Feeds one datagram received on |link| from |from|. |buf| is borrowed, untrusted. Returns
 * ZHTP_OK (consumed, including packets dropped by policy), ZHTP_ERR_NOTFOUND (unknown link),
 * ZHTP_ERR_NOMEM, or a wire/ decoder error (the datagram is dropped and counted in
 * zhtp_node_stats.rx_bad; the node state is unchanged). */
int zhtp_node_recv(zhtp_node *n, zhtp_link_id link, const zhtp_addr *from, const uint8_t *buf,
                   size_t len, zhtp_time now);

/* The next frame to transmit: writes it to |out|, its link and destination address, returns its
 * length; ZHTP_ERR_AGAIN when nothing may go now; ZHTP_ERR_NOBUF if |out_cap| is below the
 * frame (nothing written; the link's MTU is always enough). Narrow links (LoRa, BLE) are
 * paced: frames beyond 0.5 s of airtime ahead of |now| stay queued until
 * zhtp_node_next_deadline (docs/node.md "Lossy narrow links"). */
zhtp_ssize zhtp_node_next_datagram(zhtp_node *n, zhtp_link_id *link, zhtp_addr *to, uint8_t *out,
                                   size_t out_cap, zhtp_time now);

/* The earliest time zhtp_node_tick has work (beacons, neighbour expiry, router timers,
 * reassembly expiry, retransmissions) or a paced link can take more frames;
 * ZHTP_TIME_NEVER when idle. */
zhtp_time zhtp_node_next_deadline(const zhtp_node *n);
/* Runs everything due at |now|. ZHTP_OK or ZHTP_ERR_NOMEM (retried at the next tick). */
int zhtp_node_tick(zhtp_node *n, zhtp_time now);

/* Sends |len| bytes of application data to node |dest| (may be a non-neighbour), or with
 * ZHTP_NODE_SEND_IP6 one IPv6 packet (waits at most one RTO for the end-to-end session, then is
 * dropped silently: stats.drop_ip6; ZHTP_ERR_INVAL if it is not an IPv6 packet or RELIABLE is
 * also set; ZHTP_ERR_AGAIN if 64 IPv6 packets already wait for sessions). |bytes| is
 * copied. With ZHTP_NODE_SEND_RELIABLE the node keeps a copy and retransmits with exponential
 * backoff until the destination's end-to-end acknowledgement (ZHTP_NODE_EV_ACKED) or
 * max_retransmits (ZHTP_NODE_EV_FAILED). Without it, one attempt. |*msg_id| (may be NULL) gets
 * the message id used in events. Returns ZHTP_OK (queued; a first attempt without a route yet
 * is retried by the reliable timer), ZHTP_ERR_INVAL (len > ZHTP_NODE_MAX_MESSAGE, dest is
 * self), ZHTP_ERR_NOTFOUND (unreliable and no route now), ZHTP_ERR_AGAIN (unreliable,
 * plaintext mode, the destination is being looked up in the DHT: try again) or
 * ZHTP_ERR_NOMEM. */
int zhtp_node_send(zhtp_node *n, const uint8_t dest[ZHTP_NODE_ID_LEN], const uint8_t *bytes,
                   size_t len, uint32_t flags, zhtp_time now, uint64_t *msg_id);

typedef enum zhtp_node_event_type {
    ZHTP_NODE_EV_NEIGHBOUR_UP = 1, /* peer, link */
    ZHTP_NODE_EV_NEIGHBOUR_DOWN,   /* peer, link */
    ZHTP_NODE_EV_DATA,             /* peer = source; data, len, hops (links crossed), msg_id */
    ZHTP_NODE_EV_ACKED,            /* peer = destination; msg_id; hops = links the ack crossed */
    ZHTP_NODE_EV_FAILED,           /* peer = destination; msg_id: gave up retransmitting */
    /* A peer (header sender, unauthenticated) does not speak our protocol version: it answered
     * one of our packets with ERROR/VERSION_MISMATCH. data/len: the versions it speaks
     * (descending, one byte each); msg_id: the reply's in_reply_to. Never answered. */
    ZHTP_NODE_EV_VERSION_MISMATCH,
    /* An IPv6 packet for the TUN interface: peer = source node id (authenticated end to end),
     * data/len = the whole IPv6 packet (>= 40 bytes, version 6), hops = links crossed. */
    ZHTP_NODE_EV_IP6,
} zhtp_node_event_type;

typedef struct zhtp_node_event {
    zhtp_node_event_type type;
    uint8_t peer[ZHTP_NODE_ID_LEN];
    zhtp_link_id link;
    uint64_t msg_id;
    uint32_t hops;
    const uint8_t *data; /* borrowed until the next call on the node */
    size_t len;
} zhtp_node_event;

/* Pops the oldest event into |ev|. ZHTP_OK or ZHTP_ERR_AGAIN (none). */
int zhtp_node_next_event(zhtp_node *n, zhtp_node_event *ev);

typedef struct zhtp_node_stats {
    uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
    uint64_t rx_bad; /* undecodable datagrams, bad payloads, id/identity mismatches */
    /* Fragments of a packet reassembly already finished with: the repeated copies sent on
     * lossy links (docs/node.md), or the rest of an evicted packet. Expected, not bad. */
    uint64_t rx_late_fragments;
    uint64_t fwd_packets;      /* DATA forwarded for others */
    uint64_t drop_no_route;    /* DATA with no next hop */
    uint64_t drop_hop_limit;   /* DATA whose hop limit ran out */
    uint64_t drop_queue;       /* frames dropped because the queue was full */
    uint64_t retransmits;      /* end-to-end retransmissions */
    uint64_t duplicates;       /* DATA delivered twice (retransmission), suppressed */
    uint64_t drop_no_session;  /* packets not sent: no usable link session with the next hop */
    uint64_t handshake_errors; /* handshake packets the session layer refused */
    /* DATA a forwarder dropped because no neighbour meets the packet's loop-freedom bound
     * (route_bound, docs/routing.md): stale routing state that would have looped. */
    uint64_t drop_route_bound;
    uint64_t rx_compressed; /* compressed-header packets received and rebuilt */
    /* DATA packets sent on links, by header form (narrow links: compressed), and their
     * overhead: packet bytes minus the DATA body (header, DATA sub-header, tag; fragment
     * headers and repeated copies excluded). Mean overhead = *_overhead / count. */
    uint64_t data_tx_compressed, data_tx_compressed_overhead;
    uint64_t data_tx_full, data_tx_full_overhead;
    /* Version negotiation (docs/protocol.md section 7): ERROR/VERSION_MISMATCH replies sent
     * to packets of an unknown version, those withheld by the per-link rate limit (burst 4,
     * then 1/s), and replies received (each also an event). Packets too short to answer
     * without amplification, and version 0, get no reply and count in neither. */
    uint64_t version_mismatch_sent, version_mismatch_limited, version_mismatch_received;
    /* Queued, unsent frames of a handshake packet dropped because the session layer issued
     * the next attempt to the same neighbour (docs/node.md "Lossy narrow links"). */
    uint64_t tx_superseded;
    /* IPv6 carriage (ZHTP_NODE_SEND_IP6): packets sent into the mesh, delivered to us (each an
     * EV_IP6), and dropped at the origin (no route, or the end-to-end session did not come up
     * within one retransmission timeout, or IP6_PENDING_MAX (64) packets already waiting). A
     * received DATA/IPV6 body that is not an IPv6 packet counts in rx_bad. */
    uint64_t ip6_tx, ip6_rx, drop_ip6;
    /* DHT over the mesh: DHT messages sent (as QUERY .. RELAY_RESPONSE packets), delivered to
     * our DHT, forwarded for others; DHT lookups the node started to resolve a destination or
     * an id prefix (zhtp_dht_locate); packets not originated because the destination's
     * coordinates were unknown (a lookup was started or had just failed). */
    uint64_t dht_tx, dht_rx, dht_fwd, locates, drop_no_locator;
    /* Forwarded packets whose locator block led nowhere from here and that this node sent on
     * with the target's coordinates as it knows them (docs/routing.md "Locators"). */
    uint64_t loc_rewrites;
} zhtp_node_stats;
void zhtp_node_get_stats(const zhtp_node *n, zhtp_node_stats *st);

/* The node's sessions (link and end-to-end share one pool): fills |st| with the session
 * layer's counters (handshakes completed as initiator/responder, failures, public-key
 * operations, ...) and returns the connections counted by the limit. Zeroes in plaintext
 * mode. */
size_t zhtp_node_session_stats(const zhtp_node *n, zhtp_session_stats *st);

/* This node's id (borrowed for the node's life). */
const uint8_t *zhtp_node_id(const zhtp_node *n);
/* The router, borrowed: for read-only queries (coordinates, changes, state bytes). */
const zhtp_router *zhtp_node_router(const zhtp_node *n);
/* Neighbours currently up. */
size_t zhtp_node_neighbour_count(const zhtp_node *n);

/* Connection limit: peers with a link or end-to-end session or a handshake under way. Changeable
 * at run time; 0 restores the session layer's default. Enforced when a handshake with a new peer
 * starts (ours or theirs); lowering it never cuts existing connections. No effect in plaintext
 * mode. */
void zhtp_node_set_max_connections(zhtp_node *n, uint32_t max);
/* Closes the sessions with the neighbour |peer| on every link and forgets it as a neighbour:
 * routes through it go down at once (NEIGHBOUR_DOWN event). It may come back through discovery
 * and a new handshake, as after any loss. ZHTP_OK, or ZHTP_ERR_NOTFOUND when |peer| is not a
 * neighbour. */
int zhtp_node_disconnect(zhtp_node *n, const uint8_t peer[ZHTP_NODE_ID_LEN], zhtp_time now);

#ifdef __cplusplus
}
#endif
#endif
