/* fdio_test.c — renames that never replace: the free variant of a taken name, both styles. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sys/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/sluice-fdio-XXXXXX";

static void touch(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_text(const char *name, const char *text)
{
    char p[256], got[64] = {0};
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    assert_non_null(fgets(got, sizeof got, f));
    fclose(f);
    assert_string_equal(got, text);
}

static void test_noreplace(void **state)
{
    (void)state;
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    touch("a", "one");
    touch("b", "two");
    assert_int_equal(sl_fs_rename_noreplace(a, b), -EEXIST);
    expect_text("b", "two"); /* untouched */
    expect_text("a", "one");
    unlink(b);
    assert_int_equal(sl_fs_rename_noreplace(a, b), 0);
    expect_text("b", "one");
    assert_int_equal(access(a, F_OK), -1);
    assert_int_equal(sl_fs_rename_noreplace(a, b), -ENOENT);
    unlink(b);
}

static void test_unique_variants(void **state)
{
    (void)state;
    char from[256], to[256], used[300];
    snprintf(from, sizeof from, "%s/.x.tmp", dir);
    /* stem style: x.parquet taken -> x-1.parquet, then x-2.parquet */
    snprintf(to, sizeof to, "%s/x.parquet", dir);
    touch("x.parquet", "0");
    for (int k = 1; k <= 2; k++) {
        char text[16], want[300];
        snprintf(text, sizeof text, "%d", k);
        touch(".x.tmp", text);
        assert_int_equal(sl_fs_rename_unique(from, to, SL_FS_VARIANT_STEM, used, sizeof used), 0);
        snprintf(want, sizeof want, "%s/x-%d.parquet", dir, k);
        assert_string_equal(used, want);
    }
    expect_text("x.parquet", "0");
    expect_text("x-1.parquet", "1");
    expect_text("x-2.parquet", "2");
    /* end style: out.json taken -> out.json.1 */
    snprintf(to, sizeof to, "%s/out.json", dir);
    touch("out.json", "old");
    touch(".x.tmp", "new");
    assert_int_equal(sl_fs_rename_unique(from, to, SL_FS_VARIANT_END, used, sizeof used), 0);
    expect_text("out.json.1", "new");
    expect_text("out.json", "old");
    /* a dot only in a directory name is no extension */
    snprintf(to, sizeof to, "%s/d.ir/name", dir);
    assert_int_equal(sl_fs_mkdir_parents(to), 0);
    touch("d.ir/name", "a");
    touch(".x.tmp", "b");
    assert_int_equal(sl_fs_rename_unique(from, to, SL_FS_VARIANT_STEM, used, sizeof used), 0);
    expect_text("d.ir/name-1", "b");
    /* a name too long for `used` */
    touch(".x.tmp", "c");
    char small[8];
    assert_int_equal(sl_fs_rename_unique(from, to, SL_FS_VARIANT_STEM, small, sizeof small),
                     -ENAMETOOLONG);
}

static void test_mkdir_parents(void **state)
{
    (void)state;
    char p[256], here[512];
    struct stat st;
    /* absolute: every missing level, the last component is not created */
    snprintf(p, sizeof p, "%s/m/a/b/file.parquet", dir);
    assert_int_equal(sl_fs_mkdir_parents(p), 0);
    snprintf(p, sizeof p, "%s/m/a/b", dir);
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    snprintf(p, sizeof p, "%s/m/a/b/file.parquet", dir);
    assert_int_equal(stat(p, &st), -1);
    /* again: all there, fine */
    assert_int_equal(sl_fs_mkdir_parents(p), 0);
    /* relative, the first level directly below the working directory */
    assert_non_null(getcwd(here, sizeof here));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(sl_fs_mkdir_parents("rel/x/y"), 0);
    assert_int_equal(stat("rel/x", &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    /* a file in the way */
    touch("plain", "x");
    assert_int_equal(sl_fs_mkdir_parents("plain/sub/f"), -ENOTDIR);
    assert_int_equal(chdir(here), 0);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noreplace),
        cmocka_unit_test(test_unique_variants),
        cmocka_unit_test(test_mkdir_parents),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
