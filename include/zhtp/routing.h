/* zhtp routing: multi-hop forwarding over a spanning tree of node coordinates (sans-I/O).
 *
 * What this module owns: per node, one router that builds a spanning tree together with its
 * neighbours (root = the reachable node with the smallest id), derives the node's tree
 * coordinates (the list of port numbers on the path from the root), and decides the next hop of
 * a packet by greedy forwarding on tree distance, ranking candidates by a per-medium link cost.
 * It also owns its announcement format (carried by the wire layer as an opaque ROUTING body).
 *
 * What it must never do: touch a socket, a clock, a file, printf, a global; allocate except
 * through the injected zhtp_mem. Time is passed in (monotonic ns), randomness comes from the
 * injected rng. All state hangs off the handle, so the simulator can hold 10^6 routers.
 *
 * Why this design, its failure behaviour and measured costs: docs/routing.md.
 *
 * Thread-safety: none; one handle is used by one thread at a time. Different handles are
 * independent. */
#ifndef ZHTP_ROUTING_H
#define ZHTP_ROUTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/err.h"
#include "zhtp/mem.h"
#include "zhtp/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Deepest tree a router accepts (coordinates longer than this are rejected by the decoder and
 * never adopted). Bounds message size (46 + 6 * depth bytes) and the stack used by lookups. */
#define ZHTP_ROUTE_MAX_DEPTH 2048
/* Most neighbours one router keeps (ports are 16-bit; 0 is never a port). */
#define ZHTP_ROUTE_MAX_NEIGHBOURS 4096
/* Announcement size for a sender at |depth|. */
#define ZHTP_ROUTE_ANNOUNCE_LEN(depth) (46u + 6u * (size_t)(depth))
/* Initial value of the loop-freedom bound a packet carries (see zhtp_router_next_hop). */
#define ZHTP_ROUTE_BOUND_NONE UINT32_MAX
/* Largest cost of one link, in cost units (1 unit ~ 1 us of expected delivery time). */
#define ZHTP_ROUTE_COST_MAX 0x04000000u

/* The link ids are the caller's (runtime or simulator): opaque to the router. */
typedef uint64_t zhtp_route_link_id;

/* Fills |out| with |len| random bytes. Required; seeded in tests and the simulator. */
typedef void (*zhtp_route_rng_fn)(void *user_data, uint8_t *out, size_t len);

/* Maps a node id to its current tree coordinates (the DHT will implement this; tests use an
 * oracle). Writes up to |cap| ports and the depth through |depth|. Returns ZHTP_OK,
 * ZHTP_ERR_NOTFOUND (unknown id), ZHTP_ERR_AGAIN (lookup started, ask again later) or
 * ZHTP_ERR_NOBUF (deeper than |cap|). Called only from zhtp_router_next_hop_id, never re-enters
 * the router. */
typedef int (*zhtp_route_lookup_fn)(void *user_data, const uint8_t id[ZHTP_NODE_ID_LEN],
                                    uint16_t *ports, size_t cap, size_t *depth);

/* What a medium costs. Presets: zhtp_route_medium_preset(). Values are typical, not measured:
 * measurements passed to zhtp_router_link_update replace latency and loss. */
typedef struct zhtp_route_medium {
    const char *name;            /* static string, for logs and docs */
    uint64_t bandwidth_bps;      /* raw link rate */
    uint32_t latency_us;         /* one-way latency when no RTT has been measured */
    uint32_t loss_ppm;           /* frame loss when none has been measured, parts per million */
    uint32_t energy_nj_per_byte; /* transmit energy per byte */
    uint32_t duty_cycle_ppm;     /* share of airtime allowed (LoRa EU868: 1 %); 0 = unlimited */
    uint32_t mtu;                /* largest frame, bytes */
} zhtp_route_medium;

typedef enum zhtp_route_medium_kind {
    ZHTP_MEDIUM_UDP = 0,
    ZHTP_MEDIUM_BLE,
    ZHTP_MEDIUM_WIFI_DIRECT,
    ZHTP_MEDIUM_LORA,
    ZHTP_MEDIUM_SATELLITE,
    ZHTP_MEDIUM_COUNT_
} zhtp_route_medium_kind;

/* A static preset, or NULL for an unknown kind. */
const zhtp_route_medium *zhtp_route_medium_preset(zhtp_route_medium_kind kind);

/* The cost of one link, in units of ~1 us expected delivery time of a 1 KiB packet:
 *   (one-way latency + airtime of 1 KiB / duty cycle + energy of 1 KiB [1 uJ = 1 unit])
 *   * 1 / (1 - loss)          (expected transmissions, loss capped at 90 %)
 * clamped to [1, ZHTP_ROUTE_COST_MAX]. |rtt_us| and |loss_ppm| are measurements; 0 for rtt_us
 * (or UINT32_MAX for loss_ppm) means "not measured, use the medium's default". Pure. */
uint32_t zhtp_route_link_cost(const zhtp_route_medium *m, uint32_t rtt_us, uint32_t loss_ppm);

typedef struct zhtp_router_config {
    const zhtp_mem *mem;         /* NULL: default allocator */
    zhtp_route_rng_fn rng;       /* required */
    zhtp_route_lookup_fn lookup; /* NULL: zhtp_router_next_hop_id answers ZHTP_ERR_NOTFOUND */
    void *user_data;             /* passed to rng and lookup */
    /* Period of the root's sequence number (tree refresh), ns. 0: 2 s. Every node sends one
     * announcement per neighbour per period; a silent neighbour expires after 6.5 periods and
     * a root whose sequence number stops advancing is dropped after 6 periods. */
    zhtp_time refresh_ns;
    /* Hysteresis of parent choice, in 1/256: a new parent must be this much cheaper than the
     * current one. 0: 32 (12.5 %). */
    uint32_t switch_margin_256;
} zhtp_router_config;

typedef struct zhtp_router zhtp_router;

/* Creates the router of node |self_id| (copied). |cfg| is copied. The node starts as the root
 * of its own one-node tree. Returns ZHTP_OK, ZHTP_ERR_INVAL (NULL argument or no rng) or
 * ZHTP_ERR_NOMEM. */
int zhtp_router_new(zhtp_router **out, const zhtp_router_config *cfg,
                    const uint8_t self_id[ZHTP_NODE_ID_LEN], zhtp_time now);
/* NULL is a no-op. */
void zhtp_router_free(zhtp_router *r);

/* A link to neighbour |nbr_id| came up (the session layer authenticated the peer). Several links
 * (of different media) may lead to one neighbour: the tree sees one neighbour, forwarding
 * spreads load over its links. |medium| is copied. Returns ZHTP_OK, ZHTP_ERR_EXISTS (link id
 * known), ZHTP_ERR_INVAL (nbr_id is self, NULL medium, too many neighbours) or ZHTP_ERR_NOMEM
 * (state as before). */
int zhtp_router_link_up(zhtp_router *r, zhtp_route_link_id link,
                        const uint8_t nbr_id[ZHTP_NODE_ID_LEN], const zhtp_route_medium *medium,
                        zhtp_time now);
/* New measurements for a link: RTT in us (0: unknown) and loss in ppm (UINT32_MAX: unknown).
 * Returns ZHTP_OK or ZHTP_ERR_NOTFOUND. */
int zhtp_router_link_update(zhtp_router *r, zhtp_route_link_id link, uint32_t rtt_us,
                            uint32_t loss_ppm, zhtp_time now);
/* The link went down (session closed, keepalive timed out). When it was the last link to the
 * neighbour, the neighbour is forgotten and the tree is repaired at once. Returns ZHTP_OK or
 * ZHTP_ERR_NOTFOUND. */
int zhtp_router_link_down(zhtp_router *r, zhtp_route_link_id link, zhtp_time now);

/* Processes one announcement received on |link|. |buf| is borrowed and untrusted. Returns
 * ZHTP_OK, ZHTP_ERR_NOTFOUND (unknown link), a decoder error (see zhtp_route_announce_decode;
 * the message is ignored, state unchanged) or ZHTP_ERR_NOMEM (state as before). */
ZHTP_NODISCARD int zhtp_router_recv(zhtp_router *r, zhtp_route_link_id link, const uint8_t *buf,
                                    size_t len, zhtp_time now);

/* The next announcement to send: writes it to |out| and its link to |*link| and returns its
 * length; ZHTP_ERR_AGAIN when nothing is pending; ZHTP_ERR_NOBUF when |out_cap| is too small
 * (nothing written, the message stays pending; ZHTP_ROUTE_ANNOUNCE_LEN(depth) is enough).
 * Drain it after every other call on the handle. */
zhtp_ssize zhtp_router_next_message(zhtp_router *r, zhtp_route_link_id *link, uint8_t *out,
                                    size_t out_cap, zhtp_time now);

/* When zhtp_router_tick must next run; ZHTP_TIME_NEVER when nothing is scheduled. */
zhtp_time zhtp_router_next_deadline(const zhtp_router *r);
/* Runs timers due at |now| (root refresh, neighbour expiry, root expiry). Returns ZHTP_OK. */
int zhtp_router_tick(zhtp_router *r, zhtp_time now);

/* A forwarding decision. */
typedef struct zhtp_route_hop {
    bool is_local;           /* the destination is this node: deliver, do not forward */
    zhtp_route_link_id link; /* when !is_local: send on this link */
} zhtp_route_hop;

/* Chooses the next hop towards coordinates |dest_ports[0..dest_depth)|.
 *
 * |dest_id| (may be NULL) is the destination's node id: with it, a destination that is a
 * neighbour is sent to directly, and coordinates that lead here but belong to another node
 * (stale after a tree change) give ZHTP_ERR_NOTFOUND instead of a wrong delivery.
 *
 * |bound| (may be NULL) is the loop-freedom bound the packet carries: the origin sets it to
 * ZHTP_ROUTE_BOUND_NONE, and every hop forwards only to a neighbour whose tree distance to the
 * destination is below both its own distance and *bound, then stores that distance in *bound.
 * The bound strictly decreases on every hop, so no packet ever takes more hops than its first
 * bound, even while neighbours hold stale coordinates.
 *
 * Returns ZHTP_OK (see |hop|), ZHTP_ERR_NOTFOUND (no neighbour closer: dead end or stale
 * coordinates; the caller drops or re-resolves) or ZHTP_ERR_INVAL. Mutates only the per-link
 * load-spreading counters. */
int zhtp_router_next_hop(zhtp_router *r, const uint16_t *dest_ports, size_t dest_depth,
                         const uint8_t *dest_id, uint32_t *bound, zhtp_route_hop *hop);
/* Same, resolving |dest_id| through the configured lookup. Returns also what lookup returns
 * (ZHTP_ERR_AGAIN, ZHTP_ERR_NOTFOUND). */
int zhtp_router_next_hop_id(zhtp_router *r, const uint8_t dest_id[ZHTP_NODE_ID_LEN],
                            uint32_t *bound, zhtp_route_hop *hop);

/* This node's coordinates, borrowed until the next mutating call on |r|; *depth gets the
 * length (0 at the root). */
const uint16_t *zhtp_router_coords(const zhtp_router *r, size_t *depth);
/* The root this node currently follows (itself when alone). */
void zhtp_router_root(const zhtp_router *r, uint8_t root_id[ZHTP_NODE_ID_LEN]);
/* The current parent's id; false when this node is the root. */
bool zhtp_router_parent(const zhtp_router *r, uint8_t parent_id[ZHTP_NODE_ID_LEN]);
/* This node's path cost to the root, cost units (saturating). */
uint32_t zhtp_router_root_cost(const zhtp_router *r);
/* Bytes currently allocated by this router through its zhtp_mem (its whole state). */
size_t zhtp_router_state_bytes(const zhtp_router *r);
/* Incremented on every change of root, parent or coordinates: lets drivers detect
 * convergence. */
uint64_t zhtp_router_changes(const zhtp_router *r);

/* What this router believes about one neighbour (for dashboards, tests, debugging). Pointers
 * are borrowed until the next mutating call on the router. */
typedef struct zhtp_route_nbr_info {
    const uint8_t *id;      /* ZHTP_NODE_ID_LEN bytes */
    const uint8_t *root_id; /* as announced; meaningless when !has_info */
    size_t depth;
    uint32_t root_seq;
    uint32_t root_cost; /* its announced cost to the root */
    uint32_t link_cost; /* cheapest link to it */
    uint16_t port;      /* the port this node gave it */
    size_t links;       /* links to it */
    bool has_info;      /* an announcement heard recently enough */
    bool is_parent;
    bool is_child; /* its path runs through this node */
} zhtp_route_nbr_info;

size_t zhtp_router_neighbour_count(const zhtp_router *r);
/* Returns ZHTP_OK or ZHTP_ERR_NOTFOUND (index out of range). */
int zhtp_router_neighbour_get(const zhtp_router *r, size_t index, zhtp_route_nbr_info *out);
/* Copies neighbour |index|'s announced coordinates (stored prefix-shared, hence a copy).
 * Returns ZHTP_OK, ZHTP_ERR_NOTFOUND or ZHTP_ERR_NOBUF (deeper than |cap|). */
int zhtp_router_neighbour_coords(const zhtp_router *r, size_t index, uint16_t *ports, size_t cap,
                                 size_t *depth);

/* Tree distance between two coordinate lists: hops from a up to their deepest common
 * ancestor and down to b. Pure. */
uint32_t zhtp_route_tree_distance(const uint16_t *a, size_t a_depth, const uint16_t *b,
                                  size_t b_depth);

/* --- announcement format (docs/routing.md, "Wire format"), big-endian ---------------------
 *  0  u8   type = ZHTP_ROUTE_MSG_ANNOUNCE
 *  1  u8   flags, must be 0
 *  2  32B  root id
 * 34  u32  root sequence number
 * 38  u32  sender's cost to the root
 * 42  u16  port the sender assigned to the receiver (1..65535)
 * 44  u16  depth n of the sender (<= ZHTP_ROUTE_MAX_DEPTH)
 * 46  n x { u16 port (1..65535), u32 tag }: hop i is the port that the ancestor at depth i-1
 *     gave the ancestor at depth i, and that ancestor's tag (first 4 bytes of its node id).
 * Length is exactly 46 + 6n. */
#define ZHTP_ROUTE_MSG_ANNOUNCE 0x01

typedef struct zhtp_route_announce {
    uint8_t root_id[ZHTP_NODE_ID_LEN];
    uint32_t root_seq;
    uint32_t cost;
    uint16_t your_port;
    uint16_t depth;
    uint16_t *ports; /* caller's arrays of at least |cap| entries */
    uint32_t *tags;
} zhtp_route_announce;

/* Pure decoder. |out->ports| and |out->tags| point to caller arrays of |cap| entries each
 * (may be NULL when cap is 0: then only the header is decoded and the depth checked).
 * Returns ZHTP_OK, ZHTP_ERR_WIRE_TRUNCATED, ZHTP_ERR_WIRE_OPERATION (type),
 * ZHTP_ERR_WIRE_RESERVED (flags), ZHTP_ERR_WIRE_FIELD (port 0, depth too large),
 * ZHTP_ERR_WIRE_LENGTH (trailing bytes) or ZHTP_ERR_NOBUF (depth > cap). */
ZHTP_NODISCARD int zhtp_route_announce_decode(const uint8_t *buf, size_t len,
                                              zhtp_route_announce *out, size_t cap);
/* Encoder: returns ZHTP_ROUTE_ANNOUNCE_LEN(a->depth), ZHTP_ERR_NOBUF or ZHTP_ERR_INVAL. */
zhtp_ssize zhtp_route_announce_encode(const zhtp_route_announce *a, uint8_t *out, size_t out_cap);

#ifdef __cplusplus
}
#endif
#endif
