/* Secret-taint test for ML-KEM-768 under valgrind memcheck: d, z, m and the secret key are
 * marked undefined, so any branch or memory index that depends on them (or on anything
 * computed from them) is reported, and --error-exitcode turns the report into a failure.
 * Outputs are declassified only after the operation, to compare and print them. */
#include <stdio.h>
#include <string.h>

#include "zhtp/ct.h"
#include "zhtp/mlkem.h"

#define PK ZHTP_MLKEM768_PUBLICKEYBYTES
#define SK ZHTP_MLKEM768_SECRETKEYBYTES
#define CT ZHTP_MLKEM768_CIPHERTEXTBYTES

static int n_test;

static void report(int ok, const char *impl, const char *what)
{
    printf("%s %d - %s %s\n", ok ? "ok" : "not ok", ++n_test, impl, what);
}

static int run(const char *impl)
{
    uint8_t d[32], z[32], m[32], pk[PK], sk[SK], ct[CT], ss_enc[32], ss_dec[32], ss_bad[32];
    int failures = 0;

    for (int i = 0; i < 32; i++) {
        d[i] = (uint8_t)(i * 7 + 1);
        z[i] = (uint8_t)(i * 13 + 5);
        m[i] = (uint8_t)(i * 29 + 3);
    }
    ZHTP_CT_SECRET(d, sizeof d);
    ZHTP_CT_SECRET(z, sizeof z);
    zhtp_kem_mlkem768_keypair_from_seed(pk, sk, d, z);
    ZHTP_CT_DECLASSIFY(pk, sizeof pk);
    report(1, impl, "keygen ran with secret d and z");

    ZHTP_CT_SECRET(m, sizeof m);
    int rc = zhtp_kem_mlkem768_encaps_from_seed(ct, ss_enc, pk, m);
    ZHTP_CT_DECLASSIFY(ct, sizeof ct);
    ZHTP_CT_DECLASSIFY(ss_enc, sizeof ss_enc);
    report(rc == ZHTP_OK, impl, "encaps ran with secret m");
    failures += rc != ZHTP_OK;

    ZHTP_CT_SECRET(sk, sizeof sk);
    rc = zhtp_kem_mlkem768_decaps(ss_dec, ct, sk);
    ZHTP_CT_DECLASSIFY(ss_dec, sizeof ss_dec);
    int ok = rc == ZHTP_OK && memcmp(ss_dec, ss_enc, 32) == 0;
    report(ok, impl, "decaps of a valid ciphertext with a secret key");
    failures += !ok;

    ct[17] ^= 0x20;
    ZHTP_CT_SECRET(sk, sizeof sk);
    rc = zhtp_kem_mlkem768_decaps(ss_bad, ct, sk);
    ZHTP_CT_DECLASSIFY(ss_bad, sizeof ss_bad);
    ok = rc == ZHTP_OK && memcmp(ss_bad, ss_enc, 32) != 0;
    report(ok, impl, "decaps of a modified ciphertext (implicit rejection) with a secret key");
    failures += !ok;
    return failures;
}

int main(void)
{
    const char *impls[] = {"portable", "avx2"};
    int failures = 0, n_impl = 0;

    for (int i = 0; i < 2; i++)
        n_impl += zhtp_kem_mlkem768_set_impl(impls[i]) == ZHTP_OK;
    printf("1..%d\n", 4 * n_impl);
    for (int i = 0; i < 2; i++)
        if (zhtp_kem_mlkem768_set_impl(impls[i]) == ZHTP_OK)
            failures += run(impls[i]);
    return failures != 0;
}
