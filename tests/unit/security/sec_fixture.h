/* Helpers shared by the security/ tests: seeded wallets, temp directories, signed lines. */
#ifndef ZHTP_TEST_SEC_FIXTURE_H
#define ZHTP_TEST_SEC_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "zhtp/security.h"
#include "zhtp/util.h"

static inline zhtp_wallet *sec_wallet(uint64_t seed)
{
    zt_rng r;
    uint8_t s[ZHTP_IDENTITY_SEEDBYTES];
    zt_rng_seed(&r, seed);
    zt_rng_bytes(&r, s, sizeof s);
    zhtp_wallet *w = NULL;
    assert_int_equal(zhtp_wallet_from_seed(&w, s), ZHTP_OK);
    return w;
}

static inline int sec_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static inline void sec_rm_rf(const char *dir)
{
    nftw(dir, sec_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory under /tmp (the caller removes it with sec_rm_rf). */
static inline void sec_tmpdir(char dir[64], const char *name)
{
    snprintf(dir, 64, "/tmp/zhtp-%s-XXXXXX", name);
    assert_non_null(mkdtemp(dir));
}

/* A signed request line with nonce derived from nonce_seed. Returns the length. */
static inline size_t sec_line(char *out, size_t cap, const zhtp_wallet *w, const char *op,
                              const zhtp_ctl_arg *args, size_t n_args, uint64_t nonce_seed,
                              int64_t ts)
{
    uint8_t nonce[16];
    zt_rng r;
    zt_rng_seed(&r, nonce_seed);
    zt_rng_bytes(&r, nonce, sizeof nonce);
    zhtp_ssize n = zhtp_ctl_request_build(out, cap, w, op, args, n_args, nonce, sizeof nonce, ts);
    assert_true(n > 0);
    return (size_t)n;
}

static inline void sec_pk_hex(char out[ZHTP_WALLET_PK_HEX + 1], const zhtp_wallet *w)
{
    assert_int_equal(zhtp_hex_encode(out, ZHTP_WALLET_PK_HEX + 1, zhtp_wallet_public_key(w),
                                     ZHTP_WALLET_PK_BYTES),
                     ZHTP_WALLET_PK_HEX);
}

#endif
