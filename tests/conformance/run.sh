#!/usr/bin/env bash
# Runs the OCI runtime-tools validation suite against a runtime and counts its inner results honestly.
#
#   tests/conformance/run.sh SUITE RUNTIME [FILTER]
#
#   SUITE    a checkout of github.com/opencontainers/runtime-tools where `make runtimetest validation-executables`
#            has been run (it is not part of this repository and nothing here builds it; with Debian's Go 1.19 a
#            commit from before its switch to github.com/moby/sys/capability builds: go 1.21 is needed after it)
#   RUNTIME  the runtime's path, e.g. bin/containerops-runtime, /usr/sbin/runc or /usr/bin/crun
#   FILTER   an extended regular expression: only the test files whose names match (e.g. 'hooks|prestart')
#
# Each validation/*/*.t file runs from SUITE (it reads rootfs-amd64.tar.gz and runtimetest there) with RUNTIME set,
# under a 120 s timeout; its TAP output goes to tests/results/conformance/NAME.tap. Every `ok`, `not ok` and
# `# SKIP` line is counted; a file that ends without the number of results its plan announced, or with none, counts
# one failure more — nothing passes because it printed nothing — except the lifecycle files that report only by an
# empty plan and, when their check fails, an "error" diagnostic, and the *_fail files that report a refusal only by
# printing it and exiting 0: one result each, passed or failed by that. The last
# lines are the totals and the failing files with their failures.
set -uo pipefail
[ $# -ge 2 ] || { sed -n '2,17p' "$0"; exit 2; }
suite=$(cd "$1" && pwd) || exit 2
runtime=$(readlink -f "$2")
filter=${3:-}
[ -x "$runtime" ] || { echo "run.sh: $2 is not an executable runtime" >&2; exit 2; }
[ -x "$suite/runtimetest" ] || { echo "run.sh: $suite/runtimetest is missing: run 'make runtimetest validation-executables' there" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
out="$repo/tests/results/conformance"
rm -rf "$out"; mkdir -p "$out"

passed=0 failed=0 skipped=0 files=0
failing=()
cd "$suite"
for t in validation/*/*.t; do
  name=$(basename "$t" .t)
  [ -n "$filter" ] && ! [[ $name =~ $filter ]] && continue
  files=$((files + 1))
  RUNTIME=$runtime timeout --kill-after=10 120 "./$t" > "$out/$name.tap" 2>&1
  code=$?
  # Results: "ok N …", "not ok N …"; a skip is an ok with "# SKIP" (TAP's rule), counted as skipped only.
  ok=$(grep -cE '^ok [0-9]+' "$out/$name.tap")
  skip=$(grep -cE '^ok [0-9]+.*# *[Ss][Kk][Ii][Pp]' "$out/$name.tap")
  notok=$(grep -cE '^not ok [0-9]+' "$out/$name.tap")
  plan=$(grep -oE '^1\.\.[0-9]+' "$out/$name.tap" | head -1 | cut -d. -f3)
  results=$((ok + notok))
  extra=0
  if [ "$results" -eq 0 ] && [ -z "$plan" ] && [[ $name == *_fail ]] && [ "$code" -eq 0 ] \
     && grep -q '^failed to create the container' "$out/$name.tap"; then
    # The files that give the runtime a value it must refuse (process_capabilities_fail, process_rlimits_fail) print
    # no TAP: the refusal and exit 0 when the runtime refused, a fatal error and exit 1 when it ran the container.
    ok=1
  elif [ "$results" -eq 0 ] && [ "$plan" = 0 ] && [ "$code" -eq 0 ]; then
    # The lifecycle files (hooks, prestart, poststop…) print no result line: an empty plan, and a YAML diagnostic
    # with an "error" when their one check fails. That is their result, read as one.
    if grep -q '"error"' "$out/$name.tap"; then notok=1; else ok=1; fi
  elif [ "$results" -eq 0 ] || { [ -n "$plan" ] && [ "$results" -ne "$plan" ]; } || [ "$code" -ge 124 ]; then
    extra=1
  fi
  passed=$((passed + ok - skip)); skipped=$((skipped + skip)); failed=$((failed + notok + extra))
  if [ $((notok + extra)) -gt 0 ]; then failing+=("$name: $notok failed$([ $extra -eq 1 ] && echo ", incomplete (exit $code, ${results}/${plan:-?} results)")"); fi
done
echo "runtime: $runtime"
echo "files: $files"
for f in "${failing[@]}"; do echo "  $f"; done
echo "$passed passed, $failed failed, $skipped skipped"
