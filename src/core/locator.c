/* core/locator: bounded id -> coordinates cache (contract: locator.h). A linear array: the
 * node holds a few hundred entries at most, and a scan of 64-bit keys is cheaper than the
 * AEAD of the packet that needs it. */
#include <string.h>

#include "locator.h"

typedef struct loc_entry {
    uint64_t key; /* first 8 id bytes: a quick reject before memcmp */
    uint8_t id[LOC_ID_LEN];
    zhtp_time updated;
    bool direct, stale;
    uint8_t depth;
    uint16_t ports[LOC_MAX_DEPTH];
} loc_entry;

struct loc_cache {
    const zhtp_mem *mem;
    loc_entry *e;
    size_t n, cap, max;
};

static uint64_t key_of(const uint8_t *id)
{
    uint64_t k;
    memcpy(&k, id, sizeof k);
    return k;
}

int loc_cache_new(loc_cache **out, const zhtp_mem *mem, size_t cap)
{
    loc_cache *c = zhtp_mem_alloc(mem, sizeof *c);
    if (!c)
        return ZHTP_ERR_NOMEM;
    memset(c, 0, sizeof *c);
    c->mem = mem;
    c->max = cap ? cap : 1;
    *out = c;
    return ZHTP_OK;
}

void loc_cache_free(loc_cache *c)
{
    if (!c)
        return;
    zhtp_mem_free(c->mem, c->e, c->cap * sizeof *c->e);
    zhtp_mem_free(c->mem, c, sizeof *c);
}

static loc_entry *find(const loc_cache *c, const uint8_t *id)
{
    uint64_t k = key_of(id);
    for (size_t i = 0; i < c->n; i++)
        if (c->e[i].key == k && memcmp(c->e[i].id, id, LOC_ID_LEN) == 0)
            return &c->e[i];
    return NULL;
}

static bool fresh(const loc_entry *e, zhtp_time now)
{
    return now < e->updated || now - e->updated < LOC_TTL_NS;
}

static loc_entry *slot_for(loc_cache *c)
{
    if (c->n < c->cap)
        return &c->e[c->n++];
    if (c->cap < c->max) {
        size_t nc = c->cap ? c->cap * 2 : 16;
        if (nc > c->max)
            nc = c->max;
        loc_entry *ne = zhtp_mem_alloc(c->mem, nc * sizeof *ne);
        if (ne) {
            if (c->n)
                memcpy(ne, c->e, c->n * sizeof *ne);
            zhtp_mem_free(c->mem, c->e, c->cap * sizeof *c->e);
            c->e = ne;
            c->cap = nc;
            return &c->e[c->n++];
        }
        if (!c->n)
            return NULL;
    }
    /* Full: the least recently updated entry goes. */
    size_t old = 0;
    for (size_t i = 1; i < c->n; i++)
        if (c->e[i].updated < c->e[old].updated)
            old = i;
    return &c->e[old];
}

bool loc_cache_put(loc_cache *c, const uint8_t id[LOC_ID_LEN], const uint16_t *ports, size_t depth,
                   bool direct, zhtp_time now)
{
    if (depth > LOC_MAX_DEPTH)
        return false;
    loc_entry *e = find(c, id);
    if (e && !direct && e->direct && !e->stale && fresh(e, now) &&
        now - e->updated < LOC_DIRECT_HOLD_NS)
        return false; /* a second-hand hint does not override what the node itself said */
    if (!e) {
        e = slot_for(c);
        if (!e)
            return false;
    }
    e->key = key_of(id);
    memcpy(e->id, id, LOC_ID_LEN);
    e->updated = now;
    e->direct = direct;
    e->stale = false;
    e->depth = (uint8_t)depth;
    if (depth)
        memcpy(e->ports, ports, depth * sizeof *ports);
    return true;
}

bool loc_cache_get(const loc_cache *c, const uint8_t id[LOC_ID_LEN], uint16_t *ports, size_t cap,
                   size_t *depth, bool *stale, zhtp_time now)
{
    const loc_entry *e = find(c, id);
    if (!e || !fresh(e, now) || e->depth > cap)
        return false;
    *stale = e->stale;
    if (e->depth)
        memcpy(ports, e->ports, e->depth * sizeof *ports);
    *depth = e->depth;
    return true;
}

void loc_cache_mark_stale(loc_cache *c, const uint8_t id[LOC_ID_LEN])
{
    loc_entry *e = find(c, id);
    if (e)
        e->stale = true;
}

bool loc_prefix_eq(const uint8_t *a, const uint8_t *b, size_t bits)
{
    size_t whole = bits / 8;
    if (whole && memcmp(a, b, whole) != 0)
        return false;
    unsigned rest = (unsigned)(bits % 8);
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xFFu << (8 - rest));
    return ((a[whole] ^ b[whole]) & mask) == 0;
}

bool loc_cache_find_prefix(const loc_cache *c, const uint8_t *prefix, size_t bits,
                           uint8_t id[LOC_ID_LEN], zhtp_time now)
{
    for (size_t i = 0; i < c->n; i++)
        if (fresh(&c->e[i], now) && loc_prefix_eq(c->e[i].id, prefix, bits)) {
            memcpy(id, c->e[i].id, LOC_ID_LEN);
            return true;
        }
    return false;
}

size_t loc_cache_count(const loc_cache *c)
{
    return c->n;
}
