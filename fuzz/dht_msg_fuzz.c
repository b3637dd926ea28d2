/* libFuzzer target: the core/dht message decoder, then the engine fed the same bytes.
 * Invariants: decode never reads past len; a message that decodes re-encodes to exactly the
 * input bytes (one encoding per message, NODES locators included); the engine takes any input
 * without crashing, from a verified and an unverified source, with locator hooks set.
 * The engine has a get and a relayed get outstanding (txids 0x4242424242424242 and ...43, from
 * the constant rng), so RELAY_RESULT and NODES answers reach the requester paths, and its store
 * holds the chunk "fuzz chunk" under any key, so a RELAY_FETCH for BLAKE3("fuzz chunk") reaches
 * the sealing path and a RELAY_GET with a valid key the relay path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/dht_internal.h"

static int f_put(void *ud, uint8_t kind, const uint8_t key[32], const uint8_t *val, size_t len,
                 uint64_t expiry)
{
    (void)ud, (void)kind, (void)key, (void)val, (void)len, (void)expiry;
    return ZHTP_OK;
}
static int f_get(void *ud, uint8_t kind, const uint8_t key[32], const uint8_t **val, size_t *len,
                 uint64_t *expiry)
{
    (void)ud, (void)kind, (void)key;
    static const uint8_t v[] = "fuzz chunk";
    *val = v;
    *len = sizeof v - 1;
    *expiry = UINT64_MAX;
    return ZHTP_OK;
}
static int f_del(void *ud, uint8_t kind, const uint8_t key[32])
{
    (void)ud, (void)kind, (void)key;
    return ZHTP_OK;
}
static int f_each(void *ud,
                  int (*fn)(void *, uint8_t, const uint8_t *, const uint8_t *, size_t, uint64_t),
                  void *ctx)
{
    (void)ud, (void)fn, (void)ctx;
    return ZHTP_OK;
}
/* Locator hooks: give a 3-byte locator for every id (so NODES answers carry them) and check
 * that what the engine hands back stays within its stated bounds. */
static size_t f_loc_get(void *ud, const uint8_t id[32], uint8_t *out, size_t cap)
{
    (void)ud;
    if (cap < 3)
        abort();
    out[0] = 1, out[1] = id[0], out[2] = 1;
    return 3;
}
static void f_loc_put(void *ud, const uint8_t id[32], const uint8_t *loc, size_t len)
{
    (void)ud, (void)id;
    if (len < 1 || len > 255)
        abort();
    volatile uint8_t x = loc[len - 1]; /* ASan: the whole locator is readable */
    (void)x;
}
static void f_rng(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    memset(out, 0x42, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dht_msg m;
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    if (dht_msg_decode(&m, copy, size) == ZHTP_OK) {
        uint8_t *out = malloc(size);
        zhtp_ssize l = dht_msg_encode(&m, out, size);
        if (l != (zhtp_ssize)size || memcmp(out, data, size) != 0)
            abort();
        free(out);
    }
    /* the engine, with one contact and one lookup outstanding so that responses match too */
    zhtp_dht_config c = {.rng = f_rng,
                         .store = {f_put, f_get, f_del, f_each, NULL},
                         .k = 4,
                         .locator = {f_loc_get, f_loc_put, NULL}};
    uint8_t self[32] = {0}, peer[32], to[32], key[32] = {1};
    memset(peer, 0x80, 32);
    zhtp_dht *d;
    if (zhtp_dht_new(&d, &c, self, 0) == ZHTP_OK) {
        (void)zhtp_dht_add_contact(d, peer, 0);
        (void)zhtp_dht_get(d, key, 0, NULL);
        (void)zhtp_dht_relay_get(d, peer, ZHTP_DHT_KIND_CHUNK, key, 0, NULL);
        (void)zhtp_dht_locate(d, key, 0);
        /* verified, then the same bytes from an unverified source (the node core's two
         * paths); NODES answers reach the locator hook */
        (void)zhtp_dht_recv(d, peer, copy, size, 1);
        (void)zhtp_dht_recv_unverified(d, peer, copy, size, 2);
        uint8_t *buf = malloc(ZHTP_DHT_MSG_MAX);
        while (zhtp_dht_next_message(d, to, buf, ZHTP_DHT_MSG_MAX) >= 0)
            ;
        free(buf);
        zhtp_dht_free(d);
    }
    free(copy);
    return 0;
}
