/* The locator block (docs/protocol.md 3.4): tree coordinates of a packet's origin and
 * destination at the start of its payload, so that forwarders route without a lookup. */
#include "zhtp/wire.h"

zhtp_ssize zhtp_wire_locators_encode(uint8_t *out, size_t cap, const uint16_t *src,
                                     size_t src_depth, const uint16_t *dst, size_t dst_depth)
{
    if (!out || src_depth > ZHTP_WIRE_LOCATOR_MAX_DEPTH ||
        dst_depth > ZHTP_WIRE_LOCATOR_MAX_DEPTH || (src_depth && !src) || (dst_depth && !dst))
        return ZHTP_ERR_INVAL;
    for (size_t i = 0; i < src_depth; i++)
        if (src[i] == 0)
            return ZHTP_ERR_INVAL;
    for (size_t i = 0; i < dst_depth; i++)
        if (dst[i] == 0)
            return ZHTP_ERR_INVAL;
    size_t len = ZHTP_WIRE_LOCATORS_LEN(src_depth, dst_depth);
    if (cap < len)
        return ZHTP_ERR_NOBUF;
    out[0] = (uint8_t)src_depth;
    out[1] = (uint8_t)dst_depth;
    uint8_t *p = out + 2;
    for (size_t i = 0; i < src_depth; i++, p += 2) {
        p[0] = (uint8_t)(src[i] >> 8);
        p[1] = (uint8_t)src[i];
    }
    for (size_t i = 0; i < dst_depth; i++, p += 2) {
        p[0] = (uint8_t)(dst[i] >> 8);
        p[1] = (uint8_t)dst[i];
    }
    return (zhtp_ssize)len;
}

zhtp_ssize zhtp_wire_locators_decode(zhtp_wire_locators *l, const uint8_t *in, size_t len)
{
    if (!l || (!in && len))
        return ZHTP_ERR_INVAL;
    if (len < 2)
        return ZHTP_ERR_WIRE_TRUNCATED;
    size_t need = ZHTP_WIRE_LOCATORS_LEN(in[0], in[1]);
    if (len < need)
        return ZHTP_ERR_WIRE_TRUNCATED;
    /* A port is never 0 (routing.md: ports are 1..65535); rejecting it keeps one encoding. */
    for (size_t i = 2; i < need; i += 2)
        if (in[i] == 0 && in[i + 1] == 0)
            return ZHTP_ERR_WIRE_FIELD;
    l->src_depth = in[0];
    l->dst_depth = in[1];
    l->src_ports = in + 2;
    l->dst_ports = in + 2 + 2u * in[0];
    return (zhtp_ssize)need;
}

void zhtp_wire_locators_ports(uint16_t *out, const uint8_t *ports, size_t depth)
{
    for (size_t i = 0; i < depth; i++)
        out[i] = (uint16_t)(ports[2 * i] << 8 | ports[2 * i + 1]);
}
