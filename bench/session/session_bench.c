/* Session layer measurements (docs/sessions.md): complete handshakes per second on one core
 * (both sides' work, in one thread), seal+open of 1,280-byte packets per second, and the
 * handshake bytes. Not a test: build-X/tests/unit/core/session_bench [seconds]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zhtp/session.h"

static void rng_cb(void *ud, uint8_t *out, size_t len)
{
    uint64_t *s = ud;
    for (size_t i = 0; i < len; i++) {
        uint64_t z = (*s += 0x9e3779b97f4a7c15u);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        out[i] = (uint8_t)(z ^ (z >> 31));
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint8_t buf[ZHTP_WIRE_MAX_PACKET], pt[2048];

/* One complete handshake a -> b: INIT, RESPONSE, keepalive. Returns the bytes of both
 * handshake messages, or 0 on failure. */
static uint64_t one_handshake(zhtp_sessions *a, zhtp_sessions *b, const uint8_t *bid,
                              const zhtp_addr *addr_a, const zhtp_addr *addr_b, zhtp_time t)
{
    zhtp_session_stats s0a, s0b, s1a, s1b;
    zhtp_session_get_stats(a, &s0a);
    zhtp_session_get_stats(b, &s0b);
    if (zhtp_session_connect(a, bid, 1, addr_b, t))
        return 0;
    zhtp_ssize n = zhtp_session_next_datagram(a, NULL, NULL, buf, sizeof buf, t);
    if (n <= 0 || zhtp_session_recv_handshake(b, 1, addr_a, buf, (size_t)n, t))
        return 0;
    n = zhtp_session_next_datagram(b, NULL, NULL, buf, sizeof buf, t);
    if (n <= 0 || zhtp_session_recv_handshake(a, 1, addr_b, buf, (size_t)n, t))
        return 0;
    n = zhtp_session_next_datagram(a, NULL, NULL, buf, sizeof buf, t);
    zhtp_wire_header h;
    uint8_t peer[32];
    if (n <= 0 ||
        zhtp_session_open_packet(b, 1, addr_a, buf, (size_t)n, &h, pt, sizeof pt, peer, t) != 0)
        return 0;
    zhtp_session_get_stats(a, &s1a);
    zhtp_session_get_stats(b, &s1b);
    zhtp_session_event ev;
    while (zhtp_session_next_event(a, &ev) == 0 || zhtp_session_next_event(b, &ev) == 0)
        ;
    return s1a.handshake_bytes_tx - s0a.handshake_bytes_tx + s1b.handshake_bytes_tx -
           s0b.handshake_bytes_tx;
}

/* CPU time of this process: the rate per core even when other processes share the CPU. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum { MODE_FIRST, MODE_CACHED, MODE_RESUMED };

static int bench_mode(int mode, double secs, zhtp_identity *ia, zhtp_identity *ib)
{
    uint64_t sa = 1, sb = 2;
    zhtp_session_config ca = {.rng = rng_cb,
                              .user_data = &sa,
                              .init_rate_per_sec = ~0u,
                              .disable_resumption = mode != MODE_RESUMED,
                              .idle_timeout_ns = 1}; /* each session ends by silence: Lost */
    zhtp_session_config cb = ca;
    cb.user_data = &sb;
    const uint8_t *bid = zhtp_identity_get_public(ib)->node_id;
    zhtp_addr addr_a = {.len = 1, .bytes = {0xa}}, addr_b = {.len = 1, .bytes = {0xb}};
    zhtp_sessions *a = NULL, *b = NULL;
    zhtp_time t = 1;
    long n = 0;
    uint64_t bytes = 0;
    double c0 = cpu_s(), w0 = now_s(), c1, w1;
    do {
        for (int k = 0; k < 4; k++, n++, t += 1000) {
            if (mode == MODE_FIRST || !a) { /* fresh pools: nothing cached, nothing resumed */
                zhtp_session_free(a);
                zhtp_session_free(b);
                if (zhtp_session_new(&a, &ca, ia, 0) || zhtp_session_new(&b, &cb, ib, 0))
                    return 1;
                if (mode != MODE_FIRST && !one_handshake(a, b, bid, &addr_a, &addr_b, t++))
                    return 1; /* warm-up: caches identities / leaves a resumption secret */
                zhtp_session_tick(a, t + 1);
                zhtp_session_tick(b, t + 1);
                t += 2;
            }
            bytes = one_handshake(a, b, bid, &addr_a, &addr_b, t);
            if (!bytes)
                return 2;
            /* Lost by silence: the peer's identity and the resumption secret stay, so the
             * next handshake is again of this mode. */
            zhtp_session_tick(a, t + 1);
            zhtp_session_tick(b, t + 1);
        }
        c1 = cpu_s();
        w1 = now_s();
    } while (c1 - c0 < secs);
    static const char *names[] = {"signed_first_contact", "signed_identities_cached", "resumed"};
    printf("handshake_%s_per_s_cpu %.0f   (wall %.0f; bytes %llu)\n", names[mode],
           (double)n / (c1 - c0), (double)n / (w1 - w0), (unsigned long long)bytes);
    zhtp_session_free(a);
    zhtp_session_free(b);
    return 0;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    zhtp_identity *ia, *ib;
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES];
    memset(seed, 1, sizeof seed);
    if (zhtp_identity_from_seed(&ia, seed))
        return 1;
    memset(seed, 2, sizeof seed);
    if (zhtp_identity_from_seed(&ib, seed))
        return 1;
    for (int mode = MODE_FIRST; mode <= MODE_RESUMED; mode++)
        if (bench_mode(mode, secs, ia, ib))
            return 2;

    /* Transport: seal at A, open at B, 1,280-byte plaintexts. */
    uint64_t sa = 1, sb = 2;
    zhtp_session_config ca = {.rng = rng_cb, .user_data = &sa, .rekey_after_packets = ~0ull};
    zhtp_session_config cb = ca;
    cb.user_data = &sb;
    zhtp_sessions *a, *b;
    if (zhtp_session_new(&a, &ca, ia, 0) || zhtp_session_new(&b, &cb, ib, 0))
        return 1;
    const uint8_t *bid = zhtp_identity_get_public(ib)->node_id;
    const uint8_t *aid = zhtp_identity_get_public(ia)->node_id;
    zhtp_addr addr_a = {.len = 1, .bytes = {0xa}}, addr_b = {.len = 1, .bytes = {0xb}};
    zhtp_time t = 1;
    if (!one_handshake(a, b, bid, &addr_a, &addr_b, t))
        return 6;
    zhtp_wire_header h;
    memset(&h, 0, sizeof h);
    h.version = ZHTP_WIRE_VERSION;
    h.operation = ZHTP_WIRE_OP_DATA;
    h.hop_limit = 1;
    memcpy(h.sender, aid, 32);
    memcpy(h.target, bid, 32);
    memset(pt, 0x42, 1280);
    static uint8_t out[2048];
    long n_pk = 0;
    double c0 = cpu_s(), w0 = now_s(), c1, w1;
    do {
        for (int k = 0; k < 1024; k++, n_pk++) {
            zhtp_ssize m = zhtp_session_seal_packet(a, bid, &h, pt, 1280, buf, sizeof buf, t);
            zhtp_wire_header rh;
            uint8_t peer[32];
            if (m <= 0 || zhtp_session_open_packet(b, 1, &addr_a, buf, (size_t)m, &rh, out,
                                                   sizeof out, peer, t) != 1280)
                return 7;
        }
        c1 = cpu_s();
        w1 = now_s();
    } while (c1 - c0 < secs);
    double pk_rate = (double)n_pk / (c1 - c0);
    printf("seal_open_1280B_per_s_cpu %.0f   (wall %.0f; %.2f Gbit/s of plaintext per core)\n",
           pk_rate, (double)n_pk / (w1 - w0), pk_rate * 1280 * 8 / 1e9);
    zhtp_session_free(a);
    zhtp_session_free(b);
    zhtp_identity_free(ia);
    zhtp_identity_free(ib);
    return 0;
}
