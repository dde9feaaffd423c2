/*
 * netevent_test.c — network-event FlatBuffers: the schema file and the decoder agree field for
 * field; every field round-trips through encode/decode; buffers made by others (Debian's flatc
 * from JSON, python3-flatbuffers with flatc --python code generated into a temp dir) decode;
 * the verifier rejects broken buffers with an offset and survives every single-bit flip;
 * message framing (plain, size-prefixed runs, a bad frame in a run).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "codec/flatbuf.h"
#include "codec/json.h"
#include "codec/netevent.h"
#include "codec/netevent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *src_dir(void)
{
    const char *s = getenv("SL_SRC");
    return s ? s : ".";
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct sl_buf b;
    sl_buf_init(&b, 0);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        sl_buf_append(&b, tmp, n);
    fclose(f);
    return sl_buf_steal(&b, len);
}

/* ---- the .fbs and the decoder's tables */

static const struct sl_netevent__table *table_by_fbs(const char *name)
{
    for (unsigned i = 0; i < SL_NETEVENT__COUNT; i++)
        if (strcmp(sl_netevent__table(i)->fbs_name, name) == 0)
            return sl_netevent__table(i);
    return NULL;
}

static void test_schema_matches_fbs(void **state)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/schemas/netevent.fbs", src_dir());
    size_t len;
    char *text = read_file(path, &len);
    assert_non_null(text);
    const struct sl_netevent__table *cur = NULL;
    uint32_t idx = 0, tables_seen = 0, fields_seen = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ')
            line++;
        char name[128], type[128];
        if (sscanf(line, "table %127s {", name) == 1) {
            cur = table_by_fbs(name);
            if (!cur)
                fail_msg("table %s of the .fbs is unknown to the decoder", name);
            idx = 0;
            tables_seen++;
            continue;
        }
        if (line[0] == '}') {
            if (cur) {
                uint32_t want = cur->root_field ? cur->count : cur->count + SL_NETEVENT__COUNT - 1;
                if (idx != want)
                    fail_msg("table %s: %u fields in the .fbs, %u in the decoder", cur->fbs_name,
                             idx, want);
            }
            cur = NULL;
            continue;
        }
        if (!cur || line[0] == '/' || !line[0])
            continue;
        if (sscanf(line, "%127[A-Za-z0-9_]: %127[^;= ]", name, type) != 2)
            fail_msg("cannot read field line '%s'", line);
        if (strstr(line, "(time)")) {
            size_t tl = strlen(type);
            snprintf(type + tl, sizeof(type) - tl, " (time)");
        }
        if (!cur->root_field && idx >= SL_NE_COMMON_COUNT) {
            /* the root's type-table slots, in enum order */
            const struct sl_netevent__table *tt = sl_netevent__table(idx - SL_NE_COMMON_COUNT + 1);
            assert_non_null(tt);
            assert_string_equal(name, tt->root_field);
            assert_string_equal(type, tt->fbs_name);
        } else {
            if (idx >= cur->count)
                fail_msg("%s.%s: not in the decoder", cur->fbs_name, name);
            assert_string_equal(name, cur->fields[idx].name);
            if (strcmp(type, sl_netevent__kind_fbs(cur->fields[idx].kind)) != 0)
                fail_msg("%s.%s: '%s' in the .fbs, '%s' in the decoder", cur->fbs_name, name, type,
                         sl_netevent__kind_fbs(cur->fields[idx].kind));
        }
        idx++;
        fields_seen++;
    }
    assert_int_equal(tables_seen, SL_NETEVENT__COUNT);
    assert_true(fields_seen > 150);
    sl_free(text);
}

/* ---- an event with every field of a type set */

static struct sl_value sample_value(struct sl_batch *b, unsigned kind, unsigned seed)
{
    char tmp[64];
    switch (kind) {
    case SL_NE_K_BOOL:
        return sl_value_bool(seed & 1);
    case SL_NE_K_U16:
        return sl_value_int(1000 + seed);
    case SL_NE_K_I64:
        return sl_value_int(-(int64_t)seed * 1000003);
    case SL_NE_K_U64:
        return sl_value_int((int64_t)seed * 7919 + ((int64_t)1 << 40));
    case SL_NE_K_F64:
        return sl_value_double(seed * 0.25 + 0.125);
    case SL_NE_K_TIME:
        return sl_value_ts(1588205198899710000LL + seed);
    case SL_NE_K_STR: {
        int n = snprintf(tmp, sizeof(tmp), "v%u-\xc3\xa9t\xc3\xa9", seed);
        return sl_value_str(sl_batch_copy(b, tmp, (size_t)n), (size_t)n);
    }
    case SL_NE_K_VSTR: {
        uint32_t count = seed % 3 + 1;
        struct sl_value *l = sl_arena_alloc(&b->arena, count * sizeof(*l));
        for (uint32_t k = 0; k < count; k++) {
            int n = snprintf(tmp, sizeof(tmp), "e%u.%u", seed, k);
            l[k] = sl_value_str(sl_batch_copy(b, tmp, (size_t)n), (size_t)n);
        }
        struct sl_value v = {.type = SL_V_LIST, .len = count};
        v.u.list = l;
        return v;
    }
    }
    return sl_value_null();
}

static struct sl_event *full_event(struct sl_batch *b, unsigned type)
{
    struct sl_event *ev = sl_batch_push(b);
    const char *tn = sl_netevent_type_name((enum sl_netevent_type)type);
    sl_event_set(b, ev, sl_sym_intern_c("type"), sl_value_str(tn, strlen(tn)));
    unsigned seed = 1;
    for (unsigned t = 0; t < 2; t++) {
        const struct sl_netevent__table *td = sl_netevent__table(t ? type : 0);
        for (uint32_t i = 0; i < td->count; i++)
            sl_event_set(b, ev, sl_sym_intern_c(td->fields[i].name),
                         sample_value(b, td->fields[i].kind, seed++));
    }
    sl_event_set(b, ev, sl_sym_intern_c("notInTheSchema"), sl_value_int(1));
    return ev;
}

static void assert_same_fields(const struct sl_event *want, const struct sl_event *got,
                               unsigned type)
{
    uint32_t expect = 1 + SL_NE_COMMON_COUNT + sl_netevent__table(type)->count;
    assert_int_equal(got->count, expect);
    for (uint32_t i = 0; i < got->count; i++) {
        const struct sl_value *w = sl_event_get(want, got->fields[i].sym);
        assert_non_null(w);
        if (!sl_value_equal(w, &got->fields[i].val))
            fail_msg("field %s differs", sl_sym_name(got->fields[i].sym).ptr);
    }
}

static void test_roundtrip_every_field(void **state)
{
    for (unsigned type = 1; type < SL_NETEVENT__COUNT; type++) {
        for (int prefix = 0; prefix < 2; prefix++) {
            struct sl_batch *b = sl_batch_new();
            struct sl_event *ev = full_event(b, type);
            struct sl_buf out;
            sl_buf_init(&out, 0);
            struct sl_diag d;
            sl_diag_init(&d);
            int rc = sl_netevent_encode(ev, prefix, &out, &d);
            if (rc)
                fail_msg("encode %u: %s", type, d.msg);
            struct sl_batch *b2 = sl_batch_new();
            size_t consumed;
            if (prefix)
                rc = sl_netevent_decode_message((const uint8_t *)out.ptr, out.len, b2, &consumed,
                                                &d);
            else
                rc = sl_netevent_decode((const uint8_t *)out.ptr, out.len, b2, &d);
            if (rc)
                fail_msg("decode %u: %s", type, d.msg);
            assert_int_equal(b2->count, 1);
            assert_same_fields(ev, &b2->events[0], type);
            assert_int_equal(b2->events[0].ts_ns, 1588205198899710001LL);
            /* the decoded event is independent of the input buffer */
            memset(out.ptr, 0xee, out.len);
            struct sl_buf js;
            sl_buf_init(&js, 0);
            sl_json_write_event(&js, &b2->events[0]);
            assert_null(memchr(js.ptr, 0xee, js.len));
            sl_buf_fini(&js);
            sl_buf_fini(&out);
            sl_batch_unref(b2);
            sl_batch_unref(b);
        }
    }
}

static void test_encode_errors(void **state)
{
    struct sl_batch *b = sl_batch_new();
    struct sl_event *ev = sl_batch_push(b);
    struct sl_buf out;
    sl_buf_init(&out, 0);
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_netevent_encode(ev, false, &out, &d), SL_EINVAL);
    sl_event_set(b, ev, sl_sym_intern_c("type"), sl_value_str("NOPE", 4));
    assert_int_equal(sl_netevent_encode(ev, false, &out, &d), SL_EINVAL);
    sl_event_set(b, ev, sl_sym_intern_c("type"), sl_value_str("GENERAL", 7));
    sl_event_set(b, ev, sl_sym_intern_c("origPort"), sl_value_str("80", 2));
    assert_int_equal(sl_netevent_encode(ev, false, &out, &d), SL_EINVAL);
    assert_non_null(strstr(d.msg, "origPort"));
    sl_event_set(b, ev, sl_sym_intern_c("origPort"), sl_value_int(70000));
    assert_int_equal(sl_netevent_encode(ev, false, &out, &d), SL_EINVAL);
    sl_event_set(b, ev, sl_sym_intern_c("origPort"), sl_value_int(0));
    sl_event_set(b, ev, sl_sym_intern_c("ts"), sl_value_double(1588205198.89971));
    assert_int_equal(out.len, 0);
    assert_int_equal(sl_netevent_encode(ev, false, &out, &d), 0);
    struct sl_batch *b2 = sl_batch_new();
    assert_int_equal(sl_netevent_decode((const uint8_t *)out.ptr, out.len, b2, &d), 0);
    /* a 0 port is kept (optional scalars), the double seconds became exact microseconds */
    const struct sl_value *p = sl_event_get(&b2->events[0], sl_sym_intern_c("origPort"));
    assert_non_null(p);
    assert_int_equal(p->u.i, 0);
    assert_int_equal(b2->events[0].ts_ns, 1588205198899710000LL);
    sl_batch_unref(b2);
    sl_buf_fini(&out);
    sl_batch_unref(b);
}

/* ---- the verifier */

static struct sl_buf encoded_general(bool prefix)
{
    struct sl_batch *b = sl_batch_new();
    struct sl_event *ev = full_event(b, SL_NETEVENT_GENERAL);
    struct sl_buf out;
    sl_buf_init(&out, 0);
    assert_int_equal(sl_netevent_encode(ev, prefix, &out, NULL), 0);
    sl_batch_unref(b);
    return out;
}

static int decode_copy(const uint8_t *p, size_t n, struct sl_diag *d)
{
    /* a private heap copy of exactly n bytes: ASan sees any read past the end */
    uint8_t *c = sl_xmalloc(n ? n : 1);
    memcpy(c, p, n);
    struct sl_batch *b = sl_batch_new();
    sl_diag_init(d);
    int rc = sl_netevent_decode(c, n, b, d);
    if (rc) {
        assert_int_equal(b->count, 0);
        assert_true(d->msg[0] != 0);
        assert_true(d->offset >= 0 && (size_t)d->offset <= n);
    } else {
        assert_int_equal(b->count, 1);
    }
    sl_batch_unref(b);
    sl_free(c);
    return rc;
}

static void test_verifier_rejects(void **state)
{
    struct sl_buf good = encoded_general(false);
    const uint8_t *g = (const uint8_t *)good.ptr;
    struct sl_diag d;
    assert_int_equal(decode_copy(g, good.len, &d), 0);
    /* every truncation fails cleanly */
    for (size_t n = 0; n < good.len; n++)
        decode_copy(g, n, &d);
    assert_int_equal(decode_copy(g, 0, &d), SL_EPARSE);
    /* every single-bit flip: no crash, no read outside, an offset when rejected */
    uint8_t *m = sl_xmalloc(good.len);
    size_t rejected = 0;
    for (size_t i = 0; i < good.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(m, g, good.len);
            m[i] ^= (uint8_t)(1u << bit);
            if (decode_copy(m, good.len, &d))
                rejected++;
        }
    }
    assert_true(rejected > 0);
    /* specific breakages */
    uint32_t root = sl_flatbuf_u32(g);
    memcpy(m, g, good.len);
    m[0] = (uint8_t)(root + 2); /* misaligned root */
    assert_int_equal(decode_copy(m, good.len, &d), SL_EPARSE);
    assert_non_null(strstr(d.msg, "misaligned"));
    memcpy(m, g, good.len);
    m[root] = 0xf0;
    m[root + 1] = 0xff;
    m[root + 2] = 0xff;
    m[root + 3] = 0x7f; /* vtable far */
    assert_int_equal(decode_copy(m, good.len, &d), SL_EPARSE);
    assert_non_null(strstr(d.msg, "vtable"));
    /* a string's NUL and UTF-8: find "v2-" (uid) */
    memcpy(m, g, good.len);
    uint8_t *s = memmem(m, good.len, "v2-", 3);
    assert_non_null(s);
    s[3] = 0xc3;
    s[4] = 0x28; /* invalid continuation */
    assert_int_equal(decode_copy(m, good.len, &d), SL_EPARSE);
    assert_non_null(strstr(d.msg, "UTF-8"));
    assert_non_null(strstr(d.msg, "uid"));
    memcpy(m, g, good.len);
    s = memmem(m, good.len, "v2-", 3);
    uint32_t slen = sl_flatbuf_u32(s - 4);
    s[slen] = 'x'; /* no NUL */
    assert_int_equal(decode_copy(m, good.len, &d), SL_EPARSE);
    assert_non_null(strstr(d.msg, "NUL"));
    memcpy(m, g, good.len);
    s = memmem(m, good.len, "v2-", 3);
    s[-1] = 0x7f; /* length past the end */
    assert_int_equal(decode_copy(m, good.len, &d), SL_EPARSE);
    sl_free(m);
    sl_buf_fini(&good);
}

static void test_message_framing(void **state)
{
    struct sl_buf run;
    sl_buf_init(&run, 0);
    for (int i = 0; i < 3; i++) {
        struct sl_buf one = encoded_general(true);
        sl_buf_append(&run, one.ptr, one.len);
        sl_buf_fini(&one);
    }
    struct sl_batch *b = sl_batch_new();
    struct sl_diag d;
    sl_diag_init(&d);
    size_t consumed = 0;
    assert_int_equal(
        sl_netevent_decode_message((const uint8_t *)run.ptr, run.len, b, &consumed, &d), 0);
    assert_int_equal(b->count, 3);
    assert_int_equal(consumed, run.len);
    /* break the second frame: the first stays, consumed stops before the bad one */
    size_t first = 4 + sl_flatbuf_u32((const uint8_t *)run.ptr);
    run.ptr[first + 4] ^= 0x02; /* its root offset, now misaligned */
    sl_batch_unref(b);
    b = sl_batch_new();
    assert_int_equal(
        sl_netevent_decode_message((const uint8_t *)run.ptr, run.len, b, &consumed, &d), SL_EPARSE);
    assert_int_equal(b->count, 1);
    assert_int_equal(consumed, first);
    assert_true(d.offset >= (int64_t)first);
    sl_batch_unref(b);
    /* a plain buffer */
    struct sl_buf plain = encoded_general(false);
    b = sl_batch_new();
    assert_int_equal(
        sl_netevent_decode_message((const uint8_t *)plain.ptr, plain.len, b, &consumed, &d), 0);
    assert_int_equal(b->count, 1);
    assert_int_equal(consumed, plain.len);
    sl_batch_unref(b);
    sl_buf_fini(&plain);
    sl_buf_fini(&run);
}

static void test_no_heap_per_event(void **state)
{
    struct sl_buf one = encoded_general(false);
    struct sl_batch *b = sl_batch_new();
    for (int i = 0; i < 10; i++)
        assert_int_equal(sl_netevent_decode((const uint8_t *)one.ptr, one.len, b, NULL), 0);
    uint64_t before = sl_alloc_count();
    for (int i = 0; i < 500; i++)
        assert_int_equal(sl_netevent_decode((const uint8_t *)one.ptr, one.len, b, NULL), 0);
    /* arena chunks and the events array only: far fewer than one per event */
    assert_true(sl_alloc_count() - before < 60);
    sl_batch_unref(b);
    sl_buf_fini(&one);
}

/* ---- buffers built by others */

struct tmpdir {
    char path[256];
};

static void mk_tmp(struct tmpdir *t)
{
    snprintf(t->path, sizeof(t->path), "/tmp/sl_netevent_XXXXXX");
    assert_non_null(mkdtemp(t->path));
}

static void rm_tmp(struct tmpdir *t)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->path);
    assert_int_equal(system(cmd), 0);
}

static int have(const char *cmd)
{
    char c[256];
    snprintf(c, sizeof(c), "command -v %s >/dev/null 2>&1", cmd);
    return system(c) == 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const struct sl_value *get(const struct sl_event *ev, const char *name)
{
    return sl_event_get(ev, sl_sym_intern_c(name));
}

static void assert_str(const struct sl_event *ev, const char *name, const char *want)
{
    const struct sl_value *v = get(ev, name);
    if (!v || v->type != SL_V_STRING)
        fail_msg("%s: missing or not a string", name);
    if (v->len != strlen(want) || memcmp(v->u.s, want, v->len) != 0)
        fail_msg("%s: '%.*s', want '%s'", name, (int)v->len, v->u.s, want);
}

static void assert_int_field(const struct sl_event *ev, const char *name, int64_t want)
{
    const struct sl_value *v = get(ev, name);
    if (!v || v->type != SL_V_INT)
        fail_msg("%s: missing or not an int", name);
    assert_int_equal(v->u.i, want);
}

static void test_flatc_vectors(void **state)
{
    if (!have("flatc")) {
        skip();
        return;
    }
    struct tmpdir t;
    mk_tmp(&t);
    char path[512], cmd[1024];
    snprintf(path, sizeof(path), "%s/conn.json", t.path);
    write_text(path,
               "{ ts: 1521911721255387000, uid: \"C8Tful1TvM3Zf5x8fl\", collectorId: \"c-1\",\n"
               "  origIp: \"10.164.94.120\", origPort: 39681, respIp: \"10.47.3.155\",\n"
               "  respPort: 0, proto: \"tcp\",\n"
               "  general: { duration: 0.004266, origBytes: 97, respBytes: 19,\n"
               "    connState: \"RSTR\", localOrig: false, missedBytes: 0, history: \"ShADTdtr\",\n"
               "    origPkts: 10, origIpBytes: 730, respPkts: 6, respIpBytes: 342,\n"
               "    tunnelParents: [\"CHhAvVGS1DHFjwGM9\", \"x\"] } }\n");
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && flatc --no-warnings -b '%s/schemas/netevent.fbs' conn.json", t.path,
             src_dir());
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/conn.bin", t.path);
    size_t len;
    char *bin = read_file(path, &len);
    assert_non_null(bin);
    struct sl_batch *b = sl_batch_new();
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_netevent_decode((const uint8_t *)bin, len, b, &d))
        fail_msg("flatc buffer: %s", d.msg);
    const struct sl_event *ev = &b->events[0];
    assert_str(ev, "type", "GENERAL");
    assert_str(ev, "uid", "C8Tful1TvM3Zf5x8fl");
    assert_str(ev, "origIp", "10.164.94.120");
    assert_int_field(ev, "origPort", 39681);
    assert_int_field(ev, "respPort", 0);
    assert_int_field(ev, "missedBytes", 0);
    assert_int_field(ev, "respIpBytes", 342);
    assert_str(ev, "history", "ShADTdtr");
    assert_int_equal(ev->ts_ns, 1521911721255387000LL);
    assert_int_equal(get(ev, "localOrig")->u.b, false);
    assert_true(get(ev, "duration")->u.d == 0.004266);
    assert_int_equal(get(ev, "tunnelParents")->len, 2);
    assert_null(get(ev, "service"));
    assert_null(get(ev, "localResp"));
    /* the buffer in a size-prefixed run of two */
    struct sl_buf run;
    sl_buf_init(&run, 0);
    snprintf(
        cmd, sizeof(cmd),
        "cd '%s' && flatc --no-warnings -b --size-prefixed '%s/schemas/netevent.fbs' conn.json",
        t.path, src_dir());
    assert_int_equal(system(cmd), 0);
    sl_free(bin);
    bin = read_file(path, &len);
    sl_buf_append(&run, bin, len);
    sl_buf_append(&run, bin, len);
    size_t consumed;
    sl_batch_unref(b);
    b = sl_batch_new();
    if (sl_netevent_decode_message((const uint8_t *)run.ptr, run.len, b, &consumed, &d))
        fail_msg("flatc size-prefixed run: %s", d.msg);
    assert_int_equal(b->count, 2);
    sl_buf_fini(&run);
    sl_batch_unref(b);
    sl_free(bin);
    rm_tmp(&t);
}

static const char py_builder[] =
    "import sys, flatbuffers\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "from sluice.netevent import NetEvent as N, HttpData as H, SmbData as S\n"
    "def http(b):\n"
    "    uid = b.CreateString('ChOJWf3yQbPwENbBK1'); ip1 = b.CreateString('10.0.1.4')\n"
    "    ip2 = b.CreateString('192.168.0.4'); m = b.CreateString('OPTIONS')\n"
    "    ua = b.CreateString('DavClnt \\u00e9'); t = b.CreateString('text/html')\n"
    "    H.StartRespMimeTypesVector(b, 1); b.PrependUOffsetTRelative(t)\n"
    "    v = b.EndVector()\n"
    "    H.Start(b); H.AddTransDepth(b, 1); H.AddMethod(b, m); H.AddUserAgent(b, ua)\n"
    "    H.AddStatusCode(b, 403); H.AddRespMimeTypes(b, v); h = H.End(b)\n"
    "    N.Start(b); N.AddTs(b, 1588206738095510000); N.AddUid(b, uid); N.AddOrigIp(b, ip1)\n"
    "    N.AddOrigPort(b, 60757); N.AddRespIp(b, ip2); N.AddRespPort(b, 80); N.AddHttp(b, h)\n"
    "    return N.End(b)\n"
    "def smb(b):\n"
    "    p = b.CreateString('\\\\\\\\NEWYORK\\\\sysvol')\n"
    "    S.Start(b); S.AddPath(b, p); S.AddSize(b, 22); S.AddTimesModified(b, "
    "1588187906664602000)\n"
    "    s = S.End(b)\n"
    "    N.Start(b); N.AddTs(b, 1); N.AddSmb(b, s); return N.End(b)\n"
    "out = open(sys.argv[2], 'wb')\n"
    "b = flatbuffers.Builder(0); b.Finish(http(b)); open(sys.argv[3], 'wb').write(b.Output())\n"
    "for f in (http, smb, http):\n"
    "    b = flatbuffers.Builder(0); b.FinishSizePrefixed(f(b)); out.write(b.Output())\n";

static void test_python_vectors(void **state)
{
    if (!have("flatc") || system("/usr/bin/python3 -c 'import flatbuffers' 2>/dev/null") != 0) {
        skip();
        return;
    }
    struct tmpdir t;
    mk_tmp(&t);
    char path[512], cmd[2048];
    snprintf(path, sizeof(path), "%s/build.py", t.path);
    write_text(path, py_builder);
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && flatc --no-warnings --python -o gen '%s/schemas/netevent.fbs' && "
             "/usr/bin/python3 build.py gen run.bin one.bin",
             t.path, src_dir());
    assert_int_equal(system(cmd), 0);
    size_t len;
    snprintf(path, sizeof(path), "%s/one.bin", t.path);
    char *one = read_file(path, &len);
    assert_non_null(one);
    struct sl_batch *b = sl_batch_new();
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_netevent_decode((const uint8_t *)one, len, b, &d))
        fail_msg("python buffer: %s", d.msg);
    sl_free(one);
    snprintf(path, sizeof(path), "%s/run.bin", t.path);
    char *run = read_file(path, &len);
    assert_non_null(run);
    size_t consumed;
    if (sl_netevent_decode_message((const uint8_t *)run, len, b, &consumed, &d))
        fail_msg("python size-prefixed run: %s", d.msg);
    assert_int_equal(b->count, 4);
    for (int i = 0; i < 4; i += 3) {
        const struct sl_event *ev = &b->events[i];
        assert_str(ev, "type", "HTTP");
        assert_str(ev, "uid", "ChOJWf3yQbPwENbBK1");
        assert_str(ev, "respIp", "192.168.0.4");
        assert_int_field(ev, "origPort", 60757);
        assert_int_field(ev, "statusCode", 403);
        assert_str(ev, "userAgent", "DavClnt \xc3\xa9");
        assert_int_equal(get(ev, "respMimeTypes")->len, 1);
        assert_int_equal(ev->ts_ns, 1588206738095510000LL);
    }
    const struct sl_event *ev = &b->events[2];
    assert_str(ev, "type", "SMB");
    assert_str(ev, "path", "\\\\NEWYORK\\sysvol");
    assert_int_field(ev, "size", 22);
    assert_int_equal(get(ev, "timesModified")->type, SL_V_TS);
    assert_int_equal(get(ev, "timesModified")->u.ts_ns, 1588187906664602000LL);
    sl_free(run);
    sl_batch_unref(b);
    rm_tmp(&t);
}

static void test_type_names(void **state)
{
    assert_string_equal(sl_netevent_type_name(SL_NETEVENT_DCE_RPC), "DCE_RPC");
    assert_null(sl_netevent_type_name(SL_NETEVENT_NONE));
    assert_null(sl_netevent_type_name(SL_NETEVENT__COUNT));
    assert_int_equal(sl_netevent_type_of("SYSTEM_STATS", 12), SL_NETEVENT_SYSTEM_STATS);
    assert_int_equal(sl_netevent_type_of("GENERA", 6), SL_NETEVENT_NONE);
    assert_true(sl_flatbuf_utf8_valid("\xf4\x8f\xbf\xbf", 4));
    assert_false(sl_flatbuf_utf8_valid("\xf4\x90\x80\x80", 4));
    assert_false(sl_flatbuf_utf8_valid("\xed\xa0\x80", 3));
    assert_false(sl_flatbuf_utf8_valid("\xc0\xaf", 2));
    assert_false(sl_flatbuf_utf8_valid("abcdefgh\xe2\x82", 10));
}

int main(void)
{
    sl_core_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_schema_matches_fbs),
        cmocka_unit_test(test_roundtrip_every_field),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_verifier_rejects),
        cmocka_unit_test(test_message_framing),
        cmocka_unit_test(test_no_heap_per_event),
        cmocka_unit_test(test_flatc_vectors),
        cmocka_unit_test(test_python_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
