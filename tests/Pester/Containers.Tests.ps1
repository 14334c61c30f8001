#requires -Version 7.0
# Containers end to end through the cmdlets, against a private daemon (its own state and run roots under a temp dir).
# Needs root, a build (./build.sh build) and busybox-static; skipped with the reason otherwise.

BeforeDiscovery {
    . "$PSScriptRoot/TestInstance.ps1"
    $script:skipReason = Get-TestSkipReason -Needs busybox-static
}

Describe 'Containers through the cmdlets' -Skip:([bool]$skipReason) {
    BeforeAll {
        . "$PSScriptRoot/TestInstance.ps1"
        $script:instance = New-TestInstance -Name containers
        $repo = $instance.Repo
        $script:tmp = $instance.Temp
        & (Join-Path $repo 'examples/make-busybox-rootfs.sh') "$tmp/busybox.tar"
        $script:image = Import-ContainerImage -Path "$tmp/busybox.tar" -Reference 'pester-busybox:latest' -Change 'CMD ["sh"]' -ErrorAction Stop
        $script:prefix = 'pester-' + [guid]::NewGuid().ToString('n').Substring(0, 6)

        # Polls until the script block returns something truthy (container output arrives asynchronously).
        function script:WaitFor([scriptblock] $Condition, [int] $Seconds = 10) {
            $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
            while ([DateTime]::UtcNow -lt $deadline) {
                $value = & $Condition
                if ($value) { return $value }
                Start-Sleep -Milliseconds 100
            }
            & $Condition
        }
    }

    AfterAll {
        Remove-TestInstance $instance
    }

    Context 'images' {
        It 'imports a root filesystem tarball' {
            $image | Should -Not -BeNullOrEmpty
            # The daemon may store the reference normalized (docker.io/library/...).
            @($image.RepoTags) -match '(^|/)pester-busybox:latest$' | Should -Not -BeNullOrEmpty
        }

        It 'finds it by name and wildcard, and shows it in a table' {
            Get-ContainerImage pester-busybox | Should -Not -BeNullOrEmpty
            Get-ContainerImage 'pester-busy*' | Should -Not -BeNullOrEmpty
            Get-ContainerImage pester-busybox | Format-Table | Out-String | Should -Match 'pester-busybox'
        }

        It 'tags and untags' {
            Add-ContainerImageTag pester-busybox:latest pester-busybox:extra
            (Get-ContainerImage pester-busybox:extra).Id | Should -Be $image.Id
            Remove-ContainerImage pester-busybox:extra -Confirm:$false
            Get-ContainerImage pester-busybox:extra -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            Get-ContainerImage pester-busybox:latest | Should -Not -BeNullOrEmpty
        }
    }

    Context 'docker run, the pwsh way' {
        It 'New-Container IMAGE CMD -Wait -Rm writes the output and leaves nothing behind' {
            $before = @(Get-Container -All).Count
            $out = New-Container pester-busybox echo hello from busybox -Wait -Rm
            $out | Should -Be 'hello from busybox'
            $LASTEXITCODE | Should -Be 0
            @(Get-Container -All).Count | Should -Be $before
        }

        It 'sets $LASTEXITCODE to the exit status and keeps stderr apart' {
            $out = New-Container pester-busybox -Command sh, -c, 'echo out; echo err >&2; exit 3' -Wait -Rm -ErrorVariable err -ErrorAction SilentlyContinue
            $LASTEXITCODE | Should -Be 3
            $out | Should -Be 'out'
            ($err | ForEach-Object { $_.Exception.Message }) | Should -Contain 'err'
        }

        It 'passes environment and limits' {
            $out = New-Container pester-busybox -Command sh, -c, 'echo $GREETING' -Environment @{ GREETING = 'hi there' } -Memory 64MB -Wait -Rm
            $out | Should -Be 'hi there'
        }

        It 'gives the process the limits, groups, OOM score and domain name asked for' {
            $out = New-Container pester-busybox -Command sh, -c, 'ulimit -n; id -G; cat /proc/self/oom_score_adj /proc/sys/kernel/domainname' `
                -Ulimit nofile=512:1024 -GroupAdd 55 -OomScoreAdj 300 -Domainname pester.example -Wait -Rm
            $out | Should -Be @('512', '0 55', '300', 'pester.example')
        }

        It 'reports a missing image as an error with an id and category' {
            $err = $null
            try { New-Container pester-no-such-image:1 -Pull Never -ErrorAction Stop } catch { $err = $_ }
            $err | Should -Not -BeNullOrEmpty
            $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $err.FullyQualifiedErrorId | Should -BeLike 'ImageNotFound*'
            # By default the image is pulled first, as docker run does: here that fails too (no such image in its
            # registry, or no way to reach it), with the pull's own error, and nothing is made.
            $err = $null
            try { New-Container pester-no-such-image:1 -Name pester-never-made -ErrorAction Stop } catch { $err = $_ }
            $err.CategoryInfo.Category | Should -BeIn 'ObjectNotFound', 'ResourceUnavailable', 'PermissionDenied', 'InvalidArgument'
            $err.FullyQualifiedErrorId | Should -Not -BeNullOrEmpty
            Get-Container -All -Name pester-never-made -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        }
    }

    Context 'a running container' {
        BeforeAll {
            $script:name = "$prefix-web"
            $script:web = New-Container pester-busybox -Name $name -Command sh, -c, 'echo line1; echo line2; while :; do sleep 1; done' -Start
        }

        It 'is listed as running' {
            $web.Name | Should -Be $name
            $c = Get-Container -Name $name
            $c.State | Should -Be 'running'
            Get-Container -Name "$prefix-*" | Should -Not -BeNullOrEmpty
        }

        It 'formats as a table that shows its name and short id' {
            $text = Get-Container | Format-Table | Out-String -Width 300
            $text | Should -Match ([regex]::Escape($name))
            $text | Should -Match $web.Id.Substring(0, 12)
        }

        It 'runs commands in it' {
            Invoke-ContainerCommand -Container $name -Command echo, exec-ok | Should -Be 'exec-ok'
            $result = Get-Container -Name $name | Invoke-ContainerCommand -Command sh, -c, 'exit 4' -PassThru
            $result.ExitCode | Should -Be 4
            $LASTEXITCODE | Should -Be 4
            Invoke-ContainerCommand $name cat /etc/passwd | Should -Contain 'root:x:0:0:root:/root:/bin/sh'
        }

        It 'has logs' {
            WaitFor { (Get-ContainerLog $name) -contains 'line2' } | Should -BeTrue
            Get-ContainerLog $name -Tail 1 | Should -Be 'line2'
            (Get-ContainerLog $name -AsObject)[0].Stream | Should -Be 'stdout'
            Get-ContainerLog $name -Timestamps | Select-Object -First 1 | Should -Match '^\d{4}-\d\d-\d\dT.*Z line1$'
        }

        It 'lists its processes and statistics' {
            Get-ContainerProcess $name | Where-Object Command -like '*sh*' | Should -Not -BeNullOrEmpty
            $stats = Get-Container -Name $name | Get-ContainerStatistic
            $stats.Pids | Should -BeGreaterThan 0
            $stats | Format-Table | Out-String | Should -Match ([regex]::Escape($name))
        }

        It 'suspends and resumes' {
            Suspend-Container $name
            (Get-Container -Name $name).State | Should -Be 'paused'
            Resume-Container $name
            (Get-Container -Name $name).State | Should -Be 'running'
        }

        It 'is left alone by -WhatIf' {
            Get-Container -Name $name | Stop-Container -WhatIf
            Get-Container -Name $name | Remove-Container -Force -WhatIf
            (Get-Container -Name $name).State | Should -Be 'running'
        }

        It 'refuses removal while running without -Force' {
            $err = $null
            try { Remove-Container $name -Confirm:$false -ErrorAction Stop } catch { $err = $_ }
            $err.CategoryInfo.Category | Should -BeIn 'InvalidOperation', 'ResourceExists'
            Get-Container -Name $name | Should -Not -BeNullOrEmpty
        }

        It 'stops through the pipeline' {
            Get-Container -Name $name | Stop-Container -Timeout 1
            (Get-Container -Name $name).State | Should -Be 'exited'
            (Get-Container -Name $name | Wait-Container).StatusCode | Should -Not -Be $null
        }

        It 'renames' {
            Rename-Container $name -NewName "$name-renamed"
            Get-Container -Name "$name-renamed" | Should -Not -BeNullOrEmpty
            Rename-Container "$name-renamed" -NewName $name
        }
    }

    Context 'cleaning up with the pipeline' {
        It 'Get-Container | Where-Object ... | Remove-Container removes exactly those' {
            $keep = New-Container pester-busybox -Name "$prefix-keep" -Command true
            1..2 | ForEach-Object { New-Container pester-busybox -Name "$prefix-gone$_" -Command true } | Out-Null
            Get-Container -All | Where-Object Name -like "$prefix-gone*" | Remove-Container -Confirm:$false
            Get-Container -Name "$prefix-gone*" | Should -BeNullOrEmpty
            Get-Container -Name "$prefix-keep" | Should -Not -BeNullOrEmpty
            $keep | Remove-Container -Force
        }

        It 'reports a missing container as ObjectNotFound' {
            $err = $null
            try { Start-Container "$prefix-missing" -ErrorAction Stop } catch { $err = $_ }
            $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $err.TargetObject | Should -Not -BeNullOrEmpty
        }
    }

    Context 'events' {
        It 'Get-ContainerEvent shows what a container went through, with its exit code' {
            $name = "$prefix-events"
            New-Container pester-busybox -Name $name -Command sh, -c, 'exit 4' -Wait -Rm -ErrorAction SilentlyContinue | Out-Null
            $events = @(Get-ContainerEvent -Container $name)
            # An attached run also shows attach; the rest is the container's life in order.
            $events.Action | Where-Object { $_ -ne 'attach' } | Should -Be @('create', 'start', 'die', 'destroy')
            ($events | Where-Object Action -eq 'die').Attributes['exitCode'] | Should -Be '4'
            Get-ContainerEvent -Type container -Filter @{ event = 'die' } | Where-Object Name -eq $name | Should -HaveCount 1
            Get-ContainerEvent -Container $name | Format-Table | Out-String | Should -Match 'die \(4\)'
        }

        It 'Get-ContainerEvent -Wait streams new events until -Until' {
            $name = "$prefix-live"
            $manifest = Join-Path $instance.Repo 'ContainerOps.psd1'
            # -Since: a job whose module loads slower than the sleep (a busy machine) still sees what happened meanwhile.
            $since = (Get-Date).AddSeconds(-2)
            $job = Start-ThreadJob { Import-Module $using:manifest; Get-ContainerEvent -Wait -Since $using:since -Container $using:name -Until (Get-Date).AddSeconds(8) }
            Start-Sleep -Seconds 1
            New-Container pester-busybox -Name $name -Command true -Wait -Rm | Out-Null
            $seen = @($job | Wait-Job -Timeout 20 | Receive-Job)
            $job | Remove-Job -Force
            $seen.Action | Should -Contain 'destroy'
        }

        It 'refuses an unknown filter by name' {
            $err = $null
            try { Get-ContainerEvent -Filter @{ pod = 'x' } -ErrorAction Stop } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Match '^InvalidFilter'
            $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        }
    }
}
