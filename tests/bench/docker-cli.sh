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
bench_install hyperfine busybox-static containerd runc libdevmapper1.02.1
docker=$(command -v docker) || { echo "the docker CLI is not installed" >&2; exit 1; }
tools=$repo/.tools/docker-20.10
if [ ! -x "$tools/usr/sbin/dockerd" ]; then
  mkdir -p "$tools"
  (cd "$tools" && apt-get download -q docker.io >/dev/null && dpkg -x docker.io_*.deb . && rm -f docker.io_*.deb)
fi
dcg=containerops-bench-dockerd-$$
key_existed=; [ -e /etc/docker/key.json ] && key_existed=1
etc_existed=; [ -d /etc/docker ] && etc_existed=1
dockerd_pid=
cleanup() {
  set +e
  if [ -n "$dockerd_pid" ]; then
    DOCKER_HOST=unix://$work/docker.sock "$docker" ps -aq | xargs -r env DOCKER_HOST="unix://$work/docker.sock" "$docker" rm -f >/dev/null
    kill "$dockerd_pid"; wait "$dockerd_pid"
  fi
  # A containerd or shim that outlived it runs from under $work.
  pkill -KILL -f -- "$work/docker" 2>/dev/null
  for d in /sys/fs/cgroup/*/"$dcg" /sys/fs/cgroup/"$dcg"; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
  [ -z "$key_existed" ] && rm -f /etc/docker/key.json  # dockerd 20.10 writes its trust key there whatever its roots
  [ -z "$etc_existed" ] && rmdir /etc/docker 2>/dev/null
  bench_cleanup
}
trap cleanup EXIT
BENCH_FS=root bench_fs
bench_daemon
mkdir -p "$work/docker/data" "$work/docker/exec"
PATH=$tools/usr/bin:$tools/usr/sbin:$PATH "$tools/usr/sbin/dockerd" --data-root "$work/docker/data" --exec-root "$work/docker/exec" \
  -H "unix://$work/docker.sock" --pidfile "$work/docker/dockerd.pid" --iptables=false --ip-masq=false --bridge=none \
  --userland-proxy=false --cgroup-parent "$dcg" --log-level warn >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
export DOCKER_CONFIG=$work/cli DOCKER_BUILDKIT=0 DOCKER_CLI_HINTS=false
ours=unix://$work/run/containerops.sock theirs=unix://$work/docker.sock
for _ in $(seq 300); do DOCKER_HOST=$theirs "$docker" version >/dev/null 2>&1 && break; sleep 0.1; done
DOCKER_HOST=$theirs "$docker" version >/dev/null || { echo "dockerd did not start:" >&2; cat "$work/dockerd.log" >&2; exit 1; }

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
