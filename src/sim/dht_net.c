/* Virtual network of DHT instances for tests, benchmarks and zhtp-sim --dht (see dht_net.h). */
#include "dht_net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dht_internal.h"

/* ---- rng --------------------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void dn_rng(void *ud, uint8_t *out, size_t len)
{
    uint64_t *s = ud;
    while (len) {
        uint64_t v = splitmix(s);
        size_t n = len < 8 ? len : 8;
        memcpy(out, &v, n);
        out += n;
        len -= n;
    }
}

/* ---- in-memory store --------------------------------------------------------------------- */

typedef struct dn_entry {
    uint8_t state; /* 0 empty, 1 used, 2 deleted */
    uint8_t kind;
    uint8_t key[32];
    uint8_t *val;
    size_t len;
    uint64_t expiry;
} dn_entry;

struct dn_store {
    dn_entry *e;
    size_t cap, used, tombs, bytes, quota;
};

dn_store *dn_store_new(size_t quota)
{
    dn_store *s = calloc(1, sizeof *s);
    s->cap = 16;
    s->e = calloc(s->cap, sizeof *s->e);
    s->quota = quota;
    return s;
}

void dn_store_free(dn_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        if (s->e[i].state == 1)
            free(s->e[i].val);
    free(s->e);
    free(s);
}

static size_t slot_of(const dn_store *s, uint8_t kind, const uint8_t *key)
{
    uint64_t h;
    memcpy(&h, key, 8);
    h ^= kind;
    return (size_t)(h & (s->cap - 1));
}

static dn_entry *st_find(dn_store *s, uint8_t kind, const uint8_t *key)
{
    for (size_t i = slot_of(s, kind, key), n = 0; n < s->cap; i = (i + 1) & (s->cap - 1), n++) {
        dn_entry *e = &s->e[i];
        if (e->state == 0)
            return NULL;
        if (e->state == 1 && e->kind == kind && memcmp(e->key, key, 32) == 0)
            return e;
    }
    return NULL;
}

static void st_grow(dn_store *s)
{
    dn_entry *old = s->e;
    size_t oc = s->cap;
    s->cap = (s->used + 1) * 4 > oc ? oc * 2 : oc;
    s->e = calloc(s->cap, sizeof *s->e);
    s->tombs = 0;
    for (size_t i = 0; i < oc; i++) {
        if (old[i].state != 1)
            continue;
        size_t j = slot_of(s, old[i].kind, old[i].key);
        while (s->e[j].state)
            j = (j + 1) & (s->cap - 1);
        s->e[j] = old[i];
    }
    free(old);
}

static int st_put(void *ud, uint8_t kind, const uint8_t key[32], const uint8_t *val, size_t len,
                  uint64_t expiry)
{
    dn_store *s = ud;
    dn_entry *e = st_find(s, kind, key);
    size_t old = e ? e->len : 0;
    if (s->quota && s->bytes - old + len > s->quota)
        return ZHTP_ERR_STORE_QUOTA;
    uint8_t *v = malloc(len);
    memcpy(v, val, len);
    if (e) {
        free(e->val);
    } else {
        if ((s->used + s->tombs + 1) * 2 > s->cap)
            st_grow(s);
        size_t j = slot_of(s, kind, key);
        while (s->e[j].state == 1)
            j = (j + 1) & (s->cap - 1);
        e = &s->e[j];
        if (e->state == 2)
            s->tombs--;
        s->used++;
        e->state = 1;
        e->kind = kind;
        memcpy(e->key, key, 32);
    }
    e->val = v;
    e->len = len;
    e->expiry = expiry;
    s->bytes = s->bytes - old + len;
    return ZHTP_OK;
}

static int st_get(void *ud, uint8_t kind, const uint8_t key[32], const uint8_t **val, size_t *len,
                  uint64_t *expiry)
{
    dn_entry *e = st_find(ud, kind, key);
    if (!e)
        return ZHTP_ERR_NOTFOUND;
    *val = e->val;
    *len = e->len;
    if (expiry)
        *expiry = e->expiry;
    return ZHTP_OK;
}

static int st_del(void *ud, uint8_t kind, const uint8_t key[32])
{
    dn_store *s = ud;
    dn_entry *e = st_find(s, kind, key);
    if (!e)
        return ZHTP_ERR_NOTFOUND;
    free(e->val);
    s->bytes -= e->len;
    e->val = NULL;
    e->state = 2;
    s->used--;
    s->tombs++;
    return ZHTP_OK;
}

static int st_each(void *ud,
                   int (*fn)(void *, uint8_t, const uint8_t *, const uint8_t *, size_t, uint64_t),
                   void *ctx)
{
    dn_store *s = ud;
    for (size_t i = 0; i < s->cap; i++)
        if (s->e[i].state == 1 &&
            fn(ctx, s->e[i].kind, s->e[i].key, s->e[i].val, s->e[i].len, s->e[i].expiry))
            break;
    return ZHTP_OK;
}

zhtp_dht_store_ops dn_store_ops(dn_store *s)
{
    zhtp_dht_store_ops o = {st_put, st_get, st_del, st_each, s};
    return o;
}

bool dn_store_corrupt(dn_store *s, uint8_t kind, const uint8_t key[32])
{
    dn_entry *e = st_find(s, kind, key);
    if (!e || !e->len)
        return false;
    e->val[e->len / 2] ^= 0x01;
    return true;
}

/* ---- network ----------------------------------------------------------------------------- */

typedef struct dn_ev {
    zhtp_time t;
    uint64_t seq;
    uint32_t to, from; /* from == UINT32_MAX: a timer */
    uint8_t *buf;
    size_t len;
} dn_ev;

typedef struct dn_node {
    zhtp_dht *dht;
    dn_store *store;
    uint8_t id[32];
    double x, y;
    int behaviour;
    uint64_t rng;
    zhtp_time armed;
} dn_node;

struct dn_net {
    dn_config cfg;
    dn_node *nodes;
    size_t n;
    uint32_t *idx; /* open-addressing id -> node index map, cap idx_cap */
    size_t idx_cap;
    dn_ev *heap;
    size_t hn, hcap;
    uint64_t seq, delivered, rng;
    zhtp_time now;
    dn_event_fn cb;
    void *cb_ud;
    uint8_t *msgbuf;
    uint32_t *colluders;
    size_t n_colluders;
    dn_tap_fn tap;
    void *tap_ud;
};

static void heap_push(dn_net *net, dn_ev ev)
{
    if (net->hn == net->hcap) {
        net->hcap = net->hcap ? net->hcap * 2 : 1024;
        net->heap = realloc(net->heap, net->hcap * sizeof *net->heap);
    }
    ev.seq = net->seq++;
    size_t i = net->hn++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        dn_ev *pe = &net->heap[p];
        if (pe->t < ev.t || (pe->t == ev.t && pe->seq < ev.seq))
            break;
        net->heap[i] = *pe;
        i = p;
    }
    net->heap[i] = ev;
}

static dn_ev heap_pop(dn_net *net)
{
    dn_ev top = net->heap[0], last = net->heap[--net->hn];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= net->hn)
            break;
        if (c + 1 < net->hn &&
            (net->heap[c + 1].t < net->heap[c].t ||
             (net->heap[c + 1].t == net->heap[c].t && net->heap[c + 1].seq < net->heap[c].seq)))
            c++;
        if (last.t < net->heap[c].t || (last.t == net->heap[c].t && last.seq < net->heap[c].seq))
            break;
        net->heap[i] = net->heap[c];
        i = c;
    }
    net->heap[i] = last;
    return top;
}

static size_t id_slot(const dn_net *net, const uint8_t *id)
{
    uint64_t h;
    memcpy(&h, id, 8);
    return (size_t)(h & (net->idx_cap - 1));
}

static long find_node(const dn_net *net, const uint8_t *id)
{
    for (size_t j = id_slot(net, id);; j = (j + 1) & (net->idx_cap - 1)) {
        uint32_t v = net->idx[j];
        if (v == UINT32_MAX)
            return -1;
        if (memcmp(net->nodes[v].id, id, 32) == 0)
            return v;
    }
}

static zhtp_time latency(dn_net *net, size_t a, size_t b)
{
    double dx = net->nodes[a].x - net->nodes[b].x, dy = net->nodes[a].y - net->nodes[b].y;
    double ms = 5.0 + 40.0 * sqrt(dx * dx + dy * dy);
    return (zhtp_time)(ms * 1e6) + splitmix(&net->rng) % (2 * ZHTP_NS_PER_MS);
}

static void send_bytes(dn_net *net, size_t from, size_t to, const uint8_t *buf, size_t len)
{
    dn_ev ev = {.t = net->now + latency(net, from, to), .to = (uint32_t)to, .from = (uint32_t)from};
    ev.buf = malloc(len);
    memcpy(ev.buf, buf, len);
    /* a tampering relay flips one byte in the middle of every sealed box it forwards */
    if (net->nodes[from].behaviour == DN_TAMPERER && len > 12 + DHT_SEALED_HDR + 16 &&
        buf[0] == ZHTP_DHT_MSG_RELAY_RESULT && buf[DHT_HDR_LEN] == 0 && buf[DHT_HDR_LEN + 1] == 0)
        ev.buf[12 + DHT_SEALED_HDR + (len - 12 - DHT_SEALED_HDR) / 2] ^= 0x01;
    ev.len = len;
    heap_push(net, ev);
}

/* Drains node i's messages and events and re-arms its timer. */
static void settle(dn_net *net, size_t i)
{
    dn_node *nd = &net->nodes[i];
    uint8_t to[32];
    zhtp_ssize len;
    while ((len = zhtp_dht_next_message(nd->dht, to, net->msgbuf, ZHTP_DHT_MSG_MAX)) >= 0) {
        long j = find_node(net, to);
        if (j >= 0)
            send_bytes(net, i, (size_t)j, net->msgbuf, (size_t)len);
    }
    zhtp_dht_event ev;
    while (zhtp_dht_next_event(nd->dht, &ev) == ZHTP_OK)
        if (net->cb)
            net->cb(net->cb_ud, i, &ev);
    zhtp_time dl = zhtp_dht_next_deadline(nd->dht);
    if (dl != ZHTP_TIME_NEVER && dl < net->now)
        dl = net->now;
    if (dl != ZHTP_TIME_NEVER && dl < nd->armed) {
        nd->armed = dl;
        dn_ev t = {.t = dl, .to = (uint32_t)i, .from = UINT32_MAX};
        heap_push(net, t);
    }
}

static zhtp_dht_config node_config(dn_net *net, dn_node *nd, const zhtp_dht_store_ops *ops)
{
    const dn_config *cfg = &net->cfg;
    zhtp_dht_config dc = {.mem = cfg->mem,
                          .rng = dn_rng,
                          .rng_user_data = &nd->rng,
                          .store = ops ? *ops : dn_store_ops(nd->store),
                          .k = cfg->k,
                          .alpha = cfg->alpha,
                          .paths = cfg->paths,
                          .puzzle_bits = cfg->puzzle_bits,
                          .rpc_timeout = cfg->rpc_timeout,
                          .republish_interval = cfg->republish_interval,
                          .refresh_interval = cfg->refresh_interval,
                          .relay_timeout = cfg->relay_timeout,
                          .max_relays = cfg->max_relays};
    return dc;
}

int dn_restart(dn_net *net, size_t i, const zhtp_dht_store_ops *ops)
{
    dn_node *nd = &net->nodes[i];
    zhtp_dht_free(nd->dht);
    nd->dht = NULL;
    nd->armed = ZHTP_TIME_NEVER;
    zhtp_dht_config dc = node_config(net, nd, ops);
    return zhtp_dht_new(&nd->dht, &dc, nd->id, net->now);
}

int dn_add_contact(dn_net *net, size_t i, size_t j)
{
    return zhtp_dht_add_contact(net->nodes[i].dht, net->nodes[j].id, net->now);
}

void dn_set_tap(dn_net *net, dn_tap_fn fn, void *ud)
{
    net->tap = fn;
    net->tap_ud = ud;
}

int dn_relay_get(dn_net *net, size_t i, size_t relay, uint8_t kind, const uint8_t key[32],
                 uint64_t *op)
{
    int rc = zhtp_dht_relay_get(net->nodes[i].dht, net->nodes[relay].id, kind, key, net->now, op);
    settle(net, i);
    return rc;
}

dn_net *dn_new(const dn_config *cfg)
{
    dn_net *net = calloc(1, sizeof *net);
    net->cfg = *cfg;
    net->n = cfg->n;
    net->rng = cfg->seed ^ 0x5eed;
    net->now = ZHTP_NS_PER_SEC;
    net->nodes = calloc(net->n, sizeof *net->nodes);
    net->idx_cap = 1;
    while (net->idx_cap < net->n * 2 + 2)
        net->idx_cap *= 2;
    net->idx = malloc(net->idx_cap * sizeof *net->idx);
    memset(net->idx, 0xff, net->idx_cap * sizeof *net->idx);
    net->msgbuf = malloc(ZHTP_DHT_MSG_MAX);
    for (size_t i = 0; i < net->n; i++) {
        dn_node *nd = &net->nodes[i];
        nd->rng = splitmix(&net->rng);
        do
            dn_rng(&nd->rng, nd->id, 32);
        while ((cfg->puzzle_bits && !zhtp_dht_puzzle_ok(nd->id, cfg->puzzle_bits)) ||
               find_node(net, nd->id) >= 0);
        size_t j = id_slot(net, nd->id);
        while (net->idx[j] != UINT32_MAX)
            j = (j + 1) & (net->idx_cap - 1);
        net->idx[j] = (uint32_t)i;
        nd->x = (double)(splitmix(&net->rng) >> 11) / 9007199254740992.0;
        nd->y = (double)(splitmix(&net->rng) >> 11) / 9007199254740992.0;
        nd->store = dn_store_new(cfg->store_quota);
        nd->armed = ZHTP_TIME_NEVER;
        zhtp_dht_config dc = node_config(net, nd, NULL);
        if (zhtp_dht_new(&nd->dht, &dc, nd->id, net->now) != ZHTP_OK) {
            dn_free(net);
            return NULL;
        }
    }
    return net;
}

void dn_free(dn_net *net)
{
    if (!net)
        return;
    for (size_t i = 0; i < net->n; i++) {
        zhtp_dht_free(net->nodes[i].dht);
        dn_store_free(net->nodes[i].store);
    }
    for (size_t i = 0; i < net->hn; i++)
        free(net->heap[i].buf);
    free(net->heap);
    free(net->nodes);
    free(net->idx);
    free(net->msgbuf);
    free(net->colluders);
    free(net);
}

void dn_set_event_cb(dn_net *net, dn_event_fn fn, void *ud)
{
    net->cb = fn;
    net->cb_ud = ud;
}

/* A colluder's answer: the k colluders closest to the target, so a lookup that reaches one
 * never leaves the colluding set. */
static void collude(dn_net *net, size_t self, size_t from, const uint8_t *buf, size_t len)
{
    dht_msg m;
    if (dht_msg_decode(&m, buf, len) != ZHTP_OK)
        return;
    uint32_t k = net->cfg.k ? net->cfg.k : ZHTP_DHT_K_DEFAULT;
    dht_msg r = {.txid = m.txid};
    uint8_t ids[ZHTP_DHT_K_MAX][32];
    switch (m.type) {
    case ZHTP_DHT_MSG_PING:
        r.type = ZHTP_DHT_MSG_PONG;
        break;
    case ZHTP_DHT_MSG_STORE:
        r.type = ZHTP_DHT_MSG_STORE_ACK;
        break;
    case ZHTP_DHT_MSG_FIND_NODE:
    case ZHTP_DHT_MSG_FIND_VALUE: {
        size_t n = 0;
        for (size_t c = 0; c < net->n_colluders; c++) {
            const uint8_t *id = net->nodes[net->colluders[c]].id;
            if (net->colluders[c] == self)
                continue;
            size_t pos = n;
            while (pos > 0 && dht_cmp_dist(m.target, id, ids[pos - 1]) < 0)
                pos--;
            if (pos >= k)
                continue;
            size_t end = n < k ? n : k - 1;
            memmove(ids[pos + 1], ids[pos], (end - pos) * 32);
            memcpy(ids[pos], id, 32);
            if (n < k)
                n++;
        }
        r.type = ZHTP_DHT_MSG_NODES;
        r.ids = ids[0];
        r.n_ids = n;
        break;
    }
    default:
        return;
    }
    zhtp_ssize l = dht_msg_encode(&r, net->msgbuf, ZHTP_DHT_MSG_MAX);
    if (l > 0)
        send_bytes(net, self, from, net->msgbuf, (size_t)l);
}

static void forge(dn_net *net, size_t self, size_t from, const uint8_t *buf, size_t len)
{
    dht_msg m;
    if (dht_msg_decode(&m, buf, len) != ZHTP_OK)
        return;
    if (m.type != ZHTP_DHT_MSG_FIND_VALUE || m.kind != ZHTP_DHT_KIND_CHUNK) {
        zhtp_dht_recv(net->nodes[self].dht, net->nodes[from].id, buf, len, net->now);
        settle(net, self);
        return;
    }
    uint8_t junk[64];
    memset(junk, 0xA5, sizeof junk);
    memcpy(junk, m.target, 32);
    dht_msg r = {.type = ZHTP_DHT_MSG_VALUE,
                 .txid = m.txid,
                 .kind = ZHTP_DHT_KIND_CHUNK,
                 .val = junk,
                 .val_len = sizeof junk};
    zhtp_ssize l = dht_msg_encode(&r, net->msgbuf, ZHTP_DHT_MSG_MAX);
    if (l > 0)
        send_bytes(net, self, from, net->msgbuf, (size_t)l);
}

static void step(dn_net *net)
{
    dn_ev ev = heap_pop(net);
    net->now = ev.t;
    dn_node *nd = &net->nodes[ev.to];
    if (ev.from == UINT32_MAX) {
        if (nd->armed != ev.t || nd->behaviour == DN_DEAD)
            return;
        nd->armed = ZHTP_TIME_NEVER;
        zhtp_dht_tick(nd->dht, net->now);
        settle(net, ev.to);
        return;
    }
    net->delivered++;
    if (net->tap && nd->behaviour != DN_DEAD)
        net->tap(net->tap_ud, ev.from, ev.to, ev.buf, ev.len);
    switch (nd->behaviour) {
    case DN_DEAD:
    case DN_DROPPER:
        break;
    case DN_COLLUDER:
        collude(net, ev.to, ev.from, ev.buf, ev.len);
        break;
    case DN_FORGER:
        forge(net, ev.to, ev.from, ev.buf, ev.len);
        break;
    default:
        zhtp_dht_recv(nd->dht, net->nodes[ev.from].id, ev.buf, ev.len, net->now);
        settle(net, ev.to);
    }
    free(ev.buf);
}

void dn_run(dn_net *net, zhtp_time dur)
{
    zhtp_time end = net->now + dur;
    while (net->hn && net->heap[0].t <= end)
        step(net);
    net->now = end;
}

zhtp_time dn_now(const dn_net *net)
{
    return net->now;
}

size_t dn_bootstrap(dn_net *net)
{
    uint32_t c = net->cfg.contacts ? net->cfg.contacts : 3;
    for (size_t i = 1; i < net->n; i++)
        for (uint32_t j = 0; j < c && j < i; j++) {
            size_t o = (size_t)(splitmix(&net->rng) % i);
            zhtp_dht_add_contact(net->nodes[i].dht, net->nodes[o].id, net->now);
        }
    if (net->n > 1) /* the first node needs someone to ask too */
        zhtp_dht_add_contact(net->nodes[0].dht,
                             net->nodes[1 + splitmix(&net->rng) % (net->n - 1)].id, net->now);
    size_t ok = 0;
    for (size_t i = 0; i < net->n; i++) {
        /* joins spread over 10 s, in index order, so later nodes find a populated network */
        dn_run(net, 10 * ZHTP_NS_PER_SEC / net->n + 1);
        if (zhtp_dht_bootstrap(net->nodes[i].dht, net->now, NULL) == ZHTP_OK)
            ok++;
        settle(net, i);
    }
    dn_run(net, 60 * ZHTP_NS_PER_SEC);
    return net->n - ok;
}

int dn_bootstrap_node(dn_net *net, size_t i)
{
    int rc = zhtp_dht_bootstrap(net->nodes[i].dht, net->now, NULL);
    settle(net, i);
    return rc;
}

size_t dn_size(const dn_net *net)
{
    return net->n;
}
zhtp_dht *dn_dht(dn_net *net, size_t i)
{
    return net->nodes[i].dht;
}
const uint8_t *dn_id(const dn_net *net, size_t i)
{
    return net->nodes[i].id;
}
int dn_behaviour(const dn_net *net, size_t i)
{
    return net->nodes[i].behaviour;
}

void dn_set_behaviour(dn_net *net, size_t i, int behaviour)
{
    net->nodes[i].behaviour = behaviour;
    if (behaviour == DN_COLLUDER) {
        net->colluders = realloc(net->colluders, (net->n_colluders + 1) * sizeof *net->colluders);
        net->colluders[net->n_colluders++] = (uint32_t)i;
    }
}

int dn_put(dn_net *net, size_t i, const uint8_t *bytes, size_t len, uint8_t key[32], uint64_t *op)
{
    int rc = zhtp_dht_put(net->nodes[i].dht, bytes, len, key, net->now, op);
    settle(net, i);
    return rc;
}
int dn_get(dn_net *net, size_t i, const uint8_t key[32], uint64_t *op)
{
    int rc = zhtp_dht_get(net->nodes[i].dht, key, net->now, op);
    settle(net, i);
    return rc;
}
int dn_publish(dn_net *net, size_t i, const uint8_t *rec, size_t len, uint64_t *op)
{
    int rc = zhtp_dht_publish(net->nodes[i].dht, rec, len, net->now, op);
    settle(net, i);
    return rc;
}
int dn_resolve(dn_net *net, size_t i, const uint8_t key[32], uint64_t *op)
{
    int rc = zhtp_dht_resolve(net->nodes[i].dht, key, net->now, op);
    settle(net, i);
    return rc;
}

int dn_put_content(dn_net *net, size_t i, const uint8_t *bytes, size_t len, uint32_t chunk_size,
                   uint8_t root[32], uint64_t *op)
{
    int rc = zhtp_dht_put_content(net->nodes[i].dht, bytes, len, chunk_size, root, net->now, op);
    settle(net, i);
    return rc;
}
int dn_get_content(dn_net *net, size_t i, const uint8_t root[32], uint64_t *op)
{
    int rc = zhtp_dht_get_content(net->nodes[i].dht, root, net->now, op);
    settle(net, i);
    return rc;
}

void dn_inject(dn_net *net, size_t from, size_t to, const uint8_t *buf, size_t len)
{
    send_bytes(net, from, to, buf, len);
}

bool dn_holds(dn_net *net, size_t i, uint8_t kind, const uint8_t key[32])
{
    return st_find(net->nodes[i].store, kind, key) != NULL;
}

dn_store *dn_node_store(dn_net *net, size_t i)
{
    return net->nodes[i].store;
}

uint64_t dn_stat_sum(dn_net *net, size_t off)
{
    uint64_t s = 0;
    for (size_t i = 0; i < net->n; i++) {
        const uint8_t *st = (const uint8_t *)zhtp_dht_get_stats(net->nodes[i].dht);
        uint64_t v;
        memcpy(&v, st + off, sizeof v);
        s += v;
    }
    return s;
}

uint64_t dn_delivered(const dn_net *net)
{
    return net->delivered;
}
