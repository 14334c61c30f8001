#requires -Version 7.0
# Runs every *.Tests.ps1 beside this file and under examples/ (runbooks carry their own tests) with Pester 5 and writes "passed failed skipped" to -ResultFile
# for tests/run-all.sh to add to its closing line.
param([Parameter(Mandatory)][string] $ResultFile)

$ErrorActionPreference = 'Stop'
Import-Module Pester -MinimumVersion 5.0
$config = New-PesterConfiguration
$config.Run.Path = @($PSScriptRoot, (Join-Path $PSScriptRoot '../../examples'))
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$result = Invoke-Pester -Configuration $config
"{0} {1} {2}" -f $result.PassedCount, ($result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount), ($result.SkippedCount + $result.NotRunCount) |
    Set-Content -Path $ResultFile
