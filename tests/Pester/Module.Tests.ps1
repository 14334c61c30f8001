#requires -Version 7.0
# The module's shape: what the manifest exports, verbs, -WhatIf/-Confirm, pipeline binding, output types, views.
# Needs a build (./build.sh build writes bin/module/); no daemon: nothing here talks to one.

BeforeDiscovery {
    $repo = (Resolve-Path "$PSScriptRoot/../..").Path
    Import-Module (Join-Path $repo 'ContainerOps.psd1') -Force
    $script:cmdletCases = @(Get-Command -Module ContainerOps -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
    $changing = 'New', 'Start', 'Stop', 'Restart', 'Suspend', 'Resume', 'Remove', 'Rename', 'Import', 'Add'
    $script:changingCases = @($cmdletCases | Where-Object { ($_.Name -split '-')[0] -in $changing })
    $script:removingCases = @($cmdletCases | Where-Object { $_.Name.StartsWith('Remove-') })
}

BeforeAll {
    $repo = (Resolve-Path "$PSScriptRoot/../..").Path
    $script:manifestPath = Join-Path $repo 'ContainerOps.psd1'
    Import-Module $manifestPath -Force
    $script:manifest = Import-PowerShellDataFile $manifestPath
    $script:exported = @(Get-Command -Module ContainerOps -CommandType Cmdlet)
}

Describe 'ContainerOps manifest' {
    It 'passes Test-ModuleManifest' {
        { Test-ModuleManifest -Path $manifestPath -ErrorAction Stop } | Should -Not -Throw
    }

    It 'is version 0.1.0 for pwsh 7.6 (Core)' {
        $manifest.ModuleVersion | Should -Be '0.1.0'
        $manifest.PowerShellVersion | Should -Be '7.6'
        $manifest.CompatiblePSEditions | Should -Be @('Core')
    }

    It 'lists cmdlets by name, without wildcards' {
        $manifest.CmdletsToExport | Should -Not -BeNullOrEmpty
        $manifest.CmdletsToExport | Where-Object { $_ -match '[*?\[]' } | Should -BeNullOrEmpty
        $manifest.FunctionsToExport.Count | Should -Be 0
        $manifest.AliasesToExport.Count | Should -Be 0
        $manifest.VariablesToExport.Count | Should -Be 0
    }

    It 'exports every cmdlet it lists, and lists every cmdlet it has' {
        ($exported.Name | Sort-Object) | Should -Be ($manifest.CmdletsToExport | Sort-Object)
        $assembly = $exported[0].ImplementingType.Assembly
        $defined = $assembly.GetExportedTypes() | Where-Object { -not $_.IsAbstract } |
            ForEach-Object { $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false) } |
            ForEach-Object { "$($_.VerbName)-$($_.NounName)" }
        ($defined | Sort-Object) | Should -Be ($manifest.CmdletsToExport | Sort-Object)
    }

    It 'has default table views for the objects it writes' {
        foreach ($type in 'ContainerOps.Core.Api.ContainerSummary', 'ContainerOps.Core.Api.ContainerDetails', 'ContainerOps.Core.Api.ImageSummary',
                          'ContainerOps.Core.Api.ContainerStats', 'ContainerOps.PowerShell.ContainerProcess', 'ContainerOps.Core.Api.NetworkResource') {
            Get-FormatData -TypeName $type | Should -Not -BeNullOrEmpty -Because "$type needs a view"
        }
    }
}

Describe '<Name>' -ForEach $cmdletCases {
    BeforeAll {
        $script:command = Get-Command $Name
    }

    It 'uses an approved verb' {
        $command.Verb | Should -BeIn (Get-Verb).Verb
    }

    It 'shadows no command that ships with pwsh' {
        @(Get-Command $Name -All -ErrorAction Ignore | Where-Object { $_.ModuleName -ne 'ContainerOps' }) | Should -BeNullOrEmpty
    }

    It 'declares its output type' {
        $command.OutputType | Should -Not -BeNullOrEmpty
    }
}

Describe '<Name> changes state' -ForEach $changingCases {
    It 'supports -WhatIf and -Confirm' {
        $command = Get-Command $Name
        $command.Parameters.Keys | Should -Contain 'WhatIf'
        $command.Parameters.Keys | Should -Contain 'Confirm'
    }

    It 'runs unattended under the default $ConfirmPreference (High)' {
        $attr = (Get-Command $Name).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $attr.ConfirmImpact | Should -BeLessThan ([System.Management.Automation.ConfirmImpact]::High)
    }
}

# Generated only for the cmdlets that remove something, so that every case runs.
Describe '<Name> removes' -ForEach $removingCases {
    It 'asks when $ConfirmPreference is Medium, as Remove-Item does' {
        $attr = (Get-Command $Name).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $attr.ConfirmImpact | Should -Be 'Medium'
    }

    It 'offers -Force where docker has -f' {
        (Get-Command $Name).Parameters.Keys | Should -Contain 'Force'
    }
}

Describe 'Pipeline binding' {
    It '<Cmdlet> takes container objects by property name' -ForEach @(
        @{ Cmdlet = 'Start-Container' }, @{ Cmdlet = 'Stop-Container' }, @{ Cmdlet = 'Restart-Container' },
        @{ Cmdlet = 'Remove-Container' }, @{ Cmdlet = 'Suspend-Container' }, @{ Cmdlet = 'Resume-Container' },
        @{ Cmdlet = 'Get-ContainerLog' }, @{ Cmdlet = 'Invoke-ContainerCommand' }, @{ Cmdlet = 'Wait-Container' }
    ) {
        $byName = (Get-Command $Cmdlet).Parameters.Values | Where-Object {
            $_.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.ValueFromPipelineByPropertyName }
        }
        $names = @($byName | ForEach-Object { $_.Name; $_.Aliases })
        $names | Should -Contain 'Id'
        $names | Should -Contain 'Name'
    }

    It 'binds a container object to Stop-Container and Remove-Container (-WhatIf touches no daemon)' {
        $container = [pscustomobject]@{ Id = '0123456789ab'; Name = 'pester-none' }
        { $container | Stop-Container -WhatIf -ErrorAction Stop } | Should -Not -Throw
        { $container | Remove-Container -Force -WhatIf -ErrorAction Stop } | Should -Not -Throw
        { $container | Start-Container -WhatIf -ErrorAction Stop } | Should -Not -Throw
    }

    It 'binds an image object to Remove-ContainerImage' {
        $image = [pscustomobject]@{ Id = 'sha256:' + ('0' * 64); RepoTags = @('none:latest') }
        { $image | Remove-ContainerImage -WhatIf -ErrorAction Stop } | Should -Not -Throw
    }

    It 'binds a network object to Remove-ContainerNetwork and a container object to Connect-ContainerNetwork (-WhatIf touches no daemon)' {
        $network = [pscustomobject]@{ Id = '0' * 64; Name = 'pester-net' }
        { $network | Remove-ContainerNetwork -WhatIf -ErrorAction Stop } | Should -Not -Throw
        $container = [pscustomobject]@{ Id = '0123456789ab'; Name = 'pester-none' }
        { $container | Connect-ContainerNetwork -Network pester-net -WhatIf -ErrorAction Stop } | Should -Not -Throw
        { $container | Disconnect-ContainerNetwork -Network pester-net -WhatIf -ErrorAction Stop } | Should -Not -Throw
    }

    It 'binds a volume object to Remove-ContainerVolume and takes -Volume, -Mount, -Tmpfs, -ShmSize, -Ipc on New-Container' {
        $volume = [pscustomobject]@{ Name = 'pester-vol'; Driver = 'local' }
        { $volume | Remove-ContainerVolume -WhatIf -ErrorAction Stop } | Should -Not -Throw
        { Remove-ContainerVolume -Unused -All -WhatIf -ErrorAction Stop } | Should -Not -Throw
        $parameters = (Get-Command New-Container).Parameters
        foreach ($p in 'Volume', 'Mount', 'Tmpfs', 'VolumesFrom', 'ShmSize', 'Ipc') { $parameters.Keys | Should -Contain $p }
        $parameters['ShmSize'].ParameterType | Should -Be ([long])
        $completer = (Get-Command Remove-ContainerVolume).Parameters['Name'].Attributes | Where-Object { $_ -is [System.Management.Automation.ArgumentCompleterAttribute] }
        $completer.Type.Name | Should -Be 'VolumeNameCompleter'
    }

    It 'offers -Force where docker has -f' {
        (Get-Command Remove-Container).Parameters.Keys | Should -Contain 'Force'
        (Get-Command Remove-ContainerImage).Parameters.Keys | Should -Contain 'Force'
    }

    It 'completes container names and image references' {
        $completer = (Get-Command Stop-Container).Parameters['Id'].Attributes | Where-Object { $_ -is [System.Management.Automation.ArgumentCompleterAttribute] }
        $completer.Type.Name | Should -Be 'ContainerNameCompleter'
        $completer = (Get-Command New-Container).Parameters['Image'].Attributes | Where-Object { $_ -is [System.Management.Automation.ArgumentCompleterAttribute] }
        $completer.Type.Name | Should -Be 'ImageReferenceCompleter'
    }

    It 'takes -Memory in bytes so 256MB works' {
        (Get-Command New-Container).Parameters['Memory'].ParameterType | Should -Be ([long])
    }
}
