/* Environment setup shared by roles.c and audit.c. */
#include <sys/stat.h>

#include "security/lmdb_env.h"
#include "zhtp/err.h"

int zhtp_sec_env_open(MDB_env **out, const char *dir, unsigned max_dbs, size_t map_size)
{
    *out = NULL;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return ZHTP_ERR_NOTFOUND;
    MDB_env *env = NULL;
    if (mdb_env_create(&env) != 0)
        return ZHTP_ERR_SEC_BACKEND;
    /* 0600 files: the audit log and the role table are the daemon's alone. */
    if (mdb_env_set_maxdbs(env, max_dbs) != 0 || mdb_env_set_mapsize(env, map_size) != 0 ||
        mdb_env_open(env, dir, MDB_NOTLS, 0600) != 0) {
        mdb_env_close(env);
        return ZHTP_ERR_SEC_BACKEND;
    }
    *out = env;
    return ZHTP_OK;
}

int zhtp_sec_dbi_open(MDB_env *env, const char *name, MDB_dbi *dbi)
{
    MDB_txn *txn;
    if (mdb_txn_begin(env, NULL, 0, &txn) != 0)
        return ZHTP_ERR_SEC_BACKEND;
    if (mdb_dbi_open(txn, name, MDB_CREATE, dbi) != 0) {
        mdb_txn_abort(txn);
        return ZHTP_ERR_SEC_BACKEND;
    }
    return mdb_txn_commit(txn) == 0 ? ZHTP_OK : ZHTP_ERR_SEC_BACKEND;
}
