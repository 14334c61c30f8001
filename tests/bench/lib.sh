# Shared helpers for the image benchmarks (sourced; needs root). Each script sets `work` (mktemp -d) first.
#   bench_install PKG...      apt-get install what is missing
#   bench_fs                  a journaled ext4 file system on a loop file, mounted at $work/fs (BENCH_FS=root: the work
#                             dir's own file system). Why: this VM's root ext4 has no journal, and without a journal
#                             ext4 skips every inode deleted in the last minutes when it allocates one, so a benchmark
#                             that deletes and re-creates a tree on every run gets slower with every run.
#   bench_daemon              a private daemon (state on $fs, socket in $work/run, cgroup parent containerops-bench-$$),
#                             started once; exports CONTAINEROPS_HOST for the CLI
#   bench_registry            a private docker-registry on 127.0.0.1 (storage $fs/registry); sets $registry (host:port)
#   bench_daemon_alive        fails when that daemon is no longer the one answering
#   bench_netns NAME          a network namespace standing for a host of its own (lo, and a link bench0 with
#                             198.18.0.1/24 and the default route), removed by bench_cleanup
#   bench_dockerd [NETNS]     a private dockerd 20.10 (Debian's docker.io unpacked into .tools/, its own data and exec
#                             roots and cgroup parent), inside NETNS when given (its bridge and iptables rules stay
#                             there); extra dockerd flags in dockerd_flags; sets $dockerd_host; stopped by bench_cleanup
#   bench_podman [NETNS]      podman with private storage, run root and network config under $work (runc, cgroupfs,
#                             explicit ulimits: how podman works on this kind of host), run inside NETNS (made when not
#                             given) through a `podman` first on PATH, so that netavark's iptables chains stay there;
#                             its containers go in cleanup
#   bench_cleanup             kills what was started, unmounts, removes $work and the daemon's cgroup directories
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
co="$repo/bin/containerops"
cgparent=containerops-bench-$$
fs=
daemon_pid=
reg_pid=
dockerd_pid=
dockerd_host=
dockerd_flags=()
bench_netns_made=()
podman_private=

bench_install() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
}

bench_fs() {
  if [ "${BENCH_FS:-loop}" = root ]; then fs=$work/fs; mkdir -p "$fs"; return; fi
  truncate -s "${BENCH_FS_SIZE:-8G}" "$work/fs.img"
  mkfs.ext4 -q -F "$work/fs.img"
  mkdir -p "$work/fs"
  mount -o loop "$work/fs.img" "$work/fs"
  fs=$work/fs
}

bench_daemon() {
  [ -x "$co" ] && [ -x "$repo/bin/daemon/containerops-daemon" ] || { echo "build first: ./build.sh build" >&2; return 1; }
  mkdir -p "$work/run" "$work/cwd"
  # The CLI starts a daemon by itself when none answers: should ours die, that one stays private too.
  export CONTAINEROPS_HOST=unix://$work/run/containerops.sock CONTAINEROPS_ROOT=$fs/root CONTAINEROPS_RUN_ROOT=$work/run \
    CONTAINEROPS_CGROUP_PARENT=$cgparent
  # From an empty directory: the daemon's web host watches its working directory.
  (cd "$work/cwd" && exec ${BENCH_NETNS:+nsenter --net=/run/netns/$BENCH_NETNS} "$co" daemon --root "$fs/root" --run-root "$work/run" --socket "$work/run/containerops.sock" \
     --cgroup-parent "$cgparent" >"$work/daemon.log" 2>&1) &
  daemon_pid=$!
  local _
  # Waits on the socket itself: a CLI command that found no daemon answering would start a second one.
  for _ in $(seq 300); do
    python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$work/run/containerops.sock" 2>/dev/null \
      && return 0
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "the daemon did not start:" >&2; cat "$work/daemon.log" >&2; return 1
}

bench_registry() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  registry=127.0.0.1:$port
  cat > "$work/registry.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $fs/registry
http:
  addr: $registry
  secret: bench
YAML
  /usr/bin/docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  reg_pid=$!
  local _
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.1; done
  echo "the registry did not start:" >&2; cat "$work/registry.log" >&2; return 1
}

# Fails when the daemon started by bench_daemon is gone (the figures would then include a daemon start).
bench_daemon_alive() {
  kill -0 "$daemon_pid" 2>/dev/null && [ "$(cat "$work/run/daemon.pid" 2>/dev/null)" = "$daemon_pid" ] && return 0
  echo "the benchmark's daemon ($daemon_pid) is gone; the figures are not valid" >&2
  return 1
}

bench_netns() {
  ip netns add "$1"
  bench_netns_made+=("$1")
  ip -n "$1" link set lo up
  ip -n "$1" link add bench0 type veth peer name bench1  # (this kernel has no dummy links)
  ip -n "$1" addr add 198.18.0.1/24 dev bench0
  ip -n "$1" link set bench1 up
  ip -n "$1" link set bench0 up
  ip -n "$1" route add default via 198.18.0.254 dev bench0
}

bench_dockerd() {
  local netns=${1:-} tools=$repo/.tools/docker-20.10
  bench_install containerd runc libdevmapper1.02.1 iptables
  command -v docker >/dev/null || { echo "the docker CLI is not installed" >&2; return 1; }
  if [ ! -x "$tools/usr/sbin/dockerd" ]; then
    mkdir -p "$tools"
    (cd "$tools" && apt-get download -q docker.io >/dev/null && dpkg -x docker.io_*.deb . && rm -f docker.io_*.deb)
  fi
  [ -e /etc/docker/key.json ] || bench_dockerd_key=1   # dockerd 20.10 writes its trust key there whatever its roots
  [ -d /etc/docker ] || bench_dockerd_etc=1
  mkdir -p "$work/docker/data" "$work/docker/exec"
  dockerd_host=unix://$work/docker.sock
  PATH=$tools/usr/bin:$tools/usr/sbin:$PATH ${netns:+nsenter --net=/run/netns/$netns} "$tools/usr/sbin/dockerd" \
    --data-root "$work/docker/data" --exec-root "$work/docker/exec" -H "$dockerd_host" --pidfile "$work/docker/dockerd.pid" \
    --cgroup-parent "$cgparent-dockerd" --log-level warn "${dockerd_flags[@]}" >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  # A configuration of its own; an empty one, as podman reads it too once DOCKER_CONFIG names it.
  mkdir -p "$work/cli"; [ -e "$work/cli/config.json" ] || echo '{}' > "$work/cli/config.json"
  export DOCKER_CONFIG=$work/cli DOCKER_CLI_HINTS=false
  local _
  for _ in $(seq 300); do DOCKER_HOST=$dockerd_host docker version >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "dockerd did not start:" >&2; cat "$work/dockerd.log" >&2; return 1
}

bench_podman() {
  bench_install podman runc netavark aardvark-dns
  local netns=${1:-cobench-podman-$$} real
  [ -n "${1:-}" ] || bench_netns "$netns"
  real=$(command -v podman)
  mkdir -p "$work/podman/bin"
  printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s %s "$@"\n' "$netns" "$real" > "$work/podman/bin/podman"
  chmod +x "$work/podman/bin/podman"
  export PATH=$work/podman/bin:$PATH
  cat > "$work/podman/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$work/podman/root"
runroot = "$work/podman/run"
EOF
  cat > "$work/podman/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$work/podman/tmp"
[network]
network_backend = "netavark"
network_config_dir = "$work/podman/networks"
EOF
  export CONTAINERS_STORAGE_CONF=$work/podman/storage.conf CONTAINERS_CONF=$work/podman/containers.conf
  podman_private=1
  [ -n "$(ls -d /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent 2>/dev/null | head -1)" ] || bench_podman_cgroup=1
}

bench_cleanup() {
  set +e
  if [ -n "$podman_private" ]; then  # podman's private storage only, never the machine's
    podman rm -af -t 0 >/dev/null 2>&1; podman pod rm -af >/dev/null 2>&1
    podman network prune -f >/dev/null 2>&1
    # podman's cgroup parent, when it was made here.
    if [ -n "${bench_podman_cgroup:-}" ]; then
      for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
    fi
  fi
  if [ -n "$dockerd_pid" ]; then
    DOCKER_HOST=$dockerd_host docker ps -aq | xargs -r env DOCKER_HOST="$dockerd_host" docker rm -f >/dev/null
    kill "$dockerd_pid"; wait "$dockerd_pid"
    # A containerd or shim that outlived it runs from under $work.
    pkill -KILL -f -- "$work/docker" 2>/dev/null
    [ -n "${bench_dockerd_key:-}" ] && rm -f /etc/docker/key.json
    [ -n "${bench_dockerd_etc:-}" ] && rmdir /etc/docker 2>/dev/null
  fi
  if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; fi
  local other
  other=$(cat "${work:-/nonexistent}/run/daemon.pid" 2>/dev/null)
  if [ -n "$other" ] && [ "$other" != "$daemon_pid" ] && tr '\0' ' ' < "/proc/$other/cmdline" 2>/dev/null | grep -qF -- "$work/run"; then
    kill "$other"; for _ in $(seq 50); do kill -0 "$other" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null; wait "$reg_pid" 2>/dev/null; fi
  [ -n "${work:-}" ] || return 0
  local m
  for m in $(grep -F " $work/" /proc/mounts | awk '{print $2}' | sort -r); do umount "$m" 2>/dev/null || umount -l "$m"; done
  rm -rf "$work"
  local d n
  for n in "${bench_netns_made[@]}"; do ip netns del "$n"; done
  for d in /sys/fs/cgroup/*/"$cgparent"* /sys/fs/cgroup/"$cgparent"*; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}
