/* store/: the node's persistent storage on LMDB. It owns content-addressed chunks, signed
 * mutable records, the DHT peer cache and the store's own bookkeeping (format version, quota
 * counters). It does file I/O, so it is NOT part of the sans-I/O core: the daemon calls it and
 * hands results to the core. It never verifies signatures (the caller does, before a put) and
 * never reads a clock (times are passed in as Unix seconds).
 *
 * Layout: one LMDB environment in DIR/store/ (data.mdb + lock.mdb), named databases "meta",
 * "chunks", "chunk_meta", "records", "usage", "peers" and "expiry". docs/store.md has the byte
 * formats.
 *
 * Durability: every mutating call returns only after its LMDB transaction committed with the
 * default (synchronous) flags, so data acknowledged by a 0 return survives a process crash or
 * power loss (as far as the file system honours fsync).
 *
 * Threads and processes: a handle is used by one thread at a time (no internal locking).
 * Open one handle per directory per process: LMDB's locks are per process, so a second
 * handle on the same directory in one process is undefined (LMDB's rule). Several processes
 * may open the same directory. */
#ifndef ZHTP_STORE_H
#define ZHTP_STORE_H

#include <stdint.h>

#include "zhtp/err.h"
#include "zhtp/mem.h"
#include "zhtp/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZHTP_STORE_KEY_LEN      32     /* chunk keys (BLAKE3-256) and record keys */
#define ZHTP_STORE_CHUNK_MAX    262144 /* 256 KiB per chunk */
#define ZHTP_STORE_RECORD_MAX   65536  /* record value bytes */
#define ZHTP_STORE_SIG_MAX      8192   /* record signature bytes (hybrid sig is 2484) */
#define ZHTP_STORE_FORMAT       1      /* on-disk format this build writes and reads */
#define ZHTP_STORE_NO_LIMIT     UINT64_MAX
#define ZHTP_STORE_EXPIRY_NEVER 0

/* Defaults for zero fields of zhtp_store_config. */
#define ZHTP_STORE_DEFAULT_MAP_SIZE      (UINT64_C(64) << 20) /* initial LMDB map: 64 MiB */
#define ZHTP_STORE_DEFAULT_MAX_MAP_SIZE  (UINT64_C(64) << 30) /* growth stops at 64 GiB */
#define ZHTP_STORE_DEFAULT_QUOTA_BYTES   (UINT64_C(1) << 30)  /* 1 GiB of chunks + records */
#define ZHTP_STORE_DEFAULT_QUOTA_RECORDS 100000
#define ZHTP_STORE_DEFAULT_QUOTA_PEER    (UINT64_C(64) << 20) /* 64 MiB per remote peer */

typedef struct zhtp_store zhtp_store; /* opaque */

/* Copied by zhtp_store_open. Zero in any field means its default; ZHTP_STORE_NO_LIMIT turns
 * a quota off. Quotas apply to new puts only: lowering one never deletes stored data. */
typedef struct zhtp_store_config {
    const zhtp_mem *mem;       /* NULL: default allocator (only the handle is allocated) */
    uint64_t map_size;         /* initial LMDB map size in bytes (rounded by LMDB to pages) */
    uint64_t max_map_size;     /* the map doubles on demand up to this; then STORE_FULL */
    uint64_t quota_bytes;      /* chunk bytes + record entry bytes, all owners together */
    uint64_t quota_records;    /* number of records */
    uint64_t quota_peer_bytes; /* bytes stored on behalf of any one remote peer id */
} zhtp_store_config;

/* Opens (creating if needed) the store in dir/store/. dir must exist: it is the node's data
 * directory; the store/ subdirectory is created with mode 0700. cfg may be NULL (defaults).
 * Returns 0 and *out, or:
 *   ZHTP_ERR_STORE_NODIR   dir (or dir/store) does not exist / is not a directory
 *   ZHTP_ERR_STORE_ACCESS  dir or dir/store is not readable and writable by this process
 *   ZHTP_ERR_STORE_VERSION the store was written by a newer format than ZHTP_STORE_FORMAT
 *   ZHTP_ERR_STORE_CORRUPT the meta database is unreadable (not a zhtp store)
 *   ZHTP_ERR_STORE_BACKEND another LMDB failure (zhtp_store_backend_error tells which)
 *   ZHTP_ERR_NOMEM, ZHTP_ERR_INVAL (NULL out or dir, or a path too long)
 * On error *out is NULL and nothing is left open. */
ZHTP_NODISCARD int zhtp_store_open(zhtp_store **out, const char *dir, const zhtp_store_config *cfg);
/* Closes the environment. NULL is a no-op. Everything acknowledged is already durable. */
void zhtp_store_close(zhtp_store *s);

/* --- chunks: key = BLAKE3-256(bytes) --------------------------------------------------- */

/* Stores len (1..ZHTP_STORE_CHUNK_MAX) bytes under key after checking that BLAKE3-256(bytes)
 * equals key. owner: the remote peer id this is stored for (charged to its per-peer quota),
 * or NULL for the node's own content (not subject to the per-peer quota). expiry_unix_s:
 * ZHTP_STORE_EXPIRY_NEVER or a Unix time after which zhtp_store_gc removes it. Putting a
 * chunk that is already stored succeeds without charging anything again; its expiry becomes
 * the later of the two (never beats any time) and the first owner stays charged.
 * Returns 0 once durable, or ZHTP_ERR_STORE_KEY_MISMATCH, ZHTP_ERR_STORE_EXPIRED (expiry not
 * after now), ZHTP_ERR_STORE_QUOTA (total bytes or the owner's share would be exceeded;
 * nothing stored), ZHTP_ERR_STORE_FULL (map at max_map_size), ZHTP_ERR_INVAL, backend errors. */
ZHTP_NODISCARD int zhtp_store_chunk_put(zhtp_store *s, const uint8_t key[ZHTP_STORE_KEY_LEN],
                                        const uint8_t *bytes, size_t len,
                                        const uint8_t owner[ZHTP_NODE_ID_LEN],
                                        uint64_t expiry_unix_s, uint64_t now_unix_s);

/* One chunk of a batch for zhtp_store_chunk_put_many. Borrowed for the call. */
typedef struct zhtp_store_chunk_in {
    const uint8_t *key; /* ZHTP_STORE_KEY_LEN bytes */
    const uint8_t *bytes;
    size_t len;
} zhtp_store_chunk_in;

/* Stores n chunks in ONE transaction: all of them or none. Same rules, owner and expiry as
 * zhtp_store_chunk_put for each, with the quotas checked against the running total of the
 * batch. One synchronous commit for the whole batch, so publishing many chunks costs one
 * durability wait instead of n. Returns 0 once all are durable, or the first error (every
 * key is checked before anything is written; then nothing is stored). */
ZHTP_NODISCARD int zhtp_store_chunk_put_many(zhtp_store *s, const zhtp_store_chunk_in *chunks,
                                             size_t n, const uint8_t owner[ZHTP_NODE_ID_LEN],
                                             uint64_t expiry_unix_s, uint64_t now_unix_s);

/* Copies the chunk into out[0..cap). The bytes are re-hashed first: if they do not hash to
 * key, the entry is removed (counted in stats.corrupt_removed), nothing is written to out and
 * ZHTP_ERR_STORE_CORRUPT is returned. Returns the length, ZHTP_ERR_NOTFOUND, ZHTP_ERR_NOBUF
 * (cap too small; nothing written), or backend errors. Expired chunks are served until gc
 * removes them (content-addressed bytes cannot be stale). */
ZHTP_NODISCARD zhtp_ssize zhtp_store_chunk_get(zhtp_store *s, const uint8_t key[ZHTP_STORE_KEY_LEN],
                                               uint8_t *out, size_t cap);
/* Length of the stored chunk (no integrity check), or ZHTP_ERR_NOTFOUND. */
zhtp_ssize zhtp_store_chunk_size(zhtp_store *s, const uint8_t key[ZHTP_STORE_KEY_LEN]);
/* Removes a chunk and releases its quota. 0, or ZHTP_ERR_NOTFOUND. */
int zhtp_store_chunk_delete(zhtp_store *s, const uint8_t key[ZHTP_STORE_KEY_LEN]);

/* --- records: mutable signed values --------------------------------------------------- */

/* A record as the caller sees it. In zhtp_store_record_get, sig and value point into the
 * caller's buffer. */
typedef struct zhtp_store_record {
    uint64_t sequence;      /* a put replaces the stored record only with a larger one */
    uint64_t expiry_unix_s; /* ZHTP_STORE_EXPIRY_NEVER or a Unix time */
    const uint8_t *sig;
    size_t sig_len; /* 0..ZHTP_STORE_SIG_MAX */
    const uint8_t *value;
    size_t value_len; /* 0..ZHTP_STORE_RECORD_MAX */
} zhtp_store_record;

/* Stores rec under key. The caller has verified rec->sig; the store keeps the bytes and
 * enforces the sequence rule and expiry. owner as for chunks. rec is borrowed for the call.
 * Returns 0 once durable, or ZHTP_ERR_STORE_STALE (rec->sequence <= the stored record's,
 * even when the stored one has expired but was not collected yet: an old record must never
 * come back), ZHTP_ERR_STORE_EXPIRED (expiry not after now), ZHTP_ERR_STORE_QUOTA (record
 * count, total bytes or the owner's share; nothing stored), ZHTP_ERR_STORE_FULL,
 * ZHTP_ERR_INVAL (lengths over the maxima, NULL pointers with nonzero length). */
ZHTP_NODISCARD int zhtp_store_record_put(zhtp_store *s, const uint8_t key[ZHTP_STORE_KEY_LEN],
                                         const zhtp_store_record *rec,
                                         const uint8_t owner[ZHTP_NODE_ID_LEN],
                                         uint64_t now_unix_s);

/* A buffer of this size always holds a record's signature and value. */
#define ZHTP_STORE_RECORD_BUF_MAX (ZHTP_STORE_SIG_MAX + ZHTP_STORE_RECORD_MAX)

/* Reads the record under key into *out, copying signature then value into buf[0..cap) and
 * pointing out->sig / out->value there. A record whose expiry is not after now is not served
 * (ZHTP_ERR_NOTFOUND). Returns 0, ZHTP_ERR_NOTFOUND, ZHTP_ERR_NOBUF (cap < sig_len +
 * value_len; *out untouched), ZHTP_ERR_STORE_CORRUPT (the stored entry does not decode; it is
 * removed and counted) or backend errors. */
ZHTP_NODISCARD int zhtp_store_record_get(zhtp_store *s, const uint8_t key[ZHTP_STORE_KEY_LEN],
                                         uint64_t now_unix_s, zhtp_store_record *out, uint8_t *buf,
                                         size_t cap);
/* Removes a record and releases its quota. 0, or ZHTP_ERR_NOTFOUND. */
int zhtp_store_record_delete(zhtp_store *s, const uint8_t key[ZHTP_STORE_KEY_LEN]);

/* --- garbage collection ------------------------------------------------------------- */

/* Removes every chunk and record whose expiry is not after now_unix_s, in one transaction,
 * releasing their quota. *removed (may be NULL) gets the number of entries removed.
 * Cost: proportional to the number of expired entries (it reads a time-sorted index). It does
 * not look for damaged entries; zhtp_store_verify does. */
int zhtp_store_gc(zhtp_store *s, uint64_t now_unix_s, uint64_t *removed);

/* Full integrity scrub: re-hashes every chunk, checks every record and metadata entry,
 * removes what fails (counted in stats.corrupt_removed), then rebuilds the counters and the
 * per-peer usage from the surviving entries. *removed (may be NULL) gets the number removed.
 * One write transaction over the whole store: other writers wait until it ends. Damage found
 * by ordinary calls (chunk_get, record_get, gc) triggers the same recount automatically when
 * the damaged entry's owner could not be trusted. */
int zhtp_store_verify(zhtp_store *s, uint64_t *removed);

/* --- DHT peer cache ------------------------------------------------------------------ */

/* Remembers (or replaces) the address of a node id and when it was last seen. */
int zhtp_store_peer_put(zhtp_store *s, const uint8_t id[ZHTP_NODE_ID_LEN], const zhtp_addr *addr,
                        uint64_t last_seen_unix_s);
/* 0, or ZHTP_ERR_NOTFOUND. addr and last_seen may be NULL. */
int zhtp_store_peer_get(zhtp_store *s, const uint8_t id[ZHTP_NODE_ID_LEN], zhtp_addr *addr,
                        uint64_t *last_seen_unix_s);
int zhtp_store_peer_delete(zhtp_store *s, const uint8_t id[ZHTP_NODE_ID_LEN]);
/* Calls fn for each cached peer in id order inside one read transaction; the pointers are
 * valid only during the call, and fn must not call back into s. fn returning nonzero stops
 * the walk and that value is returned. Entries that do not decode are skipped. */
typedef int (*zhtp_store_peer_fn)(void *user_data, const uint8_t id[ZHTP_NODE_ID_LEN],
                                  const zhtp_addr *addr, uint64_t last_seen_unix_s);
int zhtp_store_peer_foreach(zhtp_store *s, zhtp_store_peer_fn fn, void *user_data);

/* --- accounting ---------------------------------------------------------------------- */

typedef struct zhtp_store_stats {
    uint64_t chunks, chunk_bytes;   /* count and payload bytes */
    uint64_t records, record_bytes; /* count and entry bytes (header + sig + value) */
    uint64_t corrupt_removed;       /* entries removed by an integrity check, ever */
    uint64_t map_size;              /* current LMDB map size */
} zhtp_store_stats;
int zhtp_store_get_stats(zhtp_store *s, zhtp_store_stats *st);
/* Bytes currently charged to a remote peer id (0 when none). */
int zhtp_store_peer_usage(zhtp_store *s, const uint8_t owner[ZHTP_NODE_ID_LEN], uint64_t *bytes);

/* The last raw LMDB return code behind a ZHTP_ERR_STORE_BACKEND (or 0), and its text, for
 * logs. Borrowed static string. */
int zhtp_store_backend_error(const zhtp_store *s);
const char *zhtp_store_backend_strerror(int mdb_rc);

#ifdef __cplusplus
}
#endif
#endif
