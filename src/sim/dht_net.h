/* In-process harness for core/dht: many DHT instances exchanging messages through a virtual
 * network with a latency model and a virtual clock. Seeded and deterministic: the same config
 * gives the same trace. Part of the simulator library (src/sim/meson.build, zhtp_dht_net_dep);
 * used by tests/unit/dht/, bench/dht/dht_bench.c and `zhtp-sim --dht` (dht_net_workload.h).
 * Like the rest of src/sim it uses the system allocator for its own state.
 *
 * Latency model (docs/dht.md): every node sits at a random point of the unit square; a message
 * takes 5 ms + 40 ms * euclidean distance + uniform jitter in [0, 2 ms); processing is free.
 *
 * Behaviours: HONEST; DROPPER (once attacks are on, drops every message it receives); COLLUDER
 * (once attacks are on, answers FIND_NODE / FIND_VALUE with the k colluders closest to the
 * target, never a value, and acknowledges STOREs it throws away); FORGER (answers FIND_VALUE
 * with bytes that do not hash to the key); DEAD (killed: receives nothing); TAMPERER (honest,
 * but flips one byte of every sealed box in the RELAY_RESULTs it sends). */
#ifndef ZHTP_SIM_DHT_NET_H
#define ZHTP_SIM_DHT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/dht.h"

enum { DN_HONEST = 0, DN_DROPPER, DN_COLLUDER, DN_FORGER, DN_DEAD, DN_TAMPERER };

typedef struct dn_config {
    size_t n;
    uint64_t seed;
    uint32_t k, alpha, paths, puzzle_bits;
    zhtp_time rpc_timeout, republish_interval, refresh_interval;
    size_t store_quota; /* bytes per node; 0: unlimited */
    uint32_t contacts;  /* bootstrap contacts per node; 0: 3 */
    zhtp_time relay_timeout;
    uint32_t max_relays;
    const zhtp_mem *mem; /* allocator of every DHT instance; NULL: default */
} dn_config;

typedef struct dn_net dn_net;

/* Called for every completion event, with the node index; ev is borrowed for the call. */
typedef void (*dn_event_fn)(void *ud, size_t node, const zhtp_dht_event *ev);

dn_net *dn_new(const dn_config *cfg);
void dn_free(dn_net *net);
void dn_set_event_cb(dn_net *net, dn_event_fn fn, void *ud);
/* Gives each node a few contacts among earlier nodes, starts every bootstrap, runs 60 virtual
 * seconds. Returns the number of bootstraps that did not end ZHTP_OK. */
size_t dn_bootstrap(dn_net *net);
/* Starts one more bootstrap (a self-lookup) at node i now, e.g. after dn_add_contact gave a
 * node whose first bootstrap failed new contacts. Returns zhtp_dht_bootstrap's result. */
int dn_bootstrap_node(dn_net *net, size_t i);
/* Processes every event up to now + dur. */
void dn_run(dn_net *net, zhtp_time dur);
zhtp_time dn_now(const dn_net *net);

size_t dn_size(const dn_net *net);
zhtp_dht *dn_dht(dn_net *net, size_t i);
const uint8_t *dn_id(const dn_net *net, size_t i);
void dn_set_behaviour(dn_net *net, size_t i, int behaviour);
int dn_behaviour(const dn_net *net, size_t i);
/* Calls an operation on node i and then drains its messages and events (use these instead of
 * calling the dht directly so the harness sees the messages). */
int dn_put(dn_net *net, size_t i, const uint8_t *bytes, size_t len, uint8_t key[32], uint64_t *op);
int dn_get(dn_net *net, size_t i, const uint8_t key[32], uint64_t *op);
int dn_publish(dn_net *net, size_t i, const uint8_t *rec, size_t len, uint64_t *op);
int dn_resolve(dn_net *net, size_t i, const uint8_t key[32], uint64_t *op);
int dn_put_content(dn_net *net, size_t i, const uint8_t *bytes, size_t len, uint32_t chunk_size,
                   uint8_t root[32], uint64_t *op);
int dn_get_content(dn_net *net, size_t i, const uint8_t root[32], uint64_t *op);
/* Injects raw message bytes from node `from` to node `to` (delivered after the latency). */
void dn_inject(dn_net *net, size_t from, size_t to, const uint8_t *buf, size_t len);
/* Whether node i's store holds (kind, key). */
bool dn_holds(dn_net *net, size_t i, uint8_t kind, const uint8_t key[32]);
/* Sum of a stats field over all nodes (offsetof into zhtp_dht_stats). */
uint64_t dn_stat_sum(dn_net *net, size_t field_offset);
/* Relayed fetch by node i through node relay (zhtp_dht_relay_get). */
int dn_relay_get(dn_net *net, size_t i, size_t relay, uint8_t kind, const uint8_t key[32],
                 uint64_t *op);
/* Called with every message delivered to a live node, before it sees it (tests of who sees
 * which bytes). buf is borrowed for the call. */
typedef void (*dn_tap_fn)(void *ud, size_t from, size_t to, const uint8_t *buf, size_t len);
void dn_set_tap(dn_net *net, dn_tap_fn fn, void *ud);
/* Restarts node i: a new DHT instance with the same id and an empty table, backed by ops
 * (NULL: its in-memory store). Its old pending work is lost, as in a crash. */
int dn_restart(dn_net *net, size_t i, const zhtp_dht_store_ops *ops);
int dn_add_contact(dn_net *net, size_t i, size_t j);
/* Messages delivered so far. */
uint64_t dn_delivered(const dn_net *net);

/* A zhtp_dht_store_ops backed by a hash table in memory, with an optional byte quota. */
typedef struct dn_store dn_store;
dn_store *dn_store_new(size_t quota);
void dn_store_free(dn_store *s);
zhtp_dht_store_ops dn_store_ops(dn_store *s);
/* Overwrites the stored bytes of an entry in place (tests of corrupted storage). */
bool dn_store_corrupt(dn_store *s, uint8_t kind, const uint8_t key[32]);
dn_store *dn_node_store(dn_net *net, size_t i);

/* Deterministic rng for the DHT instances: a splitmix64 stream per node. */
void dn_rng(void *ud, uint8_t *out, size_t len);

#endif
