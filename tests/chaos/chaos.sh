#!/usr/bin/env bash
# Chaos run: a mixed workload (create/start/stop/kill/rm, exec, logs, restart policies, image import/build/tag/rm and
# pull from a loopback registry) against a private daemon that is SIGKILLed at random moments (sometimes again while it
# recovers; sometimes a container's shim instead), restarted, and checked after every restart:
#   - every container the API acknowledged exists, in a state and with an exit code its acknowledged operations allow;
#     a killed shim shows as exited with 137; no container whose create the API refused exists;
#   - log entries read before a kill are all still there;
#   - no mount, cgroup, shim process, runtime state, veth or netns exists that no (running) container owns;
#   - the image store verifies: every blob has its digest, every name and image resolves, every snapshot has its
#     completion marker, nothing of an interrupted operation is left.
# The test command runs a short one (tests/ContainerOps.Chaos.Tests: at least 60 s and 50 kills); this runs long ones.
#
# Usage (root, after ./build.sh build):  tests/chaos/chaos.sh [SECONDS]
#   CHAOS_SEED=N        replay a run's workload and kill schedule (printed at the start and in every failure)
#   CHAOS_SECONDS=N     minimum duration (default: the argument, else 600)
#   CHAOS_KILLS=N       minimum number of daemon kills (default: a quarter of the seconds)
#   CHAOS_WORKERS=N     concurrent clients (default 3)
#   CHAOS_KEEP_GOING=1  do not stop at the first restart that found a violation: list them all
# Progress is shown and kept in tests/results/chaos-SEED.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export CONTAINEROPS_SHIM="$repo/bin/containerops-shim" CONTAINEROPS_DAEMON="$repo/bin/daemon/containerops-daemon"
if [ ! -x "$CONTAINEROPS_DAEMON" ] || [ ! -x "$CONTAINEROPS_SHIM" ]; then echo "chaos.sh: build first (./build.sh build)" >&2; exit 2; fi
export CHAOS_SECONDS=${CHAOS_SECONDS:-${1:-600}}
export CHAOS_KILLS=${CHAOS_KILLS:-$((CHAOS_SECONDS / 4))}
export CHAOS_SEED=${CHAOS_SEED:-$(( (RANDOM << 15 | RANDOM) + 1 ))}
mkdir -p tests/results
export CHAOS_LOG="$repo/tests/results/chaos-$CHAOS_SEED.log"
: >"$CHAOS_LOG"
echo "chaos: seed $CHAOS_SEED, at least $CHAOS_SECONDS s and $CHAOS_KILLS daemon kills (replay: CHAOS_SEED=$CHAOS_SEED $0)"
dotnet build tests/ContainerOps.Chaos.Tests -c Release --nologo -v quiet >"tests/results/chaos-$CHAOS_SEED.build.log" 2>&1 \
  || { tail -20 "tests/results/chaos-$CHAOS_SEED.build.log"; exit 2; }
tail -n +1 -f "$CHAOS_LOG" &
tailer=$!
trap 'kill $tailer 2>/dev/null || true' EXIT
status=0
dotnet test tests/ContainerOps.Chaos.Tests -c Release --no-build --nologo --logger "console;verbosity=minimal" \
  >"tests/results/chaos-$CHAOS_SEED.test.log" 2>&1 || status=$?
sleep 0.5
if [ $status -ne 0 ]; then
  sed -n '/Error Message/,/Stack Trace/p' "tests/results/chaos-$CHAOS_SEED.test.log"
  echo "chaos: FAILED with seed $CHAOS_SEED"
else
  echo "chaos: passed with seed $CHAOS_SEED"
fi
exit $status
