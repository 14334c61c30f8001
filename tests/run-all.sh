#!/usr/bin/env bash
# Runs every test suite against the built ./bin and prints one closing line:
#   N passed, N failed, N skipped
# xunit projects run one after another (their integration tests create kernel objects as root). Then the Pester suite
# (tests/Pester, and the test of every runbook under examples/) runs in PowerShell 7.6 with Pester 5, which this script
# installs when they are missing: pwsh as a .NET tool into .tools/pwsh (a pwsh 7.6 or later on PATH is used instead),
# Pester restored from NuGet by tests/Pester/PesterModule.proj into the NuGet global packages folder. If either cannot
# be installed the Pester suite counts as failed, never as skipped.
# Usage: tests/run-all.sh [--only xunit|pester]
# Exits non-zero when a test failed, a suite could not run, or kernel objects were left behind.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
repo=$(pwd)
only=all
case "${1:-}" in
  '') ;;
  --only) case "${2:-}" in xunit|pester) only=$2 ;; *) echo "usage: $0 [--only xunit|pester]" >&2; exit 2 ;; esac ;;
  *) echo "usage: $0 [--only xunit|pester]" >&2; exit 2 ;;
esac
results="$repo/tests/results"
rm -rf "$results"; mkdir -p "$results"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export CONTAINEROPS_SHIM="$repo/bin/containerops-shim" CONTAINEROPS_DAEMON="$repo/bin/daemon/containerops-daemon"
# A .NET tool's launcher finds the runtime through DOTNET_ROOT when dotnet is not in a default location.
[ -z "${DOTNET_ROOT:-}" ] && command -v dotnet >/dev/null && DOTNET_ROOT=$(dirname "$(readlink -f "$(command -v dotnet)")") && export DOTNET_ROOT
pwsh_version=7.6.10

passed=0; failed=0; skipped=0; broken=()

# The kernel objects a suite can leave behind, one per line, so a difference names each of them.
snapshot_kernel() {
  {
    awk '$3 == "overlay" { print "overlay mount " $2 }' /proc/mounts
    # By process name (comm, 15 characters), zombies aside: a build's objcopy naming the daemon's file is no daemon.
    ps -eo pid=,stat=,comm=,args= | awk '$2 !~ /^Z/ && $3 ~ /^containerops-(sh|da)/ { $2 = ""; $3 = ""; print "process " $0 }' 
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
run_xunit() {
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
}

# Sets pwsh_bin: a pwsh 7.6 or later on PATH, else PowerShell $pwsh_version as a .NET tool in .tools/pwsh, installed
# when it is not there yet.
find_pwsh() {
  local dir="$repo/.tools/pwsh" found version
  found=$(command -v pwsh || true)
  if [ -n "$found" ] && [ "$found" != "$dir/pwsh" ]; then
    # shellcheck disable=SC2016 # a PowerShell expression, expanded by pwsh
    version=$("$found" -NoProfile -NonInteractive -Command '$PSVersionTable.PSVersion.ToString()' </dev/null 2>/dev/null || true)
    if [ -n "$version" ] && printf '7.6\n%s\n' "$version" | sort -VC; then
      pwsh_bin=$found; echo "pwsh $version from PATH ($found)"; return 0
    fi
    echo "pwsh on PATH ($found) is ${version:-not usable}, older than 7.6: using .tools/pwsh"
  fi
  if [ ! -x "$dir/pwsh" ] || [ ! -d "$dir/.store/powershell/$pwsh_version" ]; then
    echo "installing PowerShell $pwsh_version into .tools/pwsh"
    rm -rf "$dir"
    if ! dotnet tool install --tool-path "$dir" PowerShell --version "$pwsh_version" </dev/null >"$results/pwsh-install.log" 2>&1; then
      echo "!!! dotnet tool install PowerShell $pwsh_version failed:"; tail -15 "$results/pwsh-install.log" | sed 's/^/    /'
      return 1
    fi
  fi
  pwsh_bin=$dir/pwsh
  echo "pwsh $pwsh_version from .tools/pwsh"
}

# Sets pester_psd1: the Pester module in the NuGet global packages folder, restored when it is not there yet (offline,
# the restore is served from the local NuGet cache as any other).
find_pester() {
  local proj=tests/Pester/PesterModule.proj version packages
  version=$(sed -n 's:.*<PesterVersion>\(.*\)</PesterVersion>.*:\1:p' "$proj")
  # The usual folder first; else where NuGet says (a NuGet.Config may move it), asked only then as it takes a while.
  packages=${NUGET_PACKAGES:-${HOME:-}/.nuget/packages}
  [ -f "$packages/pester/$version/.nupkg.metadata" ] ||
    packages=$(dotnet nuget locals global-packages --list 2>/dev/null | sed -n 's/^global-packages: *//p' | grep . || echo "$packages")
  pester_psd1="${packages%/}/pester/$version/tools/Pester.psd1"
  if [ ! -f "$pester_psd1" ] || [ ! -f "${packages%/}/pester/$version/.nupkg.metadata" ]; then
    echo "restoring Pester $version from NuGet ($proj)"
    if ! dotnet restore "$proj" </dev/null >"$results/pester-restore.log" 2>&1 || [ ! -f "$pester_psd1" ]; then
      echo "!!! restoring Pester $version failed:"; tail -15 "$results/pester-restore.log" | sed 's/^/    /'
      return 1
    fi
  fi
  echo "Pester $version from $(dirname "$pester_psd1")"
}

# The Pester suite: tests/Pester and examples/ (Invoke-Tests.ps1 runs both). Counts come from the file it writes.
run_pester() {
  echo "=== Pester"
  local t0=${EPOCHREALTIME/[.,]/} ms
  if ! find_pwsh || ! find_pester; then broken+=("Pester (pwsh or Pester could not be installed)"); return; fi
  ms=$(( (${EPOCHREALTIME/[.,]/} - t0) / 1000 ))
  echo "pwsh and Pester ready in $((ms / 1000)).$(printf %03d $((ms % 1000))) s"
  "$pwsh_bin" -NoProfile -NonInteractive -File tests/Pester/Invoke-Tests.ps1 -ResultFile "$results/pester.counts" -PesterPath "$pester_psd1" \
    </dev/null 2>&1 | tee "$results/pester.log" | tail -40
  if [ -f "$results/pester.counts" ]; then
    read -r pp pf ps <"$results/pester.counts"
    passed=$((passed + pp)); failed=$((failed + pf)); skipped=$((skipped + ps))
  else
    broken+=("Pester (no results)")
  fi
  check_leaks Pester
}

if [ "$only" != pester ]; then run_xunit; fi
if [ "$only" != xunit ]; then run_pester; fi

echo
[ ${#broken[@]} -gt 0 ] && { echo "suites that did not run cleanly: ${broken[*]}"; failed=$((failed + ${#broken[@]})); }
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
