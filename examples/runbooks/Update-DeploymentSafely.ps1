<#
.SYNOPSIS
    Rolls a deployment to a new image, checks it, and rolls it back when the rollout or the check fails.
.DESCRIPTION
    The runbook for a release: the deployment's current revision is noted, the new image rolled out and waited for
    (Wait-Deployment: every pod of the new template available, within -TimeoutSec), then -Check runs (a script block
    given the deployment; $true means healthy). A rollout that does not finish in time, or a check that fails, is
    undone (Undo-Deployment) and that rollback waited for (within -RollbackTimeoutSec). Output: one result object saying what happened.
    -WhatIf shows the change without making it.
.EXAMPLE
    ./Update-DeploymentSafely.ps1 -Name web -Image nginx:1.28 -Check { param($d) (Invoke-WebRequest http://10.96.0.20/).StatusCode -eq 200 }
.EXAMPLE
    ./Update-DeploymentSafely.ps1 -Name web -Image nginx:1.28 -WhatIf
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)] [string] $Name,
    [Parameter(Mandatory)] [string] $Image,
    [string] $Namespace = 'default',
    # How long the rollout may take before it counts as failed.
    [ValidateRange(1, 86400)] [int] $TimeoutSec = 300,
    # How long a rollback may take: its own patience, since a short -TimeoutSec (to give up on a bad image soon) says
    # nothing of how long the old pods need to come back.
    [ValidateRange(1, 86400)] [int] $RollbackTimeoutSec = 300,
    # A health check after the rollout, given the deployment: anything but $true fails it.
    [scriptblock] $Check = { $true }
)

$before = Get-Deployment -Name $Name -Namespace $Namespace -ErrorAction Stop
$result = [pscustomobject]@{
    Name = $Name; Namespace = $Namespace; FromImages = $before.Images; ToImage = $Image
    FromRevision = $before.Revision; Revision = $before.Revision
    RolledOut = $false; RolledBack = $false; Reason = $null
}
if (-not $PSCmdlet.ShouldProcess("deployment $Namespace/$Name", "Roll out $Image (rolled back on failure)")) { return }

Set-Deployment -Name $Name -Namespace $Namespace -Image $Image -Confirm:$false -ErrorAction Stop | Out-Null
$rolled = Wait-Deployment -Name $Name -Namespace $Namespace -TimeoutSec $TimeoutSec -ErrorAction SilentlyContinue -ErrorVariable waitErrors
if ($waitErrors) {
    $result.Reason = "rollout: $($waitErrors[0].Exception.Message)"
} else {
    $healthy = try { (& $Check $rolled) -eq $true } catch { $result.Reason = "check: $($_.Exception.Message)"; $false }
    if ($healthy) {
        $result.RolledOut = $true
        $result.Revision = $rolled.Revision
        return $result
    }
    if (-not $result.Reason) { $result.Reason = 'check: the health check did not pass' }
}

Write-Warning "deployment $Namespace/${Name}: $($result.Reason); rolling back to revision $($before.Revision)"
Undo-Deployment -Name $Name -Namespace $Namespace -Confirm:$false -ErrorAction Stop | Out-Null
$back = Wait-Deployment -Name $Name -Namespace $Namespace -TimeoutSec $RollbackTimeoutSec -ErrorAction Stop
$result.RolledBack = $true
$result.Revision = $back.Revision
$result
