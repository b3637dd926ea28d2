/* zhtp-sim engine: see sim.h. */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

#include "zhtp/dht.h"
#include "zhtp/identity.h"
#include "zhtp/routing.h"
#include "zhtp/wire.h"

enum { EV_WAKE = 1, EV_DELIVER, EV_CUT, EV_KILL, EV_SEND };

#define QUEUE_NS (2 * ZHTP_NS_PER_SEC)

typedef struct ev {
    zhtp_time t;
    uint64_t seq;
    uint8_t kind;
    uint32_t node, edge, from, len;
    uint8_t *data;
} ev;

typedef struct cmem {
    zhtp_mem mem;
    size_t bytes, peak;
    uint64_t fail_in; /* 0: never; 1: the next allocation fails */
} cmem;

/* In-memory DHT store of one simulated node (cfg.dht): a small array, scanned. The bytes live
 * outside the node's counted allocator, like a disk would. */
typedef struct sstore_entry {
    uint8_t kind;
    uint8_t key[ZHTP_DHT_ID_LEN];
    uint8_t *val;
    size_t len;
    uint64_t expiry;
} sstore_entry;

typedef struct sstore {
    sstore_entry *e;
    size_t n, cap;
} sstore;

typedef struct snode {
    zsim *s;
    sstore store;
    uint32_t idx;
    zhtp_node *node;
    zhtp_identity *ident;
    cmem mem;
    uint64_t rng[4];
    zhtp_time armed;
    bool alive;
    uint64_t wakeups;
    uint64_t changes;
    uint32_t *adj;
    uint32_t n_adj, cap_adj;
} snode;

typedef struct edge {
    uint32_t a, b;
    zhtp_route_medium_kind kind;
    zhtp_time latency;
    uint64_t bw;
    uint32_t mtu;
    bool up;
    zhtp_time busy[2];
    uint64_t frames;
} edge;

typedef struct msg {
    uint32_t src, dst, size;
    zhtp_time t_send;
    bool reliable, sent, delivered, acked, failed, excluded;
    uint32_t hops, shortest;
    uint64_t msg_id;
} msg;

typedef struct idx_entry {
    uint64_t key;
    uint32_t idx;
} idx_entry;

struct zsim {
    zsim_config cfg;
    snode *nodes;
    uint32_t n;
    edge *edges;
    uint32_t n_edges, cap_edges;
    ev *heap;
    size_t heap_len, heap_cap;
    uint64_t seq;
    zhtp_time now;
    uint64_t rng[4];
    msg *msgs;
    uint32_t n_msgs, cap_msgs;
    idx_entry *ids; /* node id prefix -> index, sorted */
    uint32_t *mtab; /* open addressing: (src, msg_id) -> message index + 1 */
    size_t mtab_cap;
    uint64_t events, wakeups, busy_wakeups, bytes_on_wire, frames_on_wire, frames_lost;
    uint64_t frames_queue_dropped;
    uint64_t digest;
    zhtp_time disrupt_at, last_change;
    zhtp_time last_send;
    uint32_t unresolved;
    uint8_t buf[ZHTP_WIRE_MAX_MTU + 1];
    uint32_t *bfs_q, *bfs_d;
    zsim_frame_hook hook;
    void *hook_ud;
};

/* ---- RNG: xoshiro256** seeded by splitmix64 ------------------------------------------------ */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void rng_seed(uint64_t st[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        st[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

static uint32_t rng_below(uint64_t s[4], uint32_t n)
{
    return (uint32_t)(((rng_next(s) >> 32) * (uint64_t)n) >> 32);
}

static void node_rng(void *ud, uint8_t *out, size_t len)
{
    snode *sn = ud;
    while (len) {
        uint64_t v = rng_next(sn->rng);
        size_t k = len < 8 ? len : 8;
        memcpy(out, &v, k);
        out += k;
        len -= k;
    }
}

/* ---- counting allocator -------------------------------------------------------------------- */

static void *cmem_alloc(void *ud, size_t size)
{
    cmem *m = ud;
    if (m->fail_in && --m->fail_in == 0)
        return NULL;
    void *p = malloc(size);
    if (!p)
        return NULL;
    m->bytes += size;
    if (m->bytes > m->peak)
        m->peak = m->bytes;
    return p;
}

static void cmem_free(void *ud, void *p, size_t size)
{
    cmem *m = ud;
    if (!p)
        return;
    m->bytes -= size;
    free(p);
}

/* ---- id index and coordinate oracle -------------------------------------------------------- */

static uint64_t id_key(const uint8_t *id)
{
    uint64_t k;
    memcpy(&k, id, 8);
    return k;
}

static int cmp_idx(const void *a, const void *b)
{
    const idx_entry *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

static int64_t index_of(const zsim *s, const uint8_t *id)
{
    uint64_t k = id_key(id);
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->ids[mid].key < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n && s->ids[lo].key == k) {
        uint32_t i = s->ids[lo].idx;
        if (memcmp(zhtp_node_id(s->nodes[i].node), id, ZHTP_NODE_ID_LEN) == 0)
            return i;
    }
    return -1;
}

/* ---- the in-memory DHT store (cfg.dht) ------------------------------------------------------ */

static sstore_entry *sstore_find(sstore *st, uint8_t kind, const uint8_t *key)
{
    for (size_t i = 0; i < st->n; i++)
        if (st->e[i].kind == kind && memcmp(st->e[i].key, key, ZHTP_DHT_ID_LEN) == 0)
            return &st->e[i];
    return NULL;
}

static int sstore_put(void *ud, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN],
                      const uint8_t *val, size_t len, uint64_t expiry)
{
    sstore *st = ud;
    sstore_entry *e = sstore_find(st, kind, key);
    uint8_t *v = malloc(len ? len : 1);
    if (!v)
        return ZHTP_ERR_NOMEM;
    memcpy(v, val, len);
    if (!e) {
        if (st->n == st->cap) {
            size_t nc = st->cap ? st->cap * 2 : 8;
            sstore_entry *ne = realloc(st->e, nc * sizeof *ne);
            if (!ne) {
                free(v);
                return ZHTP_ERR_NOMEM;
            }
            st->e = ne;
            st->cap = nc;
        }
        e = &st->e[st->n++];
        e->kind = kind;
        memcpy(e->key, key, ZHTP_DHT_ID_LEN);
    } else {
        free(e->val);
    }
    e->val = v;
    e->len = len;
    e->expiry = expiry;
    return ZHTP_OK;
}

static int sstore_get(void *ud, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN],
                      const uint8_t **val, size_t *len, uint64_t *expiry)
{
    sstore_entry *e = sstore_find(ud, kind, key);
    if (!e)
        return ZHTP_ERR_NOTFOUND;
    *val = e->val;
    *len = e->len;
    *expiry = e->expiry;
    return ZHTP_OK;
}

static int sstore_del(void *ud, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN])
{
    sstore *st = ud;
    sstore_entry *e = sstore_find(st, kind, key);
    if (!e)
        return ZHTP_ERR_NOTFOUND;
    free(e->val);
    *e = st->e[--st->n];
    return ZHTP_OK;
}

static int sstore_each(void *ud,
                       int (*fn)(void *ctx, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN],
                                 const uint8_t *val, size_t len, uint64_t expiry),
                       void *ctx)
{
    sstore *st = ud;
    for (size_t i = 0; i < st->n; i++)
        if (fn(ctx, st->e[i].kind, st->e[i].key, st->e[i].val, st->e[i].len, st->e[i].expiry))
            break;
    return ZHTP_OK;
}

static void sstore_clear(sstore *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->e[i].val);
    free(st->e);
    memset(st, 0, sizeof *st);
}

/* The oracle the DHT will replace: the destination's current coordinates, read directly. */
static int oracle_lookup(void *ud, const uint8_t id[ZHTP_NODE_ID_LEN], uint16_t *ports, size_t cap,
                         size_t *depth)
{
    snode *sn = ud;
    int64_t i = index_of(sn->s, id);
    if (i < 0 || !sn->s->nodes[i].alive)
        return ZHTP_ERR_NOTFOUND;
    size_t d;
    const uint16_t *c = zhtp_router_coords(zhtp_node_router(sn->s->nodes[i].node), &d);
    if (d > cap)
        return ZHTP_ERR_NOBUF;
    if (d)
        memcpy(ports, c, d * sizeof *ports);
    *depth = d;
    return ZHTP_OK;
}

/* ---- event heap ---------------------------------------------------------------------------- */

static bool ev_less(const ev *a, const ev *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void push(zsim *s, ev e)
{
    if (s->heap_len == s->heap_cap) {
        s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 1024;
        s->heap = realloc(s->heap, s->heap_cap * sizeof *s->heap);
        if (!s->heap)
            abort(); /* the simulator's own memory: nothing sensible to do */
    }
    e.seq = s->seq++;
    size_t i = s->heap_len++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ev_less(&e, &s->heap[p]))
            break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = e;
}

static ev pop(zsim *s)
{
    ev top = s->heap[0];
    ev last = s->heap[--s->heap_len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_len)
            break;
        if (c + 1 < s->heap_len && ev_less(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!ev_less(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->heap_len)
        s->heap[i] = last;
    return top;
}

/* ---- message table ------------------------------------------------------------------------- */

static size_t mtab_slot(const zsim *s, uint32_t src, uint64_t id)
{
    uint64_t h = (id ^ ((uint64_t)src * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
    return (size_t)(h >> 20) & (s->mtab_cap - 1);
}

static void mtab_put(zsim *s, uint32_t mi)
{
    size_t i = mtab_slot(s, s->msgs[mi].src, s->msgs[mi].msg_id);
    while (s->mtab[i])
        i = (i + 1) & (s->mtab_cap - 1);
    s->mtab[i] = mi + 1;
}

static msg *mtab_get(zsim *s, uint32_t src, uint64_t id)
{
    for (size_t i = mtab_slot(s, src, id); s->mtab[i]; i = (i + 1) & (s->mtab_cap - 1)) {
        msg *m = &s->msgs[s->mtab[i] - 1];
        if (m->src == src && m->msg_id == id && m->sent)
            return m;
    }
    return NULL;
}

/* ---- graph --------------------------------------------------------------------------------- */

static int add_adj(snode *sn, uint32_t e)
{
    if (sn->n_adj == sn->cap_adj) {
        sn->cap_adj = sn->cap_adj ? sn->cap_adj * 2 : 4;
        uint32_t *p = realloc(sn->adj, sn->cap_adj * sizeof *p);
        if (!p)
            return ZHTP_ERR_NOMEM;
        sn->adj = p;
    }
    sn->adj[sn->n_adj++] = e;
    return ZHTP_OK;
}

static bool has_edge(const zsim *s, uint32_t a, uint32_t b)
{
    const snode *sn = &s->nodes[a];
    for (uint32_t i = 0; i < sn->n_adj; i++) {
        const edge *e = &s->edges[sn->adj[i]];
        if ((e->a == a && e->b == b) || (e->a == b && e->b == a))
            return true;
    }
    return false;
}

static zhtp_route_medium_kind pick_media(zsim *s)
{
    if (s->cfg.media != ZSIM_MEDIA_MIXED)
        return (zhtp_route_medium_kind)s->cfg.media;
    uint32_t r = rng_below(s->rng, 100);
    if (r < 35)
        return ZHTP_MEDIUM_WIFI_DIRECT;
    if (r < 65)
        return ZHTP_MEDIUM_BLE;
    if (r < 85)
        return ZHTP_MEDIUM_UDP;
    if (r < 95)
        return ZHTP_MEDIUM_LORA;
    return ZHTP_MEDIUM_SATELLITE;
}

static int add_edge(zsim *s, uint32_t a, uint32_t b)
{
    if (s->n_edges == s->cap_edges) {
        s->cap_edges = s->cap_edges ? s->cap_edges * 2 : 64;
        edge *p = realloc(s->edges, s->cap_edges * sizeof *p);
        if (!p)
            return ZHTP_ERR_NOMEM;
        s->edges = p;
    }
    edge *e = &s->edges[s->n_edges];
    memset(e, 0, sizeof *e);
    e->a = a;
    e->b = b;
    e->kind = pick_media(s);
    const zhtp_route_medium *m = zhtp_route_medium_preset(e->kind);
    e->latency = (zhtp_time)m->latency_us * 1000u;
    e->bw = m->bandwidth_bps;
    e->mtu = m->mtu;
    e->up = true;
    if (add_adj(&s->nodes[a], s->n_edges) || add_adj(&s->nodes[b], s->n_edges))
        return ZHTP_ERR_NOMEM;
    s->n_edges++;
    return ZHTP_OK;
}

static int build_topology(zsim *s)
{
    const zsim_config *c = &s->cfg;
    int rc = ZHTP_OK;
    switch (c->topology) {
    case ZSIM_LINE:
        for (uint32_t i = 0; rc == ZHTP_OK && i + 1 < s->n; i++)
            rc = add_edge(s, i, i + 1);
        break;
    case ZSIM_GRID:
        for (uint32_t y = 0; rc == ZHTP_OK && y < c->h; y++)
            for (uint32_t x = 0; rc == ZHTP_OK && x < c->w; x++) {
                uint32_t v = y * c->w + x;
                if (x + 1 < c->w)
                    rc = add_edge(s, v, v + 1);
                if (rc == ZHTP_OK && y + 1 < c->h)
                    rc = add_edge(s, v, v + c->w);
            }
        break;
    case ZSIM_RANDOM: {
        /* A random spanning tree keeps it connected; random extra edges bring the mean degree
         * up to the request. */
        for (uint32_t i = 1; rc == ZHTP_OK && i < s->n; i++)
            rc = add_edge(s, i, rng_below(s->rng, i));
        uint64_t target = (uint64_t)s->n * c->degree / 2, tries = 0;
        while (rc == ZHTP_OK && s->n_edges < target && tries++ < target * 20) {
            uint32_t a = rng_below(s->rng, s->n), b = rng_below(s->rng, s->n);
            if (a != b && !has_edge(s, a, b))
                rc = add_edge(s, a, b);
        }
        break;
    }
    }
    return rc;
}

/* Hop distances from src over up edges among alive nodes into s->bfs_d (UINT32_MAX: none). */
static void bfs(zsim *s, uint32_t src)
{
    for (uint32_t i = 0; i < s->n; i++)
        s->bfs_d[i] = UINT32_MAX;
    size_t head = 0, tail = 0;
    s->bfs_d[src] = 0;
    s->bfs_q[tail++] = src;
    while (head < tail) {
        uint32_t v = s->bfs_q[head++];
        for (uint32_t k = 0; k < s->nodes[v].n_adj; k++) {
            const edge *e = &s->edges[s->nodes[v].adj[k]];
            uint32_t w = e->a == v ? e->b : e->a;
            if (!e->up || !s->nodes[w].alive || s->bfs_d[w] != UINT32_MAX)
                continue;
            s->bfs_d[w] = s->bfs_d[v] + 1;
            s->bfs_q[tail++] = w;
        }
    }
}

/* ---- driving nodes ------------------------------------------------------------------------- */

static void digest_mix(zsim *s, uint64_t v)
{
    s->digest = (s->digest ^ v) * 0x100000001B3ull;
    s->digest ^= s->digest >> 29;
}

static void transmit(zsim *s, uint32_t from, uint32_t ei, const zhtp_addr *to, const uint8_t *d,
                     size_t len)
{
    edge *e = &s->edges[ei];
    uint32_t peer = e->a == from ? e->b : e->a;
    if (to->len == 4) {
        uint32_t want;
        memcpy(&want, to->bytes, 4);
        if (want != peer)
            return; /* nobody at that address */
    }
    if (s->hook)
        s->hook(s->hook_ud, from, peer, d, len);
    s->bytes_on_wire += len;
    s->frames_on_wire++;
    e->frames++;
    int dir = e->a == from ? 0 : 1;
    zhtp_time start = e->busy[dir] > s->now ? e->busy[dir] : s->now;
    zhtp_time tx = (zhtp_time)((double)len * 8e9 / (double)e->bw);
    /* A transmit queue holds at most QUEUE_NS of airtime (like a modem's or an interface's
     * buffer): beyond, the frame is dropped (tail drop) instead of waiting for ever. */
    if (start - s->now > QUEUE_NS) {
        s->frames_lost++;
        s->frames_queue_dropped++;
        return;
    }
    e->busy[dir] = start + tx;
    if (!e->up || (s->cfg.loss_ppm && rng_below(s->rng, 1000000) < s->cfg.loss_ppm)) {
        s->frames_lost++;
        return;
    }
    uint8_t *copy = malloc(len);
    if (!copy)
        abort();
    memcpy(copy, d, len);
    push(s, (ev){.t = start + tx + e->latency,
                 .kind = EV_DELIVER,
                 .node = peer,
                 .edge = ei,
                 .from = from,
                 .len = (uint32_t)len,
                 .data = copy});
}

static void on_node_event(zsim *s, snode *sn, const zhtp_node_event *nev)
{
    int64_t peer = index_of(s, nev->peer);
    if (peer < 0)
        return;
    if (nev->type == ZHTP_NODE_EV_DATA) {
        msg *m = mtab_get(s, (uint32_t)peer, nev->msg_id);
        if (m && m->dst == sn->idx && !m->delivered) {
            m->delivered = true;
            m->hops = nev->hops;
            if (!m->reliable && !m->excluded)
                s->unresolved--;
        }
    } else if (nev->type == ZHTP_NODE_EV_ACKED || nev->type == ZHTP_NODE_EV_FAILED) {
        msg *m = mtab_get(s, sn->idx, nev->msg_id);
        if (m && !m->acked && !m->failed) {
            if (nev->type == ZHTP_NODE_EV_ACKED)
                m->acked = true;
            else
                m->failed = true;
            if (!m->excluded)
                s->unresolved--;
        }
    }
}

/* After any call into a node: drain its datagrams and events, re-arm its timer. */
static void service(zsim *s, snode *sn)
{
    for (;;) {
        zhtp_link_id link;
        zhtp_addr to;
        zhtp_ssize len =
            zhtp_node_next_datagram(sn->node, &link, &to, s->buf, sizeof s->buf, s->now);
        if (len < 0)
            break;
        transmit(s, sn->idx, (uint32_t)link, &to, s->buf, (size_t)len);
    }
    zhtp_node_event nev;
    while (zhtp_node_next_event(sn->node, &nev) == ZHTP_OK)
        on_node_event(s, sn, &nev);
    uint64_t ch = zhtp_router_changes(zhtp_node_router(sn->node));
    if (ch != sn->changes) {
        sn->changes = ch;
        if (s->disrupt_at && s->now >= s->disrupt_at)
            s->last_change = s->now;
    }
    zhtp_time d = zhtp_node_next_deadline(sn->node);
    if (d == ZHTP_TIME_NEVER || d == sn->armed)
        return;
    if (d <= s->now) {
        if (sn->armed == s->now)
            return; /* a wake for now is already queued */
        d = s->now;
    }
    sn->armed = d;
    push(s, (ev){.t = d, .kind = EV_WAKE, .node = sn->idx});
}

static void kill_node(zsim *s, uint32_t v)
{
    snode *sn = &s->nodes[v];
    sn->alive = false;
    for (uint32_t k = 0; k < sn->n_adj; k++)
        s->edges[sn->adj[k]].up = false;
    /* Messages in flight from or to the dead node can never be resolved: leave them out. */
    for (uint32_t i = 0; i < s->n_msgs; i++) {
        msg *m = &s->msgs[i];
        bool resolved = m->excluded || m->failed || (m->reliable ? m->acked : m->delivered);
        if (m->sent && !resolved && (m->src == v || m->dst == v)) {
            m->excluded = true;
            s->unresolved--;
        }
    }
}

/* The tree root is the alive node with the smallest id; cut one of its links whose loss keeps
 * the network connected (when there is one), so traffic has to go around. */
static uint32_t choose_cut(zsim *s)
{
    uint32_t root = UINT32_MAX;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->nodes[i].alive &&
            (root == UINT32_MAX || memcmp(zhtp_node_id(s->nodes[i].node),
                                          zhtp_node_id(s->nodes[root].node), ZHTP_NODE_ID_LEN) < 0))
            root = i;
    snode *r = &s->nodes[root];
    uint32_t first = UINT32_MAX;
    for (uint32_t k = 0; k < r->n_adj; k++) {
        edge *e = &s->edges[r->adj[k]];
        if (!e->up)
            continue;
        if (first == UINT32_MAX)
            first = r->adj[k];
        e->up = false;
        bfs(s, e->a);
        bool connected = s->bfs_d[e->b] != UINT32_MAX;
        e->up = true;
        if (connected)
            return r->adj[k];
    }
    return first;
}

static void do_send(zsim *s, uint32_t mi)
{
    msg *m = &s->msgs[mi];
    snode *src = &s->nodes[m->src];
    bfs(s, m->src);
    m->shortest = s->bfs_d[m->dst];
    if (!src->alive || !s->nodes[m->dst].alive || m->shortest == UINT32_MAX) {
        m->excluded = true;
        s->unresolved--;
        return;
    }
    uint8_t body[ZHTP_NODE_MAX_MESSAGE];
    for (uint32_t i = 0; i < m->size; i++)
        body[i] = (uint8_t)(mi + i);
    int rc = zhtp_node_send(src->node, zhtp_node_id(s->nodes[m->dst].node), body, m->size,
                            m->reliable ? ZHTP_NODE_SEND_RELIABLE : 0, s->now, &m->msg_id);
    m->sent = true;
    mtab_put(s, mi);
    if (rc != ZHTP_OK && !m->reliable) {
        m->failed = true; /* no route at the source */
        s->unresolved--;
    }
    service(s, src);
}

static void step(zsim *s)
{
    ev e = pop(s);
    s->now = e.t;
    s->events++;
    digest_mix(s, e.t);
    digest_mix(s, ((uint64_t)e.kind << 32) | e.node);
    switch (e.kind) {
    case EV_WAKE: {
        snode *sn = &s->nodes[e.node];
        if (!sn->alive || sn->armed != e.t)
            break; /* stale */
        sn->armed = ZHTP_TIME_NEVER;
        sn->wakeups++;
        s->wakeups++;
        (void)zhtp_node_tick(sn->node, s->now);
        service(s, sn);
        /* A deadline that stays in the past after a tick is a busy loop: count it and back
         * off instead of spinning. */
        if (sn->armed == s->now) {
            s->busy_wakeups++;
            sn->armed = s->now + ZHTP_NS_PER_MS;
            push(s, (ev){.t = sn->armed, .kind = EV_WAKE, .node = sn->idx});
        }
        break;
    }
    case EV_DELIVER: {
        snode *sn = &s->nodes[e.node];
        uint64_t h = e.len;
        for (uint32_t i = 0; i < e.len; i++)
            h = h * 31 + e.data[i];
        digest_mix(s, h);
        if (sn->alive && s->edges[e.edge].up) {
            zhtp_addr from = {.len = 4};
            memcpy(from.bytes, &e.from, 4);
            (void)zhtp_node_recv(sn->node, e.edge, &from, e.data, e.len, s->now);
            service(s, sn);
        } else {
            s->frames_lost++;
        }
        free(e.data);
        break;
    }
    case EV_CUT: {
        uint32_t ei = e.edge == UINT32_MAX ? choose_cut(s) : e.edge;
        if (ei != UINT32_MAX)
            s->edges[ei].up = false;
        s->disrupt_at = s->now;
        s->last_change = s->now;
        break;
    }
    case EV_KILL:
        kill_node(s, e.node);
        s->disrupt_at = s->now;
        s->last_change = s->now;
        break;
    case EV_SEND:
        do_send(s, e.node);
        break;
    }
}

static bool finished(const zsim *s)
{
    if (s->now < s->last_send || s->unresolved)
        return false;
    if (s->disrupt_at == 0 && (s->cfg.cut_at || s->cfg.kill_at))
        return false;
    /* Leave time after a disruption to see the routers settle. */
    return !s->disrupt_at || s->now >= s->disrupt_at + 30 * ZHTP_NS_PER_SEC;
}

void zsim_run_until(zsim *s, zhtp_time t)
{
    zhtp_time next_progress = s->now + 10 * ZHTP_NS_PER_SEC;
    while (s->heap_len && s->heap[0].t <= t) {
        step(s);
        if (s->cfg.progress && s->now >= next_progress) {
            fprintf(stderr, "zhtp-sim: t=%.0f s, %llu events\n", (double)s->now / 1e9,
                    (unsigned long long)s->events);
            next_progress = s->now + 10 * ZHTP_NS_PER_SEC;
        }
    }
    if (s->now < t)
        s->now = t;
}

void zsim_run(zsim *s)
{
    zhtp_time next_progress = s->now + 10 * ZHTP_NS_PER_SEC;
    while (s->heap_len && s->heap[0].t <= s->cfg.max_time && !finished(s)) {
        step(s);
        if (s->cfg.progress && s->now >= next_progress) {
            fprintf(stderr, "zhtp-sim: t=%.0f s, %llu events, %u unresolved\n",
                    (double)s->now / 1e9, (unsigned long long)s->events, s->unresolved);
            next_progress = s->now + 10 * ZHTP_NS_PER_SEC;
        }
    }
}

/* ---- construction -------------------------------------------------------------------------- */

uint32_t zsim_send_at(zsim *s, uint32_t a, uint32_t b, zhtp_time t, uint32_t size, bool reliable)
{
    if (s->n_msgs == s->cap_msgs) {
        s->cap_msgs = s->cap_msgs ? s->cap_msgs * 2 : 64;
        s->msgs = realloc(s->msgs, s->cap_msgs * sizeof *s->msgs);
        if (!s->msgs)
            abort();
    }
    if ((size_t)(s->n_msgs + 1) * 2 > s->mtab_cap) {
        size_t cap = s->mtab_cap ? s->mtab_cap * 2 : 1024;
        free(s->mtab);
        s->mtab = calloc(cap, sizeof *s->mtab);
        if (!s->mtab)
            abort();
        s->mtab_cap = cap;
        for (uint32_t i = 0; i < s->n_msgs; i++)
            if (s->msgs[i].sent)
                mtab_put(s, i);
    }
    uint32_t mi = s->n_msgs++;
    msg *m = &s->msgs[mi];
    memset(m, 0, sizeof *m);
    m->src = a;
    m->dst = b;
    m->size = size > ZHTP_NODE_MAX_MESSAGE ? ZHTP_NODE_MAX_MESSAGE : size;
    m->t_send = t;
    m->reliable = reliable;
    s->unresolved++;
    if (t > s->last_send)
        s->last_send = t;
    push(s, (ev){.t = t, .kind = EV_SEND, .node = mi});
    return mi;
}

int zsim_new(zsim **out, const zsim_config *cfg)
{
    *out = NULL;
    zsim_config c = *cfg;
    uint32_t n = c.topology == ZSIM_GRID ? c.w * c.h : c.n;
    if (n < 2 || n > 4000000 || (c.topology == ZSIM_RANDOM && c.degree < 1) ||
        (c.media != ZSIM_MEDIA_MIXED && (c.media < 0 || c.media >= ZHTP_MEDIUM_COUNT_)))
        return ZHTP_ERR_INVAL;
    if (!c.msg_size)
        c.msg_size = 64;
    if (!c.warmup)
        c.warmup = 15 * ZHTP_NS_PER_SEC;
    if (!c.spread)
        c.spread = 10 * ZHTP_NS_PER_SEC;
    if (!c.max_time)
        c.max_time = c.warmup + c.spread + 300 * ZHTP_NS_PER_SEC;
    zsim *s = calloc(1, sizeof *s);
    if (!s)
        return ZHTP_ERR_NOMEM;
    s->cfg = c;
    s->n = n;
    rng_seed(s->rng, c.seed);
    s->nodes = calloc(n, sizeof *s->nodes);
    s->ids = calloc(n, sizeof *s->ids);
    s->bfs_q = calloc(n, sizeof *s->bfs_q);
    s->bfs_d = calloc(n, sizeof *s->bfs_d);
    if (!s->nodes || !s->ids || !s->bfs_q || !s->bfs_d)
        goto nomem;
    for (uint32_t i = 0; i < n; i++) {
        snode *sn = &s->nodes[i];
        sn->s = s;
        sn->idx = i;
        sn->alive = true;
        sn->armed = ZHTP_TIME_NEVER;
        rng_seed(sn->rng, c.seed ^ (0xA5A5A5A5ull + (uint64_t)i * 0x9E3779B97F4A7C15ull));
        sn->mem = (cmem){.mem = {cmem_alloc, cmem_free, &sn->mem}};
        uint8_t seed[ZHTP_IDENTITY_SEEDBYTES];
        node_rng(sn, seed, sizeof seed);
        int rc = zhtp_identity_from_seed(&sn->ident, seed);
        memset(seed, 0, sizeof seed);
        if (rc != ZHTP_OK)
            goto nomem;
        zhtp_node_config nc = {
            .mem = &sn->mem.mem,
            .rng = node_rng,
            .user_data = sn,
            .lookup = c.dht ? NULL : oracle_lookup,
            .insecure_plaintext = c.plaintext,
        };
        zhtp_dht_config dc = {
            .store = {sstore_put, sstore_get, sstore_del, sstore_each, &sn->store},
            .k = c.dht_k,
        };
        if (c.dht)
            nc.dht = &dc;
        if (zhtp_node_new(&sn->node, &nc, sn->ident, 0) != ZHTP_OK)
            goto nomem;
        s->ids[i].key = id_key(zhtp_node_id(sn->node));
        s->ids[i].idx = i;
    }
    qsort(s->ids, n, sizeof *s->ids, cmp_idx);
    if (build_topology(s) != ZHTP_OK)
        goto nomem;
    /* Links come up at time 0 in edge order. */
    for (uint32_t ei = 0; ei < s->n_edges; ei++) {
        edge *e = &s->edges[ei];
        const zhtp_route_medium *m = zhtp_route_medium_preset(e->kind);
        if (zhtp_node_link_add(s->nodes[e->a].node, ei, e->mtu, m, 0) != ZHTP_OK ||
            zhtp_node_link_add(s->nodes[e->b].node, ei, e->mtu, m, 0) != ZHTP_OK)
            goto nomem;
    }
    for (uint32_t i = 0; i < n; i++)
        service(s, &s->nodes[i]);
    for (uint32_t k = 0; k < c.messages; k++) {
        uint32_t a = rng_below(s->rng, n), b = rng_below(s->rng, n - 1);
        if (b >= a)
            b++;
        zhtp_time t = c.warmup + (zhtp_time)((double)c.spread * k / c.messages);
        zsim_send_at(s, a, b, t, c.msg_size, !c.unreliable);
    }
    if (c.cut_at)
        push(s, (ev){.t = c.cut_at, .kind = EV_CUT, .edge = UINT32_MAX});
    if (c.kill_at)
        push(s, (ev){.t = c.kill_at, .kind = EV_KILL, .node = rng_below(s->rng, n)});
    *out = s;
    return ZHTP_OK;
nomem:
    zsim_free(s);
    return ZHTP_ERR_NOMEM;
}

void zsim_free(zsim *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; s->nodes && i < s->n; i++) {
        zhtp_node_free(s->nodes[i].node);
        sstore_clear(&s->nodes[i].store);
        zhtp_identity_free(s->nodes[i].ident);
        free(s->nodes[i].adj);
    }
    for (size_t i = 0; i < s->heap_len; i++)
        free(s->heap[i].data);
    free(s->heap);
    free(s->nodes);
    free(s->ids);
    free(s->edges);
    free(s->msgs);
    free(s->mtab);
    free(s->bfs_q);
    free(s->bfs_d);
    free(s);
}

/* ---- results ------------------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void zsim_result_get(const zsim *s, zsim_result *r)
{
    memset(r, 0, sizeof *r);
    r->nodes = s->n;
    r->edges = s->n_edges;
    uint32_t *hops = calloc(s->n_msgs + 1, sizeof *hops);
    size_t nh = 0;
    double stretch = 0;
    for (uint32_t i = 0; i < s->n_msgs; i++) {
        const msg *m = &s->msgs[i];
        if (m->excluded) {
            r->messages_excluded++;
            continue;
        }
        if (!m->sent)
            continue;
        r->messages_sent++;
        r->messages_acked += m->acked;
        r->messages_failed += m->failed;
        if (m->delivered) {
            r->messages_delivered++;
            if (hops) {
                hops[nh++] = m->hops;
                stretch += (double)m->hops / (double)(m->shortest ? m->shortest : 1);
            }
        }
    }
    if (nh) {
        qsort(hops, nh, sizeof *hops, cmp_u32);
        r->hops_p50 = hops[(nh - 1) / 2];
        r->hops_p99 = hops[(nh * 99 + 99) / 100 - 1];
        r->stretch_mean = stretch / (double)nh;
    }
    free(hops);
    r->reroute_ms = s->disrupt_at ? (double)(s->last_change - s->disrupt_at) / 1e6 : -1;
    r->bytes_on_wire = s->bytes_on_wire;
    r->frames_on_wire = s->frames_on_wire;
    r->frames_lost = s->frames_lost;
    r->frames_queue_dropped = s->frames_queue_dropped;
    double sum = 0, end_sum = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        const snode *sn = &s->nodes[i];
        if (sn->mem.peak > r->peak_bytes_per_node)
            r->peak_bytes_per_node = sn->mem.peak;
        sum += (double)sn->mem.peak;
        end_sum += (double)sn->mem.bytes;
        zhtp_node_stats st;
        zhtp_node_get_stats(sn->node, &st);
        r->rx_bad += st.rx_bad;
        r->drop_no_route += st.drop_no_route;
        r->drop_hop_limit += st.drop_hop_limit;
        r->retransmits += st.retransmits;
        r->duplicates += st.duplicates;
        r->drop_route_bound += st.drop_route_bound;
        r->rx_compressed += st.rx_compressed;
        r->tx_superseded += st.tx_superseded;
        r->data_tx_compressed += st.data_tx_compressed;
        r->data_tx_compressed_overhead += st.data_tx_compressed_overhead;
        r->data_tx_full += st.data_tx_full;
        r->data_tx_full_overhead += st.data_tx_full_overhead;
    }
    r->mean_peak_bytes_per_node = sum / s->n;
    r->mean_bytes_per_node_end = end_sum / s->n;
    r->events = s->events;
    r->wakeups = s->wakeups;
    r->busy_wakeups = s->busy_wakeups;
    r->end_time = s->now;
    r->trace_digest = s->digest;
}

static const char *topo_name(zsim_topology t)
{
    return t == ZSIM_LINE ? "line" : t == ZSIM_GRID ? "grid" : "random";
}

void zsim_result_json(const zsim_result *r, const zsim_config *c, FILE *f)
{
    fprintf(f, "{\n");
    fprintf(f, "  \"topology\": \"%s\",\n  \"seed\": %llu,\n", topo_name(c->topology),
            (unsigned long long)c->seed);
    fprintf(f, "  \"media\": \"%s\",\n",
            c->media == ZSIM_MEDIA_MIXED
                ? "mixed"
                : zhtp_route_medium_preset((zhtp_route_medium_kind)c->media)->name);
    fprintf(f, "  \"loss\": %.6f,\n", c->loss_ppm / 1e6);
    fprintf(f, "  \"sessions\": %s,\n", c->plaintext ? "false" : "true");
    fprintf(f, "  \"nodes\": %u,\n  \"edges\": %u,\n", r->nodes, r->edges);
    fprintf(f, "  \"messages_sent\": %llu,\n", (unsigned long long)r->messages_sent);
    fprintf(f, "  \"messages_delivered\": %llu,\n", (unsigned long long)r->messages_delivered);
    fprintf(f, "  \"messages_acked\": %llu,\n", (unsigned long long)r->messages_acked);
    fprintf(f, "  \"messages_failed\": %llu,\n", (unsigned long long)r->messages_failed);
    fprintf(f, "  \"messages_excluded\": %llu,\n", (unsigned long long)r->messages_excluded);
    fprintf(f, "  \"hops_p50\": %u,\n  \"hops_p99\": %u,\n", r->hops_p50, r->hops_p99);
    fprintf(f, "  \"stretch_mean\": %.4f,\n", r->stretch_mean);
    if (r->reroute_ms >= 0)
        fprintf(f, "  \"reroute_ms\": %.3f,\n", r->reroute_ms);
    fprintf(f, "  \"bytes_on_wire\": %llu,\n", (unsigned long long)r->bytes_on_wire);
    fprintf(f, "  \"frames_on_wire\": %llu,\n", (unsigned long long)r->frames_on_wire);
    fprintf(f, "  \"frames_lost\": %llu,\n", (unsigned long long)r->frames_lost);
    fprintf(f, "  \"frames_queue_dropped\": %llu,\n", (unsigned long long)r->frames_queue_dropped);
    fprintf(f, "  \"peak_bytes_per_node\": %zu,\n", r->peak_bytes_per_node);
    fprintf(f, "  \"mean_peak_bytes_per_node\": %.1f,\n", r->mean_peak_bytes_per_node);
    fprintf(f, "  \"mean_bytes_per_node_end\": %.1f,\n", r->mean_bytes_per_node_end);
    fprintf(f, "  \"retransmits\": %llu,\n", (unsigned long long)r->retransmits);
    fprintf(f, "  \"duplicates\": %llu,\n", (unsigned long long)r->duplicates);
    fprintf(f, "  \"rx_bad\": %llu,\n", (unsigned long long)r->rx_bad);
    fprintf(f, "  \"drop_no_route\": %llu,\n", (unsigned long long)r->drop_no_route);
    fprintf(f, "  \"drop_hop_limit\": %llu,\n", (unsigned long long)r->drop_hop_limit);
    fprintf(f, "  \"drop_route_bound\": %llu,\n", (unsigned long long)r->drop_route_bound);
    fprintf(f, "  \"rx_compressed\": %llu,\n", (unsigned long long)r->rx_compressed);
    fprintf(f, "  \"tx_superseded\": %llu,\n", (unsigned long long)r->tx_superseded);
    /* Per header form: narrow links (LoRa, BLE) compress, the others send full headers. */
    fprintf(f, "  \"data_packets_compressed\": %llu,\n", (unsigned long long)r->data_tx_compressed);
    fprintf(f, "  \"bytes_per_data_packet_overhead_compressed\": %.2f,\n",
            r->data_tx_compressed
                ? (double)r->data_tx_compressed_overhead / (double)r->data_tx_compressed
                : 0.0);
    fprintf(f, "  \"data_packets_full\": %llu,\n", (unsigned long long)r->data_tx_full);
    fprintf(f, "  \"bytes_per_data_packet_overhead_full\": %.2f,\n",
            r->data_tx_full ? (double)r->data_tx_full_overhead / (double)r->data_tx_full : 0.0);
    fprintf(f, "  \"events\": %llu,\n", (unsigned long long)r->events);
    fprintf(f, "  \"wakeups\": %llu,\n", (unsigned long long)r->wakeups);
    fprintf(f, "  \"busy_wakeups\": %llu,\n", (unsigned long long)r->busy_wakeups);
    fprintf(f, "  \"trace_digest\": \"%016llx\",\n", (unsigned long long)r->trace_digest);
    fprintf(f, "  \"virtual_time_s\": %.3f\n", (double)r->end_time / 1e9);
    fprintf(f, "}\n");
}

/* ---- accessors ------------------------------------------------------------------------------ */

uint32_t zsim_node_count(const zsim *s)
{
    return s->n;
}

zhtp_node *zsim_node(zsim *s, uint32_t i)
{
    return s->nodes[i].node;
}

void zsim_fail_alloc(zsim *s, uint32_t i, uint64_t nth)
{
    s->nodes[i].mem.fail_in = nth;
}

size_t zsim_node_bytes(const zsim *s, uint32_t i)
{
    return s->nodes[i].mem.bytes;
}

uint32_t zsim_edge_find(const zsim *s, uint32_t a, uint32_t b)
{
    for (uint32_t k = 0; k < s->nodes[a].n_adj; k++) {
        const edge *e = &s->edges[s->nodes[a].adj[k]];
        if ((e->a == a && e->b == b) || (e->a == b && e->b == a))
            return s->nodes[a].adj[k];
    }
    return UINT32_MAX;
}

void zsim_cut_edge_at(zsim *s, uint32_t e, zhtp_time t)
{
    push(s, (ev){.t = t, .kind = EV_CUT, .edge = e});
}

bool zsim_message_delivered(const zsim *s, uint32_t i, uint32_t *hops)
{
    if (hops)
        *hops = s->msgs[i].hops;
    return s->msgs[i].delivered;
}

uint64_t zsim_edge_frames(const zsim *s, uint32_t e)
{
    return s->edges[e].frames;
}

uint64_t zsim_node_wakeups(const zsim *s, uint32_t i)
{
    return s->nodes[i].wakeups;
}

void zsim_set_frame_hook(zsim *s, zsim_frame_hook hook, void *ud)
{
    s->hook = hook;
    s->hook_ud = ud;
}

zhtp_time zsim_now(const zsim *s)
{
    return s->now;
}

void zsim_service(zsim *s, uint32_t i)
{
    if (i < s->n && s->nodes[i].alive)
        service(s, &s->nodes[i]);
}

void zsim_kill_at(zsim *s, uint32_t i, zhtp_time t)
{
    push(s, (ev){.t = t, .kind = EV_KILL, .node = i});
}

uint64_t zsim_trace_digest(const zsim *s)
{
    return s->digest;
}
