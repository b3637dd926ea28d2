/* core/dht: message codec, records, crypto puzzle (byte formats: docs/dht.md). */
#include <string.h>

#include "dht_internal.h"
#include "zhtp/blake3.h"
#include "zhtp/util.h"
#include "zhtp/wire.h"

#define DHT_RECORD_KEY_CONTEXT "zhtp 2026-11 dht record key v1"
#define DHT_RECORD_SIG_CTX     "zhtp dht record v1"
#define DHT_RECORD_MAX         ZHTP_DHT_RECORD_LEN(ZHTP_DHT_NAME_MAX, ZHTP_DHT_RECORD_VALUE_MAX)

/* Messages use the protocol's byte order, big-endian (docs/protocol.md 1). Records and
 * manifests (values, not protocol framing) keep their own little-endian layout (docs/dht.md). */
static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}
static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}
static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static void put_i16(uint8_t *p, int16_t v)
{
    p[0] = (uint8_t)((uint16_t)v >> 8);
    p[1] = (uint8_t)((uint16_t)v & 0xff);
}
static int16_t get_i16(const uint8_t *p)
{
    return (int16_t)(uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

/* Little-endian helpers for the record layout (docs/dht.md "Values"). */
static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static bool val_len_ok(uint8_t kind, size_t len)
{
    if (kind == ZHTP_DHT_KIND_CHUNK)
        return len >= 1 && len <= ZHTP_DHT_CHUNK_MAX;
    if (kind == ZHTP_DHT_KIND_RECORD)
        return len >= ZHTP_DHT_RECORD_LEN(1, 0) && len <= DHT_RECORD_MAX;
    return false;
}

size_t dht_msg_len(const dht_msg *m)
{
    switch (m->type) {
    case ZHTP_DHT_MSG_PING:
    case ZHTP_DHT_MSG_PONG:
        return DHT_HDR_LEN;
    case ZHTP_DHT_MSG_FIND_NODE:
        return DHT_HDR_LEN + 32;
    case ZHTP_DHT_MSG_FIND_VALUE:
        return DHT_HDR_LEN + 1 + 32;
    case ZHTP_DHT_MSG_NODES:
        if (m->n_ids > ZHTP_DHT_K_MAX || (m->flags & ~DHT_FLAG_LOCATORS) ||
            (!(m->flags & DHT_FLAG_LOCATORS) && m->locs_len))
            return 0;
        return DHT_HDR_LEN + 1 + 32 * m->n_ids + m->locs_len;
    case ZHTP_DHT_MSG_VALUE:
        return val_len_ok(m->kind, m->val_len) ? DHT_HDR_LEN + 1 + 4 + m->val_len : 0;
    case ZHTP_DHT_MSG_STORE:
        return val_len_ok(m->kind, m->val_len) ? DHT_HDR_LEN + 1 + 8 + 4 + m->val_len : 0;
    case ZHTP_DHT_MSG_STORE_ACK:
        return DHT_HDR_LEN + 2;
    case ZHTP_DHT_MSG_RELAY_GET:
    case ZHTP_DHT_MSG_RELAY_FETCH:
        return DHT_HDR_LEN + 1 + 32 + ZHTP_KEM_HYBRID_PUBLICKEYBYTES;
    case ZHTP_DHT_MSG_SEALED:
        return val_len_ok(m->kind, m->val_len) ? DHT_HDR_LEN + DHT_SEALED_HDR + m->val_len + 16 : 0;
    case ZHTP_DHT_MSG_RELAY_RESULT:
        if (m->status > 0 || m->status < -999)
            return 0;
        if (m->status != 0)
            return DHT_HDR_LEN + 2;
        return val_len_ok(m->kind, m->val_len) ? DHT_HDR_LEN + 2 + DHT_SEALED_HDR + m->val_len + 16
                                               : 0;
    default:
        return 0;
    }
}

/* kind u8 | ct | len u32 | box(len + 16), len = plaintext length */
static void sealed_put(uint8_t *p, const dht_msg *m)
{
    p[0] = m->kind;
    memcpy(p + 1, m->ct, ZHTP_KEM_HYBRID_CIPHERTEXTBYTES);
    put_u32(p + 1 + ZHTP_KEM_HYBRID_CIPHERTEXTBYTES, (uint32_t)m->val_len);
    memcpy(p + DHT_SEALED_HDR, m->val, m->val_len + 16);
}

static int sealed_get(dht_msg *m, const uint8_t *p, size_t rest, size_t *need)
{
    if (rest < DHT_SEALED_HDR)
        return ZHTP_ERR_WIRE_TRUNCATED;
    m->kind = p[0];
    if (m->kind != ZHTP_DHT_KIND_CHUNK && m->kind != ZHTP_DHT_KIND_RECORD)
        return ZHTP_ERR_WIRE_FIELD;
    m->ct = p + 1;
    m->val_len = get_u32(p + 1 + ZHTP_KEM_HYBRID_CIPHERTEXTBYTES);
    if (!val_len_ok(m->kind, m->val_len))
        return ZHTP_ERR_WIRE_LENGTH;
    *need = DHT_SEALED_HDR + m->val_len + 16;
    if (rest < *need)
        return ZHTP_ERR_WIRE_TRUNCATED;
    m->val = p + DHT_SEALED_HDR;
    return ZHTP_OK;
}

zhtp_ssize dht_msg_encode(const dht_msg *m, uint8_t *out, size_t cap)
{
    size_t len = dht_msg_len(m);
    if (len == 0)
        return ZHTP_ERR_INVAL;
    if (cap < len)
        return ZHTP_ERR_NOBUF;
    out[0] = m->type;
    out[1] = m->type == ZHTP_DHT_MSG_NODES ? m->flags : 0;
    put_u64(out + 2, m->txid);
    uint8_t *p = out + DHT_HDR_LEN;
    switch (m->type) {
    case ZHTP_DHT_MSG_FIND_NODE:
        memcpy(p, m->target, 32);
        break;
    case ZHTP_DHT_MSG_FIND_VALUE:
        p[0] = m->kind;
        memcpy(p + 1, m->target, 32);
        break;
    case ZHTP_DHT_MSG_NODES:
        p[0] = (uint8_t)m->n_ids;
        if (m->n_ids)
            memcpy(p + 1, m->ids, 32 * m->n_ids);
        if (m->locs_len)
            memcpy(p + 1 + 32 * m->n_ids, m->locs, m->locs_len);
        break;
    case ZHTP_DHT_MSG_VALUE:
        p[0] = m->kind;
        put_u32(p + 1, (uint32_t)m->val_len);
        memcpy(p + 5, m->val, m->val_len);
        break;
    case ZHTP_DHT_MSG_STORE:
        p[0] = m->kind;
        put_u64(p + 1, m->expiry);
        put_u32(p + 9, (uint32_t)m->val_len);
        memcpy(p + 13, m->val, m->val_len);
        break;
    case ZHTP_DHT_MSG_STORE_ACK:
        put_i16(p, m->status);
        break;
    case ZHTP_DHT_MSG_RELAY_GET:
    case ZHTP_DHT_MSG_RELAY_FETCH:
        p[0] = m->kind;
        memcpy(p + 1, m->target, 32);
        memcpy(p + 33, m->pk, ZHTP_KEM_HYBRID_PUBLICKEYBYTES);
        break;
    case ZHTP_DHT_MSG_SEALED:
        sealed_put(p, m);
        break;
    case ZHTP_DHT_MSG_RELAY_RESULT:
        put_i16(p, m->status);
        if (m->status == 0)
            sealed_put(p + 2, m);
        break;
    default:
        break;
    }
    return (zhtp_ssize)len;
}

int dht_msg_decode(dht_msg *m, const uint8_t *buf, size_t len)
{
    memset(m, 0, sizeof *m);
    if (!buf || len < DHT_HDR_LEN)
        return ZHTP_ERR_WIRE_TRUNCATED;
    m->type = buf[0];
    if (m->type < ZHTP_DHT_MSG_PING || m->type > ZHTP_DHT_MSG_RELAY_RESULT)
        return ZHTP_ERR_WIRE_FIELD;
    m->flags = buf[1];
    if (m->flags & ~(m->type == ZHTP_DHT_MSG_NODES ? DHT_FLAG_LOCATORS : 0))
        return ZHTP_ERR_WIRE_RESERVED;
    m->txid = get_u64(buf + 2);
    const uint8_t *p = buf + DHT_HDR_LEN;
    size_t rest = len - DHT_HDR_LEN, need = 0;
    switch (m->type) {
    case ZHTP_DHT_MSG_PING:
    case ZHTP_DHT_MSG_PONG:
        need = 0;
        break;
    case ZHTP_DHT_MSG_FIND_NODE:
        need = 32;
        if (rest < need)
            return ZHTP_ERR_WIRE_TRUNCATED;
        memcpy(m->target, p, 32);
        break;
    case ZHTP_DHT_MSG_FIND_VALUE:
        need = 33;
        if (rest < need)
            return ZHTP_ERR_WIRE_TRUNCATED;
        m->kind = p[0];
        if (m->kind != ZHTP_DHT_KIND_CHUNK && m->kind != ZHTP_DHT_KIND_RECORD)
            return ZHTP_ERR_WIRE_FIELD;
        memcpy(m->target, p + 1, 32);
        break;
    case ZHTP_DHT_MSG_NODES:
        if (rest < 1)
            return ZHTP_ERR_WIRE_TRUNCATED;
        m->n_ids = p[0];
        if (m->n_ids > ZHTP_DHT_K_MAX)
            return ZHTP_ERR_WIRE_FIELD;
        need = 1 + 32 * m->n_ids;
        if (rest < need)
            return ZHTP_ERR_WIRE_TRUNCATED;
        m->ids = p + 1;
        if (m->flags & DHT_FLAG_LOCATORS) {
            /* n_ids times loc_len u8 | loc: every length checked against what is present */
            size_t at = need;
            for (size_t i = 0; i < m->n_ids; i++) {
                if (rest < at + 1 || rest < at + 1 + p[at])
                    return ZHTP_ERR_WIRE_TRUNCATED;
                at += 1u + p[at];
            }
            m->locs = p + need;
            m->locs_len = at - need;
            need = at;
        }
        break;
    case ZHTP_DHT_MSG_VALUE:
    case ZHTP_DHT_MSG_STORE: {
        size_t h = m->type == ZHTP_DHT_MSG_STORE ? 13 : 5;
        if (rest < h)
            return ZHTP_ERR_WIRE_TRUNCATED;
        m->kind = p[0];
        if (m->kind != ZHTP_DHT_KIND_CHUNK && m->kind != ZHTP_DHT_KIND_RECORD)
            return ZHTP_ERR_WIRE_FIELD;
        if (m->type == ZHTP_DHT_MSG_STORE)
            m->expiry = get_u64(p + 1);
        m->val_len = get_u32(p + h - 4);
        if (!val_len_ok(m->kind, m->val_len))
            return ZHTP_ERR_WIRE_LENGTH;
        need = h + m->val_len;
        if (rest < need)
            return ZHTP_ERR_WIRE_TRUNCATED;
        m->val = p + h;
        break;
    }
    case ZHTP_DHT_MSG_STORE_ACK:
        need = 2;
        if (rest < need)
            return ZHTP_ERR_WIRE_TRUNCATED;
        m->status = get_i16(p);
        if (m->status > 0 || m->status < -999)
            return ZHTP_ERR_WIRE_FIELD;
        break;
    case ZHTP_DHT_MSG_RELAY_GET:
    case ZHTP_DHT_MSG_RELAY_FETCH:
        need = 33 + ZHTP_KEM_HYBRID_PUBLICKEYBYTES;
        if (rest < need)
            return ZHTP_ERR_WIRE_TRUNCATED;
        m->kind = p[0];
        if (m->kind != ZHTP_DHT_KIND_CHUNK && m->kind != ZHTP_DHT_KIND_RECORD)
            return ZHTP_ERR_WIRE_FIELD;
        memcpy(m->target, p + 1, 32);
        m->pk = p + 33;
        break;
    case ZHTP_DHT_MSG_SEALED: {
        int rc = sealed_get(m, p, rest, &need);
        if (rc)
            return rc;
        break;
    }
    case ZHTP_DHT_MSG_RELAY_RESULT: {
        if (rest < 2)
            return ZHTP_ERR_WIRE_TRUNCATED;
        m->status = get_i16(p);
        if (m->status > 0 || m->status < -999)
            return ZHTP_ERR_WIRE_FIELD;
        need = 2;
        if (m->status == 0) {
            int rc = sealed_get(m, p + 2, rest - 2, &need);
            if (rc)
                return rc;
            need += 2;
        }
        break;
    }
    }
    if (rest != need)
        return ZHTP_ERR_WIRE_LENGTH;
    return ZHTP_OK;
}

int zhtp_dht_msg_wire_op(uint8_t msg_type)
{
    switch (msg_type) {
    case ZHTP_DHT_MSG_PING:
    case ZHTP_DHT_MSG_FIND_NODE:
    case ZHTP_DHT_MSG_FIND_VALUE:
        return ZHTP_WIRE_OP_QUERY;
    case ZHTP_DHT_MSG_PONG:
    case ZHTP_DHT_MSG_NODES:
    case ZHTP_DHT_MSG_VALUE:
        return ZHTP_WIRE_OP_QUERY_RESPONSE;
    case ZHTP_DHT_MSG_STORE:
        return ZHTP_WIRE_OP_STORE;
    case ZHTP_DHT_MSG_STORE_ACK:
        return ZHTP_WIRE_OP_STORE_ACK;
    case ZHTP_DHT_MSG_RELAY_GET:
    case ZHTP_DHT_MSG_RELAY_FETCH:
        return ZHTP_WIRE_OP_RELAY_QUERY;
    case ZHTP_DHT_MSG_SEALED:
    case ZHTP_DHT_MSG_RELAY_RESULT:
        return ZHTP_WIRE_OP_RELAY_RESPONSE;
    default:
        return ZHTP_ERR_INVAL;
    }
}

bool zhtp_dht_puzzle_ok(const uint8_t id[ZHTP_DHT_ID_LEN], uint32_t bits)
{
    uint8_t h[32];
    zhtp_blake3_hash(h, sizeof h, id, ZHTP_DHT_ID_LEN);
    if (bits > 256)
        return false;
    /* Count leading zero bits over the whole hash (no early exit: constant work). */
    uint32_t zeros = 0;
    int still = 1;
    for (int i = 0; i < 32; i++) {
        for (int b = 7; b >= 0; b--) {
            still &= !((h[i] >> b) & 1);
            zeros += (uint32_t)still;
        }
    }
    return zeros >= bits;
}

void zhtp_dht_record_key(uint8_t key[ZHTP_DHT_ID_LEN],
                         const uint8_t pk[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES], const uint8_t *name,
                         size_t name_len)
{
    zhtp_blake3 h;
    uint8_t nl = (uint8_t)name_len;
    zhtp_blake3_init_derive_key(&h, DHT_RECORD_KEY_CONTEXT);
    zhtp_blake3_update(&h, pk, ZHTP_SIGN_HYBRID_PUBLICKEYBYTES);
    zhtp_blake3_update(&h, &nl, 1);
    zhtp_blake3_update(&h, name, name_len);
    zhtp_blake3_final(&h, key, ZHTP_DHT_ID_LEN);
}

/* The signed message: key(32) || seq(8) || expiry(8) || value_len(2) || value. The key binds
 * the owner key and the name, so one signature covers all four fields. */
static size_t record_tbs(uint8_t *m, const uint8_t key[32], uint64_t seq, uint64_t expiry,
                         const uint8_t *value, size_t value_len)
{
    memcpy(m, key, 32);
    put_le64(m + 32, seq);
    put_le64(m + 40, expiry);
    m[48] = (uint8_t)(value_len & 0xff);
    m[49] = (uint8_t)(value_len >> 8);
    if (value_len)
        memcpy(m + 50, value, value_len);
    return 50 + value_len;
}

zhtp_ssize zhtp_dht_record_encode(uint8_t *out, size_t cap,
                                  const uint8_t sk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES],
                                  const uint8_t *name, size_t name_len, uint64_t seq,
                                  uint64_t expiry, const uint8_t *value, size_t value_len,
                                  const uint8_t rnd[ZHTP_MLDSA44_RNDBYTES])
{
    static const size_t ed_pk_off = 32, mldsa_pk_off = 64 + ZHTP_MLDSA44_SECRETKEYBYTES;
    if (!out || !sk || !name || name_len < 1 || name_len > ZHTP_DHT_NAME_MAX ||
        value_len > ZHTP_DHT_RECORD_VALUE_MAX || (value_len && !value) || !rnd)
        return ZHTP_ERR_INVAL;
    size_t len = ZHTP_DHT_RECORD_LEN(name_len, value_len);
    if (cap < len)
        return ZHTP_ERR_NOBUF;
    uint8_t *p = out;
    memcpy(p, sk + ed_pk_off, ZHTP_ED25519_PUBLICKEYBYTES);
    memcpy(p + ZHTP_ED25519_PUBLICKEYBYTES, sk + mldsa_pk_off, ZHTP_MLDSA44_PUBLICKEYBYTES);
    p += ZHTP_SIGN_HYBRID_PUBLICKEYBYTES;
    *p++ = (uint8_t)name_len;
    memcpy(p, name, name_len);
    p += name_len;
    put_le64(p, seq);
    put_le64(p + 8, expiry);
    p[16] = (uint8_t)(value_len & 0xff);
    p[17] = (uint8_t)(value_len >> 8);
    p += 18;
    if (value_len)
        memcpy(p, value, value_len);
    p += value_len;
    uint8_t key[32], tbs[50 + ZHTP_DHT_RECORD_VALUE_MAX];
    zhtp_dht_record_key(key, out, name, name_len);
    size_t tl = record_tbs(tbs, key, seq, expiry, value, value_len);
    int rc = zhtp_sign_hybrid_sign_from_seed(p, tbs, tl, (const uint8_t *)DHT_RECORD_SIG_CTX,
                                             sizeof DHT_RECORD_SIG_CTX - 1, sk, rnd);
    if (rc != ZHTP_OK) {
        memset(out, 0, len);
        return rc;
    }
    return (zhtp_ssize)len;
}

int zhtp_dht_record_parse(zhtp_dht_record *r, const uint8_t *buf, size_t len)
{
    memset(r, 0, sizeof *r);
    const size_t pkl = ZHTP_SIGN_HYBRID_PUBLICKEYBYTES;
    if (!buf || len < pkl + 1)
        return ZHTP_ERR_WIRE_TRUNCATED;
    r->pk = buf;
    r->name_len = buf[pkl];
    if (r->name_len == 0)
        return ZHTP_ERR_WIRE_LENGTH;
    r->name = buf + pkl + 1;
    size_t off = pkl + 1 + r->name_len;
    if (len < off + 18)
        return ZHTP_ERR_WIRE_TRUNCATED;
    r->seq = get_le64(buf + off);
    r->expiry = get_le64(buf + off + 8);
    r->value_len = (size_t)buf[off + 16] | (size_t)buf[off + 17] << 8;
    if (r->value_len > ZHTP_DHT_RECORD_VALUE_MAX)
        return ZHTP_ERR_WIRE_LENGTH;
    off += 18;
    r->value = buf + off;
    if (len < off + r->value_len + ZHTP_SIGN_HYBRID_BYTES)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (len != off + r->value_len + ZHTP_SIGN_HYBRID_BYTES)
        return ZHTP_ERR_WIRE_LENGTH;
    r->sig = buf + off + r->value_len;
    zhtp_dht_record_key(r->key, r->pk, r->name, r->name_len);
    if (zhtp_sign_hybrid_pk_parse(NULL, r->pk, pkl) != ZHTP_OK)
        return ZHTP_ERR_DHT_VERIFY;
    uint8_t tbs[50 + ZHTP_DHT_RECORD_VALUE_MAX];
    size_t tl = record_tbs(tbs, r->key, r->seq, r->expiry, r->value, r->value_len);
    if (zhtp_sign_hybrid_verify(r->sig, ZHTP_SIGN_HYBRID_BYTES, tbs, tl,
                                (const uint8_t *)DHT_RECORD_SIG_CTX, sizeof DHT_RECORD_SIG_CTX - 1,
                                r->pk, pkl) != ZHTP_OK)
        return ZHTP_ERR_DHT_VERIFY;
    return ZHTP_OK;
}
