<#
.SYNOPSIS
    Brings a compose application up, checks that it answers, and takes it down again: a smoke test for a release.
.DESCRIPTION
    Start-ComposeProject -Wait returns once every service runs and those with a health check are healthy (so the
    depends_on health gates held); then the URL is asked until it answers or -TimeoutSeconds pass. The project is
    removed afterwards, volumes included, unless -KeepRunning. Writes one result object; a failed check is an error.
.EXAMPLE
    ./Test-ComposeApplication.ps1 -Path ../compose/shop/compose.yaml -Url http://127.0.0.1:8088/ -Expect 'shop is open'
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    # The compose file(s) of the application.
    [Parameter(Mandatory)] [string[]] $Path,
    # What must answer once the application is up.
    [Parameter(Mandatory)] [uri] $Url,
    # Text the answer must contain.
    [string] $Expect = '',
    [string] $ProjectName,
    [int] $TimeoutSeconds = 60,
    # Leave the application running after the check.
    [switch] $KeepRunning
)

$project = @{ Path = $Path }
if ($ProjectName) { $project.ProjectName = $ProjectName }
if (-not $PSCmdlet.ShouldProcess((ConvertFrom-ComposeFile @project).Name, 'Start, check and remove the compose application')) { return }

$started = [Diagnostics.Stopwatch]::StartNew()
$answer = $null
try {
    $containers = Start-ComposeProject @project -Wait -WaitTimeout $TimeoutSeconds -Confirm:$false -ErrorAction Stop
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while (-not $answer -and [DateTime]::UtcNow -lt $deadline) {
        try { $answer = (Invoke-WebRequest -Uri $Url -TimeoutSec 2 -ErrorAction Stop).Content }
        catch { Start-Sleep -Milliseconds 200 }
    }
    if (-not $answer) { throw "$Url did not answer within $TimeoutSeconds s" }
    if ($Expect -and $answer -notlike "*$Expect*") { throw "$Url answered without '$Expect'" }
    [pscustomobject]@{
        PSTypeName = 'ContainerOps.RunbookResult'
        Project    = (Get-ComposeService @project | Select-Object -First 1).Project
        Containers = @($containers).Count
        Url        = $Url
        Answered   = $true
        Seconds    = [math]::Round($started.Elapsed.TotalSeconds, 1)
    }
}
finally {
    if (-not $KeepRunning) { Stop-ComposeProject @project -RemoveVolumes -Force -Confirm:$false -ErrorAction Continue }
}
