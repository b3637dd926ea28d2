/* The small LMDB helpers the role table and the audit log share (private to security/). */
#ifndef ZHTP_SECURITY_LMDB_ENV_H
#define ZHTP_SECURITY_LMDB_ENV_H

#include <lmdb.h>

/* Opens an environment in directory dir (which must exist) with up to max_dbs named
 * databases and the given map size. ZHTP_OK, ZHTP_ERR_NOTFOUND (dir missing),
 * ZHTP_ERR_SEC_BACKEND. *out is NULL on error. */
int zhtp_sec_env_open(MDB_env **out, const char *dir, unsigned max_dbs, size_t map_size);

/* Opens (creating) the named database in its own write transaction. */
int zhtp_sec_dbi_open(MDB_env *env, const char *name, MDB_dbi *dbi);

#endif
