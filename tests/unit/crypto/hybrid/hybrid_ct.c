/* Secret-taint test for the hybrids and the identity under valgrind memcheck: seeds, secret
 * keys and encapsulation randomness are marked undefined, so a branch or memory index that
 * depends on them is reported, and --error-exitcode turns the report into a failure.
 * Results are declassified only after each operation, to compare and print them.
 * The one declassification in the library: whether an X25519 result is all zero, which
 * happens exactly when the peer's public value has small order (public). Argon2id (key files)
 * is data-dependent by design (the "d" half of Argon2id) and is not tested here. */
#include <stdio.h>
#include <string.h>

#include "zhtp/ct.h"
#include "zhtp/identity.h"

static int n_test, failures;

static void report(int ok, const char *what)
{
    printf("%s %d - %s\n", ok ? "ok" : "not ok", ++n_test, what);
    failures += !ok;
}

int main(void)
{
    static uint8_t kpk[ZHTP_KEM_HYBRID_PUBLICKEYBYTES], ksk[ZHTP_KEM_HYBRID_SECRETKEYBYTES];
    static uint8_t ct[ZHTP_KEM_HYBRID_CIPHERTEXTBYTES], ss1[32], ss2[32];
    static uint8_t spk[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES], ssk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES];
    static uint8_t sig[ZHTP_SIGN_HYBRID_BYTES];
    uint8_t kseed[ZHTP_KEM_HYBRID_SEEDBYTES], eseed[ZHTP_KEM_HYBRID_ENCAPS_SEEDBYTES];
    uint8_t sseed[ZHTP_SIGN_HYBRID_SEEDBYTES], rnd[32];
    for (size_t i = 0; i < sizeof kseed; i++)
        kseed[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof eseed; i++)
        eseed[i] = (uint8_t)(i * 11 + 3);
    for (size_t i = 0; i < sizeof sseed; i++)
        sseed[i] = (uint8_t)(i * 13 + 5);
    memset(rnd, 0x42, sizeof rnd);
    printf("1..5\n");

    ZHTP_CT_SECRET(kseed, sizeof kseed);
    int rc = zhtp_kem_hybrid_keypair_from_seed(kpk, ksk, kseed);
    ZHTP_CT_DECLASSIFY(kpk, sizeof kpk);
    report(rc == ZHTP_OK, "hybrid KEM keygen with secret seeds");

    ZHTP_CT_SECRET(eseed, sizeof eseed);
    rc = zhtp_kem_hybrid_encaps_from_seed(ct, ss1, kpk, eseed);
    ZHTP_CT_DECLASSIFY(&rc, sizeof rc);
    ZHTP_CT_DECLASSIFY(ct, sizeof ct);
    ZHTP_CT_DECLASSIFY(ss1, sizeof ss1);
    report(rc == ZHTP_OK, "hybrid KEM encaps with secret ephemeral randomness");

    ZHTP_CT_SECRET(ksk, sizeof ksk);
    rc = zhtp_kem_hybrid_decaps(ss2, ct, sizeof ct, ksk);
    ZHTP_CT_DECLASSIFY(&rc, sizeof rc);
    ZHTP_CT_DECLASSIFY(ss2, sizeof ss2);
    report(rc == ZHTP_OK && memcmp(ss1, ss2, 32) == 0, "hybrid KEM decaps with a secret key");

    ZHTP_CT_SECRET(sseed, sizeof sseed);
    rc = zhtp_sign_hybrid_keypair_from_seed(spk, ssk, sseed);
    ZHTP_CT_DECLASSIFY(spk, sizeof spk);
    ZHTP_CT_DECLASSIFY(&rc, sizeof rc);
    report(rc == ZHTP_OK, "hybrid signature keygen with secret seeds");

    static const uint8_t msg[] = "hybrid ct";
    ZHTP_CT_SECRET(ssk, sizeof ssk);
    /* The ed25519 pk and ML-DSA pk stored inside sk are public. */
    ZHTP_CT_DECLASSIFY(ssk + 32, 32);
    ZHTP_CT_DECLASSIFY(ssk + 64 + ZHTP_MLDSA44_SECRETKEYBYTES, ZHTP_MLDSA44_PUBLICKEYBYTES);
    ZHTP_CT_SECRET(rnd, sizeof rnd);
    rc = zhtp_sign_hybrid_sign_from_seed(sig, msg, sizeof msg, NULL, 0, ssk, rnd);
    ZHTP_CT_DECLASSIFY(sig, sizeof sig);
    ZHTP_CT_DECLASSIFY(&rc, sizeof rc);
    report(rc == ZHTP_OK && zhtp_sign_hybrid_verify(sig, sizeof sig, msg, sizeof msg, NULL, 0, spk,
                                                    sizeof spk) == ZHTP_OK,
           "hybrid sign with a secret key and secret randomness");
    return failures != 0;
}
