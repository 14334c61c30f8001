#!/usr/bin/env bash
# Writes a busybox root filesystem tarball from Debian's busybox-static: the image the demo and the
# examples use, made without any network.  Usage: make-busybox-rootfs.sh OUT.tar
set -euo pipefail
out=${1:?usage: $0 OUT.tar}
bb=/bin/busybox
[ -x "$bb" ] || { echo "$0: /bin/busybox is missing: apt-get install busybox-static" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/{bin,etc,root,tmp,proc,sys,dev,home/app,var/log}
chmod 1777 "$dir/tmp"
cp "$bb" "$dir/bin/busybox"
for applet in $("$bb" --list); do [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"; done
cat >"$dir/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
printf 'root:x:0:\napp:x:1000:\nnogroup:x:65534:\n' >"$dir/etc/group"
tar -C "$dir" --numeric-owner -cf "$out" .
