/*
 * usecase_test.c — dataShark .conf + transforms file -> generated pipeline: the components
 * and options each key gives, `input` and `${conf.KEY}` in the transforms file, positions
 * mapped back from the generated text, and the errors of bad use cases.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "app/usecase.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "core/config.h"
#include "io/plugins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sluice-usecase-test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    sl_core_init();
    static const struct sl_component_ops *list[256];
    size_t n = 0;
    for (const struct sl_component_ops *const *t = sl_io_builtins(); *t && n < 254; t++)
        list[n++] = *t;
    list[n++] = &sl_usecase_debug_ops;
    list[n] = NULL;
    sl_registry_set(list);
    put("words.txt", "a b\n"); /* the batch use cases' `file` */
    put("a", "a\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Load NAME.conf from the temp dir; the generated YAML into *yaml (caller frees) or the
 * diagnostic as "file:line:col: msg" (file without the directory). */
static int load(const char *name, bool debug, char **yaml)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
    struct sl_usecase *u = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_usecase_load(path, debug, &u, &d);
    struct sl_buf b;
    sl_buf_init(&b, 0);
    if (rc) {
        const char *f = strrchr(d.file, '/') ? strrchr(d.file, '/') + 1 : d.file;
        sl_buf_appendf(&b, "%s:%u:%u: %s", f, d.line, d.col, d.msg);
    } else {
        struct sl_usecase_gen *g = NULL;
        assert_int_equal(sl_usecase_generate(&u, 1, &g), 0);
        size_t len;
        const char *y = sl_usecase_gen_yaml(g, &len);
        /* the paths of the temp dir out of the way */
        for (const char *p = y; *p;) {
            size_t dl = strlen(dir);
            if (!strncmp(p, dir, dl)) {
                sl_buf_puts(&b, "DIR");
                p += dl;
            } else {
                sl_buf_putc(&b, *p++);
            }
        }
        /* it loads as a pipeline config */
        struct sl_config *cfg = NULL;
        sl_diag_init(&d);
        int lrc = sl_config_load_string(y, len, sl_usecase_gen_name(g), &cfg, &d);
        if (lrc)
            fprintf(stderr, "%s:%u:%u: %s\n%s", d.file, d.line, d.col, d.msg, y);
        assert_int_equal(lrc, 0);
        sl_config_free(cfg);
        sl_usecase_gen_free(g);
        sl_usecase_free(u);
    }
    *yaml = sl_buf_steal(&b, NULL);
    return rc;
}

static void assert_has(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("missing:\n%s\nin:\n%s", want, text);
}

static void test_batch(void **state)
{
    (void)state;
    put("wc.conf", "type = batch\nfile = words.txt\ncode = wc.py\nname = Word Count\n"
                   "enabled = true\noutput = csv\n[out_csv]\n  path = /tmp/x.csv\n"
                   "  title = T\n  debug = false\n  separator = ';'\n"
                   "[log_filter]\n  [[include]]\n    message = x\n");
    put("wc.yaml", "transforms:\n  words:\n    type: aggregate\n    inputs: [input]\n"
                   "    split: message\n    group_by: {key: message}\n    window: batch\n");
    char *y;
    assert_int_equal(load("wc", false, &y), 0);
    assert_has(y, "sources:\n  wc-input:\n    type: file\n    path: [\"DIR/words.txt\"]\n"
                  "    format: lines\n    mode: read\n");
    /* [log_filter] is for streams only: no filter in a batch use case */
    assert_has(y, "transforms:\n  wc-words:\n    type: aggregate\n    inputs: [\"wc-input\"]\n");
    assert_has(y, "    group_by:\n      key: message\n");
    assert_has(y,
               "sinks:\n  wc-output:\n    type: csv\n    inputs: [\"wc-words\"]\n"
               "    layout: datashark\n    \"path\": \"/tmp/x.csv\"\n    \"separator\": \";\"\n");
    assert_null(strstr(y, "title"));
    assert_null(strstr(y, "debug"));
    sl_free(y);

    /* --debug: the printer instead of the CSV */
    assert_int_equal(load("wc", true, &y), 0);
    assert_has(y, "  wc-debug:\n    type: datashark_debug\n    inputs: [\"wc-words\"]\n"
                  "    mode: batch\n    title: \"Word Count\"\n");
    assert_null(strstr(y, "type: csv"));
    sl_free(y);
}

static void test_streaming(void **state)
{
    (void)state;
    put("st.conf", "type = streaming\ntraining = train.log\nenabled = true\ninput = kafka\n"
                   "output = syslog\npattern = \"^(?P<ip>\\S+) ${x}\"\n"
                   "[in_kafka]\n  host = 10.0.0.1\n  port = 2181\n  topic = logs\n"
                   "  partitions = 3\n"
                   "[log_filter]\n  [[include]]\n    app = \"^web, api\"\n"
                   "  [[exclude]]\n    host = ^10\\.\n"
                   "[out_syslog]\n  port = 5514\n  debug = true\n");
    put("st.yaml", "transforms:\n  km:\n    type: kmeans\n    inputs: [input, input.errors]\n"
                   "    pattern: ${conf.pattern}\n    training: ${conf.training}\n"
                   "    key: ip\n    features: {n: \"count()\"}\n  last:\n    type: eval\n"
                   "    inputs: [km]\n    set: {a: \"1\"}\noutput: km\n"
                   "sinks:\n  dead:\n    type: file\n    inputs: [km.errors]\n"
                   "    path: ${HOME:-/tmp}/dead.json\n");
    char *y;
    assert_int_equal(load("st", false, &y), 0);
    assert_has(y, "  st-source:\n    type: kafka\n    brokers: \"10.0.0.1:2181\"\n"
                  "    topics: [\"logs\"]\n    group: \"sluice-usecase-st\"\n"
                  "    offset_reset: latest\n");
    assert_null(strstr(y, "partitions"));
    assert_has(y, "  st-input:\n    type: filter\n    inputs: [\"st-source\"]\n"
                  "    \"include\":\n      \"app\": \"^web, api\"\n"
                  "    \"exclude\":\n      \"host\": \"^10\\\\.\"\n");
    /* `input` is the filtered stream; ${conf.KEY} is the .conf's text, `${` kept literal */
    assert_has(y, "    inputs: [\"st-input\", \"st-input.errors\"]\n"
                  "    pattern: \"^(?P<ip>\\\\S+) $${x}\"\n    training: \"DIR/train.log\"\n");
    /* output: km (not the last transform); the extra sink; debug = true adds the printer */
    assert_has(y,
               "  st-output:\n    type: syslog\n    inputs: [\"st-km\"]\n    \"port\": \"5514\"\n");
    assert_has(y, "  st-dead:\n    type: file\n    inputs: [\"st-km.errors\"]\n"
                  "    path: ${HOME:-/tmp}/dead.json\n");
    assert_has(y, "  st-output-debug:\n    type: datashark_debug\n    inputs: [\"st-km\"]\n"
                  "    mode: record\n");
    sl_free(y);
}

static void test_positions(void **state)
{
    (void)state;
    put("pos.conf", "type = streaming\ninput = file\noutput = csv\n"
                    "[in_file]\n  folder_path = /tmp/in\n[out_csv]\n  pathh = a.csv\n");
    put("pos.yaml", "transforms:\n  e:\n    type: eval\n    inputs: [input]\n    sett: {}\n");
    char path[256];
    snprintf(path, sizeof(path), "%s/pos.conf", dir);
    struct sl_usecase *u = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_usecase_load(path, false, &u, &d), 0);
    struct sl_usecase_gen *g = NULL;
    assert_int_equal(sl_usecase_generate(&u, 1, &g), 0);
    const char *y = sl_usecase_gen_yaml(g, NULL);
    /* find the generated lines and map a position on each */
    int line = 1, l_path = 0, l_sett = 0, l_folder = 0;
    for (const char *p = y; *p; p++) {
        if (!strncmp(p, "    \"pathh\"", 11) && (p == y || p[-1] == '\n'))
            l_path = line;
        if (!strncmp(p, "    sett:", 9) && p[-1] == '\n')
            l_sett = line;
        if (!strncmp(p, "    path: [\"/tmp/in/*\"]", 23) && p[-1] == '\n')
            l_folder = line;
        if (*p == '\n')
            line++;
    }
    assert_true(l_path && l_sett && l_folder);
    struct {
        int gline, gcol;
        const char *file;
        uint32_t line, col;
    } cases[] = {
        {l_path, 5, "pos.conf", 7, 3},     /* the key of `pathh = a.csv` */
        {l_path, 14, "pos.conf", 7, 11},   /* its value */
        {l_sett, 5, "pos.yaml", 5, 5},     /* an option of the transforms file */
        {l_folder, 11, "pos.conf", 5, 17}, /* folder_path's value */
        {1, 1, "pos.conf", 5, 3},          /* a header line: the next line with a place */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_diag_init(&d);
        snprintf(d.file, sizeof(d.file), "%s", sl_usecase_gen_name(g));
        d.line = (uint32_t)cases[i].gline;
        d.col = (uint32_t)cases[i].gcol;
        sl_usecase_gen_map(g, &d);
        const char *f = strrchr(d.file, '/') ? strrchr(d.file, '/') + 1 : d.file;
        if (i == 4) { /* the first line with a place: the source's, [in_file] */
            assert_string_equal(f, "pos.conf");
            assert_int_equal(d.line, 4);
            continue;
        }
        assert_string_equal(f, cases[i].file);
        assert_int_equal(d.line, cases[i].line);
        assert_int_equal(d.col, cases[i].col);
    }
    /* a diagnostic about another file is left alone */
    sl_diag_init(&d);
    snprintf(d.file, sizeof(d.file), "other.yaml");
    d.line = 3;
    sl_usecase_gen_map(g, &d);
    assert_string_equal(d.file, "other.yaml");
    assert_int_equal(d.line, 3);
    sl_usecase_gen_free(g);
    sl_usecase_free(u);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *conf, *yaml, *want;
    } cases[] = {
        {"file = a\n", "transforms: {a: {type: eval, inputs: [input]}}\n",
         "e.conf:1:1: no `type` (batch or streaming)"},
        {"type = once\n", "transforms: {a: {type: eval, inputs: [input]}}\n",
         "e.conf:1:8: type must be batch or streaming, not 'once'"},
        {"type = batch\noutput = csv\n", "transforms: {a: {type: eval, inputs: [input]}}\n",
         "e.conf:1:1: a batch use case needs `file`: the data it runs once over"},
        {"type = streaming\noutput = csv\n", "transforms: {a: {type: eval, inputs: [input]}}\n",
         "e.conf:1:1: a streaming use case needs `input`: dataShark's global Kafka stream "
         "(datashark.conf) is not supported"},
        {"type = streaming\ninput = file\noutput = csv\n",
         "transforms: {a: {type: eval, inputs: [input]}}\n",
         "e.conf:2:1: input = file needs a [in_file] section"},
        {"type = streaming\ninput = hdfs\n", "transforms: {a: {type: eval, inputs: [input]}}\n",
         "e.conf:2:9: input must be file, kafka or syslog, not 'hdfs'"},
        {"type = batch\nfile = missing.txt\n", "transforms: {a: {type: eval, inputs: [input]}}\n",
         "e.conf:2:8: cannot open "},
        {"type = batch\nfile = a\noutput = csv, syslog\n",
         "transforms: {a: {type: eval, inputs: [input]}}\n",
         "e.conf:3:10: 'output' must be one value, not a list"},
        {"type = batch\nfile = a\noutput = hdfs\n",
         "transforms: {a: {type: eval, inputs: [input]}}\n",
         "e.conf:3:10: output must be csv, syslog or elasticsearch, not 'hdfs'"},
        {"type = batch\nfile = a\noutput = csv\n", "transforms: {}\n",
         "e.yaml:1:1: no transforms: the sluice transforms replace dataShark's code file"},
        {"type = batch\nfile = a\noutput = csv\n", "transform: {a: {type: eval}}\n",
         "e.yaml:1:1: unknown key in a use case's transforms file"},
        {"type = batch\nfile = a\noutput = csv\n", "transforms:\n  input: {type: eval}\n",
         "e.yaml:2:3: 'input' is the use case's input (after [log_filter]): name this "
         "component otherwise"},
        {"type = batch\nfile = a\noutput = csv\n", "transforms:\n  output: {type: eval}\n",
         "e.yaml:2:3: this name is taken: name this component otherwise"},
        {"type = batch\nfile = a\noutput = csv\n",
         "transforms: {a: {type: eval, inputs: [input]}}\noutput: b\n",
         "e.yaml:2:9: output: names no transform of this file"},
        {"type = batch\nfile = a\noutput = csv\n", "transforms: [a\n",
         "e.yaml:2:1: YAML syntax error: did not find expected ',' or ']' while parsing a flow "
         "sequence"},
        {"type = batch\nfile = a\noutput = csv\n",
         "transforms: {a: {type: eval, x: \"${conf.nope}\"}}\n",
         "e.yaml:1:33: ${conf.nope}: no such key in"},
        {"type = streaming\ninput = kafka\n[in_kafka]\n  host = h\n",
         "transforms: {a: {type: eval, inputs: [input]}}\n", "e.conf:3:2: [in_kafka] needs topic"},
        {"type = streaming\ninput = syslog\n[in_syslog]\n  protocol = sctp\n",
         "transforms: {a: {type: eval, inputs: [input]}}\n",
         "e.conf:4:14: protocol must be udp, tcp or tls, not 'sctp'"},
        {"type = batch\nfile = a\noutput = csv\n[log_filter]\n  [[include]]\n    a = b\n"
         "  x = y\n",
         "transforms: {a: {type: eval, inputs: [input]}}\n", ""},
        {"type = streaming\ninput = file\noutput = csv\n[in_file]\n  folder_path = /x\n"
         "[log_filter]\n  x = y\n",
         "transforms: {a: {type: eval, inputs: [input]}}\n",
         "e.conf:7:3: unexpected in [log_filter]"},
        {"a = 1\na = 2\n", "", "e.conf:2:1: Duplicate keyword name"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        put("e.conf", cases[i].conf);
        put("e.yaml", cases[i].yaml);
        char *got;
        int rc = load("e", false, &got);
        if (!cases[i].want[0]) { /* loads (batch: [log_filter] not checked) */
            assert_int_equal(rc, 0);
        } else if (strncmp(got, cases[i].want, strlen(cases[i].want)) != 0) {
            fail_msg("case %zu: got '%s', want '%s'", i, got, cases[i].want);
        }
        sl_free(got);
    }
    /* no transforms file: the error names it at `code` */
    put("nx.conf", "type = batch\nfile = a\ncode = nx.py\n");
    char *got;
    assert_int_equal(load("nx", false, &got), SL_ENOENT);
    assert_non_null(strstr(got, "nx.conf:3:1: no transforms file"));
    sl_free(got);
}

static void test_enabled(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof(path), "%s/en.conf", dir);
    struct sl_diag d;
    static const struct {
        const char *text;
        bool on;
    } cases[] = {{"enabled = true\n", true},
                 {"enabled = True\n", false}, /* dataShark compared the string "true" */
                 {"enabled = false\n", false},
                 {"name = x\n", false},
                 {"enabled = \"true\" # yes\n", true}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        put("en.conf", cases[i].text);
        sl_diag_init(&d);
        assert_int_equal(sl_usecase_conf_enabled(path, &d), cases[i].on);
        assert_string_equal(d.msg, "");
    }
    put("en.conf", "[x\n");
    sl_diag_init(&d);
    assert_false(sl_usecase_conf_enabled(path, &d));
    assert_int_equal(d.line, 1);
    assert_non_null(strstr(d.msg, "Invalid line"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch),     cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_positions), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_enabled),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
