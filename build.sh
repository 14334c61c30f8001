#!/usr/bin/env bash
# Builds everything into ./bin:
#   bin/containerops          the CLI (NativeAOT)
#   bin/containerops-runtime  the built-in runtime alone, as an OCI runtime command line (NativeAOT)
#   bin/containerops-shim     the C shim
#   bin/daemon/containerops-daemon  the daemon (NativeAOT), with libe_sqlite3.so (the cluster store's SQLite)
#   bin/module/               the PowerShell module's assemblies (loaded by ./ContainerOps.psd1)
# Usage: ./build.sh [build|test|demo|deps|shim|clean]
#   demo: install what is missing, build, run examples/demo.sh (needs root)
#   test: install what is missing, build, run every test suite (needs root)   (build.ps1 does the same from pwsh);
#         tests/run-all.sh installs pwsh into .tools/pwsh and restores Pester for the Pester suite
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
config=${CONFIGURATION:-Release}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Debian packages the build, the demo and the tests need; installs only what is missing.
install_deps() {
  local want=(busybox-static runc file iproute2 nftables procps gcc libc6-dev musl-tools linux-libc-dev libseccomp2)
  # crun for the runtime tests, podman and containerd to run the runtime under, docker-registry for the image suites
  # (xunit and Pester) to push to and pull from.
  [ "${1:-}" = test ] && want+=(crun docker-registry podman containerd)
  local missing=()
  for p in "${want[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then echo "build.sh: missing packages (${missing[*]}); run as root or install them" >&2; return 1; fi
  echo "build.sh: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
}

build_shim() {
  mkdir -p bin
  # Static, against musl: no loader work at start, no glibc CPU-feature probing (each cpuid traps to the hypervisor
  # in a VM), and a small resident set per container. The kernel headers (linux/*.h) come after musl's own.
  local compiler=(musl-gcc -idirafter /usr/include -idirafter "/usr/include/$(gcc -dumpmachine)")
  if ! command -v musl-gcc >/dev/null; then
    echo "build.sh: musl-gcc not found (apt-get install musl-tools): linking the shim with glibc, larger and slower to start" >&2
    compiler=(cc)
  fi
  "${compiler[@]}" -std=gnu11 -O2 -Wall -Wextra -Werror=implicit-function-declaration -static \
     -o bin/containerops-shim.tmp src/ContainerOps.Shim/*.c
  mv -f bin/containerops-shim.tmp bin/containerops-shim
}

build_dotnet() {
  # The daemon, the CLI and the runtime binary are NativeAOT: each publish makes one native executable, copied into bin/
  # (cp -f replaces one that is running). A trim or AOT warning fails the publish (Directory.Build.props).
  dotnet publish src/ContainerOps.Daemon/ContainerOps.Daemon.csproj -c "$config" -r linux-x64 -o bin/daemon-publish --nologo -v quiet
  mkdir -p bin/daemon
  rm -f bin/daemon/*.dll bin/daemon/*.pdb bin/daemon/*.json   # what a daemon of an earlier, JIT-compiled build needed
  cp -f bin/daemon-publish/containerops-daemon bin/daemon/containerops-daemon
  # The cluster store's SQLite, loaded by the daemon at run time from beside its executable.
  cp -f bin/daemon-publish/libe_sqlite3.so bin/daemon/libe_sqlite3.so
  dotnet publish src/ContainerOps.PowerShell/ContainerOps.PowerShell.csproj -c "$config" -o bin/module --nologo -v quiet
  dotnet publish src/ContainerOps.Cli/ContainerOps.Cli.csproj -c "$config" -o bin/cli --nologo -v quiet
  cp -f bin/cli/containerops bin/containerops
  dotnet publish src/ContainerOps.RuntimeCli/ContainerOps.RuntimeCli.csproj -c "$config" -o bin/runtime-cli --nologo -v quiet
  cp -f bin/runtime-cli/containerops-runtime bin/containerops-runtime
}

case "${1:-build}" in
  deps) install_deps "${2:-}" ;;
  build) build_shim; build_dotnet ;;
  shim) build_shim ;;
  test) install_deps test; build_shim; build_dotnet; exec tests/run-all.sh ;;
  demo) install_deps; build_shim; build_dotnet; exec examples/demo.sh ;;
  clean) rm -rf bin; find src tests -type d \( -name bin -o -name obj \) -prune -exec rm -rf {} + ;;
  *) echo "usage: $0 [build|shim|test|demo|deps|clean]" >&2; exit 2 ;;
esac
