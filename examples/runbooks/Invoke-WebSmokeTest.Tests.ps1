#requires -Modules Pester
# Runs the runbook against a private daemon with real containers, a network and a volume (root, ./build.sh build).
BeforeAll {
    $repo = Resolve-Path "$PSScriptRoot/../.."
    . "$repo/tests/Pester/TestInstance.ps1"
    $script:skip = Get-TestSkipReason
    if ($script:skip) { return }
    $script:instance = New-TestInstance -Name webrunbook
    $script:work = $instance.Temp
    & "$repo/examples/make-busybox-rootfs.sh" "$work/busybox.tar"
    Import-ContainerImage -Path "$work/busybox.tar" -Reference runbook/busybox:1 | Out-Null
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    $script:port = $listener.LocalEndpoint.Port
    $listener.Stop()
    $script:prefix = 'smk' + [guid]::NewGuid().ToString('n').Substring(0, 5)
}

AfterAll {
    if ($script:skip) { return }
    Remove-TestInstance $instance
}

Describe 'Invoke-WebSmokeTest runbook' {
    It 'makes nothing with -WhatIf' {
        if ($script:skip) { Set-ItResult -Skipped -Because $script:skip; return }
        & "$PSScriptRoot/Invoke-WebSmokeTest.ps1" -Image runbook/busybox:1 -HostPort $port -Prefix $prefix -WhatIf | Should -BeNullOrEmpty
        Get-ContainerNetwork "$prefix-*" | Should -BeNullOrEmpty
        Get-ContainerVolume "$prefix-*" | Should -BeNullOrEmpty
    }

    It 'serves the volume''s page by name and through the published port, then leaves nothing behind' {
        if ($script:skip) { Set-ItResult -Skipped -Because $script:skip; return }
        $result = & "$PSScriptRoot/Invoke-WebSmokeTest.ps1" -Image runbook/busybox:1 -HostPort $port -Prefix $prefix -Content 'it works'
        $result.ByName | Should -Be 'it works'
        $result.ByPort | Should -Be 'it works'
        $result.Passed | Should -BeTrue
        Get-Container -All | Should -BeNullOrEmpty
        Get-ContainerVolume "$prefix-*" | Should -BeNullOrEmpty
        Get-ContainerNetwork "$prefix-*" | Should -BeNullOrEmpty
    }
}
