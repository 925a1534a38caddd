#!/usr/bin/env bash
# Builds and runs every test of tandem: native (plus the ThreadSanitizer and AddressSanitizer builds), the same
# core tests compiled to wasm under node, the JS package under node, and the browser test in Debian's chromium.
# Sets up what it needs first (scripts/setup.sh). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
start=$SECONDS
export NODE_PATH=/usr/share/nodejs   # Debian's emcc needs acorn from here
export CTEST_OUTPUT_ON_FAILURE=1

step() { printf '\n=== %s (%d s elapsed)\n' "$*" $((SECONDS - start)); }
summary=()
record() { summary+=("$1"); }

step "setup"
bash scripts/setup.sh

# ctest -V shows each test's own output: Catch2's summary line ("All tests passed (N assertions in M test
# cases)") next to ctest's ("100% tests passed, 0 tests failed out of N").
run_ctest() {
  local preset=$1; shift
  local log="build/$preset-ctest.log"
  if ctest --preset "$preset" -V "$@" >"$log" 2>&1; then
    grep -E "All tests passed|test cases|tests passed|tests failed out of" "$log" | sed "s/^[0-9]*: //"
    record "$preset: $(grep -E 'tests passed|tests failed out of' "$log" | tail -1)"
  else
    cat "$log"
    record "$preset: FAILED"
    echo "!!! ctest $preset failed"
    exit 1
  fi
}

step "native: dependencies (libsrtp2 on OpenSSL, cached), configure, build, test"
bash scripts/build-native-deps.sh >/dev/null   # builds once per input change; each native configure reuses it
cmake --preset native >/dev/null
cmake --build --preset native
run_ctest native

step "native-tsan: the multi-threaded tests under ThreadSanitizer"
cmake --preset native-tsan >/dev/null
cmake --build --preset native-tsan --target tandem_tests shared_lib_smoke
# Not the cli_* tests: real-time processes under TSan's slowdown test the machine more than the code.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" run_ctest native-tsan -E '^cli_'

step "native-asan: every test under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake --preset native-asan >/dev/null
cmake --build --preset native-asan --target tandem_tests shared_lib_smoke tandem_cli
ASAN_OPTIONS="detect_leaks=1" run_ctest native-asan

step "wasm: dependencies (cached), configure, build, test under node"
TANDEM_WASM_DEPS=$(bash scripts/build-wasm-deps.sh | tail -1)
export TANDEM_WASM_DEPS
cmake --preset wasm >/dev/null
cmake --build --preset wasm
run_ctest wasm

step "JS package under node (worker_threads)"
export TANDEM_CORE_DIR="$root/build/wasm/wasm"
node --test tests/js/ 2>&1 | tee build/js-test.log
grep -qE '^# fail 0' build/js-test.log || { echo "!!! JS tests failed"; exit 1; }
record "js: $(grep -E '^# (pass|fail) ' build/js-test.log | tr '\n' ' ')"

step "browser: the demo page in Debian's chromium (playwright-core)"
node tests/browser/demo.test.mjs 2>&1 | tee build/browser-test.log
record "browser: $(grep -E '^browser tests:' build/browser-test.log | tail -1)"

step "interop: Debian's chromium <-> the native tandem CLI over loopback, both offer/answer directions"
TANDEM_CLI="$root/build/native/native/cli/tandem" node tests/browser/interop.test.mjs 2>&1 | tee build/interop-test.log
record "interop: $(grep -E '^interop tests:' build/interop-test.log | tail -1)"

step "summary"
printf '  %s\n' "${summary[@]}"
echo "all tests passed in $((SECONDS - start)) s"
