/* Cookies: mac1 binds the receiver and every byte, cookies bind the address and expire two
 * rotations later, sealed cookies open only with the right id and mac1, the rate counter. */
#include <string.h>

#include "cookie.h"
#include "testutil.h"

static void rng_cb(void *ud, uint8_t *out, size_t len)
{
    zt_rng_bytes(ud, out, len);
}

static void mac1_binds_receiver_and_every_byte(void **state)
{
    (void)state;
    uint8_t ids[64], body[300], r1[32], r2[32], m[16], m2[16];
    zt_rng rng;
    zt_rng_seed(&rng, 3);
    zt_rng_bytes(&rng, ids, sizeof ids);
    zt_rng_bytes(&rng, body, sizeof body);
    zt_rng_bytes(&rng, r1, sizeof r1);
    memcpy(r2, r1, 32);
    r2[31] ^= 1;
    zhtp_cookie_mac1(m, r1, ids, body, sizeof body);
    zhtp_cookie_mac1(m2, r2, ids, body, sizeof body);
    assert_memory_not_equal(m, m2, 16);
    for (size_t i = 0; i < sizeof body; i += 7) {
        body[i] ^= 0x20;
        zhtp_cookie_mac1(m2, r1, ids, body, sizeof body);
        assert_memory_not_equal(m, m2, 16);
        body[i] ^= 0x20;
    }
    ids[40] ^= 1;
    zhtp_cookie_mac1(m2, r1, ids, body, sizeof body);
    assert_memory_not_equal(m, m2, 16);
}

static void mac2_valid_only_for_the_cookie_address_and_two_secrets(void **state)
{
    (void)state;
    zt_rng rng;
    zt_rng_seed(&rng, 4);
    zhtp_cookie_state st;
    zhtp_cookie_init(&st, rng_cb, &rng, 0);
    zhtp_addr a = {.len = 6, .bytes = {1, 2, 3, 4, 5, 6}}, b = a;
    b.bytes[5] = 7;
    uint8_t ids[64] = {1}, body[50] = {2}, mac1[16] = {3}, cookie[32], mac2[16];
    zhtp_cookie_make(&st, cookie, 1, &a);
    zhtp_cookie_mac2(mac2, cookie, ids, body, sizeof body, mac1);
    assert_true(zhtp_cookie_check_mac2(&st, 1, &a, ids, body, sizeof body, mac1, mac2));
    assert_false(zhtp_cookie_check_mac2(&st, 1, &b, ids, body, sizeof body, mac1, mac2));
    assert_false(zhtp_cookie_check_mac2(&st, 2, &a, ids, body, sizeof body, mac1, mac2));
    mac1[0] ^= 1;
    assert_false(zhtp_cookie_check_mac2(&st, 1, &a, ids, body, sizeof body, mac1, mac2));
    mac1[0] ^= 1;
    zhtp_cookie_tick(&st, rng_cb, &rng, ZHTP_SESSION_COOKIE_ROTATE_NS - 1); /* not yet */
    assert_false(st.has_prev);
    zhtp_cookie_tick(&st, rng_cb, &rng, ZHTP_SESSION_COOKIE_ROTATE_NS);
    assert_true(zhtp_cookie_check_mac2(&st, 1, &a, ids, body, sizeof body, mac1, mac2));
    zhtp_cookie_tick(&st, rng_cb, &rng, 2 * ZHTP_SESSION_COOKIE_ROTATE_NS);
    assert_false(zhtp_cookie_check_mac2(&st, 1, &a, ids, body, sizeof body, mac1, mac2));
    zhtp_cookie_clear(&st);
}

static void sealed_cookie_opens_only_with_its_id_and_mac1(void **state)
{
    (void)state;
    uint8_t nonce[24] = {9}, rid[32] = {8}, mac1[16] = {7}, cookie[32], out[48], got[32];
    memset(cookie, 0x5c, sizeof cookie);
    zhtp_cookie_seal(out, nonce, rid, mac1, cookie);
    assert_int_equal(zhtp_cookie_open(got, out, nonce, rid, mac1), ZHTP_OK);
    assert_memory_equal(got, cookie, 32);
    mac1[3] ^= 1;
    assert_int_equal(zhtp_cookie_open(got, out, nonce, rid, mac1), ZHTP_ERR_CRYPTO_DECRYPT);
    mac1[3] ^= 1;
    rid[0] ^= 1;
    assert_int_equal(zhtp_cookie_open(got, out, nonce, rid, mac1), ZHTP_ERR_CRYPTO_DECRYPT);
    rid[0] ^= 1;
    for (int i = 0; i < 48; i++) {
        out[i] ^= 0x80;
        assert_int_equal(zhtp_cookie_open(got, out, nonce, rid, mac1), ZHTP_ERR_CRYPTO_DECRYPT);
        out[i] ^= 0x80;
    }
}

static void rate_counter_trips_above_the_rate_and_resets_each_second(void **state)
{
    (void)state;
    zt_rng rng;
    zt_rng_seed(&rng, 5);
    zhtp_cookie_state st;
    zhtp_cookie_init(&st, rng_cb, &rng, 0);
    for (int i = 0; i < 10; i++)
        assert_false(zhtp_cookie_count_init(&st, (zhtp_time)i * 1000, 10));
    assert_true(zhtp_cookie_count_init(&st, 20000, 10));
    assert_false(zhtp_cookie_count_init(&st, ZHTP_NS_PER_SEC, 10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mac1_binds_receiver_and_every_byte),
        cmocka_unit_test(mac2_valid_only_for_the_cookie_address_and_two_secrets),
        cmocka_unit_test(sealed_cookie_opens_only_with_its_id_and_mac1),
        cmocka_unit_test(rate_counter_trips_above_the_rate_and_resets_each_second),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
