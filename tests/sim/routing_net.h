/* A small discrete-event network of zhtp routers for tests and bench/routing: N real routers,
 * virtual links with per-medium latency, a virtual clock, an oracle for coordinate lookups,
 * and route walks that follow the routers' own forwarding decisions hop by hop.
 *
 * Deterministic: the same seed and the same calls give the same events in the same order (ties
 * in time are broken by insertion order). Not thread-safe. */
#ifndef ZHTP_TESTS_ROUTING_NET_H
#define ZHTP_TESTS_ROUTING_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/routing.h"

typedef struct rn_net rn_net;

typedef struct rn_edge {
    uint32_t a, b;
    zhtp_route_medium_kind kind;
    zhtp_time latency;
    uint32_t cost; /* zhtp_route_link_cost of the medium, for shortest-cost comparisons */
    bool is_up;
} rn_edge;

/* n routers with random ids drawn from |seed|, all created at time 0. |mem| NULL: default.
 * Returns NULL on allocation failure of the harness itself. */
rn_net *rn_new(uint32_t n, uint64_t seed, zhtp_time refresh_ns, const zhtp_mem *mem);
void rn_free(rn_net *net);

uint32_t rn_size(const rn_net *net);
zhtp_time rn_now(const rn_net *net);
zhtp_router *rn_router(rn_net *net, uint32_t v);
const uint8_t *rn_id(const rn_net *net, uint32_t v);
const rn_edge *rn_edge_get(const rn_net *net, uint32_t e);
uint32_t rn_edge_count(const rn_net *net);

/* A link between a and b at the current time (both routers get link_up). Latency 0: the
 * medium's default one-way latency. Returns the edge id (also the link id at both ends). */
uint32_t rn_add_edge(rn_net *net, uint32_t a, uint32_t b, zhtp_route_medium_kind kind,
                     zhtp_time latency);
/* The edge stops carrying messages now; both routers are told link_down after |detect_ns|
 * (the session layer's keepalive timeout; 0 = at once). */
void rn_cut_edge(rn_net *net, uint32_t e, zhtp_time detect_ns);
/* Node v dies now: all its edges are cut (neighbours learn after |detect_ns|), it processes
 * nothing more. */
void rn_kill_node(rn_net *net, uint32_t v, zhtp_time detect_ns);
bool rn_is_alive(const rn_net *net, uint32_t v);

/* Runs events until virtual time t (inclusive). */
void rn_run_until(rn_net *net, zhtp_time t);
/* The last time any router changed root, parent or coordinates. */
zhtp_time rn_last_change(const rn_net *net);
uint64_t rn_messages_sent(const rn_net *net);
uint64_t rn_bytes_sent(const rn_net *net);
/* Fraction of announcements dropped on every link, parts per million (seeded). */
void rn_set_loss(rn_net *net, uint32_t loss_ppm);

/* Walks a packet from src to dst through the routers' next_hop_id decisions (zero transit
 * time). */
typedef enum rn_walk_result {
    RN_DELIVERED = 0,
    RN_NOROUTE,  /* a router answered NOTFOUND */
    RN_BROKEN,   /* a router chose a link that is down but not yet reported down */
    RN_TOO_LONG, /* more than the hop limit */
    RN_WRONG,    /* delivered locally at a node that is not dst */
} rn_walk_result;

typedef struct rn_walk {
    rn_walk_result result;
    uint32_t hops;
    uint64_t cost;     /* sum of the chosen links' costs */
    uint32_t revisits; /* nodes entered more than once */
    uint32_t first_bound;
} rn_walk;

void rn_route(rn_net *net, uint32_t src, uint32_t dst, uint32_t hop_limit, rn_walk *w);

/* Hop distances from src over up edges among alive nodes (UINT32_MAX: unreachable). |dist|
 * has rn_size entries. */
void rn_bfs(const rn_net *net, uint32_t src, uint32_t *dist);
/* Least total link cost from src (UINT64_MAX: unreachable). */
void rn_dijkstra(const rn_net *net, uint32_t src, uint64_t *dist);

/* True when every alive node reachable from |v| follows the same root as v, that root is the
 * smallest id among them, and each has a parent except the root. */
bool rn_tree_consistent(rn_net *net, uint32_t v);

/* Topologies. Media: see routing_net.c. Return false on allocation failure. */
bool rn_build_line(rn_net *net, zhtp_route_medium_kind kind);
bool rn_build_grid(rn_net *net, uint32_t w, uint64_t seed);
/* Random geometric "city" in the unit square: every node has WiFi Direct with range r chosen
 * for a mean WiFi degree of |mean_degree| (pairs closer than 0.3 r also get a parallel BLE
 * link); |lora_ppm| of the nodes also carry LoRa, linking LoRa nodes within RN_LORA_RANGE * r;
 * |trunk_ppm| of the nodes are gateways with a UDP link to 3 random other gateways (internet
 * uplinks). Ranges are scaled: WiFi Direct ~200 m, LoRa here only 4x that (a real 15 km would
 * make the LoRa graph complete at city density). */
#define RN_LORA_RANGE 4.0
bool rn_build_rgg(rn_net *net, double mean_degree, uint32_t lora_ppm, uint32_t trunk_ppm,
                  uint64_t seed);
/* Connected random graph: a random tree plus |extra| random edges, random media. */
bool rn_build_random(rn_net *net, uint32_t extra, uint64_t seed);

/* Sum of zhtp_router_state_bytes over alive routers. */
size_t rn_state_bytes(const rn_net *net);

uint64_t rn_splitmix(uint64_t *state);

#endif
