#!/usr/bin/env bash
# Benchmark 3: start 100 detached containers; report the time to start all, and the memory each
# running container costs beyond its own process (the shim's resident set, PSS and RSS).
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${COUNT:-100}
work=$(mktemp -d)
export CONTAINEROPS_ROOT=$work/root CONTAINEROPS_RUN_ROOT=$work/run CONTAINEROPS_HOST=$work/run/containerops.sock CONTAINEROPS_CGROUP_PARENT=containerops-bench
co=bin/containerops
cleanup() {
  $co ps -aq 2>/dev/null | xargs -r $co rm -f >/dev/null 2>&1 || true
  [ -f "$work/run/daemon.pid" ] && kill "$(cat "$work/run/daemon.pid")" 2>/dev/null || true
  sleep 1; rm -rf "$work"
  for d in /sys/fs/cgroup/*/containerops-bench; do rmdir "$d" 2>/dev/null || true; done
}
trap cleanup EXIT
examples/make-busybox-rootfs.sh "$work/busybox.tar"
$co import "$work/busybox.tar" bench:latest >/dev/null
start=$(date +%s%N)
for i in $(seq 1 "$n"); do $co run -d --network none --name "bulk$i" bench sleep 3600 >/dev/null; done
end=$(date +%s%N)
echo "started $n containers in $(( (end - start) / 1000000 )) ms ($(( (end - start) / 1000 / n )) us each)"
pids=$(pgrep -f "containerops-shim" || true)
count=$(echo "$pids" | grep -c . || true)
rss=0; pss=0
for p in $pids; do
  r=$(awk '/^VmRSS/ {print $2}' /proc/$p/status 2>/dev/null || echo 0); rss=$((rss + r))
  s=$(awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup 2>/dev/null || echo 0); pss=$((pss + s))
done
echo "shim processes: $count; mean RSS per shim: $((rss / (count > 0 ? count : 1))) KiB; mean PSS per shim: $((pss / (count > 0 ? count : 1))) KiB"
start=$(date +%s%N)
$co ps -aq | xargs -r $co rm -f >/dev/null
end=$(date +%s%N)
echo "removed $n running containers in $(( (end - start) / 1000000 )) ms"
