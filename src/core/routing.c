/* The router: spanning tree, coordinates, greedy forwarding (docs/routing.md).
 *
 * State per node: one entry per neighbour (its announced root, cost and path), one per link, and
 * this node's own path. Nothing grows with the size of the network except the depth of the
 * tree, which bounds every path.
 *
 * Allocation happens only in link_up and recv, and always before anything is changed, so an
 * allocation failure leaves the router as it was. Parent selection never allocates: the own
 * path's capacity is kept at least one more than the deepest neighbour path held. */
#include <string.h>

#include "zhtp/routing.h"

#define DEFAULT_REFRESH_NS (2 * ZHTP_NS_PER_SEC)
#define DEFAULT_MARGIN_256 32u
/* Links to one neighbour costing more than this many times its cheapest link carry no share of
 * its traffic: a LoRa link beside WiFi would only add delay. */
#define SPREAD_FACTOR 4u
/* How many root sequence numbers a parent may lag behind the newest a neighbour offers. */
#define SEQ_LAG 4
#define REPEATS 2

typedef struct rlink {
    zhtp_route_link_id id;
    zhtp_route_medium medium;
    uint32_t nbr; /* index into nbrs */
    uint32_t rtt_us;
    uint32_t loss_ppm;
    uint32_t cost;
    int64_t swrr; /* smooth weighted round robin credit */
} rlink;

typedef struct nbr {
    uint8_t id[ZHTP_NODE_ID_LEN];
    uint8_t root_id[ZHTP_NODE_ID_LEN]; /* as announced; untrusted */
    uint32_t tag;
    uint32_t root_seq;
    uint32_t cost;      /* its cost to the root, as announced */
    uint32_t link_cost; /* cheapest link to it */
    zhtp_time last_heard;
    uint16_t port;       /* the port this node gave it */
    uint16_t their_port; /* the port it gave this node */
    uint16_t depth;
    uint16_t lcp;     /* its first lcp path entries equal the router's reference path */
    uint16_t suf_cap; /* capacity of the suffix arrays */
    uint16_t nlinks;
    bool has_info;
    bool contains_me; /* its path to the root runs through this node */
    bool is_dirty;    /* owes it an announcement */
    uint16_t *ports;  /* entries lcp..depth of its path (one allocation with tags) */
    uint32_t *tags;
} nbr;

struct zhtp_router {
    const zhtp_mem *mem;
    zhtp_route_rng_fn rng;
    zhtp_route_lookup_fn lookup;
    void *user_data;
    zhtp_time refresh_ns;
    uint32_t margin_256;

    uint8_t self_id[ZHTP_NODE_ID_LEN];
    uint32_t self_tag;
    uint8_t root_id[ZHTP_NODE_ID_LEN];
    uint32_t root_seq;
    uint32_t root_cost;
    uint32_t own_seq;       /* sequence number used while this node is the root */
    zhtp_time seq_heard_at; /* when root_seq last advanced */
    zhtp_time next_refresh; /* while root */
    /* After a change of root, parent or coordinates the announcement is repeated REPEATS more
     * times, refresh/8 apart: neighbours that lost it would otherwise forward on stale
     * coordinates until the next refresh. */
    zhtp_time repeat_at;
    uint8_t repeats_left;
    zhtp_time next_announce; /* periodic announcement to all neighbours */
    int32_t parent;          /* index into nbrs, -1 when root */
    uint16_t depth;
    uint16_t path_cap;
    uint16_t *ports; /* own path, path_cap entries each (one allocation) */
    uint32_t *tags;
    /* Neighbours' paths are stored as a shared prefix of this reference path plus their own
     * suffix: neighbours are close in the tree, so most of their paths coincide (measured:
     * 4-5x fewer entries at 10^3 nodes, more at larger depth). The reference is the own path
     * as of the last rebase. */
    uint16_t *ref_ports;
    uint32_t *ref_tags;
    uint16_t ref_depth;
    uint16_t ref_cap;

    /* The root given up for lost: its announcements up to dead_seq are ignored until dead_until,
     * so stale copies cannot revive it. */
    bool has_dead;
    uint8_t dead_root[ZHTP_NODE_ID_LEN];
    uint32_t dead_seq;
    zhtp_time dead_until;

    nbr *nbrs;
    uint32_t n_nbrs, cap_nbrs;
    rlink *links;
    uint32_t n_links, cap_links;
    uint16_t next_port;
    uint32_t dirty_cursor;

    size_t bytes;
    uint64_t changes;
};

static void *ralloc(zhtp_router *r, size_t n)
{
    void *p = zhtp_mem_alloc(r->mem, n);
    if (p)
        r->bytes += n;
    return p;
}

static void rfree(zhtp_router *r, void *p, size_t n)
{
    if (!p)
        return;
    zhtp_mem_free(r->mem, p, n);
    r->bytes -= n;
}

static size_t path_bytes(size_t cap)
{
    return cap * (sizeof(uint16_t) + sizeof(uint32_t));
}

/* One allocation holding cap tags then cap ports (tags first keeps them aligned). */
static int path_alloc(zhtp_router *r, size_t cap, uint16_t **ports, uint32_t **tags)
{
    uint32_t *t = ralloc(r, path_bytes(cap));
    if (!t)
        return ZHTP_ERR_NOMEM;
    *tags = t;
    *ports = (uint16_t *)(t + cap);
    return ZHTP_OK;
}

static void path_free(zhtp_router *r, uint32_t *tags, size_t cap)
{
    rfree(r, tags, path_bytes(cap));
}

static uint32_t tag_of(const uint8_t *id)
{
    return (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | id[3];
}

/* Entry i of neighbour n's path. */
static uint16_t nport(const zhtp_router *r, const nbr *n, size_t i)
{
    return i < n->lcp ? r->ref_ports[i] : n->ports[i - n->lcp];
}

static uint32_t ntag(const zhtp_router *r, const nbr *n, size_t i)
{
    return i < n->lcp ? r->ref_tags[i] : n->tags[i - n->lcp];
}

static uint32_t sat_add(uint32_t a, uint32_t b)
{
    return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

/* Serial-number comparison (RFC 1982 style): a is newer than b. */
static int32_t seq_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

/* A neighbour hears from another once per refresh. The link layer's keepalive (link_down) is
 * the fast failure detector; these silence timeouts are the backstop, long enough that
 * announcement loss alone rarely trips them (20 % loss: 0.2^6 ~ 6e-5 per link and period). */
static zhtp_time nbr_timeout(const zhtp_router *r)
{
    return r->refresh_ns * 6 + r->refresh_ns / 2;
}

/* Longer than SEQ_LAG periods, so a node whose parent stalls first moves to a neighbour with
 * fresh sequence numbers and only declares the root lost when none has any. */
static zhtp_time root_timeout(const zhtp_router *r)
{
    return r->refresh_ns * 6;
}

/* Queues an announcement to every neighbour and re-arms the periodic one. Announcements are
 * mostly driven by the root's refresh wave; the periodic one, a little longer than the refresh
 * and jittered so neighbours do not synchronise, covers nodes the wave missed through loss:
 * without it a node that lost the wave would also stay silent to its neighbours. */
static void announce_all(zhtp_router *r, zhtp_time now)
{
    for (uint32_t i = 0; i < r->n_nbrs; i++)
        r->nbrs[i].is_dirty = true;
    uint8_t j[2];
    r->rng(r->user_data, j, sizeof j);
    zhtp_time jitter = (r->refresh_ns / 4) * (zhtp_time)((j[0] << 8) | j[1]) / 65536u;
    r->next_announce = now + r->refresh_ns + jitter;
}

uint32_t zhtp_route_tree_distance(const uint16_t *a, size_t a_depth, const uint16_t *b,
                                  size_t b_depth)
{
    size_t n = a_depth < b_depth ? a_depth : b_depth;
    size_t lcp = 0;
    while (lcp < n && a[lcp] == b[lcp])
        lcp++;
    return (uint32_t)(a_depth + b_depth - 2 * lcp);
}

int zhtp_router_new(zhtp_router **out, const zhtp_router_config *cfg,
                    const uint8_t self_id[ZHTP_NODE_ID_LEN], zhtp_time now)
{
    if (out)
        *out = NULL;
    if (!out || !cfg || !cfg->rng || !self_id)
        return ZHTP_ERR_INVAL;
    const zhtp_mem *mem = cfg->mem ? cfg->mem : zhtp_mem_default();
    zhtp_router *r = zhtp_mem_alloc(mem, sizeof *r);
    if (!r)
        return ZHTP_ERR_NOMEM;
    memset(r, 0, sizeof *r);
    r->mem = mem;
    r->bytes = sizeof *r;
    r->rng = cfg->rng;
    r->lookup = cfg->lookup;
    r->user_data = cfg->user_data;
    r->refresh_ns = cfg->refresh_ns ? cfg->refresh_ns : DEFAULT_REFRESH_NS;
    r->margin_256 = cfg->switch_margin_256 ? cfg->switch_margin_256 : DEFAULT_MARGIN_256;
    memcpy(r->self_id, self_id, ZHTP_NODE_ID_LEN);
    r->self_tag = tag_of(self_id);
    /* A random first sequence number: after a restart, peers that gave up on this node as a
     * root (dead_seq) do not ignore it until it counts past its old value. */
    uint8_t s[4];
    r->rng(r->user_data, s, sizeof s);
    r->own_seq = tag_of(s);
    memcpy(r->root_id, self_id, ZHTP_NODE_ID_LEN);
    r->root_seq = r->own_seq;
    r->seq_heard_at = now;
    r->next_refresh = now + r->refresh_ns;
    r->next_announce = now + r->refresh_ns;
    r->parent = -1;
    r->next_port = 1;
    *out = r;
    return ZHTP_OK;
}

void zhtp_router_free(zhtp_router *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->n_nbrs; i++)
        path_free(r, r->nbrs[i].tags, r->nbrs[i].suf_cap);
    rfree(r, r->nbrs, (size_t)r->cap_nbrs * sizeof(nbr));
    rfree(r, r->links, (size_t)r->cap_links * sizeof(rlink));
    path_free(r, r->tags, r->path_cap);
    path_free(r, r->ref_tags, r->ref_cap);
    const zhtp_mem *mem = r->mem;
    zhtp_mem_free(mem, r, sizeof *r);
}

static int32_t find_nbr(const zhtp_router *r, const uint8_t *id)
{
    for (uint32_t i = 0; i < r->n_nbrs; i++)
        if (memcmp(r->nbrs[i].id, id, ZHTP_NODE_ID_LEN) == 0)
            return (int32_t)i;
    return -1;
}

static int32_t find_link(const zhtp_router *r, zhtp_route_link_id id)
{
    for (uint32_t i = 0; i < r->n_links; i++)
        if (r->links[i].id == id)
            return (int32_t)i;
    return -1;
}

static bool root_is_dead(const zhtp_router *r, const nbr *n, zhtp_time now)
{
    return r->has_dead && now < r->dead_until &&
           memcmp(n->root_id, r->dead_root, ZHTP_NODE_ID_LEN) == 0 &&
           seq_diff(n->root_seq, r->dead_seq) <= 0;
}

static bool is_eligible(const zhtp_router *r, const nbr *n, zhtp_time now)
{
    return n->has_info && !n->contains_me && n->nlinks > 0 && n->depth < ZHTP_ROUTE_MAX_DEPTH &&
           n->depth < r->path_cap && !root_is_dead(r, n, now);
}

static void on_structure_changed(zhtp_router *r, zhtp_time now)
{
    r->changes++;
    announce_all(r, now);
    r->repeats_left = REPEATS;
    r->repeat_at = now + r->refresh_ns / 8;
}

static void become_root(zhtp_router *r, zhtp_time now)
{
    if (r->parent < 0 && memcmp(r->root_id, r->self_id, ZHTP_NODE_ID_LEN) == 0)
        return;
    r->own_seq++;
    r->parent = -1;
    memcpy(r->root_id, r->self_id, ZHTP_NODE_ID_LEN);
    r->root_seq = r->own_seq;
    r->root_cost = 0;
    r->depth = 0;
    r->seq_heard_at = now;
    r->next_refresh = now + r->refresh_ns;
    on_structure_changed(r, now);
}

/* Takes neighbour p as parent (or refreshes from it). |max_seq| is the newest sequence number of
 * p's root any eligible neighbour announced: any of them proves the root alive, so the root
 * timeout does not fire because of losses on the parent link alone. The own path capacity
 * suffices by the invariant, so nothing is allocated. */
static void adopt_parent(zhtp_router *r, int32_t pi, uint32_t max_seq, zhtp_time now)
{
    const nbr *p = &r->nbrs[pi];
    bool changed = r->parent != pi || r->depth != p->depth + 1 ||
                   memcmp(r->root_id, p->root_id, ZHTP_NODE_ID_LEN) != 0;
    bool same_root = memcmp(r->root_id, p->root_id, ZHTP_NODE_ID_LEN) == 0;
    for (uint16_t i = 0; i < p->depth; i++) {
        uint16_t port = nport(r, p, i);
        uint32_t tag = ntag(r, p, i);
        if (!changed && (r->ports[i] != port || r->tags[i] != tag))
            changed = true;
        r->ports[i] = port;
        r->tags[i] = tag;
    }
    if (!changed && (r->ports[p->depth] != p->their_port || r->tags[p->depth] != p->tag))
        changed = true;
    r->ports[p->depth] = p->their_port;
    r->tags[p->depth] = p->tag;
    r->depth = (uint16_t)(p->depth + 1);
    r->parent = pi;

    uint32_t cost = sat_add(p->cost, p->link_cost);
    bool cost_moved =
        cost > r->root_cost + r->root_cost / 8 || cost < r->root_cost - r->root_cost / 8;
    r->root_cost = cost;
    bool seq_advanced = !same_root || seq_diff(max_seq, r->root_seq) > 0;
    if (seq_advanced) {
        r->seq_heard_at = now;
        r->root_seq = max_seq;
    }
    memcpy(r->root_id, p->root_id, ZHTP_NODE_ID_LEN);
    if (changed)
        on_structure_changed(r, now);
    else if (seq_advanced || cost_moved)
        announce_all(r, now);
}

/* Parent choice: the best root any loop-free neighbour offers (smallest id, and this node
 * itself competes), then among the neighbours offering it with a current sequence number the
 * cheapest total cost, keeping the present parent unless another is cheaper by the margin. */
static void reselect(zhtp_router *r, zhtp_time now)
{
    const uint8_t *best_root = r->self_id;
    for (uint32_t i = 0; i < r->n_nbrs; i++) {
        const nbr *n = &r->nbrs[i];
        if (is_eligible(r, n, now) && memcmp(n->root_id, best_root, ZHTP_NODE_ID_LEN) < 0)
            best_root = n->root_id;
    }
    if (best_root == r->self_id) {
        become_root(r, now);
        return;
    }
    bool have_max = false;
    uint32_t max_seq = 0;
    for (uint32_t i = 0; i < r->n_nbrs; i++) {
        const nbr *n = &r->nbrs[i];
        if (is_eligible(r, n, now) && memcmp(n->root_id, best_root, ZHTP_NODE_ID_LEN) == 0 &&
            (!have_max || seq_diff(n->root_seq, max_seq) > 0)) {
            max_seq = n->root_seq;
            have_max = true;
        }
    }
    /* A neighbour a few sequence numbers behind is still current: the refresh wave reaches
     * neighbours at different times and announcements get lost; demanding the newest would
     * flap parents on every loss. A parent really cut off from the root falls SEQ_LAG behind
     * within as many refresh periods, or its link goes down first. */
    int32_t best = -1;
    uint64_t best_total = UINT64_MAX;
    uint64_t cur_total = UINT64_MAX;
    for (uint32_t i = 0; i < r->n_nbrs; i++) {
        const nbr *n = &r->nbrs[i];
        if (!is_eligible(r, n, now) || memcmp(n->root_id, best_root, ZHTP_NODE_ID_LEN) != 0 ||
            seq_diff(max_seq, n->root_seq) > SEQ_LAG)
            continue;
        uint64_t total = (uint64_t)n->cost + n->link_cost;
        if ((int32_t)i == r->parent)
            cur_total = total;
        if (total < best_total ||
            (total == best_total && memcmp(n->id, r->nbrs[best].id, ZHTP_NODE_ID_LEN) < 0)) {
            best_total = total;
            best = (int32_t)i;
        }
    }
    if (cur_total != UINT64_MAX && cur_total <= best_total + best_total * r->margin_256 / 256u)
        best = r->parent;
    adopt_parent(r, best, max_seq, now);
}

/* Cached cheapest link of each neighbour. */
static void refresh_link_cost(zhtp_router *r, uint32_t ni)
{
    uint32_t c = UINT32_MAX;
    for (uint32_t i = 0; i < r->n_links; i++)
        if (r->links[i].nbr == ni && r->links[i].cost < c)
            c = r->links[i].cost;
    r->nbrs[ni].link_cost = c;
}

static uint16_t alloc_port(zhtp_router *r)
{
    /* Ports are not reused at once: packets in flight may still carry coordinates naming the
     * old holder. Terminates because at most ZHTP_ROUTE_MAX_NEIGHBOURS < 65535 are in use. */
    for (;;) {
        uint16_t p = r->next_port;
        r->next_port = (uint16_t)(p == UINT16_MAX ? 1 : p + 1);
        bool used = false;
        for (uint32_t i = 0; i < r->n_nbrs && !used; i++)
            used = r->nbrs[i].port == p;
        if (!used)
            return p;
    }
}

/* Grows an array to hold one more element; allocates before touching the old one. */
static int grow(zhtp_router *r, void **arr, uint32_t *cap, uint32_t count, size_t elem)
{
    if (count < *cap)
        return ZHTP_OK;
    /* Linear growth: neighbours and links come and go rarely, and doubling would leave up to
     * half of the largest per-node arrays unused in a million-node simulation. */
    uint32_t ncap = *cap + 4;
    void *n = ralloc(r, (size_t)ncap * elem);
    if (!n)
        return ZHTP_ERR_NOMEM;
    if (count)
        memcpy(n, *arr, (size_t)count * elem);
    rfree(r, *arr, (size_t)*cap * elem);
    *arr = n;
    *cap = ncap;
    return ZHTP_OK;
}

int zhtp_router_link_up(zhtp_router *r, zhtp_route_link_id link,
                        const uint8_t nbr_id[ZHTP_NODE_ID_LEN], const zhtp_route_medium *medium,
                        zhtp_time now)
{
    if (!r || !nbr_id || !medium || memcmp(nbr_id, r->self_id, ZHTP_NODE_ID_LEN) == 0)
        return ZHTP_ERR_INVAL;
    if (find_link(r, link) >= 0)
        return ZHTP_ERR_EXISTS;
    int32_t ni = find_nbr(r, nbr_id);
    if (ni < 0 && r->n_nbrs >= ZHTP_ROUTE_MAX_NEIGHBOURS)
        return ZHTP_ERR_INVAL;
    /* Both arrays first: a failure after the first grow leaves only spare capacity behind. */
    if (grow(r, (void **)&r->links, &r->cap_links, r->n_links, sizeof(rlink)) != ZHTP_OK)
        return ZHTP_ERR_NOMEM;
    if (ni < 0 && grow(r, (void **)&r->nbrs, &r->cap_nbrs, r->n_nbrs, sizeof(nbr)) != ZHTP_OK)
        return ZHTP_ERR_NOMEM;
    if (ni < 0) {
        ni = (int32_t)r->n_nbrs++;
        nbr *n = &r->nbrs[ni];
        memset(n, 0, sizeof *n);
        memcpy(n->id, nbr_id, ZHTP_NODE_ID_LEN);
        n->tag = tag_of(nbr_id);
        n->port = alloc_port(r);
        n->is_dirty = true;
    }
    rlink *l = &r->links[r->n_links++];
    memset(l, 0, sizeof *l);
    l->id = link;
    l->medium = *medium;
    l->nbr = (uint32_t)ni;
    l->loss_ppm = UINT32_MAX;
    l->cost = zhtp_route_link_cost(medium, 0, UINT32_MAX);
    r->nbrs[ni].nlinks++;
    refresh_link_cost(r, (uint32_t)ni);
    reselect(r, now);
    return ZHTP_OK;
}

int zhtp_router_link_update(zhtp_router *r, zhtp_route_link_id link, uint32_t rtt_us,
                            uint32_t loss_ppm, zhtp_time now)
{
    if (!r)
        return ZHTP_ERR_INVAL;
    int32_t li = find_link(r, link);
    if (li < 0)
        return ZHTP_ERR_NOTFOUND;
    rlink *l = &r->links[li];
    l->rtt_us = rtt_us;
    l->loss_ppm = loss_ppm;
    l->cost = zhtp_route_link_cost(&l->medium, rtt_us, loss_ppm);
    refresh_link_cost(r, l->nbr);
    reselect(r, now);
    return ZHTP_OK;
}

static void remove_nbr(zhtp_router *r, uint32_t ni)
{
    path_free(r, r->nbrs[ni].tags, r->nbrs[ni].suf_cap);
    uint32_t last = r->n_nbrs - 1;
    if (r->parent == (int32_t)ni)
        r->parent = -2; /* lost: reselect below adopts someone or becomes root */
    if (ni != last) {
        r->nbrs[ni] = r->nbrs[last];
        for (uint32_t i = 0; i < r->n_links; i++)
            if (r->links[i].nbr == last)
                r->links[i].nbr = ni;
        if (r->parent == (int32_t)last)
            r->parent = (int32_t)ni;
    }
    r->n_nbrs--;
    if (r->dirty_cursor >= r->n_nbrs)
        r->dirty_cursor = 0;
}

int zhtp_router_link_down(zhtp_router *r, zhtp_route_link_id link, zhtp_time now)
{
    if (!r)
        return ZHTP_ERR_INVAL;
    int32_t li = find_link(r, link);
    if (li < 0)
        return ZHTP_ERR_NOTFOUND;
    uint32_t ni = r->links[li].nbr;
    r->links[li] = r->links[--r->n_links];
    if (--r->nbrs[ni].nlinks == 0)
        remove_nbr(r, ni);
    else
        refresh_link_cost(r, ni);
    reselect(r, now);
    return ZHTP_OK;
}

/* Gives a neighbour's suffix buffer back when it is more than twice what is needed (paths are
 * long during a cold start, while every node is briefly its own root). Optional: on allocation
 * failure the larger buffer stays. The caller rewrites the suffix afterwards. */
static void shrink_suffix(zhtp_router *r, nbr *n, uint16_t need)
{
    if (need >= n->suf_cap / 2)
        return;
    uint16_t *pp = NULL;
    uint32_t *pt = NULL;
    if (need && path_alloc(r, need, &pp, &pt) != ZHTP_OK)
        return;
    path_free(r, n->tags, n->suf_cap);
    n->tags = pt;
    n->ports = pp;
    n->suf_cap = need;
}

/* Makes the own path the reference for neighbours' paths, re-encoding each neighbour's
 * suffix. All or nothing: on allocation failure the old reference stays (still correct, only
 * less shared). |tp|/|tt| are scratch arrays of ZHTP_ROUTE_MAX_DEPTH entries. */
static void rebase(zhtp_router *r, uint16_t *tp, uint32_t *tt)
{
    if (r->ref_depth == r->depth &&
        (r->depth == 0 || (memcmp(r->ref_ports, r->ports, r->depth * 2u) == 0 &&
                           memcmp(r->ref_tags, r->tags, r->depth * 4u) == 0)))
        return;
    /* new lcp and suffix length of every neighbour; growths allocated first */
    size_t grow_n = 0;
    for (uint32_t i = 0; i < r->n_nbrs; i++) {
        const nbr *n = &r->nbrs[i];
        uint16_t l = 0;
        while (l < n->depth && l < r->depth && nport(r, n, l) == r->ports[l] &&
               ntag(r, n, l) == r->tags[l])
            l++;
        if ((uint16_t)(n->depth - l) > n->suf_cap)
            grow_n++;
    }
    uint16_t *new_ref_p = NULL;
    uint32_t *new_ref_t = NULL;
    void **bufs = NULL;
    if (r->depth > r->ref_cap && path_alloc(r, r->depth, &new_ref_p, &new_ref_t) != ZHTP_OK)
        return;
    if (grow_n) {
        bufs = ralloc(r, grow_n * sizeof *bufs);
        if (!bufs)
            goto fail;
        memset(bufs, 0, grow_n * sizeof *bufs);
        size_t k = 0;
        for (uint32_t i = 0; i < r->n_nbrs; i++) {
            const nbr *n = &r->nbrs[i];
            uint16_t l = 0;
            while (l < n->depth && l < r->depth && nport(r, n, l) == r->ports[l] &&
                   ntag(r, n, l) == r->tags[l])
                l++;
            size_t need = (size_t)(n->depth - l);
            if (need > n->suf_cap) {
                uint16_t *pp;
                uint32_t *pt;
                if (path_alloc(r, need, &pp, &pt) != ZHTP_OK)
                    goto fail;
                bufs[k++] = pt;
            }
        }
    }
    /* commit: materialise each neighbour's path through the old reference, then re-split it */
    size_t k = 0;
    for (uint32_t i = 0; i < r->n_nbrs; i++) {
        nbr *n = &r->nbrs[i];
        for (uint16_t j = 0; j < n->depth; j++) {
            tp[j] = nport(r, n, j);
            tt[j] = ntag(r, n, j);
        }
        uint16_t l = 0;
        while (l < n->depth && l < r->depth && tp[l] == r->ports[l] && tt[l] == r->tags[l])
            l++;
        uint16_t need = (uint16_t)(n->depth - l);
        if (need > n->suf_cap) {
            path_free(r, n->tags, n->suf_cap);
            n->tags = bufs[k++];
            n->ports = (uint16_t *)(n->tags + need);
            n->suf_cap = need;
        } else {
            shrink_suffix(r, n, need);
        }
        n->lcp = l;
        for (uint16_t j = l; j < n->depth; j++) {
            n->ports[j - l] = tp[j];
            n->tags[j - l] = tt[j];
        }
    }
    if (new_ref_t) {
        path_free(r, r->ref_tags, r->ref_cap);
        r->ref_tags = new_ref_t;
        r->ref_ports = new_ref_p;
        r->ref_cap = r->depth;
    }
    if (r->depth) {
        memcpy(r->ref_ports, r->ports, r->depth * sizeof *r->ref_ports);
        memcpy(r->ref_tags, r->tags, r->depth * sizeof *r->ref_tags);
    }
    r->ref_depth = r->depth;
    rfree(r, bufs, grow_n * sizeof *bufs);
    return;
fail:
    if (bufs) { /* free what was allocated, recomputing each size as above */
        size_t j = 0;
        for (uint32_t i = 0; i < r->n_nbrs && j < grow_n; i++) {
            const nbr *n = &r->nbrs[i];
            uint16_t l = 0;
            while (l < n->depth && l < r->depth && nport(r, n, l) == r->ports[l] &&
                   ntag(r, n, l) == r->tags[l])
                l++;
            size_t need = (size_t)(n->depth - l);
            if (need > n->suf_cap) {
                path_free(r, bufs[j], need);
                j++;
            }
        }
        rfree(r, bufs, grow_n * sizeof *bufs);
    }
    path_free(r, new_ref_t, r->depth);
}

int zhtp_router_recv(zhtp_router *r, zhtp_route_link_id link, const uint8_t *buf, size_t len,
                     zhtp_time now)
{
    if (!r)
        return ZHTP_ERR_INVAL;
    int32_t li = find_link(r, link);
    if (li < 0)
        return ZHTP_ERR_NOTFOUND;
    /* Scratch for one path: 12 KiB of stack, nothing per router. */
    uint16_t ports[ZHTP_ROUTE_MAX_DEPTH];
    uint32_t tags[ZHTP_ROUTE_MAX_DEPTH];
    zhtp_route_announce a;
    memset(&a, 0, sizeof a);
    a.ports = ports;
    a.tags = tags;
    int err = zhtp_route_announce_decode(buf, len, &a, ZHTP_ROUTE_MAX_DEPTH);
    if (err != ZHTP_OK)
        return err;
    nbr *n = &r->nbrs[r->links[li].nbr];
    uint16_t l = 0;
    while (l < a.depth && l < r->ref_depth && ports[l] == r->ref_ports[l] &&
           tags[l] == r->ref_tags[l])
        l++;
    uint16_t need = (uint16_t)(a.depth - l);

    /* Allocate everything this message may need before changing anything. */
    uint16_t *nports = NULL, *oports = NULL;
    uint32_t *ntags = NULL, *otags = NULL;
    size_t ncap = 0, ocap = 0;
    if (need > n->suf_cap) {
        ncap = need;
        if (path_alloc(r, ncap, &nports, &ntags) != ZHTP_OK)
            return ZHTP_ERR_NOMEM;
    }
    if ((size_t)a.depth + 1 > r->path_cap) {
        ocap = (size_t)a.depth + 1;
        if (path_alloc(r, ocap, &oports, &otags) != ZHTP_OK) {
            path_free(r, ntags, ncap);
            return ZHTP_ERR_NOMEM;
        }
    }
    if (ncap) {
        path_free(r, n->tags, n->suf_cap);
        n->tags = ntags;
        n->ports = nports;
        n->suf_cap = (uint16_t)ncap;
    }
    if (ocap) {
        if (r->depth) {
            memcpy(otags, r->tags, r->depth * sizeof *otags);
            memcpy(oports, r->ports, r->depth * sizeof *oports);
        }
        path_free(r, r->tags, r->path_cap);
        r->tags = otags;
        r->ports = oports;
        r->path_cap = (uint16_t)ocap;
    }
    if (!ncap)
        shrink_suffix(r, n, need);
    n->lcp = l;
    for (uint16_t i = l; i < a.depth; i++) {
        n->ports[i - l] = ports[i];
        n->tags[i - l] = tags[i];
    }
    memcpy(n->root_id, a.root_id, ZHTP_NODE_ID_LEN);
    n->root_seq = a.root_seq;
    n->cost = a.cost;
    n->their_port = a.your_port;
    n->depth = a.depth;
    n->last_heard = now;
    n->has_info = true;
    /* Loop check: a neighbour whose path to the root passes through this node (its tag among
     * the ancestors, or this node as the root) must never become its parent. */
    n->contains_me = memcmp(a.root_id, r->self_id, ZHTP_NODE_ID_LEN) == 0;
    for (uint16_t i = 0; i < a.depth && !n->contains_me; i++)
        n->contains_me = tags[i] == r->self_tag;
    reselect(r, now);
    /* After a change of the own path, share prefixes with it again (optional: a failed
     * allocation here only costs memory, so the message still counts as processed). */
    rebase(r, ports, tags);
    return ZHTP_OK;
}

zhtp_ssize zhtp_router_next_message(zhtp_router *r, zhtp_route_link_id *link, uint8_t *out,
                                    size_t out_cap, zhtp_time now)
{
    (void)now;
    if (!r || !link)
        return ZHTP_ERR_INVAL;
    for (uint32_t k = 0; k < r->n_nbrs; k++) {
        uint32_t ni = (r->dirty_cursor + k) % r->n_nbrs;
        nbr *n = &r->nbrs[ni];
        if (!n->is_dirty || n->nlinks == 0)
            continue;
        /* Announcements go on the neighbour's cheapest link. */
        int32_t best = -1;
        for (uint32_t i = 0; i < r->n_links; i++)
            if (r->links[i].nbr == ni && (best < 0 || r->links[i].cost < r->links[best].cost))
                best = (int32_t)i;
        zhtp_route_announce a;
        memcpy(a.root_id, r->root_id, ZHTP_NODE_ID_LEN);
        a.root_seq = r->root_seq;
        a.cost = r->root_cost;
        a.your_port = n->port;
        a.depth = r->depth;
        a.ports = r->ports;
        a.tags = r->tags;
        zhtp_ssize len = zhtp_route_announce_encode(&a, out, out_cap);
        if (len < 0)
            return len;
        n->is_dirty = false;
        r->dirty_cursor = (ni + 1) % r->n_nbrs;
        *link = r->links[best].id;
        return len;
    }
    return ZHTP_ERR_AGAIN;
}

zhtp_time zhtp_router_next_deadline(const zhtp_router *r)
{
    if (!r)
        return ZHTP_TIME_NEVER;
    zhtp_time d = ZHTP_TIME_NEVER;
    if (r->parent < 0)
        d = r->next_refresh;
    else
        d = r->seq_heard_at + root_timeout(r);
    if (r->has_dead && r->dead_until < d)
        d = r->dead_until;
    if (r->repeats_left && r->repeat_at < d)
        d = r->repeat_at;
    if (r->n_nbrs && r->next_announce < d)
        d = r->next_announce;
    for (uint32_t i = 0; i < r->n_nbrs; i++)
        if (r->nbrs[i].has_info && r->nbrs[i].last_heard + nbr_timeout(r) < d)
            d = r->nbrs[i].last_heard + nbr_timeout(r);
    return d;
}

int zhtp_router_tick(zhtp_router *r, zhtp_time now)
{
    if (!r)
        return ZHTP_ERR_INVAL;
    bool again = false;
    if (r->has_dead && now >= r->dead_until)
        r->has_dead = false;
    for (uint32_t i = 0; i < r->n_nbrs; i++) {
        nbr *n = &r->nbrs[i];
        if (n->has_info && now >= n->last_heard + nbr_timeout(r)) {
            n->has_info = false; /* silent too long: its claims are no longer believed */
            again = true;
        }
    }
    if (r->parent >= 0 && now >= r->seq_heard_at + root_timeout(r)) {
        /* The root's sequence number stopped advancing: it is gone or cut off. */
        r->has_dead = true;
        memcpy(r->dead_root, r->root_id, ZHTP_NODE_ID_LEN);
        r->dead_seq = r->root_seq;
        r->dead_until = now + 2 * root_timeout(r);
        again = true;
    }
    if (again)
        reselect(r, now);
    if (r->repeats_left && now >= r->repeat_at) {
        r->repeats_left--;
        r->repeat_at = now + r->refresh_ns / 8;
        announce_all(r, now);
    }
    if (r->n_nbrs && now >= r->next_announce)
        announce_all(r, now);
    if (r->parent < 0 && now >= r->next_refresh) {
        r->own_seq++;
        r->root_seq = r->own_seq;
        r->seq_heard_at = now;
        r->next_refresh = now + r->refresh_ns;
        announce_all(r, now);
    }
    return ZHTP_OK;
}

/* Load spreading over the links to one neighbour: smooth weighted round robin (deterministic)
 * with weights inversely proportional to cost, over the links within SPREAD_FACTOR of the
 * cheapest. */
static zhtp_route_link_id pick_link(zhtp_router *r, uint32_t ni)
{
    uint32_t min = r->nbrs[ni].link_cost;
    int64_t total = 0;
    int32_t best = -1;
    for (uint32_t i = 0; i < r->n_links; i++) {
        rlink *l = &r->links[i];
        if (l->nbr != ni || (uint64_t)l->cost > (uint64_t)min * SPREAD_FACTOR)
            continue;
        int64_t w = (int64_t)((UINT64_C(1) << 32) / l->cost);
        l->swrr += w;
        total += w;
        if (best < 0 || l->swrr > r->links[best].swrr)
            best = (int32_t)i;
    }
    r->links[best].swrr -= total;
    return r->links[best].id;
}

int zhtp_router_next_hop(zhtp_router *r, const uint16_t *dest_ports, size_t dest_depth,
                         const uint8_t *dest_id, uint32_t *bound, zhtp_route_hop *hop)
{
    if (!r || !hop || (dest_depth && !dest_ports) || dest_depth > ZHTP_ROUTE_MAX_DEPTH)
        return ZHTP_ERR_INVAL;
    hop->is_local = false;
    hop->link = 0;
    if (dest_id) {
        if (memcmp(dest_id, r->self_id, ZHTP_NODE_ID_LEN) == 0) {
            hop->is_local = true;
            return ZHTP_OK;
        }
        int32_t ni = find_nbr(r, dest_id);
        if (ni >= 0 && r->nbrs[ni].nlinks > 0) {
            hop->link = pick_link(r, (uint32_t)ni);
            if (bound)
                *bound = 0;
            return ZHTP_OK;
        }
    }
    uint32_t d_self = zhtp_route_tree_distance(r->ports, r->depth, dest_ports, dest_depth);
    if (d_self == 0) {
        if (dest_id) /* the coordinates are ours, the id is not: stale coordinates */
            return ZHTP_ERR_NOTFOUND;
        hop->is_local = true;
        return ZHTP_OK;
    }
    uint32_t limit = d_self;
    if (bound && *bound < limit)
        limit = *bound;
    /* Remaining hops are priced at this node's cheapest link: an expensive medium is taken
     * only when it saves that many cheap hops (a LoRa hop costs ~8000 WiFi hops), or when it
     * is the only way closer. */
    uint64_t hop_ref = UINT32_MAX;
    for (uint32_t i = 0; i < r->n_nbrs; i++)
        if (r->nbrs[i].link_cost < hop_ref)
            hop_ref = r->nbrs[i].link_cost;
    if (hop_ref == 0 || hop_ref == UINT32_MAX)
        hop_ref = 1;
    size_t l_ref = 0;
    while (l_ref < r->ref_depth && l_ref < dest_depth && r->ref_ports[l_ref] == dest_ports[l_ref])
        l_ref++;
    int32_t best = -1;
    uint64_t best_score = UINT64_MAX;
    uint32_t best_d = 0;
    for (uint32_t i = 0; i < r->n_nbrs; i++) {
        const nbr *n = &r->nbrs[i];
        if (!n->has_info || n->nlinks == 0 || memcmp(n->root_id, r->root_id, ZHTP_NODE_ID_LEN) != 0)
            continue;
        /* Common prefix with the destination, through the shared reference: if the neighbour
         * follows the reference past the point where the destination leaves it, they part
         * there; otherwise compare its own suffix. */
        size_t common;
        if (n->lcp > l_ref) {
            common = l_ref;
        } else {
            common = n->lcp;
            while (common < n->depth && common < dest_depth &&
                   n->ports[common - n->lcp] == dest_ports[common])
                common++;
        }
        uint32_t d = (uint32_t)(n->depth + dest_depth - 2 * common);
        if (d >= limit)
            continue; /* strictly closer only: this is what makes forwarding loop-free */
        uint64_t score = (uint64_t)n->link_cost + hop_ref * d;
        if (score < best_score || (score == best_score && d < best_d)) {
            best = (int32_t)i;
            best_score = score;
            best_d = d;
        }
    }
    if (best < 0)
        return ZHTP_ERR_NOTFOUND;
    hop->link = pick_link(r, (uint32_t)best);
    if (bound)
        *bound = best_d;
    return ZHTP_OK;
}

int zhtp_router_next_hop_id(zhtp_router *r, const uint8_t dest_id[ZHTP_NODE_ID_LEN],
                            uint32_t *bound, zhtp_route_hop *hop)
{
    if (!r || !dest_id || !hop)
        return ZHTP_ERR_INVAL;
    /* Self and neighbours need no lookup. */
    if (memcmp(dest_id, r->self_id, ZHTP_NODE_ID_LEN) == 0 || find_nbr(r, dest_id) >= 0)
        return zhtp_router_next_hop(r, NULL, 0, dest_id, bound, hop);
    if (!r->lookup)
        return ZHTP_ERR_NOTFOUND;
    uint16_t ports[ZHTP_ROUTE_MAX_DEPTH];
    size_t depth = 0;
    int err = r->lookup(r->user_data, dest_id, ports, ZHTP_ROUTE_MAX_DEPTH, &depth);
    if (err != ZHTP_OK)
        return err;
    if (depth > ZHTP_ROUTE_MAX_DEPTH)
        return ZHTP_ERR_INVAL;
    return zhtp_router_next_hop(r, ports, depth, dest_id, bound, hop);
}

const uint16_t *zhtp_router_coords(const zhtp_router *r, size_t *depth)
{
    *depth = r->depth;
    return r->ports;
}

void zhtp_router_root(const zhtp_router *r, uint8_t root_id[ZHTP_NODE_ID_LEN])
{
    memcpy(root_id, r->root_id, ZHTP_NODE_ID_LEN);
}

bool zhtp_router_parent(const zhtp_router *r, uint8_t parent_id[ZHTP_NODE_ID_LEN])
{
    if (r->parent < 0)
        return false;
    memcpy(parent_id, r->nbrs[r->parent].id, ZHTP_NODE_ID_LEN);
    return true;
}

uint32_t zhtp_router_root_cost(const zhtp_router *r)
{
    return r->root_cost;
}

size_t zhtp_router_state_bytes(const zhtp_router *r)
{
    return r->bytes;
}

uint64_t zhtp_router_changes(const zhtp_router *r)
{
    return r->changes;
}

size_t zhtp_router_neighbour_count(const zhtp_router *r)
{
    return r->n_nbrs;
}

int zhtp_router_neighbour_coords(const zhtp_router *r, size_t index, uint16_t *ports, size_t cap,
                                 size_t *depth)
{
    if (!r || !depth || (cap && !ports))
        return ZHTP_ERR_INVAL;
    if (index >= r->n_nbrs)
        return ZHTP_ERR_NOTFOUND;
    const nbr *n = &r->nbrs[index];
    if (n->depth > cap)
        return ZHTP_ERR_NOBUF;
    for (size_t i = 0; i < n->depth; i++)
        ports[i] = nport(r, n, i);
    *depth = n->depth;
    return ZHTP_OK;
}

int zhtp_router_neighbour_get(const zhtp_router *r, size_t index, zhtp_route_nbr_info *out)
{
    if (!r || !out)
        return ZHTP_ERR_INVAL;
    if (index >= r->n_nbrs)
        return ZHTP_ERR_NOTFOUND;
    const nbr *n = &r->nbrs[index];
    out->id = n->id;
    out->root_id = n->root_id;
    out->depth = n->depth;
    out->root_seq = n->root_seq;
    out->root_cost = n->cost;
    out->link_cost = n->link_cost;
    out->port = n->port;
    out->links = n->nlinks;
    out->has_info = n->has_info;
    out->is_parent = r->parent == (int32_t)index;
    out->is_child = n->contains_me;
    return ZHTP_OK;
}
