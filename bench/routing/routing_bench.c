/* Routing measurements for docs/routing.md: convergence, stretch, hops, reroute time after a
 * cut, announcement traffic and bytes of router state per node, on random geometric "city"
 * graphs run by the discrete-event harness (tests/sim/routing_net.c) with the real routers.
 *
 *   routing_bench [--nodes N] [--degree D] [--lora-ppm P] [--trunk-ppm P] [--seed S]
 *                 [--pairs K] [--cuts C] [--detect-ms M] [--refresh-ms R]
 *
 * Prints one "key value" line per measurement. Deterministic for a given set of flags. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routing_net.h"

#define MS  ZHTP_NS_PER_MS
#define SEC ZHTP_NS_PER_SEC

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static double mean(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return n ? s / (double)n : 0;
}

static uint32_t root_of(rn_net *net)
{
    /* the node with the smallest id in the largest component is the root of most nodes */
    uint8_t root[ZHTP_NODE_ID_LEN];
    uint32_t best = 0;
    uint32_t n = rn_size(net);
    uint32_t *votes = calloc(n, sizeof *votes);
    for (uint32_t v = 0; v < n; v++) {
        zhtp_router_root(rn_router(net, v), root);
        for (uint32_t u = 0; u < n; u++)
            if (rn_id(net, u)[0] == root[0] && memcmp(rn_id(net, u), root, 32) == 0) {
                votes[u]++;
                break;
            }
    }
    for (uint32_t u = 0; u < n; u++)
        if (votes[u] > votes[best])
            best = u;
    free(votes);
    return best;
}

static uint32_t parent_edge(rn_net *net, uint32_t v, bool *found)
{
    uint8_t parent[32];
    *found = false;
    if (!zhtp_router_parent(rn_router(net, v), parent))
        return 0;
    for (uint32_t e = 0; e < rn_edge_count(net); e++) {
        const rn_edge *ed = rn_edge_get(net, e);
        if (!ed->is_up || (ed->a != v && ed->b != v))
            continue;
        uint32_t o = ed->a == v ? ed->b : ed->a;
        if (memcmp(rn_id(net, o), parent, 32) == 0) {
            *found = true;
            return e;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint32_t nodes = 1000, pairs = 4000, cuts = 20, lora_ppm = 100000, trunk_ppm = 0;
    double degree = 8.0;
    uint64_t seed = 1;
    uint64_t detect_ms = 0, refresh_ms = 2000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !v) {
            fprintf(stderr,
                    "usage: %s [--nodes N] [--degree D] [--lora-ppm P] [--trunk-ppm P] "
                    "[--seed S] [--pairs K] [--cuts C] [--detect-ms M] [--refresh-ms R]\n",
                    argv[0]);
            return 2;
        }
        i++;
        if (!strcmp(a, "--nodes"))
            nodes = (uint32_t)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--degree"))
            degree = strtod(v, NULL);
        else if (!strcmp(a, "--lora-ppm"))
            lora_ppm = (uint32_t)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--trunk-ppm"))
            trunk_ppm = (uint32_t)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--seed"))
            seed = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--pairs"))
            pairs = (uint32_t)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--cuts"))
            cuts = (uint32_t)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--detect-ms"))
            detect_ms = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--refresh-ms"))
            refresh_ms = strtoull(v, NULL, 0);
        else {
            fprintf(stderr, "unknown flag %s\n", a);
            return 2;
        }
    }
    zhtp_time refresh = refresh_ms * MS;
    printf("nodes %u\ndegree_target %.1f\nlora_ppm %u\ntrunk_ppm %u\nseed %llu\nrefresh_ms "
           "%llu\n",
           nodes, degree, lora_ppm, trunk_ppm, (unsigned long long)seed,
           (unsigned long long)refresh_ms);
    rn_net *net = rn_new(nodes, seed, refresh, NULL);
    if (!net || !rn_build_rgg(net, degree, lora_ppm, trunk_ppm, seed)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    printf("edges %u\n", rn_edge_count(net));

    /* Convergence: everything starts at t = 0; run until no router changed for 5 refresh
     * periods. */
    zhtp_time t = 0;
    do {
        t += refresh;
        rn_run_until(net, t);
    } while (rn_last_change(net) + 5 * refresh > t && t < 600 * SEC);
    printf("converged_ms %.1f\n", (double)rn_last_change(net) / MS);
    uint32_t root = root_of(net);
    printf("tree_consistent %d\n", rn_tree_consistent(net, root));

    /* Steady-state traffic over 10 periods. */
    uint64_t m0 = rn_messages_sent(net), b0 = rn_bytes_sent(net);
    rn_run_until(net, t + 10 * refresh);
    t += 10 * refresh;
    double secs = 10.0 * (double)refresh / SEC;
    printf("announce_msgs_per_node_per_s %.2f\nannounce_bytes_per_node_per_s %.1f\n",
           (double)(rn_messages_sent(net) - m0) / nodes / secs,
           (double)(rn_bytes_sent(net) - b0) / nodes / secs);

    /* State per node. */
    double *bytes = malloc(nodes * sizeof(double));
    double dsum = 0, nsum = 0, dmax = 0, held_sum = 0, trie_sum = 0;
    for (uint32_t v = 0; v < nodes; v++) {
        zhtp_router *r = rn_router(net, v);
        bytes[v] = (double)zhtp_router_state_bytes(r);
        size_t d;
        zhtp_router_coords(r, &d);
        dsum += (double)d;
        if (d > dmax)
            dmax = (double)d;
        nsum += (double)zhtp_router_neighbour_count(r);
        /* Path entries a router would hold storing every neighbour's path in full, and how
         * many distinct prefixes they form (a per-router trie); the router itself stores them
         * against a reference path (docs/routing.md, "State"). */
        const uint16_t *own = zhtp_router_coords(r, &d);
        size_t nn = zhtp_router_neighbour_count(r);
        size_t held = d, trie = d;
        uint16_t *nc = malloc((nn ? nn : 1) * ZHTP_ROUTE_MAX_DEPTH * sizeof *nc);
        size_t *nd = malloc((nn ? nn : 1) * sizeof *nd);
        for (size_t i = 0; i < nn; i++) {
            uint16_t *ci = nc + i * ZHTP_ROUTE_MAX_DEPTH;
            zhtp_router_neighbour_coords(r, i, ci, ZHTP_ROUTE_MAX_DEPTH, &nd[i]);
            held += nd[i];
            size_t best = 0, l = 0;
            while (l < d && l < nd[i] && own[l] == ci[l])
                l++;
            best = l;
            for (size_t j = 0; j < i; j++) {
                const uint16_t *cj = nc + j * ZHTP_ROUTE_MAX_DEPTH;
                l = 0;
                while (l < nd[j] && l < nd[i] && cj[l] == ci[l])
                    l++;
                if (l > best)
                    best = l;
            }
            trie += nd[i] - best;
        }
        free(nc);
        free(nd);
        held_sum += (double)held;
        trie_sum += (double)trie;
    }
    printf("path_entries_held_mean %.1f\npath_trie_nodes_mean %.1f\n", held_sum / nodes,
           trie_sum / nodes);
    printf("depth_mean %.2f\ndepth_max %.0f\nneighbours_mean %.2f\n", dsum / nodes, dmax,
           nsum / nodes);
    printf("state_bytes_mean %.0f\n", mean(bytes, nodes));
    printf("state_bytes_p99 %.0f\nstate_bytes_max %.0f\n", pct(bytes, nodes, 0.99),
           pct(bytes, nodes, 1.0));

    /* Route quality over sampled pairs: sources at random, each to 20 random reachable
     * destinations, compared with BFS fewest hops and Dijkstra least cost. */
    uint64_t s = seed ^ 0x5eed;
    uint32_t per_src = 20, nsrc = (pairs + per_src - 1) / per_src;
    double *hs = malloc((size_t)nsrc * per_src * sizeof(double));
    double *cs = malloc((size_t)nsrc * per_src * sizeof(double));
    double *hops = malloc((size_t)nsrc * per_src * sizeof(double));
    uint32_t *dist = malloc(nodes * sizeof(uint32_t));
    uint64_t *cdist = malloc(nodes * sizeof(uint64_t));
    size_t np = 0;
    unsigned delivered = 0, tried = 0, revisits = 0, over_bound = 0;
    for (uint32_t k = 0; k < nsrc; k++) {
        uint32_t src = (uint32_t)(rn_splitmix(&s) % nodes);
        rn_bfs(net, src, dist);
        rn_dijkstra(net, src, cdist);
        for (uint32_t j = 0, guard = 0; j < per_src && guard < 100 * per_src; guard++) {
            uint32_t dst = (uint32_t)(rn_splitmix(&s) % nodes);
            if (dst == src || dist[dst] == UINT32_MAX)
                continue;
            j++;
            rn_walk w;
            rn_route(net, src, dst, 4 * ZHTP_ROUTE_MAX_DEPTH, &w);
            tried++;
            revisits += w.revisits;
            over_bound += w.hops > w.first_bound + 1;
            if (w.result != RN_DELIVERED)
                continue;
            delivered++;
            hs[np] = (double)w.hops / dist[dst];
            cs[np] = (double)w.cost / (double)cdist[dst];
            hops[np] = w.hops;
            np++;
        }
    }
    printf("pairs %u\ndelivered %u\nrevisits %u\nover_bound %u\n", tried, delivered, revisits,
           over_bound);
    printf("hop_stretch_mean %.3f\n", mean(hs, np));
    printf("hop_stretch_p50 %.3f\n", pct(hs, np, 0.5));
    printf("hop_stretch_p99 %.3f\n", pct(hs, np, 0.99));
    printf("cost_stretch_mean %.3f\n", mean(cs, np));
    printf("cost_stretch_p50 %.3f\n", pct(cs, np, 0.5));
    printf("cost_stretch_p90 %.3f\n", pct(cs, np, 0.9));
    printf("cost_stretch_p99 %.3f\n", pct(cs, np, 0.99));
    printf("hops_mean %.2f\n", mean(hops, np));
    printf("hops_p50 %.0f\n", pct(hops, np, 0.5));
    printf("hops_p99 %.0f\nhops_max %.0f\n", pct(hops, np, 0.99), pct(hops, np, 1.0));

    /* Reroute after a cut: a random non-root node's parent link fails (reported after
     * --detect-ms); time until the node reaches, and is reached from, 10 random others again;
     * then time until the tree stops changing. */
    double *rr = malloc((cuts ? cuts : 1) * sizeof(double));
    double *rc = malloc((cuts ? cuts : 1) * sizeof(double));
    size_t nr = 0, failed = 0;
    for (uint32_t c = 0; c < cuts; c++) {
        uint32_t v = (uint32_t)(rn_splitmix(&s) % nodes);
        bool found;
        uint32_t e = parent_edge(net, v, &found);
        if (!found)
            continue;
        rn_cut_edge(net, e, detect_ms * MS);
        rn_bfs(net, v, dist);
        uint32_t others[10];
        unsigned no = 0;
        for (unsigned g = 0; no < 10 && g < 1000; g++) {
            uint32_t o = (uint32_t)(rn_splitmix(&s) % nodes);
            if (o != v && dist[o] != UINT32_MAX)
                others[no++] = o;
        }
        zhtp_time t0 = rn_now(net), done = 0;
        /* 1 ms steps for the first 100 ms, then 10 ms */
        for (zhtp_time tt = t0; tt <= t0 + 60 * SEC; tt += tt - t0 < 100 * MS ? MS : 10 * MS) {
            rn_run_until(net, tt);
            bool all = true;
            for (unsigned i = 0; i < no && all; i++) {
                rn_walk w;
                rn_route(net, v, others[i], 4 * ZHTP_ROUTE_MAX_DEPTH, &w);
                all = w.result == RN_DELIVERED;
                rn_route(net, others[i], v, 4 * ZHTP_ROUTE_MAX_DEPTH, &w);
                all = all && w.result == RN_DELIVERED;
            }
            if (all) {
                done = tt - t0 + 1;
                break;
            }
        }
        if (!done) {
            failed++;
        } else {
            rr[nr] = (double)(done - 1) / MS;
            zhtp_time tt = rn_now(net);
            do {
                tt += refresh;
                rn_run_until(net, tt);
            } while (rn_last_change(net) + 5 * refresh > tt && tt < t0 + 600 * SEC);
            rc[nr] = rn_last_change(net) > t0 ? (double)(rn_last_change(net) - t0) / MS : 0;
            nr++;
        }
        /* restore the link so cuts stay independent */
        const rn_edge *ed = rn_edge_get(net, e);
        rn_add_edge(net, ed->a, ed->b, ed->kind, ed->latency);
        rn_run_until(net, rn_now(net) + 5 * refresh);
    }
    printf("cuts %zu\ncut_not_rerouted %zu\n", nr, failed);
    printf("reroute_ms_mean %.1f\nreroute_ms_p50 %.1f\nreroute_ms_max %.1f\n", mean(rr, nr),
           pct(rr, nr, 0.5), pct(rr, nr, 1.0));
    printf("reconverge_ms_mean %.1f\nreconverge_ms_max %.1f\n", mean(rc, nr), pct(rc, nr, 1.0));
    free(rr), free(rc), free(hs), free(cs), free(hops), free(dist), free(cdist), free(bytes);
    rn_free(net);
    return 0;
}
