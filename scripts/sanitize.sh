#!/usr/bin/env bash
# Builds the FAST tests (cmake/meridian.cmake) with sanitizers and runs them.
#   scripts/sanitize.sh asan   AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   scripts/sanitize.sh tsan   ThreadSanitizer (build-tsan/)
# Extra arguments go to ctest (e.g. -R stream_test). Any finding fails its test:
# the sanitizers abort instead of recovering. Suppressions, each with its
# reason: scripts/sanitizers/.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: scripts/sanitize.sh asan|tsan [ctest args...]}
shift
case "$kind" in
  asan) flags=address,undefined ;;
  tsan) flags=thread ;;
  *) echo "scripts/sanitize.sh: unknown sanitizer '$kind' (asan or tsan)" >&2; exit 2 ;;
esac
dir=build-$kind
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# -O1 -g1: fast enough to run, line numbers in reports, quicker to build.
# MERIDIAN_WERROR=OFF: warnings are the main build's job (scripts/build.sh); gcc's
# sanitizer instrumentation adds false positives of its own (-Wmaybe-uninitialized).
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
  -DMERIDIAN_SANITIZE="$flags" -DMERIDIAN_BENCH=OFF -DMERIDIAN_WERROR=OFF "${launcher[@]}" >/dev/null
cmake --build "$dir" --target fast_tests
supp=$PWD/scripts/sanitizers
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp"
cd "$dir"
ctest --output-on-failure --timeout 900 -j "$(nproc)" -L fast "$@"
