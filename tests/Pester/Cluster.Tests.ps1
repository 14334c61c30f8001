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

    It 'makes config maps and secrets from hashtables and files, and lists events about an object' {
        $file = Join-Path $instance.Temp 'app.conf'
        Set-Content -Path $file -Value 'listen 80' -NoNewline
        $map = New-ClusterConfigMap conf -Namespace $ns -Data @{ level = 3 } -Path $file -Label @{ app = 'shop' }
        $data = ($map.Json | ConvertFrom-Json).data
        $data.level | Should -Be '3'
        $data.'app.conf' | Should -Be 'listen 80'
        { New-ClusterConfigMap conf -Namespace $ns -Data @{ level = 4 } -ErrorAction Stop } | Should -Throw '*already exists*'
        $null = New-ClusterConfigMap conf -Namespace $ns -Data @{ level = 4 } -Force
        ((Get-ClusterResource cm conf -Namespace $ns).Json | ConvertFrom-Json).data.level | Should -Be '4'

        $secret = New-ClusterSecret db -Namespace $ns -Data @{ password = (ConvertTo-SecureString 'p@ss' -AsPlainText -Force) }
        $secret.Kind | Should -Be 'Secret'
        $stored = (Get-ClusterResource secret db -Namespace $ns).Json | ConvertFrom-Json
        [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($stored.data.password)) | Should -Be 'p@ss'
        $stored.type | Should -Be 'Opaque'

        $eventFile = Join-Path $instance.Temp 'event.yaml'
        Set-Content -Path $eventFile -Value @"
apiVersion: v1
kind: Event
metadata: {name: conf.1, namespace: $ns}
involvedObject: {kind: ConfigMap, name: conf, namespace: $ns}
reason: Reloaded
message: the web servers read conf again
type: Warning
count: 2
lastTimestamp: '2026-01-02T03:04:05Z'
"@
        $null = Set-ClusterResource -Path $eventFile -ErrorAction Stop
        $seen = @(Get-ClusterEvent -Namespace $ns -Object configmap/conf)
        $seen.Count | Should -Be 1
        $seen[0].Reason | Should -Be 'Reloaded'
        $seen[0].Count | Should -Be 2
        $seen[0].LastSeen | Should -Be ([DateTime]::new(2026, 1, 2, 3, 4, 5, [DateTimeKind]::Utc))
        @(Get-ClusterEvent -Namespace $ns -Type Normal -Object conf).Count | Should -Be 0
        @(Get-ClusterEvent -Namespace $ns -Since '2026-06-01').Count | Should -Be 0
    }

    It 'writes objects as YAML manifests and reads manifests back as objects' {
        $yaml = Get-ClusterResource cm settings -Namespace $ns | ConvertTo-ClusterYaml -AsConfiguration
        $yaml | Should -Match '(?m)^kind: ConfigMap$'
        $yaml | Should -Match '(?m)^  mode: safe$'
        $yaml | Should -Not -Match 'resourceVersion|uid:'
        $both = @(Get-ClusterResource cm -Namespace $ns | Where-Object Name -in 'conf', 'settings' | ConvertTo-ClusterYaml)
        $both[1] | Should -Match '^---'
        $objects = @($both -join '' | ConvertFrom-ClusterYaml)
        $objects.Name | Should -Be @('conf', 'settings')
        { 'a: [' | ConvertFrom-ClusterYaml -ErrorAction Stop } | Should -Throw '*input:*:*did not find expected*'
    }

    It 'makes, lists and removes namespaces' {
        $made = New-ClusterNamespace "$ns-b" -Label @{ team = 'b' }
        $made.Status | Should -Be 'Active'
        (Get-ClusterNamespace "$ns-*").Name | Should -Be "$ns-b"
        (Get-ClusterNamespace -Selector team=b).Name | Should -Be "$ns-b"
        (Get-ClusterNamespace default).Name | Should -Be 'default'
        Remove-ClusterNamespace "$ns-b" -WhatIf
        (Get-ClusterNamespace "$ns-b").Name | Should -Be "$ns-b"
        Remove-ClusterNamespace "$ns-b" -Force
        Get-ClusterNamespace "$ns-b" -ErrorAction SilentlyContinue | Where-Object Status -ne Terminating | Should -BeNullOrEmpty
    }

    It 'applies server-side under its field manager, round-trips from the pipeline, and removes from the pipeline' {
        $result = Get-ClusterResource cm settings -Namespace $ns | Set-ClusterResource -ServerSide -FieldManager pester -ErrorAction Stop
        $managers = ($result.Json | ConvertFrom-Json).metadata.managedFields
        ($managers | Where-Object operation -eq Apply).manager | Should -Be 'pester'
        Get-ClusterResource cm -Namespace $ns | Remove-ClusterResource -Force
        Get-ClusterResource cm -Namespace $ns | Where-Object Name -in 'settings', 'good', 'conf' | Should -BeNullOrEmpty
        Remove-ClusterResource Namespace $ns -WhatIf
        (Get-ClusterResource ns $ns).Name | Should -Be $ns
    }
}
