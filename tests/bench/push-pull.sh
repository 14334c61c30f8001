#!/usr/bin/env bash
# Benchmark: push and pull of a ~1 MB busybox image through a private docker-registry on 127.0.0.1,
# ours (ImageService.PushAsync/PullAsync through tests/bench/RegistryBench) side by side with `skopeo copy`,
# in one hyperfine run per direction. Needs root (installs docker-registry, skopeo, hyperfine, busybox-static).
#   pull: ours = manifest + config + layer download, verify, unpack into a snapshot, tag, into an empty store;
#         skopeo = the same download into an empty dir: (no unpacking).
#         "containerops fetch" is the transfer alone (RegistryClient into a dir, like skopeo's dir:).
#   push: into an empty registry each run (its storage is wiped before every run), ours from the store,
#         skopeo from a dir: copy of the same image.
# Both sides pay their process start (ours: a JIT-compiled .NET console program).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
missing=()
for p in docker-registry skopeo hyperfine busybox-static; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null

work=$(mktemp -d)
reg_pid=
cleanup() { if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null || true; wait "$reg_pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT

dotnet build -c Release -v q -nologo tests/bench/RegistryBench -o "$work/bench" >/dev/null
bench="$work/bench/RegistryBench"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host=127.0.0.1:$port
cat > "$work/registry.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/data
http:
  addr: $host
  secret: bench
YAML
/usr/bin/docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

"$bench" import "$work/store" local/busybox:1 >/dev/null
"$bench" push "$work/store" local/busybox:1 "$host/bench/busybox:1"
size=$(du -sb "$work/data/docker/registry/v2/blobs" | cut -f1)
echo "image in the registry: $size bytes of blobs"
skopeo copy -q --src-tls-verify=false "docker://$host/bench/busybox:1" "dir:$work/skopeo-src"

runs=${RUNS:-20}
hyperfine -N --warmup 3 --runs "$runs" --export-markdown "$work/pull.md" \
  -n "containerops pull" --prepare "rm -rf $work/pull-store" "$bench pull $work/pull-store $host/bench/busybox:1" \
  -n "containerops fetch" --prepare "rm -rf $work/fetch-dir" "$bench fetch $work/fetch-dir $host/bench/busybox:1" \
  -n "skopeo copy (pull)" --prepare "rm -rf $work/pull-dir" "skopeo copy -q --src-tls-verify=false docker://$host/bench/busybox:1 dir:$work/pull-dir" \
  2>&1 | grep -v '^$'

wipe="rm -rf $work/data/docker"
hyperfine -N --warmup 3 --runs "$runs" --export-markdown "$work/push.md" \
  -n "containerops push" --prepare "$wipe" "$bench push $work/store local/busybox:1 $host/bench/ours:1" \
  -n "skopeo copy (push)" --prepare "$wipe" "skopeo copy -q --dest-tls-verify=false dir:$work/skopeo-src docker://$host/bench/skopeo:1" \
  2>&1 | grep -v '^$'
cat "$work/pull.md" "$work/push.md"
