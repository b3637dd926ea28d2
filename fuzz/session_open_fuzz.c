/* Fuzzes the transport: an established pair of sessions (one handshake at start-up). Input
 * byte 0 picks the mode: raw bytes to zhtp_session_open_packet, or seal the rest as plaintext
 * (bit 1: with a clear tail) and check that it opens back identically, that the replay is
 * refused, and that a packet with one input-chosen byte flipped never opens unless that byte
 * is in the clear tail before its last 16 bytes (then it opens with just that change). */
#include <stdlib.h>
#include <string.h>

#include "zhtp/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct splitmix {
    uint64_t s;
} splitmix;

static void rng_cb(void *ud, uint8_t *out, size_t len)
{
    splitmix *r = ud;
    for (size_t i = 0; i < len; i++) {
        uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        out[i] = (uint8_t)(z ^ (z >> 31));
    }
}

static zhtp_identity *g_i, *g_r;
static zhtp_sessions *g_a, *g_b;
static splitmix g_ra = {1}, g_rb = {2};
static const zhtp_addr addr_a = {.len = 1, .bytes = {0xa}}, addr_b = {.len = 1, .bytes = {0xb}};
static uint8_t buf[ZHTP_WIRE_MAX_PACKET], buf2[ZHTP_WIRE_MAX_PACKET], pt[ZHTP_WIRE_MAX_PAYLOAD];

static void setup(void)
{
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES];
    memset(seed, 1, sizeof seed);
    if (zhtp_identity_from_seed(&g_i, seed) != 0)
        abort();
    memset(seed, 2, sizeof seed);
    if (zhtp_identity_from_seed(&g_r, seed) != 0)
        abort();
    zhtp_session_config ca = {.rng = rng_cb, .user_data = &g_ra, .rekey_after_packets = ~0ull};
    zhtp_session_config cb = {.rng = rng_cb, .user_data = &g_rb, .rekey_after_packets = ~0ull};
    if (zhtp_session_new(&g_a, &ca, g_i, 0) || zhtp_session_new(&g_b, &cb, g_r, 0))
        abort();
    if (zhtp_session_connect(g_a, zhtp_identity_get_public(g_r)->node_id, 1, &addr_b, 0))
        abort();
    zhtp_ssize n = zhtp_session_next_datagram(g_a, NULL, NULL, buf, sizeof buf, 0);
    if (n <= 0 || zhtp_session_recv_handshake(g_b, 1, &addr_a, buf, (size_t)n, 0))
        abort();
    n = zhtp_session_next_datagram(g_b, NULL, NULL, buf, sizeof buf, 0);
    if (n <= 0 || zhtp_session_recv_handshake(g_a, 1, &addr_b, buf, (size_t)n, 0))
        abort();
    while (zhtp_session_next_datagram(g_a, NULL, NULL, buf, sizeof buf, 0) > 0)
        ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_a)
        setup();
    if (size < 1)
        return 0;
    zhtp_wire_header h;
    uint8_t peer[32];
    if (data[0] & 1) {
        (void)zhtp_session_open_packet(g_b, 1, &addr_a, data + 1, size - 1, &h, pt, sizeof pt, peer,
                                       1);
        (void)zhtp_session_open_packet(g_a, 1, &addr_b, data + 1, size - 1, &h, pt, sizeof pt, peer,
                                       1);
        return 0;
    }
    if (size < 3)
        return 0;
    size_t flip = (size_t)data[1] << 8 | data[2];
    const uint8_t *msg = data + 3;
    size_t len = size - 3;
    zhtp_wire_header t;
    memset(&t, 0, sizeof t);
    t.version = ZHTP_WIRE_VERSION;
    t.operation = ZHTP_WIRE_OP_DATA;
    t.hop_limit = 1;
    memcpy(t.sender, zhtp_identity_get_public(g_i)->node_id, 32);
    memcpy(t.target, zhtp_identity_get_public(g_r)->node_id, 32);
    /* Bit 1 of data[0]: seal with a clear tail (docs/sessions.md 5.1) of 16..len bytes. */
    size_t clear = (data[0] & 2) && len >= 16 ? 16 + flip % (len - 16 + 1) : 0;
    zhtp_ssize n =
        zhtp_session_seal_packet_tail(g_a, t.target, &t, msg, len, clear, buf, sizeof buf, 1);
    if (n < 0)
        abort();
    memcpy(buf2, buf, (size_t)n);
    size_t at = flip % (size_t)n;
    buf2[at] ^= (uint8_t)(1u << (data[0] >> 5));
    size_t free_from = 128 + len - clear, free_to = clear ? 128 + len - 16 : free_from;
    if (at >= free_from && at < free_to) {
        /* Inside the tail before its last 16 bytes: not the link layer's to check. It opens,
         * with exactly that bit changed, and uses up the counter. */
        zhtp_ssize m =
            zhtp_session_open_packet(g_b, 1, &addr_a, buf2, (size_t)n, &h, pt, sizeof pt, peer, 1);
        if (m != (zhtp_ssize)len || h.clear_len != clear)
            abort();
        pt[at - 128] ^= (uint8_t)(1u << (data[0] >> 5));
        if (memcmp(pt, msg, len) != 0)
            abort();
        if (zhtp_session_open_packet(g_b, 1, &addr_a, buf, (size_t)n, &h, pt, sizeof pt, peer, 1) !=
            ZHTP_ERR_SESSION_REPLAY)
            abort();
        return 0;
    }
    if (zhtp_session_open_packet(g_b, 1, &addr_a, buf2, (size_t)n, &h, pt, sizeof pt, peer, 1) >= 0)
        abort(); /* a flipped bit opened */
    zhtp_ssize m =
        zhtp_session_open_packet(g_b, 1, &addr_a, buf, (size_t)n, &h, pt, sizeof pt, peer, 1);
    if (m != (zhtp_ssize)len || (len && memcmp(pt, msg, len) != 0))
        abort();
    if (zhtp_session_open_packet(g_b, 1, &addr_a, buf, (size_t)n, &h, pt, sizeof pt, peer, 1) !=
        ZHTP_ERR_SESSION_REPLAY)
        abort();
    return 0;
}
