/* Encrypted key files: round trips, the four distinct decode failures (format, truncated,
 * corrupt, passphrase) at every truncation length and every flipped bit, the cap on stored
 * Argon2id parameters, and the atomic 0600 write. The KDF runs at libsodium's minimum cost
 * (1 pass, 8 KiB) except in one test of the real INTERACTIVE setting. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zhtp/blake3.h"
#include "zhtp/keyfile.h"
#include "zhtp/util.h"

#include "testutil.h"

#define SECRET_LEN ZHTP_IDENTITY_SEEDBYTES
#define FILE_LEN   ZHTP_KEYFILE_ENCODED_BYTES(SECRET_LEN)

static const zhtp_keyfile_params fast = {ZHTP_KEYFILE_OPSLIMIT_MIN, ZHTP_KEYFILE_MEMLIMIT_MIN};
static const char pass[] = "correct horse battery staple";

static void make_file(uint8_t file[FILE_LEN], uint8_t secret[SECRET_LEN], uint64_t seed)
{
    zt_rng r;
    zt_rng_seed(&r, seed);
    zt_rng_bytes(&r, secret, SECRET_LEN);
    zhtp_ssize n = zhtp_keyfile_encode(file, FILE_LEN, ZHTP_KEYFILE_KIND_IDENTITY, secret,
                                       SECRET_LEN, pass, strlen(pass), &fast);
    assert_int_equal(n, FILE_LEN);
}

/* Recomputes both checksums after a test edits the header, following docs/crypto.md §4
 * independently of the decoder: the edit then survives the integrity checks, and what is left
 * to reject it is the decoder's own validation. */
static void reseal(uint8_t *file, size_t len)
{
    zhtp_blake3_derive_key(file + 72, 8, "zhtp 2026-11 keyfile header v1", file, 72);
    zhtp_blake3_derive_key(file + len - 32, 32, "zhtp 2026-11 keyfile checksum v1", file, len - 32);
}

static zhtp_ssize decode(const uint8_t *file, size_t len, const char *p)
{
    uint8_t out[SECRET_LEN];
    return zhtp_keyfile_decode(out, sizeof out, NULL, file, len, p, strlen(p));
}

static void keyfile_round_trip_returns_the_secret(void **state)
{
    uint8_t file[FILE_LEN], secret[SECRET_LEN], out[SECRET_LEN];
    uint8_t kind = 0;
    make_file(file, secret, 1);
    assert_int_equal(
        zhtp_keyfile_decode(out, sizeof out, &kind, file, sizeof file, pass, strlen(pass)),
        SECRET_LEN);
    assert_int_equal(kind, ZHTP_KEYFILE_KIND_IDENTITY);
    assert_memory_equal(out, secret, SECRET_LEN);
    /* Two encodings of one secret differ (fresh salt and nonce). */
    uint8_t file2[FILE_LEN];
    make_file(file2, secret, 1);
    assert_memory_not_equal(file, file2, FILE_LEN);
}

static void keyfile_round_trip_at_interactive_cost(void **state)
{
    uint8_t file[FILE_LEN], secret[SECRET_LEN], out[SECRET_LEN];
    zt_rng r;
    zt_rng_seed(&r, 2);
    zt_rng_bytes(&r, secret, sizeof secret);
    zhtp_keyfile_params p = {ZHTP_KEYFILE_OPSLIMIT_INTERACTIVE, ZHTP_KEYFILE_MEMLIMIT_INTERACTIVE};
    assert_int_equal(zhtp_keyfile_encode(file, sizeof file, ZHTP_KEYFILE_KIND_IDENTITY, secret,
                                         sizeof secret, pass, strlen(pass), &p),
                     FILE_LEN);
    zhtp_keyfile_params got;
    assert_int_equal(zhtp_keyfile_inspect(file, sizeof file, NULL, NULL, &got), ZHTP_OK);
    assert_int_equal(got.opslimit, p.opslimit);
    assert_int_equal(got.memlimit, p.memlimit);
    assert_int_equal(
        zhtp_keyfile_decode(out, sizeof out, NULL, file, sizeof file, pass, strlen(pass)),
        SECRET_LEN);
    assert_memory_equal(out, secret, SECRET_LEN);
}

static void keyfile_wrong_passphrase_is_reported_as_passphrase(void **state)
{
    uint8_t file[FILE_LEN], secret[SECRET_LEN], out[SECRET_LEN];
    make_file(file, secret, 3);
    memset(out, 0xAA, sizeof out);
    assert_int_equal(zhtp_keyfile_decode(out, sizeof out, NULL, file, sizeof file,
                                         "correct horse battery stapler", 29),
                     ZHTP_ERR_KEYFILE_PASSPHRASE);
    uint8_t zero[SECRET_LEN] = {0};
    assert_memory_equal(out, zero, sizeof out); /* wiped on error */
    assert_int_equal(decode(file, sizeof file, ""), ZHTP_ERR_KEYFILE_PASSPHRASE);
}

static void keyfile_every_truncation_is_truncated(void **state)
{
    uint8_t file[FILE_LEN], secret[SECRET_LEN];
    make_file(file, secret, 4);
    for (size_t len = 0; len < FILE_LEN; len++)
        if (decode(file, len, pass) != ZHTP_ERR_KEYFILE_TRUNCATED)
            fail_msg("truncated to %zu bytes: %s", len,
                     zhtp_err_name((int)decode(file, len, pass)));
}

static void keyfile_every_flipped_bit_after_version_is_corrupt(void **state)
{
    uint8_t file[FILE_LEN], secret[SECRET_LEN];
    make_file(file, secret, 5);
    for (size_t bit = 9 * 8; bit < FILE_LEN * 8; bit++) {
        file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        zhtp_ssize rc = decode(file, sizeof file, pass);
        if (rc != ZHTP_ERR_KEYFILE_CORRUPT)
            fail_msg("bit %zu flipped: %s", bit, zhtp_err_name((int)rc));
        file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(decode(file, sizeof file, pass), SECRET_LEN); /* restored intact */
}

static void keyfile_bad_magic_or_version_is_format(void **state)
{
    uint8_t file[FILE_LEN], secret[SECRET_LEN];
    make_file(file, secret, 6);
    for (size_t bit = 0; bit < 9 * 8; bit++) {
        file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(decode(file, sizeof file, pass), ZHTP_ERR_KEYFILE_FORMAT);
        file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* A version 2 file with valid checksums is still "unknown version", not corrupt. */
    file[8] = 2;
    reseal(file, sizeof file);
    assert_int_equal(decode(file, sizeof file, pass), ZHTP_ERR_KEYFILE_FORMAT);
    /* Short inputs that are not a prefix of the magic are not key files at all. */
    assert_int_equal(decode((const uint8_t *)"PK\3\4", 4, pass), ZHTP_ERR_KEYFILE_FORMAT);
    assert_int_equal(decode((const uint8_t *)"ZHTPKEY", 7, pass), ZHTP_ERR_KEYFILE_TRUNCATED);
}

static void keyfile_appended_bytes_are_corrupt(void **state)
{
    uint8_t file[FILE_LEN + 1], secret[SECRET_LEN];
    make_file(file, secret, 7);
    file[FILE_LEN] = 0;
    assert_int_equal(decode(file, sizeof file, pass), ZHTP_ERR_KEYFILE_CORRUPT);
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void keyfile_rejects_absurd_kdf_parameters_before_allocating(void **state)
{
    static const uint64_t cases[][2] = {
        {1, (uint64_t)1 << 40},                         /* 1 TiB */
        {1, (uint64_t)ZHTP_KEYFILE_MEMLIMIT_MAX + 1},   /* just over the cap */
        {(uint64_t)1 << 32, ZHTP_KEYFILE_MEMLIMIT_MIN}, /* hours of CPU */
        {ZHTP_KEYFILE_OPSLIMIT_MAX + 1, ZHTP_KEYFILE_MEMLIMIT_MIN},
        {0, ZHTP_KEYFILE_MEMLIMIT_MIN},
        {1, ZHTP_KEYFILE_MEMLIMIT_MIN - 1},
        {UINT64_MAX, UINT64_MAX},
    };
    uint8_t file[FILE_LEN], secret[SECRET_LEN];
    make_file(file, secret, 8);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t f[FILE_LEN];
        memcpy(f, file, sizeof f);
        put_le64(f + 16, cases[i][0]);
        put_le64(f + 24, cases[i][1]);
        reseal(f, sizeof f);
        assert_int_equal(decode(f, sizeof f, pass), ZHTP_ERR_KEYFILE_FORMAT);
        assert_int_equal(zhtp_keyfile_inspect(f, sizeof f, NULL, NULL, NULL),
                         ZHTP_ERR_KEYFILE_FORMAT);
    }
    /* The encoder refuses them too. */
    zhtp_keyfile_params big = {1, (uint64_t)ZHTP_KEYFILE_MEMLIMIT_MAX * 2};
    assert_int_equal(zhtp_keyfile_encode(file, sizeof file, ZHTP_KEYFILE_KIND_IDENTITY, secret,
                                         sizeof secret, pass, strlen(pass), &big),
                     ZHTP_ERR_INVAL);
}

static void keyfile_unknown_kind_or_algorithm_is_format(void **state)
{
    uint8_t file[FILE_LEN], secret[SECRET_LEN];
    make_file(file, secret, 9);
    for (size_t off = 9; off <= 11; off++) {
        uint8_t f[FILE_LEN];
        memcpy(f, file, sizeof f);
        f[off] = 0x7f;
        reseal(f, sizeof f);
        assert_int_equal(decode(f, sizeof f, pass), ZHTP_ERR_KEYFILE_FORMAT);
    }
}

static void keyfile_random_garbage_is_rejected_without_crashing(void **state)
{
    zt_rng r;
    zt_rng_seed(&r, 10);
    uint8_t buf[FILE_LEN + 64];
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)zt_rng_below(&r, sizeof buf + 1);
        zt_rng_bytes(&r, buf, len);
        if (i % 2 && len >= 9) { /* half of them get a valid magic and version */
            memcpy(buf, "ZHTPKEY\0\1", 9);
        }
        zhtp_ssize rc = decode(buf, len, pass);
        assert_true(rc < 0);
    }
}

static void keyfile_small_buffers_are_refused(void **state)
{
    uint8_t file[FILE_LEN], secret[SECRET_LEN], out[SECRET_LEN];
    make_file(file, secret, 11);
    assert_int_equal(
        zhtp_keyfile_decode(out, SECRET_LEN - 1, NULL, file, sizeof file, pass, strlen(pass)),
        ZHTP_ERR_NOBUF);
    uint8_t small[FILE_LEN - 1];
    assert_int_equal(zhtp_keyfile_encode(small, sizeof small, ZHTP_KEYFILE_KIND_IDENTITY, secret,
                                         sizeof secret, pass, strlen(pass), &fast),
                     ZHTP_ERR_NOBUF);
    assert_int_equal(zhtp_keyfile_encode(file, sizeof file, 0x42, secret, sizeof secret, pass,
                                         strlen(pass), &fast),
                     ZHTP_ERR_INVAL);
}

/* ---- files ---------------------------------------------------------------------------------- */

static char *make_tmpdir(void)
{
    char *d = strdup("/tmp/zhtp-keyfile-test-XXXXXX");
    assert_non_null(d);
    assert_non_null(mkdtemp(d));
    return d;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void rm_tree(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void keyfile_write_is_mode_0600_and_refuses_overwrite(void **state)
{
    char *dir = make_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/id.key", dir);
    uint8_t file[FILE_LEN], secret[SECRET_LEN];
    make_file(file, secret, 12);
    mode_t old = umask(0); /* the write must not rely on the umask for 0600 */
    int rc = zhtp_keyfile_write_atomic(path, file, sizeof file, false);
    umask(old);
    assert_int_equal(rc, ZHTP_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    uint8_t back[ZHTP_KEYFILE_MAX_BYTES];
    assert_int_equal(zhtp_keyfile_read(path, back, sizeof back), FILE_LEN);
    assert_memory_equal(back, file, FILE_LEN);

    uint8_t other[FILE_LEN];
    make_file(other, secret, 13);
    assert_int_equal(zhtp_keyfile_write_atomic(path, other, sizeof other, false), ZHTP_ERR_EXISTS);
    assert_int_equal(zhtp_keyfile_read(path, back, sizeof back), FILE_LEN);
    assert_memory_equal(back, file, FILE_LEN);
    assert_int_equal(count_entries(dir), 1); /* no temp file left behind */

    assert_int_equal(zhtp_keyfile_write_atomic(path, other, sizeof other, true), ZHTP_OK);
    assert_int_equal(zhtp_keyfile_read(path, back, sizeof back), FILE_LEN);
    assert_memory_equal(back, other, FILE_LEN);
    assert_int_equal(count_entries(dir), 1);
    rm_tree(dir);
    free(dir);
}

static void keyfile_failed_write_leaves_target_unchanged(void **state)
{
    char *dir = make_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/id.key", dir);
    uint8_t file[FILE_LEN], other[FILE_LEN], secret[SECRET_LEN], back[ZHTP_KEYFILE_MAX_BYTES];
    make_file(file, secret, 14);
    make_file(other, secret, 15);
    assert_int_equal(zhtp_keyfile_write_atomic(path, file, sizeof file, false), ZHTP_OK);

    /* 1. The write itself fails half-way: a file size limit below the file's size (works for
     *    root too, unlike a read-only directory). */
    struct rlimit saved, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    lim = saved;
    lim.rlim_cur = 100;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = zhtp_keyfile_write_atomic(path, other, sizeof other, true);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, ZHTP_ERR_IO);
    assert_int_equal(zhtp_keyfile_read(path, back, sizeof back), FILE_LEN);
    assert_memory_equal(back, file, FILE_LEN);
    assert_int_equal(count_entries(dir), 1);

    /* 2. The directory is not writable (meaningful only when not root). */
    if (geteuid() != 0) {
        assert_int_equal(chmod(dir, 0500), 0);
        assert_int_equal(zhtp_keyfile_write_atomic(path, other, sizeof other, true), ZHTP_ERR_IO);
        assert_int_equal(chmod(dir, 0700), 0);
        assert_int_equal(zhtp_keyfile_read(path, back, sizeof back), FILE_LEN);
        assert_memory_equal(back, file, FILE_LEN);
    }

    /* 3. The final rename fails: the target is a non-empty directory. */
    char sub[600], inner[700];
    snprintf(sub, sizeof sub, "%s/sub.key", dir);
    snprintf(inner, sizeof inner, "%s/x", sub);
    assert_int_equal(mkdir(sub, 0700), 0);
    FILE *f = fopen(inner, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(zhtp_keyfile_write_atomic(sub, other, sizeof other, true), ZHTP_ERR_IO);
    assert_int_equal(count_entries(dir), 2); /* id.key and sub.key only */
    assert_int_equal(count_entries(sub), 1);
    rm_tree(dir);
    free(dir);
}

static void keyfile_read_rejects_missing_and_oversized_files(void **state)
{
    char *dir = make_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/big.key", dir);
    uint8_t buf[ZHTP_KEYFILE_MAX_BYTES];
    assert_int_equal(zhtp_keyfile_read(path, buf, sizeof buf), ZHTP_ERR_NOTFOUND);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < ZHTP_KEYFILE_MAX_BYTES + 1; i++)
        fputc('Z', f);
    fclose(f);
    assert_int_equal(zhtp_keyfile_read(path, buf, sizeof buf), ZHTP_ERR_KEYFILE_FORMAT);
    rm_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keyfile_round_trip_returns_the_secret),
        cmocka_unit_test(keyfile_round_trip_at_interactive_cost),
        cmocka_unit_test(keyfile_wrong_passphrase_is_reported_as_passphrase),
        cmocka_unit_test(keyfile_every_truncation_is_truncated),
        cmocka_unit_test(keyfile_every_flipped_bit_after_version_is_corrupt),
        cmocka_unit_test(keyfile_bad_magic_or_version_is_format),
        cmocka_unit_test(keyfile_appended_bytes_are_corrupt),
        cmocka_unit_test(keyfile_rejects_absurd_kdf_parameters_before_allocating),
        cmocka_unit_test(keyfile_unknown_kind_or_algorithm_is_format),
        cmocka_unit_test(keyfile_random_garbage_is_rejected_without_crashing),
        cmocka_unit_test(keyfile_small_buffers_are_refused),
        cmocka_unit_test(keyfile_write_is_mode_0600_and_refuses_overwrite),
        cmocka_unit_test(keyfile_failed_write_leaves_target_unchanged),
        cmocka_unit_test(keyfile_read_rejects_missing_and_oversized_files),
    };
    return cmocka_run_group_tests_name("keyfile", tests, NULL, NULL);
}
