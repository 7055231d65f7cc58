#!/usr/bin/env bash
# Benchmark: import and cat throughput of one file (default 1 GiB) on a file://
# bucket and on radosgw, side by side with cp(1) and Debian's `aws s3 cp` of
# the same bytes in the same run. Reports ratios (Meridian / peer), because
# absolute numbers on shared machines are noise.
#   bench/import_cat.sh [SIZE_MIB] [JSON_OUT]   (default 1024, bench/results/import_cat.json)
# Needs: a build in ./build (scripts/build.sh) and the test packages
# (scripts/install-deps.sh --test). Starts its own PostgreSQL and radosgw.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
size_mib=${1:-1024}
json_out=${2:-bench/results/import_cat.json}
m=$root/build/cmd/meridian
[ -x "$m" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
work=$(mktemp -d /var/tmp/meridian-bench-XXXXXX)
chmod 755 "$work"  # PostgreSQL runs as the postgres user
cleanup() {
  scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
  bash tests/harness/rgw.sh stop "$work/rgw" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
rate() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.1f", b / t / 1048576 }'; }
declare -A R
measure() {  # measure NAME CMD...: records MiB/s of $bytes in R[NAME]
  local name=$1; shift
  sync; local t0; t0=$(now)
  "$@" >/dev/null
  local t1; t1=$(now)
  R[$name]=$(rate "$bytes" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')")
  printf '  %-28s %8s MiB/s\n' "$name" "${R[$name]}" >&2
}

echo "== setting up (PostgreSQL, radosgw, ${size_mib} MiB of random bytes)" >&2
MERIDIAN_META=$(scripts/pg.sh start "$work/pg")
export MERIDIAN_META
MERIDIAN_RGW_BYTES=$(( (size_mib * 3 + 1024) << 20 )) bash tests/harness/rgw.sh start "$work/rgw" >/dev/null
set -a; . "$work/rgw/env"; set +a
unset AWS_CA_BUNDLE
mkdir -p "$work/src"
head -c $((size_mib << 20)) /dev/urandom >"$work/src/model.bin"
bytes=$((size_mib << 20))
aws=(/usr/bin/aws --endpoint-url "$MERIDIAN_S3_ENDPOINT")

echo "== file:// (local disk, fsync on both sides)" >&2
measure "cp+fsync" sh -c "cp '$work/src/model.bin' '$work/copy.bin' && sync '$work/copy.bin'"
"$m" format --bucket "file://$work/bucket" bench-file >/dev/null
measure "meridian import file://" "$m" import "$work/src/model.bin" /b/file.bin
measure "cat (page cache)" cat "$work/copy.bin"
measure "meridian cat file://" "$m" cat /b/file.bin

echo "== radosgw (S3, SigV4)" >&2
"${aws[@]}" s3 mb s3://peer >/dev/null
measure "aws s3 cp upload" "${aws[@]}" s3 cp --quiet "$work/src/model.bin" s3://peer/model.bin
measure "aws s3 cp download" sh -c "$(printf '%q ' "${aws[@]}") s3 cp --quiet s3://peer/model.bin - >/dev/null"
psql "${MERIDIAN_META%/*}/postgres" -qc "CREATE DATABASE s3vol" >/dev/null
export MERIDIAN_META=${MERIDIAN_META%/*}/s3vol
"$m" format --bucket "$MERIDIAN_S3_ENDPOINT/meridian" bench-s3 >/dev/null
measure "meridian import s3" "$m" import "$work/src/model.bin" /b/s3.bin
measure "meridian cat s3" "$m" cat /b/s3.bin

# Correctness guard: the benchmark is void if the bytes differ.
want=$(sha256sum <"$work/src/model.bin" | cut -d' ' -f1)
got=$("$m" cat /b/s3.bin | sha256sum | cut -d' ' -f1)
[ "$want" = "$got" ] || { echo "s3 readback differs" >&2; exit 1; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mkdir -p "$(dirname "$json_out")"
cat >"$json_out" <<JSON
{"bench":"import_cat","size_mib":$size_mib,"cores":$(nproc),
 "mib_per_s":{"cp_fsync":${R["cp+fsync"]},"meridian_import_file":${R["meridian import file://"]},
  "cat_page_cache":${R["cat (page cache)"]},"meridian_cat_file":${R["meridian cat file://"]},
  "aws_upload":${R["aws s3 cp upload"]},"aws_download":${R["aws s3 cp download"]},
  "meridian_import_s3":${R["meridian import s3"]},"meridian_cat_s3":${R["meridian cat s3"]}},
 "ratios":{"import_file_vs_cp":$(ratio "${R["meridian import file://"]}" "${R["cp+fsync"]}"),
  "cat_file_vs_cat":$(ratio "${R["meridian cat file://"]}" "${R["cat (page cache)"]}"),
  "import_s3_vs_aws_upload":$(ratio "${R["meridian import s3"]}" "${R["aws s3 cp upload"]}"),
  "cat_s3_vs_aws_download":$(ratio "${R["meridian cat s3"]}" "${R["aws s3 cp download"]}")}}
JSON
cat "$json_out"
cat <<TABLE

| operation (${size_mib} MiB)        | Meridian MiB/s | peer                 | peer MiB/s | ratio |
|------------------------------|---------------:|----------------------|-----------:|------:|
| import to file://            | ${R["meridian import file://"]} | cp + fsync           | ${R["cp+fsync"]} | $(ratio "${R["meridian import file://"]}" "${R["cp+fsync"]}") |
| cat from file://             | ${R["meridian cat file://"]} | cat (page cache)     | ${R["cat (page cache)"]} | $(ratio "${R["meridian cat file://"]}" "${R["cat (page cache)"]}") |
| import to radosgw            | ${R["meridian import s3"]} | aws s3 cp (upload)   | ${R["aws s3 cp upload"]} | $(ratio "${R["meridian import s3"]}" "${R["aws s3 cp upload"]}") |
| cat from radosgw             | ${R["meridian cat s3"]} | aws s3 cp (download) | ${R["aws s3 cp download"]} | $(ratio "${R["meridian cat s3"]}" "${R["aws s3 cp download"]}") |
TABLE
