/*
 * send_cmd.c — `sluice send`: a collector in one command, and the load generator of the zmq
 * benchmarks.
 *
 *   sluice send --server-key KEY [--host H] [--port P] [--secret-key K --public-key K]
 *               [--no-curve] [--batch N] [--rate EV/S] [--count N] [--loop] [--hwm N]
 *               [--linger MS] [--format json|zeek] [--quiet] [FILE... | -]
 *
 * Reads events (JSON, one object per line, or Zeek TSV/JSON logs with --format zeek, typed
 * by #path or file name as the file source does; `-` or nothing: stdin), encodes each as a
 * network-event FlatBuffer (sl_netevent_encode, codec/netevent.h; the `type` field picks the
 * type table) and pushes them to tcp://host:port over a CurveZMQ PUSH socket. Client keys are
 * generated unless given (the public one is printed, for allow_keys). --batch N packs N
 * size-prefixed FlatBuffers per ZeroMQ message: CurveZMQ costs about 4x per small message
 * (ARCHITECTURE.md), so the default is 100; --batch 1 sends one plain FlatBuffer per message
 * (encoded without the prefix, since FlatBuffers align relative to the buffer start).
 * --count stops after N events (repeating the input with --loop), --rate paces them.
 * Prints what it sent on stdout.
 *
 * DESIGN: the input is read and encoded once, before the clock starts, into one buffer of
 * size-prefixed FlatBuffers with their offsets, so consecutive events are contiguous and a
 * message of N events is one range: what is measured is ZeroMQ and the receiver, not JSON
 * parsing. Input formats go through read_events() (JSON lines, or codec/zeek.h). The PUSH socket
 * blocks at its send HWM, so a receiver under back-pressure slows the sender down; nothing is
 * dropped. At the end the socket lingers (--linger, 30 s) until every message is out.
 */
#include "app/send_cmd.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/str.h"
#include "codec/json.h"
#include "codec/netevent.h"
#include "codec/zeek.h"
#include "core/event.h"
#include "sys/curvekeys.h"
#include "sys/signals.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define INPUT_MAX ((size_t)1 << 30) /* encoded events kept in memory */

struct send_opts {
    const char *host, *server_key, *secret_key, *public_key, *format;
    int64_t port, batch, count, hwm, linger_ms;
    double rate;
    bool curve, loop, quiet;
    const char **files;
    int nfiles;
};

/* The encoded input: size-prefixed FlatBuffers back to back; off[i] is where event i starts,
 * off[n] the end. */
struct encoded {
    struct sl_buf buf;
    size_t *off;
    size_t n, cap;
    uint64_t skipped;
    bool bare; /* --batch 1: plain FlatBuffers (a frame's 4-byte prefix would misalign them) */
};

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: sluice send --server-key KEY [--host H] [--port P] [--secret-key K "
        "--public-key K]\n"
        "                   [--no-curve] [--batch N] [--rate EV/S] [--count N] [--loop]\n"
        "                   [--hwm N] [--linger MS] [--format json|zeek] [--quiet] [FILE... | -]\n"
        "  pushes JSON events (one per line) or Zeek logs (--format zeek) as network-event\n"
        "  FlatBuffers to a zmq source\n"
        "  --host 127.0.0.1 --port 5555; --batch 100 events per message; --count: all input\n"
        "  once (with --loop: until stopped); keys: 40 Z85, 80 hex (hex-encoded Z85), 64 hex\n");
}

static int push_offset(struct encoded *e, size_t at)
{
    if (e->n + 1 >= e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 1024;
        size_t *p = sl_realloc(e->off, cap * sizeof(*p));
        if (!p)
            return SL_ENOMEM;
        e->off = p;
        e->cap = cap;
    }
    e->off[e->n++] = at;
    return 0;
}

static int encode_batch(struct sl_batch *b, struct encoded *e, const char *path,
                        const int64_t *lines, bool quiet)
{
    for (uint32_t i = 0; i < b->count; i++) {
        size_t at = e->buf.len;
        struct sl_diag d;
        sl_diag_init(&d);
        int rc = sl_netevent_encode(&b->events[i], !e->bare, &e->buf, &d);
        if (rc == SL_E2BIG || rc == SL_ENOMEM) {
            fprintf(stderr, "sluice send: input too large to hold encoded (%s)\n", sl_strerror(rc));
            return rc;
        }
        if (rc) {
            e->buf.len = at;
            if (!quiet && e->skipped < 10)
                fprintf(stderr, "sluice send: %s:%lld: skipped: %s\n", path, (long long)lines[i],
                        d.msg);
            e->skipped++;
            continue;
        }
        if (push_offset(e, at))
            return SL_ENOMEM;
    }
    return 0;
}

static int read_all(FILE *f, struct sl_buf *text)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (sl_buf_append(text, chunk, n))
            return SL_E2BIG;
    return ferror(f) ? SL_EIO : 0;
}

/* One input of JSON lines (or a Zeek log) into e. */
static int read_events(const char *path, const struct send_opts *o, struct encoded *e)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "sluice send: %s: %s\n", path, strerror(errno));
        return SL_EIO;
    }
    struct sl_buf text;
    sl_buf_init(&text, INPUT_MAX);
    int rc = read_all(f, &text);
    if (f != stdin)
        fclose(f);
    if (rc) {
        fprintf(stderr, "sluice send: %s: %s\n", path, sl_strerror(rc));
        sl_buf_fini(&text);
        return rc;
    }
    struct sl_batch *b = sl_batch_new();
    /* Zeek: strings may view `text`, which outlives every batch made from it */
    struct sl_zeek *z = strcmp(o->format, "zeek") == 0 ? sl_zeek_new(path) : NULL;
    int64_t lines[SL_BATCH_EVENTS];
    int64_t lineno = 0;
    size_t pos = 0;
    while (rc == 0 && pos < text.len) {
        const char *p = text.ptr + pos;
        const char *nl = memchr(p, '\n', text.len - pos);
        size_t n = nl ? (size_t)(nl - p) : text.len - pos;
        pos += n + (nl ? 1 : 0);
        lineno++;
        struct sl_str s = sl_str_trim(sl_str_make(p, n));
        if (s.len == 0)
            continue;
        struct sl_diag d;
        sl_diag_init(&d);
        uint32_t before = b->count;
        if (z ? sl_zeek_parse_line(z, b, s.ptr, s.len, &d)
              : sl_json_parse_event(b, s.ptr, s.len, NULL, &d)) {
            if (!o->quiet && e->skipped < 10)
                fprintf(stderr, "sluice send: %s:%lld: skipped: %s\n", path, (long long)lineno,
                        d.msg);
            e->skipped++;
            continue;
        }
        if (b->count == before) /* a Zeek header or comment line */
            continue;
        lines[b->count - 1] = lineno;
        if (b->count == SL_BATCH_EVENTS) {
            rc = encode_batch(b, e, path, lines, o->quiet);
            sl_batch_unref(b);
            b = sl_batch_new();
        }
    }
    if (rc == 0)
        rc = encode_batch(b, e, path, lines, o->quiet);
    sl_batch_unref(b);
    sl_zeek_free(z);
    sl_buf_fini(&text);
    return rc;
}

static bool num_arg(const char *flag, const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (sl_str_to_i64(sl_str_c(v), out) || *out < lo || *out > hi) {
        fprintf(stderr, "sluice send: %s takes a number from %lld to %lld\n", flag, (long long)lo,
                (long long)hi);
        return false;
    }
    return true;
}

static int parse(int argc, char **argv, struct send_opts *o)
{
    *o = (struct send_opts){.host = "127.0.0.1",
                            .format = "json",
                            .port = 5555,
                            .batch = 100,
                            .count = -1,
                            .hwm = 1000,
                            .linger_ms = 30000,
                            .curve = true};
    o->files = sl_xcalloc((size_t)argc, sizeof(*o->files));
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--no-curve") == 0) {
            o->curve = false;
        } else if (strcmp(a, "--loop") == 0) {
            o->loop = true;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            o->quiet = true;
        } else if (a[0] == '-' && a[1] == '-' && !v) {
            fprintf(stderr, "sluice send: %s needs a value\n", a);
            return 2;
        } else if (strcmp(a, "--host") == 0) {
            o->host = argv[++i];
        } else if (strcmp(a, "--server-key") == 0) {
            o->server_key = argv[++i];
        } else if (strcmp(a, "--secret-key") == 0) {
            o->secret_key = argv[++i];
        } else if (strcmp(a, "--public-key") == 0) {
            o->public_key = argv[++i];
        } else if (strcmp(a, "--format") == 0) {
            o->format = argv[++i];
        } else if (strcmp(a, "--port") == 0 || strcmp(a, "-p") == 0) {
            ok = num_arg(a, argv[++i], 1, 65535, &o->port);
        } else if (strcmp(a, "--batch") == 0) {
            ok = num_arg(a, argv[++i], 1, 1000000, &o->batch);
        } else if (strcmp(a, "--count") == 0) {
            ok = num_arg(a, argv[++i], 0, INT64_MAX, &o->count);
        } else if (strcmp(a, "--hwm") == 0) {
            ok = num_arg(a, argv[++i], 1, 10000000, &o->hwm);
        } else if (strcmp(a, "--linger") == 0) {
            ok = num_arg(a, argv[++i], -1, 86400000, &o->linger_ms);
        } else if (strcmp(a, "--rate") == 0) {
            ok = sl_str_to_double(sl_str_c(argv[++i]), &o->rate) == 0 && o->rate >= 0;
            if (!ok)
                fprintf(stderr, "sluice send: --rate takes events per second\n");
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "sluice send: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else {
            o->files[o->nfiles++] = a;
        }
        if (!ok)
            return 2;
    }
    if (strcmp(o->format, "json") != 0 && strcmp(o->format, "zeek") != 0) {
        fprintf(stderr, "sluice send: --format %s: json or zeek\n", o->format);
        return 2;
    }
    if (o->curve && !o->server_key) {
        fprintf(stderr, "sluice send: --server-key KEY is required (or --no-curve)\n");
        usage(stderr);
        return 2;
    }
    if (!o->secret_key != !o->public_key) {
        fprintf(stderr, "sluice send: give both --secret-key and --public-key, or neither\n");
        return 2;
    }
    if (o->nfiles == 0)
        o->files[o->nfiles++] = "-";
    return 0;
}

static bool key_arg(const char *flag, const char *text, char z85[41])
{
    uint8_t k[SL_CURVEKEY_LEN];
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_curvekey_parse(text, strlen(text), k, &d)) {
        fprintf(stderr, "sluice send: %s: %s\n", flag, d.msg);
        return false;
    }
    sl_z85_encode(k, SL_CURVEKEY_LEN, z85);
    return true;
}

static int setup_socket(void *sock, const struct send_opts *o)
{
    int hwm = (int)o->hwm, linger = (int)o->linger_ms;
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
    if (!o->curve)
        return 0;
    char server[41], pub[41], sec[41];
    if (!key_arg("--server-key", o->server_key, server))
        return 2;
    if (o->secret_key) {
        if (!key_arg("--secret-key", o->secret_key, sec) ||
            !key_arg("--public-key", o->public_key, pub))
            return 2;
    } else if (zmq_curve_keypair(pub, sec)) {
        fprintf(stderr, "sluice send: zmq_curve_keypair: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    } else if (!o->quiet) {
        fprintf(stderr, "sluice send: client public key (for allow_keys): %s\n", pub);
    }
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server, 40) ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 40) ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40)) {
        fprintf(stderr, "sluice send: CURVE: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    return 0;
}

static void pace(int64_t start_ns, uint64_t sent, double rate)
{
    if (rate <= 0)
        return;
    int64_t due = start_ns + (int64_t)((double)sent / rate * 1e9);
    int64_t now = sl_clock_mono_ns();
    if (due > now) {
        struct timespec ts = {(time_t)((due - now) / 1000000000), (long)((due - now) % 1000000000)};
        nanosleep(&ts, NULL);
    }
}

int sl_cmd_send(int argc, char **argv)
{
    struct send_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) {
        sl_free(o.files);
        return rc == 1 ? 0 : rc;
    }
    struct encoded e = {.bare = o.batch == 1};
    sl_buf_init(&e.buf, INPUT_MAX);
    void *ctx = NULL, *sock = NULL;
    for (int i = 0; i < o.nfiles && rc == 0; i++)
        if (read_events(o.files[i], &o, &e))
            rc = 1;
    if (rc == 0 && e.n == 0) {
        fprintf(stderr, "sluice send: no events to send (%llu lines skipped)\n",
                (unsigned long long)e.skipped);
        rc = 1;
    }
    if (rc)
        goto out;
    push_offset(&e, e.buf.len); /* off[n]: the end */
    e.n--;
    uint64_t total = o.count >= 0 ? (uint64_t)o.count : o.loop ? UINT64_MAX : e.n;
    if (!o.loop && total > e.n)
        total = e.n;

    ctx = zmq_ctx_new();
    sock = zmq_socket(ctx, ZMQ_PUSH);
    rc = setup_socket(sock, &o);
    if (rc)
        goto out;
    char ep[300];
    snprintf(ep, sizeof(ep), strchr(o.host, ':') ? "tcp://[%s]:%lld" : "tcp://%s:%lld", o.host,
             (long long)o.port);
    if (strchr(o.host, ':')) {
        int one = 1;
        zmq_setsockopt(sock, ZMQ_IPV6, &one, sizeof(one));
    }
    if (zmq_connect(sock, ep)) {
        fprintf(stderr, "sluice send: connect %s: %s\n", ep, zmq_strerror(zmq_errno()));
        rc = 1;
        goto out;
    }
    sl_signals_install();
    uint64_t sent = 0, messages = 0, bytes = 0;
    size_t at = 0;
    int64_t start = sl_clock_mono_ns();
    while (sent < total && !sl_signals_stop_requested()) {
        size_t k = (size_t)o.batch;
        if (k > e.n - at)
            k = e.n - at; /* the end of the input: a shorter message */
        if (k > total - sent)
            k = (size_t)(total - sent);
        const char *p = e.buf.ptr + e.off[at];
        size_t len = e.off[at + k] - e.off[at];
        if (zmq_send(sock, p, len, 0) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            fprintf(stderr, "sluice send: %s\n", zmq_strerror(zmq_errno()));
            rc = 1;
            break;
        }
        sent += k;
        messages++;
        bytes += len;
        at += k;
        if (at == e.n)
            at = 0;
        pace(start, sent, o.rate);
    }
    double secs = (double)(sl_clock_mono_ns() - start) / 1e9;
    zmq_close(sock); /* lingers until every message is out (--linger) */
    sock = NULL;
    zmq_ctx_term(ctx);
    ctx = NULL;
    double all = (double)(sl_clock_mono_ns() - start) / 1e9;
    printf("sent %llu events in %llu messages (%llu bytes) to %s, curve %s: %.3f s, "
           "%.0f events/s (%.3f s with the final flush)\n",
           (unsigned long long)sent, (unsigned long long)messages, (unsigned long long)bytes, ep,
           o.curve ? "on" : "off", secs, secs > 0 ? (double)sent / secs : 0, all);
    if (e.skipped)
        printf("skipped %llu input lines (see above)\n", (unsigned long long)e.skipped);
out:
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    sl_free(e.off);
    sl_buf_fini(&e.buf);
    sl_free(o.files);
    return rc;
}
