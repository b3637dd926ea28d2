/* Cookie secret, mac1/mac2 and COOKIE_REPLY sealing (docs/sessions.md §4). */
#include "cookie.h"

#include <sodium.h>
#include <string.h>

#include "zhtp/blake3.h"
#include "zhtp/util.h"

void zhtp_cookie_init(zhtp_cookie_state *st, zhtp_rng_fn rng, void *ud, zhtp_time now)
{
    memset(st, 0, sizeof *st);
    rng(ud, st->secret, sizeof st->secret);
    st->rotated_at = now;
    st->bucket_start = now;
}

void zhtp_cookie_clear(zhtp_cookie_state *st)
{
    zhtp_wipe(st, sizeof *st);
}

void zhtp_cookie_tick(zhtp_cookie_state *st, zhtp_rng_fn rng, void *ud, zhtp_time now)
{
    if (now - st->rotated_at < ZHTP_SESSION_COOKIE_ROTATE_NS)
        return;
    memcpy(st->prev_secret, st->secret, sizeof st->secret);
    st->has_prev = true;
    rng(ud, st->secret, sizeof st->secret);
    st->rotated_at = now;
}

zhtp_time zhtp_cookie_next_deadline(const zhtp_cookie_state *st)
{
    return st->rotated_at + ZHTP_SESSION_COOKIE_ROTATE_NS;
}

bool zhtp_cookie_count_init(zhtp_cookie_state *st, zhtp_time now, uint32_t rate)
{
    if (now - st->bucket_start >= ZHTP_NS_PER_SEC) {
        st->bucket_start = now;
        st->bucket_count = 0;
    }
    if (st->bucket_count < UINT32_MAX)
        st->bucket_count++;
    return st->bucket_count > rate;
}

static void mac_key(uint8_t key[32], const char *ctx, const uint8_t *km, size_t km_len)
{
    zhtp_blake3_derive_key(key, 32, ctx, km, km_len);
}

void zhtp_cookie_mac1(uint8_t mac[ZHTP_COOKIE_MAC_LEN], const uint8_t receiver_id[ZHTP_NODE_ID_LEN],
                      const uint8_t ids[64], const uint8_t *body, size_t body_len)
{
    uint8_t key[32];
    zhtp_blake3 h;
    mac_key(key, ZHTP_COOKIE_MAC1_CONTEXT, receiver_id, ZHTP_NODE_ID_LEN);
    zhtp_blake3_init_keyed(&h, key);
    zhtp_blake3_update(&h, ids, 64);
    zhtp_blake3_update(&h, body, body_len);
    zhtp_blake3_final(&h, mac, ZHTP_COOKIE_MAC_LEN);
    zhtp_wipe(&h, sizeof h);
}

void zhtp_cookie_mac2(uint8_t mac[ZHTP_COOKIE_MAC_LEN], const uint8_t cookie[ZHTP_COOKIE_LEN],
                      const uint8_t ids[64], const uint8_t *body, size_t body_len,
                      const uint8_t mac1[ZHTP_COOKIE_MAC_LEN])
{
    uint8_t key[32];
    zhtp_blake3 h;
    mac_key(key, ZHTP_COOKIE_MAC2_CONTEXT, cookie, ZHTP_COOKIE_LEN);
    zhtp_blake3_init_keyed(&h, key);
    zhtp_blake3_update(&h, ids, 64);
    zhtp_blake3_update(&h, body, body_len);
    zhtp_blake3_update(&h, mac1, ZHTP_COOKIE_MAC_LEN);
    zhtp_blake3_final(&h, mac, ZHTP_COOKIE_MAC_LEN);
    zhtp_wipe(&h, sizeof h);
    zhtp_wipe(key, sizeof key);
}

static void cookie_under(uint8_t cookie[ZHTP_COOKIE_LEN], const uint8_t secret[32],
                         zhtp_link_id link, const zhtp_addr *addr)
{
    uint8_t key[32], hdr[9];
    zhtp_blake3 h;
    /* The secret is never a BLAKE3 key directly: a derived key keeps uses apart. */
    mac_key(key, ZHTP_COOKIE_ADDR_CONTEXT, secret, 32);
    for (int i = 0; i < 8; i++)
        hdr[i] = (uint8_t)(link >> (56 - 8 * i));
    hdr[8] = addr->len <= ZHTP_ADDR_MAX ? addr->len : ZHTP_ADDR_MAX;
    zhtp_blake3_init_keyed(&h, key);
    zhtp_blake3_update(&h, hdr, sizeof hdr);
    zhtp_blake3_update(&h, addr->bytes, hdr[8]);
    zhtp_blake3_final(&h, cookie, ZHTP_COOKIE_LEN);
    zhtp_wipe(&h, sizeof h);
    zhtp_wipe(key, sizeof key);
}

void zhtp_cookie_make(const zhtp_cookie_state *st, uint8_t cookie[ZHTP_COOKIE_LEN],
                      zhtp_link_id link, const zhtp_addr *addr)
{
    cookie_under(cookie, st->secret, link, addr);
}

bool zhtp_cookie_check_mac2(const zhtp_cookie_state *st, zhtp_link_id link, const zhtp_addr *addr,
                            const uint8_t ids[64], const uint8_t *body, size_t body_len,
                            const uint8_t mac1[ZHTP_COOKIE_MAC_LEN],
                            const uint8_t mac2[ZHTP_COOKIE_MAC_LEN])
{
    uint8_t cookie[ZHTP_COOKIE_LEN], want[ZHTP_COOKIE_MAC_LEN];
    int ok = -1;
    for (int k = 0; k < (st->has_prev ? 2 : 1); k++) {
        cookie_under(cookie, k == 0 ? st->secret : st->prev_secret, link, addr);
        zhtp_cookie_mac2(want, cookie, ids, body, body_len, mac1);
        if (zhtp_ct_memcmp(want, mac2, ZHTP_COOKIE_MAC_LEN) == 0)
            ok = 0;
    }
    zhtp_wipe(cookie, sizeof cookie);
    zhtp_wipe(want, sizeof want);
    return ok == 0;
}

void zhtp_cookie_seal(uint8_t out[ZHTP_COOKIE_SEALED_LEN],
                      const uint8_t nonce[ZHTP_COOKIE_NONCE_LEN],
                      const uint8_t responder_id[ZHTP_NODE_ID_LEN],
                      const uint8_t mac1[ZHTP_COOKIE_MAC_LEN],
                      const uint8_t cookie[ZHTP_COOKIE_LEN])
{
    uint8_t key[32];
    unsigned long long clen = 0;
    mac_key(key, ZHTP_COOKIE_SEAL_CONTEXT, responder_id, ZHTP_NODE_ID_LEN);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out, &clen, cookie, ZHTP_COOKIE_LEN, mac1,
                                               ZHTP_COOKIE_MAC_LEN, NULL, nonce, key);
    zhtp_wipe(key, sizeof key);
}

int zhtp_cookie_open(uint8_t cookie[ZHTP_COOKIE_LEN], const uint8_t in[ZHTP_COOKIE_SEALED_LEN],
                     const uint8_t nonce[ZHTP_COOKIE_NONCE_LEN],
                     const uint8_t responder_id[ZHTP_NODE_ID_LEN],
                     const uint8_t mac1[ZHTP_COOKIE_MAC_LEN])
{
    uint8_t key[32];
    unsigned long long mlen = 0;
    mac_key(key, ZHTP_COOKIE_SEAL_CONTEXT, responder_id, ZHTP_NODE_ID_LEN);
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
        cookie, &mlen, NULL, in, ZHTP_COOKIE_SEALED_LEN, mac1, ZHTP_COOKIE_MAC_LEN, nonce, key);
    zhtp_wipe(key, sizeof key);
    if (rc != 0) {
        zhtp_wipe(cookie, ZHTP_COOKIE_LEN);
        return ZHTP_ERR_CRYPTO_DECRYPT;
    }
    return ZHTP_OK;
}
