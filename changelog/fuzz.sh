#!/usr/bin/env bash
# Builds and runs the change-log codec fuzzer (libFuzzer + ASan + UBSan).
#
#   changelog/fuzz.sh [SECONDS]     # default 60
#
# Env: FUZZ_BUILD_DIR (default <repo>/../build-changelog-fuzz), REGEN_SEEDS=1
# to rewrite the checked-in seeds in changelog/fuzz_corpus/ first.
# The fuzzer is built with a plain clang++ command line (no CMake configure of
# the whole tree needed). The working corpus grows in $FUZZ_BUILD_DIR/corpus;
# a crash leaves $FUZZ_BUILD_DIR/crash-* (reproduce: codec_fuzzer <file>).
set -euo pipefail

secs="${1:-60}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_BUILD_DIR:-$repo/../build-changelog-fuzz}"
mkdir -p "$out/corpus"
cd "$repo"

cxx="${CXX_FUZZ:-clang++}"
common_flags=(-std=c++20 -g -I"$repo")
lib_srcs=(changelog/codec.cc changelog/frame.cc changelog/crc32c.cc common/status.cc)
libs=(-lzstd -lglog)

echo "building $out/codec_fuzzer"
"$cxx" "${common_flags[@]}" -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  changelog/codec_fuzzer.cc "${lib_srcs[@]}" "${libs[@]}" -o "$out/codec_fuzzer"

if [[ "${REGEN_SEEDS:-0}" == 1 ]]; then
  "$cxx" "${common_flags[@]}" -O1 changelog/fuzz_seeds.cc "${lib_srcs[@]}" "${libs[@]}" \
    -o "$out/changelog_fuzz_seeds"
  mkdir -p changelog/fuzz_corpus
  "$out/changelog_fuzz_seeds" changelog/fuzz_corpus
  echo "rewrote changelog/fuzz_corpus/"
fi

echo "fuzzing for ${secs}s"
"$out/codec_fuzzer" "$out/corpus" changelog/fuzz_corpus \
  -max_total_time="$secs" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$out/" -print_final_stats=1
