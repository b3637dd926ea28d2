/* Put/get workloads on the DHT virtual network (see dht_net_workload.h). */
#include "dht_net_workload.h"

#include <stdlib.h>
#include <string.h>

/* Operations start in batches: this many, then BATCH_GAP of virtual time. The same pacing as
 * dht_bench and the unit tests, so their figures compare. */
#define BATCH     500
#define BATCH_GAP (100 * ZHTP_NS_PER_MS)
/* A phase waits for its operations in steps of this, at most PHASE_MAX (every lookup ends by
 * RPC timeouts long before that; whatever has not is reported as unfinished). */
#define PHASE_STEP (1 * ZHTP_NS_PER_SEC)
#define PHASE_MAX  (600 * ZHTP_NS_PER_SEC)

enum { G_PENDING = 0, G_DONE = 1 };

typedef struct wl_put {
    uint8_t key[32];
    uint8_t *val;
    uint32_t len, putter;
} wl_put;

typedef struct wl_get {
    uint32_t put, node;
    uint64_t op;
    uint8_t state;
} wl_get;

typedef struct wl {
    const dn_workload *w;
    dn_workload_result *r;
    dn_net *net;
    wl_put *puts;
    wl_get *gets;
    /* (node, op id) -> get index + 1, open addressing; 0 = empty. Completed entries stay
     * (op ids never repeat on a node), so no tombstones are needed. */
    uint32_t *map;
    size_t map_cap;
    /* the get being started right now: its event may come before dn_get returns (a local hit) */
    size_t starting;
    size_t put_done, get_done;
    int8_t *boot; /* per node: last bootstrap 1 ok, -1 failed, 0 none yet */
    uint32_t *hops, *rpcs;
    zhtp_time *lat;
    size_t n_ok_lookups, n_lookups;
    uint64_t rng;
} wl;

static uint64_t next_rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t below(uint64_t *s, size_t n)
{
    return (size_t)(next_rnd(s) % n);
}

static size_t map_slot(const wl *x, uint32_t node, uint64_t op)
{
    uint64_t h = (op * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)node * 0xc2b2ae3d27d4eb4full);
    return (size_t)((h ^ (h >> 29)) & (x->map_cap - 1));
}

static void map_put(wl *x, size_t gi)
{
    size_t j = map_slot(x, x->gets[gi].node, x->gets[gi].op);
    while (x->map[j])
        j = (j + 1) & (x->map_cap - 1);
    x->map[j] = (uint32_t)gi + 1;
}

static long map_find(const wl *x, uint32_t node, uint64_t op)
{
    for (size_t j = map_slot(x, node, op);; j = (j + 1) & (x->map_cap - 1)) {
        uint32_t v = x->map[j];
        if (!v)
            return -1;
        const wl_get *g = &x->gets[v - 1];
        if (g->node == node && g->op == op)
            return (long)v - 1;
    }
}

static void get_done(wl *x, size_t gi, const zhtp_dht_event *ev)
{
    wl_get *g = &x->gets[gi];
    dn_workload_result *r = x->r;
    if (g->state == G_DONE)
        return;
    g->state = G_DONE;
    x->get_done++;
    const wl_put *p = &x->puts[g->put];
    bool local = ev->status == ZHTP_OK && ev->rpcs == 0;
    if (local)
        r->local_hits++;
    else
        x->rpcs[x->n_lookups++] = ev->rpcs;
    switch (ev->status) {
    case ZHTP_OK:
        if (ev->len != p->len || memcmp(ev->value, p->val, p->len) != 0) {
            r->wrong_bytes++;
            return;
        }
        r->get_ok++;
        r->bytes_verified += p->len;
        if (!local) {
            x->hops[x->n_ok_lookups] = ev->hops;
            x->lat[x->n_ok_lookups++] = ev->latency;
        }
        return;
    case ZHTP_ERR_DHT_NOT_FOUND:
        r->get_not_found++;
        return;
    case ZHTP_ERR_DHT_TIMEOUT:
        r->get_timeout++;
        return;
    case ZHTP_ERR_DHT_VERIFY:
        r->get_verify++;
        return;
    default:
        r->get_other++;
    }
}

static void on_event(void *ud, size_t node, const zhtp_dht_event *ev)
{
    wl *x = ud;
    switch (ev->type) {
    case ZHTP_DHT_EV_BOOTSTRAP_DONE:
        x->boot[node] = ev->status == ZHTP_OK ? 1 : -1;
        return;
    case ZHTP_DHT_EV_PUT_DONE:
        x->put_done++;
        x->r->puts_ok += ev->status == ZHTP_OK;
        return;
    case ZHTP_DHT_EV_GET_DONE: {
        long gi = map_find(x, (uint32_t)node, ev->op);
        if (gi < 0 && x->starting != SIZE_MAX && x->gets[x->starting].node == node &&
            x->gets[x->starting].op == ev->op)
            gi = (long)x->starting;
        if (gi >= 0)
            get_done(x, (size_t)gi, ev);
        return;
    }
    default:
        return;
    }
}

/* A random honest node that has joined (its last bootstrap succeeded), other than |except|. */
static size_t pick_honest(wl *x, size_t except)
{
    size_t n = dn_size(x->net), v;
    do
        v = below(&x->rng, n);
    while (dn_behaviour(x->net, v) != DN_HONEST || x->boot[v] != 1 || v == except);
    return v;
}

static size_t count_joined(wl *x)
{
    size_t ok = 0;
    for (size_t i = 0; i < dn_size(x->net); i++)
        ok += dn_behaviour(x->net, i) == DN_HONEST && x->boot[i] == 1;
    return ok;
}

/* An honest node whose bootstrap failed (every contact it was given is an adversary that
 * drops everything) does what a real node does with a longer bootstrap list: asks other
 * nodes. Up to REJOIN_ROUNDS rounds of 3 new random contacts and a new bootstrap each. */
#define REJOIN_ROUNDS 3
static void rejoin(wl *x)
{
    size_t n = dn_size(x->net);
    for (int round = 0; round < REJOIN_ROUNDS; round++) {
        size_t started = 0;
        for (size_t i = 0; i < n; i++) {
            if (dn_behaviour(x->net, i) != DN_HONEST || x->boot[i] == 1)
                continue;
            for (int c = 0; c < 3; c++) {
                size_t j;
                do
                    j = below(&x->rng, n);
                while (j == i);
                dn_add_contact(x->net, i, j);
            }
            if (dn_bootstrap_node(x->net, i) == ZHTP_OK)
                started++;
        }
        if (!started)
            return;
        x->r->bootstrap_retries += started;
        dn_run(x->net, 30 * ZHTP_NS_PER_SEC);
    }
}

static void make_adversaries(wl *x)
{
    size_t n = dn_size(x->net);
    for (size_t i = 0; i < x->r->adversaries; i++) {
        size_t v;
        do
            v = below(&x->rng, n);
        while (dn_behaviour(x->net, v) != DN_HONEST);
        dn_set_behaviour(x->net, v, x->w->adversary);
    }
}

static void progress(const wl *x, const char *phase, size_t done, size_t total)
{
    if (x->w->progress)
        x->w->progress(x->w->progress_ud, phase, done, total);
}

/* Runs the network until |*done| reaches |want| (in PHASE_STEP steps, at most PHASE_MAX). */
static void wait_for(wl *x, const size_t *done, size_t want, const char *phase)
{
    for (zhtp_time t = 0; *done < want && t < PHASE_MAX; t += PHASE_STEP) {
        dn_run(x->net, PHASE_STEP);
        progress(x, phase, *done, want);
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_time(const void *a, const void *b)
{
    zhtp_time x = *(const zhtp_time *)a, y = *(const zhtp_time *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least pct % of the samples <= it. */
static size_t rank(size_t n, unsigned pct)
{
    size_t r = (n * pct + 99) / 100;
    return r ? r - 1 : 0;
}

static int validate(const dn_workload *w)
{
    if (w->nodes < 2 || w->nodes > (1u << 24) || w->k > ZHTP_DHT_K_MAX ||
        w->paths > ZHTP_DHT_PATHS_MAX || w->alpha > 64 || w->value_max > ZHTP_DHT_CHUNK_MAX ||
        (w->gets && !w->puts) || w->puts > (1u << 26) || w->gets > (1u << 26))
        return ZHTP_ERR_INVAL;
    if (w->adversary != DN_HONEST && w->adversary != DN_DROPPER && w->adversary != DN_COLLUDER &&
        w->adversary != DN_FORGER)
        return ZHTP_ERR_INVAL;
    if (!(w->adversary_fraction >= 0.0 && w->adversary_fraction < 1.0))
        return ZHTP_ERR_INVAL;
    return ZHTP_OK;
}

static void free_wl(wl *x)
{
    if (x->puts)
        for (size_t i = 0; i < x->w->puts; i++)
            free(x->puts[i].val);
    free(x->puts);
    free(x->gets);
    free(x->map);
    free(x->hops);
    free(x->rpcs);
    free(x->lat);
    free(x->boot);
    dn_free(x->net);
}

int dn_workload_run(const dn_workload *w, dn_workload_result *r)
{
    if (!w || !r || validate(w) != ZHTP_OK)
        return ZHTP_ERR_INVAL;
    memset(r, 0, sizeof *r);
    size_t adv =
        w->adversary == DN_HONEST ? 0 : (size_t)(w->adversary_fraction * (double)w->nodes + 0.5);
    if (w->nodes - adv < 2)
        return ZHTP_ERR_INVAL; /* a get needs an honest asker other than the putter */
    r->nodes = w->nodes;
    r->adversaries = adv;
    r->honest = w->nodes - adv;
    r->puts = w->puts;
    r->gets = w->gets;
    uint32_t vmax = w->value_max ? w->value_max : 256;

    wl x = {.w = w, .r = r, .starting = SIZE_MAX, .rng = w->seed * 0x2545f4914f6cdd1dull ^ 0xd47};
    x.puts = calloc(w->puts ? w->puts : 1, sizeof *x.puts);
    x.gets = calloc(w->gets ? w->gets : 1, sizeof *x.gets);
    x.map_cap = 2;
    while (x.map_cap < w->gets * 2 + 2)
        x.map_cap *= 2;
    x.map = calloc(x.map_cap, sizeof *x.map);
    x.hops = calloc(w->gets ? w->gets : 1, sizeof *x.hops);
    x.rpcs = calloc(w->gets ? w->gets : 1, sizeof *x.rpcs);
    x.lat = calloc(w->gets ? w->gets : 1, sizeof *x.lat);
    x.boot = calloc(w->nodes, sizeof *x.boot);
    dn_config c = {.n = w->nodes, .seed = w->seed, .k = w->k, .alpha = w->alpha, .paths = w->paths};
    if (x.puts && x.gets && x.map && x.hops && x.rpcs && x.lat && x.boot)
        x.net = dn_new(&c);
    if (!x.net) {
        free_wl(&x);
        return ZHTP_ERR_NOMEM;
    }
    dn_set_event_cb(x.net, on_event, &x);

    /* Bootstrap, with the adversaries hostile from the start (they also poison tables while
     * the network forms: the harder case) or only afterwards. */
    if (!w->adversary_late)
        make_adversaries(&x);
    progress(&x, "bootstrap", 0, w->nodes);
    dn_bootstrap(x.net);
    if (w->adversary_late)
        make_adversaries(&x);
    r->bootstrap_ok = count_joined(&x);
    rejoin(&x);
    r->joined = count_joined(&x);
    if (r->joined < 2) {
        free_wl(&x);
        return ZHTP_ERR_DHT_TIMEOUT; /* nobody to put or get: no network formed */
    }
    size_t tbl = 0;
    for (size_t i = 0; i < w->nodes; i++)
        if (dn_behaviour(x.net, i) == DN_HONEST)
            tbl += zhtp_dht_table_size(dn_dht(x.net, i));
    r->table_mean = (double)tbl / (double)r->honest;

    /* Puts. An asker at max_lookups gets ZHTP_ERR_SESSION_LIMIT: let time pass and retry. */
    int rc = ZHTP_OK;
    uint64_t m0 = dn_delivered(x.net);
    progress(&x, "put", 0, w->puts);
    for (size_t i = 0; i < w->puts; i++) {
        wl_put *p = &x.puts[i];
        p->len = 1 + (uint32_t)below(&x.rng, vmax);
        p->val = malloc(p->len);
        if (!p->val) {
            rc = ZHTP_ERR_NOMEM;
            goto out;
        }
        for (uint32_t j = 0; j < p->len; j++)
            p->val[j] = (uint8_t)next_rnd(&x.rng);
        p->putter = (uint32_t)pick_honest(&x, SIZE_MAX);
        while ((rc = dn_put(x.net, p->putter, p->val, p->len, p->key, NULL)) ==
               ZHTP_ERR_SESSION_LIMIT)
            dn_run(x.net, BATCH_GAP);
        if (rc != ZHTP_OK)
            goto out;
        if (i % BATCH == BATCH - 1) {
            dn_run(x.net, BATCH_GAP);
            progress(&x, "put", x.put_done, w->puts);
        }
    }
    wait_for(&x, &x.put_done, w->puts, "put");
    r->puts_unfinished = w->puts - x.put_done;
    uint64_t m1 = dn_delivered(x.net);
    r->msgs_per_put = w->puts ? (double)(m1 - m0) / (double)w->puts : 0.0;
    uint64_t held = 0;
    for (size_t i = 0; i < w->puts; i++)
        for (size_t j = 0; j < w->nodes; j++)
            held += dn_behaviour(x.net, j) == DN_HONEST &&
                    dn_holds(x.net, j, ZHTP_DHT_KIND_CHUNK, x.puts[i].key);
    r->holders_mean = w->puts ? (double)held / (double)w->puts : 0.0;

    /* Gets: key i % puts from an honest node other than its putter. */
    for (size_t i = 0; i < w->gets; i++) {
        wl_get *g = &x.gets[i];
        g->put = (uint32_t)(i % w->puts);
        g->node = (uint32_t)pick_honest(&x, x.puts[g->put].putter);
        x.starting = i;
        while ((rc = dn_get(x.net, g->node, x.puts[g->put].key, &g->op)) == ZHTP_ERR_SESSION_LIMIT)
            dn_run(x.net, BATCH_GAP);
        x.starting = SIZE_MAX;
        if (rc != ZHTP_OK)
            goto out;
        r->bytes_expected += x.puts[g->put].len;
        if (g->state != G_DONE)
            map_put(&x, i);
        if (i % BATCH == BATCH - 1) {
            dn_run(x.net, BATCH_GAP);
            progress(&x, "get", x.get_done, w->gets);
        }
    }
    wait_for(&x, &x.get_done, w->gets, "get");
    r->get_unfinished = w->gets - x.get_done;
    r->msgs_per_get = w->gets ? (double)(dn_delivered(x.net) - m1) / (double)w->gets : 0.0;

    r->lookup_success = w->gets ? (double)r->get_ok / (double)w->gets : 0.0;
    r->lookups = x.n_lookups;
    size_t n = x.n_ok_lookups;
    if (n) {
        qsort(x.hops, n, sizeof *x.hops, cmp_u32);
        qsort(x.lat, n, sizeof *x.lat, cmp_time);
        r->hops_p50 = x.hops[rank(n, 50)];
        r->hops_p99 = x.hops[rank(n, 99)];
        r->hops_max = x.hops[n - 1];
        r->ms_p50 = (double)x.lat[rank(n, 50)] / 1e6;
        r->ms_p99 = (double)x.lat[rank(n, 99)] / 1e6;
        r->ms_max = (double)x.lat[n - 1] / 1e6;
    }
    if (x.n_lookups) {
        uint64_t sum = 0;
        for (size_t i = 0; i < x.n_lookups; i++)
            sum += x.rpcs[i];
        qsort(x.rpcs, x.n_lookups, sizeof *x.rpcs, cmp_u32);
        r->rpcs_mean = (double)sum / (double)x.n_lookups;
        r->rpcs_p50 = x.rpcs[rank(x.n_lookups, 50)];
        r->rpcs_p99 = x.rpcs[rank(x.n_lookups, 99)];
    }
    r->timeouts = dn_stat_sum(x.net, offsetof(zhtp_dht_stats, timeouts));
    r->forged_rejected = dn_stat_sum(x.net, offsetof(zhtp_dht_stats, forged_chunks));
    r->virtual_s = (double)dn_now(x.net) / 1e9;
    rc = ZHTP_OK;
out:
    free_wl(&x);
    return rc;
}

const char *dn_workload_adversary_name(int adversary)
{
    switch (adversary) {
    case DN_DROPPER:
        return "drop";
    case DN_COLLUDER:
        return "collude";
    case DN_FORGER:
        return "forge";
    default:
        return "none";
    }
}

void dn_workload_json(const dn_workload *w, const dn_workload_result *r, FILE *f)
{
    const char *adv = dn_workload_adversary_name(r->adversaries ? w->adversary : DN_HONEST);
    fprintf(f, "{\n  \"mode\": \"dht\",\n  \"nodes\": %zu,\n  \"seed\": %llu,\n", r->nodes,
            (unsigned long long)w->seed);
    fprintf(f, "  \"k\": %u,\n  \"alpha\": %u,\n  \"disjoint\": %u,\n",
            w->k ? w->k : ZHTP_DHT_K_DEFAULT, w->alpha ? w->alpha : ZHTP_DHT_ALPHA_DEF,
            w->paths ? w->paths : 1);
    fprintf(f, "  \"adversary\": \"%s\",\n  \"adversary_fraction\": %.4f,\n", adv,
            r->adversaries ? w->adversary_fraction : 0.0);
    fprintf(f, "  \"adversary_nodes\": %zu,\n  \"adversary_from\": \"%s\",\n", r->adversaries,
            w->adversary_late ? "after_bootstrap" : "start");
    fprintf(f, "  \"honest_nodes\": %zu,\n  \"bootstrap_ok\": %zu,\n", r->honest, r->bootstrap_ok);
    fprintf(f, "  \"bootstrap_retries\": %zu,\n  \"joined\": %zu,\n  \"table_mean\": %.2f,\n",
            r->bootstrap_retries, r->joined, r->table_mean);
    fprintf(f, "  \"puts\": %zu,\n  \"puts_ok\": %zu,\n  \"puts_unfinished\": %zu,\n", r->puts,
            r->puts_ok, r->puts_unfinished);
    fprintf(f, "  \"holders_mean\": %.2f,\n", r->holders_mean);
    fprintf(f, "  \"gets\": %zu,\n  \"get_ok\": %zu,\n  \"get_not_found\": %zu,\n", r->gets,
            r->get_ok, r->get_not_found);
    fprintf(f, "  \"get_timeout\": %zu,\n  \"get_verify_failed\": %zu,\n  \"get_other\": %zu,\n",
            r->get_timeout, r->get_verify, r->get_other);
    fprintf(f, "  \"get_unfinished\": %zu,\n  \"wrong_bytes\": %zu,\n", r->get_unfinished,
            r->wrong_bytes);
    fprintf(f, "  \"bytes_expected\": %llu,\n  \"verified_bytes\": %llu,\n",
            (unsigned long long)r->bytes_expected, (unsigned long long)r->bytes_verified);
    if (r->gets) /* no gets: no success rate to speak of */
        fprintf(f, "  \"lookup_success\": %.6f,\n", r->lookup_success);
    else
        fprintf(f, "  \"lookup_success\": null,\n");
    fprintf(f, "  \"lookups\": %zu,\n  \"local_hits\": %zu,\n", r->lookups, r->local_hits);
    fprintf(f,
            "  \"lookup_hops_p50\": %u,\n  \"lookup_hops_p99\": %u,\n  \"lookup_hops_max\": %u,\n",
            r->hops_p50, r->hops_p99, r->hops_max);
    fprintf(f, "  \"lookup_rpcs_mean\": %.3f,\n  \"lookup_rpcs_p50\": %u,\n", r->rpcs_mean,
            r->rpcs_p50);
    fprintf(f, "  \"lookup_rpcs_p99\": %u,\n", r->rpcs_p99);
    fprintf(f,
            "  \"lookup_ms_p50\": %.3f,\n  \"lookup_ms_p99\": %.3f,\n  \"lookup_ms_max\": %.3f,\n",
            r->ms_p50, r->ms_p99, r->ms_max);
    fprintf(f, "  \"msgs_per_put\": %.2f,\n  \"msgs_per_get\": %.2f,\n", r->msgs_per_put,
            r->msgs_per_get);
    fprintf(f, "  \"timeouts\": %llu,\n  \"forged_rejected\": %llu,\n",
            (unsigned long long)r->timeouts, (unsigned long long)r->forged_rejected);
    fprintf(f, "  \"virtual_seconds\": %.3f\n}\n", r->virtual_s);
}

void dn_workload_text(const dn_workload *w, const dn_workload_result *r, FILE *f)
{
    fprintf(f, "DHT: %zu nodes, seed %llu, k %u, alpha %u, %u disjoint path%s\n", r->nodes,
            (unsigned long long)w->seed, w->k ? w->k : ZHTP_DHT_K_DEFAULT,
            w->alpha ? w->alpha : ZHTP_DHT_ALPHA_DEF, w->paths ? w->paths : 1,
            w->paths > 1 ? "s" : "");
    if (r->adversaries)
        fprintf(f, "adversaries: %zu %s (%.1f %%), hostile %s\n", r->adversaries,
                dn_workload_adversary_name(w->adversary), 100.0 * w->adversary_fraction,
                w->adversary_late ? "after bootstrap" : "from the start");
    else
        fprintf(f, "adversaries: none\n");
    fprintf(f,
            "bootstrap: %zu/%zu honest nodes joined (%zu at the first attempt, %zu retries), "
            "%.1f contacts per table\n",
            r->joined, r->honest, r->bootstrap_ok, r->bootstrap_retries, r->table_mean);
    fprintf(f, "puts: %zu/%zu acknowledged, %.1f honest holders per chunk, %.1f msgs per put\n",
            r->puts_ok, r->puts, r->holders_mean, r->msgs_per_put);
    fprintf(f, "gets: %zu/%zu verified (lookup_success %.4f), %llu/%llu bytes verified\n",
            r->get_ok, r->gets, r->lookup_success, (unsigned long long)r->bytes_verified,
            (unsigned long long)r->bytes_expected);
    if (r->get_ok < r->gets)
        fprintf(f,
                "failed gets: %zu not found, %zu timed out, %zu only forged answers, %zu "
                "other, %zu unfinished, %zu wrong bytes\n",
                r->get_not_found, r->get_timeout, r->get_verify, r->get_other, r->get_unfinished,
                r->wrong_bytes);
    fprintf(f, "lookups: %zu (%zu gets served from the asker's own store)\n", r->lookups,
            r->local_hits);
    if (!r->lookups)
        return;
    fprintf(f, "  hops    p50 %u  p99 %u  max %u\n", r->hops_p50, r->hops_p99, r->hops_max);
    fprintf(f, "  rpcs    mean %.2f  p50 %u  p99 %u\n", r->rpcs_mean, r->rpcs_p50, r->rpcs_p99);
    fprintf(f, "  latency p50 %.1f ms  p99 %.1f ms  max %.1f ms (virtual)\n", r->ms_p50, r->ms_p99,
            r->ms_max);
    fprintf(f, "messages per get %.1f, request timeouts %llu, forged chunks rejected %llu\n",
            r->msgs_per_get, (unsigned long long)r->timeouts,
            (unsigned long long)r->forged_rejected);
}
