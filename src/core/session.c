/* Session pool handle, transport (seal/open), datagram and event queues, statistics.
 * The connection state machine and the handshake driving are in conn.c. */
#include <sodium.h>
#include <string.h>

#include "session_internal.h"
#include "zhtp/util.h"

static zhtp_time cfg_or(zhtp_time v, zhtp_time d)
{
    return v ? v : d;
}

int zhtp_session_new(zhtp_sessions **out, const zhtp_session_config *cfg, const zhtp_identity *id,
                     zhtp_time now)
{
    if (!out)
        return ZHTP_ERR_INVAL;
    *out = NULL;
    if (!cfg || !cfg->rng || !id)
        return ZHTP_ERR_INVAL;
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    zhtp_sessions *s = zhtp_mem_alloc(cfg->mem, sizeof *s);
    if (!s)
        return ZHTP_ERR_NOMEM;
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    zhtp_session_config *c = &s->cfg;
    c->max_connections =
        c->max_connections ? c->max_connections : ZHTP_SESSION_DEFAULT_MAX_CONNECTIONS;
    c->rekey_after_packets = cfg_or(c->rekey_after_packets, ZHTP_SESSION_DEFAULT_REKEY_PACKETS);
    c->rekey_after_ns = cfg_or(c->rekey_after_ns, ZHTP_SESSION_DEFAULT_REKEY_NS);
    c->reject_after_packets = cfg_or(c->reject_after_packets, ZHTP_SESSION_DEFAULT_REJECT_PACKETS);
    c->reject_after_ns = cfg_or(c->reject_after_ns, ZHTP_SESSION_DEFAULT_REJECT_NS);
    c->grace_ns = cfg_or(c->grace_ns, ZHTP_SESSION_DEFAULT_GRACE_NS);
    c->idle_timeout_ns = cfg_or(c->idle_timeout_ns, ZHTP_SESSION_DEFAULT_IDLE_NS);
    c->retry_base_ns = cfg_or(c->retry_base_ns, ZHTP_SESSION_DEFAULT_RETRY_NS);
    c->retry_max_ns = cfg_or(c->retry_max_ns, ZHTP_SESSION_DEFAULT_RETRY_MAX_NS);
    c->max_attempts = c->max_attempts ? c->max_attempts : ZHTP_SESSION_DEFAULT_ATTEMPTS;
    c->init_rate_per_sec =
        c->init_rate_per_sec ? c->init_rate_per_sec : ZHTP_SESSION_DEFAULT_INIT_RATE;
    c->resumption_lifetime_ns =
        cfg_or(c->resumption_lifetime_ns, ZHTP_SESSION_DEFAULT_RESUMPTION_NS);
    s->max_conns = c->max_connections;
    s->id = id;
    s->me = zhtp_identity_get_public(id);
    zhtp_cookie_init(&s->cookie, c->rng, c->user_data, now);
    *out = s;
    return ZHTP_OK;
}

void zs_keys_wipe(zkeys *k)
{
    zhtp_wipe(k, sizeof *k);
}

static void conn_free(zhtp_sessions *s, zconn *c)
{
    zhtp_wipe(c, sizeof *c); /* keys, ephemeral secret key, cookie */
    zhtp_mem_free(s->cfg.mem, c, sizeof *c);
}

void zhtp_session_free(zhtp_sessions *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_conns; i++)
        conn_free(s, s->conns[i]);
    if (s->conns)
        zhtp_mem_free(s->cfg.mem, s->conns, s->cap_conns * sizeof *s->conns);
    if (s->peers)
        zhtp_mem_free(s->cfg.mem, s->peers, s->cap_peers * sizeof *s->peers);
    if (s->imap)
        zhtp_mem_free(s->cfg.mem, s->imap, s->imap_cap * sizeof *s->imap);
    while (s->tx_head) {
        ztx *t = s->tx_head;
        s->tx_head = t->next;
        zs_tx_free(s, t);
    }
    zhtp_cookie_clear(&s->cookie);
    const zhtp_mem *mem = s->cfg.mem;
    zhtp_wipe(s, sizeof *s);
    zhtp_mem_free(mem, s, sizeof *s);
}

void zs_rng(zhtp_sessions *s, void *out, size_t len)
{
    s->cfg.rng(s->cfg.user_data, out, len);
}

/* ---- Pool lookups. Linear scans: fine for the hundreds of neighbours a node has; a hash
 * table by index and by id is the known fix for larger pools (docs/sessions.md §9). ---- */

zconn *zs_conn_find(const zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN])
{
    for (size_t i = 0; i < s->n_conns; i++)
        if (memcmp(s->conns[i]->peer, peer, ZHTP_NODE_ID_LEN) == 0)
            return s->conns[i];
    return NULL;
}

/* Pool entries outlive their sessions (identity knowledge, last init timestamp, resumption
 * secret), so they are bounded: past 2 * max_connections + 16 entries, the idle entry
 * (Disconnected / Failed / Lost) heard from longest ago makes room. */
static size_t entry_limit(const zhtp_sessions *s)
{
    return 2 * (size_t)s->max_conns + 16;
}

static void evict_one(zhtp_sessions *s)
{
    size_t victim = SIZE_MAX;
    for (size_t i = 0; i < s->n_conns; i++) {
        const zconn *c = s->conns[i];
        if (zs_occupied(c) || c->hs_pending)
            continue;
        if (victim == SIZE_MAX || c->last_change < s->conns[victim]->last_change)
            victim = i;
    }
    if (victim == SIZE_MAX)
        return;
    zconn *c = s->conns[victim];
    zhtp_wipe(c, sizeof *c);
    zhtp_mem_free(s->cfg.mem, c, sizeof *c);
    s->conns[victim] = s->conns[--s->n_conns];
    s->stats.pool_evictions++;
    s->gen++;
}

zconn *zs_conn_new(zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN])
{
    zconn *c = zhtp_mem_alloc(s->cfg.mem, sizeof *c);
    if (!c)
        return NULL;
    if (s->n_conns >= entry_limit(s))
        evict_one(s);
    if (s->n_conns == s->cap_conns) {
        size_t ncap = s->cap_conns ? 2 * s->cap_conns : 8;
        zconn **n = zhtp_mem_alloc(s->cfg.mem, ncap * sizeof *n);
        if (!n) {
            zhtp_mem_free(s->cfg.mem, c, sizeof *c);
            return NULL;
        }
        if (s->conns) {
            memcpy(n, s->conns, s->n_conns * sizeof *n);
            zhtp_mem_free(s->cfg.mem, s->conns, s->cap_conns * sizeof *s->conns);
        }
        s->conns = n;
        s->cap_conns = ncap;
    }
    memset(c, 0, sizeof *c);
    memcpy(c->peer, peer, ZHTP_NODE_ID_LEN);
    c->state = ZHTP_CONN_DISCONNECTED;
    c->hs_deadline = ZHTP_TIME_NEVER;
    s->conns[s->n_conns++] = c;
    return c;
}

static zkeys *keyset(zconn *c, size_t j)
{
    return j == 0 ? &c->cur : j == 1 ? &c->prev : &c->next;
}

static size_t slot_of(uint32_t index, size_t cap)
{
    return (size_t)((index * UINT32_C(2654435761)) & (cap - 1));
}

/* Rebuilds the index map; false when it cannot be allocated (callers fall back to a scan). */
static bool imap_rebuild(zhtp_sessions *s)
{
    size_t need = 16;
    while (need < 6 * s->n_conns + 16) /* load factor <= 1/2 with all three key sets live */
        need *= 2;
    if (need != s->imap_cap) {
        uint64_t *m = zhtp_mem_alloc(s->cfg.mem, need * sizeof *m);
        if (!m)
            return false;
        if (s->imap)
            zhtp_mem_free(s->cfg.mem, s->imap, s->imap_cap * sizeof *s->imap);
        s->imap = m;
        s->imap_cap = need;
    }
    memset(s->imap, 0, s->imap_cap * sizeof *s->imap);
    for (size_t i = 0; i < s->n_conns; i++) {
        for (size_t j = 0; j < 3; j++) {
            const zkeys *k = keyset(s->conns[i], j);
            if (!k->live)
                continue;
            size_t h = slot_of(k->local_index, s->imap_cap);
            while (s->imap[h])
                h = (h + 1) & (s->imap_cap - 1);
            s->imap[h] = (uint64_t)k->local_index << 32 | (uint64_t)(3 * i + j + 1);
        }
    }
    s->imap_gen = s->gen;
    return true;
}

zconn *zs_conn_by_index(zhtp_sessions *s, uint32_t index, zkeys **keys)
{
    if (index == 0)
        return NULL;
    if ((s->imap_gen == s->gen && s->imap) || imap_rebuild(s)) {
        /* Untrusted index: one expected probe sequence, no scan, whatever the attacker sends. */
        for (size_t h = slot_of(index, s->imap_cap);; h = (h + 1) & (s->imap_cap - 1)) {
            uint64_t e = s->imap[h];
            if (!e)
                return NULL;
            if ((uint32_t)(e >> 32) != index)
                continue;
            size_t pos = (size_t)(e & 0xffffffffu) - 1, i = pos / 3;
            if (i >= s->n_conns)
                break; /* stale: cannot happen while |gen| is kept; scan to be safe */
            zkeys *k = keyset(s->conns[i], pos % 3);
            if (!k->live || k->local_index != index)
                break;
            *keys = k;
            return s->conns[i];
        }
    }
    for (size_t i = 0; i < s->n_conns; i++) {
        zconn *c = s->conns[i];
        zkeys *ks[3] = {&c->cur, &c->prev, &c->next};
        for (int j = 0; j < 3; j++) {
            if (ks[j]->live && ks[j]->local_index == index) {
                *keys = ks[j];
                return c;
            }
        }
    }
    return NULL;
}

zconn *zs_conn_by_hs_index(const zhtp_sessions *s, uint32_t index)
{
    for (size_t i = 0; i < s->n_conns; i++)
        if (s->conns[i]->hs_pending && s->conns[i]->hs.sender_index == index)
            return s->conns[i];
    return NULL;
}

uint32_t zs_new_index(zhtp_sessions *s)
{
    for (;;) {
        uint8_t b[4];
        zkeys *k;
        zs_rng(s, b, sizeof b);
        uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (v != 0 && !zs_conn_by_index(s, v, &k) && !zs_conn_by_hs_index(s, v))
            return v;
    }
}

bool zs_occupied(const zconn *c)
{
    return c->state != ZHTP_CONN_DISCONNECTED && c->state != ZHTP_CONN_FAILED &&
           c->state != ZHTP_CONN_LOST;
}

const zhtp_identity_public *zs_peer_identity(const zhtp_sessions *s, const uint8_t id[32])
{
    for (size_t i = 0; i < s->n_peers; i++)
        if (memcmp(s->peers[i].node_id, id, 32) == 0)
            return &s->peers[i];
    return NULL;
}

int zhtp_session_add_peer_identity(zhtp_sessions *s, const zhtp_identity_public *pub)
{
    if (!s || !pub)
        return ZHTP_ERR_INVAL;
    if (zs_peer_identity(s, pub->node_id))
        return ZHTP_OK;
    if (s->n_peers >= entry_limit(s)) { /* bounded like the pool: drop the oldest */
        memmove(&s->peers[0], &s->peers[1], (s->n_peers - 1) * sizeof *s->peers);
        s->n_peers--;
    }
    if (s->n_peers == s->cap_peers) {
        size_t ncap = s->cap_peers ? 2 * s->cap_peers : 4;
        zhtp_identity_public *n = zhtp_mem_alloc(s->cfg.mem, ncap * sizeof *n);
        if (!n)
            return ZHTP_ERR_NOMEM;
        if (s->peers) {
            memcpy(n, s->peers, s->n_peers * sizeof *n);
            zhtp_mem_free(s->cfg.mem, s->peers, s->cap_peers * sizeof *s->peers);
        }
        s->peers = n;
        s->cap_peers = ncap;
    }
    s->peers[s->n_peers++] = *pub;
    return ZHTP_OK;
}

/* ---- Events ---- */

static const char *const state_names[] = {
    "disconnected", "discovering", "connecting", "connected", "authenticated",
    "active",       "error",       "timeout",    "failed",    "lost",
};

const char *zhtp_conn_state_name(zhtp_conn_state st)
{
    if ((unsigned)st < sizeof state_names / sizeof state_names[0])
        return state_names[st];
    return "unknown";
}

void zs_event(zhtp_sessions *s, const zconn *c, zhtp_session_event_type type, int err,
              const char *reason, zhtp_time now)
{
    if (s->ev_count == ZHTP_SESSION_EVENT_CAP) { /* drop the oldest */
        s->ev_head = (s->ev_head + 1) % ZHTP_SESSION_EVENT_CAP;
        s->ev_count--;
        s->stats.events_dropped++;
    }
    zhtp_session_event *ev = &s->events[(s->ev_head + s->ev_count) % ZHTP_SESSION_EVENT_CAP];
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    memcpy(ev->peer, c->peer, ZHTP_NODE_ID_LEN);
    ev->old_state = ev->state = c->state;
    ev->err = err;
    ev->reason = reason ? reason : "";
    ev->is_initiator = c->cur.is_initiator;
    ev->at = now;
    s->ev_count++;
}

void zs_set_state(zhtp_sessions *s, zconn *c, zhtp_conn_state st, int err, const char *reason,
                  zhtp_time now)
{
    if (c->state == st)
        return;
    zhtp_conn_state old = c->state;
    c->state = st;
    c->last_change = now;
    if (err)
        c->last_error = err;
    zs_event(s, c, ZHTP_SESSION_EV_STATE, err, reason, now);
    s->events[(s->ev_head + s->ev_count - 1) % ZHTP_SESSION_EVENT_CAP].old_state = old;
}

int zhtp_session_next_event(zhtp_sessions *s, zhtp_session_event *ev)
{
    if (!s || !ev)
        return ZHTP_ERR_INVAL;
    if (s->ev_count == 0)
        return ZHTP_ERR_AGAIN;
    *ev = s->events[s->ev_head];
    s->ev_head = (s->ev_head + 1) % ZHTP_SESSION_EVENT_CAP;
    s->ev_count--;
    return ZHTP_OK;
}

/* ---- Datagram queue ---- */

ztx *zs_tx_alloc(zhtp_sessions *s, size_t cap)
{
    size_t sz = sizeof(ztx) + cap;
    ztx *t = zhtp_mem_alloc(s->cfg.mem, sz);
    if (t) {
        memset(t, 0, sizeof *t);
        t->alloc_size = sz;
    }
    return t;
}

void zs_tx_free(zhtp_sessions *s, ztx *t)
{
    zhtp_mem_free(s->cfg.mem, t, t->alloc_size);
}

void zs_tx_push(zhtp_sessions *s, ztx *t, zhtp_link_id link, const zhtp_addr *addr, size_t len)
{
    if (s->tx_count >= ZHTP_SESSION_TXQ_MAX) {
        zs_tx_free(s, t);
        return;
    }
    t->link = link;
    t->addr = *addr;
    t->len = len;
    t->next = NULL;
    if (s->tx_tail)
        s->tx_tail->next = t;
    else
        s->tx_head = t;
    s->tx_tail = t;
    s->tx_count++;
}

zhtp_ssize zhtp_session_next_datagram(zhtp_sessions *s, zhtp_link_id *link, zhtp_addr *to,
                                      uint8_t *out, size_t cap, zhtp_time now)
{
    (void)now;
    if (!s || !out)
        return ZHTP_ERR_INVAL;
    ztx *t = s->tx_head;
    if (!t)
        return ZHTP_ERR_AGAIN;
    if (cap < t->len)
        return ZHTP_ERR_NOBUF;
    memcpy(out, t->data, t->len);
    if (link)
        *link = t->link;
    if (to)
        *to = t->addr;
    zhtp_ssize n = (zhtp_ssize)t->len;
    s->tx_head = t->next;
    if (!s->tx_head)
        s->tx_tail = NULL;
    s->tx_count--;
    zs_tx_free(s, t);
    return n;
}

/* ---- Transport (docs/sessions.md §5) ---- */

/* nonce = 0x00000000 || counter (u64 big-endian) */
static void mk_nonce(uint8_t nonce[12], uint64_t ctr)
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(ctr >> (56 - 8 * i));
}

void zs_install_current(zhtp_sessions *s, zconn *c, zkeys *k, zhtp_time now)
{
    s->gen++;
    if (c->cur.live) {
        zs_keys_wipe(&c->prev);
        c->prev = c->cur;
        c->prev.grace_end = now + s->cfg.grace_ns;
    }
    c->cur = *k;
    zs_keys_wipe(k);
}

static bool keys_expired(const zhtp_sessions *s, const zkeys *k, zhtp_time now)
{
    return now - k->created >= s->cfg.reject_after_ns;
}

/* Associated data of a packet with a clear tail: the header, then the tail's last 16 bytes
 * (the inner packet's own tag, which authenticates the inner ciphertext under the end-to-end
 * key), so the link tag covers which inner packet rides in the frame without encrypting or
 * hashing the whole of it again (docs/sessions.md §5.1). */
#define TAIL_AD_LEN (ZHTP_WIRE_HEADER_LEN + ZHTP_WIRE_CLEAR_TAIL_MIN)

static void tail_ad(uint8_t ad[TAIL_AD_LEN], const uint8_t *hdr, const uint8_t *tail,
                    size_t clear_len)
{
    memcpy(ad, hdr, ZHTP_WIRE_HEADER_LEN);
    memcpy(ad + ZHTP_WIRE_HEADER_LEN, tail + clear_len - ZHTP_WIRE_CLEAR_TAIL_MIN,
           ZHTP_WIRE_CLEAR_TAIL_MIN);
}

static zhtp_ssize seal_with(zhtp_sessions *s, zconn *c, const zhtp_wire_header *hdr,
                            const uint8_t *pt, size_t pt_len, size_t clear_len, uint8_t *out,
                            size_t cap)
{
    zkeys *k = &c->cur;
    if (pt_len > ZHTP_WIRE_MAX_PAYLOAD || clear_len > pt_len ||
        (clear_len && clear_len < ZHTP_WIRE_CLEAR_TAIL_MIN))
        return ZHTP_ERR_INVAL;
    if (cap < ZHTP_WIRE_HEADER_LEN + pt_len + ZHTP_WIRE_TAG_LEN)
        return ZHTP_ERR_NOBUF;
    zhtp_wire_header h = *hdr;
    h.flags |= ZHTP_WIRE_FLAG_SEALED;
    h.flags &= (uint16_t)~ZHTP_WIRE_FLAG_CLEAR_TAIL;
    if (clear_len)
        h.flags |= ZHTP_WIRE_FLAG_CLEAR_TAIL;
    h.clear_len = (uint32_t)clear_len;
    h.payload_len = (uint32_t)pt_len;
    h.receiver_index = k->remote_index;
    h.counter = k->send_ctr;
    zhtp_ssize n = zhtp_wire_header_encode(out, cap, &h);
    if (n < 0)
        return n;
    uint8_t nonce[12];
    unsigned long long maclen = 0;
    mk_nonce(nonce, k->send_ctr);
    size_t enc_len = pt_len - clear_len;
    uint8_t *body = out + ZHTP_WIRE_HEADER_LEN;
    if (clear_len) {
        /* The tail first: with pt == body (in place) it is already there, and moving it
         * before encrypting the prefix keeps an overlapping pt intact until it is read. */
        if (pt + enc_len != body + enc_len)
            memmove(body + enc_len, pt + enc_len, clear_len);
        uint8_t ad[TAIL_AD_LEN];
        tail_ad(ad, out, body + enc_len, clear_len);
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(
            body, body + pt_len, &maclen, pt, enc_len, ad, sizeof ad, NULL, nonce, k->send_key);
    } else {
        /* memmove semantics: libsodium allows pt == out + 128 (in place). */
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(body, body + pt_len, &maclen, pt, pt_len,
                                                           out, ZHTP_WIRE_HEADER_LEN, NULL, nonce,
                                                           k->send_key);
    }
    /* The counter is the nonce: it only moves forward, and seal refuses at the limit. */
    k->send_ctr++;
    s->stats.packets_sealed++;
    return (zhtp_ssize)(ZHTP_WIRE_HEADER_LEN + pt_len + ZHTP_WIRE_TAG_LEN);
}

zhtp_ssize zhtp_session_seal_packet(zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN],
                                    const zhtp_wire_header *hdr, const uint8_t *pt, size_t pt_len,
                                    uint8_t *out, size_t cap, zhtp_time now)
{
    return zhtp_session_seal_packet_tail(s, peer, hdr, pt, pt_len, 0, out, cap, now);
}

zhtp_ssize zhtp_session_seal_packet_tail(zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN],
                                         const zhtp_wire_header *hdr, const uint8_t *pt,
                                         size_t pt_len, size_t clear_len, uint8_t *out, size_t cap,
                                         zhtp_time now)
{
    if (!s || !peer || !hdr || !out || (!pt && pt_len))
        return ZHTP_ERR_INVAL;
    if (clear_len > pt_len || (clear_len && clear_len < ZHTP_WIRE_CLEAR_TAIL_MIN))
        return ZHTP_ERR_INVAL;
    zconn *c = zs_conn_find(s, peer);
    if (!c || !c->cur.live)
        return ZHTP_ERR_SESSION_NO_SESSION;
    zkeys *k = &c->cur;
    bool exhausted = k->send_ctr >= s->cfg.reject_after_packets || keys_expired(s, k, now);
    bool rekey = exhausted || k->send_ctr >= s->cfg.rekey_after_packets ||
                 now - k->created >= s->cfg.rekey_after_ns;
    if (rekey && !c->hs_pending && c->has_addr) {
        c->attempts = 0;
        (void)zs_start_handshake(s, c, now); /* NOMEM: retried at the next seal */
    }
    if (exhausted)
        return ZHTP_ERR_SESSION_EXPIRED;
    return seal_with(s, c, hdr, pt, pt_len, clear_len, out, cap);
}

int zs_send_keepalive(zhtp_sessions *s, zconn *c, zhtp_time now)
{
    (void)now;
    if (!c->has_addr || !c->cur.live)
        return ZHTP_OK;
    ztx *t = zs_tx_alloc(s, ZHTP_WIRE_HEADER_LEN + ZHTP_WIRE_TAG_LEN);
    if (!t)
        return ZHTP_ERR_NOMEM;
    zhtp_wire_header h;
    memset(&h, 0, sizeof h);
    h.version = ZHTP_WIRE_VERSION;
    h.operation = ZHTP_WIRE_OP_DATA;
    h.hop_limit = 1;
    h.route_bound = ZHTP_WIRE_ROUTE_BOUND_NONE; /* originated: no bound (protocol.md 3.1) */
    memcpy(h.sender, s->me->node_id, ZHTP_NODE_ID_LEN);
    memcpy(h.target, c->peer, ZHTP_NODE_ID_LEN);
    zhtp_ssize n =
        seal_with(s, c, &h, NULL, 0, 0, t->data, ZHTP_WIRE_HEADER_LEN + ZHTP_WIRE_TAG_LEN);
    if (n < 0) {
        zs_tx_free(s, t);
        return (int)n;
    }
    zs_tx_push(s, t, c->link, &c->addr, (size_t)n);
    return ZHTP_OK;
}

zhtp_ssize zhtp_session_open_packet(zhtp_sessions *s, zhtp_link_id link, const zhtp_addr *from,
                                    const uint8_t *pkt, size_t len, zhtp_wire_header *hdr,
                                    uint8_t *out, size_t cap, uint8_t peer[ZHTP_NODE_ID_LEN],
                                    zhtp_time now)
{
    if (!s || !pkt || !hdr || (!out && cap))
        return ZHTP_ERR_INVAL;
    zhtp_wire_packet p;
    int rc = zhtp_wire_packet_decode(&p, pkt, len);
    if (rc != 0)
        return rc;
    if (!(p.hdr.flags & ZHTP_WIRE_FLAG_SEALED))
        return ZHTP_ERR_INVAL;
    zkeys *k = NULL;
    zconn *c = zs_conn_by_index(s, p.hdr.receiver_index, &k);
    if (!c)
        return ZHTP_ERR_SESSION_UNKNOWN_INDEX;
    if (keys_expired(s, k, now) || (k == &c->prev && now >= k->grace_end))
        return ZHTP_ERR_SESSION_EXPIRED;
    /* Untrusted counter: checked against the window before the AEAD, marked only after. */
    if (!zhtp_replay_check(&k->replay, p.hdr.counter)) {
        s->stats.replays_dropped++;
        return ZHTP_ERR_SESSION_REPLAY;
    }
    if (cap < p.payload.len)
        return ZHTP_ERR_NOBUF;
    uint8_t nonce[12];
    mk_nonce(nonce, p.hdr.counter);
    /* With a clear tail only the prefix is ciphertext; the tail's last 16 bytes join the
     * associated data (seal_with). The tail is copied out only once the tag has verified. */
    size_t clear_len = p.hdr.clear_len, enc_len = p.payload.len - clear_len;
    uint8_t ad_buf[TAIL_AD_LEN];
    const uint8_t *ad = pkt;
    size_t ad_len = ZHTP_WIRE_HEADER_LEN;
    if (clear_len) {
        tail_ad(ad_buf, pkt, p.payload.ptr + enc_len, clear_len);
        ad = ad_buf;
        ad_len = sizeof ad_buf;
    }
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, NULL, p.payload.ptr, enc_len, p.tag,
                                                           ad, ad_len, nonce, k->recv_key) != 0) {
        if (out && p.payload.len)
            zhtp_wipe(out, p.payload.len);
        s->stats.auth_failures++;
        return ZHTP_ERR_SESSION_AUTH;
    }
    if (clear_len)
        memmove(out + enc_len, p.payload.ptr + enc_len, clear_len);
    (void)zhtp_replay_update(&k->replay, p.hdr.counter);
    if (k == &c->next) {
        /* The initiator of a rekey used the new keys: it has them, so we switch too. */
        zkeys nk = c->next;
        memset(&c->next, 0, sizeof c->next);
        zs_install_current(s, c, &nk, now);
        k = &c->cur;
        s->stats.rekeys++;
        zs_event(s, c, ZHTP_SESSION_EV_REKEYED, 0, "peer switched to the new keys", now);
    }
    c->last_rx = now;
    c->rx_packets++;
    s->stats.packets_opened++;
    if (from) {
        c->has_addr = true;
        c->link = link;
        c->addr = *from;
    }
    if (c->state == ZHTP_CONN_AUTHENTICATED || c->state == ZHTP_CONN_CONNECTED ||
        c->state == ZHTP_CONN_ERROR || c->state == ZHTP_CONN_TIMEOUT)
        zs_set_state(s, c, ZHTP_CONN_ACTIVE, 0, "transport packet from the peer", now);
    *hdr = p.hdr;
    if (peer)
        memcpy(peer, c->peer, ZHTP_NODE_ID_LEN);
    return (zhtp_ssize)p.payload.len;
}

/* ---- Queries ---- */

void zhtp_session_set_max_connections(zhtp_sessions *s, uint32_t max)
{
    if (s)
        s->max_conns = max;
}

size_t zhtp_session_count(const zhtp_sessions *s)
{
    size_t n = 0;
    for (size_t i = 0; s && i < s->n_conns; i++)
        n += zs_occupied(s->conns[i]);
    return n;
}

zhtp_conn_state zhtp_session_state(const zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN])
{
    const zconn *c = s && peer ? zs_conn_find(s, peer) : NULL;
    return c ? c->state : ZHTP_CONN_DISCONNECTED;
}

int zhtp_session_conn_info(const zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN],
                           zhtp_conn_info *info)
{
    if (!s || !peer || !info)
        return ZHTP_ERR_INVAL;
    const zconn *c = zs_conn_find(s, peer);
    if (!c)
        return ZHTP_ERR_NOTFOUND;
    memset(info, 0, sizeof *info);
    info->state = c->state;
    info->has_address = c->has_addr;
    info->link = c->link;
    info->addr = c->addr;
    info->attempts = c->attempts;
    info->next_retry =
        c->hs_pending || c->state == ZHTP_CONN_ERROR ? c->hs_deadline : ZHTP_TIME_NEVER;
    info->is_initiator = c->cur.is_initiator;
    info->tx_packets = c->cur.send_ctr;
    info->rx_packets = c->rx_packets;
    info->handshakes = c->handshakes;
    info->last_error = c->last_error;
    info->local_index_cur = c->cur.live ? c->cur.local_index : 0;
    info->local_index_next = c->next.live ? c->next.local_index : 0;
    info->local_index_prev = c->prev.live ? c->prev.local_index : 0;
    return ZHTP_OK;
}

void zhtp_session_get_stats(const zhtp_sessions *s, zhtp_session_stats *st)
{
    if (s && st)
        *st = s->stats;
}
