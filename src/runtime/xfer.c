/* zhtpd's DHT services: store, put/get/ping over the control socket, DHT metrics (xfer.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "xfer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zhtp/dht_store.h"
#include "zhtp/store.h"
#include "zhtp/util.h"

#define ZHTP_IP6_MESH_0 0xfd /* src/runtime/ip6.h: fd5a::/16, then id bits 0..111 */
#define ZHTP_IP6_MESH_1 0x5a

enum { X_LOG_ERROR = 0, X_LOG_WARN, X_LOG_INFO, X_LOG_DEBUG };

typedef enum { XF_FREE = 0, XF_PUT_UPLOAD, XF_PUT, XF_GET, XF_PING } xf_state;

typedef struct xf {
    xf_state state;
    uint64_t ticket;
    uint64_t op; /* DHT operation, or the ping's message id */
    zhtp_time started, next_progress, deadline;
    uint64_t size;
    uint8_t key[ZHTP_DHT_ID_LEN]; /* content id, or the pinged node */
    zhtp_node_stats st0;          /* node counters at the start: progress in bytes */
} xf;

/* Prometheus histogram of one operation kind, seconds. */
#define N_BUCKETS 14
static const double bucket_le[N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                            0.25,  0.5,    1,     2.5,  5,     10,   30};
typedef struct histo {
    uint64_t counts[N_BUCKETS + 1]; /* last: +Inf only */
    uint64_t n;
    double sum;
    uint64_t ok, failed;
} histo;

enum { H_PUT = 0, H_GET, H_PING, H_COUNT };
static const char *const h_names[H_COUNT] = {"put", "get", "ping"};

struct zhtp_rt_xfer {
    zhtp_rt_xfer_config cfg;
    char data_dir[512];
    zhtp_dht_store *ds;
    uint64_t net_offset; /* network time = now + this (wall-clock nanoseconds) */
    zhtp_node *node;
    zhtp_dht *dht;
    zhtp_rt_ctl *ctl;
    xf ops[ZHTP_RT_XFER_MAX];
    histo h[H_COUNT];
    uint64_t bytes_put, bytes_got;
};

static void xlog(zhtp_rt_xfer *x, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void xlog(zhtp_rt_xfer *x, int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (x->cfg.log != NULL)
        x->cfg.log(x->cfg.user_data, level, msg);
}

static zhtp_time now_of(zhtp_rt_xfer *x)
{
    return x->cfg.now(x->cfg.user_data);
}

static void hexs(char *out, const uint8_t *b, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static void observe(histo *h, zhtp_time latency, bool ok)
{
    double s = (double)latency / 1e9;
    size_t i = 0;
    while (i < N_BUCKETS && s > bucket_le[i])
        i++;
    h->counts[i]++;
    h->n++;
    h->sum += s;
    if (ok)
        h->ok++;
    else
        h->failed++;
}

/* ---- store ---- */

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * ZHTP_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t store_clock(void *ud)
{
    zhtp_rt_xfer *x = ud;
    return now_of(x) + x->net_offset;
}

int zhtp_rt_xfer_new(zhtp_rt_xfer **out, const zhtp_rt_xfer_config *cfg, zhtp_dht_config *dht,
                     char *err, size_t err_cap)
{
    *out = NULL;
    zhtp_rt_xfer *x = calloc(1, sizeof *x);
    if (x == NULL) {
        snprintf(err, err_cap, "store: out of memory");
        return -1;
    }
    x->cfg = *cfg;
    if (x->cfg.content_max == 0)
        x->cfg.content_max = ZHTP_RT_CONTENT_MAX_DEF;
    snprintf(x->data_dir, sizeof x->data_dir, "%s", cfg->data_dir);
    x->cfg.data_dir = x->data_dir;
    x->net_offset = wall_ns() - now_of(x);
    zhtp_store_config sc = {.quota_bytes = cfg->quota_bytes};
    /* STOREs received from a remote peer are charged to that peer's share (the node's own
     * puts and what its gets fetch are not), so one peer cannot fill the store for all. */
    uint64_t total = cfg->quota_bytes ? cfg->quota_bytes : ZHTP_STORE_DEFAULT_QUOTA_BYTES;
    sc.quota_peer_bytes = cfg->quota_peer_bytes ? cfg->quota_peer_bytes : total / 4;
    int rc = zhtp_dht_store_open(&x->ds, x->data_dir, &sc, store_clock, x);
    if (rc != ZHTP_OK) {
        snprintf(err, err_cap, "store %s/store: %s", x->data_dir, zhtp_strerror(rc));
        free(x);
        return -1;
    }
    memset(dht, 0, sizeof *dht);
    dht->rng = cfg->rng;
    dht->rng_user_data = cfg->user_data;
    zhtp_dht_store_configure(x->ds, dht); /* store ops + per-peer charging of STOREs */
    dht->net_time_offset = x->net_offset;
    dht->content_max = x->cfg.content_max;
    *out = x;
    return 0;
}

void zhtp_rt_xfer_attach(zhtp_rt_xfer *x, zhtp_node *node, zhtp_dht *dht, zhtp_rt_ctl *ctl)
{
    x->node = node;
    x->dht = dht;
    x->ctl = ctl;
}

void zhtp_rt_xfer_free(zhtp_rt_xfer *x)
{
    if (x == NULL)
        return;
    zhtp_dht_store_close(x->ds);
    free(x);
}

struct zhtp_store *zhtp_rt_xfer_store(zhtp_rt_xfer *x)
{
    return x != NULL && x->ds != NULL ? zhtp_dht_store_backend(x->ds) : NULL;
}

/* ---- operations table ---- */

static xf *alloc_op(zhtp_rt_xfer *x)
{
    for (size_t i = 0; i < ZHTP_RT_XFER_MAX; i++)
        if (x->ops[i].state == XF_FREE) {
            memset(&x->ops[i], 0, sizeof x->ops[i]);
            return &x->ops[i];
        }
    return NULL;
}

static xf *by_ticket(zhtp_rt_xfer *x, uint64_t ticket)
{
    for (size_t i = 0; i < ZHTP_RT_XFER_MAX; i++)
        if (x->ops[i].state != XF_FREE && x->ops[i].ticket == ticket)
            return &x->ops[i];
    return NULL;
}

/* The last line of an operation, then the connection closes (after |tail|, when given:
 * the content of a get, taken over). */
static void finish(zhtp_rt_xfer *x, xf *o, int status, const char *result_json, uint8_t *tail,
                   size_t tail_len)
{
    char line[1024];
    if (status == ZHTP_OK)
        snprintf(line, sizeof line, "{\"ok\":true,\"done\":true,\"result\":%s}\n", result_json);
    else
        snprintf(line, sizeof line,
                 "{\"ok\":false,\"done\":true,\"error\":\"%s\",\"code\":%d,\"reason\":\"%s\"}\n",
                 zhtp_err_name(status), status, zhtp_strerror(status));
    if (status != ZHTP_OK)
        zhtp_rt_ctl_audit_failure(x->ctl, o->ticket, status, zhtp_strerror(status));
    if (zhtp_rt_ctl_send(x->ctl, o->ticket, line, strlen(line)) && tail != NULL)
        zhtp_rt_ctl_send_owned(x->ctl, o->ticket, tail, tail_len);
    else
        free(tail);
    zhtp_rt_ctl_end(x->ctl, o->ticket);
    o->state = XF_FREE;
}

static zhtp_ssize put_result(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static zhtp_ssize put_result(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? ZHTP_ERR_NOBUF : n;
}

/* ---- put ---- */

static void on_upload(void *ud, uint64_t ticket, uint8_t *bytes, size_t len);

zhtp_ssize zhtp_rt_xfer_ctl_put(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level,
                                char *out, size_t cap)
{
    (void)level;
    zhtp_rt_xfer *x = ud;
    const zhtp_ctl_arg *a = zhtp_ctl_request_arg(req, "size");
    if (x->dht == NULL)
        return ZHTP_ERR_UNSUPPORTED;
    if (a == NULL || a->type != ZHTP_CTL_ARG_INT || a->i < 1)
        return ZHTP_ERR_INVAL;
    if ((uint64_t)a->i > x->cfg.content_max)
        return ZHTP_ERR_STORE_QUOTA; /* content_max: over it no node would fetch it back */
    xf *o = alloc_op(x);
    if (o == NULL)
        return ZHTP_ERR_SESSION_LIMIT;
    uint64_t t = zhtp_rt_ctl_defer(x->ctl, (size_t)a->i, on_upload, x);
    if (t == 0)
        return ZHTP_ERR_NOMEM;
    o->state = XF_PUT_UPLOAD;
    o->ticket = t;
    o->size = (uint64_t)a->i;
    o->started = now_of(x);
    return put_result(out, cap, "{\"send\":%" PRIu64 "}", o->size);
}

static void on_upload(void *ud, uint64_t ticket, uint8_t *bytes, size_t len)
{
    zhtp_rt_xfer *x = ud;
    xf *o = by_ticket(x, ticket);
    if (o == NULL || o->state != XF_PUT_UPLOAD) {
        free(bytes);
        return;
    }
    zhtp_time now = now_of(x);
    uint64_t op = 0;
    int rc = zhtp_dht_put_content(x->dht, bytes, len, 0, o->key, now, &op);
    free(bytes); /* the DHT copied what it keeps */
    if (rc != ZHTP_OK) {
        observe(&x->h[H_PUT], 0, false);
        finish(x, o, rc, NULL, NULL, 0);
        return;
    }
    o->state = XF_PUT;
    o->op = op;
    o->started = now;
    o->next_progress = now + ZHTP_RT_PROGRESS_INTERVAL;
    zhtp_node_get_stats(x->node, &o->st0);
    x->cfg.kick(x->cfg.user_data);
}

/* ---- get ---- */

zhtp_ssize zhtp_rt_xfer_ctl_get(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level,
                                char *out, size_t cap)
{
    (void)level;
    zhtp_rt_xfer *x = ud;
    const zhtp_ctl_arg *a = zhtp_ctl_request_arg(req, "id");
    uint8_t id[ZHTP_DHT_ID_LEN];
    if (x->dht == NULL)
        return ZHTP_ERR_UNSUPPORTED;
    if (a == NULL || a->type != ZHTP_CTL_ARG_STRING ||
        zhtp_hex_decode(id, sizeof id, a->s, strlen(a->s)) != ZHTP_DHT_ID_LEN)
        return ZHTP_ERR_INVAL;
    xf *o = alloc_op(x);
    if (o == NULL)
        return ZHTP_ERR_SESSION_LIMIT;
    zhtp_time now = now_of(x);
    uint64_t op = 0;
    int rc = zhtp_dht_get_content(x->dht, id, now, &op);
    if (rc != ZHTP_OK)
        return rc;
    uint64_t t = zhtp_rt_ctl_defer(x->ctl, 0, NULL, NULL);
    /* Without a ticket the operation still runs; its event finds no entry and is dropped. */
    if (t == 0)
        return ZHTP_ERR_NOMEM;
    o->state = XF_GET;
    o->ticket = t;
    o->op = op;
    memcpy(o->key, id, sizeof id);
    o->started = now;
    o->next_progress = now + ZHTP_RT_PROGRESS_INTERVAL;
    zhtp_node_get_stats(x->node, &o->st0);
    return put_result(out, cap, "{\"fetching\":\"%s\"}", a->s);
}

/* ---- ping ---- */

/* NODE: 64 hex digits, or a mesh IPv6 address (fd5a::/16) whose 112 id bits the node resolves
 * (zhtp_node_find_prefix). */
static int resolve_node(zhtp_rt_xfer *x, const char *s, uint8_t id[ZHTP_NODE_ID_LEN])
{
    if (strlen(s) == 2 * ZHTP_NODE_ID_LEN)
        return zhtp_hex_decode(id, ZHTP_NODE_ID_LEN, s, strlen(s)) == ZHTP_NODE_ID_LEN
                   ? ZHTP_OK
                   : ZHTP_ERR_INVAL;
    uint8_t a[16];
    if (inet_pton(AF_INET6, s, a) != 1 || a[0] != ZHTP_IP6_MESH_0 || a[1] != ZHTP_IP6_MESH_1)
        return ZHTP_ERR_INVAL;
    return zhtp_node_find_prefix(x->node, a + 2, 112, id, now_of(x));
}

zhtp_ssize zhtp_rt_xfer_ctl_ping(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level,
                                 char *out, size_t cap)
{
    (void)level;
    zhtp_rt_xfer *x = ud;
    const zhtp_ctl_arg *a = zhtp_ctl_request_arg(req, "node");
    uint8_t id[ZHTP_NODE_ID_LEN];
    if (a == NULL || a->type != ZHTP_CTL_ARG_STRING)
        return ZHTP_ERR_INVAL;
    /* ZHTP_ERR_AGAIN: a DHT lookup for the address's id has started; the daemon cannot block
     * here, the client retries. */
    int rc = resolve_node(x, a->s, id);
    if (rc != ZHTP_OK)
        return rc;
    xf *o = alloc_op(x);
    if (o == NULL)
        return ZHTP_ERR_SESSION_LIMIT;
    zhtp_time now = now_of(x);
    uint8_t body[sizeof ZHTP_RT_PING_MAGIC + 8];
    memcpy(body, ZHTP_RT_PING_MAGIC, sizeof ZHTP_RT_PING_MAGIC);
    memcpy(body + sizeof ZHTP_RT_PING_MAGIC, &now, 8); /* makes each ping's bytes distinct */
    uint64_t msg = 0;
    rc = zhtp_node_send(x->node, id, body, sizeof body, ZHTP_NODE_SEND_RELIABLE, now, &msg);
    if (rc != ZHTP_OK)
        return rc;
    uint64_t t = zhtp_rt_ctl_defer(x->ctl, 0, NULL, NULL);
    if (t == 0)
        return ZHTP_ERR_NOMEM;
    o->state = XF_PING;
    o->ticket = t;
    o->op = msg;
    memcpy(o->key, id, sizeof id);
    o->started = now;
    o->deadline = now + ZHTP_RT_PING_TIMEOUT;
    char hid[2 * ZHTP_NODE_ID_LEN + 1];
    hexs(hid, id, ZHTP_NODE_ID_LEN);
    return put_result(out, cap, "{\"node\":\"%s\"}", hid);
}

bool zhtp_rt_xfer_on_node_event(zhtp_rt_xfer *x, const zhtp_node_event *ev)
{
    if (ev->type != ZHTP_NODE_EV_ACKED && ev->type != ZHTP_NODE_EV_FAILED)
        return false;
    for (size_t i = 0; i < ZHTP_RT_XFER_MAX; i++) {
        xf *o = &x->ops[i];
        if (o->state != XF_PING || o->op != ev->msg_id ||
            memcmp(o->key, ev->peer, ZHTP_NODE_ID_LEN) != 0)
            continue;
        zhtp_time rtt = now_of(x) - o->started;
        observe(&x->h[H_PING], rtt, ev->type == ZHTP_NODE_EV_ACKED);
        if (ev->type == ZHTP_NODE_EV_FAILED) {
            finish(x, o, ZHTP_ERR_TIMEOUT, NULL, NULL, 0);
            return true;
        }
        char res[256], hid[2 * ZHTP_NODE_ID_LEN + 1];
        hexs(hid, o->key, ZHTP_NODE_ID_LEN);
        snprintf(res, sizeof res, "{\"node\":\"%s\",\"rtt_ms\":%.3f,\"hops\":%u}", hid,
                 (double)rtt / 1e6, ev->hops);
        finish(x, o, ZHTP_OK, res, NULL, 0);
        return true;
    }
    return false;
}

/* ---- DHT completions, progress, timeouts ---- */

void zhtp_rt_xfer_poll(zhtp_rt_xfer *x)
{
    if (x == NULL || x->dht == NULL)
        return;
    zhtp_dht_event ev;
    while (zhtp_dht_next_event(x->dht, &ev) == ZHTP_OK) {
        if (ev.type != ZHTP_DHT_EV_CONTENT_PUT_DONE && ev.type != ZHTP_DHT_EV_CONTENT_GET_DONE)
            continue;
        bool is_put = ev.type == ZHTP_DHT_EV_CONTENT_PUT_DONE;
        observe(&x->h[is_put ? H_PUT : H_GET], ev.latency, ev.status == ZHTP_OK);
        xf *o = NULL;
        for (size_t i = 0; i < ZHTP_RT_XFER_MAX && o == NULL; i++)
            if (x->ops[i].state == (is_put ? XF_PUT : XF_GET) && x->ops[i].op == ev.op)
                o = &x->ops[i];
        char hid[2 * ZHTP_DHT_ID_LEN + 1], res[512];
        if (o == NULL)
            continue; /* its client went away */
        hexs(hid, o->key, ZHTP_DHT_ID_LEN);
        double ms = (double)ev.latency / 1e6;
        if (ev.status != ZHTP_OK) {
            xlog(x, X_LOG_INFO, "%s %.16s... failed: %s", is_put ? "put" : "get", hid,
                 zhtp_err_name(ev.status));
            finish(x, o, ev.status, NULL, NULL, 0);
            continue;
        }
        if (is_put) {
            x->bytes_put += o->size;
            snprintf(res, sizeof res,
                     "{\"id\":\"%s\",\"size\":%" PRIu64 ",\"ms\":%.1f,\"stored\":%u}", hid, o->size,
                     ms, ev.stored);
            xlog(x, X_LOG_INFO, "put %s: %" PRIu64 " bytes in %.1f ms", hid, o->size, ms);
            finish(x, o, ZHTP_OK, res, NULL, 0);
            continue;
        }
        /* The event's value is borrowed until the next event: the copy goes to the client
         * after the line announcing its size. */
        uint8_t *copy = malloc(ev.len > 0 ? ev.len : 1);
        if (copy == NULL) {
            finish(x, o, ZHTP_ERR_NOMEM, NULL, NULL, 0);
            continue;
        }
        memcpy(copy, ev.value, ev.len);
        x->bytes_got += ev.len;
        snprintf(res, sizeof res, "{\"id\":\"%s\",\"size\":%zu,\"ms\":%.1f}", hid, ev.len, ms);
        xlog(x, X_LOG_INFO, "get %s: %zu bytes in %.1f ms", hid, ev.len, ms);
        finish(x, o, ZHTP_OK, res, copy, ev.len);
    }
}

zhtp_time zhtp_rt_xfer_next_deadline(const zhtp_rt_xfer *x)
{
    zhtp_time d = ZHTP_TIME_NEVER;
    for (size_t i = 0; x != NULL && i < ZHTP_RT_XFER_MAX; i++) {
        const xf *o = &x->ops[i];
        zhtp_time t = o->state == XF_PING                          ? o->deadline
                      : (o->state == XF_PUT || o->state == XF_GET) ? o->next_progress
                                                                   : ZHTP_TIME_NEVER;
        if (t < d)
            d = t;
    }
    return d;
}

void zhtp_rt_xfer_tick(zhtp_rt_xfer *x, zhtp_time now)
{
    if (x == NULL)
        return;
    for (size_t i = 0; i < ZHTP_RT_XFER_MAX; i++) {
        xf *o = &x->ops[i];
        if (o->state == XF_PING && now >= o->deadline) {
            /* The node keeps retransmitting for a while; a late ack finds no entry. */
            observe(&x->h[H_PING], now - o->started, false);
            finish(x, o, ZHTP_ERR_TIMEOUT, NULL, NULL, 0);
        } else if ((o->state == XF_PUT || o->state == XF_GET) && now >= o->next_progress) {
            /* The DHT does not report per-chunk progress; the node's link byte counters since
             * the start are what the mesh has carried for this (and any concurrent) traffic. */
            zhtp_node_stats st;
            zhtp_node_get_stats(x->node, &st);
            char line[256];
            snprintf(line, sizeof line,
                     "{\"progress\":{\"elapsed_ms\":%" PRIu64 ",\"tx_bytes\":%" PRIu64
                     ",\"rx_bytes\":%" PRIu64 ",\"size\":%" PRIu64 "}}\n",
                     (now - o->started) / ZHTP_NS_PER_MS, st.tx_bytes - o->st0.tx_bytes,
                     st.rx_bytes - o->st0.rx_bytes, o->size);
            zhtp_rt_ctl_send(x->ctl, o->ticket, line, strlen(line));
            o->next_progress = now + ZHTP_RT_PROGRESS_INTERVAL;
        }
    }
}

void zhtp_rt_xfer_gone(zhtp_rt_xfer *x, uint64_t ticket)
{
    xf *o = by_ticket(x, ticket);
    if (o != NULL)
        o->state = XF_FREE; /* a DHT operation still running completes into nothing */
}

/* ---- metrics ---- */

size_t zhtp_rt_xfer_metrics(const zhtp_rt_xfer *x, char *out, size_t cap)
{
    size_t len = 0;
#define EMIT(...)                                                                                  \
    do {                                                                                           \
        int k_ = snprintf(out + len, cap - len, __VA_ARGS__);                                      \
        if (k_ < 0 || (size_t)k_ >= cap - len) {                                                   \
            out[0] = '\0';                                                                         \
            return 0;                                                                              \
        }                                                                                          \
        len += (size_t)k_;                                                                         \
    } while (0)
    if (cap == 0)
        return 0;
    out[0] = '\0';
    EMIT("# HELP zhtp_dht_operation_seconds Time from the start of a put, get (whole content, "
         "all lookups) or ping to its completion\n# TYPE zhtp_dht_operation_seconds "
         "histogram\n");
    for (int k = 0; k < H_COUNT; k++) {
        const histo *h = &x->h[k];
        uint64_t cum = 0;
        for (int b = 0; b < N_BUCKETS; b++) {
            cum += h->counts[b];
            EMIT("zhtp_dht_operation_seconds_bucket{op=\"%s\",le=\"%g\"} %" PRIu64 "\n", h_names[k],
                 bucket_le[b], cum);
        }
        EMIT("zhtp_dht_operation_seconds_bucket{op=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", h_names[k],
             h->n);
        EMIT("zhtp_dht_operation_seconds_sum{op=\"%s\"} %.6f\n", h_names[k], h->sum);
        EMIT("zhtp_dht_operation_seconds_count{op=\"%s\"} %" PRIu64 "\n", h_names[k], h->n);
    }
    EMIT("# HELP zhtp_dht_operations_total Completed put, get and ping operations by result\n"
         "# TYPE zhtp_dht_operations_total counter\n");
    for (int k = 0; k < H_COUNT; k++)
        EMIT("zhtp_dht_operations_total{op=\"%s\",result=\"ok\"} %" PRIu64 "\n"
             "zhtp_dht_operations_total{op=\"%s\",result=\"error\"} %" PRIu64 "\n",
             h_names[k], x->h[k].ok, h_names[k], x->h[k].failed);
    EMIT("# HELP zhtp_content_bytes_total Content bytes stored (put) and fetched (get)\n"
         "# TYPE zhtp_content_bytes_total counter\n"
         "zhtp_content_bytes_total{op=\"put\"} %" PRIu64 "\n"
         "zhtp_content_bytes_total{op=\"get\"} %" PRIu64 "\n",
         x->bytes_put, x->bytes_got);
    if (x->dht != NULL) {
        EMIT("# HELP zhtp_dht_contacts Contacts in the DHT's buckets\n# TYPE zhtp_dht_contacts "
             "gauge\nzhtp_dht_contacts %zu\n",
             zhtp_dht_table_size(x->dht));
    }
#undef EMIT
    return len;
}
