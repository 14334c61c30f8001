#!/usr/bin/env bash
# Compose, side by side: `up -d` and `down` of a five-service project whose services start only when the ones they
# depend on are healthy (db and cache → api → web, worker), RUNS (5) times each, with
#   containerops compose                      (our CLI, our daemon)
#   docker-compose 1.29 (Debian)              (against our Docker-compatible socket)
#   podman-compose 1.0.3 (Debian) with podman (which does not wait for service_healthy: it starts everything at once)
# then `compose ps` of a project of PS (100) containers, ours and docker-compose's, under hyperfine. All state is
# private (our daemon's roots, podman's storage, run and network config under the temp dir). Needs root and
# ./build.sh build.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
source tests/bench/lib.sh
bench_install hyperfine busybox-static docker-compose podman-compose
runs=${RUNS:-5}
ps_count=${PS:-100}
cleanup() {
  set +e
  (cd "$work/project" 2>/dev/null && podman-compose -f podman.yaml -p cobench down >/dev/null 2>&1)
  "$co" compose -f "$work/project/compose.yaml" -p cobench down -t 1 >/dev/null 2>&1
  "$co" compose -f "$work/scale/compose.yaml" -p coscale down -t 1 >/dev/null 2>&1
  bench_cleanup
}
trap cleanup EXIT
BENCH_FS=root bench_fs
bench_daemon
bench_podman

examples/make-busybox-rootfs.sh "$work/busybox.tar" >/dev/null
"$co" import "$work/busybox.tar" bench/busybox:1 >/dev/null
podman import "$work/busybox.tar" localhost/bench/busybox:1 >/dev/null

# Each service ends at once on SIGTERM (a shell waiting on its sleep), so `down` measures compose, not a grace period.
mkdir -p "$work/project" "$work/scale"
service() { # name image depends...
  local name=$1 image=$2; shift 2
  printf '  %s:\n    image: %s\n    network_mode: none\n    command: ["sh", "-c", "trap \\"exit 0\\" TERM; sleep 3600 & wait"]\n' "$name" "$image"
  printf '    healthcheck: {test: ["CMD", "true"], interval: 1s, timeout: 1s, retries: 3}\n'
  if [ $# -gt 0 ]; then
    printf '    depends_on:\n'
    local d
    for d in "$@"; do printf '      %s: {condition: %s}\n' "${d%%=*}" "${d#*=}"; done
  fi
}
project() { # image
  echo "services:"
  service db "$1"
  service cache "$1"
  service api "$1" db=service_healthy cache=service_healthy
  service web "$1" api=service_healthy
  service worker "$1" api=service_started
}
project bench/busybox:1 > "$work/project/compose.yaml"
project localhost/bench/busybox:1 > "$work/project/podman.yaml"
printf 'services:\n  app:\n    image: bench/busybox:1\n    network_mode: none\n    command: ["sh", "-c", "trap \\"exit 0\\" TERM; sleep 3600 & wait"]\n    deploy: {replicas: %d}\n' \
  "$ps_count" > "$work/scale/compose.yaml"

ms() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {printf "%.0f ms", (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2) / 1e6}'; }
# up_down NAME UP DOWN: runs both RUNS times, prints the median of each
up_down() {
  local name=$1 up=$2 down=$3 i t0 t1 t2
  : > "$work/up.$name"; : > "$work/down.$name"
  for i in $(seq "$runs"); do
    t0=$(ms); (cd "$work/project" && eval "$up") >"$work/out.$name" 2>&1 || { echo "$name up failed:"; cat "$work/out.$name"; return 1; }
    t1=$(ms); (cd "$work/project" && eval "$down") >"$work/out.$name" 2>&1 || { echo "$name down failed:"; cat "$work/out.$name"; return 1; }
    t2=$(ms)
    echo $((t1 - t0)) >> "$work/up.$name"; echo $((t2 - t1)) >> "$work/down.$name"
  done
  printf '%-34s up -d %8s   down %8s   (%d runs, medians)\n' "$name" "$(median < "$work/up.$name")" "$(median < "$work/down.$name")" "$runs"
}
echo "== five services, healthcheck-gated depends_on"
up_down "containerops compose" "$co compose -f compose.yaml -p cobench up -d" "$co compose -f compose.yaml -p cobench down"
up_down "docker-compose $(docker-compose version --short 2>/dev/null)" "DOCKER_HOST=$CONTAINEROPS_HOST docker-compose -f compose.yaml -p cobench up -d" \
  "DOCKER_HOST=$CONTAINEROPS_HOST docker-compose -f compose.yaml -p cobench down" \
  || { echo "docker-compose: did not run here (above)"; (cd "$work/project" && DOCKER_HOST=$CONTAINEROPS_HOST docker-compose -f compose.yaml -p cobench down >/dev/null 2>&1) || true; }
up_down "podman-compose (no health gating)" "podman-compose -f podman.yaml -p cobench up -d" "podman-compose -f podman.yaml -p cobench down" \
  || echo "podman-compose: did not run here (above)"

echo "== compose ps of a project of $ps_count containers"
"$co" compose -f "$work/scale/compose.yaml" -p coscale up -d >/dev/null
[ "$("$co" ps -q | wc -l)" -eq "$ps_count" ] || { echo "expected $ps_count containers, got $("$co" ps -q | wc -l)"; exit 1; }
hyperfine -N --warmup 2 --runs "${PS_RUNS:-10}" --export-markdown "$work/ps.md" \
  -n "containerops compose ps" "$co compose -f $work/scale/compose.yaml -p coscale ps" \
  -n "docker-compose ps (our socket)" "env DOCKER_HOST=$CONTAINEROPS_HOST docker-compose -f $work/scale/compose.yaml -p coscale ps" 2>&1 | grep -v '^$' || true
cat "$work/ps.md" 2>/dev/null || true
"$co" compose -f "$work/scale/compose.yaml" -p coscale down >/dev/null
bench_daemon_alive
