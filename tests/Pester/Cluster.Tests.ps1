#requires -Version 7.0
# The cluster API's kubeconfig through the cmdlets, against a private daemon (its own roots, a free TLS port).
# Needs root and a build (./build.sh build); skipped with the reason otherwise.

BeforeDiscovery {
    . "$PSScriptRoot/TestInstance.ps1"
    $script:skipReason = Get-TestSkipReason
}

Describe 'Get-ClusterKubeConfig' -Skip:([bool]$skipReason) {
    BeforeAll {
        . "$PSScriptRoot/TestInstance.ps1"
        $script:instance = New-TestInstance -Name cluster
    }

    AfterAll {
        Remove-TestInstance $instance
    }

    It 'writes a kubeconfig for the daemon''s TLS port to the pipeline' {
        $config = Get-ClusterKubeConfig
        $config | Should -BeOfType [string]
        $config | Should -Match '(?m)^kind: Config$'
        $config | Should -Match 'server: https://127\.0\.0\.1:\d+'
        $config | Should -Match 'certificate-authority-data: \S+'
        $config | Should -Match 'client-key-data: \S+'
    }

    It 'writes it to a file readable by its owner only, and nothing under -WhatIf' {
        $path = Join-Path $instance.Temp 'kubeconfig'
        Get-ClusterKubeConfig -Path $path -WhatIf
        Test-Path $path | Should -BeFalse
        Get-ClusterKubeConfig -Path $path | Should -BeNullOrEmpty
        Get-Content -Raw $path | Should -Match '(?m)^current-context: containerops$'
        [int](Get-Item $path).UnixFileMode | Should -Be 384   # 0600
    }
}
