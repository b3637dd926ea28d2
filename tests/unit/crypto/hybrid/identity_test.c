/* Node identity: determinism from seeds, the documented seed layout and node id, strict
 * parsing of the public identity, node id checks, and the identity through its key file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zhtp/blake3.h"
#include "zhtp/identity.h"
#include "zhtp/keyfile.h"
#include "zhtp/util.h"

#include "testutil.h"

#define PUB ZHTP_IDENTITY_PUBLIC_BYTES

static zhtp_identity *from_seed(uint64_t s, uint8_t seed[ZHTP_IDENTITY_SEEDBYTES])
{
    zt_rng r;
    zt_rng_seed(&r, s);
    zt_rng_bytes(&r, seed, ZHTP_IDENTITY_SEEDBYTES);
    zhtp_identity *id = NULL;
    assert_int_equal(zhtp_identity_from_seed(&id, seed), ZHTP_OK);
    assert_non_null(id);
    return id;
}

static void encode(uint8_t out[PUB], const zhtp_identity *id)
{
    assert_int_equal(zhtp_identity_public_encode(out, PUB, zhtp_identity_get_public(id)), PUB);
}

static void identity_from_seed_is_deterministic_and_follows_the_seed_layout(void **state)
{
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES], seed2[ZHTP_IDENTITY_SEEDBYTES];
    zhtp_identity *a = from_seed(1, seed), *b = from_seed(1, seed2);
    const zhtp_identity_public *pa = zhtp_identity_get_public(a), *pb = zhtp_identity_get_public(b);
    assert_memory_equal(pa, pb, sizeof *pa);
    uint8_t exported[ZHTP_IDENTITY_SEEDBYTES];
    zhtp_identity_export_seed(a, exported);
    assert_memory_equal(exported, seed, sizeof seed);
    /* seed = sig seed (64) || kem seed (96) */
    uint8_t spk[ZHTP_SIGN_HYBRID_PUBLICKEYBYTES], ssk[ZHTP_SIGN_HYBRID_SECRETKEYBYTES];
    uint8_t kpk[ZHTP_KEM_HYBRID_PUBLICKEYBYTES], ksk[ZHTP_KEM_HYBRID_SECRETKEYBYTES];
    assert_int_equal(zhtp_sign_hybrid_keypair_from_seed(spk, ssk, seed), ZHTP_OK);
    assert_int_equal(zhtp_kem_hybrid_keypair_from_seed(kpk, ksk, seed + 64), ZHTP_OK);
    assert_memory_equal(pa->sig_pk, spk, sizeof spk);
    assert_memory_equal(pa->kem_pk, kpk, sizeof kpk);
    zhtp_wipe(ssk, sizeof ssk);
    zhtp_wipe(ksk, sizeof ksk);
    zhtp_identity_free(a);
    zhtp_identity_free(b);
    zhtp_identity_free(NULL);
}

static void identity_node_id_is_the_documented_hash(void **state)
{
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES], enc[PUB], want[32];
    zhtp_identity *id = from_seed(2, seed);
    encode(enc, id);
    assert_int_equal(enc[0], 1);
    assert_memory_equal(enc + 1, zhtp_identity_get_public(id)->sig_pk,
                        ZHTP_SIGN_HYBRID_PUBLICKEYBYTES);
    assert_memory_equal(enc + 1 + ZHTP_SIGN_HYBRID_PUBLICKEYBYTES,
                        zhtp_identity_get_public(id)->kem_pk, ZHTP_KEM_HYBRID_PUBLICKEYBYTES);
    zhtp_blake3_derive_key(want, sizeof want, "zhtp 2026-11 node id v1", enc, sizeof enc);
    assert_memory_equal(zhtp_identity_get_public(id)->node_id, want, 32);
    zhtp_identity_free(id);
}

static void identity_generate_gives_distinct_identities(void **state)
{
    zhtp_identity *a = NULL, *b = NULL;
    assert_int_equal(zhtp_identity_generate(&a), ZHTP_OK);
    assert_int_equal(zhtp_identity_generate(&b), ZHTP_OK);
    assert_memory_not_equal(zhtp_identity_get_public(a)->node_id,
                            zhtp_identity_get_public(b)->node_id, 32);
    zhtp_identity_free(a);
    zhtp_identity_free(b);
}

static void identity_public_encode_then_decode_is_equal(void **state)
{
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES], enc[PUB + 1];
    zhtp_identity *id = from_seed(3, seed);
    assert_int_equal(zhtp_identity_public_encode(enc, PUB - 1, zhtp_identity_get_public(id)),
                     ZHTP_ERR_NOBUF);
    encode(enc, id);
    zhtp_identity_public p;
    assert_int_equal(zhtp_identity_public_decode(&p, enc, PUB), ZHTP_OK);
    assert_memory_equal(&p, zhtp_identity_get_public(id), sizeof p);
    zhtp_identity_free(id);
}

static void identity_check_node_id_accepts_own_rejects_others(void **state)
{
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES], enc[PUB], enc2[PUB];
    zhtp_identity *a = from_seed(4, seed), *b = from_seed(5, seed);
    encode(enc, a);
    encode(enc2, b);
    const uint8_t *ida = zhtp_identity_get_public(a)->node_id;
    zhtp_identity_public p;
    assert_int_equal(zhtp_identity_check_node_id(&p, enc, PUB, ida), ZHTP_OK);
    assert_memory_equal(p.node_id, ida, 32);
    assert_int_equal(zhtp_identity_check_node_id(NULL, enc2, PUB, ida),
                     ZHTP_ERR_CRYPTO_ID_MISMATCH);
    uint8_t id2[32];
    for (size_t bit = 0; bit < 256; bit += 7) {
        memcpy(id2, ida, 32);
        id2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(zhtp_identity_check_node_id(&p, enc, PUB, id2),
                         ZHTP_ERR_CRYPTO_ID_MISMATCH);
    }
    /* Swapping in b's KEM key changes the id: the id covers every key. */
    memcpy(enc + 1 + ZHTP_SIGN_HYBRID_PUBLICKEYBYTES, enc2 + 1 + ZHTP_SIGN_HYBRID_PUBLICKEYBYTES,
           ZHTP_KEM_HYBRID_PUBLICKEYBYTES);
    assert_int_equal(zhtp_identity_check_node_id(NULL, enc, PUB, ida), ZHTP_ERR_CRYPTO_ID_MISMATCH);
    zhtp_identity_free(a);
    zhtp_identity_free(b);
}

static void identity_public_decode_is_strict(void **state)
{
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES], enc[PUB + 1], t[PUB + 1];
    zhtp_identity *id = from_seed(6, seed);
    encode(enc, id);
    enc[PUB] = 0;
    zhtp_identity_public p;
    assert_int_equal(zhtp_identity_public_decode(&p, enc, PUB + 1), ZHTP_ERR_CRYPTO_LENGTH);
    assert_int_equal(zhtp_identity_public_decode(&p, enc, PUB - 1), ZHTP_ERR_CRYPTO_LENGTH);
    assert_int_equal(zhtp_identity_public_decode(&p, enc, 0), ZHTP_ERR_CRYPTO_LENGTH);
    memcpy(t, enc, PUB);
    t[0] = 2;
    assert_int_equal(zhtp_identity_public_decode(&p, t, PUB), ZHTP_ERR_UNSUPPORTED);
    t[0] = 0;
    assert_int_equal(zhtp_identity_public_decode(&p, t, PUB), ZHTP_ERR_UNSUPPORTED);
    /* Small-order Ed25519 half. */
    memcpy(t, enc, PUB);
    memset(t + 1, 0, 32);
    t[1] = 1;
    assert_int_equal(zhtp_identity_public_decode(&p, t, PUB), ZHTP_ERR_CRYPTO_BADKEY);
    uint8_t zero[sizeof p];
    memset(zero, 0, sizeof zero);
    assert_memory_equal(&p, zero, sizeof p); /* zeroed on error */
    /* Small-order X25519 half. */
    size_t kem = 1 + ZHTP_SIGN_HYBRID_PUBLICKEYBYTES;
    memcpy(t, enc, PUB);
    memset(t + kem, 0, 32);
    assert_int_equal(zhtp_identity_public_decode(&p, t, PUB), ZHTP_ERR_CRYPTO_BADKEY);
    /* ML-KEM coefficient >= q. */
    memcpy(t, enc, PUB);
    t[kem + 32] = 0xff;
    t[kem + 33] |= 0x0f;
    assert_int_equal(zhtp_identity_public_decode(&p, t, PUB), ZHTP_ERR_CRYPTO_BADKEY);
    assert_int_equal(zhtp_identity_public_decode(&p, enc, PUB), ZHTP_OK);
    zhtp_identity_free(id);
}

static void identity_signs_and_decapsulates_with_its_keys(void **state)
{
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES], sig[ZHTP_SIGN_HYBRID_BYTES],
        sig2[ZHTP_SIGN_HYBRID_BYTES];
    zhtp_identity *id = from_seed(7, seed);
    const zhtp_identity_public *p = zhtp_identity_get_public(id);
    const uint8_t m[] = "hello";
    assert_int_equal(zhtp_identity_sign(id, sig, m, 5, NULL, 0), ZHTP_OK);
    assert_int_equal(
        zhtp_sign_hybrid_verify(sig, sizeof sig, m, 5, NULL, 0, p->sig_pk, sizeof p->sig_pk),
        ZHTP_OK);
    assert_int_equal(zhtp_identity_sign_deterministic(id, sig, m, 5, NULL, 0), ZHTP_OK);
    assert_int_equal(zhtp_identity_sign_deterministic(id, sig2, m, 5, NULL, 0), ZHTP_OK);
    assert_memory_equal(sig, sig2, sizeof sig);
    uint8_t rnd[ZHTP_MLDSA44_RNDBYTES] = {5};
    assert_int_equal(zhtp_identity_sign_from_seed(id, sig, m, 5, NULL, 0, rnd), ZHTP_OK);
    assert_int_equal(zhtp_identity_sign_from_seed(id, sig2, m, 5, NULL, 0, rnd), ZHTP_OK);
    assert_memory_equal(sig, sig2, sizeof sig);
    assert_int_equal(
        zhtp_sign_hybrid_verify(sig, sizeof sig, m, 5, NULL, 0, p->sig_pk, sizeof p->sig_pk),
        ZHTP_OK);
    uint8_t ct[ZHTP_KEM_HYBRID_CIPHERTEXTBYTES], ss[32], ss2[32];
    assert_int_equal(zhtp_kem_hybrid_encaps(ct, ss, p->kem_pk), ZHTP_OK);
    assert_int_equal(zhtp_identity_decaps(id, ss2, ct, sizeof ct), ZHTP_OK);
    assert_memory_equal(ss, ss2, 32);
    zhtp_identity_free(id);
}

static void identity_survives_its_key_file(void **state)
{
    char dir[] = "/tmp/zhtp-identity-test-XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/node.key", dir);
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES];
    zhtp_identity *id = from_seed(8, seed), *back = NULL;
    zhtp_keyfile_params fast = {ZHTP_KEYFILE_OPSLIMIT_MIN, ZHTP_KEYFILE_MEMLIMIT_MIN};
    assert_int_equal(zhtp_identity_save(id, path, "pw", 2, &fast, false), ZHTP_OK);
    assert_int_equal(zhtp_identity_save(id, path, "pw", 2, &fast, false), ZHTP_ERR_EXISTS);
    assert_int_equal(zhtp_identity_load(&back, path, "pw", 2), ZHTP_OK);
    assert_memory_equal(zhtp_identity_get_public(back), zhtp_identity_get_public(id),
                        sizeof(zhtp_identity_public));
    zhtp_identity_free(back);
    assert_int_equal(zhtp_identity_load(&back, path, "pW", 2), ZHTP_ERR_KEYFILE_PASSPHRASE);
    assert_null(back);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(zhtp_identity_load(&back, path, "pw", 2), ZHTP_ERR_NOTFOUND);
    assert_int_equal(rmdir(dir), 0);
    zhtp_identity_free(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(identity_from_seed_is_deterministic_and_follows_the_seed_layout),
        cmocka_unit_test(identity_node_id_is_the_documented_hash),
        cmocka_unit_test(identity_generate_gives_distinct_identities),
        cmocka_unit_test(identity_public_encode_then_decode_is_equal),
        cmocka_unit_test(identity_check_node_id_accepts_own_rejects_others),
        cmocka_unit_test(identity_public_decode_is_strict),
        cmocka_unit_test(identity_signs_and_decapsulates_with_its_keys),
        cmocka_unit_test(identity_survives_its_key_file),
    };
    return cmocka_run_group_tests_name("identity", tests, NULL, NULL);
}
