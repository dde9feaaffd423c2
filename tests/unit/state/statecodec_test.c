/*
 * statecodec_test.c — checkpoint encodings: values (every type, sketches) round trip; the
 * reader refuses truncated, oversized and inconsistent input; changelog records reassemble
 * the newest complete generation (two slots, stale chunks, missing chunks, checksum); and a
 * profiler engine snapshot restores into an engine that flushes the same measurements as the
 * original, also when the profile definition gained a profile and a variable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "lang/sketch.h"
#include "lang/stellar.h"
#include "lang/sval.h"
#include "state/profiler.h"
#include "state/statecodec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_values_round_trip(void **state)
{
    (void)state;
    struct sl_arena a;
    sl_arena_init(&a, 4096, 1 << 20);
    struct sl_value items[3] = {sl_value_int(-7), sl_value_str("x\0y", 3), sl_value_null()};
    struct sl_value list = {.type = SL_V_LIST, .len = 3};
    list.u.list = items;
    struct sl_kv kv[2] = {{sl_str_make("k", 1), sl_value_double(2.5)}, {sl_str_make("", 0), list}};
    struct sl_value map = {.type = SL_V_MAP, .len = 2};
    map.u.map = kv;
    struct sl_stats *st = sl_stats_new(0);
    for (int i = 0; i < 500; i++)
        assert_int_equal(sl_stats_add(st, i * 1.5), 0);
    struct sl_value sk = {.type = SL_V_OBJECT};
    sk.u.obj = sl_stats_obj(st);
    struct sl_value ip;
    assert_int_equal(sl_value_ip_parse(sl_str_make("2001:db8::1", 11), &ip), 0);
    struct sl_value f32 = sl_value_double(1.25);
    f32.flags = SL_VF_F32;
    const struct sl_value vals[] = {sl_value_null(),
                                    sl_value_bool(true),
                                    sl_value_int(INT64_MIN),
                                    sl_value_ts(123456789),
                                    f32,
                                    ip,
                                    map,
                                    sk};
    struct sl_buf b;
    sl_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        assert_int_equal(sl_sc_put_value(&b, &vals[i]), 0);
    struct sl_binrd r;
    sl_binrd_init(&r, b.ptr, b.len);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        struct sl_value v;
        assert_int_equal(sl_sc_get_value(&r, &a, &v), 0);
        assert_int_equal(v.type, vals[i].type);
        assert_int_equal(v.flags, vals[i].flags);
        if (v.type == SL_V_OBJECT) {
            struct sl_buf x, y;
            sl_buf_init(&x, 1 << 20);
            sl_buf_init(&y, 1 << 20);
            assert_int_equal(sl_sketch_serialize(v.u.obj, &x), 0);
            assert_int_equal(sl_sketch_serialize(vals[i].u.obj, &y), 0);
            assert_int_equal(x.len, y.len);
            assert_memory_equal(x.ptr, y.ptr, x.len); /* the same digest, buffer included */
            sl_buf_fini(&x);
            sl_buf_fini(&y);
        } else {
            assert_true(sl_value_equal(&v, &vals[i]));
        }
        sl_sc_value_release(&v);
    }
    assert_int_equal(r.pos, r.n);
    /* every truncation fails cleanly */
    for (size_t cut = 0; cut < b.len; cut += 7) {
        sl_binrd_init(&r, b.ptr, cut);
        int rc = 0;
        for (size_t i = 0; i < sizeof vals / sizeof vals[0] && !rc; i++) {
            struct sl_value v;
            rc = sl_sc_get_value(&r, &a, &v);
            if (!rc)
                sl_sc_value_release(&v);
        }
        assert_int_equal(rc, SL_EPARSE);
    }
    /* a lambda or a non-sketch object has no checkpoint form */
    struct sl_object_type other = {"OTHER", NULL, NULL};
    struct sl_object o = {.type = &other};
    struct sl_value ov = {.type = SL_V_OBJECT};
    ov.u.obj = &o;
    assert_int_equal(sl_sc_put_value(&b, &ov), SL_ETYPE);
    sl_buf_fini(&b);
    sl_object_unref(sl_stats_obj(st));
    sl_arena_fini(&a);
}

static void test_hostile_values(void **state)
{
    (void)state;
    struct sl_arena a;
    sl_arena_init(&a, 4096, 1 << 20);
    struct sl_value v;
    struct sl_binrd r;
    /* a list that claims 2^32-1 elements in 6 bytes: refused before any allocation */
    const uint8_t big_list[] = {SL_V_LIST, 0, 0xff, 0xff, 0xff, 0xff};
    sl_binrd_init(&r, big_list, sizeof big_list);
    assert_int_equal(sl_sc_get_value(&r, &a, &v), SL_EPARSE);
    assert_non_null(strstr(r.why, "count"));
    /* a string longer than the input */
    const uint8_t long_str[] = {SL_V_STRING, 0, 0x10, 0, 0, 0, 'a'};
    sl_binrd_init(&r, long_str, sizeof long_str);
    assert_int_equal(sl_sc_get_value(&r, &a, &v), SL_EPARSE);
    /* unknown type, bad flags, a bool of 2 */
    const uint8_t unknown[] = {99, 0};
    sl_binrd_init(&r, unknown, sizeof unknown);
    assert_int_equal(sl_sc_get_value(&r, &a, &v), SL_EPARSE);
    const uint8_t flags[] = {SL_V_INT, 0x80, 0, 0, 0, 0, 0, 0, 0, 0};
    sl_binrd_init(&r, flags, sizeof flags);
    assert_int_equal(sl_sc_get_value(&r, &a, &v), SL_EPARSE);
    const uint8_t two[] = {SL_V_BOOL, 0, 2};
    sl_binrd_init(&r, two, sizeof two);
    assert_int_equal(sl_sc_get_value(&r, &a, &v), SL_EPARSE);
    /* nesting beyond the bound */
    uint8_t deep[2 * 6 * 40];
    size_t n = 0;
    for (int i = 0; i < 40; i++) {
        const uint8_t one[] = {SL_V_LIST, 0, 1, 0, 0, 0};
        memcpy(deep + n, one, 6);
        n += 6;
    }
    sl_binrd_init(&r, deep, n);
    assert_int_equal(sl_sc_get_value(&r, &a, &v), SL_EPARSE);
    /* a corrupt sketch */
    const uint8_t sk[] = {SL_V_OBJECT, 0, 4, 0, 0, 0, 'S', 'L', 'S', 'K'};
    sl_binrd_init(&r, sk, sizeof sk);
    assert_int_equal(sl_sc_get_value(&r, &a, &v), SL_EPARSE);
    sl_arena_fini(&a);
}

/* feed the records of one generation (chunks of size `chunk`) into s */
static void feed_gen(struct sl_sc_state *s, const char *data, size_t len, uint64_t gen,
                     size_t chunk, bool header)
{
    struct sl_buf b;
    sl_buf_init(&b, 1 << 20);
    struct sl_diag d;
    uint32_t n = (uint32_t)((len + chunk - 1) / chunk);
    for (uint32_t i = 0; i < n; i++) {
        char key[64];
        size_t kl = sl_sc_chunk_key(key, sizeof key, "t/3", gen, i);
        assert_true(kl > 3);
        sl_buf_reset(&b);
        size_t m = len - i * chunk < chunk ? len - i * chunk : chunk;
        assert_int_equal(sl_sc_put_chunk(&b, gen, i, data + i * chunk, m), 0);
        assert_int_equal(sl_sc_state_feed(s, key + 3, kl - 3, b.ptr, b.len, &d), 0);
    }
    if (header) {
        struct sl_sc_header h = {gen, n, len, sl_hash64(data, len)};
        sl_buf_reset(&b);
        assert_int_equal(sl_sc_put_header(&b, &h), 0);
        assert_int_equal(sl_sc_state_feed(s, "", 0, b.ptr, b.len, &d), 0);
    }
    sl_buf_fini(&b);
}

static void test_changelog_records(void **state)
{
    (void)state;
    char g1[1000], g2[700], g3[900];
    memset(g1, 'a', sizeof g1);
    memset(g2, 'b', sizeof g2);
    memset(g3, 'c', sizeof g3);
    struct sl_diag d;
    void *out;
    size_t len;
    struct sl_sc_state s;
    /* no header: nothing */
    sl_sc_state_init(&s);
    assert_int_equal(sl_sc_state_finish(&s, &out, &len, &d), SL_ENOENT);
    /* g1 complete, g2 complete: g2 wins */
    feed_gen(&s, g1, sizeof g1, 1, 300, true);
    feed_gen(&s, g2, sizeof g2, 2, 300, true);
    assert_int_equal(sl_sc_state_finish(&s, &out, &len, &d), 0);
    assert_int_equal(len, sizeof g2);
    assert_memory_equal(out, g2, len);
    sl_free(out);
    /* g3 written to slot 1 (g1's) but its header never came (a crash): g2 still wins */
    feed_gen(&s, g3, sizeof g3, 3, 300, false);
    assert_int_equal(sl_sc_state_finish(&s, &out, &len, &d), 0);
    assert_int_equal(len, sizeof g2);
    sl_free(out);
    sl_sc_state_fini(&s);
    /* a header whose chunks are of another generation (compacted away) is an error */
    sl_sc_state_init(&s);
    feed_gen(&s, g1, sizeof g1, 1, 300, false);
    feed_gen(&s, g3, sizeof g3, 3, 300, true);
    struct sl_buf b;
    sl_buf_init(&b, 1 << 20);
    char key[64];
    size_t kl = sl_sc_chunk_key(key, sizeof key, "t/3", 3, 1);
    assert_int_equal(sl_sc_put_chunk(&b, 2, 1, g1, 300), 0);
    /* a chunk whose generation does not match its slot key is refused */
    assert_int_equal(sl_sc_state_feed(&s, key + 3, kl - 3, b.ptr, b.len, &d), SL_EPARSE);
    assert_int_equal(sl_sc_state_finish(&s, &out, &len, &d), 0);
    sl_free(out);
    /* a flipped payload byte fails the checksum */
    sl_buf_reset(&b);
    g3[5] = 'X';
    assert_int_equal(sl_sc_put_chunk(&b, 3, 0, g3, 300), 0);
    kl = sl_sc_chunk_key(key, sizeof key, "t/3", 3, 0);
    assert_int_equal(sl_sc_state_feed(&s, key + 3, kl - 3, b.ptr, b.len, &d), 0);
    assert_int_equal(sl_sc_state_finish(&s, &out, &len, &d), SL_EPARSE);
    assert_non_null(strstr(d.msg, "checksum"));
    sl_sc_state_fini(&s);
    /* headers out of bounds, bad suffixes */
    struct sl_sc_header h = {1, SL_SC_MAX_CHUNKS + 1, 10, 0};
    sl_buf_reset(&b);
    assert_int_equal(sl_sc_put_header(&b, &h), 0);
    assert_int_equal(sl_sc_decode_header(b.ptr, b.len, &h, &d), SL_EPARSE);
    sl_sc_state_init(&s);
    assert_int_equal(sl_sc_state_feed(&s, "#2.0", 4, b.ptr, b.len, &d), SL_EPARSE);
    assert_int_equal(sl_sc_state_feed(&s, "#0.01", 5, b.ptr, b.len, &d), SL_EPARSE);
    assert_int_equal(sl_sc_state_feed(&s, "#0.x", 4, b.ptr, b.len, &d), SL_EPARSE);
    sl_sc_state_fini(&s);
    sl_buf_fini(&b);
}

/* ---- profiler snapshots */

struct msg {
    const char *ip;
    int64_t bytes;
};

static bool mget(void *ud, sl_sym sym, const char *name, size_t len, struct sl_value *out)
{
    const struct msg *m = ud;
    if (len == 2 && !memcmp(name, "ip", 2)) {
        *out = sl_value_str(m->ip, strlen(m->ip));
        return true;
    }
    if (len == 5 && !memcmp(name, "bytes", 5)) {
        *out = sl_sv_long(m->bytes);
        return true;
    }
    return false;
}

struct col {
    char lines[256][160];
    int n;
};

static int emit(void *ud, const struct sl_profile_result *r)
{
    struct col *c = ud;
    struct sl_buf b;
    sl_buf_init(&b, 1 << 20);
    sl_sv_format(&r->m.value, &b);
    if (c->n < 256)
        snprintf(c->lines[c->n++], 160, "%.*s|%.*s|%lld|%.*s", (int)r->m.profile.len,
                 r->m.profile.ptr, (int)r->m.entity.len, r->m.entity.ptr, (long long)r->m.period,
                 (int)b.len, b.ptr ? b.ptr : "");
    sl_buf_fini(&b);
    return 0;
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(a, b);
}

static const char *const DEF =
    "{\"profiles\": ["
    "{\"profile\": \"count\", \"foreach\": \"ip\", \"init\": {\"n\": 0}, \"update\": {\"n\": "
    "\"n + 1\"}, \"result\": \"n\"},"
    "{\"profile\": \"stats\", \"foreach\": \"ip\", \"init\": {\"s\": \"STATS_INIT()\"}, "
    "\"update\": {\"s\": \"STATS_ADD(s, bytes)\", \"last\": \"ip\"}, \"result\": "
    "\"STATS_MEAN(s) + STATS_PERCENTILE(s, 90)\"}]}";
/* the same with a new profile first and a new variable: snapshots go by name */
static const char *const DEF2 =
    "{\"profiles\": ["
    "{\"profile\": \"new\", \"foreach\": \"ip\", \"update\": {\"z\": \"1\"}, \"result\": \"z\"},"
    "{\"profile\": \"stats\", \"foreach\": \"ip\", \"init\": {\"s\": \"STATS_INIT()\"}, "
    "\"update\": {\"q\": \"2\", \"s\": \"STATS_ADD(s, bytes)\", \"last\": \"ip\"}, \"result\": "
    "\"STATS_MEAN(s) + STATS_PERCENTILE(s, 90)\"},"
    "{\"profile\": \"count\", \"foreach\": \"ip\", \"init\": {\"n\": 0}, \"update\": {\"n\": "
    "\"n + 1\"}, \"result\": \"n\"}]}";

static void run(struct sl_profiler *p, const struct sl_profiler_def *def, struct sl_stellar_vm *vm,
                int from, int to, struct col *c)
{
    struct sl_profiler_sink sink = {emit, NULL, c};
    static const char *const ips[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"};
    for (int i = from; i < to; i++) {
        struct msg m = {ips[(i * 7) % 4], (i * 37) % 1000};
        struct sl_stellar_resolver r = {mget, &m, false, NULL, NULL};
        int64_t ts = 1000 * (int64_t)i - ((i % 9 == 0) ? 2500 : 0); /* some disorder */
        for (size_t k = 0; k < sl_profiler_def_count(def); k++) {
            const char *name = sl_profiler_def_name(def, k);
            if (!strcmp(name, "new"))
                continue;
            const char *err;
            (void)sl_profiler_apply(p, k, sl_str_make(m.ip, strlen(m.ip)), vm, &r, ts, ts, &err);
        }
        sl_profiler_advance(p, vm, ts - 2000, ts, &sink);
    }
}

static void test_profiler_snapshot(void **state)
{
    (void)state;
    struct sl_profiler_def *def = NULL, *def2 = NULL;
    struct sl_diag d;
    assert_int_equal(sl_profiler_def_parse(DEF, strlen(DEF), "t", &def, &d), 0);
    assert_int_equal(sl_profiler_def_parse(DEF2, strlen(DEF2), "t", &def2, &d), 0);
    struct sl_stellar_vm *vm = sl_stellar_vm_new();
    struct sl_profiler_opts o = {.period_ms = 10000};
    /* one engine straight through */
    struct col all = {0};
    struct sl_profiler *p = sl_profiler_new(def, &o);
    run(p, def, vm, 0, 200, &all);
    sl_profiler_flush_all(p, vm, &(struct sl_profiler_sink){emit, NULL, &all});
    sl_profiler_free(p);
    /* the same, interrupted at 57 and restored into an engine of DEF2 */
    struct col part = {0};
    p = sl_profiler_new(def, &o);
    run(p, def, vm, 0, 57, &part);
    struct sl_buf b;
    sl_buf_init(&b, 1 << 24);
    struct sl_profiler_ckpt k = {57, 56000, 54000}, k2;
    assert_int_equal(sl_profiler_snapshot(p, &k, &b), 0);
    sl_profiler_free(p);
    struct sl_profiler *q = sl_profiler_new(def2, &o);
    uint64_t skipped = 1;
    assert_int_equal(sl_profiler_restore(q, b.ptr, b.len, &k2, &skipped, &d), 0);
    assert_int_equal(skipped, 0);
    assert_int_equal(k2.next_offset, 57);
    assert_int_equal(k2.max_ts, 56000);
    assert_int_equal(k2.wm, 54000);
    /* a restore into an engine that holds something is refused */
    assert_int_equal(sl_profiler_restore(q, b.ptr, b.len, &k2, &skipped, &d), SL_EINVAL);
    run(q, def2, vm, 57, 200, &part);
    sl_profiler_flush_all(q, vm, &(struct sl_profiler_sink){emit, NULL, &part});
    /* and a snapshot of the restored engine is restorable again */
    sl_buf_reset(&b);
    assert_int_equal(sl_profiler_snapshot(q, &k, &b), 0);
    sl_profiler_free(q);
    assert_int_equal(all.n, part.n);
    assert_true(all.n > 20);
    qsort(all.lines, (size_t)all.n, sizeof all.lines[0], cmp_lines);
    qsort(part.lines, (size_t)part.n, sizeof part.lines[0], cmp_lines);
    for (int i = 0; i < all.n; i++)
        assert_string_equal(all.lines[i], part.lines[i]);
    /* every truncation and every single-byte change of a snapshot is refused or restores;
     * never a crash (ASan) */
    sl_buf_reset(&b);
    p = sl_profiler_new(def, &o);
    run(p, def, vm, 0, 30, &part);
    assert_int_equal(sl_profiler_snapshot(p, &k, &b), 0);
    sl_profiler_free(p);
    const char *seed = getenv("SL_CHANGELOG_SEED"); /* writes fuzz/corpus/changelog's seed */
    if (seed) {
        FILE *f = fopen(seed, "wb");
        assert_non_null(f);
        fputc(3, f);
        fwrite(b.ptr, 1, b.len, f);
        fclose(f);
    }
    for (size_t cut = 0; cut < b.len; cut += 13) {
        q = sl_profiler_new(def, &o);
        assert_int_not_equal(sl_profiler_restore(q, b.ptr, cut, &k2, &skipped, &d), 0);
        sl_profiler_free(q);
    }
    for (size_t i = 0; i < b.len; i += 5) {
        b.ptr[i] ^= 0x5a;
        q = sl_profiler_new(def, &o);
        (void)sl_profiler_restore(q, b.ptr, b.len, &k2, &skipped, &d);
        sl_profiler_flush_all(q, vm, NULL);
        sl_profiler_free(q);
        b.ptr[i] ^= 0x5a;
    }
    sl_buf_fini(&b);
    sl_stellar_vm_free(vm);
    sl_profiler_def_free(def);
    sl_profiler_def_free(def2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_round_trip),
        cmocka_unit_test(test_hostile_values),
        cmocka_unit_test(test_changelog_records),
        cmocka_unit_test(test_profiler_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
