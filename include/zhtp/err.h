/* zhtp error codes: one negative list for the whole library, one string table.
 *
 * Every function that can fail returns int (0 or a zhtp_err) or, when it produces bytes,
 * zhtp_ssize (the length, or a negative zhtp_err). Codes are stable: add, never renumber.
 * Ranges: -1..-99 generic, -100..-199 wire/, -200..-299 core/session, -300..-399 core/routing
 * and dht, -400..-499 crypto/, -500..-599 store/, -600..-699 security/, <= -900 fatal. */
#ifndef ZHTP_ERR_H
#define ZHTP_ERR_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef ptrdiff_t zhtp_ssize;

#if defined(__GNUC__) || defined(__clang__)
#define ZHTP_NODISCARD __attribute__((warn_unused_result))
#else
#define ZHTP_NODISCARD
#endif

/* X(name, value, message). Sections are owned by the layer named in the comment. */
#define ZHTP_ERR_LIST(X)                                                                           \
    X(ZHTP_OK, 0, "success")                                                                       \
    /* generic */                                                                                  \
    X(ZHTP_ERR_INVAL, -1, "invalid argument")                                                      \
    X(ZHTP_ERR_NOBUF, -2, "output buffer too small")                                               \
    X(ZHTP_ERR_AGAIN, -3, "nothing to do until more input")                                        \
    X(ZHTP_ERR_NOMEM, -4, "out of memory")                                                         \
    X(ZHTP_ERR_IO, -5, "input/output error")                                                       \
    X(ZHTP_ERR_NOTFOUND, -6, "not found")                                                          \
    X(ZHTP_ERR_EXISTS, -7, "already exists")                                                       \
    X(ZHTP_ERR_UNSUPPORTED, -8, "not supported")                                                   \
    X(ZHTP_ERR_TIMEOUT, -9, "timed out: no answer in time")                                        \
    /* wire/ (-100..-199) */                                                                       \
    X(ZHTP_ERR_WIRE_TRUNCATED, -100, "packet truncated")                                           \
    X(ZHTP_ERR_WIRE_MAGIC, -101, "bad packet magic")                                               \
    X(ZHTP_ERR_WIRE_VERSION, -102, "unsupported protocol version")                                 \
    X(ZHTP_ERR_WIRE_OPERATION, -103, "unknown operation")                                          \
    X(ZHTP_ERR_WIRE_RESERVED, -104, "reserved field not zero")                                     \
    X(ZHTP_ERR_WIRE_LENGTH, -105, "length field inconsistent")                                     \
    X(ZHTP_ERR_WIRE_FIELD, -106, "field value out of range")                                       \
    X(ZHTP_ERR_WIRE_FRAGMENT, -107, "bad fragment")                                                \
    X(ZHTP_ERR_WIRE_REASSEMBLY_FULL, -108, "reassembly memory limit reached")                      \
    X(ZHTP_ERR_WIRE_FRAGMENT_LATE, -109, "fragment of a packet already completed or dropped")      \
    /* core/session (-200..-299) */                                                                \
    X(ZHTP_ERR_SESSION_NO_SESSION, -200, "no established session with this peer")                  \
    X(ZHTP_ERR_SESSION_UNKNOWN_INDEX, -201, "no session has this receiver index")                  \
    X(ZHTP_ERR_SESSION_REPLAY, -202, "packet replayed or left of the replay window")               \
    X(ZHTP_ERR_SESSION_AUTH, -203, "packet authentication failed")                                 \
    X(ZHTP_ERR_SESSION_EXPIRED, -204, "session keys expired or exhausted; rekeying")               \
    X(ZHTP_ERR_SESSION_STALE, -205, "handshake timestamp not newer than the last accepted")        \
    X(ZHTP_ERR_SESSION_COOKIE, -206, "under load: handshake needs a valid cookie")                 \
    X(ZHTP_ERR_SESSION_MAC, -207, "handshake MAC invalid")                                         \
    X(ZHTP_ERR_SESSION_LIMIT, -208, "connection limit reached")                                    \
    X(ZHTP_ERR_SESSION_UNKNOWN_PEER, -209, "public identity of the peer unknown")                  \
    X(ZHTP_ERR_SESSION_STATE, -210, "handshake message not expected in this state")                \
    /* core/dht (-350..-369) */                                                                    \
    X(ZHTP_ERR_DHT_NOT_FOUND, -350, "no node holds the requested key")                             \
    X(ZHTP_ERR_DHT_TIMEOUT, -351, "DHT lookup timed out: no node answered")                        \
    X(ZHTP_ERR_DHT_VERIFY, -352, "DHT value failed verification (hash or signature)")              \
    X(ZHTP_ERR_DHT_PUZZLE, -353, "node id fails the DHT crypto puzzle")                            \
    /* crypto/ (-400..-499) */                                                                     \
    X(ZHTP_ERR_CRYPTO_VERIFY, -400, "signature verification failed")                               \
    X(ZHTP_ERR_CRYPTO_BADKEY, -401, "key failed its validity check")                               \
    X(ZHTP_ERR_CRYPTO_LENGTH, -402, "wrong length for a key, ciphertext or signature")             \
    X(ZHTP_ERR_CRYPTO_DECRYPT, -403, "decryption failed: data altered or wrong key")               \
    X(ZHTP_ERR_CRYPTO_INIT, -404, "crypto library initialisation failed")                          \
    X(ZHTP_ERR_CRYPTO_ID_MISMATCH, -405, "public keys do not hash to the expected node id")        \
    X(ZHTP_ERR_KEYFILE_PASSPHRASE, -410, "wrong passphrase for key file")                          \
    X(ZHTP_ERR_KEYFILE_TRUNCATED, -411, "key file truncated")                                      \
    X(ZHTP_ERR_KEYFILE_CORRUPT, -412, "key file altered or corrupt")                               \
    X(ZHTP_ERR_KEYFILE_FORMAT, -413, "not a zhtp key file, or unknown key file version")           \
    /* store/ (-500..-599) */                                                                      \
    X(ZHTP_ERR_STORE_QUOTA, -500, "storage quota exceeded; nothing was stored")                    \
    X(ZHTP_ERR_STORE_CORRUPT, -501, "stored data failed its integrity check; entry removed")       \
    X(ZHTP_ERR_STORE_STALE, -502, "record sequence number not newer than the stored one")          \
    X(ZHTP_ERR_STORE_EXPIRED, -503, "record or chunk already expired")                             \
    X(ZHTP_ERR_STORE_VERSION, -504, "store format is newer than this build supports")              \
    X(ZHTP_ERR_STORE_NODIR, -505, "store directory does not exist")                                \
    X(ZHTP_ERR_STORE_ACCESS, -506, "store directory not readable and writable")                    \
    X(ZHTP_ERR_STORE_FULL, -507, "store map size limit reached")                                   \
    X(ZHTP_ERR_STORE_KEY_MISMATCH, -508, "chunk bytes do not hash to the given key")               \
    X(ZHTP_ERR_STORE_BACKEND, -509, "storage backend (LMDB) error")                                \
    /* security/ (-600..-699) */                                                                   \
    X(ZHTP_ERR_SEC_JSON, -600, "control request is not one valid JSON object")                     \
    X(ZHTP_ERR_SEC_FIELD, -601, "control request field missing or of the wrong type")              \
    X(ZHTP_ERR_SEC_HEX, -602, "control request field is not valid hex")                            \
    X(ZHTP_ERR_SEC_LENGTH, -603, "control request field has the wrong length")                     \
    X(ZHTP_ERR_SEC_WALLET_KEY, -604, "wallet public key failed its validity check")                \
    X(ZHTP_ERR_SEC_SIGNATURE, -605, "control request signature invalid")                           \
    X(ZHTP_ERR_SEC_STALE, -606, "control request timestamp too old")                               \
    X(ZHTP_ERR_SEC_FUTURE, -607, "control request timestamp in the future")                        \
    X(ZHTP_ERR_SEC_REPLAY, -608, "control request nonce already used by this wallet")              \
    X(ZHTP_ERR_SEC_REPLAY_FULL, -609, "replay cache full of fresh nonces; retry later")            \
    X(ZHTP_ERR_SEC_TOO_LARGE, -610, "control request line too long")                               \
    X(ZHTP_ERR_SEC_UNKNOWN_OP, -611, "unknown control operation")                                  \
    X(ZHTP_ERR_SEC_ARGS, -612, "control operation arguments invalid")                              \
    X(ZHTP_ERR_SEC_DENIED, -613, "permission denied for this wallet")                              \
    X(ZHTP_ERR_SEC_OWNER_SET, -614, "owner wallet already set; it cannot be changed")              \
    X(ZHTP_ERR_SEC_NO_OWNER, -615, "security policy has no owner yet")                             \
    X(ZHTP_ERR_SEC_AUDIT_TAMPERED, -616, "audit log entry altered, reordered or removed")          \
    X(ZHTP_ERR_SEC_AUDIT_TRUNCATED, -617, "audit log truncated at the tail")                       \
    X(ZHTP_ERR_SEC_BACKEND, -618, "security store (LMDB) error")                                   \
    X(ZHTP_ERR_SEC_STOPPED, -619, "node is in emergency stop")                                     \
    /* fatal (<= -900) */                                                                          \
    X(ZHTP_ERR_INTERNAL, -900, "internal error")

enum zhtp_err {
#define ZHTP_ERR_ENUM_(name, value, msg) name = value,
    ZHTP_ERR_LIST(ZHTP_ERR_ENUM_)
#undef ZHTP_ERR_ENUM_
};

/* A static, human-readable message for err; never NULL (unknown codes get a generic text). */
const char *zhtp_strerror(int err);
/* The symbolic name ("ZHTP_ERR_INVAL"), or NULL for an unknown code. */
const char *zhtp_err_name(int err);
/* True for codes <= -900: the handle that returned it must be freed. */
bool zhtp_err_is_fatal(int err);

#ifdef __cplusplus
}
#endif
#endif
