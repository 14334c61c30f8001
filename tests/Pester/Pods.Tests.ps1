#requires -Version 7.0
# Pods through the cmdlets (Start-Pod, Get-Pod, Wait-Pod, Restart-Pod, Remove-Pod, Get-PodLog, Invoke-PodCommand), run by a private daemon's node agent on a pod
# subnet of its own. Needs root, a build (./build.sh build) and busybox-static; skipped with the reason otherwise.

BeforeDiscovery {
    . "$PSScriptRoot/TestInstance.ps1"
    $script:skipReason = Get-TestSkipReason -Needs busybox-static
}

Describe 'Pods through the cmdlets' -Skip:([bool]$skipReason) {
    BeforeAll {
        . "$PSScriptRoot/TestInstance.ps1"
        $script:savedSubnet = $env:CONTAINEROPS_POD_SUBNET
        $script:subnetPrefix = "10.$(Get-Random -Minimum 200 -Maximum 250).$(Get-Random -Minimum 1 -Maximum 250)."
        $env:CONTAINEROPS_POD_SUBNET = "${subnetPrefix}0/24"
        $script:instance = New-TestInstance -Name pods
        & (Join-Path $instance.Repo 'examples/make-busybox-rootfs.sh') "$($instance.Temp)/busybox.tar"
        $null = Import-ContainerImage -Path "$($instance.Temp)/busybox.tar" -Reference 'pester-busybox:1' -Change 'CMD ["sh"]' -ErrorAction Stop
    }

    AfterAll {
        # Pods first: their sandboxes hold mounts and a veth until the node agent removes them.
        Get-Pod -AllNamespaces -ErrorAction SilentlyContinue | Remove-Pod -GracePeriod 0 -Force -ErrorAction SilentlyContinue
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        while ((Get-ChildItem "$($instance.Temp)/run/pods" -Directory -ErrorAction Ignore) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        Remove-TestInstance $instance
        $env:CONTAINEROPS_POD_SUBNET = $savedSubnet
    }

    It 'starts a pod from parameters, waits until it is Ready and shows it as kubectl does' {
        $pod = Start-Pod -Name web -Image pester-busybox:1 -Command sh, -c, 'echo $GREETING; exec sleep 3600' -Env @{ GREETING = 'hi' } -Label @{ app = 'web' } -Port 8080 -Wait -TimeoutSec 60
        $pod.PSObject.TypeNames | Should -Contain 'ContainerOps.PowerShell.PodInfo'
        $pod.Ready | Should -Be '1/1'
        $pod.Status | Should -Be 'Running'
        $pod.IP | Should -BeLike "$subnetPrefix*"
        $pod.Node | Should -Not -BeNullOrEmpty
        $table = Get-Pod web | Out-String
        $table | Should -Match 'NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE'
        $table | Should -Match 'web\s+1/1\s+Running\s+0'
    }

    It 'selects pods by label, field and wildcard' {
        Start-Pod -Name web-two -Image pester-busybox:1 -Command sleep, 3600 -Label @{ app = 'web'; tier = 'b' } | Out-Null
        Wait-Pod web-two -Condition Ready -TimeoutSec 60 | Select-Object -ExpandProperty Name | Should -Be 'web-two'
        (Get-Pod -Selector 'app=web').Name | Should -Be @('web', 'web-two')
        (Get-Pod -Selector 'tier=b').Name | Should -Be 'web-two'
        (Get-Pod 'web-*').Name | Should -Be 'web-two'
        (Get-Pod -FieldSelector 'status.phase=Running' -AllNamespaces).Name | Should -Contain 'web'
        Get-Pod nothing-here -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'PodNotFound*'
    }

    It 'reads pod logs and runs commands in pods from the pipeline' {
        Get-Pod web | Get-PodLog | Should -Be 'hi'
        Get-PodLog web -Tail 0 | Should -BeNullOrEmpty
        (Get-PodLog web -Timestamps) | Should -Match '^\d{4}-\d\d-\d\dT\S+Z hi$'
        Get-Pod web | Invoke-PodCommand -Command hostname | Should -Be 'web'
        'b', 'a' | Set-Variable lines
        Invoke-PodCommand web sort -InputObject $lines | Should -Be @('a', 'b')
        $result = Invoke-PodCommand web -Command sh, -c, 'echo oops >&2; exit 4' -PassThru -ErrorAction SilentlyContinue -ErrorVariable err
        $result.ExitCode | Should -Be 4
        $LASTEXITCODE | Should -Be 4
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ContainerStandardError*'
        Invoke-PodCommand web -Container nope -Command true -ErrorAction SilentlyContinue -ErrorVariable missing
        $missing[0].FullyQualifiedErrorId | Should -BeLike 'PodContainerNotFound*'
        Get-PodLog web -Container nope -ErrorAction SilentlyContinue -ErrorVariable badLog
        $badLog[0].Exception.Message | Should -Match 'container nope is not valid for pod web'
    }

    It 'restarts a bare pod as a new pod of the same spec, and nothing under -WhatIf' {
        $before = Get-Pod web
        Restart-Pod web -WhatIf
        (Get-Pod web).Uid | Should -Be $before.Uid
        $after = Restart-Pod web -Force -GracePeriod 0 -PassThru
        $after.Uid | Should -Not -Be $before.Uid
        $after.Labels['app'] | Should -Be 'web'
        (Wait-Pod web -Condition Ready -TimeoutSec 60).Uid | Should -Be $after.Uid
        # Ready means started; the echo may reach the log a moment later.
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ((Get-PodLog web) -ne 'hi' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
        Get-PodLog web | Should -Be 'hi'
    }

    It 'removes pods from the pipeline, and nothing under -WhatIf' {
        Get-Pod web-two | Remove-Pod -WhatIf
        (Get-Pod web-two).Name | Should -Be 'web-two'
        Get-Pod -Selector 'app=web' | Remove-Pod -GracePeriod 1 -Force
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ((Get-Pod -Selector 'app=web') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
        Get-Pod -Selector 'app=web' | Should -BeNullOrEmpty
        @(Get-Container -All | Where-Object { $_.Labels['io.kubernetes.pod.name'] -like 'web*' }) | Should -BeNullOrEmpty
    }

    It 'starts a pod from a JSON manifest and reports one that fails while it is waited for' {
        $manifest = @{
            apiVersion = 'v1'; kind = 'Pod'; metadata = @{ name = 'broken' }
            spec = @{ restartPolicy = 'Never'; containers = @(@{ name = 'c'; image = 'pester-busybox:1'; command = @('sh', '-c', 'exit 1') }) }
        } | ConvertTo-Json -Depth 6
        $manifest | Start-Pod -Wait -TimeoutSec 60 -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'PodEnded*'
        (Get-Pod broken).Status | Should -Be 'Error'
        Start-Pod -Manifest '{"kind":"Service"}' -ErrorAction SilentlyContinue -ErrorVariable bad
        $bad[0].FullyQualifiedErrorId | Should -BeLike 'InvalidPodManifest*'
    }

    It 'starts a pod from a YAML manifest, and names the line of a broken one' {
        $yaml = @"
apiVersion: v1
kind: Pod
metadata:
  name: from-yaml
  labels: {app: yaml}
spec:
  containers:
  - name: c
    image: pester-busybox:1
    command: [sh, -c, 'exec sleep 3600']
"@
        $pod = $yaml | Start-Pod -Wait -TimeoutSec 60
        $pod.Name | Should -Be 'from-yaml'
        $pod.Labels['app'] | Should -Be 'yaml'
        Start-Pod -Manifest "kind: Pod`nmetadata: [unclosed" -ErrorAction SilentlyContinue -ErrorVariable bad
        $bad[0].FullyQualifiedErrorId | Should -BeLike 'InvalidPodManifest*'
        $bad[0].Exception.Message | Should -Match 'the manifest:\d+:\d+'
        Remove-Pod from-yaml -GracePeriod 0 -Force
    }
}
