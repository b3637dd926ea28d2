/* Forwarding throughput of one relay node core, in process: A -> R -> B over two links with a
 * 1,600-byte MTU (so the 1,576-byte frame is not fragmented). A sends DATA with 1,280 bytes of
 * application payload to B: sealed end to end (A<->B session) inside a DATA packet sealed per link
 * (A<->R). R opens the link layer, asks the router for the next hop, seals for R<->B and queues the
 * frame; the bench drains it. Only R's recv + next_datagram are timed (A's sealing is done untimed,
 * in batches).
 *
 * usage: node_bench [packets] (default 2,000,000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zhtp/identity.h"
#include "zhtp/node.h"
#include "zhtp/wire.h"

#define SEC ZHTP_NS_PER_SEC

typedef struct bn {
    uint64_t rng;
    zhtp_identity *id;
    zhtp_node *node;
    zhtp_addr addr;
} bn;

static bn nodes[3]; /* the bench's own driver state, not the core's */

static void rng(void *ud, uint8_t *out, size_t len)
{
    uint64_t *s = ud;
    for (size_t i = 0; i < len; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        out[i] = (uint8_t)(*s >> 56);
    }
}

static int lookup(void *ud, const uint8_t id[ZHTP_NODE_ID_LEN], uint16_t *ports, size_t cap,
                  size_t *depth)
{
    (void)ud;
    for (int i = 0; i < 3; i++) {
        if (memcmp(zhtp_node_id(nodes[i].node), id, ZHTP_NODE_ID_LEN))
            continue;
        size_t d;
        const uint16_t *c = zhtp_router_coords(zhtp_node_router(nodes[i].node), &d);
        if (d > cap)
            return ZHTP_ERR_NOBUF;
        if (d)
            memcpy(ports, c, d * sizeof *ports);
        *depth = d;
        return ZHTP_OK;
    }
    return ZHTP_ERR_NOTFOUND;
}

/* Link 1: A(0) <-> R(1); link 2: R(1) <-> B(2). */
static int peer_of(int from, zhtp_link_id l)
{
    if (l == 1)
        return from == 0 ? 1 : 0;
    return from == 1 ? 2 : 1;
}

static uint8_t buf[ZHTP_WIRE_MAX_MTU];

static void pump(zhtp_time now)
{
    for (int moved = 1; moved;) {
        moved = 0;
        for (int i = 0; i < 3; i++) {
            zhtp_link_id l;
            zhtp_addr to;
            zhtp_ssize len;
            while ((len = zhtp_node_next_datagram(nodes[i].node, &l, &to, buf, sizeof buf, now)) >=
                   0) {
                int p = peer_of(i, l);
                (void)zhtp_node_recv(nodes[p].node, l, &nodes[i].addr, buf, (size_t)len, now);
                moved = 1;
            }
            zhtp_node_event ev;
            while (zhtp_node_next_event(nodes[i].node, &ev) == ZHTP_OK) {
            }
        }
    }
}

int main(int argc, char **argv)
{
    long packets = argc > 1 ? atol(argv[1]) : 2000000;
    const zhtp_route_medium *m = zhtp_route_medium_preset(ZHTP_MEDIUM_WIFI_DIRECT);
    for (int i = 0; i < 3; i++) {
        uint8_t seed[ZHTP_IDENTITY_SEEDBYTES];
        memset(seed, i + 1, sizeof seed);
        nodes[i].rng = (uint64_t)i + 1;
        nodes[i].addr.len = 1;
        nodes[i].addr.bytes[0] = (uint8_t)i;
        if (zhtp_identity_from_seed(&nodes[i].id, seed) != ZHTP_OK)
            return 1;
        zhtp_node_config c = {.rng = rng, .user_data = &nodes[i].rng, .lookup = lookup};
        if (zhtp_node_new(&nodes[i].node, &c, nodes[i].id, 0) != ZHTP_OK)
            return 1;
    }
    if (zhtp_node_link_add(nodes[0].node, 1, 1600, m, 0) ||
        zhtp_node_link_add(nodes[1].node, 1, 1600, m, 0) ||
        zhtp_node_link_add(nodes[1].node, 2, 1600, m, 0) ||
        zhtp_node_link_add(nodes[2].node, 2, 1600, m, 0))
        return 1;
    /* Let discovery and the tree settle over 10 virtual seconds. */
    for (zhtp_time now = 0; now <= 10 * SEC; now += 100 * ZHTP_NS_PER_MS) {
        for (int i = 0; i < 3; i++)
            if (zhtp_node_next_deadline(nodes[i].node) <= now)
                (void)zhtp_node_tick(nodes[i].node, now);
        pump(now);
    }
    zhtp_time now = 10 * SEC;
    static uint8_t payload[1280];
    memset(payload, 0xA5, sizeof payload);
    /* The first message sets up the end-to-end session A <-> B over R. */
    for (int k = 0; k < 50; k++, now += 100 * ZHTP_NS_PER_MS) {
        if (k == 0 && zhtp_node_send(nodes[0].node, zhtp_node_id(nodes[2].node), payload,
                                     sizeof payload, ZHTP_NODE_SEND_RELIABLE, now, NULL) != ZHTP_OK)
            return 1;
        for (int i = 0; i < 3; i++)
            if (zhtp_node_next_deadline(nodes[i].node) <= now)
                (void)zhtp_node_tick(nodes[i].node, now);
        pump(now);
    }
    /* Every packet must be fresh (the link session's replay window drops repeats), so A
     * seals a batch untimed, then R forwards the batch timed. */
    enum { BATCH = 4096 };
    static uint8_t pkts[BATCH][2048];
    static size_t lens[BATCH];
    zhtp_node *r = nodes[1].node;
    double s = 0, cpu = 0;
    long forwarded = 0, done = 0;
    zhtp_ssize plen = 0;
    zhtp_link_id l;
    zhtp_addr to;
    while (done < packets) {
        int nb = 0;
        for (; nb < BATCH && done + nb < packets; nb++) {
            if (zhtp_node_send(nodes[0].node, zhtp_node_id(nodes[2].node), payload, sizeof payload,
                               0, now, NULL) != ZHTP_OK)
                return 1;
            /* A may also have a keepalive or beacon queued: keep the DATA frame. */
            zhtp_ssize len, best = 0;
            while ((len = zhtp_node_next_datagram(nodes[0].node, &l, &to, buf, sizeof buf, now)) >
                   0)
                if (l == 1 && len > best && (size_t)len <= sizeof pkts[nb]) {
                    best = len;
                    memcpy(pkts[nb], buf, (size_t)len);
                }
            len = best;
            if (len < 1280) {
                fprintf(stderr, "node_bench: A produced no DATA frame for R\n");
                return 1;
            }
            lens[nb] = (size_t)len;
            plen = len;
        }
        struct timespec t0, t1, c0, c1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        for (int i = 0; i < nb; i++) {
            (void)zhtp_node_recv(r, 1, &nodes[0].addr, pkts[i], lens[i], now);
            zhtp_ssize len = zhtp_node_next_datagram(r, &l, &to, buf, sizeof buf, now);
            forwarded += len > 0 && l == 2;
        }
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        s += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        cpu += (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
        done += nb;
    }
    zhtp_node_stats st;
    zhtp_node_get_stats(r, &st);
    fprintf(stderr, "relay stats: rx_bad %llu no_route %llu no_session %llu fwd %llu\n",
            (unsigned long long)st.rx_bad, (unsigned long long)st.drop_no_route,
            (unsigned long long)st.drop_no_session, (unsigned long long)st.fwd_packets);
    printf("relay forwarding: %ld of %ld packets forwarded, frame %zd B, payload %zu B\n",
           forwarded, packets, plen, sizeof payload);
    printf("wall clock: %.0f packets/s, %.2f Gbit/s of payload, %.2f Gbit/s on the wire\n",
           (double)forwarded / s, (double)forwarded * sizeof payload * 8 / s / 1e9,
           (double)forwarded * (double)plen * 8 / s / 1e9);
    printf("thread CPU time (one core, without other processes' share): %.0f packets/s, "
           "%.2f Gbit/s of payload\n",
           (double)forwarded / cpu, (double)forwarded * sizeof payload * 8 / cpu / 1e9);
    for (int i = 0; i < 3; i++) {
        zhtp_node_free(nodes[i].node);
        zhtp_identity_free(nodes[i].id);
    }
    return forwarded == packets ? 0 : 1;
}
