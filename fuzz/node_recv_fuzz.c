/* libFuzzer target: hostile datagrams from a neighbour into a node core (include/zhtp/node.h).
 *
 * Two pairs of nodes are set up once and kept: one pair with sessions (the default: most input
 * dies at the AEAD, but discovery, fragments and handshakes are parsed in clear) and one pair in
 * insecure_plaintext mode with a DHT (so ROUTING, DATA, DHT payloads and locator blocks reach
 * their decoders). The input is a
 * sequence of frames, each `u8 selector | u16 length | bytes`: the selector picks the pair, the
 * sender address (the neighbour or a stranger) and whether the clock advances (ticks run). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zhtp/identity.h"
#include "zhtp/node.h"
#include "zhtp/wire.h"

typedef struct side {
    uint64_t rng;
    zhtp_identity *id;
    zhtp_node *node;
    zhtp_addr addr;
} side;

static side sides[2][2];
static zhtp_time now;
static uint8_t buf[ZHTP_WIRE_MAX_MTU];

static void rng(void *ud, uint8_t *out, size_t len)
{
    uint64_t *s = ud;
    for (size_t i = 0; i < len; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        out[i] = (uint8_t)(*s >> 56);
    }
}

static int f_put(void *ud, uint8_t kind, const uint8_t key[32], const uint8_t *val, size_t len,
                 uint64_t expiry)
{
    (void)ud, (void)kind, (void)key, (void)val, (void)len, (void)expiry;
    return ZHTP_OK;
}
static int f_get(void *ud, uint8_t kind, const uint8_t key[32], const uint8_t **val, size_t *len,
                 uint64_t *expiry)
{
    (void)ud, (void)kind, (void)key, (void)val, (void)len, (void)expiry;
    return ZHTP_ERR_NOTFOUND;
}
static int f_del(void *ud, uint8_t kind, const uint8_t key[32])
{
    (void)ud, (void)kind, (void)key;
    return ZHTP_ERR_NOTFOUND;
}
static int f_each(void *ud,
                  int (*fn)(void *, uint8_t, const uint8_t *, const uint8_t *, size_t, uint64_t),
                  void *ctx)
{
    (void)ud, (void)fn, (void)ctx;
    return ZHTP_OK;
}

static void drain(side *from, side *to)
{
    zhtp_link_id l;
    zhtp_addr dst;
    zhtp_ssize len;
    while ((len = zhtp_node_next_datagram(from->node, &l, &dst, buf, sizeof buf, now)) >= 0)
        if (to)
            (void)zhtp_node_recv(to->node, 1, &from->addr, buf, (size_t)len, now);
    zhtp_node_event ev;
    while (zhtp_node_next_event(from->node, &ev) == 0) {
    }
}

static void setup(void)
{
    const zhtp_route_medium *m = zhtp_route_medium_preset(ZHTP_MEDIUM_BLE);
    for (int p = 0; p < 2; p++) {
        for (int i = 0; i < 2; i++) {
            side *s = &sides[p][i];
            uint8_t seed[ZHTP_IDENTITY_SEEDBYTES];
            memset(seed, 1 + i, sizeof seed);
            s->rng = (uint64_t)(p * 2 + i + 1);
            s->addr.len = 1;
            s->addr.bytes[0] = (uint8_t)i;
            if (zhtp_identity_from_seed(&s->id, seed) != 0)
                abort();
            /* The plaintext pair runs a DHT, so DHT operations and locator blocks reach
             * their decoders (wire framing, locator block, the DHT's codec). */
            zhtp_dht_config dc = {.store = {f_put, f_get, f_del, f_each, NULL}, .k = 4};
            zhtp_node_config c = {.rng = rng, .user_data = &s->rng, .insecure_plaintext = p == 1};
            if (p == 1)
                c.dht = &dc;
            if (zhtp_node_new(&s->node, &c, s->id, 0) != 0 ||
                zhtp_node_link_add(s->node, 1, 0, m, 0) != 0)
                abort();
        }
        for (int round = 0; round < 8; round++) {
            drain(&sides[p][0], &sides[p][1]);
            drain(&sides[p][1], &sides[p][0]);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sides[0][0].node)
        setup();
    while (size >= 3) {
        uint8_t sel = data[0];
        size_t len = (size_t)data[1] << 8 | data[2];
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        side *a = &sides[sel & 1][0], *b = &sides[sel & 1][1];
        zhtp_addr stranger = {.len = 1, .bytes = {9}};
        (void)zhtp_node_recv(b->node, 1, (sel & 2) ? &stranger : &a->addr, data, len, now);
        if (sel & 4) {
            now += (zhtp_time)(sel >> 3) * 100 * ZHTP_NS_PER_MS;
            if (zhtp_node_next_deadline(b->node) <= now)
                (void)zhtp_node_tick(b->node, now);
        }
        drain(b, NULL);
        data += len;
        size -= len;
    }
    return 0;
}
