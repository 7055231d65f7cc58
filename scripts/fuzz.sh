#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and runs
# each for a fixed time from a copy of its checked-in seed corpus. Fails if any
# target crashes, leaks, hangs or trips a sanitizer, and prints how to replay
# the input that did it. docs/testing.md "Fuzzing" lists the targets.
#   scripts/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]   default: 25 s, every target
#   scripts/fuzz.sh 0                                  only replay the seeds
#   scripts/fuzz.sh 600 s3_xml_fuzzer                  one target, longer
# Env: FUZZ_BUILD_DIR (default build-fuzz); REGEN_SEEDS=1 first rewrites the
# checked-in seeds with the seed writers (<folder>_fuzz_seeds).
# The working corpus grows in $FUZZ_BUILD_DIR/corpus/<target>/ (kept between
# runs; delete it to start from the seeds); crashes land in
# $FUZZ_BUILD_DIR/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-25}
[ $# -gt 0 ] && shift
[[ "$secs" =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]" >&2; exit 2; }
dir=${FUZZ_BUILD_DIR:-build-fuzz}

# target  folder  max input length; its seeds are <folder>/fuzz_corpus/<target minus _fuzzer>/
all=(
  "codec_fuzzer           changelog 16384"
  "stream_protocol_fuzzer sitelink  4096"
  "s3_xml_fuzzer          objstore  16384"
  "notify_fuzzer          meta      8192"
  "block_fuzzer           common    8192"
)
selected=()
for t in "${all[@]}"; do
  read -r name _ _ <<<"$t"
  if [ $# -eq 0 ] || [[ " $* " == *" $name "* ]]; then selected+=("$t"); fi
done
[ ${#selected[@]} -gt 0 ] || { echo "scripts/fuzz.sh: no target named $*" >&2; exit 2; }

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMERIDIAN_BENCH=OFF "${launcher[@]}" >/dev/null
build=()
for t in "${selected[@]}"; do
  read -r name folder _ <<<"$t"
  build+=("$name")
  [ "${REGEN_SEEDS:-0}" = 1 ] && build+=("${folder}_fuzz_seeds")
done
cmake --build "$dir" --target "${build[@]}"

export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=()
for t in "${selected[@]}"; do
  read -r name folder max_len <<<"$t"
  seeds=$folder/fuzz_corpus/${name%_fuzzer}
  if [ "${REGEN_SEEDS:-0}" = 1 ]; then
    rm -rf "$seeds" && mkdir -p "$seeds"
    "$dir/$folder/${folder}_fuzz_seeds" "$seeds"
    echo "rewrote $seeds/"
  fi
  work=$dir/corpus/$name art=$dir/artifacts/$name log=$dir/$name.log
  mkdir -p "$work" && cp -r "$seeds/." "$work/"
  rm -rf "$art" && mkdir -p "$art"
  budget=(-max_total_time="$secs")
  [ "$secs" = 0 ] && budget=(-runs=0)  # execute the corpus once, then stop
  echo "fuzzing $name for ${secs}s from $seeds (log: $log)"
  if "$dir/$folder/$name" "$work" "${budget[@]}" -max_len="$max_len" -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$art/" -print_final_stats=1 >"$log" 2>&1; then
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 || true)
    execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    echo "  ok: ${execs:-?} exec/s, ${cov:-no new coverage line}"
  else
    tail -n 40 "$log"
    for f in "$art"/*; do
      [ -e "$f" ] && echo "  reproducer: $f   (replay: $dir/$folder/$name $f)"
    done
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "scripts/fuzz.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "scripts/fuzz.sh: ${#selected[@]} target(s) ran ${secs}s each without a finding"
