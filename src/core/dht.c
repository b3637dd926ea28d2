/* core/dht: the engine. Requests from other nodes are answered at once; our own operations
 * are iterative lookups (Kademlia §2.3) run over d disjoint paths (S/Kademlia §4.4): the
 * closest contacts of our table are dealt round-robin to the paths, every node a path learns
 * belongs to that path only, and no node is queried by two paths, so one path captured by
 * colluders cannot steer the others. Each path keeps alpha requests in flight to its closest
 * unqueried candidates and ends when its k closest live candidates have all answered.
 * Byte formats and the reasons behind the numbers: docs/dht.md. */
#include <string.h>

#include <sodium.h>

#include "dht_internal.h"
#include "zhtp/blake3.h"
#include "zhtp/util.h"

enum { C_NEW = 0, C_INFLIGHT = 1, C_DONE = 2, C_FAILED = 3 };
enum {
    OP_BOOTSTRAP = 1,
    OP_PUT,
    OP_GET,
    OP_PUBLISH,
    OP_RESOLVE,
    OP_REPUBLISH,
    OP_CPUT,
    OP_CGET,
    OP_RGET,  /* requester of a relayed fetch: one RPC to the relay */
    OP_RELAY, /* relay: a lookup run for another node with RELAY_FETCH */
};
#define RELAY_SEAL_CONTEXT "zhtp 2026-11 dht relay seal v1"
#define CHILD_MANIFEST     UINT32_MAX
#define MANIFEST_MAGIC     "ZDM1"
#define MANIFEST_HDR       20
enum { PH_LOOKUP = 0, PH_STORE = 1 };

typedef struct dht_cand {
    uint8_t id[ZHTP_DHT_ID_LEN];
    uint8_t state, path, depth;
} dht_cand;

typedef struct dht_op {
    bool used;
    bool internal;  /* republish or a child of a content op: no event, no user quota */
    int32_t index;  /* own slot in d->ops */
    int32_t parent; /* content op this one is a chunk of, or -1 */
    uint64_t parent_id;
    uint32_t child;
    /* content ops (OP_CPUT / OP_CGET) */
    uint8_t *buf; /* the content: source (CPUT) or assembled (CGET) */
    size_t buf_len;
    uint64_t total;
    uint32_t chunk_size, n_chunks, next_child, done_children, running;
    bool starting, manifest_done;
    int cstatus;
    uint8_t type, phase, kind;
    uint64_t id;
    uint8_t target[ZHTP_DHT_ID_LEN];
    dht_cand *c;
    size_t n, cap;
    uint32_t inflight[ZHTP_DHT_PATHS_MAX];
    bool path_done[ZHTP_DHT_PATHS_MAX];
    uint8_t *value; /* PUT/PUBLISH/REPUBLISH: what to store; GET/RESOLVE: the answer */
    size_t value_len;
    uint64_t expiry; /* chunk expiry sent with STORE */
    uint64_t best_seq;
    bool found, any_answer, any_forged;
    uint32_t rpcs, hops, acks_pending, acks_ok, acks_quota;
    zhtp_time start;
    struct dht_evq *ev; /* the completion event, allocated up front so finishing cannot fail */
    /* relayed fetch. OP_RGET: buf = the ephemeral KEM secret key (wiped on free). OP_RELAY:
     * buf = the requester's ephemeral public key, peer/peer_txid = the requester and its
     * RELAY_GET, value = ct || box of the first SEALED answer, plain_len its plaintext size. */
    uint8_t peer[ZHTP_DHT_ID_LEN];
    uint64_t peer_txid;
    size_t plain_len;
} dht_op;

typedef struct dht_rpc {
    uint64_t txid;
    uint8_t to[ZHTP_DHT_ID_LEN];
    zhtp_time deadline;
    int32_t op;   /* index into ops, or -1 for a bucket liveness ping */
    uint8_t type; /* request type */
} dht_rpc;

typedef struct dht_out {
    struct dht_out *next;
    size_t len;
    uint8_t to[ZHTP_DHT_ID_LEN];
    uint8_t buf[];
} dht_out;

typedef struct dht_evq {
    struct dht_evq *next;
    zhtp_dht_event ev;
    uint8_t *value;
    size_t value_len;
} dht_evq;

struct zhtp_dht {
    zhtp_dht_config cfg;
    const zhtp_mem *mem;
    dht_table t;
    uint64_t next_txid, next_op;
    dht_op **ops; /* slots are allocated once and reused, so an op pointer stays valid */
    size_t n_ops;
    size_t user_ops;
    dht_rpc *rpcs;
    size_t n_rpcs, cap_rpcs;
    dht_out *out_head, *out_tail;
    dht_evq *ev_head, *ev_tail, *ev_last;
    zhtp_time next_republish;
    zhtp_dht_stats st;
    uint32_t relays; /* OP_RELAY ops running (bounded by cfg.max_relays) */
    /* Keys some other node STOREd here since our last republish: we skip republishing them
     * (Kademlia §2.5), so a key costs about k STOREs per interval instead of k*k. Open
     * addressing on the first key bytes; an all-zero slot is empty. */
    uint8_t (*fresh)[ZHTP_DHT_ID_LEN];
    size_t fresh_n, fresh_cap;
    /* zhtp_dht_next_deadline runs after every datagram the node handles, most of which never
     * touch the DHT, so the minimum over next_republish, every bucket's refresh time and
     * every request deadline is cached. Outside zhtp_dht_tick (which marks the cache stale
     * as a whole) each writer of those reports the old and new value of what it changed to
     * due_changed(): a lower value lowers the cache, the removal or rise of the value the
     * cache holds marks it stale, and the next call rescans. */
    zhtp_time due;
    bool due_valid;
};

/* When a bucket's least recently seen contact is next due for a liveness ping; NEVER for an
 * empty bucket or one whose ping is already in flight (its rpc deadline counts instead). */
static zhtp_time bucket_due(const zhtp_dht *d, const dht_bucket *b)
{
    if (!b->n_live || b->ping_pending)
        return ZHTP_TIME_NEVER;
    return b->live[0].last_seen + d->cfg.refresh_interval;
}

static void due_changed(zhtp_dht *d, zhtp_time old, zhtp_time new_due)
{
    if (!d->due_valid)
        return;
    if (new_due < d->due)
        d->due = new_due;
    else if (old <= d->due && new_due != old)
        d->due_valid = false; /* the minimum (or one of equal minima) left: rescan lazily */
}

static zhtp_time bucket_due_of(const zhtp_dht *d, const uint8_t id[ZHTP_DHT_ID_LEN])
{
    return bucket_due(d, &d->t.b[dht_bucket_index(d->t.self, id)]);
}

/* The k-bucket mutations, each reporting the change of the bucket's due time. */
static int table_seen(zhtp_dht *d, const uint8_t id[ZHTP_DHT_ID_LEN], zhtp_time now)
{
    zhtp_time old = bucket_due_of(d, id);
    int rc = dht_table_seen(&d->t, id, now);
    due_changed(d, old, bucket_due_of(d, id));
    return rc;
}

static void table_remove(zhtp_dht *d, const uint8_t id[ZHTP_DHT_ID_LEN])
{
    zhtp_time old = bucket_due_of(d, id);
    dht_table_remove(&d->t, id);
    due_changed(d, old, bucket_due_of(d, id));
}

static void set_ping_pending(zhtp_dht *d, dht_bucket *b, bool pending)
{
    zhtp_time old = bucket_due(d, b);
    b->ping_pending = pending;
    due_changed(d, old, bucket_due(d, b));
}

/* Removes d->rpcs[i] (the last one takes its slot). */
static void rpc_drop_at(zhtp_dht *d, size_t i)
{
    zhtp_time old = d->rpcs[i].deadline;
    d->rpcs[i] = d->rpcs[--d->n_rpcs];
    due_changed(d, old, ZHTP_TIME_NEVER);
}

static uint64_t net_now(const zhtp_dht *d, zhtp_time now)
{
    return now + d->cfg.net_time_offset;
}

static uint64_t rng_u64(zhtp_dht *d)
{
    uint8_t b[8];
    uint64_t v = 0;
    d->cfg.rng(d->cfg.rng_user_data, b, sizeof b);
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

/* ---- output queue ------------------------------------------------------------------------ */

static int send_msg(zhtp_dht *d, const uint8_t to[ZHTP_DHT_ID_LEN], const dht_msg *m)
{
    size_t len = dht_msg_len(m);
    if (len == 0)
        return ZHTP_ERR_INTERNAL;
    dht_out *o = zhtp_mem_alloc(d->mem, sizeof *o + len);
    if (!o)
        return ZHTP_ERR_NOMEM;
    o->next = NULL;
    o->len = len;
    memcpy(o->to, to, ZHTP_DHT_ID_LEN);
    (void)dht_msg_encode(m, o->buf, len);
    if (d->out_tail)
        d->out_tail->next = o;
    else
        d->out_head = o;
    d->out_tail = o;
    d->st.msgs_out++;
    return ZHTP_OK;
}

zhtp_ssize zhtp_dht_next_message(zhtp_dht *d, uint8_t to[ZHTP_DHT_ID_LEN], uint8_t *out, size_t cap)
{
    dht_out *o = d->out_head;
    if (!o)
        return ZHTP_ERR_AGAIN;
    if (cap < o->len)
        return ZHTP_ERR_NOBUF;
    memcpy(to, o->to, ZHTP_DHT_ID_LEN);
    memcpy(out, o->buf, o->len);
    zhtp_ssize len = (zhtp_ssize)o->len;
    d->out_head = o->next;
    if (!d->out_head)
        d->out_tail = NULL;
    zhtp_mem_free(d->mem, o, sizeof *o + o->len);
    return len;
}

/* ---- requests in flight ------------------------------------------------------------------ */

static int rpc_send(zhtp_dht *d, const uint8_t to[ZHTP_DHT_ID_LEN], dht_msg *m, int32_t op,
                    zhtp_time now, zhtp_time timeout)
{
    if (d->n_rpcs == d->cap_rpcs) {
        size_t nc = d->cap_rpcs ? d->cap_rpcs * 2 : 16;
        dht_rpc *n = zhtp_mem_alloc(d->mem, nc * sizeof *n);
        if (!n)
            return ZHTP_ERR_NOMEM;
        if (d->n_rpcs)
            memcpy(n, d->rpcs, d->n_rpcs * sizeof *n);
        zhtp_mem_free(d->mem, d->rpcs, d->cap_rpcs * sizeof *n);
        d->rpcs = n;
        d->cap_rpcs = nc;
    }
    m->txid = d->next_txid++;
    int rc = send_msg(d, to, m);
    if (rc)
        return rc;
    dht_rpc *r = &d->rpcs[d->n_rpcs++];
    r->txid = m->txid;
    memcpy(r->to, to, ZHTP_DHT_ID_LEN);
    r->deadline = now + timeout;
    r->op = op;
    r->type = m->type;
    due_changed(d, ZHTP_TIME_NEVER, r->deadline);
    return ZHTP_OK;
}

static int rpc_take(zhtp_dht *d, uint64_t txid, const uint8_t from[ZHTP_DHT_ID_LEN], dht_rpc *out)
{
    for (size_t i = 0; i < d->n_rpcs; i++) {
        if (d->rpcs[i].txid == txid && memcmp(d->rpcs[i].to, from, ZHTP_DHT_ID_LEN) == 0) {
            *out = d->rpcs[i];
            rpc_drop_at(d, i);
            return 1;
        }
    }
    return 0;
}

/* ---- events ------------------------------------------------------------------------------ */

/* Frees op and forgets its requests still in flight (their late answers count as
 * unexpected), so that a reused op slot never receives them. */
static void op_free(zhtp_dht *d, dht_op *op)
{
    int32_t oi = op->index;
    for (size_t i = 0; i < d->n_rpcs;) {
        if (d->rpcs[i].op == oi)
            rpc_drop_at(d, i);
        else
            i++;
    }
    zhtp_mem_free(d->mem, op->ev, sizeof *op->ev);
    zhtp_mem_free(d->mem, op->c, op->cap * sizeof *op->c);
    zhtp_mem_free(d->mem, op->value, op->value_len ? op->value_len : 1);
    if (op->type == OP_RGET && op->buf)
        zhtp_wipe(op->buf, op->buf_len); /* the ephemeral KEM secret key */
    zhtp_mem_free(d->mem, op->buf, op->buf_len ? op->buf_len : 1);
    if (!op->internal)
        d->user_ops--;
    if (op->type == OP_RELAY)
        d->relays--;
    memset(op, 0, sizeof *op);
    op->index = oi;
}

static void content_child_done(zhtp_dht *d, int32_t pi, uint64_t pid, uint32_t ci, int status,
                               uint8_t *v, size_t vl, uint32_t rpcs, zhtp_time now);

static void relay_answer(zhtp_dht *d, dht_op *op, int status);

static void op_finish(zhtp_dht *d, dht_op *op, int status, zhtp_time now)
{
    if (op->type == OP_RELAY) {
        relay_answer(d, op, status);
        op_free(d, op);
        return;
    }
    if (op->parent >= 0 && op->internal) {
        /* a chunk of a content op: hand the answer to the parent (which may start new ops) */
        int32_t pi = op->parent;
        uint64_t pid = op->parent_id;
        uint32_t ci = op->child, rpcs = op->rpcs;
        uint8_t *v = NULL;
        size_t vl = 0;
        if (op->type == OP_GET && status == ZHTP_OK) {
            v = op->value;
            vl = op->value_len;
            op->value = NULL;
            op->value_len = 0;
        }
        op_free(d, op);
        content_child_done(d, pi, pid, ci, status, v, vl, rpcs, now);
        return;
    }
    if (op->internal) {
        op_free(d, op);
        return;
    }
    dht_evq *e = op->ev;
    op->ev = NULL;
    {
        memset(e, 0, sizeof *e);
        static const int types[] = {0,
                                    ZHTP_DHT_EV_BOOTSTRAP_DONE,
                                    ZHTP_DHT_EV_PUT_DONE,
                                    ZHTP_DHT_EV_GET_DONE,
                                    ZHTP_DHT_EV_PUBLISH_DONE,
                                    ZHTP_DHT_EV_RESOLVE_DONE,
                                    0,
                                    ZHTP_DHT_EV_CONTENT_PUT_DONE,
                                    ZHTP_DHT_EV_CONTENT_GET_DONE,
                                    ZHTP_DHT_EV_RELAY_GET_DONE};
        e->ev.type = types[op->type];
        e->ev.op = op->id;
        e->ev.status = status;
        e->ev.hops = op->hops;
        e->ev.rpcs = op->rpcs;
        e->ev.latency = now - op->start;
        e->ev.stored = op->acks_ok;
        if (op->type == OP_CGET && status == ZHTP_OK) {
            zhtp_mem_free(d->mem, op->value, op->value_len ? op->value_len : 1); /* manifest */
            op->value = op->buf;
            op->value_len = op->buf_len;
            op->buf = NULL;
            op->buf_len = 0;
        }
        if (status == ZHTP_OK && (op->type == OP_GET || op->type == OP_RESOLVE ||
                                  op->type == OP_CGET || op->type == OP_RGET)) {
            /* hand the answer buffer over to the event */
            e->value = op->value;
            e->value_len = op->value_len;
            op->value = NULL;
            op->value_len = 0;
            if (op->type == OP_RESOLVE ||
                (op->type == OP_RGET && op->kind == ZHTP_DHT_KIND_RECORD)) {
                zhtp_dht_record r;
                if (zhtp_dht_record_parse(&r, e->value, e->value_len) == ZHTP_OK) {
                    e->ev.value = r.value;
                    e->ev.len = r.value_len;
                    e->ev.seq = r.seq;
                    e->ev.expiry = r.expiry;
                }
            } else {
                e->ev.value = e->value;
                e->ev.len = e->value_len;
            }
        }
        if (d->ev_tail)
            d->ev_tail->next = e;
        else
            d->ev_head = e;
        d->ev_tail = e;
    }
    op_free(d, op);
}

static void ev_free(zhtp_dht *d, dht_evq *e)
{
    if (!e)
        return;
    zhtp_mem_free(d->mem, e->value, e->value_len ? e->value_len : 1);
    zhtp_mem_free(d->mem, e, sizeof *e);
}

int zhtp_dht_next_event(zhtp_dht *d, zhtp_dht_event *ev)
{
    ev_free(d, d->ev_last);
    d->ev_last = NULL;
    dht_evq *e = d->ev_head;
    if (!e)
        return ZHTP_ERR_AGAIN;
    d->ev_head = e->next;
    if (!d->ev_head)
        d->ev_tail = NULL;
    *ev = e->ev;
    d->ev_last = e;
    return ZHTP_OK;
}

/* ---- lookups ----------------------------------------------------------------------------- */

static dht_op *op_new(zhtp_dht *d, uint8_t type, const uint8_t target[ZHTP_DHT_ID_LEN],
                      zhtp_time now, bool internal)
{
    if (!internal && d->user_ops >= d->cfg.max_lookups)
        return NULL;
    size_t i;
    for (i = 0; i < d->n_ops && d->ops[i] && d->ops[i]->used; i++)
        ;
    if (i == d->n_ops) {
        size_t nn = d->n_ops ? d->n_ops * 2 : 8;
        dht_op **n = zhtp_mem_alloc(d->mem, nn * sizeof *n);
        if (!n)
            return NULL;
        memset(n, 0, nn * sizeof *n);
        if (d->n_ops)
            memcpy(n, d->ops, d->n_ops * sizeof *n);
        zhtp_mem_free(d->mem, d->ops, d->n_ops * sizeof *n);
        d->ops = n;
        d->n_ops = nn;
    }
    if (!d->ops[i]) {
        d->ops[i] = zhtp_mem_alloc(d->mem, sizeof **d->ops);
        if (!d->ops[i])
            return NULL;
        memset(d->ops[i], 0, sizeof **d->ops);
    }
    dht_op *op = d->ops[i];
    memset(op, 0, sizeof *op);
    op->index = (int32_t)i;
    op->parent = -1;
    op->cap = (size_t)d->cfg.paths * d->cfg.k * 3;
    op->c = zhtp_mem_alloc(d->mem, op->cap * sizeof *op->c);
    if (!op->c)
        return NULL;
    if (!internal) {
        op->ev = zhtp_mem_alloc(d->mem, sizeof *op->ev);
        if (!op->ev) {
            zhtp_mem_free(d->mem, op->c, op->cap * sizeof *op->c);
            op->c = NULL;
            return NULL;
        }
    }
    op->used = true;
    op->internal = internal;
    op->type = type;
    op->id = ++d->next_op;
    op->start = now;
    memcpy(op->target, target, ZHTP_DHT_ID_LEN);
    if (!internal)
        d->user_ops++;
    return op;
}

/* Adds a candidate unless any path already has it (disjointness) or it is us. */
static void cand_add(zhtp_dht *d, dht_op *op, const uint8_t id[ZHTP_DHT_ID_LEN], uint8_t path,
                     uint8_t depth)
{
    if (memcmp(id, d->t.self, ZHTP_DHT_ID_LEN) == 0)
        return;
    for (size_t i = 0; i < op->n; i++)
        if (memcmp(op->c[i].id, id, ZHTP_DHT_ID_LEN) == 0)
            return;
    size_t pos = op->n;
    while (pos > 0 && dht_cmp_dist(op->target, id, op->c[pos - 1].id) < 0)
        pos--;
    if (op->n == op->cap) {
        /* full: the farthest entry behind us that is not in flight goes */
        size_t j = op->n;
        while (j > pos && op->c[j - 1].state == C_INFLIGHT)
            j--;
        if (j == pos)
            return;
        memmove(op->c + j - 1, op->c + j, (op->n - j) * sizeof *op->c);
        op->n--;
    }
    memmove(op->c + pos + 1, op->c + pos, (op->n - pos) * sizeof *op->c);
    memcpy(op->c[pos].id, id, ZHTP_DHT_ID_LEN);
    op->c[pos].state = C_NEW;
    op->c[pos].path = path;
    op->c[pos].depth = depth;
    op->n++;
}

static dht_cand *cand_find(dht_op *op, const uint8_t id[ZHTP_DHT_ID_LEN])
{
    for (size_t i = 0; i < op->n; i++)
        if (memcmp(op->c[i].id, id, ZHTP_DHT_ID_LEN) == 0)
            return &op->c[i];
    return NULL;
}

static int op_seed(zhtp_dht *d, dht_op *op)
{
    uint8_t ids[ZHTP_DHT_K_MAX * ZHTP_DHT_PATHS_MAX][ZHTP_DHT_ID_LEN];
    size_t want = (size_t)d->cfg.k * d->cfg.paths;
    if (want > ZHTP_DHT_K_MAX * ZHTP_DHT_PATHS_MAX)
        want = ZHTP_DHT_K_MAX * ZHTP_DHT_PATHS_MAX;
    size_t n = dht_table_closest(&d->t, op->target, ids, want, NULL);
    for (size_t i = 0; i < n; i++)
        cand_add(d, op, ids[i], (uint8_t)(i % d->cfg.paths), 1);
    return (int)n;
}

static int op_advance(zhtp_dht *d, int32_t oi, zhtp_time now);

static int store_phase(zhtp_dht *d, int32_t oi, zhtp_time now)
{
    dht_op *op = d->ops[oi];
    op->phase = PH_STORE;
    /* The k closest that answered, over all paths; we keep a copy too when we are closer
     * than the k-th of them (or fewer than k answered). */
    size_t sent = 0;
    const uint8_t *kth = NULL;
    for (size_t i = 0; i < op->n && sent < d->cfg.k; i++) {
        if (op->c[i].state != C_DONE)
            continue;
        if (!op->hops)
            op->hops = op->c[i].depth;
        dht_msg m = {.type = ZHTP_DHT_MSG_STORE,
                     .kind = op->kind,
                     .val = op->value,
                     .val_len = op->value_len,
                     .expiry = op->expiry};
        int rc = rpc_send(d, op->c[i].id, &m, oi, now, d->cfg.rpc_timeout);
        if (rc)
            return rc;
        op->rpcs++;
        op->acks_pending++;
        sent++;
        kth = op->c[i].id;
    }
    if (sent < d->cfg.k || dht_cmp_dist(op->target, d->t.self, kth) < 0) {
        if (d->cfg.store.put(d->cfg.store.user_data, op->kind, op->target, op->value, op->value_len,
                             op->expiry) == ZHTP_OK)
            op->acks_ok++;
    }
    if (op->acks_pending == 0)
        op_finish(d, op, op->acks_ok ? ZHTP_OK : ZHTP_ERR_DHT_TIMEOUT, now);
    return ZHTP_OK;
}

static int lookup_done(zhtp_dht *d, int32_t oi, zhtp_time now)
{
    dht_op *op = d->ops[oi];
    switch (op->type) {
    case OP_BOOTSTRAP:
        for (size_t i = 0; i < op->n; i++)
            if (op->c[i].state == C_DONE) {
                op->hops = op->c[i].depth;
                break;
            }
        op_finish(d, op, op->any_answer ? ZHTP_OK : ZHTP_ERR_DHT_TIMEOUT, now);
        return ZHTP_OK;
    case OP_GET:
    case OP_RESOLVE:
    case OP_RGET:
    case OP_RELAY:
        if (op->found)
            op_finish(d, op, ZHTP_OK, now);
        else
            op_finish(d, op,
                      op->any_forged   ? ZHTP_ERR_DHT_VERIFY
                      : op->any_answer ? ZHTP_ERR_DHT_NOT_FOUND
                                       : ZHTP_ERR_DHT_TIMEOUT,
                      now);
        return ZHTP_OK;
    default:
        return store_phase(d, oi, now);
    }
}

static int op_advance(zhtp_dht *d, int32_t oi, zhtp_time now)
{
    dht_op *op = d->ops[oi];
    if (op->phase != PH_LOOKUP)
        return ZHTP_OK;
    bool all_done = true;
    for (uint32_t p = 0; p < d->cfg.paths; p++) {
        if (op->path_done[p])
            continue;
        uint32_t seen = 0;
        bool pending = false;
        for (size_t i = 0; i < op->n && seen < d->cfg.k; i++) {
            dht_cand *c = &op->c[i];
            if (c->path != p || c->state == C_FAILED)
                continue;
            seen++;
            if (c->state == C_NEW) {
                if (op->inflight[p] >= d->cfg.alpha) {
                    pending = true;
                    continue;
                }
                dht_msg m = {.type = op->type == OP_GET || op->type == OP_RESOLVE
                                         ? ZHTP_DHT_MSG_FIND_VALUE
                                         : ZHTP_DHT_MSG_FIND_NODE,
                             .kind = op->kind};
                if (op->type == OP_RELAY) { /* only the key and the ephemeral public key */
                    m.type = ZHTP_DHT_MSG_RELAY_FETCH;
                    m.pk = op->buf;
                }
                memcpy(m.target, op->target, ZHTP_DHT_ID_LEN);
                int rc = rpc_send(d, c->id, &m, oi, now, d->cfg.rpc_timeout);
                if (rc)
                    return rc;
                c->state = C_INFLIGHT;
                op->inflight[p]++;
                op->rpcs++;
            }
        }
        if (!pending && op->inflight[p] == 0)
            op->path_done[p] = true;
        else
            all_done = false;
    }
    if (all_done)
        return lookup_done(d, oi, now);
    return ZHTP_OK;
}

static int op_start(zhtp_dht *d, dht_op *op, zhtp_time now, uint64_t *opid)
{
    int32_t oi = op->index;
    if (opid)
        *opid = op->id;
    op_seed(d, op);
    return op_advance(d, oi, now);
}

/* ---- value checks ------------------------------------------------------------------------ */

/* Checks a chunk or record against the key it must belong to. Records also pass their
 * signature and expiry; *seq gets the record's sequence number. */
static int value_check(zhtp_dht *d, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN],
                       const uint8_t *val, size_t len, zhtp_time now, uint64_t *seq,
                       uint64_t *expiry)
{
    if (kind == ZHTP_DHT_KIND_CHUNK) {
        uint8_t h[ZHTP_DHT_ID_LEN];
        if (len < 1 || len > ZHTP_DHT_CHUNK_MAX)
            return ZHTP_ERR_DHT_VERIFY;
        zhtp_blake3_hash(h, sizeof h, val, len);
        if (memcmp(h, key, ZHTP_DHT_ID_LEN) != 0) {
            d->st.forged_chunks++;
            return ZHTP_ERR_DHT_VERIFY;
        }
        return ZHTP_OK;
    }
    zhtp_dht_record r;
    if (zhtp_dht_record_parse(&r, val, len) != ZHTP_OK ||
        memcmp(r.key, key, ZHTP_DHT_ID_LEN) != 0) {
        d->st.bad_records++;
        return ZHTP_ERR_DHT_VERIFY;
    }
    if (r.expiry <= net_now(d, now)) {
        d->st.expired_records++;
        return ZHTP_ERR_STORE_EXPIRED;
    }
    if (seq)
        *seq = r.seq;
    if (expiry)
        *expiry = r.expiry;
    return ZHTP_OK;
}

/* Reads a stored value back and verifies it; a corrupt entry is deleted. */
static int store_read(zhtp_dht *d, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN],
                      const uint8_t **val, size_t *len, uint64_t *seq, zhtp_time now)
{
    uint64_t exp = 0;
    int rc = d->cfg.store.get(d->cfg.store.user_data, kind, key, val, len, &exp);
    if (rc)
        return rc;
    if (exp <= net_now(d, now)) {
        d->cfg.store.del(d->cfg.store.user_data, kind, key);
        return ZHTP_ERR_NOTFOUND;
    }
    rc = value_check(d, kind, key, *val, *len, now, seq, NULL);
    if (rc) {
        d->cfg.store.del(d->cfg.store.user_data, kind, key);
        return ZHTP_ERR_NOTFOUND;
    }
    return ZHTP_OK;
}

static uint64_t key_hash(const uint8_t key[ZHTP_DHT_ID_LEN])
{
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h = h << 8 | key[i];
    return h;
}

static bool fresh_has(const zhtp_dht *d, const uint8_t key[ZHTP_DHT_ID_LEN])
{
    static const uint8_t zero[ZHTP_DHT_ID_LEN];
    if (!d->fresh_cap)
        return false;
    for (size_t i = key_hash(key) & (d->fresh_cap - 1);; i = (i + 1) & (d->fresh_cap - 1)) {
        if (memcmp(d->fresh[i], key, ZHTP_DHT_ID_LEN) == 0)
            return true;
        if (memcmp(d->fresh[i], zero, ZHTP_DHT_ID_LEN) == 0)
            return false;
    }
}

static void fresh_insert(uint8_t (*t)[ZHTP_DHT_ID_LEN], size_t cap, const uint8_t *key)
{
    static const uint8_t zero[ZHTP_DHT_ID_LEN];
    size_t i = key_hash(key) & (cap - 1);
    while (memcmp(t[i], zero, ZHTP_DHT_ID_LEN) != 0 && memcmp(t[i], key, ZHTP_DHT_ID_LEN) != 0)
        i = (i + 1) & (cap - 1);
    memcpy(t[i], key, ZHTP_DHT_ID_LEN);
}

static void fresh_add(zhtp_dht *d, const uint8_t key[ZHTP_DHT_ID_LEN])
{
    static const uint8_t zero[ZHTP_DHT_ID_LEN];
    if (memcmp(key, zero, ZHTP_DHT_ID_LEN) == 0 || fresh_has(d, key))
        return;
    if ((d->fresh_n + 1) * 2 > d->fresh_cap) {
        size_t nc = d->fresh_cap ? d->fresh_cap * 2 : 64;
        uint8_t(*n)[ZHTP_DHT_ID_LEN] = zhtp_mem_alloc(d->mem, nc * ZHTP_DHT_ID_LEN);
        if (!n)
            return;
        memset(n, 0, nc * ZHTP_DHT_ID_LEN);
        for (size_t i = 0; i < d->fresh_cap; i++)
            if (memcmp(d->fresh[i], zero, ZHTP_DHT_ID_LEN) != 0)
                fresh_insert(n, nc, d->fresh[i]);
        zhtp_mem_free(d->mem, d->fresh, d->fresh_cap * ZHTP_DHT_ID_LEN);
        d->fresh = n;
        d->fresh_cap = nc;
    }
    fresh_insert(d->fresh, d->fresh_cap, key);
    d->fresh_n++;
}

static void fresh_clear(zhtp_dht *d)
{
    zhtp_mem_free(d->mem, d->fresh, d->fresh_cap * ZHTP_DHT_ID_LEN);
    d->fresh = NULL;
    d->fresh_n = d->fresh_cap = 0;
}

/* A STORE from the network: verified, sequence-checked, then kept. */
static int handle_store(zhtp_dht *d, const uint8_t from[ZHTP_DHT_ID_LEN], const dht_msg *m,
                        zhtp_time now)
{
    uint8_t key[ZHTP_DHT_ID_LEN];
    uint64_t seq = 0, expiry = m->expiry;
    if (m->kind == ZHTP_DHT_KIND_CHUNK) {
        zhtp_blake3_hash(key, sizeof key, m->val, m->val_len);
        uint64_t nn = net_now(d, now);
        if (expiry <= nn)
            return ZHTP_ERR_STORE_EXPIRED;
        if (expiry - nn > d->cfg.chunk_ttl) /* untrusted: a peer cannot pin a chunk forever */
            expiry = nn + d->cfg.chunk_ttl;
    } else {
        zhtp_dht_record r;
        if (zhtp_dht_record_parse(&r, m->val, m->val_len) != ZHTP_OK) {
            d->st.bad_records++;
            return ZHTP_ERR_DHT_VERIFY;
        }
        if (r.expiry <= net_now(d, now)) {
            d->st.expired_records++;
            return ZHTP_ERR_STORE_EXPIRED;
        }
        memcpy(key, r.key, sizeof key);
        seq = r.seq;
        expiry = r.expiry;
        const uint8_t *old;
        size_t old_len;
        uint64_t old_seq;
        if (store_read(d, m->kind, key, &old, &old_len, &old_seq, now) == ZHTP_OK) {
            /* An older sequence never replaces a newer one; the same sequence is accepted
             * only as the identical record (a republish), never as a different one. */
            if (seq < old_seq ||
                (seq == old_seq && (old_len != m->val_len || memcmp(old, m->val, old_len)))) {
                d->st.stale_records++;
                return ZHTP_ERR_STORE_STALE;
            }
        }
    }
    /* Charged to the peer that asked, when the backend keeps per-peer quotas. */
    int rc = d->cfg.store_put_from ? d->cfg.store_put_from(d->cfg.store.user_data, from, m->kind,
                                                           key, m->val, m->val_len, expiry)
                                   : d->cfg.store.put(d->cfg.store.user_data, m->kind, key, m->val,
                                                      m->val_len, expiry);
    if (rc == ZHTP_OK)
        fresh_add(d, key); /* best effort: without memory we merely republish it too */
    return rc;
}

/* ---- receive ----------------------------------------------------------------------------- */

static int send_nodes(zhtp_dht *d, const uint8_t to[ZHTP_DHT_ID_LEN], uint64_t txid,
                      const uint8_t target[ZHTP_DHT_ID_LEN])
{
    uint8_t ids[ZHTP_DHT_K_MAX][ZHTP_DHT_ID_LEN];
    size_t n = dht_table_closest(&d->t, target, ids, d->cfg.k, to);
    dht_msg r = {.type = ZHTP_DHT_MSG_NODES, .txid = txid, .ids = ids[0], .n_ids = n};
    if (!d->cfg.locator.get || n == 0)
        return send_msg(d, to, &r);
    /* Each id with the locator the embedding layer knows for it (loc_len 0: none), so the
     * asker can route its next request (docs/dht.md "Locators"). */
    size_t cap = n * (1u + ZHTP_DHT_LOCATOR_MAX);
    uint8_t *locs = zhtp_mem_alloc(d->mem, cap);
    if (!locs)
        return ZHTP_ERR_NOMEM;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = d->cfg.locator.get(d->cfg.locator.user_data, ids[i], locs + at + 1,
                                      ZHTP_DHT_LOCATOR_MAX);
        if (l > ZHTP_DHT_LOCATOR_MAX)
            l = 0;
        locs[at] = (uint8_t)l;
        at += 1 + l;
    }
    r.flags = DHT_FLAG_LOCATORS;
    r.locs = locs;
    r.locs_len = at;
    int rc = send_msg(d, to, &r);
    zhtp_mem_free(d->mem, locs, cap);
    return rc;
}

/* ---- relayed fetch (docs/dht.md "Relayed fetch") ------------------------------------------ */

/* The AEAD key of a sealed value: only the holder (encapsulating) and the requester
 * (decapsulating) know ss. The key is single-use (fresh KEM secret per answer), so the
 * all-zero nonce never repeats under one key. */
static void relay_seal_key(uint8_t k[crypto_aead_chacha20poly1305_ietf_KEYBYTES],
                           const uint8_t ss[ZHTP_KEM_HYBRID_SSBYTES])
{
    zhtp_blake3_derive_key(k, crypto_aead_chacha20poly1305_ietf_KEYBYTES, RELAY_SEAL_CONTEXT, ss,
                           ZHTP_KEM_HYBRID_SSBYTES);
}

/* AD = kind || key: a sealed value answers exactly one (kind, key) question. */
static void relay_ad(uint8_t ad[1 + ZHTP_DHT_ID_LEN], uint8_t kind,
                     const uint8_t key[ZHTP_DHT_ID_LEN])
{
    ad[0] = kind;
    memcpy(ad + 1, key, ZHTP_DHT_ID_LEN);
}

/* Seals val to the ephemeral key pk: ct, and *box (len + 16 bytes, to free) under a key derived
 * from the KEM secret. ZHTP_ERR_CRYPTO_BADKEY when pk fails the KEM's checks. */
static int seal_value(zhtp_dht *d, const uint8_t *pk, uint8_t kind,
                      const uint8_t key[ZHTP_DHT_ID_LEN], const uint8_t *val, size_t len,
                      uint8_t ct[ZHTP_KEM_HYBRID_CIPHERTEXTBYTES], uint8_t **box)
{
    uint8_t seed[ZHTP_KEM_HYBRID_ENCAPS_SEEDBYTES], ss[ZHTP_KEM_HYBRID_SSBYTES];
    uint8_t k[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
    uint8_t ad[1 + ZHTP_DHT_ID_LEN], nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {0};
    d->cfg.rng(d->cfg.rng_user_data, seed, sizeof seed);
    int rc = zhtp_kem_hybrid_encaps_from_seed(ct, ss, pk, seed);
    zhtp_wipe(seed, sizeof seed);
    if (rc != ZHTP_OK) {
        zhtp_wipe(ss, sizeof ss);
        return rc;
    }
    relay_seal_key(k, ss);
    zhtp_wipe(ss, sizeof ss);
    *box = zhtp_mem_alloc(d->mem, len + 16);
    if (!*box) {
        zhtp_wipe(k, sizeof k);
        return ZHTP_ERR_NOMEM;
    }
    relay_ad(ad, kind, key);
    (void)crypto_aead_chacha20poly1305_ietf_encrypt(*box, NULL, val, len, ad, sizeof ad, NULL,
                                                    nonce, k);
    zhtp_wipe(k, sizeof k);
    return ZHTP_OK;
}

/* Holder: a RELAY_FETCH. Holding the value: seal it to the ephemeral key and answer SEALED;
 * otherwise NODES, as for FIND_VALUE. The sender is the relay; we never learn who asked it. */
static int relay_seal(zhtp_dht *d, const uint8_t to[ZHTP_DHT_ID_LEN], const dht_msg *m,
                      zhtp_time now)
{
    const uint8_t *val;
    size_t len;
    if (store_read(d, m->kind, m->target, &val, &len, NULL, now) != ZHTP_OK)
        return send_nodes(d, to, m->txid, m->target);
    uint8_t ct[ZHTP_KEM_HYBRID_CIPHERTEXTBYTES], *box = NULL;
    int rc = seal_value(d, m->pk, m->kind, m->target, val, len, ct, &box);
    if (rc == ZHTP_ERR_NOMEM)
        return rc;
    if (rc != ZHTP_OK) { /* an ephemeral key that fails the checks: a malformed request */
        d->st.bad_msgs++;
        return ZHTP_OK;
    }
    dht_msg r = {.type = ZHTP_DHT_MSG_SEALED,
                 .txid = m->txid,
                 .kind = m->kind,
                 .ct = ct,
                 .val = box,
                 .val_len = len};
    rc = send_msg(d, to, &r);
    zhtp_mem_free(d->mem, box, len + 16);
    if (rc == ZHTP_OK)
        d->st.sealed_served++;
    return rc;
}

static int relay_refuse(zhtp_dht *d, const uint8_t to[ZHTP_DHT_ID_LEN], uint64_t txid, int status)
{
    d->st.relays_refused++;
    dht_msg r = {.type = ZHTP_DHT_MSG_RELAY_RESULT, .txid = txid, .status = (int16_t)status};
    return send_msg(d, to, &r);
}

/* Relay: a RELAY_GET. Runs a lookup for the requester whose queries carry only the key and
 * the ephemeral public key; the requester's id stays here (op->peer). At most max_relays at
 * once: a relay's work is bounded whatever its neighbours send. */
static int relay_start(zhtp_dht *d, const uint8_t from[ZHTP_DHT_ID_LEN], const dht_msg *m,
                       zhtp_time now)
{
    if (d->relays >= d->cfg.max_relays)
        return relay_refuse(d, from, m->txid, ZHTP_ERR_SESSION_LIMIT);
    if (zhtp_kem_hybrid_pk_parse(NULL, m->pk, ZHTP_KEM_HYBRID_PUBLICKEYBYTES) != ZHTP_OK)
        return relay_refuse(d, from, m->txid, ZHTP_ERR_INVAL);
    /* The relay holds it itself: seal and answer at once (it knows the key anyway). Without
     * this a value held only by the relay would be "not found", since a lookup never asks
     * its own node. */
    const uint8_t *val;
    size_t len;
    if (store_read(d, m->kind, m->target, &val, &len, NULL, now) == ZHTP_OK) {
        uint8_t ct[ZHTP_KEM_HYBRID_CIPHERTEXTBYTES], *box = NULL;
        int rc = seal_value(d, m->pk, m->kind, m->target, val, len, ct, &box);
        if (rc == ZHTP_ERR_NOMEM)
            return rc;
        if (rc)
            return relay_refuse(d, from, m->txid, ZHTP_ERR_INVAL);
        dht_msg r = {.type = ZHTP_DHT_MSG_RELAY_RESULT,
                     .txid = m->txid,
                     .kind = m->kind,
                     .ct = ct,
                     .val = box,
                     .val_len = len};
        rc = send_msg(d, from, &r);
        zhtp_mem_free(d->mem, box, len + 16);
        if (rc == ZHTP_OK) {
            d->st.relays_started++;
            d->st.sealed_served++;
        }
        return rc;
    }
    dht_op *op = op_new(d, OP_RELAY, m->target, now, true);
    if (!op)
        return ZHTP_ERR_NOMEM;
    d->relays++; /* op_free of an OP_RELAY gives it back */
    op->buf = zhtp_mem_alloc(d->mem, ZHTP_KEM_HYBRID_PUBLICKEYBYTES);
    if (!op->buf) {
        op_free(d, op);
        return ZHTP_ERR_NOMEM;
    }
    memcpy(op->buf, m->pk, ZHTP_KEM_HYBRID_PUBLICKEYBYTES);
    op->buf_len = ZHTP_KEM_HYBRID_PUBLICKEYBYTES;
    op->kind = m->kind;
    memcpy(op->peer, from, ZHTP_DHT_ID_LEN);
    op->peer_txid = m->txid;
    d->st.relays_started++;
    int rc = op_start(d, op, now, NULL);
    if (rc == ZHTP_ERR_NOMEM && op->used && op->rpcs == 0) {
        op_free(d, op);
        return rc;
    }
    return ZHTP_OK;
}

/* Relay: the lookup ended; forward the sealed blob (or the failure) to the requester. Best
 * effort: without memory for the answer the requester times out. */
static void relay_answer(zhtp_dht *d, dht_op *op, int status)
{
    dht_msg r = {
        .type = ZHTP_DHT_MSG_RELAY_RESULT, .txid = op->peer_txid, .status = (int16_t)status};
    if (status == ZHTP_OK) {
        r.kind = op->kind;
        r.ct = op->value;
        r.val = op->value + ZHTP_KEM_HYBRID_CIPHERTEXTBYTES;
        r.val_len = op->plain_len;
    }
    (void)send_msg(d, op->peer, &r);
}

/* Relay: a SEALED answer to one of our RELAY_FETCHes. We cannot open it (that is the point),
 * only check its form; the first one ends the lookup. */
static int relay_take_sealed(zhtp_dht *d, dht_op *op, dht_cand *c, const dht_msg *m, zhtp_time now)
{
    size_t n = ZHTP_KEM_HYBRID_CIPHERTEXTBYTES + m->val_len + 16;
    uint8_t *v = zhtp_mem_alloc(d->mem, n);
    if (!v)
        return ZHTP_ERR_NOMEM;
    memcpy(v, m->ct, ZHTP_KEM_HYBRID_CIPHERTEXTBYTES);
    memcpy(v + ZHTP_KEM_HYBRID_CIPHERTEXTBYTES, m->val, m->val_len + 16);
    op->value = v;
    op->value_len = n;
    op->plain_len = m->val_len;
    op->found = true;
    op->hops = c->depth;
    return lookup_done(d, op->index, now);
}

/* Requester: the relay's answer. Opens and verifies the value before anyone sees it. */
static int relay_open(zhtp_dht *d, dht_op *op, const dht_msg *m, zhtp_time now)
{
    if (m->status != 0) {
        int st = m->status;
        if (st != ZHTP_ERR_DHT_NOT_FOUND && st != ZHTP_ERR_SESSION_LIMIT &&
            st != ZHTP_ERR_DHT_VERIFY)
            st = ZHTP_ERR_DHT_TIMEOUT;
        op_finish(d, op, st, now);
        return ZHTP_OK;
    }
    uint8_t ss[ZHTP_KEM_HYBRID_SSBYTES], k[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
    uint8_t ad[1 + ZHTP_DHT_ID_LEN], nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {0};
    uint8_t *plain = zhtp_mem_alloc(d->mem, m->val_len);
    if (!plain)
        return ZHTP_ERR_NOMEM;
    int ok = m->kind == op->kind &&
             zhtp_kem_hybrid_decaps(ss, m->ct, ZHTP_KEM_HYBRID_CIPHERTEXTBYTES, op->buf) == ZHTP_OK;
    if (ok) {
        relay_seal_key(k, ss);
        relay_ad(ad, op->kind, op->target);
        ok = crypto_aead_chacha20poly1305_ietf_decrypt(plain, NULL, NULL, m->val, m->val_len + 16,
                                                       ad, sizeof ad, nonce, k) == 0;
        zhtp_wipe(k, sizeof k);
    }
    zhtp_wipe(ss, sizeof ss);
    if (ok)
        ok = value_check(d, op->kind, op->target, plain, m->val_len, now, NULL, NULL) == ZHTP_OK;
    if (!ok) {
        d->st.sealed_rejected++;
        zhtp_mem_free(d->mem, plain, m->val_len);
        op_finish(d, op, ZHTP_ERR_DHT_VERIFY, now);
        return ZHTP_OK;
    }
    op->value = plain;
    op->value_len = m->val_len;
    op->found = true;
    op->hops = 1;
    op_finish(d, op, ZHTP_OK, now);
    return ZHTP_OK;
}

static int handle_request(zhtp_dht *d, const uint8_t from[ZHTP_DHT_ID_LEN], const dht_msg *m,
                          zhtp_time now)
{
    switch (m->type) {
    case ZHTP_DHT_MSG_PING: {
        dht_msg r = {.type = ZHTP_DHT_MSG_PONG, .txid = m->txid};
        return send_msg(d, from, &r);
    }
    case ZHTP_DHT_MSG_FIND_NODE:
        return send_nodes(d, from, m->txid, m->target);
    case ZHTP_DHT_MSG_FIND_VALUE: {
        const uint8_t *val;
        size_t len;
        if (store_read(d, m->kind, m->target, &val, &len, NULL, now) == ZHTP_OK) {
            dht_msg r = {.type = ZHTP_DHT_MSG_VALUE,
                         .txid = m->txid,
                         .kind = m->kind,
                         .val = val,
                         .val_len = len};
            return send_msg(d, from, &r);
        }
        return send_nodes(d, from, m->txid, m->target);
    }
    case ZHTP_DHT_MSG_STORE: {
        int st = handle_store(d, from, m, now);
        if (st == ZHTP_ERR_NOMEM)
            return st;
        dht_msg r = {.type = ZHTP_DHT_MSG_STORE_ACK, .txid = m->txid, .status = (int16_t)st};
        return send_msg(d, from, &r);
    }
    case ZHTP_DHT_MSG_RELAY_GET:
        return relay_start(d, from, m, now);
    case ZHTP_DHT_MSG_RELAY_FETCH:
        return relay_seal(d, from, m, now);
    default:
        return ZHTP_OK;
    }
}

static int handle_response(zhtp_dht *d, const uint8_t from[ZHTP_DHT_ID_LEN], const dht_msg *m,
                           zhtp_time now)
{
    dht_rpc r;
    if (!rpc_take(d, m->txid, from, &r)) {
        d->st.unexpected++;
        return ZHTP_OK;
    }
    bool type_ok = (r.type == ZHTP_DHT_MSG_PING && m->type == ZHTP_DHT_MSG_PONG) ||
                   (r.type == ZHTP_DHT_MSG_FIND_NODE && m->type == ZHTP_DHT_MSG_NODES) ||
                   (r.type == ZHTP_DHT_MSG_FIND_VALUE &&
                    (m->type == ZHTP_DHT_MSG_NODES || m->type == ZHTP_DHT_MSG_VALUE)) ||
                   (r.type == ZHTP_DHT_MSG_STORE && m->type == ZHTP_DHT_MSG_STORE_ACK) ||
                   (r.type == ZHTP_DHT_MSG_RELAY_GET && m->type == ZHTP_DHT_MSG_RELAY_RESULT) ||
                   (r.type == ZHTP_DHT_MSG_RELAY_FETCH &&
                    (m->type == ZHTP_DHT_MSG_NODES ||
                     (m->type == ZHTP_DHT_MSG_SEALED && m->kind == d->ops[r.op]->kind)));
    if (r.op < 0) { /* a bucket liveness ping: the answer itself refreshed the contact */
        set_ping_pending(d, &d->t.b[dht_bucket_index(d->t.self, from)], false);
        return ZHTP_OK;
    }
    dht_op *op = d->ops[r.op];
    if (!type_ok)
        d->st.unexpected++;
    if (op->phase == PH_STORE) {
        op->acks_pending--;
        if (type_ok && m->status == ZHTP_OK)
            op->acks_ok++;
        else if (type_ok && m->status == ZHTP_ERR_STORE_QUOTA)
            op->acks_quota++;
        if (op->acks_pending == 0)
            op_finish(d, op,
                      op->acks_ok      ? ZHTP_OK
                      : op->acks_quota ? ZHTP_ERR_STORE_QUOTA
                                       : ZHTP_ERR_DHT_TIMEOUT,
                      now);
        return ZHTP_OK;
    }
    dht_cand *c = cand_find(op, from);
    if (!c || c->state != C_INFLIGHT)
        return ZHTP_OK;
    uint8_t p = c->path;
    op->inflight[p]--;
    if (!type_ok) {
        c->state = C_FAILED;
        return op_advance(d, r.op, now);
    }
    c->state = C_DONE;
    op->any_answer = true;
    if (op->type == OP_RGET)
        return relay_open(d, op, m, now);
    if (m->type == ZHTP_DHT_MSG_SEALED)
        return relay_take_sealed(d, op, c, m, now);
    if (m->type == ZHTP_DHT_MSG_VALUE) {
        uint64_t seq = 0;
        if (m->kind != op->kind ||
            value_check(d, m->kind, op->target, m->val, m->val_len, now, &seq, NULL) != ZHTP_OK) {
            /* forged or wrong: this node is no use to the lookup */
            c->state = C_FAILED;
            op->any_forged = true;
            return op_advance(d, r.op, now);
        }
        if (!op->found || (op->type == OP_RESOLVE && seq > op->best_seq)) {
            uint8_t *v = zhtp_mem_alloc(d->mem, m->val_len);
            if (!v)
                return ZHTP_ERR_NOMEM;
            memcpy(v, m->val, m->val_len);
            zhtp_mem_free(d->mem, op->value, op->value_len ? op->value_len : 1);
            op->value = v;
            op->value_len = m->val_len;
            op->best_seq = seq;
            op->found = true;
            op->hops = c->depth;
        }
        if (op->type == OP_GET) /* a verified chunk is the answer; nothing can beat it */
            return lookup_done(d, r.op, now);
        op->path_done[p] = op->inflight[p] == 0;
        if (!op->path_done[p]) {
            /* let this path's outstanding requests drain, but send no new ones: mark the
             * remaining new candidates of the path as done-without-asking */
            for (size_t i = 0; i < op->n; i++)
                if (op->c[i].path == p && op->c[i].state == C_NEW)
                    op->c[i].state = C_FAILED;
        }
        return op_advance(d, r.op, now);
    }
    uint8_t depth = (uint8_t)(c->depth < 255 ? c->depth + 1 : 255);
    const uint8_t *loc = m->locs; /* the decoder checked every loc_len against the bytes */
    for (size_t i = 0; i < m->n_ids; i++) {
        const uint8_t *id = m->ids + 32 * i; /* untrusted: only a candidate, never a contact */
        const uint8_t *this_loc = loc;
        if (loc)
            loc += 1u + loc[0];
        if (d->cfg.puzzle_bits && !zhtp_dht_puzzle_ok(id, d->cfg.puzzle_bits)) {
            d->st.puzzle_rejects++;
            continue;
        }
        /* Untrusted too: a routing hint for reaching the candidate, nothing more. */
        if (this_loc && this_loc[0] && d->cfg.locator.put &&
            memcmp(id, d->t.self, ZHTP_DHT_ID_LEN) != 0)
            d->cfg.locator.put(d->cfg.locator.user_data, id, this_loc + 1, this_loc[0]);
        cand_add(d, op, id, p, depth);
    }
    return op_advance(d, r.op, now);
}

static bool is_request(uint8_t type)
{
    return type == ZHTP_DHT_MSG_PING || type == ZHTP_DHT_MSG_FIND_NODE ||
           type == ZHTP_DHT_MSG_FIND_VALUE || type == ZHTP_DHT_MSG_STORE ||
           type == ZHTP_DHT_MSG_RELAY_GET || type == ZHTP_DHT_MSG_RELAY_FETCH;
}

static bool rpc_pending(const zhtp_dht *d, uint64_t txid, const uint8_t from[ZHTP_DHT_ID_LEN])
{
    for (size_t i = 0; i < d->n_rpcs; i++)
        if (d->rpcs[i].txid == txid && memcmp(d->rpcs[i].to, from, ZHTP_DHT_ID_LEN) == 0)
            return true;
    return false;
}

static int dht_recv(zhtp_dht *d, const uint8_t from[ZHTP_DHT_ID_LEN], bool verified,
                    const uint8_t *buf, size_t len, zhtp_time now);

/* |from| was heard from: refreshed or added to its bucket. */
static int note_seen(zhtp_dht *d, const uint8_t from[ZHTP_DHT_ID_LEN], zhtp_time now)
{
    int seen = table_seen(d, from, now);
    if (seen == ZHTP_ERR_NOMEM)
        return seen;
    if (seen == DHT_SEEN_CACHED) {
        /* bucket full: ping its least recently seen contact; if it does not answer, the
         * newcomer (now in the replacement cache) takes its place */
        unsigned bi = dht_bucket_index(d->t.self, from);
        dht_bucket *b = &d->t.b[bi];
        if (!b->ping_pending) {
            dht_msg pm = {.type = ZHTP_DHT_MSG_PING};
            int rc = rpc_send(d, b->live[0].id, &pm, -1, now, d->cfg.ping_timeout);
            if (rc)
                return rc;
            set_ping_pending(d, b, true);
        }
    }
    return ZHTP_OK;
}

int zhtp_dht_recv(zhtp_dht *d, const uint8_t from[ZHTP_DHT_ID_LEN], const uint8_t *buf, size_t len,
                  zhtp_time now)
{
    return dht_recv(d, from, true, buf, len, now);
}

int zhtp_dht_recv_unverified(zhtp_dht *d, const uint8_t from[ZHTP_DHT_ID_LEN], const uint8_t *buf,
                             size_t len, zhtp_time now)
{
    return dht_recv(d, from, false, buf, len, now);
}

static int dht_recv(zhtp_dht *d, const uint8_t from[ZHTP_DHT_ID_LEN], bool verified,
                    const uint8_t *buf, size_t len, zhtp_time now)
{
    if (!d || !from || !buf)
        return ZHTP_ERR_INVAL;
    d->st.msgs_in++;
    dht_msg m;
    if (dht_msg_decode(&m, buf, len) != ZHTP_OK) {
        d->st.bad_msgs++;
        return ZHTP_OK;
    }
    if (memcmp(from, d->t.self, ZHTP_DHT_ID_LEN) == 0)
        return ZHTP_OK;
    if (d->cfg.puzzle_bits && !zhtp_dht_puzzle_ok(from, d->cfg.puzzle_bits)) {
        d->st.puzzle_rejects++;
        return ZHTP_OK;
    }
    /* An unverified source enters the table only by answering a request we sent it: the
     * random txid is what an off-path forger cannot guess (docs/dht.md "Over the mesh"). */
    if (verified || (!is_request(m.type) && rpc_pending(d, m.txid, from))) {
        int rc = note_seen(d, from, now);
        if (rc)
            return rc;
    }
    switch (m.type) {
    case ZHTP_DHT_MSG_PING:
    case ZHTP_DHT_MSG_FIND_NODE:
    case ZHTP_DHT_MSG_FIND_VALUE:
    case ZHTP_DHT_MSG_STORE:
    case ZHTP_DHT_MSG_RELAY_GET:
    case ZHTP_DHT_MSG_RELAY_FETCH:
        return handle_request(d, from, &m, now);
    default:
        return handle_response(d, from, &m, now);
    }
}

/* ---- time -------------------------------------------------------------------------------- */

zhtp_time dht_next_deadline_scan(const zhtp_dht *d)
{
    zhtp_time t = d->next_republish;
    for (int bi = 0; bi < 256; bi++) {
        const dht_bucket *b = &d->t.b[bi];
        if (b->n_live && !b->ping_pending && b->live[0].last_seen + d->cfg.refresh_interval < t)
            t = b->live[0].last_seen + d->cfg.refresh_interval;
    }
    for (size_t i = 0; i < d->n_rpcs; i++)
        if (d->rpcs[i].deadline < t)
            t = d->rpcs[i].deadline;
    return t;
}

zhtp_time zhtp_dht_next_deadline(zhtp_dht *d)
{
    if (!d->due_valid) {
        d->due = dht_next_deadline_scan(d);
        d->due_valid = true;
    }
    return d->due;
}

typedef struct repub_ctx {
    zhtp_dht *d;
    uint8_t (*keys)[ZHTP_DHT_ID_LEN];
    uint8_t *kinds;
    size_t n, cap;
} repub_ctx;

static int repub_collect(void *ctx, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN],
                         const uint8_t *val, size_t len, uint64_t expiry)
{
    (void)val;
    (void)len;
    (void)expiry;
    repub_ctx *r = ctx;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        uint8_t(*nk)[ZHTP_DHT_ID_LEN] = zhtp_mem_alloc(r->d->mem, nc * ZHTP_DHT_ID_LEN);
        uint8_t *nkind = zhtp_mem_alloc(r->d->mem, nc);
        if (!nk || !nkind) {
            zhtp_mem_free(r->d->mem, nk, nc * ZHTP_DHT_ID_LEN);
            zhtp_mem_free(r->d->mem, nkind, nc);
            return 1;
        }
        if (r->n) {
            memcpy(nk, r->keys, r->n * ZHTP_DHT_ID_LEN);
            memcpy(nkind, r->kinds, r->n);
        }
        zhtp_mem_free(r->d->mem, r->keys, r->cap * ZHTP_DHT_ID_LEN);
        zhtp_mem_free(r->d->mem, r->kinds, r->cap);
        r->keys = nk;
        r->kinds = nkind;
        r->cap = nc;
    }
    memcpy(r->keys[r->n], key, ZHTP_DHT_ID_LEN);
    r->kinds[r->n++] = kind;
    return 0;
}

/* Every holder republishes what it holds to the k closest nodes it can find now: this is the
 * re-replication that replaces holders which left. Expired or corrupt entries are dropped. */
static int republish(zhtp_dht *d, zhtp_time now)
{
    repub_ctx r = {.d = d};
    d->cfg.store.each(d->cfg.store.user_data, repub_collect, &r);
    int rc = ZHTP_OK;
    for (size_t i = 0; i < r.n && rc == ZHTP_OK; i++) {
        const uint8_t *val;
        size_t len;
        uint64_t exp = 0;
        if (store_read(d, r.kinds[i], r.keys[i], &val, &len, NULL, now) != ZHTP_OK)
            continue;
        if (fresh_has(d, r.keys[i])) {
            d->st.republish_skipped++;
            continue;
        }
        d->cfg.store.get(d->cfg.store.user_data, r.kinds[i], r.keys[i], &val, &len, &exp);
        dht_op *op = op_new(d, OP_REPUBLISH, r.keys[i], now, true);
        if (!op) {
            rc = ZHTP_ERR_NOMEM;
            break;
        }
        op->value = zhtp_mem_alloc(d->mem, len);
        if (!op->value) {
            op_free(d, op);
            rc = ZHTP_ERR_NOMEM;
            break;
        }
        memcpy(op->value, val, len);
        op->value_len = len;
        op->kind = r.kinds[i];
        op->expiry = exp;
        d->st.republished++;
        rc = op_start(d, op, now, NULL);
    }
    zhtp_mem_free(d->mem, r.keys, r.cap * ZHTP_DHT_ID_LEN);
    zhtp_mem_free(d->mem, r.kinds, r.cap);
    return rc;
}

static zhtp_time republish_jitter(zhtp_dht *d)
{
    /* +-10 % so that the holders of one key do not all republish at the same instant */
    zhtp_time iv = d->cfg.republish_interval;
    return iv - iv / 10 + rng_u64(d) % (iv / 5 + 1);
}

int zhtp_dht_tick(zhtp_dht *d, zhtp_time now)
{
    /* A tick runs when the earliest deadline passed and rewrites many of them (expired
     * requests, failed contacts, liveness pings, republish): one rescan on the next
     * next_deadline call is simpler and as cheap as tracking each of those changes. */
    d->due_valid = false;
    int rc = ZHTP_OK;
    for (size_t i = 0; i < d->n_rpcs;) {
        if (d->rpcs[i].deadline > now) {
            i++;
            continue;
        }
        dht_rpc r = d->rpcs[i];
        rpc_drop_at(d, i);
        d->st.timeouts++;
        if (r.op < 0) { /* liveness ping unanswered: evict, the replacement moves in */
            set_ping_pending(d, &d->t.b[dht_bucket_index(d->t.self, r.to)], false);
            if (dht_table_contains(&d->t, r.to)) {
                dht_table_remove(&d->t, r.to);
                d->st.evictions++;
            }
            continue;
        }
        dht_table_fail(&d->t, r.to);
        dht_op *op = d->ops[r.op];
        if (op->phase == PH_STORE) {
            if (--op->acks_pending == 0)
                op_finish(d, op,
                          op->acks_ok      ? ZHTP_OK
                          : op->acks_quota ? ZHTP_ERR_STORE_QUOTA
                                           : ZHTP_ERR_DHT_TIMEOUT,
                          now);
            continue;
        }
        dht_cand *c = cand_find(op, r.to);
        if (c && c->state == C_INFLIGHT) {
            c->state = C_FAILED;
            op->inflight[c->path]--;
            int e = op_advance(d, r.op, now);
            if (e && !rc)
                rc = e;
        }
        i = 0; /* op_advance may have added or removed rpcs */
    }
    /* Liveness: the least recently seen contact of each bucket, once silent for
     * refresh_interval, is pinged; no answer evicts it. Without this a dead node stays in
     * every table that does not happen to query it, and the k closest a lookup can learn of
     * may all be dead (then republish cannot find new holders). */
    for (int bi = 0; bi < 256 && rc == ZHTP_OK; bi++) {
        dht_bucket *b = &d->t.b[bi];
        if (!b->n_live || b->ping_pending || b->live[0].last_seen + d->cfg.refresh_interval > now)
            continue;
        dht_msg pm = {.type = ZHTP_DHT_MSG_PING};
        rc = rpc_send(d, b->live[0].id, &pm, -1, now, d->cfg.ping_timeout);
        if (rc == ZHTP_OK)
            set_ping_pending(d, b, true);
    }
    if (now >= d->next_republish) {
        d->next_republish = now + republish_jitter(d);
        int e = republish(d, now);
        fresh_clear(d);
        if (e && !rc)
            rc = e;
    }
    return rc;
}

/* ---- public operations ------------------------------------------------------------------- */

int zhtp_dht_new(zhtp_dht **out, const zhtp_dht_config *cfg, const uint8_t self[ZHTP_DHT_ID_LEN],
                 zhtp_time now)
{
    if (!out || !cfg || !self || !cfg->rng || !cfg->store.put || !cfg->store.get ||
        !cfg->store.del || !cfg->store.each)
        return ZHTP_ERR_INVAL;
    zhtp_dht_config c = *cfg;
    if (!c.k)
        c.k = ZHTP_DHT_K_DEFAULT;
    if (!c.alpha)
        c.alpha = ZHTP_DHT_ALPHA_DEF;
    if (!c.paths)
        c.paths = 1;
    if (!c.rpc_timeout)
        c.rpc_timeout = ZHTP_NS_PER_SEC;
    if (!c.ping_timeout)
        c.ping_timeout = ZHTP_NS_PER_SEC;
    if (!c.republish_interval)
        c.republish_interval = 3600 * ZHTP_NS_PER_SEC;
    if (!c.chunk_ttl)
        c.chunk_ttl = 24 * 3600 * ZHTP_NS_PER_SEC;
    if (!c.refresh_interval)
        c.refresh_interval = 15 * 60 * ZHTP_NS_PER_SEC;
    if (!c.content_max)
        c.content_max = 64u << 20;
    if (!c.max_lookups)
        c.max_lookups = 64;
    if (!c.relay_timeout)
        c.relay_timeout = 5 * ZHTP_NS_PER_SEC;
    if (!c.max_relays)
        c.max_relays = 16;
    if (c.k > ZHTP_DHT_K_MAX || c.paths > ZHTP_DHT_PATHS_MAX || c.puzzle_bits > 256)
        return ZHTP_ERR_INVAL;
    if (c.puzzle_bits && !zhtp_dht_puzzle_ok(self, c.puzzle_bits))
        return ZHTP_ERR_INVAL;
    zhtp_dht *d = zhtp_mem_alloc(c.mem, sizeof *d);
    if (!d)
        return ZHTP_ERR_NOMEM;
    memset(d, 0, sizeof *d);
    d->cfg = c;
    d->mem = c.mem;
    dht_table_init(&d->t, c.mem, self, c.k);
    d->next_txid = rng_u64(d);
    d->next_republish = now + republish_jitter(d);
    *out = d;
    return ZHTP_OK;
}

void zhtp_dht_free(zhtp_dht *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_ops; i++) {
        if (d->ops[i] && d->ops[i]->used)
            op_free(d, d->ops[i]);
        zhtp_mem_free(d->mem, d->ops[i], sizeof **d->ops);
    }
    zhtp_mem_free(d->mem, d->ops, d->n_ops * sizeof *d->ops);
    zhtp_mem_free(d->mem, d->rpcs, d->cap_rpcs * sizeof *d->rpcs);
    while (d->out_head) {
        dht_out *o = d->out_head;
        d->out_head = o->next;
        zhtp_mem_free(d->mem, o, sizeof *o + o->len);
    }
    while (d->ev_head) {
        dht_evq *e = d->ev_head;
        d->ev_head = e->next;
        ev_free(d, e);
    }
    ev_free(d, d->ev_last);
    fresh_clear(d);
    dht_table_clear(&d->t);
    zhtp_mem_free(d->mem, d, sizeof *d);
}

int zhtp_dht_add_contact(zhtp_dht *d, const uint8_t id[ZHTP_DHT_ID_LEN], zhtp_time now)
{
    if (!d || !id || memcmp(id, d->t.self, ZHTP_DHT_ID_LEN) == 0)
        return ZHTP_ERR_INVAL;
    if (d->cfg.puzzle_bits && !zhtp_dht_puzzle_ok(id, d->cfg.puzzle_bits)) {
        d->st.puzzle_rejects++;
        return ZHTP_ERR_DHT_PUZZLE;
    }
    int rc = table_seen(d, id, now);
    return rc < 0 ? rc : ZHTP_OK;
}

void zhtp_dht_peer_lost(zhtp_dht *d, const uint8_t id[ZHTP_DHT_ID_LEN])
{
    if (d && id)
        table_remove(d, id);
}

static int start_or_undo(zhtp_dht *d, dht_op *op, zhtp_time now, uint64_t *opid)
{
    int rc = op_start(d, op, now, opid);
    /* A failed allocation mid-start leaves requests already queued; the op stays and its
     * timeouts finish it. Only a NOMEM before anything was sent undoes it fully. */
    if (rc == ZHTP_ERR_NOMEM && op->rpcs == 0 && op->used) {
        op_free(d, op);
        return rc;
    }
    return ZHTP_OK;
}

static int busy_or_nomem(zhtp_dht *d)
{
    return d->user_ops >= d->cfg.max_lookups ? ZHTP_ERR_SESSION_LIMIT : ZHTP_ERR_NOMEM;
}

int zhtp_dht_bootstrap(zhtp_dht *d, zhtp_time now, uint64_t *opid)
{
    if (!d)
        return ZHTP_ERR_INVAL;
    dht_op *op = op_new(d, OP_BOOTSTRAP, d->t.self, now, false);
    if (!op)
        return busy_or_nomem(d);
    return start_or_undo(d, op, now, opid);
}

int zhtp_dht_locate(zhtp_dht *d, const uint8_t id[ZHTP_DHT_ID_LEN], zhtp_time now)
{
    if (!d || !id)
        return ZHTP_ERR_INVAL;
    /* A bootstrap-style FIND_NODE lookup toward |id| (our own id: a silent bootstrap),
     * internal: no event. What the caller wants are the locators the NODES answers carry
     * (cfg.locator.put), and the contacts that answer. */
    dht_op *op = op_new(d, OP_BOOTSTRAP, id, now, true);
    if (!op)
        return ZHTP_ERR_NOMEM;
    return start_or_undo(d, op, now, NULL);
}

static void set_parent(dht_op *op, const dht_op *parent, uint32_t child)
{
    if (parent) {
        op->parent = parent->index;
        op->parent_id = parent->id;
        op->child = child;
    }
}

static int start_store(zhtp_dht *d, uint8_t type, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN],
                       const uint8_t *bytes, size_t len, uint64_t expiry, zhtp_time now,
                       uint64_t *opid, const dht_op *parent, uint32_t child)
{
    dht_op *op = op_new(d, type, key, now, parent != NULL);
    if (!op)
        return parent ? ZHTP_ERR_NOMEM : busy_or_nomem(d);
    set_parent(op, parent, child);
    op->value = zhtp_mem_alloc(d->mem, len);
    if (!op->value) {
        op_free(d, op);
        return ZHTP_ERR_NOMEM;
    }
    memcpy(op->value, bytes, len);
    op->value_len = len;
    op->kind = kind;
    op->expiry = expiry;
    return start_or_undo(d, op, now, opid);
}

int zhtp_dht_put(zhtp_dht *d, const uint8_t *bytes, size_t len, uint8_t key[ZHTP_DHT_ID_LEN],
                 zhtp_time now, uint64_t *opid)
{
    if (!d || !bytes || len < 1 || len > ZHTP_DHT_CHUNK_MAX)
        return ZHTP_ERR_INVAL;
    uint8_t k[ZHTP_DHT_ID_LEN];
    zhtp_blake3_hash(k, sizeof k, bytes, len);
    if (key)
        memcpy(key, k, sizeof k);
    return start_store(d, OP_PUT, ZHTP_DHT_KIND_CHUNK, k, bytes, len,
                       net_now(d, now) + d->cfg.chunk_ttl, now, opid, NULL, 0);
}

int zhtp_dht_publish(zhtp_dht *d, const uint8_t *rec, size_t len, zhtp_time now, uint64_t *opid)
{
    if (!d || !rec)
        return ZHTP_ERR_INVAL;
    zhtp_dht_record r;
    if (zhtp_dht_record_parse(&r, rec, len) != ZHTP_OK || r.expiry <= net_now(d, now))
        return ZHTP_ERR_INVAL;
    return start_store(d, OP_PUBLISH, ZHTP_DHT_KIND_RECORD, r.key, rec, len, r.expiry, now, opid,
                       NULL, 0);
}

static int start_find(zhtp_dht *d, uint8_t type, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN],
                      zhtp_time now, uint64_t *opid, const dht_op *parent, uint32_t child)
{
    if (!d || !key)
        return ZHTP_ERR_INVAL;
    dht_op *op = op_new(d, type, key, now, parent != NULL);
    if (!op)
        return parent ? ZHTP_ERR_NOMEM : busy_or_nomem(d);
    set_parent(op, parent, child);
    op->kind = kind;
    /* our own store answers first */
    const uint8_t *val;
    size_t len;
    uint64_t seq = 0;
    if (store_read(d, kind, key, &val, &len, &seq, now) == ZHTP_OK) {
        op->value = zhtp_mem_alloc(d->mem, len);
        if (!op->value) {
            op_free(d, op);
            return ZHTP_ERR_NOMEM;
        }
        memcpy(op->value, val, len);
        op->value_len = len;
        op->found = true;
        op->best_seq = seq;
        if (opid)
            *opid = op->id;
        if (type == OP_GET) {
            op_finish(d, op, ZHTP_OK, now);
            return ZHTP_OK;
        }
    }
    return start_or_undo(d, op, now, opid);
}

int zhtp_dht_get(zhtp_dht *d, const uint8_t key[ZHTP_DHT_ID_LEN], zhtp_time now, uint64_t *opid)
{
    return start_find(d, OP_GET, ZHTP_DHT_KIND_CHUNK, key, now, opid, NULL, 0);
}

int zhtp_dht_resolve(zhtp_dht *d, const uint8_t key[ZHTP_DHT_ID_LEN], zhtp_time now, uint64_t *opid)
{
    return start_find(d, OP_RESOLVE, ZHTP_DHT_KIND_RECORD, key, now, opid, NULL, 0);
}

/* ---- content: chunks under a manifest ---------------------------------------------------- */

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static size_t chunk_len_at(const dht_op *p, uint32_t i)
{
    uint64_t off = (uint64_t)i * p->chunk_size;
    uint64_t left = p->total - off;
    return (size_t)(left < p->chunk_size ? left : p->chunk_size);
}

/* Starts child i of content op p: a chunk put/get, or the manifest (CHILD_MANIFEST). */
static int content_child_start(zhtp_dht *d, dht_op *p, uint32_t i, zhtp_time now)
{
    uint8_t key[ZHTP_DHT_ID_LEN];
    if (p->type == OP_CPUT) {
        const uint8_t *bytes = i == CHILD_MANIFEST ? p->value : p->buf + (size_t)i * p->chunk_size;
        size_t len = i == CHILD_MANIFEST ? p->value_len : chunk_len_at(p, i);
        zhtp_blake3_hash(key, sizeof key, bytes, len);
        return start_store(d, OP_PUT, ZHTP_DHT_KIND_CHUNK, key, bytes, len,
                           net_now(d, now) + d->cfg.chunk_ttl, now, NULL, p, i);
    }
    if (i == CHILD_MANIFEST)
        memcpy(key, p->target, sizeof key);
    else
        memcpy(key, p->value + MANIFEST_HDR + (size_t)i * ZHTP_DHT_ID_LEN, sizeof key);
    return start_find(d, OP_GET, ZHTP_DHT_KIND_CHUNK, key, now, NULL, p, i);
}

/* Keeps up to ZHTP_DHT_CONTENT_PARALLEL children running; finishes p when all are done, or one
 * failed and the others drained. A child that completes at once re-enters through
 * content_child_done, which sees p->starting and leaves the loop to this frame. */
static void content_pump(zhtp_dht *d, dht_op *p, zhtp_time now)
{
    if (p->starting)
        return;
    p->starting = true;
    uint32_t total = p->type == OP_CPUT ? p->n_chunks + 1 : p->n_chunks;
    while (!p->cstatus && p->running < ZHTP_DHT_CONTENT_PARALLEL && p->next_child < total) {
        uint32_t i = p->next_child;
        if (p->type == OP_CPUT && i == p->n_chunks) {
            /* the manifest goes last, once every chunk is stored: a manifest that resolves
             * then names chunks that exist */
            if (p->running)
                break;
            i = CHILD_MANIFEST;
        }
        p->next_child++;
        p->running++;
        int rc = content_child_start(d, p, i, now);
        if (rc) {
            p->running--;
            p->cstatus = rc;
        }
    }
    p->starting = false;
    if (p->running == 0 && (p->cstatus || p->done_children == total))
        op_finish(d, p, p->cstatus, now);
}

static void content_child_done(zhtp_dht *d, int32_t pi, uint64_t pid, uint32_t ci, int status,
                               uint8_t *v, size_t vl, uint32_t rpcs, zhtp_time now)
{
    dht_op *p = pi >= 0 && (size_t)pi < d->n_ops ? d->ops[pi] : NULL;
    if (!p || !p->used || p->id != pid) {
        zhtp_mem_free(d->mem, v, vl ? vl : 1);
        return;
    }
    p->running--;
    p->rpcs += rpcs;
    if (status && !p->cstatus)
        p->cstatus = status;
    if (!status && p->type == OP_CGET && ci == CHILD_MANIFEST) {
        /* untrusted manifest: its hash matched root, but its author may be hostile */
        uint64_t total = vl >= MANIFEST_HDR ? get_le(v + 4, 8) : 0;
        uint64_t cs = vl >= MANIFEST_HDR ? get_le(v + 12, 4) : 0;
        uint64_t n = vl >= MANIFEST_HDR ? get_le(v + 16, 4) : 0;
        if (vl < MANIFEST_HDR || memcmp(v, MANIFEST_MAGIC, 4) || cs == 0 ||
            cs > ZHTP_DHT_CHUNK_MAX || total == 0 || total > d->cfg.content_max ||
            n != (total + cs - 1) / cs || vl != MANIFEST_HDR + (size_t)n * ZHTP_DHT_ID_LEN) {
            p->cstatus = ZHTP_ERR_DHT_VERIFY;
        } else if (!(p->buf = zhtp_mem_alloc(d->mem, (size_t)total))) {
            p->cstatus = ZHTP_ERR_NOMEM;
        } else {
            p->buf_len = (size_t)total;
            p->total = total;
            p->chunk_size = (uint32_t)cs;
            p->n_chunks = (uint32_t)n;
            p->value = v; /* kept: the chunk keys are read from it */
            p->value_len = vl;
            v = NULL;
            vl = 0;
            p->manifest_done = true;
            p->next_child = 0;
            p->done_children = 0;
        }
    } else if (!status && p->type == OP_CGET) {
        /* the child get verified BLAKE3(v) == key; the length must fit its slot too */
        if (vl != chunk_len_at(p, ci)) {
            p->cstatus = ZHTP_ERR_DHT_VERIFY;
        } else {
            memcpy(p->buf + (size_t)ci * p->chunk_size, v, vl);
            p->done_children++;
        }
    } else if (!status) {
        p->done_children++;
    }
    zhtp_mem_free(d->mem, v, vl ? vl : 1);
    content_pump(d, p, now);
}

int zhtp_dht_put_content(zhtp_dht *d, const uint8_t *bytes, size_t len, uint32_t chunk_size,
                         uint8_t root[ZHTP_DHT_ID_LEN], zhtp_time now, uint64_t *opid)
{
    if (!chunk_size)
        chunk_size = ZHTP_DHT_CONTENT_CHUNK_DEF;
    if (!d || !bytes || len == 0 || chunk_size > ZHTP_DHT_CHUNK_MAX)
        return ZHTP_ERR_INVAL;
    uint64_t n = ((uint64_t)len + chunk_size - 1) / chunk_size;
    if (n > (ZHTP_DHT_CHUNK_MAX - MANIFEST_HDR) / ZHTP_DHT_ID_LEN)
        return ZHTP_ERR_INVAL;
    size_t mlen = MANIFEST_HDR + (size_t)n * ZHTP_DHT_ID_LEN;
    uint8_t zero[ZHTP_DHT_ID_LEN] = {0};
    dht_op *p = op_new(d, OP_CPUT, zero, now, false);
    if (!p)
        return busy_or_nomem(d);
    p->buf = zhtp_mem_alloc(d->mem, len);
    if (p->buf)
        p->buf_len = len;
    p->value = zhtp_mem_alloc(d->mem, mlen);
    if (p->value)
        p->value_len = mlen;
    if (!p->buf || !p->value) {
        op_free(d, p);
        return ZHTP_ERR_NOMEM;
    }
    memcpy(p->buf, bytes, len);
    p->total = len;
    p->chunk_size = chunk_size;
    p->n_chunks = (uint32_t)n;
    memcpy(p->value, MANIFEST_MAGIC, 4);
    put_le(p->value + 4, len, 8);
    put_le(p->value + 12, chunk_size, 4);
    put_le(p->value + 16, n, 4);
    for (uint32_t i = 0; i < n; i++)
        zhtp_blake3_hash(p->value + MANIFEST_HDR + (size_t)i * ZHTP_DHT_ID_LEN, ZHTP_DHT_ID_LEN,
                         p->buf + (size_t)i * chunk_size, chunk_len_at(p, i));
    zhtp_blake3_hash(p->target, ZHTP_DHT_ID_LEN, p->value, mlen);
    if (root)
        memcpy(root, p->target, ZHTP_DHT_ID_LEN);
    if (opid)
        *opid = p->id;
    content_pump(d, p, now);
    return ZHTP_OK;
}

int zhtp_dht_get_content(zhtp_dht *d, const uint8_t root[ZHTP_DHT_ID_LEN], zhtp_time now,
                         uint64_t *opid)
{
    if (!d || !root)
        return ZHTP_ERR_INVAL;
    dht_op *p = op_new(d, OP_CGET, root, now, false);
    if (!p)
        return busy_or_nomem(d);
    if (opid)
        *opid = p->id;
    /* phase 1: the manifest alone (n_chunks stays 0 until it arrives) */
    p->starting = true;
    p->running = 1;
    int rc = content_child_start(d, p, CHILD_MANIFEST, now);
    p->starting = false;
    if (rc) {
        op_free(d, p);
        return rc;
    }
    if (p->running == 0)
        content_pump(d, p, now); /* the manifest was answered at once (held locally) */
    return ZHTP_OK;
}

int zhtp_dht_relay_get(zhtp_dht *d, const uint8_t relay[ZHTP_DHT_ID_LEN], uint8_t kind,
                       const uint8_t key[ZHTP_DHT_ID_LEN], zhtp_time now, uint64_t *opid)
{
    if (!d || !relay || !key || memcmp(relay, d->t.self, ZHTP_DHT_ID_LEN) == 0 ||
        (kind != ZHTP_DHT_KIND_CHUNK && kind != ZHTP_DHT_KIND_RECORD))
        return ZHTP_ERR_INVAL;
    dht_op *op = op_new(d, OP_RGET, key, now, false);
    if (!op)
        return busy_or_nomem(d);
    op->kind = kind;
    op->buf = zhtp_mem_alloc(d->mem, ZHTP_KEM_HYBRID_SECRETKEYBYTES);
    if (!op->buf) {
        op_free(d, op);
        return ZHTP_ERR_NOMEM;
    }
    op->buf_len = ZHTP_KEM_HYBRID_SECRETKEYBYTES;
    uint8_t seed[ZHTP_KEM_HYBRID_SEEDBYTES], pk[ZHTP_KEM_HYBRID_PUBLICKEYBYTES];
    d->cfg.rng(d->cfg.rng_user_data, seed, sizeof seed);
    int rc = zhtp_kem_hybrid_keypair_from_seed(pk, op->buf, seed);
    zhtp_wipe(seed, sizeof seed);
    if (rc != ZHTP_OK) {
        op_free(d, op);
        return rc;
    }
    cand_add(d, op, relay, 0, 1);
    dht_msg m = {.type = ZHTP_DHT_MSG_RELAY_GET, .kind = kind, .pk = pk};
    memcpy(m.target, key, ZHTP_DHT_ID_LEN);
    rc = rpc_send(d, relay, &m, op->index, now, d->cfg.relay_timeout);
    if (rc) {
        op_free(d, op);
        return rc;
    }
    op->c[0].state = C_INFLIGHT;
    op->inflight[0] = 1;
    op->rpcs = 1;
    if (opid)
        *opid = op->id;
    return ZHTP_OK;
}

const zhtp_dht_stats *zhtp_dht_get_stats(const zhtp_dht *d)
{
    return &d->st;
}

size_t zhtp_dht_table_size(const zhtp_dht *d)
{
    return d->t.size;
}

size_t zhtp_dht_closest(const zhtp_dht *d, const uint8_t target[ZHTP_DHT_ID_LEN],
                        uint8_t (*out)[ZHTP_DHT_ID_LEN], size_t max)
{
    return dht_table_closest(&d->t, target, out, max, NULL);
}
