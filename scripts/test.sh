#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs,
# builds, and runs every test with ctest. The tests start their own servers (a
# throwaway PostgreSQL per test binary, one radosgw for the run) and stop them
# even when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@"
