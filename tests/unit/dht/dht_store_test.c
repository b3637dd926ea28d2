/* store/dht_store: DHT instances of the virtual network (dht_net.c) each backed by its own
 * LMDB store in a temporary directory: put/get, record sequence rules, a restarted node still
 * serving what it held, and a chunk damaged on disk never served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dht_net.h"
#include "testutil.h"
#include "zhtp/blake3.h"
#include "zhtp/dht_store.h"

enum { N = 12, K = 4 };

typedef struct world {
    dn_net *net;
    char root[64];
    char dir[N][96];
    zhtp_dht_store *st[N];
    zhtp_store_config cfg;
    size_t events, ok;
    int status;
    uint8_t value[512];
    size_t len;
} world;

static uint64_t clock_fn(void *ud)
{
    return dn_now(((world *)ud)->net); /* the harness's network time (offset 0) */
}

static void ev_cb(void *ud, size_t node, const zhtp_dht_event *ev)
{
    (void)node;
    world *w = ud;
    w->events++;
    w->ok += ev->status == ZHTP_OK;
    w->status = ev->status;
    w->len = ev->len;
    memset(w->value, 0, sizeof w->value);
    if (ev->value && ev->len <= sizeof w->value)
        memcpy(w->value, ev->value, ev->len);
}

static void open_node(world *w, size_t i)
{
    assert_int_equal(zhtp_dht_store_open(&w->st[i], w->dir[i], &w->cfg, clock_fn, w), ZHTP_OK);
    zhtp_dht_store_ops ops = zhtp_dht_store_ops_for(w->st[i]);
    assert_int_equal(dn_restart(w->net, i, &ops), ZHTP_OK);
}

static void world_new_cfg(world *w, uint64_t seed, const zhtp_store_config *cfg)
{
    memset(w, 0, sizeof *w);
    if (cfg)
        w->cfg = *cfg;
    dn_config c = {.n = N, .seed = seed, .k = K};
    w->net = dn_new(&c);
    assert_non_null(w->net);
    dn_set_event_cb(w->net, ev_cb, w);
    snprintf(w->root, sizeof w->root, "/tmp/zhtp-dhtstore-XXXXXX");
    assert_non_null(mkdtemp(w->root));
    for (size_t i = 0; i < N; i++) {
        snprintf(w->dir[i], sizeof w->dir[i], "%s/n%zu", w->root, i);
        assert_int_equal(mkdir(w->dir[i], 0700), 0);
        open_node(w, i);
    }
    dn_bootstrap(w->net);
}

static void world_new(world *w, uint64_t seed)
{
    world_new_cfg(w, seed, NULL);
}

static void world_free(world *w)
{
    dn_free(w->net); /* the DHTs first: they hold the stores' callbacks */
    for (size_t i = 0; i < N; i++)
        zhtp_dht_store_close(w->st[i]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->root);
    assert_int_equal(system(cmd), 0);
}

/* Closes node i's store and DHT and brings both back from the same directory. */
static void restart_node(world *w, size_t i)
{
    dn_restart(w->net, i, NULL); /* drop the DHT's use of the store before closing it */
    zhtp_dht_store_close(w->st[i]);
    w->st[i] = NULL;
    open_node(w, i);
}

static size_t holders(world *w, const uint8_t key[32], size_t *first)
{
    size_t n = 0;
    for (size_t i = 0; i < N; i++)
        if (zhtp_store_chunk_size(zhtp_dht_store_backend(w->st[i]), key) > 0) {
            if (n++ == 0 && first)
                *first = i;
        }
    return n;
}

static void lmdb_backed_nodes_round_trip_chunks(void **state)
{
    (void)state;
    world w;
    world_new(&w, 3);
    uint8_t val[400], key[32];
    for (size_t i = 0; i < sizeof val; i++)
        val[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(dn_put(w.net, 1, val, sizeof val, key, NULL), ZHTP_OK);
    dn_run(w.net, 10 * ZHTP_NS_PER_SEC);
    assert_int_equal(w.status, ZHTP_OK);
    size_t h = holders(&w, key, NULL);
    printf("# chunk held in %zu LMDB stores\n", h);
    assert_true(h >= K);
    w.events = 0;
    assert_int_equal(dn_get(w.net, 7, key, NULL), ZHTP_OK);
    dn_run(w.net, 10 * ZHTP_NS_PER_SEC);
    assert_int_equal(w.events, 1);
    assert_int_equal(w.status, ZHTP_OK);
    assert_int_equal(w.len, sizeof val);
    assert_memory_equal(w.value, val, sizeof val);
    world_free(&w);
}

static uint8_t g_pk[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES], g_sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES];

static size_t make_record(uint8_t *out, uint64_t seq, uint64_t expiry, const char *value)
{
    uint8_t rnd[32] = {(uint8_t)seq};
    zhtp_ssize l =
        zhtp_dht_record_encode(out, ZHTP_DHT_RECORD_LEN(255, 4096), g_sk, (const uint8_t *)"site",
                               4, seq, expiry, (const uint8_t *)value, strlen(value), rnd);
    assert_true(l > 0);
    return (size_t)l;
}

static void lmdb_backed_records_keep_the_newest_sequence_across_restart(void **state)
{
    (void)state;
    uint8_t seed[ZHTP_SIGN_HYBRID_SEEDBYTES];
    memset(seed, 0x42, sizeof seed);
    assert_int_equal(zhtp_sign_hybrid_keypair_from_seed(g_pk, g_sk, seed), ZHTP_OK);
    world w;
    world_new(&w, 5);
    static uint8_t rec[ZHTP_DHT_RECORD_LEN(255, 4096)];
    uint8_t key[32];
    zhtp_dht_record_key(key, g_pk, (const uint8_t *)"site", 4);
    uint64_t exp = dn_now(w.net) + 3600 * ZHTP_NS_PER_SEC;
    size_t l = make_record(rec, 2, exp, "two");
    assert_int_equal(dn_publish(w.net, 2, rec, l, NULL), ZHTP_OK);
    dn_run(w.net, 10 * ZHTP_NS_PER_SEC);
    assert_int_equal(w.status, ZHTP_OK);
    /* the same record again (a republish) is accepted by the LMDB holders */
    assert_int_equal(dn_publish(w.net, 2, rec, l, NULL), ZHTP_OK);
    dn_run(w.net, 10 * ZHTP_NS_PER_SEC);
    assert_int_equal(w.status, ZHTP_OK);
    /* an older sequence is refused by every holder */
    uint64_t stale0 = dn_stat_sum(w.net, offsetof(zhtp_dht_stats, stale_records));
    l = make_record(rec, 1, exp, "one");
    assert_int_equal(dn_publish(w.net, 9, rec, l, NULL), ZHTP_OK);
    dn_run(w.net, 10 * ZHTP_NS_PER_SEC);
    assert_true(dn_stat_sum(w.net, offsetof(zhtp_dht_stats, stale_records)) - stale0 >= K);
    /* restart every node: the records come back from disk, and the newest wins */
    for (size_t i = 0; i < N; i++)
        restart_node(&w, i);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 1; j <= 3; j++)
            dn_add_contact(w.net, i, (i + j) % N);
    w.events = 0;
    assert_int_equal(dn_resolve(w.net, 6, key, NULL), ZHTP_OK);
    dn_run(w.net, 10 * ZHTP_NS_PER_SEC);
    assert_int_equal(w.events, 1);
    assert_int_equal(w.status, ZHTP_OK);
    assert_int_equal(w.len, 3);
    assert_memory_equal(w.value, "two", 3);
    world_free(&w);
}

static void restarted_node_still_serves_what_it_held(void **state)
{
    (void)state;
    world w;
    world_new(&w, 7);
    uint8_t val[300], key[32];
    memset(val, 0x3d, sizeof val);
    val[0] = 9;
    assert_int_equal(dn_put(w.net, 0, val, sizeof val, key, NULL), ZHTP_OK);
    dn_run(w.net, 10 * ZHTP_NS_PER_SEC);
    size_t h = N;
    assert_true(holders(&w, key, &h) >= 1);
    restart_node(&w, h);
    assert_true(zhtp_dht_store_count(w.st[h]) >= 1); /* the index came back: republish sees it */
    /* every other holder dies: only the restarted one can answer */
    for (size_t i = 0; i < N; i++)
        if (i != h && zhtp_store_chunk_size(zhtp_dht_store_backend(w.st[i]), key) > 0)
            dn_set_behaviour(w.net, i, DN_DEAD);
    size_t asker = (h + 1) % N;
    while (dn_behaviour(w.net, asker) == DN_DEAD)
        asker = (asker + 1) % N;
    w.events = 0;
    assert_int_equal(dn_get(w.net, asker, key, NULL), ZHTP_OK);
    dn_run(w.net, 20 * ZHTP_NS_PER_SEC);
    assert_int_equal(w.events, 1);
    assert_int_equal(w.status, ZHTP_OK);
    assert_memory_equal(w.value, val, sizeof val);
    world_free(&w);
}

/* Flips one byte of the chunk's bytes inside data.mdb (found by content). */
static bool corrupt_on_disk(const char *dir, const uint8_t *val, size_t len)
{
    char path[160];
    snprintf(path, sizeof path, "%s/store/data.mdb", dir);
    FILE *f = fopen(path, "r+b");
    if (!f)
        return false;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)size);
    bool done = false;
    if (fread(b, 1, (size_t)size, f) == (size_t)size) {
        for (long i = 0; i + (long)len <= size; i++)
            if (memcmp(b + i, val, len) == 0) {
                uint8_t x = b[i + (long)len / 2] ^ 0x40;
                fseek(f, i + (long)len / 2, SEEK_SET);
                done = fwrite(&x, 1, 1, f) == 1;
                break;
            }
    }
    free(b);
    fclose(f);
    return done;
}

static void chunk_damaged_on_disk_is_never_served(void **state)
{
    (void)state;
    world w;
    world_new(&w, 11);
    uint8_t val[5000], key[32];
    zt_rng rng;
    zt_rng_seed(&rng, 5);
    zt_rng_bytes(&rng, val, sizeof val);
    assert_int_equal(dn_put(w.net, 2, val, sizeof val, key, NULL), ZHTP_OK);
    dn_run(w.net, 10 * ZHTP_NS_PER_SEC);
    /* damage it in every holder, then restart them */
    size_t damaged = 0;
    for (size_t i = 0; i < N; i++) {
        if (zhtp_store_chunk_size(zhtp_dht_store_backend(w.st[i]), key) <= 0)
            continue;
        dn_restart(w.net, i, NULL);
        zhtp_dht_store_close(w.st[i]);
        w.st[i] = NULL;
        assert_true(corrupt_on_disk(w.dir[i], val, sizeof val));
        damaged++;
        open_node(&w, i);
    }
    assert_true(damaged >= K);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 1; j <= 3; j++)
            dn_add_contact(w.net, i, (i + j) % N);
    /* from a holder (its own store first) and from a non-holder: never the damaged bytes */
    for (size_t asker = 0; asker < N; asker++) {
        w.events = 0;
        w.status = 0;
        assert_int_equal(dn_get(w.net, asker, key, NULL), ZHTP_OK);
        dn_run(w.net, 10 * ZHTP_NS_PER_SEC);
        assert_int_equal(w.events, 1);
        assert_int_not_equal(w.status, ZHTP_OK);
    }
    uint64_t removed = 0;
    for (size_t i = 0; i < N; i++) {
        zhtp_store_stats st;
        assert_int_equal(zhtp_store_get_stats(zhtp_dht_store_backend(w.st[i]), &st), ZHTP_OK);
        removed += st.corrupt_removed;
        assert_true(zhtp_store_chunk_size(zhtp_dht_store_backend(w.st[i]), key) < 0);
    }
    printf("# %zu damaged copies, %llu removed by the store's hash check\n", damaged,
           (unsigned long long)removed);
    assert_int_equal(removed, damaged);
    world_free(&w);
}

/* Every node's LMDB quota is 1,000 bytes: a 2,000-byte chunk is refused by every holder with
 * the store's quota error, which the DHT reports as ZHTP_ERR_STORE_QUOTA; a small one fits. */
static void store_quota_is_reported_as_the_dht_quota_error(void **state)
{
    (void)state;
    zhtp_store_config cfg = {.quota_bytes = 1000};
    world w;
    world_new_cfg(&w, 13, &cfg);
    uint8_t big[2000], small[100], key[32];
    memset(big, 0x11, sizeof big);
    memset(small, 0x22, sizeof small);
    w.events = 0;
    assert_int_equal(dn_put(w.net, 3, big, sizeof big, key, NULL), ZHTP_OK);
    dn_run(w.net, 10 * ZHTP_NS_PER_SEC);
    assert_int_equal(w.events, 1);
    assert_int_equal(w.status, ZHTP_ERR_STORE_QUOTA);
    assert_int_equal(holders(&w, key, NULL), 0);
    /* straight through the callbacks too */
    zhtp_dht_store_ops ops = zhtp_dht_store_ops_for(w.st[0]);
    assert_int_equal(ops.put(ops.user_data, ZHTP_DHT_KIND_CHUNK, key, big, sizeof big, UINT64_MAX),
                     ZHTP_ERR_STORE_QUOTA);
    w.events = 0;
    assert_int_equal(dn_put(w.net, 3, small, sizeof small, key, NULL), ZHTP_OK);
    dn_run(w.net, 10 * ZHTP_NS_PER_SEC);
    assert_int_equal(w.status, ZHTP_OK);
    assert_true(holders(&w, key, NULL) >= K);
    world_free(&w);
}

/* Per-peer quota: STOREs received from a peer are charged to that peer's share of the LMDB
 * store (quota_peer_bytes 1,000). Peer X's second 600-byte chunk is refused with
 * ZHTP_ERR_STORE_QUOTA in its STORE_ACK while peer Y still stores, and the node's own put is not
 * charged to anyone. */
static uint64_t g_rng_state = 5;
static void q_rng(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    for (size_t i = 0; i < len; i++) {
        g_rng_state = g_rng_state * 6364136223846793005ull + 1442695040888963407ull;
        out[i] = (uint8_t)(g_rng_state >> 56);
    }
}
static uint64_t q_clock(void *ud)
{
    (void)ud;
    return 1000 * ZHTP_NS_PER_SEC;
}

static int16_t store_from(zhtp_dht *d, const uint8_t peer[32], uint8_t fill, uint64_t txid)
{
    uint8_t val[600], msg[700], to[32], out[64];
    memset(val, fill, sizeof val);
    /* STORE: type 7 | flags 0 | txid u64 | kind u8 | expiry u64 | len u32 | value (big-endian) */
    size_t n = 0;
    msg[n++] = ZHTP_DHT_MSG_STORE;
    msg[n++] = 0;
    for (int i = 7; i >= 0; i--)
        msg[n++] = (uint8_t)(txid >> (8 * i));
    msg[n++] = ZHTP_DHT_KIND_CHUNK;
    uint64_t exp = 2000 * ZHTP_NS_PER_SEC;
    for (int i = 7; i >= 0; i--)
        msg[n++] = (uint8_t)(exp >> (8 * i));
    msg[n++] = 0, msg[n++] = 0, msg[n++] = (uint8_t)(sizeof val >> 8),
    msg[n++] = (uint8_t)sizeof val;
    memcpy(msg + n, val, sizeof val);
    n += sizeof val;
    assert_int_equal(zhtp_dht_recv(d, peer, msg, n, 1000 * ZHTP_NS_PER_SEC), ZHTP_OK);
    zhtp_ssize l = zhtp_dht_next_message(d, to, out, sizeof out);
    assert_int_equal(l, 12); /* STORE_ACK: header 10 + status i16 */
    assert_int_equal(out[0], ZHTP_DHT_MSG_STORE_ACK);
    assert_memory_equal(to, peer, 32);
    return (int16_t)(uint16_t)(out[10] << 8 | out[11]);
}

static void peer_over_its_share_gets_quota_in_its_store_ack_while_others_store(void **state)
{
    (void)state;
    char dir[] = "/tmp/zhtp_dht_quota_XXXXXX";
    assert_non_null(mkdtemp(dir));
    zhtp_store_config sc = {.quota_peer_bytes = 1000};
    zhtp_dht_store *st;
    assert_int_equal(zhtp_dht_store_open(&st, dir, &sc, q_clock, NULL), ZHTP_OK);
    zhtp_dht_config c = {.rng = q_rng, .k = 4};
    zhtp_dht_store_configure(st, &c);
    assert_true(c.store_put_from != NULL);
    uint8_t self[32], x[32], y[32];
    memset(self, 0x01, 32);
    memset(x, 0x80, 32);
    memset(y, 0xC0, 32);
    zhtp_dht *d;
    assert_int_equal(zhtp_dht_new(&d, &c, self, 1000 * ZHTP_NS_PER_SEC), ZHTP_OK);
    assert_int_equal(store_from(d, x, 0xA1, 1), ZHTP_OK);
    assert_int_equal(store_from(d, x, 0xA2, 2), ZHTP_ERR_STORE_QUOTA); /* 1,200 > 1,000 */
    assert_int_equal(store_from(d, y, 0xB1, 3), ZHTP_OK);              /* y's own share */
    /* the node's own content is not any peer's */
    zhtp_dht_store_ops ops = zhtp_dht_store_ops_for(st);
    uint8_t own[900], key[32];
    memset(own, 0x33, sizeof own);
    zhtp_blake3_hash(key, sizeof key, own, sizeof own);
    assert_int_equal(
        ops.put(ops.user_data, ZHTP_DHT_KIND_CHUNK, key, own, sizeof own, 2000 * ZHTP_NS_PER_SEC),
        ZHTP_OK);
    assert_int_equal(zhtp_dht_store_count(st), 3);
    zhtp_dht_free(d);
    zhtp_dht_store_close(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lmdb_backed_nodes_round_trip_chunks),
        cmocka_unit_test(lmdb_backed_records_keep_the_newest_sequence_across_restart),
        cmocka_unit_test(restarted_node_still_serves_what_it_held),
        cmocka_unit_test(chunk_damaged_on_disk_is_never_served),
        cmocka_unit_test(store_quota_is_reported_as_the_dht_quota_error),
        cmocka_unit_test(peer_over_its_share_gets_quota_in_its_store_ack_while_others_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
