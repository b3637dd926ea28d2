/* The persistent role table (include/zhtp/security.h, docs/security.md §3.2).
 *
 * One LMDB database "roles": "owner" -> wallet pk (1344); "admin" || wallet id (32) -> wallet pk;
 * "stopped" -> 1 byte; "limit" -> u32 LE. Every change is its own committed transaction, so an
 * emergency stop is on disk before the dispatcher reports it. */
#include <stdlib.h>
#include <string.h>

#include "security/lmdb_env.h"
#include "zhtp/security.h"

#define ROLES_MAP_SIZE ((size_t)16 << 20)
#define ADMIN_PREFIX   "admin"
#define ADMIN_KEY_LEN  (sizeof ADMIN_PREFIX - 1 + ZHTP_WALLET_ID_BYTES)

struct zhtp_ctl_roles {
    MDB_env *env;
    MDB_dbi dbi;
};

int zhtp_ctl_roles_open(zhtp_ctl_roles **out, const char *dir)
{
    if (!out || !dir)
        return ZHTP_ERR_INVAL;
    *out = NULL;
    zhtp_ctl_roles *r = calloc(1, sizeof *r);
    if (!r)
        return ZHTP_ERR_NOMEM;
    int rc = zhtp_sec_env_open(&r->env, dir, 1, ROLES_MAP_SIZE);
    if (!rc)
        rc = zhtp_sec_dbi_open(r->env, "roles", &r->dbi);
    if (rc) {
        zhtp_ctl_roles_close(r);
        return rc;
    }
    *out = r;
    return ZHTP_OK;
}

void zhtp_ctl_roles_close(zhtp_ctl_roles *r)
{
    if (!r)
        return;
    if (r->env)
        mdb_env_close(r->env);
    free(r);
}

/* Copies the value of key into out (exactly len bytes expected). ZHTP_OK, ZHTP_ERR_NOTFOUND,
 * ZHTP_ERR_SEC_BACKEND (also for a value of the wrong size). */
static int get(zhtp_ctl_roles *r, const void *key, size_t key_len, void *out, size_t len)
{
    MDB_txn *txn;
    if (mdb_txn_begin(r->env, NULL, MDB_RDONLY, &txn) != 0)
        return ZHTP_ERR_SEC_BACKEND;
    MDB_val k = {key_len, (void *)key}, v;
    int rc = mdb_get(txn, r->dbi, &k, &v);
    int result = ZHTP_OK;
    if (rc == MDB_NOTFOUND)
        result = ZHTP_ERR_NOTFOUND;
    else if (rc != 0 || v.mv_size != len)
        result = ZHTP_ERR_SEC_BACKEND;
    else
        memcpy(out, v.mv_data, len);
    mdb_txn_abort(txn);
    return result;
}

/* Puts (or deletes when val is NULL) one key in its own transaction. flags: MDB_NOOVERWRITE.
 * ZHTP_ERR_EXISTS / ZHTP_ERR_NOTFOUND for those LMDB outcomes. */
static int put(zhtp_ctl_roles *r, const void *key, size_t key_len, const void *val, size_t len,
               unsigned flags)
{
    MDB_txn *txn;
    if (mdb_txn_begin(r->env, NULL, 0, &txn) != 0)
        return ZHTP_ERR_SEC_BACKEND;
    MDB_val k = {key_len, (void *)key}, v = {len, (void *)val};
    int rc = val ? mdb_put(txn, r->dbi, &k, &v, flags) : mdb_del(txn, r->dbi, &k, NULL);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc == MDB_KEYEXIST   ? ZHTP_ERR_EXISTS
               : rc == MDB_NOTFOUND ? ZHTP_ERR_NOTFOUND
                                    : ZHTP_ERR_SEC_BACKEND;
    }
    return mdb_txn_commit(txn) == 0 ? ZHTP_OK : ZHTP_ERR_SEC_BACKEND;
}

int zhtp_ctl_roles_init_owner(zhtp_ctl_roles *r, const uint8_t owner[ZHTP_WALLET_PK_BYTES])
{
    if (!r || !owner)
        return ZHTP_ERR_INVAL;
    if (zhtp_sign_hybrid_pk_parse(NULL, owner, ZHTP_WALLET_PK_BYTES) != ZHTP_OK)
        return ZHTP_ERR_SEC_WALLET_KEY;
    int rc = put(r, "owner", 5, owner, ZHTP_WALLET_PK_BYTES, MDB_NOOVERWRITE);
    if (rc != ZHTP_ERR_EXISTS)
        return rc;
    uint8_t cur[ZHTP_WALLET_PK_BYTES];
    rc = get(r, "owner", 5, cur, sizeof cur);
    if (rc)
        return rc;
    return memcmp(cur, owner, sizeof cur) == 0 ? ZHTP_OK : ZHTP_ERR_SEC_OWNER_SET;
}

int zhtp_ctl_roles_owner(zhtp_ctl_roles *r, uint8_t owner[ZHTP_WALLET_PK_BYTES])
{
    if (!r || !owner)
        return ZHTP_ERR_INVAL;
    int rc = get(r, "owner", 5, owner, ZHTP_WALLET_PK_BYTES);
    return rc == ZHTP_ERR_NOTFOUND ? ZHTP_ERR_SEC_NO_OWNER : rc;
}

static void admin_key(uint8_t key[ADMIN_KEY_LEN], const uint8_t wallet[ZHTP_WALLET_PK_BYTES])
{
    memcpy(key, ADMIN_PREFIX, sizeof ADMIN_PREFIX - 1);
    zhtp_wallet_id(key + sizeof ADMIN_PREFIX - 1, wallet);
}

zhtp_ctl_level zhtp_ctl_roles_level(zhtp_ctl_roles *r, const uint8_t wallet[ZHTP_WALLET_PK_BYTES])
{
    uint8_t owner[ZHTP_WALLET_PK_BYTES], stored[ZHTP_WALLET_PK_BYTES], key[ADMIN_KEY_LEN];
    if (!r || !wallet || zhtp_ctl_roles_owner(r, owner) != ZHTP_OK)
        return ZHTP_CTL_LEVEL_NONE;
    if (memcmp(owner, wallet, sizeof owner) == 0)
        return ZHTP_CTL_LEVEL_OWNER;
    admin_key(key, wallet);
    /* The full key is stored and compared, so an id collision alone grants nothing. */
    if (get(r, key, sizeof key, stored, sizeof stored) == ZHTP_OK &&
        memcmp(stored, wallet, sizeof stored) == 0)
        return ZHTP_CTL_LEVEL_ADMIN;
    /* User is not a stored role: the dispatcher raises a wallet to User when it owns at least
     * one connection of this node. */
    return ZHTP_CTL_LEVEL_NONE;
}

zhtp_ssize zhtp_ctl_roles_admins(zhtp_ctl_roles *r, uint8_t (*ids)[ZHTP_WALLET_ID_BYTES],
                                 size_t cap)
{
    if (!r)
        return ZHTP_ERR_INVAL;
    MDB_txn *txn;
    MDB_cursor *cur;
    if (mdb_txn_begin(r->env, NULL, MDB_RDONLY, &txn) != 0)
        return ZHTP_ERR_SEC_BACKEND;
    if (mdb_cursor_open(txn, r->dbi, &cur) != 0) {
        mdb_txn_abort(txn);
        return ZHTP_ERR_SEC_BACKEND;
    }
    MDB_val k = {sizeof ADMIN_PREFIX - 1, (void *)ADMIN_PREFIX}, v;
    size_t n = 0;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == ADMIN_KEY_LEN &&
           memcmp(k.mv_data, ADMIN_PREFIX, sizeof ADMIN_PREFIX - 1) == 0) {
        if (ids && n < cap)
            memcpy(ids[n], (const uint8_t *)k.mv_data + sizeof ADMIN_PREFIX - 1,
                   ZHTP_WALLET_ID_BYTES);
        n++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc == 0 || rc == MDB_NOTFOUND ? (zhtp_ssize)n : ZHTP_ERR_SEC_BACKEND;
}

int zhtp_ctl_roles_add_admin(zhtp_ctl_roles *r, const uint8_t wallet[ZHTP_WALLET_PK_BYTES])
{
    if (!r || !wallet)
        return ZHTP_ERR_INVAL;
    if (zhtp_sign_hybrid_pk_parse(NULL, wallet, ZHTP_WALLET_PK_BYTES) != ZHTP_OK)
        return ZHTP_ERR_SEC_WALLET_KEY;
    uint8_t owner[ZHTP_WALLET_PK_BYTES], key[ADMIN_KEY_LEN];
    int rc = zhtp_ctl_roles_owner(r, owner);
    if (rc)
        return rc;
    if (memcmp(owner, wallet, sizeof owner) == 0)
        return ZHTP_ERR_SEC_ARGS;
    zhtp_ssize n = zhtp_ctl_roles_admins(r, NULL, 0);
    if (n < 0)
        return (int)n;
    if (n >= ZHTP_CTL_ADMINS_MAX)
        return ZHTP_ERR_STORE_QUOTA;
    admin_key(key, wallet);
    return put(r, key, sizeof key, wallet, ZHTP_WALLET_PK_BYTES, MDB_NOOVERWRITE);
}

int zhtp_ctl_roles_remove_admin(zhtp_ctl_roles *r, const uint8_t wallet[ZHTP_WALLET_PK_BYTES])
{
    if (!r || !wallet)
        return ZHTP_ERR_INVAL;
    uint8_t key[ADMIN_KEY_LEN];
    admin_key(key, wallet);
    return put(r, key, sizeof key, NULL, 0, 0);
}

int zhtp_ctl_roles_set_stopped(zhtp_ctl_roles *r, bool stopped)
{
    if (!r)
        return ZHTP_ERR_INVAL;
    uint8_t b = stopped ? 1 : 0;
    return put(r, "stopped", 7, &b, 1, 0);
}

bool zhtp_ctl_roles_is_stopped(zhtp_ctl_roles *r)
{
    uint8_t b = 0;
    if (!r)
        return true;
    int rc = get(r, "stopped", 7, &b, 1);
    if (rc == ZHTP_ERR_NOTFOUND)
        return false;
    return rc != ZHTP_OK || b != 0;
}

int zhtp_ctl_roles_set_limit(zhtp_ctl_roles *r, uint32_t max_connections)
{
    if (!r || max_connections > ZHTP_CTL_LIMIT_MAX)
        return ZHTP_ERR_INVAL;
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(max_connections >> (8 * i));
    return put(r, "limit", 5, b, 4, 0);
}

uint32_t zhtp_ctl_roles_limit(zhtp_ctl_roles *r)
{
    uint8_t b[4];
    if (!r || get(r, "limit", 5, b, 4) != ZHTP_OK)
        return 0;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
