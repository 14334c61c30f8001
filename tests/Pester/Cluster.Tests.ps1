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

Describe 'Cluster objects of any kind' -Skip:([bool]$skipReason) {
    BeforeAll {
        . "$PSScriptRoot/TestInstance.ps1"
        $script:instance = New-TestInstance -Name clres
        $script:ns = "pester-$(Get-Random -Minimum 1000 -Maximum 9999)"
        $script:manifest = Join-Path $instance.Temp 'app.yaml'
        Set-Content -Path $manifest -Value @"
apiVersion: v1
kind: Namespace
metadata: {name: $ns}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: $ns, labels: {app: shop}}
data: {mode: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: token, namespace: $ns}
stringData: {key: s3cret}
"@
    }

    AfterAll {
        Remove-TestInstance $instance
    }

    It 'applies every document of a file, the namespace first, and lists them by kind' {
        $applied = @(Set-ClusterResource -Path $manifest -ErrorAction Stop)
        $applied.Kind | Should -Be @('Namespace', 'ConfigMap', 'Secret')
        $map = Get-ClusterResource cm settings -Namespace $ns
        $map.Labels['app'] | Should -Be 'shop'
        ($map.Json | ConvertFrom-Json).data.mode | Should -Be 'fast'
        (Get-ClusterResource configmaps -Namespace $ns -Selector app=shop).Name | Should -Be 'settings'
        (Get-ClusterResource Namespace $ns).Namespace | Should -BeNullOrEmpty
        { Get-ClusterResource Gadget -ErrorAction Stop } | Should -Throw '*serves no kind named Gadget*'
    }

    It 'changes nothing under -WhatIf, and replaces what the file changes' {
        (Get-Content -Raw $manifest) -replace 'mode: fast', 'mode: safe' | Set-Content "$($instance.Temp)/changed.yaml"
        Set-ClusterResource -Path "$($instance.Temp)/changed.yaml" -WhatIf
        ((Get-ClusterResource cm settings -Namespace $ns).Json | ConvertFrom-Json).data.mode | Should -Be 'fast'
        $null = Set-ClusterResource -Path "$($instance.Temp)/changed.yaml" -ErrorAction Stop
        ((Get-ClusterResource cm settings -Namespace $ns).Json | ConvertFrom-Json).data.mode | Should -Be 'safe'
    }

    It 'applies nothing of a file the API refuses one document of' {
        $bad = Join-Path $instance.Temp 'bad.yaml'
        Set-Content -Path $bad -Value @"
apiVersion: v1
kind: ConfigMap
metadata: {name: good, namespace: $ns}
data: {a: '1'}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: Not_A_Name, namespace: $ns}
"@
        $errors = $null
        $null = Set-ClusterResource -Path $bad -ErrorVariable errors -ErrorAction SilentlyContinue
        ($errors | ForEach-Object { "$_" }) -join "`n" | Should -Match 'Not_A_Name'
        Get-ClusterResource cm good -Namespace $ns -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $null = Set-ClusterResource -Path $bad -ContinueOnError -ErrorAction SilentlyContinue
        (Get-ClusterResource cm good -Namespace $ns).Name | Should -Be 'good'
    }

    It 'applies server-side under its field manager, round-trips from the pipeline, and removes from the pipeline' {
        $result = Get-ClusterResource cm settings -Namespace $ns | Set-ClusterResource -ServerSide -FieldManager pester -ErrorAction Stop
        $managers = ($result.Json | ConvertFrom-Json).metadata.managedFields
        ($managers | Where-Object operation -eq Apply).manager | Should -Be 'pester'
        Get-ClusterResource cm -Namespace $ns | Remove-ClusterResource -Force
        Get-ClusterResource cm -Namespace $ns | Where-Object Name -in 'settings', 'good' | Should -BeNullOrEmpty
        Remove-ClusterResource Namespace $ns -WhatIf
        (Get-ClusterResource ns $ns).Name | Should -Be $ns
    }
}
