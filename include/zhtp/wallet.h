/* Wallets: the keys that sign control requests (docs/security.md §1).
 *
 * A wallet is a hybrid Ed25519 + ML-DSA-44 signing key pair (include/zhtp/hybrid.h). Its public
 * key, as lowercase hex, is the caller's identity on the control socket. A wallet file IS a
 * node identity key file (include/zhtp/keyfile.h, kind 0x01): the 64-byte signing seed comes
 * first in the identity seeds, so the wallet reuses Argon2id + XChaCha20-Poly1305, the
 * checksums and the atomic 0600 write unchanged; the KEM half of the identity is generated and
 * stored but never used by the wallet. The secret lives in the identity's sodium_malloc memory
 * and is wiped by zhtp_wallet_free. */
#ifndef ZHTP_WALLET_H
#define ZHTP_WALLET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/err.h"
#include "zhtp/hybrid.h"
#include "zhtp/keyfile.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZHTP_WALLET_PK_BYTES  ZHTP_SIGN_HYBRID_PUBLICKEYBYTES /* 1344 */
#define ZHTP_WALLET_PK_HEX    (2 * ZHTP_WALLET_PK_BYTES)      /* 2688 hex digits */
#define ZHTP_WALLET_SIG_BYTES ZHTP_SIGN_HYBRID_BYTES          /* 2484 */
#define ZHTP_WALLET_ID_BYTES  32
/* The wallet id is the short form shown in the audit log and admin lists (docs/security.md §1). */
#define ZHTP_WALLET_ID_CONTEXT "zhtp 2026-11 wallet id v1"

typedef struct zhtp_wallet zhtp_wallet; /* opaque; secret */

/* Fresh randomness, or deterministically from a 160-byte identity seed (tests). Returns ZHTP_OK,
 * ZHTP_ERR_NOMEM or ZHTP_ERR_CRYPTO_INIT; *out is NULL on error. */
int zhtp_wallet_generate(zhtp_wallet **out);
int zhtp_wallet_from_seed(zhtp_wallet **out, const uint8_t seed[ZHTP_IDENTITY_SEEDBYTES]);
/* Wipes and frees; NULL is a no-op. */
void zhtp_wallet_free(zhtp_wallet *w);

/* Encrypted save and load: the errors of zhtp_identity_save / zhtp_identity_load
 * (ZHTP_ERR_EXISTS, ZHTP_ERR_IO, ZHTP_ERR_NOTFOUND, ZHTP_ERR_KEYFILE_*, ZHTP_ERR_NOMEM). */
int zhtp_wallet_save(const zhtp_wallet *w, const char *path, const char *pass, size_t pass_len,
                     const zhtp_keyfile_params *params, bool overwrite);
int zhtp_wallet_load(zhtp_wallet **out, const char *path, const char *pass, size_t pass_len);

/* The public key, borrowed until zhtp_wallet_free. */
const uint8_t *zhtp_wallet_public_key(const zhtp_wallet *w);
/* Hybrid signature over msg with context ctx (same contract as zhtp_sign_hybrid_sign). */
int zhtp_wallet_sign(const zhtp_wallet *w, uint8_t sig[ZHTP_WALLET_SIG_BYTES], const uint8_t *msg,
                     size_t msg_len, const uint8_t *ctx, size_t ctx_len);

/* id = derive_key(ZHTP_WALLET_ID_CONTEXT, pk). */
void zhtp_wallet_id(uint8_t id[ZHTP_WALLET_ID_BYTES], const uint8_t pk[ZHTP_WALLET_PK_BYTES]);

#ifdef __cplusplus
}
#endif
#endif
