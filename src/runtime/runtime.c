/* zhtp runtime on libuv: feeds datagrams and time to the node core, drains what it emits.
 * See runtime.h for what this layer owns; it makes no protocol decisions. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

#include "control.h"
#include "runtime.h"
#include "tun.h"
#include "udp_batch.h"
#include "udp_rx.h"
#include "discovery.h"
#include "http_request.h"
#include "peers.h"
#include "xfer.h"
#include "zhtp/identity.h"
#include "zhtp/keyfile.h"
#include "zhtp/node.h"
#include "zhtp/util.h"

#define RT_MAX_ADDRS 256                    /* static + recently heard, per daemon */
#define RT_HEARD_TTL (30 * ZHTP_NS_PER_SEC) /* a sender not heard for this long is forgotten */
#define RT_MAX_HINTS 64
#define RT_MAX_DEPTH 64
/* recvmmsg calls (of ZHTP_RT_UDP_RX_BATCH buffers) per readable socket before the loop
 * serves the others; the node is drained after each call, so that the frames a relay
 * forwards never pile up past the node's queue (a call brings at most 512 KiB). */
#define RT_RX_ROUNDS 4
#define RT_HTTP_MAX  4096
#define RT_TEXT_MAX  256

typedef struct rt rt;

typedef struct rt_sock {
    uv_udp_t udp; /* binds and closes the socket; its fd is read with rx, watched by poll */
    uv_poll_t poll;
    bool poll_on;
    zhtp_rt_udp_rx *rx;
    rt *r;
    zhtp_link_id link;
    int family;
    char name[ZHTP_RT_ADDR_STR];
    /* The buffer being fed (rx_datagram): its sender as a zhtp_addr, computed once per
     * buffer, and whether the node took any of its datagrams (then note_sender). */
    const struct sockaddr *rx_cur;
    zhtp_addr rx_cur_za;
    bool rx_cur_ok;
    /* Frames the node emitted for this socket in the current drive(), sent with sendmmsg at
     * its end (udp_batch.h); its counters feed /metrics. */
    zhtp_rt_udp_batch *tx;
    uint64_t tx_errors_logged, rx_errors_logged;
    uint64_t rx_frames, rx_bytes; /* datagrams handed to the node (/metrics, per link) */
} rt_sock;

typedef struct rt_addr {
    struct sockaddr_storage sa;
    size_t sock;
    bool is_static;
    zhtp_time last_heard;
    bool used;
} rt_addr;

typedef struct rt_hint {
    uint8_t id[ZHTP_NODE_ID_LEN];
    uint16_t ports[RT_MAX_DEPTH];
    size_t depth;
} rt_hint;

struct rt {
    uv_loop_t loop;
    const zhtp_rt_options *opt;
    int log_level;
    uint64_t t0;
    zhtp_identity *ident;
    zhtp_node *node;
    rt_sock socks[ZHTP_RT_MAX_LISTEN];
    size_t n_socks;
    rt_addr addrs[RT_MAX_ADDRS];
    rt_hint hints[RT_MAX_HINTS];
    size_t n_hints;
    uv_timer_t timer;
    uint64_t timer_due; /* loop time (ms) the timer is armed for, while it is active */
    uv_tcp_t http;
    bool http_on;
    uv_signal_t sig_int, sig_term, sig_hup;
    bool stopping;
    /* Emergency stop (zhtp admin stop), persisted in the role table: while set, no datagram is
     * read into or drained from the node and its clock is not advanced. */
    bool halted;
    zhtp_rt_ctl *ctl;
    zhtp_rt_tun *tun;   /* NULL: no TUN interface (tun.h) */
    zhtp_rt_xfer *xfer; /* DHT store, put/get/ping, their metrics (xfer.h) */
    /* The datagram being fed to the node (rx_datagram): a NEIGHBOUR_UP raised while it is
     * processed names the neighbour behind that address, which peers.c remembers. */
    bool rx_ctx;
    zhtp_link_id rx_link;
    zhtp_addr rx_from;
    zhtp_time next_peer_save;
    zhtp_time rx_now; /* the clock for one recvmmsg round */
    /* The socket whose batch the node writes the next frame into (drive): the last frame's. */
    size_t tx_guess;
    size_t frame_max; /* the links' frame size (udp_mtu or the UDP profile's): room reserved */
    /* LAN discovery (discovery.h): the sockets bound to a wildcard address are advertised. */
    zhtp_rt_disc *disc;
    size_t disc_sock4, disc_sock6;
    uint16_t disc_port4, disc_port6;
    uint8_t txbuf[65536];
    /* application message counters, for /status and /metrics */
    uint64_t msg_sent, msg_acked, msg_failed, msg_received, nbr_up_events, nbr_down_events;
    uint8_t last_from[ZHTP_NODE_ID_LEN];
    char last_text[RT_TEXT_MAX];
};

/* ---- logging ---- */

static void rt_log(rt *r, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void rt_log(rt *r, int level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    if (level > r->log_level)
        return;
    char ts[32];
    struct timespec tv;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &tv);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ zhtpd %s: ", ts, tv.tv_nsec / 1000000, names[level]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void node_log(void *ud, int level, const char *msg)
{
    rt *r = ud;
    if (level < 0)
        level = 0;
    if (level > ZHTP_RT_LOG_DEBUG)
        level = ZHTP_RT_LOG_DEBUG;
    rt_log(r, level, "node: %s", msg);
}

static void hex(char *out, const uint8_t *b, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int unhex(uint8_t *out, size_t n, const char *s)
{
    if (strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < 2 * n; i++) {
        int c = s[i], v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return 0;
}

static void sa_str(char *out, size_t cap, const struct sockaddr *sa)
{
    char h[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        uv_ip4_name(a, h, sizeof h);
        snprintf(out, cap, "%s:%u", h, ntohs(a->sin_port));
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(a, h, sizeof h);
        snprintf(out, cap, "[%s]:%u", h, ntohs(a->sin6_port));
    }
}

/* ---- time, randomness ---- */

static zhtp_time rt_now(rt *r)
{
    return uv_hrtime() - r->t0;
}

static void rt_rng(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    while (len > 0) {
        ssize_t k = getrandom(out, len, 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            abort(); /* no randomness: nothing safe to do */
        }
        out += k;
        len -= (size_t)k;
    }
}

/* ---- link addresses: UDP endpoint <-> zhtp_addr (family, port, address bytes) ---- */

static void sa_to_zaddr(const struct sockaddr *sa, zhtp_addr *z)
{
    memset(z, 0, sizeof *z);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        z->bytes[0] = 4;
        memcpy(z->bytes + 1, &a->sin_port, 2);
        memcpy(z->bytes + 3, &a->sin_addr, 4);
        z->len = 7;
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        z->bytes[0] = 6;
        memcpy(z->bytes + 1, &a->sin6_port, 2);
        memcpy(z->bytes + 3, &a->sin6_addr, 16);
        z->len = 19;
        if (a->sin6_scope_id != 0) {
            /* A link-local peer (LAN discovery) is reachable only through its interface. */
            memcpy(z->bytes + 19, &a->sin6_scope_id, 4);
            z->len = 23;
        }
    }
}

static int zaddr_to_sa(const zhtp_addr *z, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (z->len == 7 && z->bytes[0] == 4) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        memcpy(&a->sin_port, z->bytes + 1, 2);
        memcpy(&a->sin_addr, z->bytes + 3, 4);
        return 0;
    }
    if ((z->len == 19 || z->len == 23) && z->bytes[0] == 6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        memcpy(&a->sin6_port, z->bytes + 1, 2);
        memcpy(&a->sin6_addr, z->bytes + 3, 16);
        if (z->len == 23)
            memcpy(&a->sin6_scope_id, z->bytes + 19, 4);
        return 0;
    }
    return -1;
}

static bool sa_equal(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    zhtp_addr za, zb;
    sa_to_zaddr((const struct sockaddr *)a, &za);
    sa_to_zaddr(b, &zb);
    return za.len == zb.len && memcmp(za.bytes, zb.bytes, za.len) == 0;
}

/* Remembers a sender so the link's broadcasts (beacons) reach it too: a peer that lists us
 * but that we do not list still becomes a neighbour. */
static void note_sender(rt *r, size_t sock, const struct sockaddr *from, zhtp_time now)
{
    rt_addr *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < RT_MAX_ADDRS; i++) {
        rt_addr *a = &r->addrs[i];
        if (!a->used) {
            if (free_slot == NULL)
                free_slot = a;
            continue;
        }
        if (a->sock == sock && sa_equal(&a->sa, from)) {
            a->last_heard = now;
            return;
        }
        if (!a->is_static && (oldest == NULL || a->last_heard < oldest->last_heard))
            oldest = a;
    }
    rt_addr *a = free_slot != NULL ? free_slot : oldest;
    if (a == NULL)
        return;
    memset(a, 0, sizeof *a);
    memcpy(&a->sa, from,
           from->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
    a->sock = sock;
    a->used = true;
    a->last_heard = now;
    char s[ZHTP_RT_ADDR_STR];
    sa_str(s, sizeof s, from);
    rt_log(r, ZHTP_RT_LOG_DEBUG, "heard new sender %s on %s", s, r->socks[sock].name);
}

static void forget_silent(rt *r, zhtp_time now)
{
    for (size_t i = 0; i < RT_MAX_ADDRS; i++) {
        rt_addr *a = &r->addrs[i];
        if (a->used && !a->is_static && now - a->last_heard > RT_HEARD_TTL)
            a->used = false;
    }
}

/* ---- the node's callbacks ---- */

static int hint_lookup(void *ud, const uint8_t id[ZHTP_NODE_ID_LEN], uint16_t *ports, size_t cap,
                       size_t *depth)
{
    rt *r = ud;
    for (size_t i = 0; i < r->n_hints; i++) {
        if (memcmp(r->hints[i].id, id, ZHTP_NODE_ID_LEN) != 0)
            continue;
        if (r->hints[i].depth > cap)
            return ZHTP_ERR_NOBUF;
        memcpy(ports, r->hints[i].ports, r->hints[i].depth * sizeof *ports);
        *depth = r->hints[i].depth;
        return ZHTP_OK;
    }
    return ZHTP_ERR_NOTFOUND;
}

/* ---- the drive loop: after every input, drain outputs and re-arm the timer ---- */

/* Sends what drive() queued on every socket: one sendmmsg per socket in the common case. */
static void send_flush(rt *r)
{
    for (size_t i = 0; i < r->n_socks; i++) {
        rt_sock *s = &r->socks[i];
        if (zhtp_rt_udp_batch_pending(s->tx) == 0)
            continue;
        (void)zhtp_rt_udp_batch_flush(s->tx);
        zhtp_rt_udp_batch_stats st;
        zhtp_rt_udp_batch_get_stats(s->tx, &st);
        if (st.errors != s->tx_errors_logged) {
            rt_log(r, ZHTP_RT_LOG_DEBUG, "send on %s: %" PRIu64 " frames failed: %s", s->name,
                   st.errors - s->tx_errors_logged, strerror(st.last_errno));
            s->tx_errors_logged = st.errors;
        }
    }
}

static void on_timer(uv_timer_t *t);

static void handle_event(rt *r, const zhtp_node_event *ev)
{
    char id[2 * ZHTP_NODE_ID_LEN + 1];
    hex(id, ev->peer, ZHTP_NODE_ID_LEN);
    switch (ev->type) {
    case ZHTP_NODE_EV_NEIGHBOUR_UP:
        r->nbr_up_events++;
        rt_log(r, ZHTP_RT_LOG_INFO, "neighbour up %.16s on link %" PRIu64, id, ev->link);
        if (r->rx_ctx && ev->link == r->rx_link &&
            zhtp_rt_peers_save_addr(zhtp_rt_xfer_store(r->xfer), ev->peer, &r->rx_from,
                                    (uint64_t)time(NULL)) == ZHTP_OK)
            rt_log(r, ZHTP_RT_LOG_DEBUG, "neighbour %.16s remembered for restarts", id);
        break;
    case ZHTP_NODE_EV_NEIGHBOUR_DOWN:
        r->nbr_down_events++;
        rt_log(r, ZHTP_RT_LOG_INFO, "neighbour down %.16s on link %" PRIu64, id, ev->link);
        break;
    case ZHTP_NODE_EV_DATA: {
        r->msg_received++;
        memcpy(r->last_from, ev->peer, ZHTP_NODE_ID_LEN);
        size_t n = ev->len < RT_TEXT_MAX - 1 ? ev->len : RT_TEXT_MAX - 1;
        for (size_t i = 0; i < n; i++) {
            uint8_t c = ev->data[i];
            r->last_text[i] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '.';
        }
        r->last_text[n] = '\0';
        rt_log(r, ZHTP_RT_LOG_INFO, "message from %.16s: %zu bytes, %u hops", id, ev->len,
               ev->hops);
        break;
    }
    case ZHTP_NODE_EV_ACKED:
        r->msg_acked++;
        rt_log(r, ZHTP_RT_LOG_INFO, "message %" PRIu64 " acknowledged by %.16s (%u hops)",
               ev->msg_id, id, ev->hops);
        break;
    case ZHTP_NODE_EV_FAILED:
        r->msg_failed++;
        rt_log(r, ZHTP_RT_LOG_WARN, "message %" PRIu64 " to %.16s failed", ev->msg_id, id);
        break;
    case ZHTP_NODE_EV_IP6:
        if (r->tun != NULL)
            zhtp_rt_tun_deliver(r->tun, ev->peer, ev->data, ev->len);
        break;
    default: /* event types added to the core after this driver: logged, not lost silently */
        rt_log(r, ZHTP_RT_LOG_INFO, "node event %d from %.16s", (int)ev->type, id);
        break;
    }
}

/* Hands the node's pending events on. Also called after every received datagram, so that a
 * NEIGHBOUR_UP it raised is matched with its sender (rx_from) before the next one is fed. */
static void drain_events(rt *r)
{
    zhtp_node_event ev;
    while (zhtp_node_next_event(r->node, &ev) == ZHTP_OK) {
        (void)zhtp_rt_xfer_on_node_event(r->xfer, &ev); /* a ping's ack: also counted below */
        handle_event(r, &ev);
    }
}

static socklen_t sa_len(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET ? (socklen_t)sizeof(struct sockaddr_in)
                                    : (socklen_t)sizeof(struct sockaddr_in6);
}

/* Queues the frame |f| (|n| bytes, for |link| and |to|) on its socket's batch. |in_g|: |f| is
 * the room reserved in socket |g|'s batch, committed there without a copy when the frame is
 * for that socket; otherwise it is copied into the right batch. */
static void queue_frame(rt *r, size_t g, bool in_g, const uint8_t *f, size_t n, zhtp_link_id link,
                        const zhtp_addr *to)
{
    if (link == 0 || link > r->n_socks)
        return;
    size_t si = (size_t)(link - 1);
    rt_sock *s = &r->socks[si];
    if (s->tx == NULL)
        return;
    bool commit = in_g && si == g;
    if (to->len == 0) {
        /* broadcast on a UDP link: every static peer and recent sender on this socket, one
         * copy of the frame in the batch */
        bool again = false;
        for (size_t i = 0; i < RT_MAX_ADDRS; i++) {
            if (!r->addrs[i].used || r->addrs[i].sock != si)
                continue;
            const struct sockaddr *sa = (const struct sockaddr *)&r->addrs[i].sa;
            if (again)
                (void)zhtp_rt_udp_batch_add_again(s->tx, sa, sa_len(sa));
            else if (commit)
                again = zhtp_rt_udp_batch_commit(s->tx, sa, sa_len(sa), n) == ZHTP_OK;
            else
                again = zhtp_rt_udp_batch_add(s->tx, sa, sa_len(sa), f, n) == ZHTP_OK;
        }
    } else {
        struct sockaddr_storage ss;
        if (zaddr_to_sa(to, &ss) != 0)
            return;
        const struct sockaddr *sa = (const struct sockaddr *)&ss;
        if (commit)
            (void)zhtp_rt_udp_batch_commit(s->tx, sa, sa_len(sa), n);
        else
            (void)zhtp_rt_udp_batch_add(s->tx, sa, sa_len(sa), f, n);
    }
    r->tx_guess = si;
}

/* Moves the node's frames into the sockets' send batches. The node writes each frame straight
 * into the batch of the socket the previous one went to (all of them, with one socket), so a
 * frame is copied once, by the node; one for another socket is copied there. */
static void drain_datagrams(rt *r, zhtp_time now)
{
    for (;;) {
        zhtp_link_id link;
        zhtp_addr to;
        size_t g = r->tx_guess < r->n_socks ? r->tx_guess : 0;
        zhtp_rt_udp_batch *tx = r->n_socks > 0 ? r->socks[g].tx : NULL;
        uint8_t *out = r->txbuf;
        size_t cap = sizeof r->txbuf;
        if (tx != NULL) {
            /* The room left in the batch usually takes the frame; when it does not (NOBUF:
             * nothing taken), a flushed, empty batch does. */
            out = zhtp_rt_udp_batch_reserve(tx, r->frame_max, &cap);
        }
        zhtp_ssize n = zhtp_node_next_datagram(r->node, &link, &to, out, cap, now);
        if (n == ZHTP_ERR_NOBUF && tx != NULL) {
            out = zhtp_rt_udp_batch_reserve(tx, ZHTP_RT_UDP_BATCH_BYTES, &cap);
            n = zhtp_node_next_datagram(r->node, &link, &to, out, cap, now);
        }
        if (n < 0)
            break;
        queue_frame(r, g, tx != NULL, out, (size_t)n, link, &to);
    }
}

/* After every input: run what is due, drain the node's frames and events, re-arm the timer. */
static void drive(rt *r)
{
    if (r->stopping || r->halted)
        return;
    zhtp_time now = rt_now(r);
    if (zhtp_node_next_deadline(r->node) <= now) {
        (void)zhtp_node_tick(r->node, now);
        forget_silent(r, now);
    }
    drain_datagrams(r, now);
    send_flush(r);
    drain_events(r);
    zhtp_rt_xfer_poll(r->xfer);
    zhtp_rt_xfer_tick(r->xfer, now);
    zhtp_time d = zhtp_node_next_deadline(r->node);
    zhtp_time xd = zhtp_rt_xfer_next_deadline(r->xfer);
    if (xd < d)
        d = xd;
    uint64_t ms = 1000; /* also the period at which silent senders are forgotten */
    if (d != ZHTP_TIME_NEVER) {
        uint64_t left = d > now ? d - now : 0;
        uint64_t m = (left + ZHTP_NS_PER_MS - 1) / ZHTP_NS_PER_MS;
        if (m < ms)
            ms = m;
    }
    /* Re-arming costs a heap removal and insertion: skipped when the timer is already set
     * for the same loop time (drive runs many times per loop turn under traffic). */
    uint64_t due = uv_now(&r->loop) + ms;
    if (uv_is_active((uv_handle_t *)&r->timer) && r->timer_due == due)
        return;
    r->timer_due = due;
    uv_timer_start(&r->timer, on_timer, ms, 0);
}

/* The DHT's contacts go to the peer cache (peers.h) once a minute and at shutdown. */
#define RT_PEER_SAVE_INTERVAL (60 * ZHTP_NS_PER_SEC)

static void save_contacts(rt *r)
{
    zhtp_dht *dht = r->node != NULL ? zhtp_node_dht(r->node) : NULL;
    if (dht == NULL)
        return;
    uint8_t ids[ZHTP_DHT_K_MAX][ZHTP_NODE_ID_LEN];
    size_t n = zhtp_dht_closest(dht, zhtp_node_id(r->node), ids, ZHTP_DHT_K_MAX);
    size_t w =
        zhtp_rt_peers_save_ids(zhtp_rt_xfer_store(r->xfer), (const uint8_t(*)[ZHTP_NODE_ID_LEN])ids,
                               n, (uint64_t)time(NULL));
    rt_log(r, ZHTP_RT_LOG_DEBUG, "%zu DHT contacts saved (%zu new)", n, w);
}

static void on_timer(uv_timer_t *t)
{
    rt *r = t->data;
    if (r->halted)
        return;
    zhtp_time now = rt_now(r);
    (void)zhtp_node_tick(r->node, now);
    forget_silent(r, now);
    if (now >= r->next_peer_save) {
        save_contacts(r);
        r->next_peer_save = now + RT_PEER_SAVE_INTERVAL;
    }
    drive(r);
}

/* One datagram of a received buffer (udp_rx.h cut GRO buffers back into the sender's
 * datagrams). */
static void rx_datagram(void *ud, const struct sockaddr *from, socklen_t fromlen,
                        const uint8_t *dgram, size_t len)
{
    (void)fromlen;
    rt_sock *s = ud;
    rt *r = s->r;
    if (r->stopping || r->halted)
        return;
    if (s->rx_cur != from) {
        s->rx_cur = from;
        s->rx_cur_ok = false;
        sa_to_zaddr(from, &s->rx_cur_za);
    }
    r->rx_ctx = true;
    r->rx_link = s->link;
    r->rx_from = s->rx_cur_za;
    s->rx_frames++;
    s->rx_bytes += (uint64_t)len;
    int rc = zhtp_node_recv(r->node, s->link, &s->rx_cur_za, dgram, len, r->rx_now);
    if (rc == ZHTP_OK)
        s->rx_cur_ok = true;
    else
        rt_log(r, ZHTP_RT_LOG_DEBUG, "datagram of %zu bytes dropped: %s", len, zhtp_err_name(rc));
    drain_events(r);
    r->rx_ctx = false;
}

/* After the datagrams of one buffer (one sender): a sender the node accepted anything from
 * gets the link's broadcasts too. */
static void rx_buffer_done(void *ud, const struct sockaddr *from, socklen_t fromlen,
                           size_t datagrams)
{
    (void)fromlen;
    (void)datagrams;
    rt_sock *s = ud;
    rt *r = s->r;
    if (s->rx_cur == from && s->rx_cur_ok && !r->stopping && !r->halted)
        note_sender(r, (size_t)(s->link - 1), from, r->rx_now);
    s->rx_cur = NULL;
    s->rx_cur_ok = false;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    rt_sock *s = h->data;
    rt *r = s->r;
    if (status < 0) {
        /* libuv stops a poll handle on POLLERR (a pending socket error, e.g. an ICMP error
         * queued with IP_RECVERR): read and clear the error, and keep receiving. */
        int e = 0;
        socklen_t el = sizeof e;
        uv_os_fd_t fd;
        if (uv_fileno((const uv_handle_t *)&s->udp, &fd) == 0)
            (void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
        rt_log(r, ZHTP_RT_LOG_WARN, "receive on %s: %s", s->name,
               e != 0 ? strerror(e) : uv_strerror(status));
        if (!r->stopping && !uv_is_closing((uv_handle_t *)h))
            (void)uv_poll_start(h, UV_READABLE, on_readable);
        return;
    }
    if (!(events & UV_READABLE))
        return;
    for (int round = 0; round < RT_RX_ROUNDS && !r->stopping; round++) {
        r->rx_now = rt_now(r);
        if (zhtp_rt_udp_rx_read(s->rx, rx_datagram, rx_buffer_done, s) == 0)
            break;
        drive(r);
    }
    zhtp_rt_udp_rx_stats st;
    zhtp_rt_udp_rx_get_stats(s->rx, &st);
    if (st.errors != s->rx_errors_logged) {
        rt_log(r, ZHTP_RT_LOG_WARN, "receive on %s: %s", s->name, strerror(st.last_errno));
        s->rx_errors_logged = st.errors;
    }
}

/* ---- HTTP status / metrics ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        if (b->oom)
            return;
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = true;
            return;
        }
        if (b->p != NULL && b->len + (size_t)k < b->cap) {
            b->len += (size_t)k;
            return;
        }
        size_t ncap = b->cap ? b->cap * 2 : 4096;
        while (ncap < b->len + (size_t)k + 1)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (np == NULL) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

/* ---- TUN interface (tun.c): callbacks, start-up, status and metrics ---- */

static zhtp_time tun_now(void *ud)
{
    return rt_now(ud);
}

static void tun_log(void *ud, int level, const char *msg)
{
    rt_log(ud, level, "%s", msg);
}

static bool tun_is_halted(void *ud)
{
    rt *r = ud;
    return r->halted || r->stopping;
}

static void tun_after_input(void *ud)
{
    drive(ud);
}

/* Operator hints (/hint) name full node ids: they answer prefixes the node may not know yet. */
static bool tun_resolve(void *ud, const uint8_t prefix[ZHTP_IP6_ID_BYTES],
                        uint8_t id[ZHTP_NODE_ID_LEN])
{
    rt *r = ud;
    for (size_t i = 0; i < r->n_hints; i++)
        if (memcmp(r->hints[i].id, prefix, ZHTP_IP6_ID_BYTES) == 0) {
            memcpy(id, r->hints[i].id, ZHTP_NODE_ID_LEN);
            return true;
        }
    return false;
}

static int open_tun(rt *r, const zhtp_rt_options *o)
{
    if (o->no_tun || o->tun[0] == '\0')
        return 0;
    zhtp_rt_tun_config tc = {
        .loop = &r->loop,
        .node = r->node,
        .name = o->tun,
        .mtu = o->tun_mtu,
        .mesh_mtu = o->tun_mesh_mtu,
        .user_data = r,
        .now = tun_now,
        .log = tun_log,
        .resolve = tun_resolve,
        .is_halted = tun_is_halted,
        .after_input = tun_after_input,
        .offload = o->tun_offload,
    };
    char err[300];
    if (zhtp_rt_tun_open(&r->tun, &tc, err, sizeof err) != 0) {
        rt_log(r, ZHTP_RT_LOG_ERROR, "%s", err);
        return -1;
    }
    return 0;
}

/* "\"fd5a:...\"" or "null" for the status answers. */
static const char *tun_ipv6_json(rt *r, char *buf, size_t cap)
{
    if (r->tun == NULL)
        return "null";
    snprintf(buf, cap, "\"%s\"", zhtp_rt_tun_addr(r->tun));
    return buf;
}

static void tun_metrics(rt *r, sbuf *b)
{
    if (r->tun == NULL)
        return;
    zhtp_rt_tun_stats ts;
    zhtp_rt_tun_get_stats(r->tun, &ts);
    sb_printf(b,
              "# HELP zhtp_tun_packets_total IPv6 packets through the TUN (out: host to mesh)\n"
              "# TYPE zhtp_tun_packets_total counter\n"
              "zhtp_tun_packets_total{dir=\"out\"} %" PRIu64 "\n"
              "zhtp_tun_packets_total{dir=\"in\"} %" PRIu64 "\n"
              "# HELP zhtp_tun_bytes_total IPv6 bytes through the TUN (out: host to mesh)\n"
              "# TYPE zhtp_tun_bytes_total counter\n"
              "zhtp_tun_bytes_total{dir=\"out\"} %" PRIu64 "\n"
              "zhtp_tun_bytes_total{dir=\"in\"} %" PRIu64 "\n"
              "# HELP zhtp_tun_icmp_errors_total ICMPv6 errors given to local senders\n"
              "# TYPE zhtp_tun_icmp_errors_total counter\n"
              "zhtp_tun_icmp_errors_total{result=\"sent\"} %" PRIu64 "\n"
              "zhtp_tun_icmp_errors_total{result=\"rate_limited\"} %" PRIu64 "\n"
              "# HELP zhtp_tun_gso_in_total TCP super-packets read from the TUN (offload)\n"
              "# TYPE zhtp_tun_gso_in_total counter\n"
              "zhtp_tun_gso_in_total %" PRIu64 "\n"
              "# HELP zhtp_tun_gso_out_total packets written to the TUN as GSO super-packets\n"
              "# TYPE zhtp_tun_gso_out_total counter\n"
              "zhtp_tun_gso_out_total %" PRIu64 "\n"
              "# HELP zhtp_tun_drops_total TUN packets dropped, by reason\n"
              "# TYPE zhtp_tun_drops_total counter\n",
              ts.out_packets, ts.in_packets, ts.out_bytes, ts.in_bytes, ts.icmp_sent,
              ts.icmp_limited, ts.gso_in, ts.gso_out);
    for (int d = 0; d < ZHTP_RT_TUN_DROP_COUNT; d++)
        sb_printf(b, "zhtp_tun_drops_total{reason=\"%s\"} %" PRIu64 "\n",
                  zhtp_rt_tun_drop_name((zhtp_rt_tun_drop)d), ts.drops[d]);
}

/* Peers = distinct neighbour node ids (the router's view). The node counts links: a
 * neighbour heard on two addresses of one link (its static address and, through LAN
 * discovery, its link-local one) is two links but one peer. */
static size_t peer_count(rt *r)
{
    return zhtp_router_neighbour_count(zhtp_node_router(r->node));
}

static const char *node_state(rt *r)
{
    return peer_count(r) > 0 ? "connected" : "searching";
}

static void put_coords(sbuf *b, const uint16_t *p, size_t d)
{
    sb_printf(b, "[");
    for (size_t i = 0; i < d; i++)
        sb_printf(b, "%s%u", i ? "," : "", p[i]);
    sb_printf(b, "]");
}

static void http_status(rt *r, sbuf *b)
{
    char id[2 * ZHTP_NODE_ID_LEN + 1], root[2 * ZHTP_NODE_ID_LEN + 1];
    uint8_t rid[ZHTP_NODE_ID_LEN];
    const zhtp_router *rtr = zhtp_node_router(r->node);
    hex(id, zhtp_node_id(r->node), ZHTP_NODE_ID_LEN);
    zhtp_router_root(rtr, rid);
    hex(root, rid, ZHTP_NODE_ID_LEN);
    size_t depth = 0;
    const uint16_t *c = zhtp_router_coords(rtr, &depth);
    sb_printf(b,
              "{\"node_id\":\"%s\",\"state\":\"%s\",\"peers\":%zu,\"uptime_s\":%" PRIu64
              ",\"root_id\":\"%s\",\"depth\":%zu,\"coords\":",
              id, node_state(r), peer_count(r), rt_now(r) / ZHTP_NS_PER_SEC, root, depth);
    put_coords(b, c, depth);
    char ip6[64];
    sb_printf(b, ",\"ipv6\":%s", tun_ipv6_json(r, ip6, sizeof ip6));
    sb_printf(b, ",\"links\":[");
    for (size_t i = 0; i < r->n_socks; i++) {
        size_t st = 0, heard = 0;
        for (size_t k = 0; k < RT_MAX_ADDRS; k++)
            if (r->addrs[k].used && r->addrs[k].sock == i) {
                if (r->addrs[k].is_static)
                    st++;
                else
                    heard++;
            }
        sb_printf(b,
                  "%s{\"link\":%" PRIu64 ",\"listen\":\"%s\",\"static_peers\":%zu,"
                  "\"heard_peers\":%zu}",
                  i ? "," : "", r->socks[i].link, r->socks[i].name, st, heard);
    }
    sb_printf(b, "],\"neighbours\":[");
    size_t nn = zhtp_router_neighbour_count(rtr);
    bool first = true;
    for (size_t i = 0; i < nn; i++) {
        zhtp_route_nbr_info info;
        if (zhtp_router_neighbour_get(rtr, i, &info) != ZHTP_OK)
            continue;
        char nid[2 * ZHTP_NODE_ID_LEN + 1];
        hex(nid, info.id, ZHTP_NODE_ID_LEN);
        sb_printf(b, "%s{\"id\":\"%s\",\"parent\":%s,\"child\":%s,\"link_cost\":%u}",
                  first ? "" : ",", nid, info.is_parent ? "true" : "false",
                  info.is_child ? "true" : "false", info.link_cost);
        first = false;
    }
    char from[2 * ZHTP_NODE_ID_LEN + 1];
    hex(from, r->last_from, ZHTP_NODE_ID_LEN);
    sb_printf(b,
              "],\"messages\":{\"sent\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"failed\":%" PRIu64
              ",\"received\":%" PRIu64 ",\"last_from\":\"%s\",\"last_text\":\"%s\"}}\n",
              r->msg_sent, r->msg_acked, r->msg_failed, r->msg_received,
              r->msg_received ? from : "", r->last_text);
}

/* One counter per link and direction: datagrams, or with |bytes| their payload bytes. */
static void link_counter(rt *r, sbuf *b, const char *name, const char *help, bool bytes)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (size_t i = 0; i < r->n_socks; i++) {
        const rt_sock *s = &r->socks[i];
        zhtp_rt_udp_batch_stats st;
        zhtp_rt_udp_batch_get_stats(s->tx, &st);
        sb_printf(
            b, "%s{link=\"%s\",dir=\"in\"} %" PRIu64 "\n%s{link=\"%s\",dir=\"out\"} %" PRIu64 "\n",
            name, s->name, bytes ? s->rx_bytes : s->rx_frames, name, s->name,
            bytes ? st.bytes : st.frames);
    }
}

static void http_metrics(rt *r, sbuf *b)
{
    zhtp_node_stats st;
    zhtp_node_get_stats(r->node, &st);
    struct {
        const char *name, *help;
        uint64_t v;
    } const m[] = {
        {"zhtp_rx_frames_total", "Link frames received", st.rx_frames},
        {"zhtp_rx_bytes_total", "Link bytes received", st.rx_bytes},
        {"zhtp_tx_frames_total", "Link frames queued for sending", st.tx_frames},
        {"zhtp_tx_bytes_total", "Link bytes queued for sending", st.tx_bytes},
        {"zhtp_forwarded_packets_total", "DATA packets forwarded for others", st.fwd_packets},
        {"zhtp_retransmits_total", "End-to-end retransmissions", st.retransmits},
        {"zhtp_duplicates_total", "Duplicate DATA suppressed", st.duplicates},
        {"zhtp_handshake_errors_total", "Handshake packets refused", st.handshake_errors},
        {"zhtp_messages_sent_total", "Application messages sent via /send", r->msg_sent},
        {"zhtp_messages_acked_total", "Application messages acknowledged", r->msg_acked},
        {"zhtp_messages_failed_total", "Application messages given up", r->msg_failed},
        {"zhtp_messages_received_total", "Application messages delivered here", r->msg_received},
        {"zhtp_neighbour_up_total", "Neighbour up events", r->nbr_up_events},
        {"zhtp_neighbour_down_total", "Neighbour down events", r->nbr_down_events},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        sb_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", m[i].name, m[i].help,
                  m[i].name, m[i].name, m[i].v);
    sb_printf(b, "# HELP zhtp_drops_total Packets dropped, by reason\n"
                 "# TYPE zhtp_drops_total counter\n");
    sb_printf(b, "zhtp_drops_total{reason=\"bad\"} %" PRIu64 "\n", st.rx_bad);
    sb_printf(b, "zhtp_drops_total{reason=\"late_fragment\"} %" PRIu64 "\n", st.rx_late_fragments);
    sb_printf(b, "zhtp_drops_total{reason=\"no_route\"} %" PRIu64 "\n", st.drop_no_route);
    sb_printf(b, "zhtp_drops_total{reason=\"hop_limit\"} %" PRIu64 "\n", st.drop_hop_limit);
    sb_printf(b, "zhtp_drops_total{reason=\"queue\"} %" PRIu64 "\n", st.drop_queue);
    sb_printf(b, "zhtp_drops_total{reason=\"no_session\"} %" PRIu64 "\n", st.drop_no_session);
    zhtp_rt_udp_batch_stats tx = {0};
    for (size_t i = 0; i < r->n_socks; i++) {
        zhtp_rt_udp_batch_stats st1;
        zhtp_rt_udp_batch_get_stats(r->socks[i].tx, &st1);
        tx.busy += st1.busy;
        tx.errors += st1.errors + st1.too_big;
        tx.frames += st1.frames;
        tx.calls += st1.calls;
        tx.gso_sends += st1.gso_sends;
        tx.gso_fallbacks += st1.gso_fallbacks;
    }
    sb_printf(b, "zhtp_drops_total{reason=\"socket_busy\"} %" PRIu64 "\n", tx.busy);
    sb_printf(b, "zhtp_drops_total{reason=\"socket_error\"} %" PRIu64 "\n", tx.errors);
    zhtp_rt_udp_rx_stats rx = {0};
    for (size_t i = 0; i < r->n_socks; i++) {
        zhtp_rt_udp_rx_stats st1;
        zhtp_rt_udp_rx_get_stats(r->socks[i].rx, &st1);
        rx.calls += st1.calls;
        rx.buffers += st1.buffers;
        rx.gro_buffers += st1.gro_buffers;
        rx.truncated += st1.truncated;
        rx.bad_cmsg += st1.bad_cmsg;
    }
    sb_printf(b, "zhtp_drops_total{reason=\"rx_truncated\"} %" PRIu64 "\n", rx.truncated);
    sb_printf(b, "zhtp_drops_total{reason=\"rx_bad_gro\"} %" PRIu64 "\n", rx.bad_cmsg);
    /* frames / calls is the batching achieved (1 would be one syscall per frame) */
    sb_printf(b,
              "# HELP zhtp_udp_sent_frames_total UDP datagrams the kernel took\n"
              "# TYPE zhtp_udp_sent_frames_total counter\nzhtp_udp_sent_frames_total %" PRIu64
              "\n# HELP zhtp_udp_send_calls_total sendmmsg calls that sent them\n"
              "# TYPE zhtp_udp_send_calls_total counter\nzhtp_udp_send_calls_total %" PRIu64 "\n",
              tx.frames, tx.calls);
    sb_printf(
        b,
        "# HELP zhtp_udp_gso_sends_total sendmmsg messages carrying several frames (UDP GSO)\n"
        "# TYPE zhtp_udp_gso_sends_total counter\nzhtp_udp_gso_sends_total %" PRIu64 "\n"
        "# HELP zhtp_udp_gso_fallbacks_total GSO messages refused, resent frame by frame\n"
        "# TYPE zhtp_udp_gso_fallbacks_total counter\nzhtp_udp_gso_fallbacks_total %" PRIu64 "\n",
        tx.gso_sends, tx.gso_fallbacks);
    /* datagrams (zhtp_link_packets_total in) / buffers is the receive batching GRO achieved */
    sb_printf(b,
              "# HELP zhtp_udp_recv_calls_total recvmmsg calls on the link sockets\n"
              "# TYPE zhtp_udp_recv_calls_total counter\nzhtp_udp_recv_calls_total %" PRIu64 "\n"
              "# HELP zhtp_udp_recv_buffers_total receive buffers filled (a GRO buffer holds "
              "several datagrams)\n"
              "# TYPE zhtp_udp_recv_buffers_total counter\nzhtp_udp_recv_buffers_total %" PRIu64
              "\n"
              "# HELP zhtp_udp_gro_buffers_total receive buffers that carried a UDP GRO run\n"
              "# TYPE zhtp_udp_gro_buffers_total counter\nzhtp_udp_gro_buffers_total %" PRIu64 "\n",
              rx.calls, rx.buffers, rx.gro_buffers);
    /* Per link (one UDP socket each): what crossed its socket, both ways. */
    link_counter(r, b, "zhtp_link_packets_total", "UDP datagrams by link and direction", false);
    link_counter(r, b, "zhtp_link_bytes_total", "UDP payload bytes by link and direction", true);
    zhtp_session_stats ss;
    size_t conns = zhtp_node_session_stats(r->node, &ss);
    sb_printf(b,
              "# HELP zhtp_sessions Connections (link and end-to-end sessions, and handshakes "
              "under way)\n# TYPE zhtp_sessions gauge\nzhtp_sessions %zu\n"
              "# HELP zhtp_handshakes_total Handshakes completed, by our role\n"
              "# TYPE zhtp_handshakes_total counter\n"
              "zhtp_handshakes_total{role=\"initiator\"} %" PRIu64 "\n"
              "zhtp_handshakes_total{role=\"responder\"} %" PRIu64 "\n"
              "# HELP zhtp_handshake_failures_total Handshakes given up\n"
              "# TYPE zhtp_handshake_failures_total counter\n"
              "zhtp_handshake_failures_total %" PRIu64 "\n",
              conns, ss.handshakes_initiator, ss.handshakes_responder, ss.handshake_failures);
    /* Every link of zhtpd is a UDP socket today; the medium label is there for the radios. */
    sb_printf(b, "# HELP zhtp_peers Neighbours by medium and state\n# TYPE zhtp_peers gauge\n");
    const zhtp_router *rtr = zhtp_node_router(r->node);
    size_t parent = 0, child = 0, other = 0, nn = zhtp_router_neighbour_count(rtr);
    for (size_t i = 0; i < nn; i++) {
        zhtp_route_nbr_info info;
        if (zhtp_router_neighbour_get(rtr, i, &info) != ZHTP_OK)
            continue;
        if (info.is_parent)
            parent++;
        else if (info.is_child)
            child++;
        else
            other++;
    }
    sb_printf(b, "zhtp_peers{medium=\"udp\",state=\"authenticated\"} %zu\n", peer_count(r));
    sb_printf(b,
              "zhtp_peers{medium=\"udp\",state=\"parent\"} %zu\n"
              "zhtp_peers{medium=\"udp\",state=\"child\"} %zu\n"
              "zhtp_peers{medium=\"udp\",state=\"other\"} %zu\n",
              parent, child, other);
    sb_printf(b,
              "# HELP zhtp_uptime_seconds Seconds since start\n# TYPE zhtp_uptime_seconds "
              "gauge\nzhtp_uptime_seconds %" PRIu64 "\n",
              rt_now(r) / ZHTP_NS_PER_SEC);
    tun_metrics(r, b);
    static char xm[16384];
    if (r->xfer != NULL && zhtp_rt_xfer_metrics(r->xfer, xm, sizeof xm) > 0)
        sb_printf(b, "%s", xm);
    zhtp_rt_disc_stats ds;
    zhtp_rt_disc_get_stats(r->disc, &ds);
    sb_printf(b,
              "# HELP zhtp_discovery_beacons_total LAN discovery beacons by direction/outcome\n"
              "# TYPE zhtp_discovery_beacons_total counter\n"
              "zhtp_discovery_beacons_total{dir=\"sent\"} %" PRIu64 "\n"
              "zhtp_discovery_beacons_total{dir=\"send_error\"} %" PRIu64 "\n"
              "zhtp_discovery_beacons_total{dir=\"received\"} %" PRIu64 "\n"
              "zhtp_discovery_beacons_total{dir=\"bad\"} %" PRIu64 "\n"
              "zhtp_discovery_beacons_total{dir=\"own\"} %" PRIu64 "\n",
              ds.sent, ds.send_errors, ds.received, ds.bad, ds.own);
}

#define query_get zhtp_http_query_get /* http_request.c */

/* Stores "coords" (P1.P2...) as the tree coordinates of node |dest| for the lookup callback.
 * A stopgap until the DHT answers lookups: the operator (scripts/demo) tells every node where
 * the others are, as zhtp-sim's oracle does. */
static void set_hint(rt *r, const uint8_t dest[ZHTP_NODE_ID_LEN], char *coords)
{
    rt_hint h = {0};
    memcpy(h.id, dest, ZHTP_NODE_ID_LEN);
    char *save = NULL;
    for (char *t = strtok_r(coords, ".,", &save); t; t = strtok_r(NULL, ".,", &save)) {
        if (h.depth >= RT_MAX_DEPTH)
            break;
        h.ports[h.depth++] = (uint16_t)strtoul(t, NULL, 10);
    }
    size_t i;
    for (i = 0; i < r->n_hints; i++)
        if (memcmp(r->hints[i].id, dest, ZHTP_NODE_ID_LEN) == 0)
            break;
    if (i == r->n_hints && r->n_hints < RT_MAX_HINTS)
        r->n_hints++;
    if (i < RT_MAX_HINTS)
        r->hints[i] = h;
}

/* /hint?id=HEXID&coords=P1.P2...: see set_hint. */
static int http_hint(rt *r, const char *q, sbuf *b)
{
    char to[2 * ZHTP_NODE_ID_LEN + 1], coords[512];
    uint8_t dest[ZHTP_NODE_ID_LEN];
    if (!query_get(q, "id", to, sizeof to) || unhex(dest, sizeof dest, to) != 0 ||
        !query_get(q, "coords", coords, sizeof coords)) {
        sb_printf(b, "{\"error\":\"need id=<64 hex> and coords=<P.P.P> (empty for a root)\"}\n");
        return 400;
    }
    set_hint(r, dest, coords);
    sb_printf(b, "{\"hints\":%zu}\n", r->n_hints);
    return 200;
}

/* /send?to=HEXID&msg=TEXT[&coords=P1.P2...]: a reliable application message (coords: as
 * /hint, for the destination). */
static int http_send(rt *r, const char *q, sbuf *b)
{
    char to[2 * ZHTP_NODE_ID_LEN + 1], msg[1024], coords[512];
    uint8_t dest[ZHTP_NODE_ID_LEN];
    if (!query_get(q, "to", to, sizeof to) || unhex(dest, sizeof dest, to) != 0 ||
        !query_get(q, "msg", msg, sizeof msg)) {
        sb_printf(b, "{\"error\":\"need to=<64 hex> and msg=<text>\"}\n");
        return 400;
    }
    if (query_get(q, "coords", coords, sizeof coords))
        set_hint(r, dest, coords);
    uint64_t id = 0;
    int rc = zhtp_node_send(r->node, dest, (const uint8_t *)msg, strlen(msg),
                            ZHTP_NODE_SEND_RELIABLE, rt_now(r), &id);
    if (rc != ZHTP_OK) {
        sb_printf(b, "{\"error\":\"%s\"}\n", zhtp_err_name(rc));
        return 409;
    }
    r->msg_sent++;
    sb_printf(b, "{\"msg_id\":%" PRIu64 "}\n", id);
    return 200;
}

typedef struct http_conn {
    uv_tcp_t tcp;
    uv_write_t wr;
    rt *r;
    char in[RT_HTTP_MAX];
    size_t in_len;
    sbuf out;
    bool answered;
} http_conn;

static void http_closed(uv_handle_t *h)
{
    http_conn *c = h->data;
    free(c->out.p);
    free(c);
}

static void http_written(uv_write_t *w, int status)
{
    (void)status;
    http_conn *c = w->data;
    uv_close((uv_handle_t *)&c->tcp, http_closed);
}

/* |prc|: the parser's verdict on the request head (http_request.h). */
static void http_answer(http_conn *c, int prc, const zhtp_http_request *req)
{
    rt *r = c->r;
    sbuf body = {0};
    int code = 200;
    const char *ctype = "application/json";
    const char *path = req->path, *q = req->has_query ? req->query : NULL;
    if (prc != ZHTP_OK) {
        code = prc == ZHTP_ERR_UNSUPPORTED ? 405 : 400;
        ctype = "text/plain";
        sb_printf(&body, "%s\n",
                  code == 405 ? "only GET is served" : "malformed or over-long request");
    } else if (strcmp(path, "/status") == 0) {
        http_status(r, &body);
    } else if (strcmp(path, "/metrics") == 0) {
        ctype = "text/plain; version=0.0.4";
        http_metrics(r, &body);
    } else if (strcmp(path, "/send") == 0) {
        code = http_send(r, q, &body);
    } else if (strcmp(path, "/hint") == 0) {
        code = http_hint(r, q, &body);
    } else {
        code = 404;
        ctype = "text/plain";
        sb_printf(&body, "not found; try /status, /metrics or /send?to=ID&msg=TEXT\n");
    }
    const char *reason = code == 200   ? "OK"
                         : code == 400 ? "Bad Request"
                         : code == 404 ? "Not Found"
                         : code == 405 ? "Method Not Allowed"
                                       : "Conflict";
    sb_printf(&c->out,
              "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Connection: close\r\n\r\n%s",
              code, reason, ctype, body.len, body.p ? body.p : "");
    free(body.p);
    c->answered = true;
    if (c->out.oom) {
        uv_close((uv_handle_t *)&c->tcp, http_closed);
        return;
    }
    uv_buf_t buf = uv_buf_init(c->out.p, (unsigned)c->out.len);
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &buf, 1, http_written) != 0)
        uv_close((uv_handle_t *)&c->tcp, http_closed);
    drive(r); /* /send queued frames */
}

static void http_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf)
{
    (void)s;
    http_conn *c = h->data;
    *buf = uv_buf_init(c->in + c->in_len, (unsigned)(RT_HTTP_MAX - 1 - c->in_len));
}

static void http_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    http_conn *c = st->data;
    if (c->answered)
        return;
    if (n < 0) {
        uv_close((uv_handle_t *)st, http_closed);
        return;
    }
    c->in_len += (size_t)n;
    zhtp_http_request *req = malloc(sizeof *req);
    if (req == NULL) {
        uv_close((uv_handle_t *)st, http_closed);
        return;
    }
    int rc = zhtp_http_request_parse(req, c->in, c->in_len);
    if (rc == ZHTP_ERR_AGAIN && c->in_len >= RT_HTTP_MAX - 1)
        rc = ZHTP_ERR_INVAL; /* a head that does not end within the buffer */
    if (rc != ZHTP_ERR_AGAIN) {
        uv_read_stop(st);
        http_answer(c, rc, req);
    }
    free(req);
}

static void http_accept(uv_stream_t *srv, int status)
{
    rt *r = srv->data;
    if (status < 0)
        return;
    http_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    c->r = r;
    uv_tcp_init(&r->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, http_alloc, http_read) != 0)
        uv_close((uv_handle_t *)&c->tcp, http_closed);
}

/* ---- control socket handlers (policy, audit and role changes are done by the dispatcher
 * before these run; they only act on the node and describe it) ---- */

#define CTL_HALT_EFFECT                                                                            \
    "no datagram is read or sent and the node clock is frozen: no forwarding, no new or "          \
    "existing session traffic (neighbours time out); the control socket stays up"

static zhtp_ssize ctl_put(char *out, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static zhtp_ssize ctl_put(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len >= cap)
        return ZHTP_ERR_NOBUF;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len)
        return ZHTP_ERR_NOBUF;
    *len += (size_t)n;
    return (zhtp_ssize)*len;
}

static zhtp_ssize ctl_status(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level, char *out,
                             size_t cap)
{
    (void)req;
    (void)level;
    rt *r = ud;
    char id[2 * ZHTP_NODE_ID_LEN + 1];
    hex(id, zhtp_node_id(r->node), ZHTP_NODE_ID_LEN);
    size_t len = 0;
    char ip6[64];
    return ctl_put(out, cap, &len,
                   "{\"node_id\":\"%s\",\"state\":\"%s\",\"peers\":%zu,\"uptime_s\":%" PRIu64
                   ",\"ipv6\":%s,\"emergency_stop\":%s,\"connection_limit\":%u}",
                   id, r->halted ? "stopped" : node_state(r), peer_count(r),
                   rt_now(r) / ZHTP_NS_PER_SEC, tun_ipv6_json(r, ip6, sizeof ip6),
                   r->halted ? "true" : "false", zhtp_rt_ctl_limit(r->ctl));
}

static zhtp_ssize ctl_peers(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level, char *out,
                            size_t cap)
{
    (void)req;
    (void)level;
    rt *r = ud;
    const zhtp_router *rtr = zhtp_node_router(r->node);
    size_t len = 0, nn = zhtp_router_neighbour_count(rtr);
    zhtp_ssize rc = ctl_put(out, cap, &len, "[");
    bool first = true;
    for (size_t i = 0; i < nn && rc >= 0; i++) {
        zhtp_route_nbr_info info;
        if (zhtp_router_neighbour_get(rtr, i, &info) != ZHTP_OK)
            continue;
        char nid[2 * ZHTP_NODE_ID_LEN + 1];
        hex(nid, info.id, ZHTP_NODE_ID_LEN);
        rc = ctl_put(out, cap, &len,
                     "%s{\"id\":\"%s\",\"state\":\"authenticated\",\"links\":%zu,"
                     "\"link_cost\":%u,\"parent\":%s,\"child\":%s}",
                     first ? "" : ",", nid, info.links, info.link_cost,
                     info.is_parent ? "true" : "false", info.is_child ? "true" : "false");
        first = false;
    }
    return rc < 0 ? rc : ctl_put(out, cap, &len, "]");
}

static zhtp_ssize ctl_stop(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level, char *out,
                           size_t cap)
{
    (void)req;
    (void)level;
    rt *r = ud;
    r->halted = true;
    uv_timer_stop(&r->timer);
    rt_log(r, ZHTP_RT_LOG_WARN, "emergency stop: %s", CTL_HALT_EFFECT);
    size_t len = 0;
    return ctl_put(out, cap, &len, "{\"stopped\":true,\"effect\":\"%s\"}", CTL_HALT_EFFECT);
}

static zhtp_ssize ctl_resume(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level, char *out,
                             size_t cap)
{
    (void)req;
    (void)level;
    rt *r = ud;
    r->halted = false;
    rt_log(r, ZHTP_RT_LOG_WARN, "emergency stop lifted: traffic resumes");
    drive(r);
    size_t len = 0;
    return ctl_put(out, cap, &len, "{\"stopped\":false}");
}

/* Closes the sessions with one neighbour (the node core drops it; it may come back through
 * discovery and a new handshake). The policy (own connections for a User) was checked by the
 * dispatcher before this runs. */
static zhtp_ssize ctl_disconnect(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level,
                                 char *out, size_t cap)
{
    (void)level;
    rt *r = ud;
    const zhtp_ctl_arg *a = zhtp_ctl_request_arg(req, "peer");
    uint8_t id[ZHTP_NODE_ID_LEN];
    if (!a || a->type != ZHTP_CTL_ARG_STRING || strlen(a->s) != 2 * ZHTP_NODE_ID_LEN ||
        zhtp_hex_decode(id, sizeof id, a->s, strlen(a->s)) != ZHTP_NODE_ID_LEN)
        return ZHTP_ERR_INVAL;
    int rc = zhtp_node_disconnect(r->node, id, rt_now(r));
    if (rc != ZHTP_OK)
        return rc;
    rt_log(r, ZHTP_RT_LOG_INFO, "disconnected peer %.16s... on a control request", a->s);
    drive(r);
    size_t len = 0;
    return ctl_put(out, cap, &len, "{\"disconnected\":\"%s\"}", a->s);
}

/* The dispatcher has stored the new limit in the policy store before this runs; apply it. */
static zhtp_ssize ctl_limit(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level, char *out,
                            size_t cap)
{
    (void)req;
    (void)level;
    rt *r = ud;
    uint32_t max = zhtp_rt_ctl_limit(r->ctl);
    zhtp_node_set_max_connections(r->node, max);
    size_t len = 0;
    return ctl_put(out, cap, &len, "{\"limit\":%u,\"enforced\":true}", max);
}

/* put, get, ping: xfer.c runs them; the control socket's user data is the runtime. */
static zhtp_ssize ctl_op_put(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level, char *out,
                             size_t cap)
{
    return zhtp_rt_xfer_ctl_put(((rt *)ud)->xfer, req, level, out, cap);
}

static zhtp_ssize ctl_op_get(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level, char *out,
                             size_t cap)
{
    return zhtp_rt_xfer_ctl_get(((rt *)ud)->xfer, req, level, out, cap);
}

static zhtp_ssize ctl_op_ping(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level,
                              char *out, size_t cap)
{
    return zhtp_rt_xfer_ctl_ping(((rt *)ud)->xfer, req, level, out, cap);
}

static void ctl_after(void *ud)
{
    drive(ud);
}

static void ctl_gone(void *ud, uint64_t ticket)
{
    zhtp_rt_xfer_gone(((rt *)ud)->xfer, ticket);
}

static void ctl_log_cb(void *ud, int level, const char *msg)
{
    rt_log(ud, level, "%s", msg);
}

static int open_control(rt *r, const zhtp_rt_options *o)
{
    char path[600], err[700];
    if (o->control[0] != '\0')
        snprintf(path, sizeof path, "%s", o->control);
    else
        snprintf(path, sizeof path, "%s/%s", o->data_dir, ZHTP_RT_CTL_SOCKET_NAME);
    zhtp_rt_ctl_config cc = {
        .loop = &r->loop,
        .path = path,
        .data_dir = o->data_dir,
        .user_data = r,
        .log = ctl_log_cb,
        .gone = ctl_gone,
        .after = ctl_after,
    };
    cc.handlers[ZHTP_CTL_OP_PUT] = ctl_op_put;
    cc.handlers[ZHTP_CTL_OP_GET] = ctl_op_get;
    cc.handlers[ZHTP_CTL_OP_PING] = ctl_op_ping;
    cc.handlers[ZHTP_CTL_OP_STATUS] = ctl_status;
    cc.handlers[ZHTP_CTL_OP_PEERS] = ctl_peers;
    cc.handlers[ZHTP_CTL_OP_STOP] = ctl_stop;
    cc.handlers[ZHTP_CTL_OP_RESUME] = ctl_resume;
    cc.handlers[ZHTP_CTL_OP_DISCONNECT] = ctl_disconnect;
    cc.handlers[ZHTP_CTL_OP_LIMIT] = ctl_limit;
    if (zhtp_rt_ctl_open(&r->ctl, &cc, err, sizeof err) != 0) {
        rt_log(r, ZHTP_RT_LOG_ERROR, "%s", err);
        return -1;
    }
    r->halted = zhtp_rt_ctl_stopped(r->ctl);
    zhtp_node_set_max_connections(r->node, zhtp_rt_ctl_limit(r->ctl)); /* persisted limit */
    if (r->halted)
        rt_log(r, ZHTP_RT_LOG_WARN,
               "emergency stop in force (persisted): %s; lift it with "
               "`zhtp admin resume`",
               CTL_HALT_EFFECT);
    rt_log(r, ZHTP_RT_LOG_INFO, "control socket %s (mode 0660)", path);
    return 0;
}

/* ---- signals and shutdown ---- */

static void close_one(uv_handle_t *h, void *arg)
{
    rt *r = arg;
    if (uv_is_closing(h))
        return;
    /* HTTP connections own their memory: free it in their close callback. */
    if (zhtp_rt_ctl_owns(h)) {
        zhtp_rt_ctl_close_handle(h);
        return;
    }
    /* A link socket's poll handle is closed before the uv_udp_t closes the descriptor it
     * watches. */
    for (size_t i = 0; i < r->n_socks; i++)
        if (h == (uv_handle_t *)&r->socks[i].udp && r->socks[i].poll_on &&
            !uv_is_closing((uv_handle_t *)&r->socks[i].poll))
            uv_close((uv_handle_t *)&r->socks[i].poll, NULL);
    bool conn = h->type == UV_TCP && h != (uv_handle_t *)&r->http;
    uv_close(h, conn ? http_closed : NULL);
}

static int add_peer(rt *r, const char *spec);

/* A neighbour's address from an earlier run (peers.h): solicited like a static peer; it is
 * authenticated by the handshake like anyone. */
static void remembered_addr(void *ud, const uint8_t id[ZHTP_NODE_ID_LEN], const zhtp_addr *a)
{
    rt *r = ud;
    struct sockaddr_storage ss;
    char spec[ZHTP_RT_ADDR_STR], hid[2 * ZHTP_NODE_ID_LEN + 1];
    if (zaddr_to_sa(a, &ss) != 0)
        return;
    sa_str(spec, sizeof spec, (const struct sockaddr *)&ss);
    hex(hid, id, ZHTP_NODE_ID_LEN);
    rt_log(r, ZHTP_RT_LOG_INFO, "remembered peer %s (node %.16s)", spec, hid);
    (void)add_peer(r, spec);
}

static void remembered_id(void *ud, const uint8_t id[ZHTP_NODE_ID_LEN])
{
    rt *r = ud;
    zhtp_dht *dht = zhtp_node_dht(r->node);
    if (dht != NULL)
        (void)zhtp_dht_add_contact(dht, id, rt_now(r));
}

/* A LAN beacon named a candidate: it is treated as a sender we heard (it gets the node's
 * solicits and beacons, and is forgotten 30 s after its beacons stop); becoming a neighbour
 * takes the normal discovery and authenticated handshake. */
static void disc_found(void *ud, const struct sockaddr *peer)
{
    rt *r = ud;
    if (r->stopping || r->halted)
        return;
    size_t si = peer->sa_family == AF_INET6 ? r->disc_sock6 : r->disc_sock4;
    bool known = false;
    for (size_t i = 0; i < RT_MAX_ADDRS && !known; i++)
        known = r->addrs[i].used && r->addrs[i].sock == si && sa_equal(&r->addrs[i].sa, peer);
    if (!known) {
        char a[ZHTP_RT_ADDR_STR];
        sa_str(a, sizeof a, peer);
        rt_log(r, ZHTP_RT_LOG_INFO, "LAN discovery: candidate peer %s", a);
    }
    note_sender(r, si, peer, rt_now(r));
    drive(r);
}

static void disc_log(void *ud, int level, const char *msg)
{
    rt_log(ud, level, "%s", msg);
}

static int open_discovery(rt *r, const zhtp_rt_options *o)
{
    if (r->disc_port4 == 0 && r->disc_port6 == 0) {
        rt_log(r, ZHTP_RT_LOG_DEBUG, "LAN discovery off: no listen socket on a wildcard address");
        return 0;
    }
    zhtp_rt_disc_config dc = {
        .loop = &r->loop,
        .self_id = zhtp_node_id(r->node),
        .port6 = r->disc_port6,
        .port4 = r->disc_port4,
        .interfaces = o->discovery_interfaces,
        .interval_ms = o->discovery_interval_ms,
        .found = disc_found,
        .log = disc_log,
        .user_data = r,
    };
    char err[600];
    if (zhtp_rt_disc_open(&r->disc, &dc, err, sizeof err) != 0) {
        rt_log(r, ZHTP_RT_LOG_ERROR, "%s", err);
        return -1;
    }
    return 0;
}

static zhtp_time xfer_now(void *ud)
{
    return rt_now(ud);
}

static void xfer_kick(void *ud)
{
    drive(ud);
}

static void xfer_log(void *ud, int level, const char *msg)
{
    rt_log(ud, level, "%s", msg);
}

/* SIGHUP: the config file's peers replace the previous ones (flag peers stay). A dropped
 * peer is demoted to "heard": it still gets beacons while it keeps talking to us, and is
 * forgotten 30 s after it stops. */
static void reload_peers(rt *r, const zhtp_rt_options *o)
{
    zhtp_time now = rt_now(r);
    for (size_t i = 0; i < RT_MAX_ADDRS; i++)
        if (r->addrs[i].used && r->addrs[i].is_static) {
            r->addrs[i].is_static = false;
            r->addrs[i].last_heard = now;
        }
    for (size_t i = 0; i < o->n_peer; i++)
        (void)add_peer(r, o->peer[i]);
    for (size_t i = r->opt->n_peer_config; i < r->opt->n_peer; i++)
        (void)add_peer(r, r->opt->peer[i]);
}

static void on_signal(uv_signal_t *s, int signum)
{
    rt *r = s->data;
    if (signum == SIGHUP) {
        if (r->opt->config[0] == '\0') {
            rt_log(r, ZHTP_RT_LOG_INFO, "SIGHUP: no config file, nothing to reload");
            return;
        }
        zhtp_rt_options o;
        char err[512];
        zhtp_rt_options_init(&o);
        if (zhtp_rt_options_load(&o, r->opt->config, err, sizeof err) != 0) {
            rt_log(r, ZHTP_RT_LOG_WARN, "SIGHUP: keeping settings: %s", err);
            return;
        }
        r->log_level = o.log_level;
        reload_peers(r, &o);
        rt_log(r, ZHTP_RT_LOG_INFO, "SIGHUP: log level and %zu config peers reloaded", o.n_peer);
        drive(r);
        return;
    }
    rt_log(r, ZHTP_RT_LOG_INFO, "signal %d: shutting down", signum);
    r->stopping = true;
    /* Closing handles that are in use by a pending write is safe: libuv cancels the write. */
    uv_walk(&r->loop, close_one, r);
}

/* ---- start-up ---- */

static int load_identity(rt *r, const zhtp_rt_options *o)
{
    char path[600], pass[1024];
    size_t plen = 0;
    snprintf(path, sizeof path, "%s/identity.key", o->data_dir);
    if (o->passphrase_file[0] != '\0') {
        FILE *f = fopen(o->passphrase_file, "r");
        if (f == NULL) {
            rt_log(r, ZHTP_RT_LOG_ERROR, "passphrase file %s: %s", o->passphrase_file,
                   strerror(errno));
            return -1;
        }
        plen = fread(pass, 1, sizeof pass - 1, f);
        fclose(f);
        while (plen > 0 && (pass[plen - 1] == '\n' || pass[plen - 1] == '\r'))
            plen--;
        pass[plen] = '\0';
    } else if (!o->dev_no_passphrase) {
        rt_log(r, ZHTP_RT_LOG_ERROR,
               "no passphrase: give --passphrase-file FILE (or --dev-no-passphrase for tests)");
        return -1;
    }
    int rc = zhtp_identity_load(&r->ident, path, pass, plen);
    if (rc == ZHTP_ERR_NOTFOUND) {
        if (mkdir(o->data_dir, 0700) != 0 && errno != EEXIST) {
            rt_log(r, ZHTP_RT_LOG_ERROR, "data dir %s: %s", o->data_dir, strerror(errno));
            zhtp_wipe(pass, sizeof pass);
            return -1;
        }
        rc = zhtp_identity_generate(&r->ident);
        if (rc == ZHTP_OK) {
            /* dev mode: an empty passphrase protects nothing, so spend no time on the KDF */
            zhtp_keyfile_params kp = {0};
            if (o->dev_no_passphrase && plen == 0) {
                kp.opslimit = ZHTP_KEYFILE_OPSLIMIT_MIN;
                kp.memlimit = ZHTP_KEYFILE_MEMLIMIT_MIN;
            }
            rc = zhtp_identity_save(r->ident, path, pass, plen, &kp, false);
        }
        if (rc == ZHTP_OK)
            rt_log(r, ZHTP_RT_LOG_INFO, "new identity written to %s%s", path,
                   plen == 0 ? " (dev mode: empty passphrase)" : "");
    }
    zhtp_wipe(pass, sizeof pass);
    if (rc != ZHTP_OK) {
        rt_log(r, ZHTP_RT_LOG_ERROR, "identity %s: %s", path, zhtp_strerror(rc));
        return -1;
    }
    return 0;
}

/* Bulk IPv6 traffic through the TUN reaches a link as bursts of fragments (a 64 KiB packet is
 * 52 datagrams at the UDP MTU): the kernel's default receive buffer (208 KiB) overflowed at the
 * relay between two turns of the loop (UdpRcvbufErrors in tests/integration/tun_test.sh's
 * topology, ~30 % of the frames at 100 Mbit/s). Forced past net.core.rmem_max when we may. */
#define RT_SOCK_BUF (4 * 1024 * 1024)
static void tune_socket_buffers(rt_sock *s)
{
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&s->udp, &fd) != 0)
        return;
    int sz = RT_SOCK_BUF;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
}

static int open_socket(rt *r, const char *spec)
{
    struct sockaddr_storage ss;
    if (zhtp_rt_parse_addr(spec, &ss) != 0) {
        rt_log(r, ZHTP_RT_LOG_ERROR, "listen %s: bad address", spec);
        return -1;
    }
    rt_sock *s = &r->socks[r->n_socks];
    memset(s, 0, sizeof *s);
    s->r = r;
    s->family = ss.ss_family;
    s->link = r->n_socks + 1; /* link 0 unused, so a zeroed link id is never valid */
    int rc = uv_udp_init_ex(&r->loop, &s->udp, (unsigned)ss.ss_family);
    if (rc != 0)
        return -1;
    s->udp.data = s;
    r->n_socks++;
    rc = uv_udp_bind(&s->udp, (const struct sockaddr *)&ss,
                     ss.ss_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0);
    if (rc == 0) {
        int len = sizeof ss;
        uv_udp_getsockname(&s->udp, (struct sockaddr *)&ss, &len);
        sa_str(s->name, sizeof s->name, (const struct sockaddr *)&ss);
        tune_socket_buffers(s);
        uv_os_fd_t fd;
        rc = uv_fileno((const uv_handle_t *)&s->udp, &fd);
        if (rc == 0 && (s->tx = zhtp_rt_udp_batch_new(fd, NULL, NULL)) == NULL)
            rc = UV_ENOMEM;
        /* Received with our own recvmmsg (udp_rx.h), not uv_udp_recv_start: libuv has no way
         * to ask for UDP_GRO's control message. The uv_udp_t only binds and closes. */
        if (rc == 0 && (s->rx = zhtp_rt_udp_rx_new(fd, 0, 0, true)) == NULL)
            rc = UV_ENOMEM;
        int gerr = 0;
        if (rc == 0 && !zhtp_rt_udp_rx_gro_on(s->rx, &gerr))
            rt_log(r, ZHTP_RT_LOG_DEBUG, "%s: no UDP GRO (%s): one datagram per receive buffer",
                   s->name, strerror(gerr));
        if (rc == 0 && (rc = uv_poll_init_socket(&r->loop, &s->poll, fd)) == 0) {
            s->poll.data = s;
            s->poll_on = true;
        }
    }
    if (rc == 0) {
        /* Only a socket on a wildcard address is reachable from the LAN: advertise it. */
        if (ss.ss_family == AF_INET &&
            ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY) &&
            r->disc_port4 == 0) {
            r->disc_port4 = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            r->disc_sock4 = r->n_socks - 1;
        } else if (ss.ss_family == AF_INET6 &&
                   IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr) &&
                   r->disc_port6 == 0) {
            r->disc_port6 = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
            r->disc_sock6 = r->n_socks - 1;
        }
        rc = uv_poll_start(&s->poll, UV_READABLE, on_readable);
    }
    if (rc != 0) {
        rt_log(r, ZHTP_RT_LOG_ERROR, "listen %s: %s", spec, uv_strerror(rc));
        return -1;
    }
    const zhtp_route_medium *m = zhtp_route_medium_preset(ZHTP_MEDIUM_UDP);
    r->frame_max = r->opt->udp_mtu != 0 ? r->opt->udp_mtu : m->mtu;
    rc = zhtp_node_link_add(r->node, s->link, r->opt->udp_mtu, m, rt_now(r)); /* 0: profile's */
    if (rc != ZHTP_OK) {
        rt_log(r, ZHTP_RT_LOG_ERROR, "link for %s: %s", spec, zhtp_strerror(rc));
        return -1;
    }
    rt_log(r, ZHTP_RT_LOG_INFO, "listening on udp %s (link %" PRIu64 ")", s->name, s->link);
    return 0;
}

static int add_peer(rt *r, const char *spec)
{
    struct sockaddr_storage ss;
    if (zhtp_rt_parse_addr(spec, &ss) != 0)
        return -1;
    size_t si;
    for (si = 0; si < r->n_socks; si++)
        if (r->socks[si].family == ss.ss_family)
            break;
    if (si == r->n_socks) {
        rt_log(r, ZHTP_RT_LOG_ERROR, "peer %s: no --listen socket of that address family", spec);
        return -1;
    }
    for (size_t i = 0; i < RT_MAX_ADDRS; i++) {
        rt_addr *a = &r->addrs[i];
        if (a->used && a->sock == si && sa_equal(&a->sa, (const struct sockaddr *)&ss)) {
            a->is_static = true; /* already heard, or listed twice */
            return 0;
        }
    }
    for (size_t i = 0; i < RT_MAX_ADDRS; i++) {
        if (!r->addrs[i].used) {
            r->addrs[i] = (rt_addr){.sa = ss, .sock = si, .is_static = true, .used = true};
            rt_log(r, ZHTP_RT_LOG_INFO, "static peer %s", spec);
            return 0;
        }
    }
    rt_log(r, ZHTP_RT_LOG_ERROR, "peer %s: address table full", spec);
    return -1;
}

static int open_http(rt *r, const char *spec)
{
    struct sockaddr_storage ss;
    if (zhtp_rt_parse_addr(spec, &ss) != 0)
        return -1;
    uv_tcp_init(&r->loop, &r->http);
    r->http.data = r;
    r->http_on = true;
    int rc = uv_tcp_bind(&r->http, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&r->http, 16, http_accept);
    if (rc != 0) {
        rt_log(r, ZHTP_RT_LOG_ERROR, "http %s: %s", spec, uv_strerror(rc));
        return -1;
    }
    bool loopback = ss.ss_family == AF_INET
                        ? (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127
                        : IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
    if (!loopback)
        rt_log(r, ZHTP_RT_LOG_WARN,
               "http %s is not a loopback address: /send and /hint have no authentication", spec);
    rt_log(r, ZHTP_RT_LOG_INFO, "http on http://%s/status and /metrics", spec);
    return 0;
}

/* glibc gives the top of its heap back to the kernel (brk) once 128 KiB of it are free. Bulk
 * traffic allocates and frees packet-sized buffers (up to 64 KiB each) many thousand times
 * a second, so the heap's top was shrunk and grown again per packet: page faults and page
 * clearing were ~7 % of the daemons' CPU in the 3-namespace bench (docs/tun.md "Batched
 * receive"). Keeping up to 4 MiB free at the top costs at most that much resident memory
 * after a burst. */
#define RT_MALLOC_TRIM (4 * 1024 * 1024)

int zhtp_rt_run(const zhtp_rt_options *o)
{
#ifdef M_TRIM_THRESHOLD
    (void)mallopt(M_TRIM_THRESHOLD, RT_MALLOC_TRIM);
#endif
    rt *r = calloc(1, sizeof *r);
    if (r == NULL)
        return 1;
    r->opt = o;
    r->log_level = o->log_level;
    int exit_code = 1;
    bool loop_ok = false;
    if (uv_loop_init(&r->loop) != 0)
        goto out;
    loop_ok = true;
    r->t0 = uv_hrtime();
    if (load_identity(r, o) != 0)
        goto out;
    zhtp_node_config nc = {
        .rng = rt_rng,
        .log = node_log,
        .user_data = r,
        .lookup = hint_lookup,
    };
    zhtp_dht_config dc;
    char xerr[700];
    zhtp_rt_xfer_config xc = {
        .data_dir = o->data_dir,
        .content_max = o->content_max,
        .quota_bytes = o->store_quota,
        .quota_peer_bytes = o->store_quota_peer,
        .rng = rt_rng,
        .now = xfer_now,
        .kick = xfer_kick,
        .log = xfer_log,
        .user_data = r,
    };
    if (zhtp_rt_xfer_new(&r->xfer, &xc, &dc, xerr, sizeof xerr) != 0) {
        rt_log(r, ZHTP_RT_LOG_ERROR, "%s", xerr);
        goto out;
    }
    nc.dht = &dc;
    int rc = zhtp_node_new(&r->node, &nc, r->ident, rt_now(r));
    if (rc != ZHTP_OK) {
        rt_log(r, ZHTP_RT_LOG_ERROR, "node: %s", zhtp_strerror(rc));
        goto out;
    }
    zhtp_rt_xfer_attach(r->xfer, r->node, zhtp_node_dht(r->node), NULL);
    char id[2 * ZHTP_NODE_ID_LEN + 1];
    hex(id, zhtp_node_id(r->node), ZHTP_NODE_ID_LEN);
    rt_log(r, ZHTP_RT_LOG_INFO, "node id %s", id);
    /* Peers first so that the SOLICIT sent by link_add reaches them. */
    for (size_t i = 0; i < o->n_listen; i++) {
        struct sockaddr_storage ss;
        if (zhtp_rt_parse_addr(o->listen[i], &ss) != 0)
            goto out;
        r->socks[i].family = ss.ss_family;
    }
    r->n_socks = o->n_listen;
    for (size_t i = 0; i < o->n_peer; i++)
        if (add_peer(r, o->peer[i]) != 0)
            goto out;
    zhtp_ssize kept = zhtp_rt_peers_load(zhtp_rt_xfer_store(r->xfer), (uint64_t)time(NULL),
                                         remembered_addr, remembered_id, r);
    if (kept > 0)
        rt_log(r, ZHTP_RT_LOG_INFO, "%zd peers remembered from earlier runs (DATA_DIR/store)",
               (size_t)kept);
    r->n_socks = 0;
    for (size_t i = 0; i < o->n_listen; i++)
        if (open_socket(r, o->listen[i]) != 0)
            goto out;
    if (o->http[0] != '\0' && open_http(r, o->http) != 0)
        goto out;
    if (!o->no_discovery && open_discovery(r, o) != 0)
        goto out;
    uv_timer_init(&r->loop, &r->timer);
    r->timer.data = r;
    if (!o->no_control && open_control(r, o) != 0)
        goto out;
    zhtp_rt_xfer_attach(r->xfer, r->node, zhtp_node_dht(r->node), r->ctl);
    if (open_tun(r, o) != 0)
        goto out;
    uv_signal_t *sigs[] = {&r->sig_int, &r->sig_term, &r->sig_hup};
    int nums[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(&r->loop, sigs[i]);
        sigs[i]->data = r;
        uv_signal_start(sigs[i], on_signal, nums[i]);
    }
    signal(SIGPIPE, SIG_IGN);
    drive(r);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    exit_code = 0;
    rt_log(r, ZHTP_RT_LOG_INFO, "stopped");
out:
    if (loop_ok) {
        uv_walk(&r->loop, close_one, r);
        uv_run(&r->loop, UV_RUN_DEFAULT);
        uv_loop_close(&r->loop);
    }
    zhtp_rt_ctl_free(r->ctl);
    zhtp_rt_disc_free(r->disc);
    zhtp_rt_tun_free(r->tun); /* its handles were closed with the loop's */
    for (size_t i = 0; i < ZHTP_RT_MAX_LISTEN; i++) {
        zhtp_rt_udp_rx_free(r->socks[i].rx);
        zhtp_rt_udp_batch_free(r->socks[i].tx);
    }
    save_contacts(r);
    zhtp_node_free(r->node);
    zhtp_rt_xfer_free(r->xfer); /* after the node: its DHT used the store until freed */
    zhtp_identity_free(r->ident);
    free(r);
    return exit_code;
}
