/* zhtp DHT: Kademlia over node ids, sans-I/O (core/dht).
 *
 * What this module owns: one DHT instance per node: k-buckets with replacement caches and
 * liveness pings, alpha-parallel iterative lookups over d disjoint paths (S/Kademlia), an
 * optional static crypto puzzle on node ids, content-addressed chunks (key = BLAKE3-256 of the
 * bytes) and hybrid-signed mutable records, replication to the k closest, republish and expiry,
 * and the byte format of its messages (docs/dht.md, docs/protocol.md 6.1-6.7). The node core
 * carries each message as the whole payload of QUERY / QUERY_RESPONSE / STORE / STORE_ACK /
 * RELAY_QUERY / RELAY_RESPONSE (zhtp_dht_msg_wire_op says which).
 *
 * What it must never do: touch a socket, a clock, a file, printf or a global; allocate except
 * through the injected zhtp_mem. It is fed (source node id, bytes, now) by zhtp_dht_recv and
 * drained of (destination node id, bytes) by zhtp_dht_next_message. The source id given to
 * zhtp_dht_recv must be authenticated by the caller (the session layer does it).
 *
 * Values are kept by a storage backend the caller provides (zhtp_dht_store_ops): an in-memory
 * one in tests, the LMDB store later. The DHT verifies every chunk it reads back from it.
 *
 * Time: |now| is the driver's monotonic nanoseconds. Record expiry is absolute and must mean
 * the same on every node, so it is in "network time" = now + cfg.net_time_offset (drivers set
 * the offset from the wall clock; the simulator leaves it 0).
 *
 * Thread-safety: none; one handle per thread at a time. Different handles are independent. */
#ifndef ZHTP_DHT_H
#define ZHTP_DHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/err.h"
#include "zhtp/hybrid.h"
#include "zhtp/mem.h"
#include "zhtp/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZHTP_DHT_ID_LEN           32
#define ZHTP_DHT_K_DEFAULT        20
#define ZHTP_DHT_K_MAX            32 /* NODES carries at most this many ids (ZHTP_WIRE_MAX_PEERS) */
#define ZHTP_DHT_ALPHA_DEF        3
#define ZHTP_DHT_PATHS_MAX        8
#define ZHTP_DHT_CHUNK_MAX        (256u * 1024u)
#define ZHTP_DHT_NAME_MAX         255
#define ZHTP_DHT_RECORD_VALUE_MAX 4096
/* Largest message body the DHT ever emits (a VALUE carrying a full chunk). */
#define ZHTP_DHT_MSG_MAX (1168u + ZHTP_DHT_CHUNK_MAX) /* a RELAY_RESULT: 1153 + chunk */

/* Value kinds (one byte on the wire). */
enum zhtp_dht_kind {
    ZHTP_DHT_KIND_CHUNK = 1,  /* immutable; key = BLAKE3-256(bytes) */
    ZHTP_DHT_KIND_RECORD = 2, /* mutable, signed; key = zhtp_dht_record_key(pk, name) */
};

/* Message types (first byte of every message). */
enum zhtp_dht_msg_type {
    ZHTP_DHT_MSG_PING = 1,
    ZHTP_DHT_MSG_PONG = 2,
    ZHTP_DHT_MSG_FIND_NODE = 3,
    ZHTP_DHT_MSG_FIND_VALUE = 4,
    ZHTP_DHT_MSG_NODES = 5,
    ZHTP_DHT_MSG_VALUE = 6,
    ZHTP_DHT_MSG_STORE = 7,
    ZHTP_DHT_MSG_STORE_ACK = 8,
    ZHTP_DHT_MSG_RELAY_GET = 9,     /* requester -> relay */
    ZHTP_DHT_MSG_RELAY_FETCH = 10,  /* relay -> candidate holders */
    ZHTP_DHT_MSG_SEALED = 11,       /* holder -> relay */
    ZHTP_DHT_MSG_RELAY_RESULT = 12, /* relay -> requester */
};

/* Storage backend. Every function returns 0 or a zhtp_err; |val| passed to put is borrowed.
 * get returns a pointer into the backend, borrowed until the next call on the backend, or
 * ZHTP_ERR_NOTFOUND. put of an existing (kind, key) replaces it (the DHT has already checked
 * sequence numbers); ZHTP_ERR_STORE_QUOTA refuses it and changes nothing. each calls fn for
 * every entry; fn may not call the backend; stop early when fn returns nonzero. */
typedef struct zhtp_dht_store_ops {
    int (*put)(void *ud, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN], const uint8_t *val,
               size_t len, uint64_t expiry);
    int (*get)(void *ud, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN], const uint8_t **val,
               size_t *len, uint64_t *expiry);
    int (*del)(void *ud, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN]);
    int (*each)(void *ud,
                int (*fn)(void *ctx, uint8_t kind, const uint8_t key[ZHTP_DHT_ID_LEN],
                          const uint8_t *val, size_t len, uint64_t expiry),
                void *ctx);
    void *user_data;
} zhtp_dht_store_ops;

/* Optional: per-contact locators in NODES answers (docs/dht.md "Locators"). A locator is an
 * opaque blob of 1..255 bytes the embedding layer attaches to a node id (the node core: the
 * contact's tree coordinates, so that a lookup's next hop can be routed to). get writes the
 * locator it knows for |id| into |out| (cap 255) and returns its length, or 0 when it knows
 * none; put is told the locator a NODES answer gave for a candidate |id| (untrusted: a hint,
 * borrowed for the call). Neither may call the DHT. NULL functions: NODES carry ids only, as
 * before, and received locators are skipped. */
typedef struct zhtp_dht_locator_ops {
    size_t (*get)(void *ud, const uint8_t id[ZHTP_DHT_ID_LEN], uint8_t *out, size_t cap);
    void (*put)(void *ud, const uint8_t id[ZHTP_DHT_ID_LEN], const uint8_t *loc, size_t len);
    void *user_data;
} zhtp_dht_locator_ops;
#define ZHTP_DHT_LOCATOR_MAX 255

typedef struct zhtp_dht_config {
    const zhtp_mem *mem; /* NULL: default allocator */
    zhtp_rng_fn rng;     /* required */
    void *rng_user_data;
    zhtp_dht_store_ops store;     /* required (all four functions) */
    uint32_t k;                   /* bucket size and replication; 0: 20; at most ZHTP_DHT_K_MAX */
    uint32_t alpha;               /* parallel RPCs per path; 0: 3 */
    uint32_t paths;               /* d disjoint paths; 0: 1; at most ZHTP_DHT_PATHS_MAX */
    uint32_t puzzle_bits;         /* leading zero bits of BLAKE3(node id) required; 0: none */
    zhtp_time rpc_timeout;        /* 0: 1 s */
    zhtp_time ping_timeout;       /* 0: 1 s */
    zhtp_time republish_interval; /* 0: 1 h */
    zhtp_time refresh_interval;   /* ping a contact silent this long; 0: 15 min */
    zhtp_time chunk_ttl;          /* lifetime of a stored chunk without republish; 0: 24 h */
    uint64_t net_time_offset;     /* network time = now + this (record expiry) */
    uint32_t max_lookups;         /* concurrent operations; 0: 64 */
    uint64_t content_max;         /* largest content zhtp_dht_get_content assembles; 0: 64 MiB */
    zhtp_time relay_timeout;      /* requester: wait for a RELAY_RESULT this long; 0: 5 s */
    uint32_t max_relays;          /* relay: lookups run for others at once; 0: 16 */
    zhtp_dht_locator_ops locator; /* optional (both NULL: no locators) */
    /* Optional: a STORE received from peer |peer| is stored through this instead of
     * store.put, so the backend can charge it to that peer's quota (the LMDB adapter does).
     * Same contract as put; ZHTP_ERR_STORE_QUOTA becomes the STORE_ACK status. */
    int (*store_put_from)(void *ud, const uint8_t peer[ZHTP_DHT_ID_LEN], uint8_t kind,
                          const uint8_t key[ZHTP_DHT_ID_LEN], const uint8_t *val, size_t len,
                          uint64_t expiry);
} zhtp_dht_config;

typedef struct zhtp_dht zhtp_dht;

enum zhtp_dht_event_type {
    ZHTP_DHT_EV_PUT_DONE = 1,
    ZHTP_DHT_EV_GET_DONE = 2,
    ZHTP_DHT_EV_PUBLISH_DONE = 3,
    ZHTP_DHT_EV_RESOLVE_DONE = 4,
    ZHTP_DHT_EV_BOOTSTRAP_DONE = 5,
    ZHTP_DHT_EV_CONTENT_PUT_DONE = 6,
    ZHTP_DHT_EV_CONTENT_GET_DONE = 7,
    ZHTP_DHT_EV_RELAY_GET_DONE = 8,
};

/* Completion of one operation. status: ZHTP_OK, ZHTP_ERR_DHT_NOT_FOUND, ZHTP_ERR_DHT_TIMEOUT
 * (no node answered), ZHTP_ERR_DHT_VERIFY (only forged answers), ZHTP_ERR_STORE_QUOTA (every
 * holder refused), ZHTP_ERR_NOMEM. value/len: the verified chunk, or the record's value (for
 * RESOLVE), borrowed until the next call of zhtp_dht_next_event or zhtp_dht_free. */
typedef struct zhtp_dht_event {
    int type;
    uint64_t op;
    int status;
    const uint8_t *value;
    size_t len;
    uint64_t seq;      /* RESOLVE: the record's sequence number */
    uint64_t expiry;   /* RESOLVE: the record's expiry (network time, ns) */
    uint32_t stored;   /* PUT/PUBLISH: holders that acknowledged */
    uint32_t hops;     /* lookup depth of the answer (1 = a node of our own table) */
    uint32_t rpcs;     /* requests sent by this operation */
    zhtp_time latency; /* completion time minus start time */
} zhtp_dht_event;

/* Counters for tests and monitoring. */
typedef struct zhtp_dht_stats {
    uint64_t msgs_in, msgs_out;
    uint64_t bad_msgs;          /* failed to decode */
    uint64_t unexpected;        /* response with no matching request from that node */
    uint64_t forged_chunks;     /* chunk bytes not hashing to the key (received or stored) */
    uint64_t bad_records;       /* record signature, key or format invalid */
    uint64_t stale_records;     /* sequence number not newer than the one held */
    uint64_t expired_records;   /* record already expired */
    uint64_t puzzle_rejects;    /* node ids failing the crypto puzzle */
    uint64_t timeouts;          /* requests unanswered */
    uint64_t evictions;         /* bucket entries removed after a failed ping */
    uint64_t republished;       /* republish lookups started (one per key held) */
    uint64_t republish_skipped; /* keys not republished: another holder just stored them here */
    uint64_t relays_started;    /* relay: RELAY_GETs accepted (a lookup run for another node) */
    uint64_t relays_refused;    /* relay: RELAY_GETs refused (max_relays running, bad key) */
    uint64_t sealed_served;     /* holder: values sealed to an ephemeral key (RELAY_FETCH) */
    uint64_t sealed_rejected;   /* requester: RELAY_RESULTs that failed to open or verify */
} zhtp_dht_stats;

/* Creates an instance for node |self| (copied). Returns ZHTP_OK, ZHTP_ERR_INVAL (missing rng
 * or store function, k/paths out of range, or |self| fails the configured puzzle),
 * ZHTP_ERR_NOMEM. */
int zhtp_dht_new(zhtp_dht **out, const zhtp_dht_config *cfg, const uint8_t self[ZHTP_DHT_ID_LEN],
                 zhtp_time now);
void zhtp_dht_free(zhtp_dht *dht); /* NULL is a no-op */

/* Adds a known contact (bootstrap list, or a neighbour the node core learned). Returns
 * ZHTP_OK, ZHTP_ERR_DHT_PUZZLE, ZHTP_ERR_INVAL (own id) or ZHTP_ERR_NOMEM. */
int zhtp_dht_add_contact(zhtp_dht *dht, const uint8_t id[ZHTP_DHT_ID_LEN], zhtp_time now);

/* The node core tells the DHT a peer is gone (session lost): removed from its bucket, the
 * replacement cache fills the slot. */
void zhtp_dht_peer_lost(zhtp_dht *dht, const uint8_t id[ZHTP_DHT_ID_LEN]);

/* Feeds one received message from the authenticated node |from|. Returns ZHTP_OK (also for a
 * message dropped as invalid: that is counted in the stats, not an error of the caller),
 * ZHTP_ERR_NOMEM (state as before) or ZHTP_ERR_INVAL (NULL args). */
int zhtp_dht_recv(zhtp_dht *dht, const uint8_t from[ZHTP_DHT_ID_LEN], const uint8_t *buf,
                  size_t len, zhtp_time now);

/* Like zhtp_dht_recv, for a message whose source id the caller could NOT authenticate (the
 * node core: a DHT message from a non-neighbour, protected only hop by hop). It is answered,
 * but |from| enters the routing table only if the message answers a request we sent to
 * |from| (matching random txid); a request never adds its claimed sender. */
int zhtp_dht_recv_unverified(zhtp_dht *dht, const uint8_t from[ZHTP_DHT_ID_LEN], const uint8_t *buf,
                             size_t len, zhtp_time now);

/* Starts a FIND_NODE lookup toward |id| that reports no event (the node core uses it to learn
 * a destination's locator through the locator hook, and with its own id to join and refresh
 * like zhtp_dht_bootstrap). ZHTP_OK, ZHTP_ERR_INVAL or NOMEM. */
int zhtp_dht_locate(zhtp_dht *dht, const uint8_t id[ZHTP_DHT_ID_LEN], zhtp_time now);

/* Dequeues the next message to send: writes the destination to |to| and the body to |out|.
 * Returns its length, ZHTP_ERR_AGAIN (none), ZHTP_ERR_NOBUF (cap too small; nothing dequeued;
 * ZHTP_DHT_MSG_MAX always suffices). */
zhtp_ssize zhtp_dht_next_message(zhtp_dht *dht, uint8_t to[ZHTP_DHT_ID_LEN], uint8_t *out,
                                 size_t cap);

/* The earliest time zhtp_dht_tick must run, or ZHTP_TIME_NEVER. O(1) unless the earliest
 * deadline itself was removed or passed since the last call (not const: the answer is cached
 * and recomputed on demand). */
zhtp_time zhtp_dht_next_deadline(zhtp_dht *dht);
/* Expires requests and pings, republishes and expires stored values. ZHTP_OK or NOMEM. */
int zhtp_dht_tick(zhtp_dht *dht, zhtp_time now);

/* Next completion event, or ZHTP_ERR_AGAIN. Frees the previous event's value. */
int zhtp_dht_next_event(zhtp_dht *dht, zhtp_dht_event *ev);

/* Operations. Each writes an operation number to |op| (may be NULL) and completes with one
 * event. Return ZHTP_OK, ZHTP_ERR_INVAL (bad arguments, e.g. a chunk over
 * ZHTP_DHT_CHUNK_MAX, a record that does not verify), ZHTP_ERR_SESSION_LIMIT (max_lookups
 * operations running) or ZHTP_ERR_NOMEM. Inputs are copied. */
int zhtp_dht_bootstrap(zhtp_dht *dht, zhtp_time now, uint64_t *op);
/* Stores a chunk locally (if this node is among the closest) and at the k closest nodes. The
 * key is BLAKE3-256(bytes), written to |key| (may be NULL). */
int zhtp_dht_put(zhtp_dht *dht, const uint8_t *bytes, size_t len, uint8_t key[ZHTP_DHT_ID_LEN],
                 zhtp_time now, uint64_t *op);
int zhtp_dht_get(zhtp_dht *dht, const uint8_t key[ZHTP_DHT_ID_LEN], zhtp_time now, uint64_t *op);
/* Publishes an encoded record (zhtp_dht_record_encode). */
int zhtp_dht_publish(zhtp_dht *dht, const uint8_t *rec, size_t len, zhtp_time now, uint64_t *op);
/* Finds the record with the highest valid sequence number under |key|. */
int zhtp_dht_resolve(zhtp_dht *dht, const uint8_t key[ZHTP_DHT_ID_LEN], zhtp_time now,
                     uint64_t *op);

/* Large content (docs/dht.md "Content"): split into chunks of chunk_size bytes (0: 64 KiB; at
 * most ZHTP_DHT_CHUNK_MAX) plus one manifest chunk listing their keys:
 *   "ZDM1" | total_len u64 | chunk_size u32 | n u32 | n * key(32)        (little endian)
 * The manifest's own key (BLAKE3 of it) is the content's name, written to |root|: it commits to
 * every chunk key, so the chunks and the manifest form a two-level BLAKE3 Merkle tree. Up to
 * ZHTP_DHT_CONTENT_PARALLEL chunk operations run at once, each a lookup towards that chunk's own
 * holders; the manifest is put last. Completes with EV_CONTENT_PUT_DONE (status of the first
 * failing chunk, if any). ZHTP_ERR_INVAL when the manifest would exceed ZHTP_DHT_CHUNK_MAX. */
#define ZHTP_DHT_CONTENT_PARALLEL  8
#define ZHTP_DHT_CONTENT_CHUNK_DEF (64u * 1024u)
int zhtp_dht_put_content(zhtp_dht *dht, const uint8_t *bytes, size_t len, uint32_t chunk_size,
                         uint8_t root[ZHTP_DHT_ID_LEN], zhtp_time now, uint64_t *op);
/* Fetches the manifest under |root|, then every chunk (each verified against its key as any
 * get), and completes with EV_CONTENT_GET_DONE carrying the whole content. A manifest that
 * does not parse, or whose total exceeds cfg.content_max, gives ZHTP_ERR_DHT_VERIFY. */
int zhtp_dht_get_content(zhtp_dht *dht, const uint8_t root[ZHTP_DHT_ID_LEN], zhtp_time now,
                         uint64_t *op);

/* Relayed fetch (docs/dht.md "Relayed fetch"): asks the node |relay| to look |key| up on our
 * behalf. We send it the key and a fresh ephemeral hybrid KEM public key (X25519 + ML-KEM-768,
 * generated from cfg.rng); the relay runs the lookup with RELAY_FETCH messages that carry only
 * the key and that public key; the first holder seals the value to it (hybrid KEM, BLAKE3
 * derive_key, ChaCha20-Poly1305) and the relay forwards the sealed blob. We open it and verify
 * it like any get (chunk hash, record signature and expiry) before the event reports it.
 * Completes with EV_RELAY_GET_DONE: value (for a record: the record's value, seq, expiry like
 * RESOLVE) or status ZHTP_ERR_DHT_NOT_FOUND / ZHTP_ERR_DHT_TIMEOUT (no holder answered the
 * relay, or the relay did not answer within cfg.relay_timeout) / ZHTP_ERR_DHT_VERIFY (the blob
 * did not open or verify) / ZHTP_ERR_SESSION_LIMIT (the relay is busy). Returns ZHTP_OK,
 * ZHTP_ERR_INVAL (NULL, kind unknown, relay = self), ZHTP_ERR_SESSION_LIMIT, ZHTP_ERR_NOMEM or
 * the KEM's error. The ephemeral secret key is wiped when the operation ends. */
int zhtp_dht_relay_get(zhtp_dht *dht, const uint8_t relay[ZHTP_DHT_ID_LEN], uint8_t kind,
                       const uint8_t key[ZHTP_DHT_ID_LEN], zhtp_time now, uint64_t *op);

const zhtp_dht_stats *zhtp_dht_get_stats(const zhtp_dht *dht);
/* Number of contacts in the buckets (not the replacement caches). */
size_t zhtp_dht_table_size(const zhtp_dht *dht);
/* Writes up to |max| ids of the buckets closest to |target| (XOR), closest first; returns n. */
size_t zhtp_dht_closest(const zhtp_dht *dht, const uint8_t target[ZHTP_DHT_ID_LEN],
                        uint8_t (*out)[ZHTP_DHT_ID_LEN], size_t max);

/* ---- Pure helpers -------------------------------------------------------------------------- */

/* True when BLAKE3(id) has at least |bits| leading zero bits (constant work). */
bool zhtp_dht_puzzle_ok(const uint8_t id[ZHTP_DHT_ID_LEN], uint32_t bits);

/* Record key = BLAKE3 derive_key("zhtp 2026-11 dht record key v1", sig_pk || name_len || name). */
void zhtp_dht_record_key(uint8_t key[ZHTP_DHT_ID_LEN],
                         const uint8_t pk[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES], const uint8_t *name,
                         size_t name_len);

/* Encoded size of a record with these lengths. */
#define ZHTP_DHT_RECORD_LEN(name_len, value_len)                                                   \
    (ZHTP_SIGN_HYBRID_PUBLICKEYBYTES + 1u + (size_t)(name_len) + 8u + 8u + 2u +                    \
     (size_t)(value_len) + ZHTP_SIGN_HYBRID_BYTES)

/* Signs and encodes a record (docs/dht.md). |rnd| is the ML-DSA randomness (fresh and secret
 * in production; seeded in tests). Returns the length, ZHTP_ERR_INVAL (name or value too
 * long), ZHTP_ERR_NOBUF or ZHTP_ERR_NOMEM. */
zhtp_ssize zhtp_dht_record_encode(uint8_t *out, size_t cap,
                                  const uint8_t sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES],
                                  const uint8_t *name, size_t name_len, uint64_t seq,
                                  uint64_t expiry, const uint8_t *value, size_t value_len,
                                  const uint8_t rnd[ZHTP_MLDSA44_RNDBYTES]);

/* A parsed record: pointers into the encoded bytes. */
typedef struct zhtp_dht_record {
    uint8_t key[ZHTP_DHT_ID_LEN];
    const uint8_t *pk, *name, *value, *sig;
    size_t name_len, value_len;
    uint64_t seq, expiry;
} zhtp_dht_record;

/* Parses an untrusted record and verifies its signature. Returns ZHTP_OK,
 * ZHTP_ERR_WIRE_TRUNCATED / ZHTP_ERR_WIRE_LENGTH (format) or ZHTP_ERR_DHT_VERIFY. */
ZHTP_NODISCARD int zhtp_dht_record_parse(zhtp_dht_record *r, const uint8_t *buf, size_t len);

/* The wire operation (include/zhtp/wire.h) that carries a DHT message of this type. */
int zhtp_dht_msg_wire_op(uint8_t msg_type);

#ifdef __cplusplus
}
#endif
#endif
