#requires -Version 7.0
# Compose projects through the cmdlets. The first part reads files only (no daemon); the second brings a project up
# and down against a private daemon, and needs root, a build (./build.sh build) and busybox-static.

BeforeDiscovery {
    . "$PSScriptRoot/TestInstance.ps1"
    $script:skipReason = Get-TestSkipReason -Needs busybox-static
}

Describe 'Compose files without a daemon' {
    BeforeAll {
        $repo = (Resolve-Path "$PSScriptRoot/../..").Path
        Import-Module (Join-Path $repo 'ContainerOps.psd1') -Force
        $script:dir = Join-Path ([IO.Path]::GetTempPath()) ('compose-pester-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
        $null = New-Item -ItemType Directory -Path $dir
        Set-Content -Path (Join-Path $dir 'compose.yaml') -Value @'
name: shop
services:
  web:
    image: busybox
    ports: ["8080:80"]
    depends_on:
      api: {condition: service_healthy}
  api:
    image: busybox
    profiles: [backend]
'@
        Set-Content -Path (Join-Path $dir 'bad.yaml') -Value "services:`n  web:`n    image: busybox`n    ports: [`"80:abc`"]"
    }

    AfterAll { Remove-Item -Recurse -Force $dir -ErrorAction Ignore }

    It 'ConvertFrom-ComposeFile gives the normalised model' {
        $project = ConvertFrom-ComposeFile -Path (Join-Path $dir 'compose.yaml') -Profile backend
        $project.Name | Should -Be 'shop'
        $project.Services.Keys | Should -Be @('api', 'web')
        $project.Services['web'].Ports[0].Target | Should -Be 80
        $project.Services['web'].Ports[0].Published | Should -Be '8080'
        $project.Services['web'].DependsOn['api'].Condition | Should -Be 'service_healthy'
        $project.Networks['default'].Name | Should -Be 'shop_default'
    }

    It 'finds compose.yaml from the current location' {
        Push-Location $dir
        try { (ConvertFrom-ComposeFile -Profile backend).Services.Count | Should -Be 2 }
        finally { Pop-Location }
    }

    It 'reports a disabled dependency before anything is created' {
        { ConvertFrom-ComposeFile -Path (Join-Path $dir 'compose.yaml') -ErrorAction Stop } |
            Should -Throw -ExpectedMessage '*services.web.depends_on: service "api" is disabled by its profiles (backend)*'
    }

    It 'names the file, line and key path of a mistake in an ErrorRecord' {
        $err = $null
        try { ConvertFrom-ComposeFile -Path (Join-Path $dir 'bad.yaml') -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'ComposeFileInvalid*'
        $err.CategoryInfo.Category | Should -Be 'InvalidData'
        $err.Exception.Message | Should -BeLike '*bad.yaml:4:13: services.web.ports[[]0]: invalid port "80:abc"'
    }

    It 'Start- and Stop-ComposeProject do nothing with -WhatIf' {
        Start-ComposeProject -Path (Join-Path $dir 'compose.yaml') -Profile backend -WhatIf | Should -BeNullOrEmpty
        Stop-ComposeProject -Path (Join-Path $dir 'compose.yaml') -Profile backend -WhatIf | Should -BeNullOrEmpty
    }

    It 'has views for projects, services and the model' {
        foreach ($type in 'ContainerOps.Compose.Execution.ComposeProjectSummary', 'ContainerOps.Compose.Execution.ComposeServiceStatus',
                          'ContainerOps.Compose.Model.ComposeProject') {
            Get-FormatData -TypeName $type | Should -Not -BeNullOrEmpty -Because "$type needs a view"
        }
    }

    It 'Stop-ComposeProject removes with ConfirmImpact Medium and binds projects by property name' {
        $cmd = Get-Command Stop-ComposeProject
        $attr = $cmd.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $attr.ConfirmImpact | Should -Be 'Medium'
        $cmd.Parameters['ProjectName'].ParameterSets.Values.ValueFromPipelineByPropertyName | Should -Contain $true
        $cmd.Parameters['Path'].ParameterSets.Values.ValueFromPipelineByPropertyName | Should -Contain $true
    }
}

Describe 'Compose projects against a daemon' -Skip:([bool]$skipReason) {
    BeforeAll {
        . "$PSScriptRoot/TestInstance.ps1"
        $script:instance = New-TestInstance -Name compose
        $repo = $instance.Repo
        $script:tmp = $instance.Temp
        & (Join-Path $repo 'examples/make-busybox-rootfs.sh') "$tmp/busybox.tar"
        $null = Import-ContainerImage -Path "$tmp/busybox.tar" -Reference 'pester-busybox:latest' -Change 'CMD ["sh"]' -ErrorAction Stop
        $script:project = 'pc' + [guid]::NewGuid().ToString('n').Substring(0, 6)
        $script:file = Join-Path $tmp 'compose.yaml'
        $null = New-Item -ItemType Directory -Path "$tmp/www"
        Set-Content -Path "$tmp/www/index.html" -Value 'hello from compose'
        Set-Content -Path $file -Value @"
services:
  init:
    image: pester-busybox:latest
    command: ["sh", "-c", "echo prepared > /www/ready.txt"]
    volumes: ["./www:/www"]
  web:
    image: pester-busybox:latest
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    volumes: ["./www:/www:ro"]
    depends_on:
      init: {condition: service_completed_successfully}
  worker:
    image: pester-busybox:latest
    command: ["sleep", "300"]
    tmpfs: ["/scratch"]
    deploy: {replicas: 2}
"@
    }

    AfterAll {
        Stop-ComposeProject -Path $file -ProjectName $project -Force -Confirm:$false -ErrorAction SilentlyContinue
        Remove-TestInstance $instance
    }

    It 'starts the services in order and returns their containers' {
        $containers = Start-ComposeProject -Path $file -ProjectName $project
        $containers.Name | Sort-Object | Should -Be @("$project-init-1", "$project-web-1", "$project-worker-1", "$project-worker-2")
        (Get-Content "$tmp/www/ready.txt") | Should -Be 'prepared'
        ($containers | Where-Object Name -eq "$project-web-1").Labels['com.docker.compose.service'] | Should -Be 'web'
        ($containers | Where-Object Name -eq "$project-init-1").State | Should -Be 'exited'
    }

    It 'lists the project and its services' {
        (Get-ComposeProject $project).Status | Should -Be 'exited(1), running(3)'
        $services = Get-ComposeService -Path $file -ProjectName $project
        ($services | Where-Object Name -eq worker).Running | Should -Be 2
        ($services | Where-Object Name -eq web).State | Should -Be 'running'
    }

    It 'keeps unchanged containers and pipes into the container cmdlets' {
        $before = (Get-Container "$project-web-1").Id
        $again = Start-ComposeProject -Path $file -ProjectName $project
        ($again | Where-Object Name -eq "$project-web-1").Id | Should -Be $before
        $again | Where-Object Name -like '*worker*' | Stop-Container -Timeout 1
        (Get-Container -All -Name "$project-worker-*").State | Should -Be @('exited', 'exited')
    }

    It 'removes everything it made' {
        Get-ComposeProject $project | Stop-ComposeProject
        Get-Container -All -Name "$project-*" -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Get-ContainerNetwork -Name "${project}_default" -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}
