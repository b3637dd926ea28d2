/* security/dispatch.c: the role x command matrix end to end (signed line in, response and audit
 * entry out), refusals of forged, replayed, expired and future requests, garbage lines, the
 * emergency stop persisted across a restart, fail-closed auditing and handler failures. */
#include <jansson.h>

#include "sec_fixture.h"

#define NOW INT64_C(1700000000)

enum { W_OWNER, W_ADMIN, W_USER, W_NONE, W_TARGET, W_COUNT };

typedef struct fx {
    char roles_dir[64], audit_dir[64];
    zhtp_ctl_verifier *v;
    zhtp_ctl_roles *roles;
    zhtp_audit *audit;
    zhtp_wallet *w[W_COUNT];
    uint8_t user_peer[ZHTP_CTL_PEER_ID_BYTES];
    uint8_t user_id[ZHTP_WALLET_ID_BYTES];
    int calls[ZHTP_CTL_OP_COUNT];
    int fail_op; /* handler for this op returns an error; -1: none */
    zhtp_ctl_dispatch_config cfg;
    uint64_t nonce;
    char line[ZHTP_CTL_LINE_MAX];
    char resp[ZHTP_CTL_RESPONSE_MAX];
} fx;

static const char user_peer_hex[] =
    "c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc";
static const char other_peer_hex[] =
    "0000000000000000000000000000000000000000000000000000000000000001";

static zhtp_ssize handler(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level, char *result,
                          size_t cap)
{
    fx *f = ud;
    zhtp_ctl_op op = zhtp_ctl_op_from_name(req->op);
    assert_true(op < ZHTP_CTL_OP_COUNT);
    f->calls[op]++;
    if ((int)op == f->fail_op)
        return ZHTP_ERR_IO;
    int n = snprintf(result, cap, "{\"handled\":\"%s\",\"level\":\"%s\"}", req->op,
                     zhtp_ctl_level_name(level));
    return n < 0 || (size_t)n >= cap ? ZHTP_ERR_NOBUF : n;
}

static size_t own_peers(void *ud, const uint8_t wallet_id[ZHTP_WALLET_ID_BYTES],
                        uint8_t (*own)[ZHTP_CTL_PEER_ID_BYTES], size_t cap)
{
    fx *f = ud;
    if (cap < 1 || memcmp(wallet_id, f->user_id, ZHTP_WALLET_ID_BYTES) != 0)
        return 0;
    memcpy(own[0], f->user_peer, ZHTP_CTL_PEER_ID_BYTES);
    return 1;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    sec_tmpdir(f->roles_dir, "roles");
    sec_tmpdir(f->audit_dir, "audit");
    assert_int_equal(zhtp_ctl_verifier_new(&f->v, NULL), ZHTP_OK);
    assert_int_equal(zhtp_ctl_roles_open(&f->roles, f->roles_dir), ZHTP_OK);
    assert_int_equal(zhtp_audit_open(&f->audit, f->audit_dir), ZHTP_OK);
    for (int i = 0; i < W_COUNT; i++)
        f->w[i] = sec_wallet(500 + (uint64_t)i);
    assert_int_equal(zhtp_ctl_roles_init_owner(f->roles, zhtp_wallet_public_key(f->w[W_OWNER])),
                     ZHTP_OK);
    assert_int_equal(zhtp_ctl_roles_add_admin(f->roles, zhtp_wallet_public_key(f->w[W_ADMIN])),
                     ZHTP_OK);
    assert_int_equal(zhtp_hex_decode(f->user_peer, 32, user_peer_hex, 64), 32);
    zhtp_wallet_id(f->user_id, zhtp_wallet_public_key(f->w[W_USER]));
    f->fail_op = -1;
    f->cfg.verifier = f->v;
    f->cfg.roles = f->roles;
    f->cfg.audit = f->audit;
    f->cfg.own_peers = own_peers;
    f->cfg.user_data = f;
    for (int o = 0; o < ZHTP_CTL_OP_COUNT; o++)
        if (o != ZHTP_CTL_OP_AUDIT && o != ZHTP_CTL_OP_ADD_ADMIN && o != ZHTP_CTL_OP_REMOVE_ADMIN)
            f->cfg.handlers[o] = handler;
    f->nonce = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    zhtp_ctl_verifier_free(f->v);
    zhtp_ctl_roles_close(f->roles);
    zhtp_audit_close(f->audit);
    for (int i = 0; i < W_COUNT; i++)
        zhtp_wallet_free(f->w[i]);
    sec_rm_rf(f->roles_dir);
    sec_rm_rf(f->audit_dir);
    free(f);
    return 0;
}

/* Signs and dispatches op from wallet wi with args; returns the outcome. */
static int run(fx *f, int wi, const char *op, const zhtp_ctl_arg *args, size_t n, int64_t ts,
               int64_t now)
{
    size_t len = sec_line(f->line, sizeof f->line, f->w[wi], op, args, n, f->nonce++, ts);
    size_t rlen = 0;
    int rc = zhtp_ctl_dispatch(&f->cfg, f->line, len, now, f->resp, sizeof f->resp, &rlen);
    assert_true(rlen > 0);
    assert_int_equal(f->resp[rlen - 1], '\n');
    assert_int_equal(strlen(f->resp), rlen);
    /* Every response is one valid JSON object with the outcome in "ok". */
    json_t *j = json_loads(f->resp, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_boolean(json_object_get(j, "ok")));
    assert_int_equal(json_is_true(json_object_get(j, "ok")), rc == ZHTP_OK);
    if (rc)
        assert_int_equal(json_integer_value(json_object_get(j, "code")), rc);
    json_decref(j);
    return rc;
}

static void last_entry(fx *f, zhtp_audit_entry *e)
{
    size_t n;
    uint64_t count = zhtp_audit_count(f->audit);
    assert_true(count > 0);
    assert_int_equal(zhtp_audit_read(f->audit, count - 1, e, 1, &n), ZHTP_OK);
    assert_int_equal(n, 1);
}

static bool expected_allowed(int wi, zhtp_ctl_op op)
{
    switch (op) {
    case ZHTP_CTL_OP_STATUS:
        return true;
    case ZHTP_CTL_OP_DISCONNECT:
    case ZHTP_CTL_OP_PEERS:
    case ZHTP_CTL_OP_PUT:
    case ZHTP_CTL_OP_GET:
    case ZHTP_CTL_OP_PING:
        return wi != W_NONE;
    case ZHTP_CTL_OP_AUDIT:
        return wi == W_OWNER || wi == W_ADMIN;
    default:
        return wi == W_OWNER;
    }
}

static void role_by_command_matrix_is_enforced_and_every_request_audited(void **state)
{
    fx *f = *state;
    char target_hex[ZHTP_WALLET_PK_HEX + 1];
    sec_pk_hex(target_hex, f->w[W_TARGET]);
    static const int order[] = {W_NONE, W_USER, W_ADMIN, W_OWNER};
    int allowed = 0;
    for (size_t k = 0; k < 4; k++) {
        int wi = order[k];
        uint8_t id[ZHTP_WALLET_ID_BYTES];
        zhtp_wallet_id(id, zhtp_wallet_public_key(f->w[wi]));
        for (int o = 0; o < ZHTP_CTL_OP_COUNT; o++) {
            zhtp_ctl_arg a = {0};
            size_t n = 0;
            if (o == ZHTP_CTL_OP_DISCONNECT)
                a = (zhtp_ctl_arg){.key = "peer", .type = ZHTP_CTL_ARG_STRING, .s = user_peer_hex},
                n = 1;
            else if (o == ZHTP_CTL_OP_LIMIT)
                a = (zhtp_ctl_arg){.key = "max", .type = ZHTP_CTL_ARG_INT, .i = 40}, n = 1;
            else if (o == ZHTP_CTL_OP_ADD_ADMIN || o == ZHTP_CTL_OP_REMOVE_ADMIN)
                a = (zhtp_ctl_arg){.key = "wallet", .type = ZHTP_CTL_ARG_STRING, .s = target_hex},
                n = 1;
            else if (o == ZHTP_CTL_OP_PUT)
                a = (zhtp_ctl_arg){.key = "size", .type = ZHTP_CTL_ARG_INT, .i = 1024}, n = 1;
            else if (o == ZHTP_CTL_OP_GET)
                a = (zhtp_ctl_arg){.key = "id", .type = ZHTP_CTL_ARG_STRING, .s = user_peer_hex},
                n = 1;
            else if (o == ZHTP_CTL_OP_PING)
                a = (zhtp_ctl_arg){.key = "node", .type = ZHTP_CTL_ARG_STRING, .s = user_peer_hex},
                n = 1;
            uint64_t before = zhtp_audit_count(f->audit);
            int calls = f->calls[o];
            const char *name = zhtp_ctl_op_name((zhtp_ctl_op)o);
            int rc = run(f, wi, name, &a, n, NOW, NOW);
            bool want = expected_allowed(wi, (zhtp_ctl_op)o);
            if (want != (rc == ZHTP_OK) || (!want && rc != ZHTP_ERR_SEC_DENIED))
                fail_msg("wallet %d x %s: %s / %s", wi, name, zhtp_err_name(rc), f->resp);
            allowed += want;
            /* Exactly one entry per request, naming the op, the caller and the outcome. */
            assert_int_equal(zhtp_audit_count(f->audit), before + 1);
            zhtp_audit_entry e;
            last_entry(f, &e);
            assert_string_equal(e.op, name);
            assert_memory_equal(e.caller, id, sizeof id);
            assert_int_equal(e.success, want);
            assert_int_equal(e.code, want ? 0 : ZHTP_ERR_SEC_DENIED);
            /* Handlers run only when allowed. */
            if (f->cfg.handlers[o])
                assert_int_equal(f->calls[o], calls + (want ? 1 : 0));
        }
    }
    assert_int_equal(allowed, 1 + 6 + 7 + 12);
    /* The owner's role ops took effect, persisted: stop, then resume, limit 40; the target was
     * added then removed. */
    assert_false(zhtp_ctl_roles_is_stopped(f->roles));
    assert_int_equal(zhtp_ctl_roles_limit(f->roles), 40);
    assert_int_equal(zhtp_ctl_roles_level(f->roles, zhtp_wallet_public_key(f->w[W_TARGET])),
                     ZHTP_CTL_LEVEL_NONE);
    uint64_t bad;
    assert_int_equal(zhtp_audit_verify(f->audit, &bad), ZHTP_OK);
}

static void user_cannot_disconnect_another_wallets_peer(void **state)
{
    fx *f = *state;
    zhtp_ctl_arg a = {.key = "peer", .type = ZHTP_CTL_ARG_STRING, .s = other_peer_hex};
    assert_int_equal(run(f, W_USER, "disconnect", &a, 1, NOW, NOW), ZHTP_ERR_SEC_DENIED);
    assert_int_equal(f->calls[ZHTP_CTL_OP_DISCONNECT], 0);
    assert_non_null(strstr(f->resp, "own connections"));
    assert_int_equal(run(f, W_ADMIN, "disconnect", &a, 1, NOW, NOW), ZHTP_OK);
    assert_int_equal(f->calls[ZHTP_CTL_OP_DISCONNECT], 1);
    assert_non_null(strstr(f->resp, "\"level\":\"admin\""));
}

static void forged_replayed_expired_and_future_requests_are_refused_and_audited(void **state)
{
    fx *f = *state;
    uint8_t id[ZHTP_WALLET_ID_BYTES];
    zhtp_wallet_id(id, zhtp_wallet_public_key(f->w[W_OWNER]));
    zhtp_audit_entry e;
    size_t rlen;
    /* Forged: the owner's line with one signature digit changed. */
    size_t len = sec_line(f->line, sizeof f->line, f->w[W_OWNER], "stop", NULL, 0, 9000, NOW);
    char *sig = strstr(f->line, "\"sig\":\"") + 7;
    sig[100] = sig[100] == 'a' ? 'b' : 'a';
    assert_int_equal(zhtp_ctl_dispatch(&f->cfg, f->line, len, NOW, f->resp, sizeof f->resp, &rlen),
                     ZHTP_ERR_SEC_SIGNATURE);
    last_entry(f, &e);
    assert_false(e.success);
    assert_int_equal(e.code, ZHTP_ERR_SEC_SIGNATURE);
    assert_string_equal(e.op, "stop");
    assert_memory_equal(e.caller, id, sizeof id); /* claimed, flagged by the code */
    assert_false(zhtp_ctl_roles_is_stopped(f->roles));
    /* Replayed: the genuine line twice. */
    len = sec_line(f->line, sizeof f->line, f->w[W_OWNER], "stop", NULL, 0, 9001, NOW);
    assert_int_equal(zhtp_ctl_dispatch(&f->cfg, f->line, len, NOW, f->resp, sizeof f->resp, &rlen),
                     ZHTP_OK);
    assert_int_equal(
        zhtp_ctl_dispatch(&f->cfg, f->line, len, NOW + 1, f->resp, sizeof f->resp, &rlen),
        ZHTP_ERR_SEC_REPLAY);
    last_entry(f, &e);
    assert_int_equal(e.code, ZHTP_ERR_SEC_REPLAY);
    assert_int_equal(f->calls[ZHTP_CTL_OP_STOP], 1);
    /* Expired and future-dated. */
    assert_int_equal(run(f, W_OWNER, "resume", NULL, 0, NOW - 61, NOW), ZHTP_ERR_SEC_STALE);
    last_entry(f, &e);
    assert_int_equal(e.code, ZHTP_ERR_SEC_STALE);
    assert_int_equal(run(f, W_OWNER, "resume", NULL, 0, NOW + 61, NOW), ZHTP_ERR_SEC_FUTURE);
    last_entry(f, &e);
    assert_int_equal(e.code, ZHTP_ERR_SEC_FUTURE);
    assert_true(zhtp_ctl_roles_is_stopped(f->roles));
    assert_int_equal(f->calls[ZHTP_CTL_OP_RESUME], 0);
    assert_int_equal(zhtp_audit_count(f->audit), 5);
}

static void garbage_lines_are_refused_and_audited_without_a_caller(void **state)
{
    fx *f = *state;
    zt_rng r;
    zt_rng_seed(&r, 5);
    char buf[256];
    size_t rlen;
    uint8_t zero[32] = {0};
    for (int i = 0; i < 50; i++) {
        size_t len = (size_t)zt_rng_below(&r, sizeof buf);
        zt_rng_bytes(&r, buf, len);
        int rc = zhtp_ctl_dispatch(&f->cfg, buf, len, NOW, f->resp, sizeof f->resp, &rlen);
        assert_true(rc <= -600 && rc >= -699);
        json_t *j = json_loads(f->resp, 0, NULL);
        assert_non_null(j);
        json_decref(j);
        zhtp_audit_entry e;
        last_entry(f, &e);
        assert_false(e.success);
        assert_int_equal(e.code, rc);
    }
    assert_int_equal(
        zhtp_ctl_dispatch(&f->cfg, "{\"op\":1}", 8, NOW, f->resp, sizeof f->resp, &rlen),
        ZHTP_ERR_SEC_FIELD);
    zhtp_audit_entry e;
    last_entry(f, &e);
    assert_string_equal(e.op, "?");
    assert_memory_equal(e.caller, zero, 32);
    assert_int_equal(zhtp_audit_count(f->audit), 51);
}

static void emergency_stop_persists_across_restart_until_the_owner_resumes(void **state)
{
    fx *f = *state;
    assert_int_equal(run(f, W_OWNER, "stop", NULL, 0, NOW, NOW), ZHTP_OK);
    /* Restart: close and reopen everything; a new verifier (its cache is memory only). */
    zhtp_ctl_roles_close(f->roles);
    zhtp_audit_close(f->audit);
    zhtp_ctl_verifier_free(f->v);
    assert_int_equal(zhtp_ctl_roles_open(&f->roles, f->roles_dir), ZHTP_OK);
    assert_int_equal(zhtp_audit_open(&f->audit, f->audit_dir), ZHTP_OK);
    assert_int_equal(zhtp_ctl_verifier_new(&f->v, NULL), ZHTP_OK);
    f->cfg.roles = f->roles;
    f->cfg.audit = f->audit;
    f->cfg.verifier = f->v;
    assert_true(zhtp_ctl_roles_is_stopped(f->roles));
    assert_int_equal(run(f, W_ADMIN, "resume", NULL, 0, NOW + 5, NOW + 5), ZHTP_ERR_SEC_DENIED);
    assert_true(zhtp_ctl_roles_is_stopped(f->roles));
    assert_int_equal(run(f, W_OWNER, "resume", NULL, 0, NOW + 6, NOW + 6), ZHTP_OK);
    assert_false(zhtp_ctl_roles_is_stopped(f->roles));
    assert_int_equal(zhtp_audit_count(f->audit), 3);
    uint64_t bad;
    assert_int_equal(zhtp_audit_verify(f->audit, &bad), ZHTP_OK);
}

static void audit_command_returns_a_page_of_entries(void **state)
{
    fx *f = *state;
    for (int i = 0; i < 5; i++)
        run(f, W_NONE, "status", NULL, 0, NOW, NOW);
    zhtp_ctl_arg a[2] = {{.key = "from", .type = ZHTP_CTL_ARG_INT, .i = 2},
                         {.key = "count", .type = ZHTP_CTL_ARG_INT, .i = 2}};
    assert_int_equal(run(f, W_ADMIN, "audit", a, 2, NOW, NOW), ZHTP_OK);
    json_t *j = json_loads(f->resp, 0, NULL);
    json_t *res = json_object_get(j, "result");
    /* The audit request's own entry (index 5) is written before the page is read. */
    assert_int_equal(json_integer_value(json_object_get(res, "total")), 6);
    json_t *entries = json_object_get(res, "entries");
    assert_int_equal(json_array_size(entries), 2);
    json_t *e0 = json_array_get(entries, 0);
    assert_int_equal(json_integer_value(json_object_get(e0, "index")), 2);
    assert_string_equal(json_string_value(json_object_get(e0, "op")), "status");
    assert_true(json_is_true(json_object_get(e0, "success")));
    assert_int_equal(strlen(json_string_value(json_object_get(e0, "caller"))), 64);
    json_decref(j);
}

/* If the decision cannot be logged, the action does not happen. */
static void audit_failure_fails_closed(void **state)
{
    fx *f = *state;
    /* Occupy the next index behind the API's back: the next append cannot commit. */
    uint8_t junk[8] = {0};
    assert_int_equal(zhtp_audit_raw_put(f->audit, zhtp_audit_count(f->audit), junk, sizeof junk),
                     ZHTP_OK);
    assert_int_equal(run(f, W_OWNER, "stop", NULL, 0, NOW, NOW), ZHTP_ERR_SEC_BACKEND);
    assert_false(zhtp_ctl_roles_is_stopped(f->roles));
    assert_int_equal(f->calls[ZHTP_CTL_OP_STOP], 0);
    assert_non_null(strstr(f->resp, "not executed"));
}

static void handler_failure_is_reported_and_audited_twice(void **state)
{
    fx *f = *state;
    f->fail_op = ZHTP_CTL_OP_PEERS;
    assert_int_equal(run(f, W_USER, "peers", NULL, 0, NOW, NOW), ZHTP_ERR_IO);
    assert_int_equal(zhtp_audit_count(f->audit), 2);
    zhtp_audit_entry e[2];
    size_t n;
    assert_int_equal(zhtp_audit_read(f->audit, 0, e, 2, &n), ZHTP_OK);
    assert_true(e[0].success);
    assert_false(e[1].success);
    assert_int_equal(e[1].code, ZHTP_ERR_IO);
    /* No handler for a daemon op: unsupported, not silently ok. */
    f->cfg.handlers[ZHTP_CTL_OP_STATUS] = NULL;
    assert_int_equal(run(f, W_NONE, "status", NULL, 0, NOW, NOW), ZHTP_ERR_UNSUPPORTED);
    /* Unknown op: refused by the policy, audited. */
    assert_int_equal(run(f, W_OWNER, "reboot", NULL, 0, NOW, NOW), ZHTP_ERR_SEC_UNKNOWN_OP);
    last_entry(f, e);
    assert_string_equal(e[0].op, "reboot");
}

static void tiny_response_buffer_is_nobuf(void **state)
{
    fx *f = *state;
    size_t len = sec_line(f->line, sizeof f->line, f->w[W_OWNER], "status", NULL, 0, 77, NOW);
    size_t rlen = 1;
    char small[8];
    assert_int_equal(zhtp_ctl_dispatch(&f->cfg, f->line, len, NOW, small, sizeof small, &rlen),
                     ZHTP_ERR_NOBUF);
    assert_int_equal(rlen, 0);
    assert_string_equal(small, "");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(role_by_command_matrix_is_enforced_and_every_request_audited),
        T(user_cannot_disconnect_another_wallets_peer),
        T(forged_replayed_expired_and_future_requests_are_refused_and_audited),
        T(garbage_lines_are_refused_and_audited_without_a_caller),
        T(emergency_stop_persists_across_restart_until_the_owner_resumes),
        T(audit_command_returns_a_page_of_entries),
        T(audit_failure_fails_closed),
        T(handler_failure_is_reported_and_audited_twice),
        T(tiny_response_buffer_is_nobuf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
