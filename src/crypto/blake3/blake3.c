/* BLAKE3 (the BLAKE3 specification, O'Connor, Aumasson, Neves, Wilcox-O'Hearn, 2021):
 * the chunk state, the Merkle tree with its chaining-value (CV) stack, the three modes, the
 * XOF, and the choice of compression implementation at run time.
 *
 * Large inputs are cut into the biggest power-of-two subtrees that fit and are aligned to the
 * current chunk count; each subtree is hashed by compress_subtree_wide, which hands whole runs
 * of chunks and whole rows of parents to the implementation's hash_many (8 lanes with AVX2).
 * The CV stack merges lazily: a completed subtree is merged only once more input proves it is
 * not the root, so the last chunk or parent can still get the ROOT flag in final(). */
#include <stdatomic.h>
#include <string.h>

#include "zhtp/blake3.h"
#include "zhtp/err.h"
#include "zhtp/util.h"

#include "blake3_impl.h"

/* ---- implementation choice ---- */

typedef struct b3_impl {
    const char *name;
    b3_compress_in_place_fn *compress_in_place;
    b3_compress_xof_fn *compress_xof;
    b3_hash_many_fn *hash_many;
    size_t simd_degree; /* chunks (or parents) per hash_many call that fill every lane */
} b3_impl;

static const b3_impl impl_portable = {"portable", zhtp_blake3_compress_in_place_portable,
                                      zhtp_blake3_compress_xof_portable,
                                      zhtp_blake3_hash_many_portable, 1};
#if defined(ZHTP_BLAKE3_X86)
static const b3_impl impl_sse41 = {"sse41", zhtp_blake3_compress_in_place_sse41,
                                   zhtp_blake3_compress_xof_sse41, zhtp_blake3_hash_many_sse41, 4};
/* AVX2 has no single-block advantage over SSE4.1, so it reuses those for single blocks. */
static const b3_impl impl_avx2 = {"avx2", zhtp_blake3_compress_in_place_sse41,
                                  zhtp_blake3_compress_xof_sse41, zhtp_blake3_hash_many_avx2, 8};
#endif

/* NULL until first use; then the detected (or forced) implementation. An atomic pointer so
 * that threads hashing concurrently after start-up all read a consistent value. */
static _Atomic(const b3_impl *) active_impl;

static bool cpu_has(const b3_impl *impl)
{
#if defined(ZHTP_BLAKE3_X86)
    __builtin_cpu_init();
    if (impl == &impl_sse41)
        return __builtin_cpu_supports("sse4.1");
    if (impl == &impl_avx2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("sse4.1");
#endif
    return impl == &impl_portable;
}

static const b3_impl *detect_impl(void)
{
#if defined(ZHTP_BLAKE3_X86)
    if (cpu_has(&impl_avx2))
        return &impl_avx2;
    if (cpu_has(&impl_sse41))
        return &impl_sse41;
#endif
    return &impl_portable;
}

static const b3_impl *get_impl(void)
{
    const b3_impl *impl = atomic_load_explicit(&active_impl, memory_order_acquire);
    if (impl == NULL) {
        impl = detect_impl();
        atomic_store_explicit(&active_impl, impl, memory_order_release);
    }
    return impl;
}

const char *zhtp_blake3_impl(void)
{
    return get_impl()->name;
}

int zhtp_blake3_set_impl(const char *name)
{
    const b3_impl *impl = NULL;
    if (name == NULL)
        return ZHTP_ERR_INVAL;
    if (strcmp(name, "auto") == 0) {
        impl = detect_impl();
    } else if (strcmp(name, "portable") == 0) {
        impl = &impl_portable;
    } else if (strcmp(name, "sse41") == 0 || strcmp(name, "avx2") == 0 ||
               strcmp(name, "avx512") == 0) {
#if defined(ZHTP_BLAKE3_X86)
        if (strcmp(name, "sse41") == 0)
            impl = &impl_sse41;
        else if (strcmp(name, "avx2") == 0)
            impl = &impl_avx2;
#endif
        /* No AVX-512 path is built (see blake3.h); it is reported as unsupported. */
        if (impl == NULL || !cpu_has(impl))
            return ZHTP_ERR_UNSUPPORTED;
    } else {
        return ZHTP_ERR_INVAL;
    }
    atomic_store_explicit(&active_impl, impl, memory_order_release);
    return ZHTP_OK;
}

/* ---- outputs: a compression not yet run, so it can become a CV or root output ---- */

typedef struct b3_output {
    uint32_t cv[8];
    uint8_t block[ZHTP_BLAKE3_BLOCK_LEN];
    uint8_t block_len;
    uint64_t counter;
    uint8_t flags;
} b3_output;

static void output_cv(const b3_impl *impl, const b3_output *o, uint8_t cv_out[32])
{
    uint32_t cv[8];
    memcpy(cv, o->cv, sizeof cv);
    impl->compress_in_place(cv, o->block, o->block_len, o->counter, o->flags);
    b3_store_cv_words(cv_out, cv);
    zhtp_wipe(cv, sizeof cv);
}

static void parent_output(b3_output *o, const uint8_t block[64], const uint32_t key[8],
                          uint8_t flags)
{
    memcpy(o->cv, key, sizeof o->cv);
    memcpy(o->block, block, ZHTP_BLAKE3_BLOCK_LEN);
    o->block_len = ZHTP_BLAKE3_BLOCK_LEN;
    o->counter = 0;
    o->flags = flags | B3_PARENT;
}

/* The root's XOF stream (spec §2.6): output block i is the root compression with counter i. */
static void output_root_bytes(const b3_impl *impl, const b3_output *o, uint64_t seek, uint8_t *out,
                              size_t out_len)
{
    uint64_t block_counter = seek / ZHTP_BLAKE3_BLOCK_LEN;
    size_t offset = (size_t)(seek % ZHTP_BLAKE3_BLOCK_LEN);
    uint8_t wide[ZHTP_BLAKE3_BLOCK_LEN];
    while (out_len > 0) {
        impl->compress_xof(o->cv, o->block, o->block_len, block_counter, o->flags | B3_ROOT, wide);
        size_t n = ZHTP_BLAKE3_BLOCK_LEN - offset;
        if (n > out_len)
            n = out_len;
        memcpy(out, wide + offset, n);
        out += n;
        out_len -= n;
        block_counter++;
        offset = 0;
    }
    zhtp_wipe(wide, sizeof wide);
}

/* ---- the chunk state, embedded in the hasher ---- */

static size_t chunk_len(const zhtp_blake3 *h)
{
    return (size_t)ZHTP_BLAKE3_BLOCK_LEN * h->blocks_compressed + h->buf_len;
}

static void chunk_reset(zhtp_blake3 *h, uint64_t chunk_counter)
{
    memcpy(h->cv, h->key, sizeof h->cv);
    h->chunk_counter = chunk_counter;
    memset(h->buf, 0, sizeof h->buf);
    h->buf_len = 0;
    h->blocks_compressed = 0;
}

static uint8_t chunk_start_flag(const zhtp_blake3 *h)
{
    return h->blocks_compressed == 0 ? B3_CHUNK_START : 0;
}

/* Absorbs len bytes, len <= what is left of the chunk. A full block stays buffered until more
 * input arrives, because the chunk's last block must carry CHUNK_END (and maybe ROOT). */
static void chunk_update(const b3_impl *impl, zhtp_blake3 *h, const uint8_t *in, size_t len)
{
    if (h->buf_len > 0) {
        size_t take = ZHTP_BLAKE3_BLOCK_LEN - h->buf_len;
        if (take > len)
            take = len;
        memcpy(h->buf + h->buf_len, in, take);
        h->buf_len += (uint8_t)take;
        in += take;
        len -= take;
        if (len == 0)
            return;
        impl->compress_in_place(h->cv, h->buf, ZHTP_BLAKE3_BLOCK_LEN, h->chunk_counter,
                                h->flags | chunk_start_flag(h));
        h->blocks_compressed++;
        h->buf_len = 0;
        memset(h->buf, 0, sizeof h->buf);
    }
    while (len > ZHTP_BLAKE3_BLOCK_LEN) {
        impl->compress_in_place(h->cv, in, ZHTP_BLAKE3_BLOCK_LEN, h->chunk_counter,
                                h->flags | chunk_start_flag(h));
        h->blocks_compressed++;
        in += ZHTP_BLAKE3_BLOCK_LEN;
        len -= ZHTP_BLAKE3_BLOCK_LEN;
    }
    memcpy(h->buf, in, len);
    h->buf_len = (uint8_t)len;
}

static void chunk_output(const zhtp_blake3 *h, b3_output *o)
{
    memcpy(o->cv, h->cv, sizeof o->cv);
    memcpy(o->block, h->buf, sizeof o->block); /* zero beyond buf_len: the padding */
    o->block_len = h->buf_len;
    o->counter = h->chunk_counter;
    o->flags = h->flags | chunk_start_flag(h) | B3_CHUNK_END;
}

/* ---- the wide tree: many chunks and parents per hash_many call ---- */

/* One CV per whole chunk (hash_many), plus one for a trailing partial chunk. Never a root:
 * callers pass more than one chunk's worth in total. Returns the number of CVs. */
static size_t compress_chunks_parallel(const b3_impl *impl, const uint8_t *in, size_t len,
                                       const uint32_t key[8], uint64_t chunk_counter, uint8_t flags,
                                       uint8_t *out)
{
    const uint8_t *chunks[B3_MAX_SIMD_DEGREE];
    size_t n = 0;
    while (len - n * ZHTP_BLAKE3_CHUNK_LEN >= ZHTP_BLAKE3_CHUNK_LEN) {
        chunks[n] = in + n * ZHTP_BLAKE3_CHUNK_LEN;
        n++;
    }
    impl->hash_many(chunks, n, ZHTP_BLAKE3_CHUNK_LEN / ZHTP_BLAKE3_BLOCK_LEN, key, chunk_counter,
                    true, flags, B3_CHUNK_START, B3_CHUNK_END, out);
    size_t done = n * ZHTP_BLAKE3_CHUNK_LEN;
    if (done == len)
        return n;
    zhtp_blake3 tail;
    memcpy(tail.key, key, sizeof tail.key);
    tail.flags = flags;
    chunk_reset(&tail, chunk_counter + n);
    chunk_update(impl, &tail, in + done, len - done);
    b3_output o;
    chunk_output(&tail, &o);
    output_cv(impl, &o, out + n * ZHTP_BLAKE3_OUT_LEN);
    zhtp_wipe(&tail, offsetof(zhtp_blake3, cv_stack));
    zhtp_wipe(&o, sizeof o);
    return n + 1;
}

/* Pairs up num_cvs CVs into parents (one hash_many row); an odd last CV is carried up
 * unchanged. Returns the number of CVs written to out. */
static size_t compress_parents_parallel(const b3_impl *impl, const uint8_t *cvs, size_t num_cvs,
                                        const uint32_t key[8], uint8_t flags, uint8_t *out)
{
    const uint8_t *parents[B3_MAX_SIMD_DEGREE];
    size_t n = 0;
    while (num_cvs - 2 * n >= 2) {
        parents[n] = cvs + 2 * n * ZHTP_BLAKE3_OUT_LEN;
        n++;
    }
    impl->hash_many(parents, n, 1, key, 0, false, flags | B3_PARENT, 0, 0, out);
    if (num_cvs > 2 * n) {
        memcpy(out + n * ZHTP_BLAKE3_OUT_LEN, cvs + 2 * n * ZHTP_BLAKE3_OUT_LEN,
               ZHTP_BLAKE3_OUT_LEN);
        return n + 1;
    }
    return n;
}

static uint64_t round_down_pow2(uint64_t x)
{
    return (uint64_t)1 << (63 - __builtin_clzll(x | 1));
}

/* Size of the left subtree of an input of len > CHUNK_LEN bytes: the largest power of two
 * number of chunks that leaves at least one byte for the right (spec §2.1). */
static size_t left_subtree_len(size_t len)
{
    uint64_t full_chunks = (len - 1) / ZHTP_BLAKE3_CHUNK_LEN;
    return (size_t)(round_down_pow2(full_chunks) * ZHTP_BLAKE3_CHUNK_LEN);
}

/* Hashes a subtree and returns the CVs of its top row, stopping while that row still fills
 * the SIMD lanes: at most max(simd_degree, 2) CVs, and at least 2 when len > CHUNK_LEN.
 * The left half always yields exactly that maximum, so the two halves' rows sit side by
 * side in cvs without gaps. */
static size_t compress_subtree_wide(const b3_impl *impl, const uint8_t *in, size_t len,
                                    const uint32_t key[8], uint64_t chunk_counter, uint8_t flags,
                                    uint8_t *out)
{
    if (len <= impl->simd_degree * ZHTP_BLAKE3_CHUNK_LEN)
        return compress_chunks_parallel(impl, in, len, key, chunk_counter, flags, out);
    size_t left_len = left_subtree_len(len);
    uint64_t right_counter = chunk_counter + left_len / ZHTP_BLAKE3_CHUNK_LEN;
    uint8_t cvs[2 * B3_MAX_SIMD_DEGREE * ZHTP_BLAKE3_OUT_LEN];
    size_t degree = impl->simd_degree;
    /* With one lane, a left half bigger than a chunk yields 2 CVs, not 1. */
    if (left_len > ZHTP_BLAKE3_CHUNK_LEN && degree == 1)
        degree = 2;
    size_t left_n = compress_subtree_wide(impl, in, left_len, key, chunk_counter, flags, cvs);
    size_t right_n = compress_subtree_wide(impl, in + left_len, len - left_len, key, right_counter,
                                           flags, cvs + degree * ZHTP_BLAKE3_OUT_LEN);
    size_t n;
    if (left_n == 1) {
        /* One lane, two single chunks: they are the two children; do not merge them here,
         * the caller needs at least 2 CVs. */
        memcpy(out, cvs, 2 * ZHTP_BLAKE3_OUT_LEN);
        n = 2;
    } else {
        n = compress_parents_parallel(impl, cvs, left_n + right_n, key, flags, out);
    }
    /* CVs of a keyed hash are secret-derived; the SIMD kernels' own stack spills are not
     * wiped (see blake3.h), but what this file keeps is. */
    zhtp_wipe(cvs, (left_n + right_n) * ZHTP_BLAKE3_OUT_LEN);
    return n;
}

/* Reduces a subtree of len > CHUNK_LEN bytes to its two children's CVs (64 bytes), leaving
 * the last merge to the CV stack, which knows whether it is the root. */
static void compress_subtree_to_parent_node(const b3_impl *impl, const uint8_t *in, size_t len,
                                            const uint32_t key[8], uint64_t chunk_counter,
                                            uint8_t flags, uint8_t out[64])
{
    uint8_t cvs[B3_MAX_SIMD_DEGREE * ZHTP_BLAKE3_OUT_LEN];
    uint8_t next[B3_MAX_SIMD_DEGREE * ZHTP_BLAKE3_OUT_LEN];
    size_t n = compress_subtree_wide(impl, in, len, key, chunk_counter, flags, cvs);
    while (n > 2) {
        n = compress_parents_parallel(impl, cvs, n, key, flags, next);
        memcpy(cvs, next, n * ZHTP_BLAKE3_OUT_LEN);
    }
    memcpy(out, cvs, 2 * ZHTP_BLAKE3_OUT_LEN);
    zhtp_wipe(cvs, sizeof cvs);
    zhtp_wipe(next, sizeof next);
}

/* ---- the CV stack ---- */

/* Merges completed subtrees until the stack holds one CV per 1-bit of total_chunks (the
 * completed subtrees of that many chunks). Called only when more input is known to follow,
 * so none of the merged parents can be the root. */
static void merge_cv_stack(const b3_impl *impl, zhtp_blake3 *h, uint64_t total_chunks)
{
    size_t keep = (size_t)__builtin_popcountll(total_chunks);
    while (h->cv_stack_len > keep) {
        uint8_t *pair = h->cv_stack + (size_t)(h->cv_stack_len - 2) * ZHTP_BLAKE3_OUT_LEN;
        b3_output o;
        parent_output(&o, pair, h->key, h->flags);
        output_cv(impl, &o, pair);
        h->cv_stack_len--;
        zhtp_wipe(&o, sizeof o);
    }
}

static void push_cv(const b3_impl *impl, zhtp_blake3 *h, const uint8_t cv[32],
                    uint64_t chunk_counter)
{
    merge_cv_stack(impl, h, chunk_counter);
    memcpy(h->cv_stack + (size_t)h->cv_stack_len * ZHTP_BLAKE3_OUT_LEN, cv, ZHTP_BLAKE3_OUT_LEN);
    h->cv_stack_len++;
}

/* ---- public API ---- */

static void init_base(zhtp_blake3 *h, const uint32_t key[8], uint8_t flags)
{
    memcpy(h->key, key, sizeof h->key);
    h->flags = flags;
    chunk_reset(h, 0);
    h->cv_stack_len = 0;
}

void zhtp_blake3_init(zhtp_blake3 *h)
{
    init_base(h, B3_IV, 0);
}

void zhtp_blake3_init_keyed(zhtp_blake3 *h, const uint8_t key[ZHTP_BLAKE3_KEY_LEN])
{
    uint32_t words[8];
    b3_load_key_words(key, words);
    init_base(h, words, B3_KEYED_HASH);
    zhtp_wipe(words, sizeof words);
}

void zhtp_blake3_init_derive_key_raw(zhtp_blake3 *h, const void *context, size_t context_len)
{
    /* Spec §2.3: hash the context alone to a context key, then key the material with it. */
    zhtp_blake3 ctx;
    init_base(&ctx, B3_IV, B3_DERIVE_KEY_CONTEXT);
    zhtp_blake3_update(&ctx, context, context_len);
    uint8_t context_key[ZHTP_BLAKE3_KEY_LEN];
    zhtp_blake3_final(&ctx, context_key, sizeof context_key);
    uint32_t words[8];
    b3_load_key_words(context_key, words);
    init_base(h, words, B3_DERIVE_KEY_MATERIAL);
    zhtp_wipe(words, sizeof words);
    zhtp_wipe(context_key, sizeof context_key);
    zhtp_wipe(&ctx, sizeof ctx);
}

void zhtp_blake3_init_derive_key(zhtp_blake3 *h, const char *context)
{
    zhtp_blake3_init_derive_key_raw(h, context, strlen(context));
}

void zhtp_blake3_update(zhtp_blake3 *h, const void *in_v, size_t len)
{
    const b3_impl *impl = get_impl();
    const uint8_t *in = in_v;
    if (len == 0)
        return;

    /* Finish a partly filled chunk first; it is complete (and not the root) only if input
     * remains after it. */
    if (chunk_len(h) > 0) {
        size_t take = ZHTP_BLAKE3_CHUNK_LEN - chunk_len(h);
        if (take > len)
            take = len;
        chunk_update(impl, h, in, take);
        in += take;
        len -= take;
        if (len == 0)
            return;
        b3_output o;
        uint8_t cv[ZHTP_BLAKE3_OUT_LEN];
        chunk_output(h, &o);
        output_cv(impl, &o, cv);
        push_cv(impl, h, cv, h->chunk_counter);
        chunk_reset(h, h->chunk_counter + 1);
        zhtp_wipe(&o, sizeof o);
        zhtp_wipe(cv, sizeof cv);
    }

    /* Whole subtrees: the largest power of two that fits and that starts on a multiple of its
     * own size (so it is a real subtree of the final tree). Strictly more than one chunk must
     * remain, so that the last chunk stays in the chunk state for final(). */
    while (len > ZHTP_BLAKE3_CHUNK_LEN) {
        uint64_t subtree_len = round_down_pow2(len);
        uint64_t bytes_so_far = h->chunk_counter * ZHTP_BLAKE3_CHUNK_LEN;
        while (((subtree_len - 1) & bytes_so_far) != 0)
            subtree_len /= 2;
        uint64_t subtree_chunks = subtree_len / ZHTP_BLAKE3_CHUNK_LEN;
        if (subtree_len <= ZHTP_BLAKE3_CHUNK_LEN) {
            b3_output o;
            uint8_t cv[ZHTP_BLAKE3_OUT_LEN];
            chunk_update(impl, h, in, (size_t)subtree_len);
            chunk_output(h, &o);
            output_cv(impl, &o, cv);
            push_cv(impl, h, cv, h->chunk_counter);
            zhtp_wipe(&o, sizeof o);
            zhtp_wipe(cv, sizeof cv);
        } else {
            uint8_t pair[2 * ZHTP_BLAKE3_OUT_LEN];
            compress_subtree_to_parent_node(impl, in, (size_t)subtree_len, h->key, h->chunk_counter,
                                            h->flags, pair);
            push_cv(impl, h, pair, h->chunk_counter);
            push_cv(impl, h, pair + ZHTP_BLAKE3_OUT_LEN, h->chunk_counter + subtree_chunks / 2);
            zhtp_wipe(pair, sizeof pair);
        }
        chunk_reset(h, h->chunk_counter + subtree_chunks);
        in += subtree_len;
        len -= (size_t)subtree_len;
    }

    if (len > 0) {
        chunk_update(impl, h, in, len);
        /* The chunk state now holds data to the right of every stacked subtree, so each of
         * them is complete and none is the root: merge them to keep the stack short. */
        merge_cv_stack(impl, h, h->chunk_counter);
    }
}

void zhtp_blake3_final_seek(const zhtp_blake3 *h, uint64_t seek, uint8_t *out, size_t out_len)
{
    const b3_impl *impl = get_impl();
    b3_output o;
    size_t remaining;
    if (out_len == 0)
        return;
    if (h->cv_stack_len == 0) {
        chunk_output(h, &o);
        output_root_bytes(impl, &o, seek, out, out_len);
        zhtp_wipe(&o, sizeof o);
        return;
    }
    /* The chunk state is empty only when update() ended on a subtree boundary; then the top
     * two stacked CVs are the last pair. */
    if (chunk_len(h) > 0) {
        chunk_output(h, &o);
        remaining = h->cv_stack_len;
    } else {
        remaining = (size_t)h->cv_stack_len - 2;
        parent_output(&o, h->cv_stack + remaining * ZHTP_BLAKE3_OUT_LEN, h->key, h->flags);
    }
    while (remaining > 0) {
        uint8_t block[ZHTP_BLAKE3_BLOCK_LEN];
        remaining--;
        memcpy(block, h->cv_stack + remaining * ZHTP_BLAKE3_OUT_LEN, ZHTP_BLAKE3_OUT_LEN);
        output_cv(impl, &o, block + ZHTP_BLAKE3_OUT_LEN);
        parent_output(&o, block, h->key, h->flags);
        zhtp_wipe(block, sizeof block);
    }
    output_root_bytes(impl, &o, seek, out, out_len);
    zhtp_wipe(&o, sizeof o);
}

void zhtp_blake3_final(const zhtp_blake3 *h, uint8_t *out, size_t out_len)
{
    zhtp_blake3_final_seek(h, 0, out, out_len);
}

void zhtp_blake3_hash(uint8_t *out, size_t out_len, const void *in, size_t in_len)
{
    zhtp_blake3 h;
    zhtp_blake3_init(&h);
    zhtp_blake3_update(&h, in, in_len);
    zhtp_blake3_final(&h, out, out_len);
}

void zhtp_blake3_keyed_hash(uint8_t *out, size_t out_len, const uint8_t key[ZHTP_BLAKE3_KEY_LEN],
                            const void *in, size_t in_len)
{
    zhtp_blake3 h;
    zhtp_blake3_init_keyed(&h, key);
    zhtp_blake3_update(&h, in, in_len);
    zhtp_blake3_final(&h, out, out_len);
    zhtp_wipe(&h, sizeof h);
}

void zhtp_blake3_derive_key(uint8_t *out, size_t out_len, const char *context,
                            const void *key_material, size_t km_len)
{
    zhtp_blake3 h;
    zhtp_blake3_init_derive_key(&h, context);
    zhtp_blake3_update(&h, key_material, km_len);
    zhtp_blake3_final(&h, out, out_len);
    zhtp_wipe(&h, sizeof h);
}
