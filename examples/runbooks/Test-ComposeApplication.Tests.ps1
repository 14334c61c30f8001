#requires -Modules Pester
# Runs the runbook on examples/compose/shop against a private daemon (root, ./build.sh build): a named volume and a
# health-gated dependency, brought up, asked for the front page, and taken down.
BeforeAll {
    $repo = Resolve-Path "$PSScriptRoot/../.."
    $script:shop = "$repo/examples/compose/shop/compose.yaml"
    Import-Module "$repo/ContainerOps.psd1" -Force
    . "$repo/tests/Pester/TestInstance.ps1"
    $script:skip = Get-TestSkipReason
    if ($script:skip) { return }
    $script:instance = New-TestInstance -Name shop
    $script:work = $instance.Temp
    & "$repo/examples/make-busybox-rootfs.sh" "$work/busybox.tar"
    Import-ContainerImage -Path "$work/busybox.tar" -Reference shop/busybox:1 | Out-Null
    $script:project = 'shop' + [guid]::NewGuid().ToString('n').Substring(0, 6)
    $script:port = Get-Random -Minimum 20000 -Maximum 30000
    $env:SHOP_PORT = $port
}

AfterAll {
    Remove-Item Env:SHOP_PORT -ErrorAction Ignore
    if ($script:skip) { return }
    Stop-ComposeProject -Path $shop -ProjectName $project -RemoveVolumes -Force -Confirm:$false -ErrorAction SilentlyContinue
    Remove-TestInstance $instance
}

Describe 'Test-ComposeApplication runbook' {
    It 'reads the shop: web waits for a healthy backend, data lives in a named volume' {
        $model = ConvertFrom-ComposeFile -Path $shop
        $model.Services.Keys | Should -Be @('backend', 'web')
        $model.Services['web'].DependsOn['backend'].Condition | Should -Be 'service_healthy'
        $model.Services['backend'].Volumes[0].Type | Should -Be 'volume'
        $model.Services['backend'].Healthcheck.StartInterval | Should -Be ([timespan]::FromMilliseconds(200))
    }

    It 'changes nothing with -WhatIf' {
        if ($script:skip) { Set-ItResult -Skipped -Because $script:skip; return }
        & "$PSScriptRoot/Test-ComposeApplication.ps1" -Path $shop -ProjectName $project -Url "http://127.0.0.1:$port/" -WhatIf | Should -BeNullOrEmpty
        Get-Container -All -Name "$project-*" -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'brings the shop up, gets its front page, and takes it down' {
        if ($script:skip) { Set-ItResult -Skipped -Because $script:skip; return }
        $result = & "$PSScriptRoot/Test-ComposeApplication.ps1" -Path $shop -ProjectName $project -Url "http://127.0.0.1:$port/" -Expect 'shop is open' -TimeoutSeconds 30 -ErrorAction Stop
        $result.Answered | Should -BeTrue
        $result.Containers | Should -Be 2
        Get-Container -All -Name "$project-*" -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}
