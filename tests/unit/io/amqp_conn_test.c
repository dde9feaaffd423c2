/*
 * amqp_conn_test.c — the amqp helpers without a broker: URL parsing (defaults, percent-decoded
 * vhost, refused schemes, the password kept out of the shown form), reply texts, back-off
 * doubling and capping, a connect to a closed port failing with a reason and no leak.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "io/amqp_conn.h"

#include "base/err.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_url_full(void **state)
{
    (void)state;
    struct sl_amqp_url u;
    char err[256];
    assert_int_equal(
        sl_amqp_url_parse("amqp://bob:s%40cret@10.1.2.3:5673/%2F", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "10.1.2.3");
    assert_int_equal(u.port, 5673);
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.password, "s@cret");
    assert_string_equal(u.vhost, "/");
    assert_null(strstr(u.shown, "cret")); /* no password in logs */
    assert_string_equal(u.shown, "amqp://bob@10.1.2.3:5673/%2F");
    sl_amqp_url_fini(&u);

    assert_int_equal(sl_amqp_url_parse("amqp://h/prod%2Feu", &u, err, sizeof(err)), 0);
    assert_string_equal(u.vhost, "prod/eu");
    assert_int_equal(u.port, 5672);
    assert_string_equal(u.user, "guest");
    sl_amqp_url_fini(&u);
}

static void test_url_defaults(void **state)
{
    (void)state;
    struct sl_amqp_url u;
    char err[256];
    assert_int_equal(sl_amqp_url_parse("amqp://", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 5672);
    assert_string_equal(u.vhost, "/");
    sl_amqp_url_fini(&u);
    assert_int_equal(sl_amqp_url_parse("amqp://h:1/", &u, err, sizeof(err)), 0);
    assert_string_equal(u.vhost, "/"); /* an empty path is the default vhost */
    sl_amqp_url_fini(&u);
}

static void test_url_bad(void **state)
{
    (void)state;
    struct sl_amqp_url u;
    char err[256];
    const char *bad[] = {"",       "http://h",  "amqp://h:notaport/", "amqp://h:99999/",
                         "h:5672", "amqps://h/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        assert_int_equal(sl_amqp_url_parse(bad[i], &u, err, sizeof(err)), SL_EINVAL);
        assert_true(err[0] != 0);
    }
    assert_int_equal(sl_amqp_url_parse(NULL, &u, err, sizeof(err)), SL_EINVAL);
    sl_amqp_url_parse("amqps://h/", &u, err, sizeof(err));
    assert_non_null(strstr(err, "TLS"));
}

static void test_backoff(void **state)
{
    (void)state;
    struct sl_amqp_backoff b;
    sl_amqp_backoff_init(&b, 100, 1000);
    assert_int_equal(sl_amqp_backoff_next(&b), 100);
    assert_int_equal(sl_amqp_backoff_next(&b), 200);
    assert_int_equal(sl_amqp_backoff_next(&b), 400);
    assert_int_equal(sl_amqp_backoff_next(&b), 800);
    assert_int_equal(sl_amqp_backoff_next(&b), 1000);
    assert_int_equal(sl_amqp_backoff_next(&b), 1000);
    sl_amqp_backoff_reset(&b);
    assert_int_equal(sl_amqp_backoff_next(&b), 100);
    sl_amqp_backoff_init(&b, 0, 0); /* nonsense: clamped, never 0 (no busy loop) */
    assert_true(sl_amqp_backoff_next(&b) > 0);
}

static void test_reply_text(void **state)
{
    (void)state;
    char out[256];
    amqp_rpc_reply_t r = {.reply_type = AMQP_RESPONSE_NORMAL};
    sl_amqp_reply_text(r, out, sizeof(out));
    assert_string_equal(out, "ok");
    r.reply_type = AMQP_RESPONSE_LIBRARY_EXCEPTION;
    r.library_error = AMQP_STATUS_SOCKET_ERROR;
    sl_amqp_reply_text(r, out, sizeof(out));
    assert_string_equal(out, amqp_error_string2(AMQP_STATUS_SOCKET_ERROR));
    amqp_channel_close_t m = {.reply_code = 404,
                              .reply_text = amqp_cstring_bytes("NOT_FOUND - no queue 'q'")};
    r.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
    r.reply.id = AMQP_CHANNEL_CLOSE_METHOD;
    r.reply.decoded = &m;
    sl_amqp_reply_text(r, out, sizeof(out));
    assert_string_equal(out, "channel closed by the broker: 404 NOT_FOUND - no queue 'q'");
}

static void test_connect_refused(void **state)
{
    (void)state;
    /* a port nothing listens on: bind one, close it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    char url[64], err[256];
    snprintf(url, sizeof(url), "amqp://127.0.0.1:%d/", ntohs(a.sin_port));
    struct sl_amqp_url u;
    assert_int_equal(sl_amqp_url_parse(url, &u, err, sizeof(err)), 0);
    err[0] = 0;
    assert_null(sl_amqp_connect(&u, 0, 1000000000, err, sizeof(err)));
    assert_non_null(strstr(err, "connect to 127.0.0.1"));
    sl_amqp_disconnect(NULL);
    sl_amqp_url_fini(&u);
}

static void test_hash(void **state)
{
    (void)state;
    assert_true(sl_amqp_hash("abc", 3, 1) != sl_amqp_hash("abc", 3, 2));
    assert_true(sl_amqp_hash("abc", 3, 1) == sl_amqp_hash("abc", 3, 1));
    assert_true(sl_amqp_hash("abc", 3, 1) != sl_amqp_hash("abd", 3, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_full),   cmocka_unit_test(test_url_defaults),
        cmocka_unit_test(test_url_bad),    cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_reply_text), cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
