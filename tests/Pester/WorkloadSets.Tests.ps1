#requires -Version 7.0
# StatefulSets and DaemonSets through the cmdlets (Get-StatefulSet, Set-StatefulSet, Get-DaemonSet): the sets are
# applied with kubectl and run by a private daemon's controllers with real pods. Needs root, a build
# (./build.sh build), busybox-static and kubectl; skipped with the reason otherwise.

BeforeDiscovery {
    . "$PSScriptRoot/TestInstance.ps1"
    $script:skipReason = Get-TestSkipReason -Needs busybox-static
    if (-not $skipReason -and -not (Get-Command kubectl -ErrorAction Ignore)) { $script:skipReason = 'kubectl is not installed' }
}

Describe 'StatefulSets and DaemonSets through the cmdlets' -Skip:([bool]$skipReason) {
    BeforeAll {
        . "$PSScriptRoot/TestInstance.ps1"
        $script:savedSubnet = $env:CONTAINEROPS_POD_SUBNET
        $env:CONTAINEROPS_POD_SUBNET = "10.$(Get-Random -Minimum 200 -Maximum 250).$(Get-Random -Minimum 1 -Maximum 250).0/24"
        $script:instance = New-TestInstance -Name sets
        & (Join-Path $instance.Repo 'examples/make-busybox-rootfs.sh') "$($instance.Temp)/busybox.tar"
        $null = Import-ContainerImage -Path "$($instance.Temp)/busybox.tar" -Reference 'pester-busybox:1' -Change 'CMD ["sleep", "3600"]' -ErrorAction Stop
        $script:kubeconfig = Join-Path $instance.Temp 'kubeconfig'
        Get-ClusterKubeConfig -Path $kubeconfig
        $manifest = @'
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: "pester-busybox:1"}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: "pester-busybox:1"}]
'@
        $manifest | kubectl --kubeconfig $kubeconfig apply -f - | Out-Null
        $LASTEXITCODE | Should -Be 0
        function script:Wait-Until([scriptblock] $Condition, [string] $What, [int] $Seconds = 90) {
            $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
            while (-not (& $Condition)) {
                if ([DateTime]::UtcNow -gt $deadline) { throw "not within $Seconds s: $What" }
                Start-Sleep -Milliseconds 300
            }
        }
    }

    AfterAll {
        # The sets first, so that nothing makes pods again (their pods go with them), then any pod left.
        kubectl --kubeconfig $script:kubeconfig delete statefulset,daemonset --all --timeout=60s 2>&1 | Out-Null
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (((Get-StatefulSet -ErrorAction SilentlyContinue) -or (Get-DaemonSet -ErrorAction SilentlyContinue)) -and [DateTime]::UtcNow -lt $deadline) {
            Start-Sleep -Milliseconds 300
        }
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

    It 'shows a StatefulSet as kubectl does once its pods are ready' {
        Wait-Until { (Get-StatefulSet db).Ready -eq '2/2' } 'db ready'
        $set = Get-StatefulSet db
        $set.PSObject.TypeNames | Should -Contain 'ContainerOps.PowerShell.StatefulSetInfo'
        $set.ServiceName | Should -Be 'db'
        $set.PodManagementPolicy | Should -Be 'OrderedReady'
        $set.CurrentRevision | Should -BeLike 'db-*'
        (Get-Pod -Selector app=db).Name | Sort-Object | Should -Be @('db-0', 'db-1')
        $table = Get-StatefulSet | Out-String
        $table | Should -Match 'NAME\s+READY\s+UPDATED\s+SERVICE\s+AGE'
        $table | Should -Match 'db\s+2/2\s+2\s+db'
        Get-StatefulSet 'no-such-set' -ErrorAction SilentlyContinue -ErrorVariable missing | Should -BeNullOrEmpty
        $missing | Should -Not -BeNullOrEmpty
    }

    It 'scales a StatefulSet from the top down, from parameters or the pipeline, and not under -WhatIf' {
        Set-StatefulSet db -Replicas 1 -WhatIf | Should -BeNullOrEmpty
        (Get-StatefulSet db).Replicas | Should -Be 2
        (Set-StatefulSet db -Replicas 1).Replicas | Should -Be 1
        Wait-Until { @(Get-Pod -Selector app=db).Count -eq 1 } 'db scaled to 1'
        (Get-Pod -Selector app=db).Name | Should -Be 'db-0'
        (Get-StatefulSet db | Set-StatefulSet -Replicas 3).Replicas | Should -Be 3
        Wait-Until { (Get-StatefulSet db).Ready -eq '3/3' } 'db ready at 3'
        (Get-Pod -Selector app=db).Name | Sort-Object | Should -Be @('db-0', 'db-1', 'db-2')
    }

    It 'shows a DaemonSet with one pod on the node' {
        Wait-Until { (Get-DaemonSet agent).Ready -eq 1 } 'agent ready'
        $ds = Get-DaemonSet agent
        $ds.PSObject.TypeNames | Should -Contain 'ContainerOps.PowerShell.DaemonSetInfo'
        $ds.Desired | Should -Be 1
        $ds.UpToDate | Should -Be 1
        $ds.NodeSelector | Should -Be ''
        @(Get-Pod -Selector app=agent).Count | Should -Be 1
        Get-DaemonSet | Out-String | Should -Match 'agent\s+1\s+1\s+1\s+1\s+1\s+<none>'
    }

    It 'restarts the sets and waits for their rollouts' {
        Wait-Until { (Get-StatefulSet db).Ready -eq '3/3' } 'db ready at 3'
        $before = (Get-Pod -Selector app=db).Uid
        Restart-StatefulSet db -WhatIf | Should -BeNullOrEmpty
        (Get-StatefulSet db).UpdateRevision | Should -Be (Get-StatefulSet db).CurrentRevision
        $restarted = Restart-StatefulSet db
        $restarted.PSObject.TypeNames | Should -Contain 'ContainerOps.PowerShell.StatefulSetInfo'
        $done = $restarted | Wait-StatefulSet -TimeoutSec 120
        $done.Ready | Should -Be '3/3'
        $done.UpdateRevision | Should -Be $done.CurrentRevision
        @((Get-Pod -Selector app=db).Uid | Where-Object { $_ -in $before }).Count | Should -Be 0

        $agent = (Get-Pod -Selector app=agent).Uid
        (Get-DaemonSet agent | Restart-DaemonSet | Wait-DaemonSet -TimeoutSec 120).UpToDate | Should -Be 1
        (Get-Pod -Selector app=agent).Uid | Should -Not -Be $agent
        Wait-StatefulSet 'no-such-set' -TimeoutSec 5 -ErrorAction SilentlyContinue -ErrorVariable missing | Should -BeNullOrEmpty
        $missing | Should -Not -BeNullOrEmpty
    }

    It 'lists the sets'' revisions and rolls them back' {
        Wait-Until { (Get-StatefulSet db).Ready -eq '3/3' -and (Get-StatefulSet db).UpdateRevision -eq (Get-StatefulSet db).CurrentRevision } 'db rolled out'
        $history = @(Get-StatefulSetHistory db)
        $history.Count | Should -BeGreaterThan 1 -Because 'the restart made a second revision'
        $history[-1].Current | Should -BeTrue
        $newest = $history[-1].Revision
        $restarted = (Get-StatefulSet db).Json | ConvertFrom-Json
        $restarted.spec.template.metadata.annotations.'kubectl.kubernetes.io/restartedAt' | Should -Not -BeNullOrEmpty

        $back = Undo-StatefulSet db | Wait-StatefulSet -TimeoutSec 120
        $back.Ready | Should -Be '3/3'
        ($back.Json | ConvertFrom-Json).spec.template.metadata.annotations.'kubectl.kubernetes.io/restartedAt' | Should -BeNullOrEmpty
        # Going back renumbers the old revision as the newest, as the controller history does.
        (Get-StatefulSetHistory db)[-1].Revision | Should -BeGreaterThan $newest
        kubectl --kubeconfig $kubeconfig rollout history statefulset/db | Out-String | Should -Match "(?m)^$($newest + 1)\s"

        (Get-DaemonSet agent | Get-DaemonSetHistory).Count | Should -BeGreaterThan 1
        (Get-DaemonSet agent | Undo-DaemonSet | Wait-DaemonSet -TimeoutSec 120).UpToDate | Should -Be 1
        Undo-DaemonSet agent -ToRevision 99 -ErrorAction SilentlyContinue -ErrorVariable nothing | Should -BeNullOrEmpty
        $nothing[0].FullyQualifiedErrorId | Should -BeLike 'WorkloadSetRevisionNotFound*'
    }

    It 'cordons, drains within the disruption budget and uncordons the node' {
        Wait-Until { (Get-StatefulSet db).Ready -eq '3/3' } 'db ready at 3'
        @'
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: db}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: db}}
'@ | kubectl --kubeconfig $kubeconfig apply -f - | Out-Null
        Wait-Until { (kubectl --kubeconfig $kubeconfig get pdb db -o 'jsonpath={.status.disruptionsAllowed}') -eq '1' } 'the budget allows one disruption'
        $node = Get-ClusterNode
        @($node).Count | Should -Be 1
        $node.PSObject.TypeNames | Should -Contain 'ContainerOps.PowerShell.ClusterNodeInfo'
        $node.Status | Should -Be 'Ready'
        Get-ClusterNode | Out-String | Should -Match 'NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION'

        Disable-ClusterNode $node.Name -WhatIf | Should -BeNullOrEmpty
        (Get-ClusterNode).Unschedulable | Should -BeFalse
        (Disable-ClusterNode $node.Name).Status | Should -Be 'Ready,SchedulingDisabled'
        ($node | Enable-ClusterNode).Unschedulable | Should -BeFalse

        # The DaemonSet's pod stops a drain that was not told to leave it; the node stays cordoned.
        Clear-ClusterNode $node.Name -TimeoutSec 10 -ErrorAction SilentlyContinue -ErrorVariable refused | Should -BeNullOrEmpty
        $refused[0].FullyQualifiedErrorId | Should -BeLike 'NodeDrainRefused*'
        "$($refused[0])" | Should -Match 'DaemonSet'
        (Get-ClusterNode).Unschedulable | Should -BeTrue

        # The budget lets one db pod go; the rest wait until the drain gives up.
        $before = (Get-Pod -Selector app=db).Uid
        Clear-ClusterNode $node.Name -IgnoreDaemonSet -TimeoutSec 12 -ErrorAction SilentlyContinue -ErrorVariable held | Should -BeNullOrEmpty
        $held[0].FullyQualifiedErrorId | Should -BeLike 'NodeDrainTimeout*'
        "$($held[0])" | Should -Match 'disruption budgets'
        @((Get-Pod -Selector app=db).Uid | Where-Object { $_ -notin $before }).Count | Should -Be 1
        @(Get-Pod -Selector app=agent).Count | Should -Be 1

        Enable-ClusterNode $node.Name | Out-Null
        Wait-Until { (Get-StatefulSet db).Ready -eq '3/3' } 'db ready again once uncordoned'
        kubectl --kubeconfig $kubeconfig delete pdb db | Out-Null
    }
}
