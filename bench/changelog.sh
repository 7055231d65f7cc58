#!/usr/bin/env bash
# Benchmark: how fast a mirror site follows the primary's change log, all in
# one run on one machine (bench/changelog_bench.cc): mirror apply rate against
# primary commit rate, commit->replica latency on loopback and through a 50 ms
# RTT delay proxy, catch-up of a mirror M entries behind, and snapshot
# bootstrap over F files. Starts its own two PostgreSQL clusters.
#   bench/changelog.sh [changelog_bench flags...]
#     e.g. --catchup_entries=1000000 --snapshot_files=1000000 --durable
#   BUILD_DIR (default ./build) is where it builds the `changelog_bench` target.
# Report: bench/results/changelog.json (--json_out), and a table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
[ -f "$build/build.ninja" ] || cmake -S . -B "$build" -G Ninja >/dev/null
ninja -C "$build" changelog_bench >&2
mkdir -p bench/results
exec "$build/bench/changelog_bench" --json_out=bench/results/changelog.json "$@"
