/* diskbuf_test.c — the segment log: order, acks, restarts, torn tails, corruption, full
 * buffers, and failing writes / fsyncs / allocations (no acknowledged record is lost). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "state/diskbuf.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void rmrf(const char *d)
{
    DIR *h = opendir(d);
    if (!h)
        return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(h)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", d, e->d_name);
        unlink(p);
    }
    closedir(h);
    rmdir(d);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sl_diskbuf_test_%d", (int)getpid());
    rmrf(dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rmrf(dir);
    return 0;
}

static struct sl_diskbuf *open_db(struct sl_diskbuf_opts *o)
{
    o->dir = dir;
    o->name = "test";
    struct sl_diskbuf *db = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_diskbuf_open(o, &db, &d);
    if (rc)
        fprintf(stderr, "open: %s\n", d.msg);
    assert_int_equal(rc, 0);
    return db;
}

static void rec(char *buf, size_t n, int i)
{
    memset(buf, 'a' + i % 26, n);
    snprintf(buf, n, "record-%06d", i);
}

static size_t rec_len(int i)
{
    return 20 + (size_t)(i * 37) % 3000;
}

static void append_n(struct sl_diskbuf *db, int from, int to)
{
    char buf[4096];
    for (int i = from; i < to; i++) {
        rec(buf, rec_len(i), i);
        assert_int_equal(sl_diskbuf_append(db, buf, rec_len(i), 0), 0);
    }
}

/* read the next record and check it is number i; returns its ticket */
static uint64_t expect(struct sl_diskbuf *db, int i)
{
    void *p;
    size_t n;
    uint64_t t;
    int rc = sl_diskbuf_read(db, &p, &n, &t, 0);
    assert_int_equal(rc, 0);
    char want[4096];
    rec(want, rec_len(i), i);
    assert_int_equal(n, rec_len(i));
    assert_memory_equal(p, want, n);
    sl_free(p);
    return t;
}

static void expect_empty(struct sl_diskbuf *db)
{
    void *p;
    size_t n;
    uint64_t t;
    assert_int_equal(sl_diskbuf_read(db, &p, &n, &t, 0), SL_EAGAIN);
}

static int count_segments(void)
{
    DIR *h = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(h)) != NULL)
        n += strncmp(e->d_name, "seg-", 4) == 0;
    closedir(h);
    return n;
}

static void test_order_ack_restart(void **state)
{
    (void)state;
    struct sl_diskbuf_opts o = {.segment_size = 64 << 10, .max_size = 64 << 20};
    struct sl_diskbuf *db = open_db(&o);
    append_n(db, 0, 200); /* several segments of 64 KiB */
    assert_int_equal(sl_diskbuf_sync(db), 0);
    assert_true(count_segments() > 3);
    for (int i = 0; i < 50; i++)
        sl_diskbuf_ack(db, expect(db, i), true);
    for (int i = 50; i < 60; i++)
        (void)expect(db, i); /* read, never acknowledged */
    struct sl_diskbuf_stats st;
    sl_diskbuf_stats(db, &st);
    assert_int_equal(st.records, 150);
    assert_int_equal(st.acked, 50);
    sl_diskbuf_close(db);
    /* restart: resumes after the last acknowledged record */
    db = open_db(&o);
    sl_diskbuf_stats(db, &st);
    assert_int_equal(st.records, 150);
    for (int i = 50; i < 200; i++)
        sl_diskbuf_ack(db, expect(db, i), true);
    expect_empty(db);
    sl_diskbuf_stats(db, &st);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.bytes, 0);
    sl_diskbuf_close(db);
    db = open_db(&o);
    expect_empty(db);
    /* fully acknowledged segments are gone: the new write segment and at most the last */
    assert_true(count_segments() <= 3);
    sl_diskbuf_close(db);
}

static void test_out_of_order_and_nack(void **state)
{
    (void)state;
    struct sl_diskbuf_opts o = {.sync = SL_DISKBUF_SYNC_ALWAYS};
    struct sl_diskbuf *db = open_db(&o);
    append_n(db, 0, 10);
    uint64_t t[10];
    for (int i = 0; i < 5; i++)
        t[i] = expect(db, i);
    sl_diskbuf_ack(db, t[1], true);
    sl_diskbuf_ack(db, t[0], true);
    sl_diskbuf_ack(db, t[3], true); /* 2 still out: the pointer stops after 1 */
    sl_diskbuf_ack(db, t[2], false);
    sl_diskbuf_ack(db, t[4], true);
    /* 2 failed: 2, 3, 4 are read again (3 and 4 as duplicates), then the rest */
    for (int i = 2; i < 10; i++)
        sl_diskbuf_ack(db, expect(db, i), true);
    sl_diskbuf_ack(db, t[3], true); /* stale tickets are ignored */
    expect_empty(db);
    struct sl_diskbuf_stats st;
    sl_diskbuf_stats(db, &st);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.acked, 10);
    sl_diskbuf_close(db);
    db = open_db(&o);
    expect_empty(db);
    sl_diskbuf_close(db);
}

static char *last_segment(char *out, size_t n)
{
    DIR *h = opendir(dir);
    struct dirent *e;
    out[0] = 0;
    char best[300] = "";
    while ((e = readdir(h)) != NULL)
        if (strncmp(e->d_name, "seg-", 4) == 0 && strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    closedir(h);
    snprintf(out, n, "%s/%s", dir, best);
    return out;
}

static void test_torn_tail_and_corruption(void **state)
{
    (void)state;
    struct sl_diskbuf_opts o = {0};
    struct sl_diskbuf *db = open_db(&o);
    append_n(db, 0, 20);
    sl_diskbuf_close(db);
    /* a torn tail: half a record header and some bytes */
    char path[1024];
    last_segment(path, sizeof path); /* the only segment */
    struct stat st0;
    stat(path, &st0);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x40\x00\x00\x00\x01\x02\x03", 7), 7);
    /* corrupt record 5 in the middle: one payload byte */
    off_t off = 16;
    for (int i = 0; i < 5; i++)
        off += 8 + (off_t)rec_len(i);
    close(fd);
    fd = open(path, O_WRONLY);
    assert_int_equal(pwrite(fd, "Z", 1, off + 8 + 3), 1);
    close(fd);
    db = open_db(&o);
    struct sl_diskbuf_stats st;
    sl_diskbuf_stats(db, &st);
    assert_int_equal(st.truncated, 7);
    assert_int_equal(st.corrupt, 1);
    assert_int_equal(st.records, 19);
    for (int i = 0; i < 20; i++)
        if (i != 5)
            sl_diskbuf_ack(db, expect(db, i), true);
    expect_empty(db);
    struct stat st1;
    stat(path, &st1);
    assert_int_equal(st1.st_size, st0.st_size);
    sl_diskbuf_close(db);
}

static void test_full(void **state)
{
    (void)state;
    struct sl_diskbuf_opts o = {.max_size = 1 << 20, .segment_size = 64 << 10};
    struct sl_diskbuf *db = open_db(&o);
    char buf[4000];
    memset(buf, 'x', sizeof buf);
    int n = 0;
    while (sl_diskbuf_append(db, buf, sizeof buf, 0) == 0)
        n++;
    assert_int_equal(sl_diskbuf_append(db, buf, sizeof buf, 1000000), SL_EAGAIN);
    assert_true(n > 200 && n < 262);
    /* acks make room */
    for (int i = 0; i < 40; i++) {
        void *p;
        size_t len;
        uint64_t t;
        assert_int_equal(sl_diskbuf_read(db, &p, &len, &t, 0), 0);
        sl_free(p);
        sl_diskbuf_ack(db, t, true);
    }
    assert_int_equal(sl_diskbuf_append(db, buf, sizeof buf, 0), 0);
    sl_diskbuf_close(db);
    rmrf(dir);
    o.when_full = SL_DISKBUF_DROP_NEWEST;
    db = open_db(&o);
    while (sl_diskbuf_append(db, buf, sizeof buf, 0) == 0)
        ;
    assert_int_equal(sl_diskbuf_append(db, buf, sizeof buf, -1), SL_ELIMIT);
    struct sl_diskbuf_stats st;
    sl_diskbuf_stats(db, &st);
    assert_int_equal(st.dropped, 2);
    assert_true(st.disk_bytes <= (1 << 20));
    char *big = sl_xcalloc(1, 1 << 20);
    assert_int_equal(sl_diskbuf_append(db, big, (size_t)1 << 20, 0), SL_E2BIG); /* > max_size */
    sl_diskbuf_close(db);
    /* a record larger than a segment gets a segment of its own */
    rmrf(dir);
    o.when_full = SL_DISKBUF_BLOCK;
    db = open_db(&o);
    memset(big, 'b', 200 << 10);
    assert_int_equal(sl_diskbuf_append(db, buf, 100, 0), 0);
    assert_int_equal(sl_diskbuf_append(db, big, (size_t)200 << 10, 0), 0);
    assert_int_equal(sl_diskbuf_append(db, buf, 100, 0), 0);
    sl_diskbuf_close(db);
    db = open_db(&o);
    size_t want[3] = {100, 200 << 10, 100};
    for (int i = 0; i < 3; i++) {
        void *p;
        size_t len;
        uint64_t t;
        assert_int_equal(sl_diskbuf_read(db, &p, &len, &t, 0), 0);
        assert_int_equal(len, want[i]);
        assert_memory_equal(p, i == 1 ? big : buf, len);
        sl_free(p);
        sl_diskbuf_ack(db, t, true);
    }
    /* records of most of max_size, one after the other: each is delivered and acknowledged
     * before the next; the segment they sit in is replaced to make room */
    memset(big, 'c', 700 << 10);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(sl_diskbuf_append(db, big, (size_t)700 << 10, 0), 0);
        void *p;
        size_t len;
        uint64_t t;
        assert_int_equal(sl_diskbuf_read(db, &p, &len, &t, 0), 0);
        assert_int_equal(len, 700 << 10);
        sl_free(p);
        sl_diskbuf_ack(db, t, true);
    }
    sl_diskbuf_close(db);
    sl_free(big);
}

/* Append 0..n-1 with the Nth write or fsync failing; what was appended and synced without
 * an error is all there after a restart, in order (failed appends may or may not be). */
static void run_fault(struct sl_diskbuf_faults *f, enum sl_diskbuf_sync sync)
{
    rmrf(dir);
    struct sl_diskbuf_opts o = {.segment_size = 64 << 10, .sync = sync, .sync_every = 3};
    o.faults = f;
    struct sl_diskbuf *db = open_db(&o);
    char buf[4096];
    bool durable[120] = {0}, failed = false;
    for (int i = 0; i < 120; i++) {
        rec(buf, rec_len(i), i);
        int rc = sl_diskbuf_append(db, buf, rec_len(i), 0);
        assert_true(rc == 0 || rc == SL_EIO);
        failed |= rc != 0;
        durable[i] = rc == 0;
        if (rc == 0 && sync == SL_DISKBUF_SYNC_INTERVAL && i % 10 == 9 && sl_diskbuf_sync(db) != 0)
            for (int k = i; k >= 0 && k > i - 10; k--)
                durable[k] = false;
    }
    (void)sl_diskbuf_sync(db);
    sl_diskbuf_close(db);
    o.faults = NULL;
    db = open_db(&o);
    void *p;
    size_t n;
    uint64_t t;
    int i = 0;
    while (sl_diskbuf_read(db, &p, &n, &t, 0) == 0) {
        /* skip records whose append failed (they may still be there) */
        char want[4096];
        for (; i < 120; i++) {
            rec(want, rec_len(i), i);
            if (n == rec_len(i) && memcmp(p, want, n) == 0)
                break;
            assert_false(durable[i]); /* a durable record was lost */
        }
        assert_true(i < 120);
        i++;
        sl_free(p);
        sl_diskbuf_ack(db, t, true);
    }
    for (; i < 120; i++)
        assert_false(durable[i]);
    sl_diskbuf_close(db);
    (void)failed;
}

static void test_faults(void **state)
{
    (void)state;
    for (uint64_t nth = 2; nth < 130; nth += 7) { /* write 1, fsync 1: the segment open() makes */
        struct sl_diskbuf_faults f = {.fail_write_nth = nth};
        run_fault(&f, SL_DISKBUF_SYNC_BATCH);
        struct sl_diskbuf_faults g = {.fail_fsync_nth = nth / 3 + 2};
        run_fault(&g, SL_DISKBUF_SYNC_BATCH);
        run_fault(&g, SL_DISKBUF_SYNC_ALWAYS);
        run_fault(&f, SL_DISKBUF_SYNC_INTERVAL);
    }
}

/* The two-half fsync the sinks' group commits use: appends go on while it runs; a failed
 * one moves later appends to a new segment. */
static void test_sync_begin_finish(void **state)
{
    (void)state;
    struct sl_diskbuf_faults f = {.fail_fsync_nth = 3}; /* open's directory fsync is 1 */
    struct sl_diskbuf_opts o = {
        .sync = SL_DISKBUF_SYNC_BATCH, .sync_every = UINT32_MAX, .sync_bytes = UINT64_MAX};
    o.faults = &f;
    struct sl_diskbuf *db = open_db(&o);
    int fd = -2;
    assert_int_equal(sl_diskbuf_sync_begin(db, &fd), 0);
    assert_int_equal(fd, -1); /* nothing to sync */
    append_n(db, 0, 5);
    assert_int_equal(sl_diskbuf_unsynced(db), 5);
    assert_int_equal(sl_diskbuf_sync_begin(db, &fd), 0);
    assert_true(fd >= 0);
    assert_int_equal(sl_diskbuf_unsynced(db), 0);
    append_n(db, 5, 8);                                  /* while the fsync is "in flight" */
    assert_int_equal(sl_diskbuf_sync_finish(db, fd), 0); /* fsync 2 */
    assert_int_equal(sl_diskbuf_unsynced(db), 3);
    assert_int_equal(sl_diskbuf_sync_begin(db, &fd), 0);
    assert_int_equal(sl_diskbuf_sync_finish(db, fd), SL_EIO); /* fsync 3 fails */
    struct sl_diskbuf_stats st;
    sl_diskbuf_stats(db, &st);
    uint64_t segs = st.segments;
    append_n(db, 8, 10); /* goes to a new segment */
    sl_diskbuf_stats(db, &st);
    assert_int_equal(st.segments, segs + 1);
    assert_int_equal(sl_diskbuf_sync(db), 0);
    sl_diskbuf_close(db);
    o.faults = NULL;
    db = open_db(&o);
    for (int i = 0; i < 10; i++)
        sl_diskbuf_ack(db, expect(db, i), true);
    expect_empty(db);
    sl_diskbuf_close(db);
}

/* A write that fails like a full disk (ENOSPC after half the record): the append fails,
 * nothing of it counts, write_failing is set until an append succeeds again, and the record
 * appended again afterwards follows the others in order. */
static void test_write_failing(void **state)
{
    (void)state;
    struct sl_diskbuf_faults f = {.fail_write_nth = 3}; /* 1: open's segment header */
    struct sl_diskbuf_opts o = {0};
    o.faults = &f;
    struct sl_diskbuf *db = open_db(&o);
    struct sl_diskbuf_stats st;
    append_n(db, 0, 1); /* write 2 */
    sl_diskbuf_stats(db, &st);
    assert_false(st.write_failing);
    char buf[4096];
    rec(buf, rec_len(1), 1);
    assert_int_equal(sl_diskbuf_append(db, buf, rec_len(1), 0), SL_EIO); /* write 3 */
    sl_diskbuf_stats(db, &st);
    assert_true(st.write_failing);
    assert_int_equal(st.write_errors, 1);
    assert_int_equal(st.appended, 1);
    assert_int_equal(st.records, 1);
    append_n(db, 1, 3); /* the disk has room again */
    sl_diskbuf_stats(db, &st);
    assert_false(st.write_failing);
    assert_int_equal(st.appended, 3);
    sl_diskbuf_close(db);
    o.faults = NULL;
    db = open_db(&o);
    sl_diskbuf_stats(db, &st);
    assert_int_equal(st.truncated, 0); /* the half record was cut at once */
    for (int i = 0; i < 3; i++)
        sl_diskbuf_ack(db, expect(db, i), true);
    expect_empty(db);
    sl_diskbuf_close(db);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    struct sl_diskbuf_opts o = {0};
    struct sl_diskbuf *db = open_db(&o);
    append_n(db, 0, 10);
    sl_diskbuf_close(db);
    for (uint64_t nth = 1; nth < 20; nth++) {
        struct sl_diskbuf *x = NULL;
        struct sl_diag d;
        sl_diag_init(&d);
        o.dir = dir;
        sl_alloc_fail_nth(nth);
        int rc = sl_diskbuf_open(&o, &x, &d);
        sl_alloc_fail_nth(0);
        if (rc) {
            assert_int_equal(rc, SL_ENOMEM);
            continue;
        }
        /* reads fail cleanly and the record comes again */
        void *p;
        size_t n;
        uint64_t t;
        sl_alloc_fail_nth(1);
        rc = sl_diskbuf_read(x, &p, &n, &t, 0);
        sl_alloc_fail_nth(0);
        assert_int_equal(rc, SL_ENOMEM);
        sl_diskbuf_close(x);
    }
    db = open_db(&o);
    for (int i = 0; i < 10; i++)
        sl_diskbuf_ack(db, expect(db, i), true);
    sl_diskbuf_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_ack_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_order_and_nack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_and_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_begin_finish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
