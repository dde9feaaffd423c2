/*
 * usecase_cmd.c — `sluice usecase run|check DIR|FILE [--debug]`: dataShark's standalone and
 * production modes.
 *
 *   FILE  one use case, whatever its `enabled` says (dataShark's standalone.sh).
 *   DIR   every use case under DIR (DIR/NAME.conf and DIR/USECASE/NAME.conf, dataShark's
 *         conf/<usecase>/<usecase>.conf layout) whose `enabled = true`, in ONE process; the
 *         others are listed and skipped (dataShark's production mode).
 *
 * Batch use cases run first, together, once over their files (`run --once`); then the
 * streaming ones run together until SIGINT/SIGTERM — dataShark's order. Each phase is one
 * generated pipeline in which every use case is its own branch (names prefixed by its stem).
 * `check` prints the generated pipeline and the graph, and validates it without running.
 */
#include "app/run.h"
#include "app/usecase.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "core/config.h"
#include "core/pipeline.h"
#include "io/plugins.h"
#include "sys/signals.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct sl_usecase_gen *current_gen;

static void map_diag(struct sl_diag *d)
{
    sl_usecase_gen_map(current_gen, d);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluice usecase run DIR|FILE [--debug] [--workers N] [--log-level LEVEL]\n"
            "                          [--status | --no-status]\n"
            "       sluice usecase check DIR|FILE [--debug]\n"
            "\n"
            "  Runs dataShark use cases: a .conf (ConfigObj INI, dataShark's keys) and, in place\n"
            "  of its PySpark code, the sluice transforms in <stem>.yaml beside it (or the file\n"
            "  the .conf's `transforms =` key names). See docs/usecases.md.\n"
            "  FILE   that use case, enabled or not (dataShark's standalone mode)\n"
            "  DIR    every enabled use case in DIR/*.conf and DIR/*/*.conf, in one process\n"
            "         (dataShark's production mode); batch ones first, once, then streaming\n"
            "         ones until SIGINT/SIGTERM\n"
            "  --debug  print the results as dataShark's debug mode did (collect() for batch,\n"
            "           pprint() for streaming) instead of writing them to the output\n"
            "  check  print the generated pipeline and validate it\n");
}

/* The built-in components plus the debug printer, for this command only. */
static void install_registry(void)
{
    static const struct sl_component_ops *list[256];
    size_t n = 0;
    for (const struct sl_component_ops *const *t = sl_io_builtins(); *t && n < 254; t++)
        list[n++] = *t;
    list[n++] = &sl_usecase_debug_ops;
    list[n] = NULL;
    sl_registry_set(list);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .conf files of DIR, sorted. */
static char **list_confs(const char *dir, size_t *n)
{
    static const char *const pats[] = {"/*.conf", "/*/*.conf"};
    char **out = NULL;
    *n = 0;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    for (int k = 0; k < 2; k++) {
        char pat[4200];
        snprintf(pat, sizeof(pat), "%.*s%s", (int)dl, dir, pats[k]);
        glob_t g;
        if (glob(pat, 0, NULL, &g) == 0) {
            out = sl_xrealloc(out, (*n + g.gl_pathc + 1) * sizeof(char *));
            for (size_t i = 0; i < g.gl_pathc; i++)
                out[(*n)++] = sl_xstrdup(g.gl_pathv[i]);
        }
        globfree(&g);
    }
    if (*n)
        qsort(out, *n, sizeof(char *), cmp_str);
    return out;
}

struct opts {
    const char *path;
    bool debug, check;
    struct sl_app_opts app;
    const char *log_level;
};

static int parse(int argc, char **argv, struct opts *o)
{
    o->app.status = -1;
    for (int i = 3; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--debug") || !strcmp(s, "-d")) {
            o->debug = true;
        } else if (!strcmp(s, "--workers") && i + 1 < argc) {
            int64_t n;
            if (sl_str_to_i64(sl_str_c(argv[++i]), &n) || n < 1 || n > 1024) {
                fprintf(stderr, "sluice: --workers takes a number from 1 to 1024\n");
                return 2;
            }
            o->app.workers = (int)n;
        } else if (!strcmp(s, "--log-level") && i + 1 < argc) {
            o->log_level = argv[++i];
            if (sl_log_level_parse(o->log_level) < 0) {
                fprintf(stderr, "sluice: --log-level takes debug, info, warn, error or off\n");
                return 2;
            }
        } else if (!strcmp(s, "--status")) {
            o->app.status = 1;
        } else if (!strcmp(s, "--no-status")) {
            o->app.status = 0;
        } else if (s[0] != '-' && !o->path) {
            o->path = s;
        } else {
            fprintf(stderr, "sluice: unknown argument '%s'\n", s);
            usage(stderr);
            return 2;
        }
    }
    if (!o->path) {
        fprintf(stderr, "sluice: usecase %s needs a use case .conf or a directory of them\n",
                argv[2]);
        usage(stderr);
        return 2;
    }
    return 0;
}

/* Generate, load and run (or check) one phase: the batch or the streaming use cases. */
static int run_phase(struct sl_usecase **ucs, size_t n, const struct opts *o, bool streaming)
{
    if (!n)
        return 0;
    struct sl_usecase_gen *g = NULL;
    if (sl_usecase_generate(ucs, n, &g)) {
        fprintf(stderr, "sluice: out of memory generating the pipeline\n");
        return 1;
    }
    current_gen = g;
    sl_app_diag_map = map_diag;
    size_t len;
    const char *yaml = sl_usecase_gen_yaml(g, &len);
    if (o->check)
        fputs(yaml, stdout);
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_config *cfg = NULL;
    int rc;
    if (sl_config_load_string(yaml, len, sl_usecase_gen_name(g), &cfg, &d)) {
        sl_app_print_diag(&d);
        rc = 2;
        goto out;
    }
    if (o->check) {
        struct sl_pipeline *p = sl_app_build(cfg, &o->app);
        if (!p) {
            sl_config_free(cfg);
            rc = 2;
            goto out;
        }
        struct sl_buf b;
        sl_buf_init(&b, 0);
        sl_pipeline_describe(p, &b);
        fputs(b.ptr ? b.ptr : "", stdout);
        sl_buf_fini(&b);
        printf("%s use cases: ok\n", streaming ? "streaming" : "batch");
        sl_app_teardown(p, cfg);
        rc = 0;
        goto out;
    }
    struct sl_app_opts app = o->app;
    app.once = !streaming;
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " - Starting %s\n", sl_usecase_name(ucs[i]));
    rc = sl_app_run(cfg, &app); /* frees cfg */
out:
    sl_app_diag_map = NULL;
    current_gen = NULL;
    sl_usecase_gen_free(g);
    return rc;
}

int sl_cmd_usecase(int argc, char **argv)
{
    if (argc < 3 || !strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) {
        usage(argc < 3 ? stderr : stdout);
        return argc < 3 ? 2 : 0;
    }
    struct opts o = {0};
    if (!strcmp(argv[2], "check"))
        o.check = true;
    else if (strcmp(argv[2], "run")) {
        fprintf(stderr, "sluice: usecase takes run or check, not '%s'\n", argv[2]);
        usage(stderr);
        return 2;
    }
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc;
    if (o.log_level) {
        sl_log_set_level((enum sl_log_level)sl_log_level_parse(o.log_level));
        o.app.log_level_given = true;
    }
    install_registry();

    struct stat st;
    if (stat(o.path, &st)) {
        fprintf(stderr, "sluice: %s: no such file or directory\n", o.path);
        return 2;
    }
    bool production = S_ISDIR(st.st_mode);
    char **files = NULL;
    size_t nfiles = 0;
    if (production) {
        files = list_confs(o.path, &nfiles);
        if (!nfiles) {
            fprintf(stderr, "sluice: no use case (.conf) in %s or its subdirectories\n", o.path);
            return 2;
        }
    } else {
        files = sl_xcalloc(1, sizeof(char *));
        files[0] = sl_xstrdup(o.path);
        nfiles = 1;
    }
    struct sl_usecase **ucs = sl_xcalloc(nfiles, sizeof(*ucs));
    size_t n = 0;
    struct sl_buf loaded;
    sl_buf_init(&loaded, 0);
    rc = 0;
    for (size_t i = 0; i < nfiles && !rc; i++) {
        struct sl_diag d;
        sl_diag_init(&d);
        const char *base = strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i];
        if (production && !strcmp(base, "datashark.conf")) {
            fprintf(stderr, "Skipped (dataShark's global settings, not read): %s\n", files[i]);
            continue;
        }
        if (production && !sl_usecase_conf_enabled(files[i], &d)) {
            if (d.msg[0]) {
                sl_app_print_diag(&d);
                rc = 2;
            } else {
                fprintf(stderr, "Skipped (not enabled): %s\n", files[i]);
            }
            continue;
        }
        struct sl_usecase *u = NULL;
        if (sl_usecase_load(files[i], o.debug, &u, &d)) {
            sl_app_print_diag(&d);
            rc = 2;
            break;
        }
        /* component names are prefixed by the stem: two use cases may not share one */
        const char *stem = base;
        for (size_t k = 0; k < n; k++) {
            const char *other = sl_usecase_path(ucs[k]);
            other = strrchr(other, '/') ? strrchr(other, '/') + 1 : other;
            if (!strcmp(stem, other)) {
                fprintf(stderr,
                        "sluice: %s:1:1: a use case with the same file name (%s) is "
                        "already loaded: rename one\n",
                        files[i], sl_usecase_path(ucs[k]));
                rc = 2;
            }
        }
        fputs(sl_usecase_notes(u), stderr);
        sl_buf_appendf(&loaded, "%s'%s'", n ? ", " : "", files[i]);
        ucs[n++] = u;
    }
    if (!rc && !n) {
        fprintf(stderr, "sluice: no enabled use case in %s\n", o.path);
        rc = 2;
    }
    if (!rc) {
        fprintf(stderr, "Loaded Confs: [%s]\n", loaded.ptr ? loaded.ptr : "");
        if (o.debug)
            fprintf(stderr, "[*] Debug Mode is ON\n");
        struct sl_usecase **batch = sl_xcalloc(n, sizeof(*batch));
        struct sl_usecase **stream = sl_xcalloc(n, sizeof(*stream));
        size_t nb = 0, ns = 0;
        for (size_t i = 0; i < n; i++) {
            if (sl_usecase_streaming(ucs[i]))
                stream[ns++] = ucs[i];
            else
                batch[nb++] = ucs[i];
        }
        if (!nb && !o.check)
            fprintf(stderr, " * Skipping Batch Processing\n");
        rc = run_phase(batch, nb, &o, false);
        if (!rc && !ns && !o.check)
            fprintf(stderr, " * Skip Stream Processing\n");
        if (!rc && ns && (o.check || sl_signals_stop_requested() == 0))
            rc = run_phase(stream, ns, &o, true);
        sl_free(batch);
        sl_free(stream);
    }
    for (size_t i = 0; i < n; i++)
        sl_usecase_free(ucs[i]);
    sl_free(ucs);
    for (size_t i = 0; i < nfiles; i++)
        sl_free(files[i]);
    sl_free(files);
    sl_buf_fini(&loaded);
    return rc;
}
