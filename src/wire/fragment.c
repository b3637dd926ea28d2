/* Fragment frames (docs/protocol.md "Fragmentation").
 *
 *   byte 0      1 0 0 0 0 0 0 0   dispatch 10, six reserved bits (zero)
 *   bytes 1-2   tag          u16  packet tag, chosen by the sender per link
 *   bytes 3-5   total_len    u24  length of the whole packet
 *   bytes 6-7   offset8      u16  byte offset of this fragment's data / 8
 *   bytes 8-    data              1..mtu-8 bytes
 * Offsets count in 8-byte units, as in IPv6 and 6LoWPAN, so 16 bits reach 512 KiB; in
 * exchange every fragment but the last carries a multiple of 8 bytes, which also lets the
 * reassembler track what arrived in 8-byte blocks. */
#include "zhtp/wire.h"
#include "wire/bytes.h"

#define FRAG_DISPATCH 0x80

static size_t data_per_fragment(size_t mtu)
{
    return ((mtu - ZHTP_WIRE_FRAG_HEADER_LEN) / 8) * 8;
}

zhtp_ssize zhtp_wire_fragment_count(size_t packet_len, size_t mtu)
{
    if (mtu < ZHTP_WIRE_MIN_MTU || mtu > ZHTP_WIRE_MAX_MTU || packet_len == 0 ||
        packet_len > ZHTP_WIRE_FRAG_MAX_TOTAL)
        return ZHTP_ERR_INVAL;
    size_t per = data_per_fragment(mtu);
    return (zhtp_ssize)((packet_len + per - 1) / per);
}

zhtp_ssize zhtp_wire_fragment_build(uint8_t *out, size_t cap, const uint8_t *packet,
                                    size_t packet_len, size_t mtu, uint16_t tag, size_t index)
{
    zhtp_ssize count = zhtp_wire_fragment_count(packet_len, mtu);
    if (count < 0)
        return count;
    if (!packet || index >= (size_t)count)
        return ZHTP_ERR_INVAL;
    size_t per = data_per_fragment(mtu);
    size_t off = index * per;
    size_t n = packet_len - off < per ? packet_len - off : per;
    if (cap < ZHTP_WIRE_FRAG_HEADER_LEN + n)
        return ZHTP_ERR_NOBUF;
    out[0] = FRAG_DISPATCH;
    put_u16(out + 1, tag);
    put_u24(out + 3, (uint32_t)packet_len);
    put_u16(out + 6, (uint16_t)(off / 8));
    memcpy(out + ZHTP_WIRE_FRAG_HEADER_LEN, packet + off, n);
    return (zhtp_ssize)(ZHTP_WIRE_FRAG_HEADER_LEN + n);
}

int zhtp_wire_frag_decode(zhtp_wire_frag_header *fh, zhtp_wire_bytes *data, const uint8_t *in,
                          size_t in_len)
{
    if (zhtp_wire_frame_kind(in, in_len) != ZHTP_WIRE_FRAME_FRAGMENT)
        return ZHTP_ERR_INVAL;
    if (in_len < ZHTP_WIRE_FRAG_HEADER_LEN)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (in[0] != FRAG_DISPATCH)
        return ZHTP_ERR_WIRE_RESERVED;
    fh->tag = get_u16(in + 1);
    fh->total_len = get_u24(in + 3);
    fh->offset = (uint32_t)get_u16(in + 6) * 8;
    size_t n = in_len - ZHTP_WIRE_FRAG_HEADER_LEN;
    if (fh->total_len == 0 || fh->total_len > ZHTP_WIRE_FRAG_MAX_TOTAL || n == 0 ||
        n > fh->total_len || fh->offset > fh->total_len - n)
        return ZHTP_ERR_WIRE_FRAGMENT;
    if (fh->offset + n < fh->total_len && n % 8 != 0)
        return ZHTP_ERR_WIRE_FRAGMENT;
    data->ptr = in + ZHTP_WIRE_FRAG_HEADER_LEN;
    data->len = n;
    return 0;
}
