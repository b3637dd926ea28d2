/* core/dht internals shared by dht.c, dht_table.c, dht_codec.c, the unit tests and the fuzz
 * target: the message struct and codec, and the k-bucket table. Not a public API. */
#ifndef ZHTP_DHT_INTERNAL_H
#define ZHTP_DHT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "zhtp/dht.h"

/* ---- Messages (docs/dht.md §Messages) ---------------------------------------------------- */

#define DHT_HDR_LEN 10 /* type(1) flags(1) txid(8) */
/* NODES flag: a locator (loc_len u8 | loc) per id follows the ids (zhtp_dht_locator_ops). */
#define DHT_FLAG_LOCATORS 0x01

/* One decoded message. Pointers (ids, val) point into the decoded buffer. */
typedef struct dht_msg {
    uint8_t type;
    uint8_t flags; /* NODES: DHT_FLAG_LOCATORS; 0 for every other type */
    uint64_t txid;
    uint8_t target[ZHTP_DHT_ID_LEN]; /* FIND_NODE target, FIND_VALUE key */
    uint8_t kind;                    /* FIND_VALUE, VALUE, STORE */
    const uint8_t *ids;              /* NODES: n_ids * 32 bytes */
    size_t n_ids;
    const uint8_t *locs; /* NODES with DHT_FLAG_LOCATORS: n_ids x (loc_len u8 | loc) */
    size_t locs_len;
    const uint8_t *val; /* VALUE, STORE */
    size_t val_len;
    uint64_t expiry;   /* STORE */
    int16_t status;    /* STORE_ACK, RELAY_RESULT: 0 or a negative zhtp_err */
    const uint8_t *pk; /* RELAY_GET, RELAY_FETCH: ephemeral hybrid KEM public key */
    const uint8_t *ct; /* SEALED, RELAY_RESULT: hybrid KEM ciphertext; val = the AEAD box
                        * (val_len + 16 bytes), val_len = the plaintext length */
} dht_msg;

/* kind(1) | ct | len u32 before the box of a SEALED / RELAY_RESULT */
#define DHT_SEALED_HDR (1u + ZHTP_KEM_HYBRID_CIPHERTEXTBYTES + 4u)

/* Encoded length of m (0 if m is invalid). */
size_t dht_msg_len(const dht_msg *m);
/* Encodes m. Returns the length, ZHTP_ERR_NOBUF or ZHTP_ERR_INVAL. */
zhtp_ssize dht_msg_encode(const dht_msg *m, uint8_t *out, size_t cap);
/* Decodes an untrusted message. Returns ZHTP_OK, ZHTP_ERR_WIRE_TRUNCATED (shorter than its
 * fields), ZHTP_ERR_WIRE_LENGTH (trailing bytes or a length over its limit),
 * ZHTP_ERR_WIRE_RESERVED (flags), ZHTP_ERR_WIRE_FIELD (type, kind, count or status out of
 * range). */
ZHTP_NODISCARD int dht_msg_decode(dht_msg *m, const uint8_t *buf, size_t len);

/* ---- k-buckets ---------------------------------------------------------------------------- */

typedef struct dht_contact {
    uint8_t id[ZHTP_DHT_ID_LEN];
    zhtp_time last_seen;
    uint32_t fails; /* consecutive unanswered requests */
} dht_contact;

typedef struct dht_bucket {
    dht_contact *live; /* [k], least recently seen first */
    dht_contact *repl; /* [k], replacement cache, most recent last */
    uint16_t n_live, n_repl;
    bool ping_pending;
    uint64_t ping_txid;
    zhtp_time ping_deadline;
} dht_bucket;

typedef struct dht_table {
    const zhtp_mem *mem;
    uint8_t self[ZHTP_DHT_ID_LEN];
    uint32_t k;
    size_t size;
    dht_bucket b[257]; /* index = common prefix length with self; 256 is never used */
} dht_table;

enum { DHT_SEEN_UPDATED = 0, DHT_SEEN_ADDED = 1, DHT_SEEN_CACHED = 2, DHT_SEEN_SELF = 3 };
/* Removed on this many consecutive failures when a replacement waits, or DHT_FAIL_HARD always. */
#define DHT_FAIL_SOFT 2
#define DHT_FAIL_HARD 5

void dht_table_init(dht_table *t, const zhtp_mem *mem, const uint8_t self[ZHTP_DHT_ID_LEN],
                    uint32_t k);
void dht_table_clear(dht_table *t);
unsigned dht_bucket_index(const uint8_t self[ZHTP_DHT_ID_LEN], const uint8_t id[ZHTP_DHT_ID_LEN]);
/* Contact heard from: refreshed, added, or put in the replacement cache (full bucket). Returns
 * a DHT_SEEN_* or ZHTP_ERR_NOMEM. */
int dht_table_seen(dht_table *t, const uint8_t id[ZHTP_DHT_ID_LEN], zhtp_time now);
/* Removes id from bucket and cache; the newest replacement takes a freed bucket slot. */
void dht_table_remove(dht_table *t, const uint8_t id[ZHTP_DHT_ID_LEN]);
/* A request to id went unanswered. Returns true if the contact was removed. */
bool dht_table_fail(dht_table *t, const uint8_t id[ZHTP_DHT_ID_LEN]);
bool dht_table_contains(const dht_table *t, const uint8_t id[ZHTP_DHT_ID_LEN]);
size_t dht_table_closest(const dht_table *t, const uint8_t target[ZHTP_DHT_ID_LEN],
                         uint8_t (*out)[ZHTP_DHT_ID_LEN], size_t max,
                         const uint8_t *exclude /* may be NULL */);

/* ---- engine (dht.c) ------------------------------------------------------------------------ */

/* zhtp_dht_next_deadline by a full scan of next_republish, the buckets and the requests in
 * flight, ignoring the cache: the reference the unit test checks the cached answer against. */
zhtp_time dht_next_deadline_scan(const zhtp_dht *d);

/* -1, 0, 1 as a XOR target is closer to a than to b. */
int dht_cmp_dist(const uint8_t target[ZHTP_DHT_ID_LEN], const uint8_t a[ZHTP_DHT_ID_LEN],
                 const uint8_t b[ZHTP_DHT_ID_LEN]);

#endif
