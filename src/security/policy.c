/* The permission policy: a pure function of (level, op, args, the caller's own connections)
 * (include/zhtp/security.h, docs/security.md §3). No I/O, no state. */
#include <string.h>

#include "zhtp/security.h"

static const char *const op_names[ZHTP_CTL_OP_COUNT] = {
    [ZHTP_CTL_OP_STOP] = "stop",
    [ZHTP_CTL_OP_RESUME] = "resume",
    [ZHTP_CTL_OP_DISCONNECT] = "disconnect",
    [ZHTP_CTL_OP_LIMIT] = "limit",
    [ZHTP_CTL_OP_ADD_ADMIN] = "add-admin",
    [ZHTP_CTL_OP_REMOVE_ADMIN] = "remove-admin",
    [ZHTP_CTL_OP_AUDIT] = "audit",
    [ZHTP_CTL_OP_STATUS] = "status",
    [ZHTP_CTL_OP_PEERS] = "peers",
    [ZHTP_CTL_OP_PUT] = "put",
    [ZHTP_CTL_OP_GET] = "get",
    [ZHTP_CTL_OP_PING] = "ping",
};

/* The lowest level that may run each op at all. A User's disconnect is further limited to its
 * own connections below. */
static const zhtp_ctl_level min_level[ZHTP_CTL_OP_COUNT] = {
    [ZHTP_CTL_OP_STOP] = ZHTP_CTL_LEVEL_OWNER,
    [ZHTP_CTL_OP_RESUME] = ZHTP_CTL_LEVEL_OWNER,
    [ZHTP_CTL_OP_DISCONNECT] = ZHTP_CTL_LEVEL_USER,
    [ZHTP_CTL_OP_LIMIT] = ZHTP_CTL_LEVEL_OWNER,
    [ZHTP_CTL_OP_ADD_ADMIN] = ZHTP_CTL_LEVEL_OWNER,
    [ZHTP_CTL_OP_REMOVE_ADMIN] = ZHTP_CTL_LEVEL_OWNER,
    [ZHTP_CTL_OP_AUDIT] = ZHTP_CTL_LEVEL_ADMIN,
    [ZHTP_CTL_OP_STATUS] = ZHTP_CTL_LEVEL_NONE,
    [ZHTP_CTL_OP_PEERS] = ZHTP_CTL_LEVEL_USER,
    /* Storing and fetching content and pinging spend the node's bandwidth and storage quota on
     * the caller's behalf: a wallet this node knows, never an anonymous one. */
    [ZHTP_CTL_OP_PUT] = ZHTP_CTL_LEVEL_USER,
    [ZHTP_CTL_OP_GET] = ZHTP_CTL_LEVEL_USER,
    [ZHTP_CTL_OP_PING] = ZHTP_CTL_LEVEL_USER,
};

static const char *const level_reasons[] = {
    [ZHTP_CTL_LEVEL_NONE] = "permission denied: any wallet may do this",
    [ZHTP_CTL_LEVEL_USER] = "permission denied: needs a wallet known to this node",
    [ZHTP_CTL_LEVEL_ADMIN] = "permission denied: needs admin or owner",
    [ZHTP_CTL_LEVEL_OWNER] = "permission denied: owner only",
};

const char *zhtp_ctl_op_name(zhtp_ctl_op op)
{
    return (unsigned)op < ZHTP_CTL_OP_COUNT ? op_names[op] : "?";
}

zhtp_ctl_op zhtp_ctl_op_from_name(const char *name)
{
    for (int i = 0; name && i < ZHTP_CTL_OP_COUNT; i++)
        if (strcmp(name, op_names[i]) == 0)
            return (zhtp_ctl_op)i;
    return ZHTP_CTL_OP_COUNT;
}

const char *zhtp_ctl_level_name(zhtp_ctl_level level)
{
    switch (level) {
    case ZHTP_CTL_LEVEL_OWNER:
        return "owner";
    case ZHTP_CTL_LEVEL_ADMIN:
        return "admin";
    case ZHTP_CTL_LEVEL_USER:
        return "user";
    default:
        return "none";
    }
}

static bool is_hex(const char *s, size_t len)
{
    if (strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Checks that args holds exactly the required keys (and no others than required + optional),
 * each of the given type. */
static bool args_shape(const zhtp_ctl_request *req, const char *const *required, size_t n_req,
                       const char *const *optional, size_t n_opt, zhtp_ctl_arg_type type)
{
    size_t found = 0;
    for (size_t i = 0; i < req->n_args; i++) {
        bool known = false;
        for (size_t j = 0; j < n_req; j++)
            if (strcmp(req->args[i].key, required[j]) == 0) {
                known = true;
                found++;
            }
        for (size_t j = 0; j < n_opt; j++)
            known = known || strcmp(req->args[i].key, optional[j]) == 0;
        if (!known || req->args[i].type != type)
            return false;
    }
    return found == n_req;
}

static int check_args(zhtp_ctl_op op, const zhtp_ctl_request *req, const char **reason)
{
    static const char *const peer[] = {"peer"}, *const max[] = {"max"},
                             *const wallet[] = {"wallet"}, *const page[] = {"from", "count"},
                             *const size[] = {"size"}, *const id[] = {"id"},
                             *const node[] = {"node"};
    const zhtp_ctl_arg *a;
    switch (op) {
    case ZHTP_CTL_OP_DISCONNECT:
        if (!args_shape(req, peer, 1, NULL, 0, ZHTP_CTL_ARG_STRING) ||
            !is_hex(req->args[0].s, 2 * ZHTP_CTL_PEER_ID_BYTES)) {
            *reason = "disconnect needs exactly args.peer, a node id as 64 hex digits";
            return ZHTP_ERR_SEC_ARGS;
        }
        return ZHTP_OK;
    case ZHTP_CTL_OP_LIMIT:
        if (!args_shape(req, max, 1, NULL, 0, ZHTP_CTL_ARG_INT) || req->args[0].i < 0 ||
            req->args[0].i > ZHTP_CTL_LIMIT_MAX) {
            *reason = "limit needs exactly args.max, an integer 0..1000000 (0: no limit)";
            return ZHTP_ERR_SEC_ARGS;
        }
        return ZHTP_OK;
    case ZHTP_CTL_OP_ADD_ADMIN:
    case ZHTP_CTL_OP_REMOVE_ADMIN:
        if (!args_shape(req, wallet, 1, NULL, 0, ZHTP_CTL_ARG_STRING) ||
            !is_hex(req->args[0].s, ZHTP_WALLET_PK_HEX)) {
            *reason = "needs exactly args.wallet, a wallet public key as 2688 hex digits";
            return ZHTP_ERR_SEC_ARGS;
        }
        return ZHTP_OK;
    case ZHTP_CTL_OP_AUDIT:
        if (!args_shape(req, NULL, 0, page, 2, ZHTP_CTL_ARG_INT) ||
            ((a = zhtp_ctl_request_arg(req, "from")) && a->i < 0) ||
            ((a = zhtp_ctl_request_arg(req, "count")) &&
             (a->i < 1 || a->i > ZHTP_CTL_AUDIT_PAGE_MAX))) {
            *reason = "audit takes only args.from (>= 0) and args.count (1..100), integers";
            return ZHTP_ERR_SEC_ARGS;
        }
        return ZHTP_OK;
    case ZHTP_CTL_OP_PUT:
        if (!args_shape(req, size, 1, NULL, 0, ZHTP_CTL_ARG_INT) || req->args[0].i < 1 ||
            req->args[0].i > ZHTP_CTL_PUT_SIZE_MAX) {
            *reason = "put needs exactly args.size, the byte count that follows, 1..2^40";
            return ZHTP_ERR_SEC_ARGS;
        }
        return ZHTP_OK;
    case ZHTP_CTL_OP_GET:
        if (!args_shape(req, id, 1, NULL, 0, ZHTP_CTL_ARG_STRING) || !is_hex(req->args[0].s, 64)) {
            *reason = "get needs exactly args.id, a content id as 64 hex digits";
            return ZHTP_ERR_SEC_ARGS;
        }
        return ZHTP_OK;
    case ZHTP_CTL_OP_PING:
        /* The daemon parses the value (node id hex or IPv6 text); here only its bounds. */
        if (!args_shape(req, node, 1, NULL, 0, ZHTP_CTL_ARG_STRING) || req->args[0].s[0] == '\0' ||
            strlen(req->args[0].s) > ZHTP_CTL_NODE_ARG_MAX) {
            *reason = "ping needs exactly args.node, a node id (64 hex) or a mesh IPv6 address";
            return ZHTP_ERR_SEC_ARGS;
        }
        return ZHTP_OK;
    default:
        if (req->n_args) {
            *reason = "this operation takes no arguments";
            return ZHTP_ERR_SEC_ARGS;
        }
        return ZHTP_OK;
    }
}

int zhtp_ctl_policy_check(zhtp_ctl_level level, const zhtp_ctl_request *req,
                          const uint8_t (*own_peers)[ZHTP_CTL_PEER_ID_BYTES], size_t n_own,
                          const char **reason)
{
    const char *dummy;
    if (!reason)
        reason = &dummy;
    *reason = "allowed";
    if (!req) {
        *reason = "no request";
        return ZHTP_ERR_INVAL;
    }
    zhtp_ctl_op op = zhtp_ctl_op_from_name(req->op);
    if (op == ZHTP_CTL_OP_COUNT) {
        *reason = "unknown operation";
        return ZHTP_ERR_SEC_UNKNOWN_OP;
    }
    /* Level before arguments: a caller without the right learns nothing about the arguments. */
    if ((unsigned)level > ZHTP_CTL_LEVEL_OWNER || level < min_level[op]) {
        *reason = level_reasons[min_level[op]];
        return ZHTP_ERR_SEC_DENIED;
    }
    int rc = check_args(op, req, reason);
    if (rc)
        return rc;
    if (op == ZHTP_CTL_OP_DISCONNECT && level == ZHTP_CTL_LEVEL_USER) {
        uint8_t peer[ZHTP_CTL_PEER_ID_BYTES];
        const char *hex = req->args[0].s;
        for (size_t i = 0; i < sizeof peer; i++)
            peer[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
        for (size_t i = 0; own_peers && i < n_own; i++)
            if (memcmp(own_peers[i], peer, sizeof peer) == 0)
                return ZHTP_OK;
        *reason = "permission denied: a user may disconnect only its own connections";
        return ZHTP_ERR_SEC_DENIED;
    }
    return ZHTP_OK;
}
