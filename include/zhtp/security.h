/* The control-plane security layer (docs/security.md): signed control requests, the replay
 * cache, permission levels, the persistent role table and the request dispatcher the daemon
 * calls for every line read from the control socket. The audit log is include/zhtp/audit.h,
 * wallets include/zhtp/wallet.h.
 *
 * Not sans-I/O: the role table is an LMDB environment. Nothing here reads a clock; time is unix
 * seconds passed in. No handle is thread-safe; the daemon serialises control requests. */
#ifndef ZHTP_SECURITY_H
#define ZHTP_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/audit.h"
#include "zhtp/err.h"
#include "zhtp/mem.h"
#include "zhtp/wallet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Limits of a request (docs/security.md §2) ---------------------------------------------- */

#define ZHTP_CTL_LINE_MAX       16384 /* bytes of one request line, newline excluded */
#define ZHTP_CTL_OP_MAX         32    /* op: 1..32 of [a-z0-9-] */
#define ZHTP_CTL_ARGS_MAX       8     /* members of "args" */
#define ZHTP_CTL_KEY_MAX        32    /* an args key: 1..32 of [a-z0-9_-] */
#define ZHTP_CTL_STR_MAX        4096  /* an args string value, bytes of UTF-8 */
#define ZHTP_CTL_NONCE_MIN      16
#define ZHTP_CTL_NONCE_MAX      64
#define ZHTP_CTL_WINDOW_DEFAULT 60   /* seconds either side of now */
#define ZHTP_CTL_REPLAY_DEFAULT 4096 /* replay cache entries */
/* The hybrid signature's context string (ML-DSA ctx and inside M''). */
#define ZHTP_CTL_SIG_CONTEXT "zhtp 2026-11 control-request v1"

typedef enum zhtp_ctl_arg_type {
    ZHTP_CTL_ARG_STRING = 1,
    ZHTP_CTL_ARG_INT = 2,
    ZHTP_CTL_ARG_BOOL = 3,
    ZHTP_CTL_ARG_NULL = 4,
} zhtp_ctl_arg_type;

/* One member of "args". In a verified request, key and s point into the request's own storage
 * (valid until zhtp_ctl_request_clear); in zhtp_ctl_request_build they are borrowed. s is
 * NUL-terminated and has no embedded NUL. */
typedef struct zhtp_ctl_arg {
    const char *key;
    zhtp_ctl_arg_type type;
    const char *s; /* STRING */
    int64_t i;     /* INT */
    bool b;        /* BOOL */
} zhtp_ctl_arg;

/* A verified request. Plain data plus one heap block (strings); zhtp_ctl_request_clear frees
 * it. Zero-initialise before the first verify. */
typedef struct zhtp_ctl_request {
    char op[ZHTP_CTL_OP_MAX + 1];
    size_t n_args;
    zhtp_ctl_arg args[ZHTP_CTL_ARGS_MAX]; /* sorted by key (bytewise), keys unique */
    uint8_t wallet[ZHTP_WALLET_PK_BYTES];
    uint8_t wallet_id[ZHTP_WALLET_ID_BYTES];
    uint8_t nonce[ZHTP_CTL_NONCE_MAX];
    size_t nonce_len;
    int64_t ts; /* unix seconds, as signed */
    char *strings;
    size_t strings_size;
    const zhtp_mem *mem;
} zhtp_ctl_request;

void zhtp_ctl_request_clear(zhtp_ctl_request *req);
/* The member named key, or NULL. Borrowed from req. */
const zhtp_ctl_arg *zhtp_ctl_request_arg(const zhtp_ctl_request *req, const char *key);

/* The canonical bytes the signature covers (docs/security.md §2.2). args need not be sorted;
 * they are encoded sorted. Returns the length, ZHTP_ERR_NOBUF (nothing written), ZHTP_ERR_INVAL
 * (an op, key, string or nonce outside the limits, duplicate keys) or ZHTP_ERR_NOMEM. */
zhtp_ssize zhtp_ctl_canonical_encode(uint8_t *out, size_t cap, const char *op,
                                     const zhtp_ctl_arg *args, size_t n_args,
                                     const uint8_t wallet[ZHTP_WALLET_PK_BYTES],
                                     const uint8_t *nonce, size_t nonce_len, int64_t ts);

/* Client side: a signed request as one JSON line ending in '\n', NUL-terminated, in out. nonce
 * may be NULL: then 16 fresh random bytes. Returns the line length (newline included, NUL
 * excluded), ZHTP_ERR_NOBUF, ZHTP_ERR_INVAL (as for the canonical encoding) or ZHTP_ERR_NOMEM. */
zhtp_ssize zhtp_ctl_request_build(char *out, size_t cap, const zhtp_wallet *w, const char *op,
                                  const zhtp_ctl_arg *args, size_t n_args, const uint8_t *nonce,
                                  size_t nonce_len, int64_t ts);

/* ---- Server side: verifier with its replay cache ----------------------------------------------
 */

typedef struct zhtp_ctl_verifier zhtp_ctl_verifier;
typedef struct zhtp_ctl_verifier_config {
    const zhtp_mem *mem;     /* NULL: default */
    uint32_t window_s;       /* 0: ZHTP_CTL_WINDOW_DEFAULT; |now - ts| <= window_s is fresh */
    uint32_t replay_entries; /* 0: ZHTP_CTL_REPLAY_DEFAULT */
} zhtp_ctl_verifier_config;

int zhtp_ctl_verifier_new(zhtp_ctl_verifier **out, const zhtp_ctl_verifier_config *cfg);
void zhtp_ctl_verifier_free(zhtp_ctl_verifier *v);

/* Parses and verifies one untrusted request line (a trailing "\n" or "\r\n" is allowed) at unix
 * time now. Checks, in this order, each with its own error:
 *   ZHTP_ERR_SEC_TOO_LARGE    len > ZHTP_CTL_LINE_MAX
 *   ZHTP_ERR_SEC_JSON         not exactly one JSON object (or duplicate keys)
 *   ZHTP_ERR_SEC_FIELD        a field missing, of the wrong JSON type, or an unknown field;
 *                             an op with a character outside [a-z0-9-]
 *   ZHTP_ERR_SEC_LENGTH       op/key/string/nonce outside its limits, too many args,
 *                             wallet or sig hex of the wrong length
 *   ZHTP_ERR_SEC_HEX          wallet, nonce or sig not lowercase/uppercase hex
 *   ZHTP_ERR_SEC_ARGS         an args value that is an object, array or real number; a bad key
 *   ZHTP_ERR_SEC_WALLET_KEY   the wallet key fails zhtp_sign_hybrid_pk_parse
 *   ZHTP_ERR_SEC_STALE / ZHTP_ERR_SEC_FUTURE   ts outside [now - window, now + window]
 *   ZHTP_ERR_SEC_SIGNATURE    the hybrid signature does not verify
 *   ZHTP_ERR_SEC_REPLAY       (wallet, nonce) seen within the window
 *   ZHTP_ERR_SEC_REPLAY_FULL  the cache holds only fresh entries: refused, not evicted
 *   ZHTP_ERR_NOMEM
 * On any error after the JSON parsed, req->op and req->wallet_id are filled when those fields
 * were readable (for the audit entry; the wallet is then CLAIMED, not proven); otherwise they
 * are empty/zero. On ZHTP_OK req holds the request; the nonce is now in the cache. */
ZHTP_NODISCARD int zhtp_ctl_verify(zhtp_ctl_verifier *v, zhtp_ctl_request *req, const char *line,
                                   size_t len, int64_t now);

/* ---- Operations and permission levels (docs/security.md §3) ------------------------------- */

typedef enum zhtp_ctl_op {
    ZHTP_CTL_OP_STOP = 0,     /* owner: emergency stop, persisted */
    ZHTP_CTL_OP_RESUME,       /* owner */
    ZHTP_CTL_OP_DISCONNECT,   /* args.peer: node id hex (64); admin any, user its own */
    ZHTP_CTL_OP_LIMIT,        /* owner; args.max: 0..1000000 connections (0: no limit) */
    ZHTP_CTL_OP_ADD_ADMIN,    /* owner; args.wallet: wallet pk hex */
    ZHTP_CTL_OP_REMOVE_ADMIN, /* owner; args.wallet: wallet pk hex */
    ZHTP_CTL_OP_AUDIT,        /* owner, admin; args.from, args.count optional */
    ZHTP_CTL_OP_STATUS,       /* everyone, including level None */
    ZHTP_CTL_OP_PEERS,        /* owner, admin, user */
    ZHTP_CTL_OP_PUT,          /* owner, admin, user; args.size: bytes that follow, 1..2^40 */
    ZHTP_CTL_OP_GET,          /* owner, admin, user; args.id: content id hex (64) */
    ZHTP_CTL_OP_PING,         /* owner, admin, user; args.node: node id hex or IPv6 text */
    ZHTP_CTL_OP_COUNT
} zhtp_ctl_op;

/* "stop", "resume", "disconnect", "limit", "add-admin", "remove-admin", "audit", "status",
 * "peers", "put", "get", "ping". from_name returns ZHTP_CTL_OP_COUNT for an unknown name. */
const char *zhtp_ctl_op_name(zhtp_ctl_op op);
zhtp_ctl_op zhtp_ctl_op_from_name(const char *name);

typedef enum zhtp_ctl_level {
    ZHTP_CTL_LEVEL_NONE = 0,
    ZHTP_CTL_LEVEL_USER = 1,
    ZHTP_CTL_LEVEL_ADMIN = 2,
    ZHTP_CTL_LEVEL_OWNER = 3,
} zhtp_ctl_level;
const char *zhtp_ctl_level_name(zhtp_ctl_level level);

#define ZHTP_CTL_PEER_ID_BYTES  32
#define ZHTP_CTL_LIMIT_MAX      1000000
#define ZHTP_CTL_AUDIT_PAGE_MAX 100
#define ZHTP_CTL_PUT_SIZE_MAX   (INT64_C(1) << 40) /* the policy's bound; the daemon's is lower */
#define ZHTP_CTL_NODE_ARG_MAX   64 /* args.node of ping: 64 hex digits or an IPv6 address */

/* The pure policy: may a caller at level run req, given the peers (node ids) of the caller's own
 * connections? Checks op and args too. Returns ZHTP_OK (allowed), ZHTP_ERR_SEC_UNKNOWN_OP,
 * ZHTP_ERR_SEC_ARGS or ZHTP_ERR_SEC_DENIED; *reason (may be NULL) gets a static sentence. */
ZHTP_NODISCARD int zhtp_ctl_policy_check(zhtp_ctl_level level, const zhtp_ctl_request *req,
                                         const uint8_t (*own_peers)[ZHTP_CTL_PEER_ID_BYTES],
                                         size_t n_own, const char **reason);

/* ---- Role table: owner, admins, connection limit, emergency stop (LMDB) -----------------------
 */

#define ZHTP_CTL_ADMINS_MAX 64

typedef struct zhtp_ctl_roles zhtp_ctl_roles;

/* Opens (creating) the role table in directory dir, which must exist. ZHTP_OK, ZHTP_ERR_NOMEM,
 * ZHTP_ERR_NOTFOUND (no such directory), ZHTP_ERR_SEC_BACKEND. */
int zhtp_ctl_roles_open(zhtp_ctl_roles **out, const char *dir);
void zhtp_ctl_roles_close(zhtp_ctl_roles *r);

/* Sets the owner once. The same key again is ZHTP_OK (idempotent); any other key afterwards is
 * ZHTP_ERR_SEC_OWNER_SET and changes nothing. ZHTP_ERR_SEC_WALLET_KEY for an invalid key. */
int zhtp_ctl_roles_init_owner(zhtp_ctl_roles *r, const uint8_t owner[ZHTP_WALLET_PK_BYTES]);
/* ZHTP_OK and the owner, or ZHTP_ERR_SEC_NO_OWNER. */
int zhtp_ctl_roles_owner(zhtp_ctl_roles *r, uint8_t owner[ZHTP_WALLET_PK_BYTES]);
/* Owner, Admin (in the list) or None: any other wallet, and everyone while the table has no
 * owner (fail closed until initialised). User is not stored: zhtp_ctl_dispatch raises None to
 * User for a wallet that owns at least one connection (zhtp_ctl_own_peers_fn). */
zhtp_ctl_level zhtp_ctl_roles_level(zhtp_ctl_roles *r, const uint8_t wallet[ZHTP_WALLET_PK_BYTES]);

/* ZHTP_ERR_EXISTS (already admin), ZHTP_ERR_SEC_ARGS (the owner's key), ZHTP_ERR_STORE_QUOTA
 * (ZHTP_CTL_ADMINS_MAX reached), ZHTP_ERR_SEC_BACKEND. remove: ZHTP_ERR_NOTFOUND. */
int zhtp_ctl_roles_add_admin(zhtp_ctl_roles *r, const uint8_t wallet[ZHTP_WALLET_PK_BYTES]);
int zhtp_ctl_roles_remove_admin(zhtp_ctl_roles *r, const uint8_t wallet[ZHTP_WALLET_PK_BYTES]);
/* The number of admins, or a negative error. ids gets up to cap wallet ids (may be NULL). */
zhtp_ssize zhtp_ctl_roles_admins(zhtp_ctl_roles *r, uint8_t (*ids)[ZHTP_WALLET_ID_BYTES],
                                 size_t cap);

int zhtp_ctl_roles_set_stopped(zhtp_ctl_roles *r, bool stopped);
/* Reads the persisted flag; a backend error reads as stopped (fail safe). */
bool zhtp_ctl_roles_is_stopped(zhtp_ctl_roles *r);
int zhtp_ctl_roles_set_limit(zhtp_ctl_roles *r, uint32_t max_connections);
uint32_t zhtp_ctl_roles_limit(zhtp_ctl_roles *r); /* 0: no limit */

/* ---- Dispatcher (docs/security.md §5) ----------------------------------------------------------
 */

/* A handler for one op. It runs after the policy allowed the request, after the audit entry was
 * written, and (for stop, resume, limit, add-admin, remove-admin) after the role table change was
 * persisted. It writes a JSON value (object, array, string...) into result (cap bytes, NUL-
 * terminated) and returns its length, or a negative zhtp_err; a NULL result writer may leave it
 * empty (then "result" is null). Callback arguments are valid only during the call. */
typedef zhtp_ssize (*zhtp_ctl_handler_fn)(void *user_data, const zhtp_ctl_request *req,
                                          zhtp_ctl_level level, char *result, size_t cap);
/* Fills own with the node ids of the connections that belong to wallet (up to cap); returns
 * the count. A wallet that is neither owner nor admin is a User when this count is > 0, else
 * None; a User's disconnect must name one of these peers. own may be filled only partially. */
typedef size_t (*zhtp_ctl_own_peers_fn)(void *user_data,
                                        const uint8_t wallet_id[ZHTP_WALLET_ID_BYTES],
                                        uint8_t (*own)[ZHTP_CTL_PEER_ID_BYTES], size_t cap);

typedef struct zhtp_ctl_dispatch_config {
    zhtp_ctl_verifier *verifier;                     /* borrowed, required */
    zhtp_ctl_roles *roles;                           /* borrowed, required */
    zhtp_audit *audit;                               /* borrowed, required */
    zhtp_ctl_handler_fn handlers[ZHTP_CTL_OP_COUNT]; /* NULL: built-in (audit, and the role ops
                                                        with result null) or ZHTP_ERR_UNSUPPORTED */
    zhtp_ctl_own_peers_fn own_peers;                 /* NULL: users own no connection */
    void *user_data;
} zhtp_ctl_dispatch_config;

#define ZHTP_CTL_OWN_PEERS_MAX 256
/* Largest response line zhtp_ctl_dispatch needs (an audit page of ZHTP_CTL_AUDIT_PAGE_MAX). */
#define ZHTP_CTL_RESPONSE_MAX 65536

/* Runs one request line end to end: verify, level, policy, audit entry, role-table change,
 * handler, and writes the response JSON line (with '\n', NUL-terminated) into resp:
 *   {"ok":true,"op":"stop","result":<handler JSON or null>}
 *   {"ok":false,"error":"ZHTP_ERR_SEC_DENIED","code":-613,"reason":"..."}
 * Every request, allowed or refused, appends an audit entry before any action is taken; if that
 * append fails, nothing is done and the error is ZHTP_ERR_SEC_BACKEND (fail closed). If the
 * action then fails, a second entry records the failure. Returns the outcome (ZHTP_OK or the
 * refusal/failure code); *resp_len (may be NULL) gets the response length, or 0 when even the
 * response did not fit (ZHTP_ERR_NOBUF is returned only then). */
int zhtp_ctl_dispatch(const zhtp_ctl_dispatch_config *cfg, const char *line, size_t len,
                      int64_t now, char *resp, size_t cap, size_t *resp_len);

#ifdef __cplusplus
}
#endif
#endif
