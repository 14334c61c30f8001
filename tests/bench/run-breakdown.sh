#!/usr/bin/env bash
# Where the time of `containerops run --rm IMAGE true` goes, step by step: the CLI's start, each request, and inside
# the start request the daemon's preparation, the namespaces, the cgroup attach, the mounts and the exec. The steps are
# cut at kernel tracepoints (perf, system-wide), which cost the traced processes nothing measurable, unlike strace.
# Beside it, hyperfine's figure for the same command without tracing. Uses a private daemon and state root.
#
#   tests/bench/run-breakdown.sh            (RUNS=30 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
DEBIAN_FRONTEND=noninteractive apt-get install -y -q hyperfine busybox-static linux-perf >/dev/null
work=$(mktemp -d /tmp/cod-breakdown.XXXXXX)
export CONTAINEROPS_ROOT=$work/root CONTAINEROPS_RUN_ROOT=$work/run CONTAINEROPS_HOST=$work/run/containerops.sock CONTAINEROPS_CGROUP_PARENT=containerops-breakdown
cleanup() {
  [ -f "$work/run/daemon.pid" ] && kill "$(cat "$work/run/daemon.pid")" 2>/dev/null || true
  sleep 1
  grep " $work" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
  for d in /sys/fs/cgroup/*/containerops-breakdown /sys/fs/cgroup/containerops-breakdown; do rmdir "$d" 2>/dev/null || true; done
}
trap cleanup EXIT
examples/make-busybox-rootfs.sh "$work/busybox.tar" >/dev/null
bin/containerops import "$work/busybox.tar" co-breakdown:latest >/dev/null
runs=${RUNS:-30}
for _ in 1 2 3 4 5; do bin/containerops run --rm --network none co-breakdown true; done   # warm
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/hyperfine.json" -n "containerops run --rm" "$repo/bin/containerops run --rm --network none co-breakdown true" >/dev/null 2>&1
python3 -c "import json,statistics as s; t=json.load(open('$work/hyperfine.json'))['results'][0]['times']; print(f'untraced (hyperfine, {len(t)} runs): median {s.median(t)*1000:.2f} ms, mean {s.mean(t)*1000:.2f} ms, min {min(t)*1000:.2f} ms')"
events=sched:sched_process_exec,sched:sched_process_exit,sched:sched_process_fork,syscalls:sys_enter_sendto,syscalls:sys_exit_recvmsg,syscalls:sys_enter_mount
perf record -q -o "$work/perf.data" -a -e "$events" -- \
  bash -c "for i in \$(seq $runs); do '$repo/bin/containerops' run --rm --network none co-breakdown true; done" >/dev/null 2>&1
perf script -i "$work/perf.data" -F comm,pid,tid,time,event,trace 2>/dev/null > "$work/perf.txt"
python3 tests/bench/run-breakdown.py "$work/perf.txt"
