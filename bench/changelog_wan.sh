#!/usr/bin/env bash
# Change-log propagation latency across a shaped WAN link: commit -> applied
# at a mirror that runs in its own network namespace, behind a veth pair
# shaped with `tc tbf` (RATE_MBIT both ways) and meridian-tcp-proxy adding
# 25 ms each way on the site link (50 ms RTT; this kernel has no netem). The
# primary (`meridian primary`) and the mirror (`meridian mirror`, metadata
# only) are the real daemons; changelog_bench only commits paced load into
# the primary's database and polls the replica's position (part 2 with
# --external_primary; bench/README.md).
#
#   BUILD_DIR=build bench/changelog_wan.sh [RATE_MBIT] [RATES] [BATCH_FILES]
#     defaults: 200 "1000,10000" 50   (root; 2 writers' worth of PostgreSQL)
#
# Report: the table on stdout; JSON in bench/results/changelog_wan.json.
set -euo pipefail
cd "$(dirname "$0")/.."
rates=${2:-1000,10000}
batch=${3:-50}
set -- 64 "${1:-200}" 4  # wan_setup.sh: SIZE_MIB (radosgw memory), RATE_MBIT, THREADS
. bench/wan_setup.sh
bench=$build/bench/changelog_bench
[ -x "$bench" ] || ninja -C "$build" changelog_bench >&2

# The site link's own delay: a second proxy in front of the primary daemon.
primary_port=${endpoint##*:}
"$proxy" --listen 10.77.0.1:0 --target "10.77.0.1:$primary_port" --delay-ms 25 \
  >"$work/link_proxy.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q "listening on" "$work/link_proxy.out" && break; sleep 0.1; done
link_addr=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$work/link_proxy.out")
[ -n "$link_addr" ] || { cat "$work/link_proxy.out" >&2; exit 1; }

echo "== a metadata-only mirror across the link (tcp://$link_addr)" >&2
ip netns exec "$ns" "$m" mirror --meta "$replica" --primary "tcp://$link_addr" \
  --primary-key "$work/primary.pub" --key "$work/mirror.key" --name wan \
  2>"$work/mirror.err" &
pids+=($!)
for _ in $(seq 100); do
  [ "$(psql "$primary_meta" -tAc "SELECT count(*) FROM site_mirrors WHERE acked_pos > 0")" = 1 ] &&
    break
  sleep 0.1
done

echo "== paced commits at ${rates} changes/s, ${batch} files per transaction" >&2
mkdir -p bench/results
"$bench" --external_primary="$primary_meta" --external_replica="$replica" --rates="$rates" \
  --batch_files="$batch" --json_out=bench/results/changelog_wan.json 2>"$work/bench.err" |
  sed -n '/^| /p'
