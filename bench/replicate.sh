#!/usr/bin/env bash
# Benchmark: block replication over a simulated WAN link, side by side with
# `rclone copy` of the same objects over the same link, in one run.
#
# The link: the mirror runs in its own network namespace, joined to the host
# by a veth pair whose host end is shaped with `tc tbf` (RATE_MBIT), and it
# reaches the primary's radosgw bucket through meridian-tcp-proxy adding
# 25 ms each way (50 ms RTT; this kernel has no netem). The mirror's own
# bucket is a file:// directory (local disk) and its replica is reached over
# a Unix socket, so only WAN traffic crosses the link.
#
# Measured:
#   - lag from commit to replicated for one SIZE_MIB file imported at the
#     primary while the mirror is running and caught up (commit time from the
#     change log, replicated = every block verified in the mirror's bucket);
#   - replication throughput (SIZE / lag) as % of the link rate, and against
#     `rclone copy` (same objects, same link, --transfers = --threads).
#   bench/replicate.sh [SIZE_MIB] [RATE_MBIT] [THREADS]   (default 1024 200 8)
# Needs root (netns, tc), a build in BUILD_DIR (default ./build) and the test
# packages (scripts/install-deps.sh --test). Report: bench/results/replicate.json.
set -euo pipefail
cd "$(dirname "$0")/.."
json_out=bench/results/replicate.json
. bench/wan_setup.sh  # reads SIZE_MIB RATE_MBIT THREADS from "$@"

# The mirror, across the link.
ip netns exec "$ns" "$m" mirror --meta "$replica" --primary "$endpoint" \
  --primary-key "$work/primary.pub" --key "$work/mirror.key" --name wan \
  --data replicate --bucket "file://$work/mirror-bucket" --threads "$threads" \
  --primary-bucket "http://$proxy_addr/$bucket" 2>"$work/mirror.err" &
pids+=($!)
for _ in $(seq 100); do
  [ "$(psql "$primary_meta" -tAc "SELECT count(*) FROM site_mirrors WHERE acked_pos > 0")" = 1 ] && break
  sleep 0.2
done

echo "== import ${size_mib} MiB at the primary, replicate it across the link" >&2
head -c $((size_mib << 20)) /dev/urandom >"$work/model.bin"
"$m" import --meta "$primary_meta" "$work/model.bin" /bench/model.bin >/dev/null
commit_ns=$(psql "$primary_meta" -tAc "SELECT commit_time_ns FROM changelog ORDER BY pos DESC LIMIT 1")
nblocks=$(psql "$primary_meta" -tAc "SELECT count(*) FROM blocks")
bytes=$(psql "$primary_meta" -tAc "SELECT sum(stored_len) FROM blocks")
deadline=$(( $(date +%s) + 1800 ))
while :; do
  got=$(psql "$replica" -tAc "SELECT count(*) FROM replicated_blocks r JOIN blocks b USING (id)")
  [ "$got" = "$nblocks" ] && break
  [ "$(date +%s)" -lt "$deadline" ] || { echo "not replicated after 30 min:" >&2; tail "$work/mirror.err" >&2; exit 1; }
  kill -0 "${pids[2]}" 2>/dev/null || { echo "the mirror died:" >&2; tail "$work/mirror.err" >&2; exit 1; }
  sleep 0.05
done
done_ns=$(now_ns)
lag_s=$(awk -v a="$commit_ns" -v b="$done_ns" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
echo "  replicated $nblocks blocks ($bytes bytes) ${lag_s} s after the commit" >&2
# Correctness guard: the benchmark is void if the mirror's bytes differ.
heal=$("$m" heal --meta "$replica" --json)
echo "$heal" | grep -q "\"intact\":$nblocks" || { echo "heal: $heal" >&2; exit 1; }

echo "== rclone copy of the same objects over the same link" >&2
rclone_s=$(rclone_copy "$work/rclone-copy")
rclone_bytes=$(du -sb "$work/rclone-copy" | cut -f1)

link_mbps=$(awk -v r="$rate_mbit" 'BEGIN { printf "%.1f", r * 1e6 / 8 / 1048576 }')
m_mbps=$(awk -v b="$bytes" -v t="$lag_s" 'BEGIN { printf "%.1f", b / t / 1048576 }')
r_mbps=$(awk -v b="$rclone_bytes" -v t="$rclone_s" 'BEGIN { printf "%.1f", b / t / 1048576 }')
m_util=$(awk -v a="$m_mbps" -v l="$link_mbps" 'BEGIN { printf "%.0f", 100 * a / l }')
r_util=$(awk -v a="$r_mbps" -v l="$link_mbps" 'BEGIN { printf "%.0f", 100 * a / l }')
ratio=$(awk -v a="$m_mbps" -v b="$r_mbps" 'BEGIN { printf "%.2f", a / b }')
ideal_s=$(awk -v b="$bytes" -v l="$link_mbps" 'BEGIN { printf "%.2f", b / 1048576 / l }')
mkdir -p bench/results
cat >"$json_out" <<JSON
{"bench":"replicate","date":"$(date +%F)","cores":$(nproc),"size_mib":$size_mib,
 "link":{"rate_mbit":$rate_mbit,"rtt_ms":50,"mib_per_s":$link_mbps},"threads":$threads,
 "meridian":{"blocks":$nblocks,"bytes":$bytes,"lag_commit_to_replicated_s":$lag_s,
  "mib_per_s":$m_mbps,"link_utilization_pct":$m_util,"ideal_s":$ideal_s},
 "rclone_copy":{"bytes":$rclone_bytes,"seconds":$rclone_s,"mib_per_s":$r_mbps,
  "link_utilization_pct":$r_util},
 "ratio_meridian_vs_rclone":$ratio}
JSON
cat "$json_out"
cat <<TABLE

| ${size_mib} MiB over ${rate_mbit} Mbit/s, 50 ms RTT | Meridian replicate | rclone copy | ratio |
|---|---:|---:|---:|
| throughput (MiB/s) | $m_mbps | $r_mbps | $ratio |
| link utilization | ${m_util}% | ${r_util}% | |
| commit -> replicated (s) | $lag_s (link minimum $ideal_s) | - | |
TABLE
