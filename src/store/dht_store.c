/* store/dht_store: the DHT's storage callbacks on the LMDB store (include/zhtp/dht_store.h,
 * docs/dht.md "LMDB adapter"). */
#include <stdio.h>
#include <string.h>

#include "zhtp/dht_store.h"
#include "zhtp/mem.h"

#define IDX_ENTRY 41 /* kind u8 | key[32] | expiry u64 */
#define IDX_NAME  "dht_index"

typedef struct idx_slot {
    uint8_t used; /* 0 empty; else the kind */
    uint8_t key[ZHTP_DHT_ID_LEN];
    uint64_t expiry; /* 0: deleted (slot stays, so probing still works) */
} idx_slot;

struct zhtp_dht_store {
    const zhtp_mem *mem;
    zhtp_store *s;
    zhtp_dht_store_clock_fn clock;
    void *clock_ud;
    FILE *log;
    char path[4096];
    idx_slot *t;
    size_t cap, used, live;
    uint8_t *buf;  /* get()'s answer, borrowed until the next call */
    uint8_t *ebuf; /* each()'s current value */
};

#define BUF_LEN                                                                                    \
    (ZHTP_DHT_CHUNK_MAX > ZHTP_STORE_RECORD_BUF_MAX ? ZHTP_DHT_CHUNK_MAX                           \
                                                    : ZHTP_STORE_RECORD_BUF_MAX)

static uint64_t now_s(const zhtp_dht_store *a)
{
    return a->clock(a->clock_ud) / ZHTP_NS_PER_SEC;
}

/* Rounded up, so "expiry after now" in ns stays true in seconds. */
static uint64_t ns_to_s(uint64_t ns)
{
    return ns / ZHTP_NS_PER_SEC + (ns % ZHTP_NS_PER_SEC != 0);
}

static size_t slot_of(const zhtp_dht_store *a, uint8_t kind, const uint8_t *key)
{
    uint64_t h = kind;
    for (int i = 0; i < 8; i++)
        h = h << 8 | key[i];
    size_t i = (size_t)(h * 0x9e3779b97f4a7c15ull >> 20) & (a->cap - 1);
    while (a->t[i].used && (a->t[i].used != kind || memcmp(a->t[i].key, key, ZHTP_DHT_ID_LEN)))
        i = (i + 1) & (a->cap - 1);
    return i;
}

static int idx_grow(zhtp_dht_store *a)
{
    size_t nc = a->cap ? a->cap * 2 : 256;
    idx_slot *n = zhtp_mem_alloc(a->mem, nc * sizeof *n);
    if (!n)
        return ZHTP_ERR_NOMEM;
    memset(n, 0, nc * sizeof *n);
    idx_slot *old = a->t;
    size_t oc = a->cap;
    a->t = n;
    a->cap = nc;
    a->used = a->live = 0;
    for (size_t i = 0; i < oc; i++)
        if (old[i].used && old[i].expiry) {
            a->t[slot_of(a, old[i].used, old[i].key)] = old[i];
            a->used++;
            a->live++;
        }
    zhtp_mem_free(a->mem, old, oc * sizeof *old);
    return ZHTP_OK;
}

/* Sets (kind, key) -> expiry in memory (0 deletes). */
static int idx_set(zhtp_dht_store *a, uint8_t kind, const uint8_t *key, uint64_t expiry)
{
    if ((a->used + 1) * 2 > a->cap) {
        int rc = idx_grow(a);
        if (rc)
            return rc;
    }
    idx_slot *sl = &a->t[slot_of(a, kind, key)];
    if (!sl->used) {
        if (!expiry)
            return ZHTP_OK;
        sl->used = kind;
        memcpy(sl->key, key, ZHTP_DHT_ID_LEN);
        a->used++;
    }
    a->live += (expiry != 0) - (sl->expiry != 0);
    sl->expiry = expiry;
    return ZHTP_OK;
}

static void idx_log(zhtp_dht_store *a, uint8_t kind, const uint8_t *key, uint64_t expiry)
{
    uint8_t e[IDX_ENTRY];
    e[0] = kind;
    memcpy(e + 1, key, ZHTP_DHT_ID_LEN);
    for (int i = 0; i < 8; i++)
        e[33 + i] = (uint8_t)(expiry >> (8 * i));
    /* advisory (see the header): a failed write loses only a republish */
    if (fwrite(e, 1, sizeof e, a->log) == sizeof e)
        (void)fflush(a->log);
}

static int remember(zhtp_dht_store *a, uint8_t kind, const uint8_t *key, uint64_t expiry)
{
    int rc = idx_set(a, kind, key, expiry);
    if (rc == ZHTP_OK)
        idx_log(a, kind, key, expiry);
    return rc;
}

/* Reads the log, then rewrites it with the live entries only (tmp file + rename). */
static int idx_load(zhtp_dht_store *a)
{
    FILE *f = fopen(a->path, "rb");
    if (f) {
        uint8_t e[IDX_ENTRY];
        while (fread(e, 1, sizeof e, f) == sizeof e) {
            uint64_t x = 0;
            for (int i = 7; i >= 0; i--)
                x = x << 8 | e[33 + i];
            if (e[0] != ZHTP_DHT_KIND_CHUNK && e[0] != ZHTP_DHT_KIND_RECORD)
                continue; /* damaged entry: skipped (a torn tail is the usual case) */
            if (idx_set(a, e[0], e + 1, x)) {
                fclose(f);
                return ZHTP_ERR_NOMEM;
            }
        }
        fclose(f);
    }
    char tmp[sizeof a->path + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", a->path);
    FILE *w = fopen(tmp, "wb");
    if (!w)
        return ZHTP_ERR_STORE_ACCESS;
    a->log = w;
    for (size_t i = 0; i < a->cap; i++)
        if (a->t[i].used && a->t[i].expiry)
            idx_log(a, a->t[i].used, a->t[i].key, a->t[i].expiry);
    if (fflush(w) != 0 || rename(tmp, a->path) != 0) {
        fclose(w);
        a->log = NULL;
        return ZHTP_ERR_STORE_ACCESS;
    }
    fclose(w);
    a->log = fopen(a->path, "ab");
    return a->log ? ZHTP_OK : ZHTP_ERR_STORE_ACCESS;
}

static int map_err(int rc)
{
    if (rc == ZHTP_ERR_STORE_QUOTA || rc == ZHTP_ERR_STORE_FULL)
        return ZHTP_ERR_STORE_QUOTA;
    if (rc == ZHTP_ERR_STORE_CORRUPT)
        return ZHTP_ERR_NOTFOUND; /* removed by the store; never served */
    return rc;
}

/* The record's sequence number, read without verifying (the DHT did). */
static int record_seq(const uint8_t *val, size_t len, uint64_t *seq)
{
    size_t o = ZHTP_SIGN_HYBRID_PUBLICKEYBYTES;
    if (len < ZHTP_DHT_RECORD_LEN(1, 0))
        return ZHTP_ERR_INVAL;
    o += 1u + val[o];
    if (o + 8 > len)
        return ZHTP_ERR_INVAL;
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | val[o + (size_t)i];
    *seq = x;
    return ZHTP_OK;
}

static int op_get(void *ud, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN], const uint8_t **val,
                  size_t *len, uint64_t *expiry);

/* Stores for |owner| (a remote peer: charged to its share of the store, docs/store.md; NULL:
 * the node's own). */
static int put_as(zhtp_dht_store *a, const uint8_t *owner, uint8_t kind,
                  const uint8_t key[ZHTP_DHT_ID_LEN], const uint8_t *val, size_t len,
                  uint64_t expiry)
{
    uint64_t ns = now_s(a), es = ns_to_s(expiry);
    int rc;
    if (kind == ZHTP_DHT_KIND_CHUNK) {
        rc = zhtp_store_chunk_put(a->s, key, val, len, owner, es, ns);
        if (rc == ZHTP_ERR_STORE_KEY_MISMATCH)
            return ZHTP_ERR_DHT_VERIFY;
    } else if (kind == ZHTP_DHT_KIND_RECORD) {
        zhtp_store_record rec = {.expiry_unix_s = es, .value = val, .value_len = len};
        rc = record_seq(val, len, &rec.sequence);
        if (rc)
            return rc;
        rc = zhtp_store_record_put(a->s, key, &rec, owner, ns);
        if (rc == ZHTP_ERR_STORE_STALE) {
            /* the DHT accepts an equal sequence as the identical record (a republish) */
            const uint8_t *old;
            size_t old_len;
            uint64_t old_exp;
            if (op_get(a, kind, key, &old, &old_len, &old_exp) == ZHTP_OK && old_len == len &&
                memcmp(old, val, len) == 0)
                rc = ZHTP_OK;
        }
    } else {
        return ZHTP_ERR_INVAL;
    }
    if (rc)
        return map_err(rc);
    return remember(a, kind, key, expiry);
}

static int op_put(void *ud, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN], const uint8_t *val,
                  size_t len, uint64_t expiry)
{
    return put_as(ud, NULL, kind, key, val, len, expiry);
}

int zhtp_dht_store_put_from(void *ud, const uint8_t peer[ZHTP_DHT_ID_LEN], uint8_t kind,
                            const uint8_t key[ZHTP_DHT_ID_LEN], const uint8_t *val, size_t len,
                            uint64_t expiry)
{
    return put_as(ud, peer, kind, key, val, len, expiry);
}

static int op_get(void *ud, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN], const uint8_t **val,
                  size_t *len, uint64_t *expiry)
{
    zhtp_dht_store *a = ud;
    uint64_t exp = UINT64_MAX; /* not in the index: served until the store's gc */
    if (a->cap) {
        const idx_slot *sl = &a->t[slot_of(a, kind, key)];
        if (sl->used && sl->expiry)
            exp = sl->expiry;
    }
    if (kind == ZHTP_DHT_KIND_CHUNK) {
        zhtp_ssize n = zhtp_store_chunk_get(a->s, key, a->buf, BUF_LEN);
        if (n < 0) {
            if (n == ZHTP_ERR_NOTFOUND || n == ZHTP_ERR_STORE_CORRUPT)
                (void)remember(a, kind, key, 0);
            return map_err((int)n);
        }
        *val = a->buf;
        *len = (size_t)n;
    } else if (kind == ZHTP_DHT_KIND_RECORD) {
        zhtp_store_record rec;
        int rc = zhtp_store_record_get(a->s, key, now_s(a), &rec, a->buf, BUF_LEN);
        if (rc) {
            if (rc == ZHTP_ERR_NOTFOUND || rc == ZHTP_ERR_STORE_CORRUPT)
                (void)remember(a, kind, key, 0);
            return map_err(rc);
        }
        if (exp == UINT64_MAX && rec.expiry_unix_s &&
            rec.expiry_unix_s < UINT64_MAX / ZHTP_NS_PER_SEC)
            exp = rec.expiry_unix_s * ZHTP_NS_PER_SEC;
        *val = rec.value;
        *len = rec.value_len;
    } else {
        return ZHTP_ERR_NOTFOUND;
    }
    if (expiry)
        *expiry = exp;
    return ZHTP_OK;
}

static int op_del(void *ud, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN])
{
    zhtp_dht_store *a = ud;
    int rc = kind == ZHTP_DHT_KIND_CHUNK ? zhtp_store_chunk_delete(a->s, key)
                                         : zhtp_store_record_delete(a->s, key);
    (void)remember(a, kind, key, 0);
    return rc == ZHTP_ERR_NOTFOUND ? ZHTP_OK : rc;
}

static int op_each(void *ud,
                   int (*fn)(void *ctx, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN],
                             const uint8_t *val, size_t len, uint64_t expiry),
                   void *ctx)
{
    zhtp_dht_store *a = ud;
    for (size_t i = 0; i < a->cap; i++) {
        idx_slot sl = a->t[i];
        if (!sl.used || !sl.expiry)
            continue;
        const uint8_t *v;
        size_t len;
        uint64_t exp;
        /* get() may drop the entry (gone or damaged): it only zeroes this slot's expiry, so
         * the walk is not disturbed */
        if (op_get(a, sl.used, sl.key, &v, &len, &exp) != ZHTP_OK)
            continue;
        memcpy(a->ebuf, v, len);
        int stop = fn(ctx, sl.used, sl.key, a->ebuf, len, exp);
        if (stop)
            return ZHTP_OK;
    }
    return ZHTP_OK;
}

int zhtp_dht_store_open(zhtp_dht_store **out, const char *dir, const zhtp_store_config *cfg,
                        zhtp_dht_store_clock_fn clock, void *clock_user_data)
{
    if (!out || !dir || !clock)
        return ZHTP_ERR_INVAL;
    *out = NULL;
    const zhtp_mem *mem = cfg ? cfg->mem : NULL;
    zhtp_dht_store *a = zhtp_mem_alloc(mem, sizeof *a);
    if (!a)
        return ZHTP_ERR_NOMEM;
    memset(a, 0, sizeof *a);
    a->mem = mem;
    a->clock = clock;
    a->clock_ud = clock_user_data;
    if ((size_t)snprintf(a->path, sizeof a->path, "%s/" IDX_NAME, dir) >= sizeof a->path) {
        zhtp_mem_free(mem, a, sizeof *a);
        return ZHTP_ERR_INVAL;
    }
    a->buf = zhtp_mem_alloc(mem, BUF_LEN);
    a->ebuf = zhtp_mem_alloc(mem, BUF_LEN);
    int rc = a->buf && a->ebuf ? ZHTP_OK : ZHTP_ERR_NOMEM;
    if (rc == ZHTP_OK)
        rc = zhtp_store_open(&a->s, dir, cfg);
    if (rc == ZHTP_OK)
        rc = idx_load(a);
    if (rc) {
        zhtp_dht_store_close(a);
        return rc;
    }
    *out = a;
    return ZHTP_OK;
}

void zhtp_dht_store_close(zhtp_dht_store *a)
{
    if (!a)
        return;
    if (a->log)
        fclose(a->log);
    zhtp_store_close(a->s);
    zhtp_mem_free(a->mem, a->t, a->cap * sizeof *a->t);
    zhtp_mem_free(a->mem, a->buf, BUF_LEN);
    zhtp_mem_free(a->mem, a->ebuf, BUF_LEN);
    zhtp_mem_free(a->mem, a, sizeof *a);
}

zhtp_dht_store_ops zhtp_dht_store_ops_for(zhtp_dht_store *a)
{
    zhtp_dht_store_ops o = {op_put, op_get, op_del, op_each, a};
    return o;
}

void zhtp_dht_store_configure(zhtp_dht_store *a, zhtp_dht_config *cfg)
{
    cfg->store = zhtp_dht_store_ops_for(a);
    cfg->store_put_from = zhtp_dht_store_put_from;
}

zhtp_store *zhtp_dht_store_backend(zhtp_dht_store *a)
{
    return a->s;
}

size_t zhtp_dht_store_count(const zhtp_dht_store *a)
{
    return a->live;
}
