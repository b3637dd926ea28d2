/* BLAKE3: the official test vectors (all three modes, 131-byte XOF output and the 32-byte
 * default) for every implementation this CPU can run, and differential checks: incremental
 * == one-shot at seeded random splits, final_seek == a slice of one long output, final()
 * leaves the state usable, and every SIMD path == the portable one on seeded random inputs. */
#include <stdlib.h>
#include <string.h>

#include "zhtp/blake3.h"
#include "zhtp/err.h"
#include "zhtp/util.h"

#include "crypto/blake3/blake3_impl.h"

#include "testutil.h"

#define XOF_LEN 131

/* Selects the implementation named by the test's state, or skips when this CPU or build
 * lacks it: a path that cannot run here must never be counted as passed. */
static void use_impl(void **state)
{
    const char *name = *state;
    int rc = zhtp_blake3_set_impl(name);
    if (rc == ZHTP_ERR_UNSUPPORTED) {
        print_message("# %s not available on this CPU or build\n", name);
        skip();
    }
    assert_int_equal(rc, ZHTP_OK);
    assert_string_equal(zhtp_blake3_impl(), name);
}

static int back_to_auto(void **state)
{
    (void)state;
    return zhtp_blake3_set_impl("auto");
}

static void fill_vector_input(uint8_t *in, size_t len)
{
    for (size_t i = 0; i < len; i++)
        in[i] = (uint8_t)(i % 251);
}

/* Hashes in with the mode's hasher, feeding it in the given pieces. mode: 0 hash, 1 keyed,
 * 2 derive_key. */
static void hash_pieces(int mode, const uint8_t key[32], const char *context, const uint8_t *in,
                        size_t len, const size_t *cuts, size_t num_cuts, uint8_t *out,
                        size_t out_len)
{
    zhtp_blake3 h;
    if (mode == 0)
        zhtp_blake3_init(&h);
    else if (mode == 1)
        zhtp_blake3_init_keyed(&h, key);
    else
        zhtp_blake3_init_derive_key(&h, context);
    size_t pos = 0;
    for (size_t i = 0; i < num_cuts; i++) {
        assert_true(cuts[i] >= pos && cuts[i] <= len);
        zhtp_blake3_update(&h, in + pos, cuts[i] - pos);
        pos = cuts[i];
    }
    zhtp_blake3_update(&h, in + pos, len - pos);
    zhtp_blake3_final(&h, out, out_len);
}

static void oneshot(int mode, const uint8_t key[32], const char *context, const uint8_t *in,
                    size_t len, uint8_t *out, size_t out_len)
{
    if (mode == 0)
        zhtp_blake3_hash(out, out_len, in, len);
    else if (mode == 1)
        zhtp_blake3_keyed_hash(out, out_len, key, in, len);
    else
        zhtp_blake3_derive_key(out, out_len, context, in, len);
}

static void official_vectors_all_modes(void **state)
{
    use_impl(state);
    json_t *root = zt_load_vectors("blake3/test_vectors.json");
    if (root == NULL) {
        print_message("# blake3/test_vectors.json absent\n");
        skip();
    }
    const char *key_str = json_string_value(json_object_get(root, "key"));
    const char *context = json_string_value(json_object_get(root, "context_string"));
    assert_non_null(key_str);
    assert_non_null(context);
    assert_int_equal(strlen(key_str), ZHTP_BLAKE3_KEY_LEN);
    uint8_t key[ZHTP_BLAKE3_KEY_LEN];
    memcpy(key, key_str, sizeof key);

    static const char *const modes[3] = {"hash", "keyed_hash", "derive_key"};
    const json_t *cases = json_object_get(root, "cases");
    assert_true(json_array_size(cases) >= 35);
    size_t i, checked = 0;
    const json_t *c;
    json_array_foreach(cases, i, c)
    {
        size_t len = (size_t)json_integer_value(json_object_get(c, "input_len"));
        uint8_t *in = malloc(len + 1);
        assert_non_null(in);
        fill_vector_input(in, len);
        for (int m = 0; m < 3; m++) {
            uint8_t want[XOF_LEN], got[XOF_LEN], got32[ZHTP_BLAKE3_OUT_LEN];
            zt_hex_member_exact(c, modes[m], want, sizeof want);
            oneshot(m, key, context, in, len, got, sizeof got);
            assert_memory_equal(got, want, sizeof want);
            oneshot(m, key, context, in, len, got32, sizeof got32);
            assert_memory_equal(got32, want, sizeof got32);
            /* The incremental API in 1000-byte pieces: not aligned to chunks or blocks. */
            size_t cuts[128], n = 0;
            for (size_t p = 1000; p < len && n < 128; p += 1000)
                cuts[n++] = p;
            memset(got, 0, sizeof got);
            hash_pieces(m, key, context, in, len, cuts, n, got, sizeof got);
            assert_memory_equal(got, want, sizeof want);
            checked++;
        }
        free(in);
    }
    assert_int_equal(checked, 3 * json_array_size(cases));
    json_decref(root);
}

static void incremental_random_splits_match_oneshot(void **state)
{
    use_impl(state);
    zt_rng r;
    zt_rng_seed(&r, 3);
    const size_t max_len = 70 * 1024;
    uint8_t *in = malloc(max_len);
    assert_non_null(in);
    zt_rng_bytes(&r, in, max_len);
    uint8_t key[32];
    zt_rng_bytes(&r, key, sizeof key);
    for (int iter = 0; iter < 60; iter++) {
        size_t len = (size_t)zt_rng_below(&r, max_len + 1);
        int mode = (int)zt_rng_below(&r, 3);
        size_t cuts[8], n = (size_t)zt_rng_below(&r, 9);
        for (size_t k = 0; k < n; k++)
            cuts[k] = (size_t)zt_rng_below(&r, len + 1);
        /* Sorted cut points; duplicates give empty updates, which must be harmless. */
        for (size_t a = 1; a < n; a++)
            for (size_t b = a; b > 0 && cuts[b - 1] > cuts[b]; b--) {
                size_t t = cuts[b];
                cuts[b] = cuts[b - 1];
                cuts[b - 1] = t;
            }
        uint8_t want[80], got[80];
        oneshot(mode, key, "zhtp test context", in, len, want, sizeof want);
        hash_pieces(mode, key, "zhtp test context", in, len, cuts, n, got, sizeof got);
        assert_memory_equal(got, want, sizeof want);
    }
    /* Byte-at-a-time over several chunks crosses every block and chunk boundary. */
    {
        zhtp_blake3 h;
        uint8_t want[32], got[32];
        zhtp_blake3_init(&h);
        for (size_t k = 0; k < 5000; k++)
            zhtp_blake3_update(&h, in + k, 1);
        zhtp_blake3_final(&h, got, sizeof got);
        zhtp_blake3_hash(want, sizeof want, in, 5000);
        assert_memory_equal(got, want, sizeof want);
    }
    free(in);
}

static void final_seek_matches_slice_of_long_output(void **state)
{
    use_impl(state);
    zt_rng r;
    zt_rng_seed(&r, 4);
    uint8_t in[3000];
    zt_rng_bytes(&r, in, sizeof in);
    static uint8_t longout[4096];
    const size_t lens[] = {0, 1, 64, 1024, 1025, 3000};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        zhtp_blake3 h;
        zhtp_blake3_init(&h);
        zhtp_blake3_update(&h, in, lens[li]);
        zhtp_blake3_final(&h, longout, sizeof longout);
        for (int k = 0; k < 50; k++) {
            uint64_t seek = zt_rng_below(&r, sizeof longout);
            size_t n = (size_t)zt_rng_below(&r, sizeof longout - seek + 1);
            uint8_t got[4096];
            zhtp_blake3_final_seek(&h, seek, got, n);
            assert_memory_equal(got, longout + seek, n);
        }
    }
}

static void final_does_not_change_state(void **state)
{
    use_impl(state);
    zt_rng r;
    zt_rng_seed(&r, 5);
    uint8_t in[9000];
    zt_rng_bytes(&r, in, sizeof in);
    const size_t firsts[] = {0, 1, 1024, 2048, 4096, 5000};
    for (size_t fi = 0; fi < sizeof firsts / sizeof firsts[0]; fi++) {
        size_t first = firsts[fi];
        zhtp_blake3 h;
        zhtp_blake3_init(&h);
        zhtp_blake3_update(&h, in, first);
        zhtp_blake3 copy = h;
        uint8_t a[100], b[100], want[100];
        zhtp_blake3_final(&h, a, sizeof a);
        zhtp_blake3_final(&h, b, sizeof b);
        assert_memory_equal(a, b, sizeof a);
        assert_memory_equal(&h, &copy, sizeof h);
        zhtp_blake3_hash(want, sizeof want, in, first);
        assert_memory_equal(a, want, sizeof want);
        /* More input after final: the result is that of the whole input. */
        zhtp_blake3_update(&h, in + first, sizeof in - first);
        zhtp_blake3_final(&h, a, sizeof a);
        zhtp_blake3_hash(want, sizeof want, in, sizeof in);
        assert_memory_equal(a, want, sizeof want);
    }
}

/* Lengths that stress the tree: around chunk counts 1..257 and powers of two, then random. */
static size_t pick_len(zt_rng *r, int iter, size_t max_len)
{
    static const size_t chunks[] = {1,  2,  3,  4,  5,  7,   8,   9,   15,  16,  17,  31,
                                    32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 289};
    const size_t n = sizeof chunks / sizeof chunks[0];
    if ((size_t)iter < 3 * n) {
        size_t len = chunks[iter / 3] * ZHTP_BLAKE3_CHUNK_LEN + (size_t)(iter % 3) - 1;
        return len < max_len ? len : max_len;
    }
    return (size_t)zt_rng_below(r, max_len + 1);
}

static void simd_matches_portable_on_random_inputs(void **state)
{
    /* Availability first, so an absent path is skipped before anything is computed. */
    use_impl(state);
    const char *name = *state;
    zt_rng r;
    zt_rng_seed(&r, 6);
    const size_t max_len = 300 * 1024;
    uint8_t *in = malloc(max_len);
    assert_non_null(in);
    zt_rng_bytes(&r, in, max_len);
    uint8_t key[32];
    zt_rng_bytes(&r, key, sizeof key);
    for (int iter = 0; iter < 120; iter++) {
        size_t len = pick_len(&r, iter, max_len);
        int mode = (int)zt_rng_below(&r, 3);
        size_t out_len = 1 + (size_t)zt_rng_below(&r, 300);
        size_t cut = (size_t)zt_rng_below(&r, len + 1);
        uint8_t want[300], got[300];
        assert_int_equal(zhtp_blake3_set_impl("portable"), ZHTP_OK);
        oneshot(mode, key, "zhtp differential", in, len, want, out_len);
        assert_int_equal(zhtp_blake3_set_impl(name), ZHTP_OK);
        oneshot(mode, key, "zhtp differential", in, len, got, out_len);
        assert_memory_equal(got, want, out_len);
        hash_pieces(mode, key, "zhtp differential", in, len, &cut, 1, got, out_len);
        assert_memory_equal(got, want, out_len);
    }
    free(in);
}

/* The SIMD primitives themselves against the portable ones, with what whole-input tests
 * cannot reach: chunk counters that carry into the high word inside one SIMD row (inputs
 * past 4 TiB), every lane count, odd flags and partial block lengths. */
static void simd_primitives_match_portable_at_counter_carry(void **state)
{
    use_impl(state);
#if defined(ZHTP_BLAKE3_X86)
    const char *name = *state;
    b3_hash_many_fn *many =
        strcmp(name, "avx2") == 0 ? zhtp_blake3_hash_many_avx2 : zhtp_blake3_hash_many_sse41;
    zt_rng r;
    zt_rng_seed(&r, 7);
    static uint8_t in[17 * ZHTP_BLAKE3_CHUNK_LEN];
    zt_rng_bytes(&r, in, sizeof in);
    const uint8_t *inputs[17];
    for (int i = 0; i < 17; i++)
        inputs[i] = in + (size_t)i * ZHTP_BLAKE3_CHUNK_LEN;
    const uint64_t counters[] = {0, 5, 0xFFFFFFFBull, 0xFFFFFFFFull, 0x123456789ull};
    for (size_t ci = 0; ci < sizeof counters / sizeof counters[0]; ci++) {
        for (size_t num = 0; num <= 17; num++) {
            for (int kind = 0; kind < 2; kind++) {
                uint32_t key[8];
                for (int i = 0; i < 8; i++)
                    key[i] = (uint32_t)zt_rng_u64(&r);
                size_t blocks = kind == 0 ? 16 : 1;
                uint8_t flags = (uint8_t)zt_rng_below(&r, 128);
                uint8_t want[17 * 32], got[17 * 32];
                memset(got, 0xAA, sizeof got);
                zhtp_blake3_hash_many_portable(inputs, num, blocks, key, counters[ci], kind == 0,
                                               flags, 1, 2, want);
                many(inputs, num, blocks, key, counters[ci], kind == 0, flags, 1, 2, got);
                assert_memory_equal(got, want, num * 32);
            }
        }
    }
    for (int k = 0; k < 200; k++) {
        uint32_t cv[8], cv2[8];
        uint8_t block[64], want[64], got[64];
        for (int i = 0; i < 8; i++)
            cv[i] = (uint32_t)zt_rng_u64(&r);
        zt_rng_bytes(&r, block, sizeof block);
        uint64_t counter = zt_rng_u64(&r);
        uint8_t block_len = (uint8_t)zt_rng_below(&r, 65), flags = (uint8_t)zt_rng_below(&r, 128);
        zhtp_blake3_compress_xof_portable(cv, block, block_len, counter, flags, want);
        zhtp_blake3_compress_xof_sse41(cv, block, block_len, counter, flags, got);
        assert_memory_equal(got, want, sizeof want);
        memcpy(cv2, cv, sizeof cv);
        zhtp_blake3_compress_in_place_portable(cv, block, block_len, counter, flags);
        zhtp_blake3_compress_in_place_sse41(cv2, block, block_len, counter, flags);
        assert_memory_equal(cv2, cv, sizeof cv);
    }
#else
    fail_msg("an x86 SIMD implementation was reported available on a non-x86 build");
#endif
}

static void derive_key_raw_matches_derive_key(void **state)
{
    zhtp_blake3 a, b;
    uint8_t oa[32], ob[32], oc[32];
    zhtp_blake3_init_derive_key(&a, "zhtp 2026 node id");
    zhtp_blake3_init_derive_key_raw(&b, "zhtp 2026 node id", 17);
    zhtp_blake3_update(&a, "material", 8);
    zhtp_blake3_update(&b, "material", 8);
    zhtp_blake3_final(&a, oa, sizeof oa);
    zhtp_blake3_final(&b, ob, sizeof ob);
    assert_memory_equal(oa, ob, sizeof oa);
    /* A different context gives a different key. */
    zhtp_blake3_derive_key(oc, sizeof oc, "zhtp 2026 node iD", "material", 8);
    assert_memory_not_equal(oa, oc, sizeof oa);
}

static void set_impl_rejects_unknown_name_and_auto_restores(void **state)
{
    assert_int_equal(zhtp_blake3_set_impl("mmx"), ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_blake3_set_impl(NULL), ZHTP_ERR_INVAL);
    /* No AVX-512 path is built yet: it must say so rather than run something else. */
    assert_int_equal(zhtp_blake3_set_impl("avx512"), ZHTP_ERR_UNSUPPORTED);
    assert_int_equal(zhtp_blake3_set_impl("portable"), ZHTP_OK);
    assert_string_equal(zhtp_blake3_impl(), "portable");
    assert_int_equal(zhtp_blake3_set_impl("auto"), ZHTP_OK);
    const char *name = zhtp_blake3_impl();
    assert_true(strcmp(name, "portable") == 0 || strcmp(name, "sse41") == 0 ||
                strcmp(name, "avx2") == 0);
    print_message("# auto-detected implementation: %s\n", name);
}

#define PER_IMPL(fn, impl)                                                                         \
    {                                                                                              \
#fn "_" impl, fn, NULL, back_to_auto, (void *)impl                                         \
    }

/* Every implementation the build can contain gets each per-implementation case; one this CPU
 * lacks reports SKIP. (AVX-512 is not implemented, so it has no cases: see the last test.) */
int main(void)
{
    const struct CMUnitTest tests[] = {
        PER_IMPL(official_vectors_all_modes, "portable"),
        PER_IMPL(official_vectors_all_modes, "sse41"),
        PER_IMPL(official_vectors_all_modes, "avx2"),
        PER_IMPL(incremental_random_splits_match_oneshot, "portable"),
        PER_IMPL(incremental_random_splits_match_oneshot, "sse41"),
        PER_IMPL(incremental_random_splits_match_oneshot, "avx2"),
        PER_IMPL(final_seek_matches_slice_of_long_output, "portable"),
        PER_IMPL(final_seek_matches_slice_of_long_output, "avx2"),
        PER_IMPL(final_does_not_change_state, "portable"),
        PER_IMPL(final_does_not_change_state, "avx2"),
        PER_IMPL(simd_matches_portable_on_random_inputs, "sse41"),
        PER_IMPL(simd_matches_portable_on_random_inputs, "avx2"),
        PER_IMPL(simd_primitives_match_portable_at_counter_carry, "sse41"),
        PER_IMPL(simd_primitives_match_portable_at_counter_carry, "avx2"),
        cmocka_unit_test(derive_key_raw_matches_derive_key),
        cmocka_unit_test(set_impl_rejects_unknown_name_and_auto_restores),
    };
    return cmocka_run_group_tests_name("blake3", tests, NULL, NULL);
}
