#requires -Version 7.0
# Images end to end through the cmdlets: build, push and pull through a registry, commit, changes, history, export,
# save and load, prune, disk usage. Runs against a private daemon and a private Debian docker-registry on a free
# loopback port. Needs root, a build (./build.sh build), busybox-static and docker-registry; skipped with the reason otherwise.

BeforeDiscovery {
    . "$PSScriptRoot/TestInstance.ps1"
    $script:skipReason = Get-TestSkipReason -Needs busybox-static, docker-registry
}

Describe 'Images through the cmdlets' -Skip:([bool]$skipReason) {
    BeforeAll {
        . "$PSScriptRoot/TestInstance.ps1"
        $script:instance = New-TestInstance -Name images
        $repo = $instance.Repo
        $script:tmp = $instance.Temp
        $null = New-Item -ItemType Directory -Path "$tmp/ctx", "$tmp/registry"

        # A registry of our own, plain HTTP on a free loopback port (loopback registries need no TLS, as with Docker).
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start(); $port = $listener.LocalEndpoint.Port; $listener.Stop()
        $script:registry = "127.0.0.1:$port"
        @(
            'version: 0.1', 'log:', '  level: error', '  accesslog:', '    disabled: true',
            'storage:', '  filesystem:', "    rootdirectory: $tmp/registry/data",
            'http:', "  addr: $registry", '  secret: containerops-pester'
        ) | Set-Content "$tmp/registry/config.yml"
        $script:registryProcess = Start-Process /usr/bin/docker-registry -ArgumentList 'serve', "$tmp/registry/config.yml" -PassThru `
            -RedirectStandardOutput "$tmp/registry/out.log" -RedirectStandardError "$tmp/registry/err.log"
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        while ([DateTime]::UtcNow -lt $deadline) {
            try { $c = [System.Net.Sockets.TcpClient]::new('127.0.0.1', $port); $c.Dispose(); break } catch { Start-Sleep -Milliseconds 50 }
        }

        & (Join-Path $repo 'examples/make-busybox-rootfs.sh') "$tmp/busybox.tar"
        $null = Import-ContainerImage -Path "$tmp/busybox.tar" -Reference 'pester-base:1' -Change 'CMD ["sh"]' -ErrorAction Stop

        'FROM pester-base:1', 'ARG WHO=nobody', 'COPY note.txt /note.txt', 'RUN echo "built for $WHO" > /built.txt', 'CMD ["cat", "/built.txt", "/note.txt"]' |
            Set-Content "$tmp/ctx/Dockerfile"
        'a note' | Set-Content "$tmp/ctx/note.txt"
    }

    AfterAll {
        if ($registryProcess) { Stop-Process -Id $registryProcess.Id -Force -ErrorAction Ignore; Wait-Process -Id $registryProcess.Id -Timeout 10 -ErrorAction Ignore }
        Remove-TestInstance $instance
    }

    It 'Build-ContainerImage -WhatIf builds nothing' {
        Build-ContainerImage -Path "$tmp/ctx" -Tag pester-whatif:1 -WhatIf | Should -BeNullOrEmpty
        Get-ContainerImage pester-whatif:1 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'Build-ContainerImage builds a Dockerfile and writes the image' {
        $image = Build-ContainerImage -Path "$tmp/ctx" -Tag pester-app:1 -BuildArgument @{ WHO = 'pester' } -ErrorAction Stop
        $image.PSObject.TypeNames | Should -Contain 'ContainerOps.Core.Api.ImageSummary'
        @($image.RepoTags) -match '(^|/)pester-app:1$' | Should -Not -BeNullOrEmpty
        New-Container pester-app:1 -Wait -Rm | Should -Be @('built for pester', 'a note')
    }

    It 'Get-ContainerImageHistory lists the steps' {
        $history = Get-ContainerImage pester-app:1 | Get-ContainerImageHistory
        ($history | Where-Object { $_.CreatedBy -match 'RUN' }) | Should -Not -BeNullOrEmpty
        ($history | Where-Object { $_.CreatedBy -match 'CMD' -and $_.EmptyLayer }) | Should -Not -BeNullOrEmpty
        $history[0].Id | Should -Be (Get-ContainerImage pester-app:1).Id
    }

    It 'Build-ContainerImage | Publish-ContainerImage -Registry pushes, and Receive-ContainerImage pulls it back' {
        $pushed = Build-ContainerImage -Path "$tmp/ctx" -Tag pester-app:2 -BuildArgument @{ WHO = 'registry' } | Publish-ContainerImage -Registry $registry -Confirm:$false
        $pushed.Reference | Should -Be "$registry/pester-app:2"
        $pushed.Digest | Should -Match '^sha256:[0-9a-f]{64}$'

        $pulled = Receive-ContainerImage "$registry/pester-app:2" -Confirm:$false -ErrorAction Stop
        @($pulled.RepoTags) | Should -Contain "$registry/pester-app:2"
        New-Container "$registry/pester-app:2" -Wait -Rm | Should -Be @('built for registry', 'a note')
    }

    It 'Get-ContainerChange, New-ContainerImage -FromContainer and Export-Container' {
        $null = New-Container pester-base:1 -Name pester-changer -Command sh, -c, 'echo x > /added.txt; rm /etc/group' -Wait
        $changes = Get-Container -All | Where-Object Name -eq pester-changer | Get-ContainerChange
        ($changes | Where-Object { $_.Kind -eq 'A' -and $_.Path -eq '/added.txt' }) | Should -Not -BeNullOrEmpty
        ($changes | Where-Object { $_.Kind -eq 'D' -and $_.Path -eq '/etc/group' }) | Should -Not -BeNullOrEmpty

        $file = Export-Container pester-changer -Path "$tmp/rootfs.tar"
        $file | Should -BeOfType System.IO.FileInfo
        (tar -tf $file.FullName) -match 'added.txt' | Should -Not -BeNullOrEmpty

        $image = New-ContainerImage -FromContainer pester-changer -Reference pester-committed:1 -Message 'from pester' -Change 'CMD ["cat", "/added.txt"]'
        @($image.RepoTags) -match 'pester-committed:1$' | Should -Not -BeNullOrEmpty
        New-Container pester-committed:1 -Wait -Rm | Should -Be 'x'
    }

    It 'Export-ContainerImage writes docker and OCI archives that Import-ContainerImage -Archive loads back' {
        foreach ($format in 'Docker', 'Oci') {
            $file = Export-ContainerImage pester-committed:1 -Path "$tmp/saved-$format.tar" -Format $format
            $file.Length | Should -BeGreaterThan 0
            Remove-ContainerImage pester-committed:1 -Confirm:$false
            $loaded = Import-ContainerImage $file.FullName -Archive
            @($loaded.RepoTags) -match 'pester-committed:1$' | Should -Not -BeNullOrEmpty
        }
    }

    It 'Get-ContainerImage -Dangling | Remove-ContainerImage removes untagged images and keeps images in use' {
        $dangling = New-ContainerImage -FromContainer pester-changer
        $inUse = New-ContainerImage -FromContainer pester-changer
        $null = New-Container $inUse.Id -Name pester-user -Command true
        $found = @(Get-ContainerImage -Dangling)
        $found.Id | Should -Contain $dangling.Id
        $found | Where-Object Id -ne $inUse.Id | Remove-ContainerImage -Confirm:$false
        (Get-ContainerImage -All).Id | Should -Not -Contain $dangling.Id
        (Get-ContainerImage -All).Id | Should -Contain $inUse.Id

        $pruned = Remove-ContainerImage -Dangling -Force
        $pruned.Deleted | Should -Not -Contain $inUse.Id
        Remove-Container pester-user -Force -Confirm:$false
        (Remove-ContainerImage -Dangling -Force).Deleted | Should -Contain $inUse.Id
    }

    It 'Get-ContainerDiskUsage reports images and containers' {
        $rows = Get-ContainerDiskUsage
        $rows.Type | Should -Contain 'Images'
        ($rows | Where-Object Type -eq 'Images').Total | Should -BeGreaterThan 0
    }

    It 'Connect-ContainerRegistry -WhatIf stores nothing' {
        $cred = [pscredential]::new('someone', (ConvertTo-SecureString 'secret' -AsPlainText -Force))
        Connect-ContainerRegistry -Registry $registry -Credential $cred -WhatIf | Should -BeNullOrEmpty
    }
}
