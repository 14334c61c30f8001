#requires -Version 7.0
# Every runbook under examples/ (a .ps1 that is not itself a .Tests.ps1) has its Pester test beside it, Name.Tests.ps1
# next to Name.ps1, which Invoke-Tests.ps1 runs with this suite: the pattern holds for the runbooks to come.

BeforeDiscovery {
    $examples = (Resolve-Path "$PSScriptRoot/../../examples").Path
    $script:runbookCases = @(Get-ChildItem $examples -Recurse -File -Filter *.ps1 | Where-Object Name -notlike '*.Tests.ps1' |
        ForEach-Object { @{ Path = $_.FullName; Name = [IO.Path]::GetRelativePath((Split-Path $examples), $_.FullName) } })
}

Describe 'Runbooks in examples/' {
    It 'are there to be tested' -ForEach @{ Count = $runbookCases.Count } {
        $Count | Should -BeGreaterThan 0
    }

    It '<Name> has a Pester test beside it' -ForEach $runbookCases {
        $test = [IO.Path]::ChangeExtension($Path, '.Tests.ps1')
        Test-Path $test | Should -BeTrue -Because "a runbook carries its own test ($([IO.Path]::GetFileName($test)))"
    }
}
