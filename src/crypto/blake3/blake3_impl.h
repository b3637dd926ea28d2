/* Private to src/crypto/blake3: the constants of the BLAKE3 specification and the two
 * primitives every implementation (portable, SSE4.1, AVX2) provides. blake3.c owns the tree;
 * the implementation files only compress blocks and never see the hasher struct. */
#ifndef ZHTP_BLAKE3_IMPL_H
#define ZHTP_BLAKE3_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "zhtp/blake3.h"

/* The SIMD kernels rely on full inlining: with the state in registers a round is ~100
 * instructions, but GCC's size heuristics otherwise leave round functions as calls that
 * pass the whole state through memory (measured: 2x slower). */
#if defined(__GNUC__)
#define B3_INLINE static inline __attribute__((always_inline))
#else
#define B3_INLINE static inline
#endif

/* Domain flags, spec §2.1 table 3. */
enum {
    B3_CHUNK_START = 1 << 0,
    B3_CHUNK_END = 1 << 1,
    B3_PARENT = 1 << 2,
    B3_ROOT = 1 << 3,
    B3_KEYED_HASH = 1 << 4,
    B3_DERIVE_KEY_CONTEXT = 1 << 5,
    B3_DERIVE_KEY_MATERIAL = 1 << 6,
};

/* The widest hash_many any implementation offers (AVX2: 8 lanes). Sizes stack buffers. */
#define B3_MAX_SIMD_DEGREE 8

/* IV = the SHA-256 IV, spec §2.2. */
static const uint32_t B3_IV[8] = {0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
                                  0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u};

/* Message word order for each of the 7 rounds: the permutation of spec §2.2 applied
 * r times. Precomputed so that no implementation has to move message words around. */
static const uint8_t B3_MSG_SCHEDULE[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

static inline uint32_t b3_load32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void b3_store32(uint8_t *p, uint32_t w)
{
    p[0] = (uint8_t)w;
    p[1] = (uint8_t)(w >> 8);
    p[2] = (uint8_t)(w >> 16);
    p[3] = (uint8_t)(w >> 24);
}

static inline void b3_load_key_words(const uint8_t key[32], uint32_t words[8])
{
    for (int i = 0; i < 8; i++)
        words[i] = b3_load32(key + 4 * i);
}

static inline void b3_store_cv_words(uint8_t out[32], const uint32_t cv[8])
{
    for (int i = 0; i < 8; i++)
        b3_store32(out + 4 * i, cv[i]);
}

/* Compresses one block into cv (the chaining-value form: first 8 words of the output). */
typedef void b3_compress_in_place_fn(uint32_t cv[8], const uint8_t block[64], uint8_t block_len,
                                     uint64_t counter, uint8_t flags);
/* Compresses one block and writes all 16 output words (the XOF form, spec §2.6). */
typedef void b3_compress_xof_fn(const uint32_t cv[8], const uint8_t block[64], uint8_t block_len,
                                uint64_t counter, uint8_t flags, uint8_t out[64]);
/* Hashes num_inputs inputs of blocks*64 bytes each, all starting from key, and writes one
 * 32-byte chaining value per input to out. Input i uses counter + i when increment_counter
 * (chunks), else counter (parents). flags_start is or-ed into the first block, flags_end into
 * the last. Used for runs of whole chunks (blocks = 16) and for rows of parents (blocks = 1). */
typedef void b3_hash_many_fn(const uint8_t *const *inputs, size_t num_inputs, size_t blocks,
                             const uint32_t key[8], uint64_t counter, bool increment_counter,
                             uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out);

b3_compress_in_place_fn zhtp_blake3_compress_in_place_portable;
b3_compress_xof_fn zhtp_blake3_compress_xof_portable;
b3_hash_many_fn zhtp_blake3_hash_many_portable;

#if defined(ZHTP_BLAKE3_X86)
b3_compress_in_place_fn zhtp_blake3_compress_in_place_sse41;
b3_compress_xof_fn zhtp_blake3_compress_xof_sse41;
b3_hash_many_fn zhtp_blake3_hash_many_sse41;
/* Needs SSE4.1 too: fewer than 8 inputs go to the SSE4.1 path. */
b3_hash_many_fn zhtp_blake3_hash_many_avx2;
#endif

#endif
