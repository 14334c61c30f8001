<#
.SYNOPSIS
    Starts again every container that exited with a failure and carries a label, and reports what it did.
.DESCRIPTION
    An ops runbook the way it is written with ContainerOps: objects from Get-Container, filtered on the pipeline,
    -WhatIf for a dry run. Containers that exited with 0, or that lack the label, are left alone.
.EXAMPLE
    ./Restart-FailedContainer.ps1 -Label tier=batch -WhatIf
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    # Only containers with this label (key or key=value) are considered.
    [string] $Label = 'restart-on-failure=true'
)

Get-Container -All -Filter @{ status = 'exited'; label = $Label } |
    Where-Object { $_.ExitCode -ne 0 } |
    ForEach-Object {
        $before = $_
        if ($PSCmdlet.ShouldProcess($before.Name, "Start-Container (exited with $($before.ExitCode))")) {
            Start-Container -Id $before.Id -Confirm:$false
            [pscustomobject]@{
                PSTypeName = 'ContainerOps.RunbookResult'
                Name       = $before.Name
                ExitCode   = $before.ExitCode
                Action     = 'Started'
            }
        }
    }
