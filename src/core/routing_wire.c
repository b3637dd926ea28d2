/* The routing announcement codec: pure functions over (bytes, length). Layout in
 * include/zhtp/routing.h and docs/routing.md. Every length is checked before it is used. */
#include <string.h>

#include "zhtp/routing.h"

#define HDR_LEN 46u
#define HOP_LEN 6u

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int zhtp_route_announce_decode(const uint8_t *buf, size_t len, zhtp_route_announce *out, size_t cap)
{
    if (!out || (!buf && len) || (cap && (!out->ports || !out->tags)))
        return ZHTP_ERR_INVAL;
    if (len < HDR_LEN)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (buf[0] != ZHTP_ROUTE_MSG_ANNOUNCE)
        return ZHTP_ERR_WIRE_OPERATION;
    if (buf[1] != 0)
        return ZHTP_ERR_WIRE_RESERVED;
    uint16_t your_port = get16(buf + 42);
    uint16_t depth = get16(buf + 44);
    if (your_port == 0 || depth > ZHTP_ROUTE_MAX_DEPTH)
        return ZHTP_ERR_WIRE_FIELD;
    /* depth <= 2048, so this cannot overflow. */
    size_t need = HDR_LEN + HOP_LEN * (size_t)depth;
    if (len < need)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (len > need)
        return ZHTP_ERR_WIRE_LENGTH;
    /* Validate every hop before writing anything the caller could mistake for a result. */
    for (size_t i = 0; i < depth; i++)
        if (get16(buf + HDR_LEN + HOP_LEN * i) == 0)
            return ZHTP_ERR_WIRE_FIELD;
    if (depth > cap && cap != 0)
        return ZHTP_ERR_NOBUF;
    memcpy(out->root_id, buf + 2, ZHTP_NODE_ID_LEN);
    out->root_seq = get32(buf + 34);
    out->cost = get32(buf + 38);
    out->your_port = your_port;
    out->depth = depth;
    if (cap) {
        for (size_t i = 0; i < depth; i++) {
            out->ports[i] = get16(buf + HDR_LEN + HOP_LEN * i);
            out->tags[i] = get32(buf + HDR_LEN + HOP_LEN * i + 2);
        }
    }
    return ZHTP_OK;
}

zhtp_ssize zhtp_route_announce_encode(const zhtp_route_announce *a, uint8_t *out, size_t out_cap)
{
    if (!a || a->depth > ZHTP_ROUTE_MAX_DEPTH || a->your_port == 0 ||
        (a->depth && (!a->ports || !a->tags)))
        return ZHTP_ERR_INVAL;
    size_t need = ZHTP_ROUTE_ANNOUNCE_LEN(a->depth);
    if (!out || out_cap < need)
        return ZHTP_ERR_NOBUF;
    for (size_t i = 0; i < a->depth; i++)
        if (a->ports[i] == 0)
            return ZHTP_ERR_INVAL;
    out[0] = ZHTP_ROUTE_MSG_ANNOUNCE;
    out[1] = 0;
    memcpy(out + 2, a->root_id, ZHTP_NODE_ID_LEN);
    put32(out + 34, a->root_seq);
    put32(out + 38, a->cost);
    put16(out + 42, a->your_port);
    put16(out + 44, a->depth);
    for (size_t i = 0; i < a->depth; i++) {
        put16(out + HDR_LEN + HOP_LEN * i, a->ports[i]);
        put32(out + HDR_LEN + HOP_LEN * i + 2, a->tags[i]);
    }
    return (zhtp_ssize)need;
}
