/* Connection state machine and pool: who initiates, retries with backoff and jitter, the
 * responder's checks in cost order (docs/sessions.md §3.3), rekeying and expiry. */
#include <string.h>

#include "session_internal.h"
#include "zhtp/util.h"

static const uint8_t *resumption_secret(const zhtp_sessions *s, const zconn *c, zhtp_time now)
{
    if (s->cfg.disable_resumption || !c->has_rs || now - c->rs_at >= s->cfg.resumption_lifetime_ns)
        return NULL;
    return c->rs;
}

/* Every completed handshake leaves the next resumption secret; the old one is overwritten, so
 * a resumption secret is used at most once (a ratchet). */
static void keep_rs(zconn *c, const uint8_t rs[32], zhtp_time now)
{
    memcpy(c->rs, rs, 32);
    c->has_rs = true;
    c->rs_at = now;
}

static bool is_usable(const zconn *c)
{
    return c->cur.live && (c->state == ZHTP_CONN_AUTHENTICATED || c->state == ZHTP_CONN_ACTIVE);
}

/* Retransmission timeout of attempt k (1-based): min(max, base * 2^(k-1)) plus a jitter
 * uniform in [0, rto/4] from the injected rng, so that peers that failed together do not
 * retry in lockstep. */
static zhtp_time backoff(zhtp_sessions *s, uint32_t attempt)
{
    zhtp_time rto = s->cfg.retry_base_ns;
    for (uint32_t i = 1; i < attempt && rto < s->cfg.retry_max_ns; i++)
        rto *= 2;
    if (rto > s->cfg.retry_max_ns)
        rto = s->cfg.retry_max_ns;
    uint8_t b[8];
    zs_rng(s, b, sizeof b);
    uint64_t r = 0;
    for (int i = 0; i < 8; i++)
        r = (r << 8) | b[i];
    return rto + r % (rto / 4 + 1);
}

int zs_start_handshake(zhtp_sessions *s, zconn *c, zhtp_time now)
{
    bool rekey = is_usable(c);
    if (!c->has_addr) {
        if (!rekey) {
            zs_set_state(s, c, ZHTP_CONN_DISCOVERING, 0, "peer address unknown", now);
            zs_event(s, c, ZHTP_SESSION_EV_NEED_ADDRESS, 0, "find the peer's address", now);
        }
        return ZHTP_OK;
    }
    ztx *t = zs_tx_alloc(s, ZHTP_HS_INIT_LEN_MAX);
    if (!t)
        return ZHTP_ERR_NOMEM;
    uint8_t seed[ZHTP_HS_INIT_SEEDBYTES];
    uint8_t mid[8];
    zs_rng(s, seed, sizeof seed);
    zs_rng(s, mid, sizeof mid);
    uint64_t message_id = 0;
    for (int i = 0; i < 8; i++)
        message_id = (message_id << 8) | mid[i];
    /* Timestamps strictly grow per initiator, even for two inits at the same |now|. */
    uint64_t ts = s->cfg.timestamp_offset_ns + now;
    if (ts <= s->last_ts_sent)
        ts = s->last_ts_sent + 1;
    uint8_t flags = 0;
    if (c->attempts > 0 || !c->peer_knows_us)
        flags |= ZHTP_HS_FLAG_IDENTITY; /* a retry always carries it: the peer may have lost it */
    if (!zs_peer_identity(s, c->peer))
        flags |= ZHTP_HS_FLAG_WANT_IDENTITY;
    const uint8_t *cookie = NULL;
    if (c->have_cookie && now - c->cookie_at < ZHTP_SESSION_COOKIE_ROTATE_NS)
        cookie = c->cookie;
    uint32_t index = zs_new_index(s);
    zhtp_hs_initiator_clear(&c->hs);
    /* First attempt of a series: resume if we can. Retries are always signed, so a responder
     * that lost (or never had) the secret costs one retransmission timeout, not a failure. */
    const uint8_t *rs = c->attempts == 0 ? resumption_secret(s, c, now) : NULL;
    zhtp_ssize n = zhtp_hs_init_build(t->data, ZHTP_HS_INIT_LEN_MAX, &c->hs, s->id, c->peer, index,
                                      ts, flags, message_id, cookie, rs, seed, &s->stats);
    zhtp_wipe(seed, sizeof seed);
    if (n < 0) {
        zs_tx_free(s, t);
        c->hs_pending = false;
        return (int)n;
    }
    s->last_ts_sent = ts;
    c->hs_pending = true;
    c->attempts++;
    if (c->attempts > 1)
        s->stats.retries++;
    c->hs_deadline = now + backoff(s, c->attempts);
    s->stats.handshake_bytes_tx += (uint64_t)n;
    zs_tx_push(s, t, c->link, &c->addr, (size_t)n);
    if (!rekey)
        zs_set_state(s, c, ZHTP_CONN_CONNECTING, 0, "handshake init sent", now);
    return ZHTP_OK;
}

int zhtp_session_connect(zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN], zhtp_link_id link,
                         const zhtp_addr *addr, zhtp_time now)
{
    if (!s || !peer)
        return ZHTP_ERR_INVAL;
    if (memcmp(peer, s->me->node_id, ZHTP_NODE_ID_LEN) == 0)
        return ZHTP_ERR_INVAL;
    zconn *c = zs_conn_find(s, peer);
    if (c && zs_occupied(c)) {
        /* Pooled: a usable session or a handshake under way is reused as it is. */
        if (addr && !c->has_addr) {
            c->has_addr = true;
            c->link = link;
            c->addr = *addr;
            if (c->state == ZHTP_CONN_DISCOVERING)
                return zs_start_handshake(s, c, now);
        }
        if (is_usable(c))
            s->stats.pool_reuses++;
        return ZHTP_OK;
    }
    if (zhtp_session_count(s) >= s->max_conns)
        return ZHTP_ERR_SESSION_LIMIT;
    bool created = false;
    if (!c) {
        c = zs_conn_new(s, peer);
        if (!c)
            return ZHTP_ERR_NOMEM;
        created = true;
    }
    bool had_addr = c->has_addr;
    zhtp_link_id old_link = c->link;
    zhtp_addr old_addr = c->addr;
    if (addr) {
        c->has_addr = true;
        c->link = link;
        c->addr = *addr;
    }
    c->attempts = 0;
    c->last_error = 0;
    int rc = zs_start_handshake(s, c, now);
    if (rc != ZHTP_OK) { /* NOMEM: as before the call */
        if (created) {
            s->n_conns--;
            zhtp_wipe(c, sizeof *c);
            zhtp_mem_free(s->cfg.mem, c, sizeof *c);
        } else {
            c->has_addr = had_addr;
            c->link = old_link;
            c->addr = old_addr;
        }
    }
    return rc;
}

int zhtp_session_set_address(zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN],
                             zhtp_link_id link, const zhtp_addr *addr, zhtp_time now)
{
    if (!s || !peer || !addr)
        return ZHTP_ERR_INVAL;
    zconn *c = zs_conn_find(s, peer);
    if (!c)
        return ZHTP_ERR_NOTFOUND;
    bool had = c->has_addr;
    c->has_addr = true;
    c->link = link;
    c->addr = *addr;
    if (c->state == ZHTP_CONN_DISCOVERING) {
        int rc = zs_start_handshake(s, c, now);
        if (rc != ZHTP_OK)
            c->has_addr = had;
        return rc;
    }
    return ZHTP_OK;
}

static void conn_reset(zconn *c)
{
    zs_keys_wipe(&c->cur);
    zs_keys_wipe(&c->prev);
    zs_keys_wipe(&c->next);
    zhtp_hs_initiator_clear(&c->hs);
    c->hs_pending = false;
    c->hs_deadline = ZHTP_TIME_NEVER;
    c->attempts = 0;
}

int zhtp_session_disconnect(zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN], zhtp_time now)
{
    if (!s || !peer)
        return ZHTP_ERR_INVAL;
    zconn *c = zs_conn_find(s, peer);
    if (!c)
        return ZHTP_ERR_NOTFOUND;
    conn_reset(c);
    s->gen++;
    zhtp_wipe(c->rs, sizeof c->rs);
    c->has_rs = false;
    zs_set_state(s, c, ZHTP_CONN_DISCONNECTED, 0, "disconnected by the caller", now);
    return ZHTP_OK;
}

/* A failed step of our own handshake: visible as Error, retried at the backoff deadline; the
 * pending handshake stays, so a genuine RESPONSE arriving later still completes it. */
static int hs_fail(zhtp_sessions *s, zconn *c, int err, const char *reason, zhtp_time now)
{
    s->stats.handshake_failures++;
    c->last_error = err;
    if (!is_usable(c))
        zs_set_state(s, c, ZHTP_CONN_ERROR, err, reason, now);
    return err;
}

static int recv_init(zhtp_sessions *s, zhtp_link_id link, const zhtp_addr *from, const uint8_t *pkt,
                     size_t len, zhtp_time now)
{
    zhtp_hs_init_msg m;
    int rc = zhtp_hs_init_parse(&m, pkt, len);
    if (rc != ZHTP_OK)
        return rc;
    s->stats.inits_rx++;
    /* 1. mac1: keyed by our node id. Garbage and inits for someone else stop here. */
    if (memcmp(m.hdr.target, s->me->node_id, ZHTP_NODE_ID_LEN) != 0 ||
        memcmp(m.hdr.sender, s->me->node_id, ZHTP_NODE_ID_LEN) == 0 ||
        !zhtp_hs_init_mac1_ok(&m, s->me->node_id)) {
        s->stats.inits_dropped_mac++;
        return ZHTP_ERR_SESSION_MAC;
    }
    /* 2. Under load, a valid mac2 (cookie for this address) or a COOKIE_REPLY: no public-key
     *    operation for an init that has not proved its address. */
    zhtp_cookie_tick(&s->cookie, s->cfg.rng, s->cfg.user_data, now);
    if (zhtp_cookie_count_init(&s->cookie, now, s->cfg.init_rate_per_sec) &&
        !zhtp_cookie_check_mac2(&s->cookie, link, from, m.ids, m.body, m.body_len, m.mac1,
                                m.mac2)) {
        s->stats.inits_dropped_cookie++;
        ztx *t = zs_tx_alloc(s, ZHTP_HS_COOKIE_LEN);
        if (!t)
            return ZHTP_ERR_NOMEM;
        uint8_t nonce[ZHTP_COOKIE_NONCE_LEN], mid[8];
        zs_rng(s, nonce, sizeof nonce);
        zs_rng(s, mid, sizeof mid);
        uint64_t message_id = 0;
        for (int i = 0; i < 8; i++)
            message_id = (message_id << 8) | mid[i];
        zhtp_ssize n = zhtp_hs_cookie_build(t->data, ZHTP_HS_COOKIE_LEN, &s->cookie, s->me->node_id,
                                            &m, link, from, nonce, message_id);
        if (n < 0) {
            zs_tx_free(s, t);
            return (int)n;
        }
        s->stats.cookies_sent++;
        s->stats.handshake_bytes_tx += (uint64_t)n;
        zs_tx_push(s, t, link, from, (size_t)n);
        return ZHTP_ERR_SESSION_COOKIE;
    }
    zconn *c = zs_conn_find(s, m.hdr.sender);
    /* 3. Replayed or stale init: the timestamp must grow per initiator. */
    if (c && c->has_ts && m.timestamp <= c->last_ts) {
        s->stats.inits_dropped_stale++;
        return ZHTP_ERR_SESSION_STALE;
    }
    /* 4. Connection limit, for a peer that holds no slot yet. */
    if ((!c || !zs_occupied(c)) && zhtp_session_count(s) >= s->max_conns) {
        s->stats.inits_dropped_limit++;
        return ZHTP_ERR_SESSION_LIMIT;
    }
    /* 5. Both sides initiated: the lower node id's handshake wins, deterministically. */
    if (c && c->hs_pending && memcmp(s->me->node_id, m.hdr.sender, ZHTP_NODE_ID_LEN) < 0)
        return ZHTP_ERR_SESSION_STATE;
    /* 6. The initiator's public identity: attached (must hash to the header's sender) or
     *    cached. Parsing is cheap (no KEM / signature operation). */
    zhtp_identity_public ipub;
    uint8_t h1[32];
    const uint8_t *rs = NULL;
    if (m.binder) {
        /* 6'/7'. Resumption: the binder under the secret the last handshake left. */
        rs = c ? resumption_secret(s, c, now) : NULL;
        if (!rs)
            return ZHTP_ERR_SESSION_UNKNOWN_PEER;
        rc = zhtp_hs_init_check_binder(&m, rs, h1);
        if (rc != ZHTP_OK)
            return rc;
    } else {
        if (m.pub) {
            rc =
                zhtp_identity_check_node_id(&ipub, m.pub, ZHTP_IDENTITY_PUBLIC_BYTES, m.hdr.sender);
            if (rc != ZHTP_OK)
                return rc;
        } else {
            const zhtp_identity_public *cached = zs_peer_identity(s, m.hdr.sender);
            if (!cached)
                return ZHTP_ERR_SESSION_UNKNOWN_PEER;
            ipub = *cached;
        }
        /* 7. sig_I (first public-key operation). */
        rc = zhtp_hs_init_verify(&m, &ipub, h1, &s->stats);
        if (rc != ZHTP_OK)
            return rc;
    }
    /* 8. Allocate everything before changing anything. */
    bool created = false;
    if (!c) {
        c = zs_conn_new(s, m.hdr.sender);
        if (!c)
            return ZHTP_ERR_NOMEM;
        created = true;
    }
    ztx *t = zs_tx_alloc(s, ZHTP_HS_RESP_LEN_MAX);
    if (!t || (m.pub && zhtp_session_add_peer_identity(s, &ipub) != ZHTP_OK)) {
        if (t)
            zs_tx_free(s, t);
        if (created) {
            s->n_conns--;
            zhtp_mem_free(s->cfg.mem, c, sizeof *c);
        }
        return ZHTP_ERR_NOMEM;
    }
    uint8_t seed[ZHTP_HS_RESP_SEEDBYTES], mid[8];
    zs_rng(s, seed, sizeof seed);
    zs_rng(s, mid, sizeof mid);
    uint64_t message_id = 0;
    for (int i = 0; i < 8; i++)
        message_id = (message_id << 8) | mid[i];
    uint32_t index = zs_new_index(s);
    zhtp_hs_keys keys;
    zhtp_ssize n = zhtp_hs_response_build(t->data, ZHTP_HS_RESP_LEN_MAX, &keys, s->id, &m, h1,
                                          index, m.flags & ZHTP_HS_FLAG_WANT_IDENTITY, message_id,
                                          rs, seed, &s->stats);
    zhtp_wipe(seed, sizeof seed);
    if (n < 0) {
        zs_tx_free(s, t);
        if (created) {
            s->n_conns--;
            zhtp_mem_free(s->cfg.mem, c, sizeof *c);
        }
        return (int)n;
    }
    /* 9. Install: a rekey waits in |next| until the initiator uses it; a first session (or
     *    one replacing a lost one) becomes current at once. */
    zkeys k;
    memset(&k, 0, sizeof k);
    k.live = true;
    k.is_initiator = false;
    k.local_index = index;
    k.remote_index = m.sender_index;
    memcpy(k.send_key, keys.r2i, 32);
    memcpy(k.recv_key, keys.i2r, 32);
    k.created = now;
    zhtp_replay_init(&k.replay);
    keep_rs(c, keys.resume, now);
    zhtp_wipe(&keys, sizeof keys);
    bool rekey = is_usable(c);
    if (c->hs_pending) { /* we lost the simultaneous-open tie-break */
        zhtp_hs_initiator_clear(&c->hs);
        c->hs_pending = false;
        c->hs_deadline = ZHTP_TIME_NEVER;
    }
    if (rekey) {
        zs_keys_wipe(&c->next);
        c->next = k;
        s->gen++;
    } else {
        zs_install_current(s, c, &k, now);
    }
    zs_keys_wipe(&k);
    c->attempts = 0;
    c->has_ts = true;
    c->last_ts = m.timestamp;
    c->peer_knows_us = true;
    c->has_addr = true;
    c->link = link;
    c->addr = *from;
    c->last_rx = now;
    c->handshakes++;
    s->stats.handshakes_responder++;
    s->stats.handshake_bytes_tx += (uint64_t)n;
    zs_tx_push(s, t, link, from, (size_t)n);
    if (!rekey) {
        zs_set_state(s, c, ZHTP_CONN_CONNECTED, 0, "handshake init accepted", now);
        zs_set_state(s, c, ZHTP_CONN_AUTHENTICATED, 0, "initiator signature verified", now);
    }
    return ZHTP_OK;
}

static int recv_response(zhtp_sessions *s, zhtp_link_id link, const zhtp_addr *from,
                         const uint8_t *pkt, size_t len, zhtp_time now)
{
    zhtp_hs_resp_msg m;
    int rc = zhtp_hs_response_parse(&m, pkt, len);
    if (rc != ZHTP_OK)
        return rc;
    s->stats.responses_rx++;
    zconn *c = zs_conn_by_hs_index(s, m.receiver_index);
    if (!c)
        return ZHTP_ERR_SESSION_UNKNOWN_INDEX;
    if (memcmp(m.hdr.target, s->me->node_id, ZHTP_NODE_ID_LEN) != 0)
        return ZHTP_ERR_SESSION_STATE;
    /* The responder must be the node we dialled: its claimed id, and the keys it shows (or
     * the ones we have cached for that id) before any public-key operation. */
    if (memcmp(m.hdr.sender, c->peer, ZHTP_NODE_ID_LEN) != 0)
        return hs_fail(s, c, ZHTP_ERR_CRYPTO_ID_MISMATCH,
                       "responder claims a node id other than the one dialled", now);
    zhtp_identity_public rpub;
    bool resume = c->hs.resume;
    if (resume) {
        /* Resumption: the confirmation tag, under keys that mix the secret only the peer we
         * resumed with holds, authenticates it. No identity, no signature. */
    } else if (m.pub) {
        rc = zhtp_identity_check_node_id(&rpub, m.pub, ZHTP_IDENTITY_PUBLIC_BYTES, c->peer);
        if (rc == ZHTP_ERR_CRYPTO_ID_MISMATCH)
            return hs_fail(s, c, rc, "responder's public keys do not hash to the node id dialled",
                           now);
        if (rc != ZHTP_OK)
            return hs_fail(s, c, rc, "responder's public identity is malformed", now);
    } else {
        const zhtp_identity_public *cached = zs_peer_identity(s, c->peer);
        if (!cached)
            return hs_fail(s, c, ZHTP_ERR_SESSION_UNKNOWN_PEER,
                           "responder sent no identity and none is cached", now);
        rpub = *cached;
    }
    zhtp_hs_keys keys;
    uint8_t h2[32];
    rc = zhtp_hs_response_open(&m, &c->hs, &keys, h2, &s->stats);
    if (rc != ZHTP_OK)
        return hs_fail(s, c, rc, "key confirmation failed", now);
    bool rekey = is_usable(c);
    if (!rekey)
        zs_set_state(s, c, ZHTP_CONN_CONNECTED, 0, "key exchange confirmed", now);
    rc = resume ? ZHTP_OK : zhtp_hs_response_verify(&m, &rpub, h2, &s->stats);
    if (rc != ZHTP_OK) {
        zhtp_wipe(&keys, sizeof keys);
        return hs_fail(s, c, rc, "responder signature invalid", now);
    }
    if (m.pub && zhtp_session_add_peer_identity(s, &rpub) != ZHTP_OK) {
        zhtp_wipe(&keys, sizeof keys);
        return ZHTP_ERR_NOMEM; /* the pending handshake stays; the retry redoes it */
    }
    zkeys k;
    memset(&k, 0, sizeof k);
    k.live = true;
    k.is_initiator = true;
    k.local_index = c->hs.sender_index;
    k.remote_index = m.sender_index;
    memcpy(k.send_key, keys.i2r, 32);
    memcpy(k.recv_key, keys.r2i, 32);
    k.created = now;
    zhtp_replay_init(&k.replay);
    keep_rs(c, keys.resume, now);
    zhtp_wipe(&keys, sizeof keys);
    /* The ephemeral secret key is wiped now: later compromise of our identity or of the
     * next sessions' keys cannot recompute this session's secret. */
    zhtp_hs_initiator_clear(&c->hs);
    c->hs_pending = false;
    c->hs_deadline = ZHTP_TIME_NEVER;
    zs_install_current(s, c, &k, now);
    c->attempts = 0;
    c->peer_knows_us = true;
    c->has_addr = true;
    c->link = link;
    c->addr = *from;
    c->last_rx = now;
    c->handshakes++;
    s->stats.handshakes_initiator++;
    if (rekey) {
        s->stats.rekeys++;
        zs_event(s, c, ZHTP_SESSION_EV_REKEYED, 0, "new keys in use", now);
    } else {
        zs_set_state(s, c, ZHTP_CONN_AUTHENTICATED, 0, "responder signature and node id verified",
                     now);
    }
    /* Confirms the keys to the responder (it switches a rekey on the first packet). */
    (void)zs_send_keepalive(s, c, now);
    return ZHTP_OK;
}

static int recv_cookie(zhtp_sessions *s, const uint8_t *pkt, size_t len, zhtp_time now)
{
    zhtp_hs_cookie_msg m;
    int rc = zhtp_hs_cookie_parse(&m, pkt, len);
    if (rc != ZHTP_OK)
        return rc;
    zconn *c = zs_conn_by_hs_index(s, m.receiver_index);
    if (!c)
        return ZHTP_ERR_SESSION_UNKNOWN_INDEX;
    uint8_t cookie[ZHTP_COOKIE_LEN];
    rc = zhtp_cookie_open(cookie, m.sealed, m.nonce, c->peer, c->hs.mac1);
    if (rc != ZHTP_OK)
        return rc;
    bool first = !c->have_cookie || now - c->cookie_at >= ZHTP_SESSION_COOKIE_ROTATE_NS ||
                 memcmp(cookie, c->cookie, sizeof cookie) != 0;
    memcpy(c->cookie, cookie, sizeof cookie);
    zhtp_wipe(cookie, sizeof cookie);
    c->have_cookie = true;
    c->cookie_at = now;
    s->stats.cookies_rx++;
    /* Resend at once with mac2, counted as an attempt so the backoff still bounds us. */
    if (first)
        return zs_start_handshake(s, c, now);
    return ZHTP_OK;
}

int zhtp_session_recv_handshake(zhtp_sessions *s, zhtp_link_id link, const zhtp_addr *from,
                                const uint8_t *pkt, size_t len, zhtp_time now)
{
    static const zhtp_addr none;
    if (!s || !pkt)
        return ZHTP_ERR_INVAL;
    if (!from)
        from = &none;
    if (len < ZHTP_WIRE_HEADER_LEN)
        return ZHTP_ERR_WIRE_TRUNCATED;
    switch (pkt[5]) { /* operation byte; the parsers check everything again */
    case ZHTP_WIRE_OP_HANDSHAKE_INIT:
        return recv_init(s, link, from, pkt, len, now);
    case ZHTP_WIRE_OP_HANDSHAKE_RESPONSE:
        return recv_response(s, link, from, pkt, len, now);
    case ZHTP_WIRE_OP_COOKIE_REPLY:
        return recv_cookie(s, pkt, len, now);
    default:
        return ZHTP_ERR_WIRE_OPERATION;
    }
}

/* ---- Timers ---- */

static void expire_keys(zhtp_sessions *s, zconn *c, zhtp_time now)
{
    unsigned live_before = (unsigned)(c->cur.live | c->prev.live << 1 | c->next.live << 2);
    if (c->prev.live && now >= c->prev.grace_end)
        zs_keys_wipe(&c->prev);
    if (c->next.live && now - c->next.created >= s->cfg.reject_after_ns)
        zs_keys_wipe(&c->next);
    bool was_usable = is_usable(c);
    if (c->cur.live && now - c->cur.created >= s->cfg.reject_after_ns) {
        zs_keys_wipe(&c->cur);
        if (was_usable) {
            zs_keys_wipe(&c->prev);
            zs_set_state(s, c, ZHTP_CONN_LOST, ZHTP_ERR_SESSION_EXPIRED,
                         "session keys expired without a rekey", now);
        }
    } else if (was_usable && now - c->last_rx >= s->cfg.idle_timeout_ns) {
        conn_reset(c);
        zs_set_state(s, c, ZHTP_CONN_LOST, ZHTP_ERR_AGAIN, "nothing received from the peer", now);
    }
    if ((unsigned)(c->cur.live | c->prev.live << 1 | c->next.live << 2) != live_before)
        s->gen++; /* the index map is rebuilt at the next lookup */
}

int zhtp_session_tick(zhtp_sessions *s, zhtp_time now)
{
    if (!s)
        return ZHTP_ERR_INVAL;
    int ret = ZHTP_OK;
    zhtp_cookie_tick(&s->cookie, s->cfg.rng, s->cfg.user_data, now);
    for (size_t i = 0; i < s->n_conns; i++) {
        zconn *c = s->conns[i];
        expire_keys(s, c, now);
        if (!c->hs_pending || now < c->hs_deadline)
            continue;
        if (c->attempts >= s->cfg.max_attempts) {
            zhtp_hs_initiator_clear(&c->hs);
            c->hs_pending = false;
            c->hs_deadline = ZHTP_TIME_NEVER;
            c->attempts = 0;
            if (!is_usable(c)) {
                zs_set_state(s, c, ZHTP_CONN_TIMEOUT, ZHTP_ERR_AGAIN, "no handshake reply", now);
                zs_set_state(s, c, ZHTP_CONN_FAILED, c->last_error ? c->last_error : ZHTP_ERR_AGAIN,
                             "handshake attempts exhausted", now);
            }
            continue;
        }
        if (!is_usable(c) && c->state != ZHTP_CONN_ERROR)
            zs_set_state(s, c, ZHTP_CONN_TIMEOUT, ZHTP_ERR_AGAIN, "no handshake reply", now);
        int rc = zs_start_handshake(s, c, now);
        if (rc != ZHTP_OK)
            ret = rc; /* hs_pending stays false only if building failed: retried by connect */
    }
    return ret;
}

static zhtp_time tmin(zhtp_time a, zhtp_time b)
{
    return a < b ? a : b;
}

zhtp_time zhtp_session_next_deadline(const zhtp_sessions *s)
{
    zhtp_time t = ZHTP_TIME_NEVER;
    for (size_t i = 0; s && i < s->n_conns; i++) {
        const zconn *c = s->conns[i];
        if (c->hs_pending)
            t = tmin(t, c->hs_deadline);
        if (c->prev.live)
            t = tmin(t, c->prev.grace_end);
        if (c->next.live)
            t = tmin(t, c->next.created + s->cfg.reject_after_ns);
        if (c->cur.live)
            t = tmin(t, c->cur.created + s->cfg.reject_after_ns);
        if (is_usable(c))
            t = tmin(t, c->last_rx + s->cfg.idle_timeout_ns);
    }
    return t;
}
