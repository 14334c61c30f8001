#!/usr/bin/env bash
# Benchmark: `run --rm -v vol:/data IMAGE true` (a named volume mounted into a fresh container each run) side by side
# with podman on the same busybox rootfs, in one hyperfine run, and the same without the volume as the baseline.
# Uses a private daemon and state root (needs root and a build: ./build.sh build).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
DEBIAN_FRONTEND=noninteractive apt-get install -y -q hyperfine podman busybox-static >/dev/null
work=$(mktemp -d)
source tests/bench/lib.sh
cleanup() {
  "$co" volume rm -f co-bench-vol >/dev/null 2>&1 || true
  podman volume rm -f co-bench-vol >/dev/null 2>&1 || true
  podman rmi -f co-bench-busybox >/dev/null 2>&1 || true
  bench_cleanup
}
trap cleanup EXIT
BENCH_FS=root bench_fs
bench_daemon
examples/make-busybox-rootfs.sh "$work/busybox.tar"
"$co" import "$work/busybox.tar" co-bench-busybox:latest >/dev/null
podman import "$work/busybox.tar" co-bench-busybox >/dev/null
"$co" volume create co-bench-vol >/dev/null
podman volume create co-bench-vol >/dev/null
# podman works on this kind of host only with runc, cgroupfs and explicit ulimits.
podman_global="--runtime runc --cgroup-manager cgroupfs"
podman_flags="--ulimit nofile=20000:20000 --ulimit nproc=32768:32768 --network none"
hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-markdown "$work/result.md" \
  -n "containerops -v" "$co run --rm --network none -v co-bench-vol:/data co-bench-busybox true" \
  -n "podman -v" "podman $podman_global run --rm $podman_flags -v co-bench-vol:/data co-bench-busybox true" \
  -n "containerops" "$co run --rm --network none co-bench-busybox true" \
  -n "podman" "podman $podman_global run --rm $podman_flags co-bench-busybox true" 2>&1 | grep -v '^$'
bench_daemon_alive
cat "$work/result.md"
