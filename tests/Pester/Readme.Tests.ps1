#requires -Version 7.0
# The README's pipelines run as written in a non-interactive script (pwsh -NonInteractive, the default
# $ConfirmPreference), the way a runbook runs them, against a private daemon. Each block is read from README.md, so
# the test follows the README when it changes.
# Needs root, a build (./build.sh build) and busybox-static; skipped with the reason otherwise.

BeforeDiscovery {
    . "$PSScriptRoot/TestInstance.ps1"
    $script:skipReason = Get-TestSkipReason -Needs busybox-static
}

Describe 'The README, run as a non-interactive script' -Skip:([bool]$skipReason) {
    BeforeAll {
        . "$PSScriptRoot/TestInstance.ps1"
        $script:instance = New-TestInstance -Name readme
        $script:repo = $instance.Repo
        $script:tmp = $instance.Temp
        & (Join-Path $repo 'examples/make-busybox-rootfs.sh') "$tmp/busybox.tar"
        Import-ContainerImage -Path "$tmp/busybox.tar" -Reference busybox:latest -ErrorAction Stop | Out-Null
        $script:readme = Get-Content (Join-Path $repo 'README.md')

        # The lines of README.md from the first one that matches $From up to the end of its paragraph or code block.
        function script:Get-ReadmeLines([string] $From) {
            $start = @(0..($readme.Count - 1) | Where-Object { $readme[$_] -match $From })[0]
            if ($null -eq $start) { throw "README.md has no line matching '$From'" }
            $end = $start
            while ($end + 1 -lt $readme.Count -and $readme[$end + 1] -ne '' -and $readme[$end + 1] -notmatch '^```') { $end++ }
            $readme[$start..$end]
        }

        # Runs the lines as a script in a new pwsh -NonInteractive from the repository root (where the README's
        # Import-Module ./ContainerOps.psd1 finds the module), with this instance's environment.
        function script:Invoke-NonInteractive([string[]] $Lines, [string] $Name) {
            $script = Join-Path $tmp "$Name.ps1"
            Set-Content -Path $script -Value $Lines
            $stderr = Join-Path $tmp "$Name.stderr"
            $stdout = & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -WorkingDirectory $repo -File $script 2>$stderr
            [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = $stdout; Errors = @(Get-Content $stderr) }
        }
    }

    AfterAll {
        Remove-TestInstance $instance
    }

    It 'runs the opening example, whose Remove-Container removes every exited container and nothing else' {
        $lines = Get-ReadmeLines '^```powershell' | Select-Object -Skip 1
        $lines | Should -Contain "Get-Container -All | Where-Object State -eq 'exited' | Remove-Container"
        1..2 | ForEach-Object { New-Container busybox -Name "readme-exited$_" -Command true -Start } | Wait-Container | Out-Null
        New-Container busybox -Name readme-running -Command sh, -c, 'while :; do sleep 1; done' -Start | Out-Null
        New-Container busybox -Name readme-created -Command true | Out-Null

        $run = Invoke-NonInteractive $lines -Name opening
        $run.Errors | Should -BeNullOrEmpty
        $run.ExitCode | Should -Be 0
        Get-Container -Name 'readme-exited*' | Should -BeNullOrEmpty
        (Get-Container -Name readme-running).State | Should -Be 'running'
        (Get-Container -Name readme-created).State | Should -Be 'created'
        (Get-Container -Name web).State | Should -Be 'running'
    }

    It 'runs the ticker lines for pwsh users, whose Stop-Container | Remove-Container removes the ticker' {
        $lines = Get-ReadmeLines '^\$c = New-Container .*-Name ticker'
        $lines | Should -Contain 'Get-Container -Name tick* | Stop-Container -Timeout 2 -PassThru | Remove-Container'

        $run = Invoke-NonInteractive (@('Import-Module ./ContainerOps.psd1') + $lines) -Name ticker
        $run.Errors | Should -BeNullOrEmpty
        $run.ExitCode | Should -Be 0
        Get-Container -Name 'tick*' | Should -BeNullOrEmpty
    }
}
