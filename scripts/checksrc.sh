#!/usr/bin/env bash
# checksrc — source rules that the compiler does not check (after curl's checksrc.pl):
#   1. banned functions: sprintf vsprintf strcpy strcat strncpy strtok atoi gets alloca
#      (in src/, tests/, fuzz/, bench/);
#   2. raw allocation (malloc calloc realloc free strdup strndup) outside src/base/alloc.c:
#      everything goes through base/alloc.h so tests can count and fail allocations
#      (src/ only; tests, fuzz drivers and benchmarks may use libc directly);
#   3. layering (ARCHITECTURE.md): a file includes headers only from its own layer or a
#      lower one: base < sys < core < lang, sql, state, codec < io < api < app; siblings
#      talk through core/, except that state/ may use lang/ (profiles are Stellar programs).
# Prints file:line: message for each finding; exits 1 if there is any.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
report() { echo "$1"; status=1; }

strip() { # drop /* */ and // comments and string literals, keep line numbers
  sed -e 's://.*$::' -e 's/"\([^"\\]\|\\.\)*"/""/g' "$1" |
    awk 'BEGIN{c=0} { out=""; s=$0;
      while (length(s)) {
        if (c) { i=index(s,"*/"); if (!i) { s=""; break } s=substr(s,i+2); c=0 }
        else { i=index(s,"/*"); if (!i) { out=out s; s=""; break } out=out substr(s,1,i-1); s=substr(s,i+2); c=1 }
      } print out }'
}

banned='(^|[^A-Za-z0-9_])(v?sprintf|strcpy|strcat|strncpy|strtok|atoi|gets|alloca)[[:space:]]*\('
rawalloc='(^|[^A-Za-z0-9_.>])(malloc|calloc|realloc|free|strdup|strndup)[[:space:]]*\('

for f in $(git ls-files -co --exclude-standard 'src/*.c' 'src/*.h' 'tests/*.c' 'fuzz/*.c' 'bench/*.c' 'bench/*.h' 2>/dev/null); do
  [ -f "$f" ] || continue
  body=$(strip "$f")
  while IFS=: read -r ln _; do
    [ -n "$ln" ] && report "$f:$ln: banned function ($(sed -n "${ln}p" "$f" | grep -Eo "$banned" | tr -d '( ' | head -1))"
  done < <(grep -nE "$banned" <<<"$body")
  case "$f" in
    src/base/alloc.c|tests/*|fuzz/*|bench/*) ;;
    src/*)
      while IFS=: read -r ln _; do
        [ -n "$ln" ] && report "$f:$ln: raw allocation; use base/alloc.h (sl_malloc, sl_free, ...)"
      done < <(grep -nE "$rawalloc" <<<"$body")
      ;;
  esac
done

layer_of() {
  case "$1" in
    base) echo 0 ;; sys) echo 1 ;; core) echo 2 ;; lang|sql|state|codec) echo 3 ;;
    io) echo 4 ;; api) echo 5 ;; app) echo 6 ;; *) echo -1 ;;
  esac
}
for f in $(git ls-files -co --exclude-standard 'src/*.c' 'src/*.h' 2>/dev/null); do
  [ -f "$f" ] || continue
  dir=$(echo "$f" | cut -d/ -f2)
  mine=$(layer_of "$dir")
  while IFS=: read -r ln inc; do
    idir=$(echo "$inc" | sed -E 's/.*#include[[:space:]]*"([a-z]+)\/.*/\1/')
    theirs=$(layer_of "$idir")
    if [ "$theirs" -gt "$mine" ]; then
      report "$f:$ln: layering: $dir (L$mine) includes $idir/ (L$theirs)"
    elif [ "$dir" = state ] && [ "$idir" = lang ]; then
      : # state/ runs Stellar programs (profiles are Stellar): it may use lang/, not the reverse
    elif [ "$theirs" -eq "$mine" ] && [ "$mine" -eq 3 ] && [ "$idir" != "$dir" ]; then
      report "$f:$ln: layering: siblings $dir/ and $idir/ talk through core/ types"
    fi
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[a-z]+/' "$f")
done

[ $status -eq 0 ] && echo "checksrc: ok"
exit $status
