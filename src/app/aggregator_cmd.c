/*
 * aggregator_cmd.c — `sluice aggregator` (see aggregator_cmd.h and docs/aggregator.md).
 *
 * DESIGN: the JVM aggregator was a fixed program with a command line; sluice is a general
 * pipeline with a YAML config. This command is only a front end: it turns the aggregator's
 * settings into the YAML of docs/aggregator.md, as text, and hands that to the same loader
 * and the same run loop as `sluice run -c`. So there is one code path to test, every error
 * after the flags is the config loader's (with line:col in the --print-config output), and a
 * user can print the YAML and move to the general config at any time.
 *
 * Settings are one table (AGG_FLAGS): short and long name, kind, default, bounds. The merge
 * is the JVM's: defaults, then `-f settings.conf` (HOCON-like `key = value` lines, keys are
 * the long flag names), then the command line; AGGREGATOR_ARGS_FILE, when set, replaces the
 * command line. Every value is checked where it was written (flag, or file:line) before any
 * YAML is written; values go into the YAML double-quoted and escaped.
 */
#include "app/aggregator_cmd.h"

#include "app/run.h"
#include "base/alloc.h"
#include "base/str.h"
#include "codec/netevent.h"
#include "core/config.h"
#include "sys/fdio.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_FILE_LEN (1u << 20)

enum agg_kind {
    K_STR,   /* any text; empty means "not given" */
    K_INT,   /* a whole number within [min, max] */
    K_BOOL,  /* true/false (yes/no, 1/0), as scopt reads a Boolean */
    K_LEVEL, /* DEBUG, INFO, WARNING, ERROR, OFF */
    K_FLAG,  /* no value */
    K_CONF,  /* text as K_STR, but only settings.conf sets it: no flag (the seed's stay as they
              * were) */
};

/* X(id, short, long, kind, default, min, max) — the seed's flags first, then sluice's own. */
#define AGG_FLAGS(X)                                                                               \
    X(CONFIG, 'f', "config", K_STR, NULL, 0, 0)                                                    \
    X(HOST, 0, "host", K_STR, "*", 0, 0)                                                           \
    X(PORT, 'p', "port", K_INT, "5555", 0, 65535)                                                  \
    X(SHUTDOWN_PORT, 's', "shutdownPort", K_INT, "5557", -1, 65535)                                \
    X(BATCH_TIME, 'b', "batchTime", K_INT, "1", 1, 86400)                                          \
    X(DNS, 0, "dns", K_STR, NULL, 0, 0)                                                            \
    X(RECEIVER, 'r', "receiver", K_STR, NULL, 0, 0)                                                \
    X(COMMANDS, 'o', "commands", K_STR, NULL, 0, 0)                                                \
    X(POLL_INTERVAL, 'i', "commandsPollInterval", K_INT, "60", 1, 604800)                          \
    X(API_KEY, 'a', "apiKey", K_STR, NULL, 0, 0)                                                   \
    X(KEEP_FILES, 'k', "keep-temp-files", K_BOOL, "false", 0, 0)                                   \
    X(UNIQUE_ID, 'q', "uniqueId", K_STR, NULL, 0, 0)                                               \
    X(DESCRIPTION, 'e', "description", K_STR, NULL, 0, 0)                                          \
    X(SECRET_KEY, 't', "secretKey", K_STR, NULL, 0, 0)                                             \
    X(PUBLIC_KEY, 'c', "publicKey", K_STR, NULL, 0, 0)                                             \
    X(LOG_LEVEL, 'l', "loglevel", K_LEVEL, "INFO", 0, 0)                                           \
    X(PUSH_GATEWAY, 'g', "prometheusPushGateway", K_STR, NULL, 0, 0)                               \
    X(PARALLELISM, 0, "parallelism", K_INT, "10", 1, 10000)                                        \
    X(TTL, 0, "ttl", K_INT, "3600", 0, 315360000)                                                  \
    X(SPOOL, 0, "spool", K_STR, "./aggregator-spool", 0, 0)                                        \
    X(API_LISTEN, 0, "api-listen", K_STR, "0.0.0.0:8080", 0, 0)                                    \
    X(PING_LISTEN, 0, "ping-listen", K_STR, "0.0.0.0:8113", 0, 0)                                  \
    X(COLLECTORS_FILE, 0, "collectorsFile", K_CONF, NULL, 0, 0)                                    \
    X(PRINT_CONFIG, 0, "print-config", K_FLAG, NULL, 0, 0)                                         \
    X(HELP, 0, "help", K_FLAG, NULL, 0, 0)

enum agg_id {
#define X(id, s, l, k, d, lo, hi) A_##id,
    AGG_FLAGS(X)
#undef X
        A__COUNT
};

struct agg_flag {
    char short_name;
    const char *long_name;
    enum agg_kind kind;
    const char *def;
    int64_t min, max;
};

static const struct agg_flag flags[A__COUNT] = {
#define X(id, s, l, k, d, lo, hi) {s, l, k, d, lo, hi},
    AGG_FLAGS(X)
#undef X
};

struct settings {
    char *val[A__COUNT]; /* normalised text; NULL: not given (and no default) */
};

static const char help_text[] =
    "name: sluice aggregator, version: " SL_VERSION "\n"
    "accepts zmq messages on provided host and port, puts messages to rolling files and sends "
    "them further to data receiver\n"
    "Usage: sluice aggregator [options]\n"
    "\n"
    "  -f <value> | --config <value>\n"
    "        config file name\n"
    "  --host <value>\n"
    "        zeromq sub socket ip, default is *, 'localhost' isn't acceptable\n"
    "  -p <value> | --port <value>\n"
    "        zeromq sub socket port, default is 5555\n"
    "  -s <value> | --shutdownPort <value>\n"
    "        zeromq shutdown listener rep socket port to accept shutdown messages, default is "
    "5557\n"
    "  -b <value> | --batchTime <value>\n"
    "        batch time in seconds, default is 1\n"
    "  --dns <value>\n"
    "        dns server to use for resolving hostnames inside client network\n"
    "  -r <value> | --receiver <value>\n"
    "        receiver url to send accumulated data to, default is\n"
    "  -o <value> | --commands <value>\n"
    "        commands distribution url,\n"
    "        normally the same endpoint as receiver, but with different path, like /commands,\n"
    "        to get commands for distributing them to collectors,\n"
    "        default is\n"
    "  -i <value> | --commandsPollInterval <value>\n"
    "        commands polling interval in seconds, default is 60\n"
    "  -a <value> | --apiKey <value>\n"
    "        API key to authenticate with the data receiver\n"
    "  -k <value> | --keep-temp-files <value>\n"
    "        keep the temp files for later inspection, default is false\n"
    "  -q <value> | --uniqueId <value>\n"
    "        Unique ID to denote this instance of Data Aggregator\n"
    "  -e <value> | --description <value>\n"
    "        Verbose description transferred together with Unique ID of this instance\n"
    "  -t <value> | --secretKey <value>\n"
    "        ZMQ-Curve secret key, hex-encoded\n"
    "  -c <value> | --publicKey <value>\n"
    "        ZMQ-Curve public key, hex-encoded\n"
    "  -l <value> | --loglevel <value>\n"
    "        Override Akka logging level, default is INFO, use one of DEBUG, WARNING, ERROR, "
    "OFF\n"
    "  -g <value> | --prometheusPushGateway <value>\n"
    "        Prometheus push gateway, like is localhost:9091\n"
    "  --parallelism <value>    number of threads to use in asynchronous processing steps, "
    "default is 10\n"
    "  --ttl <value>            reverse dns lookup cache entries TTL in seconds, default is "
    "3600\n"
    "  --spool <value>\n"
    "        directory of the Parquet files and the upload spool, default is ./aggregator-spool\n"
    "  --api-listen <value>\n"
    "        HTTP API (/metrics, /health), default is 0.0.0.0:8080, 'off' for none\n"
    "  --ping-listen <value>\n"
    "        collectors' /agent/ping endpoint (with --commands), default is 0.0.0.0:8113\n"
    "  --print-config\n"
    "        print the pipeline as sluice YAML and exit\n"
    "  --help\n"
    "        prints this usage text\n"
    "        provide a subscribing zmq socket address and keys to accept messages\n"
    "\n"
    "Settings are merged in this order: defaults -> settings.conf (-f) -> command line;\n"
    "AGGREGATOR_ARGS_FILE, if set, names a file whose arguments replace the command line.\n";

/* ---- errors: "sluice aggregator: <where>: <message>", exit status 2 */

static int usage_error(const char *where, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const char *where, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "sluice aggregator: %s%s%s\n", where ? where : "", where ? ": " : "", msg);
    return 2;
}

static void flag_name(const struct agg_flag *f, char *out, size_t n)
{
    if (f->short_name)
        snprintf(out, n, "-%c/--%s", f->short_name, f->long_name);
    else
        snprintf(out, n, "--%s", f->long_name);
}

/* ---- values */

static const char *level_name(const char *s)
{
    static const struct {
        const char *in, *out;
    } levels[] = {{"DEBUG", "debug"}, {"INFO", "info"},   {"WARNING", "warn"},
                  {"WARN", "warn"},   {"ERROR", "error"}, {"OFF", "off"}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strcasecmp(s, levels[i].in) == 0)
            return levels[i].out;
    return NULL;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "1"}, *const no[] = {"false", "no", "0"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            *out = strcasecmp(s, yes[i]) == 0;
            return 0;
        }
    }
    return SL_EINVAL;
}

/* Decode the UTF-8 sequence at p into *cp: its length, or -1 when it is not well-formed
 * (overlong, a surrogate, above U+10FFFF, cut short). */
static int utf8_next(const unsigned char *p, uint32_t *cp)
{
    static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
    int n = p[0] < 0x80             ? 0
            : (p[0] & 0xe0) == 0xc0 ? 1
            : (p[0] & 0xf0) == 0xe0 ? 2
            : (p[0] & 0xf8) == 0xf0 ? 3
                                    : -1;
    if (n < 0)
        return -1;
    uint32_t c = n == 0 ? p[0] : p[0] & (0x3fu >> n);
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return -1;
        c = (c << 6) | (p[i] & 0x3fu);
    }
    if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return -1;
    *cp = c;
    return n + 1;
}

static bool valid_utf8(const char *s)
{
    uint32_t cp;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_next(p, &cp);
        if (n < 0)
            return false;
        p += n;
    }
    return true;
}

/* Check and store one value for flag `id`; `where` names it in errors ("-p/--port",
 * "settings.conf:3: port"). 0 or exit status 2. */
static int set_value(struct settings *st, enum agg_id id, const char *value, const char *where)
{
    const struct agg_flag *f = &flags[id];
    char buf[32];
    if (!valid_utf8(value))
        return usage_error(where, "the value is not valid UTF-8");
    switch (f->kind) {
    case K_INT: {
        int64_t v;
        if (sl_str_to_i64(sl_str_trim(sl_str_c(value)), &v) || v < f->min || v > f->max)
            return usage_error(where, "'%s' is not a whole number from %lld to %lld", value,
                               (long long)f->min, (long long)f->max);
        snprintf(buf, sizeof buf, "%lld", (long long)v);
        value = buf;
        break;
    }
    case K_BOOL: {
        bool b;
        if (parse_bool(value, &b))
            return usage_error(where, "'%s' is not a boolean (true or false)", value);
        value = b ? "true" : "false";
        break;
    }
    case K_LEVEL:
        if (!level_name(value))
            return usage_error(where,
                               "unknown log level '%s': use one of DEBUG, INFO, WARNING, "
                               "ERROR, OFF",
                               value);
        break;
    case K_STR:
        if (id == A_UNIQUE_ID && *value && !sl_aggregator_id_ok(value, strlen(value)))
            return usage_error(where,
                               "'%s': the unique id names the aggregator's files at the "
                               "receiver: 1-128 of A-Z a-z 0-9 . _ -",
                               value);
        if (id == A_SPOOL && (!*value || strpbrk(value, "{}%")))
            return usage_error(where,
                               "'%s': the spool directory must be non-empty and have no "
                               "'{', '}' or '%%' (they are path template syntax)",
                               value);
        break;
    case K_FLAG:
    case K_CONF:
        break;
    }
    sl_free(st->val[id]);
    /* an empty text is "not given", as the seed's empty defaults */
    st->val[id] = (f->kind == K_STR || f->kind == K_CONF) && !*value ? NULL : sl_xstrdup(value);
    return 0;
}

/* ---- settings.conf */

static int find_long(const char *name, size_t len)
{
    for (int i = 0; i < A__COUNT; i++)
        if (strlen(flags[i].long_name) == len && memcmp(flags[i].long_name, name, len) == 0)
            return i;
    return -1;
}

static bool comment_at(const char *p, const char *line)
{
    bool after_space = p == line || p[-1] == ' ' || p[-1] == '\t';
    return *p == '#' || (after_space && p[0] == '/' && p[1] == '/');
}

/* A JSON-style quoted string at *pp (on the opening quote) into out; *pp after the closing
 * quote. 0 or an error message. */
static const char *quoted(const char **pp, struct sl_buf *out)
{
    const char *p = *pp + 1;
    for (;; p++) {
        if (!*p || *p == '\n')
            return "unterminated quoted string";
        if (*p == '"')
            break;
        if (*p != '\\') {
            sl_buf_putc(out, *p);
            continue;
        }
        p++;
        switch (*p) {
        case '"':
        case '\\':
        case '/':
            sl_buf_putc(out, *p);
            break;
        case 'b':
            sl_buf_putc(out, '\b');
            break;
        case 'f':
            sl_buf_putc(out, '\f');
            break;
        case 'n':
            sl_buf_putc(out, '\n');
            break;
        case 'r':
            sl_buf_putc(out, '\r');
            break;
        case 't':
            sl_buf_putc(out, '\t');
            break;
        case 'u': {
            unsigned cp = 0;
            for (int i = 1; i <= 4; i++) {
                int c = p[i];
                if (!isxdigit(c))
                    return "bad \\u escape (write \\uXXXX)";
                cp = cp * 16 + (unsigned)(isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
            }
            p += 4;
            if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
                return "\\u escape of NUL or a surrogate";
            if (cp < 0x80) {
                sl_buf_putc(out, (char)cp);
            } else if (cp < 0x800) {
                sl_buf_putc(out, (char)(0xc0 | (cp >> 6)));
                sl_buf_putc(out, (char)(0x80 | (cp & 0x3f)));
            } else {
                sl_buf_putc(out, (char)(0xe0 | (cp >> 12)));
                sl_buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
                sl_buf_putc(out, (char)(0x80 | (cp & 0x3f)));
            }
            break;
        }
        default:
            return "unknown escape (use \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)";
        }
    }
    *pp = p + 1;
    return NULL;
}

static int load_settings(struct settings *st, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return usage_error(path, "cannot open the settings file (-f): %s", strerror(errno));
    struct sl_buf text;
    sl_buf_init(&text, MAX_FILE_LEN);
    char tmp[8192];
    size_t n;
    int rc = 0;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0 && rc == 0)
        rc = sl_buf_append(&text, tmp, n);
    fclose(f);
    if (rc) {
        sl_buf_fini(&text);
        return usage_error(path, "larger than 1 MiB");
    }
    sl_buf_putc(&text, 0);
    struct sl_buf val;
    sl_buf_init(&val, MAX_FILE_LEN);
    char where[600];
    unsigned lineno = 0;
    int status = 0;
    for (const char *line = text.ptr; line && *line && !status;) {
        const char *end = strchr(line, '\n');
        size_t ll = end ? (size_t)(end - line) : strlen(line);
        char *l = sl_xstrndup(line, ll);
        line = end ? end + 1 : NULL;
        lineno++;
        if (ll && l[ll - 1] == '\r')
            l[--ll] = 0;
        const char *p = l;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || comment_at(p, l)) {
            sl_free(l);
            continue;
        }
        /* key: a bare name or a quoted one */
        sl_buf_reset(&val);
        const char *err = NULL;
        char key[128] = "";
        if (*p == '"') {
            if ((err = quoted(&p, &val)) == NULL)
                snprintf(key, sizeof key, "%s", val.ptr ? val.ptr : "");
        } else {
            const char *k = p;
            while (isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.')
                p++;
            snprintf(key, sizeof key, "%.*s", (int)(p - k), k);
        }
        snprintf(where, sizeof where, "%s:%u", path, lineno);
        while (*p == ' ' || *p == '\t')
            p++;
        if (!err && !*key)
            err = "expected a setting name (key = value)";
        if (!err && *p != '=' && *p != ':')
            err = "expected '=' or ':' after the setting name";
        int id = err ? -1 : find_long(key, strlen(key));
        if (!err && (id < 0 || id == A_CONFIG || flags[id].kind == K_FLAG)) {
            status = usage_error(where,
                                 "unknown setting '%s' (the names are the long flags of "
                                 "`sluice aggregator --help`, e.g. port, batchTime)",
                                 key);
            sl_free(l);
            break;
        }
        if (!err) {
            p++;
            while (*p == ' ' || *p == '\t')
                p++;
            sl_buf_reset(&val);
            if (*p == '"') {
                err = quoted(&p, &val);
                while (!err && (*p == ' ' || *p == '\t' || *p == ','))
                    p++;
                if (!err && *p && !comment_at(p, l))
                    err = "unexpected text after the quoted value";
            } else {
                const char *v = p;
                while (*p && !comment_at(p, l))
                    p++;
                const char *e = p;
                while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == ','))
                    e--;
                sl_buf_append(&val, v, (size_t)(e - v));
            }
        }
        if (err) {
            status = usage_error(where, "%s", err);
        } else {
            char what[800];
            snprintf(what, sizeof what, "%s: %s", where, key);
            status = set_value(st, (enum agg_id)id, val.ptr ? val.ptr : "", what);
        }
        sl_free(l);
    }
    sl_buf_fini(&val);
    sl_buf_fini(&text);
    return status;
}

/* ---- AGGREGATOR_ARGS_FILE */

int sl_aggregator_split_args(const char *text, size_t len, int *argc_out, char ***argv_out)
{
    int argc = 0;
    char **argv = sl_xcalloc(1, sizeof *argv);
    struct sl_buf cur;
    sl_buf_init(&cur, MAX_FILE_LEN);
    size_t i = 0;
    for (;;) {
        while (i < len && isspace((unsigned char)text[i]))
            i++;
        if (i >= len)
            break;
        sl_buf_reset(&cur);
        sl_buf_append(&cur, "", 0);
        while (i < len && !isspace((unsigned char)text[i])) {
            char c = text[i++];
            if (c == '\'') {
                const char *e = memchr(text + i, '\'', len - i);
                if (!e)
                    goto bad;
                sl_buf_append(&cur, text + i, (size_t)(e - (text + i)));
                i = (size_t)(e - text) + 1;
            } else if (c == '"') {
                for (;;) {
                    if (i >= len)
                        goto bad;
                    c = text[i++];
                    if (c == '"')
                        break;
                    if (c == '\\' && i < len && strchr("\"\\$`", text[i]))
                        c = text[i++];
                    sl_buf_putc(&cur, c);
                }
            } else if (c == '\\' && i < len) {
                sl_buf_putc(&cur, text[i++]);
            } else {
                sl_buf_putc(&cur, c);
            }
        }
        argv = sl_xrealloc(argv, (size_t)(argc + 2) * sizeof *argv);
        argv[argc++] = sl_xstrndup(cur.ptr, cur.len);
        argv[argc] = NULL;
    }
    sl_buf_fini(&cur);
    *argc_out = argc;
    *argv_out = argv;
    return 0;
bad:
    sl_buf_fini(&cur);
    sl_aggregator_free_args(argc, argv);
    return SL_EINVAL;
}

void sl_aggregator_free_args(int argc, char **argv)
{
    if (!argv)
        return;
    for (int i = 0; i < argc; i++)
        sl_free(argv[i]);
    sl_free(argv);
}

/* ---- the command line */

struct cli_item {
    enum agg_id id;
    const char *value; /* NULL for K_FLAG */
    const char *as_written;
};

/* Parse args into items (values checked later, after -f). 0 or exit status 2. */
static int parse_cli(int argc, char **argv, struct cli_item *items, int *nitems)
{
    int n = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int id = -1;
        const char *inline_val = NULL;
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            const char *name = a + 2;
            size_t nl = strcspn(name, "=:");
            id = find_long(name, nl);
            if (id >= 0 && name[nl])
                inline_val = name + nl + 1;
        } else if (a[0] == '-' && a[1] && !a[2]) {
            for (int k = 0; k < A__COUNT; k++)
                if (flags[k].short_name == a[1])
                    id = k;
        } else {
            return usage_error(NULL, "unexpected argument '%s' (see sluice aggregator --help)", a);
        }
        if (id < 0 || flags[id].kind == K_CONF) /* a settings.conf key, not a flag */
            return usage_error(NULL, "unknown option '%s' (see sluice aggregator --help)", a);
        char name[64];
        flag_name(&flags[id], name, sizeof name);
        const char *value = NULL;
        if (flags[id].kind == K_FLAG) {
            if (inline_val)
                return usage_error(name, "takes no value");
        } else if (inline_val) {
            value = inline_val;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return usage_error(name, "missing value (%s <value>)", a);
        }
        items[n++] = (struct cli_item){(enum agg_id)id, value, a};
    }
    *nitems = n;
    return 0;
}

/* ---- YAML */

int sl_aggregator_yaml_quote(struct sl_buf *out, const char *s)
{
    if (!valid_utf8(s))
        return SL_EINVAL;
    sl_buf_putc(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t cp;
        int n = utf8_next(p, &cp);
        if (cp == '"' || cp == '\\') {
            sl_buf_putc(out, '\\');
            sl_buf_putc(out, (char)cp);
        } else if (cp == '\n') {
            sl_buf_puts(out, "\\n");
        } else if (cp == '\t') {
            sl_buf_puts(out, "\\t");
        } else if (cp == 0x85 || cp == 0x2028 || cp == 0x2029) { /* YAML line breaks */
            sl_buf_puts(out, cp == 0x85 ? "\\N" : cp == 0x2028 ? "\\L" : "\\P");
        } else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) { /* C0, DEL, C1: not printable */
            sl_buf_appendf(out, "\\x%02x", (unsigned)cp);
        } else if (cp == 0xfffe || cp == 0xffff || cp == 0xfeff) {
            sl_buf_appendf(out, "\\u%04x", (unsigned)cp);
        } else if (cp == '$' && p[1] == '{') { /* not an environment reference */
            sl_buf_puts(out, "$$");
        } else {
            sl_buf_append(out, p, (size_t)n);
        }
        p += n;
    }
    return sl_buf_putc(out, '"');
}

static void kv(struct sl_buf *b, int indent, const char *key, const char *value)
{
    sl_buf_appendf(b, "%*s%s: ", indent, "", key);
    sl_aggregator_yaml_quote(b, value);
    sl_buf_putc(b, '\n');
}

static char *spool_path(const struct settings *st, const char *rest)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    const char *sp = st->val[A_SPOOL];
    size_t n = strlen(sp);
    while (n > 1 && sp[n - 1] == '/')
        n--;
    sl_buf_append(&b, sp, n);
    sl_buf_appendf(&b, "/%s", rest);
    return sl_buf_steal(&b, NULL);
}

static void build_yaml(const struct settings *st, struct sl_buf *b)
{
    const char *const *v = (const char *const *)st->val;
    sl_buf_puts(b, "# sluice aggregator: the pipeline of docs/aggregator.md, built from the\n"
                   "# aggregator's flags. `sluice run -c` runs this file as it is.\n");
    sl_buf_appendf(b, "log_level: %s\n", level_name(v[A_LOG_LEVEL]));
    if (v[A_API_LISTEN] && strcmp(v[A_API_LISTEN], "off") != 0) {
        sl_buf_puts(b, "api:\n");
        kv(b, 2, "listen", v[A_API_LISTEN]);
    }
    if (v[A_PUSH_GATEWAY]) {
        sl_buf_puts(b, "push_gateway:                     # -g/--prometheusPushGateway\n");
        kv(b, 2, "url", v[A_PUSH_GATEWAY]);
        kv(b, 2, "job", "aggregator");
        if (v[A_UNIQUE_ID])
            kv(b, 2, "instance", v[A_UNIQUE_ID]);
        sl_buf_puts(b, "  interval: 10s\n");
    }
    sl_buf_puts(b, "sources:\n  collectors:\n    type: zmq\n");
    kv(b, 4, "host", v[A_HOST]);
    sl_buf_appendf(b, "    port: %s\n    shutdown_port: %s\n", v[A_PORT], v[A_SHUTDOWN_PORT]);
    if (v[A_SECRET_KEY])
        kv(b, 4, "secret_key", v[A_SECRET_KEY]);
    else
        sl_buf_puts(b, "    # secret_key: required to run (-t/--secretKey)\n");
    if (v[A_PUBLIC_KEY])
        kv(b, 4, "public_key", v[A_PUBLIC_KEY]);
    if (v[A_COMMANDS]) {
        sl_buf_puts(b, "  commands:\n    type: commands\n");
        kv(b, 4, "url", v[A_COMMANDS]);
        sl_buf_appendf(b, "    poll_interval: %ss\n", v[A_POLL_INTERVAL]);
        kv(b, 4, "listen", v[A_PING_LISTEN]);
        if (v[A_COLLECTORS_FILE]) /* settings.conf: collectorsFile */
            kv(b, 4, "collectors_file", v[A_COLLECTORS_FILE]);
        char *state = spool_path(st, "commands.db");
        kv(b, 4, "state", state);
        sl_free(state);
    }
    const char *parquet_input = "collectors";
    if (v[A_DNS]) {
        parquet_input = "resolve";
        sl_buf_puts(b, "transforms:\n  resolve:\n    type: dns\n    inputs: [collectors]\n");
        kv(b, 4, "server", v[A_DNS]);
        sl_buf_appendf(b, "    ttl: %ss\n    parallelism: %s\n", v[A_TTL], v[A_PARALLELISM]);
    }
    sl_buf_appendf(b, "sinks:\n  parquet:\n    type: parquet\n    inputs: [%s]\n", parquet_input);
    char *path = spool_path(st, "{type}/{type}-%Y%m%d-%H%M%S.parquet");
    kv(b, 4, "path", path);
    sl_free(path);
    sl_buf_appendf(b, "    partition_by: type\n    roll_interval: %ss\n", v[A_BATCH_TIME]);
    if (v[A_RECEIVER]) {
        sl_buf_puts(b, "  upload:\n    type: receiver\n    files_from: parquet\n");
        kv(b, 4, "url", v[A_RECEIVER]);
        if (v[A_API_KEY])
            kv(b, 4, "api_key", v[A_API_KEY]);
        if (v[A_UNIQUE_ID] && *v[A_UNIQUE_ID])
            kv(b, 4, "aggregator_id", v[A_UNIQUE_ID]);
        else
            sl_buf_puts(b, "    # aggregator_id: required to run (-q/--uniqueId)\n");
        if (v[A_DESCRIPTION])
            kv(b, 4, "description", v[A_DESCRIPTION]);
        char *spool = spool_path(st, "");
        spool[strlen(spool) - 1] = 0; /* no trailing '/' */
        kv(b, 4, "spool", spool);
        sl_free(spool);
        sl_buf_appendf(b, "    spool_max_bytes: 1GiB\n    keep_files: %s\n", v[A_KEEP_FILES]);
    }
}

/* ---- the command */

static void settings_free(struct settings *st)
{
    for (int i = 0; i < A__COUNT; i++)
        sl_free(st->val[i]);
}

static int read_args_file(const char *path, int *argc, char ***argv)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return usage_error("AGGREGATOR_ARGS_FILE", "cannot open %s: %s", path, strerror(errno));
    struct sl_buf text;
    sl_buf_init(&text, MAX_FILE_LEN);
    char tmp[8192];
    size_t n;
    int rc = 0;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0 && rc == 0)
        rc = sl_buf_append(&text, tmp, n);
    fclose(f);
    if (!rc)
        rc = sl_aggregator_split_args(text.ptr ? text.ptr : "", text.len, argc, argv);
    sl_buf_fini(&text);
    if (rc)
        return usage_error("AGGREGATOR_ARGS_FILE", "%s: %s", path,
                           rc == SL_EINVAL ? "unterminated quote" : "larger than 1 MiB");
    return 0;
}

int sl_cmd_aggregator(int argc, char **argv)
{
    struct settings st = {0};
    int nargs = argc - 2;
    char **args = argv + 2, **file_args = NULL;
    int nfile_args = 0, status = 0, nitems = 0;
    struct cli_item *items = NULL;
    struct sl_buf yaml;
    sl_buf_init(&yaml, 0);
    const char *env = getenv("AGGREGATOR_ARGS_FILE");
    if (env && *env) {
        if ((status = read_args_file(env, &nfile_args, &file_args)))
            goto done;
        nargs = nfile_args;
        args = file_args;
    }
    items = sl_xcalloc((size_t)nargs + 1, sizeof *items);
    if ((status = parse_cli(nargs, args, items, &nitems)))
        goto done;
    for (int i = 0; i < nitems; i++) {
        if (items[i].id == A_HELP) {
            fputs(help_text, stdout);
            goto done;
        }
    }
    /* defaults -> settings.conf -> command line */
    for (int i = 0; i < A__COUNT; i++)
        if (flags[i].def)
            st.val[i] = sl_xstrdup(flags[i].def);
    const char *conf = NULL;
    for (int i = 0; i < nitems; i++)
        if (items[i].id == A_CONFIG)
            conf = items[i].value;
    if (conf && *conf && (status = load_settings(&st, conf)))
        goto done;
    bool print = false;
    for (int i = 0; i < nitems; i++) {
        char name[64];
        flag_name(&flags[items[i].id], name, sizeof name);
        if (items[i].id == A_PRINT_CONFIG)
            print = true;
        else if (items[i].id != A_CONFIG &&
                 (status = set_value(&st, items[i].id, items[i].value, name)))
            goto done;
    }
    build_yaml(&st, &yaml);
    if (print) {
        fputs(yaml.ptr, stdout);
        goto done;
    }
    if (!st.val[A_SECRET_KEY]) {
        status = usage_error("-t/--secretKey", "required: the ZMQ-Curve secret key (80 hex, as "
                                               "the JVM aggregator's; `sluice keygen` makes a "
                                               "pair)");
        goto done;
    }
    if (st.val[A_RECEIVER] && (!st.val[A_UNIQUE_ID] || !*st.val[A_UNIQUE_ID])) {
        status = usage_error("-q/--uniqueId", "required with -r/--receiver: the aggregator-id "
                                              "field of every upload (the receiver names the "
                                              "files after it)");
        goto done;
    }
    char *probe = spool_path(&st, "x");
    int mk = sl_fs_mkdir_parents(probe);
    sl_free(probe);
    if (mk) {
        status = usage_error("--spool", "cannot create %s: %s", st.val[A_SPOOL], sl_strerror(mk));
        goto done;
    }
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_config *cfg = NULL;
    if (sl_config_load_string(yaml.ptr, yaml.len, "<aggregator>", &cfg, &d)) {
        sl_app_print_diag(&d);
        status = 2;
    } else {
        struct sl_app_opts o = {.status = 0};
        status = sl_app_run(cfg, &o);
    }
    if (status == 2)
        fprintf(stderr, "sluice aggregator: <aggregator> is the generated pipeline: see it, with "
                        "its line numbers, with the same flags and --print-config\n");
done:
    sl_buf_fini(&yaml);
    sl_free(items);
    sl_aggregator_free_args(nfile_args, file_args);
    settings_free(&st);
    return status;
}
