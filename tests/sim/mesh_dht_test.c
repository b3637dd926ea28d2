/* The mesh without an oracle: every simulated node runs its own DHT (zsim_config.dht), and
 * destinations are found only through locator blocks and DHT lookups over the mesh
 * (docs/routing.md "Locators"). Each scenario runs alone when its name is the first argument. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "testutil.h"
#include "zhtp/blake3.h"
#include "zhtp/dht.h"
#include "zhtp/hybrid.h"
#include "zhtp/util.h"

#define SEC ZHTP_NS_PER_SEC

static zsim *run_cfg(const zsim_config *c, zsim_result *r)
{
    zsim *s;
    assert_int_equal(zsim_new(&s, c), ZHTP_OK);
    zsim_run(s);
    zsim_result_get(s, r);
    return s;
}

/* Sum of one node counter over all nodes. */
static uint64_t stat_sum(zsim *s, size_t off)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < zsim_node_count(s); i++) {
        zhtp_node_stats st;
        zhtp_node_get_stats(zsim_node(s, i), &st);
        uint64_t v;
        memcpy(&v, (const uint8_t *)&st + off, sizeof v);
        sum += v;
    }
    return sum;
}
#define STAT(s, field) stat_sum(s, offsetof(zhtp_node_stats, field))

static void reliable_all_delivered(const zsim_config *c, uint32_t messages)
{
    zsim_result r;
    zsim *s = run_cfg(c, &r);
    printf("# %u nodes: %llu/%llu delivered, %llu acked, hops p50 %u p99 %u, locates %llu, "
           "dht msgs %llu, rx_bad %llu\n",
           r.nodes, (unsigned long long)r.messages_delivered, (unsigned long long)r.messages_sent,
           (unsigned long long)r.messages_acked, r.hops_p50, r.hops_p99,
           (unsigned long long)STAT(s, locates), (unsigned long long)STAT(s, dht_tx),
           (unsigned long long)r.rx_bad);
    assert_int_equal(r.messages_sent, messages);
    assert_int_equal(r.messages_delivered, messages);
    assert_int_equal(r.messages_acked, messages);
    assert_int_equal(r.messages_failed, 0);
    /* No oracle in this mode: the coordinates came from locator blocks and the DHT, whose
     * traffic crossed the mesh (self-lookups, and lookups of unknown destinations). */
    assert_true(STAT(s, dht_tx) > 0);
    assert_true(STAT(s, dht_fwd) > 0);
    assert_true(STAT(s, dht_rx) > 0);
    zsim_free(s);
}

static void mesh_line10_reliable_messages_resolved_by_dht(void **state)
{
    (void)state;
    zsim_config c = {.topology = ZSIM_LINE,
                     .n = 10,
                     .seed = 11,
                     .media = ZHTP_MEDIUM_UDP,
                     .messages = 40,
                     .dht = true};
    reliable_all_delivered(&c, 40);
}

static void mesh_grid10x10_reliable_messages_resolved_by_dht(void **state)
{
    (void)state;
    zsim_config c = {.topology = ZSIM_GRID,
                     .w = 10,
                     .h = 10,
                     .seed = 5,
                     .media = ZHTP_MEDIUM_UDP,
                     .messages = 100,
                     .dht = true};
    reliable_all_delivered(&c, 100);
}

/* ---- DHT operations from the application, over the mesh ---------------------------------- */

/* Runs the simulation until node i's DHT reports operation |op| (or |limit|). */
static bool wait_dht(zsim *s, uint32_t i, uint64_t op, zhtp_time limit, zhtp_dht_event *out,
                     uint8_t *val, size_t *val_len)
{
    zhtp_dht *d = zhtp_node_dht(zsim_node(s, i));
    for (zhtp_time t = zsim_now(s); t <= limit; t += SEC / 10) {
        zsim_run_until(s, t);
        zhtp_dht_event ev;
        while (zhtp_dht_next_event(d, &ev) == ZHTP_OK) {
            if (ev.op != op)
                continue;
            *out = ev;
            if (val && ev.status == ZHTP_OK) {
                memcpy(val, ev.value, ev.len);
                *val_len = ev.len;
            }
            return true;
        }
    }
    return false;
}

static void chunk_bytes(uint8_t *b, size_t len, uint32_t seed)
{
    uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b[i] = (uint8_t)x;
    }
}

/* Put on |a|, get on |b|: the bytes come back identical. */
static void put_get(zsim *s, uint32_t a, uint32_t b, size_t len, uint32_t seed)
{
    uint8_t val[2048], got[2048], key[32];
    size_t got_len = 0;
    assert_true(len <= sizeof val);
    chunk_bytes(val, len, seed);
    uint64_t op;
    zhtp_dht_event ev;
    assert_int_equal(zhtp_dht_put(zhtp_node_dht(zsim_node(s, a)), val, len, key, zsim_now(s), &op),
                     ZHTP_OK);
    zsim_service(s, a);
    assert_true(wait_dht(s, a, op, zsim_now(s) + 30 * SEC, &ev, NULL, NULL));
    assert_int_equal(ev.status, ZHTP_OK);
    assert_true(ev.stored >= 1);
    assert_int_equal(zhtp_dht_get(zhtp_node_dht(zsim_node(s, b)), key, zsim_now(s), &op), ZHTP_OK);
    zsim_service(s, b);
    assert_true(wait_dht(s, b, op, zsim_now(s) + 30 * SEC, &ev, got, &got_len));
    assert_int_equal(ev.status, ZHTP_OK);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, val, len);
}

static void mesh_grid_put_get_and_record_publish_resolve_between_far_nodes(void **state)
{
    (void)state;
    zsim_config c = {.topology = ZSIM_GRID,
                     .w = 10,
                     .h = 10,
                     .seed = 9,
                     .media = ZHTP_MEDIUM_UDP,
                     .dht = true,
                     .max_time = 600 * SEC};
    zsim *s;
    assert_int_equal(zsim_new(&s, &c), ZHTP_OK);
    zsim_run_until(s, 20 * SEC);
    put_get(s, 0, 99, 1000, 1); /* corner to corner: 18 hops */
    put_get(s, 9, 90, 10, 2);

    /* A signed record published on node 45, resolved on node 0. */
    uint8_t pk[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES], sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES];
    uint8_t seed[ZHTP_SIGN_HYBRID_SEEDBYTES], rnd[ZHTP_MLDSA44_RNDBYTES] = {0};
    memset(seed, 0x17, sizeof seed);
    assert_int_equal(zhtp_sign_hybrid_keypair_from_seed(pk, sk, seed), ZHTP_OK);
    static uint8_t rec[ZHTP_DHT_RECORD_LEN(4, 16)];
    zhtp_ssize rl = zhtp_dht_record_encode(rec, sizeof rec, sk, (const uint8_t *)"site", 4, 7,
                                           zsim_now(s) + 3600 * SEC,
                                           (const uint8_t *)"root-of-the-site", 16, rnd);
    assert_int_equal(rl, (zhtp_ssize)sizeof rec);
    uint64_t op;
    zhtp_dht_event ev;
    assert_int_equal(
        zhtp_dht_publish(zhtp_node_dht(zsim_node(s, 45)), rec, sizeof rec, zsim_now(s), &op),
        ZHTP_OK);
    zsim_service(s, 45);
    assert_true(wait_dht(s, 45, op, zsim_now(s) + 30 * SEC, &ev, NULL, NULL));
    assert_int_equal(ev.status, ZHTP_OK);
    uint8_t rkey[32], got[64];
    size_t got_len = 0;
    zhtp_dht_record_key(rkey, pk, (const uint8_t *)"site", 4);
    assert_int_equal(zhtp_dht_resolve(zhtp_node_dht(zsim_node(s, 0)), rkey, zsim_now(s), &op),
                     ZHTP_OK);
    zsim_service(s, 0);
    assert_true(wait_dht(s, 0, op, zsim_now(s) + 30 * SEC, &ev, got, &got_len));
    assert_int_equal(ev.status, ZHTP_OK);
    assert_int_equal(ev.seq, 7);
    assert_int_equal(got_len, 16);
    assert_memory_equal(got, "root-of-the-site", 16);
    zhtp_wipe(sk, sizeof sk);
    zsim_free(s);
}

/* A relay dies mid-run, then a link is cut: reliable traffic between the survivors still
 * arrives, on coordinates re-learnt after the tree changed. */
static void mesh_node_kill_and_link_cut_heal(void **state)
{
    (void)state;
    zsim_config c = {.topology = ZSIM_GRID,
                     .w = 6,
                     .h = 6,
                     .seed = 3,
                     .media = ZHTP_MEDIUM_UDP,
                     .messages = 100,
                     .kill_at = 18 * SEC,
                     .dht = true};
    zsim_result r;
    zsim *s = run_cfg(&c, &r);
    printf("# kill: sent %llu delivered %llu failed %llu excluded %llu reroute %.0f ms\n",
           (unsigned long long)r.messages_sent, (unsigned long long)r.messages_delivered,
           (unsigned long long)r.messages_failed, (unsigned long long)r.messages_excluded,
           r.reroute_ms);
    assert_true(r.messages_sent >= 90);
    assert_int_equal(r.messages_delivered, r.messages_sent);
    assert_int_equal(r.messages_failed, 0);
    zsim_free(s);

    zsim_config c2 = {.topology = ZSIM_GRID,
                      .w = 6,
                      .h = 6,
                      .seed = 4,
                      .media = ZHTP_MEDIUM_UDP,
                      .messages = 100,
                      .cut_at = 18 * SEC,
                      .dht = true};
    s = run_cfg(&c2, &r);
    printf("# cut: sent %llu delivered %llu failed %llu\n", (unsigned long long)r.messages_sent,
           (unsigned long long)r.messages_delivered, (unsigned long long)r.messages_failed);
    assert_int_equal(r.messages_delivered, r.messages_sent);
    assert_int_equal(r.messages_failed, 0);
    zsim_free(s);
}

/* A larger plaintext mesh: many put/get pairs between random nodes, every byte compared. */
static void mesh_plaintext_500_nodes_put_get_pairs_all_verified(void **state)
{
    (void)state;
    zsim_config c = {.topology = ZSIM_RANDOM,
                     .n = 500,
                     .degree = 4,
                     .seed = 21,
                     .media = ZHTP_MEDIUM_UDP,
                     .plaintext = true,
                     .dht = true,
                     .max_time = 3600 * SEC};
    zsim *s;
    assert_int_equal(zsim_new(&s, &c), ZHTP_OK);
    zsim_run_until(s, 30 * SEC);
    uint64_t x = 12345;
    const int pairs = 150;
    for (int k = 0; k < pairs; k++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t a = (uint32_t)(x >> 33) % 500, b = (uint32_t)(x >> 13) % 500;
        if (a == b)
            b = (b + 1) % 500;
        put_get(s, a, b, 64 + (size_t)(x % 900), (uint32_t)k + 100);
    }
    printf("# 500 nodes plaintext: %d put/get pairs verified at t=%.1f s, locates %llu, dht msgs "
           "%llu\n",
           pairs, (double)zsim_now(s) / 1e9, (unsigned long long)STAT(s, locates),
           (unsigned long long)STAT(s, dht_tx));
    zsim_free(s);
}

/* Deterministic with the DHT too: the same seed gives the same trace, another seed another. */
static void mesh_dht_same_seed_same_trace(void **state)
{
    (void)state;
    uint64_t d[3];
    for (int k = 0; k < 3; k++) {
        zsim_config c = {.topology = ZSIM_GRID,
                         .w = 5,
                         .h = 5,
                         .seed = k < 2 ? 8 : 9,
                         .media = ZHTP_MEDIUM_UDP,
                         .messages = 30,
                         .dht = true};
        zsim_result r;
        zsim *s = run_cfg(&c, &r);
        assert_int_equal(r.messages_delivered, 30);
        d[k] = r.trace_digest;
        zsim_free(s);
    }
    assert_true(d[0] == d[1]);
    assert_true(d[0] != d[2]);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mesh_line10_reliable_messages_resolved_by_dht),
        cmocka_unit_test(mesh_grid10x10_reliable_messages_resolved_by_dht),
        cmocka_unit_test(mesh_grid_put_get_and_record_publish_resolve_between_far_nodes),
        cmocka_unit_test(mesh_node_kill_and_link_cut_heal),
        cmocka_unit_test(mesh_plaintext_500_nodes_put_get_pairs_all_verified),
        cmocka_unit_test(mesh_dht_same_seed_same_trace),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
