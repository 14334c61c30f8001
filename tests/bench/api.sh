#!/usr/bin/env bash
# The cluster API's figures, on a private daemon (its own roots and a TLS port of its own):
#   - latency p50/p99 of create, get, list (of all COUNT pods) and merge patch of COUNT (1000) pods, over the daemon's
#     Unix socket and over TLS with the admin client certificate `containerops kubeconfig` writes (the pods name a node
#     that does not exist, so nothing runs them: the API alone is measured);
#   - `kubectl apply -f` of one file of APPLY (1000) ConfigMaps, then the same file again (every object unchanged);
#   - watch fan-out: WATCHERS (100) watches of one ConfigMap while it is updated UPDATES (1000) times; every watcher
#     must see every update in order; how long after the last write the last watcher had it, and the p99 of the time
#     from a write being acknowledged to a watcher reading its event;
#   - the daemon's memory (PSS) with the cluster API started, and with OBJECTS (10000) more ConfigMaps stored.
# No peer API server is on this machine (the Kubernetes SLO for mutating calls is p99 <= 1 s; k3s' server takes about
# 1.6 GB with a workload). Needs root and ./build.sh build; kubectl comes with the machine image (or apt's
# kubernetes-client).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$repo"
work=$(mktemp -d)
fs=$work/fs
mkdir -p "$fs"
trap bench_cleanup EXIT
command -v kubectl >/dev/null || bench_install kubernetes-client
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tag=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
export CONTAINEROPS_CLUSTER_ADDRESS=127.0.0.1:$port CONTAINEROPS_BRIDGE_NAME=coba$tag CONTAINEROPS_BRIDGE_PREFIX=ca${tag:0:4} \
  CONTAINEROPS_NFT_TABLE=cobench_$tag CONTAINEROPS_POD_SUBNET=10.245.$((RANDOM % 250)).0/24
bench_daemon
pid=$daemon_pid
cleanup_more() {
  for l in /sys/class/net/coba$tag /sys/class/net/ca${tag:0:4}*; do [ -e "$l" ] && ip link del "$(basename "$l")"; done
  nft delete table inet "cobench_$tag" 2>/dev/null || true
  nft delete table inet "cobench_${tag}_svc" 2>/dev/null || true
}
trap 'bench_cleanup; cleanup_more' EXIT
"$co" kubeconfig --output "$work/kubeconfig"
export KUBECONFIG=$work/kubeconfig
for _ in $(seq 100); do kubectl get ns default >/dev/null 2>&1 && break; sleep 0.2; done
mem() { awk '/^Pss:/{printf "%.1f MiB", $2/1024}' "/proc/$pid/smaps_rollup"; }
sleep 3
echo "daemon PSS with the cluster API started: $(mem)"
cat > "$work/api.py" <<'PY'
import base64, http.client, json, os, re, socket, ssl, sys, threading, time
sock, kubeconfig, mode = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(kubeconfig).read()
field = lambda name: re.search(rf"{name}:\s*(\S+)", text).group(1)
server = re.match(r"https://([^:/]+):(\d+)", field("server"))
tmp = os.path.dirname(kubeconfig)
for name, key in (("ca.crt", "certificate-authority-data"), ("client.crt", "client-certificate-data"), ("client.key", "client-key-data")):
    open(os.path.join(tmp, name), "wb").write(base64.b64decode(field(key)))
context = ssl.create_default_context(cafile=os.path.join(tmp, "ca.crt"))
context.load_cert_chain(os.path.join(tmp, "client.crt"), os.path.join(tmp, "client.key"))
context.check_hostname = False

class Unix(http.client.HTTPConnection):
    def __init__(self): super().__init__("localhost")
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sock)
def connect(transport):
    return Unix() if transport == "unix" else http.client.HTTPSConnection(server.group(1), int(server.group(2)), context=context)
def call(c, method, url, body=None, ctype="application/json", ok=(200, 201)):
    c.request(method, url, body=json.dumps(body) if body is not None else None, headers={"Content-Type": ctype})
    r = c.getresponse(); data = r.read()
    if r.status not in ok: sys.exit(f"{method} {url}: {r.status} {data[:300]!r}")
    return data
def timed(c, *a, **k):
    t = time.perf_counter(); data = call(c, *a, **k); return (time.perf_counter() - t) * 1000, data
def pct(xs, q): xs = sorted(xs); return xs[min(len(xs) - 1, int(q * len(xs)))]
def report(what, xs): print(f"  {what:<34} p50 {pct(xs, 0.5):6.2f} ms   p99 {pct(xs, 0.99):6.2f} ms   ({len(xs)} calls)")

if mode == "latency":
    n = int(sys.argv[4])
    for transport in ("unix", "tls"):
        c = connect(transport); ns = f"bench-{transport}"
        call(c, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        pod = lambda i: {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "labels": {"app": "bench"}},
                         "spec": {"nodeName": "bench-nowhere", "containers": [{"name": "c", "image": "busybox:1.37", "command": ["sleep", "3600"]}]}}
        create = [timed(c, "POST", f"/api/v1/namespaces/{ns}/pods", pod(i))[0] for i in range(n)]
        get = [timed(c, "GET", f"/api/v1/namespaces/{ns}/pods/p{i}")[0] for i in range(n)]
        lists = []
        for _ in range(50):
            ms, data = timed(c, "GET", f"/api/v1/namespaces/{ns}/pods")
            if len(json.loads(data)["items"]) != n: sys.exit("a list missed pods")
            lists.append(ms)
        patch = [timed(c, "PATCH", f"/api/v1/namespaces/{ns}/pods/p{i}", {"metadata": {"labels": {"patched": "yes"}}},
                       ctype="application/merge-patch+json")[0] for i in range(n)]
        print(f"{'Unix socket' if transport == 'unix' else 'TLS, client certificate'}:")
        report(f"create a pod", create); report("get a pod", get); report(f"list {n} pods", lists); report("merge patch a pod", patch)

elif mode == "watch":
    watchers, updates = int(sys.argv[4]), int(sys.argv[5])
    c = Unix()
    call(c, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench-watch"}})
    rv = json.loads(call(c, "POST", "/api/v1/namespaces/bench-watch/configmaps",
                         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fan"}, "data": {"n": "-1"}}))["metadata"]["resourceVersion"]
    seen = [[] for _ in range(watchers)]; ready = threading.Barrier(watchers + 1); errors = []
    def watch(w):
        try:
            wc = Unix(); wc.request("GET", f"/api/v1/namespaces/bench-watch/configmaps?watch=1&fieldSelector=metadata.name%3Dfan&resourceVersion={rv}")
            r = wc.getresponse(); ready.wait()
            while len(seen[w]) < updates:
                line = r.readline()
                if not line: raise RuntimeError("the watch ended early")
                event = json.loads(line)
                if event["type"] == "MODIFIED": seen[w].append((int(event["object"]["data"]["n"]), time.perf_counter()))
        except Exception as e: errors.append(f"watcher {w}: {e}"); ready.abort()
    threads = [threading.Thread(target=watch, args=(w,), daemon=True) for w in range(watchers)]
    for t in threads: t.start()
    ready.wait(); time.sleep(0.5)
    acked = []
    for i in range(updates):
        call(c, "PATCH", "/api/v1/namespaces/bench-watch/configmaps/fan", {"data": {"n": str(i)}}, ctype="application/merge-patch+json")
        acked.append(time.perf_counter())
    for t in threads: t.join(120)
    if errors: sys.exit("; ".join(errors[:3]))
    bad = [w for w in range(watchers) if [n for n, _ in seen[w]] != list(range(updates))]
    if bad: sys.exit(f"{len(bad)} watchers did not see every update in order (watcher {bad[0]}: {len(seen[bad[0]])} events)")
    last = max(s[-1][1] for s in seen)
    delays = [(t - acked[n]) * 1000 for s in seen for n, t in s]
    print(f"watch fan-out: {watchers} watchers x {updates} updates: every event delivered, in order; writes took "
          f"{(acked[-1] - acked[0]):.2f} s; the last watcher had the last update {(last - acked[-1]) * 1000:.0f} ms after it was "
          f"acknowledged; write-to-watcher delay p50 {pct(delays, 0.5):.1f} ms, p99 {pct(delays, 0.99):.1f} ms")

elif mode == "objects":
    n, threads_n = int(sys.argv[4]), 4
    c = Unix()
    call(c, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench-objects"}})
    def make(k):
        wc = Unix()
        for i in range(k, n, threads_n):
            call(wc, "POST", "/api/v1/namespaces/bench-objects/configmaps",
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}", "labels": {"app": "bench"}}, "data": {"key": f"value {i}"}})
    t = time.perf_counter()
    ts = [threading.Thread(target=make, args=(k,)) for k in range(threads_n)]
    for x in ts: x.start()
    for x in ts: x.join()
    print(f"{n} ConfigMaps created by {threads_n} clients in {time.perf_counter() - t:.1f} s")
PY
python3 "$work/api.py" "$work/run/containerops.sock" "$work/kubeconfig" latency "${COUNT:-1000}"
n=${APPLY:-1000}
python3 - "$n" > "$work/apply.yaml" <<'PY'
import sys
print("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench-apply")
for i in range(int(sys.argv[1])):
    print(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: bench-apply\ndata:\n  key: value-{i}")
PY
# kubectl paces its own requests (client-go's rate limiter); -v=4 prints each wait it makes, summed here.
# Its own CPU time is reported beside: a client-side apply computes a three-way patch per object.
TIMEFORMAT='%R %U %S'
for round in first again; do
  { time kubectl apply -v=4 -f "$work/apply.yaml" >"$work/apply.out" 2>"$work/apply.log"; } 2>"$work/apply.time"
  out=$(cat "$work/apply.out")
  read -r real user sys < "$work/apply.time"
  waited=$( (grep -o 'Waited for [0-9.]*m\?s due to client-side throttling' "$work/apply.log" || true) | awk '{v=$3; if (v ~ /ms$/) {sub(/ms$/,"",v); t+=v/1000} else {sub(/s$/,"",v); t+=v}} END{printf "%.1f", t}')
  echo "kubectl apply -f of $n ConfigMaps in one file ($round): ${real} s (kubectl's own CPU ${user} s user, ${sys} s system), $(grep -c ' created$' <<<"$out") created, $(grep -c ' unchanged$' <<<"$out") unchanged; kubectl's rate limiter held its requests back ${waited} s in all"
done
python3 "$work/api.py" "$work/run/containerops.sock" "$work/kubeconfig" watch "${WATCHERS:-100}" "${UPDATES:-1000}"
sleep 5  # the watchers' buffers gone and the idle daemon's heap compacted, as after the objects below
before=$(mem)
python3 "$work/api.py" "$work/run/containerops.sock" "$work/kubeconfig" objects "${OBJECTS:-10000}"
sleep 5
echo "daemon PSS: $before before, $(mem) with ${OBJECTS:-10000} more ConfigMaps stored (and the $((${COUNT:-1000} * 2)) pods and $n ConfigMaps above)"
