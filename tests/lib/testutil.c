#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zhtp/util.h"

#include "testutil.h"

const char *zt_vectors_dir(void)
{
    const char *d = getenv("ZHTP_VECTORS_DIR");
    return d && *d ? d : "../shared/vectors";
}

json_t *zt_load_vectors(const char *relpath)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", zt_vectors_dir(), relpath);
    FILE *f = fopen(path, "rb");
    if (!f) {
        print_message("# vectors absent: %s\n", path);
        return NULL;
    }
    fclose(f);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root)
        fail_msg("%s:%d: %s", path, err.line, err.text);
    return root;
}

uint8_t *zt_hex_member(const json_t *obj, const char *key, size_t *len)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || !json_is_string(v))
        fail_msg("vector member '%s' missing or not a string", key);
    const char *hex = json_string_value(v);
    size_t hl = strlen(hex);
    uint8_t *out = malloc(hl / 2 + 1);
    assert_non_null(out);
    zhtp_ssize n = zhtp_hex_decode(out, hl / 2 + 1, hex, hl);
    if (n < 0)
        fail_msg("vector member '%s' is not hex", key);
    *len = (size_t)n;
    return out;
}

void zt_hex_member_exact(const json_t *obj, const char *key, uint8_t *out, size_t len)
{
    size_t n;
    uint8_t *buf = zt_hex_member(obj, key, &n);
    if (n != len)
        fail_msg("vector member '%s': %zu bytes, expected %zu", key, n, len);
    memcpy(out, buf, len);
    free(buf);
}

void zt_rng_seed(zt_rng *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t zt_rng_u64(zt_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void zt_rng_bytes(zt_rng *r, void *out, size_t len)
{
    uint8_t *p = out;
    while (len > 0) {
        uint64_t v = zt_rng_u64(r);
        size_t n = len < 8 ? len : 8;
        memcpy(p, &v, n);
        p += n;
        len -= n;
    }
}

uint64_t zt_rng_below(zt_rng *r, uint64_t bound)
{
    /* Rejection keeps it uniform; bias would not matter for tests, but it costs nothing. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t v;
    do
        v = zt_rng_u64(r);
    while (v >= limit);
    return v % bound;
}
