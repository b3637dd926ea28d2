/* Forwarding throughput of one relay node core, in process: A -> R -> B over two links with a
 * 1,500-byte MTU. A's DATA packet (1,280 bytes of application payload, 1,412 bytes on the
 * wire, unsealed: sessions are not composed yet) is fed to R again and again; R decodes it,
 * asks the router for the next hop, re-encodes the header and queues the frame, and the bench
 * drains it. Only R's recv + next_datagram are timed.
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
    if (zhtp_node_link_add(nodes[0].node, 1, 1500, m, 0) ||
        zhtp_node_link_add(nodes[1].node, 1, 1500, m, 0) ||
        zhtp_node_link_add(nodes[1].node, 2, 1500, m, 0) ||
        zhtp_node_link_add(nodes[2].node, 2, 1500, m, 0))
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
    if (zhtp_node_send(nodes[0].node, zhtp_node_id(nodes[2].node), payload, sizeof payload, 0, now,
                       NULL) != ZHTP_OK) {
        fprintf(stderr, "node_bench: no route A -> B\n");
        return 1;
    }
    static uint8_t pkt[ZHTP_WIRE_MAX_MTU];
    zhtp_link_id l;
    zhtp_addr to;
    zhtp_ssize plen = zhtp_node_next_datagram(nodes[0].node, &l, &to, pkt, sizeof pkt, now);
    if (plen <= 0 || l != 1)
        return 1;

    zhtp_node *r = nodes[1].node;
    struct timespec t0, t1;
    long forwarded = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < packets; i++) {
        (void)zhtp_node_recv(r, 1, &nodes[0].addr, pkt, (size_t)plen, now);
        zhtp_ssize len = zhtp_node_next_datagram(r, &l, &to, buf, sizeof buf, now);
        forwarded += len == plen && l == 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    zhtp_node_stats st;
    zhtp_node_get_stats(r, &st);
    printf("relay forwarding: %ld of %ld packets forwarded, frame %zd B, payload %zu B\n",
           forwarded, packets, plen, sizeof payload);
    printf("%.0f packets/s, %.2f Gbit/s of payload, %.2f Gbit/s on the wire (one core)\n",
           (double)forwarded / s, (double)forwarded * sizeof payload * 8 / s / 1e9,
           (double)forwarded * (double)plen * 8 / s / 1e9);
    for (int i = 0; i < 3; i++) {
        zhtp_node_free(nodes[i].node);
        zhtp_identity_free(nodes[i].id);
    }
    return forwarded == packets ? 0 : 1;
}
