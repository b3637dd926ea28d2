/* Big-endian load/store and a bounds-checked reader, private to wire/. */
#ifndef ZHTP_WIRE_BYTES_H
#define ZHTP_WIRE_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void put_u24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

/* Writes the low |n| bytes of v (n in 1..8), big-endian. */
static inline void put_uint(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static inline uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t get_u24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

static inline uint64_t get_uint(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* A cursor over untrusted input: every take checks the remaining length first, and once a
 * take fails the reader stays failed, so a decoder can read a run of fields and test once. */
typedef struct rd {
    const uint8_t *p;
    size_t left;
    bool bad;
} rd;

static inline const uint8_t *rd_take(rd *r, size_t n)
{
    if (r->bad || n > r->left) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *q = r->p;
    r->p += n;
    r->left -= n;
    return q;
}

static inline uint8_t rd_u8(rd *r)
{
    const uint8_t *q = rd_take(r, 1);
    return q ? q[0] : 0;
}

static inline uint16_t rd_u16(rd *r)
{
    const uint8_t *q = rd_take(r, 2);
    return q ? get_u16(q) : 0;
}

static inline uint32_t rd_u32(rd *r)
{
    const uint8_t *q = rd_take(r, 4);
    return q ? get_u32(q) : 0;
}

static inline uint64_t rd_u64(rd *r)
{
    const uint8_t *q = rd_take(r, 8);
    return q ? get_u64(q) : 0;
}

static inline void rd_copy(rd *r, uint8_t *out, size_t n)
{
    const uint8_t *q = rd_take(r, n);
    if (q)
        memcpy(out, q, n);
    else
        memset(out, 0, n);
}

#endif
