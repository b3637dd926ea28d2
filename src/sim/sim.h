/* zhtp-sim engine: a deterministic discrete-event driver running N real node cores
 * (include/zhtp/node.h) in one process over virtual links, with a virtual clock.
 *
 * Each node gets its own seeded RNG, its own counting allocator (bytes now and peak, and an
 * optional "fail allocation N" switch) and an identity derived from the seed. Links are
 * point-to-point with latency, bandwidth (serialisation per direction), loss and MTU. Events
 * at equal times run in insertion order, so the same configuration gives the same trace.
 *
 * Coordinates lookup: by default every node's lookup callback is an oracle that reads the
 * destination node's current coordinates straight from the simulator. With cfg.dht each node
 * runs its own DHT (an in-memory store per node) and no oracle: destinations are found by the
 * locator blocks of packets and by DHT lookups over the mesh, as on a real network.
 *
 * Not thread-safe. Uses the system allocator for its own state (only node memory is counted). */
#ifndef ZHTP_SIM_H
#define ZHTP_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "zhtp/node.h"

typedef enum zsim_topology { ZSIM_LINE, ZSIM_GRID, ZSIM_RANDOM } zsim_topology;

/* Media choice per link: a zhtp_route_medium_kind, or ZSIM_MEDIA_MIXED (seeded choice). */
#define ZSIM_MEDIA_MIXED (-1)

typedef struct zsim_config {
    zsim_topology topology;
    uint32_t n;      /* LINE, RANDOM: nodes */
    uint32_t w, h;   /* GRID */
    uint32_t degree; /* RANDOM: mean degree (>= 2) */
    uint64_t seed;
    uint32_t loss_ppm;  /* per frame, every link */
    int media;          /* zhtp_route_medium_kind or ZSIM_MEDIA_MIXED */
    uint32_t messages;  /* application messages between random pairs */
    uint32_t msg_size;  /* bytes each; 0: 64 */
    bool unreliable;    /* send without ZHTP_NODE_SEND_RELIABLE */
    zhtp_time warmup;   /* first message at this time; 0: 15 s */
    zhtp_time spread;   /* messages spread evenly over this; 0: 10 s */
    zhtp_time max_time; /* hard stop; 0: warmup + spread + 300 s */
    zhtp_time cut_at;   /* 0: none. Cuts one link incident to the tree root */
    zhtp_time kill_at;  /* 0: none. Kills one seeded-random node */
    bool progress;      /* progress lines to stderr */
    bool plaintext;     /* nodes without sessions (zhtp_node_config.insecure_plaintext) */
    bool dht;           /* a DHT per node, no coordinate oracle (docs/routing.md "Locators") */
    uint32_t dht_k;     /* with dht: bucket size and replication (0: the DHT's default 20) */
} zsim_config;

typedef struct zsim zsim;

typedef struct zsim_result {
    uint32_t nodes, edges;
    uint64_t messages_sent, messages_delivered, messages_acked, messages_failed;
    uint64_t messages_excluded; /* source or destination killed or disconnected */
    uint32_t hops_p50, hops_p99;
    double stretch_mean;
    double reroute_ms; /* < 0: no cut/kill requested */
    uint64_t bytes_on_wire, frames_on_wire, frames_lost;
    uint64_t frames_queue_dropped;   /* of frames_lost: transmit queue over 2 s of airtime */
    size_t peak_bytes_per_node;      /* max over nodes of each node's peak */
    double mean_peak_bytes_per_node; /* mean over nodes */
    double mean_bytes_per_node_end;  /* mean over nodes of bytes held when the run ended */
    uint64_t events, wakeups, busy_wakeups;
    uint64_t rx_bad, drop_no_route, drop_hop_limit, retransmits, duplicates;
    uint64_t drop_route_bound; /* DATA dropped by forwarders: loop-freedom bound unmet */
    uint64_t rx_compressed;    /* compressed-header packets received */
    uint64_t tx_superseded;    /* queued handshake frames dropped for a newer attempt */
    /* DATA packets put on links and their summed overhead (packet minus DATA body), by
     * header form: compressed (narrow links: LoRa, BLE) and full (UDP, WiFi Direct, ...). */
    uint64_t data_tx_compressed, data_tx_compressed_overhead;
    uint64_t data_tx_full, data_tx_full_overhead;
    uint64_t trace_digest;
    zhtp_time end_time;
} zsim_result;

/* Builds the network. Returns 0, ZHTP_ERR_INVAL (bad config) or ZHTP_ERR_NOMEM. */
int zsim_new(zsim **out, const zsim_config *cfg);
void zsim_free(zsim *s);

/* Runs until every message is resolved (delivered/acked/failed) after the last send, or
 * max_time. */
void zsim_run(zsim *s);
/* Runs events up to virtual time t. */
void zsim_run_until(zsim *s, zhtp_time t);

void zsim_result_get(const zsim *s, zsim_result *r);
/* Writes the JSON summary (deterministic: no wall-clock values). */
void zsim_result_json(const zsim_result *r, const zsim_config *cfg, FILE *f);

/* Scenario controls for tests. */
uint32_t zsim_node_count(const zsim *s);
zhtp_node *zsim_node(zsim *s, uint32_t i);
/* Node i's allocator: fail the |nth| next allocation (1 = the next one); 0 disables. */
void zsim_fail_alloc(zsim *s, uint32_t i, uint64_t nth);
size_t zsim_node_bytes(const zsim *s, uint32_t i);
/* The edge between a and b (UINT32_MAX: none). */
uint32_t zsim_edge_find(const zsim *s, uint32_t a, uint32_t b);
/* Cuts edge e at time t (frames stop at once; the nodes notice by missing beacons). */
void zsim_cut_edge_at(zsim *s, uint32_t e, zhtp_time t);
/* Queues one message from a to b at time t. Returns the message index i; its body byte k is
 * (uint8_t)(i + k). */
uint32_t zsim_send_at(zsim *s, uint32_t a, uint32_t b, zhtp_time t, uint32_t size, bool reliable);
/* Message i: delivered? hops taken (0 if not). */
bool zsim_message_delivered(const zsim *s, uint32_t i, uint32_t *hops);
/* Edges used by frames of message-carrying DATA are not tracked; instead this counts frames
 * that crossed edge e so far. */
uint64_t zsim_edge_frames(const zsim *s, uint32_t e);
/* Per-node wakeups (ticks run) so far. */
uint64_t zsim_node_wakeups(const zsim *s, uint32_t i);
/* Called for every frame put on a link (before loss), with the sending node and the bytes
 * (valid during the call). NULL removes it. */
typedef void (*zsim_frame_hook)(void *ud, uint32_t from, uint32_t to, const uint8_t *frame,
                                size_t len);
void zsim_set_frame_hook(zsim *s, zsim_frame_hook hook, void *ud);
/* The current virtual time. */
zhtp_time zsim_now(const zsim *s);
/* After a test called into node i directly (e.g. zhtp_dht_put on zhtp_node_dht(zsim_node(s,
 * i)) with zsim_now): drains what the node queued onto the links and re-arms its timer. */
void zsim_service(zsim *s, uint32_t i);
/* Kills node i at time t (it stops sending and receiving). */
void zsim_kill_at(zsim *s, uint32_t i, zhtp_time t);
/* A 64-bit digest of every event processed (time, kind, node, bytes): the trace. */
uint64_t zsim_trace_digest(const zsim *s);

#endif
