#requires -Version 7.0
# Cluster jobs and cron jobs through the cmdlets (Start-, Get-, Wait-, Remove-ClusterJob; Set-, Get-, Start-,
# Suspend-, Resume-, Remove-CronJob), run by a private daemon's controllers with real pods. Needs root, a build
# (./build.sh build) and busybox-static; skipped with the reason otherwise.

BeforeDiscovery {
    . "$PSScriptRoot/TestInstance.ps1"
    $script:skipReason = Get-TestSkipReason -Needs busybox-static
}

Describe 'Cluster jobs and cron jobs through the cmdlets' -Skip:([bool]$skipReason) {
    BeforeAll {
        . "$PSScriptRoot/TestInstance.ps1"
        $script:savedSubnet = $env:CONTAINEROPS_POD_SUBNET
        $env:CONTAINEROPS_POD_SUBNET = "10.$(Get-Random -Minimum 200 -Maximum 250).$(Get-Random -Minimum 1 -Maximum 250).0/24"
        $script:instance = New-TestInstance -Name batch
        & (Join-Path $instance.Repo 'examples/make-busybox-rootfs.sh') "$($instance.Temp)/busybox.tar"
        $null = Import-ContainerImage -Path "$($instance.Temp)/busybox.tar" -Reference 'pester-busybox:1' -Change 'CMD ["sh"]' -ErrorAction Stop
        $null = Import-ContainerImage -Path "$($instance.Temp)/busybox.tar" -Reference 'busybox:1.36' -Change 'CMD ["sh"]' -ErrorAction Stop
    }

    AfterAll {
        # Cron jobs and jobs first (they make pods), then the pods at once.
        Get-CronJob -AllNamespaces -ErrorAction SilentlyContinue | Remove-CronJob -Force -ErrorAction SilentlyContinue
        Get-ClusterJob -AllNamespaces -ErrorAction SilentlyContinue | Remove-ClusterJob -Force -ErrorAction SilentlyContinue
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

    It 'starts an indexed job from parameters, waits for it with progress and shows it as kubectl does' {
        $job = Start-ClusterJob parts -Image pester-busybox:1 -Command sh, -c, 'echo "shard $JOB_COMPLETION_INDEX"' -Completions 3 -Parallelism 2 -Indexed
        $job.PSObject.TypeNames | Should -Contain 'ContainerOps.PowerShell.ClusterJobInfo'
        $done = $job | Wait-ClusterJob -TimeoutSec 120
        $done.Status | Should -Be 'Complete'
        $done.Completions | Should -Be '3/3'
        $done.Duration | Should -Not -BeNullOrEmpty
        $table = Get-ClusterJob parts | Out-String
        $table | Should -Match 'NAME\s+STATUS\s+COMPLETIONS\s+DURATION\s+AGE'
        $table | Should -Match 'parts\s+Complete\s+3/3'
        $logs = Get-Pod -Selector batch.kubernetes.io/job-name=parts | ForEach-Object { Get-PodLog $_.Name }
        ($logs | Sort-Object) | Should -Be @('shard 0', 'shard 1', 'shard 2')
    }

    It 'ends the wait of a failed job with an error record and still writes the job' {
        $null = Start-ClusterJob broken -Image pester-busybox:1 -Command sh, -c, 'exit 3' -BackoffLimit 0
        $job = Wait-ClusterJob broken -TimeoutSec 120 -ErrorVariable failure -ErrorAction SilentlyContinue
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'ClusterJobFailed*'
        $failure[0].Exception.Message | Should -Match 'BackoffLimitExceeded'
        $job.Status | Should -Be 'Failed'
        $job.Failed | Should -Be 1
    }

    It 'refuses a cron job with a bad schedule or time zone, naming the field, and creates nothing' {
        Set-CronJob bad -Schedule '61 * * * *' -Image pester-busybox:1 -ErrorVariable e1 -ErrorAction SilentlyContinue
        $e1[0].Exception.Message | Should -Match 'spec\.schedule'
        Set-CronJob bad -Schedule '@hourly' -TimeZone 'Mars/Olympus' -Image pester-busybox:1 -ErrorVariable e2 -ErrorAction SilentlyContinue
        $e2[0].Exception.Message | Should -Match 'spec\.timeZone'
        Get-CronJob bad -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'creates a cron job, runs it now, suspends, resumes and removes it with its jobs' {
        $cron = Set-CronJob nightly -Schedule '0 2 * * *' -TimeZone 'Europe/Berlin' -Image pester-busybox:1 -Command sh, -c, 'echo backed up' -ConcurrencyPolicy Forbid
        $cron.Schedule | Should -Be '0 2 * * *'
        $cron.ConcurrencyPolicy | Should -Be 'Forbid'
        (Get-CronJob nightly | Out-String -Width 160) | Should -Match 'NAME\s+SCHEDULE\s+TIMEZONE\s+SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE'
        (Set-CronJob nightly -Schedule '30 3 * * *').Schedule | Should -Be '30 3 * * *'

        $run = Start-CronJob nightly -JobName nightly-now | Wait-ClusterJob -TimeoutSec 120
        $run.Status | Should -Be 'Complete'
        $run.CronJob | Should -Be 'nightly'
        (Get-ClusterJob -CronJob nightly).Name | Should -Be 'nightly-now'
        Get-PodLog (Get-Pod -Selector batch.kubernetes.io/job-name=nightly-now).Name | Should -Be 'backed up'

        (Suspend-CronJob nightly).Suspend | Should -BeTrue
        (Resume-CronJob nightly).Suspend | Should -BeFalse
        Remove-CronJob nightly -Force
        Get-CronJob nightly -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ((Get-ClusterJob nightly-now -ErrorAction SilentlyContinue) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
        Get-ClusterJob nightly-now -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'runs the examples: an indexed job from its manifest, and a cron job applied from its manifest and run now' {
        $repo = Resolve-Path "$PSScriptRoot/../.."
        $job = Start-ClusterJob -Path "$repo/examples/batch/job.yaml" | Wait-ClusterJob -TimeoutSec 120
        $job.Status | Should -Be 'Complete'
        $job.Completions | Should -Be '5/5'
        $cron = Set-CronJob -Path "$repo/examples/batch/cronjob.yaml"
        $cron.TimeZone | Should -Be 'Europe/Berlin'
        (Start-CronJob nightly-report | Wait-ClusterJob -TimeoutSec 120).Status | Should -Be 'Complete'
        (Get-ClusterJob -CronJob nightly-report).Count | Should -Be 1
    }
}
