#!/usr/bin/env bash
# Benchmark: a 3-step Dockerfile build (FROM a busybox image made from busybox-static, then RUN, COPY and ENV) with
# no cache, `containerops build --no-cache` (the NativeAOT CLI against a private daemon started once and warmed with
# a few builds) side by side with `buildah bud --layers --no-cache --isolation chroot` (private --root/--runroot,
# overlay driver) in one hyperfine run. Both start from the same base image (ours exported with `containerops save
# --format oci`, copied into buildah's storage with skopeo) and send the same context; both run the RUN step in a
# container over an overlay of the base, commit one layer per RUN and COPY step (`--layers`: buildah also commits an
# image for the ENV step) and tag the result. Ours also puts the RUN step in its own namespaces and cgroup; buildah's
# chroot isolation does not use a cgroup. Needs root and a built tree (./build.sh build); installs hyperfine, skopeo,
# buildah and busybox-static. When buildah cannot build here the script says so and measures ours alone.
# State is on a journaled ext4 loop file system (see lib.sh; BENCH_FS=root to use the work directory's).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$repo"
bench_install hyperfine skopeo buildah busybox-static
work=$(mktemp -d)
bh_root=
cleanup() {
  if [ -n "$bh_root" ]; then buildah --root "$bh_root" --runroot "$work/buildah-run" --storage-driver overlay rm --all >/dev/null 2>&1; fi
  bench_cleanup
}
trap cleanup EXIT
bench_fs
bench_daemon

base=localhost/busybox-bench:latest
examples/make-busybox-rootfs.sh "$work/busybox.tar"
"$co" import "$work/busybox.tar" "$base" >/dev/null
"$co" save --format oci -o "$work/busybox-oci.tar" "$base"

ctx=$work/context
mkdir -p "$ctx"
echo "payload for the COPY step" > "$ctx/file.txt"
cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM $base
RUN echo hello > /greeting && ls /bin | wc -l > /applets
COPY file.txt /file.txt
ENV GREETING=hello
DOCKERFILE

# buildah, when it works here: its own storage, the same base image.
bh_root=$fs/buildah
bh="buildah --root $bh_root --runroot $work/buildah-run --storage-driver overlay"
buildah_ok=
if skopeo copy -q "oci-archive:$work/busybox-oci.tar" "containers-storage:[overlay@$bh_root+$work/buildah-run]$base" >"$work/buildah.log" 2>&1 \
   && $bh bud --isolation chroot --layers --no-cache -q -t bench-build:1 "$ctx" >>"$work/buildah.log" 2>&1 \
   && bh_ctr=$($bh from bench-build:1 2>>"$work/buildah.log") \
   && [ "$($bh run --isolation chroot "$bh_ctr" cat /greeting 2>>"$work/buildah.log")" = hello ]; then
  buildah_ok=1
else
  echo "buildah cannot build here, measuring containerops alone; buildah said:" >&2
  tail -5 "$work/buildah.log" >&2
fi
$bh rm --all >/dev/null 2>&1 || true

# Ours builds the same image, which runs.
"$co" build --no-cache -q -t bench-build:1 "$ctx" >/dev/null
[ "$("$co" run --rm bench-build:1 sh -c 'cat /greeting /file.txt; echo $GREETING')" = "hello
payload for the COPY step
hello" ] || { echo "$0: the image containerops built is not right" >&2; exit 1; }
for _ in $(seq "${WARM:-10}"); do "$co" build --no-cache -q -t bench-build:1 "$ctx" >/dev/null; done

printf '#!/bin/sh\n"%s" image prune -f >/dev/null\n' "$co" > "$work/prep-ours"
printf '#!/bin/sh\n%s rmi --prune >/dev/null 2>&1; exit 0\n' "$bh" > "$work/prep-buildah"
chmod +x "$work/prep-ours" "$work/prep-buildah"
args=(-n "containerops build" --prepare "$work/prep-ours" "$co build --no-cache -q -t bench-build:1 $ctx")
[ -z "$buildah_ok" ] || args+=(-n "buildah bud" --prepare "$work/prep-buildah" "$bh bud --isolation chroot --layers --no-cache -q -t bench-build:1 $ctx")
hyperfine -N --warmup 2 --runs "${RUNS:-20}" --export-markdown "$work/build.md" "${args[@]}" 2>&1 | grep -v '^$'
bench_daemon_alive
[ -n "$buildah_ok" ] || echo "(buildah could not build here: only containerops was measured)"
cat "$work/build.md"
