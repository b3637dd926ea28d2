/* Put/get workloads on the DHT virtual network (dht_net.h): what `zhtp-sim --dht` runs.
 *
 * One run: build |nodes| DHT instances, turn a fraction of them into adversaries (before the
 * network bootstraps, or after it with |adversary_late|), bootstrap, put |puts| random chunks
 * (1..value_max bytes) from random honest nodes that joined, wait for every put to finish, then get
 * |gets| keys (key i % puts) from random honest nodes other than the key's putter, and compare
 * every returned byte with what was put. Operations start 500 at a time, 100 ms of virtual
 * time apart. An honest node whose bootstrap failed (with droppers from the start: every contact
 * it was given drops) gets 3 new random contacts and bootstraps again, up to 3 times, as a real
 * node would work down a longer bootstrap list; one that still has not joined neither puts nor
 * gets (counted: joined < honest). Everything is seeded: the same workload gives the same result,
 * field for field.
 *
 * Definitions (docs/node.md "zhtp-sim --dht"):
 * - lookup_success = gets that returned exactly the bytes put / gets.
 * - A get served from the asker's own store (it is one of the key's holders) runs no lookup:
 *   it counts for success but is left out of the lookup statistics (local_hits).
 * - hops: the lookup depth of the node that returned the value (zhtp_dht_event.hops): 1 = a
 *   contact of the asker's own table, +1 for each NODES referral in the chain that led to it.
 * - rpcs: requests the get sent (zhtp_dht_event.rpcs), over every get that ran a lookup,
 *   successful or not.
 * - ms: virtual time from the get call to its completion event, under the harness's latency
 *   model; hops and ms percentiles are over successful lookups (a failed one has no answer).
 * - Percentiles are nearest-rank: the smallest sample with at least p % of samples <= it. */
#ifndef ZHTP_SIM_DHT_NET_WORKLOAD_H
#define ZHTP_SIM_DHT_NET_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dht_net.h"

typedef struct dn_workload {
    size_t nodes; /* >= 2 */
    uint64_t seed;
    uint32_t k, alpha, paths;  /* 0: the DHT defaults (20, 3, 1) */
    size_t puts, gets;         /* gets > 0 needs puts > 0 */
    int adversary;             /* DN_HONEST (none), DN_DROPPER, DN_COLLUDER or DN_FORGER */
    double adversary_fraction; /* of the nodes, rounded to nearest; 0 <= f < 1 */
    bool adversary_late;       /* hostile only after bootstrap (default: from the start) */
    uint32_t value_max;        /* chunk sizes uniform in 1..value_max; 0: 256 */
    /* Optional: called now and then with a phase name and progress in it. */
    void (*progress)(void *ud, const char *phase, size_t done, size_t total);
    void *progress_ud;
} dn_workload;

typedef struct dn_workload_result {
    size_t nodes, adversaries, honest;
    size_t bootstrap_ok;      /* honest nodes whose first bootstrap ended ZHTP_OK */
    size_t bootstrap_retries; /* bootstraps restarted with new contacts (see "joined") */
    size_t joined;            /* honest nodes joined at the end: the only putters and askers */
    double table_mean;        /* contacts per honest node's table after bootstrap */
    size_t puts, puts_ok, puts_unfinished;
    double holders_mean; /* honest nodes holding each put chunk once the puts are done */
    size_t gets, get_ok, get_not_found, get_timeout, get_verify, get_other, get_unfinished;
    size_t wrong_bytes; /* gets that reported success with bytes other than those put */
    uint64_t bytes_expected, bytes_verified;
    double lookup_success;
    size_t local_hits, lookups; /* lookups: gets that ran a lookup (succeeded or not) */
    uint32_t hops_p50, hops_p99, hops_max;
    double rpcs_mean;
    uint32_t rpcs_p50, rpcs_p99;
    double ms_p50, ms_p99, ms_max;
    double msgs_per_put, msgs_per_get; /* delivered messages during each phase / count */
    uint64_t timeouts;                 /* unanswered requests, all nodes, whole run */
    uint64_t forged_rejected;          /* chunks not hashing to their key, all nodes */
    double virtual_s;                  /* virtual time at the end */
} dn_workload_result;

/* Runs the workload. Returns ZHTP_OK (r filled in, whatever the success rate), ZHTP_ERR_INVAL
 * (a field out of range), ZHTP_ERR_DHT_TIMEOUT (fewer than 2 honest nodes joined: no network
 * to measure) or ZHTP_ERR_NOMEM. */
int dn_workload_run(const dn_workload *w, dn_workload_result *r);

/* "none", "drop", "collude" or "forge". */
const char *dn_workload_adversary_name(int adversary);

/* One JSON object (deterministic: no wall-clock value), or a human-readable summary. */
void dn_workload_json(const dn_workload *w, const dn_workload_result *r, FILE *f);
void dn_workload_text(const dn_workload *w, const dn_workload_result *r, FILE *f);

#endif
