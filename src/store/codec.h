/* store/ entry codecs: the byte formats of the values kept in LMDB (docs/store.md). Pure
 * functions, no I/O; decoders treat their input as untrusted (a damaged or hostile file). */
#ifndef ZHTP_STORE_CODEC_H
#define ZHTP_STORE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/store.h"

#define STORE_ENTRY_VERSION 1
#define STORE_FLAG_OWNER    0x01 /* the entry is charged to a remote peer id */

/* Every record entry and chunk metadata value carries check = BLAKE3-256(key || the entry
 * with the check field left out)[0..16): it catches damaged bytes and an entry that ended up
 * under another key. It is not a MAC: whoever can write the file can recompute it (and
 * record signatures are the caller's to verify). */
#define STORE_CHECK_LEN 16

/* records db value: version u8 | flags u8 | owner[32] | sequence u64 | expiry u64 |
 * sig_len u16 | value_len u32 | check[16] | sig | value (integers big-endian). */
#define STORE_RECORD_HDR       72
#define STORE_RECORD_CHECK_OFF 56
#define STORE_RECORD_ENTRY_MAX (STORE_RECORD_HDR + ZHTP_STORE_SIG_MAX + ZHTP_STORE_RECORD_MAX)

/* chunk_meta db value: version u8 | flags u8 | owner[32] | size u32 | expiry u64 | check[16]. */
#define STORE_CHUNK_META_LEN       62
#define STORE_CHUNK_META_CHECK_OFF 46

/* peers db value: version u8 | last_seen u64 | addr_len u8 | addr bytes. */
#define STORE_PEER_HDR     10
#define STORE_PEER_MAX_LEN (STORE_PEER_HDR + ZHTP_ADDR_MAX)

typedef struct store_record_entry {
    bool has_owner;
    uint8_t owner[ZHTP_NODE_ID_LEN]; /* zero when !has_owner */
    zhtp_store_record rec;           /* sig and value point into the decoded buffer */
} store_record_entry;

typedef struct store_chunk_meta {
    bool has_owner;
    uint8_t owner[ZHTP_NODE_ID_LEN];
    uint32_t size;
    uint64_t expiry_unix_s;
} store_chunk_meta;

/* Encoded size of a record entry; the caller has checked the length limits. */
size_t store_record_entry_len(const zhtp_store_record *rec);
/* Writes the entry stored under key (ZHTP_STORE_KEY_LEN bytes) into out (cap >=
 * store_record_entry_len). owner may be NULL. Returns the length or ZHTP_ERR_NOBUF /
 * ZHTP_ERR_INVAL (lengths over the maxima). */
zhtp_ssize store_record_entry_encode(uint8_t *out, size_t cap, const uint8_t *key,
                                     const zhtp_store_record *rec, const uint8_t *owner);
/* Parses the entry found under key; e->rec.sig / value point into in. key NULL skips the
 * check field (the fuzz target uses that to reach the structure). Returns 0 or
 * ZHTP_ERR_STORE_CORRUPT (wrong version, unknown flag, nonzero owner without the flag,
 * lengths over the maxima or not adding up to len, check mismatch). */
ZHTP_NODISCARD int store_record_entry_decode(store_record_entry *e, const uint8_t *key,
                                             const uint8_t *in, size_t len);

/* Same conventions for chunk metadata. */
void store_chunk_meta_encode(uint8_t out[STORE_CHUNK_META_LEN], const uint8_t *key,
                             const store_chunk_meta *m);
ZHTP_NODISCARD int store_chunk_meta_decode(store_chunk_meta *m, const uint8_t *key,
                                           const uint8_t *in, size_t len);

/* Returns the length written (<= STORE_PEER_MAX_LEN) or ZHTP_ERR_INVAL (addr->len too big). */
zhtp_ssize store_peer_encode(uint8_t out[STORE_PEER_MAX_LEN], const zhtp_addr *addr,
                             uint64_t last_seen_unix_s);
ZHTP_NODISCARD int store_peer_decode(zhtp_addr *addr, uint64_t *last_seen_unix_s, const uint8_t *in,
                                     size_t len);

void store_put_u64(uint8_t *p, uint64_t v);
uint64_t store_get_u64(const uint8_t *p);

#endif
