/* Hash-chained audit log in LMDB (include/zhtp/audit.h, docs/security.md §4).
 *
 * Database "entries": key = index as u64 big-endian (so LMDB's byte order is index order),
 * value = the entry encoding of docs/security.md §4.1 followed by its 32-byte hash.
 * Database "meta": key "head" = count (u64 LE) || hash of the last entry (32; zero when empty). */
#include <stdlib.h>
#include <string.h>

#include "security/lmdb_env.h"
#include "zhtp/audit.h"
#include "zhtp/blake3.h"
#include "zhtp/util.h"

#define ENTRY_VERSION  1
#define OFF_INDEX      1
#define OFF_TS         9
#define OFF_PREV       17
#define OFF_CALLER     49
#define OFF_SUCCESS    81
#define OFF_CODE       82
#define OFF_OP_LEN     86
#define ENTRY_FIXED    (OFF_OP_LEN + 1 + 1) /* + op_len byte + reason_len byte */
#define ENTRY_MAX      (ENTRY_FIXED + ZHTP_AUDIT_OP_MAX + ZHTP_AUDIT_REASON_MAX + ZHTP_AUDIT_HASH_BYTES)
#define HEAD_BYTES     (8 + ZHTP_AUDIT_HASH_BYTES)
#define AUDIT_MAP_SIZE ((size_t)1 << 30) /* 1 GiB of address space, sparse on disk */

struct zhtp_audit {
    MDB_env *env;
    MDB_dbi entries;
    MDB_dbi meta;
};

static void put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[7 - i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

int zhtp_audit_open(zhtp_audit **out, const char *dir)
{
    if (!out || !dir)
        return ZHTP_ERR_INVAL;
    *out = NULL;
    zhtp_audit *a = calloc(1, sizeof *a);
    if (!a)
        return ZHTP_ERR_NOMEM;
    int rc = zhtp_sec_env_open(&a->env, dir, 2, AUDIT_MAP_SIZE);
    if (!rc)
        rc = zhtp_sec_dbi_open(a->env, "entries", &a->entries);
    if (!rc)
        rc = zhtp_sec_dbi_open(a->env, "meta", &a->meta);
    if (rc) {
        zhtp_audit_close(a);
        return rc;
    }
    *out = a;
    return ZHTP_OK;
}

void zhtp_audit_close(zhtp_audit *a)
{
    if (!a)
        return;
    if (a->env)
        mdb_env_close(a->env);
    free(a);
}

/* Reads the head inside txn; a missing head is the empty log. */
static int read_head(zhtp_audit *a, MDB_txn *txn, uint64_t *count, uint8_t hash[32])
{
    MDB_val k = {4, (void *)"head"}, v;
    int rc = mdb_get(txn, a->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *count = 0;
        memset(hash, 0, 32);
        return ZHTP_OK;
    }
    if (rc != 0 || v.mv_size != HEAD_BYTES)
        return ZHTP_ERR_SEC_BACKEND;
    *count = get_u64le(v.mv_data);
    memcpy(hash, (const uint8_t *)v.mv_data + 8, 32);
    return ZHTP_OK;
}

static size_t bounded_len(const char *s, size_t max)
{
    size_t n = 0;
    while (s && n < max && s[n])
        n++;
    return n;
}

/* Encodes e (its hash field is computed and written too) into buf; returns the length. */
static size_t encode_entry(uint8_t buf[ENTRY_MAX], zhtp_audit_entry *e)
{
    size_t op_len = bounded_len(e->op, ZHTP_AUDIT_OP_MAX);
    size_t reason_len = bounded_len(e->reason, ZHTP_AUDIT_REASON_MAX);
    buf[0] = ENTRY_VERSION;
    put_u64le(buf + OFF_INDEX, e->index);
    put_u64le(buf + OFF_TS, (uint64_t)e->ts);
    memcpy(buf + OFF_PREV, e->prev_hash, 32);
    memcpy(buf + OFF_CALLER, e->caller, 32);
    buf[OFF_SUCCESS] = e->success ? 1 : 0;
    uint32_t code = (uint32_t)e->code;
    for (int i = 0; i < 4; i++)
        buf[OFF_CODE + i] = (uint8_t)(code >> (8 * i));
    size_t p = OFF_OP_LEN;
    buf[p++] = (uint8_t)op_len;
    memcpy(buf + p, e->op, op_len);
    p += op_len;
    buf[p++] = (uint8_t)reason_len;
    memcpy(buf + p, e->reason, reason_len);
    p += reason_len;
    zhtp_blake3_derive_key(e->hash, 32, ZHTP_AUDIT_ENTRY_CONTEXT, buf, p);
    memcpy(buf + p, e->hash, 32);
    return p + 32;
}

/* Decodes a stored value. *hash_ok tells whether the stored hash matches the recomputed one.
 * Returns false when the bytes are not a well-formed entry. */
static bool decode_entry(zhtp_audit_entry *e, const uint8_t *buf, size_t len, bool *hash_ok)
{
    memset(e, 0, sizeof *e);
    if (len < ENTRY_FIXED + 32 || buf[0] != ENTRY_VERSION)
        return false;
    size_t op_len = buf[OFF_OP_LEN];
    if (op_len > ZHTP_AUDIT_OP_MAX || OFF_OP_LEN + 1 + op_len + 1 > len)
        return false;
    size_t reason_len = buf[OFF_OP_LEN + 1 + op_len];
    size_t body = OFF_OP_LEN + 1 + op_len + 1 + reason_len;
    if (reason_len > ZHTP_AUDIT_REASON_MAX || body + 32 != len)
        return false;
    e->index = get_u64le(buf + OFF_INDEX);
    e->ts = (int64_t)get_u64le(buf + OFF_TS);
    memcpy(e->prev_hash, buf + OFF_PREV, 32);
    memcpy(e->caller, buf + OFF_CALLER, 32);
    if (buf[OFF_SUCCESS] > 1)
        return false;
    e->success = buf[OFF_SUCCESS] == 1;
    uint32_t code = 0;
    for (int i = 3; i >= 0; i--)
        code = (code << 8) | buf[OFF_CODE + i];
    e->code = (int32_t)code;
    memcpy(e->op, buf + OFF_OP_LEN + 1, op_len);
    memcpy(e->reason, buf + OFF_OP_LEN + 1 + op_len + 1, reason_len);
    memcpy(e->hash, buf + body, 32);
    uint8_t h[32];
    zhtp_blake3_derive_key(h, 32, ZHTP_AUDIT_ENTRY_CONTEXT, buf, body);
    *hash_ok = memcmp(h, e->hash, 32) == 0;
    return true;
}

int zhtp_audit_append(zhtp_audit *a, int64_t ts, const char *op,
                      const uint8_t caller[ZHTP_AUDIT_CALLER_BYTES], bool success, int32_t code,
                      const char *reason, uint64_t *index_out)
{
    if (!a)
        return ZHTP_ERR_INVAL;
    zhtp_audit_entry e;
    memset(&e, 0, sizeof e);
    e.ts = ts;
    e.success = success;
    e.code = code;
    if (caller)
        memcpy(e.caller, caller, 32);
    memcpy(e.op, op ? op : "", bounded_len(op, ZHTP_AUDIT_OP_MAX));
    memcpy(e.reason, reason ? reason : "", bounded_len(reason, ZHTP_AUDIT_REASON_MAX));

    MDB_txn *txn;
    if (mdb_txn_begin(a->env, NULL, 0, &txn) != 0)
        return ZHTP_ERR_SEC_BACKEND;
    uint64_t count;
    int rc = read_head(a, txn, &count, e.prev_hash);
    if (rc)
        goto fail;
    e.index = count;
    uint8_t buf[ENTRY_MAX], key[8], head[HEAD_BYTES];
    size_t len = encode_entry(buf, &e);
    put_u64be(key, e.index);
    MDB_val k = {8, key}, v = {len, buf};
    put_u64le(head, count + 1);
    memcpy(head + 8, e.hash, 32);
    MDB_val hk = {4, (void *)"head"}, hv = {HEAD_BYTES, head};
    /* NOOVERWRITE: an entry under this index that the head does not count means the files were
     * edited; refuse rather than bury it. */
    if (mdb_put(txn, a->entries, &k, &v, MDB_NOOVERWRITE) != 0 ||
        mdb_put(txn, a->meta, &hk, &hv, 0) != 0) {
        rc = ZHTP_ERR_SEC_BACKEND;
        goto fail;
    }
    if (mdb_txn_commit(txn) != 0)
        return ZHTP_ERR_SEC_BACKEND;
    if (index_out)
        *index_out = e.index;
    return ZHTP_OK;
fail:
    mdb_txn_abort(txn);
    return rc;
}

uint64_t zhtp_audit_count(zhtp_audit *a)
{
    MDB_txn *txn;
    uint64_t count = 0;
    uint8_t h[32];
    if (!a || mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn) != 0)
        return 0;
    if (read_head(a, txn, &count, h))
        count = 0;
    mdb_txn_abort(txn);
    return count;
}

int zhtp_audit_head(zhtp_audit *a, uint64_t *count, uint8_t hash[ZHTP_AUDIT_HASH_BYTES])
{
    MDB_txn *txn;
    if (!a || !count || !hash)
        return ZHTP_ERR_INVAL;
    if (mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn) != 0)
        return ZHTP_ERR_SEC_BACKEND;
    int rc = read_head(a, txn, count, hash);
    mdb_txn_abort(txn);
    return rc;
}

int zhtp_audit_read(zhtp_audit *a, uint64_t from, zhtp_audit_entry *out, size_t max, size_t *n)
{
    if (!a || !n || (max && !out))
        return ZHTP_ERR_INVAL;
    *n = 0;
    MDB_txn *txn;
    MDB_cursor *cur;
    if (mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn) != 0)
        return ZHTP_ERR_SEC_BACKEND;
    if (mdb_cursor_open(txn, a->entries, &cur) != 0) {
        mdb_txn_abort(txn);
        return ZHTP_ERR_SEC_BACKEND;
    }
    uint8_t key[8];
    put_u64be(key, from);
    MDB_val k = {8, key}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && *n < max) {
        bool hash_ok;
        if (!decode_entry(&out[*n], v.mv_data, v.mv_size, &hash_ok)) {
            /* Show the slot as undecodable rather than hide it; verify says why. */
            memset(&out[*n], 0, sizeof out[*n]);
            out[*n].index = k.mv_size == 8 ? get_u64be(k.mv_data) : 0;
            strcpy(out[*n].reason, "(undecodable entry)");
        }
        (*n)++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc == 0 || rc == MDB_NOTFOUND ? ZHTP_OK : ZHTP_ERR_SEC_BACKEND;
}

int zhtp_audit_verify(zhtp_audit *a, uint64_t *bad_index)
{
    if (!a || !bad_index)
        return ZHTP_ERR_INVAL;
    *bad_index = 0;
    MDB_txn *txn;
    MDB_cursor *cur;
    if (mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn) != 0)
        return ZHTP_ERR_SEC_BACKEND;
    if (mdb_cursor_open(txn, a->entries, &cur) != 0) {
        mdb_txn_abort(txn);
        return ZHTP_ERR_SEC_BACKEND;
    }
    uint64_t head_count;
    uint8_t head_hash[32], prev[32] = {0};
    int result = read_head(a, txn, &head_count, head_hash);
    uint64_t i = 0;
    MDB_val k, v;
    int rc = result ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; !result && rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), i++) {
        zhtp_audit_entry e;
        bool hash_ok = false;
        /* A key past i is a gap (entry i removed); a wrong stored index is a moved entry; a
         * hash mismatch an edited one; a prev_hash mismatch an entry replaced whole. All point
         * at position i, the first place the chain stops being what was appended. */
        if (k.mv_size != 8 || get_u64be(k.mv_data) != i ||
            !decode_entry(&e, v.mv_data, v.mv_size, &hash_ok) || e.index != i || !hash_ok ||
            memcmp(e.prev_hash, prev, 32) != 0) {
            result = ZHTP_ERR_SEC_AUDIT_TAMPERED;
            *bad_index = i;
            break;
        }
        memcpy(prev, e.hash, 32);
    }
    if (!result && rc != 0 && rc != MDB_NOTFOUND)
        result = ZHTP_ERR_SEC_BACKEND;
    if (!result) {
        if (i < head_count) {
            result = ZHTP_ERR_SEC_AUDIT_TRUNCATED;
            *bad_index = i;
        } else if (i > head_count) {
            /* Entries the head never counted were written behind the API's back. */
            result = ZHTP_ERR_SEC_AUDIT_TAMPERED;
            *bad_index = head_count;
        } else if (memcmp(prev, head_hash, 32) != 0) {
            result = ZHTP_ERR_SEC_AUDIT_TAMPERED;
            *bad_index = i ? i - 1 : 0;
        }
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return result;
}

int zhtp_audit_raw_get(zhtp_audit *a, uint64_t index, uint8_t *buf, size_t cap, size_t *len)
{
    MDB_txn *txn;
    if (!a || !len || mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn) != 0)
        return ZHTP_ERR_SEC_BACKEND;
    uint8_t key[8];
    put_u64be(key, index);
    MDB_val k = {8, key}, v;
    int rc = mdb_get(txn, a->entries, &k, &v);
    int result = ZHTP_OK;
    if (rc == MDB_NOTFOUND)
        result = ZHTP_ERR_NOTFOUND;
    else if (rc != 0)
        result = ZHTP_ERR_SEC_BACKEND;
    else if (v.mv_size > cap)
        result = ZHTP_ERR_NOBUF;
    else {
        memcpy(buf, v.mv_data, v.mv_size);
        *len = v.mv_size;
    }
    mdb_txn_abort(txn);
    return result;
}

static int raw_write(zhtp_audit *a, uint64_t index, const uint8_t *buf, size_t len, bool del)
{
    MDB_txn *txn;
    if (!a || mdb_txn_begin(a->env, NULL, 0, &txn) != 0)
        return ZHTP_ERR_SEC_BACKEND;
    uint8_t key[8];
    put_u64be(key, index);
    MDB_val k = {8, key}, v = {len, (void *)buf};
    int rc = del ? mdb_del(txn, a->entries, &k, NULL) : mdb_put(txn, a->entries, &k, &v, 0);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc == MDB_NOTFOUND ? ZHTP_ERR_NOTFOUND : ZHTP_ERR_SEC_BACKEND;
    }
    return mdb_txn_commit(txn) == 0 ? ZHTP_OK : ZHTP_ERR_SEC_BACKEND;
}

int zhtp_audit_raw_put(zhtp_audit *a, uint64_t index, const uint8_t *buf, size_t len)
{
    return raw_write(a, index, buf, len, false);
}

int zhtp_audit_raw_delete(zhtp_audit *a, uint64_t index)
{
    return raw_write(a, index, NULL, 0, true);
}
