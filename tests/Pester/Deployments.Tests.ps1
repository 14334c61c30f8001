#requires -Version 7.0
# Deployments through the cmdlets (Set-, Get-, Wait-, Undo-, Suspend-, Resume-, Restart-Deployment and
# Get-DeploymentHistory), rolled out by a private daemon's controllers with real pods. Needs root, a build
# (./build.sh build) and busybox-static; skipped with the reason otherwise.

BeforeDiscovery {
    . "$PSScriptRoot/TestInstance.ps1"
    $script:skipReason = Get-TestSkipReason -Needs busybox-static
}

Describe 'Deployments through the cmdlets' -Skip:([bool]$skipReason) {
    BeforeAll {
        . "$PSScriptRoot/TestInstance.ps1"
        $script:savedSubnet = $env:CONTAINEROPS_POD_SUBNET
        $env:CONTAINEROPS_POD_SUBNET = "10.$(Get-Random -Minimum 200 -Maximum 250).$(Get-Random -Minimum 1 -Maximum 250).0/24"
        $script:instance = New-TestInstance -Name deploy
        & (Join-Path $instance.Repo 'examples/make-busybox-rootfs.sh') "$($instance.Temp)/busybox.tar"
        $null = Import-ContainerImage -Path "$($instance.Temp)/busybox.tar" -Reference 'pester-busybox:1' -Change 'CMD ["sleep", "3600"]' -ErrorAction Stop
        $null = Import-ContainerImage -Path "$($instance.Temp)/busybox.tar" -Reference 'pester-busybox:2' -Change 'CMD ["sleep", "3600"]' -ErrorAction Stop
    }

    AfterAll {
        # Deployments keep their pods coming: scaled to none first, then the pods go at once.
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

    It 'creates a deployment from parameters, waits for it and shows it as kubectl does' {
        $d = Set-Deployment -Name web -Image pester-busybox:1 -Replicas 2 -Env @{ MODE = 'one' }
        $d.PSObject.TypeNames | Should -Contain 'ContainerOps.PowerShell.DeploymentInfo'
        $done = Wait-Deployment web -TimeoutSec 120
        $done.Ready | Should -Be '2/2'
        $done.Available | Should -Be 2
        $table = Get-Deployment web | Out-String
        $table | Should -Match 'NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE'
        $table | Should -Match 'web\s+2/2\s+2\s+2'
        (Get-Pod -Selector app=web).Count | Should -Be 2
    }

    It 'scales with -Replicas alone and rolls out with -Image alone, and history shows both revisions' {
        (Set-Deployment web -Replicas 3).Replicas | Should -Be 3
        (Wait-Deployment web -TimeoutSec 120).Ready | Should -Be '3/3'
        (Get-DeploymentHistory web).Revision | Should -Be @(1)
        Set-Deployment web -Image pester-busybox:2 | Out-Null
        $rolled = Wait-Deployment web -TimeoutSec 120
        $rolled.Images | Should -Be @('pester-busybox:2')
        $rolled.Revision | Should -Be 2
        $history = Get-DeploymentHistory web
        $history.Revision | Should -Be @(1, 2)
        ($history | Out-String) | Should -Match 'REVISION\s+REPLICASET\s+CHANGE-CAUSE\s+IMAGES'
        $pods = Get-Pod -Selector app=web | Where-Object Status -ne 'Terminating'
        ($pods | ForEach-Object { ($_.Json | ConvertFrom-Json).spec.containers[0].image } | Sort-Object -Unique) | Should -Be 'pester-busybox:2'
    }

    It 'rolls back with Undo-Deployment, to the previous or a named revision' {
        Undo-Deployment web -Confirm:$false | Out-Null
        $back = Wait-Deployment web -TimeoutSec 120
        $back.Images | Should -Be @('pester-busybox:1')
        $back.Revision | Should -Be 3
        Undo-Deployment web -ToRevision 2 -Confirm:$false | Out-Null
        (Wait-Deployment web -TimeoutSec 120).Images | Should -Be @('pester-busybox:2')
        Undo-Deployment web -ToRevision 99 -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable err
        $err[0].FullyQualifiedErrorId | Should -BeLike 'DeploymentRevisionNotFound*'
        Undo-Deployment web -WhatIf
        (Get-Deployment web).Revision | Should -Be 4
    }

    It 'pauses, resumes and restarts through the pipeline' {
        Get-Deployment web | Suspend-Deployment | Select-Object -ExpandProperty Paused | Should -BeTrue
        Set-Deployment web -Env @{ MODE = 'two' } | Out-Null
        Start-Sleep -Seconds 1
        # Revisions 3 and 4 (the two templates rolled back to), and no new one while paused.
        (Get-DeploymentHistory web).Revision | Should -Be @(3, 4)
        Get-Deployment web | Resume-Deployment | Out-Null
        (Wait-Deployment web -TimeoutSec 120).Revision | Should -Be 5
        Restart-Deployment web -Confirm:$false | Out-Null
        (Wait-Deployment web -TimeoutSec 120).Revision | Should -Be 6
        $pods = Get-Pod -Selector app=web | Where-Object Status -ne 'Terminating'
        $pods | ForEach-Object { ($_.Json | ConvertFrom-Json).metadata.annotations.'kubectl.kubernetes.io/restartedAt' } | Should -Not -BeNullOrEmpty
    }

    It 'applies a YAML manifest, and refuses to create without an image' {
        $path = Join-Path $instance.Temp 'api.yaml'
        @'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels: {app: api}
spec:
  replicas: 1
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: api
        image: "pester-busybox:1"
'@ | Set-Content $path
        (Set-Deployment -Path $path).Name | Should -Be 'api'
        (Wait-Deployment api -TimeoutSec 120).Ready | Should -Be '1/1'
        # Applied again unchanged: no new revision.
        Get-Item $path | Select-Object FullName | Set-Deployment | Select-Object -ExpandProperty Revision | Should -Be 1
        Set-Deployment -Name nothing -Replicas 2 -ErrorAction SilentlyContinue -ErrorVariable err
        $err[0].FullyQualifiedErrorId | Should -BeLike 'DeploymentImageRequired*'
    }
}
