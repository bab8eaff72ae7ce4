#!/usr/bin/env bash
# Runs the native addon's own tests under valgrind memcheck (issue 3 acceptance: "the addon's own
# tests run under valgrind memcheck in CI with 0 errors"). Each test file runs in its own node process,
# directly (not through `node --test`, whose runner would spawn children valgrind does not follow).
#
#   npx tsc -p . && bash scripts/valgrind-native.sh            # KATs, misuse and batch tests
#   bash scripts/valgrind-native.sh dist/test/unit/native-kat.test.js   # one file
#
# Exit status: non-zero if valgrind reports any error (--error-exitcode) or a test fails.
# Cost: ~30 s per file on a 2-core machine (V8 under memcheck is ~20x slower); ~1.5 min in all.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
  else
    echo "valgrind is not installed: sudo apt-get install -y valgrind" >&2
    exit 1
  fi
fi
[ -f build/Release/openkcm_native.node ] || { echo "the addon is not built: run npm ci (or npx node-gyp rebuild)" >&2; exit 1; }

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(dist/test/unit/native-kat.test.js dist/test/unit/native-misuse.test.js dist/test/unit/native-batch.test.js)
fi

status=0
for f in "${files[@]}"; do
  [ -f "$f" ] || { echo "missing $f: run npx tsc -p . first" >&2; exit 1; }
  start=$(date +%s)
  log=$(mktemp)
  # --error-exitcode turns any memcheck error (invalid read/write, uninitialised use, bad free) into a
  # failure. Leaks are not errors here: V8 and OpenSSL keep process-lifetime allocations until exit.
  if valgrind --tool=memcheck --error-exitcode=99 --track-origins=yes --num-callers=30 \
       node "$f" >"$log" 2>&1; then
    result=ok
  else
    result="FAILED (exit $?)"
    status=1
  fi
  errors=$(grep -Eo 'ERROR SUMMARY: [0-9]+ errors' "$log" | tail -1 || true)
  tests=$(grep -E '^# (pass|fail) ' "$log" | tr '\n' ' ' || true)
  echo "valgrind $f: $result — ${errors:-no summary} — ${tests}— $(( $(date +%s) - start )) s"
  if [ "$result" != ok ]; then
    grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source and destination)' -A 12 "$log" | head -80 >&2 || tail -40 "$log" >&2
  fi
  rm -f "$log"
done
exit $status
