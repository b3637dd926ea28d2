/* Encrypted key files (docs/crypto.md §4). The encode/decode pair is pure (memory in, memory
 * out); the file functions below them are the only I/O in crypto/. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "zhtp/blake3.h"
#include "zhtp/keyfile.h"
#include "zhtp/util.h"

/* Header layout (little-endian), offsets in bytes. */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 8,
    OFF_KIND = 9,
    OFF_KDF = 10,
    OFF_AEAD = 11,
    OFF_CT_LEN = 12,
    OFF_OPSLIMIT = 16,
    OFF_MEMLIMIT = 24,
    OFF_SALT = 32,
    OFF_NONCE = 48,
    OFF_HCHECK = 72,
    HCHECK_BYTES = 8,
    KDF_ARGON2ID13 = 1,
    AEAD_XCHACHA20POLY1305 = 1,
};

static const uint8_t magic[8] = {'Z', 'H', 'T', 'P', 'K', 'E', 'Y', 0};

#define HEADER_CONTEXT   "zhtp 2026-11 keyfile header v1"
#define CHECKSUM_CONTEXT "zhtp 2026-11 keyfile checksum v1"

_Static_assert(OFF_HCHECK + HCHECK_BYTES == ZHTP_KEYFILE_HEADER_BYTES, "header layout");
_Static_assert(OFF_NONCE + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == OFF_HCHECK, "nonce");
_Static_assert(OFF_SALT + crypto_pwhash_SALTBYTES == OFF_NONCE, "salt");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == ZHTP_KEYFILE_TAG_BYTES, "tag");

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static bool params_acceptable(uint64_t ops, uint64_t mem)
{
    return ops >= ZHTP_KEYFILE_OPSLIMIT_MIN && ops <= ZHTP_KEYFILE_OPSLIMIT_MAX &&
           mem >= ZHTP_KEYFILE_MEMLIMIT_MIN && mem <= ZHTP_KEYFILE_MEMLIMIT_MAX;
}

static void header_check(uint8_t out[HCHECK_BYTES], const uint8_t *hdr)
{
    zhtp_blake3_derive_key(out, HCHECK_BYTES, HEADER_CONTEXT, hdr, OFF_HCHECK);
}

static void file_checksum(uint8_t out[ZHTP_KEYFILE_SUM_BYTES], const uint8_t *in, size_t len)
{
    zhtp_blake3_derive_key(out, ZHTP_KEYFILE_SUM_BYTES, CHECKSUM_CONTEXT, in, len);
}

/* The payload size a kind must carry; 0 for an unknown kind. */
static size_t kind_secret_len(uint8_t kind)
{
    return kind == ZHTP_KEYFILE_KIND_IDENTITY ? ZHTP_IDENTITY_SEEDBYTES : 0;
}

/* Argon2id over the passphrase. The key is the caller's to wipe. */
static int derive_key(uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES], const char *pass,
                      size_t pass_len, const uint8_t *salt, uint64_t ops, uint64_t mem)
{
    if (crypto_pwhash(key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, pass, pass_len, salt, ops,
                      (size_t)mem, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        zhtp_wipe(key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
        return ZHTP_ERR_NOMEM; /* the only way it fails with parameters in range */
    }
    return ZHTP_OK;
}

zhtp_ssize zhtp_keyfile_encode(uint8_t *out, size_t cap, uint8_t kind, const uint8_t *secret,
                               size_t secret_len, const char *pass, size_t pass_len,
                               const zhtp_keyfile_params *params)
{
    uint64_t ops = params && params->opslimit ? params->opslimit : ZHTP_KEYFILE_OPSLIMIT_MODERATE;
    uint64_t mem = params && params->memlimit ? params->memlimit : ZHTP_KEYFILE_MEMLIMIT_MODERATE;
    if (!out || !secret || (!pass && pass_len) || kind_secret_len(kind) != secret_len ||
        secret_len > ZHTP_KEYFILE_SECRET_MAX || !params_acceptable(ops, mem))
        return ZHTP_ERR_INVAL;
    size_t total = ZHTP_KEYFILE_ENCODED_BYTES(secret_len);
    if (cap < total)
        return ZHTP_ERR_NOBUF;
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;

    uint8_t hdr[ZHTP_KEYFILE_HEADER_BYTES];
    memcpy(hdr + OFF_MAGIC, magic, sizeof magic);
    hdr[OFF_VERSION] = ZHTP_KEYFILE_VERSION;
    hdr[OFF_KIND] = kind;
    hdr[OFF_KDF] = KDF_ARGON2ID13;
    hdr[OFF_AEAD] = AEAD_XCHACHA20POLY1305;
    put_le32(hdr + OFF_CT_LEN, (uint32_t)(secret_len + ZHTP_KEYFILE_TAG_BYTES));
    put_le64(hdr + OFF_OPSLIMIT, ops);
    put_le64(hdr + OFF_MEMLIMIT, mem);
    randombytes_buf(hdr + OFF_SALT, crypto_pwhash_SALTBYTES);
    randombytes_buf(hdr + OFF_NONCE, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    header_check(hdr + OFF_HCHECK, hdr);

    uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    int rc = derive_key(key, pass ? pass : "", pass_len, hdr + OFF_SALT, ops, mem);
    if (rc != ZHTP_OK)
        return rc;
    /* Write into out only now that nothing can fail. */
    memcpy(out, hdr, sizeof hdr);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + ZHTP_KEYFILE_HEADER_BYTES, NULL, secret,
                                               secret_len, hdr, sizeof hdr, NULL, hdr + OFF_NONCE,
                                               key);
    zhtp_wipe(key, sizeof key);
    size_t sum_off = total - ZHTP_KEYFILE_SUM_BYTES;
    file_checksum(out + sum_off, out, sum_off);
    return (zhtp_ssize)total;
}

/* Every check that needs no passphrase. *ct_len gets the AEAD ciphertext length. */
static int check_structure(const uint8_t *in, size_t len, size_t *ct_len_out)
{
    if (!in && len)
        return ZHTP_ERR_INVAL;
    /* Too short to hold magic and version: a prefix of our magic is a truncated key file,
     * anything else is not a key file at all. */
    if (len <= OFF_VERSION) {
        size_t n = len < sizeof magic ? len : sizeof magic;
        return n == 0 || memcmp(in, magic, n) == 0 ? ZHTP_ERR_KEYFILE_TRUNCATED
                                                   : ZHTP_ERR_KEYFILE_FORMAT;
    }
    if (memcmp(in + OFF_MAGIC, magic, sizeof magic) != 0)
        return ZHTP_ERR_KEYFILE_FORMAT;
    /* The version byte is read before any checksum: a newer file may checksum differently. */
    if (in[OFF_VERSION] != ZHTP_KEYFILE_VERSION)
        return ZHTP_ERR_KEYFILE_FORMAT;
    if (len < ZHTP_KEYFILE_HEADER_BYTES)
        return ZHTP_ERR_KEYFILE_TRUNCATED;
    /* The header check comes before the length is trusted, so a flipped length bit reads as
     * "corrupt", not as "truncated". */
    uint8_t hc[HCHECK_BYTES];
    header_check(hc, in);
    if (memcmp(hc, in + OFF_HCHECK, HCHECK_BYTES) != 0)
        return ZHTP_ERR_KEYFILE_CORRUPT;
    uint64_t ct_len = get_le32(in + OFF_CT_LEN);
    uint64_t total = ZHTP_KEYFILE_HEADER_BYTES + ct_len + ZHTP_KEYFILE_SUM_BYTES;
    if ((uint64_t)len < total)
        return ZHTP_ERR_KEYFILE_TRUNCATED;
    if ((uint64_t)len > total)
        return ZHTP_ERR_KEYFILE_CORRUPT; /* bytes appended */
    uint8_t sum[ZHTP_KEYFILE_SUM_BYTES];
    file_checksum(sum, in, len - ZHTP_KEYFILE_SUM_BYTES);
    if (memcmp(sum, in + len - ZHTP_KEYFILE_SUM_BYTES, sizeof sum) != 0)
        return ZHTP_ERR_KEYFILE_CORRUPT;
    /* Intact as written: what is left is whether we understand and accept it. */
    size_t want = kind_secret_len(in[OFF_KIND]);
    if (want == 0 || in[OFF_KDF] != KDF_ARGON2ID13 || in[OFF_AEAD] != AEAD_XCHACHA20POLY1305 ||
        ct_len != want + ZHTP_KEYFILE_TAG_BYTES)
        return ZHTP_ERR_KEYFILE_FORMAT;
    /* Untrusted cost parameters: capped before anything is allocated. */
    if (!params_acceptable(get_le64(in + OFF_OPSLIMIT), get_le64(in + OFF_MEMLIMIT)))
        return ZHTP_ERR_KEYFILE_FORMAT;
    *ct_len_out = (size_t)ct_len;
    return ZHTP_OK;
}

int zhtp_keyfile_inspect(const uint8_t *in, size_t len, uint8_t *kind, size_t *secret_len,
                         zhtp_keyfile_params *params)
{
    size_t ct_len = 0;
    int rc = check_structure(in, len, &ct_len);
    if (rc != ZHTP_OK)
        return rc;
    if (kind)
        *kind = in[OFF_KIND];
    if (secret_len)
        *secret_len = ct_len - ZHTP_KEYFILE_TAG_BYTES;
    if (params) {
        params->opslimit = get_le64(in + OFF_OPSLIMIT);
        params->memlimit = get_le64(in + OFF_MEMLIMIT);
    }
    return ZHTP_OK;
}

zhtp_ssize zhtp_keyfile_decode(uint8_t *secret, size_t cap, uint8_t *kind, const uint8_t *in,
                               size_t len, const char *pass, size_t pass_len)
{
    if ((!secret && cap) || (!pass && pass_len))
        return ZHTP_ERR_INVAL;
    size_t ct_len = 0;
    int rc = check_structure(in, len, &ct_len);
    if (rc != ZHTP_OK)
        return rc;
    size_t secret_len = ct_len - ZHTP_KEYFILE_TAG_BYTES;
    if (cap < secret_len)
        return ZHTP_ERR_NOBUF;
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    rc = derive_key(key, pass ? pass : "", pass_len, in + OFF_SALT, get_le64(in + OFF_OPSLIMIT),
                    get_le64(in + OFF_MEMLIMIT));
    if (rc != ZHTP_OK)
        goto out;
    /* The checksums passed, so the bytes are as written: a failing tag means the key, i.e. the
     * passphrase, is wrong (or someone recomputed the checksums: they are not a MAC). */
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            secret, NULL, NULL, in + ZHTP_KEYFILE_HEADER_BYTES, ct_len, in,
            ZHTP_KEYFILE_HEADER_BYTES, in + OFF_NONCE, key) != 0) {
        rc = ZHTP_ERR_KEYFILE_PASSPHRASE;
        goto out;
    }
    if (kind)
        *kind = in[OFF_KIND];
    rc = (int)secret_len;
out:
    zhtp_wipe(key, sizeof key);
    if (rc < 0 && secret)
        zhtp_wipe(secret, cap);
    return rc;
}

/* ---- file I/O ------------------------------------------------------------------------------ */

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Directory part of path ("." when it has none). */
static int dir_of(char *dir, size_t cap, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return snprintf(dir, cap, ".") < (int)cap ? 0 : -1;
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n + 1 > cap)
        return -1;
    memcpy(dir, path, n);
    dir[n] = 0;
    return 0;
}

/* Atomic "move into place only if absent": renameat2(RENAME_NOREPLACE) where the kernel and
 * file system have it, else link() + unlink(), which also fails with EEXIST instead of
 * replacing. On failure errno says why and tmp is still there. */
static int rename_noreplace(const char *tmp, const char *path)
{
#ifdef RENAME_NOREPLACE
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return -1;
#endif
    if (link(tmp, path) != 0)
        return -1;
    unlink(tmp);
    return 0;
}

int zhtp_keyfile_write_atomic(const char *path, const uint8_t *data, size_t len, bool overwrite)
{
    if (!path || !*path || (!data && len))
        return ZHTP_ERR_INVAL;
    if (sodium_init() < 0)
        return ZHTP_ERR_CRYPTO_INIT;
    char tmp[4096], dir[4096];
    uint8_t rnd[8];
    char rhex[17];
    randombytes_buf(rnd, sizeof rnd);
    zhtp_hex_encode(rhex, sizeof rhex, rnd, sizeof rnd);
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%s", path, rhex) >= (int)sizeof tmp ||
        dir_of(dir, sizeof dir, path) != 0)
        return ZHTP_ERR_INVAL;

    /* O_EXCL: never follow or reuse something planted at the temp name. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return ZHTP_ERR_IO;
    int rc = ZHTP_ERR_IO;
    /* fchmod: the umask may only have narrowed 0600, but say exactly what we mean. */
    if (fchmod(fd, 0600) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        close(fd);
        goto fail;
    }
    if (close(fd) != 0)
        goto fail;
    if (overwrite) {
        if (rename(tmp, path) != 0)
            goto fail;
    } else if (rename_noreplace(tmp, path) != 0) {
        if (errno == EEXIST)
            rc = ZHTP_ERR_EXISTS;
        goto fail;
    }
    /* Make the new directory entry durable too. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return ZHTP_OK;
fail:
    unlink(tmp);
    return rc;
}

zhtp_ssize zhtp_keyfile_read(const char *path, uint8_t *buf, size_t cap)
{
    if (!path || !buf)
        return ZHTP_ERR_INVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? ZHTP_ERR_NOTFOUND : ZHTP_ERR_IO;
    struct stat st;
    zhtp_ssize rc = ZHTP_ERR_IO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    if (st.st_size > ZHTP_KEYFILE_MAX_BYTES) {
        rc = ZHTP_ERR_KEYFILE_FORMAT;
        goto out;
    }
    if ((size_t)st.st_size > cap) {
        rc = ZHTP_ERR_NOBUF;
        goto out;
    }
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    /* The file may have grown since fstat: one more byte means it no longer fits. */
    uint8_t extra;
    if (got == cap && read(fd, &extra, 1) > 0) {
        rc = cap >= ZHTP_KEYFILE_MAX_BYTES ? ZHTP_ERR_KEYFILE_FORMAT : ZHTP_ERR_NOBUF;
        goto out;
    }
    rc = (zhtp_ssize)got;
out:
    close(fd);
    return rc;
}
