/*
 * httpd_test.c — the tokens file of io/httpd.c: lookups, and a reload during a check (the
 * name given back must not point into the table the reload freed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/err.h"
#include "io/httpd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A known token checked for another name makes the file be looked at again; when it changed,
 * the old table is freed: *who must not point into it. */
static void test_who_after_reload(void **state)
{
    (void)state;
    char dir[] = "/tmp/sl_httpd_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/tokens", dir);
    write_file(path, "alice s3cret\n");
    struct sl_tokens *t;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_tokens_open(path, "test", &t, &d), 0);
    const char *who = NULL;
    struct sl_str bob = sl_str_c("bob");
    assert_int_equal(sl_tokens_check(t, "s3cret", &bob, &who), SL_AUTH_FORBIDDEN);
    assert_string_equal(who, "alice");
    /* the file changes (another size): the check reloads it */
    write_file(path, "carol s3cret\nbob other\n");
    enum sl_auth a = sl_tokens_check(t, "s3cret", &bob, &who);
    assert_int_equal(a, SL_AUTH_FORBIDDEN);
    assert_non_null(who);
    assert_string_equal(who, "carol");
    sl_tokens_close(t);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_who_after_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
