#requires -Version 7.0
<#
.SYNOPSIS
    Builds ContainerOps, runs its tests or its demo. The same tasks as ./build.sh, which does the work.
.EXAMPLE
    ./build.ps1            # build into ./bin
    ./build.ps1 -Task test # install what is missing, build, run every suite, Pester included (root)
    ./build.ps1 -Task demo # install what is missing, build, run examples/demo.sh (root)
#>
[CmdletBinding()]
param(
    [ValidateSet('build', 'test', 'demo', 'deps', 'shim', 'clean')]
    [string] $Task = 'build'
)
& (Join-Path $PSScriptRoot 'build.sh') $Task
exit $LASTEXITCODE
