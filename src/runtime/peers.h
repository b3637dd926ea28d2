/* zhtpd's memory of its peers across restarts, kept in the LMDB store's peer cache
 * (include/zhtp/store.h, DATA_DIR/store): a restarted node rejoins the mesh without the
 * static peers of its configuration.
 *
 * Two kinds of entries, both keyed by node id:
 *   - a neighbour's link address (UDP), written when the neighbour comes up: the address is
 *     the sender of the datagram whose processing raised NEIGHBOUR_UP (runtime.c);
 *   - the DHT's contacts, with an empty address (len 0): ids the DHT can reach through the
 *     mesh once the node has any neighbour. They never overwrite an entry with an address.
 * At start the most recently seen addresses (at most ZHTP_RT_PEERS_REJOIN_MAX) become peers of
 * the matching socket, and every id is offered to the DHT as a contact. Entries not seen for
 * ZHTP_RT_PEERS_MAX_AGE_S are deleted then. Remembered peers are authenticated like any
 * other: an address only receives discovery solicits and beacons; whoever answers must still
 * complete the handshake as the node id it claims. */
#ifndef ZHTP_RT_PEERS_H
#define ZHTP_RT_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "zhtp/store.h"
#include "zhtp/types.h"

#define ZHTP_RT_PEERS_MAX_AGE_S  (7u * 86400u)
#define ZHTP_RT_PEERS_REJOIN_MAX 16
#define ZHTP_RT_PEERS_LOAD_MAX   1024 /* entries read at start; the rest stay untouched */

/* Remembers the link address of neighbour |id| (one synchronous LMDB write). */
int zhtp_rt_peers_save_addr(zhtp_store *s, const uint8_t id[ZHTP_NODE_ID_LEN],
                            const zhtp_addr *addr, uint64_t now_unix_s);
/* Remembers ids (DHT contacts) without an address; entries that have one are kept as they
 * are. Returns the number written. */
size_t zhtp_rt_peers_save_ids(zhtp_store *s, const uint8_t (*ids)[ZHTP_NODE_ID_LEN], size_t n,
                              uint64_t now_unix_s);

typedef void (*zhtp_rt_peers_addr_fn)(void *user_data, const uint8_t id[ZHTP_NODE_ID_LEN],
                                      const zhtp_addr *addr);
typedef void (*zhtp_rt_peers_id_fn)(void *user_data, const uint8_t id[ZHTP_NODE_ID_LEN]);
/* Reads the cache: expired entries are deleted; addr_fn gets the ZHTP_RT_PEERS_REJOIN_MAX
 * most recent addresses, id_fn every remaining id (with or without an address). Returns the
 * number of entries kept, or a negative zhtp_err. */
zhtp_ssize zhtp_rt_peers_load(zhtp_store *s, uint64_t now_unix_s, zhtp_rt_peers_addr_fn addr_fn,
                              zhtp_rt_peers_id_fn id_fn, void *user_data);

#endif
