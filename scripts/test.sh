#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs,
# checks formatting (scripts/format_check.sh), builds (warnings are errors),
# compiles everything with clang's lock checker (scripts/thread_safety.sh),
# runs clang-tidy (scripts/tidy.sh), and runs every test with ctest (docs/testing.md,
# "Checks"). The tests start their own servers (a throwaway PostgreSQL per test
# binary, one radosgw for the run) and stop them even when a test fails. Then
# the FAST tests again, built with AddressSanitizer + UndefinedBehaviorSanitizer
# and with ThreadSanitizer (scripts/sanitize.sh; docs/testing.md says which
# tests and why).
#   scripts/test.sh               everything (what CI runs)
#   scripts/test.sh -R NAME ...   ctest arguments: only those tests; no checks, no sanitizer runs
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/check_sql.sh  # SQL only in meta/, primary/, mirror/ (seconds; before the long build)
scripts/install-deps.sh --test
if [ $# -eq 0 ]; then scripts/format_check.sh; fi
scripts/check_sizes.sh   # files <= 800 lines, functions <= 120 (docs/testing.md)
scripts/check_docs.sh   # invariants cited exist in docs/architecture.md; no issue numbers
scripts/build.sh
if [ $# -eq 0 ]; then
  scripts/thread_safety.sh
  scripts/tidy.sh
fi
(cd build && ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@")
if [ $# -eq 0 ]; then
  scripts/sanitize.sh asan
  scripts/sanitize.sh tsan
  scripts/fuzz.sh  # each libFuzzer target for 25 s (docs/testing.md "Fuzzing")
fi
