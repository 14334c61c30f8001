#!/usr/bin/env bash
# Benchmark 1: /bin/true start-to-exit on one bundle: the built-in runtime as its own OCI runtime binary
# (`containerops-runtime run`, as runc and crun are) and through the CLI (`containerops oci run`), side by side
# with `crun run` and `runc run` in one hyperfine run. Needs root and ./build.sh build.
# The bundle carries the default seccomp profile (the linux.seccomp of `containerops oci spec`), which every runtime
# compiles and loads, as a container started by the daemon has; BENCH_SECCOMP=0 measures without a filter.
# hyperfine measures each command in one block; on a VM whose speed drifts under sustained load, the block order
# shows in the result. A second, interleaved measurement (every round runs each runtime once, in turn) follows.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
DEBIAN_FRONTEND=noninteractive apt-get install -y -q hyperfine runc crun busybox-static python3 util-linux >/dev/null
work=$(mktemp -d)
# Bundles made by `runc spec` name no cgroup path: each runtime uses a containerops/ or default parent, removed when empty.
trap 'umount -R "$work/bundle/rootfs" 2>/dev/null || true; rm -rf "$work"; for d in /sys/fs/cgroup/*/containerops; do rmdir "$d" 2>/dev/null || true; done' EXIT
mkdir -p "$work/bundle/rootfs" "$work/state"
tar -C "$work/bundle/rootfs" -xf <(examples/make-busybox-rootfs.sh /dev/stdout)
(cd "$work/bundle" && runc spec)
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"\/bin\/true"/' "$work/bundle/config.json"
if [ "${BENCH_SECCOMP:-1}" != 0 ]; then
  "$repo/bin/containerops" oci spec --bundle "$work/ours"
  python3 - "$work/bundle/config.json" "$work/ours/config.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["linux"]["seccomp"] = json.load(open(sys.argv[2]))["linux"]["seccomp"]
json.dump(config, open(sys.argv[1], "w"), indent=2)
PY
  echo "with the default seccomp profile ($(python3 -c 'import json,sys; print(sum(len(r["names"]) for r in json.load(open(sys.argv[1]))["linux"]["seccomp"]["syscalls"]))' "$work/bundle/config.json") names in its rules)" >&2
else
  echo "without a seccomp filter" >&2
fi

cmds=(-n containerops-runtime "$repo/bin/containerops-runtime --root $work/state/cr run --bundle $work/bundle bench-cr")
cmds+=(-n "containerops oci" "$repo/bin/containerops oci --root $work/state/co run --bundle $work/bundle bench-co")
cmds+=(-n runc "runc --root $work/state/runc run --bundle $work/bundle bench-runc")
# crun 1.8 refuses a hybrid layout whose unified hierarchy holds a controller (hugetlb on some hosts). In a private
# mount namespace without that mount it runs, as on a host with the v1 hierarchies only: then every runtime is measured
# there, so all four see the same cgroup layout. The host's mounts are not touched.
hide_unified=
crun_probe='crun --root "$0/state/crun" run --bundle "$0/bundle" bench-crun-probe >/dev/null 2>&1'
if sh -c "$crun_probe" "$work"; then
  cmds+=(-n crun "crun --root $work/state/crun run --bundle $work/bundle bench-crun")
elif mountpoint -q /sys/fs/cgroup/unified && unshare -m --propagation private sh -c "umount /sys/fs/cgroup/unified && $crun_probe" "$work"; then
  hide_unified=1
  echo "crun refuses this host's hybrid cgroup layout: measuring every runtime with the unified mount hidden" >&2
  cmds+=(-n crun "crun --root $work/state/crun run --bundle $work/bundle bench-crun")
else
  echo "crun cannot run a container on this host; leaving it out" >&2
fi
run=(hyperfine -N --warmup 5 --runs "${RUNS:-50}" --export-markdown "$work/result.md" --export-json "$work/result.json" "${cmds[@]}")
interleaved=(python3 "$work/interleave.py" "${RUNS:-50}" "${cmds[@]}")
cat > "$work/interleave.py" <<'PY'
import statistics, subprocess, sys, time
runs, rest = int(sys.argv[1]), sys.argv[2:]
commands = [(rest[i + 1], rest[i + 2]) for i in range(0, len(rest), 3)]  # triples: -n NAME COMMAND
times = {name: [] for name, _ in commands}
for round in range(runs + 3):
    for name, command in commands[round % len(commands):] + commands[:round % len(commands)]:
        argv = command.split()
        argv[-1] += f"-{round}"  # a fresh container id per run
        start = time.perf_counter()
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        if round >= 3:  # the first rounds warm up
            times[name].append((time.perf_counter() - start) * 1000)
print(f"interleaved, {runs} rounds:")
for name, t in times.items():
    print(f"  {name}: median {statistics.median(t):.1f} ms, mean {statistics.mean(t):.1f} ms")
PY
if [ -n "$hide_unified" ]; then
  unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && "$@"' sh "${run[@]}" 2>&1 | grep -v '^$'
  unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec "$@"' sh "${interleaved[@]}"
else
  "${run[@]}" 2>&1 | grep -v '^$'
  "${interleaved[@]}"
fi
cat "$work/result.md"
# Medians, which the targets are stated in.
python3 - "$work/result.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"hyperfine median {r['command']}: {r['median'] * 1000:.1f} ms")
PY
