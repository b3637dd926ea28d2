/* security/policy.c and roles.c: the pure level x operation matrix, argument checks, a User's
 * own connections, and the persistent role table (owner fixed once, admins, limit, emergency
 * stop surviving close/reopen). */
#include "sec_fixture.h"

static const char peer_hex[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/* A request with valid arguments for op (as the policy sees it after verification). */
static void make_req(zhtp_ctl_request *req, zhtp_ctl_op op, const char *wallet_hex)
{
    memset(req, 0, sizeof *req);
    strcpy(req->op, zhtp_ctl_op_name(op));
    zhtp_ctl_arg *a = &req->args[0];
    switch (op) {
    case ZHTP_CTL_OP_DISCONNECT:
        *a = (zhtp_ctl_arg){.key = "peer", .type = ZHTP_CTL_ARG_STRING, .s = peer_hex};
        req->n_args = 1;
        break;
    case ZHTP_CTL_OP_LIMIT:
        *a = (zhtp_ctl_arg){.key = "max", .type = ZHTP_CTL_ARG_INT, .i = 50};
        req->n_args = 1;
        break;
    case ZHTP_CTL_OP_ADD_ADMIN:
    case ZHTP_CTL_OP_REMOVE_ADMIN:
        *a = (zhtp_ctl_arg){.key = "wallet", .type = ZHTP_CTL_ARG_STRING, .s = wallet_hex};
        req->n_args = 1;
        break;
    case ZHTP_CTL_OP_PUT:
        *a = (zhtp_ctl_arg){.key = "size", .type = ZHTP_CTL_ARG_INT, .i = 3 << 20};
        req->n_args = 1;
        break;
    case ZHTP_CTL_OP_GET:
        *a = (zhtp_ctl_arg){.key = "id", .type = ZHTP_CTL_ARG_STRING, .s = peer_hex};
        req->n_args = 1;
        break;
    case ZHTP_CTL_OP_PING:
        *a = (zhtp_ctl_arg){.key = "node", .type = ZHTP_CTL_ARG_STRING, .s = "fd00::1"};
        req->n_args = 1;
        break;
    default:
        break;
    }
}

/* Expected outcome with valid args; a User's disconnect is for a peer it owns. */
static bool expected_allowed(zhtp_ctl_level level, zhtp_ctl_op op)
{
    switch (op) {
    case ZHTP_CTL_OP_STATUS:
        return true;
    case ZHTP_CTL_OP_DISCONNECT:
    case ZHTP_CTL_OP_PEERS:
    case ZHTP_CTL_OP_PUT:
    case ZHTP_CTL_OP_GET:
    case ZHTP_CTL_OP_PING:
        return level >= ZHTP_CTL_LEVEL_USER;
    case ZHTP_CTL_OP_AUDIT:
        return level >= ZHTP_CTL_LEVEL_ADMIN;
    default:
        return level == ZHTP_CTL_LEVEL_OWNER;
    }
}

static void level_by_operation_matrix_is_exactly_as_specified(void **state)
{
    (void)state;
    static char wallet_hex[ZHTP_WALLET_PK_HEX + 1];
    memset(wallet_hex, 'a', ZHTP_WALLET_PK_HEX);
    uint8_t own[1][ZHTP_CTL_PEER_ID_BYTES];
    assert_int_equal(zhtp_hex_decode(own[0], 32, peer_hex, 64), 32);
    int allowed = 0;
    for (int l = ZHTP_CTL_LEVEL_NONE; l <= ZHTP_CTL_LEVEL_OWNER; l++) {
        for (int o = 0; o < ZHTP_CTL_OP_COUNT; o++) {
            zhtp_ctl_request req;
            make_req(&req, (zhtp_ctl_op)o, wallet_hex);
            const char *reason = NULL;
            int rc = zhtp_ctl_policy_check(
                (zhtp_ctl_level)l, &req, (const uint8_t(*)[ZHTP_CTL_PEER_ID_BYTES])own, 1, &reason);
            bool want = expected_allowed((zhtp_ctl_level)l, (zhtp_ctl_op)o);
            if (want != (rc == ZHTP_OK) || (!want && rc != ZHTP_ERR_SEC_DENIED))
                fail_msg("%s x %s: got %s (%s)", zhtp_ctl_level_name((zhtp_ctl_level)l), req.op,
                         zhtp_err_name(rc), reason);
            assert_non_null(reason);
            allowed += rc == ZHTP_OK;
        }
    }
    /* 1 (None) + 6 (User) + 7 (Admin) + 12 (Owner). */
    assert_int_equal(allowed, 26);
}

static void user_may_disconnect_only_its_own_connections(void **state)
{
    (void)state;
    zhtp_ctl_request req;
    make_req(&req, ZHTP_CTL_OP_DISCONNECT, NULL);
    uint8_t own[2][ZHTP_CTL_PEER_ID_BYTES];
    memset(own, 0x5a, sizeof own);
    const char *reason;
    assert_int_equal(zhtp_ctl_policy_check(ZHTP_CTL_LEVEL_USER, &req,
                                           (const uint8_t(*)[ZHTP_CTL_PEER_ID_BYTES])own, 2,
                                           &reason),
                     ZHTP_ERR_SEC_DENIED);
    assert_non_null(strstr(reason, "own"));
    assert_int_equal(zhtp_ctl_policy_check(ZHTP_CTL_LEVEL_USER, &req, NULL, 0, &reason),
                     ZHTP_ERR_SEC_DENIED);
    assert_int_equal(zhtp_hex_decode(own[1], 32, peer_hex, 64), 32);
    assert_int_equal(zhtp_ctl_policy_check(ZHTP_CTL_LEVEL_USER, &req,
                                           (const uint8_t(*)[ZHTP_CTL_PEER_ID_BYTES])own, 2,
                                           &reason),
                     ZHTP_OK);
    /* Uppercase hex names the same peer. */
    char upper[65];
    for (int i = 0; i < 64; i++)
        upper[i] = (char)(peer_hex[i] >= 'a' ? peer_hex[i] - 32 : peer_hex[i]);
    upper[64] = '\0';
    req.args[0].s = upper;
    assert_int_equal(zhtp_ctl_policy_check(ZHTP_CTL_LEVEL_USER, &req,
                                           (const uint8_t(*)[ZHTP_CTL_PEER_ID_BYTES])own, 2,
                                           &reason),
                     ZHTP_OK);
    /* Admin and Owner need no ownership. */
    assert_int_equal(zhtp_ctl_policy_check(ZHTP_CTL_LEVEL_ADMIN, &req, NULL, 0, NULL), ZHTP_OK);
    assert_int_equal(zhtp_ctl_policy_check(ZHTP_CTL_LEVEL_OWNER, &req, NULL, 0, NULL), ZHTP_OK);
}

static void bad_arguments_and_unknown_ops_are_refused_with_reasons(void **state)
{
    (void)state;
    zhtp_ctl_request req;
    const char *reason;
    memset(&req, 0, sizeof req);
    strcpy(req.op, "reboot");
    assert_int_equal(zhtp_ctl_policy_check(ZHTP_CTL_LEVEL_OWNER, &req, NULL, 0, &reason),
                     ZHTP_ERR_SEC_UNKNOWN_OP);
    static const struct {
        zhtp_ctl_op op;
        zhtp_ctl_arg arg;
    } bad[] = {
        {ZHTP_CTL_OP_DISCONNECT, {.key = "peer", .type = ZHTP_CTL_ARG_STRING, .s = "abcd"}},
        {ZHTP_CTL_OP_DISCONNECT, {.key = "peer", .type = ZHTP_CTL_ARG_INT, .i = 1}},
        {ZHTP_CTL_OP_DISCONNECT, {.key = "node", .type = ZHTP_CTL_ARG_STRING, .s = peer_hex}},
        {ZHTP_CTL_OP_LIMIT, {.key = "max", .type = ZHTP_CTL_ARG_INT, .i = -1}},
        {ZHTP_CTL_OP_LIMIT, {.key = "max", .type = ZHTP_CTL_ARG_INT, .i = 1000001}},
        {ZHTP_CTL_OP_LIMIT, {.key = "max", .type = ZHTP_CTL_ARG_STRING, .s = "5"}},
        {ZHTP_CTL_OP_ADD_ADMIN, {.key = "wallet", .type = ZHTP_CTL_ARG_STRING, .s = "00"}},
        {ZHTP_CTL_OP_REMOVE_ADMIN, {.key = "wallet", .type = ZHTP_CTL_ARG_NULL}},
        {ZHTP_CTL_OP_AUDIT, {.key = "count", .type = ZHTP_CTL_ARG_INT, .i = 0}},
        {ZHTP_CTL_OP_AUDIT, {.key = "count", .type = ZHTP_CTL_ARG_INT, .i = 101}},
        {ZHTP_CTL_OP_AUDIT, {.key = "from", .type = ZHTP_CTL_ARG_INT, .i = -1}},
        {ZHTP_CTL_OP_AUDIT, {.key = "x", .type = ZHTP_CTL_ARG_INT, .i = 1}},
        {ZHTP_CTL_OP_STOP, {.key = "now", .type = ZHTP_CTL_ARG_BOOL, .b = true}},
        {ZHTP_CTL_OP_STATUS, {.key = "x", .type = ZHTP_CTL_ARG_NULL}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        make_req(&req, bad[i].op, NULL);
        req.args[0] = bad[i].arg;
        req.n_args = 1;
        reason = NULL;
        int rc = zhtp_ctl_policy_check(ZHTP_CTL_LEVEL_OWNER, &req, NULL, 0, &reason);
        if (rc != ZHTP_ERR_SEC_ARGS)
            fail_msg("case %zu (%s): %s", i, req.op, zhtp_err_name(rc));
        assert_non_null(reason);
    }
    /* Missing required argument. */
    make_req(&req, ZHTP_CTL_OP_LIMIT, NULL);
    req.n_args = 0;
    assert_int_equal(zhtp_ctl_policy_check(ZHTP_CTL_LEVEL_OWNER, &req, NULL, 0, NULL),
                     ZHTP_ERR_SEC_ARGS);
    /* Level is checked before arguments: a None caller with bad args is denied, not told. */
    make_req(&req, ZHTP_CTL_OP_LIMIT, NULL);
    req.args[0].i = -5;
    assert_int_equal(zhtp_ctl_policy_check(ZHTP_CTL_LEVEL_NONE, &req, NULL, 0, NULL),
                     ZHTP_ERR_SEC_DENIED);
    /* Audit paging within bounds. */
    make_req(&req, ZHTP_CTL_OP_AUDIT, NULL);
    req.args[0] = (zhtp_ctl_arg){.key = "count", .type = ZHTP_CTL_ARG_INT, .i = 100};
    req.args[1] = (zhtp_ctl_arg){.key = "from", .type = ZHTP_CTL_ARG_INT, .i = 7};
    req.n_args = 2;
    assert_int_equal(zhtp_ctl_policy_check(ZHTP_CTL_LEVEL_ADMIN, &req, NULL, 0, NULL), ZHTP_OK);
    /* Out-of-range level values are denied. */
    make_req(&req, ZHTP_CTL_OP_STOP, NULL);
    assert_int_equal(zhtp_ctl_policy_check((zhtp_ctl_level)7, &req, NULL, 0, NULL),
                     ZHTP_ERR_SEC_DENIED);
}

static void op_names_round_trip(void **state)
{
    (void)state;
    for (int o = 0; o < ZHTP_CTL_OP_COUNT; o++)
        assert_int_equal(zhtp_ctl_op_from_name(zhtp_ctl_op_name((zhtp_ctl_op)o)), o);
    assert_int_equal(zhtp_ctl_op_from_name("STOP"), ZHTP_CTL_OP_COUNT);
    assert_int_equal(zhtp_ctl_op_from_name(NULL), ZHTP_CTL_OP_COUNT);
}

/* --- role table ------------------------------------------------------------------------ */

typedef struct fx {
    char dir[64];
    zhtp_ctl_roles *r;
    zhtp_wallet *owner, *admin, *user;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    sec_tmpdir(f->dir, "roles");
    assert_int_equal(zhtp_ctl_roles_open(&f->r, f->dir), ZHTP_OK);
    f->owner = sec_wallet(100);
    f->admin = sec_wallet(101);
    f->user = sec_wallet(102);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    zhtp_ctl_roles_close(f->r);
    zhtp_wallet_free(f->owner);
    zhtp_wallet_free(f->admin);
    zhtp_wallet_free(f->user);
    sec_rm_rf(f->dir);
    free(f);
    return 0;
}

static void owner_is_fixed_once_and_cannot_be_changed(void **state)
{
    fx *f = *state;
    uint8_t pk[ZHTP_WALLET_PK_BYTES];
    assert_int_equal(zhtp_ctl_roles_owner(f->r, pk), ZHTP_ERR_SEC_NO_OWNER);
    /* Without an owner, everyone is None (fail closed). */
    assert_int_equal(zhtp_ctl_roles_level(f->r, zhtp_wallet_public_key(f->owner)),
                     ZHTP_CTL_LEVEL_NONE);
    assert_int_equal(zhtp_ctl_roles_init_owner(f->r, zhtp_wallet_public_key(f->owner)), ZHTP_OK);
    assert_int_equal(zhtp_ctl_roles_init_owner(f->r, zhtp_wallet_public_key(f->owner)), ZHTP_OK);
    assert_int_equal(zhtp_ctl_roles_init_owner(f->r, zhtp_wallet_public_key(f->user)),
                     ZHTP_ERR_SEC_OWNER_SET);
    /* Still after reopening. */
    zhtp_ctl_roles_close(f->r);
    assert_int_equal(zhtp_ctl_roles_open(&f->r, f->dir), ZHTP_OK);
    assert_int_equal(zhtp_ctl_roles_init_owner(f->r, zhtp_wallet_public_key(f->user)),
                     ZHTP_ERR_SEC_OWNER_SET);
    assert_int_equal(zhtp_ctl_roles_owner(f->r, pk), ZHTP_OK);
    assert_memory_equal(pk, zhtp_wallet_public_key(f->owner), sizeof pk);
    assert_int_equal(zhtp_ctl_roles_level(f->r, zhtp_wallet_public_key(f->owner)),
                     ZHTP_CTL_LEVEL_OWNER);
    /* Any other wallet is None in the table; the dispatcher makes it User by ownership. */
    assert_int_equal(zhtp_ctl_roles_level(f->r, zhtp_wallet_public_key(f->user)),
                     ZHTP_CTL_LEVEL_NONE);
    /* An invalid key cannot become the owner of a fresh table. */
    char dir2[64];
    zhtp_ctl_roles *r2;
    sec_tmpdir(dir2, "roles2");
    assert_int_equal(zhtp_ctl_roles_open(&r2, dir2), ZHTP_OK);
    memset(pk, 0, sizeof pk);
    pk[0] = 1; /* Ed25519 identity point: small order */
    assert_int_equal(zhtp_ctl_roles_init_owner(r2, pk), ZHTP_ERR_SEC_WALLET_KEY);
    zhtp_ctl_roles_close(r2);
    sec_rm_rf(dir2);
}

static void admins_are_added_listed_removed_and_persist(void **state)
{
    fx *f = *state;
    const uint8_t *owner = zhtp_wallet_public_key(f->owner);
    const uint8_t *admin = zhtp_wallet_public_key(f->admin);
    assert_int_equal(zhtp_ctl_roles_add_admin(f->r, admin), ZHTP_ERR_SEC_NO_OWNER);
    assert_int_equal(zhtp_ctl_roles_init_owner(f->r, owner), ZHTP_OK);
    assert_int_equal(zhtp_ctl_roles_add_admin(f->r, owner), ZHTP_ERR_SEC_ARGS);
    assert_int_equal(zhtp_ctl_roles_add_admin(f->r, admin), ZHTP_OK);
    assert_int_equal(zhtp_ctl_roles_add_admin(f->r, admin), ZHTP_ERR_EXISTS);
    assert_int_equal(zhtp_ctl_roles_level(f->r, admin), ZHTP_CTL_LEVEL_ADMIN);
    uint8_t ids[4][ZHTP_WALLET_ID_BYTES], id[ZHTP_WALLET_ID_BYTES];
    assert_int_equal(zhtp_ctl_roles_admins(f->r, ids, 4), 1);
    zhtp_wallet_id(id, admin);
    assert_memory_equal(ids[0], id, sizeof id);
    zhtp_ctl_roles_close(f->r);
    assert_int_equal(zhtp_ctl_roles_open(&f->r, f->dir), ZHTP_OK);
    assert_int_equal(zhtp_ctl_roles_level(f->r, admin), ZHTP_CTL_LEVEL_ADMIN);
    assert_int_equal(zhtp_ctl_roles_remove_admin(f->r, admin), ZHTP_OK);
    assert_int_equal(zhtp_ctl_roles_remove_admin(f->r, admin), ZHTP_ERR_NOTFOUND);
    assert_int_equal(zhtp_ctl_roles_level(f->r, admin), ZHTP_CTL_LEVEL_NONE);
    assert_int_equal(zhtp_ctl_roles_admins(f->r, NULL, 0), 0);
}

static void admin_list_is_bounded(void **state)
{
    fx *f = *state;
    assert_int_equal(zhtp_ctl_roles_init_owner(f->r, zhtp_wallet_public_key(f->owner)), ZHTP_OK);
    for (int i = 0; i < ZHTP_CTL_ADMINS_MAX; i++) {
        zhtp_wallet *w = sec_wallet(1000 + (uint64_t)i);
        assert_int_equal(zhtp_ctl_roles_add_admin(f->r, zhtp_wallet_public_key(w)), ZHTP_OK);
        zhtp_wallet_free(w);
    }
    assert_int_equal(zhtp_ctl_roles_add_admin(f->r, zhtp_wallet_public_key(f->admin)),
                     ZHTP_ERR_STORE_QUOTA);
    assert_int_equal(zhtp_ctl_roles_admins(f->r, NULL, 0), ZHTP_CTL_ADMINS_MAX);
}

static void emergency_stop_and_limit_survive_close_and_reopen(void **state)
{
    fx *f = *state;
    assert_false(zhtp_ctl_roles_is_stopped(f->r));
    assert_int_equal(zhtp_ctl_roles_limit(f->r), 0);
    assert_int_equal(zhtp_ctl_roles_set_stopped(f->r, true), ZHTP_OK);
    assert_int_equal(zhtp_ctl_roles_set_limit(f->r, 123), ZHTP_OK);
    assert_int_equal(zhtp_ctl_roles_set_limit(f->r, ZHTP_CTL_LIMIT_MAX + 1), ZHTP_ERR_INVAL);
    zhtp_ctl_roles_close(f->r);
    assert_int_equal(zhtp_ctl_roles_open(&f->r, f->dir), ZHTP_OK);
    assert_true(zhtp_ctl_roles_is_stopped(f->r));
    assert_int_equal(zhtp_ctl_roles_limit(f->r), 123);
    assert_int_equal(zhtp_ctl_roles_set_stopped(f->r, false), ZHTP_OK);
    zhtp_ctl_roles_close(f->r);
    assert_int_equal(zhtp_ctl_roles_open(&f->r, f->dir), ZHTP_OK);
    assert_false(zhtp_ctl_roles_is_stopped(f->r));
    /* A NULL handle reads as stopped: fail safe. */
    assert_true(zhtp_ctl_roles_is_stopped(NULL));
}

static int check_one(zhtp_ctl_op op, const char *key, zhtp_ctl_arg_type type, const char *str,
                     int64_t i)
{
    zhtp_ctl_request req;
    memset(&req, 0, sizeof req);
    strcpy(req.op, zhtp_ctl_op_name(op));
    req.args[0] = (zhtp_ctl_arg){.key = key, .type = type, .s = str, .i = i};
    req.n_args = 1;
    return zhtp_ctl_policy_check(ZHTP_CTL_LEVEL_OWNER, &req, NULL, 0, NULL);
}

static void put_get_ping_arguments_are_checked(void **state)
{
    (void)state;
    const zhtp_ctl_arg_type S = ZHTP_CTL_ARG_STRING, I = ZHTP_CTL_ARG_INT;
    assert_int_equal(check_one(ZHTP_CTL_OP_PUT, "size", I, NULL, 1), ZHTP_OK);
    assert_int_equal(check_one(ZHTP_CTL_OP_PUT, "size", I, NULL, 0), ZHTP_ERR_SEC_ARGS);
    assert_int_equal(check_one(ZHTP_CTL_OP_PUT, "size", I, NULL, -5), ZHTP_ERR_SEC_ARGS);
    assert_int_equal(check_one(ZHTP_CTL_OP_PUT, "size", I, NULL, ZHTP_CTL_PUT_SIZE_MAX + 1),
                     ZHTP_ERR_SEC_ARGS);
    assert_int_equal(check_one(ZHTP_CTL_OP_PUT, "size", S, "12", 0), ZHTP_ERR_SEC_ARGS);
    assert_int_equal(check_one(ZHTP_CTL_OP_PUT, "bytes", I, NULL, 12), ZHTP_ERR_SEC_ARGS);
    assert_int_equal(check_one(ZHTP_CTL_OP_GET, "id", S, peer_hex, 0), ZHTP_OK);
    assert_int_equal(check_one(ZHTP_CTL_OP_GET, "id", S, "00ff", 0), ZHTP_ERR_SEC_ARGS);
    assert_int_equal(check_one(ZHTP_CTL_OP_GET, "id", I, NULL, 3), ZHTP_ERR_SEC_ARGS);
    assert_int_equal(check_one(ZHTP_CTL_OP_PING, "node", S, peer_hex, 0), ZHTP_OK);
    assert_int_equal(check_one(ZHTP_CTL_OP_PING, "node", S, "fd12:3456::1", 0), ZHTP_OK);
    assert_int_equal(check_one(ZHTP_CTL_OP_PING, "node", S, "", 0), ZHTP_ERR_SEC_ARGS);
    char longer[80];
    memset(longer, 'a', 65);
    longer[65] = '\0';
    assert_int_equal(check_one(ZHTP_CTL_OP_PING, "node", S, longer, 0), ZHTP_ERR_SEC_ARGS);
    /* None may not, whatever the arguments. */
    zhtp_ctl_request req;
    make_req(&req, ZHTP_CTL_OP_GET, NULL);
    assert_int_equal(zhtp_ctl_policy_check(ZHTP_CTL_LEVEL_NONE, &req, NULL, 0, NULL),
                     ZHTP_ERR_SEC_DENIED);
}

static void missing_directory_is_a_clear_error(void **state)
{
    (void)state;
    zhtp_ctl_roles *r = (zhtp_ctl_roles *)1;
    assert_int_equal(zhtp_ctl_roles_open(&r, "/nonexistent/zhtp/roles"), ZHTP_ERR_NOTFOUND);
    assert_null(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(level_by_operation_matrix_is_exactly_as_specified),
        cmocka_unit_test(user_may_disconnect_only_its_own_connections),
        cmocka_unit_test(bad_arguments_and_unknown_ops_are_refused_with_reasons),
        cmocka_unit_test(op_names_round_trip),
        cmocka_unit_test(put_get_ping_arguments_are_checked),
        cmocka_unit_test_setup_teardown(owner_is_fixed_once_and_cannot_be_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(admins_are_added_listed_removed_and_persist, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(admin_list_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(emergency_stop_and_limit_survive_close_and_reopen, setup,
                                        teardown),
        cmocka_unit_test(missing_directory_is_a_clear_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
