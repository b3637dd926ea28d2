/* core/locator: the node's bounded cache of node id -> tree coordinates ("locators"), fed by
 * the locator blocks of packets it receives (first-hand) and by the locators DHT NODES answers
 * carry (hints), read when the node originates a packet to a non-neighbour. Design and policy:
 * docs/routing.md "Locators". Private to src/core (node.c); sans-I/O, allocates only through
 * the given zhtp_mem. */
#ifndef ZHTP_CORE_LOCATOR_H
#define ZHTP_CORE_LOCATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/err.h"
#include "zhtp/mem.h"
#include "zhtp/types.h"

#define LOC_MAX_DEPTH 64 /* deeper coordinates are not cached (nor sent in locator blocks) */
#define LOC_ID_LEN    32
/* An entry unused (not refreshed) this long is not returned. */
#define LOC_TTL_NS (300 * ZHTP_NS_PER_SEC)
/* A first-hand entry (from the node's own packet) is not overwritten by a second-hand hint
 * for this long, unless marked stale. */
#define LOC_DIRECT_HOLD_NS (10 * ZHTP_NS_PER_SEC)

typedef struct loc_cache loc_cache;

/* |cap|: most entries held (the oldest is replaced beyond it). ZHTP_OK or ZHTP_ERR_NOMEM. */
int loc_cache_new(loc_cache **out, const zhtp_mem *mem, size_t cap);
void loc_cache_free(loc_cache *c); /* NULL is a no-op */

/* Records |id| at ports[0..depth). |direct|: first-hand (the locator block of a packet |id|
 * originated); else a hint (a DHT answer). Returns true if the entry now holds these
 * coordinates (false: depth over LOC_MAX_DEPTH, a hint refused by the rule above, or no
 * memory: a cache miss later, never an error). */
bool loc_cache_put(loc_cache *c, const uint8_t id[LOC_ID_LEN], const uint16_t *ports, size_t depth,
                   bool direct, zhtp_time now);
/* Copies |id|'s coordinates. True when known and fresh (and cap sufficient); |*stale| tells
 * whether they were marked stale since. */
bool loc_cache_get(const loc_cache *c, const uint8_t id[LOC_ID_LEN], uint16_t *ports, size_t cap,
                   size_t *depth, bool *stale, zhtp_time now);
/* The coordinates may be stale (a resend went unanswered, the router found them leading
 * nowhere): the next hint replaces them even if first-hand. */
void loc_cache_mark_stale(loc_cache *c, const uint8_t id[LOC_ID_LEN]);
/* A fresh entry whose id starts with the first |bits| bits of |prefix|: true and |id| set. */
bool loc_cache_find_prefix(const loc_cache *c, const uint8_t *prefix, size_t bits,
                           uint8_t id[LOC_ID_LEN], zhtp_time now);
size_t loc_cache_count(const loc_cache *c);

/* True when the first |bits| bits of a and b are equal (bits <= 256). */
bool loc_prefix_eq(const uint8_t *a, const uint8_t *b, size_t bits);

#endif
