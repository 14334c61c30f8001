@{
    # The cmdlets live in the published assembly (./build.sh build writes bin/module/). A nested module rather than the
    # root module, so that Get-Help finds the cmdlet help beside the assembly (bin/module/en-US/).
    NestedModules        = @('bin/module/ContainerOps.PowerShell.dll')
    ModuleVersion        = '0.1.0'
    GUID                 = 'd664e2cb-f258-40c4-8dee-f1cbf47c2a14'
    Author               = 'ContainerOps contributors'
    CompanyName          = 'ContainerOps'
    Copyright            = '(c) ContainerOps contributors. All rights reserved.'
    Description          = 'Containers on Linux from PowerShell: images, containers, logs, exec, resource limits and restart policies, with objects on the pipeline instead of text. Talks to the ContainerOps daemon, which it starts on first use.'
    PowerShellVersion    = '7.6'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('Module/ContainerOps.Format.ps1xml')

    CmdletsToExport      = @(
        'New-Container'
        'Start-Container'
        'Stop-Container'
        'Restart-Container'
        'Suspend-Container'
        'Resume-Container'
        'Remove-Container'
        'Rename-Container'
        'Wait-Container'
        'Get-Container'
        'Invoke-ContainerCommand'
        'Enter-Container'
        'Get-ContainerLog'
        'Get-ContainerProcess'
        'Get-ContainerStatistic'
        'Import-ContainerImage'
        'Get-ContainerImage'
        'Remove-ContainerImage'
        'Add-ContainerImageTag'
        'Build-ContainerImage'
        'Receive-ContainerImage'
        'Publish-ContainerImage'
        'Export-ContainerImage'
        'Export-Container'
        'New-ContainerImage'
        'Get-ContainerChange'
        'Get-ContainerImageHistory'
        'Connect-ContainerRegistry'
        'Disconnect-ContainerRegistry'
        'Get-ContainerDiskUsage'
        'Get-ContainerNetwork'
        'New-ContainerNetwork'
        'Remove-ContainerNetwork'
        'Connect-ContainerNetwork'
        'Disconnect-ContainerNetwork'
        'Get-ContainerVolume'
        'New-ContainerVolume'
        'Remove-ContainerVolume'
        'Start-ComposeProject'
        'Stop-ComposeProject'
        'Get-ComposeProject'
        'Get-ComposeService'
        'ConvertFrom-ComposeFile'
        'Get-ClusterKubeConfig'
        'Get-Pod'
        'Start-Pod'
        'Remove-Pod'
        'Wait-Pod'
        'Get-PodLog'
        'Invoke-PodCommand'
        'Restart-Pod'
        'Get-Deployment'
        'Set-Deployment'
        'Wait-Deployment'
        'Undo-Deployment'
        'Get-DeploymentHistory'
        'Suspend-Deployment'
        'Resume-Deployment'
        'Restart-Deployment'
        'Get-ClusterService'
        'Set-ClusterService'
        'Remove-ClusterService'
        'Get-ClusterEndpoint'
        'Resolve-ClusterName'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()

    PrivateData          = @{
        PSData = @{
            Tags         = @('Containers', 'Docker', 'OCI', 'Linux', 'PSEdition_Core')
            ReleaseNotes = 'First release: containers, images, logs, exec and statistics against a local ContainerOps daemon.'
        }
    }
}
