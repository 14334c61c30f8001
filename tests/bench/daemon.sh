#!/usr/bin/env bash
# Benchmark 7: the daemon itself, beside dockerd and podman's API service where they run here:
#   - memory: RSS and PSS idle after a first `ps`, and RSS after COUNT (100) containers were started and removed, each
#     twice: once the daemon's heap is collected (2 s quiet) and once its executable's pages are handed back (30 s)
#   - cold start: exec → first /_ping answered (median of PINGS runs), and `containerops ps` against a stopped daemon
#     (the auto-start included) in hyperfine, whose prepare step stops the daemon; podman's `ps` (no daemon at all)
#     beside it. dockerd has no start on demand (systemd socket activation aside), so it has no such figure.
# Private state everywhere (daemon roots, dockerd --data-root/--exec-root, podman --root/--runroot) under a temp dir.
# Needs root and ./build.sh build. PEERS="docker podman" (default) or a subset, or "" for the daemon alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
source tests/bench/lib.sh
n=${COUNT:-100}
pings=${PINGS:-20}
peers=${PEERS-docker podman}
fs=$work/fs
mkdir -p "$fs" "$work/run" "$work/cwd"
daemon_bin=$repo/bin/daemon/containerops-daemon
[ -x "$co" ] && [ -x "$daemon_bin" ] || { echo "build first: ./build.sh build" >&2; exit 1; }
want=(hyperfine python3 busybox-static procps)
for p in $peers; do case $p in docker) want+=(docker.io) ;; podman) want+=(podman) ;; esac; done
bench_install "${want[@]}"

docker_pid=
podman_pid=
docker_global=()
podman_global=()
cleanup() {
  set +e
  if [ -n "$docker_pid" ]; then
    docker -H "unix://$work/docker.sock" ps -aq 2>/dev/null | xargs -r docker -H "unix://$work/docker.sock" rm -f >/dev/null 2>&1
    kill "$docker_pid"; wait "$docker_pid" 2>/dev/null
  fi
  if [ -n "$podman_pid" ]; then
    podman "${podman_global[@]}" rm -af >/dev/null 2>&1
    kill "$podman_pid"; wait "$podman_pid" 2>/dev/null
  fi
  CONTAINEROPS_HOST=unix://$work/run/containerops.sock "$co" ps -aq 2>/dev/null | xargs -r "$co" rm -f >/dev/null 2>&1
  daemon_pid=$(cat "$work/run/daemon.pid" 2>/dev/null)
  bench_cleanup
  rm -rf /sys/fs/cgroup/*/docker-bench-$$ 2>/dev/null
}
trap cleanup EXIT
export CONTAINEROPS_HOST=unix://$work/run/containerops.sock CONTAINEROPS_ROOT=$fs/root CONTAINEROPS_RUN_ROOT=$work/run \
  CONTAINEROPS_CGROUP_PARENT=$cgparent CONTAINEROPS_DAEMON=$daemon_bin

# exec → the first `GET /_ping` answered 200, polled every 0.5 ms over the Unix socket; the process is then stopped.
cat > "$work/ping.py" <<'PY'
import os, socket, statistics, subprocess, sys, time
runs, sock, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def answered():
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(sock)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))
    except OSError:
        return False
times = []
for i in range(runs + 1):
    try: os.unlink(sock)
    except FileNotFoundError: pass
    start = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
    while not answered():
        if p.poll() is not None: sys.exit(f"{argv[0]} exited with {p.returncode} before answering")
        if time.perf_counter() - start > 60: sys.exit(f"{argv[0]} did not answer within 60 s")
        time.sleep(0.0005)
    if i > 0: times.append((time.perf_counter() - start) * 1000)  # the first run warms the page cache
    p.terminate()
    p.wait()
print(f"median {statistics.median(times):.1f} ms, min {min(times):.1f} ms, max {max(times):.1f} ms ({runs} runs)")
PY
mem() {  # mem PID...: RSS and PSS (KiB) summed over the processes
  local rss=0 pss=0 p r s
  for p in "$@"; do
    r=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    s=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    rss=$((rss + r)); pss=$((pss + s))
  done
  echo "RSS $((rss / 1024)).$(( (rss % 1024) * 10 / 1024 )) MiB, PSS $((pss / 1024)).$(( (pss % 1024) * 10 / 1024 )) MiB"
}
results=()
report() { results+=("$(printf '%-44s %s' "$1" "$2")"); echo "$1: $2"; }

examples/make-busybox-rootfs.sh "$work/busybox.tar" >/dev/null

# ---- containerops
echo "== containerops ($(du -h "$daemon_bin" | cut -f1) daemon binary)"
co_argv=("$daemon_bin" --root "$fs/root" --run-root "$work/run" --socket "$work/run/containerops.sock" --cgroup-parent "$cgparent")
report "containerops: exec → first _ping" "$(python3 "$work/ping.py" "$pings" "$work/run/containerops.sock" "${co_argv[@]}")"
(cd "$work/cwd" && "$co" ps >/dev/null)   # starts the daemon
sleep 3
dpid=$(cat "$work/run/daemon.pid")
report "containerops: idle after a first ps (3 s: heap collected)" "$(mem "$dpid")"
sleep 30
report "containerops: idle after a first ps (33 s: executable's pages handed back)" "$(mem "$dpid")"
"$co" import "$work/busybox.tar" bench:latest >/dev/null
for i in $(seq 1 "$n"); do "$co" run -d --network none --name "bench$i" bench sleep 3600 >/dev/null; done   # as the peers below: no bridge left behind
report "containerops: $n containers running" "$(mem "$dpid")"
"$co" ps -aq | xargs -r "$co" rm -f >/dev/null
sleep 5
report "containerops: after $n started and removed (5 s)" "$(mem "$dpid")"
sleep 30
report "containerops: after $n started and removed (35 s)" "$(mem "$dpid")"
report "containerops: peak RSS" "$(awk '/^VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$dpid/status")"
cat > "$work/stop.sh" <<SH
#!/bin/sh
pid=\$(cat "$work/run/daemon.pid" 2>/dev/null) || exit 0
kill "\$pid" 2>/dev/null || exit 0
while kill -0 "\$pid" 2>/dev/null; do sleep 0.005; done
SH
chmod +x "$work/stop.sh"
hyperfine_cmds=(-n "containerops ps (cold daemon, auto-started)" "$co ps")

# ---- dockerd (with its own containerd)
if [[ " $peers " == *" docker "* ]]; then
  echo "== dockerd ($(dockerd --version))"
  mkdir -p "$work/docker/data" "$work/docker/exec"
  d_argv=(dockerd --data-root "$work/docker/data" --exec-root "$work/docker/exec" -H "unix://$work/docker.sock"
          --pidfile "$work/docker/dockerd.pid" --iptables=false --ip-masq=false --bridge=none --cgroup-parent "docker-bench-$$")
  if r=$(python3 "$work/ping.py" "$pings" "$work/docker.sock" "${d_argv[@]}" 2>&1); then
    report "dockerd: exec → first _ping" "$r"
    "${d_argv[@]}" >"$work/docker/log" 2>&1 &
    docker_pid=$!
    docker_global=(-H "unix://$work/docker.sock")
    for _ in $(seq 200); do docker "${docker_global[@]}" version >/dev/null 2>&1 && break; sleep 0.05; done
    docker "${docker_global[@]}" ps >/dev/null
    sleep 2
    cpids() { echo "$docker_pid" $(pgrep -P "$docker_pid" containerd || true); }
    report "dockerd+containerd: idle after a first ps" "$(mem $(cpids))"
    docker "${docker_global[@]}" import "$work/busybox.tar" bench >/dev/null
    ok=1
    for i in $(seq 1 "$n"); do
      docker "${docker_global[@]}" run -d --network none --name "bench$i" bench sleep 3600 >/dev/null 2>"$work/docker/run.err" || { ok=; break; }
    done
    if [ -n "$ok" ]; then
      report "dockerd+containerd: $n containers running" "$(mem $(cpids))"
      docker "${docker_global[@]}" ps -aq | xargs -r docker "${docker_global[@]}" rm -f >/dev/null
      sleep 5
      report "dockerd+containerd: after $n started and removed (5 s)" "$(mem $(cpids))"
    else
      report "dockerd: containers" "do not run here: $(head -c 300 "$work/docker/run.err")"
    fi
    docker "${docker_global[@]}" ps -aq | xargs -r docker "${docker_global[@]}" rm -f >/dev/null 2>&1 || true
    kill "$docker_pid"; wait "$docker_pid" 2>/dev/null || true; docker_pid=
  else
    report "dockerd" "does not run here: $(echo "$r" | tail -1)"
  fi
fi

# ---- podman: its API service for memory and _ping; plain `podman ps` (no daemon) beside the cold `containerops ps`
if [[ " $peers " == *" podman "* ]]; then
  echo "== podman ($(podman --version))"
  # podman works on this kind of host only with runc, cgroupfs and explicit ulimits (cli-run.sh).
  podman_global=(--root "$work/podman/root" --runroot "$work/podman/run" --runtime runc --cgroup-manager cgroupfs --events-backend file)
  podman_flags=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768 --network none)
  p_argv=(podman "${podman_global[@]}" system service --time=0 "unix://$work/podman.sock")
  if r=$(python3 "$work/ping.py" "$pings" "$work/podman.sock" "${p_argv[@]}" 2>&1); then
    report "podman system service: exec → first _ping" "$r"
    "${p_argv[@]}" >"$work/podman.log" 2>&1 &
    podman_pid=$!
    remote=(podman --url "unix://$work/podman.sock")
    for _ in $(seq 200); do "${remote[@]}" version >/dev/null 2>&1 && break; sleep 0.05; done
    "${remote[@]}" ps >/dev/null
    sleep 2
    report "podman system service: idle after a first ps" "$(mem "$podman_pid")"
    podman "${podman_global[@]}" import "$work/busybox.tar" bench >/dev/null 2>&1
    ok=1
    for i in $(seq 1 "$n"); do
      "${remote[@]}" run -d "${podman_flags[@]}" --name "bench$i" bench sleep 3600 >/dev/null 2>"$work/podman.err" || { ok=; break; }
    done
    if [ -n "$ok" ]; then
      report "podman system service: $n containers running" "$(mem "$podman_pid")"
      "${remote[@]}" rm -af -t 0 >/dev/null
      sleep 5
      report "podman system service: after $n started and removed (5 s)" "$(mem "$podman_pid")"
    else
      report "podman: containers" "do not run here: $(head -c 300 "$work/podman.err")"
    fi
    "${remote[@]}" rm -af -t 0 >/dev/null 2>&1 || true
    kill "$podman_pid"; wait "$podman_pid" 2>/dev/null || true; podman_pid=
    hyperfine_cmds+=(-n "podman ps (no daemon)" "podman ${podman_global[*]} ps")
  else
    report "podman system service" "does not run here: $(echo "$r" | tail -1)"
  fi
fi

echo "== cold ps"
hyperfine -N --warmup 3 --runs "${RUNS:-30}" --prepare "$work/stop.sh" --export-json "$work/ps.json" "${hyperfine_cmds[@]}" 2>&1 | grep -v '^$'
while read -r line; do report "${line%%:*}" "${line#*: }"; done < <(python3 - "$work/ps.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"{r['command']}: median {r['median'] * 1000:.1f} ms, mean {r['mean'] * 1000:.1f} ± {r['stddev'] * 1000:.1f} ms")
PY
)
echo
echo "== summary"
printf '%s\n' "${results[@]}"
