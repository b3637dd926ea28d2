#include <string.h>

#include "zhtp/err.h"
#include "zhtp/util.h"

#include "testutil.h"

#define CODE_(name, value, msg) value,
static const int all_codes[] = {ZHTP_ERR_LIST(CODE_)};
#undef CODE_

static void strerror_gives_each_code_a_distinct_message(void **state)
{
    size_t n = sizeof all_codes / sizeof all_codes[0];
    for (size_t i = 0; i < n; i++) {
        assert_non_null(zhtp_strerror(all_codes[i]));
        assert_non_null(zhtp_err_name(all_codes[i]));
        for (size_t j = i + 1; j < n; j++) {
            assert_int_not_equal(all_codes[i], all_codes[j]);
            assert_string_not_equal(zhtp_strerror(all_codes[i]), zhtp_strerror(all_codes[j]));
        }
    }
    assert_string_equal(zhtp_strerror(12345), "unknown error");
    assert_null(zhtp_err_name(12345));
}

static void fatal_class_is_minus_900_and_below(void **state)
{
    assert_true(zhtp_err_is_fatal(ZHTP_ERR_INTERNAL));
    assert_false(zhtp_err_is_fatal(ZHTP_ERR_INVAL));
    assert_false(zhtp_err_is_fatal(ZHTP_OK));
}

static void hex_round_trips_and_rejects_bad_digits(void **state)
{
    const uint8_t in[] = {0x00, 0x01, 0xab, 0xff};
    char hex[9];
    uint8_t back[4];
    assert_int_equal(zhtp_hex_encode(hex, sizeof hex, in, 4), 8);
    assert_string_equal(hex, "0001abff");
    assert_int_equal(zhtp_hex_encode(hex, 8, in, 4), ZHTP_ERR_NOBUF);
    assert_int_equal(zhtp_hex_decode(back, 4, "0001ABff", 8), 4);
    assert_memory_equal(back, in, 4);
    assert_int_equal(zhtp_hex_decode(back, 4, "0g", 2), ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_hex_decode(back, 4, "000", 3), ZHTP_ERR_INVAL);
    assert_int_equal(zhtp_hex_decode(back, 1, "0001", 4), ZHTP_ERR_NOBUF);
}

static void ct_memcmp_compares(void **state)
{
    assert_int_equal(zhtp_ct_memcmp("abc", "abc", 3), 0);
    assert_int_not_equal(zhtp_ct_memcmp("abc", "abd", 3), 0);
    uint8_t buf[16];
    memset(buf, 0xaa, sizeof buf);
    zhtp_wipe(buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strerror_gives_each_code_a_distinct_message),
        cmocka_unit_test(fatal_class_is_minus_900_and_below),
        cmocka_unit_test(hex_round_trips_and_rejects_bad_digits),
        cmocka_unit_test(ct_memcmp_compares),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
