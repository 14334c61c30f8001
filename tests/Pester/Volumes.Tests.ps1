#requires -Version 7.0
# Volumes and mounts through the cmdlets, against a private daemon (its own state and run roots under a temp dir).
# Needs root, a build (./build.sh build) and busybox-static; skipped with the reason otherwise.

BeforeDiscovery {
    . "$PSScriptRoot/TestInstance.ps1"
    $script:skipReason = Get-TestSkipReason -Needs busybox-static
}

Describe 'Volumes through the cmdlets' -Skip:([bool]$skipReason) {
    BeforeAll {
        . "$PSScriptRoot/TestInstance.ps1"
        $script:instance = New-TestInstance -Name volumes
        $script:tmp = $instance.Temp
        & (Join-Path $instance.Repo 'examples/make-busybox-rootfs.sh') "$tmp/busybox.tar"
        Import-ContainerImage -Path "$tmp/busybox.tar" -Reference 'pester-vol:1' -Change 'VOLUME /cache' -ErrorAction Stop | Out-Null
    }

    AfterAll {
        Get-Container -All -ErrorAction SilentlyContinue | Remove-Container -Force -Volume -ErrorAction SilentlyContinue
        Get-ContainerVolume -ErrorAction SilentlyContinue | Remove-ContainerVolume -Force -ErrorAction SilentlyContinue
        Remove-TestInstance $instance
    }

    It 'New-ContainerVolume -WhatIf creates nothing' {
        New-ContainerVolume pester-data -WhatIf
        Get-ContainerVolume | Should -BeNullOrEmpty
    }

    It 'creates a volume with labels and options and finds it by name, wildcard and filter' {
        $v = New-ContainerVolume pester-data -Label @{ team = 'web' }
        $v.Name | Should -Be 'pester-data'
        $v.Labels['team'] | Should -Be 'web'
        $v.Mountpoint | Should -Exist
        $ram = New-ContainerVolume pester-ram -Option @{ type = 'tmpfs'; device = 'tmpfs'; o = 'size=2m' }
        $ram.Options['type'] | Should -Be 'tmpfs'
        (Get-ContainerVolume pester-data).Name | Should -Be 'pester-data'
        @(Get-ContainerVolume 'pester-*').Count | Should -Be 2
        @(Get-ContainerVolume -Filter @{ label = 'team=web' }).Name | Should -Be @('pester-data')
        Get-ContainerVolume | Format-Table | Out-String | Should -Match 'pester-ram\s+tmpfs'
    }

    It 'reports a bad option as an ErrorRecord with its id and category' {
        New-ContainerVolume pester-bad -Option @{ colour = 'red' } -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'InvalidVolumeOption*'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        Get-ContainerVolume nothing-here -ErrorVariable missing -ErrorAction SilentlyContinue
        $missing[0].FullyQualifiedErrorId | Should -BeLike 'VolumeNotFound*'
    }

    It 'New-Container -Volume keeps data across containers, -Mount and -Tmpfs and -ShmSize size their mounts' {
        $out = New-Container pester-vol:1 -Command sh, -c, 'echo kept > /data/f' -Volume 'pester-data:/data' -Wait -Rm
        $LASTEXITCODE | Should -Be 0
        $out = New-Container pester-vol:1 -Command sh, -c, 'cat /data/f; df -k /ram /t /dev/shm | awk "NR>1 {print \$2}"' `
            -Volume 'pester-data:/data:ro' -Mount 'type=volume,source=pester-ram,target=/ram' -Tmpfs '/t:size=1m' -ShmSize 32MB -Wait -Rm
        $LASTEXITCODE | Should -Be 0
        $out | Should -Be @('kept', '2048', '1024', '32768')
    }

    It 'refuses to remove a volume a container uses, and Remove-Container -Volume takes its anonymous volumes' {
        $c = New-Container pester-vol:1 -Command true -Name pester-user -Volume 'pester-data:/data'
        $anonymous = @((Get-Container pester-user -Detailed).Mounts | Where-Object Destination -eq '/cache')[0].Name
        $anonymous | Should -Not -BeNullOrEmpty
        Remove-ContainerVolume pester-data -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VolumeInUse*'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $c | Remove-Container -Volume
        Get-ContainerVolume $anonymous -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Get-ContainerVolume pester-data | Should -Not -BeNullOrEmpty
    }

    It 'Remove-ContainerVolume -Unused -WhatIf removes nothing; -Unused -All -Force removes every unused volume' {
        New-Container pester-vol:1 -Command true -Name pester-anon | Remove-Container
        $before = @(Get-ContainerVolume).Count
        Remove-ContainerVolume -Unused -All -WhatIf
        @(Get-ContainerVolume).Count | Should -Be $before
        $anonymousOnly = Remove-ContainerVolume -Unused -Force
        $anonymousOnly.VolumesDeleted.Count | Should -Be 1
        (Get-ContainerVolume pester-data) | Should -Not -BeNullOrEmpty
        $all = Remove-ContainerVolume -Unused -All -Force
        $all.VolumesDeleted | Sort-Object | Should -Be @('pester-data', 'pester-ram')
        Get-ContainerVolume | Should -BeNullOrEmpty
    }

    It 'Get-ContainerDiskUsage has a Local Volumes row' {
        (Get-ContainerDiskUsage).Type | Should -Contain 'Local Volumes'
    }

    It 'completes volume names' {
        New-ContainerVolume pester-complete | Out-Null
        $result = TabExpansion2 -inputScript 'Remove-ContainerVolume pester-comp' -cursorColumn 'Remove-ContainerVolume pester-comp'.Length
        $result.CompletionMatches.CompletionText | Should -Contain 'pester-complete'
        Remove-ContainerVolume pester-complete
    }
}
