/* net_test.c — address parsing, listen on a free port, connect. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/err.h"
#include "sys/net.h"

#include <string.h>
#include <unistd.h>

static void test_hostport(void **state)
{
    char h[64];
    uint16_t p;
    assert_int_equal(sl_net_split_hostport("127.0.0.1:8080", h, sizeof(h), &p), 0);
    assert_string_equal(h, "127.0.0.1");
    assert_int_equal(p, 8080);
    assert_int_equal(sl_net_split_hostport("[::1]:9", h, sizeof(h), &p), 0);
    assert_string_equal(h, "::1");
    assert_int_equal(sl_net_split_hostport(":0", h, sizeof(h), &p), 0);
    assert_string_equal(h, "127.0.0.1");
    assert_int_equal(sl_net_split_hostport("9000", h, sizeof(h), &p), 0);
    assert_int_equal(p, 9000);
    assert_int_equal(sl_net_split_hostport("host:99999", h, sizeof(h), &p), SL_EINVAL);
    assert_int_equal(sl_net_split_hostport("host:", h, sizeof(h), &p), SL_EINVAL);
    assert_int_equal(sl_net_split_hostport("[::1]9", h, sizeof(h), &p), SL_EINVAL);
}

static void test_listen_connect(void **state)
{
    int l = sl_net_listen_tcp("127.0.0.1", 0, 4);
    assert_true(l >= 0);
    int port = sl_net_local_port(l);
    assert_true(port > 0);
    int c = sl_net_connect_tcp("127.0.0.1", (uint16_t)port);
    assert_true(c >= 0);
    close(c);
    close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_hostport),
                                       cmocka_unit_test(test_listen_connect)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
