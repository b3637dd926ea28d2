/* Helpers shared by the unit tests: official vector files, hex, a seeded RNG.
 * Tests are cmocka programs printing TAP (CMOCKA_MESSAGE_OUTPUT=TAP, set by meson). */
#ifndef ZHTP_TESTUTIL_H
#define ZHTP_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

/* Directory of ../shared/vectors (env ZHTP_VECTORS_DIR, set by meson). */
const char *zt_vectors_dir(void);

/* Parses vectors_dir/relpath. Returns NULL when the file is absent (the caller must then
 * skip(), never pass); fails the test when it exists but does not parse. */
json_t *zt_load_vectors(const char *relpath);

/* Decodes the hex string member key of obj into a fresh malloc'd buffer (free() it).
 * Fails the test when the member is missing or not hex. *len gets the byte count. */
uint8_t *zt_hex_member(const json_t *obj, const char *key, size_t *len);
/* Same, but the decoded length must be exactly len. */
void zt_hex_member_exact(const json_t *obj, const char *key, uint8_t *out, size_t len);

/* A small deterministic generator (splitmix64) for property tests: same seed, same bytes. */
typedef struct zt_rng {
    uint64_t state;
} zt_rng;
void zt_rng_seed(zt_rng *r, uint64_t seed);
uint64_t zt_rng_u64(zt_rng *r);
void zt_rng_bytes(zt_rng *r, void *out, size_t len);
/* Uniform in [0, bound), bound > 0. */
uint64_t zt_rng_below(zt_rng *r, uint64_t bound);

#endif
