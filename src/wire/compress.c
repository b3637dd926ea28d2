/* Link frames and the compressed header for narrow links (docs/protocol.md "Compressed
 * header"), in the manner of 6LoWPAN IPHC: two dispatch bytes say which header fields are
 * elided because the link session already knows them, and how wide the rest are.
 *
 *   byte 0: 1 1 S T M Z C C    S sender = ctx.sender_id      T target = ctx.target_id
 *                              M message_id = counter        Z timestamp = 0
 *                              CC counter width 00:8 01:4 10:2 11:1 bytes
 *   byte 1: O O O O I I H F    OOOO operation (1..14)
 *                              II receiver index width 00:4 01:2 10:1 (11 reserved)
 *                              H hop_count = 0, hop_limit = DEFAULT, route_bound = NONE
 *                              F flags inline (F = 0: flags = SEALED)
 *   then, in this order, what is not elided: flags u16, hop_count u8 + hop_limit u8 +
 *   route_bound u32, receiver_index, counter, message_id u64, timestamp u64, sender[32],
 *   target[32].
 * Unsealed packets carry no index or counter: then M = 0, CC = 00 and II = 00.
 * The full 128-byte header rebuilt from this is the AEAD's associated data, so a field
 * elided against the wrong context makes the tag fail rather than mislead. */
#include <string.h>

#include "zhtp/wire.h"
#include "wire/bytes.h"

#define D0_PREFIX 0xC0
#define D0_S      0x20
#define D0_T      0x10
#define D0_M      0x08
#define D0_Z      0x04
#define D0_CC     0x03
#define D1_OP_SH  4
#define D1_II_SH  2
#define D1_II     0x0C
#define D1_H      0x02
#define D1_F      0x01

static const unsigned counter_width[4] = {8, 4, 2, 1};
static const unsigned index_width[3] = {4, 2, 1};

enum zhtp_wire_frame_kind zhtp_wire_frame_kind(const uint8_t *frame, size_t len)
{
    if (!frame || len == 0)
        return ZHTP_WIRE_FRAME_INVALID;
    if (frame[0] == (uint8_t)(ZHTP_WIRE_MAGIC >> 24))
        return ZHTP_WIRE_FRAME_FULL;
    if ((frame[0] & 0xC0) == 0xC0)
        return ZHTP_WIRE_FRAME_COMPRESSED;
    if ((frame[0] & 0xC0) == 0x80)
        return ZHTP_WIRE_FRAME_FRAGMENT;
    return ZHTP_WIRE_FRAME_INVALID;
}

/* RFC 9000 appendix A.3 with 64-bit counters: the value congruent to |truncated| modulo
 * 2^bits that is nearest to the next expected counter. */
uint64_t zhtp_wire_counter_expand(uint64_t truncated, unsigned bytes, uint64_t counter_base)
{
    if (bytes >= 8)
        return truncated;
    uint64_t expected = counter_base == ZHTP_WIRE_COUNTER_NONE ? 0 : counter_base + 1;
    uint64_t win = UINT64_C(1) << (8 * bytes);
    uint64_t hwin = win / 2;
    uint64_t mask = win - 1;
    uint64_t cand = (expected & ~mask) | (truncated & mask);
    if (expected >= hwin && cand <= expected - hwin && cand <= UINT64_MAX - win)
        return cand + win;
    if (expected <= UINT64_MAX - hwin && cand > expected + hwin && cand >= win)
        return cand - win;
    return cand;
}

/* The narrowest width that the receiver can expand correctly, assuming it has seen
 * counter_base: the distance from base must stay below half the window. */
static unsigned pick_counter_width(uint64_t counter, uint64_t base)
{
    uint64_t dist;
    if (base == ZHTP_WIRE_COUNTER_NONE) {
        if (counter == UINT64_MAX)
            return 8;
        dist = counter + 1;
    } else if (counter > base) {
        dist = counter - base;
    } else {
        return 8; /* at or behind the base: only the full value is unambiguous */
    }
    if (dist < (UINT64_C(1) << 7))
        return 1;
    if (dist < (UINT64_C(1) << 15))
        return 2;
    if (dist < (UINT64_C(1) << 31))
        return 4;
    return 8;
}

zhtp_ssize zhtp_wire_compressed_header_encode(uint8_t *out, size_t cap, const zhtp_wire_header *h,
                                              const zhtp_wire_link_ctx *ctx)
{
    int err = zhtp_wire_header_check(h);
    if (err)
        return err;
    if (h->version != ctx->version || h->version == ZHTP_WIRE_VERSION_NEGOTIATION)
        return ZHTP_ERR_WIRE_VERSION;
    /* The compressed header has no field for clear_len: narrow links seal the whole payload
     * (docs/protocol.md section 8). */
    if (h->flags & ZHTP_WIRE_FLAG_CLEAR_TAIL)
        return ZHTP_ERR_WIRE_FIELD;

    bool sealed = (h->flags & ZHTP_WIRE_FLAG_SEALED) != 0;
    uint8_t d0 = D0_PREFIX, d1 = (uint8_t)(h->operation << D1_OP_SH);
    unsigned cw = 0, iw = 0;
    if (memcmp(h->sender, ctx->sender_id, ZHTP_NODE_ID_LEN) == 0)
        d0 |= D0_S;
    if (memcmp(h->target, ctx->target_id, ZHTP_NODE_ID_LEN) == 0)
        d0 |= D0_T;
    if (h->timestamp_ms == 0)
        d0 |= D0_Z;
    if (sealed) {
        cw = pick_counter_width(h->counter, ctx->counter_base);
        d0 |= (uint8_t)(cw == 8 ? 0 : cw == 4 ? 1 : cw == 2 ? 2 : 3);
        if (h->message_id == h->counter)
            d0 |= D0_M;
        iw = h->receiver_index <= 0xFF ? 1 : h->receiver_index <= 0xFFFF ? 2 : 4;
        d1 |= (uint8_t)((iw == 4 ? 0 : iw == 2 ? 1 : 2) << D1_II_SH);
    }
    bool hops_default = h->hop_count == 0 && h->hop_limit == ZHTP_WIRE_DEFAULT_HOP_LIMIT &&
                        h->route_bound == ZHTP_WIRE_ROUTE_BOUND_NONE;
    if (hops_default)
        d1 |= D1_H;
    if (h->flags != ZHTP_WIRE_FLAG_SEALED)
        d1 |= D1_F;

    size_t len = 2 + ((d1 & D1_F) ? 2 : 0) + (hops_default ? 0 : 6) + iw + cw +
                 ((d0 & D0_M) ? 0 : 8) + ((d0 & D0_Z) ? 0 : 8) +
                 ((d0 & D0_S) ? 0 : ZHTP_NODE_ID_LEN) + ((d0 & D0_T) ? 0 : ZHTP_NODE_ID_LEN);
    if (len > cap)
        return ZHTP_ERR_NOBUF;

    uint8_t *p = out;
    *p++ = d0;
    *p++ = d1;
    if (d1 & D1_F) {
        put_u16(p, h->flags);
        p += 2;
    }
    if (!hops_default) {
        *p++ = h->hop_count;
        *p++ = h->hop_limit;
        put_u32(p, h->route_bound);
        p += 4;
    }
    if (sealed) {
        put_uint(p, h->receiver_index, iw);
        p += iw;
        put_uint(p, h->counter, cw);
        p += cw;
    }
    if (!(d0 & D0_M)) {
        put_u64(p, h->message_id);
        p += 8;
    }
    if (!(d0 & D0_Z)) {
        put_u64(p, h->timestamp_ms);
        p += 8;
    }
    if (!(d0 & D0_S)) {
        memcpy(p, h->sender, ZHTP_NODE_ID_LEN);
        p += ZHTP_NODE_ID_LEN;
    }
    if (!(d0 & D0_T)) {
        memcpy(p, h->target, ZHTP_NODE_ID_LEN);
        p += ZHTP_NODE_ID_LEN;
    }
    return (zhtp_ssize)(p - out);
}

zhtp_ssize zhtp_wire_compressed_header_decode(zhtp_wire_header *h, const uint8_t *in, size_t in_len,
                                              const zhtp_wire_link_ctx *ctx)
{
    if (zhtp_wire_frame_kind(in, in_len) != ZHTP_WIRE_FRAME_COMPRESSED)
        return ZHTP_ERR_INVAL;
    if (ctx->version == ZHTP_WIRE_VERSION_NEGOTIATION)
        return ZHTP_ERR_WIRE_VERSION; /* negotiation packets always travel in full */
    rd r = {in, in_len, false};
    uint8_t d0 = rd_u8(&r), d1 = rd_u8(&r);
    if (r.bad)
        return ZHTP_ERR_WIRE_TRUNCATED;
    memset(h, 0, sizeof *h);
    h->version = ctx->version;
    h->operation = (uint8_t)(d1 >> D1_OP_SH);
    if (h->operation == 0 || h->operation > ZHTP_WIRE_OP_MAX_)
        return ZHTP_ERR_WIRE_OPERATION;
    unsigned ii = (d1 & D1_II) >> D1_II_SH;
    if (ii == 3)
        return ZHTP_ERR_WIRE_RESERVED;

    h->flags = (d1 & D1_F) ? rd_u16(&r) : ZHTP_WIRE_FLAG_SEALED;
    if (d1 & D1_H) {
        h->hop_limit = ZHTP_WIRE_DEFAULT_HOP_LIMIT;
        h->route_bound = ZHTP_WIRE_ROUTE_BOUND_NONE;
    } else {
        h->hop_count = rd_u8(&r);
        h->hop_limit = rd_u8(&r);
        h->route_bound = rd_u32(&r);
    }
    if (r.bad)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (h->flags & ~ZHTP_WIRE_FLAGS_KNOWN)
        return ZHTP_ERR_WIRE_RESERVED;
    if (h->flags & ZHTP_WIRE_FLAG_CLEAR_TAIL)
        return ZHTP_ERR_WIRE_FIELD; /* never compressed: no room for clear_len */
    bool sealed = (h->flags & ZHTP_WIRE_FLAG_SEALED) != 0;
    if (sealed) {
        unsigned iw = index_width[ii], cw = counter_width[d0 & D0_CC];
        const uint8_t *q = rd_take(&r, iw);
        h->receiver_index = q ? (uint32_t)get_uint(q, iw) : 0;
        q = rd_take(&r, cw);
        if (q)
            h->counter = zhtp_wire_counter_expand(get_uint(q, cw), cw, ctx->counter_base);
    } else if ((d0 & (D0_M | D0_CC)) || ii) {
        /* Without a session there is no index or counter to shorten or derive from. */
        return ZHTP_ERR_WIRE_RESERVED;
    }
    h->message_id = (d0 & D0_M) ? h->counter : rd_u64(&r);
    h->timestamp_ms = (d0 & D0_Z) ? 0 : rd_u64(&r);
    if (d0 & D0_S)
        memcpy(h->sender, ctx->sender_id, ZHTP_NODE_ID_LEN);
    else
        rd_copy(&r, h->sender, ZHTP_NODE_ID_LEN);
    if (d0 & D0_T)
        memcpy(h->target, ctx->target_id, ZHTP_NODE_ID_LEN);
    else
        rd_copy(&r, h->target, ZHTP_NODE_ID_LEN);
    if (r.bad)
        return ZHTP_ERR_WIRE_TRUNCATED;

    size_t hlen = in_len - r.left;
    size_t tail = sealed ? ZHTP_WIRE_TAG_LEN : 0;
    if (r.left < tail)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (r.left - tail > ZHTP_WIRE_MAX_PAYLOAD)
        return ZHTP_ERR_WIRE_LENGTH;
    h->payload_len = (uint32_t)(r.left - tail);
    int err = zhtp_wire_header_check(h);
    if (err)
        return err;
    return (zhtp_ssize)hlen;
}

zhtp_ssize zhtp_wire_packet_compress(uint8_t *out, size_t cap, const uint8_t *in, size_t in_len,
                                     const zhtp_wire_link_ctx *ctx)
{
    zhtp_wire_packet p;
    int err = zhtp_wire_packet_decode(&p, in, in_len);
    if (err)
        return err;
    uint8_t hdr[ZHTP_WIRE_COMPRESSED_MAX_HEADER];
    zhtp_ssize hl = zhtp_wire_compressed_header_encode(hdr, sizeof hdr, &p.hdr, ctx);
    if (hl < 0)
        return hl;
    size_t rest = in_len - ZHTP_WIRE_HEADER_LEN;
    if ((size_t)hl + rest > cap)
        return ZHTP_ERR_NOBUF;
    memcpy(out, hdr, (size_t)hl);
    memmove(out + hl, in + ZHTP_WIRE_HEADER_LEN, rest);
    return hl + (zhtp_ssize)rest;
}

zhtp_ssize zhtp_wire_packet_decompress(uint8_t *out, size_t cap, const uint8_t *in, size_t in_len,
                                       const zhtp_wire_link_ctx *ctx)
{
    zhtp_wire_header h;
    zhtp_ssize hl = zhtp_wire_compressed_header_decode(&h, in, in_len, ctx);
    if (hl < 0)
        return hl;
    size_t rest = in_len - (size_t)hl;
    if (ZHTP_WIRE_HEADER_LEN + rest > cap)
        return ZHTP_ERR_NOBUF;
    memmove(out + ZHTP_WIRE_HEADER_LEN, in + hl, rest);
    zhtp_ssize w = zhtp_wire_header_encode(out, cap, &h);
    if (w < 0)
        return w; /* unreachable: decode already checked h */
    return ZHTP_WIRE_HEADER_LEN + (zhtp_ssize)rest;
}
