#!/usr/bin/env bash
# Benchmark 2: the whole `containerops run --rm busybox true` (CLI → daemon → runtime → exit → removal)
# side by side with `podman run --rm` on the same busybox rootfs. Uses a private daemon and state root.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
DEBIAN_FRONTEND=noninteractive apt-get install -y -q hyperfine podman busybox-static >/dev/null
work=$(mktemp -d)
export CONTAINEROPS_ROOT=$work/root CONTAINEROPS_RUN_ROOT=$work/run CONTAINEROPS_HOST=$work/run/containerops.sock CONTAINEROPS_CGROUP_PARENT=containerops-bench
cleanup() {
  [ -f "$work/run/daemon.pid" ] && kill "$(cat "$work/run/daemon.pid")" 2>/dev/null || pkill -f "containerops-daemon.*$work" || true
  sleep 1; podman rmi -f co-bench-busybox >/dev/null 2>&1 || true
  grep " $work" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
  for d in /sys/fs/cgroup/*/containerops-bench; do rmdir "$d" 2>/dev/null || true; done
}
trap cleanup EXIT
examples/make-busybox-rootfs.sh "$work/busybox.tar"
bin/containerops import "$work/busybox.tar" co-bench-busybox:latest >/dev/null
podman import "$work/busybox.tar" co-bench-busybox >/dev/null
# podman works on this kind of host only with runc, cgroupfs and explicit ulimits.
podman_global="--runtime runc --cgroup-manager cgroupfs"
podman_flags="--ulimit nofile=20000:20000 --ulimit nproc=32768:32768 --network none"
hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-markdown "$work/result.md" \
  -n containerops "$repo/bin/containerops run --rm --network none co-bench-busybox true" \
  -n podman "podman $podman_global run --rm $podman_flags co-bench-busybox true" 2>&1 | grep -v '^$'
cat "$work/result.md"
