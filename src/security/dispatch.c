/* The dispatcher: one control line in, one response line out, one or two audit entries
 * (include/zhtp/security.h, docs/security.md §5). No sockets: the daemon reads the line and
 * writes the response, so every path here runs in unit tests. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zhtp/security.h"
#include "zhtp/util.h"

/* A tiny bounded writer: once it overflows it stays overflowed and the caller reports NOBUF. */
typedef struct out_buf {
    char *p;
    size_t cap, len;
    bool overflow;
} out_buf;

static void emit(out_buf *o, const char *fmt, ...)
{
    if (o->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->overflow = true;
        return;
    }
    o->len += (size_t)n;
}

/* A JSON string literal of s: quotes, backslashes and control bytes escaped. */
static void emit_str(out_buf *o, const char *s)
{
    emit(o, "\"");
    for (; *s && !o->overflow; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            emit(o, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            emit(o, "\\u%04x", c);
        else
            emit(o, "%c", c);
    }
    emit(o, "\"");
}

static void emit_hex(out_buf *o, const uint8_t *b, size_t n)
{
    emit(o, "\"");
    for (size_t i = 0; i < n; i++)
        emit(o, "%02x", b[i]);
    emit(o, "\"");
}

static int respond_error(out_buf *o, int code, const char *reason)
{
    const char *name = zhtp_err_name(code);
    emit(o, "{\"ok\":false,\"error\":");
    emit_str(o, name ? name : "?");
    emit(o, ",\"code\":%d,\"reason\":", code);
    emit_str(o, reason);
    emit(o, "}\n");
    return code;
}

/* The built-in "audit" handler: one page of entries, as stored (run verify to trust them). */
static zhtp_ssize audit_page(zhtp_audit *a, const zhtp_ctl_request *req, char *result, size_t cap)
{
    const zhtp_ctl_arg *from_arg = zhtp_ctl_request_arg(req, "from");
    const zhtp_ctl_arg *count_arg = zhtp_ctl_request_arg(req, "count");
    uint64_t from = from_arg ? (uint64_t)from_arg->i : 0;
    size_t max = count_arg ? (size_t)count_arg->i : 20;
    zhtp_audit_entry *e = malloc(max * sizeof *e);
    if (!e)
        return ZHTP_ERR_NOMEM;
    size_t n = 0;
    int rc = zhtp_audit_read(a, from, e, max, &n);
    if (rc) {
        free(e);
        return rc;
    }
    out_buf o = {result, cap, 0, false};
    emit(&o, "{\"total\":%llu,\"from\":%llu,\"entries\":[", (unsigned long long)zhtp_audit_count(a),
         (unsigned long long)from);
    for (size_t i = 0; i < n; i++) {
        emit(&o, "%s{\"index\":%llu,\"ts\":%lld,\"op\":", i ? "," : "",
             (unsigned long long)e[i].index, (long long)e[i].ts);
        emit_str(&o, e[i].op);
        emit(&o, ",\"caller\":");
        emit_hex(&o, e[i].caller, sizeof e[i].caller);
        emit(&o, ",\"success\":%s,\"code\":%d,\"reason\":", e[i].success ? "true" : "false",
             (int)e[i].code);
        emit_str(&o, e[i].reason);
        emit(&o, ",\"hash\":");
        emit_hex(&o, e[i].hash, sizeof e[i].hash);
        emit(&o, "}");
    }
    emit(&o, "]}");
    free(e);
    return o.overflow ? ZHTP_ERR_NOBUF : (zhtp_ssize)o.len;
}

/* Persists the role-table part of an allowed op. */
static int apply_roles(zhtp_ctl_roles *r, zhtp_ctl_op op, const zhtp_ctl_request *req,
                       const char **reason)
{
    uint8_t pk[ZHTP_WALLET_PK_BYTES];
    int rc;
    switch (op) {
    case ZHTP_CTL_OP_STOP:
    case ZHTP_CTL_OP_RESUME:
        rc = zhtp_ctl_roles_set_stopped(r, op == ZHTP_CTL_OP_STOP);
        break;
    case ZHTP_CTL_OP_LIMIT:
        rc = zhtp_ctl_roles_set_limit(r, (uint32_t)req->args[0].i);
        break;
    case ZHTP_CTL_OP_ADD_ADMIN:
    case ZHTP_CTL_OP_REMOVE_ADMIN:
        /* The policy checked the hex shape. */
        if (zhtp_hex_decode(pk, sizeof pk, req->args[0].s, ZHTP_WALLET_PK_HEX) !=
            ZHTP_WALLET_PK_BYTES)
            return ZHTP_ERR_SEC_ARGS;
        rc = op == ZHTP_CTL_OP_ADD_ADMIN ? zhtp_ctl_roles_add_admin(r, pk)
                                         : zhtp_ctl_roles_remove_admin(r, pk);
        if (rc == ZHTP_ERR_SEC_ARGS)
            *reason = "the owner cannot be made an admin";
        break;
    default:
        return ZHTP_OK;
    }
    return rc;
}

int zhtp_ctl_dispatch(const zhtp_ctl_dispatch_config *cfg, const char *line, size_t len,
                      int64_t now, char *resp, size_t cap, size_t *resp_len)
{
    if (resp_len)
        *resp_len = 0;
    if (!cfg || !cfg->verifier || !cfg->roles || !cfg->audit || !resp || !cap)
        return ZHTP_ERR_INVAL;
    out_buf o = {resp, cap, 0, false};
    resp[0] = '\0';
    zhtp_ctl_request req;
    memset(&req, 0, sizeof req);
    char *result = NULL;
    const char *reason = "allowed";
    bool have_caller = false;
    int audit_rc;

    int rc = zhtp_ctl_verify(cfg->verifier, &req, line, len, now);
    for (size_t i = 0; i < sizeof req.wallet_id; i++)
        have_caller = have_caller || req.wallet_id[i];
    const char *op_label = req.op[0] ? req.op : "?";
    if (rc) {
        reason = zhtp_strerror(rc);
        audit_rc = zhtp_audit_append(cfg->audit, now, op_label, have_caller ? req.wallet_id : NULL,
                                     false, rc, reason, NULL);
        goto refused;
    }

    zhtp_ctl_level level = zhtp_ctl_roles_level(cfg->roles, req.wallet);
    zhtp_ctl_op op = zhtp_ctl_op_from_name(req.op);
    uint8_t own[ZHTP_CTL_OWN_PEERS_MAX][ZHTP_CTL_PEER_ID_BYTES];
    size_t n_own = 0;
    if (level == ZHTP_CTL_LEVEL_NONE && cfg->own_peers) {
        n_own = cfg->own_peers(cfg->user_data, req.wallet_id, own, ZHTP_CTL_OWN_PEERS_MAX);
        if (n_own > ZHTP_CTL_OWN_PEERS_MAX)
            n_own = ZHTP_CTL_OWN_PEERS_MAX;
        if (n_own > 0)
            level = ZHTP_CTL_LEVEL_USER;
    }
    rc = zhtp_ctl_policy_check(level, &req, (const uint8_t(*)[ZHTP_CTL_PEER_ID_BYTES])own, n_own,
                               &reason);
    /* The decision goes to the log before anything is done: if it cannot be logged, nothing is
     * done (fail closed). */
    audit_rc = zhtp_audit_append(cfg->audit, now, op_label, req.wallet_id, rc == ZHTP_OK, rc,
                                 rc ? reason : "allowed", NULL);
    if (rc)
        goto refused;
    if (audit_rc) {
        rc = ZHTP_ERR_SEC_BACKEND;
        reason = "audit log unavailable: request not executed";
        goto error;
    }

    rc = apply_roles(cfg->roles, op, &req, &reason);
    if (rc) {
        if (reason == NULL || strcmp(reason, "allowed") == 0)
            reason = zhtp_strerror(rc);
        goto failed;
    }
    size_t result_cap = cap > 128 ? cap - 128 : 0;
    zhtp_ssize rlen = 0;
    zhtp_ctl_handler_fn h = cfg->handlers[op];
    if (h || op == ZHTP_CTL_OP_AUDIT) {
        result = result_cap ? malloc(result_cap) : NULL;
        if (!result) {
            rc = result_cap ? ZHTP_ERR_NOMEM : ZHTP_ERR_NOBUF;
            reason = zhtp_strerror(rc);
            goto failed;
        }
        result[0] = '\0';
        rlen = h ? h(cfg->user_data, &req, level, result, result_cap)
                 : audit_page(cfg->audit, &req, result, result_cap);
        if (rlen < 0) {
            rc = (int)rlen;
            reason = zhtp_strerror(rc);
            goto failed;
        }
    } else if (op == ZHTP_CTL_OP_DISCONNECT || op == ZHTP_CTL_OP_STATUS ||
               op == ZHTP_CTL_OP_PEERS) {
        rc = ZHTP_ERR_UNSUPPORTED;
        reason = "the daemon has no handler for this operation";
        goto failed;
    }
    emit(&o, "{\"ok\":true,\"op\":");
    emit_str(&o, req.op);
    emit(&o, ",\"result\":%s}\n", rlen > 0 ? result : "null");
    rc = ZHTP_OK;
    goto done;

failed:
    /* The decision entry said "allowed"; this second entry records that the action failed. */
    zhtp_audit_append(cfg->audit, now, op_label, req.wallet_id, false, rc, reason, NULL);
    goto error;
refused:
    if (audit_rc && !rc)
        rc = ZHTP_ERR_SEC_BACKEND;
error:
    respond_error(&o, rc, reason);
done:
    free(result);
    zhtp_ctl_request_clear(&req);
    if (o.overflow) {
        resp[0] = '\0';
        return ZHTP_ERR_NOBUF;
    }
    if (resp_len)
        *resp_len = o.len;
    return rc;
}
