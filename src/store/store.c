/* store/: chunks, records, peer cache and quota bookkeeping on one LMDB environment.
 *
 * Every mutation is one write transaction run by run_write(): the transaction function reads
 * the counters, checks quotas, writes the entry, the counters and the per-peer usage, and the
 * commit makes all of it durable at once. Counters are kept in the meta db (not only in the
 * handle) so that they stay exact across crashes and across processes sharing the directory. */
#include "zhtp/store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/codec.h"
#include "zhtp/blake3.h"

struct zhtp_store {
    const zhtp_mem *mem;
    MDB_env *env;
    MDB_dbi meta, chunks, chunk_meta, records, usage, peers, expiry;
    zhtp_store_config cfg; /* defaults filled in */
    uint64_t map_size;
    int last_mdb; /* last raw LMDB failure, for zhtp_store_backend_error */
    /* Set inside a write transaction when an entry whose owner or size cannot be trusted was
     * removed: run_write then recounts the books from the surviving entries before commit. */
    bool needs_recount;
};

/* meta db keys */
static const char META_FORMAT[] = "format";
static const char META_COUNTERS[] = "counters";

typedef struct counters {
    uint64_t chunks, chunk_bytes, records, record_bytes, corrupt;
} counters;
#define COUNTERS_LEN 40

static MDB_val val(const void *p, size_t len)
{
    MDB_val v = {len, (void *)p};
    return v;
}

static int backend(zhtp_store *s, int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case MDB_NOTFOUND:
        return ZHTP_ERR_NOTFOUND;
    case MDB_MAP_FULL:
        return ZHTP_ERR_STORE_FULL;
    case ENOMEM:
        return ZHTP_ERR_NOMEM;
    default:
        break;
    }
    if (s)
        s->last_mdb = rc;
    switch (rc) {
    case EACCES:
    case EPERM:
    case EROFS:
        return ZHTP_ERR_STORE_ACCESS;
    case EIO:
    case ENOSPC:
        return ZHTP_ERR_IO;
    case MDB_INVALID:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
        return ZHTP_ERR_STORE_CORRUPT;
    case MDB_VERSION_MISMATCH:
        return ZHTP_ERR_STORE_VERSION;
    default:
        return ZHTP_ERR_STORE_BACKEND;
    }
}

/* Only true overflow-free "used + add <= limit"; used may already exceed a lowered limit. */
static bool fits(uint64_t used, uint64_t add, uint64_t limit)
{
    return limit == ZHTP_STORE_NO_LIMIT || (used <= limit && add <= limit - used);
}

/* --- counters and usage (inside a transaction) ---------------------------------------- */

static int counters_get(zhtp_store *s, MDB_txn *txn, counters *c)
{
    MDB_val k = val(META_COUNTERS, sizeof META_COUNTERS - 1), v;
    memset(c, 0, sizeof *c);
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return backend(s, rc);
    if (v.mv_size != COUNTERS_LEN)
        return ZHTP_ERR_STORE_CORRUPT;
    const uint8_t *p = v.mv_data;
    c->chunks = store_get_u64(p);
    c->chunk_bytes = store_get_u64(p + 8);
    c->records = store_get_u64(p + 16);
    c->record_bytes = store_get_u64(p + 24);
    c->corrupt = store_get_u64(p + 32);
    return 0;
}

static int counters_put(zhtp_store *s, MDB_txn *txn, const counters *c)
{
    uint8_t buf[COUNTERS_LEN];
    store_put_u64(buf, c->chunks);
    store_put_u64(buf + 8, c->chunk_bytes);
    store_put_u64(buf + 16, c->records);
    store_put_u64(buf + 24, c->record_bytes);
    store_put_u64(buf + 32, c->corrupt);
    MDB_val k = val(META_COUNTERS, sizeof META_COUNTERS - 1), v = val(buf, sizeof buf);
    return backend(s, mdb_put(txn, s->meta, &k, &v, 0));
}

/* Saturating: a counter never wraps, even if a damaged file made the books disagree. */
static uint64_t sub_sat(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

/* Books the removal of one chunk (is_record false) or record of |size| bytes; a removal for
 * damage also counts as corrupt. */
static int counters_remove(zhtp_store *s, MDB_txn *txn, bool is_record, uint64_t size,
                           bool is_corrupt)
{
    counters c;
    int err = counters_get(s, txn, &c);
    if (err)
        return err;
    uint64_t *count = is_record ? &c.records : &c.chunks;
    uint64_t *bytes = is_record ? &c.record_bytes : &c.chunk_bytes;
    *count = sub_sat(*count, 1);
    *bytes = sub_sat(*bytes, size);
    if (is_corrupt)
        c.corrupt++;
    return counters_put(s, txn, &c);
}

static int usage_get(zhtp_store *s, MDB_txn *txn, const uint8_t *owner, uint64_t *bytes)
{
    MDB_val k = val(owner, ZHTP_NODE_ID_LEN), v;
    *bytes = 0;
    int rc = mdb_get(txn, s->usage, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return backend(s, rc);
    if (v.mv_size != 8)
        return ZHTP_ERR_STORE_CORRUPT;
    *bytes = store_get_u64(v.mv_data);
    return 0;
}

/* usage[owner] += add - sub (saturating); the row disappears at zero. */
static int usage_adjust(zhtp_store *s, MDB_txn *txn, const uint8_t *owner, uint64_t add,
                        uint64_t sub)
{
    uint64_t cur;
    int err = usage_get(s, txn, owner, &cur);
    if (err == ZHTP_ERR_STORE_CORRUPT)
        cur = 0; /* rewritten below with a sane value */
    else if (err)
        return err;
    cur = sub_sat(cur + add, sub);
    MDB_val k = val(owner, ZHTP_NODE_ID_LEN);
    if (cur == 0) {
        int rc = mdb_del(txn, s->usage, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : backend(s, rc);
    }
    uint8_t buf[8];
    store_put_u64(buf, cur);
    MDB_val v = val(buf, sizeof buf);
    return backend(s, mdb_put(txn, s->usage, &k, &v, 0));
}

/* --- expiry index ---------------------------------------------------------------------- */

/* expiry db: key = expiry u64 | kind u8 ('C' chunk, 'R' record) | entry key[32], value empty.
 * Sorted by time, so gc reads only the rows that are due. Entries that never expire have no
 * row. The entries themselves stay authoritative: a row whose entry disagrees is just dropped
 * (gc), and recount rebuilds the whole index. */
#define EXPIRY_KEY_LEN (8 + 1 + ZHTP_STORE_KEY_LEN)

static MDB_val expiry_key(uint8_t buf[EXPIRY_KEY_LEN], uint64_t expiry, char kind,
                          const uint8_t *key)
{
    store_put_u64(buf, expiry);
    buf[8] = (uint8_t)kind;
    memcpy(buf + 9, key, ZHTP_STORE_KEY_LEN);
    return val(buf, EXPIRY_KEY_LEN);
}

static int expiry_add(zhtp_store *s, MDB_txn *txn, uint64_t expiry, char kind, const uint8_t *key)
{
    if (expiry == ZHTP_STORE_EXPIRY_NEVER)
        return 0;
    uint8_t buf[EXPIRY_KEY_LEN];
    MDB_val k = expiry_key(buf, expiry, kind, key), v = val("", 0);
    return backend(s, mdb_put(txn, s->expiry, &k, &v, 0));
}

static int expiry_del(zhtp_store *s, MDB_txn *txn, uint64_t expiry, char kind, const uint8_t *key)
{
    if (expiry == ZHTP_STORE_EXPIRY_NEVER)
        return 0;
    uint8_t buf[EXPIRY_KEY_LEN];
    MDB_val k = expiry_key(buf, expiry, kind, key);
    int rc = mdb_del(txn, s->expiry, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : backend(s, rc);
}

/* --- transactions --------------------------------------------------------------------- */

typedef int (*write_fn)(zhtp_store *s, MDB_txn *txn, void *arg);
static int recount(zhtp_store *s, MDB_txn *txn);

/* Doubles the map, up to max_map_size. Called with no transaction open in this handle. */
static int grow_map(zhtp_store *s)
{
    if (s->map_size >= s->cfg.max_map_size)
        return ZHTP_ERR_STORE_FULL;
    uint64_t want = s->map_size > s->cfg.max_map_size / 2 ? s->cfg.max_map_size : s->map_size * 2;
    int rc = mdb_env_set_mapsize(s->env, (size_t)want);
    if (rc)
        return backend(s, rc);
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    s->map_size = info.me_mapsize;
    return 0;
}

/* Another process grew the map: adopt its size (LMDB reads it from the file with size 0). */
static void adopt_map(zhtp_store *s)
{
    MDB_envinfo info;
    if (mdb_env_set_mapsize(s->env, 0) == 0 && mdb_env_info(s->env, &info) == 0)
        s->map_size = info.me_mapsize;
}

/* Runs fn in a write transaction and commits it (synchronously: the return is the
 * durability point). MDB_MAP_FULL, from a put or from the commit, aborts everything, grows
 * the map and runs fn again from scratch, so fn must only act through txn. */
static int run_write(zhtp_store *s, write_fn fn, void *arg)
{
    for (;;) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc == MDB_MAP_RESIZED) {
            adopt_map(s);
            continue;
        }
        if (rc)
            return backend(s, rc);
        s->needs_recount = false;
        int err = fn(s, txn, arg);
        if (err >= 0 && s->needs_recount) {
            int rerr = recount(s, txn);
            err = rerr ? rerr : err;
        }
        if (err < 0) {
            mdb_txn_abort(txn);
        } else {
            rc = mdb_txn_commit(txn); /* frees txn on success and failure */
            err = rc ? backend(s, rc) : err;
        }
        if (err != ZHTP_ERR_STORE_FULL)
            return err;
        int gerr = grow_map(s);
        if (gerr)
            return gerr;
    }
}

static int begin_read(zhtp_store *s, MDB_txn **txn)
{
    for (;;) {
        int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
        if (rc == MDB_MAP_RESIZED) {
            adopt_map(s);
            continue;
        }
        return backend(s, rc);
    }
}

/* --- open / close --------------------------------------------------------------------- */

static int check_dir(const char *path, bool create)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT && create) {
            if (mkdir(path, 0700) == 0)
                return 0;
            return errno == EACCES || errno == EROFS ? ZHTP_ERR_STORE_ACCESS : ZHTP_ERR_STORE_NODIR;
        }
        if (errno == EACCES)
            return ZHTP_ERR_STORE_ACCESS;
        return ZHTP_ERR_STORE_NODIR; /* ENOENT, ENOTDIR in a component, ... */
    }
    if (!S_ISDIR(st.st_mode))
        return ZHTP_ERR_STORE_NODIR;
    if (access(path, R_OK | W_OK | X_OK) != 0)
        return ZHTP_ERR_STORE_ACCESS;
    return 0;
}

static int open_dbs(zhtp_store *s, MDB_txn *txn, void *arg)
{
    (void)arg;
    int rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta);
    if (rc)
        return backend(s, rc);
    /* The format check comes before any other database is created, so refusing a newer store
     * leaves its file exactly as it was. */
    MDB_val k = val(META_FORMAT, sizeof META_FORMAT - 1), v;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == 0) {
        if (v.mv_size != 4)
            return ZHTP_ERR_STORE_CORRUPT;
        const uint8_t *p = v.mv_data;
        uint32_t format = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (format > ZHTP_STORE_FORMAT)
            return ZHTP_ERR_STORE_VERSION;
        if (format == 0)
            return ZHTP_ERR_STORE_CORRUPT;
        /* Older formats would be migrated here; format 1 is the first. */
    } else if (rc == MDB_NOTFOUND) {
        uint8_t f[4] = {0, 0, 0, ZHTP_STORE_FORMAT};
        v = val(f, sizeof f);
        rc = mdb_put(txn, s->meta, &k, &v, 0);
        if (rc)
            return backend(s, rc);
    } else {
        return backend(s, rc);
    }
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {{"chunks", &s->chunks}, {"chunk_meta", &s->chunk_meta}, {"records", &s->records},
               {"usage", &s->usage},   {"peers", &s->peers},           {"expiry", &s->expiry}};
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbs[i].dbi);
        if (rc)
            return backend(s, rc);
    }
    return 0;
}

int zhtp_store_open(zhtp_store **out, const char *dir, const zhtp_store_config *cfg)
{
    if (!out)
        return ZHTP_ERR_INVAL;
    *out = NULL;
    if (!dir)
        return ZHTP_ERR_INVAL;
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/store", dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return ZHTP_ERR_INVAL;
    int err = check_dir(dir, false);
    if (err)
        return err;
    err = check_dir(path, true);
    if (err)
        return err;

    zhtp_store_config c = {0};
    if (cfg)
        c = *cfg;
    const zhtp_mem *mem = c.mem;
    if (!c.map_size)
        c.map_size = ZHTP_STORE_DEFAULT_MAP_SIZE;
    if (!c.max_map_size)
        c.max_map_size = ZHTP_STORE_DEFAULT_MAX_MAP_SIZE;
    if (c.max_map_size < c.map_size)
        c.max_map_size = c.map_size;
    if (!c.quota_bytes)
        c.quota_bytes = ZHTP_STORE_DEFAULT_QUOTA_BYTES;
    if (!c.quota_records)
        c.quota_records = ZHTP_STORE_DEFAULT_QUOTA_RECORDS;
    if (!c.quota_peer_bytes)
        c.quota_peer_bytes = ZHTP_STORE_DEFAULT_QUOTA_PEER;
    if (sizeof(size_t) < 8 && c.max_map_size > SIZE_MAX / 2)
        c.max_map_size = SIZE_MAX / 2; /* 32-bit hosts: keep the map inside the address space */

    zhtp_store *s = zhtp_mem_alloc(mem, sizeof *s);
    if (!s)
        return ZHTP_ERR_NOMEM;
    memset(s, 0, sizeof *s);
    s->mem = mem;
    s->cfg = c;

    int rc = mdb_env_create(&s->env);
    if (rc) {
        err = backend(s, rc);
        s->env = NULL;
        goto fail;
    }
    /* No MDB_NOSYNC / MDB_NOMETASYNC / MDB_WRITEMAP: commit returns after fdatasync of the
     * data and the new meta page, which is what makes an acknowledged put crash-safe. */
    if ((rc = mdb_env_set_maxdbs(s->env, 8)) || (rc = mdb_env_set_mapsize(s->env, c.map_size)) ||
        (rc = mdb_env_open(s->env, path, 0, 0600))) {
        err = backend(s, rc);
        goto fail;
    }
    int dead;
    mdb_reader_check(s->env, &dead); /* free reader slots of crashed processes */
    /* An existing file may have grown past c.map_size: size 0 adopts the size recorded in
     * its last meta page, so a reopened store does not have to grow again step by step. */
    MDB_envinfo info;
    if ((rc = mdb_env_set_mapsize(s->env, 0)) || (rc = mdb_env_info(s->env, &info))) {
        err = backend(s, rc);
        goto fail;
    }
    if (info.me_mapsize < c.map_size &&
        ((rc = mdb_env_set_mapsize(s->env, c.map_size)) || (rc = mdb_env_info(s->env, &info)))) {
        err = backend(s, rc);
        goto fail;
    }
    s->map_size = info.me_mapsize;

    err = run_write(s, open_dbs, NULL);
    if (err)
        goto fail;
    *out = s;
    return 0;
fail:
    if (s->env)
        mdb_env_close(s->env);
    zhtp_mem_free(mem, s, sizeof *s);
    return err;
}

void zhtp_store_close(zhtp_store *s)
{
    if (!s)
        return;
    mdb_env_close(s->env);
    zhtp_mem_free(s->mem, s, sizeof *s);
}

int zhtp_store_backend_error(const zhtp_store *s)
{
    return s ? s->last_mdb : 0;
}

const char *zhtp_store_backend_strerror(int mdb_rc)
{
    return mdb_strerror(mdb_rc);
}

/* --- chunks --------------------------------------------------------------------------- */

static int chunk_remove(zhtp_store *s, MDB_txn *txn, const uint8_t *key, bool is_corrupt);

typedef struct chunk_put_arg {
    const uint8_t *key, *bytes, *owner;
    size_t len;
    uint64_t expiry;
} chunk_put_arg;

/* Later of two expiries, where "never" (0) is the latest. */
static uint64_t later_expiry(uint64_t a, uint64_t b)
{
    if (a == ZHTP_STORE_EXPIRY_NEVER || b == ZHTP_STORE_EXPIRY_NEVER)
        return ZHTP_STORE_EXPIRY_NEVER;
    return a > b ? a : b;
}

static int chunk_put_txn(zhtp_store *s, MDB_txn *txn, void *argp)
{
    chunk_put_arg *a = argp;
    MDB_val k = val(a->key, ZHTP_STORE_KEY_LEN), v;
    uint8_t mbuf[STORE_CHUNK_META_LEN];
    store_chunk_meta m;
    int rc = mdb_get(txn, s->chunk_meta, &k, &v);
    if (rc == 0 && store_chunk_meta_decode(&m, a->key, v.mv_data, v.mv_size) == 0) {
        /* Already stored (and it hashed to key when it was put): only extend the expiry. */
        uint64_t e = later_expiry(m.expiry_unix_s, a->expiry);
        if (e == m.expiry_unix_s)
            return 0;
        int err = expiry_del(s, txn, m.expiry_unix_s, 'C', a->key);
        if (err || (err = expiry_add(s, txn, e, 'C', a->key)))
            return err;
        m.expiry_unix_s = e;
        store_chunk_meta_encode(mbuf, a->key, &m);
        v = val(mbuf, sizeof mbuf);
        return backend(s, mdb_put(txn, s->chunk_meta, &k, &v, 0));
    }
    int err;
    if (rc == 0) {
        /* Metadata that fails its check: drop the entry (counted as corrupt), store anew. */
        if ((err = chunk_remove(s, txn, a->key, true)))
            return err;
    } else if (rc != MDB_NOTFOUND) {
        return backend(s, rc);
    }
    counters c;
    err = counters_get(s, txn, &c);
    if (err)
        return err;
    if (!fits(c.chunk_bytes + c.record_bytes, a->len, s->cfg.quota_bytes))
        return ZHTP_ERR_STORE_QUOTA;
    if (a->owner) {
        uint64_t used;
        if ((err = usage_get(s, txn, a->owner, &used)))
            return err;
        if (!fits(used, a->len, s->cfg.quota_peer_bytes))
            return ZHTP_ERR_STORE_QUOTA;
        if ((err = usage_adjust(s, txn, a->owner, a->len, 0)))
            return err;
    }
    v = val(a->bytes, a->len);
    if ((rc = mdb_put(txn, s->chunks, &k, &v, 0)))
        return backend(s, rc);
    m.has_owner = a->owner != NULL;
    if (a->owner)
        memcpy(m.owner, a->owner, ZHTP_NODE_ID_LEN);
    m.size = (uint32_t)a->len;
    m.expiry_unix_s = a->expiry;
    store_chunk_meta_encode(mbuf, a->key, &m);
    v = val(mbuf, sizeof mbuf);
    if ((rc = mdb_put(txn, s->chunk_meta, &k, &v, 0)))
        return backend(s, rc);
    if ((err = expiry_add(s, txn, a->expiry, 'C', a->key)))
        return err;
    c.chunks++;
    c.chunk_bytes += a->len;
    return counters_put(s, txn, &c);
}

typedef struct chunk_batch_arg {
    const zhtp_store_chunk_in *chunks;
    size_t n;
    const uint8_t *owner;
    uint64_t expiry;
} chunk_batch_arg;

static int chunk_batch_txn(zhtp_store *s, MDB_txn *txn, void *argp)
{
    chunk_batch_arg *b = argp;
    for (size_t i = 0; i < b->n; i++) {
        chunk_put_arg a = {b->chunks[i].key, b->chunks[i].bytes, b->owner, b->chunks[i].len,
                           b->expiry};
        int err = chunk_put_txn(s, txn, &a);
        if (err)
            return err; /* run_write aborts: nothing of the batch is stored */
    }
    return 0;
}

int zhtp_store_chunk_put_many(zhtp_store *s, const zhtp_store_chunk_in *chunks, size_t n,
                              const uint8_t owner[ZHTP_NODE_ID_LEN], uint64_t expiry_unix_s,
                              uint64_t now_unix_s)
{
    if (!s || (!chunks && n))
        return ZHTP_ERR_INVAL;
    for (size_t i = 0; i < n; i++)
        if (!chunks[i].key || !chunks[i].bytes || chunks[i].len == 0 ||
            chunks[i].len > ZHTP_STORE_CHUNK_MAX)
            return ZHTP_ERR_INVAL;
    if (expiry_unix_s != ZHTP_STORE_EXPIRY_NEVER && expiry_unix_s <= now_unix_s)
        return ZHTP_ERR_STORE_EXPIRED;
    /* Hash outside the transaction: the writer lock is held only for the LMDB work. */
    for (size_t i = 0; i < n; i++) {
        uint8_t h[ZHTP_BLAKE3_OUT_LEN];
        zhtp_blake3_hash(h, sizeof h, chunks[i].bytes, chunks[i].len);
        if (memcmp(h, chunks[i].key, sizeof h) != 0)
            return ZHTP_ERR_STORE_KEY_MISMATCH;
    }
    if (n == 0)
        return 0;
    chunk_batch_arg b = {chunks, n, owner, expiry_unix_s};
    return run_write(s, chunk_batch_txn, &b);
}

int zhtp_store_chunk_put(zhtp_store *s, const uint8_t key[ZHTP_STORE_KEY_LEN], const uint8_t *bytes,
                         size_t len, const uint8_t owner[ZHTP_NODE_ID_LEN], uint64_t expiry_unix_s,
                         uint64_t now_unix_s)
{
    zhtp_store_chunk_in c = {key, bytes, len};
    return zhtp_store_chunk_put_many(s, &c, 1, owner, expiry_unix_s, now_unix_s);
}

typedef struct chunk_del_arg {
    const uint8_t *key;
    bool is_corrupt;
} chunk_del_arg;

/* Deletes a chunk with its metadata inside txn and releases its quota. */
static int chunk_remove(zhtp_store *s, MDB_txn *txn, const uint8_t *key, bool is_corrupt)
{
    MDB_val k = val(key, ZHTP_STORE_KEY_LEN), v;
    store_chunk_meta m;
    bool have_meta = false;
    uint64_t size = 0;
    int rc = mdb_get(txn, s->chunk_meta, &k, &v);
    if (rc == 0 && store_chunk_meta_decode(&m, key, v.mv_data, v.mv_size) == 0) {
        have_meta = true;
        size = m.size;
    } else if (rc && rc != MDB_NOTFOUND) {
        return backend(s, rc);
    }
    rc = mdb_get(txn, s->chunks, &k, &v);
    if (rc == MDB_NOTFOUND && !have_meta)
        return ZHTP_ERR_NOTFOUND;
    if (rc && rc != MDB_NOTFOUND)
        return backend(s, rc);
    if (!have_meta) {
        s->needs_recount = true; /* owner unknown: its usage is rebuilt from the rest */
        if (rc == 0)
            size = v.mv_size;
    }
    if ((rc = mdb_del(txn, s->chunks, &k, NULL)) && rc != MDB_NOTFOUND)
        return backend(s, rc);
    if ((rc = mdb_del(txn, s->chunk_meta, &k, NULL)) && rc != MDB_NOTFOUND)
        return backend(s, rc);
    int err;
    if (have_meta && m.has_owner && (err = usage_adjust(s, txn, m.owner, 0, size)))
        return err;
    if (have_meta && (err = expiry_del(s, txn, m.expiry_unix_s, 'C', key)))
        return err;
    return counters_remove(s, txn, false, size, is_corrupt);
}

static int chunk_del_txn(zhtp_store *s, MDB_txn *txn, void *argp)
{
    chunk_del_arg *a = argp;
    return chunk_remove(s, txn, a->key, a->is_corrupt);
}

int zhtp_store_chunk_delete(zhtp_store *s, const uint8_t key[ZHTP_STORE_KEY_LEN])
{
    if (!s || !key)
        return ZHTP_ERR_INVAL;
    chunk_del_arg a = {key, false};
    return run_write(s, chunk_del_txn, &a);
}

zhtp_ssize zhtp_store_chunk_get(zhtp_store *s, const uint8_t key[ZHTP_STORE_KEY_LEN], uint8_t *out,
                                size_t cap)
{
    if (!s || !key || (!out && cap))
        return ZHTP_ERR_INVAL;
    MDB_txn *txn;
    int err = begin_read(s, &txn);
    if (err)
        return err;
    MDB_val k = val(key, ZHTP_STORE_KEY_LEN), v;
    int rc = mdb_get(txn, s->chunks, &k, &v);
    if (rc) {
        mdb_txn_abort(txn);
        return backend(s, rc);
    }
    /* Hash the mapped bytes before copying anything out: corrupt bytes never reach out. */
    uint8_t h[ZHTP_BLAKE3_OUT_LEN];
    zhtp_blake3_hash(h, sizeof h, v.mv_data, v.mv_size);
    if (memcmp(h, key, sizeof h) != 0 || v.mv_size == 0 || v.mv_size > ZHTP_STORE_CHUNK_MAX) {
        mdb_txn_abort(txn);
        chunk_del_arg a = {key, true};
        err = run_write(s, chunk_del_txn, &a);
        return err && err != ZHTP_ERR_NOTFOUND ? err : ZHTP_ERR_STORE_CORRUPT;
    }
    zhtp_ssize len = (zhtp_ssize)v.mv_size;
    if (cap < v.mv_size)
        len = ZHTP_ERR_NOBUF;
    else
        memcpy(out, v.mv_data, v.mv_size);
    mdb_txn_abort(txn);
    return len;
}

zhtp_ssize zhtp_store_chunk_size(zhtp_store *s, const uint8_t key[ZHTP_STORE_KEY_LEN])
{
    if (!s || !key)
        return ZHTP_ERR_INVAL;
    MDB_txn *txn;
    int err = begin_read(s, &txn);
    if (err)
        return err;
    MDB_val k = val(key, ZHTP_STORE_KEY_LEN), v;
    int rc = mdb_get(txn, s->chunks, &k, &v);
    zhtp_ssize r = rc ? backend(s, rc) : (zhtp_ssize)v.mv_size;
    mdb_txn_abort(txn);
    return r;
}

/* --- records -------------------------------------------------------------------------- */

typedef struct record_put_arg {
    const uint8_t *key, *owner;
    const zhtp_store_record *rec;
    size_t entry_len;
} record_put_arg;

/* Removes the record under k (already fetched as v) with its quota, inside txn. */
static int record_remove(zhtp_store *s, MDB_txn *txn, MDB_val *k, const MDB_val *v, bool is_corrupt)
{
    store_record_entry e;
    int err;
    bool ok = k->mv_size == ZHTP_STORE_KEY_LEN &&
              store_record_entry_decode(&e, k->mv_data, v->mv_data, v->mv_size) == 0;
    if (!ok)
        s->needs_recount = true;
    if (ok && e.has_owner && (err = usage_adjust(s, txn, e.owner, 0, v->mv_size)))
        return err;
    if (ok && (err = expiry_del(s, txn, e.rec.expiry_unix_s, 'R', k->mv_data)))
        return err;
    uint64_t size = v->mv_size; /* v points into the map: read it before deleting */
    int rc = mdb_del(txn, s->records, k, NULL);
    if (rc)
        return backend(s, rc);
    return counters_remove(s, txn, true, size, is_corrupt);
}

static int record_put_txn(zhtp_store *s, MDB_txn *txn, void *argp)
{
    record_put_arg *a = argp;
    MDB_val k = val(a->key, ZHTP_STORE_KEY_LEN), v;
    counters c;
    int err = counters_get(s, txn, &c);
    if (err)
        return err;
    bool has_old = false, old_owned = false;
    uint8_t old_owner[ZHTP_NODE_ID_LEN];
    uint64_t old_size = 0, old_expiry = ZHTP_STORE_EXPIRY_NEVER;
    int rc = mdb_get(txn, s->records, &k, &v);
    if (rc == 0) {
        store_record_entry e;
        if (store_record_entry_decode(&e, a->key, v.mv_data, v.mv_size) == 0) {
            if (a->rec->sequence <= e.rec.sequence)
                return ZHTP_ERR_STORE_STALE;
            has_old = true;
            old_owned = e.has_owner;
            memcpy(old_owner, e.owner, sizeof old_owner);
            old_size = v.mv_size;
            old_expiry = e.rec.expiry_unix_s;
        } else {
            /* A damaged entry carries no trustworthy sequence: drop it, then store anew. */
            if ((err = record_remove(s, txn, &k, &v, true)))
                return err;
            if ((err = counters_get(s, txn, &c)))
                return err;
        }
    } else if (rc != MDB_NOTFOUND) {
        return backend(s, rc);
    }

    uint64_t total = sub_sat(c.chunk_bytes + c.record_bytes, old_size);
    if (!fits(total, a->entry_len, s->cfg.quota_bytes))
        return ZHTP_ERR_STORE_QUOTA;
    if (!has_old && !fits(c.records, 1, s->cfg.quota_records))
        return ZHTP_ERR_STORE_QUOTA;
    if (a->owner) {
        uint64_t used;
        if ((err = usage_get(s, txn, a->owner, &used)))
            return err;
        if (old_owned && memcmp(old_owner, a->owner, ZHTP_NODE_ID_LEN) == 0)
            used = sub_sat(used, old_size);
        if (!fits(used, a->entry_len, s->cfg.quota_peer_bytes))
            return ZHTP_ERR_STORE_QUOTA;
    }
    if (old_owned && (err = usage_adjust(s, txn, old_owner, 0, old_size)))
        return err;
    if (a->owner && (err = usage_adjust(s, txn, a->owner, a->entry_len, 0)))
        return err;

    /* Encode straight into the page LMDB reserves for the value: no bounce buffer. */
    v.mv_size = a->entry_len;
    v.mv_data = NULL;
    if ((rc = mdb_put(txn, s->records, &k, &v, MDB_RESERVE)))
        return backend(s, rc);
    if (store_record_entry_encode(v.mv_data, a->entry_len, a->key, a->rec, a->owner) < 0)
        return ZHTP_ERR_INTERNAL;
    if ((err = expiry_del(s, txn, old_expiry, 'R', a->key)) ||
        (err = expiry_add(s, txn, a->rec->expiry_unix_s, 'R', a->key)))
        return err;
    if (!has_old)
        c.records++;
    c.record_bytes = sub_sat(c.record_bytes, old_size) + a->entry_len;
    return counters_put(s, txn, &c);
}

int zhtp_store_record_put(zhtp_store *s, const uint8_t key[ZHTP_STORE_KEY_LEN],
                          const zhtp_store_record *rec, const uint8_t owner[ZHTP_NODE_ID_LEN],
                          uint64_t now_unix_s)
{
    if (!s || !key || !rec || rec->sig_len > ZHTP_STORE_SIG_MAX ||
        rec->value_len > ZHTP_STORE_RECORD_MAX || (!rec->sig && rec->sig_len) ||
        (!rec->value && rec->value_len))
        return ZHTP_ERR_INVAL;
    if (rec->expiry_unix_s != ZHTP_STORE_EXPIRY_NEVER && rec->expiry_unix_s <= now_unix_s)
        return ZHTP_ERR_STORE_EXPIRED;
    record_put_arg a = {key, owner, rec, store_record_entry_len(rec)};
    return run_write(s, record_put_txn, &a);
}

typedef struct record_del_arg {
    const uint8_t *key;
    bool is_corrupt;
} record_del_arg;

static int record_del_txn(zhtp_store *s, MDB_txn *txn, void *argp)
{
    record_del_arg *a = argp;
    MDB_val k = val(a->key, ZHTP_STORE_KEY_LEN), v;
    int rc = mdb_get(txn, s->records, &k, &v);
    if (rc)
        return backend(s, rc);
    return record_remove(s, txn, &k, &v, a->is_corrupt);
}

int zhtp_store_record_delete(zhtp_store *s, const uint8_t key[ZHTP_STORE_KEY_LEN])
{
    if (!s || !key)
        return ZHTP_ERR_INVAL;
    record_del_arg a = {key, false};
    return run_write(s, record_del_txn, &a);
}

int zhtp_store_record_get(zhtp_store *s, const uint8_t key[ZHTP_STORE_KEY_LEN], uint64_t now_unix_s,
                          zhtp_store_record *out, uint8_t *buf, size_t cap)
{
    if (!s || !key || !out || (!buf && cap))
        return ZHTP_ERR_INVAL;
    MDB_txn *txn;
    int err = begin_read(s, &txn);
    if (err)
        return err;
    MDB_val k = val(key, ZHTP_STORE_KEY_LEN), v;
    int rc = mdb_get(txn, s->records, &k, &v);
    if (rc) {
        mdb_txn_abort(txn);
        return backend(s, rc);
    }
    store_record_entry e;
    if (store_record_entry_decode(&e, key, v.mv_data, v.mv_size) != 0) {
        mdb_txn_abort(txn);
        record_del_arg a = {key, true};
        err = run_write(s, record_del_txn, &a);
        return err && err != ZHTP_ERR_NOTFOUND ? err : ZHTP_ERR_STORE_CORRUPT;
    }
    if (e.rec.expiry_unix_s != ZHTP_STORE_EXPIRY_NEVER && e.rec.expiry_unix_s <= now_unix_s) {
        err = ZHTP_ERR_NOTFOUND;
    } else if (cap < e.rec.sig_len + e.rec.value_len) {
        err = ZHTP_ERR_NOBUF;
    } else {
        if (e.rec.sig_len)
            memcpy(buf, e.rec.sig, e.rec.sig_len);
        if (e.rec.value_len)
            memcpy(buf + e.rec.sig_len, e.rec.value, e.rec.value_len);
        out->sequence = e.rec.sequence;
        out->expiry_unix_s = e.rec.expiry_unix_s;
        out->sig = buf;
        out->sig_len = e.rec.sig_len;
        out->value = buf + e.rec.sig_len;
        out->value_len = e.rec.value_len;
    }
    mdb_txn_abort(txn);
    return err;
}

/* --- gc ------------------------------------------------------------------------------- */

typedef struct gc_arg {
    uint64_t now, removed;
} gc_arg;

static bool expired(uint64_t expiry, uint64_t now)
{
    return expiry != ZHTP_STORE_EXPIRY_NEVER && expiry <= now;
}

/* Keys of rows that gc removes are copied out before the removal (which may touch the
 * pages the cursor points into); the walk then resumes at the first key >= the copy. */
#define KEY_COPY_MAX 512 /* > LMDB's default maximum key size (511) */

/* Removes expired entries (expiry <= a->now) and entries that fail their check. */
static int sweep(zhtp_store *s, MDB_txn *txn, gc_arg *a)
{
    uint8_t kb[KEY_COPY_MAX];
    MDB_cursor *cur;
    MDB_val k, v;
    int err = 0;
    int rc = mdb_cursor_open(txn, s->chunk_meta, &cur);
    if (rc)
        return backend(s, rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        store_chunk_meta m;
        MDB_val cv;
        bool bad = k.mv_size != ZHTP_STORE_KEY_LEN ||
                   store_chunk_meta_decode(&m, k.mv_data, v.mv_data, v.mv_size) != 0 ||
                   mdb_get(txn, s->chunks, &k, &cv) == MDB_NOTFOUND; /* metadata of nothing */
        if (!bad && !expired(m.expiry_unix_s, a->now)) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        size_t klen = k.mv_size;
        memcpy(kb, k.mv_data, klen);
        if (klen == ZHTP_STORE_KEY_LEN) {
            err = chunk_remove(s, txn, kb, bad);
        } else {
            /* Not a key this store writes: drop the row itself. */
            MDB_val kk = val(kb, klen);
            err = backend(s, mdb_del(txn, s->chunk_meta, &kk, NULL));
        }
        if (err)
            break;
        a->removed++;
        k = val(kb, klen);
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    }
    mdb_cursor_close(cur);
    if (err)
        return err;
    if (rc != MDB_NOTFOUND)
        return backend(s, rc);

    if ((rc = mdb_cursor_open(txn, s->records, &cur)))
        return backend(s, rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        store_record_entry e;
        bool bad = k.mv_size != ZHTP_STORE_KEY_LEN ||
                   store_record_entry_decode(&e, k.mv_data, v.mv_data, v.mv_size) != 0;
        if (!bad && !expired(e.rec.expiry_unix_s, a->now)) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        size_t klen = k.mv_size;
        memcpy(kb, k.mv_data, klen);
        MDB_val kk = val(kb, klen);
        if ((err = record_remove(s, txn, &kk, &v, bad)))
            break;
        a->removed++;
        k = val(kb, klen);
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    }
    mdb_cursor_close(cur);
    if (err)
        return err;
    return rc == MDB_NOTFOUND ? 0 : backend(s, rc);
}

/* gc reads the expiry index from its start while rows are due. Each due row's entry is
 * removed if its own (checked) expiry agrees; a row that disagrees is only dropped. */
static int gc_txn(zhtp_store *s, MDB_txn *txn, void *argp)
{
    gc_arg *a = argp;
    a->removed = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    int err = 0;
    int rc = mdb_cursor_open(txn, s->expiry, &cur);
    if (rc)
        return backend(s, rc);
    uint8_t kb[KEY_COPY_MAX];
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) {
        size_t klen = k.mv_size;
        memcpy(kb, k.mv_data, klen);
        bool well_formed = klen == EXPIRY_KEY_LEN && (kb[8] == 'C' || kb[8] == 'R');
        uint64_t when = klen >= 8 ? store_get_u64(kb) : 0;
        if (well_formed && !expired(when, a->now))
            break; /* sorted: nothing further is due */
        const uint8_t *key = kb + 9;
        MDB_val ek = val(key, ZHTP_STORE_KEY_LEN), ev;
        bool removed = false;
        if (well_formed && kb[8] == 'C') {
            store_chunk_meta m;
            rc = mdb_get(txn, s->chunk_meta, &ek, &ev);
            if (rc == 0 && store_chunk_meta_decode(&m, key, ev.mv_data, ev.mv_size) == 0 &&
                m.expiry_unix_s == when) {
                if ((err = chunk_remove(s, txn, key, false)))
                    break;
                removed = true;
            }
        } else if (well_formed) {
            store_record_entry e;
            rc = mdb_get(txn, s->records, &ek, &ev);
            if (rc == 0 && store_record_entry_decode(&e, key, ev.mv_data, ev.mv_size) == 0 &&
                e.rec.expiry_unix_s == when) {
                if ((err = record_remove(s, txn, &ek, &ev, false)))
                    break;
                removed = true;
            }
        }
        if (removed) {
            a->removed++;
        } else {
            MDB_val kk = val(kb, klen);
            rc = mdb_del(txn, s->expiry, &kk, NULL);
            if (rc && rc != MDB_NOTFOUND) {
                err = backend(s, rc);
                break;
            }
        }
        k = val(kb, klen);
    }
    mdb_cursor_close(cur);
    if (err)
        return err;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : backend(s, rc);
}

int zhtp_store_gc(zhtp_store *s, uint64_t now_unix_s, uint64_t *removed)
{
    if (!s)
        return ZHTP_ERR_INVAL;
    gc_arg a = {now_unix_s, 0};
    int err = run_write(s, gc_txn, &a);
    if (removed)
        *removed = err ? 0 : a.removed;
    return err;
}

/* --- recount and verify ---------------------------------------------------------------- */

/* Deletes chunk rows that have no valid metadata (left by damage), counting them corrupt. */
static int sweep_orphans(zhtp_store *s, MDB_txn *txn, bool rehash, uint64_t *removed)
{
    uint8_t kb[KEY_COPY_MAX];
    MDB_cursor *cur;
    MDB_val k, v, mv;
    int err = 0;
    int rc = mdb_cursor_open(txn, s->chunks, &cur);
    if (rc)
        return backend(s, rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        store_chunk_meta m;
        bool bad = k.mv_size != ZHTP_STORE_KEY_LEN || mdb_get(txn, s->chunk_meta, &k, &mv) != 0 ||
                   store_chunk_meta_decode(&m, k.mv_data, mv.mv_data, mv.mv_size) != 0;
        if (!bad && rehash) {
            uint8_t h[ZHTP_BLAKE3_OUT_LEN];
            zhtp_blake3_hash(h, sizeof h, v.mv_data, v.mv_size);
            bad = memcmp(h, k.mv_data, sizeof h) != 0;
        }
        if (!bad) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        size_t klen = k.mv_size;
        memcpy(kb, k.mv_data, klen);
        MDB_val kk = val(kb, klen);
        if ((rc = mdb_del(txn, s->chunks, &kk, NULL)) ||
            ((rc = mdb_del(txn, s->chunk_meta, &kk, NULL)) && rc != MDB_NOTFOUND)) {
            err = backend(s, rc);
            break;
        }
        (*removed)++;
        counters c;
        if ((err = counters_get(s, txn, &c)))
            break;
        c.corrupt++;
        if ((err = counters_put(s, txn, &c)))
            break;
        rc = mdb_cursor_get(cur, &kk, &v, MDB_SET_RANGE);
        k = kk;
    }
    mdb_cursor_close(cur);
    if (err)
        return err;
    return rc == MDB_NOTFOUND ? 0 : backend(s, rc);
}

/* Rebuilds the counters and the per-peer usage from the entries themselves, after removing
 * every entry that fails its check (expired entries are left alone). */
static int recount(zhtp_store *s, MDB_txn *txn)
{
    gc_arg g = {0, 0}; /* now = 0: nothing counts as expired, only damaged entries go */
    int err = sweep(s, txn, &g);
    uint64_t orphans = 0;
    if (!err)
        err = sweep_orphans(s, txn, false, &orphans);
    if (err)
        return err;
    counters c, old;
    if ((err = counters_get(s, txn, &old)))
        return err;
    memset(&c, 0, sizeof c);
    c.corrupt = old.corrupt;
    int rc = mdb_drop(txn, s->usage, 0);
    if (!rc)
        rc = mdb_drop(txn, s->expiry, 0);
    if (rc)
        return backend(s, rc);
    MDB_cursor *cur;
    MDB_val k, v;
    if ((rc = mdb_cursor_open(txn, s->chunk_meta, &cur)))
        return backend(s, rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !err;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        store_chunk_meta m;
        if (store_chunk_meta_decode(&m, k.mv_data, v.mv_data, v.mv_size) != 0)
            continue; /* cannot happen after the sweep; never count what failed */
        c.chunks++;
        c.chunk_bytes += m.size;
        if (m.has_owner)
            err = usage_adjust(s, txn, m.owner, m.size, 0);
        if (!err)
            err = expiry_add(s, txn, m.expiry_unix_s, 'C', k.mv_data);
    }
    mdb_cursor_close(cur);
    if (err)
        return err;
    if (rc != MDB_NOTFOUND)
        return backend(s, rc);
    if ((rc = mdb_cursor_open(txn, s->records, &cur)))
        return backend(s, rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !err;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        store_record_entry e;
        if (k.mv_size != ZHTP_STORE_KEY_LEN ||
            store_record_entry_decode(&e, k.mv_data, v.mv_data, v.mv_size) != 0)
            continue;
        c.records++;
        c.record_bytes += v.mv_size;
        if (e.has_owner)
            err = usage_adjust(s, txn, e.owner, v.mv_size, 0);
        if (!err)
            err = expiry_add(s, txn, e.rec.expiry_unix_s, 'R', k.mv_data);
    }
    mdb_cursor_close(cur);
    if (err)
        return err;
    if (rc != MDB_NOTFOUND)
        return backend(s, rc);
    s->needs_recount = false;
    return counters_put(s, txn, &c);
}

typedef struct verify_arg {
    uint64_t removed;
} verify_arg;

static int verify_txn(zhtp_store *s, MDB_txn *txn, void *argp)
{
    verify_arg *a = argp;
    a->removed = 0;
    gc_arg g = {0, 0};
    int err = sweep(s, txn, &g);
    if (err)
        return err;
    if ((err = sweep_orphans(s, txn, true, &a->removed)))
        return err;
    a->removed += g.removed;
    return recount(s, txn);
}

int zhtp_store_verify(zhtp_store *s, uint64_t *removed)
{
    if (!s)
        return ZHTP_ERR_INVAL;
    verify_arg a = {0};
    int err = run_write(s, verify_txn, &a);
    if (removed)
        *removed = err ? 0 : a.removed;
    return err;
}

/* --- peer cache ----------------------------------------------------------------------- */

typedef struct peer_put_arg {
    const uint8_t *id;
    const uint8_t *enc;
    size_t enc_len;
} peer_put_arg;

static int peer_put_txn(zhtp_store *s, MDB_txn *txn, void *argp)
{
    peer_put_arg *a = argp;
    MDB_val k = val(a->id, ZHTP_NODE_ID_LEN), v = val(a->enc, a->enc_len);
    return backend(s, mdb_put(txn, s->peers, &k, &v, 0));
}

int zhtp_store_peer_put(zhtp_store *s, const uint8_t id[ZHTP_NODE_ID_LEN], const zhtp_addr *addr,
                        uint64_t last_seen_unix_s)
{
    if (!s || !id || !addr)
        return ZHTP_ERR_INVAL;
    uint8_t enc[STORE_PEER_MAX_LEN];
    zhtp_ssize n = store_peer_encode(enc, addr, last_seen_unix_s);
    if (n < 0)
        return (int)n;
    peer_put_arg a = {id, enc, (size_t)n};
    return run_write(s, peer_put_txn, &a);
}

static int peer_del_txn(zhtp_store *s, MDB_txn *txn, void *argp)
{
    MDB_val k = val(argp, ZHTP_NODE_ID_LEN);
    return backend(s, mdb_del(txn, s->peers, &k, NULL));
}

int zhtp_store_peer_delete(zhtp_store *s, const uint8_t id[ZHTP_NODE_ID_LEN])
{
    if (!s || !id)
        return ZHTP_ERR_INVAL;
    return run_write(s, peer_del_txn, (void *)id);
}

int zhtp_store_peer_get(zhtp_store *s, const uint8_t id[ZHTP_NODE_ID_LEN], zhtp_addr *addr,
                        uint64_t *last_seen_unix_s)
{
    if (!s || !id)
        return ZHTP_ERR_INVAL;
    MDB_txn *txn;
    int err = begin_read(s, &txn);
    if (err)
        return err;
    MDB_val k = val(id, ZHTP_NODE_ID_LEN), v;
    int rc = mdb_get(txn, s->peers, &k, &v);
    zhtp_addr a;
    uint64_t seen;
    if (rc)
        err = backend(s, rc);
    else
        err = store_peer_decode(&a, &seen, v.mv_data, v.mv_size);
    mdb_txn_abort(txn);
    if (err)
        return err;
    if (addr)
        *addr = a;
    if (last_seen_unix_s)
        *last_seen_unix_s = seen;
    return 0;
}

int zhtp_store_peer_foreach(zhtp_store *s, zhtp_store_peer_fn fn, void *user_data)
{
    if (!s || !fn)
        return ZHTP_ERR_INVAL;
    MDB_txn *txn;
    int err = begin_read(s, &txn);
    if (err)
        return err;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->peers, &cur);
    if (rc) {
        mdb_txn_abort(txn);
        return backend(s, rc);
    }
    MDB_val k, v;
    int ret = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        zhtp_addr a;
        uint64_t seen;
        if (k.mv_size != ZHTP_NODE_ID_LEN || store_peer_decode(&a, &seen, v.mv_data, v.mv_size))
            continue;
        if ((ret = fn(user_data, k.mv_data, &a, seen)) != 0)
            break;
    }
    if (ret == 0 && rc != MDB_NOTFOUND)
        ret = backend(s, rc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return ret;
}

/* --- accounting ----------------------------------------------------------------------- */

int zhtp_store_get_stats(zhtp_store *s, zhtp_store_stats *st)
{
    if (!s || !st)
        return ZHTP_ERR_INVAL;
    MDB_txn *txn;
    int err = begin_read(s, &txn);
    if (err)
        return err;
    counters c;
    err = counters_get(s, txn, &c);
    mdb_txn_abort(txn);
    if (err)
        return err;
    st->chunks = c.chunks;
    st->chunk_bytes = c.chunk_bytes;
    st->records = c.records;
    st->record_bytes = c.record_bytes;
    st->corrupt_removed = c.corrupt;
    st->map_size = s->map_size;
    return 0;
}

int zhtp_store_peer_usage(zhtp_store *s, const uint8_t owner[ZHTP_NODE_ID_LEN], uint64_t *bytes)
{
    if (!s || !owner || !bytes)
        return ZHTP_ERR_INVAL;
    MDB_txn *txn;
    int err = begin_read(s, &txn);
    if (err)
        return err;
    err = usage_get(s, txn, owner, bytes);
    mdb_txn_abort(txn);
    return err;
}
