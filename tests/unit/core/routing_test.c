/* The router: unit behaviour on hand-fed messages, allocation failure injection, and scenarios
 * on the discrete-event harness (tests/sim/routing_net.c): line, mixed-media grid, seeded
 * random graphs, a cut link, a killed node, a killed root, lossy links, determinism. */
#include <stdlib.h>
#include <string.h>

#include "routing_net.h"
#include "testutil.h"
#include "zhtp/routing.h"

#define MS        ZHTP_NS_PER_MS
#define SEC       ZHTP_NS_PER_SEC
#define REFRESH   (1 * SEC)
#define HOP_LIMIT 4096u

static void test_rng(void *ud, uint8_t *out, size_t len)
{
    zt_rng_bytes(ud, out, len);
}

static zt_rng g_rng;

static zhtp_router *mk(const zhtp_mem *mem, uint8_t first_byte)
{
    uint8_t id[ZHTP_NODE_ID_LEN];
    memset(id, 0x11, sizeof id);
    id[0] = first_byte;
    zhtp_router_config cfg = {
        .mem = mem, .rng = test_rng, .user_data = &g_rng, .refresh_ns = REFRESH};
    zhtp_router *r = NULL;
    assert_int_equal(zhtp_router_new(&r, &cfg, id, 0), ZHTP_OK);
    return r;
}

static void id_of(uint8_t first_byte, uint8_t id[ZHTP_NODE_ID_LEN])
{
    memset(id, 0x11, ZHTP_NODE_ID_LEN);
    id[0] = first_byte;
}

/* Delivers everything |from| has for |link| to |to|; returns the number of messages. */
static int pump(zhtp_router *from, zhtp_router *to, zhtp_route_link_id link, zhtp_time now)
{
    uint8_t buf[ZHTP_ROUTE_ANNOUNCE_LEN(64)];
    int n = 0;
    for (;;) {
        zhtp_route_link_id l;
        zhtp_ssize len = zhtp_router_next_message(from, &l, buf, sizeof buf, now);
        if (len == ZHTP_ERR_AGAIN)
            return n;
        assert_true(len > 0);
        assert_int_equal(l, link);
        assert_int_equal(zhtp_router_recv(to, link, buf, (size_t)len, now), ZHTP_OK);
        n++;
    }
}

static void router_new_rejects_missing_rng(void **state)
{
    (void)state;
    uint8_t id[ZHTP_NODE_ID_LEN] = {1};
    zhtp_router_config cfg = {0};
    zhtp_router *r = (zhtp_router *)&cfg;
    assert_int_equal(zhtp_router_new(&r, &cfg, id, 0), ZHTP_ERR_INVAL);
    assert_null(r);
    zhtp_router_free(NULL);
}

static void router_alone_is_root_and_refreshes(void **state)
{
    (void)state;
    zhtp_router *r = mk(NULL, 5);
    size_t depth = 99;
    zhtp_router_coords(r, &depth);
    assert_int_equal(depth, 0);
    uint8_t root[ZHTP_NODE_ID_LEN], id[ZHTP_NODE_ID_LEN], parent[ZHTP_NODE_ID_LEN];
    zhtp_router_root(r, root);
    id_of(5, id);
    assert_memory_equal(root, id, sizeof id);
    assert_false(zhtp_router_parent(r, parent));
    assert_int_equal(zhtp_router_next_deadline(r), REFRESH);
    zhtp_route_link_id l;
    uint8_t buf[64];
    assert_int_equal(zhtp_router_next_message(r, &l, buf, sizeof buf, 0), ZHTP_ERR_AGAIN);
    /* a destination that is this node is delivered locally */
    zhtp_route_hop hop;
    assert_int_equal(zhtp_router_next_hop(r, NULL, 0, id, NULL, &hop), ZHTP_OK);
    assert_true(hop.is_local);
    zhtp_router_free(r);
}

static void two_routers_follow_the_smaller_id(void **state)
{
    (void)state;
    zhtp_router *a = mk(NULL, 0x10), *b = mk(NULL, 0x20);
    uint8_t ida[32], idb[32], root[32], parent[32];
    id_of(0x10, ida);
    id_of(0x20, idb);
    const zhtp_route_medium *m = zhtp_route_medium_preset(ZHTP_MEDIUM_WIFI_DIRECT);
    assert_int_equal(zhtp_router_link_up(a, 7, idb, m, 0), ZHTP_OK);
    assert_int_equal(zhtp_router_link_up(b, 7, ida, m, 0), ZHTP_OK);
    assert_int_equal(zhtp_router_link_up(b, 7, ida, m, 0), ZHTP_ERR_EXISTS);
    assert_int_equal(zhtp_router_link_up(a, 8, ida, m, 0), ZHTP_ERR_INVAL); /* self */
    for (int i = 0; i < 3; i++) {
        pump(a, b, 7, 0);
        pump(b, a, 7, 0);
    }
    zhtp_router_root(b, root);
    assert_memory_equal(root, ida, 32);
    assert_true(zhtp_router_parent(b, parent));
    assert_memory_equal(parent, ida, 32);
    assert_false(zhtp_router_parent(a, parent));
    size_t da, db;
    const uint16_t *ca = zhtp_router_coords(a, &da);
    const uint16_t *cb = zhtp_router_coords(b, &db);
    assert_int_equal(da, 0);
    assert_int_equal(db, 1);
    assert_int_equal(zhtp_route_tree_distance(ca, da, cb, db), 1);
    assert_int_equal(zhtp_router_root_cost(b), zhtp_route_link_cost(m, 0, UINT32_MAX));
    /* a forwards to b's coordinates over link 7; b delivers its own coordinates locally */
    zhtp_route_hop hop;
    uint32_t bound = ZHTP_ROUTE_BOUND_NONE;
    assert_int_equal(zhtp_router_next_hop(a, cb, db, NULL, &bound, &hop), ZHTP_OK);
    assert_false(hop.is_local);
    assert_int_equal(hop.link, 7);
    assert_int_equal(bound, 0);
    uint16_t my[1] = {cb[0]};
    assert_int_equal(zhtp_router_next_hop(b, my, 1, NULL, NULL, &hop), ZHTP_OK);
    assert_true(hop.is_local);
    /* the same coordinates with another node's id are stale: not delivered */
    assert_int_equal(zhtp_router_next_hop(b, my, 1, ida, NULL, &hop), ZHTP_OK); /* neighbour */
    uint8_t other[32];
    id_of(0x30, other);
    assert_int_equal(zhtp_router_next_hop(b, my, 1, other, NULL, &hop), ZHTP_ERR_NOTFOUND);
    zhtp_router_free(a);
    zhtp_router_free(b);
}

static void router_rejects_bad_messages_without_changing_state(void **state)
{
    (void)state;
    zhtp_router *b = mk(NULL, 0x20);
    uint8_t ida[32];
    id_of(0x10, ida);
    assert_int_equal(zhtp_router_link_up(b, 1, ida, zhtp_route_medium_preset(ZHTP_MEDIUM_UDP), 0),
                     ZHTP_OK);
    uint8_t msg[ZHTP_ROUTE_ANNOUNCE_LEN(0)] = {ZHTP_ROUTE_MSG_ANNOUNCE, 0};
    memset(msg + 2, 0x01, 32); /* a smaller root than b */
    msg[43] = 1;               /* your_port 1 */
    uint64_t changes = zhtp_router_changes(b);
    size_t bytes = zhtp_router_state_bytes(b);
    assert_int_equal(zhtp_router_recv(b, 1, msg, sizeof msg - 1, 0), ZHTP_ERR_WIRE_TRUNCATED);
    assert_int_equal(zhtp_router_recv(b, 2, msg, sizeof msg, 0), ZHTP_ERR_NOTFOUND);
    msg[1] = 1;
    assert_int_equal(zhtp_router_recv(b, 1, msg, sizeof msg, 0), ZHTP_ERR_WIRE_RESERVED);
    assert_int_equal(zhtp_router_changes(b), changes);
    assert_int_equal(zhtp_router_state_bytes(b), bytes);
    msg[1] = 0;
    assert_int_equal(zhtp_router_recv(b, 1, msg, sizeof msg, 0), ZHTP_OK);
    assert_true(zhtp_router_changes(b) > changes);
    uint8_t root[32];
    zhtp_router_root(b, root);
    assert_memory_equal(root, msg + 2, 32);
    zhtp_router_free(b);
}

/* A neighbour whose announced path runs through this node must not become its parent, however
 * good its root: that is the tree's loop check. */
static void router_never_adopts_a_neighbour_whose_path_contains_it(void **state)
{
    (void)state;
    zhtp_router *b = mk(NULL, 0x20);
    uint8_t idc[32];
    id_of(0x30, idc);
    assert_int_equal(zhtp_router_link_up(b, 1, idc, zhtp_route_medium_preset(ZHTP_MEDIUM_UDP), 0),
                     ZHTP_OK);
    uint16_t ports[2] = {3, 4};
    uint32_t tags[2] = {0x01111111, 0x20111111}; /* root's tag, then b's own tag */
    zhtp_route_announce a = {
        .root_seq = 9, .cost = 10, .your_port = 2, .depth = 2, .ports = ports, .tags = tags};
    memset(a.root_id, 0x01, 32);
    uint8_t buf[128], parent[32];
    zhtp_ssize n = zhtp_route_announce_encode(&a, buf, sizeof buf);
    assert_int_equal(zhtp_router_recv(b, 1, buf, (size_t)n, 0), ZHTP_OK);
    assert_false(zhtp_router_parent(b, parent));
    /* the same path without b is adopted */
    tags[1] = 0x05111111;
    n = zhtp_route_announce_encode(&a, buf, sizeof buf);
    assert_int_equal(zhtp_router_recv(b, 1, buf, (size_t)n, 0), ZHTP_OK);
    assert_true(zhtp_router_parent(b, parent));
    assert_memory_equal(parent, idc, 32);
    size_t depth;
    const uint16_t *c = zhtp_router_coords(b, &depth);
    assert_int_equal(depth, 3);
    assert_int_equal(c[0], 3);
    assert_int_equal(c[1], 4);
    assert_int_equal(c[2], 2);
    zhtp_router_free(b);
}

static void next_message_too_small_keeps_it_pending(void **state)
{
    (void)state;
    zhtp_router *a = mk(NULL, 0x10);
    uint8_t idb[32];
    id_of(0x20, idb);
    assert_int_equal(zhtp_router_link_up(a, 3, idb, zhtp_route_medium_preset(ZHTP_MEDIUM_BLE), 0),
                     ZHTP_OK);
    uint8_t buf[ZHTP_ROUTE_ANNOUNCE_LEN(0)];
    zhtp_route_link_id l = 0;
    assert_int_equal(zhtp_router_next_message(a, &l, buf, sizeof buf - 1, 0), ZHTP_ERR_NOBUF);
    assert_int_equal(zhtp_router_next_message(a, &l, buf, sizeof buf, 0), (zhtp_ssize)sizeof buf);
    assert_int_equal(l, 3);
    assert_int_equal(zhtp_router_next_message(a, &l, buf, sizeof buf, 0), ZHTP_ERR_AGAIN);
    zhtp_router_free(a);
}

/* Parallel links to one neighbour share its traffic in inverse proportion to their cost; a
 * link far costlier than the best (LoRa beside WiFi) gets none. */
static void parallel_links_share_load_by_cost(void **state)
{
    (void)state;
    zhtp_router *a = mk(NULL, 0x10);
    uint8_t idb[32];
    id_of(0x20, idb);
    zhtp_route_medium m1 = *zhtp_route_medium_preset(ZHTP_MEDIUM_UDP);
    zhtp_route_medium m2 = m1;
    assert_int_equal(zhtp_router_link_up(a, 1, idb, &m1, 0), ZHTP_OK);
    assert_int_equal(zhtp_router_link_up(a, 2, idb, &m2, 0), ZHTP_OK);
    assert_int_equal(zhtp_router_link_up(a, 3, idb, zhtp_route_medium_preset(ZHTP_MEDIUM_LORA), 0),
                     ZHTP_OK);
    /* link 2 measured twice the RTT of link 1: about a third of the packets */
    assert_int_equal(zhtp_router_link_update(a, 1, 20000, 0, 0), ZHTP_OK);
    assert_int_equal(zhtp_router_link_update(a, 2, 40000, 0, 0), ZHTP_OK);
    assert_int_equal(zhtp_router_link_update(a, 9, 40000, 0, 0), ZHTP_ERR_NOTFOUND);
    unsigned count[4] = {0};
    for (int i = 0; i < 3000; i++) {
        zhtp_route_hop hop;
        assert_int_equal(zhtp_router_next_hop(a, NULL, 0, idb, NULL, &hop), ZHTP_OK);
        assert_true(hop.link >= 1 && hop.link <= 3);
        count[hop.link]++;
    }
    assert_int_equal(count[3], 0);
    assert_in_range(count[1], 1950, 2050);
    assert_in_range(count[2], 950, 1050);
    /* link 1 down: everything on link 2 */
    assert_int_equal(zhtp_router_link_down(a, 1, 0), ZHTP_OK);
    assert_int_equal(zhtp_router_link_down(a, 1, 0), ZHTP_ERR_NOTFOUND);
    for (int i = 0; i < 10; i++) {
        zhtp_route_hop hop;
        assert_int_equal(zhtp_router_next_hop(a, NULL, 0, idb, NULL, &hop), ZHTP_OK);
        assert_int_equal(hop.link, 2);
    }
    zhtp_router_free(a);
}

/* Differential test of the prefix-shared neighbour paths: seeded random announcements (paths
 * drawn from a few common trunks so that prefixes are shared and diverge at random points)
 * against a model that keeps every path in full. After each step every stored path must read
 * back equal, and the forwarding choice must be a neighbour the model finds closest. */
#define DM_NBRS 8
#define DM_MAXD 40

typedef struct dm_path {
    uint16_t depth;
    uint16_t ports[DM_MAXD];
    uint32_t tags[DM_MAXD];
} dm_path;

static void dm_random_path(zt_rng *rng, const dm_path *trunks, dm_path *out)
{
    const dm_path *t = &trunks[zt_rng_below(rng, 4)];
    uint16_t keep = (uint16_t)zt_rng_below(rng, t->depth + 1u);
    uint16_t extra = (uint16_t)zt_rng_below(rng, 6);
    out->depth = (uint16_t)(keep + extra);
    for (uint16_t i = 0; i < keep; i++) {
        out->ports[i] = t->ports[i];
        out->tags[i] = t->tags[i];
    }
    for (uint16_t i = keep; i < out->depth; i++) {
        out->ports[i] = (uint16_t)(1 + zt_rng_below(rng, 4));
        out->tags[i] = 0x90000000u + (uint32_t)zt_rng_below(rng, 8);
    }
}

static void neighbour_paths_match_a_full_copy_model(void **state)
{
    (void)state;
    zt_rng rng;
    zt_rng_seed(&rng, 2024);
    zhtp_router *r = mk(NULL, 0x40);
    const zhtp_route_medium *m = zhtp_route_medium_preset(ZHTP_MEDIUM_UDP);
    dm_path trunks[4], model[DM_NBRS];
    bool has[DM_NBRS] = {false};
    for (int t = 0; t < 4; t++) {
        trunks[t].depth = (uint16_t)(20 + zt_rng_below(&rng, 15));
        for (int i = 0; i < trunks[t].depth; i++) {
            trunks[t].ports[i] = (uint16_t)(1 + zt_rng_below(&rng, 3));
            trunks[t].tags[i] = 0x80000000u + (uint32_t)zt_rng_below(&rng, 16);
        }
    }
    for (int i = 0; i < DM_NBRS; i++) {
        uint8_t nid[32];
        id_of((uint8_t)(0x50 + i), nid);
        assert_int_equal(zhtp_router_link_up(r, (zhtp_route_link_id)i, nid, m, 0), ZHTP_OK);
    }
    uint32_t seq = 1;
    unsigned hops_checked = 0, notfound = 0;
    for (int step = 0; step < 4000; step++) {
        int i = (int)zt_rng_below(&rng, DM_NBRS);
        if (zt_rng_below(&rng, 50) == 0) {
            /* the link drops and comes back: the neighbour is forgotten, then relearned */
            assert_int_equal(zhtp_router_link_down(r, (zhtp_route_link_id)i, 0), ZHTP_OK);
            uint8_t nid[32];
            id_of((uint8_t)(0x50 + i), nid);
            assert_int_equal(zhtp_router_link_up(r, (zhtp_route_link_id)i, nid, m, 0), ZHTP_OK);
            has[i] = false;
        }
        dm_path p;
        dm_random_path(&rng, trunks, &p);
        if (zt_rng_below(&rng, 8) == 0)
            seq++;
        zhtp_route_announce a = {.root_seq = seq,
                                 .cost = (uint32_t)zt_rng_below(&rng, 100000),
                                 .your_port = (uint16_t)(1 + i),
                                 .depth = p.depth,
                                 .ports = p.ports,
                                 .tags = p.tags};
        memset(a.root_id, 0x01, 32);
        uint8_t buf[ZHTP_ROUTE_ANNOUNCE_LEN(DM_MAXD)];
        zhtp_ssize n = zhtp_route_announce_encode(&a, buf, sizeof buf);
        assert_int_equal(zhtp_router_recv(r, (zhtp_route_link_id)i, buf, (size_t)n, 0), ZHTP_OK);
        model[i] = p;
        has[i] = true;
        zhtp_route_link_id l;
        while (zhtp_router_next_message(r, &l, buf, sizeof buf, 0) > 0)
            ;
        /* every stored path reads back equal to the model */
        for (size_t k = 0; k < zhtp_router_neighbour_count(r); k++) {
            zhtp_route_nbr_info in;
            assert_int_equal(zhtp_router_neighbour_get(r, k, &in), ZHTP_OK);
            int j = in.id[0] - 0x50;
            assert_in_range(j, 0, DM_NBRS - 1);
            if (!has[j])
                continue;
            uint16_t got[DM_MAXD];
            size_t d;
            assert_int_equal(zhtp_router_neighbour_coords(r, k, got, DM_MAXD, &d), ZHTP_OK);
            assert_int_equal(d, model[j].depth);
            if (d)
                assert_memory_equal(got, model[j].ports, d * sizeof *got);
        }
        /* a random destination: the router's choice must be a closest neighbour (all links
         * cost the same, so cost does not reorder them) */
        dm_path dest;
        dm_random_path(&rng, trunks, &dest);
        size_t own_d;
        const uint16_t *own = zhtp_router_coords(r, &own_d);
        uint32_t d_self = zhtp_route_tree_distance(own, own_d, dest.ports, dest.depth);
        uint32_t best = UINT32_MAX;
        for (int j = 0; j < DM_NBRS; j++)
            if (has[j]) {
                uint32_t dj = zhtp_route_tree_distance(model[j].ports, model[j].depth, dest.ports,
                                                       dest.depth);
                if (dj < d_self && dj < best)
                    best = dj;
            }
        zhtp_route_hop hop;
        uint32_t bound = ZHTP_ROUTE_BOUND_NONE;
        int err = zhtp_router_next_hop(r, dest.ports, dest.depth, NULL, &bound, &hop);
        if (d_self == 0) {
            assert_int_equal(err, ZHTP_OK);
            assert_true(hop.is_local);
        } else if (best == UINT32_MAX) {
            assert_int_equal(err, ZHTP_ERR_NOTFOUND);
            notfound++;
        } else {
            assert_int_equal(err, ZHTP_OK);
            assert_false(hop.is_local);
            int j = (int)hop.link;
            assert_true(has[j]);
            assert_int_equal(
                zhtp_route_tree_distance(model[j].ports, model[j].depth, dest.ports, dest.depth),
                best);
            assert_int_equal(bound, best);
            hops_checked++;
        }
    }
    assert_true(hops_checked > 1000);
    print_message("# differential: %u next hops checked, %u dead ends\n", hops_checked, notfound);
    assert_true(notfound > 0);
    zhtp_router_free(r);
}

/* --- allocation failure injection ------------------------------------------------------- */

typedef struct failmem {
    long fail_at; /* fail the allocation with this 1-based index; 0 never */
    long count;
    long live;
    size_t live_bytes;
} failmem;

static void *fm_alloc(void *ud, size_t n)
{
    failmem *f = ud;
    if (++f->count == f->fail_at)
        return NULL;
    void *p = malloc(n);
    if (p) {
        f->live++;
        f->live_bytes += n;
    }
    return p;
}

static void fm_free(void *ud, void *p, size_t n)
{
    failmem *f = ud;
    if (!p)
        return;
    f->live--;
    f->live_bytes -= n;
    free(p);
}

/* A script of operations that allocates: new, several link_ups, announcements of growing
 * depth. Returns the first error (the injected NOMEM) or ZHTP_OK. */
static int script(failmem *f, zhtp_router **out)
{
    zhtp_mem mem = {fm_alloc, fm_free, f};
    uint8_t id[32];
    id_of(0x40, id);
    zhtp_router_config cfg = {.mem = &mem, .rng = test_rng, .user_data = &g_rng};
    zhtp_router *r = NULL;
    int err = zhtp_router_new(&r, &cfg, id, 0);
    *out = r;
    if (err)
        return err;
    for (int i = 0; i < 6; i++) {
        uint8_t nid[32];
        id_of((uint8_t)(0x50 + i), nid);
        err = zhtp_router_link_up(r, (zhtp_route_link_id)i, nid,
                                  zhtp_route_medium_preset(ZHTP_MEDIUM_UDP), 0);
        if (err)
            return err;
    }
    uint16_t ports[40];
    uint32_t tags[40];
    for (int i = 0; i < 40; i++) {
        ports[i] = (uint16_t)(i + 1);
        tags[i] = 0x99000000u + (uint32_t)i;
    }
    for (int i = 0; i < 6; i++) {
        zhtp_route_announce a = {.root_seq = 1,
                                 .cost = 100,
                                 .your_port = 1,
                                 .depth = (uint16_t)(5 * i + 3),
                                 .ports = ports,
                                 .tags = tags};
        memset(a.root_id, 0x01, 32);
        uint8_t buf[ZHTP_ROUTE_ANNOUNCE_LEN(40)];
        zhtp_ssize n = zhtp_route_announce_encode(&a, buf, sizeof buf);
        err = zhtp_router_recv(r, (zhtp_route_link_id)i, buf, (size_t)n, 0);
        if (err)
            return err;
    }
    return ZHTP_OK;
}

static void every_allocation_failure_returns_nomem_without_leak(void **state)
{
    (void)state;
    failmem clean = {0};
    zhtp_router *r;
    assert_int_equal(script(&clean, &r), ZHTP_OK);
    size_t depth;
    zhtp_router_coords(r, &depth);
    long total = clean.count;
    assert_true(total > 5);
    /* the same coordinates every time, whatever failed on the way (checked below) */
    uint16_t want[64];
    const uint16_t *c = zhtp_router_coords(r, &depth);
    memcpy(want, c, depth * sizeof *c);
    size_t want_depth = depth;
    zhtp_router_free(r);
    assert_int_equal(clean.live, 0);
    long nomem = 0;
    for (long n = 1; n <= total; n++) {
        failmem f = {.fail_at = n};
        int err = script(&f, &r);
        /* A failed rebase of the neighbours' shared prefixes is not an error (it only costs
         * memory): then the script completes and must reach the same state. */
        if (err == ZHTP_OK) {
            c = zhtp_router_coords(r, &depth);
            assert_int_equal(depth, want_depth);
            assert_memory_equal(c, want, depth * sizeof *c);
        } else {
            assert_int_equal(err, ZHTP_ERR_NOMEM);
            nomem++;
        }
        if (r) {
            /* consistent: the byte count matches the allocator, and it still works */
            assert_int_equal(zhtp_router_state_bytes(r), f.live_bytes);
            uint8_t nid[32];
            id_of(0x77, nid);
            assert_int_equal(
                zhtp_router_link_up(r, 99, nid, zhtp_route_medium_preset(ZHTP_MEDIUM_UDP), 0),
                ZHTP_OK);
            zhtp_route_link_id l;
            uint8_t buf[ZHTP_ROUTE_ANNOUNCE_LEN(64)];
            while (zhtp_router_next_message(r, &l, buf, sizeof buf, 0) > 0)
                ;
            zhtp_router_free(r);
        }
        assert_int_equal(f.live, 0);
        assert_int_equal(f.live_bytes, 0);
    }
    assert_true(nomem > total / 2);
}

/* --- scenarios on the harness ----------------------------------------------------------- */

typedef struct pair_stats {
    unsigned pairs, delivered, revisits, over_bound;
    double stretch_sum, stretch_max;           /* hops / fewest hops */
    double cost_stretch_sum, cost_stretch_max; /* link cost / least link cost */
    double cost_stretch_p50, stretch_p99;
    uint32_t max_hops;
} pair_stats;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Routes every ordered pair of connected alive nodes, comparing with BFS fewest hops and
 * Dijkstra least cost. */
static void route_pairs(rn_net *net, pair_stats *ps)
{
    memset(ps, 0, sizeof *ps);
    uint32_t n = rn_size(net);
    uint32_t *dist = malloc(n * sizeof *dist);
    uint64_t *cdist = malloc(n * sizeof *cdist);
    size_t cap = (size_t)n * n, k = 0;
    double *cst_all = malloc(cap * sizeof(double)), *st_all = malloc(cap * sizeof(double));
    for (uint32_t src = 0; src < n; src++) {
        if (!rn_is_alive(net, src))
            continue;
        rn_bfs(net, src, dist);
        rn_dijkstra(net, src, cdist);
        for (uint32_t dst = 0; dst < n; dst++) {
            if (dst == src || dist[dst] == UINT32_MAX)
                continue;
            rn_walk w;
            rn_route(net, src, dst, HOP_LIMIT, &w);
            ps->pairs++;
            if (w.result == RN_DELIVERED)
                ps->delivered++;
            ps->revisits += w.revisits;
            if (w.hops > w.first_bound + 1)
                ps->over_bound++;
            if (w.hops > ps->max_hops)
                ps->max_hops = w.hops;
            double st = (double)w.hops / dist[dst];
            ps->stretch_sum += st;
            if (st > ps->stretch_max)
                ps->stretch_max = st;
            double cst = (double)w.cost / (double)cdist[dst];
            cst_all[k] = cst;
            st_all[k++] = st;
            ps->cost_stretch_sum += cst;
            if (cst > ps->cost_stretch_max)
                ps->cost_stretch_max = cst;
        }
    }
    if (k) {
        qsort(cst_all, k, sizeof(double), cmp_double);
        qsort(st_all, k, sizeof(double), cmp_double);
        ps->cost_stretch_p50 = cst_all[k / 2];
        ps->stretch_p99 = st_all[(k - 1) * 99 / 100];
    }
    free(cst_all);
    free(st_all);
    free(dist);
    free(cdist);
}

static void print_stats(const char *what, const pair_stats *ps)
{
    print_message("# %s: %u pairs, hop stretch mean %.3f p99 %.2f max %.2f, cost stretch mean "
                  "%.3f p50 %.3f max %.1f, max hops %u\n",
                  what, ps->pairs, ps->stretch_sum / ps->pairs, ps->stretch_p99, ps->stretch_max,
                  ps->cost_stretch_sum / ps->pairs, ps->cost_stretch_p50, ps->cost_stretch_max,
                  ps->max_hops);
}

/* Every medium alone, including LoRa (50 ms a hop) and satellite (300 ms a hop). */
static void line_of_10_routes_every_pair_on_the_shortest_path(void **state)
{
    (void)state;
    for (int k = 0; k < ZHTP_MEDIUM_COUNT_; k++) {
        rn_net *net = rn_new(10, 42, REFRESH, NULL);
        rn_build_line(net, (zhtp_route_medium_kind)k);
        rn_run_until(net, 10 * SEC);
        assert_true(rn_tree_consistent(net, 0));
        pair_stats ps;
        route_pairs(net, &ps);
        assert_int_equal(ps.pairs, 90);
        assert_int_equal(ps.delivered, 90);
        assert_int_equal(ps.revisits, 0);
        assert_true(ps.stretch_max == 1.0); /* a line has one path */
        /* the line converged long before 10 s, even at 300 ms a hop */
        assert_true(rn_last_change(net) < 5 * SEC);
        rn_free(net);
    }
}

static void grid_10x10_mixed_media_routes_every_pair_without_loops(void **state)
{
    (void)state;
    rn_net *net = rn_new(100, 7, REFRESH, NULL);
    rn_build_grid(net, 10, 7);
    rn_run_until(net, 10 * SEC);
    assert_true(rn_tree_consistent(net, 0));
    pair_stats ps;
    route_pairs(net, &ps);
    assert_int_equal(ps.pairs, 9900);
    assert_int_equal(ps.delivered, ps.pairs);
    assert_int_equal(ps.revisits, 0);
    assert_int_equal(ps.over_bound, 0);
    print_stats("grid 10x10 mixed media", &ps);
    /* Bounds documented in docs/routing.md ("Stretch"). */
    assert_true(ps.stretch_sum / ps.pairs < 2.0);
    assert_true(ps.cost_stretch_p50 < 1.5);
    rn_free(net);
}

static void seeded_random_graphs_route_every_pair(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        rn_net *net = rn_new(60, seed, REFRESH, NULL);
        rn_build_random(net, 40, seed * 7919);
        rn_run_until(net, 10 * SEC);
        assert_true(rn_tree_consistent(net, 0));
        pair_stats ps;
        route_pairs(net, &ps);
        assert_int_equal(ps.pairs, 60 * 59);
        assert_int_equal(ps.delivered, ps.pairs);
        assert_int_equal(ps.revisits, 0);
        assert_int_equal(ps.over_bound, 0);
        print_stats("random 60 mixed media", &ps);
        assert_true(ps.stretch_sum / ps.pairs < 2.0);
        assert_true(ps.cost_stretch_p50 < 1.5);
        rn_free(net);
    }
}

static void rgg_300_routes_every_pair_with_bounded_stretch(void **state)
{
    (void)state;
    rn_net *net = rn_new(300, 11, REFRESH, NULL);
    rn_build_rgg(net, 8.0, 0, 0, 11);
    rn_run_until(net, 20 * SEC);
    pair_stats ps;
    route_pairs(net, &ps);
    assert_true(ps.pairs > 1000);
    assert_int_equal(ps.delivered, ps.pairs);
    assert_int_equal(ps.revisits, 0);
    assert_int_equal(ps.over_bound, 0);
    print_stats("rgg 300 wifi+ble", &ps);
    assert_true(ps.stretch_sum / ps.pairs < 1.8);
    assert_true(ps.stretch_p99 < 6.0);
    rn_free(net);
}

/* Finds the tree edge between v and its parent. */
static uint32_t parent_edge(rn_net *net, uint32_t v)
{
    uint8_t parent[32];
    assert_true(zhtp_router_parent(rn_router(net, v), parent));
    for (uint32_t e = 0; e < rn_edge_count(net); e++) {
        const rn_edge *ed = rn_edge_get(net, e);
        if (!ed->is_up)
            continue;
        uint32_t other = ed->a == v ? ed->b : ed->b == v ? ed->a : UINT32_MAX;
        if (other != UINT32_MAX && memcmp(rn_id(net, other), parent, 32) == 0)
            return e;
    }
    fail_msg("no edge to the parent");
    return 0;
}

/* Steps the clock until every pair in |pairs| is delivered again; returns the time taken. */
static zhtp_time time_to_reroute(rn_net *net, const uint32_t (*pairs)[2], size_t n, zhtp_time limit)
{
    zhtp_time start = rn_now(net);
    for (zhtp_time t = start; t <= start + limit; t += 10 * MS) {
        rn_run_until(net, t);
        bool all = true;
        for (size_t i = 0; i < n && all; i++) {
            rn_walk w;
            rn_route(net, pairs[i][0], pairs[i][1], HOP_LIMIT, &w);
            all = w.result == RN_DELIVERED && w.revisits == 0;
        }
        if (all)
            return t - start;
    }
    fail_msg("not rerouted within %llu ms", (unsigned long long)(limit / MS));
    return 0;
}

static void cut_tree_link_is_routed_around(void **state)
{
    (void)state;
    rn_net *net = rn_new(100, 21, REFRESH, NULL);
    rn_build_grid(net, 10, 21);
    rn_run_until(net, 10 * SEC);
    /* cut the parent link of the far corner's parent chain, halfway up */
    uint32_t v = 99;
    uint32_t e = parent_edge(net, v);
    rn_cut_edge(net, e, 0); /* the session layer reports it at once */
    /* every node still reaches every other */
    const uint32_t pairs[][2] = {
        {99, 0}, {0, 99}, {99, 45}, {rn_edge_get(net, e)->a, rn_edge_get(net, e)->b}};
    zhtp_time took = time_to_reroute(net, pairs, 4, 5 * SEC);
    print_message("# grid cut link (reported): rerouted after %llu ms\n",
                  (unsigned long long)(took / MS));
    rn_run_until(net, rn_now(net) + 10 * SEC);
    assert_true(rn_tree_consistent(net, 0));
    pair_stats ps;
    route_pairs(net, &ps);
    assert_int_equal(ps.delivered, ps.pairs);
    assert_int_equal(ps.revisits, 0);
    rn_free(net);
}

static void silently_killed_node_is_routed_around_after_timeout(void **state)
{
    (void)state;
    rn_net *net = rn_new(100, 33, REFRESH, NULL);
    rn_build_grid(net, 10, 33);
    rn_run_until(net, 10 * SEC);
    /* kill a node in the middle; neighbours learn only from their keepalive, 3 s later */
    rn_kill_node(net, 44, 3 * SEC);
    const uint32_t pairs[][2] = {{43, 45}, {34, 54}, {0, 99}, {99, 0}, {43, 54}};
    zhtp_time took = time_to_reroute(net, pairs, 5, 20 * SEC);
    print_message("# grid silent node death (3 s detection): rerouted after %llu ms\n",
                  (unsigned long long)(took / MS));
    rn_run_until(net, rn_now(net) + 10 * SEC);
    pair_stats ps;
    route_pairs(net, &ps);
    assert_int_equal(ps.delivered, ps.pairs);
    assert_int_equal(ps.revisits, 0);
    rn_free(net);
}

static uint32_t root_index(rn_net *net)
{
    uint8_t root[32];
    zhtp_router_root(rn_router(net, 0), root);
    for (uint32_t v = 0; v < rn_size(net); v++)
        if (memcmp(rn_id(net, v), root, 32) == 0)
            return v;
    fail_msg("root not in the network");
    return 0;
}

static void killed_root_is_replaced_and_all_pairs_route_again(void **state)
{
    (void)state;
    rn_net *net = rn_new(60, 5, REFRESH, NULL);
    rn_build_random(net, 60, 5);
    rn_run_until(net, 10 * SEC);
    uint32_t root = root_index(net);
    rn_kill_node(net, root, 0);
    zhtp_time t0 = rn_now(net);
    rn_run_until(net, t0 + 30 * SEC);
    uint32_t any = root == 0 ? 1 : 0;
    assert_true(rn_tree_consistent(net, any));
    assert_int_not_equal(root_index(net), root);
    print_message("# random 60, root killed: converged %llu ms after\n",
                  (unsigned long long)((rn_last_change(net) - t0) / MS));
    pair_stats ps;
    route_pairs(net, &ps);
    assert_true(ps.pairs > 0);
    assert_int_equal(ps.delivered, ps.pairs);
    assert_int_equal(ps.revisits, 0);
    rn_free(net);
}

/* A partition: the side without the root elects its own and routes inside itself. */
static void partition_side_elects_own_root(void **state)
{
    (void)state;
    rn_net *net = rn_new(10, 9, REFRESH, NULL);
    rn_build_line(net, ZHTP_MEDIUM_WIFI_DIRECT);
    rn_run_until(net, 5 * SEC);
    rn_cut_edge(net, 4, 0); /* between nodes 4 and 5 */
    rn_run_until(net, rn_now(net) + 30 * SEC);
    assert_true(rn_tree_consistent(net, 0));
    assert_true(rn_tree_consistent(net, 9));
    pair_stats ps;
    route_pairs(net, &ps);
    assert_int_equal(ps.pairs, 2 * 5 * 4);
    assert_int_equal(ps.delivered, ps.pairs);
    /* healed: one tree again */
    rn_add_edge(net, 4, 5, ZHTP_MEDIUM_UDP, 0);
    rn_run_until(net, rn_now(net) + 10 * SEC);
    assert_true(rn_tree_consistent(net, 0));
    route_pairs(net, &ps);
    assert_int_equal(ps.pairs, 90);
    assert_int_equal(ps.delivered, 90);
    rn_free(net);
}

/* Announcements lost at random on every link: routes must still work at (almost) every
 * instant, sampled every 211 ms over 25 s, never loop, and the tree must agree. */
static double lossy_delivery(uint32_t loss_ppm)
{
    rn_net *net = rn_new(100, 17, REFRESH, NULL);
    rn_set_loss(net, loss_ppm);
    rn_build_grid(net, 10, 17);
    rn_run_until(net, 5 * SEC);
    unsigned ok = 0, all = 0;
    for (zhtp_time t = 5 * SEC; t <= 30 * SEC; t += 211 * MS) {
        rn_run_until(net, t);
        for (uint32_t a = 0; a < 100; a += 5)
            for (uint32_t b = 0; b < 100; b++) {
                if (a == b)
                    continue;
                rn_walk w;
                rn_route(net, a, b, HOP_LIMIT, &w);
                assert_true(w.hops <= w.first_bound + 1);
                assert_true(w.result == RN_DELIVERED || w.result == RN_NOROUTE);
                ok += w.result == RN_DELIVERED;
                all++;
            }
    }
    assert_true(rn_tree_consistent(net, 0));
    rn_free(net);
    return (double)ok / all;
}

static void lossy_links_still_deliver(void **state)
{
    (void)state;
    double d10 = lossy_delivery(100000), d20 = lossy_delivery(200000);
    print_message("# grid, announcements lost: 10 %% -> %.4f delivered, 20 %% -> %.4f\n", d10, d20);
    assert_true(d10 >= 0.999);
    assert_true(d20 >= 0.99);
}

/* Every hop strictly lowers the bound: no packet takes more hops than the first bound + 1,
 * even right after a change while coordinates are stale, and none loops. */
static void forwarding_never_loops_during_churn(void **state)
{
    (void)state;
    rn_net *net = rn_new(80, 23, REFRESH, NULL);
    rn_build_random(net, 80, 23);
    rn_run_until(net, 10 * SEC);
    uint64_t s = 99;
    unsigned walks = 0;
    for (int round = 0; round < 20; round++) {
        uint32_t e = (uint32_t)(rn_splitmix(&s) % rn_edge_count(net));
        rn_cut_edge(net, e, 0);
        for (int k = 0; k < 10; k++) {
            rn_run_until(net, rn_now(net) + 5 * MS);
            for (int p = 0; p < 20; p++) {
                uint32_t a = (uint32_t)(rn_splitmix(&s) % 80), b = (uint32_t)(rn_splitmix(&s) % 80);
                if (a == b)
                    continue;
                rn_walk w;
                rn_route(net, a, b, HOP_LIMIT, &w);
                assert_int_not_equal(w.result, RN_TOO_LONG);
                assert_true(w.hops <= w.first_bound + 1);
                walks++;
            }
        }
        rn_add_edge(net, rn_edge_get(net, e)->a, rn_edge_get(net, e)->b, ZHTP_MEDIUM_UDP, 0);
    }
    assert_true(walks > 3000);
    rn_free(net);
}

/* Same seed, same everything: coordinates, message counts, bytes. */
static uint64_t run_digest(uint64_t seed)
{
    rn_net *net = rn_new(100, seed, REFRESH, NULL);
    rn_build_rgg(net, 8.0, 100000, 20000, seed);
    rn_run_until(net, 5 * SEC);
    rn_cut_edge(net, 3, 500 * MS);
    rn_run_until(net, 10 * SEC);
    uint64_t h = 1469598103934665603ull;
    for (uint32_t v = 0; v < rn_size(net); v++) {
        size_t d;
        const uint16_t *c = zhtp_router_coords(rn_router(net, v), &d);
        for (size_t i = 0; i < d; i++)
            h = (h ^ c[i]) * 1099511628211ull;
        h = (h ^ 0xffff) * 1099511628211ull;
    }
    h = (h ^ rn_messages_sent(net)) * 1099511628211ull;
    h = (h ^ rn_bytes_sent(net)) * 1099511628211ull;
    h = (h ^ rn_last_change(net)) * 1099511628211ull;
    rn_free(net);
    return h;
}

static void same_seed_gives_the_same_run(void **state)
{
    (void)state;
    assert_int_equal(run_digest(77), run_digest(77));
    assert_int_not_equal(run_digest(77), run_digest(78));
}

/* ROUTING_TEST_FILTER=<glob> runs the matching tests alone (e.g. one scenario by name). */
int main(void)
{
    const char *filter = getenv("ROUTING_TEST_FILTER");
    if (filter)
        cmocka_set_test_filter(filter);
    zt_rng_seed(&g_rng, 12345);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(router_new_rejects_missing_rng),
        cmocka_unit_test(router_alone_is_root_and_refreshes),
        cmocka_unit_test(two_routers_follow_the_smaller_id),
        cmocka_unit_test(router_rejects_bad_messages_without_changing_state),
        cmocka_unit_test(router_never_adopts_a_neighbour_whose_path_contains_it),
        cmocka_unit_test(next_message_too_small_keeps_it_pending),
        cmocka_unit_test(parallel_links_share_load_by_cost),
        cmocka_unit_test(neighbour_paths_match_a_full_copy_model),
        cmocka_unit_test(every_allocation_failure_returns_nomem_without_leak),
        cmocka_unit_test(line_of_10_routes_every_pair_on_the_shortest_path),
        cmocka_unit_test(grid_10x10_mixed_media_routes_every_pair_without_loops),
        cmocka_unit_test(seeded_random_graphs_route_every_pair),
        cmocka_unit_test(rgg_300_routes_every_pair_with_bounded_stretch),
        cmocka_unit_test(cut_tree_link_is_routed_around),
        cmocka_unit_test(silently_killed_node_is_routed_around_after_timeout),
        cmocka_unit_test(killed_root_is_replaced_and_all_pairs_route_again),
        cmocka_unit_test(partition_side_elects_own_root),
        cmocka_unit_test(lossy_links_still_deliver),
        cmocka_unit_test(forwarding_never_loops_during_churn),
        cmocka_unit_test(same_seed_gives_the_same_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
