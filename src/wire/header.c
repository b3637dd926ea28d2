/* The fixed 128-byte packet header (docs/protocol.md "Header"). */
#include <string.h>

#include "zhtp/wire.h"
#include "wire/bytes.h"

enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 4,
    OFF_OPERATION = 5,
    OFF_FLAGS = 6,
    OFF_HEADER_LEN = 8,
    OFF_HOP_COUNT = 10,
    OFF_HOP_LIMIT = 11,
    OFF_PAYLOAD_LEN = 12,
    OFF_SENDER = 16,
    OFF_TARGET = 48,
    OFF_MESSAGE_ID = 80,
    OFF_TIMESTAMP = 88,
    OFF_RECEIVER_INDEX = 96,
    OFF_COUNTER = 100,
    OFF_ROUTE_BOUND = 108,
    OFF_CLEAR_LEN = 112, /* reserved (zero) unless FLAG_CLEAR_TAIL */
    OFF_RESERVED = 116,
    RESERVED_LEN = ZHTP_WIRE_HEADER_LEN - OFF_RESERVED,
};

_Static_assert(OFF_RESERVED + RESERVED_LEN == ZHTP_WIRE_HEADER_LEN, "header is 128 bytes");
_Static_assert(ZHTP_WIRE_MAX_PACKET < (1u << 24), "fragment total_len is 24 bits");

static bool is_handshake_op(uint8_t op)
{
    return op == ZHTP_WIRE_OP_HANDSHAKE_INIT || op == ZHTP_WIRE_OP_HANDSHAKE_RESPONSE ||
           op == ZHTP_WIRE_OP_COOKIE_REPLY;
}

int zhtp_wire_header_check(const zhtp_wire_header *h)
{
    if (h->version != ZHTP_WIRE_VERSION && h->version != ZHTP_WIRE_VERSION_NEGOTIATION)
        return ZHTP_ERR_WIRE_VERSION;
    if (h->operation == 0 || h->operation > ZHTP_WIRE_OP_MAX_)
        return ZHTP_ERR_WIRE_OPERATION;
    if (h->flags & ~ZHTP_WIRE_FLAGS_KNOWN)
        return ZHTP_ERR_WIRE_RESERVED;
    /* Version 0 exists only so a VERSION_MISMATCH reply is recognisable by every version;
     * it is never sealed because no session can exist across a version gap. */
    if (h->version == ZHTP_WIRE_VERSION_NEGOTIATION &&
        (h->operation != ZHTP_WIRE_OP_ERROR || h->flags != 0))
        return ZHTP_ERR_WIRE_FIELD;
    if (h->hop_limit == 0 || h->hop_count > h->hop_limit)
        return ZHTP_ERR_WIRE_FIELD;
    if (h->payload_len > ZHTP_WIRE_MAX_PAYLOAD)
        return ZHTP_ERR_WIRE_LENGTH;
    if (h->flags & ZHTP_WIRE_FLAG_SEALED) {
        /* Handshakes run before a session exists: they cannot be sealed by one. */
        if (h->receiver_index == 0 || is_handshake_op(h->operation))
            return ZHTP_ERR_WIRE_FIELD;
    } else if (h->receiver_index != 0 || h->counter != 0) {
        return ZHTP_ERR_WIRE_FIELD;
    }
    if (h->flags & ZHTP_WIRE_FLAG_CLEAR_TAIL) {
        /* A clear tail only exists inside a sealed packet, and always carries at least the
         * inner tag that the associated data binds. */
        if (!(h->flags & ZHTP_WIRE_FLAG_SEALED) || h->clear_len < ZHTP_WIRE_CLEAR_TAIL_MIN ||
            h->clear_len > h->payload_len)
            return ZHTP_ERR_WIRE_FIELD;
    } else if (h->clear_len != 0) {
        return ZHTP_ERR_WIRE_FIELD;
    }
    return 0;
}

zhtp_ssize zhtp_wire_header_encode(uint8_t *out, size_t cap, const zhtp_wire_header *h)
{
    int err = zhtp_wire_header_check(h);
    if (err)
        return err;
    if (cap < ZHTP_WIRE_HEADER_LEN)
        return ZHTP_ERR_NOBUF;
    put_u32(out + OFF_MAGIC, ZHTP_WIRE_MAGIC);
    out[OFF_VERSION] = h->version;
    out[OFF_OPERATION] = h->operation;
    put_u16(out + OFF_FLAGS, h->flags);
    put_u16(out + OFF_HEADER_LEN, ZHTP_WIRE_HEADER_LEN);
    out[OFF_HOP_COUNT] = h->hop_count;
    out[OFF_HOP_LIMIT] = h->hop_limit;
    put_u32(out + OFF_PAYLOAD_LEN, h->payload_len);
    memcpy(out + OFF_SENDER, h->sender, ZHTP_NODE_ID_LEN);
    memcpy(out + OFF_TARGET, h->target, ZHTP_NODE_ID_LEN);
    put_u64(out + OFF_MESSAGE_ID, h->message_id);
    put_u64(out + OFF_TIMESTAMP, h->timestamp_ms);
    put_u32(out + OFF_RECEIVER_INDEX, h->receiver_index);
    put_u64(out + OFF_COUNTER, h->counter);
    put_u32(out + OFF_ROUTE_BOUND, h->route_bound);
    put_u32(out + OFF_CLEAR_LEN, h->clear_len); /* 0 without CLEAR_TAIL (checked above) */
    memset(out + OFF_RESERVED, 0, RESERVED_LEN);
    return ZHTP_WIRE_HEADER_LEN;
}

int zhtp_wire_header_decode(zhtp_wire_header *h, const uint8_t *in, size_t in_len)
{
    if (in_len < ZHTP_WIRE_HEADER_LEN)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (get_u32(in + OFF_MAGIC) != ZHTP_WIRE_MAGIC)
        return ZHTP_ERR_WIRE_MAGIC;
    /* Version first: under another version the rest of the header may mean anything. */
    h->version = in[OFF_VERSION];
    if (h->version != ZHTP_WIRE_VERSION && h->version != ZHTP_WIRE_VERSION_NEGOTIATION)
        return ZHTP_ERR_WIRE_VERSION;
    if (get_u16(in + OFF_HEADER_LEN) != ZHTP_WIRE_HEADER_LEN)
        return ZHTP_ERR_WIRE_LENGTH;
    for (size_t i = 0; i < RESERVED_LEN; i++)
        if (in[OFF_RESERVED + i])
            return ZHTP_ERR_WIRE_RESERVED;
    h->operation = in[OFF_OPERATION];
    h->flags = get_u16(in + OFF_FLAGS);
    /* Bytes 112..115 are clear_len with CLEAR_TAIL and reserved without it. */
    h->clear_len = get_u32(in + OFF_CLEAR_LEN);
    if (!(h->flags & ZHTP_WIRE_FLAG_CLEAR_TAIL) && h->clear_len != 0)
        return ZHTP_ERR_WIRE_RESERVED;
    h->hop_count = in[OFF_HOP_COUNT];
    h->hop_limit = in[OFF_HOP_LIMIT];
    h->payload_len = get_u32(in + OFF_PAYLOAD_LEN);
    memcpy(h->sender, in + OFF_SENDER, ZHTP_NODE_ID_LEN);
    memcpy(h->target, in + OFF_TARGET, ZHTP_NODE_ID_LEN);
    h->message_id = get_u64(in + OFF_MESSAGE_ID);
    h->timestamp_ms = get_u64(in + OFF_TIMESTAMP);
    h->receiver_index = get_u32(in + OFF_RECEIVER_INDEX);
    h->counter = get_u64(in + OFF_COUNTER);
    h->route_bound = get_u32(in + OFF_ROUTE_BOUND);
    return zhtp_wire_header_check(h);
}

size_t zhtp_wire_packet_len(const zhtp_wire_header *h)
{
    return ZHTP_WIRE_HEADER_LEN + (size_t)h->payload_len +
           ((h->flags & ZHTP_WIRE_FLAG_SEALED) ? ZHTP_WIRE_TAG_LEN : 0);
}

int zhtp_wire_packet_decode(zhtp_wire_packet *p, const uint8_t *in, size_t in_len)
{
    int err = zhtp_wire_header_decode(&p->hdr, in, in_len);
    if (err)
        return err;
    size_t want = zhtp_wire_packet_len(&p->hdr);
    if (in_len < want)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (in_len > want)
        return ZHTP_ERR_WIRE_LENGTH;
    p->payload.ptr = in + ZHTP_WIRE_HEADER_LEN;
    p->payload.len = p->hdr.payload_len;
    p->tag = (p->hdr.flags & ZHTP_WIRE_FLAG_SEALED) ? in + want - ZHTP_WIRE_TAG_LEN : NULL;
    return 0;
}
