/* IPv6 over the mesh, pure parts: addresses, packet checks, ICMPv6 errors. See ip6.h. */
#include <string.h>

#include "ip6.h"

void zhtp_ip6_addr_from_id(const uint8_t id[ZHTP_NODE_ID_LEN], uint8_t addr[ZHTP_IP6_ADDR_LEN])
{
    addr[0] = ZHTP_IP6_PREFIX_0;
    addr[1] = ZHTP_IP6_PREFIX_1;
    memcpy(addr + 2, id, ZHTP_IP6_ID_BYTES);
}

bool zhtp_ip6_addr_is_mesh(const uint8_t addr[ZHTP_IP6_ADDR_LEN])
{
    return addr[0] == ZHTP_IP6_PREFIX_0 && addr[1] == ZHTP_IP6_PREFIX_1;
}

void zhtp_ip6_addr_id_prefix(const uint8_t addr[ZHTP_IP6_ADDR_LEN],
                             uint8_t prefix[ZHTP_IP6_ID_BYTES])
{
    memcpy(prefix, addr + 2, ZHTP_IP6_ID_BYTES);
}

bool zhtp_ip6_addr_matches_id(const uint8_t addr[ZHTP_IP6_ADDR_LEN],
                              const uint8_t id[ZHTP_NODE_ID_LEN])
{
    return zhtp_ip6_addr_is_mesh(addr) && memcmp(addr + 2, id, ZHTP_IP6_ID_BYTES) == 0;
}

const char *zhtp_ip6_verdict_name(zhtp_ip6_verdict v)
{
    switch (v) {
    case ZHTP_IP6_OK:
        return "ok";
    case ZHTP_IP6_MALFORMED:
        return "malformed";
    case ZHTP_IP6_NOT_MESH:
        return "not_mesh";
    case ZHTP_IP6_BAD_SRC:
        return "bad_src";
    case ZHTP_IP6_BAD_DST:
        return "bad_dst";
    default:
        return "unknown";
    }
}

#define SRC(p) ((p) + 8)
#define DST(p) ((p) + 24)

/* The header's own claims must agree with the bytes we hold: a TUN read and a mesh delivery
 * both give exactly one packet, so payload_len + 40 is the length (0, a jumbogram, cannot fit
 * in a 65,535-byte MTU). */
static bool well_formed(const uint8_t *p, size_t len)
{
    if (len < ZHTP_IP6_HDR_LEN || len > ZHTP_IP6_MAX_LEN || (p[0] >> 4) != 6)
        return false;
    size_t plen = (size_t)p[4] << 8 | p[5];
    return plen + ZHTP_IP6_HDR_LEN == len;
}

zhtp_ip6_verdict zhtp_ip6_check_outbound(const uint8_t *pkt, size_t len,
                                         const uint8_t own[ZHTP_IP6_ADDR_LEN])
{
    if (!well_formed(pkt, len))
        return ZHTP_IP6_MALFORMED;
    if (!zhtp_ip6_addr_is_mesh(DST(pkt)))
        return ZHTP_IP6_NOT_MESH;
    if (memcmp(SRC(pkt), own, ZHTP_IP6_ADDR_LEN) != 0)
        return ZHTP_IP6_BAD_SRC;
    if (memcmp(DST(pkt), own, ZHTP_IP6_ADDR_LEN) == 0)
        return ZHTP_IP6_BAD_DST;
    return ZHTP_IP6_OK;
}

zhtp_ip6_verdict zhtp_ip6_check_inbound(const uint8_t *pkt, size_t len,
                                        const uint8_t sender[ZHTP_NODE_ID_LEN],
                                        const uint8_t own[ZHTP_IP6_ADDR_LEN])
{
    if (!well_formed(pkt, len))
        return ZHTP_IP6_MALFORMED;
    /* untrusted: the sender's session authenticates who sent the bytes, not what they claim */
    uint8_t want[ZHTP_IP6_ADDR_LEN];
    zhtp_ip6_addr_from_id(sender, want);
    if (memcmp(SRC(pkt), want, ZHTP_IP6_ADDR_LEN) != 0)
        return ZHTP_IP6_BAD_SRC;
    if (memcmp(DST(pkt), own, ZHTP_IP6_ADDR_LEN) != 0)
        return ZHTP_IP6_BAD_DST;
    return ZHTP_IP6_OK;
}

static uint32_t sum16(uint32_t acc, const uint8_t *b, size_t len)
{
    for (; len >= 2; b += 2, len -= 2)
        acc += (uint32_t)b[0] << 8 | b[1];
    if (len)
        acc += (uint32_t)b[0] << 8;
    return acc;
}

uint16_t zhtp_ip6_icmp6_checksum(const uint8_t src[ZHTP_IP6_ADDR_LEN],
                                 const uint8_t dst[ZHTP_IP6_ADDR_LEN], const uint8_t *msg,
                                 size_t len)
{
    /* pseudo-header: source, destination, upper-layer length (u32), 3 zero bytes, next header */
    uint8_t tail[8] = {
        (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, 0, 0, 0,
        ZHTP_IP6_NH_ICMP6};
    uint32_t acc = sum16(0, src, ZHTP_IP6_ADDR_LEN);
    acc = sum16(acc, dst, ZHTP_IP6_ADDR_LEN);
    acc = sum16(acc, tail, sizeof tail);
    acc = sum16(acc, msg, len);
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)~acc;
}

static bool is_multicast(const uint8_t *a)
{
    return a[0] == 0xff;
}

static bool is_unspecified(const uint8_t *a)
{
    static const uint8_t zero[ZHTP_IP6_ADDR_LEN];
    return memcmp(a, zero, ZHTP_IP6_ADDR_LEN) == 0;
}

/* True when the upper-layer header of |p| is an ICMPv6 error message (type < 128). Walks the
 * extension headers whose length we know; a non-first fragment hides the upper layer, so it
 * is not an error message as far as we can tell. */
static bool is_icmp6_error(const uint8_t *p, size_t len)
{
    uint8_t nh = p[6];
    size_t off = ZHTP_IP6_HDR_LEN;
    for (int guard = 0; guard < 16; guard++) {
        switch (nh) {
        case ZHTP_IP6_NH_ICMP6:
            return off < len && p[off] < 128;
        case 0:  /* hop-by-hop options */
        case 43: /* routing */
        case 60: /* destination options */
            if (off + 2 > len)
                return false;
            nh = p[off];
            off += ((size_t)p[off + 1] + 1) * 8;
            break;
        case 44: /* fragment */
            if (off + 8 > len || ((p[off + 2] << 8 | p[off + 3]) & 0xfff8) != 0)
                return false;
            nh = p[off];
            off += 8;
            break;
        case 51: /* authentication header */
            if (off + 2 > len)
                return false;
            nh = p[off];
            off += ((size_t)p[off + 1] + 2) * 4;
            break;
        default:
            return false;
        }
    }
    return false;
}

bool zhtp_ip6_may_send_error(const uint8_t *orig, size_t len)
{
    if (!well_formed(orig, len))
        return false;
    if (is_unspecified(SRC(orig)) || is_multicast(SRC(orig)) || is_multicast(DST(orig)))
        return false;
    return !is_icmp6_error(orig, len);
}

zhtp_ssize zhtp_ip6_icmp6_error(uint8_t *out, size_t cap, uint8_t type, uint8_t code,
                                uint32_t param, const uint8_t *orig, size_t orig_len)
{
    if (!zhtp_ip6_may_send_error(orig, orig_len))
        return ZHTP_ERR_INVAL;
    size_t quote = orig_len;
    if (quote > ZHTP_ICMP6_ERROR_MAX_LEN - ZHTP_IP6_HDR_LEN - 8)
        quote = ZHTP_ICMP6_ERROR_MAX_LEN - ZHTP_IP6_HDR_LEN - 8;
    size_t icmp_len = 8 + quote, total = ZHTP_IP6_HDR_LEN + icmp_len;
    if (cap < total)
        return ZHTP_ERR_NOBUF;
    uint8_t *h = out, *m = out + ZHTP_IP6_HDR_LEN;
    memset(h, 0, ZHTP_IP6_HDR_LEN);
    h[0] = 0x60;
    h[4] = (uint8_t)(icmp_len >> 8);
    h[5] = (uint8_t)icmp_len;
    h[6] = ZHTP_IP6_NH_ICMP6;
    h[7] = 255;
    memcpy(SRC(h), DST(orig), ZHTP_IP6_ADDR_LEN);
    memcpy(DST(h), SRC(orig), ZHTP_IP6_ADDR_LEN);
    m[0] = type;
    m[1] = code;
    m[2] = m[3] = 0;
    m[4] = (uint8_t)(param >> 24);
    m[5] = (uint8_t)(param >> 16);
    m[6] = (uint8_t)(param >> 8);
    m[7] = (uint8_t)param;
    memcpy(m + 8, orig, quote);
    uint16_t ck = zhtp_ip6_icmp6_checksum(SRC(h), DST(h), m, icmp_len);
    m[2] = (uint8_t)(ck >> 8);
    m[3] = (uint8_t)ck;
    return (zhtp_ssize)total;
}

bool zhtp_ip6_ratelim_take(zhtp_ip6_ratelim *rl, zhtp_time now)
{
    if (rl->interval_ns == 0)
        return true;
    zhtp_time cap = (zhtp_time)rl->burst * rl->interval_ns;
    if (!rl->started) {
        rl->started = true;
        rl->credit_ns = cap;
        rl->last = now;
    }
    if (now > rl->last) {
        zhtp_time gained = now - rl->last;
        rl->credit_ns = gained >= cap - rl->credit_ns ? cap : rl->credit_ns + gained;
        rl->last = now;
    }
    if (rl->credit_ns < rl->interval_ns)
        return false;
    rl->credit_ns -= rl->interval_ns;
    return true;
}
