/* core/dht measurements for docs/dht.md: lookup hops, RPCs per lookup and lookup latency on
 * the virtual network of src/sim/dht_net.c (latency model in dht_net.h).
 *
 *   dht_bench [--nodes N] [--pairs P] [--paths D] [--seed S] [--droppers PCT] [--colluders PCT]
 *             [--early]   (attackers misbehave from the start, bootstrap included)
 *             [--relay]   (gets are relayed fetches through a random honest node; hops and
 *                          RPCs are then the requester's own: 1 and 1)
 *
 * Bootstraps N nodes, puts P random chunks (1..256 bytes) from random honest nodes, then gets
 * each from another random honest node, and verifies every byte. Prints percentiles of the
 * GET lookups. Wall time is the machine's, everything else is virtual. */
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dht_net.h"

typedef struct agg {
    size_t n_keys;
    uint8_t (*keys)[32];
    uint8_t **vals;
    size_t *lens, *nodes;
    uint64_t *ops;
    size_t put_ok, put_done, get_ok, get_done, bad;
    uint32_t *hops, *rpcs;
    double *lat_ms;
    size_t n_samples;
} agg;

static void cb(void *ud, size_t node, const zhtp_dht_event *ev)
{
    agg *a = ud;
    if (ev->type == ZHTP_DHT_EV_PUT_DONE) {
        a->put_done++;
        a->put_ok += ev->status == ZHTP_OK;
        return;
    }
    if (ev->type != ZHTP_DHT_EV_GET_DONE && ev->type != ZHTP_DHT_EV_RELAY_GET_DONE)
        return;
    a->get_done++;
    for (size_t i = 0; i < a->n_keys; i++) {
        if (a->ops[i] != ev->op || a->nodes[i] != node)
            continue;
        a->ops[i] = 0;
        if (ev->status != ZHTP_OK)
            return;
        if (ev->len != a->lens[i] || memcmp(ev->value, a->vals[i], ev->len)) {
            a->bad++;
            return;
        }
        a->get_ok++;
        a->hops[a->n_samples] = ev->hops;
        a->rpcs[a->n_samples] = ev->rpcs;
        a->lat_ms[a->n_samples] = (double)ev->latency / 1e6;
        a->n_samples++;
        return;
    }
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}
static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static uint64_t s_rng = 0x1234;
static uint64_t rnd(void)
{
    uint64_t z = (s_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t nodes = 1000, pairs = 10000, drop_pct = 0, coll_pct = 0;
    uint32_t paths = 1;
    uint64_t seed = 1;
    int early = 0;
    bool relay = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--nodes") && i + 1 < argc)
            nodes = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--pairs") && i + 1 < argc)
            pairs = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--paths") && i + 1 < argc)
            paths = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--droppers") && i + 1 < argc)
            drop_pct = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--colluders") && i + 1 < argc)
            coll_pct = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--relay"))
            relay = true;
        else if (!strcmp(argv[i], "--early"))
            early = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--nodes N] [--pairs P] [--paths D] [--seed S] [--droppers PCT] "
                    "[--colluders PCT] [--early] [--relay]\n",
                    argv[0]);
            return 2;
        }
    }
    s_rng = seed * 7919;
    double t0 = wall();
    dn_config c = {.n = nodes, .seed = seed, .paths = paths};
    dn_net *net = dn_new(&c);
    if (!net)
        return 1;
    if (early) {
        for (size_t i = 0; i < nodes * (drop_pct + coll_pct) / 100; i++) {
            size_t v;
            do
                v = rnd() % nodes;
            while (dn_behaviour(net, v) != DN_HONEST);
            dn_set_behaviour(net, v, i < nodes * drop_pct / 100 ? DN_DROPPER : DN_COLLUDER);
        }
    }
    size_t bfail = dn_bootstrap(net);
    double t1 = wall();
    size_t tbl = 0;
    for (size_t i = 0; i < nodes; i++)
        tbl += zhtp_dht_table_size(dn_dht(net, i));
    if (!early) {
        for (size_t i = 0; i < nodes * (drop_pct + coll_pct) / 100; i++) {
            size_t v;
            do
                v = rnd() % nodes;
            while (dn_behaviour(net, v) != DN_HONEST);
            dn_set_behaviour(net, v, i < nodes * drop_pct / 100 ? DN_DROPPER : DN_COLLUDER);
        }
    }
    uint64_t msgs0 = dn_delivered(net);
    agg a = {.n_keys = pairs};
    a.keys = calloc(pairs, 32);
    a.vals = calloc(pairs, sizeof *a.vals);
    a.lens = calloc(pairs, sizeof *a.lens);
    a.nodes = calloc(pairs, sizeof *a.nodes);
    a.ops = calloc(pairs, sizeof *a.ops);
    a.hops = calloc(pairs, sizeof *a.hops);
    a.rpcs = calloc(pairs, sizeof *a.rpcs);
    a.lat_ms = calloc(pairs, sizeof *a.lat_ms);
    dn_set_event_cb(net, cb, &a);
    for (size_t i = 0; i < pairs; i++) {
        a.lens[i] = 1 + rnd() % 256;
        a.vals[i] = malloc(a.lens[i]);
        for (size_t j = 0; j < a.lens[i]; j++)
            a.vals[i][j] = (uint8_t)rnd();
        size_t who;
        do
            who = rnd() % nodes;
        while (dn_behaviour(net, who) != DN_HONEST);
        if (dn_put(net, who, a.vals[i], a.lens[i], a.keys[i], NULL) != ZHTP_OK)
            fprintf(stderr, "put %zu refused\n", i);
        if (i % 500 == 499)
            dn_run(net, 100 * ZHTP_NS_PER_MS);
    }
    dn_run(net, 30 * ZHTP_NS_PER_SEC);
    uint64_t msgs1 = dn_delivered(net);
    for (size_t i = 0; i < pairs; i++) {
        size_t who;
        do
            who = rnd() % nodes;
        while (dn_behaviour(net, who) != DN_HONEST);
        a.nodes[i] = who;
        size_t via = who;
        while (relay && (via == who || dn_behaviour(net, via) != DN_HONEST))
            via = rnd() % nodes;
        int grc = relay ? dn_relay_get(net, who, via, ZHTP_DHT_KIND_CHUNK, a.keys[i], &a.ops[i])
                        : dn_get(net, who, a.keys[i], &a.ops[i]);
        if (grc != ZHTP_OK)
            fprintf(stderr, "get %zu refused\n", i);
        if (i % 500 == 499)
            dn_run(net, 100 * ZHTP_NS_PER_MS);
    }
    dn_run(net, 30 * ZHTP_NS_PER_SEC);
    uint64_t msgs2 = dn_delivered(net);
    double t2 = wall();
    size_t n = a.n_samples;
    qsort(a.hops, n, sizeof *a.hops, cmp_u32);
    qsort(a.rpcs, n, sizeof *a.rpcs, cmp_u32);
    qsort(a.lat_ms, n, sizeof *a.lat_ms, cmp_d);
    double rsum = 0;
    for (size_t i = 0; i < n; i++)
        rsum += a.rpcs[i];
    printf("nodes %zu  pairs %zu  paths %u  seed %llu  droppers %zu%%  colluders %zu%%%s%s\n",
           nodes, pairs, paths, (unsigned long long)seed, drop_pct, coll_pct,
           early ? " (from the start)" : "", relay ? "  relayed gets" : "");
    printf("bootstrap: %zu refused, mean table size %.1f, %.2f s wall\n", bfail,
           (double)tbl / (double)nodes, t1 - t0);
    printf("puts ok %zu/%zu  gets verified %zu/%zu (%.4f)  wrong bytes %zu\n", a.put_ok, pairs,
           a.get_ok, pairs, (double)a.get_ok / (double)pairs, a.bad);
    if (n) {
        printf("get hops       p50 %u  p99 %u  max %u\n", a.hops[n / 2], a.hops[n * 99 / 100],
               a.hops[n - 1]);
        printf("get rpcs       p50 %u  p99 %u  mean %.2f\n", a.rpcs[n / 2], a.rpcs[n * 99 / 100],
               rsum / (double)n);
        printf("get latency ms p50 %.1f  p99 %.1f  max %.1f\n", a.lat_ms[n / 2],
               a.lat_ms[n * 99 / 100], a.lat_ms[n - 1]);
    }
    printf("messages: %.1f per put (incl. replies and STOREs), %.1f per get\n",
           (double)(msgs1 - msgs0) / (double)pairs, (double)(msgs2 - msgs1) / (double)pairs);
    printf("forged chunks %llu  timeouts %llu\n",
           (unsigned long long)dn_stat_sum(net, offsetof(zhtp_dht_stats, forged_chunks)),
           (unsigned long long)dn_stat_sum(net, offsetof(zhtp_dht_stats, timeouts)));
    printf("wall: put+get phase %.2f s\n", t2 - t1);
    for (size_t i = 0; i < pairs; i++)
        free(a.vals[i]);
    free(a.keys);
    free(a.vals);
    free(a.lens);
    free(a.nodes);
    free(a.ops);
    free(a.hops);
    free(a.rpcs);
    free(a.lat_ms);
    dn_free(net);
    return a.get_ok == pairs ? 0 : 1;
}
