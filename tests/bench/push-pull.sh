#!/usr/bin/env bash
# Benchmark: push and pull of a ~1 MB busybox image (one gzip layer made from busybox-static) through a private
# docker-registry on 127.0.0.1, the way users run them: `containerops pull` / `containerops push` are the NativeAOT
# CLI (bin/containerops) talking to a private daemon started once before the measurement and warmed with a few
# dozen pulls and pushes (a long-running daemon is warm, as dockerd is for `docker pull`; the .NET daemon's JIT
# tiers up over its first operations). Side by side with `skopeo copy` in one hyperfine run per direction.
# Needs root and a built tree (./build.sh build); installs docker-registry, skopeo, hyperfine, busybox-static.
#   pull: ours starts from a store without the image every run (--prepare: `rmi -f` removes the tag and, the image
#         being the store's only one, its blobs and its layer snapshot; `image prune -a` sweeps anything left; the
#         script checks that the store holds no snapshot before and one after). Each run downloads manifest,
#         config and layer, verifies their digests, unpacks the layer into a snapshot (checking its diff ID),
#         flushes and commits everything and tags the image. skopeo downloads the same blobs into an empty dir: and
#         verifies their digests (no unpacking, no fsync).
#   push: into an empty registry each run (its storage is wiped before every run); ours from the daemon's store,
#         skopeo from a dir: copy of the same image. Both upload config, layer and manifest.
# State (daemon root, registry storage, skopeo dirs) is on a journaled ext4 loop file system: see lib.sh
# (BENCH_FS=root to use the work directory's file system instead). RUNS (default 30) sets hyperfine's runs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$repo"
bench_install docker-registry skopeo hyperfine busybox-static
work=$(mktemp -d)
trap bench_cleanup EXIT
bench_fs
bench_registry
bench_daemon

examples/make-busybox-rootfs.sh "$work/busybox.tar"
gzip -n -6 "$work/busybox.tar"
image=$registry/bench/busybox:1
"$co" import "$work/busybox.tar.gz" "$image" >/dev/null
"$co" push -q "$image" >/dev/null
echo "image in the registry: $(du -sb "$fs/registry/docker/registry/v2/blobs" | cut -f1) bytes of blobs"
skopeo copy -q --src-tls-verify=false "docker://$image" "dir:$fs/skopeo-src"
snapshots=$fs/root/images/snapshots
have_snapshot() { ls "$snapshots" | grep -q '^[0-9a-f]\{64\}$'; }

cat > "$work/prep-pull" <<SH
#!/bin/sh
"$co" rmi -f "$image" >/dev/null 2>&1
"$co" image prune -a -f >/dev/null
SH
printf '#!/bin/sh\nrm -rf "%s"\n' "$fs/registry/docker" > "$work/prep-push"
chmod +x "$work/prep-pull" "$work/prep-push"
# Warm the daemon with pulls into an empty store (pushes are warmed before their own run, as they empty the registry).
for _ in $(seq "${WARM:-30}"); do "$work/prep-pull"; "$co" pull -q "$image" >/dev/null; done
"$work/prep-pull"
! have_snapshot || { echo "$0: the store still holds a snapshot after rmi and prune" >&2; exit 1; }

runs=${RUNS:-30}
hyperfine -N --warmup 3 --runs "$runs" --export-markdown "$work/pull.md" \
  -n "containerops pull" --prepare "$work/prep-pull" "$co pull -q $image" \
  -n "skopeo copy (pull)" --prepare "rm -rf $fs/pull-dir" "skopeo copy -q --src-tls-verify=false docker://$image dir:$fs/pull-dir" \
  2>&1 | grep -v '^$'
have_snapshot || { echo "$0: no layer snapshot after the pull" >&2; exit 1; }
bench_daemon_alive

# The pushed image is the one the last pull stored; the registry is emptied before every run.
"$co" tag "$image" "$registry/bench/ours:1"
for _ in $(seq "${WARM:-30}"); do "$work/prep-push"; "$co" push -q "$registry/bench/ours:1" >/dev/null; done
hyperfine -N --warmup 3 --runs "$runs" --export-markdown "$work/push.md" \
  -n "containerops push" --prepare "$work/prep-push" "$co push -q $registry/bench/ours:1" \
  -n "skopeo copy (push)" --prepare "$work/prep-push" "skopeo copy -q --dest-tls-verify=false dir:$fs/skopeo-src docker://$registry/bench/skopeo:1" \
  2>&1 | grep -v '^$'
bench_daemon_alive
cat "$work/pull.md" "$work/push.md"
