/* Handshake messages (docs/sessions.md §3). Step names follow the spec: H1, sig_I, H2, sig_R,
 * K = (k_confirm, k_i2r, k_r2i), confirm. */
#include "handshake.h"

#include <string.h>

#include "zhtp/blake3.h"
#include "zhtp/util.h"

static void be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

void zhtp_hs_initiator_clear(zhtp_hs_initiator *st)
{
    zhtp_wipe(st, sizeof *st);
}

/* H1 = derive_key(INIT context, suite || sender_index || initiator id || responder id ||
 *                 timestamp || flags || ephemeral public key) */
static void compute_h1(uint8_t h1[32], uint32_t sender_index, const uint8_t iid[32],
                       const uint8_t rid[32], uint64_t ts, uint8_t flags, const uint8_t *epk)
{
    uint8_t fixed[1 + 4 + 32 + 32 + 8 + 1];
    fixed[0] = ZHTP_WIRE_SUITE_HYBRID1;
    be32(fixed + 1, sender_index);
    memcpy(fixed + 5, iid, 32);
    memcpy(fixed + 37, rid, 32);
    be64(fixed + 69, ts);
    fixed[77] = flags;
    zhtp_blake3 h;
    zhtp_blake3_init_derive_key(&h, ZHTP_HS_INIT_CONTEXT);
    zhtp_blake3_update(&h, fixed, sizeof fixed);
    zhtp_blake3_update(&h, epk, ZHTP_KEM_HYBRID_PUBLICKEYBYTES);
    zhtp_blake3_final(&h, h1, 32);
}

/* H2 = derive_key(RESPONSE context, H1 || sig_I || responder index || initiator index ||
 *                 flags || ciphertext) */
static void compute_h2(uint8_t h2[32], const uint8_t h1[32], const uint8_t *auth_i, size_t auth_len,
                       uint32_t r_index, uint32_t i_index, uint8_t flags, const uint8_t *ct)
{
    uint8_t fixed[9];
    be32(fixed, r_index);
    be32(fixed + 4, i_index);
    fixed[8] = flags;
    zhtp_blake3 h;
    zhtp_blake3_init_derive_key(&h, ZHTP_HS_RESPONSE_CONTEXT);
    zhtp_blake3_update(&h, h1, 32);
    zhtp_blake3_update(&h, auth_i, auth_len);
    zhtp_blake3_update(&h, fixed, sizeof fixed);
    zhtp_blake3_update(&h, ct, ZHTP_KEM_HYBRID_CIPHERTEXTBYTES);
    zhtp_blake3_final(&h, h2, 32);
}

/* binder = BLAKE3-keyed(derive_key(BINDER context, rs), H1) */
static void compute_binder(uint8_t binder[ZHTP_HS_BINDER_LEN], const uint8_t rs[32],
                           const uint8_t h1[32])
{
    uint8_t key[32];
    zhtp_blake3_derive_key(key, sizeof key, ZHTP_HS_BINDER_CONTEXT, rs, 32);
    zhtp_blake3_keyed_hash(binder, ZHTP_HS_BINDER_LEN, key, h1, 32);
    zhtp_wipe(key, sizeof key);
}

/* K = derive_key(KEYS context, ss || H2), or derive_key(KEYS RESUME context, ss || rs || H2),
 * 96 bytes: k_confirm || k_i2r || k_r2i; confirm = BLAKE3-keyed(k_confirm, H2)[0..16);
 * next resumption secret = derive_key(RESUMPTION context, ss || H2). */
static void derive_keys(zhtp_hs_keys *keys, uint8_t confirm[ZHTP_HS_CONFIRM_LEN],
                        const uint8_t ss[32], const uint8_t h2[32], const uint8_t *rs)
{
    uint8_t km[96], k[96];
    size_t off = 32;
    memcpy(km, ss, 32);
    memcpy(km + 32, h2, 32);
    zhtp_blake3_derive_key(keys->resume, 32, ZHTP_HS_RESUMPTION_CONTEXT, km, 64);
    if (rs) {
        memcpy(km + off, rs, 32);
        off += 32;
    }
    memcpy(km + off, h2, 32);
    off += 32;
    zhtp_blake3_derive_key(k, sizeof k, rs ? ZHTP_HS_KEYS_RESUME_CONTEXT : ZHTP_HS_KEYS_CONTEXT, km,
                           off);
    memcpy(keys->i2r, k + 32, 32);
    memcpy(keys->r2i, k + 64, 32);
    zhtp_blake3_keyed_hash(confirm, ZHTP_HS_CONFIRM_LEN, k, h2, 32);
    zhtp_wipe(km, sizeof km);
    zhtp_wipe(k, sizeof k);
}

static void mk_header(zhtp_wire_header *h, uint8_t op, const uint8_t *sender, const uint8_t *target,
                      uint32_t payload_len, uint64_t message_id)
{
    memset(h, 0, sizeof *h);
    h->version = ZHTP_WIRE_VERSION;
    h->operation = op;
    h->hop_limit = ZHTP_WIRE_DEFAULT_HOP_LIMIT;
    h->route_bound = ZHTP_WIRE_ROUTE_BOUND_NONE; /* originated: no bound (protocol.md 3.1) */
    h->payload_len = payload_len;
    memcpy(h->sender, sender, ZHTP_NODE_ID_LEN);
    memcpy(h->target, target, ZHTP_NODE_ID_LEN);
    h->message_id = message_id;
}

/* Encodes header + payload; returns the total length or an error. */
static zhtp_ssize put_packet(uint8_t *out, size_t cap, const zhtp_wire_header *h,
                             const zhtp_wire_payload *p)
{
    zhtp_ssize n = zhtp_wire_header_encode(out, cap, h);
    if (n < 0)
        return n;
    zhtp_ssize m = zhtp_wire_payload_encode(out + n, cap - (size_t)n, p);
    if (m < 0)
        return m;
    if ((uint32_t)m != h->payload_len)
        return ZHTP_ERR_INTERNAL;
    return n + m;
}

static void init_macs(uint8_t *pkt, size_t len, const uint8_t *cookie, uint8_t mac1_out[16])
{
    const uint8_t *ids = pkt + 16, *target = pkt + 48;
    const uint8_t *body = pkt + ZHTP_WIRE_HEADER_LEN;
    size_t body_len = len - ZHTP_WIRE_HEADER_LEN - ZHTP_HS_INIT_MAC_LEN;
    uint8_t *mac = pkt + len - ZHTP_HS_INIT_MAC_LEN;
    zhtp_cookie_mac1(mac, target, ids, body, body_len);
    memcpy(mac1_out, mac, ZHTP_COOKIE_MAC_LEN);
    if (cookie)
        zhtp_cookie_mac2(mac + 16, cookie, ids, body, body_len, mac);
    else
        memset(mac + 16, 0, 16);
}

zhtp_ssize zhtp_hs_init_build(uint8_t *out, size_t cap, zhtp_hs_initiator *st,
                              const zhtp_identity *id, const uint8_t responder[ZHTP_NODE_ID_LEN],
                              uint32_t sender_index, uint64_t timestamp, uint8_t flags,
                              uint64_t message_id, const uint8_t *cookie, const uint8_t *rs,
                              const uint8_t seed[ZHTP_HS_INIT_SEEDBYTES], zhtp_session_stats *ops)
{
    const zhtp_identity_public *me = zhtp_identity_get_public(id);
    if (rs)
        flags = (uint8_t)((flags & ~ZHTP_HS_FLAG_IDENTITY) | ZHTP_HS_FLAG_RESUME);
    else
        flags = (uint8_t)(flags & ~ZHTP_HS_FLAG_RESUME);
    bool attach = flags & ZHTP_HS_FLAG_IDENTITY;
    size_t id_len = rs       ? ZHTP_HS_INIT_ID_RESUME
                    : attach ? ZHTP_HS_INIT_ID_MAX
                             : ZHTP_HS_INIT_ID_MIN;
    size_t total = ZHTP_HS_INIT_FIXED + id_len;
    uint8_t epk[ZHTP_KEM_HYBRID_PUBLICKEYBYTES];
    uint8_t idf[ZHTP_HS_INIT_ID_MAX];
    static const uint8_t zero_mac[ZHTP_HS_INIT_MAC_LEN];
    zhtp_ssize ret;

    if (cap < total)
        return ZHTP_ERR_NOBUF;
    memset(st, 0, sizeof *st);
    st->sender_index = sender_index;
    memcpy(st->responder, responder, ZHTP_NODE_ID_LEN);
    /* Ephemeral hybrid KEM key pair, fresh per INIT (forward secrecy). */
    if (zhtp_kem_hybrid_keypair_from_seed(epk, st->eph_sk, seed) != ZHTP_OK) {
        ret = ZHTP_ERR_INTERNAL;
        goto fail;
    }
    ops->kem_keygen++;
    compute_h1(st->h1, sender_index, me->node_id, responder, timestamp, flags, epk);
    int rc = ZHTP_OK;
    if (rs) {
        /* Resumption: a binder under the previous session's secret replaces sig_I. */
        st->resume = true;
        memcpy(st->rs, rs, 32);
        st->auth_len = ZHTP_HS_BINDER_LEN;
        compute_binder(st->sig_i, rs, st->h1);
        goto assemble;
    }
    st->auth_len = ZHTP_SIGN_HYBRID_BYTES;
    /* sig_I: the initiator is authenticated in the first flight. Hedged ML-DSA with rnd from
     * the injected rng, so the handshake is reproducible from its seed (docs/sessions.md §7). */
    rc = zhtp_identity_sign_from_seed(
        id, st->sig_i, st->h1, 32, (const uint8_t *)ZHTP_HS_SIG_CTX_INIT,
        strlen(ZHTP_HS_SIG_CTX_INIT), seed + ZHTP_KEM_HYBRID_SEEDBYTES);
    ops->sig_sign++;
    if (rc != ZHTP_OK) {
        ret = rc;
        goto fail;
    }
assemble:
    idf[0] = flags;
    be64(idf + 1, timestamp);
    size_t off = 9;
    if (attach) {
        if (zhtp_identity_public_encode(idf + off, sizeof idf - off, me) < 0) {
            ret = ZHTP_ERR_INTERNAL;
            goto fail;
        }
        off += ZHTP_IDENTITY_PUBLIC_BYTES;
    }
    memcpy(idf + off, st->sig_i, st->auth_len);

    zhtp_wire_header h;
    mk_header(&h, ZHTP_WIRE_OP_HANDSHAKE_INIT, me->node_id, responder,
              (uint32_t)(total - ZHTP_WIRE_HEADER_LEN), message_id);
    h.timestamp_ms = timestamp / ZHTP_NS_PER_MS;
    zhtp_wire_payload p;
    memset(&p, 0, sizeof p);
    p.operation = ZHTP_WIRE_OP_HANDSHAKE_INIT;
    p.u.handshake.sender_index = sender_index;
    p.u.handshake.suite = ZHTP_WIRE_SUITE_HYBRID1;
    p.u.handshake.field[0] = (zhtp_wire_bytes){epk, sizeof epk};
    p.u.handshake.field[1] = (zhtp_wire_bytes){idf, id_len};
    p.u.handshake.field[2] = (zhtp_wire_bytes){zero_mac, sizeof zero_mac};
    ret = put_packet(out, cap, &h, &p);
    if (ret < 0)
        goto fail;
    init_macs(out, (size_t)ret, cookie, st->mac1);
    return ret;
fail:
    zhtp_hs_initiator_clear(st);
    return ret;
}

void zhtp_hs_init_remac(uint8_t *pkt, size_t len, zhtp_hs_initiator *st, const uint8_t *cookie)
{
    init_macs(pkt, len, cookie, st->mac1);
}

/* The steps both handshake parsers share: decode the packet (untrusted), check it is operation
 * |op|, decode its handshake payload, and read the flags byte that opens field 1, refusing
 * bits outside |known_flags|. */
static int decode_handshake(zhtp_wire_packet *p, zhtp_wire_payload *pl, uint8_t *flags,
                            const uint8_t *pkt, size_t len, uint8_t op, uint8_t known_flags)
{
    int rc = zhtp_wire_packet_decode(p, pkt, len);
    if (rc != 0)
        return rc;
    if (p->hdr.operation != op)
        return ZHTP_ERR_WIRE_OPERATION;
    rc = zhtp_wire_payload_decode(pl, p->hdr.operation, p->payload.ptr, p->payload.len);
    if (rc != 0)
        return rc;
    const zhtp_wire_bytes *idf = &pl->u.handshake.field[1];
    if (idf->len < 1)
        return ZHTP_ERR_WIRE_LENGTH;
    *flags = idf->ptr[0];
    if (*flags & ~known_flags)
        return ZHTP_ERR_WIRE_RESERVED;
    return ZHTP_OK;
}

int zhtp_hs_init_parse(zhtp_hs_init_msg *m, const uint8_t *pkt, size_t len)
{
    zhtp_wire_packet p;
    zhtp_wire_payload pl;
    uint8_t flags;
    memset(m, 0, sizeof *m);
    int rc = decode_handshake(&p, &pl, &flags, pkt, len, ZHTP_WIRE_OP_HANDSHAKE_INIT,
                              ZHTP_HS_FLAGS_KNOWN);
    if (rc != ZHTP_OK)
        return rc;
    const zhtp_wire_handshake *h = &pl.u.handshake;
    const zhtp_wire_bytes *idf = &h->field[1];
    bool resume = flags & ZHTP_HS_FLAG_RESUME;
    if (resume && (flags & ZHTP_HS_FLAG_IDENTITY))
        return ZHTP_ERR_WIRE_FIELD;
    size_t want = resume                            ? ZHTP_HS_INIT_ID_RESUME
                  : (flags & ZHTP_HS_FLAG_IDENTITY) ? ZHTP_HS_INIT_ID_MAX
                                                    : ZHTP_HS_INIT_ID_MIN;
    if (idf->len != want || h->field[2].len != ZHTP_HS_INIT_MAC_LEN ||
        h->field[0].len != ZHTP_KEM_HYBRID_PUBLICKEYBYTES)
        return ZHTP_ERR_WIRE_LENGTH;
    m->hdr = p.hdr;
    m->sender_index = h->sender_index;
    m->flags = flags;
    m->timestamp = rd64(idf->ptr + 1);
    m->epk = h->field[0].ptr;
    m->pub = (flags & ZHTP_HS_FLAG_IDENTITY) ? idf->ptr + 9 : NULL;
    if (resume)
        m->binder = idf->ptr + 9;
    else
        m->sig = idf->ptr + idf->len - ZHTP_SIGN_HYBRID_BYTES;
    m->mac1 = h->field[2].ptr;
    m->mac2 = h->field[2].ptr + ZHTP_COOKIE_MAC_LEN;
    m->ids = pkt + 16;
    m->body = pkt + ZHTP_WIRE_HEADER_LEN;
    m->body_len = p.payload.len - ZHTP_HS_INIT_MAC_LEN;
    return ZHTP_OK;
}

bool zhtp_hs_init_mac1_ok(const zhtp_hs_init_msg *m, const uint8_t own_id[ZHTP_NODE_ID_LEN])
{
    uint8_t want[ZHTP_COOKIE_MAC_LEN];
    zhtp_cookie_mac1(want, own_id, m->ids, m->body, m->body_len);
    return zhtp_ct_memcmp(want, m->mac1, sizeof want) == 0;
}

int zhtp_hs_init_check_binder(const zhtp_hs_init_msg *m, const uint8_t rs[32], uint8_t h1[32])
{
    uint8_t want[ZHTP_HS_BINDER_LEN];
    if (!m->binder)
        return ZHTP_ERR_INVAL;
    compute_h1(h1, m->sender_index, m->hdr.sender, m->hdr.target, m->timestamp, m->flags, m->epk);
    compute_binder(want, rs, h1);
    int ok = zhtp_ct_memcmp(want, m->binder, sizeof want);
    zhtp_wipe(want, sizeof want);
    return ok == 0 ? ZHTP_OK : ZHTP_ERR_CRYPTO_VERIFY;
}

int zhtp_hs_init_verify(const zhtp_hs_init_msg *m, const zhtp_identity_public *ipub, uint8_t h1[32],
                        zhtp_session_stats *ops)
{
    if (!m->sig)
        return ZHTP_ERR_INVAL;
    compute_h1(h1, m->sender_index, m->hdr.sender, m->hdr.target, m->timestamp, m->flags, m->epk);
    ops->sig_verify++;
    int rc = zhtp_sign_hybrid_verify(
        m->sig, ZHTP_SIGN_HYBRID_BYTES, h1, 32, (const uint8_t *)ZHTP_HS_SIG_CTX_INIT,
        strlen(ZHTP_HS_SIG_CTX_INIT), ipub->sig_pk, sizeof ipub->sig_pk);
    return rc;
}

zhtp_ssize zhtp_hs_response_build(uint8_t *out, size_t cap, zhtp_hs_keys *keys,
                                  const zhtp_identity *id, const zhtp_hs_init_msg *m,
                                  const uint8_t h1[32], uint32_t sender_index, bool attach_identity,
                                  uint64_t message_id, const uint8_t *rs,
                                  const uint8_t seed[ZHTP_HS_RESP_SEEDBYTES],
                                  zhtp_session_stats *ops)
{
    const zhtp_identity_public *me = zhtp_identity_get_public(id);
    if ((rs != NULL) != (m->binder != NULL))
        return ZHTP_ERR_INVAL;
    if (rs)
        attach_identity = false;
    size_t id_len = rs                ? ZHTP_HS_RESP_ID_RESUME
                    : attach_identity ? ZHTP_HS_RESP_ID_MAX
                                      : ZHTP_HS_RESP_ID_MIN;
    size_t total = ZHTP_HS_RESP_FIXED + id_len;
    uint8_t flags = rs ? ZHTP_HS_RESP_FLAG_RESUME : attach_identity ? ZHTP_HS_FLAG_IDENTITY : 0;
    const uint8_t *auth_i = rs ? m->binder : m->sig;
    size_t auth_len = rs ? ZHTP_HS_BINDER_LEN : ZHTP_SIGN_HYBRID_BYTES;
    uint8_t ct[ZHTP_KEM_HYBRID_CIPHERTEXTBYTES], ss[ZHTP_KEM_HYBRID_SSBYTES];
    uint8_t h2[32], confirm[ZHTP_HS_CONFIRM_LEN];
    uint8_t idf[ZHTP_HS_RESP_ID_MAX];
    zhtp_ssize ret;

    memset(keys, 0, sizeof *keys);
    if (cap < total)
        return ZHTP_ERR_NOBUF;
    ops->kem_encaps++;
    int rc = zhtp_kem_hybrid_encaps_from_seed(ct, ss, m->epk, seed);
    if (rc != ZHTP_OK) {
        ret = rc;
        goto out;
    }
    compute_h2(h2, h1, auth_i, auth_len, sender_index, m->sender_index, flags, ct);
    derive_keys(keys, confirm, ss, h2, rs);
    idf[0] = flags;
    if (rs) /* resumption: confirm, under keys that mix rs, authenticates R */
        goto assemble;
    ops->sig_sign++;
    size_t off = 1;
    if (attach_identity) {
        if (zhtp_identity_public_encode(idf + off, sizeof idf - off, me) < 0) {
            ret = ZHTP_ERR_INTERNAL;
            goto out;
        }
        off += ZHTP_IDENTITY_PUBLIC_BYTES;
    }
    rc = zhtp_identity_sign_from_seed(
        id, idf + off, h2, 32, (const uint8_t *)ZHTP_HS_SIG_CTX_RESPONSE,
        strlen(ZHTP_HS_SIG_CTX_RESPONSE), seed + ZHTP_KEM_HYBRID_ENCAPS_SEEDBYTES);
    if (rc != ZHTP_OK) {
        ret = rc;
        goto out;
    }
assemble:;
    zhtp_wire_header h;
    mk_header(&h, ZHTP_WIRE_OP_HANDSHAKE_RESPONSE, me->node_id, m->hdr.sender,
              (uint32_t)(total - ZHTP_WIRE_HEADER_LEN), message_id);
    zhtp_wire_payload p;
    memset(&p, 0, sizeof p);
    p.operation = ZHTP_WIRE_OP_HANDSHAKE_RESPONSE;
    p.u.handshake.sender_index = sender_index;
    p.u.handshake.receiver_index = m->sender_index;
    p.u.handshake.suite = ZHTP_WIRE_SUITE_HYBRID1;
    p.u.handshake.field[0] = (zhtp_wire_bytes){ct, sizeof ct};
    p.u.handshake.field[1] = (zhtp_wire_bytes){idf, id_len};
    p.u.handshake.field[2] = (zhtp_wire_bytes){confirm, sizeof confirm};
    ret = put_packet(out, cap, &h, &p);
out:
    if (ret < 0)
        zhtp_wipe(keys, sizeof *keys);
    zhtp_wipe(ss, sizeof ss);
    zhtp_wipe(confirm, sizeof confirm);
    return ret;
}

int zhtp_hs_response_parse(zhtp_hs_resp_msg *m, const uint8_t *pkt, size_t len)
{
    zhtp_wire_packet p;
    zhtp_wire_payload pl;
    uint8_t flags;
    memset(m, 0, sizeof *m);
    int rc = decode_handshake(&p, &pl, &flags, pkt, len, ZHTP_WIRE_OP_HANDSHAKE_RESPONSE,
                              ZHTP_HS_FLAG_IDENTITY | ZHTP_HS_RESP_FLAG_RESUME);
    if (rc != ZHTP_OK)
        return rc;
    const zhtp_wire_handshake *h = &pl.u.handshake;
    const zhtp_wire_bytes *idf = &h->field[1];
    if (flags == (ZHTP_HS_FLAG_IDENTITY | ZHTP_HS_RESP_FLAG_RESUME))
        return ZHTP_ERR_WIRE_FIELD;
    size_t want = (flags & ZHTP_HS_RESP_FLAG_RESUME) ? ZHTP_HS_RESP_ID_RESUME
                  : flags                            ? ZHTP_HS_RESP_ID_MAX
                                                     : ZHTP_HS_RESP_ID_MIN;
    if (idf->len != want || h->field[2].len != ZHTP_HS_CONFIRM_LEN ||
        h->field[0].len != ZHTP_KEM_HYBRID_CIPHERTEXTBYTES)
        return ZHTP_ERR_WIRE_LENGTH;
    m->hdr = p.hdr;
    m->sender_index = h->sender_index;
    m->receiver_index = h->receiver_index;
    m->flags = flags;
    m->ct = h->field[0].ptr;
    m->pub = (flags & ZHTP_HS_FLAG_IDENTITY) ? idf->ptr + 1 : NULL;
    m->sig =
        (flags & ZHTP_HS_RESP_FLAG_RESUME) ? NULL : idf->ptr + idf->len - ZHTP_SIGN_HYBRID_BYTES;
    m->confirm = h->field[2].ptr;
    return ZHTP_OK;
}

int zhtp_hs_response_open(const zhtp_hs_resp_msg *m, const zhtp_hs_initiator *st,
                          zhtp_hs_keys *keys, uint8_t h2[32], zhtp_session_stats *ops)
{
    uint8_t ss[ZHTP_KEM_HYBRID_SSBYTES], confirm[ZHTP_HS_CONFIRM_LEN];
    memset(keys, 0, sizeof *keys);
    ops->kem_decaps++;
    int rc = zhtp_kem_hybrid_decaps(ss, m->ct, ZHTP_KEM_HYBRID_CIPHERTEXTBYTES, st->eph_sk);
    if (rc != ZHTP_OK)
        goto out;
    /* A resumption INIT must get a resumption RESPONSE, and a signed one a signed one. */
    if (st->resume != (m->sig == NULL)) {
        rc = ZHTP_ERR_CRYPTO_VERIFY;
        goto out;
    }
    compute_h2(h2, st->h1, st->sig_i, st->auth_len, m->sender_index, m->receiver_index, m->flags,
               m->ct);
    derive_keys(keys, confirm, ss, h2, st->resume ? st->rs : NULL);
    if (zhtp_ct_memcmp(confirm, m->confirm, sizeof confirm) != 0)
        rc = ZHTP_ERR_CRYPTO_DECRYPT;
out:
    if (rc != ZHTP_OK)
        zhtp_wipe(keys, sizeof *keys);
    zhtp_wipe(ss, sizeof ss);
    zhtp_wipe(confirm, sizeof confirm);
    return rc;
}

int zhtp_hs_response_verify(const zhtp_hs_resp_msg *m, const zhtp_identity_public *rpub,
                            const uint8_t h2[32], zhtp_session_stats *ops)
{
    if (!m->sig)
        return ZHTP_ERR_INVAL;
    ops->sig_verify++;
    return zhtp_sign_hybrid_verify(
        m->sig, ZHTP_SIGN_HYBRID_BYTES, h2, 32, (const uint8_t *)ZHTP_HS_SIG_CTX_RESPONSE,
        strlen(ZHTP_HS_SIG_CTX_RESPONSE), rpub->sig_pk, sizeof rpub->sig_pk);
}

zhtp_ssize zhtp_hs_cookie_build(uint8_t *out, size_t cap, const zhtp_cookie_state *cs,
                                const uint8_t own_id[ZHTP_NODE_ID_LEN], const zhtp_hs_init_msg *m,
                                zhtp_link_id link, const zhtp_addr *addr,
                                const uint8_t nonce[ZHTP_COOKIE_NONCE_LEN], uint64_t message_id)
{
    uint8_t cookie[ZHTP_COOKIE_LEN], sealed[ZHTP_COOKIE_SEALED_LEN];
    if (cap < ZHTP_HS_COOKIE_LEN)
        return ZHTP_ERR_NOBUF;
    zhtp_cookie_make(cs, cookie, link, addr);
    zhtp_cookie_seal(sealed, nonce, own_id, m->mac1, cookie);
    zhtp_wipe(cookie, sizeof cookie);
    zhtp_wire_header h;
    mk_header(&h, ZHTP_WIRE_OP_COOKIE_REPLY, own_id, m->hdr.sender,
              ZHTP_HS_COOKIE_LEN - ZHTP_WIRE_HEADER_LEN, message_id);
    zhtp_wire_payload p;
    memset(&p, 0, sizeof p);
    p.operation = ZHTP_WIRE_OP_COOKIE_REPLY;
    p.u.handshake.receiver_index = m->sender_index;
    p.u.handshake.field[0] = (zhtp_wire_bytes){nonce, ZHTP_COOKIE_NONCE_LEN};
    p.u.handshake.field[1] = (zhtp_wire_bytes){sealed, sizeof sealed};
    return put_packet(out, cap, &h, &p);
}

int zhtp_hs_cookie_parse(zhtp_hs_cookie_msg *m, const uint8_t *pkt, size_t len)
{
    zhtp_wire_packet p;
    zhtp_wire_payload pl;
    memset(m, 0, sizeof *m);
    int rc = zhtp_wire_packet_decode(&p, pkt, len);
    if (rc != 0)
        return rc;
    if (p.hdr.operation != ZHTP_WIRE_OP_COOKIE_REPLY)
        return ZHTP_ERR_WIRE_OPERATION;
    rc = zhtp_wire_payload_decode(&pl, p.hdr.operation, p.payload.ptr, p.payload.len);
    if (rc != 0)
        return rc;
    const zhtp_wire_handshake *h = &pl.u.handshake;
    if (h->field[0].len != ZHTP_COOKIE_NONCE_LEN || h->field[1].len != ZHTP_COOKIE_SEALED_LEN)
        return ZHTP_ERR_WIRE_LENGTH;
    m->hdr = p.hdr;
    m->receiver_index = h->receiver_index;
    m->nonce = h->field[0].ptr;
    m->sealed = h->field[1].ptr;
    return ZHTP_OK;
}
