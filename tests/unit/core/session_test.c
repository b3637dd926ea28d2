/* The session pool end to end: two (or more) in-memory endpoints with a virtual clock and a
 * network whose losses the test chooses. Handshake, transport, replay, rekeying, cookies under
 * a flood, backoff, the pool limit, allocation failures. White-box checks (keys wiped) read
 * src/core/session_internal.h. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "session_internal.h"
#include "testutil.h"
#include "zhtp/identity.h"
#include "zhtp/session.h"

#define SEC    ZHTP_NS_PER_SEC
#define MAX_EP 4

/* ---- Counting allocator that can fail its Nth allocation ---- */

typedef struct zalloc {
    zhtp_mem mem;
    size_t live_bytes, n_alloc, fail_at;
} zalloc;

static void *za_alloc(void *ud, size_t n)
{
    zalloc *a = ud;
    a->n_alloc++;
    if (a->fail_at && a->n_alloc == a->fail_at)
        return NULL;
    a->live_bytes += n;
    return malloc(n);
}

static void za_free(void *ud, void *p, size_t n)
{
    zalloc *a = ud;
    if (!p)
        return;
    a->live_bytes -= n;
    free(p);
}

/* ---- Endpoints ---- */

typedef struct ep {
    zhtp_identity *id;
    const zhtp_identity_public *pub;
    zhtp_sessions *s;
    zt_rng rng;
    zhtp_addr addr;
    zalloc al;
} ep;

static void rng_cb(void *ud, uint8_t *out, size_t len)
{
    zt_rng_bytes(ud, out, len);
}

static void ep_init_seed(ep *e, uint8_t tag, uint64_t rng_seed, const zhtp_session_config *base,
                         zhtp_time now)
{
    memset(e, 0, sizeof *e);
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES];
    memset(seed, tag, sizeof seed);
    assert_int_equal(zhtp_identity_from_seed(&e->id, seed), ZHTP_OK);
    e->pub = zhtp_identity_get_public(e->id);
    zt_rng_seed(&e->rng, rng_seed);
    e->addr.len = 6;
    memset(e->addr.bytes, tag, 6);
    e->al.mem = (zhtp_mem){za_alloc, za_free, &e->al};
    zhtp_session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (base)
        cfg = *base;
    cfg.mem = &e->al.mem;
    cfg.rng = rng_cb;
    cfg.user_data = &e->rng;
    assert_int_equal(zhtp_session_new(&e->s, &cfg, e->id, now), ZHTP_OK);
}

static void ep_init(ep *e, uint8_t tag, const zhtp_session_config *base)
{
    ep_init_seed(e, tag, 1000 + tag, base, 0);
}

static void ep_free(ep *e)
{
    zhtp_session_free(e->s);
    assert_int_equal(e->al.live_bytes, 0); /* no leak */
    zhtp_identity_free(e->id);
}

static const uint8_t *nid(const ep *e)
{
    return e->pub->node_id;
}

/* ---- Network ---- */

typedef bool (*drop_fn)(void *ctx, const ep *from, const uint8_t *pkt, size_t len);

typedef struct net {
    ep *eps[MAX_EP];
    int n;
    zhtp_time now;
    drop_fn drop;
    void *ctx;
    uint64_t delivered, dropped, bytes_hs;
    int last_rc;
    uint32_t trace; /* running hash of every packet sent, for the determinism test */
} net;

static void net_init(net *w, ep *a, ep *b, ep *c)
{
    memset(w, 0, sizeof *w);
    w->eps[w->n++] = a;
    w->eps[w->n++] = b;
    if (c)
        w->eps[w->n++] = c;
}

static bool is_sealed(const uint8_t *pkt)
{
    return pkt[7] & 1;
}

static uint8_t g_pkt[ZHTP_WIRE_MAX_PACKET];
static uint8_t g_pt[ZHTP_WIRE_MAX_PAYLOAD];

static int deliver(ep *to, const ep *from, const uint8_t *pkt, size_t len, zhtp_time now)
{
    if (is_sealed(pkt)) {
        zhtp_wire_header h;
        uint8_t peer[32];
        zhtp_ssize n = zhtp_session_open_packet(to->s, 1, &from->addr, pkt, len, &h, g_pt,
                                                sizeof g_pt, peer, now);
        return n < 0 ? (int)n : 0;
    }
    return zhtp_session_recv_handshake(to->s, 1, &from->addr, pkt, len, now);
}

/* Moves every queued datagram to its addressee until the network is quiet. */
static void pump(net *w)
{
    for (int round = 0; round < 1000; round++) {
        bool any = false;
        for (int i = 0; i < w->n; i++) {
            zhtp_link_id link;
            zhtp_addr to;
            zhtp_ssize len;
            while ((len = zhtp_session_next_datagram(w->eps[i]->s, &link, &to, g_pkt, sizeof g_pkt,
                                                     w->now)) > 0) {
                any = true;
                for (zhtp_ssize k = 0; k < len; k++)
                    w->trace = w->trace * 31 + g_pkt[k];
                if (!is_sealed(g_pkt))
                    w->bytes_hs += (uint64_t)len;
                if (w->drop && w->drop(w->ctx, w->eps[i], g_pkt, (size_t)len)) {
                    w->dropped++;
                    continue;
                }
                for (int j = 0; j < w->n; j++) {
                    if (j != i && w->eps[j]->addr.len == to.len &&
                        memcmp(w->eps[j]->addr.bytes, to.bytes, to.len) == 0) {
                        w->last_rc = deliver(w->eps[j], w->eps[i], g_pkt, (size_t)len, w->now);
                        w->delivered++;
                    }
                }
            }
        }
        if (!any)
            return;
    }
    fail_msg("network never went quiet");
}

/* Pumps, then advances the clock deadline by deadline (ticking everyone) until |until|. */
static void run_until(net *w, zhtp_time until)
{
    pump(w);
    for (int guard = 0; guard < 100000; guard++) {
        zhtp_time d = ZHTP_TIME_NEVER;
        for (int i = 0; i < w->n; i++) {
            zhtp_time x = zhtp_session_next_deadline(w->eps[i]->s);
            d = x < d ? x : d;
        }
        if (d > until) {
            w->now = until;
            return;
        }
        w->now = d > w->now ? d : w->now;
        for (int i = 0; i < w->n; i++)
            (void)zhtp_session_tick(w->eps[i]->s, w->now);
        pump(w);
    }
    fail_msg("run_until: too many deadlines");
}

static bool usable(const ep *a, const ep *b)
{
    zhtp_conn_state st = zhtp_session_state(a->s, nid(b));
    return st == ZHTP_CONN_AUTHENTICATED || st == ZHTP_CONN_ACTIVE;
}

static void drain_events(ep *e)
{
    zhtp_session_event ev;
    while (zhtp_session_next_event(e->s, &ev) == ZHTP_OK)
        ;
}

static zhtp_ssize seal_data(ep *a, const ep *b, const uint8_t *pt, size_t n, uint8_t *out,
                            size_t cap, zhtp_time now)
{
    zhtp_wire_header h;
    memset(&h, 0, sizeof h);
    h.version = ZHTP_WIRE_VERSION;
    h.operation = ZHTP_WIRE_OP_DATA;
    h.hop_limit = 1;
    memcpy(h.sender, nid(a), 32);
    memcpy(h.target, nid(b), 32);
    h.message_id = 42;
    return zhtp_session_seal_packet(a->s, nid(b), &h, pt, n, out, cap, now);
}

static zhtp_ssize open_at(ep *b, const ep *a, const uint8_t *pkt, size_t len, zhtp_time now)
{
    zhtp_wire_header h;
    uint8_t peer[32];
    zhtp_ssize n =
        zhtp_session_open_packet(b->s, 1, &a->addr, pkt, len, &h, g_pt, sizeof g_pt, peer, now);
    if (n >= 0)
        assert_memory_equal(peer, nid(a), 32);
    return n;
}

/* A completes a handshake with B (no loss) and B sees the keepalive. */
static void handshake(net *w, ep *a, ep *b)
{
    assert_int_equal(zhtp_session_connect(a->s, nid(b), 1, &b->addr, w->now), ZHTP_OK);
    pump(w);
    assert_true(usable(a, b));
    assert_true(usable(b, a));
}

/* ---- Tests ---- */

static void handshake_completes_and_walks_the_states(void **state)
{
    (void)state;
    ep a, b;
    ep_init(&a, 1, NULL);
    ep_init(&b, 2, NULL);
    net w;
    net_init(&w, &a, &b, NULL);
    handshake(&w, &a, &b);
    /* A: Connecting -> Connected -> Authenticated (-> Active only once B sends). */
    zhtp_conn_state want_a[] = {ZHTP_CONN_CONNECTING, ZHTP_CONN_CONNECTED, ZHTP_CONN_AUTHENTICATED};
    zhtp_session_event ev;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(zhtp_session_next_event(a.s, &ev), ZHTP_OK);
        assert_int_equal(ev.type, ZHTP_SESSION_EV_STATE);
        assert_int_equal(ev.state, want_a[i]);
        assert_memory_equal(ev.peer, nid(&b), 32);
    }
    assert_int_equal(zhtp_session_next_event(a.s, &ev), ZHTP_ERR_AGAIN);
    /* B: Connected -> Authenticated -> Active (A's keepalive). */
    zhtp_conn_state want_b[] = {ZHTP_CONN_CONNECTED, ZHTP_CONN_AUTHENTICATED, ZHTP_CONN_ACTIVE};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(zhtp_session_next_event(b.s, &ev), ZHTP_OK);
        assert_int_equal(ev.state, want_b[i]);
    }
    /* Exactly one of each public-key operation on each side. */
    zhtp_session_stats sa, sb;
    zhtp_session_get_stats(a.s, &sa);
    zhtp_session_get_stats(b.s, &sb);
    assert_int_equal(sa.kem_keygen, 1);
    assert_int_equal(sa.kem_decaps, 1);
    assert_int_equal(sa.sig_sign, 1);
    assert_int_equal(sa.sig_verify, 1);
    assert_int_equal(sb.kem_encaps, 1);
    assert_int_equal(sb.sig_sign, 1);
    assert_int_equal(sb.sig_verify, 1);
    /* B -> A makes A Active. */
    uint8_t pkt[256];
    zhtp_ssize n = seal_data(&b, &a, (const uint8_t *)"hello", 5, pkt, sizeof pkt, w.now);
    assert_int_equal(n, 128 + 5 + 16);
    assert_int_equal(open_at(&a, &b, pkt, (size_t)n, w.now), 5);
    assert_memory_equal(g_pt, "hello", 5);
    assert_int_equal(zhtp_session_state(a.s, nid(&b)), ZHTP_CONN_ACTIVE);
    ep_free(&a);
    ep_free(&b);
}

/* ---- Clear tail (docs/sessions.md §5.1) ---- */

#define TAIL_PT  300
#define TAIL_LEN 200
#define TAIL_PKT (128 + TAIL_PT + 16)
#define TAIL_OFF (128 + TAIL_PT - TAIL_LEN) /* where the tail starts in the packet */

static zhtp_ssize seal_tail(ep *a, const ep *b, const uint8_t *pt, size_t n, size_t clear,
                            uint8_t *out, size_t cap, zhtp_time now)
{
    zhtp_wire_header h;
    memset(&h, 0, sizeof h);
    h.version = ZHTP_WIRE_VERSION;
    h.operation = ZHTP_WIRE_OP_DATA;
    h.hop_limit = 1;
    memcpy(h.sender, nid(a), 32);
    memcpy(h.target, nid(b), 32);
    h.message_id = 43;
    return zhtp_session_seal_packet_tail(a->s, nid(b), &h, pt, n, clear, out, cap, now);
}

static void clear_tail_round_trips_with_the_tail_unencrypted(void **state)
{
    (void)state;
    ep a, b;
    ep_init(&a, 1, NULL);
    ep_init(&b, 2, NULL);
    net w;
    net_init(&w, &a, &b, NULL);
    handshake(&w, &a, &b);
    uint8_t pt[TAIL_PT], pkt[TAIL_PKT + 8];
    zt_rng r;
    zt_rng_seed(&r, 77);
    zt_rng_bytes(&r, pt, sizeof pt);
    zhtp_ssize n = seal_tail(&a, &b, pt, sizeof pt, TAIL_LEN, pkt, sizeof pkt, w.now);
    assert_int_equal(n, TAIL_PKT);
    assert_int_equal(pkt[7], ZHTP_WIRE_FLAG_SEALED | ZHTP_WIRE_FLAG_CLEAR_TAIL);
    static const uint8_t cl[4] = {0, 0, 0, TAIL_LEN};
    assert_memory_equal(pkt + 112, cl, 4);
    /* The tail travels as it is; the prefix is ciphertext. */
    assert_memory_equal(pkt + TAIL_OFF, pt + TAIL_PT - TAIL_LEN, TAIL_LEN);
    assert_memory_not_equal(pkt + 128, pt, TAIL_PT - TAIL_LEN);
    memset(g_pt, 0, TAIL_PT);
    assert_int_equal(open_at(&b, &a, pkt, (size_t)n, w.now), TAIL_PT);
    assert_memory_equal(g_pt, pt, TAIL_PT);

    /* In place (pt at out + 128), and the smallest tail (16 bytes, just the inner tag). */
    memcpy(pkt + 128, pt, sizeof pt);
    n = seal_tail(&a, &b, pkt + 128, sizeof pt, 16, pkt, sizeof pkt, w.now);
    assert_int_equal(n, TAIL_PKT);
    assert_memory_equal(pkt + 128 + TAIL_PT - 16, pt + TAIL_PT - 16, 16);
    assert_int_equal(open_at(&b, &a, pkt, (size_t)n, w.now), TAIL_PT);
    assert_memory_equal(g_pt, pt, TAIL_PT);

    /* A tail of 1..15 bytes or longer than the payload is refused before a counter is used;
     * clear_len 0 is the ordinary full seal. */
    zhtp_conn_info ci;
    assert_int_equal(zhtp_session_conn_info(a.s, nid(&b), &ci), ZHTP_OK);
    uint64_t tx = ci.tx_packets;
    static const size_t bad[] = {1, 15, TAIL_PT + 1};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(seal_tail(&a, &b, pt, sizeof pt, bad[i], pkt, sizeof pkt, w.now),
                         ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_session_conn_info(a.s, nid(&b), &ci), ZHTP_OK);
    assert_int_equal(ci.tx_packets, tx);
    n = seal_tail(&a, &b, pt, sizeof pt, 0, pkt, sizeof pkt, w.now);
    assert_int_equal(n, TAIL_PKT);
    assert_int_equal(pkt[7], ZHTP_WIRE_FLAG_SEALED);
    assert_memory_not_equal(pkt + TAIL_OFF, pt + TAIL_PT - TAIL_LEN, TAIL_LEN);
    assert_int_equal(open_at(&b, &a, pkt, (size_t)n, w.now), TAIL_PT);
    ep_free(&a);
    ep_free(&b);
}

/* The link tag covers the header, the encrypted prefix and the tail's last 16 bytes (the inner
 * packet's own tag): a flip of any of those bits, or a changed clear_len, is rejected. A byte
 * of the tail before its last 16 is not the link layer's to check: it opens, and the end-to-end
 * AEAD of the inner packet rejects it (tested at node level, node_tail_test). */
static void clear_tail_tampering_is_caught_except_inside_the_inner_ciphertext(void **state)
{
    (void)state;
    ep a, b;
    ep_init(&a, 1, NULL);
    ep_init(&b, 2, NULL);
    net w;
    net_init(&w, &a, &b, NULL);
    handshake(&w, &a, &b);
    uint8_t pt[TAIL_PT], pkt[TAIL_PKT], bad[TAIL_PKT];
    zt_rng r;
    zt_rng_seed(&r, 78);
    zt_rng_bytes(&r, pt, sizeof pt);
    zhtp_ssize n = seal_tail(&a, &b, pt, sizeof pt, TAIL_LEN, pkt, sizeof pkt, w.now);
    assert_int_equal(n, TAIL_PKT);
    for (size_t i = 0; i < TAIL_PKT; i++) {
        if (i >= TAIL_OFF && i < TAIL_PKT - 32)
            continue; /* the inner ciphertext: below */
        for (int bit = 0; bit < 8; bit++) {
            memcpy(bad, pkt, sizeof bad);
            bad[i] ^= (uint8_t)(1u << bit);
            zhtp_ssize rc = open_at(&b, &a, bad, sizeof bad, w.now);
            assert_true(rc < 0);
        }
    }
    /* clear_len one shorter or longer (still well formed): the AD differs. */
    for (int d = -1; d <= 1; d += 2) {
        memcpy(bad, pkt, sizeof bad);
        bad[115] = (uint8_t)(TAIL_LEN + d);
        assert_int_equal(open_at(&b, &a, bad, sizeof bad, w.now), ZHTP_ERR_SESSION_AUTH);
    }
    /* The flag (and clear_len) stripped: the receiver would decrypt the tail: rejected. */
    memcpy(bad, pkt, sizeof bad);
    bad[7] &= (uint8_t)~ZHTP_WIRE_FLAG_CLEAR_TAIL;
    memset(bad + 112, 0, 4);
    assert_int_equal(open_at(&b, &a, bad, sizeof bad, w.now), ZHTP_ERR_SESSION_AUTH);
    /* A byte of the inner ciphertext: the link layer passes it on, changed. */
    memcpy(bad, pkt, sizeof bad);
    bad[TAIL_OFF + 5] ^= 0x40;
    assert_int_equal(open_at(&b, &a, bad, sizeof bad, w.now), TAIL_PT);
    assert_int_equal(g_pt[TAIL_PT - TAIL_LEN + 5], pt[TAIL_PT - TAIL_LEN + 5] ^ 0x40);
    /* ... and once that counter is used, the genuine frame is a replay. */
    assert_int_equal(open_at(&b, &a, pkt, sizeof pkt, w.now), ZHTP_ERR_SESSION_REPLAY);
    ep_free(&a);
    ep_free(&b);
}

/* Bytes of one complete handshake (both messages, headers included) between a and b. */
static uint64_t handshake_bytes(net *w, ep *a, ep *b, uint64_t *init, uint64_t *resp)
{
    zhtp_session_stats a0, b0, a1, b1;
    zhtp_session_get_stats(a->s, &a0);
    zhtp_session_get_stats(b->s, &b0);
    handshake(w, a, b);
    zhtp_session_get_stats(a->s, &a1);
    zhtp_session_get_stats(b->s, &b1);
    *init = a1.handshake_bytes_tx - a0.handshake_bytes_tx;
    *resp = b1.handshake_bytes_tx - b0.handshake_bytes_tx;
    return *init + *resp;
}

static void handshake_sizes_are_reported_exactly(void **state)
{
    (void)state;
    zhtp_session_config nores;
    memset(&nores, 0, sizeof nores);
    nores.disable_resumption = true;
    uint64_t full, cached, resumed, i, r;
    {
        ep a, b;
        ep_init(&a, 1, &nores);
        ep_init(&b, 2, &nores);
        net w;
        net_init(&w, &a, &b, NULL);
        /* First contact: both identities travel. */
        full = handshake_bytes(&w, &a, &b, &i, &r);
        assert_int_equal(i, ZHTP_HS_INIT_LEN_MAX);
        assert_int_equal(r, ZHTP_HS_RESP_LEN_MAX);
        /* Again, signed, identities cached on both sides. */
        assert_int_equal(zhtp_session_disconnect(a.s, nid(&b), w.now), ZHTP_OK);
        w.now += SEC;
        cached = handshake_bytes(&w, &a, &b, &i, &r);
        assert_int_equal(i, ZHTP_HS_INIT_LEN_MIN);
        assert_int_equal(r, ZHTP_HS_RESP_LEN_MIN);
        ep_free(&a);
        ep_free(&b);
    }
    {
        ep a, b;
        zhtp_session_config quick;
        memset(&quick, 0, sizeof quick);
        quick.idle_timeout_ns = 5 * SEC;
        ep_init(&a, 1, &quick);
        ep_init(&b, 2, &quick);
        net w;
        net_init(&w, &a, &b, NULL);
        handshake(&w, &a, &b);
        run_until(&w, w.now + 6 * SEC); /* silent: Lost, the resumption secret stays */
        assert_int_equal(zhtp_session_state(a.s, nid(&b)), ZHTP_CONN_LOST);
        zhtp_session_stats s0, s1;
        zhtp_session_get_stats(a.s, &s0);
        resumed = handshake_bytes(&w, &a, &b, &i, &r);
        assert_int_equal(i, ZHTP_HS_INIT_LEN_RESUME);
        assert_int_equal(r, ZHTP_HS_RESP_LEN_RESUME);
        zhtp_session_get_stats(a.s, &s1);
        assert_int_equal(s1.sig_sign, s0.sig_sign); /* no signature in a resumption */
        assert_int_equal(s1.sig_verify, s0.sig_verify);
        ep_free(&a);
        ep_free(&b);
    }
    assert_true(resumed <= 6144);
    print_message("# handshake bytes on the wire (headers included): first contact %llu (init %d "
                  "+ response %d); signed, identities cached %llu (%d + %d); resumption %llu "
                  "(%d + %d)\n",
                  (unsigned long long)full, ZHTP_HS_INIT_LEN_MAX, ZHTP_HS_RESP_LEN_MAX,
                  (unsigned long long)cached, ZHTP_HS_INIT_LEN_MIN, ZHTP_HS_RESP_LEN_MIN,
                  (unsigned long long)resumed, ZHTP_HS_INIT_LEN_RESUME, ZHTP_HS_RESP_LEN_RESUME);
}

static void transport_rejects_every_single_bit_flip(void **state)
{
    (void)state;
    ep a, b;
    ep_init(&a, 1, NULL);
    ep_init(&b, 2, NULL);
    net w;
    net_init(&w, &a, &b, NULL);
    handshake(&w, &a, &b);
    uint8_t pt[40], pkt[256], bad[256];
    memset(pt, 0xab, sizeof pt);
    zhtp_ssize n = seal_data(&a, &b, pt, sizeof pt, pkt, sizeof pkt, w.now);
    assert_true(n > 0);
    for (zhtp_ssize i = 0; i < n * 8; i++) {
        memcpy(bad, pkt, (size_t)n);
        bad[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_true(open_at(&b, &a, bad, (size_t)n, w.now) < 0);
    }
    /* The genuine packet still opens afterwards: failures changed no state. */
    assert_int_equal(open_at(&b, &a, pkt, (size_t)n, w.now), (zhtp_ssize)sizeof pt);
    zhtp_session_stats sb;
    zhtp_session_get_stats(b.s, &sb);
    assert_true(sb.auth_failures > 0);
    ep_free(&a);
    ep_free(&b);
}

static void transport_rejects_truncated_and_replayed_packets(void **state)
{
    (void)state;
    ep a, b;
    ep_init(&a, 1, NULL);
    ep_init(&b, 2, NULL);
    net w;
    net_init(&w, &a, &b, NULL);
    handshake(&w, &a, &b);
    uint8_t pkt[256];
    zhtp_ssize n = seal_data(&a, &b, (const uint8_t *)"0123456789", 10, pkt, sizeof pkt, w.now);
    for (zhtp_ssize len = 0; len < n; len++)
        assert_true(open_at(&b, &a, pkt, (size_t)len, w.now) < 0);
    assert_int_equal(open_at(&b, &a, pkt, (size_t)n, w.now), 10);
    assert_int_equal(open_at(&b, &a, pkt, (size_t)n, w.now), ZHTP_ERR_SESSION_REPLAY);
    ep_free(&a);
    ep_free(&b);
}

static void transport_reorder_inside_window_accepted_outside_rejected(void **state)
{
    (void)state;
    ep a, b;
    ep_init(&a, 1, NULL);
    ep_init(&b, 2, NULL);
    net w;
    net_init(&w, &a, &b, NULL);
    handshake(&w, &a, &b);
    enum { N = 3000 };
    static uint8_t pkts[N][160];
    static size_t lens[N];
    for (int i = 0; i < N; i++) {
        uint8_t pt[4] = {(uint8_t)i, (uint8_t)(i >> 8), 0, 0};
        zhtp_ssize n = seal_data(&a, &b, pt, sizeof pt, pkts[i], sizeof pkts[i], w.now);
        assert_true(n > 0);
        lens[i] = (size_t)n;
    }
    /* Counters: the keepalive used 0, so packet i carries counter i + 1. */
    assert_int_equal(open_at(&b, &a, pkts[N - 1], lens[N - 1], w.now), 4); /* highest 3000 */
    int inside = N - 1 - (ZHTP_SESSION_REPLAY_WINDOW - 1);                 /* 3000-2047 */
    assert_int_equal(open_at(&b, &a, pkts[inside], lens[inside], w.now), 4);
    assert_int_equal(open_at(&b, &a, pkts[inside - 1], lens[inside - 1], w.now),
                     ZHTP_ERR_SESSION_REPLAY);
    assert_int_equal(open_at(&b, &a, pkts[10], lens[10], w.now), ZHTP_ERR_SESSION_REPLAY);
    for (int i = N - 2; i > inside; i -= 97)
        assert_int_equal(open_at(&b, &a, pkts[i], lens[i], w.now), 4);
    ep_free(&a);
    ep_free(&b);
}

static void transport_rejects_cross_session_packets(void **state)
{
    (void)state;
    ep a, b, c;
    ep_init(&a, 1, NULL);
    ep_init(&b, 2, NULL);
    ep_init(&c, 3, NULL);
    net w;
    net_init(&w, &a, &b, &c);
    handshake(&w, &a, &b);
    handshake(&w, &a, &c);
    uint8_t pkt_b[256], pkt_c[256];
    zhtp_ssize nb = seal_data(&a, &b, (const uint8_t *)"for b", 5, pkt_b, sizeof pkt_b, w.now);
    zhtp_ssize nc = seal_data(&a, &c, (const uint8_t *)"for c", 5, pkt_c, sizeof pkt_c, w.now);
    /* B's packet shown to C: C has no session with that index, or the tag fails. */
    zhtp_ssize r = open_at(&c, &a, pkt_b, (size_t)nb, w.now);
    assert_true(r == ZHTP_ERR_SESSION_UNKNOWN_INDEX || r == ZHTP_ERR_SESSION_AUTH);
    /* C's packet re-addressed to B's session index (the header is associated data). */
    memcpy(pkt_c + 96, pkt_b + 96, 4);
    assert_int_equal(open_at(&b, &a, pkt_c, (size_t)nc, w.now), ZHTP_ERR_SESSION_AUTH);
    assert_int_equal(open_at(&b, &a, pkt_b, (size_t)nb, w.now), 5);
    ep_free(&a);
    ep_free(&b);
    ep_free(&c);
}

/* A dials node id X, but the node answering shows keys that hash to another id (B's). */
static void initiator_rejects_responder_whose_keys_do_not_hash_to_dialled_id(void **state)
{
    (void)state;
    ep a, b, x;
    ep_init(&a, 1, NULL);
    ep_init(&b, 2, NULL);
    ep_init(&x, 9, NULL); /* the node A means to reach */
    zhtp_addr where = b.addr;
    assert_int_equal(zhtp_session_connect(a.s, nid(&x), 1, &where, 0), ZHTP_OK);
    static uint8_t init[ZHTP_HS_INIT_LEN_MAX], resp[ZHTP_HS_RESP_LEN_MAX];
    zhtp_ssize ilen = zhtp_session_next_datagram(a.s, NULL, NULL, init, sizeof init, 0);
    assert_true(ilen > 0);
    /* B, honest, drops an init addressed to someone else before any public-key work. */
    assert_int_equal(zhtp_session_recv_handshake(b.s, 1, &a.addr, init, (size_t)ilen, 0),
                     ZHTP_ERR_SESSION_MAC);
    /* An impostor with B's keys answers as if it were X. */
    zhtp_hs_init_msg m;
    assert_int_equal(zhtp_hs_init_parse(&m, init, (size_t)ilen), ZHTP_OK);
    zhtp_session_stats ops;
    memset(&ops, 0, sizeof ops);
    uint8_t h1[32], seed[ZHTP_HS_RESP_SEEDBYTES] = {7};
    assert_int_equal(zhtp_hs_init_verify(&m, a.pub, h1, &ops), ZHTP_OK);
    zhtp_hs_keys keys;
    zhtp_ssize rlen = zhtp_hs_response_build(resp, sizeof resp, &keys, b.id, &m, h1, 77, true, 1,
                                             NULL, seed, &ops);
    assert_true(rlen > 0);
    memcpy(resp + 16, nid(&x), 32); /* header sender: claims to be X */
    zhtp_session_stats before, after;
    zhtp_session_get_stats(a.s, &before);
    assert_int_equal(zhtp_session_recv_handshake(a.s, 1, &b.addr, resp, (size_t)rlen, 0),
                     ZHTP_ERR_CRYPTO_ID_MISMATCH);
    zhtp_session_get_stats(a.s, &after);
    assert_int_equal(after.kem_decaps, before.kem_decaps); /* rejected before any KEM work */
    assert_int_equal(after.sig_verify, before.sig_verify);
    zhtp_conn_info info;
    assert_int_equal(zhtp_session_conn_info(a.s, nid(&x), &info), ZHTP_OK);
    assert_int_equal(info.state, ZHTP_CONN_ERROR);
    assert_int_equal(info.last_error, ZHTP_ERR_CRYPTO_ID_MISMATCH);
    zhtp_session_event ev;
    bool saw = false;
    while (zhtp_session_next_event(a.s, &ev) == ZHTP_OK)
        if (ev.state == ZHTP_CONN_ERROR && ev.err == ZHTP_ERR_CRYPTO_ID_MISMATCH &&
            strstr(ev.reason, "hash"))
            saw = true;
    assert_true(saw);
    /* Without the identity attached, A uses what it knows for X: the signature fails. */
    zhtp_session_add_peer_identity(a.s, x.pub);
    assert_int_equal(zhtp_hs_init_parse(&m, init, (size_t)ilen), ZHTP_OK);
    rlen = zhtp_hs_response_build(resp, sizeof resp, &keys, b.id, &m, h1, 78, false, 2, NULL, seed,
                                  &ops);
    memcpy(resp + 16, nid(&x), 32);
    assert_int_equal(zhtp_session_recv_handshake(a.s, 1, &b.addr, resp, (size_t)rlen, 0),
                     ZHTP_ERR_CRYPTO_VERIFY);
    assert_int_not_equal(zhtp_session_state(a.s, nid(&x)), ZHTP_CONN_AUTHENTICATED);
    sodium_memzero(&keys, sizeof keys);
    ep_free(&a);
    ep_free(&b);
    ep_free(&x);
}

static void sessions_have_unrelated_keys_and_ephemeral_secrets_are_wiped(void **state)
{
    (void)state;
    ep a, b;
    ep_init(&a, 1, NULL);
    ep_init(&b, 2, NULL);
    net w;
    net_init(&w, &a, &b, NULL);
    handshake(&w, &a, &b);
    zconn *ca = zs_conn_find(a.s, nid(&b));
    assert_non_null(ca);
    static const uint8_t zero[sizeof ca->hs];
    assert_memory_equal(&ca->hs, zero, sizeof zero); /* ephemeral secret key wiped */
    uint8_t k1_send[32], k1_recv[32];
    memcpy(k1_send, ca->cur.send_key, 32);
    memcpy(k1_recv, ca->cur.recv_key, 32);
    assert_memory_not_equal(k1_send, k1_recv, 32);
    /* Second session between the same peers. */
    assert_int_equal(zhtp_session_disconnect(a.s, nid(&b), w.now), ZHTP_OK);
    static const uint8_t zk[sizeof ca->cur];
    assert_memory_equal(&ca->cur, zk, sizeof zk); /* keys wiped on disconnect */
    assert_false(ca->has_rs);                     /* and the resumption secret */
    assert_memory_equal(ca->rs, zk, sizeof ca->rs);
    w.now += SEC;
    handshake(&w, &a, &b);
    assert_memory_not_equal(ca->cur.send_key, k1_send, 32);
    assert_memory_not_equal(ca->cur.send_key, k1_recv, 32);
    assert_memory_not_equal(ca->cur.recv_key, k1_send, 32);
    /* Knowing session 1's keys does not open a session 2 packet. */
    uint8_t pkt[256], out[256];
    zhtp_ssize n = seal_data(&a, &b, (const uint8_t *)"secret", 6, pkt, sizeof pkt, w.now);
    assert_true(n > 0);
    uint8_t nonce[12] = {0};
    memcpy(nonce + 4, pkt + 100, 8);
    const uint8_t *keys[2] = {k1_send, k1_recv};
    for (int i = 0; i < 2; i++)
        assert_int_not_equal(crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                                 out, NULL, pkt + 128, 6, pkt + 134, pkt, 128, nonce, keys[i]),
                             0);
    /* ... while the current key does (the check above can fail). */
    assert_int_equal(crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                         out, NULL, pkt + 128, 6, pkt + 134, pkt, 128, nonce, ca->cur.send_key),
                     0);
    ep_free(&a);
    ep_free(&b);
}

static void replayed_init_is_dropped_before_public_key_work(void **state)
{
    (void)state;
    ep a, b;
    ep_init(&a, 1, NULL);
    ep_init(&b, 2, NULL);
    static uint8_t init[ZHTP_HS_INIT_LEN_MAX];
    assert_int_equal(zhtp_session_connect(a.s, nid(&b), 1, &b.addr, 0), ZHTP_OK);
    zhtp_ssize ilen = zhtp_session_next_datagram(a.s, NULL, NULL, init, sizeof init, 0);
    assert_int_equal(zhtp_session_recv_handshake(b.s, 1, &a.addr, init, (size_t)ilen, 0), 0);
    zhtp_session_stats s1, s2;
    zhtp_session_get_stats(b.s, &s1);
    assert_int_equal(zhtp_session_recv_handshake(b.s, 1, &a.addr, init, (size_t)ilen, SEC),
                     ZHTP_ERR_SESSION_STALE);
    zhtp_session_get_stats(b.s, &s2);
    assert_int_equal(s2.sig_verify, s1.sig_verify);
    assert_int_equal(s2.kem_encaps, s1.kem_encaps);
    assert_int_equal(s2.inits_dropped_stale, 1);
    ep_free(&a);
    ep_free(&b);
}

/* Thousands of inits from spoofed addresses (mac1 valid: the attacker knows B's id) while A
 * tries to connect. */
static void flood_of_spoofed_inits_does_not_stop_a_legitimate_handshake(void **state)
{
    (void)state;
    zhtp_session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.init_rate_per_sec = 50;
    ep a, b, e;
    ep_init(&a, 1, NULL);
    ep_init(&b, 2, &cfg);
    ep_init(&e, 5, NULL); /* the attacker's identity, to forge well-formed inits */
    static uint8_t tmpl[ZHTP_HS_INIT_LEN_MAX], f[ZHTP_HS_INIT_LEN_MAX];
    assert_int_equal(zhtp_session_connect(e.s, nid(&b), 1, &b.addr, 0), ZHTP_OK);
    zhtp_ssize tlen = zhtp_session_next_datagram(e.s, NULL, NULL, tmpl, sizeof tmpl, 0);
    assert_true(tlen > 0);
    zt_rng rng;
    zt_rng_seed(&rng, 77);
    net w;
    net_init(&w, &a, &b, NULL);
    enum { FLOOD = 4000 };
    int rc_cookie = 0, rc_mac = 0;
    for (int i = 0; i < FLOOD; i++) {
        w.now = (zhtp_time)i * 100000; /* 10,000 inits per second of virtual time */
        memcpy(f, tmpl, (size_t)tlen);
        zt_rng_bytes(&rng, f + 128, 4);                    /* sender index */
        zt_rng_bytes(&rng, f + 128 + 8 + 2 + 1216 + 3, 8); /* timestamp */
        size_t body = (size_t)tlen - 128 - 32;
        if (i % 10 == 9)
            zt_rng_bytes(&rng, f + 128, body); /* garbage: mac1 fails */
        else
            zhtp_cookie_mac1(f + tlen - 32, nid(&b), f + 16, f + 128, body);
        zhtp_addr spoof;
        spoof.len = 6;
        zt_rng_bytes(&rng, spoof.bytes, 6);
        int rc = zhtp_session_recv_handshake(b.s, 1, &spoof, f, (size_t)tlen, w.now);
        rc_cookie += rc == ZHTP_ERR_SESSION_COOKIE;
        rc_mac += rc == ZHTP_ERR_SESSION_MAC || (rc <= -100 && rc > -200);
        if (i == FLOOD / 2) /* A starts in the middle of the flood */
            assert_int_equal(zhtp_session_connect(a.s, nid(&b), 1, &b.addr, w.now), ZHTP_OK);
        if (i % 16 == 0)
            pump(&w); /* B's cookie replies to spoofed addresses go nowhere */
    }
    pump(&w);
    assert_true(usable(&a, &b));
    zhtp_session_stats sb, sa;
    zhtp_session_get_stats(b.s, &sb);
    zhtp_session_get_stats(a.s, &sa);
    assert_true(sa.cookies_rx >= 1);
    /* Every public-key operation B did is accounted for: the inits that passed the cookie
     * check (the first |rate| of each second, before load, plus A's with a valid mac2). */
    uint64_t passed = sb.inits_rx - sb.inits_dropped_mac - sb.inits_dropped_cookie;
    assert_int_equal(sb.sig_verify, passed);
    assert_int_equal(sb.kem_encaps, 1); /* A's only: every forged init failed its signature */
    assert_true(sb.inits_dropped_cookie >= FLOOD * 8 / 10);
    assert_true(passed <= 50 * (FLOOD / 10000 + 1) + 1);
    print_message("# flood: %d inits, %llu cookie replies, %llu mac1 drops, %llu signature "
                  "checks (all before load, or A's), handshake done\n",
                  FLOOD, (unsigned long long)sb.cookies_sent,
                  (unsigned long long)sb.inits_dropped_mac, (unsigned long long)sb.sig_verify);
    (void)rc_cookie;
    (void)rc_mac;
    ep_free(&a);
    ep_free(&b);
    ep_free(&e);
}

static void rekey_by_packet_count_keeps_old_key_for_grace(void **state)
{
    (void)state;
    zhtp_session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.rekey_after_packets = 100;
    cfg.grace_ns = 5 * SEC;
    ep a, b;
    ep_init(&a, 1, &cfg);
    ep_init(&b, 2, &cfg);
    net w;
    net_init(&w, &a, &b, NULL);
    handshake(&w, &a, &b);
    zconn *ca = zs_conn_find(a.s, nid(&b));
    uint32_t old_index = ca->cur.remote_index;
    uint8_t pkt[256], late[256];
    zhtp_ssize n = 0, late_len = 0;
    for (int i = 0; i < 100; i++) { /* the keepalive used 1 counter */
        n = seal_data(&a, &b, (const uint8_t *)"x", 1, pkt, sizeof pkt, w.now);
        assert_true(n > 0);
        if (i == 98) {
            memcpy(late, pkt, (size_t)n);
            late_len = n;
            continue; /* delivered after the rekey */
        }
        assert_int_equal(open_at(&b, &a, pkt, (size_t)n, w.now), 1);
    }
    assert_true(ca->hs_pending); /* counter reached 100: a new handshake started */
    pump(&w);
    assert_false(ca->hs_pending);
    assert_int_not_equal(ca->cur.remote_index, old_index);
    zhtp_session_stats sa, sb;
    zhtp_session_get_stats(a.s, &sa);
    zhtp_session_get_stats(b.s, &sb);
    assert_int_equal(sa.rekeys, 1);
    assert_int_equal(sb.rekeys, 1);   /* B switched on A's keepalive */
    assert_int_equal(sa.sig_sign, 1); /* the rekey resumed: no new signature */
    /* In-flight packet under the old key: accepted in the grace period. */
    assert_int_equal(open_at(&b, &a, late, (size_t)late_len, w.now), 1);
    /* New packets use the new keys and both directions work. */
    n = seal_data(&b, &a, (const uint8_t *)"y", 1, pkt, sizeof pkt, w.now);
    assert_int_equal(open_at(&a, &b, pkt, (size_t)n, w.now), 1);
    assert_int_equal(zhtp_session_state(a.s, nid(&b)), ZHTP_CONN_ACTIVE);
    ep_free(&a);
    ep_free(&b);
}

static void rekey_by_time_and_previous_key_dropped_after_grace(void **state)
{
    (void)state;
    zhtp_session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.idle_timeout_ns = 1000 * SEC;
    ep a, b;
    ep_init(&a, 1, &cfg);
    ep_init(&b, 2, &cfg);
    net w;
    net_init(&w, &a, &b, NULL);
    handshake(&w, &a, &b);
    uint8_t pkt[256], old[256];
    zhtp_ssize n = seal_data(&a, &b, (const uint8_t *)"t", 1, old, sizeof old, w.now);
    assert_true(n > 0);
    w.now += 119 * SEC;
    zhtp_ssize m = seal_data(&a, &b, (const uint8_t *)"t", 1, pkt, sizeof pkt, w.now);
    assert_true(m > 0);
    assert_false(zs_conn_find(a.s, nid(&b))->hs_pending); /* not yet */
    w.now += 2 * SEC;                                     /* 121 s: past rekey_after_ns */
    m = seal_data(&a, &b, (const uint8_t *)"t", 1, pkt, sizeof pkt, w.now);
    assert_true(m > 0);
    assert_true(zs_conn_find(a.s, nid(&b))->hs_pending);
    pump(&w);
    zhtp_session_stats sa;
    zhtp_session_get_stats(a.s, &sa);
    assert_int_equal(sa.rekeys, 1);
    /* Old-key packet: fine during the grace period (10 s), refused after it. */
    run_until(&w, w.now + 11 * SEC);
    zhtp_ssize r = open_at(&b, &a, old, (size_t)n, w.now);
    assert_true(r == ZHTP_ERR_SESSION_UNKNOWN_INDEX || r == ZHTP_ERR_SESSION_EXPIRED);
    ep_free(&a);
    ep_free(&b);
}

static void counter_exhaustion_refuses_instead_of_reusing_a_nonce(void **state)
{
    (void)state;
    zhtp_session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.reject_after_packets = 10;
    cfg.rekey_after_packets = 1000; /* the hard limit comes first */
    ep a, b;
    ep_init(&a, 1, &cfg);
    ep_init(&b, 2, &cfg);
    net w;
    net_init(&w, &a, &b, NULL);
    handshake(&w, &a, &b); /* A's keepalive used counter 0 */
    uint8_t pkt[256];
    uint64_t seen[16];
    int k = 0;
    zhtp_ssize n;
    while ((n = seal_data(&a, &b, (const uint8_t *)"c", 1, pkt, sizeof pkt, w.now)) > 0) {
        uint64_t ctr = 0;
        for (int i = 0; i < 8; i++)
            ctr = ctr << 8 | pkt[100 + i];
        for (int j = 0; j < k; j++)
            assert_true(seen[j] != ctr);
        seen[k++] = ctr;
        assert_true(k < 16);
    }
    assert_int_equal(n, ZHTP_ERR_SESSION_EXPIRED);
    assert_int_equal(k, 9);
    assert_true(zs_conn_find(a.s, nid(&b))->hs_pending); /* and a rekey started */
    pump(&w);
    n = seal_data(&a, &b, (const uint8_t *)"c", 1, pkt, sizeof pkt, w.now);
    assert_true(n > 0);
    assert_int_equal(open_at(&b, &a, pkt, (size_t)n, w.now), 1);
    ep_free(&a);
    ep_free(&b);
}

static void session_expiry_and_silence_make_the_connection_lost(void **state)
{
    (void)state;
    zhtp_session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.idle_timeout_ns = 30 * SEC;
    ep a, b;
    ep_init(&a, 1, &cfg);
    ep_init(&b, 2, &cfg);
    net w;
    net_init(&w, &a, &b, NULL);
    handshake(&w, &a, &b);
    run_until(&w, 31 * SEC);
    assert_int_equal(zhtp_session_state(a.s, nid(&b)), ZHTP_CONN_LOST);
    assert_int_equal(zhtp_session_state(b.s, nid(&a)), ZHTP_CONN_LOST);
    uint8_t pkt[256];
    assert_int_equal(seal_data(&a, &b, (const uint8_t *)"z", 1, pkt, sizeof pkt, w.now),
                     ZHTP_ERR_SESSION_NO_SESSION);
    /* Reconnecting from Lost works. */
    handshake(&w, &a, &b);
    ep_free(&a);
    ep_free(&b);
}

static void record_schedule(uint64_t seed, zhtp_time *times, int *count, bool *failed)
{
    zhtp_session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.retry_base_ns = SEC;
    cfg.retry_max_ns = 8 * SEC;
    cfg.max_attempts = 6;
    ep a;
    ep_init_seed(&a, 1, seed, &cfg, 0);
    uint8_t peer[32];
    memset(peer, 0xee, sizeof peer);
    zhtp_addr nowhere = {.len = 1, .bytes = {9}};
    zhtp_time now = 0;
    *count = 0;
    *failed = false;
    assert_int_equal(zhtp_session_connect(a.s, peer, 1, &nowhere, now), ZHTP_OK);
    for (;;) {
        while (zhtp_session_next_datagram(a.s, NULL, NULL, g_pkt, sizeof g_pkt, now) > 0)
            times[(*count)++] = now; /* every init is lost */
        zhtp_session_event ev;
        while (zhtp_session_next_event(a.s, &ev) == ZHTP_OK)
            if (ev.state == ZHTP_CONN_FAILED)
                *failed = true;
        zhtp_time d = zhtp_session_next_deadline(a.s);
        if (d == ZHTP_TIME_NEVER)
            break;
        now = d;
        assert_int_equal(zhtp_session_tick(a.s, now), ZHTP_OK);
    }
    assert_int_equal(zhtp_session_state(a.s, peer), ZHTP_CONN_FAILED);
    ep_free(&a);
}

static void retries_back_off_exponentially_with_bounded_jitter(void **state)
{
    (void)state;
    zhtp_time t1[16], t2[16], t3[16];
    int n1, n2, n3;
    bool f1, f2, f3;
    record_schedule(5, t1, &n1, &f1);
    assert_int_equal(n1, 6);
    assert_true(f1);
    for (int k = 1; k < n1; k++) {
        zhtp_time rto = SEC << (k - 1);
        if (rto > 8 * SEC)
            rto = 8 * SEC;
        zhtp_time gap = t1[k] - t1[k - 1];
        assert_true(gap >= rto);
        assert_true(gap <= rto + rto / 4);
    }
    record_schedule(5, t2, &n2, &f2); /* same seed, same schedule */
    assert_int_equal(n2, n1);
    assert_memory_equal(t1, t2, (size_t)n1 * sizeof t1[0]);
    record_schedule(6, t3, &n3, &f3); /* another seed, other jitter */
    assert_memory_not_equal(t1, t3, (size_t)n1 * sizeof t1[0]);
}

typedef struct loss {
    int seq;           /* handshake packets seen so far (both directions) */
    uint32_t drop_set; /* bit i: drop the i-th handshake packet */
} loss;

static bool drop_by_index(void *ctx, const ep *from, const uint8_t *pkt, size_t len)
{
    (void)from;
    (void)len;
    loss *l = ctx;
    if (is_sealed(pkt))
        return false;
    int i = l->seq++;
    return i < 32 && ((l->drop_set >> i) & 1);
}

static void lost_handshake_messages_are_recovered_by_retries(void **state)
{
    (void)state;
    /* Packet order: init1, [resp1], init2, resp2, ... Patterns: drop init1; drop resp1;
     * drop init1 and then resp2 (both messages of a round, over two attempts). */
    uint32_t patterns[] = {0x1, 0x2, 0x1 | 0x4};
    for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++) {
        ep a, b;
        ep_init(&a, 1, NULL);
        ep_init(&b, 2, NULL);
        net w;
        net_init(&w, &a, &b, NULL);
        loss l = {0, patterns[p]};
        w.drop = drop_by_index;
        w.ctx = &l;
        assert_int_equal(zhtp_session_connect(a.s, nid(&b), 1, &b.addr, 0), ZHTP_OK);
        run_until(&w, 20 * SEC);
        assert_true(usable(&a, &b));
        assert_true(usable(&b, &a));
        uint8_t pkt[256];
        zhtp_ssize n = seal_data(&a, &b, (const uint8_t *)"ok", 2, pkt, sizeof pkt, w.now);
        assert_int_equal(open_at(&b, &a, pkt, (size_t)n, w.now), 2);
        n = seal_data(&b, &a, (const uint8_t *)"ok", 2, pkt, sizeof pkt, w.now);
        assert_int_equal(open_at(&a, &b, pkt, (size_t)n, w.now), 2);
        zhtp_session_stats sa;
        zhtp_session_get_stats(a.s, &sa);
        assert_true(sa.retries >= 1);
        ep_free(&a);
        ep_free(&b);
    }
}

static void pool_reuses_sessions_and_enforces_a_runtime_limit(void **state)
{
    (void)state;
    zhtp_session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_connections = 2;
    ep a, b, c, d;
    ep_init(&a, 1, &cfg);
    ep_init(&b, 2, NULL);
    ep_init(&c, 3, NULL);
    ep_init(&d, 4, &cfg);
    net w;
    net_init(&w, &a, &b, &c);
    w.eps[w.n++] = &d;
    handshake(&w, &a, &b);
    handshake(&w, &a, &c);
    zhtp_session_stats st;
    assert_int_equal(zhtp_session_connect(a.s, nid(&d), 1, &d.addr, w.now), ZHTP_ERR_SESSION_LIMIT);
    assert_int_equal(zhtp_session_state(a.s, nid(&d)), ZHTP_CONN_DISCONNECTED);
    /* Reuse: connecting again to B starts nothing new. */
    zhtp_session_get_stats(a.s, &st);
    uint64_t keygens = st.kem_keygen;
    assert_int_equal(zhtp_session_connect(a.s, nid(&b), 1, &b.addr, w.now), ZHTP_OK);
    zhtp_session_get_stats(a.s, &st);
    assert_int_equal(st.kem_keygen, keygens);
    assert_int_equal(st.pool_reuses, 1);
    assert_int_equal(zhtp_session_count(a.s), 2);
    /* Incoming init from a new peer at the limit: refused before any public-key work. */
    assert_int_equal(zhtp_session_connect(d.s, nid(&a), 1, &a.addr, w.now), ZHTP_OK);
    pump(&w);
    assert_false(usable(&d, &a));
    zhtp_session_get_stats(a.s, &st);
    assert_int_equal(st.inits_dropped_limit, 1);
    assert_int_equal(st.kem_encaps, 0);
    /* Raised at run time: D gets in on its retry. */
    zhtp_session_set_max_connections(a.s, 3);
    run_until(&w, w.now + 5 * SEC);
    assert_true(usable(&d, &a));
    assert_int_equal(zhtp_session_count(a.s), 3);
    ep_free(&a);
    ep_free(&b);
    ep_free(&c);
    ep_free(&d);
}

static void idle_pool_entries_and_cached_identities_are_bounded(void **state)
{
    (void)state;
    zhtp_session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_connections = 1;
    ep a;
    ep_init(&a, 1, &cfg);
    zhtp_addr nowhere = {.len = 1, .bytes = {9}};
    zhtp_identity_public pub;
    memset(&pub, 0, sizeof pub);
    for (int i = 0; i < 100; i++) {
        uint8_t peer[32];
        memset(peer, 0, sizeof peer);
        peer[0] = (uint8_t)i;
        peer[1] = 0x77;
        assert_int_equal(zhtp_session_connect(a.s, peer, 1, &nowhere, (zhtp_time)i), ZHTP_OK);
        assert_int_equal(zhtp_session_disconnect(a.s, peer, (zhtp_time)i), ZHTP_OK);
        memcpy(pub.node_id, peer, 32);
        assert_int_equal(zhtp_session_add_peer_identity(a.s, &pub), ZHTP_OK);
    }
    assert_true(a.s->n_conns <= 2 * 1 + 16);
    assert_true(a.s->n_peers <= 2 * 1 + 16);
    zhtp_session_stats st;
    zhtp_session_get_stats(a.s, &st);
    assert_int_equal(st.pool_evictions, 100 - a.s->n_conns);
    /* The newest entries are the ones kept. */
    uint8_t last[32] = {99, 0x77};
    assert_int_equal(zhtp_session_state(a.s, last), ZHTP_CONN_DISCONNECTED);
    zhtp_conn_info info;
    assert_int_equal(zhtp_session_conn_info(a.s, last, &info), ZHTP_OK);
    uint8_t first[32] = {0, 0x77};
    assert_int_equal(zhtp_session_conn_info(a.s, first, &info), ZHTP_ERR_NOTFOUND);
    drain_events(&a);
    ep_free(&a);
}

/* Many peers: the receiver-index map must find every live key set, agree with a scan, and
 * follow disconnects and rekeys. */
static void index_map_finds_every_session_among_many_peers(void **state)
{
    (void)state;
    enum { P = 40 };
    static ep peers[P];
    ep a;
    ep_init(&a, 1, NULL);
    for (int i = 0; i < P; i++) {
        ep_init(&peers[i], (uint8_t)(10 + i), NULL);
        net w;
        net_init(&w, &a, &peers[i], NULL);
        handshake(&w, &peers[i], &a); /* each peer initiates */
    }
    uint8_t pkt[256];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < P; i++) {
            if (round == 1 && i % 3 == 0)
                continue;
            zhtp_ssize n = seal_data(&peers[i], &a, (const uint8_t *)"i", 1, pkt, sizeof pkt, 0);
            assert_true(n > 0);
            assert_int_equal(open_at(&a, &peers[i], pkt, (size_t)n, 0), 1);
        }
        if (round == 0) /* drop a third of them: keys gone, map must follow */
            for (int i = 0; i < P; i += 3)
                assert_int_equal(zhtp_session_disconnect(a.s, nid(&peers[i]), 0), ZHTP_OK);
    }
    /* A packet for a dropped session, and random indices, are unknown. */
    zhtp_ssize n = seal_data(&peers[0], &a, (const uint8_t *)"i", 1, pkt, sizeof pkt, 0);
    assert_int_equal(open_at(&a, &peers[0], pkt, (size_t)n, 0), ZHTP_ERR_SESSION_UNKNOWN_INDEX);
    assert_non_null(a.s->imap); /* the lookups above went through the map */
    zt_rng rng;
    zt_rng_seed(&rng, 9);
    for (int t = 0; t < 2000; t++) {
        uint32_t idx = (uint32_t)zt_rng_u64(&rng);
        zkeys *k = NULL, *k2 = NULL;
        zconn *c = zs_conn_by_index(a.s, idx, &k), *c2 = NULL;
        for (size_t i = 0; i < a.s->n_conns && !c2; i++) {
            zkeys *ks[3] = {&a.s->conns[i]->cur, &a.s->conns[i]->prev, &a.s->conns[i]->next};
            for (int j = 0; j < 3; j++)
                if (ks[j]->live && ks[j]->local_index == idx) {
                    c2 = a.s->conns[i];
                    k2 = ks[j];
                }
        }
        assert_ptr_equal(c, c2);
        if (c)
            assert_ptr_equal(k, k2);
    }
    for (size_t i = 0; i < a.s->n_conns; i++) {
        zkeys *k = NULL;
        if (a.s->conns[i]->cur.live)
            assert_ptr_equal(zs_conn_by_index(a.s, a.s->conns[i]->cur.local_index, &k),
                             a.s->conns[i]);
    }
    for (int i = 0; i < P; i++) {
        drain_events(&peers[i]);
        ep_free(&peers[i]);
    }
    drain_events(&a);
    ep_free(&a);
}

static void connect_without_address_goes_discovering(void **state)
{
    (void)state;
    ep a, b;
    ep_init(&a, 1, NULL);
    ep_init(&b, 2, NULL);
    net w;
    net_init(&w, &a, &b, NULL);
    assert_int_equal(zhtp_session_connect(a.s, nid(&b), 0, NULL, 0), ZHTP_OK);
    assert_int_equal(zhtp_session_state(a.s, nid(&b)), ZHTP_CONN_DISCOVERING);
    zhtp_session_event ev;
    assert_int_equal(zhtp_session_next_event(a.s, &ev), ZHTP_OK);
    assert_int_equal(ev.state, ZHTP_CONN_DISCOVERING);
    assert_int_equal(zhtp_session_next_event(a.s, &ev), ZHTP_OK);
    assert_int_equal(ev.type, ZHTP_SESSION_EV_NEED_ADDRESS);
    assert_int_equal(zhtp_session_next_datagram(a.s, NULL, NULL, g_pkt, sizeof g_pkt, 0),
                     ZHTP_ERR_AGAIN);
    assert_int_equal(zhtp_session_set_address(a.s, nid(&b), 1, &b.addr, 0), ZHTP_OK);
    assert_int_equal(zhtp_session_state(a.s, nid(&b)), ZHTP_CONN_CONNECTING);
    pump(&w);
    assert_true(usable(&a, &b));
    ep_free(&a);
    ep_free(&b);
}

static void simultaneous_open_converges_on_one_session(void **state)
{
    (void)state;
    ep a, b;
    ep_init(&a, 1, NULL);
    ep_init(&b, 2, NULL);
    net w;
    net_init(&w, &a, &b, NULL);
    assert_int_equal(zhtp_session_connect(a.s, nid(&b), 1, &b.addr, 0), ZHTP_OK);
    assert_int_equal(zhtp_session_connect(b.s, nid(&a), 1, &a.addr, 0), ZHTP_OK);
    run_until(&w, 10 * SEC);
    assert_true(usable(&a, &b));
    assert_true(usable(&b, &a));
    uint8_t pkt[256];
    zhtp_ssize n = seal_data(&a, &b, (const uint8_t *)"ab", 2, pkt, sizeof pkt, w.now);
    assert_int_equal(open_at(&b, &a, pkt, (size_t)n, w.now), 2);
    n = seal_data(&b, &a, (const uint8_t *)"ba", 2, pkt, sizeof pkt, w.now);
    assert_int_equal(open_at(&a, &b, pkt, (size_t)n, w.now), 2);
    ep_free(&a);
    ep_free(&b);
}

static void resumption_skips_signatures_and_ratchets_its_secret(void **state)
{
    (void)state;
    ep a, b;
    zhtp_session_config quick;
    memset(&quick, 0, sizeof quick);
    quick.idle_timeout_ns = 5 * SEC;
    ep_init(&a, 1, &quick);
    ep_init(&b, 2, &quick);
    net w;
    net_init(&w, &a, &b, NULL);
    handshake(&w, &a, &b);
    zconn *ca = zs_conn_find(a.s, nid(&b)), *cb = zs_conn_find(b.s, nid(&a));
    assert_true(ca->has_rs && cb->has_rs);
    assert_memory_equal(ca->rs, cb->rs, 32);
    uint8_t rs1[32];
    memcpy(rs1, ca->rs, 32);
    /* A forged resumption INIT (binder flipped, mac1 recomputed): refused, no KEM work. */
    run_until(&w, w.now + 6 * SEC); /* both sides Lost; secrets kept */
    assert_int_equal(zhtp_session_connect(a.s, nid(&b), 1, &b.addr, w.now), ZHTP_OK);
    static uint8_t init[ZHTP_HS_INIT_LEN_MAX], bad[ZHTP_HS_INIT_LEN_MAX];
    zhtp_ssize n = zhtp_session_next_datagram(a.s, NULL, NULL, init, sizeof init, w.now);
    assert_int_equal(n, ZHTP_HS_INIT_LEN_RESUME);
    memcpy(bad, init, (size_t)n);
    bad[128 + 8 + 2 + 1216 + 2 + 9] ^= 1; /* first binder byte */
    zhtp_cookie_mac1(bad + n - 32, nid(&b), bad + 16, bad + 128, (size_t)n - 128 - 32);
    zhtp_session_stats b0, b1;
    zhtp_session_get_stats(b.s, &b0);
    assert_int_equal(zhtp_session_recv_handshake(b.s, 1, &a.addr, bad, (size_t)n, w.now),
                     ZHTP_ERR_CRYPTO_VERIFY);
    zhtp_session_get_stats(b.s, &b1);
    assert_int_equal(b1.kem_encaps, b0.kem_encaps);
    /* The genuine one completes, and both sides move to a new secret. */
    assert_int_equal(zhtp_session_recv_handshake(b.s, 1, &a.addr, init, (size_t)n, w.now), 0);
    pump(&w);
    assert_true(usable(&a, &b) && usable(&b, &a));
    assert_memory_equal(ca->rs, cb->rs, 32);
    assert_memory_not_equal(ca->rs, rs1, 32);
    zhtp_session_stats a1;
    zhtp_session_get_stats(a.s, &a1);
    assert_int_equal(a1.sig_sign, 1); /* only the first handshake signed */
    assert_int_equal(a1.sig_verify, 1);
    ep_free(&a);
    ep_free(&b);
}

static void resumption_unknown_to_responder_falls_back_to_signed_retry(void **state)
{
    (void)state;
    ep a, b, b2;
    zhtp_session_config quick;
    memset(&quick, 0, sizeof quick);
    quick.idle_timeout_ns = 5 * SEC;
    ep_init(&a, 1, &quick);
    ep_init(&b, 2, &quick);
    net w;
    net_init(&w, &a, &b, NULL);
    handshake(&w, &a, &b);
    run_until(&w, w.now + 6 * SEC); /* Lost: A keeps its resumption secret */
    /* B restarts: same identity, empty pool, no resumption secret. */
    ep_free(&b);
    ep_init(&b2, 2, NULL);
    w.eps[1] = &b2;
    w.now += SEC;
    assert_int_equal(zhtp_session_connect(a.s, nid(&b2), 1, &b2.addr, w.now), ZHTP_OK);
    pump(&w);
    assert_int_equal(w.last_rc, ZHTP_ERR_SESSION_UNKNOWN_PEER);
    assert_false(usable(&a, &b2));
    run_until(&w, w.now + 5 * SEC);
    assert_true(usable(&a, &b2) && usable(&b2, &a));
    uint8_t pkt[256];
    zhtp_ssize n = seal_data(&a, &b2, (const uint8_t *)"r", 1, pkt, sizeof pkt, w.now);
    assert_int_equal(open_at(&b2, &a, pkt, (size_t)n, w.now), 1);
    ep_free(&a);
    ep_free(&b2);
}

static void same_seed_gives_the_same_trace(void **state)
{
    (void)state;
    uint32_t traces[2];
    for (int r = 0; r < 2; r++) {
        ep a, b;
        ep_init(&a, 1, NULL);
        ep_init(&b, 2, NULL);
        net w;
        net_init(&w, &a, &b, NULL);
        handshake(&w, &a, &b);
        uint8_t pkt[256];
        zhtp_ssize n = seal_data(&a, &b, (const uint8_t *)"d", 1, pkt, sizeof pkt, w.now);
        for (zhtp_ssize k = 0; k < n; k++)
            w.trace = w.trace * 31 + pkt[k];
        traces[r] = w.trace;
        ep_free(&a);
        ep_free(&b);
    }
    assert_int_equal(traces[0], traces[1]);
}

/* Fails the Nth allocation of one side for N = 1, 2, ... during a whole scenario: every call
 * returns ZHTP_OK or ZHTP_ERR_NOMEM (or drops the packet), nothing leaks, and once memory is
 * back the same handles complete the handshake. */
static void allocation_failures_return_nomem_without_leaks(void **state)
{
    (void)state;
    {
        ep a;
        memset(&a, 0, sizeof a);
        uint8_t seed[ZHTP_IDENTITY_SEEDBYTES] = {1};
        assert_int_equal(zhtp_identity_from_seed(&a.id, seed), ZHTP_OK);
        a.al.mem = (zhtp_mem){za_alloc, za_free, &a.al};
        a.al.fail_at = 1;
        zt_rng_seed(&a.rng, 1);
        zhtp_session_config cfg = {.mem = &a.al.mem, .rng = rng_cb, .user_data = &a.rng};
        assert_int_equal(zhtp_session_new(&a.s, &cfg, a.id, 0), ZHTP_ERR_NOMEM);
        assert_null(a.s);
        assert_int_equal(a.al.live_bytes, 0);
        zhtp_identity_free(a.id);
    }
    for (int side = 0; side < 2; side++) {
        int hits = 0;
        for (size_t nth = 1; nth < 200; nth++) {
            ep a, b;
            ep_init(&a, 1, NULL);
            ep_init(&b, 2, NULL);
            ep *victim = side ? &b : &a;
            victim->al.fail_at = victim->al.n_alloc + nth;
            net w;
            net_init(&w, &a, &b, NULL);
            int rc = zhtp_session_connect(a.s, nid(&b), 1, &b.addr, 0);
            assert_true(rc == ZHTP_OK || rc == ZHTP_ERR_NOMEM);
            pump(&w);
            uint8_t pkt[256];
            zhtp_ssize n = seal_data(&a, &b, (const uint8_t *)"m", 1, pkt, sizeof pkt, w.now);
            if (n > 0)
                (void)open_at(&b, &a, pkt, (size_t)n, w.now);
            bool hit = victim->al.n_alloc >= victim->al.fail_at;
            victim->al.fail_at = 0;
            /* Recovery with memory back. */
            rc = zhtp_session_connect(a.s, nid(&b), 1, &b.addr, w.now);
            assert_int_equal(rc, ZHTP_OK);
            run_until(&w, w.now + 20 * SEC);
            if (!usable(&a, &b))
                fail_msg("side %d nth %zu: state a->b %s b->a %s", side, nth,
                         zhtp_conn_state_name(zhtp_session_state(a.s, nid(&b))),
                         zhtp_conn_state_name(zhtp_session_state(b.s, nid(&a))));
            n = seal_data(&a, &b, (const uint8_t *)"m", 1, pkt, sizeof pkt, w.now);
            assert_true(n > 0);
            assert_int_equal(open_at(&b, &a, pkt, (size_t)n, w.now), 1);
            drain_events(&a);
            drain_events(&b);
            ep_free(&a);
            ep_free(&b);
            if (!hit)
                break;
            hits++;
        }
        print_message("# side %d: %d allocation points failed one by one\n", side, hits);
        assert_true(hits >= 2); /* the injection really hit allocations on this side */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshake_completes_and_walks_the_states),
        cmocka_unit_test(handshake_sizes_are_reported_exactly),
        cmocka_unit_test(transport_rejects_every_single_bit_flip),
        cmocka_unit_test(clear_tail_round_trips_with_the_tail_unencrypted),
        cmocka_unit_test(clear_tail_tampering_is_caught_except_inside_the_inner_ciphertext),
        cmocka_unit_test(transport_rejects_truncated_and_replayed_packets),
        cmocka_unit_test(transport_reorder_inside_window_accepted_outside_rejected),
        cmocka_unit_test(transport_rejects_cross_session_packets),
        cmocka_unit_test(initiator_rejects_responder_whose_keys_do_not_hash_to_dialled_id),
        cmocka_unit_test(sessions_have_unrelated_keys_and_ephemeral_secrets_are_wiped),
        cmocka_unit_test(replayed_init_is_dropped_before_public_key_work),
        cmocka_unit_test(flood_of_spoofed_inits_does_not_stop_a_legitimate_handshake),
        cmocka_unit_test(rekey_by_packet_count_keeps_old_key_for_grace),
        cmocka_unit_test(rekey_by_time_and_previous_key_dropped_after_grace),
        cmocka_unit_test(counter_exhaustion_refuses_instead_of_reusing_a_nonce),
        cmocka_unit_test(session_expiry_and_silence_make_the_connection_lost),
        cmocka_unit_test(retries_back_off_exponentially_with_bounded_jitter),
        cmocka_unit_test(lost_handshake_messages_are_recovered_by_retries),
        cmocka_unit_test(pool_reuses_sessions_and_enforces_a_runtime_limit),
        cmocka_unit_test(idle_pool_entries_and_cached_identities_are_bounded),
        cmocka_unit_test(index_map_finds_every_session_among_many_peers),
        cmocka_unit_test(connect_without_address_goes_discovering),
        cmocka_unit_test(simultaneous_open_converges_on_one_session),
        cmocka_unit_test(resumption_skips_signatures_and_ratchets_its_secret),
        cmocka_unit_test(resumption_unknown_to_responder_falls_back_to_signed_retry),
        cmocka_unit_test(same_seed_gives_the_same_trace),
        cmocka_unit_test(allocation_failures_return_nomem_without_leaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
