/* Seeded generators of valid wire structs, and deep equality, for the wire property tests. */
#ifndef ZHTP_TEST_WIRE_GEN_H
#define ZHTP_TEST_WIRE_GEN_H

#include <stdbool.h>

#include "zhtp/wire.h"

#include "testutil.h"

/* Arena the generated structs borrow their variable parts from. */
typedef struct wg_arena {
    uint8_t *buf;
    size_t cap, used;
} wg_arena;

void wg_arena_init(wg_arena *a, size_t cap); /* malloc; aborts the test on failure */
void wg_arena_reset(wg_arena *a);
void wg_arena_free(wg_arena *a);

/* A random valid header for op (random flags, sealing, hops, ids...). payload_len is set
 * by the caller. */
void wg_header(zt_rng *r, zhtp_wire_header *h, uint8_t op);
/* A random valid payload of op; variable parts point into a. big: allow sizes up to the
 * limits (slower). */
void wg_payload(zt_rng *r, zhtp_wire_payload *p, uint8_t op, wg_arena *a, bool big);

bool wg_header_equal(const zhtp_wire_header *a, const zhtp_wire_header *b);
bool wg_payload_equal(const zhtp_wire_payload *a, const zhtp_wire_payload *b);

/* A whole random valid full packet of op in out (cap >= ZHTP_WIRE_MAX_PACKET is safe);
 * payload plaintext encoded (sealing is only the flag here). Returns its length. */
size_t wg_packet(zt_rng *r, uint8_t op, uint8_t *out, size_t cap, wg_arena *a, bool big);

#endif
