#!/usr/bin/env bash
# The docker CLI through each daemon, side by side in one hyperfine run per figure: `docker run --rm --network none
# IMAGE true`, and `docker build --no-cache` of a three-step Dockerfile (the classic builder, which both daemons have),
# against ContainerOps' socket and against a private dockerd — Debian's docker.io 20.10 unpacked into .tools/, with
# Debian's containerd and runc, its own data and exec roots and cgroup parent, no bridge, no iptables. The same busybox
# rootfs is imported into both. Needs root and ./build.sh build. RUNS (20) runs of each.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
source tests/bench/lib.sh
bench_install hyperfine busybox-static
docker=$(command -v docker) || { echo "the docker CLI is not installed" >&2; exit 1; }
trap bench_cleanup EXIT
BENCH_FS=root bench_fs
bench_daemon
dockerd_flags=(--iptables=false --ip-masq=false --bridge=none --userland-proxy=false)
bench_dockerd
export DOCKER_BUILDKIT=0
ours=unix://$work/run/containerops.sock theirs=$dockerd_host

examples/make-busybox-rootfs.sh "$work/busybox.tar" >/dev/null
for host in "$ours" "$theirs"; do DOCKER_HOST=$host "$docker" import "$work/busybox.tar" bench/busybox:1 >/dev/null; done
mkdir -p "$work/context"
printf 'FROM bench/busybox:1\nRUN echo one > /one\nCOPY file /file\nRUN cat /one /file > /two\n' > "$work/context/Dockerfile"
echo two > "$work/context/file"

echo "== docker run --rm (docker CLI $("$docker" version --format '{{.Client.Version}}'))"
hyperfine -N --warmup 3 --runs "${RUNS:-20}" --export-markdown "$work/run.md" \
  -n "docker → containerops" "env DOCKER_HOST=$ours $docker run --rm --network none bench/busybox:1 true" \
  -n "docker → dockerd 20.10" "env DOCKER_HOST=$theirs $docker run --rm --network none bench/busybox:1 true" 2>&1 | grep -v '^$'
echo "== docker build --no-cache, three steps"
hyperfine -N --warmup 1 --runs "${RUNS:-20}" --export-markdown "$work/build.md" \
  -n "docker → containerops" "env DOCKER_HOST=$ours $docker build --no-cache -q -t bench/built:1 $work/context" \
  -n "docker → dockerd 20.10" "env DOCKER_HOST=$theirs $docker build --no-cache -q -t bench/built:1 $work/context" 2>&1 | grep -v '^$'
cat "$work/run.md" "$work/build.md"
bench_daemon_alive
