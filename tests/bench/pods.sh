#!/usr/bin/env bash
# Pods on one node: COUNT (20) pods created at once through the Kubernetes API on the daemon's socket, each timed from
# its create request to the first list that shows it Ready with an IP (p50, p99, max); the daemon's RSS and PSS with
# no pod, with the COUNT pods running, and after they are deleted; what each pod costs the node beyond its own process
# (the PSS of its container's shim). Beside it (PODMAN=0 leaves it out), podman: COUNT times `podman pod create` then
# `podman run -d --pod`, all at once, each timed until its run returns, and each pod's cost beyond its process (its
# infra container's catatonit and the conmons). A private daemon with its own roots, bridge names, nftables table and
# pod subnet; podman with private storage. BENCH_FS=loop puts the daemon's state on a journaled ext4 (see lib.sh).
# Needs root and ./build.sh build.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
source tests/bench/lib.sh
n=${COUNT:-20}
bench_install python3 busybox-static procps nftables iproute2
BENCH_FS=${BENCH_FS:-root} bench_fs
tag=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
export CONTAINEROPS_BRIDGE_NAME=cobp$tag CONTAINEROPS_BRIDGE_PREFIX=cp${tag:0:4} CONTAINEROPS_NFT_TABLE=cobench_$tag \
  CONTAINEROPS_POD_SUBNET=${POD_SUBNET:-10.243.$((RANDOM % 250)).0/24} CONTAINEROPS_CLUSTER_ADDRESS=none
cleanup() {
  set +e
  [ -f "$work/pods.py" ] && python3 "$work/pods.py" "$work/run/containerops.sock" delete "$n" 2>/dev/null
  for _ in $(seq 100); do [ -z "$(ls "$work/run/pods" 2>/dev/null)" ] && break; sleep 0.2; done
  CONTAINEROPS_HOST=unix://$work/run/containerops.sock "$co" ps -aq 2>/dev/null | xargs -r "$co" rm -f >/dev/null 2>&1
  bench_cleanup
  for l in /sys/class/net/cobp$tag /sys/class/net/cp${tag:0:4}*; do [ -e "$l" ] && ip link del "$(basename "$l")"; done
  nft delete table inet "cobench_$tag" 2>/dev/null
  nft delete table inet "cobench_${tag}_svc" 2>/dev/null  # the service proxy's (default/kubernetes has a port)
}
trap cleanup EXIT
bench_daemon
pid=$daemon_pid
[ "${PODMAN:-1}" = 0 ] || bench_podman
busybox_tar=$work/busybox.tar
examples/make-busybox-rootfs.sh "$busybox_tar" >/dev/null
"$co" import "$busybox_tar" bench/busybox:1 --change 'CMD ["sh"]' >/dev/null
# pss PATTERN: the summed PSS (KiB) of the processes whose command line matches PATTERN
pss() {
  local total=0 p
  for p in $(pgrep -f -- "$1"); do
    total=$((total + $(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
mem() { awk '/^Rss:/{r=$2} /^Pss:/{p=$2} END{printf "RSS %.1f MiB, PSS %.1f MiB", r/1024, p/1024}' "/proc/$pid/smaps_rollup"; }
sleep 5
echo "daemon idle, no pod: $(mem)"
cat > "$work/pods.py" <<'PY'
import http.client, json, socket, sys, time, threading
class Unix(http.client.HTTPConnection):
    def __init__(self, path): super().__init__("localhost"); self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(self.path)
def call(method, url, body=None):
    c = Unix(sys.argv[1]); c.request(method, url, body=json.dumps(body) if body else None, headers={"Content-Type": "application/json"})
    r = c.getresponse(); data = r.read(); c.close(); return r.status, data
n = int(sys.argv[3])
if sys.argv[2] == "delete":
    for i in range(n): call("DELETE", f"/api/v1/namespaces/default/pods/bench-{i}", {"gracePeriodSeconds": 0})
    sys.exit(0)
# Readiness is followed as kubectl does (a watch), not by listing every pod again and again: on two cores a poll
# loop's parsing and the daemon's serialising of the whole list would take CPU from the pods being measured.
def watch(path):
    c = Unix(sys.argv[1]); c.request("GET", path); r = c.getresponse()
    assert r.status == 200, r.read()
    c.sock.settimeout(30)  # no event for 30 s: the loop below ends and says how many pods were Ready
    return r
_, body = call("GET", "/api/v1/namespaces/default/pods")
events = watch("/api/v1/namespaces/default/pods?watch=1&resourceVersion=" + json.loads(body)["metadata"]["resourceVersion"])
sent = {}
def create(i):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"bench-{i}"},
           "spec": {"containers": [{"name": "c", "image": "bench/busybox:1", "command": ["sleep", "3600"]}]}}
    sent[f"bench-{i}"] = time.monotonic()
    status, body = call("POST", "/api/v1/namespaces/default/pods", pod)
    assert status == 201, body
threads = [threading.Thread(target=create, args=(i,)) for i in range(n)]
for t in threads: t.start()
running = {}
deadline = time.monotonic() + 120
while len(running) < n and time.monotonic() < deadline:
    try: line = events.readline()
    except OSError: break
    if not line: break
    now = time.monotonic()
    e = json.loads(line)
    if e["type"] == "ERROR": print("the watch ended with an error:", json.dumps(e["object"])); break
    if e["type"] not in ("ADDED", "MODIFIED"): continue  # a bookmark or a deletion says nothing of readiness
    p = e["object"]
    name = p["metadata"]["name"]
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))
    if name in sent and name not in running and ready and p["status"].get("podIP"):
        running[name] = now - sent[name]
for t in threads: t.join()
lat = sorted(v * 1000 for v in running.values())
if len(lat) < n: print(f"only {len(lat)} of {n} pods were Ready after 120 s"); print("bench-0:", json.dumps(json.loads(call("GET", "/api/v1/namespaces/default/pods/bench-0")[1]).get("status"))); sys.exit(1)
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"{n} pods created at once → Ready with an IP: p50 {pick(0.5):.0f} ms, p99 {pick(0.99):.0f} ms, max {lat[-1]:.0f} ms")
PY
python3 "$work/pods.py" "$work/run/containerops.sock" create "$n"
# Memory is read 5 s after the last request, and again 30 s after it, once the daemon has given back what the burst
# left (IdleTrim compacts its heap after 2 quiet seconds and hands back its code pages after 30): read at 3 s, runs
# gave 68 to 160 MiB as that compaction had run or not.
sleep 5
echo "daemon with $n pods running: $(mem)"
sleep 25
echo "  the same, 30 s after the last request: $(mem)"
echo "per pod beyond its own process: $(awk -v k="$(pss "containerops-shim.*$work")" -v n="$n" 'BEGIN{printf "%.0f KiB PSS (its shim)", k / n}')"
python3 "$work/pods.py" "$work/run/containerops.sock" delete "$n"
for _ in $(seq 100); do [ -z "$(ls "$work/run/pods" 2>/dev/null)" ] && break; sleep 0.2; done
sleep 5
echo "daemon after the $n pods were deleted: $(mem)"
sleep 25
echo "  the same, 30 s after the last request: $(mem)"

[ "${PODMAN:-1}" = 0 ] && exit 0
podman import "$busybox_tar" localhost/bench/busybox:1 >/dev/null
cat > "$work/podman.py" <<'PY'
import subprocess, sys, threading, time
n, lat = int(sys.argv[1]), []
def one(i):
    t0 = time.monotonic()
    subprocess.run(["podman", "pod", "create", "--name", f"bench-{i}"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["podman", "run", "-d", "--pod", f"bench-{i}", "localhost/bench/busybox:1", "sleep", "3600"], check=True, stdout=subprocess.DEVNULL)
    lat.append((time.monotonic() - t0) * 1000)
threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
lat.sort()
if len(lat) < n: print(f"podman: only {len(lat)} of {n} pods started"); sys.exit(1)
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"podman: {n} pods (pod create + run --pod) at once → running: p50 {pick(0.5):.0f} ms, p99 {pick(0.99):.0f} ms, max {lat[-1]:.0f} ms")
PY
python3 "$work/podman.py" "$n"
sleep 3
echo "podman per pod beyond its own process: $(awk -v c="$(pss "conmon.*$work/podman")" -v i="$(pss catatonit)" -v n="$n" 'BEGIN{printf "%.0f KiB PSS (conmon %.0f, infra %.0f)", (c + i) / n, c / n, i / n}')"
