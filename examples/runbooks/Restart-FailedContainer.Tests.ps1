#requires -Modules Pester
# Runs the runbook against a private daemon with real containers (root, ./build.sh build).
BeforeAll {
    $repo = Resolve-Path "$PSScriptRoot/../.."
    . "$repo/tests/Pester/TestInstance.ps1"
    $script:skip = Get-TestSkipReason
    if ($script:skip) { return }
    $script:instance = New-TestInstance -Name runbook
    $script:work = $instance.Temp
    & "$repo/examples/make-busybox-rootfs.sh" "$work/busybox.tar"
    Import-ContainerImage -Path "$work/busybox.tar" -Reference runbook/busybox:1 | Out-Null
    New-Container runbook/busybox:1 -Command sh, -c, 'exit 3' -Name rb-failed -Label 'restart-on-failure=true' -Start | Out-Null
    New-Container runbook/busybox:1 -Command true -Name rb-ok -Label 'restart-on-failure=true' -Start | Out-Null
    New-Container runbook/busybox:1 -Command sh, -c, 'exit 4' -Name rb-unlabelled -Start | Out-Null
    Get-Container -Name rb-* | Wait-Container | Out-Null
}

AfterAll {
    if ($script:skip) { return }
    Remove-TestInstance $instance
}

Describe 'Restart-FailedContainer runbook' {
    It 'changes nothing with -WhatIf' {
        if ($script:skip) { Set-ItResult -Skipped -Because $script:skip; return }
        & "$PSScriptRoot/Restart-FailedContainer.ps1" -WhatIf | Should -BeNullOrEmpty
        (Get-Container -Name rb-failed).RestartCount | Should -Be 0
    }

    It 'starts only the labelled container that failed' {
        if ($script:skip) { Set-ItResult -Skipped -Because $script:skip; return }
        $result = @(& "$PSScriptRoot/Restart-FailedContainer.ps1" -Confirm:$false)
        $result.Name | Should -Be @('rb-failed')
        $result[0].ExitCode | Should -Be 3
        Get-Container -Name rb-failed | Wait-Container | Out-Null
        (Get-Container -Name rb-unlabelled -Detailed).State.StartedAt | Should -BeLessThan (Get-Container -Name rb-failed -Detailed).State.StartedAt
    }
}
