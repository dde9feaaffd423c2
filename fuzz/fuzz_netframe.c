/*
 * fuzz_netframe.c — libFuzzer target for the LF / octet-counted framer (io/netframe.h).
 *
 * The first byte picks the framing (auto, lf, octet) and a small max_frame, so cuts happen
 * with short inputs. The stream is framed twice: fed at once, and fed in pieces whose sizes
 * come from a PRNG seeded by the input. Both must give the same frames (bytes and flags) and
 * the same result; every frame is non-empty and at most max_frame bytes.
 */
#include "base/buf.h"
#include "io/netframe.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct out {
    struct sl_buf b;
    size_t max;
};

static int collect(void *arg, const char *p, size_t n, unsigned flags)
{
    struct out *o = arg;
    if (n == 0 || n > o->max || flags > 3)
        abort();
    char h[2] = {(char)('0' + flags), ':'};
    sl_buf_append(&o->b, h, 2);
    sl_buf_append(&o->b, p, n);
    sl_buf_append(&o->b, "\x01", 1);
    return 0;
}

static int run(const char *p, size_t n, enum sl_netserver_framing mode, size_t max, uint32_t seed,
               struct out *o)
{
    struct sl_netframer f;
    sl_netframer_init(&f, mode, max);
    sl_buf_init(&o->b, 0);
    o->max = max;
    int rc = 0;
    for (size_t off = 0; off < n && !rc;) {
        size_t k = n - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            k = 1 + (seed >> 16) % 17;
            if (k > n - off)
                k = n - off;
        }
        /* a heap copy of each piece so ASan sees reads past it */
        char *piece = malloc(k);
        if (!piece)
            abort();
        memcpy(piece, p + off, k);
        rc = sl_netframer_feed(&f, piece, k, collect, o);
        free(piece);
        off += k;
    }
    if (!rc)
        sl_netframer_eof(&f, collect, o);
    sl_netframer_fini(&f);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    uint8_t sel = data[0];
    enum sl_netserver_framing mode = (enum sl_netserver_framing)(sel % 3);
    size_t max = 1 + (sel >> 2);
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    uint32_t seed = 1;
    for (size_t i = 0; i < n && i < 16; i++)
        seed = seed * 31 + (uint8_t)p[i];
    struct out a, b;
    int ra = run(p, n, mode, max, 0, &a);
    int rb = run(p, n, mode, max, seed | 1, &b);
    if (ra != rb || a.b.len != b.b.len || (a.b.len && memcmp(a.b.ptr, b.b.ptr, a.b.len) != 0))
        abort();
    sl_buf_fini(&a.b);
    sl_buf_fini(&b.b);
    return 0;
}
