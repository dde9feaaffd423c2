/* curvekeys_test.c — CurveZMQ key text forms: the seed's example pair, Z85 vectors, errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/err.h"
#include "sys/curvekeys.h"

#include <string.h>

/* The aggregator's `docker run` example (systems.md §1.0): hex-encoded Z85. */
#define SEED_SECRET                                                                                \
    "693F66214F327A76785550413A5E253C3E6D70657A217B4155407A666A305876477B68495A2F5D36"
#define SEED_PUBLIC                                                                                \
    "5A5832576F434D2D57367D667148464865326E3C4B74586B733C574C7A624E6355642D5239282E72"
#define SEED_SECRET_Z85 "i?f!O2zvxUPA:^%<>mpez!{AU@zfj0XvG{hIZ/]6"
#define SEED_SECRET_RAW "3a9c664a078479dda006ed68e5d9bc3c6f6c1ceafd4fa40eb8b9cf248b2a222e"
#define SEED_PUBLIC_RAW "bff4ca9878048405f978f36d864dbb0f9036208ae546924c98ec0a05a544285e"

static void test_seed_keys(void **state)
{
    uint8_t k[32], k2[32];
    char out[SL_CURVEKEY_TEXT_MAX];
    assert_int_equal(sl_curvekey_parse(SEED_SECRET, strlen(SEED_SECRET), k, NULL), 0);
    sl_curvekey_format(k, SL_CURVEKEY_HEX, out);
    assert_string_equal(out, SEED_SECRET_RAW);
    sl_curvekey_format(k, SL_CURVEKEY_Z85, out);
    assert_string_equal(out, SEED_SECRET_Z85);
    sl_curvekey_format(k, SL_CURVEKEY_HEX_Z85, out);
    assert_string_equal(out, SEED_SECRET);
    /* the same key in the two other forms */
    assert_int_equal(sl_curvekey_parse(SEED_SECRET_Z85, 40, k2, NULL), 0);
    assert_memory_equal(k, k2, 32);
    assert_int_equal(sl_curvekey_parse(SEED_SECRET_RAW, 64, k2, NULL), 0);
    assert_memory_equal(k, k2, 32);
    assert_int_equal(sl_curvekey_parse(SEED_PUBLIC, strlen(SEED_PUBLIC), k, NULL), 0);
    sl_curvekey_format(k, SL_CURVEKEY_HEX, out);
    assert_string_equal(out, SEED_PUBLIC_RAW);
    /* lower-case hex and white space around */
    const char *lower =
        "  693f66214f327a76785550413a5e253c3e6d70657a217b4155407a666a305876477b68495a"
        "2f5d36\n";
    assert_int_equal(sl_curvekey_parse(lower, strlen(lower), k2, NULL), 0);
    assert_int_equal(sl_curvekey_parse(SEED_SECRET, 80, k, NULL), 0);
    assert_memory_equal(k, k2, 32);
}

static void test_z85_rfc_vector(void **state)
{
    /* ZeroMQ RFC 32 test vector */
    static const uint8_t hello[8] = {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B};
    char out[11];
    assert_int_equal(sl_z85_encode(hello, 8, out), 0);
    assert_string_equal(out, "HelloWorld");
    uint8_t back[8];
    assert_int_equal(sl_z85_decode("HelloWorld", 10, back), 0);
    assert_memory_equal(back, hello, 8);
    assert_int_equal(sl_z85_encode(hello, 7, out), SL_EINVAL);
    assert_int_equal(sl_z85_decode("Hello", 4, back), SL_EINVAL);
    assert_int_equal(sl_z85_decode("Hel~o", 5, back), SL_EINVAL);
    assert_int_equal(sl_z85_decode("#####", 5, back), SL_EINVAL); /* > 2^32 - 1 */
}

static void test_errors(void **state)
{
    uint8_t k[32];
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_curvekey_parse("abc", 3, k, &d), SL_EINVAL);
    assert_non_null(strstr(d.msg, "not 3 characters"));
    char bad80[81];
    memcpy(bad80, SEED_SECRET, 81);
    bad80[5] = 'x';
    sl_diag_init(&d);
    assert_int_equal(sl_curvekey_parse(bad80, 80, k, &d), SL_EINVAL);
    assert_non_null(strstr(d.msg, "hex-encoded Z85"));
    char bad40[41];
    memcpy(bad40, SEED_SECRET_Z85, 41);
    bad40[0] = '~';
    assert_int_equal(sl_curvekey_parse(bad40, 40, k, NULL), SL_EINVAL);
    char bad64[65];
    memcpy(bad64, SEED_SECRET_RAW, 65);
    bad64[63] = 'g';
    assert_int_equal(sl_curvekey_parse(bad64, 64, k, NULL), SL_EINVAL);
    assert_int_equal(sl_curvekey_parse("", 0, k, NULL), SL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_keys),
        cmocka_unit_test(test_z85_rfc_vector),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
