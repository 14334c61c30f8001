#!/usr/bin/env bash
# Services on one node: HTTP throughput to a busybox httpd pod through its ClusterIP vs straight to the pod IP (wrk,
# both in one run, DURATION seconds each, from another pod's network namespace and from the host); cluster DNS lookups of a service name from inside a pod's
# network namespace (COUNT queries to the kube-dns address, p50/p99); and ROUNDS times each way, the time from the
# pod's readiness changing (its exec probe, every second, tests a file the script removes and makes again) to traffic
# through the ClusterIP stopping or flowing: measured from the pod's Ready condition as the API shows it (the node's
# probe result written), and from the file's change (which adds up to a probe period). Rule updates at scale:
# service-proxy.sh. A private daemon with its own roots, bridge
# names, nftables tables and pod subnet. Needs root and ./build.sh build.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
source tests/bench/lib.sh
duration=${DURATION:-10}
count=${COUNT:-10000}
rounds=${ROUNDS:-5}
bench_install python3 busybox-static wrk util-linux conntrack
fs=$work/fs
mkdir -p "$fs"
tag=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
export CONTAINEROPS_BRIDGE_NAME=cobs$tag CONTAINEROPS_BRIDGE_PREFIX=cs${tag:0:4} CONTAINEROPS_NFT_TABLE=cobench_$tag \
  CONTAINEROPS_POD_SUBNET=${POD_SUBNET:-10.244.$((RANDOM % 250)).0/24} CONTAINEROPS_CLUSTER_ADDRESS=none
api() { python3 "$work/api.py" "$work/run/containerops.sock" "$@"; }
cleanup() {
  set +e
  [ -f "$work/api.py" ] && api DELETE /api/v1/namespaces/default/pods/web '{"gracePeriodSeconds":0}' >/dev/null 2>&1
  [ -f "$work/api.py" ] && api DELETE /api/v1/namespaces/default/pods/client '{"gracePeriodSeconds":0}' >/dev/null 2>&1
  [ -f "$work/api.py" ] && api DELETE /api/v1/namespaces/default/services/web >/dev/null 2>&1
  for _ in $(seq 100); do [ -z "$(ls "$work/run/pods" 2>/dev/null)" ] && break; sleep 0.2; done
  CONTAINEROPS_HOST=unix://$work/run/containerops.sock "$co" ps -aq 2>/dev/null | xargs -r "$co" rm -f >/dev/null 2>&1
  bench_cleanup
  for l in /sys/class/net/cobs$tag /sys/class/net/cs${tag:0:4}*; do [ -e "$l" ] && ip link del "$(basename "$l")"; done
  nft delete table inet "cobench_$tag" 2>/dev/null
  nft delete table inet "cobench_${tag}_svc" 2>/dev/null
}
trap cleanup EXIT
cat > "$work/api.py" <<'PY'
import http.client, json, socket, sys
class Unix(http.client.HTTPConnection):
    def __init__(self, path): super().__init__("localhost"); self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(self.path)
c = Unix(sys.argv[1])
c.request(sys.argv[2], sys.argv[3], body=sys.argv[4] if len(sys.argv) > 4 else None, headers={"Content-Type": "application/json"})
r = c.getresponse(); body = r.read()
if r.status >= 300: sys.exit(f"{sys.argv[2]} {sys.argv[3]}: {r.status} {body.decode()}")
print(body.decode())
PY
cat > "$work/readiness.py" <<'PY'
import http.client, json, os, socket, statistics, sys, time
class Unix(http.client.HTTPConnection):
    def __init__(self, path): super().__init__("localhost"); self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(self.path)
sock, cluster_ip, ready_file, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
api = Unix(sock)
def ready():
    api.request("GET", "/api/v1/namespaces/default/pods/web"); pod = json.loads(api.getresponse().read())
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))
def serves():
    c = http.client.HTTPConnection(cluster_ip, 80, timeout=1)
    try: c.request("GET", "/index.html"); return c.getresponse().status == 200
    except OSError: return False
    finally: c.close()
def flip(make_ready):
    (open(ready_file, "w").close() if make_ready else os.remove(ready_file))
    start = time.perf_counter(); seen = flowing = None
    while seen is None or flowing is None:
        now = time.perf_counter()
        if now - start > 15: sys.exit(f"readiness {'came' if make_ready else 'went'} but traffic did not follow in 15 s")
        if seen is None and ready() == make_ready: seen = now
        if flowing is None and serves() == make_ready: flowing = time.perf_counter()
    return (flowing - seen) * 1000, (flowing - start) * 1000
out, into = [], []
for _ in range(rounds):
    out.append(flip(False)); time.sleep(0.3); into.append(flip(True)); time.sleep(0.3)
for what, xs in (("readiness fails -> no traffic", out), ("readiness passes -> traffic", into)):
    after, total = [x[0] for x in xs], [x[1] for x in xs]
    print(f"{what}: {statistics.median(after):.0f} ms median (max {max(after):.0f}) after the pod's Ready changed in the API, "
          f"{statistics.median(total):.0f} ms median from the file's change (a 1 s probe period included), {len(xs)} rounds")
PY
cat > "$work/dns.py" <<'PY'
import socket, struct, sys, time
server, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
q = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.connect((server, 53))
lat, failed = [], 0
for i in range(n):
    t = time.perf_counter(); s.send(struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + q)
    try:
        r = s.recv(512)
        if r[3] & 0xF or struct.unpack(">H", r[6:8])[0] == 0: failed += 1
        else: lat.append((time.perf_counter() - t) * 1e6)
    except socket.timeout: failed += 1
lat.sort(); pick = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f"DNS {name} from the pod's network namespace: {len(lat)} answers, {failed} failed; p50 {pick(0.5):.0f} us, p99 {pick(0.99):.0f} us")
PY
bench_daemon
busybox_tar=$work/busybox.tar
examples/make-busybox-rootfs.sh "$busybox_tar" >/dev/null
"$co" import "$busybox_tar" bench/busybox:1 --change 'CMD ["sh"]' >/dev/null
mkdir -p "$work/www" && echo hello > "$work/www/index.html" && touch "$work/www/ready"
api POST /api/v1/namespaces/default/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"bench/busybox:1","command":["httpd","-f","-p","8080","-h","/www"],"ports":[{"name":"http","containerPort":8080}],"volumeMounts":[{"name":"www","mountPath":"/www"}],"readinessProbe":{"exec":{"command":["test","-f","/www/ready"]},"periodSeconds":1,"failureThreshold":1}}],"volumes":[{"name":"www","hostPath":{"path":"'"$work/www"'"}}]}}' >/dev/null
svc=$(api POST /api/v1/namespaces/default/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80,"targetPort":"http"}]}}')
cluster_ip=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["spec"]["clusterIP"])' "$svc")
pod_ip=
for _ in $(seq 300); do
  pod_ip=$(api GET /api/v1/namespaces/default/pods/web | python3 -c 'import json,sys; s=json.load(sys.stdin).get("status",{}); print(s.get("podIP","") if s.get("phase")=="Running" else "")')
  [ -n "$pod_ip" ] && curl -sf -o /dev/null "http://$cluster_ip/" && break
  sleep 0.2
done
[ -n "$pod_ip" ] || { echo "the pod did not start" >&2; exit 1; }
# busybox httpd closes each connection, so every request is a connection of its own, and each leaves a conntrack entry
# in TIME_WAIT for two minutes. Left in place, one run's entries take the source ports the next run's masquerade
# wants (same addresses, same pod port), and the NAT's search for a free one would be measured instead of the proxy:
# the pod's entries are deleted before each run, and the two alternate.
# rps [NETNS] URL: requests per second, from the host or from inside a network namespace.
rps() {
  local in=()
  [ $# -eq 2 ] && { in=(nsenter --net="$1"); shift; }
  conntrack -D -d "$pod_ip" >/dev/null 2>&1 || true
  conntrack -D -r "$pod_ip" >/dev/null 2>&1 || true
  "${in[@]}" wrk -t2 -c32 -d"${duration}s" "$1" | awk '/Requests\/sec/{print $2}'
}
# compare WHERE [NETNS]: the pod IP and the ClusterIP, two runs each, alternating.
compare() {
  local where=$1 direct=0 through=0
  shift
  for _ in 1 2; do
    direct=$(python3 -c "print($direct + $(rps "$@" "http://$pod_ip:8080/") / 2)")
    through=$(python3 -c "print($through + $(rps "$@" "http://$cluster_ip/") / 2)")
  done
  echo "wrk from $where, ${duration}s x 2 each, alternating, 2 threads, 32 connections: $(python3 -c "print(f'pod IP {$direct:.0f} req/s, ClusterIP {$through:.0f} req/s ({100*$through/$direct:.1f} % of direct)')")"
}
# From another pod (the usual way to a service: no masquerade) and from the host (masqueraded, as kube-proxy does).
api POST /api/v1/namespaces/default/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"client"},"spec":{"containers":[{"name":"c","image":"bench/busybox:1","command":["sleep","3600"]}]}}' >/dev/null
client_uid=
for _ in $(seq 300); do
  client_uid=$(api GET /api/v1/namespaces/default/pods/client | python3 -c 'import json,sys; p=json.load(sys.stdin); print(p["metadata"]["uid"] if p.get("status",{}).get("podIP") else "")')
  [ -n "$client_uid" ] && break
  sleep 0.2
done
[ -n "$client_uid" ] || { echo "the client pod did not start" >&2; exit 1; }
compare "another pod" "$work/run/pods/$client_uid/net"
compare "the host"
uid=$(api GET /api/v1/namespaces/default/pods/web | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"])')
nsenter --net="$work/run/pods/$uid/net" python3 "$work/dns.py" 10.96.0.10 web.default.svc.cluster.local "$count"
python3 "$work/readiness.py" "$work/run/containerops.sock" "$cluster_ip" "$work/www/ready" "$rounds"
