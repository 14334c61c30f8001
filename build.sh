#!/usr/bin/env bash
# Builds everything into ./bin:
#   bin/containerops          the CLI (NativeAOT)
#   bin/containerops-shim     the C shim
#   bin/daemon/               the daemon (containerops-daemon)
#   bin/module/               the PowerShell module's assemblies (loaded by ./ContainerOps.psd1)
# Usage: ./build.sh [build|test|demo|clean]   (build.ps1 does the same from pwsh)
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
config=${CONFIGURATION:-Release}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

build_shim() {
  mkdir -p bin
  # Static: no loader work at start and a small resident set per container.
  cc -std=gnu11 -O2 -Wall -Wextra -Werror=implicit-function-declaration -static \
     -o bin/containerops-shim.tmp src/ContainerOps.Shim/*.c
  mv -f bin/containerops-shim.tmp bin/containerops-shim
}

build_dotnet() {
  dotnet publish src/ContainerOps.Daemon/ContainerOps.Daemon.csproj -c "$config" -o bin/daemon --nologo -v quiet
  dotnet publish src/ContainerOps.PowerShell/ContainerOps.PowerShell.csproj -c "$config" -o bin/module --nologo -v quiet
  dotnet publish src/ContainerOps.Cli/ContainerOps.Cli.csproj -c "$config" -o bin/cli --nologo -v quiet
  cp -f bin/cli/containerops bin/containerops
}

case "${1:-build}" in
  build) build_shim; build_dotnet ;;
  shim) build_shim ;;
  test) exec tests/run-all.sh ;;
  demo) exec examples/demo.sh ;;
  clean) rm -rf bin; find src tests -type d \( -name bin -o -name obj \) -prune -exec rm -rf {} + ;;
  *) echo "usage: $0 [build|shim|test|demo|clean]" >&2; exit 2 ;;
esac
