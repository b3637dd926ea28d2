/* BLAKE3: hash, keyed hash, key derivation and extendable output (XOF), one-shot and
 * incremental. A portable implementation plus, on x86, SSE4.1 and AVX2 paths chosen once at
 * run time from the CPU's features (__builtin_cpu_supports). There is no AVX-512 path yet.
 * Every function here is thread-safe on distinct hashers; BLAKE3 has no secret-dependent
 * branches or memory indices. Keyed and derive-key state: the one-shot functions wipe their
 * hasher, the tree code wipes the chaining values it keeps on the stack, but the compression
 * kernels' own locals and register spills are not wiped (as in other BLAKE3 libraries). */
#ifndef ZHTP_BLAKE3_H
#define ZHTP_BLAKE3_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZHTP_BLAKE3_OUT_LEN   32 /* default output length in bytes */
#define ZHTP_BLAKE3_KEY_LEN   32
#define ZHTP_BLAKE3_BLOCK_LEN 64
#define ZHTP_BLAKE3_CHUNK_LEN 1024
#define ZHTP_BLAKE3_MAX_DEPTH 54 /* 2^54 chunks = 2^64 bytes */

/* Incremental hasher. Plain data, no heap: may live on the stack, be copied, and is freed by
 * simply going out of scope (wipe it with zhtp_wipe if the key was secret). Fields are
 * private. */
typedef struct zhtp_blake3 {
    uint32_t key[8];
    uint32_t cv[8];         /* chaining value of the current chunk */
    uint64_t chunk_counter; /* index of the current chunk */
    uint8_t buf[ZHTP_BLAKE3_BLOCK_LEN];
    uint8_t buf_len;
    uint8_t blocks_compressed;
    uint8_t flags;
    uint8_t cv_stack_len;
    uint8_t cv_stack[(ZHTP_BLAKE3_MAX_DEPTH + 1) * ZHTP_BLAKE3_OUT_LEN];
} zhtp_blake3;

void zhtp_blake3_init(zhtp_blake3 *h);
void zhtp_blake3_init_keyed(zhtp_blake3 *h, const uint8_t key[ZHTP_BLAKE3_KEY_LEN]);
/* context: a NUL-terminated, hard-coded, globally unique, application-specific string. */
void zhtp_blake3_init_derive_key(zhtp_blake3 *h, const char *context);
void zhtp_blake3_init_derive_key_raw(zhtp_blake3 *h, const void *context, size_t context_len);
void zhtp_blake3_update(zhtp_blake3 *h, const void *in, size_t len);
/* Writes out_len bytes of output (any length, XOF). Does not change h: more input may follow
 * and final may be called again. */
void zhtp_blake3_final(const zhtp_blake3 *h, uint8_t *out, size_t out_len);
/* Output starting at byte offset seek of the XOF stream. */
void zhtp_blake3_final_seek(const zhtp_blake3 *h, uint64_t seek, uint8_t *out, size_t out_len);

/* One-shot forms. */
void zhtp_blake3_hash(uint8_t *out, size_t out_len, const void *in, size_t in_len);
void zhtp_blake3_keyed_hash(uint8_t *out, size_t out_len, const uint8_t key[ZHTP_BLAKE3_KEY_LEN],
                            const void *in, size_t in_len);
void zhtp_blake3_derive_key(uint8_t *out, size_t out_len, const char *context,
                            const void *key_material, size_t km_len);

/* Name of the implementation in use: "avx2", "sse41" or "portable". */
const char *zhtp_blake3_impl(void);
/* Forces an implementation by name (tests and benchmarks): "portable", "sse41", "avx2" or
 * "auto" (back to run-time detection). Returns 0, ZHTP_ERR_UNSUPPORTED when this CPU or build
 * lacks it ("avx512" always, for now), or ZHTP_ERR_INVAL for an unknown name or NULL.
 * Not thread-safe: call before hashing starts. */
int zhtp_blake3_set_impl(const char *name);

#ifdef __cplusplus
}
#endif
#endif
