/* The DHT's storage callbacks (zhtp_dht_store_ops, include/zhtp/dht.h) on top of the LMDB store
 * (include/zhtp/store.h). Lives in store/, outside the sans-I/O core: it does file I/O.
 *
 * Mapping (docs/dht.md "LMDB adapter"):
 *   chunk  -> zhtp_store_chunk_put/get (the store re-hashes on every read; a damaged chunk is
 *             removed there and reported to the DHT as not found, never served);
 *   record -> zhtp_store_record_put/get with the whole encoded DHT record as the value,
 *             sequence = the record's seq (parsed, not verified: the DHT verified it), so the
 *             store's "strictly larger sequence" rule holds on disk too; an equal sequence with
 *             identical bytes (a republish) is accepted;
 *   ZHTP_ERR_STORE_QUOTA and ZHTP_ERR_STORE_FULL -> ZHTP_ERR_STORE_QUOTA (the DHT's refusal);
 *   a STORE from a peer (zhtp_dht_store_put_from) is owned by that peer in the store, so the
 *   store's per-peer quota applies; the node's own puts have no owner.
 * The DHT needs two things store.h does not give: iteration over what is held (republish) and
 * a chunk's expiry. The adapter keeps them in DIR/dht_index: an append-only log of
 * kind u8 | key[32] | expiry u64 (network-time ns, little endian; 0 = deleted), compacted on
 * open. It is advisory: a lost entry only means that value is not republished, and it is
 * served until the store's gc removes it.
 *
 * Time: the DHT passes network-time nanoseconds; the store wants Unix seconds. The adapter
 * reads the current network time from the clock callback given at open (the daemon: the wall
 * clock; tests: the virtual clock).
 *
 * Thread-safety: one thread at a time, like the store and the DHT. */
#ifndef ZHTP_DHT_STORE_H
#define ZHTP_DHT_STORE_H

#include "zhtp/dht.h"
#include "zhtp/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zhtp_dht_store zhtp_dht_store;

/* Current network time in nanoseconds (the DHT's now + net_time_offset). */
typedef uint64_t (*zhtp_dht_store_clock_fn)(void *user_data);

/* Opens the store in dir (zhtp_store_open: dir must exist) and the index dir/dht_index.
 * Returns ZHTP_OK, the errors of zhtp_store_open, ZHTP_ERR_INVAL (NULL arguments),
 * ZHTP_ERR_NOMEM, or ZHTP_ERR_STORE_ACCESS (index file). */
int zhtp_dht_store_open(zhtp_dht_store **out, const char *dir, const zhtp_store_config *cfg,
                        zhtp_dht_store_clock_fn clock, void *clock_user_data);
void zhtp_dht_store_close(zhtp_dht_store *a); /* NULL is a no-op */

/* The callbacks to put in zhtp_dht_config.store; valid until close. Their put stores for the
 * node itself (no per-peer quota). */
zhtp_dht_store_ops zhtp_dht_store_ops_for(zhtp_dht_store *a);
/* zhtp_dht_config.store_put_from (|ud| = the ops' user_data): a STORE received from |peer| is
 * charged to that peer's share (zhtp_store_config.quota_peer_bytes); over it the put fails with
 * ZHTP_ERR_STORE_QUOTA, which the DHT returns in that peer's STORE_ACK. */
int zhtp_dht_store_put_from(void *ud, const uint8_t peer[ZHTP_DHT_ID_LEN], uint8_t kind,
                            const uint8_t key[ZHTP_DHT_ID_LEN], const uint8_t *val, size_t len,
                            uint64_t expiry);
/* Sets cfg->store and cfg->store_put_from for this store (what a node wants). */
void zhtp_dht_store_configure(zhtp_dht_store *a, zhtp_dht_config *cfg);
/* The underlying store (stats, gc, verify). Borrowed. */
zhtp_store *zhtp_dht_store_backend(zhtp_dht_store *a);
/* Entries in the index (what each() walks). */
size_t zhtp_dht_store_count(const zhtp_dht_store *a);

#ifdef __cplusplus
}
#endif
#endif
