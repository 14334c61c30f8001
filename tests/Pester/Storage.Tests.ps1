#requires -Version 7.0
# PersistentVolumeClaims through the cmdlets (New-, Get-, Remove-PersistentVolumeClaim) on a private daemon: a claim of
# the default class waits for its first pod; a claim for a hand-made volume binds at once. Needs root, a build
# (./build.sh build) and kubectl; skipped with the reason otherwise.

BeforeDiscovery {
    . "$PSScriptRoot/TestInstance.ps1"
    $script:skipReason = Get-TestSkipReason
    if (-not $skipReason -and -not (Get-Command kubectl -ErrorAction Ignore)) { $script:skipReason = 'kubectl is not installed' }
}

Describe 'PersistentVolumeClaims through the cmdlets' -Skip:([bool]$skipReason) {
    BeforeAll {
        . "$PSScriptRoot/TestInstance.ps1"
        $script:instance = New-TestInstance -Name storage
        $script:kubeconfig = Join-Path $instance.Temp 'kubeconfig'
        Get-ClusterKubeConfig -Path $kubeconfig
        $script:volumeDir = Join-Path $instance.Temp 'static-volume'
        $null = New-Item -ItemType Directory -Path $volumeDir
        function script:Wait-Until([scriptblock] $Condition, [string] $What, [int] $Seconds = 30) {
            $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
            while (-not (& $Condition)) {
                if ([DateTime]::UtcNow -gt $deadline) { throw "not within $Seconds s: $What" }
                Start-Sleep -Milliseconds 200
            }
        }
    }

    AfterAll {
        kubectl --kubeconfig $script:kubeconfig delete pvc,pv --all --timeout=30s 2>&1 | Out-Null
        Remove-TestInstance $instance
    }

    It 'makes a claim of the default class, not under -WhatIf, and shows it as kubectl does' {
        New-PersistentVolumeClaim data -Size 1Gi -WhatIf | Should -BeNullOrEmpty
        Get-PersistentVolumeClaim data -ErrorAction SilentlyContinue -ErrorVariable missing | Should -BeNullOrEmpty
        $missing[0].FullyQualifiedErrorId | Should -BeLike 'PersistentVolumeClaimNotFound*'

        $claim = New-PersistentVolumeClaim data -Size 1Gi -Label @{ app = 'db' }
        $claim.PSObject.TypeNames | Should -Contain 'ContainerOps.PowerShell.PersistentVolumeClaimInfo'
        $claim.StorageClass | Should -Be 'local-path'
        $claim.Status | Should -Be 'Pending'       # WaitForFirstConsumer: no volume before a pod uses it
        $claim.Request | Should -Be '1Gi'
        $claim.ShortAccessModes | Should -Be 'RWO'
        (Get-PersistentVolumeClaim -Selector app=db).Name | Should -Be 'data'
        (Get-PersistentVolumeClaim 'da*').Name | Should -Be 'data'
        $table = Get-PersistentVolumeClaim | Out-String -Width 200
        $table | Should -Match 'NAME\s+STATUS\s+VOLUME\s+CAPACITY\s+ACCESS MODES\s+STORAGECLASS\s+AGE'
        $table | Should -Match 'data\s+Pending\s+RWO\s+local-path'
    }

    It 'refuses a bad size or access mode, saying what is wrong, and makes nothing' {
        New-PersistentVolumeClaim bad -Size lots -ErrorAction SilentlyContinue -ErrorVariable failed | Should -BeNullOrEmpty
        $failed | Should -Not -BeNullOrEmpty
        "$($failed[0])" | Should -Match "PersistentVolumeClaim.*'lots'"
        New-PersistentVolumeClaim bad -Size 0 -ErrorAction SilentlyContinue -ErrorVariable zero | Should -BeNullOrEmpty
        "$($zero[0])" | Should -Match 'spec.resources.requests\[storage\].*greater than zero'
        { New-PersistentVolumeClaim bad -Size 1Gi -AccessMode Sometimes } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        Get-PersistentVolumeClaim bad -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'binds a claim without a class to a hand-made volume, and removes claims from the pipeline' {
        @"
apiVersion: v1
kind: PersistentVolume
metadata: {name: pester-static}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteMany]
  hostPath: {path: $volumeDir}
"@ | kubectl --kubeconfig $kubeconfig apply -f - | Out-Null
        $LASTEXITCODE | Should -Be 0
        $null = New-PersistentVolumeClaim shared -Size 1Gi -AccessMode ReadWriteMany -StorageClass ''
        Wait-Until { (Get-PersistentVolumeClaim shared).Status -eq 'Bound' } 'shared bound'
        $shared = Get-PersistentVolumeClaim shared
        $shared.Volume | Should -Be 'pester-static'
        $shared.Capacity | Should -Be '2Gi'
        $shared.StorageClass | Should -Be ''

        Get-PersistentVolumeClaim | Remove-PersistentVolumeClaim -WhatIf
        @(Get-PersistentVolumeClaim).Count | Should -Be 2
        Get-PersistentVolumeClaim | Remove-PersistentVolumeClaim -Force
        Wait-Until { -not (Get-PersistentVolumeClaim) } 'claims removed'
        # A hand-made volume keeps its data (Retain): Released, the directory still there.
        Wait-Until { (kubectl --kubeconfig $kubeconfig get pv pester-static -o jsonpath='{.status.phase}') -eq 'Released' } 'volume released'
        Test-Path $volumeDir | Should -BeTrue
    }
}
