/* security/request.c and wallet.c: wallet files, the canonical encoding, build/verify round
 * trips, every distinct verify error, freshness and replay, and garbage input. */
#include <jansson.h>
#include <sodium.h>

#include "sec_fixture.h"

#define NOW INT64_C(1700000000)

static char line[ZHTP_CTL_LINE_MAX + 64];

static zhtp_ctl_verifier *verifier(uint32_t window, uint32_t entries)
{
    zhtp_ctl_verifier_config cfg = {.window_s = window, .replay_entries = entries};
    zhtp_ctl_verifier *v = NULL;
    assert_int_equal(zhtp_ctl_verifier_new(&v, &cfg), ZHTP_OK);
    return v;
}

static int verify_line(zhtp_ctl_verifier *v, const char *l, int64_t now)
{
    zhtp_ctl_request req;
    int rc = zhtp_ctl_verify(v, &req, l, strlen(l), now);
    zhtp_ctl_request_clear(&req);
    return rc;
}

static void wallet_file_round_trip_keeps_the_key_and_refuses_a_wrong_passphrase(void **state)
{
    (void)state;
    char dir[64], path[128];
    sec_tmpdir(dir, "wallet");
    snprintf(path, sizeof path, "%s/owner.key", dir);
    zhtp_wallet *w = sec_wallet(1), *back = NULL;
    zhtp_keyfile_params p = {ZHTP_KEYFILE_OPSLIMIT_MIN, ZHTP_KEYFILE_MEMLIMIT_MIN};
    assert_int_equal(zhtp_wallet_save(w, path, "pw", 2, &p, false), ZHTP_OK);
    assert_int_equal(zhtp_wallet_save(w, path, "pw", 2, &p, false), ZHTP_ERR_EXISTS);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(zhtp_wallet_load(&back, path, "px", 2), ZHTP_ERR_KEYFILE_PASSPHRASE);
    assert_null(back);
    assert_int_equal(zhtp_wallet_load(&back, path, "pw", 2), ZHTP_OK);
    assert_memory_equal(zhtp_wallet_public_key(back), zhtp_wallet_public_key(w),
                        ZHTP_WALLET_PK_BYTES);
    /* The loaded key signs requests the original key's identity verifies. */
    zhtp_ctl_verifier *v = verifier(0, 0);
    sec_line(line, sizeof line, back, "status", NULL, 0, 1, NOW);
    assert_int_equal(verify_line(v, line, NOW), ZHTP_OK);
    snprintf(path, sizeof path, "%s/missing.key", dir);
    zhtp_wallet *none = NULL;
    assert_int_equal(zhtp_wallet_load(&none, path, "pw", 2), ZHTP_ERR_NOTFOUND);
    zhtp_ctl_verifier_free(v);
    zhtp_wallet_free(w);
    zhtp_wallet_free(back);
    sec_rm_rf(dir);
}

/* docs/security.md §2.2, spelled out byte by byte independently of the encoder. */
static void canonical_encoding_is_the_documented_layout(void **state)
{
    (void)state;
    uint8_t wallet[ZHTP_WALLET_PK_BYTES], nonce[16];
    for (size_t i = 0; i < sizeof wallet; i++)
        wallet[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < sizeof nonce; i++)
        nonce[i] = (uint8_t)(0xa0 + i);
    zhtp_ctl_arg args[3] = {
        {.key = "peer", .type = ZHTP_CTL_ARG_STRING, .s = "ab"},
        {.key = "force", .type = ZHTP_CTL_ARG_BOOL, .b = true},
        {.key = "max", .type = ZHTP_CTL_ARG_INT, .i = -2},
    };
    static const uint8_t head[] = {
        10,  'd', 'i', 's', 'c', 'o',  'n',  'n',  'e',  'c',  't',  3,    5,
        'f', 'o', 'r', 'c', 'e', 3,    1,                                        /* bool true */
        3,   'm', 'a', 'x', 2,   0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* int -2 */
        4,   'p', 'e', 'e', 'r', 1,    2,    0,    0,    0,    'a',  'b',        /* string */
    };
    uint8_t expect[sizeof head + ZHTP_WALLET_PK_BYTES + 1 + 16 + 8];
    memcpy(expect, head, sizeof head);
    memcpy(expect + sizeof head, wallet, sizeof wallet);
    expect[sizeof head + sizeof wallet] = 16;
    memcpy(expect + sizeof head + sizeof wallet + 1, nonce, 16);
    static const uint8_t ts[8] = {0x00, 0xf1, 0x53, 0x65, 0, 0, 0, 0}; /* 1700000000 LE */
    memcpy(expect + sizeof head + sizeof wallet + 17, ts, 8);
    uint8_t out[sizeof expect + 16];
    zhtp_ssize n =
        zhtp_ctl_canonical_encode(out, sizeof out, "disconnect", args, 3, wallet, nonce, 16, NOW);
    assert_int_equal(n, (zhtp_ssize)sizeof expect);
    assert_memory_equal(out, expect, sizeof expect);
    /* Too small: NOBUF. Duplicate keys, bad op, short nonce, bad key: INVAL. */
    assert_int_equal(zhtp_ctl_canonical_encode(out, sizeof expect - 1, "disconnect", args, 3,
                                               wallet, nonce, 16, NOW),
                     ZHTP_ERR_NOBUF);
    zhtp_ctl_arg dup[2] = {args[0], args[0]};
    assert_int_equal(
        zhtp_ctl_canonical_encode(out, sizeof out, "x", dup, 2, wallet, nonce, 16, NOW),
        ZHTP_ERR_INVAL);
    assert_int_equal(
        zhtp_ctl_canonical_encode(out, sizeof out, "Stop", NULL, 0, wallet, nonce, 16, NOW),
        ZHTP_ERR_INVAL);
    assert_int_equal(
        zhtp_ctl_canonical_encode(out, sizeof out, "stop", NULL, 0, wallet, nonce, 15, NOW),
        ZHTP_ERR_INVAL);
    zhtp_ctl_arg badkey = {.key = "a b", .type = ZHTP_CTL_ARG_NULL};
    assert_int_equal(
        zhtp_ctl_canonical_encode(out, sizeof out, "stop", &badkey, 1, wallet, nonce, 16, NOW),
        ZHTP_ERR_INVAL);
}

static void built_request_verifies_and_carries_its_fields(void **state)
{
    (void)state;
    zhtp_wallet *w = sec_wallet(2);
    zhtp_ctl_verifier *v = verifier(0, 0);
    zhtp_ctl_arg args[4] = {
        {.key = "peer", .type = ZHTP_CTL_ARG_STRING, .s = "h\xc3\xa9llo \"q\""},
        {.key = "n", .type = ZHTP_CTL_ARG_INT, .i = INT64_MIN},
        {.key = "on", .type = ZHTP_CTL_ARG_BOOL, .b = false},
        {.key = "z", .type = ZHTP_CTL_ARG_NULL},
    };
    size_t len = sec_line(line, sizeof line, w, "disconnect", args, 4, 3, NOW);
    assert_int_equal(line[len - 1], '\n');
    zhtp_ctl_request req;
    assert_int_equal(zhtp_ctl_verify(v, &req, line, len, NOW), ZHTP_OK);
    assert_string_equal(req.op, "disconnect");
    assert_int_equal(req.n_args, 4);
    assert_string_equal(req.args[0].key, "n"); /* sorted */
    assert_true(req.args[0].i == INT64_MIN);
    assert_string_equal(zhtp_ctl_request_arg(&req, "peer")->s, "h\xc3\xa9llo \"q\"");
    assert_false(zhtp_ctl_request_arg(&req, "on")->b);
    assert_int_equal(zhtp_ctl_request_arg(&req, "z")->type, ZHTP_CTL_ARG_NULL);
    assert_null(zhtp_ctl_request_arg(&req, "absent"));
    assert_memory_equal(req.wallet, zhtp_wallet_public_key(w), ZHTP_WALLET_PK_BYTES);
    uint8_t id[32];
    zhtp_wallet_id(id, zhtp_wallet_public_key(w));
    assert_memory_equal(req.wallet_id, id, 32);
    assert_true(req.ts == NOW);
    zhtp_ctl_request_clear(&req);
    /* A random nonce (NULL) also verifies. */
    assert_true(zhtp_ctl_request_build(line, sizeof line, w, "status", NULL, 0, NULL, 0, NOW) > 0);
    assert_int_equal(verify_line(v, line, NOW), ZHTP_OK);
    /* Too small an output buffer. */
    assert_int_equal(zhtp_ctl_request_build(line, 100, w, "status", NULL, 0, NULL, 0, NOW),
                     ZHTP_ERR_NOBUF);
    zhtp_ctl_verifier_free(v);
    zhtp_wallet_free(w);
}

/* The signature covers values, not text: the same request re-spelled (member order, spaces,
 * escapes) still verifies, while any change of value breaks it. */
static void any_json_spelling_verifies_but_changed_values_do_not(void **state)
{
    (void)state;
    zhtp_wallet *w = sec_wallet(4);
    zhtp_ctl_verifier *v = verifier(0, 0);
    zhtp_ctl_arg a = {.key = "max", .type = ZHTP_CTL_ARG_INT, .i = 7};
    sec_line(line, sizeof line, w, "limit", &a, 1, 5, NOW);
    json_t *root = json_loads(line, 0, NULL);
    assert_non_null(root);
    char *pretty = json_dumps(root, JSON_INDENT(3) | JSON_ENSURE_ASCII);
    assert_int_equal(verify_line(v, pretty, NOW), ZHTP_OK);
    free(pretty);
    /* Changed arg value: signature fails (fresh nonce each time so replay is not the cause). */
    json_object_set_new(json_object_get(root, "args"), "max", json_integer(8));
    char *t = json_dumps(root, JSON_COMPACT);
    assert_int_equal(verify_line(v, t, NOW), ZHTP_ERR_SEC_SIGNATURE);
    free(t);
    json_object_set_new(json_object_get(root, "args"), "max", json_integer(7));
    json_object_set_new(root, "op", json_string("stop"));
    t = json_dumps(root, JSON_COMPACT);
    assert_int_equal(verify_line(v, t, NOW), ZHTP_ERR_SEC_SIGNATURE);
    free(t);
    json_object_set_new(root, "op", json_string("limit"));
    json_object_set_new(root, "ts", json_integer(NOW + 1));
    t = json_dumps(root, JSON_COMPACT);
    assert_int_equal(verify_line(v, t, NOW), ZHTP_ERR_SEC_SIGNATURE);
    free(t);
    /* Another wallet's valid key under the same signature. */
    zhtp_wallet *other = sec_wallet(5);
    char hex[ZHTP_WALLET_PK_HEX + 1];
    sec_pk_hex(hex, other);
    json_object_set_new(root, "ts", json_integer(NOW));
    json_object_set_new(root, "wallet", json_string(hex));
    t = json_dumps(root, JSON_COMPACT);
    assert_int_equal(verify_line(v, t, NOW), ZHTP_ERR_SEC_SIGNATURE);
    free(t);
    json_decref(root);
    zhtp_wallet_free(other);
    zhtp_ctl_verifier_free(v);
    zhtp_wallet_free(w);
}

static void forged_signature_is_refused(void **state)
{
    (void)state;
    zhtp_wallet *w = sec_wallet(6);
    zhtp_ctl_verifier *v = verifier(0, 0);
    sec_line(line, sizeof line, w, "stop", NULL, 0, 7, NOW);
    char *sig = strstr(line, "\"sig\":\"") + 7;
    /* Flip one digit in the Ed25519 half, then (fresh line) one in the ML-DSA half. */
    sig[10] = sig[10] == '0' ? '1' : '0';
    assert_int_equal(verify_line(v, line, NOW), ZHTP_ERR_SEC_SIGNATURE);
    sec_line(line, sizeof line, w, "stop", NULL, 0, 7, NOW);
    sig = strstr(line, "\"sig\":\"") + 7;
    sig[3000] = sig[3000] == '0' ? '1' : '0';
    assert_int_equal(verify_line(v, line, NOW), ZHTP_ERR_SEC_SIGNATURE);
    /* The untouched line still verifies: the forgeries did not burn its nonce. */
    sec_line(line, sizeof line, w, "stop", NULL, 0, 7, NOW);
    assert_int_equal(verify_line(v, line, NOW), ZHTP_OK);
    zhtp_ctl_verifier_free(v);
    zhtp_wallet_free(w);
}

static void replayed_nonce_is_refused_per_wallet(void **state)
{
    (void)state;
    zhtp_wallet *a = sec_wallet(8), *b = sec_wallet(9);
    zhtp_ctl_verifier *v = verifier(0, 0);
    sec_line(line, sizeof line, a, "status", NULL, 0, 11, NOW);
    assert_int_equal(verify_line(v, line, NOW), ZHTP_OK);
    assert_int_equal(verify_line(v, line, NOW), ZHTP_ERR_SEC_REPLAY);
    assert_int_equal(verify_line(v, line, NOW + 30), ZHTP_ERR_SEC_REPLAY);
    /* The same nonce from another wallet, or the same wallet with another op but the same
     * nonce, is keyed by (wallet, nonce): the first is new, the second a replay. */
    sec_line(line, sizeof line, b, "status", NULL, 0, 11, NOW);
    assert_int_equal(verify_line(v, line, NOW), ZHTP_OK);
    sec_line(line, sizeof line, a, "peers", NULL, 0, 11, NOW);
    assert_int_equal(verify_line(v, line, NOW), ZHTP_ERR_SEC_REPLAY);
    /* After the window the old request is stale, not a replay. */
    sec_line(line, sizeof line, a, "status", NULL, 0, 11, NOW);
    assert_int_equal(verify_line(v, line, NOW + 61), ZHTP_ERR_SEC_STALE);
    zhtp_ctl_verifier_free(v);
    zhtp_wallet_free(a);
    zhtp_wallet_free(b);
}

static void stale_and_future_timestamps_are_refused_at_the_window_edge(void **state)
{
    (void)state;
    zhtp_wallet *w = sec_wallet(10);
    zhtp_ctl_verifier *v = verifier(0, 0);
    uint64_t n = 100;
    sec_line(line, sizeof line, w, "status", NULL, 0, n++, NOW - 60);
    assert_int_equal(verify_line(v, line, NOW), ZHTP_OK);
    sec_line(line, sizeof line, w, "status", NULL, 0, n++, NOW - 61);
    assert_int_equal(verify_line(v, line, NOW), ZHTP_ERR_SEC_STALE);
    sec_line(line, sizeof line, w, "status", NULL, 0, n++, NOW + 60);
    assert_int_equal(verify_line(v, line, NOW), ZHTP_OK);
    sec_line(line, sizeof line, w, "status", NULL, 0, n++, NOW + 61);
    assert_int_equal(verify_line(v, line, NOW), ZHTP_ERR_SEC_FUTURE);
    sec_line(line, sizeof line, w, "status", NULL, 0, n++, INT64_MIN);
    assert_int_equal(verify_line(v, line, INT64_MAX), ZHTP_ERR_SEC_STALE);
    sec_line(line, sizeof line, w, "status", NULL, 0, n++, INT64_MAX);
    assert_int_equal(verify_line(v, line, INT64_MIN), ZHTP_ERR_SEC_FUTURE);
    zhtp_ctl_verifier_free(v);
    /* A configured window of 5 s. */
    v = verifier(5, 0);
    sec_line(line, sizeof line, w, "status", NULL, 0, n++, NOW - 6);
    assert_int_equal(verify_line(v, line, NOW), ZHTP_ERR_SEC_STALE);
    sec_line(line, sizeof line, w, "status", NULL, 0, n++, NOW + 5);
    assert_int_equal(verify_line(v, line, NOW), ZHTP_OK);
    zhtp_ctl_verifier_free(v);
    zhtp_wallet_free(w);
}

/* A full cache of fresh nonces refuses rather than evicts; slots free up as their requests
 * leave the window. */
static void full_replay_cache_refuses_until_entries_expire(void **state)
{
    (void)state;
    zhtp_wallet *w = sec_wallet(12);
    zhtp_ctl_verifier *v = verifier(10, 3);
    for (uint64_t i = 0; i < 3; i++) {
        sec_line(line, sizeof line, w, "status", NULL, 0, 200 + i, NOW);
        assert_int_equal(verify_line(v, line, NOW), ZHTP_OK);
    }
    sec_line(line, sizeof line, w, "status", NULL, 0, 300, NOW);
    assert_int_equal(verify_line(v, line, NOW + 10), ZHTP_ERR_SEC_REPLAY_FULL);
    sec_line(line, sizeof line, w, "status", NULL, 0, 301, NOW + 11);
    assert_int_equal(verify_line(v, line, NOW + 11), ZHTP_OK);
    /* The expired nonce 200 can come back only as a stale request. */
    sec_line(line, sizeof line, w, "status", NULL, 0, 200, NOW);
    assert_int_equal(verify_line(v, line, NOW + 11), ZHTP_ERR_SEC_STALE);
    zhtp_ctl_verifier_free(v);
    zhtp_wallet_free(w);
}

/* Replaces the value of member key in the valid line with raw JSON text repl. */
static char *edit(const char *valid, const char *key, const char *repl)
{
    json_t *root = json_loads(valid, 0, NULL);
    assert_non_null(root);
    if (repl) {
        json_t *v = json_loads(repl, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        json_object_set_new(root, key, v);
    } else {
        json_object_del(root, key);
    }
    char *t = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return t;
}

static void each_malformed_request_gets_its_own_error(void **state)
{
    (void)state;
    zhtp_wallet *w = sec_wallet(13);
    zhtp_ctl_verifier *v = verifier(0, 0);
    char valid[ZHTP_CTL_LINE_MAX];
    sec_line(valid, sizeof valid, w, "status", NULL, 0, 400, NOW);
    static const struct {
        const char *text;
        int err;
    } raw[] = {
        {"", ZHTP_ERR_SEC_JSON},
        {"{", ZHTP_ERR_SEC_JSON},
        {"[1,2]", ZHTP_ERR_SEC_JSON},
        {"{} {}", ZHTP_ERR_SEC_JSON},
        {"{\"op\":\"a\",\"op\":\"b\"}", ZHTP_ERR_SEC_JSON},
        {"{}", ZHTP_ERR_SEC_FIELD},
        {"\xff\xfe", ZHTP_ERR_SEC_JSON},
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
        assert_int_equal(verify_line(v, raw[i].text, NOW), raw[i].err);
    static const struct {
        const char *key, *repl;
        int err;
    } cases[] = {
        {"op", NULL, ZHTP_ERR_SEC_FIELD},
        {"args", NULL, ZHTP_ERR_SEC_FIELD},
        {"wallet", NULL, ZHTP_ERR_SEC_FIELD},
        {"nonce", NULL, ZHTP_ERR_SEC_FIELD},
        {"ts", NULL, ZHTP_ERR_SEC_FIELD},
        {"sig", NULL, ZHTP_ERR_SEC_FIELD},
        {"ts", "\"1700000000\"", ZHTP_ERR_SEC_FIELD},
        {"ts", "1700000000.0", ZHTP_ERR_SEC_FIELD},
        {"args", "[]", ZHTP_ERR_SEC_FIELD},
        {"op", "7", ZHTP_ERR_SEC_FIELD},
        {"extra", "1", ZHTP_ERR_SEC_FIELD},
        {"op", "\"Stop\"", ZHTP_ERR_SEC_FIELD},
        {"op", "\"\"", ZHTP_ERR_SEC_LENGTH},
        {"op", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", ZHTP_ERR_SEC_LENGTH},
        {"wallet", "\"abcd\"", ZHTP_ERR_SEC_LENGTH},
        {"nonce", "\"00112233445566778899aabbccddee\"", ZHTP_ERR_SEC_LENGTH},
        {"nonce", "\"00112233445566778899aabbccddeeff0\"", ZHTP_ERR_SEC_LENGTH},
        {"nonce", "\"00112233445566778899aabbccddeezz\"", ZHTP_ERR_SEC_HEX},
        {"sig", "\"00\"", ZHTP_ERR_SEC_LENGTH},
        {"args", "{\"a\":{}}", ZHTP_ERR_SEC_ARGS},
        {"args", "{\"a\":[1]}", ZHTP_ERR_SEC_ARGS},
        {"args", "{\"a\":1.5}", ZHTP_ERR_SEC_ARGS},
        {"args", "{\"A\":1}", ZHTP_ERR_SEC_ARGS},
        {"args", "{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1}",
         ZHTP_ERR_SEC_LENGTH},
        {"args", "{\"a\":1}", ZHTP_ERR_SEC_SIGNATURE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = edit(valid, cases[i].key, cases[i].repl);
        int rc = verify_line(v, t, NOW);
        if (rc != cases[i].err)
            fail_msg("case %zu (%s): got %s, want %s", i, cases[i].key, zhtp_err_name(rc),
                     zhtp_err_name(cases[i].err));
        free(t);
    }
    /* Bad hex digit in the wallet and the signature. */
    char *t = strdup(valid);
    strstr(t, "\"wallet\":\"")[12] = 'g';
    assert_int_equal(verify_line(v, t, NOW), ZHTP_ERR_SEC_HEX);
    free(t);
    t = strdup(valid);
    strstr(t, "\"sig\":\"")[9] = 'x';
    assert_int_equal(verify_line(v, t, NOW), ZHTP_ERR_SEC_HEX);
    free(t);
    /* A wallet whose Ed25519 half is the identity point (small order). */
    char hex[ZHTP_WALLET_PK_HEX + 3];
    memset(hex, '0', sizeof hex);
    hex[0] = '"';
    hex[1] = '0';
    hex[2] = '1';
    hex[ZHTP_WALLET_PK_HEX + 1] = '"';
    hex[ZHTP_WALLET_PK_HEX + 2] = '\0';
    t = edit(valid, "wallet", hex);
    assert_int_equal(verify_line(v, t, NOW), ZHTP_ERR_SEC_WALLET_KEY);
    free(t);
    /* Too long a line. */
    char *big = malloc(ZHTP_CTL_LINE_MAX + 2);
    memset(big, ' ', ZHTP_CTL_LINE_MAX + 1);
    big[ZHTP_CTL_LINE_MAX + 1] = '\0';
    assert_int_equal(verify_line(v, big, NOW), ZHTP_ERR_SEC_TOO_LARGE);
    free(big);
    /* The valid line itself, last, still verifies (nothing above burned its nonce). */
    assert_int_equal(verify_line(v, valid, NOW), ZHTP_OK);
    zhtp_ctl_verifier_free(v);
    zhtp_wallet_free(w);
}

static void refused_request_keeps_claimed_op_and_wallet_for_the_audit(void **state)
{
    (void)state;
    zhtp_wallet *w = sec_wallet(14);
    zhtp_ctl_verifier *v = verifier(0, 0);
    sec_line(line, sizeof line, w, "stop", NULL, 0, 500, NOW - 1000);
    zhtp_ctl_request req;
    assert_int_equal(zhtp_ctl_verify(v, &req, line, strlen(line), NOW), ZHTP_ERR_SEC_STALE);
    assert_string_equal(req.op, "stop");
    uint8_t id[32];
    zhtp_wallet_id(id, zhtp_wallet_public_key(w));
    assert_memory_equal(req.wallet_id, id, 32);
    assert_int_equal(req.n_args, 0);
    assert_null(req.strings);
    zhtp_ctl_request_clear(&req);
    assert_int_equal(zhtp_ctl_verify(v, &req, "nope", 4, NOW), ZHTP_ERR_SEC_JSON);
    assert_string_equal(req.op, "");
    zhtp_ctl_verifier_free(v);
    zhtp_wallet_free(w);
}

/* Random bytes and random mutations of a valid line: always a documented error, never a crash
 * (ASan/UBSan builds run this too). */
static void garbage_never_crashes_and_never_verifies(void **state)
{
    (void)state;
    zhtp_wallet *w = sec_wallet(15);
    zhtp_ctl_verifier *v = verifier(0, 0);
    char valid[ZHTP_CTL_LINE_MAX];
    size_t vlen =
        sec_line(valid, sizeof valid, w, "limit",
                 &(zhtp_ctl_arg){.key = "max", .type = ZHTP_CTL_ARG_INT, .i = 3}, 1, 600, NOW);
    zt_rng r;
    zt_rng_seed(&r, 99);
    char *buf = malloc(vlen + 64);
    for (int iter = 0; iter < 600; iter++) {
        size_t len;
        if (iter % 3 == 0) {
            len = (size_t)zt_rng_below(&r, 200);
            zt_rng_bytes(&r, buf, len);
        } else {
            memcpy(buf, valid, vlen);
            len = vlen;
            int flips = 1 + (int)zt_rng_below(&r, 4);
            for (int k = 0; k < flips; k++)
                buf[zt_rng_below(&r, len)] = (char)zt_rng_below(&r, 256);
            if (iter % 3 == 2)
                len = (size_t)zt_rng_below(&r, len + 1);
        }
        zhtp_ctl_request req;
        int rc = zhtp_ctl_verify(v, &req, buf, len, NOW);
        zhtp_ctl_request_clear(&req);
        /* A mutation may hit only whitespace-equivalent bytes, e.g. the trailing newline. */
        if (rc == ZHTP_OK)
            continue;
        assert_true(rc <= -600 && rc >= -699);
    }
    free(buf);
    zhtp_ctl_verifier_free(v);
    zhtp_wallet_free(w);
}

/* --- allocation failure ------------------------------------------------------------------- */

typedef struct failing_mem {
    int countdown; /* fail when it reaches 0 */
    long live;
} failing_mem;

static void *fail_alloc(void *ud, size_t size)
{
    failing_mem *m = ud;
    if (m->countdown-- == 0)
        return NULL;
    m->live++;
    return malloc(size);
}

static void fail_free(void *ud, void *p, size_t size)
{
    (void)size;
    failing_mem *m = ud;
    if (p)
        m->live--;
    free(p);
}

static int jansson_countdown = -1;
static void *jansson_alloc(size_t n)
{
    if (jansson_countdown >= 0 && jansson_countdown-- == 0)
        return NULL;
    return malloc(n);
}

static void allocation_failures_return_nomem_and_leak_nothing(void **state)
{
    (void)state;
    zhtp_wallet *w = sec_wallet(16);
    zhtp_ctl_arg a = {.key = "peer", .type = ZHTP_CTL_ARG_STRING, .s = "abc"};
    sec_line(line, sizeof line, w, "disconnect", &a, 1, 700, NOW);
    /* Our own allocations (verifier, signature, message, strings). */
    int ok_seen = 0;
    for (int n = 0; n < 12; n++) {
        failing_mem fm = {.countdown = -1};
        zhtp_mem mem = {fail_alloc, fail_free, &fm};
        zhtp_ctl_verifier_config cfg = {.mem = &mem};
        zhtp_ctl_verifier *v = NULL;
        fm.countdown = n;
        int rc = zhtp_ctl_verifier_new(&v, &cfg);
        if (rc == ZHTP_OK) {
            zhtp_ctl_request req;
            rc = zhtp_ctl_verify(v, &req, line, strlen(line), NOW);
            zhtp_ctl_request_clear(&req);
        }
        zhtp_ctl_verifier_free(v);
        assert_int_equal(fm.live, 0);
        if (rc == ZHTP_OK)
            ok_seen++;
        else
            assert_int_equal(rc, ZHTP_ERR_NOMEM);
    }
    assert_true(ok_seen > 0);
    /* jansson's allocations during parsing. */
    zhtp_ctl_verifier *v = verifier(0, 0);
    json_set_alloc_funcs(jansson_alloc, free);
    int nomem = 0;
    for (int n = 0; n < 40; n++) {
        jansson_countdown = n;
        int rc = verify_line(v, line, NOW);
        if (rc == ZHTP_ERR_NOMEM)
            nomem++;
        /* jansson 2.14 reports an allocation failure inside its lexer as a syntax error, and
         * one while growing its token buffer silently truncates the string being read. Those
         * cases surface as a request error (JSON, LENGTH, HEX...), never as a success with
         * altered content: the signature covers every value. Known limit, docs/security.md. */
        else if (rc != ZHTP_OK && !(rc <= -600 && rc >= -699))
            fail_msg("jansson allocation %d failing gave %s", n, zhtp_err_name(rc));
    }
    jansson_countdown = -1;
    json_set_alloc_funcs(malloc, free);
    assert_true(nomem > 0);
    zhtp_ctl_verifier_free(v);
    zhtp_wallet_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wallet_file_round_trip_keeps_the_key_and_refuses_a_wrong_passphrase),
        cmocka_unit_test(canonical_encoding_is_the_documented_layout),
        cmocka_unit_test(built_request_verifies_and_carries_its_fields),
        cmocka_unit_test(any_json_spelling_verifies_but_changed_values_do_not),
        cmocka_unit_test(forged_signature_is_refused),
        cmocka_unit_test(replayed_nonce_is_refused_per_wallet),
        cmocka_unit_test(stale_and_future_timestamps_are_refused_at_the_window_edge),
        cmocka_unit_test(full_replay_cache_refuses_until_entries_expire),
        cmocka_unit_test(each_malformed_request_gets_its_own_error),
        cmocka_unit_test(refused_request_keeps_claimed_op_and_wallet_for_the_audit),
        cmocka_unit_test(garbage_never_crashes_and_never_verifies),
        cmocka_unit_test(allocation_failures_return_nomem_and_leak_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
