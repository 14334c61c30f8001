#!/usr/bin/env bash
# Deployments on one node, through the Kubernetes API on the daemon's socket: a deployment scaled 0 → COUNT (20) → 0,
# timed until all COUNT pods are Ready (status.readyReplicas) and until none is left; a rolling update of ROLL (10)
# replicas (maxSurge 25 %, maxUnavailable 25 %) timed from the template change to a complete rollout; the daemon's CPU
# over 30 s idle with the controllers running and COUNT pods up; a job of JOB (100) completions with parallelism
# PAR (10), each pod `true`, timed from creation to Complete; how far the autoscaler lags a CPU step: one pod
# (request 100m) that starts spinning 20 s after it starts, an HPA at 50 % CPU (min 1, max 3, the default 15 s sync),
# timed from the step to the scale-up (HPA=0 skips it). A private daemon with its own roots, bridge
# names, nftables table and pod subnet. Needs root and ./build.sh build.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
source tests/bench/lib.sh
n=${COUNT:-20}
roll=${ROLL:-10}
job=${JOB:-100}
par=${PAR:-10}
bench_install python3 busybox-static procps
fs=$work/fs
mkdir -p "$fs"
tag=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
export CONTAINEROPS_BRIDGE_NAME=cobd$tag CONTAINEROPS_BRIDGE_PREFIX=cd${tag:0:4} CONTAINEROPS_NFT_TABLE=cobench_$tag \
  CONTAINEROPS_POD_SUBNET=${POD_SUBNET:-10.244.$((RANDOM % 250)).0/24} CONTAINEROPS_CLUSTER_ADDRESS=none
cleanup() {
  set +e
  [ -f "$work/deploy.py" ] && python3 "$work/deploy.py" "$work/run/containerops.sock" cleanup 2>/dev/null
  for _ in $(seq 150); do [ -z "$(ls "$work/run/pods" 2>/dev/null)" ] && break; sleep 0.2; done
  CONTAINEROPS_HOST=unix://$work/run/containerops.sock "$co" ps -aq 2>/dev/null | xargs -r "$co" rm -f >/dev/null 2>&1
  bench_cleanup
  for l in /sys/class/net/cobd$tag /sys/class/net/cd${tag:0:4}*; do [ -e "$l" ] && ip link del "$(basename "$l")"; done
  nft delete table inet "cobench_$tag" 2>/dev/null
  nft delete table inet "cobench_${tag}_svc" 2>/dev/null  # the service proxy's (default/kubernetes has a port)
}
trap cleanup EXIT
bench_daemon
pid=$daemon_pid
examples/make-busybox-rootfs.sh "$work/busybox.tar" >/dev/null
"$co" import "$work/busybox.tar" bench/busybox:1 --change 'CMD ["sh"]' >/dev/null
cat > "$work/deploy.py" <<'PY'
import http.client, json, socket, sys, time
class Unix(http.client.HTTPConnection):
    def __init__(self, path): super().__init__("localhost"); self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(self.path)
def call(method, url, body=None, ctype="application/json"):
    c = Unix(sys.argv[1]); c.request(method, url, body=json.dumps(body) if body is not None else None, headers={"Content-Type": ctype})
    r = c.getresponse(); data = r.read(); c.close(); return r.status, json.loads(data) if data else None
base = "/apis/apps/v1/namespaces/default/deployments"
def deployment(name, replicas):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"terminationGracePeriodSeconds": 1,
                                           "containers": [{"name": "c", "image": "bench/busybox:1", "command": ["sleep", "3600"]}]}}}}
def wait(what, done, timeout=300):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if done(): return time.monotonic() - start
        time.sleep(0.05)
    print(f"{what}: not within {timeout} s"); sys.exit(1)
def get(name): return call("GET", f"{base}/{name}")[1]
def pods(app): return call("GET", f"/api/v1/namespaces/default/pods?labelSelector=app%3D{app}")[1]["items"]
def complete(name, replicas):
    d = get(name); s = d.get("status", {})
    return (s.get("observedGeneration", 0) >= d["metadata"]["generation"] and s.get("updatedReplicas", 0) == replicas
            and s.get("replicas", 0) == replicas and s.get("availableReplicas", 0) == replicas)
mode = sys.argv[2]
if mode == "cleanup":
    call("DELETE", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/hpa", {})
    for name in ("scale", "roll", "hpa"): call("DELETE", f"{base}/{name}", {"propagationPolicy": "Background"})
    call("DELETE", "/apis/batch/v1/namespaces/default/jobs/batch", {"propagationPolicy": "Background"})
    time.sleep(1)
    for p in call("GET", "/api/v1/namespaces/default/pods")[1]["items"]:
        call("DELETE", f"/api/v1/namespaces/default/pods/{p['metadata']['name']}", {"gracePeriodSeconds": 0})
    sys.exit(0)
if mode == "scale":
    n = int(sys.argv[3])
    assert call("POST", base, deployment("scale", 0))[0] == 201
    wait("created", lambda: complete("scale", 0))
    start = time.monotonic()
    call("PATCH", f"{base}/scale/scale", {"spec": {"replicas": n}}, "application/merge-patch+json")
    up = wait(f"{n} ready", lambda: get("scale").get("status", {}).get("readyReplicas", 0) == n)
    call("PATCH", f"{base}/scale/scale", {"spec": {"replicas": 0}}, "application/merge-patch+json")
    down = wait("all gone", lambda: len(pods("scale")) == 0)
    print(f"deployment scaled 0 → {n}: all Ready in {up:.1f} s; {n} → 0: all pods gone in {down:.1f} s")
if mode == "roll":
    n = int(sys.argv[3])
    assert call("POST", base, deployment("roll", n))[0] == 201
    wait("first rollout", lambda: complete("roll", n))
    call("PATCH", f"{base}/roll", {"spec": {"template": {"metadata": {"annotations": {"bench/rev": "2"}}}}}, "application/merge-patch+json")
    took = wait("rolling update", lambda: complete("roll", n) and len(pods("roll")) == n)
    print(f"rolling update of {n} replicas (maxSurge 25 %, maxUnavailable 25 %): complete in {took:.1f} s")
if mode == "idle":
    n = int(sys.argv[3])
    call("PATCH", f"{base}/roll/scale", {"spec": {"replicas": n}}, "application/merge-patch+json")
    wait(f"{n} ready", lambda: get("roll").get("status", {}).get("readyReplicas", 0) == n)
if mode == "hpa":
    from datetime import datetime
    d = deployment("hpa", 1)
    c = d["spec"]["template"]["spec"]["containers"][0]
    c["command"] = ["sh", "-c", "sleep 20; while :; do :; done"]
    c["resources"] = {"requests": {"cpu": "100m"}}
    assert call("POST", base, d)[0] == 201
    wait("one pod ready", lambda: get("hpa").get("status", {}).get("readyReplicas", 0) == 1)
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "hpa"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hpa"}, "minReplicas": 1, "maxReplicas": 3,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}}
    assert call("POST", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", hpa)[0] == 201
    started = pods("hpa")[0]["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
    step = datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp() + 20
    wait("scale-up", lambda: get("hpa")["spec"]["replicas"] > 1, 180)
    print(f"autoscaler: one pod's CPU from 0 to a full core (request 100m, target 50 %): scaled up {time.time() - step:.1f} s after the step"
          " (sync period 15 s)")
    # Spinning pods would count in the idle figure.
    call("DELETE", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/hpa", {})
    call("DELETE", f"{base}/hpa", {"propagationPolicy": "Background"})
    wait("spinning pods gone", lambda: len(pods("hpa")) == 0)
if mode == "job":
    n, p = int(sys.argv[3]), int(sys.argv[4])
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "batch"},
           "spec": {"completions": n, "parallelism": p, "template": {"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "c", "image": "bench/busybox:1", "command": ["true"]}]}}}}
    start = time.monotonic()
    assert call("POST", "/apis/batch/v1/namespaces/default/jobs", job)[0] == 201
    def done():
        s = call("GET", "/apis/batch/v1/namespaces/default/jobs/batch")[1].get("status", {})
        return any(c["type"] == "Complete" and c["status"] == "True" for c in s.get("conditions", []))
    took = wait("job complete", done, 900)
    print(f"job of {n} completions, parallelism {p}: complete in {took:.1f} s")
PY
sleep 2
python3 "$work/deploy.py" "$work/run/containerops.sock" scale "$n"
python3 "$work/deploy.py" "$work/run/containerops.sock" roll "$roll"
python3 "$work/deploy.py" "$work/run/containerops.sock" job "$job" "$par"
[ "${HPA:-1}" = 0 ] || python3 "$work/deploy.py" "$work/run/containerops.sock" hpa
python3 "$work/deploy.py" "$work/run/containerops.sock" idle "$n"
sleep 5
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
t0=$(ticks); sleep 30; t1=$(ticks)
hz=$(getconf CLK_TCK)
echo "daemon CPU idle over 30 s with the controllers running and $n pods up: $(awk -v d=$((t1 - t0)) -v hz="$hz" 'BEGIN{printf "%.2f %%", d / hz / 30 * 100}') of one core"
