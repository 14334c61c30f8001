#!/usr/bin/env bash
# Runs the test command again and again, to find the tests that fail one run in ten.
#
#   tests/soak.sh [-n RUNS] [--load] [--clone [--rev REV]] [--suite NAME] [--filter EXPR]
#
#   -n RUNS        how many runs (default 5)
#   --load         keep both cores busy meanwhile (stress-ng --cpu N when installed, else a shell loop per core)
#   --clone        each run on a fresh clone, in a temp folder, of the commit HEAD was when the soak began, as CI
#                  does (default: this checkout); commits made meanwhile do not change what is soaked
#   --rev REV      with --clone: soak that commit instead of HEAD (to add runs to an earlier soak of the same commit)
#   --suite NAME   only that xunit project (e.g. ContainerOps.Runtime.Tests), against the built ./bin
#   --filter EXPR  with --suite: a dotnet test filter, e.g. "FullyQualifiedName~DifferentialTests"
#
# Each run's output goes to tests/results/soak/run-N.log (with --clone, its trx files to run-N-results/); the last lines are a table of runs (exit code,
# closing line, wall time) and the tests that failed, with how often. Exits non-zero when any run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
runs=5 load=0 clone=0 suite= filter= rev=HEAD
while [ $# -gt 0 ]; do
  case "$1" in
    -n) runs=$2; shift ;;
    --load) load=1 ;;
    --clone) clone=1 ;;
    --rev) rev=$2; shift ;;
    --suite) suite=$2; shift ;;
    --filter) filter=$2; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

out="$repo/tests/results/soak"
mkdir -p "$out"
rm -rf "$out"/run-*.log "$out"/run-*-results "$out"/summary

load_pids=()
stop_load() { [ ${#load_pids[@]} -gt 0 ] && kill "${load_pids[@]}" 2>/dev/null; wait "${load_pids[@]}" 2>/dev/null; load_pids=(); }
trap stop_load EXIT
if [ $load -eq 1 ]; then
  cores=$(nproc)
  if command -v stress-ng >/dev/null; then
    stress-ng --cpu "$cores" --quiet >/dev/null 2>&1 & load_pids+=($!)
  else
    for _ in $(seq "$cores"); do (while :; do :; done) & load_pids+=($!); done
  fi
  echo "soak: load on $cores cores (pids ${load_pids[*]})"
fi

wanted=$rev
rev=$(git rev-parse -q --verify "$wanted^{commit}") || { echo "soak.sh: no commit $wanted" >&2; exit 2; }
[ $clone -eq 1 ] && echo "soak: commit $rev" | tee "$out/summary"
failures=0
for n in $(seq "$runs"); do
  log="$out/run-$n.log"
  start=$(date +%s)
  if [ -n "$suite" ]; then
    export CONTAINEROPS_SHIM="$repo/bin/containerops-shim" CONTAINEROPS_DAEMON="$repo/bin/daemon/containerops-daemon"
    args=(test "tests/$suite/$suite.csproj" -c Release --nologo --logger "console;verbosity=normal")
    [ -n "$filter" ] && args+=(--filter "$filter")
    dotnet "${args[@]}" -- RunConfiguration.DisableParallelization=true >"$log" 2>&1 </dev/null
    code=$?
    closing=$(grep -E '^ *(Total tests|Passed|Failed|Skipped): ' "$log" | sed 's/^ *//' | tr '\n' ' ')
  elif [ $clone -eq 1 ]; then
    dir=$(mktemp -d /tmp/containerops-soak.XXXXXX)
    git clone -q "$repo" "$dir/repo" && git -C "$dir/repo" checkout -q "$rev"
    (cd "$dir/repo" && CI=true bash .ci/run) >"$log" 2>&1 </dev/null
    code=$?
    # The clone goes; its trx files (each test's output and time) stay beside the run's log.
    cp -r "$dir/repo/tests/results" "$out/run-$n-results" 2>/dev/null
    rm -rf "$dir"
    closing=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  else
    ./build.sh test >"$log" 2>&1 </dev/null
    code=$?
    closing=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  fi
  secs=$(( $(date +%s) - start ))
  [ $code -ne 0 ] && failures=$((failures + 1))
  printf 'run %d: exit %d, %s, %d s\n' "$n" "$code" "${closing:-no closing line}" "$secs" | tee -a "$out/summary"
done
stop_load

echo
echo "soak: $runs runs, $failures failed$([ $load -eq 1 ] && echo ', under load')"
# xunit's console logger writes "Failed NAME [time]"; Pester writes "[-] NAME".
grep -hoE '^\s*(Failed [A-Za-z0-9_.]+|\[-\] .*)' "$out"/run-*.log 2>/dev/null | sed 's/^ *//' | sort | uniq -c | sort -rn | head -30
[ $failures -eq 0 ]
