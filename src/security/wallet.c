/* Wallets on top of node identities: same key file, same secret memory (include/zhtp/wallet.h).
 * Only the hybrid signing half of the identity is ever used. */
#include <stdlib.h>

#include "zhtp/blake3.h"
#include "zhtp/identity.h"
#include "zhtp/wallet.h"

struct zhtp_wallet {
    zhtp_identity *id;
};

static int wrap(zhtp_wallet **out, zhtp_identity *id)
{
    zhtp_wallet *w = malloc(sizeof *w);
    if (!w) {
        zhtp_identity_free(id);
        return ZHTP_ERR_NOMEM;
    }
    w->id = id;
    *out = w;
    return ZHTP_OK;
}

int zhtp_wallet_generate(zhtp_wallet **out)
{
    if (!out)
        return ZHTP_ERR_INVAL;
    *out = NULL;
    zhtp_identity *id = NULL;
    int rc = zhtp_identity_generate(&id);
    return rc ? rc : wrap(out, id);
}

int zhtp_wallet_from_seed(zhtp_wallet **out, const uint8_t seed[ZHTP_IDENTITY_SEEDBYTES])
{
    if (!out || !seed)
        return ZHTP_ERR_INVAL;
    *out = NULL;
    zhtp_identity *id = NULL;
    int rc = zhtp_identity_from_seed(&id, seed);
    return rc ? rc : wrap(out, id);
}

void zhtp_wallet_free(zhtp_wallet *w)
{
    if (!w)
        return;
    zhtp_identity_free(w->id);
    free(w);
}

int zhtp_wallet_save(const zhtp_wallet *w, const char *path, const char *pass, size_t pass_len,
                     const zhtp_keyfile_params *params, bool overwrite)
{
    if (!w)
        return ZHTP_ERR_INVAL;
    return zhtp_identity_save(w->id, path, pass, pass_len, params, overwrite);
}

int zhtp_wallet_load(zhtp_wallet **out, const char *path, const char *pass, size_t pass_len)
{
    if (!out)
        return ZHTP_ERR_INVAL;
    *out = NULL;
    zhtp_identity *id = NULL;
    int rc = zhtp_identity_load(&id, path, pass, pass_len);
    return rc ? rc : wrap(out, id);
}

const uint8_t *zhtp_wallet_public_key(const zhtp_wallet *w)
{
    return zhtp_identity_get_public(w->id)->sig_pk;
}

int zhtp_wallet_sign(const zhtp_wallet *w, uint8_t sig[ZHTP_WALLET_SIG_BYTES], const uint8_t *msg,
                     size_t msg_len, const uint8_t *ctx, size_t ctx_len)
{
    if (!w || !sig)
        return ZHTP_ERR_INVAL;
    return zhtp_identity_sign(w->id, sig, msg, msg_len, ctx, ctx_len);
}

void zhtp_wallet_id(uint8_t id[ZHTP_WALLET_ID_BYTES], const uint8_t pk[ZHTP_WALLET_PK_BYTES])
{
    zhtp_blake3_derive_key(id, ZHTP_WALLET_ID_BYTES, ZHTP_WALLET_ID_CONTEXT, pk,
                           ZHTP_WALLET_PK_BYTES);
}
