#!/usr/bin/env bash
# Benchmark: reading models through `meridian mount` (FUSE), side by side in
# one run with the peers on the same machine:
#   1. cold sequential read of a SIZE_MIB safetensors file over a simulated WAN
#      link (bench/wan_setup.sh: tc tbf RATE_MBIT + 50 ms RTT proxy) through a
#      metadata-only mirror's mount, against `s3fs` and `rclone mount` of a
#      bucket holding the same file as one object on the same radosgw, over
#      the same link (each after dropping the page cache, each a fresh mount);
#   2. time to the first tensor: a Python mmap loader reads the header and one
#      tensor from the middle through a fresh cold mount, against downloading
#      the whole file first (rclone copyto over the link) and reading it there;
#   3. warm sequential read: the same site switched to --data replicate
#      (file:// bucket on the local disk) and warmed, read through the mount
#      after dropping the page cache, against reading the source file from
#      local disk after dropping the page cache; then both again from the
#      page cache (the mount keeps its pages across opens);
#   4. find + stat over 100k files (100 directories of 1000), through a mount
#      against the same tree on local disk: cold (fresh mount / dropped
#      caches) and warm (second run). The 100k entries are written straight
#      into the primary's tables and the primary's database is mounted: the
#      read path (catalog queries, FUSE) is the one a mirror's mount uses.
#   bench/mount.sh [SIZE_MIB] [RATE_MBIT] [THREADS]   (default 1024 200 8)
# Needs root, a build in BUILD_DIR (default ./build) and the test packages
# (s3fs, rclone, awscli). Report: bench/results/mount.json and a table.
set -euo pipefail
cd "$(dirname "$0")/.."
json_out=bench/results/mount.json
. bench/wan_setup.sh  # reads SIZE_MIB RATE_MBIT THREADS from "$@"
py=/usr/bin/python3
netns=(nsenter "--net=/var/run/netns/$ns")  # network of the site; mounts stay visible here
mnts=()
bench_cleanup() {
  for d in "${mnts[@]}"; do umount -l "$d" 2>/dev/null || true; done
  cleanup
}
trap bench_cleanup EXIT
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
wait_mounted() { for _ in $(seq 100); do mountpoint -q "$1" && return 0; sleep 0.1; done
  echo "mount at $1 did not come up" >&2; return 1; }
timed() { local t0; t0=$(now_ns); "$@" >/dev/null
  awk -v a="$t0" -v b="$(now_ns)" 'BEGIN { printf "%.4f", (b - a) / 1e9 }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
calc() { awk "BEGIN { printf \"%.${1}f\", $2 }"; }

echo "== a ${size_mib} MiB safetensors file (64 tensors), imported at the primary" >&2
file=$work/model.safetensors
"$py" - "$file" "$size_mib" <<'PY'
import json, os, struct, sys
path, mib = sys.argv[1], int(sys.argv[2])
n = 64; size = (mib << 20) // n // 4 * 4
header, at = {}, 0
for i in range(n):
    header["t%d" % i] = {"dtype": "F32", "shape": [size // 4], "data_offsets": [at, at + size]}
    at += size
h = json.dumps(header).encode()
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h)
    for i in range(n):
        f.write(os.urandom(size))
PY
cat >"$work/first_tensor.py" <<'PY'
import hashlib, json, mmap, struct, sys
with open(sys.argv[1], "rb") as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    n = struct.unpack("<Q", m[:8])[0]
    a, b = json.loads(m[8:8 + n])[sys.argv[2]]["data_offsets"]
    print(hashlib.sha256(m[8 + n + a:8 + n + b]).hexdigest())
PY
"$m" import --meta "$primary_meta" "$file" /bench/model.safetensors >/dev/null
nblocks=$(psql "$primary_meta" -tAc "SELECT count(*) FROM blocks")
want=$(sha256sum <"$file" | cut -d' ' -f1)
want_t32=$("$py" "$work/first_tensor.py" "$file" t32)
# The same bytes as one plain object, for s3fs and rclone.
plain=bench-plain
aws --endpoint-url "$MERIDIAN_S3_ENDPOINT" s3 mb "s3://$plain" >/dev/null
aws --endpoint-url "$MERIDIAN_S3_ENDPOINT" s3 cp "$file" "s3://$plain/model.safetensors" >/dev/null
echo "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" >"$work/s3fs.passwd"
chmod 600 "$work/s3fs.passwd"

echo "== a metadata-only mirror site behind the link" >&2
mirror_args=(--meta "$replica" --primary "$endpoint" --primary-key "$work/primary.pub"
  --key "$work/mirror.key" --name wan)
ip netns exec "$ns" "$m" mirror "${mirror_args[@]}" --primary-bucket "http://$proxy_addr/$bucket" \
  2>"$work/mirror.err" &
mirror_pid=$!
pids+=($mirror_pid)
for _ in $(seq 300); do
  [ "$(psql "$replica" -tAc "SELECT count(*) FROM blocks" 2>/dev/null)" = "$nblocks" ] && break
  sleep 0.2
done
mnt=$work/mnt; mkdir -p "$mnt"; mnts+=("$mnt")
meridian_mount() {  # [extra flags...]: a fresh mount of the site at $mnt, in the site's network
  "${netns[@]}" "$m" mount --background --meta "$replica" --log "$work/mount.log" \
    --threads "$threads" "$@" "$mnt" >/dev/null
}

echo "== 1. cold sequential read over the link" >&2
drop; meridian_mount
cold_meridian_s=$(timed cat "$mnt/bench/model.safetensors")
got=$(sha256sum <"$mnt/bench/model.safetensors" | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "mount read differs from the source" >&2; exit 1; }
"$m" umount "$mnt"
drop
"${netns[@]}" s3fs "$plain" "$mnt" -o "url=http://$proxy_addr,use_path_request_style,passwd_file=$work/s3fs.passwd,ro"
wait_mounted "$mnt"
cold_s3fs_s=$(timed cat "$mnt/model.safetensors")
umount "$mnt"
drop
"${netns[@]}" rclone --config "$work/rclone.conf" mount "wan:$plain" "$mnt" --read-only --daemon
wait_mounted "$mnt"
cold_rclone_s=$(timed cat "$mnt/model.safetensors")
umount "$mnt"

echo "== 2. time to the first tensor: mmap through a cold mount vs download first" >&2
drop; meridian_mount
t0=$(now_ns)
got_t32=$("$py" "$work/first_tensor.py" "$mnt/bench/model.safetensors" t32)
first_mmap_s=$(now_s "$t0")
[ "$got_t32" = "$want_t32" ] || { echo "tensor through mmap differs" >&2; exit 1; }
"$m" umount "$mnt"
drop
t0=$(now_ns)
"${netns[@]}" rclone --config "$work/rclone.conf" copyto "wan:$plain/model.safetensors" \
  "$work/downloaded.safetensors" --multi-thread-streams "$threads"
got_t32=$("$py" "$work/first_tensor.py" "$work/downloaded.safetensors" t32)
first_download_s=$(now_s "$t0")
[ "$got_t32" = "$want_t32" ] || { echo "downloaded tensor differs" >&2; exit 1; }
rm -f "$work/downloaded.safetensors"

echo "== 3. warm sequential read: the site replicates to local disk and is warmed" >&2
kill "$mirror_pid"; wait "$mirror_pid" 2>/dev/null || true
"$m" mirror "${mirror_args[@]}" --data replicate --bucket "file://$work/site-bucket" \
  --primary-bucket "$MERIDIAN_S3_ENDPOINT/$bucket" 2>>"$work/mirror.err" &
pids+=($!)
sleep 1
"$m" warmup --meta "$replica" --threads "$threads" /bench >/dev/null
# Three rounds, alternating, each read after dropping the page cache (the
# mount's site bucket and the local file are on the same disk), then three
# re-reads of each from the page cache; medians.
"$m" mount --background --meta "$replica" --log "$work/mount.log" "$mnt" >/dev/null
wm=(); wl=(); hm=(); hl=()
for _ in 1 2 3; do
  drop; wm+=("$(timed cat "$mnt/bench/model.safetensors")")
  drop; wl+=("$(timed cat "$file")")
done
cat "$mnt/bench/model.safetensors" "$file" >/dev/null  # both into the page cache
for _ in 1 2 3; do
  hm+=("$(timed cat "$mnt/bench/model.safetensors")")
  hl+=("$(timed cat "$file")")
done
warm_mount_s=$(median "${wm[@]}"); warm_local_s=$(median "${wl[@]}")
hot_mount_s=$(median "${hm[@]}"); hot_local_s=$(median "${hl[@]}")
"$m" umount "$mnt"

echo "== 4. find + stat over 100k files" >&2
"$m" mkdir --meta "$primary_meta" /tree >/dev/null
tree=$("$m" stat --meta "$primary_meta" --json /tree | grep -o '"ino":[0-9]*' | cut -d: -f2)
now=$(date +%s%N)
psql "$primary_meta" -q <<SQL
INSERT INTO inodes (ino, kind, mode, mtime_ns, ctime_ns, nlink)
  SELECT 1000000000 + g, 2, 493, $now, $now, 2 FROM generate_series(1, 100) g;
INSERT INTO dentries SELECT $tree, convert_to('d' || g, 'UTF8'), 1000000000 + g, 2
  FROM generate_series(1, 100) g;
INSERT INTO inodes (ino, kind, mode, size, mtime_ns, ctime_ns, nlink)
  SELECT 2000000000 + g, 1, 420, 0, $now, $now, 1 FROM generate_series(1, 100000) g;
INSERT INTO dentries SELECT 1000000000 + (g - 1) / 1000 + 1, convert_to('f' || g, 'UTF8'),
  2000000000 + g, 1 FROM generate_series(1, 100000) g;
ANALYZE;
SQL
"$py" - "$work/tree" <<'PY'
import os, sys
for d in range(1, 101):
    p = os.path.join(sys.argv[1], "d%d" % d); os.makedirs(p)
    for f in range((d - 1) * 1000 + 1, d * 1000 + 1):
        open(os.path.join(p, "f%d" % f), "w").close()
PY
find_stat() { find "$1" -printf '%s %m %T@\n' | wc -l; }
"$m" mount --background --meta "$primary_meta" --subdir /tree --log "$work/mount.log" "$mnt" >/dev/null
n_mount=$(find_stat "$mnt")
"$m" umount "$mnt"
[ "$n_mount" = "$(find_stat "$work/tree")" ] || { echo "find counts differ: $n_mount" >&2; exit 1; }
"$m" mount --background --meta "$primary_meta" --subdir /tree --log "$work/mount.log" "$mnt" >/dev/null
find_cold_mount_s=$(timed find_stat "$mnt")
find_warm_mount_s=$(timed find_stat "$mnt")
"$m" umount "$mnt"
drop
find_cold_local_s=$(timed find_stat "$work/tree")
find_warm_local_s=$(timed find_stat "$work/tree")

mib() { calc 1 "$size_mib / $1"; }
link_mbps=$(calc 1 "$rate_mbit * 1e6 / 8 / 1048576")
c_m=$(mib "$cold_meridian_s"); c_s=$(mib "$cold_s3fs_s"); c_r=$(mib "$cold_rclone_s")
w_m=$(mib "$warm_mount_s"); w_l=$(mib "$warm_local_s")
h_m=$(mib "$hot_mount_s"); h_l=$(mib "$hot_local_s")
mkdir -p bench/results
cat >"$json_out" <<JSON
{"bench":"mount","date":"$(date +%F)","cores":$(nproc),"size_mib":$size_mib,"threads":$threads,
 "link":{"rate_mbit":$rate_mbit,"rtt_ms":50,"mib_per_s":$link_mbps},
 "cold_read_mib_per_s":{"meridian":$c_m,"s3fs":$c_s,"rclone_mount":$c_r,
  "ratio_vs_s3fs":$(calc 2 "$c_m / $c_s"),"ratio_vs_rclone_mount":$(calc 2 "$c_m / $c_r"),
  "meridian_link_utilization_pct":$(calc 0 "100 * $c_m / $link_mbps")},
 "first_tensor_s":{"mmap_through_mount":$first_mmap_s,"download_then_read":$first_download_s,
  "ratio":$(calc 3 "$first_mmap_s / $first_download_s")},
 "warm_read_mib_per_s":{"mount_from_site_disk":$w_m,"local_disk":$w_l,"ratio":$(calc 2 "$w_m / $w_l"),
  "mount_page_cache":$h_m,"local_page_cache":$h_l,"ratio_page_cache":$(calc 2 "$h_m / $h_l")},
 "find_stat_100k_s":{"mount_cold":$find_cold_mount_s,"local_cold":$find_cold_local_s,
  "mount_warm":$find_warm_mount_s,"local_warm":$find_warm_local_s,
  "ratio_cold":$(calc 2 "$find_cold_local_s / $find_cold_mount_s"),
  "ratio_warm":$(calc 2 "$find_warm_local_s / $find_warm_mount_s")}}
JSON
cat "$json_out"
cat <<TABLE

| ${size_mib} MiB safetensors | Meridian mount | peer | ratio (speed, Meridian/peer) |
|---|---:|---:|---:|
| cold read over ${rate_mbit} Mbit/s 50 ms RTT vs s3fs (MiB/s) | $c_m | $c_s | $(calc 2 "$c_m / $c_s") |
| cold read vs rclone mount (MiB/s) | $c_m | $c_r | $(calc 2 "$c_m / $c_r") |
| time to first tensor (mmap) vs download whole file first (s) | $first_mmap_s | $first_download_s | $(calc 1 "$first_download_s / $first_mmap_s") |
| warm read, site disk vs local disk, page cache dropped (MiB/s) | $w_m | $w_l | $(calc 2 "$w_m / $w_l") |
| warm re-read from page cache vs local page cache (MiB/s) | $h_m | $h_l | $(calc 2 "$h_m / $h_l") |
| find + stat 100k files, cold (s) | $find_cold_mount_s | $find_cold_local_s | $(calc 2 "$find_cold_local_s / $find_cold_mount_s") |
| find + stat 100k files, warm (s) | $find_warm_mount_s | $find_warm_local_s | $(calc 2 "$find_warm_local_s / $find_warm_mount_s") |
TABLE
