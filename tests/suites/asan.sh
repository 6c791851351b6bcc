#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer: builds the unit tests and the
# CLI with -DRULEC_SANITIZE=ON in build-asan/, then runs the whole unit suite
# and the hostile-input set (tests/suites/hostile.sh) under them. Any finding
# (a memory error, a leak, undefined behaviour) aborts the run: zero findings
# is the only pass.
set -uo pipefail
root=${RULEC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${RULEC_ASAN_BUILD_DIR:-$root/build-asan}
mkdir -p "$build"
echo "asan: building rulec and rulec_tests with ASan + UBSan in $build"
cmake -S "$root" -B "$build" -G Ninja -DRULEC_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; echo "asan: configure failed"; exit 2; }
ninja -C "$build" rulec rulec_tests >"$build/build.log" 2>&1 || { tail -30 "$build/build.log"; echo "asan: build failed"; exit 2; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
echo "asan: unit tests"
log=$build/unit.log
start=$SECONDS
if "$build/rulec_tests" >"$log" 2>&1; then
  echo "asan: unit tests ok ($((SECONDS - start)) s): $(grep -E '^\[doctest\] test cases' "$log" | tail -1)"
else
  status=1
  echo "asan: unit tests FAILED ($((SECONDS - start)) s)"
  grep -E -A20 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log" | head -40
  grep -E 'ERROR|FAILED|test cases' "$log" | head -20
  echo "asan: full log in $log"
fi

echo "asan: hostile inputs"
RULEC_BIN=$build/rulec RULEC_SANITIZED=1 bash "$root/tests/suites/hostile.sh" || status=1
((status == 0)) && echo "asan: zero findings"
exit $status
