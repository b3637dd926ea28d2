/* core/dht: k-buckets. Bucket i holds contacts whose id shares exactly i leading bits with
 * ours. Each bucket keeps at most k live contacts, least recently seen first, plus a
 * replacement cache of at most k contacts heard from while the bucket was full; a cached
 * contact enters only when a live one is removed (failed ping or repeated timeouts), because
 * long-lived contacts are the likeliest to stay (Kademlia §2.2) and flooding the cache cannot
 * push them out. Arrays are allocated on first use: a 10^4-node network fills ~15 buckets. */
#include <string.h>

#include "dht_internal.h"

int dht_cmp_dist(const uint8_t target[ZHTP_DHT_ID_LEN], const uint8_t a[ZHTP_DHT_ID_LEN],
                 const uint8_t b[ZHTP_DHT_ID_LEN])
{
    for (int i = 0; i < ZHTP_DHT_ID_LEN; i++) {
        uint8_t da = a[i] ^ target[i], db = b[i] ^ target[i];
        if (da != db)
            return da < db ? -1 : 1;
    }
    return 0;
}

unsigned dht_bucket_index(const uint8_t self[ZHTP_DHT_ID_LEN], const uint8_t id[ZHTP_DHT_ID_LEN])
{
    for (unsigned i = 0; i < ZHTP_DHT_ID_LEN; i++) {
        uint8_t x = self[i] ^ id[i];
        if (x) {
            unsigned n = 0;
            while (!(x & 0x80)) {
                x <<= 1;
                n++;
            }
            return 8 * i + n;
        }
    }
    return 256;
}

void dht_table_init(dht_table *t, const zhtp_mem *mem, const uint8_t self[ZHTP_DHT_ID_LEN],
                    uint32_t k)
{
    memset(t, 0, sizeof *t);
    t->mem = mem;
    t->k = k;
    memcpy(t->self, self, ZHTP_DHT_ID_LEN);
}

void dht_table_clear(dht_table *t)
{
    for (int i = 0; i < 257; i++) {
        zhtp_mem_free(t->mem, t->b[i].live, sizeof(dht_contact) * t->k);
        zhtp_mem_free(t->mem, t->b[i].repl, sizeof(dht_contact) * t->k);
        t->b[i].live = t->b[i].repl = NULL;
    }
    t->size = 0;
}

static int find(const dht_contact *a, unsigned n, const uint8_t id[ZHTP_DHT_ID_LEN])
{
    for (unsigned i = 0; i < n; i++)
        if (memcmp(a[i].id, id, ZHTP_DHT_ID_LEN) == 0)
            return (int)i;
    return -1;
}

static void drop_at(dht_contact *a, uint16_t *n, unsigned i)
{
    memmove(a + i, a + i + 1, sizeof *a * (*n - i - 1));
    (*n)--;
}

int dht_table_seen(dht_table *t, const uint8_t id[ZHTP_DHT_ID_LEN], zhtp_time now)
{
    unsigned bi = dht_bucket_index(t->self, id);
    if (bi == 256)
        return DHT_SEEN_SELF;
    dht_bucket *b = &t->b[bi];
    int i = b->live ? find(b->live, b->n_live, id) : -1;
    if (i >= 0) { /* move to the tail: most recently seen */
        dht_contact c = b->live[i];
        drop_at(b->live, &b->n_live, (unsigned)i);
        c.last_seen = now;
        c.fails = 0;
        b->live[b->n_live++] = c;
        return DHT_SEEN_UPDATED;
    }
    if (!b->live) {
        b->live = zhtp_mem_alloc(t->mem, sizeof(dht_contact) * t->k);
        if (!b->live)
            return ZHTP_ERR_NOMEM;
    }
    dht_contact c;
    memcpy(c.id, id, ZHTP_DHT_ID_LEN);
    c.last_seen = now;
    c.fails = 0;
    if (b->n_live < t->k) {
        b->live[b->n_live++] = c;
        t->size++;
        i = b->repl ? find(b->repl, b->n_repl, id) : -1;
        if (i >= 0)
            drop_at(b->repl, &b->n_repl, (unsigned)i);
        return DHT_SEEN_ADDED;
    }
    if (!b->repl) {
        b->repl = zhtp_mem_alloc(t->mem, sizeof(dht_contact) * t->k);
        if (!b->repl)
            return ZHTP_ERR_NOMEM;
    }
    i = find(b->repl, b->n_repl, id);
    if (i >= 0)
        drop_at(b->repl, &b->n_repl, (unsigned)i);
    else if (b->n_repl == t->k)
        drop_at(b->repl, &b->n_repl, 0); /* the oldest replacement goes */
    b->repl[b->n_repl++] = c;
    return DHT_SEEN_CACHED;
}

void dht_table_remove(dht_table *t, const uint8_t id[ZHTP_DHT_ID_LEN])
{
    unsigned bi = dht_bucket_index(t->self, id);
    if (bi == 256)
        return;
    dht_bucket *b = &t->b[bi];
    int i = b->repl ? find(b->repl, b->n_repl, id) : -1;
    if (i >= 0)
        drop_at(b->repl, &b->n_repl, (unsigned)i);
    i = b->live ? find(b->live, b->n_live, id) : -1;
    if (i < 0)
        return;
    drop_at(b->live, &b->n_live, (unsigned)i);
    t->size--;
    if (b->n_repl > 0) { /* the newest replacement is the likeliest alive */
        b->live[b->n_live++] = b->repl[--b->n_repl];
        t->size++;
    }
}

bool dht_table_fail(dht_table *t, const uint8_t id[ZHTP_DHT_ID_LEN])
{
    unsigned bi = dht_bucket_index(t->self, id);
    if (bi == 256)
        return false;
    dht_bucket *b = &t->b[bi];
    int i = b->live ? find(b->live, b->n_live, id) : -1;
    if (i < 0)
        return false;
    uint32_t f = ++b->live[i].fails;
    if (f >= DHT_FAIL_HARD || (f >= DHT_FAIL_SOFT && b->n_repl > 0)) {
        dht_table_remove(t, id);
        return true;
    }
    return false;
}

bool dht_table_contains(const dht_table *t, const uint8_t id[ZHTP_DHT_ID_LEN])
{
    unsigned bi = dht_bucket_index(t->self, id);
    if (bi == 256)
        return false;
    const dht_bucket *b = &t->b[bi];
    return b->live && find(b->live, b->n_live, id) >= 0;
}

/* Appends the contacts of buckets [lo, hi] to out[n..max), sorted by distance among
 * themselves, keeping only the closest when they do not all fit. */
static size_t add_group(const dht_table *t, const uint8_t *target, unsigned lo, unsigned hi,
                        uint8_t (*out)[ZHTP_DHT_ID_LEN], size_t n, size_t max,
                        const uint8_t *exclude)
{
    size_t start = n;
    for (unsigned bi = lo; bi <= hi && bi < 256; bi++) {
        const dht_bucket *b = &t->b[bi];
        for (unsigned j = 0; j < b->n_live; j++) {
            const uint8_t *id = b->live[j].id;
            if (exclude && memcmp(id, exclude, ZHTP_DHT_ID_LEN) == 0)
                continue;
            /* insertion into out[start..n), sorted; drop the farthest past max */
            size_t pos = n;
            while (pos > start && dht_cmp_dist(target, id, out[pos - 1]) < 0)
                pos--;
            if (pos >= max)
                continue;
            size_t end = n < max ? n : max - 1;
            memmove(out + pos + 1, out + pos, (end - pos) * ZHTP_DHT_ID_LEN);
            memcpy(out[pos], id, ZHTP_DHT_ID_LEN);
            if (n < max)
                n++;
        }
    }
    return n;
}

size_t dht_table_closest(const dht_table *t, const uint8_t target[ZHTP_DHT_ID_LEN],
                         uint8_t (*out)[ZHTP_DHT_ID_LEN], size_t max, const uint8_t *exclude)
{
    /* With bt the bucket of target: contacts of bucket bt are closest, then those of all
     * buckets above bt (they share bt bits with target), then bt-1, bt-2, ... each farther. */
    unsigned bt = dht_bucket_index(t->self, target);
    size_t n = 0;
    if (max == 0)
        return 0;
    if (bt < 256)
        n = add_group(t, target, bt, bt, out, n, max, exclude);
    if (n < max && bt < 255)
        n = add_group(t, target, bt + 1, 255, out, n, max, exclude);
    for (int bi = (int)bt - 1; bi >= 0 && n < max; bi--)
        n = add_group(t, target, (unsigned)bi, (unsigned)bi, out, n, max, exclude);
    return n;
}
