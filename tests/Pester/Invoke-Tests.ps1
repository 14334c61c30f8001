#requires -Version 7.0
# Runs every *.Tests.ps1 beside this file and under examples/ (runbooks carry their own tests) with Pester 5 and writes "passed failed skipped" to -ResultFile
# for tests/run-all.sh to add to its closing line.
# -PesterPath is the module manifest to load (tests/run-all.sh restores Pester from NuGet and passes its Pester.psd1);
# without it, a Pester 5 from PSModulePath is used.
param(
    [Parameter(Mandatory)][string] $ResultFile,
    [string] $PesterPath
)

$ErrorActionPreference = 'Stop'
if ($PesterPath) { Import-Module $PesterPath -Force } else { Import-Module Pester -MinimumVersion 5.0 -MaximumVersion 5.99 }
$pester = Get-Module Pester
if ($pester.Version.Major -ne 5) { throw "These tests are written for Pester 5; $($pester.Path) is $($pester.Version)." }
$config = New-PesterConfiguration
$config.Run.Path = @($PSScriptRoot, (Join-Path $PSScriptRoot '../../examples'))
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
# Plain text into a log or a CI job, colours on a terminal.
if ([Console]::IsOutputRedirected) { $config.Output.RenderMode = 'Plaintext' }
$result = Invoke-Pester -Configuration $config
"{0} {1} {2}" -f $result.PassedCount, ($result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount), ($result.SkippedCount + $result.NotRunCount) |
    Set-Content -Path $ResultFile
