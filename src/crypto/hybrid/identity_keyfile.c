/* An identity to and from its key file: the seeds are the payload (docs/crypto.md §4). Kept
 * apart from keyfile.c so the key file codec links without the post-quantum layers. */
#include "zhtp/keyfile.h"
#include "zhtp/util.h"

int zhtp_identity_save(const zhtp_identity *id, const char *path, const char *pass, size_t pass_len,
                       const zhtp_keyfile_params *params, bool overwrite)
{
    if (!id || !path)
        return ZHTP_ERR_INVAL;
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES];
    uint8_t enc[ZHTP_KEYFILE_ENCODED_BYTES(ZHTP_IDENTITY_SEEDBYTES)];
    zhtp_identity_export_seed(id, seed);
    zhtp_ssize n = zhtp_keyfile_encode(enc, sizeof enc, ZHTP_KEYFILE_KIND_IDENTITY, seed,
                                       sizeof seed, pass, pass_len, params);
    zhtp_wipe(seed, sizeof seed);
    if (n < 0)
        return (int)n;
    return zhtp_keyfile_write_atomic(path, enc, (size_t)n, overwrite);
}

int zhtp_identity_load(zhtp_identity **out, const char *path, const char *pass, size_t pass_len)
{
    if (!out)
        return ZHTP_ERR_INVAL;
    *out = NULL;
    uint8_t enc[ZHTP_KEYFILE_MAX_BYTES];
    zhtp_ssize n = zhtp_keyfile_read(path, enc, sizeof enc);
    if (n < 0)
        return n == ZHTP_ERR_NOBUF ? ZHTP_ERR_KEYFILE_FORMAT : (int)n;
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES];
    uint8_t kind = 0;
    zhtp_ssize m = zhtp_keyfile_decode(seed, sizeof seed, &kind, enc, (size_t)n, pass, pass_len);
    int rc;
    if (m < 0)
        rc = m == ZHTP_ERR_NOBUF ? ZHTP_ERR_KEYFILE_FORMAT : (int)m;
    else if (kind != ZHTP_KEYFILE_KIND_IDENTITY || m != ZHTP_IDENTITY_SEEDBYTES)
        rc = ZHTP_ERR_KEYFILE_FORMAT;
    else
        rc = zhtp_identity_from_seed(out, seed);
    zhtp_wipe(seed, sizeof seed);
    return rc;
}
