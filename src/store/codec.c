/* store/ entry codecs (docs/store.md, "Formats"). */
#include "store/codec.h"

#include <string.h>

#include "zhtp/blake3.h"

void store_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint64_t store_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
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
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool is_zero(const uint8_t *p, size_t len)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < len; i++)
        acc |= p[i];
    return acc == 0;
}

/* check = BLAKE3(key || entry without its check field)[0..16). */
static void entry_check(uint8_t check[STORE_CHECK_LEN], const uint8_t *key, const uint8_t *entry,
                        size_t len, size_t check_off)
{
    zhtp_blake3 h;
    zhtp_blake3_init(&h);
    zhtp_blake3_update(&h, key, ZHTP_STORE_KEY_LEN);
    zhtp_blake3_update(&h, entry, check_off);
    zhtp_blake3_update(&h, entry + check_off + STORE_CHECK_LEN, len - check_off - STORE_CHECK_LEN);
    zhtp_blake3_final(&h, check, STORE_CHECK_LEN);
}

static bool check_ok(const uint8_t *key, const uint8_t *entry, size_t len, size_t check_off)
{
    uint8_t c[STORE_CHECK_LEN];
    entry_check(c, key, entry, len, check_off);
    return memcmp(c, entry + check_off, STORE_CHECK_LEN) == 0;
}

/* Common head of record entries and chunk metadata: version, flags, owner. */
static int decode_owner(bool *has_owner, uint8_t owner[ZHTP_NODE_ID_LEN], const uint8_t *in)
{
    if (in[0] != STORE_ENTRY_VERSION || (in[1] & ~STORE_FLAG_OWNER) != 0)
        return ZHTP_ERR_STORE_CORRUPT;
    *has_owner = (in[1] & STORE_FLAG_OWNER) != 0;
    /* One encoding per entry: an absent owner is all zeros, so equal entries are equal bytes. */
    if (!*has_owner && !is_zero(in + 2, ZHTP_NODE_ID_LEN))
        return ZHTP_ERR_STORE_CORRUPT;
    memcpy(owner, in + 2, ZHTP_NODE_ID_LEN);
    return 0;
}

static void encode_owner(uint8_t *out, const uint8_t *owner)
{
    out[0] = STORE_ENTRY_VERSION;
    out[1] = owner ? STORE_FLAG_OWNER : 0;
    if (owner)
        memcpy(out + 2, owner, ZHTP_NODE_ID_LEN);
    else
        memset(out + 2, 0, ZHTP_NODE_ID_LEN);
}

size_t store_record_entry_len(const zhtp_store_record *rec)
{
    return STORE_RECORD_HDR + rec->sig_len + rec->value_len;
}

zhtp_ssize store_record_entry_encode(uint8_t *out, size_t cap, const uint8_t *key,
                                     const zhtp_store_record *rec, const uint8_t *owner)
{
    if (rec->sig_len > ZHTP_STORE_SIG_MAX || rec->value_len > ZHTP_STORE_RECORD_MAX)
        return ZHTP_ERR_INVAL;
    size_t len = store_record_entry_len(rec);
    if (cap < len)
        return ZHTP_ERR_NOBUF;
    encode_owner(out, owner);
    store_put_u64(out + 34, rec->sequence);
    store_put_u64(out + 42, rec->expiry_unix_s);
    out[50] = (uint8_t)(rec->sig_len >> 8);
    out[51] = (uint8_t)rec->sig_len;
    put_u32(out + 52, (uint32_t)rec->value_len);
    if (rec->sig_len)
        memcpy(out + STORE_RECORD_HDR, rec->sig, rec->sig_len);
    if (rec->value_len)
        memcpy(out + STORE_RECORD_HDR + rec->sig_len, rec->value, rec->value_len);
    entry_check(out + STORE_RECORD_CHECK_OFF, key, out, len, STORE_RECORD_CHECK_OFF);
    return (zhtp_ssize)len;
}

int store_record_entry_decode(store_record_entry *e, const uint8_t *key, const uint8_t *in,
                              size_t len)
{
    if (len < STORE_RECORD_HDR)
        return ZHTP_ERR_STORE_CORRUPT;
    int err = decode_owner(&e->has_owner, e->owner, in);
    if (err)
        return err;
    size_t sig_len = (size_t)in[50] << 8 | in[51];
    size_t value_len = get_u32(in + 52);
    if (sig_len > ZHTP_STORE_SIG_MAX || value_len > ZHTP_STORE_RECORD_MAX ||
        len != STORE_RECORD_HDR + sig_len + value_len)
        return ZHTP_ERR_STORE_CORRUPT;
    if (key && !check_ok(key, in, len, STORE_RECORD_CHECK_OFF))
        return ZHTP_ERR_STORE_CORRUPT;
    e->rec.sequence = store_get_u64(in + 34);
    e->rec.expiry_unix_s = store_get_u64(in + 42);
    e->rec.sig = in + STORE_RECORD_HDR;
    e->rec.sig_len = sig_len;
    e->rec.value = in + STORE_RECORD_HDR + sig_len;
    e->rec.value_len = value_len;
    return 0;
}

void store_chunk_meta_encode(uint8_t out[STORE_CHUNK_META_LEN], const uint8_t *key,
                             const store_chunk_meta *m)
{
    encode_owner(out, m->has_owner ? m->owner : NULL);
    put_u32(out + 34, m->size);
    store_put_u64(out + 38, m->expiry_unix_s);
    entry_check(out + STORE_CHUNK_META_CHECK_OFF, key, out, STORE_CHUNK_META_LEN,
                STORE_CHUNK_META_CHECK_OFF);
}

int store_chunk_meta_decode(store_chunk_meta *m, const uint8_t *key, const uint8_t *in, size_t len)
{
    if (len != STORE_CHUNK_META_LEN)
        return ZHTP_ERR_STORE_CORRUPT;
    int err = decode_owner(&m->has_owner, m->owner, in);
    if (err)
        return err;
    m->size = get_u32(in + 34);
    m->expiry_unix_s = store_get_u64(in + 38);
    if (m->size == 0 || m->size > ZHTP_STORE_CHUNK_MAX)
        return ZHTP_ERR_STORE_CORRUPT;
    if (key && !check_ok(key, in, len, STORE_CHUNK_META_CHECK_OFF))
        return ZHTP_ERR_STORE_CORRUPT;
    return 0;
}

zhtp_ssize store_peer_encode(uint8_t out[STORE_PEER_MAX_LEN], const zhtp_addr *addr,
                             uint64_t last_seen_unix_s)
{
    if (addr->len > ZHTP_ADDR_MAX)
        return ZHTP_ERR_INVAL;
    out[0] = STORE_ENTRY_VERSION;
    store_put_u64(out + 1, last_seen_unix_s);
    out[9] = addr->len;
    memcpy(out + STORE_PEER_HDR, addr->bytes, addr->len);
    return STORE_PEER_HDR + addr->len;
}

int store_peer_decode(zhtp_addr *addr, uint64_t *last_seen_unix_s, const uint8_t *in, size_t len)
{
    if (len < STORE_PEER_HDR || in[0] != STORE_ENTRY_VERSION || in[9] > ZHTP_ADDR_MAX ||
        len != STORE_PEER_HDR + (size_t)in[9])
        return ZHTP_ERR_STORE_CORRUPT;
    memset(addr, 0, sizeof *addr);
    addr->len = in[9];
    memcpy(addr->bytes, in + STORE_PEER_HDR, addr->len);
    *last_seen_unix_s = store_get_u64(in + 1);
    return 0;
}
