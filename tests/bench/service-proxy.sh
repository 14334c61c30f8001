#!/usr/bin/env bash
# Benchmark: the service proxy's rule updates with SERVICES services (1000) of ENDPOINTS endpoints (10) each, beside
# kube-proxy's iptables mode for the same services, in one run, each in a network namespace of its own (nothing
# touches the host's tables):
#   ours       tests/bench/ProxyBench: the proxy's first sync (the whole table in one `nft -f`), then CHANGES (100)
#              syncs that each move one endpoint of one service (only the difference goes to the kernel).
#   iptables   the same services as kube-proxy's iptables mode renders them, written as its full sync does: the whole
#              nat table through `iptables-restore --noflush`, once first and again per change.
# Needs root; installs nftables and iptables.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$repo"
bench_install nftables iptables
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
work=$(mktemp -d)
trap bench_cleanup EXIT
services=${SERVICES:-1000} endpoints=${ENDPOINTS:-10} changes=${CHANGES:-100}
dotnet build -c Release -v q -nologo tests/bench/ProxyBench -o "$work/bench" >/dev/null
ns_ours=coproxy-$$-n ns_peer=coproxy-$$-i
bench_netns "$ns_ours"
bench_netns "$ns_peer"
echo "$services services x $endpoints endpoints, $changes changes of one endpoint each"
ip netns exec "$ns_ours" "$work/bench/ProxyBench" nft "$services" "$endpoints" "$changes"
ip netns exec "$ns_peer" "$work/bench/ProxyBench" iptables "$services" "$endpoints" "$(( changes < 20 ? changes : 20 ))"
