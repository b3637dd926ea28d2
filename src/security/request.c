/* Signed control requests: canonical encoding, client build, server verify, replay cache
 * (include/zhtp/security.h, docs/security.md §2).
 *
 * The signature never covers JSON text: JSON has many spellings of one object (key order,
 * whitespace, escapes, number forms). It covers the canonical byte string of §2.2, rebuilt here
 * from the parsed values, so any JSON spelling of the same request verifies and no two different
 * requests share a signed encoding. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "zhtp/blake3.h"
#include "zhtp/security.h"
#include "zhtp/util.h"

/* ---- Shared validation ------------------------------------------------------------------------
 */

static bool valid_name(const char *s, size_t max, bool allow_underscore)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                  (allow_underscore && c == '_');
        if (!ok || n >= max)
            return false;
    }
    return n > 0;
}

static void put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Fills order[] with the indexes of args sorted by key; false on a duplicate key. Insertion sort:
 * at most ZHTP_CTL_ARGS_MAX members. strcmp compares as unsigned char, i.e. bytewise. */
static bool sort_args(const zhtp_ctl_arg *args, size_t n, size_t order[ZHTP_CTL_ARGS_MAX])
{
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && strcmp(args[order[j - 1]].key, args[i].key) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    for (size_t i = 1; i < n; i++)
        if (strcmp(args[order[i - 1]].key, args[order[i]].key) == 0)
            return false;
    return true;
}

/* The size of the canonical encoding, or 0 when something is outside the limits. */
static size_t canonical_size(const char *op, const zhtp_ctl_arg *args, size_t n_args,
                             size_t nonce_len)
{
    if (!op || !valid_name(op, ZHTP_CTL_OP_MAX, false) || n_args > ZHTP_CTL_ARGS_MAX ||
        (n_args && !args) || nonce_len < ZHTP_CTL_NONCE_MIN || nonce_len > ZHTP_CTL_NONCE_MAX)
        return 0;
    size_t size = 1 + strlen(op) + 1;
    for (size_t i = 0; i < n_args; i++) {
        const zhtp_ctl_arg *a = &args[i];
        if (!a->key || !valid_name(a->key, ZHTP_CTL_KEY_MAX, true))
            return 0;
        size += 1 + strlen(a->key) + 1;
        switch (a->type) {
        case ZHTP_CTL_ARG_STRING:
            if (!a->s || strlen(a->s) > ZHTP_CTL_STR_MAX)
                return 0;
            size += 4 + strlen(a->s);
            break;
        case ZHTP_CTL_ARG_INT:
            size += 8;
            break;
        case ZHTP_CTL_ARG_BOOL:
            size += 1;
            break;
        case ZHTP_CTL_ARG_NULL:
            break;
        default:
            return 0;
        }
    }
    return size + ZHTP_WALLET_PK_BYTES + 1 + nonce_len + 8;
}

zhtp_ssize zhtp_ctl_canonical_encode(uint8_t *out, size_t cap, const char *op,
                                     const zhtp_ctl_arg *args, size_t n_args,
                                     const uint8_t wallet[ZHTP_WALLET_PK_BYTES],
                                     const uint8_t *nonce, size_t nonce_len, int64_t ts)
{
    size_t order[ZHTP_CTL_ARGS_MAX];
    size_t size = canonical_size(op, args, n_args, nonce_len);
    if (!size || !wallet || !nonce || !sort_args(args, n_args, order))
        return ZHTP_ERR_INVAL;
    if (!out || cap < size)
        return ZHTP_ERR_NOBUF;
    size_t p = 0, len = strlen(op);
    out[p++] = (uint8_t)len;
    memcpy(out + p, op, len);
    p += len;
    out[p++] = (uint8_t)n_args;
    for (size_t i = 0; i < n_args; i++) {
        const zhtp_ctl_arg *a = &args[order[i]];
        len = strlen(a->key);
        out[p++] = (uint8_t)len;
        memcpy(out + p, a->key, len);
        p += len;
        out[p++] = (uint8_t)a->type;
        switch (a->type) {
        case ZHTP_CTL_ARG_STRING:
            len = strlen(a->s);
            put_u32le(out + p, (uint32_t)len);
            memcpy(out + p + 4, a->s, len);
            p += 4 + len;
            break;
        case ZHTP_CTL_ARG_INT:
            put_u64le(out + p, (uint64_t)a->i);
            p += 8;
            break;
        case ZHTP_CTL_ARG_BOOL:
            out[p++] = a->b ? 1 : 0;
            break;
        default:
            break;
        }
    }
    memcpy(out + p, wallet, ZHTP_WALLET_PK_BYTES);
    p += ZHTP_WALLET_PK_BYTES;
    out[p++] = (uint8_t)nonce_len;
    memcpy(out + p, nonce, nonce_len);
    p += nonce_len;
    put_u64le(out + p, (uint64_t)ts);
    p += 8;
    return (zhtp_ssize)p;
}

/* ---- Client ------------------------------------------------------------------------------------
 */

static int hex_member(json_t *obj, const char *key, const uint8_t *in, size_t len)
{
    char *hex = malloc(2 * len + 1);
    if (!hex)
        return ZHTP_ERR_NOMEM;
    zhtp_hex_encode(hex, 2 * len + 1, in, len);
    json_t *s = json_string(hex);
    free(hex);
    return s && json_object_set_new(obj, key, s) == 0 ? ZHTP_OK : ZHTP_ERR_NOMEM;
}

zhtp_ssize zhtp_ctl_request_build(char *out, size_t cap, const zhtp_wallet *w, const char *op,
                                  const zhtp_ctl_arg *args, size_t n_args, const uint8_t *nonce,
                                  size_t nonce_len, int64_t ts)
{
    uint8_t fresh[ZHTP_CTL_NONCE_MIN];
    if (!w || !out)
        return ZHTP_ERR_INVAL;
    if (!nonce) {
        if (sodium_init() < 0)
            return ZHTP_ERR_CRYPTO_INIT;
        randombytes_buf(fresh, sizeof fresh);
        nonce = fresh;
        nonce_len = sizeof fresh;
    }
    const uint8_t *pk = zhtp_wallet_public_key(w);
    size_t size = canonical_size(op, args, n_args, nonce_len);
    if (!size)
        return ZHTP_ERR_INVAL;
    uint8_t *msg = malloc(size);
    if (!msg)
        return ZHTP_ERR_NOMEM;
    zhtp_ssize rc =
        zhtp_ctl_canonical_encode(msg, size, op, args, n_args, pk, nonce, nonce_len, ts);
    uint8_t sig[ZHTP_WALLET_SIG_BYTES];
    if (rc >= 0)
        rc = zhtp_wallet_sign(w, sig, msg, (size_t)rc, (const uint8_t *)ZHTP_CTL_SIG_CONTEXT,
                              strlen(ZHTP_CTL_SIG_CONTEXT));
    free(msg);
    if (rc < 0)
        return rc;

    json_t *root = json_object(), *jargs = json_object();
    char *text = NULL;
    rc = root && jargs ? ZHTP_OK : ZHTP_ERR_NOMEM;
    for (size_t i = 0; !rc && i < n_args; i++) {
        json_t *v = NULL;
        switch (args[i].type) {
        case ZHTP_CTL_ARG_STRING:
            v = json_string(args[i].s);
            break;
        case ZHTP_CTL_ARG_INT:
            v = json_integer((json_int_t)args[i].i);
            break;
        case ZHTP_CTL_ARG_BOOL:
            v = json_boolean(args[i].b);
            break;
        default:
            v = json_null();
            break;
        }
        /* json_string refuses invalid UTF-8: the server would refuse it too. */
        if (!v)
            rc = args[i].type == ZHTP_CTL_ARG_STRING ? ZHTP_ERR_INVAL : ZHTP_ERR_NOMEM;
        else if (json_object_set_new(jargs, args[i].key, v) != 0)
            rc = ZHTP_ERR_NOMEM;
    }
    if (!rc && (json_object_set_new(root, "op", json_string(op)) != 0 ||
                json_object_set(root, "args", jargs) != 0 ||
                json_object_set_new(root, "ts", json_integer((json_int_t)ts)) != 0))
        rc = ZHTP_ERR_NOMEM;
    if (!rc)
        rc = hex_member(root, "wallet", pk, ZHTP_WALLET_PK_BYTES);
    if (!rc)
        rc = hex_member(root, "nonce", nonce, nonce_len);
    if (!rc)
        rc = hex_member(root, "sig", sig, sizeof sig);
    if (!rc) {
        text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
        if (!text)
            rc = ZHTP_ERR_NOMEM;
    }
    if (!rc) {
        size_t len = strlen(text);
        if (len + 2 > cap) {
            rc = ZHTP_ERR_NOBUF;
        } else {
            memcpy(out, text, len);
            out[len] = '\n';
            out[len + 1] = '\0';
            rc = (zhtp_ssize)(len + 1);
        }
    }
    free(text);
    json_decref(jargs);
    json_decref(root);
    return rc;
}

/* ---- Server: replay cache
 * ------------------------------------------------------------------------ */

typedef struct replay_slot {
    uint8_t key[32]; /* BLAKE3(wallet id || nonce_len || nonce) */
    int64_t ts;      /* the request's signed ts: the slot lives while that ts is fresh */
    bool used;
} replay_slot;

struct zhtp_ctl_verifier {
    const zhtp_mem *mem;
    uint32_t window_s;
    uint32_t n_slots;
    replay_slot *slots;
};

int zhtp_ctl_verifier_new(zhtp_ctl_verifier **out, const zhtp_ctl_verifier_config *cfg)
{
    if (!out)
        return ZHTP_ERR_INVAL;
    *out = NULL;
    const zhtp_mem *mem = cfg ? cfg->mem : NULL;
    zhtp_ctl_verifier *v = zhtp_mem_alloc(mem, sizeof *v);
    if (!v)
        return ZHTP_ERR_NOMEM;
    v->mem = mem;
    v->window_s = cfg && cfg->window_s ? cfg->window_s : ZHTP_CTL_WINDOW_DEFAULT;
    v->n_slots = cfg && cfg->replay_entries ? cfg->replay_entries : ZHTP_CTL_REPLAY_DEFAULT;
    v->slots = zhtp_mem_alloc(mem, (size_t)v->n_slots * sizeof *v->slots);
    if (!v->slots) {
        zhtp_mem_free(mem, v, sizeof *v);
        return ZHTP_ERR_NOMEM;
    }
    memset(v->slots, 0, (size_t)v->n_slots * sizeof *v->slots);
    *out = v;
    return ZHTP_OK;
}

void zhtp_ctl_verifier_free(zhtp_ctl_verifier *v)
{
    if (!v)
        return;
    zhtp_mem_free(v->mem, v->slots, (size_t)v->n_slots * sizeof *v->slots);
    zhtp_mem_free(v->mem, v, sizeof *v);
}

/* 0 when ts is within [now - window, now + window], else the STALE or FUTURE error. Unsigned
 * differences: the true difference of two int64 always fits in a uint64. */
static int freshness(int64_t ts, int64_t now, uint32_t window)
{
    if (ts < now)
        return (uint64_t)now - (uint64_t)ts > window ? ZHTP_ERR_SEC_STALE : ZHTP_OK;
    return (uint64_t)ts - (uint64_t)now > window ? ZHTP_ERR_SEC_FUTURE : ZHTP_OK;
}

/* Records (wallet, nonce) or reports it seen. A slot whose ts is no longer fresh can be reused:
 * a replay of that request now fails the freshness check before it reaches the cache. When
 * every slot is fresh we refuse the new request instead of evicting one, because an evicted
 * nonce could be replayed. Linear scan: a few thousand 32-byte compares cost far less than the
 * hybrid verification in front of them. */
static int replay_check_insert(zhtp_ctl_verifier *v, const zhtp_ctl_request *req, int64_t now)
{
    uint8_t key[32];
    zhtp_blake3 h;
    uint8_t nl = (uint8_t)req->nonce_len;
    zhtp_blake3_init(&h);
    zhtp_blake3_update(&h, req->wallet_id, sizeof req->wallet_id);
    zhtp_blake3_update(&h, &nl, 1);
    zhtp_blake3_update(&h, req->nonce, req->nonce_len);
    zhtp_blake3_final(&h, key, sizeof key);
    replay_slot *free_slot = NULL;
    for (uint32_t i = 0; i < v->n_slots; i++) {
        replay_slot *s = &v->slots[i];
        bool live = s->used && freshness(s->ts, now, v->window_s) == ZHTP_OK;
        if (live && memcmp(s->key, key, sizeof key) == 0)
            return ZHTP_ERR_SEC_REPLAY;
        if (!live && !free_slot)
            free_slot = s;
    }
    if (!free_slot)
        return ZHTP_ERR_SEC_REPLAY_FULL;
    memcpy(free_slot->key, key, sizeof key);
    free_slot->ts = req->ts;
    free_slot->used = true;
    return ZHTP_OK;
}

/* ---- Server: verify -------------------------------------------------------------------------- */

void zhtp_ctl_request_clear(zhtp_ctl_request *req)
{
    if (!req)
        return;
    if (req->strings)
        zhtp_mem_free(req->mem, req->strings, req->strings_size);
    memset(req, 0, sizeof *req);
}

const zhtp_ctl_arg *zhtp_ctl_request_arg(const zhtp_ctl_request *req, const char *key)
{
    if (!req || !key)
        return NULL;
    for (size_t i = 0; i < req->n_args; i++)
        if (strcmp(req->args[i].key, key) == 0)
            return &req->args[i];
    return NULL;
}

/* Decodes hex string member s into out, which must get exactly want bytes (want_max > want_min
 * for the nonce's range). */
static int decode_hex_field(uint8_t *out, size_t *out_len, json_t *s, size_t want_min,
                            size_t want_max)
{
    size_t hl = json_string_length(s);
    if (hl % 2 || hl / 2 < want_min || hl / 2 > want_max)
        return ZHTP_ERR_SEC_LENGTH;
    zhtp_ssize n = zhtp_hex_decode(out, want_max, json_string_value(s), hl);
    if (n < 0)
        return ZHTP_ERR_SEC_HEX;
    *out_len = (size_t)n;
    return ZHTP_OK;
}

static int copy_args(zhtp_ctl_request *req, json_t *jargs)
{
    size_t n = json_object_size(jargs);
    if (n > ZHTP_CTL_ARGS_MAX)
        return ZHTP_ERR_SEC_LENGTH;
    /* First pass: check every member and size the string block. */
    size_t total = 0;
    const char *key;
    json_t *val;
    json_object_foreach(jargs, key, val)
    {
        size_t kl = strlen(key);
        if (kl > ZHTP_CTL_KEY_MAX)
            return ZHTP_ERR_SEC_LENGTH;
        if (!valid_name(key, ZHTP_CTL_KEY_MAX, true))
            return ZHTP_ERR_SEC_ARGS;
        total += kl + 1;
        if (json_is_string(val)) {
            size_t sl = json_string_length(val);
            if (sl > ZHTP_CTL_STR_MAX)
                return ZHTP_ERR_SEC_LENGTH;
            /* jansson decodes "\u0000" only with JSON_ALLOW_NUL, which we do not pass; the check
             * keeps that invariant explicit. */
            if (strlen(json_string_value(val)) != sl)
                return ZHTP_ERR_SEC_ARGS;
            total += sl + 1;
        } else if (!json_is_integer(val) && !json_is_boolean(val) && !json_is_null(val)) {
            return ZHTP_ERR_SEC_ARGS;
        }
    }
    if (total) {
        req->strings = zhtp_mem_alloc(req->mem, total);
        if (!req->strings)
            return ZHTP_ERR_NOMEM;
        req->strings_size = total;
    }
    char *p = req->strings;
    zhtp_ctl_arg tmp[ZHTP_CTL_ARGS_MAX];
    size_t i = 0;
    json_object_foreach(jargs, key, val)
    {
        zhtp_ctl_arg *a = &tmp[i++];
        memset(a, 0, sizeof *a);
        size_t kl = strlen(key);
        memcpy(p, key, kl + 1);
        a->key = p;
        p += kl + 1;
        if (json_is_string(val)) {
            size_t sl = json_string_length(val);
            memcpy(p, json_string_value(val), sl + 1);
            a->type = ZHTP_CTL_ARG_STRING;
            a->s = p;
            p += sl + 1;
        } else if (json_is_integer(val)) {
            a->type = ZHTP_CTL_ARG_INT;
            a->i = (int64_t)json_integer_value(val);
        } else if (json_is_boolean(val)) {
            a->type = ZHTP_CTL_ARG_BOOL;
            a->b = json_is_true(val);
        } else {
            a->type = ZHTP_CTL_ARG_NULL;
        }
    }
    size_t order[ZHTP_CTL_ARGS_MAX];
    if (!sort_args(tmp, n, order))
        return ZHTP_ERR_SEC_JSON; /* unreachable: jansson rejected duplicates */
    for (i = 0; i < n; i++)
        req->args[i] = tmp[order[i]];
    req->n_args = n;
    return ZHTP_OK;
}

/* The members of a request line: op, args, wallet, nonce, ts, sig. */
#define REQUEST_FIELDS 6

int zhtp_ctl_verify(zhtp_ctl_verifier *v, zhtp_ctl_request *req, const char *line, size_t len,
                    int64_t now)
{
    if (!v || !req || (!line && len))
        return ZHTP_ERR_INVAL;
    const zhtp_mem *mem = v->mem;
    memset(req, 0, sizeof *req);
    req->mem = mem;
    if (len && line[len - 1] == '\n')
        len--;
    if (len && line[len - 1] == '\r')
        len--;
    if (len > ZHTP_CTL_LINE_MAX)
        return ZHTP_ERR_SEC_TOO_LARGE;

    json_error_t jerr;
    memset(&jerr, 0, sizeof jerr);
    json_t *root = json_loadb(line ? line : "", len, JSON_REJECT_DUPLICATES, &jerr);
    uint8_t *msg = NULL, *sig = NULL;
    size_t msg_size = 0;
    int rc = ZHTP_OK;
    if (!root) {
        /* jansson reports most allocation failures as out_of_memory, but a failure in its
         * lexer set-up returns before any error is recorded: text stays empty and the code
         * byte is whatever was there, hence the memset above. */
        enum json_error_code code = json_error_code(&jerr);
        rc = code == json_error_out_of_memory || (code == json_error_unknown && !jerr.text[0])
                 ? ZHTP_ERR_NOMEM
                 : ZHTP_ERR_SEC_JSON;
        goto out;
    }
    if (!json_is_object(root)) {
        rc = ZHTP_ERR_SEC_JSON;
        goto out;
    }
    json_t *jop = json_object_get(root, "op"), *jargs = json_object_get(root, "args");
    json_t *jwallet = json_object_get(root, "wallet"), *jnonce = json_object_get(root, "nonce");
    json_t *jts = json_object_get(root, "ts"), *jsig = json_object_get(root, "sig");
    /* Unknown members are refused: everything in the line must be covered by the signature. */
    if (!json_is_string(jop) || !json_is_object(jargs) || !json_is_string(jwallet) ||
        !json_is_string(jnonce) || !json_is_integer(jts) || !json_is_string(jsig) ||
        json_object_size(root) != REQUEST_FIELDS) {
        rc = ZHTP_ERR_SEC_FIELD;
        goto out;
    }
    size_t op_len = json_string_length(jop);
    if (op_len < 1 || op_len > ZHTP_CTL_OP_MAX) {
        rc = ZHTP_ERR_SEC_LENGTH;
        goto out;
    }
    if (!valid_name(json_string_value(jop), ZHTP_CTL_OP_MAX, false) ||
        strlen(json_string_value(jop)) != op_len) {
        rc = ZHTP_ERR_SEC_FIELD;
        goto out;
    }
    memcpy(req->op, json_string_value(jop), op_len + 1);

    size_t n;
    rc = decode_hex_field(req->wallet, &n, jwallet, ZHTP_WALLET_PK_BYTES, ZHTP_WALLET_PK_BYTES);
    if (rc)
        goto out;
    zhtp_wallet_id(req->wallet_id, req->wallet);
    rc = decode_hex_field(req->nonce, &req->nonce_len, jnonce, ZHTP_CTL_NONCE_MIN,
                          ZHTP_CTL_NONCE_MAX);
    if (rc)
        goto out;
    sig = zhtp_mem_alloc(mem, ZHTP_WALLET_SIG_BYTES);
    if (!sig) {
        rc = ZHTP_ERR_NOMEM;
        goto out;
    }
    rc = decode_hex_field(sig, &n, jsig, ZHTP_WALLET_SIG_BYTES, ZHTP_WALLET_SIG_BYTES);
    if (rc)
        goto out;
    req->ts = (int64_t)json_integer_value(jts);
    rc = copy_args(req, jargs);
    if (rc)
        goto out;
    if (zhtp_sign_hybrid_pk_parse(NULL, req->wallet, ZHTP_WALLET_PK_BYTES) != ZHTP_OK) {
        rc = ZHTP_ERR_SEC_WALLET_KEY;
        goto out;
    }
    rc = freshness(req->ts, now, v->window_s);
    if (rc)
        goto out;

    msg_size = canonical_size(req->op, req->args, req->n_args, req->nonce_len);
    msg = msg_size ? zhtp_mem_alloc(mem, msg_size) : NULL;
    if (!msg) {
        rc = msg_size ? ZHTP_ERR_NOMEM : ZHTP_ERR_INTERNAL;
        goto out;
    }
    zhtp_ssize m = zhtp_ctl_canonical_encode(msg, msg_size, req->op, req->args, req->n_args,
                                             req->wallet, req->nonce, req->nonce_len, req->ts);
    if (m < 0) {
        rc = (int)m;
        goto out;
    }
    rc = zhtp_sign_hybrid_verify(sig, ZHTP_WALLET_SIG_BYTES, msg, (size_t)m,
                                 (const uint8_t *)ZHTP_CTL_SIG_CONTEXT,
                                 strlen(ZHTP_CTL_SIG_CONTEXT), req->wallet, ZHTP_WALLET_PK_BYTES);
    if (rc == ZHTP_ERR_CRYPTO_VERIFY || rc == ZHTP_ERR_CRYPTO_LENGTH)
        rc = ZHTP_ERR_SEC_SIGNATURE;
    if (rc)
        goto out;
    /* Only a request that verified may take a cache slot: forgeries cannot fill it. */
    rc = replay_check_insert(v, req, now);

out:
    if (msg)
        zhtp_mem_free(mem, msg, msg_size);
    if (sig)
        zhtp_mem_free(mem, sig, ZHTP_WALLET_SIG_BYTES);
    json_decref(root);
    if (rc) {
        /* Keep what the audit entry needs (op, claimed wallet id); drop everything else. */
        char op[ZHTP_CTL_OP_MAX + 1];
        uint8_t id[ZHTP_WALLET_ID_BYTES];
        memcpy(op, req->op, sizeof op);
        memcpy(id, req->wallet_id, sizeof id);
        zhtp_ctl_request_clear(req);
        req->mem = mem;
        memcpy(req->op, op, sizeof op);
        memcpy(req->wallet_id, id, sizeof id);
    }
    return rc;
}
