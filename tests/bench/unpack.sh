#!/usr/bin/env bash
# Benchmark: unpacking one large gzip layer (a debootstrap'd Debian minbase root file system) from an OCI image
# layout, ours side by side with umoci in one hyperfine run:
#   images-bench unpack   tests/bench/ImagesBench: the engine's own code path for a layer blob (the layer's sha256
#                         checked while it streams, gunzip, the diff ID checked against the config, LayerExtractor's
#                         openat2-confined extraction into an empty directory, owners, modes, times, xattrs).
#                         A JIT-compiled .NET program: its start (about 0.1 s) is included.
#   umoci raw unpack      the same work: blob digest, gunzip, diff ID, extraction of the root file system.
#   umoci unpack          as users run it: also writes a runtime config.json and an mtree manifest of the tree (it
#                         hashes every file again), so it does more than ours.
# The script first checks that ours and umoci produce the same tree (names, types, modes, owners, sizes, link
# targets, times). The root file system comes from `debootstrap --variant=minbase bookworm` against the configured apt
# mirror (UNPACK_ROOTFS=DIR uses an existing directory instead); when debootstrap fails it falls back to a tarball of
# host directories (/usr/share and /usr/lib/x86_64-linux-gnu) and says so. Device nodes are left out (/dev/*), as in
# Docker's Debian images. Needs root; installs umoci, debootstrap, hyperfine. State is on a journaled ext4 loop file
# system (see lib.sh; BENCH_FS=root to use the work directory's).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$repo"
bench_install umoci debootstrap hyperfine
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
work=$(mktemp -d)
trap bench_cleanup EXIT
bench_fs

dotnet build -c Release -v q -nologo tests/bench/ImagesBench -o "$work/bench" >/dev/null
ours="$work/bench/ImagesBench"

# The root file system to pack.
source_note=
if [ -n "${UNPACK_ROOTFS:-}" ]; then
  rootfs=$UNPACK_ROOTFS; source_note="the directory $rootfs"
else
  rootfs=$fs/rootfs
  mirror=$( { cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}';
              cat /etc/apt/sources.list 2>/dev/null | awk '/^deb / {print $2}'; } | grep -v security | head -1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "debootstrap --variant=minbase bookworm from $mirror ..."
  if debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    source_note="debootstrap --variant=minbase bookworm ($mirror)"
  else
    echo "debootstrap failed (see below); packing /usr/share and /usr/lib/x86_64-linux-gnu of this host instead" >&2
    tail -3 "$work/debootstrap.log" >&2
    rootfs=/; source_note="host directories /usr/share and /usr/lib/x86_64-linux-gnu (debootstrap failed)"
  fi
fi
if [ "$rootfs" = / ]; then
  tar -C / --numeric-owner -cf "$fs/layer.tar" usr/share usr/lib/x86_64-linux-gnu
else
  tar -C "$rootfs" --numeric-owner --exclude='./dev/*' -cf "$fs/layer.tar" .
fi
gzip -6 -n -c "$fs/layer.tar" > "$fs/layer.tar.gz"

# A one-layer OCI image layout, tag "bench".
layout=$fs/layout
mkdir -p "$layout/blobs/sha256"
layer=$(sha256sum "$fs/layer.tar.gz" | cut -d' ' -f1)
diffid=$(sha256sum "$fs/layer.tar" | cut -d' ' -f1)
mv "$fs/layer.tar.gz" "$layout/blobs/sha256/$layer"
printf '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
blob() { local d; d=$(printf '%s' "$1" | sha256sum | cut -d' ' -f1); printf '%s' "$1" > "$layout/blobs/sha256/$d"; echo "$d"; }
config='{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:'$diffid'"]}}'
cfg=$(blob "$config")
manifest='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'$cfg'","size":'${#config}'},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:'$layer'","size":'$(stat -c %s "$layout/blobs/sha256/$layer")'}]}'
man=$(blob "$manifest")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' \
  "$man" "${#manifest}" > "$layout/index.json"
entries=$(tar -tf "$fs/layer.tar" | wc -l)
echo "layer: $source_note; $(stat -c %s "$layout/blobs/sha256/$layer") bytes gzip, $(stat -c %s "$fs/layer.tar") bytes tar, $entries entries"
rm -f "$fs/layer.tar"

# Same tree from both.
listing() { (cd "$1" && find . -printf '%p %y %m %U %G %s %l %T@\n' | LC_ALL=C sort); }
"$ours" unpack "$layout" bench "$fs/check-ours"
umoci raw unpack --image "$layout:bench" "$fs/check-umoci" >/dev/null 2>&1
if ! diff <(listing "$fs/check-ours/0") <(listing "$fs/check-umoci") > "$work/tree.diff"; then
  echo "$0: ours and umoci unpacked different trees:" >&2; head -20 "$work/tree.diff" >&2; exit 1
fi
rm -rf "$fs/check-ours" "$fs/check-umoci"

hyperfine -N --warmup 1 --runs "${RUNS:-10}" --export-markdown "$work/unpack.md" \
  -n "containerops (images-bench unpack)" --prepare "rm -rf $fs/out-ours" "$ours unpack $layout bench $fs/out-ours" \
  -n "umoci raw unpack" --prepare "rm -rf $fs/out-umoci" "umoci raw unpack --image $layout:bench $fs/out-umoci" \
  -n "umoci unpack" --prepare "rm -rf $fs/bundle" "umoci unpack --image $layout:bench $fs/bundle" \
  2>&1 | grep -v '^$'
cat "$work/unpack.md"
