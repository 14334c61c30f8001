#!/usr/bin/env bash
# Runs every test suite against the built ./bin and prints one closing line:
#   N passed, N failed, N skipped
# xunit projects run one after another (their integration tests create kernel objects as root);
# the Pester suite runs when pwsh is found, and is reported as skipped, loudly, when it is not.
# Exits non-zero when a test failed, a suite could not run, or kernel objects were left behind.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
results="$repo/tests/results"
rm -rf "$results"; mkdir -p "$results"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export CONTAINEROPS_SHIM="$repo/bin/containerops-shim" CONTAINEROPS_DAEMON="$repo/bin/daemon/containerops-daemon"

passed=0; failed=0; skipped=0; broken=()

# The kernel objects a suite can leave behind, one per line, so a difference names each of them.
snapshot_kernel() {
  {
    awk '$3 == "overlay" { print "overlay mount " $2 }' /proc/mounts
    pgrep -a -f 'containerops-(shim|daemon)' | grep -v pgrep | sed 's/^/process /' || true
    ip netns list 2>/dev/null | sed 's/^/netns /'
    # Bridges and veths (networks' and containers'), and nftables tables (each test daemon has its own).
    ip -o link show type bridge 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print "bridge " $2 }'
    ip -o link show type veth 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print "veth " $2 }'
    nft list tables 2>/dev/null | sed 's/^/nft /'
    find /sys/fs/cgroup -maxdepth 3 -type d -name 'containerops*' 2>/dev/null | sed 's/^/cgroup /'
  } | sort
}
# Compares with the snapshot taken before suite $1; what it finds is that suite's leak.
check_leaks() {
  local now; now=$(snapshot_kernel)
  local added; added=$(comm -13 <(echo "$before") <(echo "$now"))
  if [ -n "$added" ]; then
    echo "!!! $1 left kernel objects behind:"; echo "$added" | sed 's/^/    /' | head -40
    broken+=("leak check ($1)")
  fi
  before=$now
}
before=$(snapshot_kernel)

# One xunit project at a time; counts come from the trx files.
for proj in tests/*.Tests/*.Tests.csproj; do
  name=$(basename "$proj" .csproj)
  echo "=== $name"
  if ! dotnet build "$proj" -c Release --nologo -v quiet >"$results/$name.build.log" 2>&1; then
    echo "!!! $name does not build:"; tail -20 "$results/$name.build.log"; broken+=("$name (build)"); continue
  fi
  dotnet test "$proj" -c Release --no-build --nologo \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=minimal" --results-directory "$results" \
    -- RunConfiguration.DisableParallelization=true 2>&1 | tee "$results/$name.log" | grep -vE '^\s*$' | tail -25
  trx="$results/$name.trx"
  if [ ! -f "$trx" ]; then echo "!!! $name produced no results"; broken+=("$name (no results)"); continue; fi
  counters=$(grep -o '<Counters [^>]*>' "$trx")
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  total=$(get total); p=$(get passed); f=$(get failed); e=$(get error); nx=$(get notExecuted)
  passed=$((passed + p)); failed=$((failed + f + e)); skipped=$((skipped + total - p - f - e))
  [ "${nx:-0}" -gt 0 ] && grep -o 'testName="[^"]*"[^>]*outcome="NotExecuted"' "$trx" | sed 's/^/    skipped: /' | head -20
  check_leaks "$name"
done

# Pester: wherever pwsh is found.
pwsh_bin=$(command -v pwsh || true)
[ -z "$pwsh_bin" ] && [ -x /opt/pwsh/pwsh ] && pwsh_bin=/opt/pwsh/pwsh
if [ -n "$pwsh_bin" ] && ls tests/Pester/*.Tests.ps1 >/dev/null 2>&1; then
  echo "=== Pester ($pwsh_bin)"
  "$pwsh_bin" -NoProfile -NonInteractive -File tests/Pester/Invoke-Tests.ps1 -ResultFile "$results/pester.counts" 2>&1 | tee "$results/pester.log" | tail -40
  if [ -f "$results/pester.counts" ]; then
    read -r pp pf ps <"$results/pester.counts"
    passed=$((passed + pp)); failed=$((failed + pf)); skipped=$((skipped + ps))
  else
    broken+=("Pester (no results)")
  fi
else
  n=$(find tests/Pester examples -name '*.Tests.ps1' -exec cat {} + 2>/dev/null | grep -cE '^\s*It ' || true)
  echo
  echo "################################################################################"
  echo "### PESTER SUITE SKIPPED: pwsh was not found (not on PATH, not at /opt/pwsh)."
  echo "### Debian 12 has no pwsh package; install PowerShell 7.6 and Pester 5 to run"
  echo "### the module tests in tests/Pester ($n tests counted as skipped)."
  echo "################################################################################"
  skipped=$((skipped + n))
fi

check_leaks Pester

echo
[ ${#broken[@]} -gt 0 ] && { echo "suites that did not run cleanly: ${broken[*]}"; failed=$((failed + ${#broken[@]})); }
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
