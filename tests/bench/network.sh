#!/usr/bin/env bash
# Networking side by side: ContainerOps, Docker 20.10 (Debian's docker.io: a private dockerd with its default iptables
# rules and userland proxy) and podman 4.3 (Debian's: netavark and aardvark-dns), each engine in a network namespace
# of its own that stands for its host (lo, and a link bench0 with 198.18.0.1 and the default route), so no rule
# any of them writes reaches the machine's own tables, and all of it goes with the namespace.
#   1. the network step: `run --rm IMAGE true` on a user-defined bridge network minus the same with --network none
#   2. COUNT (50) containers started one after another on that network, each with a published port: the total, and
#      the mean start of the first and of the last ten (flat when the cost does not grow with the count)
#   3. HTTP through a published port against straight to the container's address: wrk (CONNS 16 connections, DUR 5 s,
#      REPS 3 rounds interleaved across engines and targets, medians) against busybox httpd, to the container's
#      address, to the published port on the host's address and on 127.0.0.1
#   4. DNS from inside a container: LOOKUPS (10000) lookups of another container's name (p50, p99), and NAMES (20)
#      containers started with `run -d`, each name asked for the moment run returns (how many answer at once)
# ENGINES="ours docker podman" (default) or a subset. Needs root and ./build.sh build.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
source tests/bench/lib.sh
bench_install hyperfine wrk busybox-static python3 iptables
engines=${ENGINES:-ours docker podman}
count=${COUNT:-50}
runs=${RUNS:-20}
reps=${REPS:-3}
trap bench_cleanup EXIT
BENCH_FS=root bench_fs
examples/make-busybox-rootfs.sh "$work/busybox.tar" >/dev/null

# cli ENGINE: the command that drives ENGINE (word-split on purpose; nothing in it has spaces)
declare -A cli image netns
for e in $engines; do
  netns[$e]=cobench-$e-$$
  bench_netns "${netns[$e]}"
  case $e in
    ours)
      BENCH_NETNS=${netns[$e]} bench_daemon
      cli[$e]=$co image[$e]=bench/busybox:1 ;;
    docker)
      bench_dockerd "${netns[$e]}"
      cli[$e]="env DOCKER_HOST=$dockerd_host docker" image[$e]=bench/busybox:1 ;;
    podman)
      bench_podman "${netns[$e]}"
      cli[$e]=podman image[$e]=localhost/bench/busybox:1 ;;
    *) echo "unknown engine $e (ours, docker, podman)" >&2; exit 2 ;;
  esac
  ${cli[$e]} import "$work/busybox.tar" "${image[$e]}" >/dev/null
  ${cli[$e]} network create benchnet >/dev/null
done
# Removes every container of ENGINE at once (podman's rm -f waits out a stop timeout of 10 s by default).
rm_all() { ${cli[$1]} ps -aq | xargs -r ${cli[$1]} rm -f $([ "$1" = podman ] && echo "-t 0") >/dev/null; }
in_ns() { local e=$1; shift; nsenter --net="/run/netns/${netns[$e]}" "$@"; }
ip_of() { ${cli[$1]} inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$2"; }
pid_of() { ${cli[$1]} inspect -f '{{.State.Pid}}' "$2"; }
version() {
  case $1 in
    ours) $co version | head -1 ;;
    docker) echo "dockerd $(${cli[$1]} version --format '{{.Server.Version}}')" ;;
    podman) echo "podman $(${cli[$1]} version --format '{{.Client.Version}}')" ;;
  esac
}
for e in $engines; do echo "engine: $(version "$e")"; done

echo "== 1. the network step: run --rm on a bridge network minus run --rm --network none ($runs runs each)"
args=()
for e in $engines; do
  args+=(-n "$e none" "${cli[$e]} run --rm --network none ${image[$e]} true")
  args+=(-n "$e bridge" "${cli[$e]} run --rm --network benchnet ${image[$e]} true")
done
for e in $engines; do  # once each first, so that a failure shows its own words
  for mode in none benchnet; do
    ${cli[$e]} run --rm --network $mode "${image[$e]}" true || { echo "$e: run --rm --network $mode failed (above)"; exit 1; }
  done
done
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/step.json" "${args[@]}" >/dev/null 2>&1 \
  || hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/step.json" "${args[@]}"
python3 - "$work/step.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
for e in dict.fromkeys(k.split()[0] for k in r):
    none, bridge = r[e + " none"], r[e + " bridge"]
    print(f"{e:8} --network none {none['median']*1e3:7.1f} ms   bridge {bridge['median']*1e3:7.1f} ms   "
          f"network step {(bridge['median']-none['median'])*1e3:+6.1f} ms   (medians; σ {none['stddev']*1e3:.1f} / {bridge['stddev']*1e3:.1f} ms)")
PY

echo "== 2. $count containers started one after another on the bridge network, each with a published port"
for e in $engines; do
  : > "$work/starts.$e"
  for i in $(seq "$count"); do
    t0=$(date +%s%N)
    ${cli[$e]} run -d --network benchnet -p $((20000 + i)):80 --name "pub$i" "${image[$e]}" sleep 3600 >/dev/null
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000)) >> "$work/starts.$e"
  done
  # the mean start of the first and of the last k (ten, or half of a smaller count)
  awk -v e="$e" -v n="$count" '{t[NR]=$1; s+=$1} END {
      k = n >= 20 ? 10 : int(n / 2); if (k < 1) k = 1
      for (i = 1; i <= k; i++) { f += t[i]; l += t[n - k + i] }
      printf "%-8s total %6.2f s   mean start: first %d %6.1f ms, last %d %6.1f ms\n", e, s/1e6, k, f/k/1e3, k, l/k/1e3 }' "$work/starts.$e"
  rm_all "$e"
done

echo "== 3. HTTP through a published port against straight to the container (wrk, ${CONNS:-16} connections, ${DUR:-5} s, median of $reps)"
declare -A target
for e in $engines; do
  ${cli[$e]} run -d --network benchnet -p 18080:80 --name web "${image[$e]}" \
    sh -c 'mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
  ip=$(ip_of "$e" web)
  target[$e direct]=http://$ip:80/ target[$e host]=http://198.18.0.1:18080/ target[$e loopback]=http://127.0.0.1:18080/
  for _ in $(seq 100); do in_ns "$e" bash -c "exec 3<>/dev/tcp/$ip/80" 2>/dev/null && break; sleep 0.05; done
done
for rep in $(seq "$reps"); do
  for e in $engines; do
    for t in direct host loopback; do
      out=$(in_ns "$e" wrk -t2 -c"${CONNS:-16}" -d"${DUR:-5}"s "${target[$e $t]}" 2>&1) || true
      rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
      errors=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' | paste -sd ';' || true)
      echo "$e $t ${rps:-0} ${errors:-}" >> "$work/wrk"
    done
  done
done
python3 - "$work/wrk" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    e, t, rps, *err = line.split(maxsplit=3)
    rows.setdefault((e, t), []).append((float(rps), " ".join(err).strip()))
for e in dict.fromkeys(k[0] for k in rows):
    med = {t: statistics.median(r for r, _ in rows[(e, t)]) for t in ("direct", "host", "loopback")}
    errs = "; ".join(sorted({x for t in med for _, x in rows[(e, t)] if x}))
    print(f"{e:8} direct {med['direct']:8.0f} req/s   published on the host's address {med['host']:8.0f} "
          f"({100*med['host']/med['direct'] if med['direct'] else 0:5.1f} %)   on 127.0.0.1 {med['loopback']:8.0f} "
          f"({100*med['loopback']/med['direct'] if med['direct'] else 0:5.1f} %)" + (f"   [{errs}]" if errs else ""))
PY

echo "== 4. DNS from inside a container: ${LOOKUPS:-10000} lookups of a container's name; ${NAMES:-20} new names"
for e in $engines; do
  ${cli[$e]} run -d --network benchnet --name client "${image[$e]}" sleep 3600 >/dev/null
  server=$(${cli[$e]} exec client cat /etc/resolv.conf | awk '$1 == "nameserver" {print $2; exit}')
  ns=/proc/$(pid_of "$e" client)/ns/net
  printf '%-8s ' "$e"; python3 tests/bench/dns-probe.py lookups "$ns" "$server" web "${LOOKUPS:-10000}" || true
  printf '%-8s ' "$e"; python3 tests/bench/dns-probe.py first-try "$ns" "$server" "${NAMES:-20}" -- \
    ${cli[$e]} run -d --network benchnet --name '{name}' "${image[$e]}" sleep 3600 || true
  rm_all "$e"
  ${cli[$e]} network rm benchnet >/dev/null
done
bench_daemon_alive 2>/dev/null || [[ " $engines " != *" ours "* ]]
