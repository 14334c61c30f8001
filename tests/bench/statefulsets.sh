#!/usr/bin/env bash
# StatefulSets on one node, through the Kubernetes API on the daemon's socket: a set of COUNT (5) replicas timed from
# its creation until all its pods are Ready (status.readyReplicas), once with OrderedReady pod management (each
# ordinal made once the previous one is Ready) and once with Parallel, then the same sets scaled to 0 until no pod is
# left. A private daemon with its own roots, bridge names, nftables table and pod subnet. Needs root and
# ./build.sh build.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
source tests/bench/lib.sh
n=${COUNT:-5}
bench_install python3 busybox-static procps
fs=$work/fs
mkdir -p "$fs"
tag=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
export CONTAINEROPS_BRIDGE_NAME=cobs$tag CONTAINEROPS_BRIDGE_PREFIX=cs${tag:0:4} CONTAINEROPS_NFT_TABLE=cobench_$tag \
  CONTAINEROPS_POD_SUBNET=${POD_SUBNET:-10.245.$((RANDOM % 250)).0/24} CONTAINEROPS_CLUSTER_ADDRESS=none
cleanup() {
  set +e
  [ -f "$work/sets.py" ] && python3 "$work/sets.py" "$work/run/containerops.sock" cleanup 2>/dev/null
  for _ in $(seq 150); do [ -z "$(ls "$work/run/pods" 2>/dev/null)" ] && break; sleep 0.2; done
  CONTAINEROPS_HOST=unix://$work/run/containerops.sock "$co" ps -aq 2>/dev/null | xargs -r "$co" rm -f >/dev/null 2>&1
  bench_cleanup
  for l in /sys/class/net/cobs$tag /sys/class/net/cs${tag:0:4}*; do [ -e "$l" ] && ip link del "$(basename "$l")"; done
  nft delete table inet "cobench_$tag" 2>/dev/null
}
trap cleanup EXIT
bench_daemon
examples/make-busybox-rootfs.sh "$work/busybox.tar" >/dev/null
"$co" import "$work/busybox.tar" bench/busybox:1 --change 'CMD ["sh"]' >/dev/null
cat > "$work/sets.py" <<'PY'
import http.client, json, socket, sys, time
class Unix(http.client.HTTPConnection):
    def __init__(self, path): super().__init__("localhost"); self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(self.path)
def call(method, url, body=None, ctype="application/json"):
    c = Unix(sys.argv[1]); c.request(method, url, body=json.dumps(body) if body is not None else None, headers={"Content-Type": ctype})
    r = c.getresponse(); data = r.read(); c.close(); return r.status, json.loads(data) if data else None
base = "/apis/apps/v1/namespaces/default/statefulsets"
def statefulset(name, replicas, policy):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": name, "podManagementPolicy": policy, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"terminationGracePeriodSeconds": 1,
                                           "containers": [{"name": "c", "image": "bench/busybox:1", "command": ["sleep", "3600"]}]}}}}
def wait(what, done, timeout=300):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if done(): return time.monotonic() - start
        time.sleep(0.05)
    print(f"{what}: not within {timeout} s"); sys.exit(1)
def pods(app): return call("GET", f"/api/v1/namespaces/default/pods?labelSelector=app%3D{app}")[1]["items"]
mode = sys.argv[2]
if mode == "cleanup":
    for name in ("ordered", "parallel"): call("DELETE", f"{base}/{name}", {"propagationPolicy": "Background"})
    time.sleep(1)
    for p in call("GET", "/api/v1/namespaces/default/pods")[1]["items"]:
        call("DELETE", f"/api/v1/namespaces/default/pods/{p['metadata']['name']}", {"gracePeriodSeconds": 0})
    sys.exit(0)
n = int(sys.argv[3])
for name, policy in (("ordered", "OrderedReady"), ("parallel", "Parallel")):
    start = time.monotonic()
    assert call("POST", base, statefulset(name, n, policy))[0] == 201
    up = wait(f"{n} ready", lambda: call("GET", f"{base}/{name}")[1].get("status", {}).get("readyReplicas", 0) == n)
    call("PATCH", f"{base}/{name}/scale", {"spec": {"replicas": 0}}, "application/merge-patch+json")
    down = wait("all gone", lambda: len(pods(name)) == 0)
    print(f"statefulset of {n} ({policy}): all Ready {up:.1f} s after its creation; scaled to 0, all pods gone in {down:.1f} s")
PY
sleep 2
python3 "$work/sets.py" "$work/run/containerops.sock" run "$n"
