/* core/handshake: the HANDSHAKE_INIT / HANDSHAKE_RESPONSE / COOKIE_REPLY messages as pure
 * functions (build, parse, verify), without any pool state. docs/sessions.md §3 is the
 * normative byte layout; the step names below (H1, sig_I, H2, sig_R, K, confirm) are its.
 *
 * Every public-key operation is counted in the zhtp_session_stats passed in, so tests can
 * prove that a flood costs none. Secrets (the ephemeral KEM secret key, the shared secret,
 * the derived keys) live in zhtp_hs_initiator / caller buffers and are wiped by the caller
 * with zhtp_hs_initiator_clear, or here on every error path. */
#ifndef ZHTP_CORE_HANDSHAKE_H
#define ZHTP_CORE_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cookie.h"
#include "zhtp/hybrid.h"
#include "zhtp/identity.h"
#include "zhtp/session.h"
#include "zhtp/wire.h"

#define ZHTP_HS_FLAG_IDENTITY      0x01 /* the sender's public identity is attached */
#define ZHTP_HS_FLAG_WANT_IDENTITY 0x02 /* INIT only: please attach yours */
#define ZHTP_HS_FLAG_RESUME        0x04 /* INIT: resumption (binder instead of sig_I) */
#define ZHTP_HS_FLAGS_KNOWN        0x07
#define ZHTP_HS_RESP_FLAG_RESUME   0x02 /* RESPONSE: resumption (no sig_R; confirm authenticates) */
#define ZHTP_HS_BINDER_LEN         32
#define ZHTP_HS_KEY_LEN            32
#define ZHTP_HS_CONFIRM_LEN        16

#define ZHTP_HS_INIT_CONTEXT        "zhtp 2026-11 session init v1"
#define ZHTP_HS_RESPONSE_CONTEXT    "zhtp 2026-11 session response v1"
#define ZHTP_HS_KEYS_CONTEXT        "zhtp 2026-11 session keys v1"
#define ZHTP_HS_KEYS_RESUME_CONTEXT "zhtp 2026-11 session keys resume v1"
#define ZHTP_HS_RESUMPTION_CONTEXT  "zhtp 2026-11 session resumption v1"
#define ZHTP_HS_BINDER_CONTEXT      "zhtp 2026-11 session binder v1"
#define ZHTP_HS_SIG_CTX_INIT        "zhtp-session-init"
#define ZHTP_HS_SIG_CTX_RESPONSE    "zhtp-session-response"

/* Field sizes */
#define ZHTP_HS_INIT_ID_MIN    (1 + 8 + ZHTP_SIGN_HYBRID_BYTES)
#define ZHTP_HS_INIT_ID_MAX    (ZHTP_HS_INIT_ID_MIN + ZHTP_IDENTITY_PUBLIC_BYTES)
#define ZHTP_HS_RESP_ID_MIN    (1 + ZHTP_SIGN_HYBRID_BYTES)
#define ZHTP_HS_RESP_ID_MAX    (ZHTP_HS_RESP_ID_MIN + ZHTP_IDENTITY_PUBLIC_BYTES)
#define ZHTP_HS_INIT_ID_RESUME (1 + 8 + ZHTP_HS_BINDER_LEN)
#define ZHTP_HS_RESP_ID_RESUME 1
#define ZHTP_HS_INIT_MAC_LEN   (2 * ZHTP_COOKIE_MAC_LEN)
/* Whole packets (128-byte header included) */
#define ZHTP_HS_INIT_FIXED                                                                         \
    (ZHTP_WIRE_HEADER_LEN + 8 + 2 + ZHTP_WIRE_HYBRID1_KEM_PK_LEN + 2 + 2 + ZHTP_HS_INIT_MAC_LEN)
#define ZHTP_HS_INIT_LEN_MIN (ZHTP_HS_INIT_FIXED + ZHTP_HS_INIT_ID_MIN)
#define ZHTP_HS_INIT_LEN_MAX (ZHTP_HS_INIT_FIXED + ZHTP_HS_INIT_ID_MAX)
#define ZHTP_HS_RESP_FIXED                                                                         \
    (ZHTP_WIRE_HEADER_LEN + 12 + 2 + ZHTP_WIRE_HYBRID1_KEM_CT_LEN + 2 + 2 + ZHTP_HS_CONFIRM_LEN)
#define ZHTP_HS_RESP_LEN_MIN    (ZHTP_HS_RESP_FIXED + ZHTP_HS_RESP_ID_MIN)
#define ZHTP_HS_RESP_LEN_MAX    (ZHTP_HS_RESP_FIXED + ZHTP_HS_RESP_ID_MAX)
#define ZHTP_HS_INIT_LEN_RESUME (ZHTP_HS_INIT_FIXED + ZHTP_HS_INIT_ID_RESUME)
#define ZHTP_HS_RESP_LEN_RESUME (ZHTP_HS_RESP_FIXED + ZHTP_HS_RESP_ID_RESUME)
#define ZHTP_HS_COOKIE_LEN                                                                         \
    (ZHTP_WIRE_HEADER_LEN + 4 + 2 + ZHTP_COOKIE_NONCE_LEN + 2 + ZHTP_COOKIE_SEALED_LEN)

/* Seeds drawn from the rng for one INIT / one RESPONSE: the KEM seed, then the ML-DSA rnd
 * that hedges the signature (FIPS 204 hedged signing; fresh and secret when the driver's rng
 * is a CSPRNG, reproducible when it is seeded). */
#define ZHTP_HS_INIT_SEEDBYTES (ZHTP_KEM_HYBRID_SEEDBYTES + ZHTP_MLDSA44_RNDBYTES)
#define ZHTP_HS_RESP_SEEDBYTES (ZHTP_KEM_HYBRID_ENCAPS_SEEDBYTES + ZHTP_MLDSA44_RNDBYTES)

/* What the initiator keeps between its INIT and the RESPONSE. */
typedef struct zhtp_hs_initiator {
    uint8_t eph_sk[ZHTP_KEM_HYBRID_SECRETKEYBYTES]; /* secret */
    uint8_t h1[32];
    uint8_t sig_i[ZHTP_SIGN_HYBRID_BYTES]; /* auth_I: sig_I, or the binder (first 32) */
    size_t auth_len;                       /* ZHTP_SIGN_HYBRID_BYTES or ZHTP_HS_BINDER_LEN */
    bool resume;
    uint8_t rs[32];                    /* resumption secret used (secret) */
    uint8_t mac1[ZHTP_COOKIE_MAC_LEN]; /* of the INIT last sent: AD of a COOKIE_REPLY */
    uint8_t responder[ZHTP_NODE_ID_LEN];
    uint32_t sender_index;
} zhtp_hs_initiator;

void zhtp_hs_initiator_clear(zhtp_hs_initiator *st);

/* Transport keys of one session, from the initiator's point of view. */
typedef struct zhtp_hs_keys {
    uint8_t i2r[ZHTP_HS_KEY_LEN];
    uint8_t r2i[ZHTP_HS_KEY_LEN];
    uint8_t resume[32]; /* the next resumption secret */
} zhtp_hs_keys;

/* Builds a HANDSHAKE_INIT into out (ZHTP_HS_INIT_LEN_MAX is always enough). flags:
 * ZHTP_HS_FLAG_*. cookie: NULL (mac2 zero) or a cookie from a COOKIE_REPLY. rs: NULL for the
 * signed handshake, or a resumption secret (flags then gets RESUME and loses IDENTITY; no
 * signature is made). Fills *st.
 * Returns the packet length, ZHTP_ERR_NOBUF, ZHTP_ERR_NOMEM (signing) or ZHTP_ERR_INTERNAL. */
zhtp_ssize zhtp_hs_init_build(uint8_t *out, size_t cap, zhtp_hs_initiator *st,
                              const zhtp_identity *id, const uint8_t responder[ZHTP_NODE_ID_LEN],
                              uint32_t sender_index, uint64_t timestamp, uint8_t flags,
                              uint64_t message_id, const uint8_t *cookie, const uint8_t *rs,
                              const uint8_t seed[ZHTP_HS_INIT_SEEDBYTES], zhtp_session_stats *ops);
/* Recomputes the macs of an INIT in place with a cookie (mac2) after a COOKIE_REPLY. */
void zhtp_hs_init_remac(uint8_t *pkt, size_t len, zhtp_hs_initiator *st, const uint8_t *cookie);

/* A parsed INIT: pointers borrow from the packet. */
typedef struct zhtp_hs_init_msg {
    zhtp_wire_header hdr;
    uint32_t sender_index;
    uint8_t flags;
    uint64_t timestamp;
    const uint8_t *epk;    /* ZHTP_KEM_HYBRID_PUBLICKEYBYTES */
    const uint8_t *pub;    /* public identity encoding, or NULL */
    const uint8_t *sig;    /* ZHTP_SIGN_HYBRID_BYTES, or NULL (resumption) */
    const uint8_t *binder; /* ZHTP_HS_BINDER_LEN (resumption), or NULL */
    const uint8_t *mac1;   /* 16 */
    const uint8_t *mac2;   /* 16 */
    const uint8_t *ids;    /* header sender || target (64) */
    const uint8_t *body;   /* MACed payload prefix */
    size_t body_len;
} zhtp_hs_init_msg;

/* Structural parse of an untrusted INIT (no crypto). ZHTP_OK, wire errors, or
 * ZHTP_ERR_WIRE_FIELD / _LENGTH for a session-level field that breaks docs/sessions.md. */
ZHTP_NODISCARD int zhtp_hs_init_parse(zhtp_hs_init_msg *m, const uint8_t *pkt, size_t len);
bool zhtp_hs_init_mac1_ok(const zhtp_hs_init_msg *m, const uint8_t own_id[ZHTP_NODE_ID_LEN]);
/* Verifies sig_I with the initiator's public identity; writes H1. ZHTP_OK or
 * ZHTP_ERR_CRYPTO_VERIFY (or NOMEM). */
ZHTP_NODISCARD int zhtp_hs_init_verify(const zhtp_hs_init_msg *m, const zhtp_identity_public *ipub,
                                       uint8_t h1[32], zhtp_session_stats *ops);

/* Resumption: checks the binder under rs (no public-key operation); writes H1. ZHTP_OK or
 * ZHTP_ERR_CRYPTO_VERIFY. */
ZHTP_NODISCARD int zhtp_hs_init_check_binder(const zhtp_hs_init_msg *m, const uint8_t rs[32],
                                             uint8_t h1[32]);

/* Responder: encapsulates to the INIT's ephemeral key, signs H2 (or, with rs for a RESUME
 * INIT, mixes rs into the keys instead), derives the keys and builds the RESPONSE into out
 * (ZHTP_HS_RESP_LEN_MAX is enough). Returns the length, ZHTP_ERR_NOBUF, ZHTP_ERR_CRYPTO_BADKEY
 * (ephemeral key invalid), ZHTP_ERR_NOMEM. keys zeroed on error. */
zhtp_ssize zhtp_hs_response_build(uint8_t *out, size_t cap, zhtp_hs_keys *keys,
                                  const zhtp_identity *id, const zhtp_hs_init_msg *m,
                                  const uint8_t h1[32], uint32_t sender_index, bool attach_identity,
                                  uint64_t message_id, const uint8_t *rs,
                                  const uint8_t seed[ZHTP_HS_RESP_SEEDBYTES],
                                  zhtp_session_stats *ops);

typedef struct zhtp_hs_resp_msg {
    zhtp_wire_header hdr;
    uint32_t sender_index, receiver_index;
    uint8_t flags;
    const uint8_t *ct;      /* ZHTP_KEM_HYBRID_CIPHERTEXTBYTES */
    const uint8_t *pub;     /* or NULL */
    const uint8_t *sig;     /* NULL in a resumption RESPONSE */
    const uint8_t *confirm; /* 16 */
} zhtp_hs_resp_msg;

ZHTP_NODISCARD int zhtp_hs_response_parse(zhtp_hs_resp_msg *m, const uint8_t *pkt, size_t len);
/* Initiator, step 1: decapsulates, derives the keys and checks the confirmation tag.
 * Writes H2. ZHTP_OK, ZHTP_ERR_CRYPTO_BADKEY, ZHTP_ERR_CRYPTO_DECRYPT (tag wrong). keys zeroed
 * on error. */
ZHTP_NODISCARD int zhtp_hs_response_open(const zhtp_hs_resp_msg *m, const zhtp_hs_initiator *st,
                                         zhtp_hs_keys *keys, uint8_t h2[32],
                                         zhtp_session_stats *ops);
/* Initiator, step 2: verifies sig_R over H2 with the responder's identity. */
ZHTP_NODISCARD int zhtp_hs_response_verify(const zhtp_hs_resp_msg *m,
                                           const zhtp_identity_public *rpub, const uint8_t h2[32],
                                           zhtp_session_stats *ops);

typedef struct zhtp_hs_cookie_msg {
    zhtp_wire_header hdr;
    uint32_t receiver_index;
    const uint8_t *nonce;  /* 24 */
    const uint8_t *sealed; /* 48 */
} zhtp_hs_cookie_msg;

/* Builds a COOKIE_REPLY answering INIT m for address (link, addr). */
zhtp_ssize zhtp_hs_cookie_build(uint8_t *out, size_t cap, const zhtp_cookie_state *cs,
                                const uint8_t own_id[ZHTP_NODE_ID_LEN], const zhtp_hs_init_msg *m,
                                zhtp_link_id link, const zhtp_addr *addr,
                                const uint8_t nonce[ZHTP_COOKIE_NONCE_LEN], uint64_t message_id);
ZHTP_NODISCARD int zhtp_hs_cookie_parse(zhtp_hs_cookie_msg *m, const uint8_t *pkt, size_t len);

#endif
