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
#   bench_cleanup             kills what was started, unmounts, removes $work and the daemon's cgroup directories
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
co="$repo/bin/containerops"
cgparent=containerops-bench-$$
fs=
daemon_pid=
reg_pid=

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
  (cd "$work/cwd" && exec "$co" daemon --root "$fs/root" --run-root "$work/run" --socket "$work/run/containerops.sock" \
     --cgroup-parent "$cgparent" >"$work/daemon.log" 2>&1) &
  daemon_pid=$!
  local _
  for _ in $(seq 300); do "$co" version >/dev/null 2>&1 && return 0; sleep 0.1; done
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

bench_cleanup() {
  set +e
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
  local d
  for d in /sys/fs/cgroup/*/"$cgparent"* /sys/fs/cgroup/"$cgparent"*; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}
