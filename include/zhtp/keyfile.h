/* Encrypted key files at rest: passphrase -> Argon2id (libsodium crypto_pwhash, parameters
 * stored in the file) -> XChaCha20-Poly1305 over the secret seeds, with the header as
 * additional data, and BLAKE3 checksums so damage is told apart from a wrong passphrase.
 * Byte format and reasons: docs/crypto.md §4.
 *
 * Two layers: a pure encode/decode over memory (what the fuzzer drives) and the file I/O
 * (atomic write: temp file O_EXCL 0600 in the same directory, fsync, rename or link, fsync of
 * the directory; a partial file never appears at the target).
 *
 * Decode errors are distinct, and checked in this order:
 *   ZHTP_ERR_KEYFILE_FORMAT     not a zhtp key file (magic), unknown version, unknown algorithm,
 *                               or KDF parameters outside what we accept;
 *   ZHTP_ERR_KEYFILE_TRUNCATED  shorter than its header says;
 *   ZHTP_ERR_KEYFILE_CORRUPT    a checksum fails: any bit flipped after the magic and version;
 *   ZHTP_ERR_KEYFILE_PASSPHRASE checksums fine, but the AEAD tag fails under the key derived
 *                               from the passphrase. */
#ifndef ZHTP_KEYFILE_H
#define ZHTP_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/err.h"
#include "zhtp/identity.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZHTP_KEYFILE_VERSION       1
#define ZHTP_KEYFILE_KIND_IDENTITY 1 /* payload: ZHTP_IDENTITY_SEEDBYTES of identity seeds */
#define ZHTP_KEYFILE_HEADER_BYTES  80
#define ZHTP_KEYFILE_TAG_BYTES     16
#define ZHTP_KEYFILE_SUM_BYTES     32
#define ZHTP_KEYFILE_SECRET_MAX    4096 /* largest payload we write or read */
#define ZHTP_KEYFILE_MAX_BYTES                                                                     \
    (ZHTP_KEYFILE_HEADER_BYTES + ZHTP_KEYFILE_SECRET_MAX + ZHTP_KEYFILE_TAG_BYTES +                \
     ZHTP_KEYFILE_SUM_BYTES)
/* Encoded size for a secret of n bytes. */
#define ZHTP_KEYFILE_ENCODED_BYTES(n)                                                              \
    (ZHTP_KEYFILE_HEADER_BYTES + (n) + ZHTP_KEYFILE_TAG_BYTES + ZHTP_KEYFILE_SUM_BYTES)

/* Argon2id cost. Stored in the file; the decoder accepts only this range, so a hostile file
 * cannot make us allocate more than ZHTP_KEYFILE_MEMLIMIT_MAX or spin for hours. */
#define ZHTP_KEYFILE_OPSLIMIT_MIN         1u
#define ZHTP_KEYFILE_OPSLIMIT_MAX         16u
#define ZHTP_KEYFILE_MEMLIMIT_MIN         8192u       /* libsodium's Argon2id minimum */
#define ZHTP_KEYFILE_MEMLIMIT_MAX         1073741824u /* 1 GiB = libsodium's SENSITIVE */
#define ZHTP_KEYFILE_OPSLIMIT_MODERATE    3u          /* the default: ~0.5-1 s, 256 MiB */
#define ZHTP_KEYFILE_MEMLIMIT_MODERATE    268435456u
#define ZHTP_KEYFILE_OPSLIMIT_INTERACTIVE 2u /* tests and small devices: 64 MiB */
#define ZHTP_KEYFILE_MEMLIMIT_INTERACTIVE 67108864u

/* Encoder options; zero fields mean the MODERATE defaults. Copied by the callee. */
typedef struct zhtp_keyfile_params {
    uint64_t opslimit;
    uint64_t memlimit; /* bytes */
} zhtp_keyfile_params;

/* Encrypts secret (secret_len <= ZHTP_KEYFILE_SECRET_MAX) under pass. Salt and nonce come from
 * randombytes. Returns the encoded length, ZHTP_ERR_NOBUF (cap too small, nothing written),
 * ZHTP_ERR_INVAL (secret_len, kind or params out of range), ZHTP_ERR_NOMEM (Argon2id could not
 * allocate its memory) or ZHTP_ERR_CRYPTO_INIT. */
zhtp_ssize zhtp_keyfile_encode(uint8_t *out, size_t cap, uint8_t kind, const uint8_t *secret,
                               size_t secret_len, const char *pass, size_t pass_len,
                               const zhtp_keyfile_params *params);

/* Reads the public header of an untrusted encoding without the passphrase: every check of
 * zhtp_keyfile_decode except the KDF and the AEAD. On ZHTP_OK, *kind, *secret_len and *params
 * (each may be NULL) describe the file. */
ZHTP_NODISCARD int zhtp_keyfile_inspect(const uint8_t *in, size_t len, uint8_t *kind,
                                        size_t *secret_len, zhtp_keyfile_params *params);

/* Decrypts an untrusted encoding. Returns the secret length (written to secret, cap bytes),
 * or ZHTP_ERR_KEYFILE_* as listed at the top, ZHTP_ERR_NOBUF, ZHTP_ERR_NOMEM, or
 * ZHTP_ERR_CRYPTO_INIT. secret is wiped on error; *kind gets the payload kind (may be NULL). */
ZHTP_NODISCARD zhtp_ssize zhtp_keyfile_decode(uint8_t *secret, size_t cap, uint8_t *kind,
                                              const uint8_t *in, size_t len, const char *pass,
                                              size_t pass_len);

/* Writes data to path atomically with mode 0600. When overwrite is false and path exists,
 * returns ZHTP_ERR_EXISTS and leaves it untouched. ZHTP_ERR_IO on any other failure; path is
 * then as it was (no partial file), and the temp file is removed. */
int zhtp_keyfile_write_atomic(const char *path, const uint8_t *data, size_t len, bool overwrite);

/* Reads a whole key file (at most ZHTP_KEYFILE_MAX_BYTES: a larger file is
 * ZHTP_ERR_KEYFILE_FORMAT) into buf. Returns its length, ZHTP_ERR_NOTFOUND or ZHTP_ERR_IO. */
zhtp_ssize zhtp_keyfile_read(const char *path, uint8_t *buf, size_t cap);

/* An identity to and from a key file. save returns ZHTP_OK or an error of encode/write;
 * load returns ZHTP_OK or an error of read/decode (ZHTP_ERR_KEYFILE_FORMAT when the file holds
 * another kind of key). */
int zhtp_identity_save(const zhtp_identity *id, const char *path, const char *pass, size_t pass_len,
                       const zhtp_keyfile_params *params, bool overwrite);
int zhtp_identity_load(zhtp_identity **out, const char *path, const char *pass, size_t pass_len);

#ifdef __cplusplus
}
#endif
#endif
