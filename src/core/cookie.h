/* core/cookie: the cheap checks that run before any public-key work on a HANDSHAKE_INIT
 * (docs/sessions.md §4), WireGuard's idea adapted:
 *
 *   mac1   = BLAKE3 keyed by derive_key(MAC1 context, responder node id) over the INIT: anyone
 *            who knows whom they are talking to can compute it, random garbage cannot;
 *   cookie = BLAKE3 keyed by a secret rotated every 2 minutes over the sender's address;
 *   mac2   = BLAKE3 keyed by the cookie over the INIT and its mac1: proves the sender
 *            receives at that address. Required only while inits exceed the configured rate.
 *   COOKIE_REPLY carries the cookie sealed with XChaCha20-Poly1305 under a key derived from
 *   the responder's node id, with the INIT's mac1 as associated data: only the sender of that
 *   INIT (who saw the reply at its address) can use it.
 *
 * Sans-I/O: the secret comes from the injected rng, time from the caller. */
#ifndef ZHTP_CORE_COOKIE_H
#define ZHTP_CORE_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/session.h"

#define ZHTP_COOKIE_MAC_LEN    16
#define ZHTP_COOKIE_LEN        32
#define ZHTP_COOKIE_NONCE_LEN  24
#define ZHTP_COOKIE_SEALED_LEN (ZHTP_COOKIE_LEN + 16)

#define ZHTP_COOKIE_MAC1_CONTEXT "zhtp 2026-11 session mac1 v1"
#define ZHTP_COOKIE_MAC2_CONTEXT "zhtp 2026-11 session mac2 v1"
#define ZHTP_COOKIE_SEAL_CONTEXT "zhtp 2026-11 session cookie v1"
#define ZHTP_COOKIE_ADDR_CONTEXT "zhtp 2026-11 session cookie addr v1"

typedef struct zhtp_cookie_state {
    uint8_t secret[32];      /* current cookie secret */
    uint8_t prev_secret[32]; /* the one before, still accepted (cookies in flight) */
    bool has_prev;
    zhtp_time rotated_at;
    zhtp_time bucket_start; /* rate limiter: inits counted per 1-second bucket */
    uint32_t bucket_count;
} zhtp_cookie_state;

void zhtp_cookie_init(zhtp_cookie_state *st, zhtp_rng_fn rng, void *ud, zhtp_time now);
/* Wipes both secrets. */
void zhtp_cookie_clear(zhtp_cookie_state *st);
/* Rotates the secret when ZHTP_SESSION_COOKIE_ROTATE_NS have passed. */
void zhtp_cookie_tick(zhtp_cookie_state *st, zhtp_rng_fn rng, void *ud, zhtp_time now);
zhtp_time zhtp_cookie_next_deadline(const zhtp_cookie_state *st);

/* Counts one INIT that passed mac1 at |now|; true when the count in the current second exceeds
 * |rate| (the responder is "under load" and requires mac2). */
bool zhtp_cookie_count_init(zhtp_cookie_state *st, zhtp_time now, uint32_t rate);

/* The MACed bytes of an INIT are ids (the header's sender || target, 64 bytes) || body (the
 * payload up to, not including, the 32-byte mac field contents). */
void zhtp_cookie_mac1(uint8_t mac[ZHTP_COOKIE_MAC_LEN], const uint8_t receiver_id[ZHTP_NODE_ID_LEN],
                      const uint8_t ids[64], const uint8_t *body, size_t body_len);
void zhtp_cookie_mac2(uint8_t mac[ZHTP_COOKIE_MAC_LEN], const uint8_t cookie[ZHTP_COOKIE_LEN],
                      const uint8_t ids[64], const uint8_t *body, size_t body_len,
                      const uint8_t mac1[ZHTP_COOKIE_MAC_LEN]);

/* The cookie of an address under the current secret. */
void zhtp_cookie_make(const zhtp_cookie_state *st, uint8_t cookie[ZHTP_COOKIE_LEN],
                      zhtp_link_id link, const zhtp_addr *addr);
/* Constant-time check of mac2 under the cookie of |addr| for the current and previous secret. */
bool zhtp_cookie_check_mac2(const zhtp_cookie_state *st, zhtp_link_id link, const zhtp_addr *addr,
                            const uint8_t ids[64], const uint8_t *body, size_t body_len,
                            const uint8_t mac1[ZHTP_COOKIE_MAC_LEN],
                            const uint8_t mac2[ZHTP_COOKIE_MAC_LEN]);

/* Seals / opens the cookie of a COOKIE_REPLY. open returns ZHTP_OK or ZHTP_ERR_CRYPTO_DECRYPT. */
void zhtp_cookie_seal(uint8_t out[ZHTP_COOKIE_SEALED_LEN],
                      const uint8_t nonce[ZHTP_COOKIE_NONCE_LEN],
                      const uint8_t responder_id[ZHTP_NODE_ID_LEN],
                      const uint8_t mac1[ZHTP_COOKIE_MAC_LEN],
                      const uint8_t cookie[ZHTP_COOKIE_LEN]);
ZHTP_NODISCARD int zhtp_cookie_open(uint8_t cookie[ZHTP_COOKIE_LEN],
                                    const uint8_t in[ZHTP_COOKIE_SEALED_LEN],
                                    const uint8_t nonce[ZHTP_COOKIE_NONCE_LEN],
                                    const uint8_t responder_id[ZHTP_NODE_ID_LEN],
                                    const uint8_t mac1[ZHTP_COOKIE_MAC_LEN]);

#endif
