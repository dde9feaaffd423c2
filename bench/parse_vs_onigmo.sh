#!/usr/bin/env bash
# Fluent Bit's regex parser engine against sluice's `parse`, on the same access-log lines.
#
# Fluent Bit's `regex` parser (src/flb_parser_regex.c) runs Onigmo, which it bundles in
# lib/onigmo: onig_search() on the line, then onig_foreach_name() over the named groups, then
# packs each into msgpack and parses Time_Format. This script builds that Onigmo from a Fluent
# Bit source tree (FLB_SRC, a checkout, or the bare mirror at /work/.mirror) and times the
# search + named-group walk only with Fluent Bit's shipped `apache2` regex, i.e. a LOWER bound
# of Fluent Bit's per-line cost (no msgpack, no time parsing), against bench_parse's
# parse_regex_apache2 / parse_grok_combinedapachelog on the same lines (sluice builds typed
# events there). Prints figures; never asserts.
#
#   bash bench/parse_vs_onigmo.sh [BUILD_DIR (default build/release)] [LINES (default 200000)]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build/release}" && pwd)
LINES=${2:-200000}
W=$(mktemp -d /tmp/sluice-onigmo.XXXXXX)
trap 'rm -rf "$W"' EXIT
if [ -n "${FLB_SRC:-}" ] && [ -d "$FLB_SRC/lib/onigmo" ]; then
  cp -r "$FLB_SRC/lib/onigmo" "$W/onigmo"
  FLB_REV=$(git -C "$FLB_SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
elif [ -d /work/.mirror/fluent+fluent-bit/repo ]; then
  G=/work/.mirror/fluent+fluent-bit/repo
  git --git-dir=$G archive HEAD lib/onigmo 2>/dev/null | tar -x -C "$W"
  mv "$W/lib/onigmo" "$W/onigmo"
  FLB_REV=$(git --git-dir=$G rev-parse --short HEAD)
else
  echo "# no Fluent Bit source (set FLB_SRC): skipped"; exit 0
fi
cmake -S "$W/onigmo" -B "$W/ob" -DCMAKE_BUILD_TYPE=Release >/dev/null
make -C "$W/ob" -j2 >/dev/null 2>&1
LIB=$(find "$W/ob" -name 'libonigmo-static.a' | head -1)
cat > "$W/onig_bench.c" <<'CEOF'
#include <onigmo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
struct ctx { const unsigned char *s; OnigRegion *r; size_t bytes; };
static int each(const OnigUChar *name, const OnigUChar *end, int n, int *g, regex_t *re, void *arg)
{
    struct ctx *c = arg;
    (void)name; (void)end; (void)re;
    for (int i = 0; i < n; i++)
        if (c->r->beg[g[i]] >= 0)
            c->bytes += (size_t)(c->r->end[g[i]] - c->r->beg[g[i]]);
    return 0;
}
int main(int argc, char **argv)
{
    FILE *f = fopen(argv[1], "rb");
    fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n); if (fread(buf, 1, (size_t)n, f) != (size_t)n) return 1;
    /* Fluent Bit's conf/parsers.conf `apache2` */
    const char *pat = "^(?<host>[^ ]*) [^ ]* (?<user>[^ ]*) \\[(?<time>[^\\]]*)\\] \"(?<method>\\S+)"
                      "(?: +(?<path>[^ ]*) +\\S*)?\" (?<code>[^ ]*) (?<size>[^ ]*)"
                      "(?: \"(?<referer>[^\\\"]*)\" \"(?<agent>.*)\")?$";
    regex_t *re; OnigErrorInfo ei;
    /* as flb_regex_create: ONIG_OPTION_CAPTURE_GROUP, UTF8, Ruby syntax */
    if (onig_new(&re, (const OnigUChar *)pat, (const OnigUChar *)pat + strlen(pat),
                 ONIG_OPTION_CAPTURE_GROUP, ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY, &ei) != ONIG_NORMAL)
        return 2;
    double best = 1e9; size_t lines = 0, bytes = 0;
    for (int rep = 0; rep < 5; rep++) {
        struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
        lines = 0;
        const char *p = buf, *e = buf + n;
        OnigRegion *r = onig_region_new();
        struct ctx c = {0};
        c.r = r;
        while (p < e) {
            const char *nl = memchr(p, '\n', (size_t)(e - p));
            const OnigUChar *s = (const OnigUChar *)p, *se = (const OnigUChar *)nl;
            if (onig_search(re, s, se, s, se, r, ONIG_OPTION_NONE) < 0) return 3;
            c.s = s;
            onig_foreach_name(re, each, &c);
            onig_region_clear(r);
            lines++; p = nl + 1;
        }
        onig_region_free(r, 1);
        bytes = c.bytes;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double t = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (t < best) best = t;
    }
    printf("bench=onigmo_apache2_search_and_names impl=fluent-bit-onigmo lines=%zu lines_per_s=%.0f captured_bytes=%zu\n",
           lines, (double)lines / best, bytes);
    return 0;
}
CEOF
cc -O2 -I"$W/onigmo" -I"$W/ob" "$W/onig_bench.c" "$LIB" -o "$W/onig_bench"
"$BUILD/bench_parse" --write-apache "$W/apache.log" "$LINES"
echo "# Fluent Bit $FLB_REV lib/onigmo $(grep -m1 -o 'ONIGMO_VERSION_MAJOR *[0-9]*' "$W/onigmo/onigmo.h" | grep -o '[0-9]*$').x, $LINES lines, best of 5, one core"
"$W/onig_bench" "$W/apache.log"
"$BUILD/bench_parse" "$LINES" | grep -E "^#|pcre2_jit|parse_regex_apache2|parse_grok_combinedapachelog "
