/* core/session internals shared by session.c (handle, transport, queues) and conn.c
 * (connection state machine, handshake driving, pool). Not a public header. */
#ifndef ZHTP_CORE_SESSION_INTERNAL_H
#define ZHTP_CORE_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cookie.h"
#include "handshake.h"
#include "replay.h"
#include "zhtp/session.h"

#define ZHTP_SESSION_EVENT_CAP 64   /* events kept when the caller does not drain */
#define ZHTP_SESSION_TXQ_MAX   1024 /* queued datagrams; beyond, new ones are dropped */

/* One set of transport keys (a "session" in WireGuard's sense). Secret. */
typedef struct zkeys {
    bool live;
    bool is_initiator;
    uint32_t local_index;  /* ours: the peer puts it in receiver_index */
    uint32_t remote_index; /* theirs: we put it in receiver_index */
    uint8_t send_key[32];
    uint8_t recv_key[32];
    uint64_t send_ctr;
    zhtp_replay replay;
    zhtp_time created;
    zhtp_time grace_end; /* prev only: receive-only until then */
} zkeys;

typedef struct zconn {
    uint8_t peer[ZHTP_NODE_ID_LEN];
    zhtp_conn_state state;
    bool has_addr;
    zhtp_link_id link;
    zhtp_addr addr;
    zkeys cur, prev, next; /* next: responder side of a rekey, until the peer uses it */
    /* Initiator side of a handshake under way. */
    bool hs_pending;
    zhtp_hs_initiator hs;
    zhtp_time hs_deadline; /* retransmission (or retry after Error) */
    uint32_t attempts;
    bool have_cookie;
    uint8_t cookie[ZHTP_COOKIE_LEN];
    zhtp_time cookie_at;
    /* Responder side: replay protection of inits (docs/sessions.md §3.3). */
    bool has_ts;
    uint64_t last_ts;
    bool peer_knows_us; /* a handshake completed: the peer has our identity */
    /* Resumption secret left by the last completed handshake (secret). */
    bool has_rs;
    uint8_t rs[32];
    zhtp_time rs_at;
    zhtp_time last_rx;
    zhtp_time last_change; /* of state: eviction picks the idle entry changed longest ago */
    int last_error;
    uint64_t handshakes, rx_packets;
} zconn;

typedef struct ztx {
    struct ztx *next;
    size_t alloc_size;
    zhtp_link_id link;
    zhtp_addr addr;
    size_t len;
    uint8_t data[];
} ztx;

struct zhtp_sessions {
    zhtp_session_config cfg;
    const zhtp_identity *id;
    const zhtp_identity_public *me;
    uint32_t max_conns;
    zconn **conns;
    size_t n_conns, cap_conns;
    zhtp_identity_public *peers; /* cached public identities */
    size_t n_peers, cap_peers;
    ztx *tx_head, *tx_tail;
    size_t tx_count;
    zhtp_session_event events[ZHTP_SESSION_EVENT_CAP];
    size_t ev_head, ev_count;
    zhtp_cookie_state cookie;
    uint64_t last_ts_sent;
    /* Receiver index -> (connection, key set), open addressing, rebuilt lazily when |gen|
     * (bumped by every change of live keys or of pool positions) moved past |imap_gen|.
     * Entries: index << 32 | (3 * position + key set + 1); 0 is empty. */
    uint64_t *imap;
    size_t imap_cap;
    uint64_t gen, imap_gen;
    zhtp_session_stats stats;
};

/* session.c */
zconn *zs_conn_find(const zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN]);
zconn *zs_conn_new(zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN]); /* NULL: NOMEM */
zconn *zs_conn_by_index(zhtp_sessions *s, uint32_t index, zkeys **keys);
zconn *zs_conn_by_hs_index(const zhtp_sessions *s, uint32_t index);
uint32_t zs_new_index(zhtp_sessions *s);
bool zs_occupied(const zconn *c);
void zs_keys_wipe(zkeys *k);
void zs_event(zhtp_sessions *s, const zconn *c, zhtp_session_event_type type, int err,
              const char *reason, zhtp_time now);
void zs_set_state(zhtp_sessions *s, zconn *c, zhtp_conn_state st, int err, const char *reason,
                  zhtp_time now);
ztx *zs_tx_alloc(zhtp_sessions *s, size_t cap);
void zs_tx_push(zhtp_sessions *s, ztx *t, zhtp_link_id link, const zhtp_addr *addr, size_t len);
void zs_tx_free(zhtp_sessions *s, ztx *t);
void zs_rng(zhtp_sessions *s, void *out, size_t len);
const zhtp_identity_public *zs_peer_identity(const zhtp_sessions *s, const uint8_t id[32]);
/* Installs keys as the current ones; the old current becomes prev for the grace period. */
void zs_install_current(zhtp_sessions *s, zconn *c, zkeys *k, zhtp_time now);
/* Queues an empty sealed DATA packet (keepalive) to c. */
int zs_send_keepalive(zhtp_sessions *s, zconn *c, zhtp_time now);

/* conn.c */
int zs_start_handshake(zhtp_sessions *s, zconn *c, zhtp_time now);

#endif
