/* Fuzzes the control-request parser/verifier and the policy (docs/security.md §2, §3).
 *
 * First byte even: the rest is one request line for zhtp_ctl_verify at a fixed time. Every
 * outcome must be one of the documented errors; without the wallet secret a line never
 * verifies, so ZHTP_OK aborts (it would mean a forgery).
 * First byte odd: the rest is spliced into the args object of an otherwise well-formed request
 * (valid wallet key, fresh ts, zero signature), so the fuzzer reaches the args checks, the
 * canonical encoding and the signature check instead of dying at the JSON syntax. The parsed
 * request (whenever the verifier got that far) is also given to the pure policy at every level. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zhtp/security.h"
#include "zhtp/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000

static zhtp_ctl_verifier *verifier;
static char *prefix; /* {"args": */
static char *suffix; /* ,"nonce":...,"op":"disconnect","sig":"00..","ts":NOW,"wallet":".."} */

static void init(void)
{
    if (verifier)
        return;
    if (zhtp_ctl_verifier_new(&verifier, NULL) != ZHTP_OK)
        abort();
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES] = {1, 2, 3};
    zhtp_wallet *w = NULL;
    if (zhtp_wallet_from_seed(&w, seed) != ZHTP_OK)
        abort();
    char pk[ZHTP_WALLET_PK_HEX + 1];
    zhtp_hex_encode(pk, sizeof pk, zhtp_wallet_public_key(w), ZHTP_WALLET_PK_BYTES);
    zhtp_wallet_free(w);
    prefix = strdup("{\"args\":");
    size_t cap = 2 * ZHTP_WALLET_SIG_BYTES + ZHTP_WALLET_PK_HEX + 256;
    suffix = malloc(cap);
    if (!prefix || !suffix)
        abort();
    int n = snprintf(suffix, cap,
                     ",\"nonce\":\"00112233445566778899aabbccddeeff\",\"op\":\"disconnect\","
                     "\"sig\":\"");
    memset(suffix + n, '0', 2 * ZHTP_WALLET_SIG_BYTES);
    n += 2 * ZHTP_WALLET_SIG_BYTES;
    snprintf(suffix + n, cap - (size_t)n, "\",\"ts\":%d,\"wallet\":\"%s\"}", NOW, pk);
}

/* The errors zhtp_ctl_verify documents (include/zhtp/security.h). */
static bool documented(int rc)
{
    switch (rc) {
    case ZHTP_ERR_SEC_TOO_LARGE:
    case ZHTP_ERR_SEC_JSON:
    case ZHTP_ERR_SEC_FIELD:
    case ZHTP_ERR_SEC_LENGTH:
    case ZHTP_ERR_SEC_HEX:
    case ZHTP_ERR_SEC_ARGS:
    case ZHTP_ERR_SEC_WALLET_KEY:
    case ZHTP_ERR_SEC_STALE:
    case ZHTP_ERR_SEC_FUTURE:
    case ZHTP_ERR_SEC_SIGNATURE:
    case ZHTP_ERR_SEC_REPLAY:
    case ZHTP_ERR_SEC_REPLAY_FULL:
    case ZHTP_ERR_NOMEM:
        return true;
    default:
        return false;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    if (size < 1)
        return 0;
    bool splice = data[0] & 1;
    data++, size--;
    char *line;
    size_t len;
    if (splice) {
        size_t lp = strlen(prefix), ls = strlen(suffix);
        len = lp + size + ls;
        line = malloc(len);
        if (!line)
            return 0;
        memcpy(line, prefix, lp);
        memcpy(line + lp, data, size);
        memcpy(line + lp + size, suffix, ls);
    } else {
        len = size;
        line = malloc(len ? len : 1);
        if (!line)
            return 0;
        memcpy(line, data, size);
    }
    zhtp_ctl_request req;
    int rc = zhtp_ctl_verify(verifier, &req, line, len, NOW);
    if (rc == ZHTP_OK || !documented(rc))
        abort();
    /* The verifier keeps op (and the claimed wallet id) after a refusal; the policy must
     * cope with whatever op and (empty) args it got. */
    for (int l = ZHTP_CTL_LEVEL_NONE; l <= ZHTP_CTL_LEVEL_OWNER; l++) {
        const char *reason = NULL;
        int p = zhtp_ctl_policy_check((zhtp_ctl_level)l, &req, NULL, 0, &reason);
        if (!reason || (p != ZHTP_OK && p != ZHTP_ERR_SEC_DENIED && p != ZHTP_ERR_SEC_ARGS &&
                        p != ZHTP_ERR_SEC_UNKNOWN_OP))
            abort();
    }
    zhtp_ctl_request_clear(&req);
    free(line);
    return 0;
}
