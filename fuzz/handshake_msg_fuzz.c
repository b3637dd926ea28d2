/* Fuzzes the handshake message decoders (INIT, RESPONSE, COOKIE_REPLY) and the pool's handling
 * of them: a fresh responder and a fresh initiator with a pending handshake (same seed every
 * run, so a corpus RESPONSE matches its index) are fed the input. Whatever parses must point
 * inside the input; nothing may crash, leak or authenticate a forged message.
 * ZHTP_FUZZ_WRITE_SEEDS=dir writes genuine messages there as seeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/handshake.h"
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

static void inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
    if (p && (p < data || p + n > data + size))
        abort();
}

static void write_seed(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[ZHTP_WIRE_MAX_PACKET];
    if (!g_i) {
        uint8_t seed[ZHTP_IDENTITY_SEEDBYTES];
        memset(seed, 1, sizeof seed);
        if (zhtp_identity_from_seed(&g_i, seed) != 0)
            abort();
        memset(seed, 2, sizeof seed);
        if (zhtp_identity_from_seed(&g_r, seed) != 0)
            abort();
    }
    const zhtp_identity_public *ip = zhtp_identity_get_public(g_i);
    const zhtp_identity_public *rp = zhtp_identity_get_public(g_r);

    zhtp_hs_init_msg im;
    if (zhtp_hs_init_parse(&im, data, size) == 0) {
        inside(im.epk, ZHTP_KEM_HYBRID_PUBLICKEYBYTES, data, size);
        inside(im.pub, ZHTP_IDENTITY_PUBLIC_BYTES, data, size);
        inside(im.sig, ZHTP_SIGN_HYBRID_BYTES, data, size);
        inside(im.mac2, 16, data, size);
        inside(im.body, im.body_len, data, size);
    }
    zhtp_hs_resp_msg rm;
    if (zhtp_hs_response_parse(&rm, data, size) == 0) {
        inside(rm.ct, ZHTP_KEM_HYBRID_CIPHERTEXTBYTES, data, size);
        inside(rm.pub, ZHTP_IDENTITY_PUBLIC_BYTES, data, size);
        inside(rm.sig, ZHTP_SIGN_HYBRID_BYTES, data, size);
        inside(rm.confirm, 16, data, size);
    }
    zhtp_hs_cookie_msg cm;
    if (zhtp_hs_cookie_parse(&cm, data, size) == 0) {
        inside(cm.nonce, 24, data, size);
        inside(cm.sealed, 48, data, size);
    }

    splitmix ra = {1}, rb = {2};
    zhtp_session_config ca = {.rng = rng_cb, .user_data = &ra};
    zhtp_session_config cb = {.rng = rng_cb, .user_data = &rb, .init_rate_per_sec = 1};
    zhtp_sessions *a = NULL, *b = NULL;
    if (zhtp_session_new(&a, &ca, g_i, 0) != 0 || zhtp_session_new(&b, &cb, g_r, 0) != 0)
        abort();
    zhtp_addr addr_a = {.len = 1, .bytes = {0xa}}, addr_b = {.len = 1, .bytes = {0xb}};
    if (zhtp_session_connect(a, rp->node_id, 1, &addr_b, 0) != 0)
        abort();
    zhtp_ssize n = zhtp_session_next_datagram(a, NULL, NULL, buf, sizeof buf, 0);
    if (n <= 0)
        abort();
    const char *seeds = getenv("ZHTP_FUZZ_WRITE_SEEDS");
    if (seeds) {
        write_seed(seeds, "init", buf, (size_t)n);
        if (zhtp_session_recv_handshake(b, 1, &addr_a, buf, (size_t)n, 1) != 0)
            abort();
        zhtp_ssize m = zhtp_session_next_datagram(b, NULL, NULL, buf, sizeof buf, 1);
        write_seed(seeds, "response", buf, (size_t)m);
        zhtp_session_free(b);
        b = NULL;
        (void)zhtp_session_new(&b, &cb, g_r, 0);
        n = zhtp_session_next_datagram(a, NULL, NULL, buf, sizeof buf, 0);
    }
    (void)zhtp_session_recv_handshake(b, 1, &addr_a, data, size, 1);
    (void)zhtp_session_recv_handshake(b, 1, &addr_a, data, size, 2); /* under load: cookie */
    (void)zhtp_session_recv_handshake(a, 1, &addr_b, data, size, 3);
    while ((n = zhtp_session_next_datagram(b, NULL, NULL, buf, sizeof buf, 3)) > 0)
        (void)zhtp_session_recv_handshake(a, 1, &addr_b, buf, (size_t)n, 3);
    /* A forged RESPONSE must never authenticate: only R's key signs, and R never saw A's INIT
     * unless the input was that INIT (then R's genuine RESPONSE may complete it). */
    (void)ip;
    zhtp_session_free(a);
    zhtp_session_free(b);
    return 0;
}
