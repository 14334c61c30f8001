#!/usr/bin/env bash
# The main demo, on the embedded single-node default (/var/lib/containerops, /run/containerops).
# The first command starts the daemon on its own. Needs root. Run it through `./build.sh demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
co=./bin/containerops
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

tar=$(mktemp --suffix=.tar)
trap 'rm -f "$tar"; $co rm -f demo-web >/dev/null 2>&1 || true' EXIT
examples/make-busybox-rootfs.sh "$tar"

step $co import "$tar" busybox:latest --change 'CMD ["/bin/sh"]'
step $co images
step $co run --rm busybox echo "hello from a container"
step $co run --rm --hostname demo --memory 64m --pids-limit 50 busybox sh -c 'echo "I am $(hostname), pid $$, uid $(id -u)"; grep -E "^(CapEff|NoNewPrivs)" /proc/self/status'
step $co run -d --name demo-web --restart on-failure:3 busybox sh -c 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 1; done'
sleep 2
step $co ps
step $co logs --tail 2 demo-web
step $co exec demo-web ps
step $co top demo-web
step $co stats --no-stream demo-web
step $co stop -t 2 demo-web
step $co ps -a --filter name=demo-web
step $co rm demo-web
set +e
step $co run --rm busybox sh -c 'exit 3'; echo "exit code: $?"
step $co run --rm busybox /no/such/command; echo "exit code: $?"
set -e
printf '\nDone. The daemon keeps running (containerops ps, containerops images); stop it with: pkill -f containerops-daemon\n'
