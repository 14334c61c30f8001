#requires -Modules Pester
# Runs the release runbook against a private daemon with real pods (root, ./build.sh build): a good image rolls out,
# a missing image and a failing check are rolled back. The deployment comes from examples/web/web.yaml.
BeforeAll {
    $repo = Resolve-Path "$PSScriptRoot/../.."
    . "$repo/tests/Pester/TestInstance.ps1"
    $script:skip = Get-TestSkipReason -Needs busybox-static
    if ($script:skip) { return }
    $script:savedSubnet = $env:CONTAINEROPS_POD_SUBNET
    $env:CONTAINEROPS_POD_SUBNET = "10.$(Get-Random -Minimum 200 -Maximum 250).$(Get-Random -Minimum 1 -Maximum 250).0/24"
    $script:instance = New-TestInstance -Name release
    & "$repo/examples/make-busybox-rootfs.sh" "$($instance.Temp)/busybox.tar"
    foreach ($tag in 'busybox:1.36', 'busybox:1.37') { Import-ContainerImage -Path "$($instance.Temp)/busybox.tar" -Reference $tag -ErrorAction Stop | Out-Null }
    Set-Deployment -Path "$repo/examples/web/web.yaml" -ErrorAction Stop | Out-Null
    Wait-Deployment web -TimeoutSec 120 -ErrorAction Stop | Out-Null
}

AfterAll {
    if ($script:skip) { return }
    Get-Deployment -AllNamespaces -ErrorAction SilentlyContinue | Set-Deployment -Replicas 0 -ErrorAction SilentlyContinue | Out-Null
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    while ((Get-Pod -AllNamespaces -ErrorAction SilentlyContinue) -and [DateTime]::UtcNow -lt $deadline) {
        Get-Pod -AllNamespaces -ErrorAction SilentlyContinue | Remove-Pod -GracePeriod 0 -Force -ErrorAction SilentlyContinue
        Start-Sleep -Milliseconds 300
    }
    $deadline = [DateTime]::UtcNow.AddSeconds(20)
    while ((Get-ChildItem "$($instance.Temp)/run/pods" -Directory -ErrorAction Ignore) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
    Remove-TestInstance $instance
    $env:CONTAINEROPS_POD_SUBNET = $savedSubnet
}

Describe 'Update-DeploymentSafely runbook' {
    It 'changes nothing with -WhatIf' {
        if ($script:skip) { Set-ItResult -Skipped -Because $script:skip; return }
        & "$PSScriptRoot/Update-DeploymentSafely.ps1" -Name web -Image busybox:1.37 -WhatIf | Should -BeNullOrEmpty
        (Get-Deployment web).Images | Should -Be @('busybox:1.36')
    }

    It 'rolls a good image out and reports the new revision' {
        if ($script:skip) { Set-ItResult -Skipped -Because $script:skip; return }
        $r = & "$PSScriptRoot/Update-DeploymentSafely.ps1" -Name web -Image busybox:1.37 -TimeoutSec 120
        $r.RolledOut | Should -BeTrue
        $r.RolledBack | Should -BeFalse
        $r.Revision | Should -Be 2
        (Get-Deployment web).Images | Should -Be @('busybox:1.37')
    }

    It 'rolls back an image that never becomes available' {
        if ($script:skip) { Set-ItResult -Skipped -Because $script:skip; return }
        $r = & "$PSScriptRoot/Update-DeploymentSafely.ps1" -Name web -Image release-tests/missing:1 -TimeoutSec 15 -WarningAction SilentlyContinue
        $r.RolledOut | Should -BeFalse
        $r.RolledBack | Should -BeTrue
        $r.Reason | Should -Match '^rollout: '
        $d = Get-Deployment web
        $d.Images | Should -Be @('busybox:1.37')
        $d.Ready | Should -Be '3/3'
    }

    It 'rolls back when the health check fails' {
        if ($script:skip) { Set-ItResult -Skipped -Because $script:skip; return }
        $r = & "$PSScriptRoot/Update-DeploymentSafely.ps1" -Name web -Image busybox:1.36 -TimeoutSec 120 -Check { param($d) $d.Images -notcontains 'busybox:1.36' } -WarningAction SilentlyContinue
        $r.RolledBack | Should -BeTrue
        $r.Reason | Should -Be 'check: the health check did not pass'
        (Get-Deployment web).Images | Should -Be @('busybox:1.37')
    }
}
