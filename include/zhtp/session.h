/* core/session: authenticated, encrypted sessions between zhtp nodes, sans-I/O.
 *
 * Owns: the 1-RTT hybrid handshake (HANDSHAKE_INIT / HANDSHAKE_RESPONSE / COOKIE_REPLY), the
 * transport (ChaCha20-Poly1305 IETF per packet, per-direction 64-bit counters as nonces, the
 * 128-byte header as associated data, a 2,048-packet sliding anti-replay window), rekeying by
 * volume and time with a grace period for the previous key, session expiry, the cookie reply
 * under load, and the connection pool (one connection per peer node id, with the state machine
 * Disconnected -> Discovering -> Connecting -> Connected -> Authenticated -> Active and the
 * Error / Timeout / Failed / Lost edges, retries with exponential backoff and jitter).
 * The byte-exact specification is docs/sessions.md.
 *
 * Must never: touch a socket, a clock, a file, printf or a global; allocate except through the
 * injected zhtp_mem; draw randomness except from the injected rng. Time comes in as |now|.
 * Same seed, same inputs: same outputs (ML-DSA is hedged with rng bytes; docs/sessions.md §7).
 *
 * Driving it: feed HANDSHAKE_INIT / HANDSHAKE_RESPONSE / COOKIE_REPLY packets to
 * zhtp_session_recv_handshake, SEALED packets to zhtp_session_open_packet; seal outgoing
 * packets with zhtp_session_seal_packet; after every call drain zhtp_session_next_datagram
 * (handshake messages, cookie replies, keepalives) and zhtp_session_next_event, and re-arm
 * one timer at zhtp_session_next_deadline, calling zhtp_session_tick when it fires.
 *
 * Thread-safety: none; one handle per thread at a time; handles are independent. */
#ifndef ZHTP_SESSION_H
#define ZHTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/err.h"
#include "zhtp/identity.h"
#include "zhtp/mem.h"
#include "zhtp/types.h"
#include "zhtp/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Packets of the anti-replay window (a bitmap): counters this far left of the highest seen
 * are still accepted once. */
#define ZHTP_SESSION_REPLAY_WINDOW 2048

/* Defaults of zhtp_session_config (0 in a field selects them). */
#define ZHTP_SESSION_DEFAULT_MAX_CONNECTIONS 1024
#define ZHTP_SESSION_DEFAULT_REKEY_PACKETS   (UINT64_C(1) << 20)
#define ZHTP_SESSION_DEFAULT_REKEY_NS        (120 * ZHTP_NS_PER_SEC)
#define ZHTP_SESSION_DEFAULT_REJECT_NS       (180 * ZHTP_NS_PER_SEC)
#define ZHTP_SESSION_DEFAULT_REJECT_PACKETS  (UINT64_C(1) << 60)
#define ZHTP_SESSION_DEFAULT_GRACE_NS        (10 * ZHTP_NS_PER_SEC)
#define ZHTP_SESSION_DEFAULT_IDLE_NS         (60 * ZHTP_NS_PER_SEC)
#define ZHTP_SESSION_DEFAULT_RETRY_NS        (1 * ZHTP_NS_PER_SEC)
#define ZHTP_SESSION_DEFAULT_RETRY_MAX_NS    (30 * ZHTP_NS_PER_SEC)
#define ZHTP_SESSION_DEFAULT_ATTEMPTS        6
#define ZHTP_SESSION_DEFAULT_INIT_RATE       200 /* handshake inits per second before cookies */
#define ZHTP_SESSION_COOKIE_ROTATE_NS        (120 * ZHTP_NS_PER_SEC)
#define ZHTP_SESSION_DEFAULT_RESUMPTION_NS   (3600 * ZHTP_NS_PER_SEC)

typedef struct zhtp_session_config {
    const zhtp_mem *mem;           /* NULL: default allocator */
    zhtp_rng_fn rng;               /* required; seeded in tests and the simulator */
    void *user_data;               /* passed to rng */
    uint32_t max_connections;      /* 0: default. Peers with a session or a handshake under way;
                                      changeable with zhtp_session_set_max_connections */
    uint64_t rekey_after_packets;  /* 0: 2^20 packets sent under one key, then a new handshake */
    zhtp_time rekey_after_ns;      /* 0: 120 s of key age, then a new handshake */
    uint64_t reject_after_packets; /* 0: 2^60. Hard limit: seal refuses, never reuses a nonce */
    zhtp_time reject_after_ns;     /* 0: 180 s. Keys older than this are dropped (expiry) */
    zhtp_time grace_ns;            /* 0: 10 s. The previous receive key lives this long */
    zhtp_time idle_timeout_ns;     /* 0: 60 s. Nothing received for this long: Lost */
    zhtp_time retry_base_ns;       /* 0: 1 s. First handshake retransmission timeout */
    zhtp_time retry_max_ns;        /* 0: 30 s. Backoff cap */
    uint32_t max_attempts;         /* 0: 6 handshake attempts, then Failed */
    uint32_t init_rate_per_sec;    /* 0: 200. Inits above this rate need a cookie (under load) */
    /* Added to |now| to form the handshake timestamp (docs/sessions.md §3): the driver sets it
     * to wall-clock-ns minus monotonic-ns so that timestamps grow across restarts. 0 in tests. */
    uint64_t timestamp_offset_ns;
    /* Resumption (docs/sessions.md §3.6): a reconnect or rekey within this time of the last
     * completed handshake with a peer uses the secret it left instead of two signatures.
     * 0: 1 hour. */
    zhtp_time resumption_lifetime_ns;
    bool disable_resumption; /* true: every handshake is the signed one */
} zhtp_session_config;

typedef struct zhtp_sessions zhtp_sessions; /* opaque: the pool of one node */

/* Creates the session pool of the node whose identity is |id| (borrowed: it must outlive the
 * handle). |cfg| is copied. Returns ZHTP_OK, ZHTP_ERR_INVAL (NULL argument or no rng) or
 * ZHTP_ERR_NOMEM (nothing remains allocated). */
int zhtp_session_new(zhtp_sessions **out, const zhtp_session_config *cfg, const zhtp_identity *id,
                     zhtp_time now);
/* Wipes every key and frees. NULL is a no-op. */
void zhtp_session_free(zhtp_sessions *s);

/* ---- Connections ---------------------------------------------------------------------------- */

typedef enum zhtp_conn_state {
    ZHTP_CONN_DISCONNECTED = 0, /* no session, nothing under way */
    ZHTP_CONN_DISCOVERING,      /* wanted, but no address yet (ZHTP_SESSION_EV_NEED_ADDRESS) */
    ZHTP_CONN_CONNECTING,       /* HANDSHAKE_INIT sent (or received), waiting for the reply */
    ZHTP_CONN_CONNECTED,        /* key exchange done, the peer not yet authenticated */
    ZHTP_CONN_AUTHENTICATED,    /* peer's hybrid signature and node id checked; keys usable */
    ZHTP_CONN_ACTIVE,           /* a transport packet from the peer opened under the keys */
    ZHTP_CONN_ERROR,            /* a handshake step failed; a retry is scheduled */
    ZHTP_CONN_TIMEOUT,          /* no reply in time; a retry is scheduled */
    ZHTP_CONN_FAILED,           /* attempts exhausted; zhtp_session_connect starts over */
    ZHTP_CONN_LOST,             /* was Active, then expired or went silent */
} zhtp_conn_state;

/* "disconnected", "discovering", ...; never NULL. */
const char *zhtp_conn_state_name(zhtp_conn_state st);

/* Wants a session with |peer|. Pooled: when a usable session exists (Authenticated or Active)
 * or a handshake is under way, nothing new starts and ZHTP_OK is returned (counted in
 * stats.pool_reuses). |addr| NULL: the address is unknown, the connection goes Discovering and
 * emits ZHTP_SESSION_EV_NEED_ADDRESS; answer with zhtp_session_set_address. Otherwise the
 * HANDSHAKE_INIT is queued at once. Returns ZHTP_OK, ZHTP_ERR_INVAL (peer is self),
 * ZHTP_ERR_SESSION_LIMIT (max_connections reached; nothing changed) or ZHTP_ERR_NOMEM. */
int zhtp_session_connect(zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN], zhtp_link_id link,
                         const zhtp_addr *addr, zhtp_time now);

/* Sets (or changes) the address of |peer|; a Discovering connection starts its handshake.
 * Returns ZHTP_OK, ZHTP_ERR_NOTFOUND (no connection with this peer) or ZHTP_ERR_NOMEM. */
int zhtp_session_set_address(zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN],
                             zhtp_link_id link, const zhtp_addr *addr, zhtp_time now);

/* Tells the pool a peer's public identity (from discovery, the DHT or a previous session), so
 * handshakes with it need not carry identities (docs/sessions.md "cached identities").
 * |pub| is copied. Returns ZHTP_OK or ZHTP_ERR_NOMEM. */
int zhtp_session_add_peer_identity(zhtp_sessions *s, const zhtp_identity_public *pub);

/* Drops the connection with |peer|: keys and resumption secret wiped, state Disconnected, no
 * retry; the next connect runs the signed handshake (right for a peer that may have restarted).
 * A connection that went Lost keeps its resumption secret instead. ZHTP_OK or
 * ZHTP_ERR_NOTFOUND. */
int zhtp_session_disconnect(zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN], zhtp_time now);

/* Connection limit, changeable at run time. Enforced when a handshake with a new peer starts
 * (connect, or an incoming INIT): existing connections are never cut by lowering it. */
void zhtp_session_set_max_connections(zhtp_sessions *s, uint32_t max);
/* Connections not Disconnected / Failed (what the limit counts). */
size_t zhtp_session_count(const zhtp_sessions *s);

/* The state of the connection with |peer|; ZHTP_CONN_DISCONNECTED when there is none. */
zhtp_conn_state zhtp_session_state(const zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN]);

typedef struct zhtp_conn_info {
    zhtp_conn_state state;
    bool has_address;
    zhtp_link_id link;
    zhtp_addr addr;
    uint32_t attempts;    /* handshake attempts in the current series */
    zhtp_time next_retry; /* ZHTP_TIME_NEVER when none is scheduled */
    bool is_initiator;    /* of the current session */
    uint64_t tx_packets;  /* sealed under the current key */
    uint64_t rx_packets;  /* opened, all keys of this connection */
    uint64_t handshakes;  /* completed, both roles */
    int last_error;       /* the error behind the last Error/Failed edge, or 0 */
    /* Our receive indices for this peer (what it puts in receiver_index): current key set,
     * the responder's next one (rekey not yet used by the peer) and the previous one (grace
     * period); 0 when that set is not live. Not secret; the node maps per-link 1-byte aliases
     * of compressed headers back to them (docs/protocol.md section 8). */
    uint32_t local_index_cur, local_index_next, local_index_prev;
} zhtp_conn_info;
/* ZHTP_OK or ZHTP_ERR_NOTFOUND. */
int zhtp_session_conn_info(const zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN],
                           zhtp_conn_info *info);

/* ---- Packets -------------------------------------------------------------------------------- */

/* Handles a received HANDSHAKE_INIT, HANDSHAKE_RESPONSE or COOKIE_REPLY: the whole full packet
 * (128-byte header first; the node decompresses / reassembles before). |pkt| is borrowed and
 * untrusted; |from| is where it came from (the cookie binds it). Replies are queued for
 * zhtp_session_next_datagram. Returns ZHTP_OK or why the packet was dropped (the pool is
 * unchanged by a dropped packet): a wire/ decode error, ZHTP_ERR_SESSION_MAC (mac1 wrong or
 * not for us), ZHTP_ERR_SESSION_COOKIE (under load and no valid mac2: a COOKIE_REPLY was queued,
 * no public-key operation done), ZHTP_ERR_SESSION_STALE (timestamp not newer), ZHTP_ERR_SESSION_
 * UNKNOWN_PEER (no identity attached and none cached), ZHTP_ERR_SESSION_UNKNOWN_INDEX,
 * ZHTP_ERR_SESSION_STATE, ZHTP_ERR_SESSION_LIMIT, ZHTP_ERR_CRYPTO_VERIFY, ZHTP_ERR_CRYPTO_BADKEY,
 * ZHTP_ERR_CRYPTO_ID_MISMATCH (the responder's keys do not hash to the id we dialled: the
 * connection goes Error with that reason), ZHTP_ERR_CRYPTO_DECRYPT (bad confirmation tag or
 * cookie), ZHTP_ERR_NOMEM. */
int zhtp_session_recv_handshake(zhtp_sessions *s, zhtp_link_id link, const zhtp_addr *from,
                                const uint8_t *pkt, size_t len, zhtp_time now);

/* Seals one packet to |peer| under the current session: copies |hdr| (version, operation,
 * flags other than SEALED and CLEAR_TAIL, hops, sender, target, message id, timestamp) and sets
 * payload_len, receiver_index and counter; writes header || ciphertext || tag to |out|.
 * Returns 128 + pt_len + 16, ZHTP_ERR_NOBUF (nothing written, no counter used),
 * ZHTP_ERR_SESSION_NO_SESSION (not Authenticated/Active: connect first),
 * ZHTP_ERR_SESSION_EXPIRED (key too old or counter at reject_after_packets: a rekey is started
 * and the packet must be retried once the state is back to Authenticated/Active),
 * ZHTP_ERR_INVAL (pt_len > ZHTP_WIRE_MAX_PAYLOAD) or a header_check error. Starts a rekey
 * handshake (without failing) once rekey_after_packets / rekey_after_ns is reached. */
ZHTP_NODISCARD zhtp_ssize zhtp_session_seal_packet(zhtp_sessions *s,
                                                   const uint8_t peer[ZHTP_NODE_ID_LEN],
                                                   const zhtp_wire_header *hdr, const uint8_t *pt,
                                                   size_t pt_len, uint8_t *out, size_t cap,
                                                   zhtp_time now);

/* As zhtp_session_seal_packet, but the last |clear_len| bytes of |pt| travel in clear with
 * FLAG_CLEAR_TAIL (docs/sessions.md §5.1): only pt[0 .. pt_len - clear_len) is encrypted, and
 * the associated data is the header followed by the tail's last 16 bytes. For a tail that is
 * already protected end to end (an inner packet minus its header): the caller vouches for
 * that. clear_len 0 is zhtp_session_seal_packet. |pt| may be out + 128 (in place) or must not
 * overlap |out|. ZHTP_ERR_INVAL also for clear_len > pt_len or 0 < clear_len < 16. */
ZHTP_NODISCARD zhtp_ssize zhtp_session_seal_packet_tail(
    zhtp_sessions *s, const uint8_t peer[ZHTP_NODE_ID_LEN], const zhtp_wire_header *hdr,
    const uint8_t *pt, size_t pt_len, size_t clear_len, uint8_t *out, size_t cap, zhtp_time now);

/* Opens one SEALED full packet. |pkt| is borrowed and untrusted; |link|/|from| (from may be
 * NULL) become the peer's address when the packet is authentic (roaming). Writes the decoded
 * header to |*hdr|, the plaintext to |out| and the peer's node id to |peer|. Returns the
 * plaintext length: 0 is a session keepalive (nothing to deliver). With FLAG_CLEAR_TAIL
 * (hdr->clear_len) the tail is copied to the end of |out| as it came, once the tag (which
 * covers only its last 16 bytes) has verified: the rest of the tail is the end-to-end
 * layer's to authenticate. Errors (|out| zeroed,
 * nothing changed): wire decode errors, ZHTP_ERR_SESSION_UNKNOWN_INDEX, ZHTP_ERR_SESSION_REPLAY
 * (counter seen, or left of the window), ZHTP_ERR_SESSION_AUTH (tag mismatch: tampered, wrong
 * key, truncated), ZHTP_ERR_SESSION_EXPIRED (key past reject_after), ZHTP_ERR_NOBUF. */
ZHTP_NODISCARD zhtp_ssize zhtp_session_open_packet(zhtp_sessions *s, zhtp_link_id link,
                                                   const zhtp_addr *from, const uint8_t *pkt,
                                                   size_t len, zhtp_wire_header *hdr, uint8_t *out,
                                                   size_t cap, uint8_t peer[ZHTP_NODE_ID_LEN],
                                                   zhtp_time now);

/* The next packet the session layer wants sent (handshake messages, cookie replies,
 * keepalives): a full packet, to be fragmented by the node if the link needs it. Returns its
 * length; ZHTP_ERR_AGAIN when none; ZHTP_ERR_NOBUF if cap is too small (nothing removed). */
zhtp_ssize zhtp_session_next_datagram(zhtp_sessions *s, zhtp_link_id *link, zhtp_addr *to,
                                      uint8_t *out, size_t cap, zhtp_time now);

/* The earliest time zhtp_session_tick has work (retries, rekeys, grace expiry, idle and
 * session expiry, cookie secret rotation); ZHTP_TIME_NEVER when idle. */
zhtp_time zhtp_session_next_deadline(const zhtp_sessions *s);
/* Runs everything due at |now|. ZHTP_OK or ZHTP_ERR_NOMEM (retried at the next tick). */
int zhtp_session_tick(zhtp_sessions *s, zhtp_time now);

/* ---- Events --------------------------------------------------------------------------------- */

typedef enum zhtp_session_event_type {
    ZHTP_SESSION_EV_STATE = 1,    /* peer's connection went old_state -> state; err = why */
    ZHTP_SESSION_EV_NEED_ADDRESS, /* peer: find its address, then zhtp_session_set_address */
    ZHTP_SESSION_EV_REKEYED,      /* peer: new keys in use (is_initiator tells the role) */
} zhtp_session_event_type;

typedef struct zhtp_session_event {
    zhtp_session_event_type type;
    uint8_t peer[ZHTP_NODE_ID_LEN];
    zhtp_conn_state old_state, state;
    int err;            /* 0, or the error behind an Error / Timeout / Failed / Lost edge */
    const char *reason; /* static text for humans, never NULL, never a secret */
    bool is_initiator;
    zhtp_time at;
} zhtp_session_event;

/* Pops the oldest event. ZHTP_OK or ZHTP_ERR_AGAIN (none). The queue is bounded (64 events); when
 * full the oldest events are dropped and counted in stats.events_dropped. */
int zhtp_session_next_event(zhtp_sessions *s, zhtp_session_event *ev);

/* ---- Statistics ----------------------------------------------------------------------------- */

typedef struct zhtp_session_stats {
    /* Public-key operations, counted where they are called: how a flood is shown to cost none. */
    uint64_t kem_keygen, kem_encaps, kem_decaps, sig_sign, sig_verify;
    uint64_t inits_rx, inits_dropped_mac, inits_dropped_cookie, inits_dropped_stale;
    uint64_t inits_dropped_limit, cookies_sent, cookies_rx;
    uint64_t responses_rx, handshakes_initiator, handshakes_responder, handshake_failures;
    uint64_t handshake_bytes_tx; /* every handshake packet queued, headers included */
    uint64_t packets_sealed, packets_opened, replays_dropped, auth_failures;
    uint64_t rekeys, retries, pool_reuses, events_dropped;
    uint64_t pool_evictions; /* idle pool entries dropped to bound memory */
} zhtp_session_stats;
void zhtp_session_get_stats(const zhtp_sessions *s, zhtp_session_stats *st);

#ifdef __cplusplus
}
#endif
#endif
