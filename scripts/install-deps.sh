#!/usr/bin/env bash
# Installs the Debian 12 packages Meridian builds and tests with. Idempotent: a
# package already present is skipped by apt; `apt-get update` runs only when a
# package is missing. Usage: scripts/install-deps.sh [--test]
#   (no flag)  build + run: compiler, libraries, PostgreSQL server
#   --test     also the real peers the tests use: Ceph radosgw, awscli, rclone, s3cmd,
#              s3fs (mount benchmark), attr (getfattr through the mount)
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config git ca-certificates
      libpq-dev postgresql libcurl4-openssl-dev libssl-dev libzmq3-dev cppzmq-dev
      libzstd-dev libgflags-dev libgoogle-glog-dev libfuse3-dev fuse3
      libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev prometheus-cpp-dev)
if [ "${1:-}" = "--test" ]; then
  pkgs+=(radosgw ceph-mon ceph-osd awscli rclone s3cmd python3-botocore procps psmisc curl s3fs attr)
  pkgs+=(clang libclang-rt-14-dev)  # scripts/fuzz.sh: libFuzzer and its sanitizer runtimes
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=(); [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  echo "installing: ${missing[*]}" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
