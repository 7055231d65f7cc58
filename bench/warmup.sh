#!/usr/bin/env bash
# Benchmark: `meridian warmup` of a cache-mode mirror site over a simulated
# WAN link, side by side with `rclone copy` of the same objects over the same
# link, in one run (link set-up: bench/wan_setup.sh: tc tbf + 50 ms RTT proxy).
#
# The site (network namespace): `meridian mirror --data cache` and one
# `meridian cache` node on local disk. A SIZE_MIB file is imported at the
# primary; once the mirror has it, `meridian warmup` pulls it into the cache
# node across the link. Measured:
#   - warm-up throughput and link utilization, against rclone copy (ratio);
#   - CPU seconds per GB warmed (cache node + warmup client), against the
#     anchor of 0.8 core per GB/s of client reads;
#   - reading the warmed file through the cache group against reading the
#     same bytes from a local file (ratio).
#   bench/warmup.sh [SIZE_MIB] [RATE_MBIT] [THREADS]   (default 1024 200 8)
# Needs root, a build in BUILD_DIR (default ./build) and the test packages.
# Report: bench/results/warmup.json.
set -euo pipefail
cd "$(dirname "$0")/.."
json_out=bench/results/warmup.json
. bench/wan_setup.sh  # reads SIZE_MIB RATE_MBIT THREADS from "$@"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

"$m" keygen --out "$work/cache" >/dev/null
"$m" keygen --out "$work/reader" >/dev/null
cp "$work/reader.pub" "$work/readers.allow"
ip netns exec "$ns" "$m" mirror --meta "$replica" --primary "$endpoint" \
  --primary-key "$work/primary.pub" --key "$work/mirror.key" --name wan --data cache \
  --cache-group tcp://127.0.0.1:7100 --cache-key "$work/cache.pub" \
  --primary-bucket "http://$proxy_addr/$bucket" 2>"$work/mirror.err" &
pids+=($!)

echo "== import ${size_mib} MiB at the primary" >&2
head -c $((size_mib << 20)) /dev/urandom >"$work/model.bin"
"$m" import --meta "$primary_meta" "$work/model.bin" /bench/model.bin >/dev/null
nblocks=$(psql "$primary_meta" -tAc "SELECT count(*) FROM blocks")
bytes=$(psql "$primary_meta" -tAc "SELECT sum(stored_len) FROM blocks")
for _ in $(seq 300); do
  [ "$(psql "$replica" -tAc "SELECT count(*) FROM blocks" 2>/dev/null)" = "$nblocks" ] && break
  sleep 0.2
done
ip netns exec "$ns" "$m" cache --meta "$replica" --listen tcp://127.0.0.1:7100 \
  --key "$work/cache.key" --allow "$work/readers.allow" --cache-dir "$work/cache-dir" \
  >"$work/cache.out" 2>"$work/cache.err" &
node=$!
pids+=($node)
for _ in $(seq 50); do grep -q "listening on" "$work/cache.out" && break; sleep 0.1; done
grep -q "listening on" "$work/cache.out" || { cat "$work/cache.err" >&2; exit 1; }

echo "== warmup across the link" >&2
reader=(--meta "$replica" --key "$work/reader.key")
c0=$(cpu_ticks "$node")
t0=$(now_ns)
/usr/bin/time -f "%U %S" -o "$work/warmup.time" ip netns exec "$ns" "$m" warmup "${reader[@]}" \
  --threads "$threads" --json /bench >"$work/warmup.json"
warm_s=$(now_s "$t0")
c1=$(cpu_ticks "$node")
hz=$(getconf CLK_TCK)
cpu_s=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v t="$(cat "$work/warmup.time")" \
  'BEGIN { split(t, u, " "); printf "%.2f", (b - a) / hz + u[1] + u[2] }')
check=$(ip netns exec "$ns" "$m" warmup "${reader[@]}" --check --json /bench || true)
echo "$check" | grep -q '"all_local":true' || { echo "not all local after warmup: $check" >&2; exit 1; }

echo "== read through the cache group vs a local file" >&2
t0=$(now_ns)
got=$(ip netns exec "$ns" "$m" cat "${reader[@]}" /bench/model.bin | sha256sum | cut -d' ' -f1)
cache_read_s=$(now_s "$t0")
want=$(sha256sum <"$work/model.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "read back through the cache differs" >&2; exit 1; }
t0=$(now_ns)
sha256sum <"$work/model.bin" >/dev/null
local_read_s=$(now_s "$t0")

echo "== rclone copy of the same objects over the same link" >&2
rclone_s=$(rclone_copy "$work/rclone-copy")
rclone_bytes=$(du -sb "$work/rclone-copy" | cut -f1)

calc() { awk "BEGIN { printf \"%.${1}f\", $2 }"; }
link_mbps=$(calc 1 "$rate_mbit * 1e6 / 8 / 1048576")
w_mbps=$(calc 1 "$bytes / $warm_s / 1048576")
r_mbps=$(calc 1 "$rclone_bytes / $rclone_s / 1048576")
w_util=$(calc 0 "100 * $w_mbps / $link_mbps")
r_util=$(calc 0 "100 * $r_mbps / $link_mbps")
ratio=$(calc 2 "$w_mbps / $r_mbps")
cpu_per_gb=$(calc 2 "$cpu_s / ($bytes / 1e9)")
cache_mbps=$(calc 0 "$bytes / $cache_read_s / 1048576")
local_mbps=$(calc 0 "$bytes / $local_read_s / 1048576")
read_ratio=$(calc 2 "$cache_mbps / $local_mbps")
mkdir -p bench/results
cat >"$json_out" <<JSON
{"bench":"warmup","date":"$(date +%F)","cores":$(nproc),"size_mib":$size_mib,
 "link":{"rate_mbit":$rate_mbit,"rtt_ms":50,"mib_per_s":$link_mbps},"threads":$threads,
 "warmup":{"blocks":$nblocks,"bytes":$bytes,"seconds":$warm_s,"mib_per_s":$w_mbps,
  "link_utilization_pct":$w_util,"cpu_seconds":$cpu_s,"cpu_seconds_per_gb":$cpu_per_gb},
 "rclone_copy":{"bytes":$rclone_bytes,"seconds":$rclone_s,"mib_per_s":$r_mbps,
  "link_utilization_pct":$r_util},
 "ratio_warmup_vs_rclone":$ratio,
 "read":{"cache_group_mib_per_s":$cache_mbps,"local_file_mib_per_s":$local_mbps,
  "note":"both through sha256sum; the local file is in the page cache","ratio":$read_ratio}}
JSON
cat "$json_out"
cat <<TABLE

| ${size_mib} MiB over ${rate_mbit} Mbit/s, 50 ms RTT | Meridian | peer | ratio |
|---|---:|---:|---:|
| warm-up vs rclone copy (MiB/s) | $w_mbps | $r_mbps | $ratio |
| link utilization | ${w_util}% | ${r_util}% | |
| CPU seconds per GB warmed (node + client) | $cpu_per_gb | - | |
| read warmed file: cache group vs local file (MiB/s) | $cache_mbps | $local_mbps | $read_ratio |
TABLE
