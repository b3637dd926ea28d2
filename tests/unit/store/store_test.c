/* store/: round trips, the chunk key check, record sequence and expiry rules, gc, each quota,
 * integrity checks against bytes corrupted on disk through a raw LMDB handle, persistence,
 * the peer cache, format refusal, directory errors, map growth, and a differential test
 * against an in-memory model over seeded random operations. */
#include <errno.h>
#include <ftw.h>
#include <lmdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "zhtp/blake3.h"
#include "zhtp/store.h"

/* --- fixtures ------------------------------------------------------------------------- */

typedef struct fx {
    char dir[64];
    zhtp_store *s;
} fx;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/zhtp-store-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    zhtp_store_close(f->s);
    rm_rf(f->dir);
    free(f);
    return 0;
}

static void open_store(fx *f, const zhtp_store_config *cfg)
{
    zhtp_store_close(f->s);
    f->s = NULL;
    assert_int_equal(zhtp_store_open(&f->s, f->dir, cfg), 0);
}

static void make_chunk(zt_rng *r, uint8_t *buf, size_t len, uint8_t key[32])
{
    zt_rng_bytes(r, buf, len);
    zhtp_blake3_hash(key, 32, buf, len);
}

static void fill_id(uint8_t id[32], uint8_t v)
{
    memset(id, v, 32);
}

#define NOW 1000000

/* Bytes a record entry takes besides its signature and value (docs/store.md, "records"). */
#define REC_HDR 72

/* Opens dir/store with a raw LMDB handle (the store must be closed), runs a put into db. */
static void raw_put(const char *dir, const char *db, const void *key, size_t klen,
                    const void *value, size_t vlen)
{
    char path[128];
    snprintf(path, sizeof path, "%s/store", dir);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, MDB_CREATE, &dbi), 0);
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)value};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Reads db[key] through a raw LMDB handle (the store must be closed). Returns the length. */
static size_t raw_get(const char *dir, const char *db, const void *key, size_t klen, void *out,
                      size_t cap)
{
    char path[128];
    snprintf(path, sizeof path, "%s/store", dir);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    MDB_val k = {klen, (void *)key}, v;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    assert_true(v.mv_size <= cap);
    memcpy(out, v.mv_data, v.mv_size);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return v.mv_size;
}

/* --- chunks --------------------------------------------------------------------------- */

static void chunk_round_trip_returns_the_stored_bytes(void **state)
{
    fx *f = *state;
    open_store(f, NULL);
    zt_rng r;
    zt_rng_seed(&r, 1);
    static uint8_t buf[ZHTP_STORE_CHUNK_MAX], out[ZHTP_STORE_CHUNK_MAX];
    size_t sizes[] = {1, 1024, 4097, ZHTP_STORE_CHUNK_MAX};
    for (size_t i = 0; i < 4; i++) {
        uint8_t key[32];
        make_chunk(&r, buf, sizes[i], key);
        assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizes[i], NULL, 0, NOW), 0);
        memset(out, 0, sizes[i]);
        assert_int_equal(zhtp_store_chunk_get(f->s, key, out, sizeof out), (zhtp_ssize)sizes[i]);
        assert_memory_equal(out, buf, sizes[i]);
        assert_int_equal(zhtp_store_chunk_size(f->s, key), (zhtp_ssize)sizes[i]);
        /* A second put of the same chunk is accepted and charged once. */
        assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizes[i], NULL, 0, NOW), 0);
    }
    zhtp_store_stats st;
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.chunks, 4);
    assert_int_equal(st.chunk_bytes, 1 + 1024 + 4097 + ZHTP_STORE_CHUNK_MAX);
    /* Over the maximum, or empty: refused. */
    uint8_t key[32] = {0};
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, ZHTP_STORE_CHUNK_MAX + 1, NULL, 0, NOW),
                     ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, 0, NULL, 0, NOW), ZHTP_ERR_INVAL);
}

static void chunk_put_rejects_bytes_that_do_not_hash_to_the_key(void **state)
{
    fx *f = *state;
    open_store(f, NULL);
    uint8_t buf[100], key[32];
    zt_rng r;
    zt_rng_seed(&r, 2);
    make_chunk(&r, buf, sizeof buf, key);
    buf[50] ^= 1;
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizeof buf, NULL, 0, NOW),
                     ZHTP_ERR_STORE_KEY_MISMATCH);
    uint8_t out[100];
    assert_int_equal(zhtp_store_chunk_get(f->s, key, out, sizeof out), ZHTP_ERR_NOTFOUND);
    zhtp_store_stats st;
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.chunks, 0);
}

static void chunk_get_with_small_buffer_gives_nobuf_and_writes_nothing(void **state)
{
    fx *f = *state;
    open_store(f, NULL);
    uint8_t buf[300], key[32], out[299];
    zt_rng r;
    zt_rng_seed(&r, 3);
    make_chunk(&r, buf, sizeof buf, key);
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizeof buf, NULL, 0, NOW), 0);
    memset(out, 0xAA, sizeof out);
    assert_int_equal(zhtp_store_chunk_get(f->s, key, out, sizeof out), ZHTP_ERR_NOBUF);
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0xAA);
    assert_int_equal(zhtp_store_chunk_delete(f->s, key), 0);
    assert_int_equal(zhtp_store_chunk_delete(f->s, key), ZHTP_ERR_NOTFOUND);
}

static void chunk_batch_is_stored_all_or_nothing(void **state)
{
    fx *f = *state;
    zhtp_store_config cfg = {.quota_bytes = 10000};
    open_store(f, &cfg);
    static uint8_t buf[8][1500];
    uint8_t keys[8][32];
    zhtp_store_chunk_in in[8];
    zt_rng r;
    zt_rng_seed(&r, 11);
    for (int i = 0; i < 8; i++) {
        make_chunk(&r, buf[i], sizeof buf[i], keys[i]);
        in[i] = (zhtp_store_chunk_in){keys[i], buf[i], sizeof buf[i]};
    }
    /* 8 x 1500 > 10000: the quota trips at the 7th, and none of the batch is stored. */
    assert_int_equal(zhtp_store_chunk_put_many(f->s, in, 8, NULL, 0, NOW), ZHTP_ERR_STORE_QUOTA);
    for (int i = 0; i < 8; i++)
        assert_int_equal(zhtp_store_chunk_size(f->s, keys[i]), ZHTP_ERR_NOTFOUND);
    /* One wrong key refuses the whole batch. */
    uint8_t bad[32];
    memcpy(bad, keys[3], 32);
    bad[5] ^= 0x80;
    in[3].key = bad;
    assert_int_equal(zhtp_store_chunk_put_many(f->s, in, 4, NULL, 0, NOW),
                     ZHTP_ERR_STORE_KEY_MISMATCH);
    assert_int_equal(zhtp_store_chunk_size(f->s, keys[0]), ZHTP_ERR_NOTFOUND);
    in[3].key = keys[3];
    /* A duplicate inside the batch is charged once. */
    in[5] = in[0];
    assert_int_equal(zhtp_store_chunk_put_many(f->s, in, 6, NULL, 0, NOW), 0);
    zhtp_store_stats st;
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.chunks, 5);
    assert_int_equal(st.chunk_bytes, 5 * 1500);
    uint8_t out[1500];
    for (int i = 0; i < 5; i++) {
        assert_int_equal(zhtp_store_chunk_get(f->s, keys[i], out, sizeof out), 1500);
        assert_memory_equal(out, buf[i], 1500);
    }
    assert_int_equal(zhtp_store_chunk_put_many(f->s, NULL, 0, NULL, 0, NOW), 0);
}

static void corrupt_chunk_on_disk_is_detected_removed_and_counted(void **state)
{
    fx *f = *state;
    open_store(f, NULL);
    uint8_t buf[2000], key[32], owner[32];
    fill_id(owner, 7);
    zt_rng r;
    zt_rng_seed(&r, 4);
    make_chunk(&r, buf, sizeof buf, key);
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizeof buf, owner, 0, NOW), 0);
    zhtp_store_close(f->s);
    f->s = NULL;

    /* One flipped bit in the stored value, written behind the store's back. */
    buf[1234] ^= 0x10;
    raw_put(f->dir, "chunks", key, 32, buf, sizeof buf);

    open_store(f, NULL);
    static uint8_t out[4000];
    memset(out, 0x5C, sizeof out);
    assert_int_equal(zhtp_store_chunk_get(f->s, key, out, sizeof out), ZHTP_ERR_STORE_CORRUPT);
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0x5C);
    /* Removed, counted, quota released. */
    assert_int_equal(zhtp_store_chunk_get(f->s, key, out, sizeof out), ZHTP_ERR_NOTFOUND);
    zhtp_store_stats st;
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.corrupt_removed, 1);
    assert_int_equal(st.chunks, 0);
    assert_int_equal(st.chunk_bytes, 0);
    uint64_t used = 99;
    assert_int_equal(zhtp_store_peer_usage(f->s, owner, &used), 0);
    assert_int_equal(used, 0);
    /* A truncated value is caught the same way. */
    zt_rng_seed(&r, 5);
    make_chunk(&r, buf, sizeof buf, key);
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizeof buf, NULL, 0, NOW), 0);
    zhtp_store_close(f->s);
    f->s = NULL;
    raw_put(f->dir, "chunks", key, 32, buf, 10);
    open_store(f, NULL);
    assert_int_equal(zhtp_store_chunk_get(f->s, key, out, sizeof out), ZHTP_ERR_STORE_CORRUPT);
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.corrupt_removed, 2);
    assert_int_equal(st.chunk_bytes, 0);
}

/* --- records -------------------------------------------------------------------------- */

static zhtp_store_record rec_of(uint64_t seq, uint64_t expiry, const char *sig, const char *value)
{
    zhtp_store_record r = {
        seq, expiry, (const uint8_t *)sig, strlen(sig), (const uint8_t *)value, strlen(value)};
    return r;
}

static void expect_record(zhtp_store *s, const uint8_t *key, uint64_t now, uint64_t seq,
                          const char *sig, const char *value)
{
    zhtp_store_record out;
    uint8_t buf[512];
    assert_int_equal(zhtp_store_record_get(s, key, now, &out, buf, sizeof buf), 0);
    assert_int_equal(out.sequence, seq);
    assert_int_equal(out.sig_len, strlen(sig));
    assert_memory_equal(out.sig, sig, out.sig_len);
    assert_int_equal(out.value_len, strlen(value));
    assert_memory_equal(out.value, value, out.value_len);
}

static void record_sequence_older_or_equal_rejected_newer_replaces(void **state)
{
    fx *f = *state;
    open_store(f, NULL);
    uint8_t key[32];
    fill_id(key, 1);
    zhtp_store_record r = rec_of(5, 0, "sig5", "value five");
    assert_int_equal(zhtp_store_record_put(f->s, key, &r, NULL, NOW), 0);
    expect_record(f->s, key, NOW, 5, "sig5", "value five");
    r = rec_of(5, 0, "sigX", "same sequence");
    assert_int_equal(zhtp_store_record_put(f->s, key, &r, NULL, NOW), ZHTP_ERR_STORE_STALE);
    r = rec_of(4, 0, "sig4", "older");
    assert_int_equal(zhtp_store_record_put(f->s, key, &r, NULL, NOW), ZHTP_ERR_STORE_STALE);
    expect_record(f->s, key, NOW, 5, "sig5", "value five");
    r = rec_of(6, 0, "sig6", "six");
    assert_int_equal(zhtp_store_record_put(f->s, key, &r, NULL, NOW), 0);
    expect_record(f->s, key, NOW, 6, "sig6", "six");
    zhtp_store_stats st;
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.records, 1);
    assert_int_equal(st.record_bytes, REC_HDR + 4 + 3);
    /* Empty signature and value are allowed; a small buffer gives NOBUF. */
    uint8_t key2[32];
    fill_id(key2, 2);
    r = rec_of(1, 0, "", "");
    assert_int_equal(zhtp_store_record_put(f->s, key2, &r, NULL, NOW), 0);
    expect_record(f->s, key2, NOW, 1, "", "");
    zhtp_store_record out;
    uint8_t small[6];
    assert_int_equal(zhtp_store_record_get(f->s, key, NOW, &out, small, sizeof small),
                     ZHTP_ERR_NOBUF);
    assert_int_equal(zhtp_store_record_delete(f->s, key2), 0);
    assert_int_equal(zhtp_store_record_get(f->s, key2, NOW, &out, small, sizeof small),
                     ZHTP_ERR_NOTFOUND);
}

static void expired_entries_are_not_served_and_gc_removes_them(void **state)
{
    fx *f = *state;
    open_store(f, NULL);
    uint8_t k1[32], k2[32], k3[32];
    fill_id(k1, 1), fill_id(k2, 2), fill_id(k3, 3);
    zhtp_store_record r = rec_of(1, NOW, "s", "v");
    assert_int_equal(zhtp_store_record_put(f->s, k1, &r, NULL, NOW), ZHTP_ERR_STORE_EXPIRED);
    r = rec_of(1, NOW + 10, "s", "short");
    assert_int_equal(zhtp_store_record_put(f->s, k1, &r, NULL, NOW), 0);
    r = rec_of(1, 0, "s", "forever");
    assert_int_equal(zhtp_store_record_put(f->s, k2, &r, NULL, NOW), 0);
    uint8_t c1[64], c2[64], ck1[32], ck2[32];
    zt_rng rng;
    zt_rng_seed(&rng, 6);
    make_chunk(&rng, c1, sizeof c1, ck1);
    make_chunk(&rng, c2, sizeof c2, ck2);
    assert_int_equal(zhtp_store_chunk_put(f->s, ck1, c1, sizeof c1, NULL, NOW, NOW),
                     ZHTP_ERR_STORE_EXPIRED);
    assert_int_equal(zhtp_store_chunk_put(f->s, ck1, c1, sizeof c1, NULL, NOW + 10, NOW), 0);
    assert_int_equal(zhtp_store_chunk_put(f->s, ck2, c2, sizeof c2, NULL, NOW + 30, NOW), 0);

    expect_record(f->s, k1, NOW + 9, 1, "s", "short");
    zhtp_store_record out;
    uint8_t buf[64];
    assert_int_equal(zhtp_store_record_get(f->s, k1, NOW + 10, &out, buf, sizeof buf),
                     ZHTP_ERR_NOTFOUND);
    /* Still stored until gc, and its sequence still blocks a replay of the same one. */
    r = rec_of(1, NOW + 100, "s", "replay");
    assert_int_equal(zhtp_store_record_put(f->s, k1, &r, NULL, NOW + 10), ZHTP_ERR_STORE_STALE);

    uint64_t removed = 99;
    assert_int_equal(zhtp_store_gc(f->s, NOW + 9, &removed), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(zhtp_store_gc(f->s, NOW + 10, &removed), 0);
    assert_int_equal(removed, 2); /* k1 and ck1 */
    assert_int_equal(zhtp_store_chunk_get(f->s, ck1, buf, sizeof buf), ZHTP_ERR_NOTFOUND);
    assert_int_equal(zhtp_store_chunk_get(f->s, ck2, buf, sizeof buf), 64);
    expect_record(f->s, k2, NOW + 1000000, 1, "s", "forever");
    /* A duplicate put extends a chunk's expiry; never beats any time. */
    assert_int_equal(zhtp_store_chunk_put(f->s, ck2, c2, sizeof c2, NULL, 0, NOW + 20), 0);
    assert_int_equal(zhtp_store_gc(f->s, NOW + 100000, &removed), 0);
    assert_int_equal(removed, 0);
    zhtp_store_stats st;
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.chunks, 1);
    assert_int_equal(st.records, 1);
    assert_int_equal(st.record_bytes, REC_HDR + 1 + 7);
}

static void corrupt_record_entry_is_detected_and_removed(void **state)
{
    fx *f = *state;
    open_store(f, NULL);
    uint8_t key[32];
    fill_id(key, 9);
    zhtp_store_record r = rec_of(3, 0, "sig", "value");
    assert_int_equal(zhtp_store_record_put(f->s, key, &r, NULL, NOW), 0);
    zhtp_store_close(f->s);
    f->s = NULL;
    uint8_t junk[20] = {1, 0};
    raw_put(f->dir, "records", key, 32, junk, sizeof junk);
    open_store(f, NULL);
    zhtp_store_record out;
    uint8_t buf[64];
    assert_int_equal(zhtp_store_record_get(f->s, key, NOW, &out, buf, sizeof buf),
                     ZHTP_ERR_STORE_CORRUPT);
    assert_int_equal(zhtp_store_record_get(f->s, key, NOW, &out, buf, sizeof buf),
                     ZHTP_ERR_NOTFOUND);
    zhtp_store_stats st;
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.corrupt_removed, 1);
}

static void record_with_altered_bytes_or_under_another_key_is_corrupt(void **state)
{
    fx *f = *state;
    open_store(f, NULL);
    uint8_t k1[32], k2[32], owner[32];
    fill_id(k1, 0x21), fill_id(k2, 0x22), fill_id(owner, 0x0E);
    zhtp_store_record r = rec_of(8, 0, "signature", "a value that decodes fine");
    assert_int_equal(zhtp_store_record_put(f->s, k1, &r, owner, NOW), 0);
    zhtp_store_close(f->s);
    f->s = NULL;
    uint8_t entry[256];
    size_t len = raw_get(f->dir, "records", k1, 32, entry, sizeof entry);
    assert_int_equal(len, REC_HDR + 9 + 25);
    /* The same valid entry under a second key: its check binds it to k1. */
    raw_put(f->dir, "records", k2, 32, entry, len);
    /* One value bit flipped under k1: still well formed, but the check fails. */
    entry[len - 1] ^= 0x01;
    raw_put(f->dir, "records", k1, 32, entry, len);
    open_store(f, NULL);
    zhtp_store_record out;
    uint8_t buf[256];
    assert_int_equal(zhtp_store_record_get(f->s, k1, NOW, &out, buf, sizeof buf),
                     ZHTP_ERR_STORE_CORRUPT);
    /* Removing a damaged record (owner unknown) triggered the recount, whose sweep found the
     * misplaced copy under k2 as well: both gone, the owner's charge rebuilt to zero. */
    assert_int_equal(zhtp_store_record_get(f->s, k2, NOW, &out, buf, sizeof buf),
                     ZHTP_ERR_NOTFOUND);
    zhtp_store_stats st;
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.corrupt_removed, 2);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.record_bytes, 0);
    uint64_t used = 1;
    assert_int_equal(zhtp_store_peer_usage(f->s, owner, &used), 0);
    assert_int_equal(used, 0);
    /* A fresh put is accepted again (no stale sequence survives from a corrupt entry). */
    r = rec_of(1, 0, "s", "v");
    assert_int_equal(zhtp_store_record_put(f->s, k1, &r, NULL, NOW), 0);
}

static void chunk_metadata_with_altered_bytes_is_found_by_a_reput_and_by_verify(void **state)
{
    fx *f = *state;
    open_store(f, NULL);
    uint8_t buf[700], key[32], owner[32];
    fill_id(owner, 0x0C);
    zt_rng r;
    zt_rng_seed(&r, 12);
    make_chunk(&r, buf, sizeof buf, key);
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizeof buf, owner, 0, NOW), 0);
    zhtp_store_close(f->s);
    f->s = NULL;
    uint8_t meta[128];
    size_t len = raw_get(f->dir, "chunk_meta", key, 32, meta, sizeof meta);
    meta[45] ^= 0x04; /* the expiry's low byte */
    raw_put(f->dir, "chunk_meta", key, 32, meta, len);
    open_store(f, NULL);
    /* gc reads only its expiry index and does not see the damage; verify does. */
    uint64_t removed;
    assert_int_equal(zhtp_store_gc(f->s, NOW + 1000000, &removed), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(zhtp_store_verify(f->s, &removed), 0);
    assert_int_equal(removed, 1);
    zhtp_store_stats st;
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.corrupt_removed, 1);
    assert_int_equal(st.chunks, 0);
    assert_int_equal(st.chunk_bytes, 0);
    uint64_t used;
    assert_int_equal(zhtp_store_peer_usage(f->s, owner, &used), 0);
    assert_int_equal(used, 0);
    /* Putting the chunk again over damaged metadata replaces the entry and fixes the books. */
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizeof buf, owner, 0, NOW), 0);
    zhtp_store_close(f->s);
    f->s = NULL;
    len = raw_get(f->dir, "chunk_meta", key, 32, meta, sizeof meta);
    meta[2] ^= 0x01; /* the owner */
    raw_put(f->dir, "chunk_meta", key, 32, meta, len);
    open_store(f, NULL);
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizeof buf, NULL, 0, NOW), 0);
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.corrupt_removed, 2);
    assert_int_equal(st.chunks, 1);
    assert_int_equal(st.chunk_bytes, 700);
    assert_int_equal(zhtp_store_peer_usage(f->s, owner, &used), 0);
    assert_int_equal(used, 0);
}

static void verify_rehashes_every_chunk_and_rebuilds_the_books(void **state)
{
    fx *f = *state;
    open_store(f, NULL);
    uint8_t buf[4][900], key[4][32], owner[32];
    fill_id(owner, 0x0D);
    zt_rng r;
    zt_rng_seed(&r, 13);
    for (int i = 0; i < 4; i++) {
        make_chunk(&r, buf[i], sizeof buf[i], key[i]);
        assert_int_equal(
            zhtp_store_chunk_put(f->s, key[i], buf[i], sizeof buf[i], i & 1 ? owner : NULL, 0, NOW),
            0);
    }
    zhtp_store_record rec = rec_of(1, 0, "s", "v");
    assert_int_equal(zhtp_store_record_put(f->s, key[0], &rec, owner, NOW), 0);
    uint64_t removed = 9;
    assert_int_equal(zhtp_store_verify(f->s, &removed), 0);
    assert_int_equal(removed, 0);
    zhtp_store_close(f->s);
    f->s = NULL;
    /* Damage: chunk 1's bytes (owned), and a stray chunk row with no metadata. */
    buf[1][0] ^= 0xFF;
    raw_put(f->dir, "chunks", key[1], 32, buf[1], sizeof buf[1]);
    uint8_t stray[32];
    fill_id(stray, 0x77);
    raw_put(f->dir, "chunks", stray, 32, "x", 1);
    open_store(f, NULL);
    assert_int_equal(zhtp_store_verify(f->s, &removed), 0);
    assert_int_equal(removed, 2);
    zhtp_store_stats st;
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.chunks, 3);
    assert_int_equal(st.chunk_bytes, 3 * 900);
    assert_int_equal(st.records, 1);
    assert_int_equal(st.corrupt_removed, 2);
    uint64_t used;
    assert_int_equal(zhtp_store_peer_usage(f->s, owner, &used), 0);
    assert_int_equal(used, 900 + REC_HDR + 2); /* chunk 3 and the record */
    uint8_t out[900];
    assert_int_equal(zhtp_store_chunk_get(f->s, key[1], out, sizeof out), ZHTP_ERR_NOTFOUND);
    assert_int_equal(zhtp_store_chunk_get(f->s, key[3], out, sizeof out), 900);
}

/* --- quotas --------------------------------------------------------------------------- */

static void quota_total_bytes_refuses_and_stores_nothing(void **state)
{
    fx *f = *state;
    zhtp_store_config cfg = {.quota_bytes = 3000, .quota_peer_bytes = ZHTP_STORE_NO_LIMIT};
    open_store(f, &cfg);
    uint8_t buf[1000], key[32];
    zt_rng r;
    zt_rng_seed(&r, 7);
    for (int i = 0; i < 3; i++) {
        make_chunk(&r, buf, sizeof buf, key);
        assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizeof buf, NULL, 0, NOW), 0);
    }
    make_chunk(&r, buf, 1, key);
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, 1, NULL, 0, NOW), ZHTP_ERR_STORE_QUOTA);
    assert_int_equal(zhtp_store_chunk_size(f->s, key), ZHTP_ERR_NOTFOUND);
    uint8_t rk[32];
    fill_id(rk, 1);
    zhtp_store_record rec = rec_of(1, 0, "", "");
    assert_int_equal(zhtp_store_record_put(f->s, rk, &rec, NULL, NOW), ZHTP_ERR_STORE_QUOTA);
    zhtp_store_stats st;
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.chunk_bytes, 3000);
    assert_int_equal(st.records, 0);
}

static void quota_record_count_refuses_new_keys_but_allows_updates(void **state)
{
    fx *f = *state;
    zhtp_store_config cfg = {.quota_records = 2};
    open_store(f, &cfg);
    uint8_t k[3][32];
    for (int i = 0; i < 3; i++)
        fill_id(k[i], (uint8_t)(i + 1));
    zhtp_store_record r = rec_of(1, 0, "s", "v");
    assert_int_equal(zhtp_store_record_put(f->s, k[0], &r, NULL, NOW), 0);
    assert_int_equal(zhtp_store_record_put(f->s, k[1], &r, NULL, NOW), 0);
    assert_int_equal(zhtp_store_record_put(f->s, k[2], &r, NULL, NOW), ZHTP_ERR_STORE_QUOTA);
    zhtp_store_record out;
    uint8_t buf[16];
    assert_int_equal(zhtp_store_record_get(f->s, k[2], NOW, &out, buf, sizeof buf),
                     ZHTP_ERR_NOTFOUND);
    r = rec_of(2, 0, "s", "update");
    assert_int_equal(zhtp_store_record_put(f->s, k[1], &r, NULL, NOW), 0);
}

static void quota_per_peer_limits_one_owner_only(void **state)
{
    fx *f = *state;
    zhtp_store_config cfg = {.quota_peer_bytes = 2500};
    open_store(f, &cfg);
    uint8_t a[32], b[32];
    fill_id(a, 0xA);
    fill_id(b, 0xB);
    uint8_t buf[1000], key[32];
    zt_rng r;
    zt_rng_seed(&r, 8);
    make_chunk(&r, buf, sizeof buf, key);
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizeof buf, a, 0, NOW), 0);
    make_chunk(&r, buf, sizeof buf, key);
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizeof buf, a, 0, NOW), 0);
    make_chunk(&r, buf, sizeof buf, key);
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizeof buf, a, 0, NOW),
                     ZHTP_ERR_STORE_QUOTA);
    assert_int_equal(zhtp_store_chunk_size(f->s, key), ZHTP_ERR_NOTFOUND);
    /* Another peer and the node itself are not held back by a's share. */
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizeof buf, b, 0, NOW), 0);
    uint8_t key2[32];
    make_chunk(&r, buf, sizeof buf, key2);
    assert_int_equal(zhtp_store_chunk_put(f->s, key2, buf, sizeof buf, NULL, 0, NOW), 0);
    /* Records count against the share too: 2000 used, entry of 72 + 500 does not fit. */
    static char big[501];
    memset(big, 'x', 500);
    zhtp_store_record rec = rec_of(1, 0, "", big);
    uint8_t rk[32];
    fill_id(rk, 1);
    assert_int_equal(zhtp_store_record_put(f->s, rk, &rec, a, NOW), ZHTP_ERR_STORE_QUOTA);
    uint64_t used;
    assert_int_equal(zhtp_store_peer_usage(f->s, a, &used), 0);
    assert_int_equal(used, 2000);
    assert_int_equal(zhtp_store_peer_usage(f->s, b, &used), 0);
    assert_int_equal(used, 1000);
    /* Replacing one's own record is charged the difference; deleting releases. */
    rec = rec_of(1, 0, "", "small");
    assert_int_equal(zhtp_store_record_put(f->s, rk, &rec, a, NOW), 0);
    assert_int_equal(zhtp_store_peer_usage(f->s, a, &used), 0);
    assert_int_equal(used, 2000 + REC_HDR + 5);
    rec = rec_of(2, 0, "", "small2");
    assert_int_equal(zhtp_store_record_put(f->s, rk, &rec, a, NOW), 0);
    assert_int_equal(zhtp_store_peer_usage(f->s, a, &used), 0);
    assert_int_equal(used, 2000 + REC_HDR + 6);
    assert_int_equal(zhtp_store_record_delete(f->s, rk), 0);
    assert_int_equal(zhtp_store_peer_usage(f->s, a, &used), 0);
    assert_int_equal(used, 2000);
}

/* --- persistence, peers, format, directories, map growth ------------------------------ */

static void reopen_keeps_chunks_records_peers_and_counters(void **state)
{
    fx *f = *state;
    open_store(f, NULL);
    uint8_t buf[5000], key[32], owner[32], rk[32], id[32];
    fill_id(owner, 3), fill_id(rk, 4), fill_id(id, 5);
    zt_rng r;
    zt_rng_seed(&r, 9);
    make_chunk(&r, buf, sizeof buf, key);
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizeof buf, owner, 0, NOW), 0);
    zhtp_store_record rec = rec_of(42, NOW + 50, "signature", "site root");
    assert_int_equal(zhtp_store_record_put(f->s, rk, &rec, NULL, NOW), 0);
    zhtp_addr addr = {4, {10, 0, 0, 1}};
    assert_int_equal(zhtp_store_peer_put(f->s, id, &addr, NOW - 5), 0);
    zhtp_store_stats before, after;
    assert_int_equal(zhtp_store_get_stats(f->s, &before), 0);

    open_store(f, NULL);
    static uint8_t out[5000];
    assert_int_equal(zhtp_store_chunk_get(f->s, key, out, sizeof out), 5000);
    assert_memory_equal(out, buf, 5000);
    expect_record(f->s, rk, NOW, 42, "signature", "site root");
    zhtp_addr got;
    uint64_t seen;
    assert_int_equal(zhtp_store_peer_get(f->s, id, &got, &seen), 0);
    assert_int_equal(got.len, 4);
    assert_memory_equal(got.bytes, addr.bytes, 4);
    assert_int_equal(seen, NOW - 5);
    assert_int_equal(zhtp_store_get_stats(f->s, &after), 0);
    assert_int_equal(after.chunks, before.chunks);
    assert_int_equal(after.chunk_bytes, before.chunk_bytes);
    assert_int_equal(after.records, before.records);
    assert_int_equal(after.record_bytes, before.record_bytes);
    uint64_t used;
    assert_int_equal(zhtp_store_peer_usage(f->s, owner, &used), 0);
    assert_int_equal(used, 5000);
}

typedef struct walk {
    int n;
    uint8_t first[3];
    uint64_t seen_sum;
} walk;

static int walk_fn(void *u, const uint8_t id[32], const zhtp_addr *addr, uint64_t seen)
{
    walk *w = u;
    if (w->n < 3)
        w->first[w->n] = id[0];
    assert_int_equal(addr->len, 6);
    assert_int_equal(addr->bytes[0], id[0]);
    w->n++;
    w->seen_sum += seen;
    return 0;
}

static int stop_fn(void *u, const uint8_t id[32], const zhtp_addr *addr, uint64_t seen)
{
    (void)id, (void)addr, (void)seen;
    return ++*(int *)u == 2 ? 77 : 0;
}

static void peer_cache_round_trip_replace_walk_delete(void **state)
{
    fx *f = *state;
    open_store(f, NULL);
    uint8_t ids[3][32];
    uint8_t order[3] = {0x30, 0x10, 0x20};
    for (int i = 0; i < 3; i++) {
        fill_id(ids[i], order[i]);
        zhtp_addr a = {6, {order[i], 1, 2, 3, 4, 5}};
        assert_int_equal(zhtp_store_peer_put(f->s, ids[i], &a, 100 + (uint64_t)i), 0);
    }
    zhtp_addr a = {6, {0x30, 9, 9, 9, 9, 9}};
    assert_int_equal(zhtp_store_peer_put(f->s, ids[0], &a, 500), 0);
    zhtp_addr got;
    uint64_t seen;
    assert_int_equal(zhtp_store_peer_get(f->s, ids[0], &got, &seen), 0);
    assert_memory_equal(got.bytes, a.bytes, 6);
    assert_int_equal(seen, 500);
    walk w = {0};
    assert_int_equal(zhtp_store_peer_foreach(f->s, walk_fn, &w), 0);
    assert_int_equal(w.n, 3);
    assert_int_equal(w.first[0], 0x10); /* id order */
    assert_int_equal(w.first[1], 0x20);
    assert_int_equal(w.first[2], 0x30);
    assert_int_equal(w.seen_sum, 500 + 101 + 102);
    int count = 0;
    assert_int_equal(zhtp_store_peer_foreach(f->s, stop_fn, &count), 77);
    assert_int_equal(zhtp_store_peer_delete(f->s, ids[1]), 0);
    assert_int_equal(zhtp_store_peer_get(f->s, ids[1], NULL, NULL), ZHTP_ERR_NOTFOUND);
    assert_int_equal(zhtp_store_peer_delete(f->s, ids[1]), ZHTP_ERR_NOTFOUND);
    zhtp_addr bad = {ZHTP_ADDR_MAX + 1, {0}};
    assert_int_equal(zhtp_store_peer_put(f->s, ids[1], &bad, 1), ZHTP_ERR_INVAL);
}

static void newer_format_is_refused_with_a_version_error(void **state)
{
    fx *f = *state;
    open_store(f, NULL);
    zhtp_store_close(f->s);
    f->s = NULL;
    uint8_t v2[4] = {0, 0, 0, ZHTP_STORE_FORMAT + 1};
    raw_put(f->dir, "meta", "format", 6, v2, 4);
    zhtp_store *s = (zhtp_store *)0x1;
    assert_int_equal(zhtp_store_open(&s, f->dir, NULL), ZHTP_ERR_STORE_VERSION);
    assert_null(s);
    assert_string_equal(zhtp_strerror(ZHTP_ERR_STORE_VERSION),
                        "store format is newer than this build supports");
    /* The same format opens. */
    uint8_t v1[4] = {0, 0, 0, ZHTP_STORE_FORMAT};
    raw_put(f->dir, "meta", "format", 6, v1, 4);
    open_store(f, NULL);
}

static void a_data_file_that_is_not_lmdb_is_refused_as_corrupt(void **state)
{
    fx *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/store", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/store/data.mdb", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    static char junk[16384];
    memset(junk, 'z', sizeof junk);
    assert_int_equal(fwrite(junk, 1, sizeof junk, fp), sizeof junk);
    fclose(fp);
    zhtp_store *s = (zhtp_store *)0x1;
    assert_int_equal(zhtp_store_open(&s, f->dir, NULL), ZHTP_ERR_STORE_CORRUPT);
    assert_null(s);
}

static void bad_directories_give_clear_errors(void **state)
{
    fx *f = *state;
    zhtp_store *s = NULL;
    char path[128];
    snprintf(path, sizeof path, "%s/missing", f->dir);
    assert_int_equal(zhtp_store_open(&s, path, NULL), ZHTP_ERR_STORE_NODIR);
    assert_null(s);
    snprintf(path, sizeof path, "%s/file", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(zhtp_store_open(&s, path, NULL), ZHTP_ERR_STORE_NODIR);
    assert_int_equal(zhtp_store_open(&s, NULL, NULL), ZHTP_ERR_INVAL);

    /* Not writable: a directory of mode 0500. root ignores modes, so the check runs in a
     * child that drops to an unprivileged user first. */
    snprintf(path, sizeof path, "%s/ro", f->dir);
    assert_int_equal(mkdir(path, 0500), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0) {
            struct passwd *pw = getpwnam("nobody");
            if (!pw || chmod(f->dir, 0755) != 0 || setgid(pw->pw_gid) != 0 ||
                setuid(pw->pw_uid) != 0)
                _exit(3);
        }
        zhtp_store *cs = NULL;
        int err = zhtp_store_open(&cs, path, NULL);
        _exit(err == ZHTP_ERR_STORE_ACCESS ? 0 : err == 0 ? 1 : 2);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(zhtp_strerror(ZHTP_ERR_STORE_ACCESS),
                        "store directory not readable and writable");
}

typedef struct counting_mem {
    int allocs_left;
    long live;
} counting_mem;

static void *cm_alloc(void *u, size_t size)
{
    counting_mem *c = u;
    if (c->allocs_left-- <= 0)
        return NULL;
    c->live += (long)size;
    return malloc(size);
}

static void cm_free(void *u, void *p, size_t size)
{
    counting_mem *c = u;
    if (p)
        c->live -= (long)size;
    free(p);
}

static void open_uses_the_injected_allocator_and_reports_nomem(void **state)
{
    fx *f = *state;
    counting_mem c = {0, 0};
    zhtp_mem mem = {cm_alloc, cm_free, &c};
    zhtp_store_config cfg = {.mem = &mem};
    zhtp_store *s = (zhtp_store *)0x1;
    assert_int_equal(zhtp_store_open(&s, f->dir, &cfg), ZHTP_ERR_NOMEM);
    assert_null(s);
    c.allocs_left = 1;
    assert_int_equal(zhtp_store_open(&s, f->dir, &cfg), 0);
    assert_true(c.live > 0);
    zhtp_store_close(s);
    assert_int_equal(c.live, 0);
    zhtp_store_close(NULL);
}

static void map_grows_when_full_and_stops_at_the_maximum(void **state)
{
    fx *f = *state;
    zhtp_store_config cfg = {.map_size = 1 << 20, .max_map_size = 8 << 20};
    open_store(f, &cfg);
    static uint8_t buf[64 * 1024];
    uint8_t key[32];
    zt_rng r;
    zt_rng_seed(&r, 10);
    int stored = 0, err = 0;
    for (int i = 0; i < 400 && err == 0; i++) {
        make_chunk(&r, buf, sizeof buf, key);
        err = zhtp_store_chunk_put(f->s, key, buf, sizeof buf, NULL, 0, NOW);
        if (err == 0)
            stored++;
    }
    assert_int_equal(err, ZHTP_ERR_STORE_FULL);
    assert_true(stored > 16); /* well past the initial 1 MiB map */
    zhtp_store_stats st;
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.map_size, 8 << 20);
    assert_int_equal(st.chunks, (uint64_t)stored);
    /* The refused chunk is absent; gets and deletes still work, and freed space is reused. */
    assert_int_equal(zhtp_store_chunk_size(f->s, key), ZHTP_ERR_NOTFOUND);
    zt_rng_seed(&r, 10);
    uint8_t first[32];
    make_chunk(&r, buf, sizeof buf, first);
    assert_int_equal(zhtp_store_chunk_delete(f->s, first), 0);
    assert_int_equal(zhtp_store_chunk_delete(f->s, first + 0), ZHTP_ERR_NOTFOUND);
    /* Reopen with the small initial size: the grown file's size is adopted. */
    open_store(f, &cfg);
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.map_size, 8 << 20);
}

static void map_grown_by_another_process_is_followed(void **state)
{
    fx *f = *state;
    zhtp_store_config cfg = {.map_size = 1 << 20, .max_map_size = 64 << 20};
    open_store(f, &cfg);
    static uint8_t buf[32 * 1024];
    uint8_t key[32];
    zt_rng r;
    zt_rng_seed(&r, 14);
    make_chunk(&r, buf, sizeof buf, key);
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizeof buf, NULL, 0, NOW), 0);
    zhtp_store_stats st;
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_int_equal(st.map_size, 1 << 20);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Another process (its own handle) fills past 1 MiB, so it grows the map. */
        zhtp_store *cs;
        if (zhtp_store_open(&cs, f->dir, &cfg) != 0)
            _exit(2);
        zt_rng cr;
        zt_rng_seed(&cr, 15);
        for (int i = 0; i < 100; i++) {
            uint8_t k[32];
            make_chunk(&cr, buf, sizeof buf, k);
            if (zhtp_store_chunk_put(cs, k, buf, sizeof buf, NULL, 0, NOW) != 0)
                _exit(3);
        }
        zhtp_store_close(cs);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* This handle still maps 1 MiB: its next transactions must adopt the larger map. */
    zt_rng_seed(&r, 15);
    static uint8_t out[32 * 1024];
    for (int i = 0; i < 100; i++) {
        make_chunk(&r, buf, sizeof buf, key);
        assert_int_equal(zhtp_store_chunk_get(f->s, key, out, sizeof out), (zhtp_ssize)sizeof buf);
        assert_memory_equal(out, buf, sizeof buf);
    }
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_true(st.map_size > (1 << 20)); /* adopted through MDB_MAP_RESIZED, not grown */
    make_chunk(&r, buf, sizeof buf, key);
    assert_int_equal(zhtp_store_chunk_put(f->s, key, buf, sizeof buf, NULL, 0, NOW), 0);
    assert_int_equal(zhtp_store_get_stats(f->s, &st), 0);
    assert_true(st.map_size > (1 << 20));
    assert_int_equal(st.chunks, 102);
}

/* --- differential test ------------------------------------------------------------------ */

#define M_CHUNKS  24
#define M_RECORDS 12
#define M_PEERS   3

typedef struct m_chunk {
    bool present;
    int owner; /* -1: none */
    uint64_t expiry;
} m_chunk;

typedef struct m_record {
    bool present;
    int owner;
    uint64_t seq, expiry;
    size_t sig_len, value_len;
    uint8_t sig[40], value[300];
} m_record;

typedef struct model {
    m_chunk c[M_CHUNKS];
    m_record r[M_RECORDS];
    uint64_t usage[M_PEERS];
    uint64_t chunk_bytes, record_bytes, chunks, records;
} model;

typedef struct pool {
    uint8_t bytes[M_CHUNKS][3000];
    size_t len[M_CHUNKS];
    uint8_t key[M_CHUNKS][32];
    uint8_t rkey[M_RECORDS][32];
    uint8_t peer[M_PEERS][32];
} pool;

static bool m_fits(uint64_t used, uint64_t add, uint64_t limit)
{
    return used + add <= limit;
}

static bool m_expired(uint64_t e, uint64_t now)
{
    return e != 0 && e <= now;
}

static void m_charge(model *m, int owner, int64_t delta)
{
    if (owner >= 0)
        m->usage[owner] = (uint64_t)((int64_t)m->usage[owner] + delta);
}

static void m_check(zhtp_store *s, const model *m, const pool *p)
{
    zhtp_store_stats st;
    assert_int_equal(zhtp_store_get_stats(s, &st), 0);
    assert_int_equal(st.chunks, m->chunks);
    assert_int_equal(st.chunk_bytes, m->chunk_bytes);
    assert_int_equal(st.records, m->records);
    assert_int_equal(st.record_bytes, m->record_bytes);
    for (int i = 0; i < M_PEERS; i++) {
        uint64_t used;
        assert_int_equal(zhtp_store_peer_usage(s, p->peer[i], &used), 0);
        assert_int_equal(used, m->usage[i]);
    }
}

static void differential_against_in_memory_model(void **state)
{
    fx *f = *state;
    const uint64_t q_bytes = 30000, q_records = 8, q_peer = 9000;
    zhtp_store_config cfg = {
        .quota_bytes = q_bytes, .quota_records = q_records, .quota_peer_bytes = q_peer};
    open_store(f, &cfg);
    static pool p;
    static model m;
    memset(&m, 0, sizeof m);
    zt_rng r;
    zt_rng_seed(&r, 0x5707E);
    for (int i = 0; i < M_CHUNKS; i++) {
        p.len[i] = 1 + zt_rng_below(&r, sizeof p.bytes[i]);
        make_chunk(&r, p.bytes[i], p.len[i], p.key[i]);
    }
    zt_rng_bytes(&r, p.rkey, sizeof p.rkey);
    zt_rng_bytes(&r, p.peer, sizeof p.peer);
    uint64_t now = NOW;
    static uint8_t out[4000];
    int counts[4] = {0}; /* ok, quota, stale, expired: each path must be exercised */
    for (int step = 0; step < 3000; step++) {
        int op = (int)zt_rng_below(&r, 100);
        int ci = (int)zt_rng_below(&r, M_CHUNKS), ri = (int)zt_rng_below(&r, M_RECORDS);
        int owner = (int)zt_rng_below(&r, M_PEERS + 1) - 1;
        const uint8_t *op_owner = owner >= 0 ? p.peer[owner] : NULL;
        uint64_t expiry = zt_rng_below(&r, 3) == 0 ? 0 : now - 2 + zt_rng_below(&r, 60);
        int got, want;
        if (op < 30) { /* chunk put, sometimes with a wrong key */
            bool wrong = zt_rng_below(&r, 10) == 0;
            uint8_t key[32];
            memcpy(key, p.key[ci], 32);
            if (wrong)
                key[0] ^= 1;
            got = zhtp_store_chunk_put(f->s, key, p.bytes[ci], p.len[ci], op_owner, expiry, now);
            m_chunk *c = &m.c[ci];
            if (expiry != 0 && expiry <= now)
                want = ZHTP_ERR_STORE_EXPIRED;
            else if (wrong)
                want = ZHTP_ERR_STORE_KEY_MISMATCH;
            else if (c->present) {
                want = 0;
                c->expiry = (c->expiry == 0 || expiry == 0) ? 0
                            : c->expiry > expiry            ? c->expiry
                                                            : expiry;
            } else if (!m_fits(m.chunk_bytes + m.record_bytes, p.len[ci], q_bytes) ||
                       (owner >= 0 && !m_fits(m.usage[owner], p.len[ci], q_peer)))
                want = ZHTP_ERR_STORE_QUOTA;
            else {
                want = 0;
                c->present = true;
                c->owner = owner;
                c->expiry = expiry;
                m.chunks++;
                m.chunk_bytes += p.len[ci];
                m_charge(&m, owner, (int64_t)p.len[ci]);
            }
        } else if (op < 45) { /* chunk get */
            zhtp_ssize n = zhtp_store_chunk_get(f->s, p.key[ci], out, sizeof out);
            if (m.c[ci].present) {
                assert_int_equal(n, (zhtp_ssize)p.len[ci]);
                assert_memory_equal(out, p.bytes[ci], p.len[ci]);
            } else {
                assert_int_equal(n, ZHTP_ERR_NOTFOUND);
            }
            continue;
        } else if (op < 50) { /* chunk delete */
            got = zhtp_store_chunk_delete(f->s, p.key[ci]);
            m_chunk *c = &m.c[ci];
            want = c->present ? 0 : ZHTP_ERR_NOTFOUND;
            if (c->present) {
                c->present = false;
                m.chunks--;
                m.chunk_bytes -= p.len[ci];
                m_charge(&m, c->owner, -(int64_t)p.len[ci]);
            }
        } else if (op < 75) { /* record put */
            m_record nr = {.present = true,
                           .owner = owner,
                           .seq = zt_rng_below(&r, 12),
                           .expiry = expiry,
                           .sig_len = zt_rng_below(&r, 41),
                           .value_len = zt_rng_below(&r, 301)};
            zt_rng_bytes(&r, nr.sig, nr.sig_len);
            zt_rng_bytes(&r, nr.value, nr.value_len);
            zhtp_store_record rec = {nr.seq, nr.expiry, nr.sig, nr.sig_len, nr.value, nr.value_len};
            got = zhtp_store_record_put(f->s, p.rkey[ri], &rec, op_owner, now);
            m_record *o = &m.r[ri];
            uint64_t nsize = REC_HDR + nr.sig_len + nr.value_len;
            uint64_t osize = o->present ? REC_HDR + o->sig_len + o->value_len : 0;
            uint64_t oused = owner >= 0 ? m.usage[owner] : 0;
            if (o->present && o->owner == owner)
                oused -= osize;
            if (expiry != 0 && expiry <= now)
                want = ZHTP_ERR_STORE_EXPIRED;
            else if (o->present && nr.seq <= o->seq)
                want = ZHTP_ERR_STORE_STALE;
            else if (!m_fits(m.chunk_bytes + m.record_bytes - osize, nsize, q_bytes) ||
                     (!o->present && !m_fits(m.records, 1, q_records)) ||
                     (owner >= 0 && !m_fits(oused, nsize, q_peer)))
                want = ZHTP_ERR_STORE_QUOTA;
            else {
                want = 0;
                if (o->present) {
                    m_charge(&m, o->owner, -(int64_t)osize);
                    m.record_bytes -= osize;
                } else {
                    m.records++;
                }
                m_charge(&m, owner, (int64_t)nsize);
                m.record_bytes += nsize;
                *o = nr;
            }
        } else if (op < 88) { /* record get */
            zhtp_store_record rec;
            got = zhtp_store_record_get(f->s, p.rkey[ri], now, &rec, out, sizeof out);
            m_record *o = &m.r[ri];
            want = o->present && !m_expired(o->expiry, now) ? 0 : ZHTP_ERR_NOTFOUND;
            assert_int_equal(got, want);
            if (want == 0) {
                assert_int_equal(rec.sequence, o->seq);
                assert_int_equal(rec.expiry_unix_s, o->expiry);
                assert_int_equal(rec.sig_len, o->sig_len);
                assert_int_equal(rec.value_len, o->value_len);
                assert_memory_equal(rec.sig, o->sig, o->sig_len);
                assert_memory_equal(rec.value, o->value, o->value_len);
            }
            continue;
        } else if (op < 92) { /* record delete */
            got = zhtp_store_record_delete(f->s, p.rkey[ri]);
            m_record *o = &m.r[ri];
            want = o->present ? 0 : ZHTP_ERR_NOTFOUND;
            if (o->present) {
                uint64_t osize = REC_HDR + o->sig_len + o->value_len;
                m_charge(&m, o->owner, -(int64_t)osize);
                m.record_bytes -= osize;
                m.records--;
                o->present = false;
            }
        } else if (op < 98) { /* time passes, gc */
            now += zt_rng_below(&r, 25);
            uint64_t removed, mremoved = 0;
            got = zhtp_store_gc(f->s, now, &removed);
            want = 0;
            for (int i = 0; i < M_CHUNKS; i++) {
                m_chunk *c = &m.c[i];
                if (c->present && m_expired(c->expiry, now)) {
                    c->present = false;
                    m.chunks--;
                    m.chunk_bytes -= p.len[i];
                    m_charge(&m, c->owner, -(int64_t)p.len[i]);
                    mremoved++;
                }
            }
            for (int i = 0; i < M_RECORDS; i++) {
                m_record *o = &m.r[i];
                if (o->present && m_expired(o->expiry, now)) {
                    uint64_t osize = REC_HDR + o->sig_len + o->value_len;
                    m_charge(&m, o->owner, -(int64_t)osize);
                    m.record_bytes -= osize;
                    m.records--;
                    o->present = false;
                    mremoved++;
                }
            }
            assert_int_equal(got, 0);
            assert_int_equal(removed, mremoved);
        } else if (op < 99) { /* reopen */
            open_store(f, &cfg);
            got = want = 0;
        } else { /* scrub: nothing is damaged, so nothing goes and the books stay exact */
            uint64_t removed;
            got = zhtp_store_verify(f->s, &removed);
            want = 0;
            assert_int_equal(removed, 0);
        }
        if (got != want)
            fail_msg("step %d op %d: store returned %d (%s), model %d", step, op, got,
                     zhtp_err_name(got), want);
        counts[0] += got == 0;
        counts[1] += got == ZHTP_ERR_STORE_QUOTA;
        counts[2] += got == ZHTP_ERR_STORE_STALE;
        counts[3] += got == ZHTP_ERR_STORE_EXPIRED;
        m_check(f->s, &m, &p);
    }
    for (int i = 0; i < 4; i++)
        assert_true(counts[i] > 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(chunk_round_trip_returns_the_stored_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(chunk_put_rejects_bytes_that_do_not_hash_to_the_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(chunk_get_with_small_buffer_gives_nobuf_and_writes_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(chunk_batch_is_stored_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_chunk_on_disk_is_detected_removed_and_counted,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(record_sequence_older_or_equal_rejected_newer_replaces,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(expired_entries_are_not_served_and_gc_removes_them, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(corrupt_record_entry_is_detected_and_removed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(record_with_altered_bytes_or_under_another_key_is_corrupt,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            chunk_metadata_with_altered_bytes_is_found_by_a_reput_and_by_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(verify_rehashes_every_chunk_and_rebuilds_the_books, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(quota_total_bytes_refuses_and_stores_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(quota_record_count_refuses_new_keys_but_allows_updates,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(quota_per_peer_limits_one_owner_only, setup, teardown),
        cmocka_unit_test_setup_teardown(reopen_keeps_chunks_records_peers_and_counters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(peer_cache_round_trip_replace_walk_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(newer_format_is_refused_with_a_version_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_data_file_that_is_not_lmdb_is_refused_as_corrupt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bad_directories_give_clear_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(open_uses_the_injected_allocator_and_reports_nomem, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(map_grows_when_full_and_stops_at_the_maximum, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(map_grown_by_another_process_is_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(differential_against_in_memory_model, setup, teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
