/* Discrete-event harness of routers (see routing_net.h). Test code: it may use malloc and
 * abort on misuse; the routers it drives allocate through their own zhtp_mem. */
#include "routing_net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { EV_DELIVER, EV_TIMER, EV_LINKDOWN };

typedef struct ev {
    zhtp_time t;
    uint64_t seq;
    uint8_t type;
    uint32_t node;
    uint32_t edge;
    uint32_t len;
    uint8_t *buf;
} ev;

typedef struct node {
    zhtp_router *r;
    uint8_t id[ZHTP_NODE_ID_LEN];
    zhtp_time timer_at;
    uint64_t changes;
    bool is_alive;
    uint32_t walk_stamp;
    uint32_t *adj; /* edge ids */
    uint32_t n_adj, cap_adj;
} node;

typedef struct id_index {
    uint8_t id[ZHTP_NODE_ID_LEN];
    uint32_t v;
} id_index;

struct rn_net {
    uint32_t n;
    node *nodes;
    id_index *by_id;
    rn_edge *edges;
    uint32_t n_edges, cap_edges;
    ev *heap;
    size_t n_heap, cap_heap;
    uint64_t ev_seq;
    zhtp_time now;
    zhtp_time last_change;
    uint64_t rng;
    uint64_t msgs, bytes;
    uint32_t loss_ppm;
    uint32_t walk_id;
    uint8_t *scratch;
};

#define SCRATCH_LEN ZHTP_ROUTE_ANNOUNCE_LEN(ZHTP_ROUTE_MAX_DEPTH)

uint64_t rn_splitmix(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double unit(uint64_t *s)
{
    return (double)(rn_splitmix(s) >> 11) / 9007199254740992.0;
}

static void net_rng(void *ud, uint8_t *out, size_t len)
{
    rn_net *net = ud;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)rn_splitmix(&net->rng);
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(((const id_index *)a)->id, ((const id_index *)b)->id, ZHTP_NODE_ID_LEN);
}

static int64_t find_id(const rn_net *net, const uint8_t *id)
{
    size_t lo = 0, hi = net->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(net->by_id[mid].id, id, ZHTP_NODE_ID_LEN);
        if (c == 0)
            return net->by_id[mid].v;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The oracle: the destination's coordinates as its router holds them right now. */
static int net_lookup(void *ud, const uint8_t *id, uint16_t *ports, size_t cap, size_t *depth)
{
    rn_net *net = ud;
    int64_t v = find_id(net, id);
    if (v < 0 || !net->nodes[v].is_alive)
        return ZHTP_ERR_NOTFOUND;
    size_t d;
    const uint16_t *c = zhtp_router_coords(net->nodes[v].r, &d);
    if (d > cap)
        return ZHTP_ERR_NOBUF;
    if (d)
        memcpy(ports, c, d * sizeof *ports);
    *depth = d;
    return ZHTP_OK;
}

static void heap_push(rn_net *net, ev e)
{
    if (net->n_heap == net->cap_heap) {
        net->cap_heap = net->cap_heap ? net->cap_heap * 2 : 1024;
        net->heap = realloc(net->heap, net->cap_heap * sizeof(ev));
        if (!net->heap)
            abort();
    }
    e.seq = net->ev_seq++;
    size_t i = net->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        ev *q = &net->heap[p];
        if (q->t < e.t || (q->t == e.t && q->seq < e.seq))
            break;
        net->heap[i] = *q;
        i = p;
    }
    net->heap[i] = e;
}

static ev heap_pop(rn_net *net)
{
    ev top = net->heap[0];
    ev last = net->heap[--net->n_heap];
    size_t i = 0, n = net->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n &&
            (net->heap[c + 1].t < net->heap[c].t ||
             (net->heap[c + 1].t == net->heap[c].t && net->heap[c + 1].seq < net->heap[c].seq)))
            c++;
        if (last.t < net->heap[c].t || (last.t == net->heap[c].t && last.seq < net->heap[c].seq))
            break;
        net->heap[i] = net->heap[c];
        i = c;
    }
    if (n)
        net->heap[i] = last;
    return top;
}

rn_net *rn_new(uint32_t n, uint64_t seed, zhtp_time refresh_ns, const zhtp_mem *mem)
{
    rn_net *net = calloc(1, sizeof *net);
    if (!net)
        return NULL;
    net->n = n;
    net->rng = seed;
    net->nodes = calloc(n, sizeof(node));
    net->by_id = calloc(n, sizeof(id_index));
    net->scratch = malloc(SCRATCH_LEN);
    if (!net->nodes || !net->by_id || !net->scratch) {
        rn_free(net);
        return NULL;
    }
    zhtp_router_config cfg = {.mem = mem,
                              .rng = net_rng,
                              .lookup = net_lookup,
                              .user_data = net,
                              .refresh_ns = refresh_ns};
    for (uint32_t v = 0; v < n; v++) {
        node *x = &net->nodes[v];
        net_rng(net, x->id, ZHTP_NODE_ID_LEN);
        memcpy(net->by_id[v].id, x->id, ZHTP_NODE_ID_LEN);
        net->by_id[v].v = v;
        x->is_alive = true;
        x->timer_at = ZHTP_TIME_NEVER;
        if (zhtp_router_new(&x->r, &cfg, x->id, 0) != ZHTP_OK) {
            rn_free(net);
            return NULL;
        }
    }
    qsort(net->by_id, n, sizeof(id_index), cmp_id);
    return net;
}

void rn_free(rn_net *net)
{
    if (!net)
        return;
    for (uint32_t v = 0; net->nodes && v < net->n; v++) {
        zhtp_router_free(net->nodes[v].r);
        free(net->nodes[v].adj);
    }
    for (size_t i = 0; i < net->n_heap; i++)
        free(net->heap[i].buf);
    free(net->heap);
    free(net->nodes);
    free(net->by_id);
    free(net->edges);
    free(net->scratch);
    free(net);
}

uint32_t rn_size(const rn_net *net)
{
    return net->n;
}

zhtp_time rn_now(const rn_net *net)
{
    return net->now;
}

zhtp_router *rn_router(rn_net *net, uint32_t v)
{
    return net->nodes[v].r;
}

const uint8_t *rn_id(const rn_net *net, uint32_t v)
{
    return net->nodes[v].id;
}

const rn_edge *rn_edge_get(const rn_net *net, uint32_t e)
{
    return &net->edges[e];
}

uint32_t rn_edge_count(const rn_net *net)
{
    return net->n_edges;
}

bool rn_is_alive(const rn_net *net, uint32_t v)
{
    return net->nodes[v].is_alive;
}

zhtp_time rn_last_change(const rn_net *net)
{
    return net->last_change;
}

uint64_t rn_messages_sent(const rn_net *net)
{
    return net->msgs;
}

uint64_t rn_bytes_sent(const rn_net *net)
{
    return net->bytes;
}

void rn_set_loss(rn_net *net, uint32_t loss_ppm)
{
    net->loss_ppm = loss_ppm;
}

/* After any call into router v: send what it wants to send, re-arm its timer, note changes. */
static void settle(rn_net *net, uint32_t v)
{
    node *x = &net->nodes[v];
    if (!x->is_alive)
        return;
    for (;;) {
        zhtp_route_link_id link;
        zhtp_ssize len = zhtp_router_next_message(x->r, &link, net->scratch, SCRATCH_LEN, net->now);
        if (len == ZHTP_ERR_AGAIN)
            break;
        if (len < 0)
            abort(); /* the scratch buffer fits the largest announcement */
        rn_edge *e = &net->edges[link];
        if (!e->is_up)
            continue;
        net->msgs++;
        net->bytes += (uint64_t)len;
        if (net->loss_ppm && rn_splitmix(&net->rng) % 1000000u < net->loss_ppm)
            continue;
        ev d = {.t = net->now + e->latency,
                .type = EV_DELIVER,
                .node = e->a == v ? e->b : e->a,
                .edge = (uint32_t)link,
                .len = (uint32_t)len,
                .buf = malloc((size_t)len)};
        if (!d.buf)
            abort();
        memcpy(d.buf, net->scratch, (size_t)len);
        heap_push(net, d);
    }
    zhtp_time dl = zhtp_router_next_deadline(x->r);
    if (dl != x->timer_at) {
        x->timer_at = dl;
        if (dl != ZHTP_TIME_NEVER)
            heap_push(net, (ev){.t = dl < net->now ? net->now : dl, .type = EV_TIMER, .node = v});
    }
    uint64_t c = zhtp_router_changes(x->r);
    if (c != x->changes) {
        x->changes = c;
        net->last_change = net->now;
    }
}

static void adj_add(node *x, uint32_t e)
{
    if (x->n_adj == x->cap_adj) {
        x->cap_adj = x->cap_adj ? x->cap_adj * 2 : 4;
        x->adj = realloc(x->adj, x->cap_adj * sizeof(uint32_t));
        if (!x->adj)
            abort();
    }
    x->adj[x->n_adj++] = e;
}

uint32_t rn_add_edge(rn_net *net, uint32_t a, uint32_t b, zhtp_route_medium_kind kind,
                     zhtp_time latency)
{
    if (net->n_edges == net->cap_edges) {
        net->cap_edges = net->cap_edges ? net->cap_edges * 2 : 64;
        net->edges = realloc(net->edges, net->cap_edges * sizeof(rn_edge));
        if (!net->edges)
            abort();
    }
    const zhtp_route_medium *m = zhtp_route_medium_preset(kind);
    uint32_t e = net->n_edges++;
    net->edges[e] = (rn_edge){.a = a,
                              .b = b,
                              .kind = kind,
                              .latency = latency ? latency : (zhtp_time)m->latency_us * 1000u,
                              .cost = zhtp_route_link_cost(m, 0, UINT32_MAX),
                              .is_up = true};
    adj_add(&net->nodes[a], e);
    adj_add(&net->nodes[b], e);
    if (zhtp_router_link_up(net->nodes[a].r, e, net->nodes[b].id, m, net->now) != ZHTP_OK ||
        zhtp_router_link_up(net->nodes[b].r, e, net->nodes[a].id, m, net->now) != ZHTP_OK)
        abort();
    settle(net, a);
    settle(net, b);
    return e;
}

void rn_cut_edge(rn_net *net, uint32_t e, zhtp_time detect_ns)
{
    if (!net->edges[e].is_up)
        return;
    net->edges[e].is_up = false;
    heap_push(net, (ev){.t = net->now + detect_ns, .type = EV_LINKDOWN, .edge = e});
    if (detect_ns == 0)
        rn_run_until(net, net->now);
}

void rn_kill_node(rn_net *net, uint32_t v, zhtp_time detect_ns)
{
    node *x = &net->nodes[v];
    for (uint32_t i = 0; i < x->n_adj; i++)
        rn_cut_edge(net, x->adj[i], detect_ns);
    x->is_alive = false;
}

void rn_run_until(rn_net *net, zhtp_time t)
{
    while (net->n_heap && net->heap[0].t <= t) {
        ev e = heap_pop(net);
        net->now = e.t;
        switch (e.type) {
        case EV_DELIVER: {
            node *x = &net->nodes[e.node];
            if (x->is_alive && net->edges[e.edge].is_up) {
                int err = zhtp_router_recv(x->r, e.edge, e.buf, e.len, net->now);
                if (err != ZHTP_OK)
                    abort(); /* routers only ever send what they decode */
                settle(net, e.node);
            }
            free(e.buf);
            break;
        }
        case EV_TIMER: {
            node *x = &net->nodes[e.node];
            if (!x->is_alive || x->timer_at != e.t)
                break; /* superseded */
            x->timer_at = ZHTP_TIME_NEVER;
            zhtp_router_tick(x->r, net->now);
            settle(net, e.node);
            break;
        }
        case EV_LINKDOWN: {
            rn_edge *ed = &net->edges[e.edge];
            uint32_t ends[2] = {ed->a, ed->b};
            for (int k = 0; k < 2; k++) {
                if (!net->nodes[ends[k]].is_alive)
                    continue;
                (void)zhtp_router_link_down(net->nodes[ends[k]].r, e.edge, net->now);
                settle(net, ends[k]);
            }
            break;
        }
        }
    }
    if (t > net->now)
        net->now = t;
}

void rn_route(rn_net *net, uint32_t src, uint32_t dst, uint32_t hop_limit, rn_walk *w)
{
    memset(w, 0, sizeof *w);
    uint32_t stamp = ++net->walk_id;
    uint32_t u = src;
    uint32_t bound = ZHTP_ROUTE_BOUND_NONE;
    net->nodes[u].walk_stamp = stamp;
    for (;;) {
        zhtp_route_hop hop;
        int err = zhtp_router_next_hop_id(net->nodes[u].r, net->nodes[dst].id, &bound, &hop);
        if (err != ZHTP_OK) {
            w->result = RN_NOROUTE;
            return;
        }
        if (hop.is_local) {
            w->result = u == dst ? RN_DELIVERED : RN_WRONG;
            return;
        }
        if (w->hops == 0)
            w->first_bound = bound;
        rn_edge *e = &net->edges[hop.link];
        if (!e->is_up) {
            w->result = RN_BROKEN;
            return;
        }
        w->cost += e->cost;
        u = e->a == u ? e->b : e->a;
        if (++w->hops > hop_limit) {
            w->result = RN_TOO_LONG;
            return;
        }
        if (net->nodes[u].walk_stamp == stamp)
            w->revisits++;
        net->nodes[u].walk_stamp = stamp;
    }
}

void rn_bfs(const rn_net *net, uint32_t src, uint32_t *dist)
{
    uint32_t *queue = malloc(net->n * sizeof(uint32_t));
    if (!queue)
        abort();
    for (uint32_t v = 0; v < net->n; v++)
        dist[v] = UINT32_MAX;
    size_t head = 0, tail = 0;
    dist[src] = 0;
    queue[tail++] = src;
    while (head < tail) {
        uint32_t u = queue[head++];
        const node *x = &net->nodes[u];
        for (uint32_t i = 0; i < x->n_adj; i++) {
            const rn_edge *e = &net->edges[x->adj[i]];
            uint32_t w = e->a == u ? e->b : e->a;
            if (e->is_up && net->nodes[w].is_alive && dist[w] == UINT32_MAX) {
                dist[w] = dist[u] + 1;
                queue[tail++] = w;
            }
        }
    }
    free(queue);
}

typedef struct hitem {
    uint64_t d;
    uint32_t v;
} hitem;

void rn_dijkstra(const rn_net *net, uint32_t src, uint64_t *dist)
{
    size_t cap = (size_t)net->n_edges * 2 + 1, n = 0;
    hitem *h = malloc(cap * sizeof(hitem));
    if (!h)
        abort();
    for (uint32_t v = 0; v < net->n; v++)
        dist[v] = UINT64_MAX;
    dist[src] = 0;
    h[n++] = (hitem){0, src};
    while (n) {
        hitem top = h[0];
        hitem last = h[--n];
        size_t i = 0;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= n)
                break;
            if (c + 1 < n && h[c + 1].d < h[c].d)
                c++;
            if (last.d <= h[c].d)
                break;
            h[i] = h[c];
            i = c;
        }
        if (n)
            h[i] = last;
        if (top.d > dist[top.v])
            continue;
        const node *x = &net->nodes[top.v];
        for (uint32_t k = 0; k < x->n_adj; k++) {
            const rn_edge *e = &net->edges[x->adj[k]];
            uint32_t w = e->a == top.v ? e->b : e->a;
            uint64_t nd = top.d + e->cost;
            if (!e->is_up || !net->nodes[w].is_alive || nd >= dist[w])
                continue;
            dist[w] = nd;
            if (n == cap)
                abort();
            size_t j = n++;
            while (j > 0 && h[(j - 1) / 2].d > nd) {
                h[j] = h[(j - 1) / 2];
                j = (j - 1) / 2;
            }
            h[j] = (hitem){nd, w};
        }
    }
    free(h);
}

bool rn_tree_consistent(rn_net *net, uint32_t v)
{
    uint32_t *dist = malloc(net->n * sizeof(uint32_t));
    if (!dist)
        abort();
    rn_bfs(net, v, dist);
    const uint8_t *min_id = NULL;
    for (uint32_t u = 0; u < net->n; u++)
        if (dist[u] != UINT32_MAX && (!min_id || memcmp(net->nodes[u].id, min_id, 32) < 0))
            min_id = net->nodes[u].id;
    bool ok = true;
    for (uint32_t u = 0; u < net->n && ok; u++) {
        if (dist[u] == UINT32_MAX)
            continue;
        uint8_t root[ZHTP_NODE_ID_LEN], parent[ZHTP_NODE_ID_LEN];
        zhtp_router_root(net->nodes[u].r, root);
        bool has_parent = zhtp_router_parent(net->nodes[u].r, parent);
        bool is_root = memcmp(net->nodes[u].id, min_id, ZHTP_NODE_ID_LEN) == 0;
        ok = memcmp(root, min_id, ZHTP_NODE_ID_LEN) == 0 && has_parent == !is_root;
    }
    free(dist);
    return ok;
}

bool rn_build_line(rn_net *net, zhtp_route_medium_kind kind)
{
    for (uint32_t v = 0; v + 1 < net->n; v++)
        rn_add_edge(net, v, v + 1, kind, 0);
    return true;
}

static zhtp_route_medium_kind random_kind(uint64_t *s)
{
    static const zhtp_route_medium_kind kinds[] = {ZHTP_MEDIUM_WIFI_DIRECT, ZHTP_MEDIUM_BLE,
                                                   ZHTP_MEDIUM_LORA, ZHTP_MEDIUM_UDP};
    return kinds[rn_splitmix(s) % 4];
}

bool rn_build_grid(rn_net *net, uint32_t w, uint64_t seed)
{
    uint64_t s = seed;
    for (uint32_t y = 0; y < w; y++)
        for (uint32_t x = 0; x < w; x++) {
            uint32_t v = y * w + x;
            if (x + 1 < w)
                rn_add_edge(net, v, v + 1, random_kind(&s), 0);
            if (y + 1 < w)
                rn_add_edge(net, v, v + w, random_kind(&s), 0);
            /* Every fourth pair also gets a parallel link of another medium. */
            if (x + 1 < w && rn_splitmix(&s) % 4 == 0)
                rn_add_edge(net, v, v + 1, random_kind(&s), 0);
        }
    return true;
}

bool rn_build_random(rn_net *net, uint32_t extra, uint64_t seed)
{
    uint64_t s = seed;
    for (uint32_t v = 1; v < net->n; v++)
        rn_add_edge(net, (uint32_t)(rn_splitmix(&s) % v), v, random_kind(&s), 0);
    for (uint32_t i = 0; i < extra; i++) {
        uint32_t a = (uint32_t)(rn_splitmix(&s) % net->n);
        uint32_t b = (uint32_t)(rn_splitmix(&s) % net->n);
        if (a != b)
            rn_add_edge(net, a, b, random_kind(&s), 0);
    }
    return true;
}

/* Nodes within |reach| cells of v's cell (cell side = WiFi range). */
static void rgg_link_within(rn_net *net, const double *xy, const uint32_t *cell_start,
                            const uint32_t *order, const uint32_t *cell_of, const bool *has_lora,
                            uint32_t g, double r, uint32_t v, int reach)
{
    int cx = (int)(cell_of[v] % g), cy = (int)(cell_of[v] / g);
    for (int dy = -reach; dy <= reach; dy++)
        for (int dx = -reach; dx <= reach; dx++) {
            int nx = cx + dx, ny = cy + dy;
            if (nx < 0 || ny < 0 || nx >= (int)g || ny >= (int)g)
                continue;
            uint32_t c = (uint32_t)ny * g + (uint32_t)nx;
            for (uint32_t k = cell_start[c]; k < cell_start[c + 1]; k++) {
                uint32_t w = order[k];
                if (w <= v)
                    continue;
                double ddx = xy[2 * v] - xy[2 * w], ddy = xy[2 * v + 1] - xy[2 * w + 1];
                double d = sqrt(ddx * ddx + ddy * ddy);
                if (reach == 1) {
                    if (d >= r)
                        continue;
                    rn_add_edge(net, v, w, ZHTP_MEDIUM_WIFI_DIRECT, 0);
                    if (d < 0.3 * r)
                        rn_add_edge(net, v, w, ZHTP_MEDIUM_BLE, 0);
                } else if (has_lora[w] && d < RN_LORA_RANGE * r) {
                    rn_add_edge(net, v, w, ZHTP_MEDIUM_LORA, 0);
                }
            }
        }
}

bool rn_build_rgg(rn_net *net, double mean_degree, uint32_t lora_ppm, uint32_t trunk_ppm,
                  uint64_t seed)
{
    uint64_t s = seed;
    uint32_t n = net->n;
    double r = sqrt(mean_degree / (3.141592653589793 * n));
    uint32_t g = (uint32_t)(1.0 / r);
    if (g < 1)
        g = 1;
    double *xy = malloc(2 * (size_t)n * sizeof(double));
    uint32_t *cell_start = calloc((size_t)g * g + 1, sizeof(uint32_t));
    uint32_t *fill = malloc(((size_t)g * g + 1) * sizeof(uint32_t));
    uint32_t *order = malloc(n * sizeof(uint32_t));
    uint32_t *cell_of = malloc(n * sizeof(uint32_t));
    bool *has_lora = calloc(n, sizeof(bool));
    if (!xy || !cell_start || !fill || !order || !cell_of || !has_lora)
        abort();
    for (uint32_t v = 0; v < n; v++) {
        xy[2 * v] = unit(&s);
        xy[2 * v + 1] = unit(&s);
        has_lora[v] = rn_splitmix(&s) % 1000000u < lora_ppm;
        uint32_t cx = (uint32_t)(xy[2 * v] * g), cy = (uint32_t)(xy[2 * v + 1] * g);
        if (cx >= g)
            cx = g - 1;
        if (cy >= g)
            cy = g - 1;
        cell_of[v] = cy * g + cx;
        cell_start[cell_of[v] + 1]++;
    }
    for (uint32_t c = 0; c < g * g; c++)
        cell_start[c + 1] += cell_start[c];
    memcpy(fill, cell_start, ((size_t)g * g + 1) * sizeof(uint32_t));
    for (uint32_t v = 0; v < n; v++)
        order[fill[cell_of[v]]++] = v;
    for (uint32_t v = 0; v < n; v++) {
        rgg_link_within(net, xy, cell_start, order, cell_of, has_lora, g, r, v, 1);
        if (has_lora[v])
            rgg_link_within(net, xy, cell_start, order, cell_of, has_lora, g, r, v,
                            (int)RN_LORA_RANGE + 1);
    }
    if (trunk_ppm) {
        uint32_t *gw = malloc(n * sizeof(uint32_t));
        uint32_t ng = 0;
        if (!gw)
            abort();
        for (uint32_t v = 0; v < n; v++)
            if (rn_splitmix(&s) % 1000000u < trunk_ppm)
                gw[ng++] = v;
        for (uint32_t i = 0; ng > 1 && i < ng; i++)
            for (int k = 0; k < 3; k++) {
                uint32_t j = (uint32_t)(rn_splitmix(&s) % ng);
                if (j != i)
                    rn_add_edge(net, gw[i], gw[j], ZHTP_MEDIUM_UDP, 0);
            }
        free(gw);
    }
    free(xy), free(cell_start), free(fill), free(order), free(cell_of), free(has_lora);
    return true;
}

size_t rn_state_bytes(const rn_net *net)
{
    size_t total = 0;
    for (uint32_t v = 0; v < net->n; v++)
        if (net->nodes[v].is_alive)
            total += zhtp_router_state_bytes(net->nodes[v].r);
    return total;
}
