/*
 * in_file_test.c — the `file` source (and `stdin`) through the real runtime: real temp files,
 * a collecting sink on the main and the .errors output.
 *
 * read mode: counts over a glob, dead letters with file path, line and byte offset of the
 * line, lines split across reads (tiny read_buffer), CRLF, a last line without newline,
 * missing files and empty globs, raw lines. tail mode: start at the end (with real line
 * numbers), appends (also a line written in two pieces), rotation (rename + new file, with
 * the rest of the old file read first), truncation, a file that appears later, flush on stop.
 * Config errors at the option's line. The stdin source reads a pipe put on fd 0.
 * Checkpoints under injected faults (a failing allocation, write, fsync or rename of the
 * checkpoint writer at chosen call counts): the file on disk stays whole (old or new), no
 * temporary file is left, the failure is counted, and the next runs lose no line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../testkit.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/json.h"
#include "core/config.h"
#include "core/pipeline.h"
#include "io/in_file.h"
#include "io/plugins.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers */

static struct sl_pipeline *start(const char *yaml, struct sl_config **cfg, bool once)
{
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_config_load_string(yaml, strlen(yaml), "t.yaml", cfg, &d))
        fail_msg("config: %s", d.msg);
    /* one worker: batches reach the sinks in the order they were emitted */
    struct sl_pipeline_opts o = {.workers = 1, .once = once, .queue_batches = 4};
    struct sl_pipeline *p = sl_pipeline_new(*cfg, &o, &d);
    if (!p) {
        char m[1400];
        sl_diag_format(&d, m, sizeof(m));
        fail_msg("pipeline: %s", m);
    }
    assert_int_equal(sl_pipeline_start(p), 0);
    return p;
}

static void finish(struct sl_pipeline *p, struct sl_config *cfg)
{
    sl_pipeline_free(p);
    sl_config_free(cfg);
}

/* Copy of what sink `name` got so far (caller frees). */
static char *got(struct sl_pipeline *p, const char *name, uint64_t *events)
{
    struct collect *s = sl_pipeline_find(p, name)->state;
    pthread_mutex_lock(&s->lock);
    char *t = sl_xstrndup(s->text.ptr ? s->text.ptr : "", s->text.len);
    if (events)
        *events = s->events;
    pthread_mutex_unlock(&s->lock);
    return t;
}

static uint64_t count_of(struct sl_pipeline *p, const char *name)
{
    uint64_t n;
    sl_free(got(p, name, &n));
    return n;
}

/* Wait until sink `name` has at least n events (10 s at most). */
static void wait_events(struct sl_pipeline *p, const char *name, uint64_t n)
{
    int64_t until = sl_clock_mono_ns() + 10000 * 1000000LL;
    while (count_of(p, name) < n) {
        if (sl_clock_mono_ns() > until) {
            char *t = got(p, name, NULL);
            fail_msg("sink %s: waited for %llu events, got:\n%s", name, (unsigned long long)n, t);
        }
        usleep(10000);
    }
}

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static void write_file(const char *name, const char *mode, const char *text)
{
    char path[PATH_MAX + 64];
    path_of(path, sizeof(path), name);
    FILE *f = fopen(path, mode);
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* True when this process has `name` open (the tail source opened it). */
static bool is_open(const char *name)
{
    char want[PATH_MAX + 64], link[PATH_MAX + 64], target[PATH_MAX + 64];
    path_of(want, sizeof(want), name);
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = 0;
            found = strcmp(target, want) == 0;
        }
    }
    closedir(d);
    return found;
}

static void wait_open(const char *name)
{
    for (int i = 0; i < 1000 && !is_open(name); i++)
        usleep(10000);
    assert_true(is_open(name));
    usleep(50000); /* past the seek to the end that follows the open */
}

static int count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- read mode */

static void test_read_glob_counts_and_dead_letters(void **state)
{
    /* a.json: 3 good lines, a bad one on line 3 at byte 32; b.json: CRLF, blank lines and a
     * last line without newline; c.txt does not match the glob */
    write_file("a.json", "w",
               "{\"f\":\"a\",\"n\":1}\n{\"f\":\"a\",\"n\":2}\n{bad json}\n"
               "{\"f\":\"a\",\"n\":3}\n");
    write_file("b.json", "w", "{\"f\":\"b\",\"n\":1}\r\n\r\n   \n{\"f\":\"b\",\"n\":2}");
    write_file("c.txt", "w", "{\"f\":\"c\"}\n");
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "sources:\n  in: {type: file, path: [\"%s/*.json\"]}\n"
             "sinks:\n  out: {type: collect, inputs: [in]}\n"
             "  dead: {type: collect, inputs: [in.errors]}\n",
             dir);
    struct sl_config *cfg;
    struct sl_pipeline *p = start(yaml, &cfg, false);
    assert_true(sl_pipeline_wait(p, 30000)); /* finite: ends by itself */
    uint64_t n, nd;
    char *out = got(p, "out", &n), *dead = got(p, "dead", &nd);
    assert_int_equal(n, 5);
    assert_int_equal(nd, 1);
    /* in name order: a.json before b.json */
    assert_non_null(strstr(out,
                           "{\"f\":\"a\",\"n\":1}\n{\"f\":\"a\",\"n\":2}\n{\"f\":\"a\",\"n\":3}\n"
                           "{\"f\":\"b\",\"n\":1}\n{\"f\":\"b\",\"n\":2}\n"));
    assert_null(strstr(out, "\"c\""));
    char where[PATH_MAX + 64], frag[PATH_MAX + 128];
    path_of(where, sizeof(where), "a.json");
    snprintf(frag, sizeof(frag), "\"where\":\"%s\"", where);
    assert_non_null(strstr(dead, frag));
    assert_non_null(strstr(dead, "\"line\":3"));
    assert_non_null(strstr(dead, "\"offset\":32"));
    assert_non_null(strstr(dead, "\"raw\":\"{bad json}\""));
    assert_non_null(strstr(dead, "\"component\":\"in\""));
    struct sl_component *c = sl_pipeline_find(p, "in");
    assert_int_equal(atomic_load(&c->m.events_out), 5);
    assert_int_equal(atomic_load(&c->m.errors), 1);
    /* every input byte is accounted for, blank lines and the bad line included */
    assert_int_equal(atomic_load(&c->m.bytes_in), 59 + 38); /* the sizes of a.json, b.json */
    sl_free(out);
    sl_free(dead);
    finish(p, cfg);
}

static void test_read_tiny_buffer_same_result(void **state)
{
    /* lines longer than the read buffer, CRLF, an over-long line, no final newline */
    struct sl_buf in;
    sl_buf_init(&in, 0);
    for (int i = 0; i < 300; i++) {
        if (i == 150)
            sl_buf_appendf(&in, "{\"long\":\"%0200d\"}\n", 7);
        sl_buf_appendf(&in, "{\"i\":%d,\"pad\":\"%.*s\"}%s", i, i % 40,
                       "0123456789012345678901234567890123456789", i % 3 == 0 ? "\r\n" : "\n");
    }
    sl_buf_appendf(&in, "{\"i\":300}");
    char text[64 * 1024];
    assert_true(in.len < sizeof(text));
    memcpy(text, in.ptr, in.len);
    text[in.len] = 0;
    sl_buf_fini(&in);
    write_file("t.json", "w", text);
    char *first = NULL, *first_dead = NULL;
    static const char *const sizes[] = {"1MiB", "1", "7", "64", "100"};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        char yaml[2048];
        snprintf(yaml, sizeof(yaml),
                 "sources:\n  in: {type: file, path: [\"%s/t.json\"], read_buffer: %s, "
                 "max_line: 128}\n"
                 "sinks:\n  out: {type: collect, inputs: [in]}\n"
                 "  dead: {type: collect, inputs: [in.errors]}\n",
                 dir, sizes[k]);
        struct sl_config *cfg;
        struct sl_pipeline *p = start(yaml, &cfg, true);
        assert_true(sl_pipeline_wait(p, 60000));
        uint64_t n, nd;
        char *out = got(p, "out", &n), *dead = got(p, "dead", &nd);
        assert_int_equal(n, 301);
        assert_int_equal(nd, 1);
        assert_non_null(strstr(dead, "\"line\":151"));
        assert_non_null(strstr(out, "{\"i\":300}\n"));
        assert_null(strstr(out, "\\r"));
        if (!first) {
            first = out;
            first_dead = dead;
        } else {
            assert_string_equal(out, first);
            assert_string_equal(dead, first_dead);
            sl_free(out);
            sl_free(dead);
        }
        finish(p, cfg);
    }
    sl_free(first);
    sl_free(first_dead);
}

static void test_read_missing_and_empty_glob(void **state)
{
    write_file("ok.log", "w", "one\ntwo\n");
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "sources:\n  in: {type: file, format: lines, message_field: text, path: "
             "[\"%s/missing.log\", \"%s/nothing-*.log\", \"%s/ok.log\", \"%s\"]}\n"
             "sinks:\n  out: {type: collect, inputs: [in]}\n",
             dir, dir, dir, dir);
    struct sl_config *cfg;
    enum sl_log_level lvl = sl_log_get_level();
    sl_log_set_level(SL_LOG_OFF);
    struct sl_pipeline *p = start(yaml, &cfg, false);
    assert_true(sl_pipeline_wait(p, 30000));
    sl_log_set_level(lvl);
    char *out = got(p, "out", NULL);
    assert_string_equal(out, "{\"text\":\"one\"}\n{\"text\":\"two\"}\n");
    /* the missing file and the directory count as errors; the empty glob only warns */
    assert_int_equal(atomic_load(&sl_pipeline_find(p, "in")->m.errors), 2);
    sl_free(out);
    finish(p, cfg);
}

static void test_tail_once_reads_like_read(void **state)
{
    write_file("o.json", "w", "{\"n\":1}\n{\"n\":2}\n");
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "sources:\n  in: {type: file, mode: tail, path: [\"%s/o.json\"]}\n"
             "sinks:\n  out: {type: collect, inputs: [in]}\n",
             dir);
    struct sl_config *cfg;
    struct sl_pipeline *p = start(yaml, &cfg, true);
    assert_true(sl_pipeline_wait(p, 30000));
    assert_int_equal(count_of(p, "out"), 2);
    finish(p, cfg);
}

static void test_config_errors(void **state)
{
    static const struct {
        const char *yaml;
        uint32_t line;
        const char *needle;
    } cases[] = {
        {"sources:\n  in:\n    type: file\n    path: []\n"
         "sinks:\n  out: {type: collect, inputs: [in]}\n",
         4, "no path"},
        {"sources:\n  in:\n    type: file\n    path: [x]\n    max_line: 4\n"
         "sinks:\n  out: {type: collect, inputs: [in]}\n",
         5, "max_line"},
        {"sources:\n  in:\n    type: file\n    path: [x]\n    mode: follow\n"
         "sinks:\n  out: {type: collect, inputs: [in]}\n",
         5, "follow"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_config *cfg;
        struct sl_diag d;
        sl_diag_init(&d);
        assert_int_equal(
            sl_config_load_string(cases[i].yaml, strlen(cases[i].yaml), "t.yaml", &cfg, &d), 0);
        struct sl_pipeline_opts o = {.workers = 1, .once = true};
        struct sl_pipeline *p = sl_pipeline_new(cfg, &o, &d);
        assert_null(p);
        char m[1400];
        sl_diag_format(&d, m, sizeof(m));
        if (!strstr(m, cases[i].needle) || d.line != cases[i].line)
            fail_msg("case %zu: want line %u '%s', got: %s", i, cases[i].line, cases[i].needle, m);
        sl_config_free(cfg);
    }
}

/* ---- tail mode */

static void test_tail_follow_rotate_truncate(void **state)
{
    /* a.log exists with two lines: followed from its end */
    write_file("a.log", "w", "{\"n\":0}\n{\"n\":0}\n");
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "sources:\n  in: {type: file, mode: tail, path: [\"%s/*.log\"]}\n"
             "sinks:\n  out: {type: collect, inputs: [in]}\n"
             "  dead: {type: collect, inputs: [in.errors]}\n",
             dir);
    struct sl_config *cfg;
    enum sl_log_level lvl = sl_log_get_level();
    sl_log_set_level(SL_LOG_WARN);
    struct sl_pipeline *p = start(yaml, &cfg, false);
    wait_open("a.log");

    /* appends, one line in two pieces, a bad line (line 6 of the file, at byte 40) */
    write_file("a.log", "a", "{\"n\":1}\n{\"n\":2}\n");
    wait_events(p, "out", 2);
    write_file("a.log", "a", "{\"n\":");
    usleep(300000); /* the reader sees half a line: nothing is emitted for it */
    assert_int_equal(count_of(p, "out"), 2);
    write_file("a.log", "a", "3}\nnot json\n");
    wait_events(p, "out", 3);
    wait_events(p, "dead", 1);
    char *dead = got(p, "dead", NULL);
    assert_non_null(strstr(dead, "\"line\":6,\"offset\":40"));
    sl_free(dead);

    /* rotation: rename away, the old file is still written, then a new file appears */
    char a[PATH_MAX + 64], a1[PATH_MAX + 64];
    path_of(a, sizeof(a), "a.log");
    path_of(a1, sizeof(a1), "a.log.1");
    assert_int_equal(rename(a, a1), 0);
    write_file("a.log.1", "a", "{\"n\":4}\n");
    wait_events(p, "out", 4);
    write_file("a.log.1", "a", "{\"n\":5}\n");
    write_file("a.log", "w", "{\"n\":6}\n");
    wait_events(p, "out", 6);

    /* a new file under the glob is read from its start */
    write_file("b.log", "w", "{\"n\":7}\n{\"n\":8}\n");
    wait_events(p, "out", 8);

    /* truncation: read again from the start */
    write_file("b.log", "w", "{\"n\":9}\n");
    wait_events(p, "out", 9);

    /* a last line without newline is handed over on stop */
    write_file("b.log", "a", "{\"n\":10}");
    usleep(300000);
    sl_pipeline_stop(p);
    assert_true(sl_pipeline_wait(p, 30000));
    sl_log_set_level(lvl);

    char *out = got(p, "out", NULL);
    assert_string_equal(out, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n{\"n\":6}\n"
                             "{\"n\":7}\n{\"n\":8}\n{\"n\":9}\n{\"n\":10}\n");
    assert_int_equal(count_str(out, "\"n\":0"), 0); /* start_at: end */
    sl_free(out);
    assert_int_equal(count_of(p, "dead"), 1);
    finish(p, cfg);
}

static void test_tail_start_at_beginning_and_busy_files(void **state)
{
    /* start_at: beginning reads what is there; a file that grows fast does not keep a slow
     * one waiting (flushes at least every ~150 ms) */
    write_file("s.log", "w", "{\"f\":\"s\",\"n\":0}\n");
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "sources:\n  in: {type: file, mode: tail, start_at: beginning, read_buffer: 4KiB,"
             " path: [\"%s/s.log\", \"%s/busy.log\"]}\n"
             "sinks:\n  out: {type: collect, inputs: [in]}\n",
             dir, dir);
    write_file("busy.log", "w", "");
    struct sl_config *cfg;
    struct sl_pipeline *p = start(yaml, &cfg, false);
    wait_events(p, "out", 1);
    char busy[PATH_MAX + 64];
    path_of(busy, sizeof(busy), "busy.log");
    FILE *bf = fopen(busy, "a");
    assert_non_null(bf);
    int64_t t0 = sl_clock_mono_ns();
    bool slow_seen = false;
    int i = 0;
    write_file("s.log", "a", "{\"f\":\"s\",\"n\":1}\n");
    while (sl_clock_mono_ns() - t0 < 3000 * 1000000LL && !slow_seen) {
        for (int k = 0; k < 200; k++)
            fprintf(bf, "{\"f\":\"busy\",\"i\":%d}\n", i++);
        fflush(bf);
        char *out = got(p, "out", NULL);
        slow_seen = strstr(out, "\"n\":1") != NULL;
        sl_free(out);
        usleep(2000);
    }
    fclose(bf);
    assert_true(slow_seen);
    sl_pipeline_stop(p);
    assert_true(sl_pipeline_wait(p, 30000));
    finish(p, cfg);
}

/* ---- stdin */

static void test_stdin_pipe(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(STDIN_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
    close(fds[0]);
    const char *yaml = "sources:\n  in: {type: stdin}\n"
                       "sinks:\n  out: {type: collect, inputs: [in]}\n"
                       "  dead: {type: collect, inputs: [in.errors]}\n";
    struct sl_config *cfg;
    struct sl_pipeline *p = start(yaml, &cfg, false);
    const char *part1 = "{\"a\":1}\n{\"a\":";
    assert_int_equal(write(fds[1], part1, strlen(part1)), (ssize_t)strlen(part1));
    wait_events(p, "out", 1); /* the idle flush hands over the first line while we wait */
    const char *part2 = "2}\r\n{oops}\n{\"a\":3}";
    assert_int_equal(write(fds[1], part2, strlen(part2)), (ssize_t)strlen(part2));
    close(fds[1]); /* EOF: the source ends, the last line counts */
    assert_true(sl_pipeline_wait(p, 30000));
    char *out = got(p, "out", NULL), *dead = got(p, "dead", NULL);
    assert_string_equal(out, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
    assert_non_null(strstr(dead, "\"where\":\"stdin\",\"line\":3,\"offset\":17"));
    sl_free(out);
    sl_free(dead);
    finish(p, cfg);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
}

/* ---- checkpoints under injected faults (io/in_file.h) */

static void append_lines(const char *name, int from, int to)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    for (int i = from; i < to; i++)
        assert_int_equal(sl_buf_appendf(&b, "{\"n\":%d}\n", i), 0);
    write_file(name, "a", b.ptr);
    sl_buf_fini(&b);
}

/* The offset the checkpoint file holds for its one file; -1 when there is none. Fails the
 * test when the file is not whole (a header and one complete line). */
static long long ckpt_offset(void)
{
    char path[PATH_MAX + 64];
    path_of(path, sizeof(path), "ck.pos");
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[PATH_MAX + 256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "sluice-file-checkpoints 1\n");
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strchr(line, '\n')); /* complete */
    long long off = strtoll(line, NULL, 10);
    assert_null(fgets(line, sizeof line, f));
    fclose(f);
    return off;
}

/* Read data.json with checkpoints once; the events delivered, in *out (caller frees). */
static uint64_t ckpt_run(char **out)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "sources:\n  in: {type: file, path: \"%s/data.json\", checkpoints: \"%s/ck.pos\"}\n"
             "sinks:\n  out: {type: collect, inputs: [in]}\n",
             dir, dir);
    struct sl_config *cfg;
    struct sl_pipeline *p = start(yaml, &cfg, false);
    assert_true(sl_pipeline_wait(p, 30000));
    uint64_t n;
    *out = got(p, "out", &n);
    finish(p, cfg); /* fini writes the final checkpoint */
    return n;
}

static void test_checkpoint_faults(void **state)
{
    enum sl_log_level lvl = sl_log_get_level();
    sl_log_set_level(SL_LOG_OFF);
    char tmp[PATH_MAX + 64], data[PATH_MAX + 64], ck[PATH_MAX + 64];
    path_of(tmp, sizeof tmp, "ck.pos.tmp");
    path_of(data, sizeof data, "data.json");
    path_of(ck, sizeof ck, "ck.pos");
    for (int kind = 0; kind < 4; kind++) {
        for (uint64_t nth = 1; nth <= 2; nth++) {
            unlink(data);
            unlink(ck);
            /* a clean run leaves a checkpoint at the end of 200 lines */
            append_lines("data.json", 0, 200);
            char *out;
            assert_int_equal(ckpt_run(&out), 200);
            sl_free(out);
            struct stat st;
            assert_int_equal(stat(data, &st), 0);
            long long size200 = (long long)st.st_size;
            assert_int_equal(ckpt_offset(), size200);
            /* 100 more lines, read with the nth save failing */
            append_lines("data.json", 200, 300);
            struct sl_in_file_faults f = {0};
            uint64_t *field[] = {&f.fail_alloc_nth, &f.fail_write_nth, &f.fail_fsync_nth,
                                 &f.fail_rename_nth};
            *field[kind] = nth;
            sl_in_file_set_faults(&f);
            uint64_t n = ckpt_run(&out);
            uint64_t fired = sl_in_file_faults_fired();
            sl_in_file_set_faults(NULL);
            assert_int_equal(n, 100); /* a failed save does not hold the events back */
            assert_non_null(strstr(out, "{\"n\":200}"));
            assert_non_null(strstr(out, "{\"n\":299}"));
            sl_free(out);
            if (nth == 1) /* every run saves at least once (at the end) */
                assert_int_equal(fired, 1);
            assert_int_not_equal(access(tmp, F_OK), 0); /* no temporary file left */
            assert_int_equal(stat(data, &st), 0);
            long long size300 = (long long)st.st_size, off = ckpt_offset();
            /* whole: the old position or the new one, nothing in between */
            if (off != size200 && off != size300)
                fail_msg("kind %d nth %llu: checkpoint at %lld (want %lld or %lld)", kind,
                         (unsigned long long)nth, off, size200, size300);
            /* the next run resumes there: lines 300..349, and 200..299 again if the save
             * that failed was the last one (duplicates, never a gap) */
            append_lines("data.json", 300, 350);
            n = ckpt_run(&out);
            assert_int_equal(n, off == size300 ? 50 : 150);
            assert_non_null(strstr(out, "{\"n\":349}"));
            assert_non_null(strstr(out, off == size300 ? "{\"n\":300}" : "{\"n\":200}"));
            sl_free(out);
            assert_int_equal(ckpt_offset(), (long long)size300 + 50 * 10);
        }
    }
    sl_log_set_level(lvl);
}

int main(void)
{
    sl_core_init();
    static const struct sl_component_ops *types[64];
    size_t n = 0;
    for (const struct sl_component_ops *const *t = sl_io_builtins(); *t && n < 62; t++)
        types[n++] = *t;
    types[n++] = &collect_ops;
    types[n] = NULL;
    sl_registry_set(types);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_glob_counts_and_dead_letters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_tiny_buffer_same_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_missing_and_empty_glob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_once_reads_like_read, setup, teardown),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test_setup_teardown(test_tail_follow_rotate_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_start_at_beginning_and_busy_files, setup,
                                        teardown),
        cmocka_unit_test(test_stdin_pipe),
        cmocka_unit_test_setup_teardown(test_checkpoint_faults, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
