#!/bin/sh
# Instructions per server request (Get, Create, Encrypt batch of 10) under valgrind's callgrind:
# load-independent figures for issue 7 (docs/performance.md "Instruction counts").
# Each op runs twice after the same warm-up, with N1 and N2 measured requests; the difference of
# the two totals divided by N2 - N1 cancels start-up, set-up and warm-up.
# Usage: npx tsc -p . && sh perf/callgrind-hotpath.sh [get] [create] [encrypt]
# Env: N1 (default 200), N2 (default 1200), WARMUP (default 300), OUT (default a temp dir).
set -eu
cd "$(dirname "$0")/.."
N1=${N1:-200}
N2=${N2:-1200}
WARMUP=${WARMUP:-300}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/openkcm-callgrind.XXXXXX")}
mkdir -p "$OUT"
OPS=${*:-get create encrypt}
total() {
  # "events: Ir" then "summary: <n>" (or "totals: <n>") in the callgrind output file.
  awk '/^(summary|totals):/ { print $2; exit }' "$1"
}
# Ir outside V8's optimizing compiler (TurboFan). V8 keeps optimizing newly hot functions for
# thousands of requests, so a short run's difference still carries compile work (most of it,
# for Get); this second figure is the request path itself (interpreter, optimized code, GC,
# libc, OpenSSL, LMDB). Function-level attribution via callgrind_annotate.
nojit() {
  callgrind_annotate --inclusive=no --threshold=100 "$1" 2>/dev/null | awk '
    /PROGRAM TOTALS/ { gsub(",", "", $1); t = $1 }
    /v8::internal::compiler::|v8::internal::OptimizedCompilationJob|v8::internal::TurboFan|v8::internal::Pipeline/ { gsub(",", "", $1); c += $1 }
    END { printf "%d\n", t - c }'
}
for op in $OPS; do
  for n in "$N1" "$N2"; do
    # --smc-check=all-non-file: V8 writes and rewrites machine code in anonymous memory (JIT).
    valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$OUT/$op.$n.out" \
      node dist/perf/callgrind-hotpath.js "$op" "$n" "$WARMUP" >"$OUT/$op.$n.log" 2>&1 \
      || { echo "$op $n failed, see $OUT/$op.$n.log" >&2; exit 1; }
  done
  a=$(total "$OUT/$op.$N1.out")
  b=$(total "$OUT/$op.$N2.out")
  ja=$(nojit "$OUT/$op.$N1.out")
  jb=$(nojit "$OUT/$op.$N2.out")
  echo "$op: $(( (b - a) / (N2 - N1) )) instructions/request, $(( (jb - ja) / (N2 - N1) )) without the optimizing compiler  (Ir $a at N=$N1, $b at N=$N2, warm-up $WARMUP)"
done
echo "callgrind files: $OUT"
