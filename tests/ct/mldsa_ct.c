/* Secret-taint test for ML-DSA-44 (run under valgrind memcheck, see meson.build): xi, the
 * secret key and rnd are marked undefined; a branch or memory index that depends on them is
 * reported as a use of uninitialised data and fails the run. Outputs are declassified before
 * they are compared or printed. Runs once per available backend (portable, avx2). Prints TAP. */
#include <stdio.h>
#include <string.h>

#include "zhtp/ct.h"
#include "zhtp/mldsa.h"

static int n_test;

static void report(int ok, const char *what)
{
    printf("%sok %d - %s (%s)\n", ok ? "" : "not ", ++n_test, what, zhtp_sign_mldsa44_impl());
}

static void run(const char *impl);

int main(void)
{
    const char *impls[2] = {"portable", "avx2"};
    int have[2];
    int n = 0;
    for (int i = 0; i < 2; i++) {
        have[i] = zhtp_sign_mldsa44_set_impl(impls[i]) == ZHTP_OK;
        n += have[i];
    }
    printf("1..%d\n", 7 * n);
    for (int i = 0; i < 2; i++) {
        if (have[i]) {
            zhtp_sign_mldsa44_set_impl(impls[i]);
            run(impls[i]);
        }
    }
    return 0;
}

static void run(const char *impl)
{
    static uint8_t pk[ZHTP_MLDSA44_PUBLICKEYBYTES], sk[ZHTP_MLDSA44_SECRETKEYBYTES];
    static uint8_t sig[ZHTP_MLDSA44_BYTES];
    uint8_t xi[ZHTP_MLDSA44_SEEDBYTES], rnd[ZHTP_MLDSA44_RNDBYTES], mu[ZHTP_MLDSA44_MUBYTES];
    const uint8_t msg[] = "constant-time check";
    const uint8_t ctx[] = "ct";
    int rc;

    printf("# backend %s\n", impl);
    for (size_t i = 0; i < sizeof xi; i++)
        xi[i] = (uint8_t)(7 * i + 1);

    ZHTP_CT_SECRET(xi, sizeof xi);
    rc = zhtp_sign_mldsa44_keypair_from_seed(pk, sk, xi);
    ZHTP_CT_DECLASSIFY(pk, sizeof pk);
    ZHTP_CT_DECLASSIFY(&rc, sizeof rc);
    report(rc == 0, "keygen from a secret xi");

    /* Deterministic pure signing with the whole secret key secret. */
    ZHTP_CT_SECRET(sk, sizeof sk);
    rc = zhtp_sign_mldsa44_sign_deterministic(sig, msg, sizeof msg, ctx, 2, sk);
    ZHTP_CT_DECLASSIFY(sig, sizeof sig);
    ZHTP_CT_DECLASSIFY(&rc, sizeof rc);
    report(rc == 0 && zhtp_sign_mldsa44_verify(sig, sizeof sig, msg, sizeof msg, ctx, 2, pk) == 0,
           "deterministic sign with a secret key");

    /* Hedged signing (rnd from libsodium). */
    ZHTP_CT_SECRET(sk, sizeof sk);
    rc = zhtp_sign_mldsa44_sign(sig, msg, sizeof msg, ctx, 2, sk);
    ZHTP_CT_DECLASSIFY(sig, sizeof sig);
    ZHTP_CT_DECLASSIFY(&rc, sizeof rc);
    report(rc == 0 && zhtp_sign_mldsa44_verify(sig, sizeof sig, msg, sizeof msg, ctx, 2, pk) == 0,
           "hedged sign with a secret key");

    /* Sign_internal with a secret rnd. */
    memset(rnd, 0x5a, sizeof rnd);
    ZHTP_CT_SECRET(rnd, sizeof rnd);
    ZHTP_CT_SECRET(sk, sizeof sk);
    rc = zhtp_sign_mldsa44_sign_internal(sig, msg, sizeof msg, rnd, sk);
    ZHTP_CT_DECLASSIFY(sig, sizeof sig);
    ZHTP_CT_DECLASSIFY(&rc, sizeof rc);
    report(rc == 0 && zhtp_sign_mldsa44_verify_internal(sig, sizeof sig, msg, sizeof msg, pk) == 0,
           "Sign_internal with a secret key and rnd");

    /* External mu. */
    memset(mu, 0x33, sizeof mu);
    ZHTP_CT_SECRET(sk, sizeof sk);
    rc = zhtp_sign_mldsa44_sign_internal_mu(sig, mu, rnd, sk);
    ZHTP_CT_DECLASSIFY(sig, sizeof sig);
    ZHTP_CT_DECLASSIFY(&rc, sizeof rc);
    report(rc == 0 && zhtp_sign_mldsa44_verify_internal_mu(sig, sizeof sig, mu, pk) == 0,
           "Sign_internal with external mu");

    /* HashML-DSA (SHA2-512 pre-hash) with a secret key and rnd. */
    ZHTP_CT_SECRET(rnd, sizeof rnd);
    ZHTP_CT_SECRET(sk, sizeof sk);
    rc = zhtp_sign_mldsa44_prehash_sign_rnd(sig, msg, sizeof msg, ctx, 2, ZHTP_MLDSA_PH_SHA2_512,
                                            rnd, sk);
    ZHTP_CT_DECLASSIFY(sig, sizeof sig);
    ZHTP_CT_DECLASSIFY(&rc, sizeof rc);
    report(rc == 0 && zhtp_sign_mldsa44_prehash_verify(sig, sizeof sig, msg, sizeof msg, ctx, 2,
                                                       ZHTP_MLDSA_PH_SHA2_512, pk) == 0,
           "HashML-DSA sign with a secret key and rnd");

    /* Many messages, so the rejection loop runs through its rarer exits too. */
    int all = 1;
    for (unsigned i = 0; i < 20; i++) {
        uint8_t m[4] = {(uint8_t)i, 1, 2, 3};
        ZHTP_CT_SECRET(sk, sizeof sk);
        rc = zhtp_sign_mldsa44_sign_deterministic(sig, m, sizeof m, NULL, 0, sk);
        ZHTP_CT_DECLASSIFY(sig, sizeof sig);
        ZHTP_CT_DECLASSIFY(&rc, sizeof rc);
        all &= rc == 0 && zhtp_sign_mldsa44_verify(sig, sizeof sig, m, sizeof m, NULL, 0, pk) == 0;
    }
    report(all, "20 deterministic signatures");
}
