<#
.SYNOPSIS
    Stands up a small web stack (a network, a volume with the site, a web server, a client) and checks it answers by
    name on the network and through a published port on the host; then removes everything it made.
.DESCRIPTION
    The runbook an operator runs after a host change to see that networks, names, published ports and volumes work:
    objects from the cmdlets, -WhatIf for a dry run, and a cleanup that runs even when a check fails.
    Output: one result object with what each check saw.
.EXAMPLE
    ./Invoke-WebSmokeTest.ps1 -Image busybox:latest -HostPort 18080
.EXAMPLE
    ./Invoke-WebSmokeTest.ps1 -Image busybox:latest -WhatIf
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    # An image with busybox's sh, httpd and wget.
    [Parameter(Mandatory)] [string] $Image,
    # The host port the site is published on (127.0.0.1 and every other host address).
    [ValidateRange(1, 65535)] [int] $HostPort = 18080,
    # Prefix of every object the runbook makes, so several runs can share a host.
    [string] $Prefix = 'smoke',
    # The text the site serves.
    [string] $Content = "hello from $(hostname)"
)

$network = "$Prefix-net"
$volume = "$Prefix-site"
$web = "$Prefix-web"
if (-not $PSCmdlet.ShouldProcess("network $network, volume $volume, container $web", 'Create and check a web stack')) { return }

try {
    New-ContainerNetwork $network -Confirm:$false | Out-Null
    New-ContainerVolume $volume -Label @{ purpose = 'smoke-test' } -Confirm:$false | Out-Null

    # The site goes into the volume from a short-lived container; the server then mounts it read-only.
    $escaped = $Content.Replace("'", "'\''")
    New-Container $Image -Command sh, -c, "printf '%s\n' '$escaped' > /www/index.html" -Volume "${volume}:/www" -Wait -Rm -Confirm:$false | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "writing the site into volume $volume failed ($LASTEXITCODE)" }
    New-Container $Image -Command httpd, -f, -p, 80, -h, /www -Name $web -Network $network -NetworkAlias www `
        -Volume "${volume}:/www:ro" -Publish "${HostPort}:80" -Start -Confirm:$false | Out-Null

    # By name, from a client on the same network (retried briefly while httpd starts).
    $byName = New-Container $Image -Network $network -Wait -Rm -Confirm:$false -Command sh, -c,
        "for i in `$(seq 50); do wget -qO- http://$web/ && exit 0; sleep 0.1; done; exit 1"
    $nameOk = $LASTEXITCODE -eq 0

    # Through the published port, from the host.
    $byPort = $null
    foreach ($attempt in 1..50) {
        try { $byPort = (Invoke-WebRequest "http://127.0.0.1:$HostPort/" -TimeoutSec 2).Content.TrimEnd("`n"); break }
        catch { Start-Sleep -Milliseconds 100 }
    }

    [pscustomobject]@{
        PSTypeName = 'ContainerOps.RunbookResult'
        Network    = $network
        Volume     = $volume
        ByName     = if ($nameOk) { ($byName -join "`n").TrimEnd() } else { $null }
        ByPort     = $byPort
        Passed     = $nameOk -and ($byName -join "`n").TrimEnd() -eq $Content -and $byPort -eq $Content
    }
}
finally {
    Get-Container -All -Name $web -ErrorAction Ignore | Remove-Container -Force -Confirm:$false
    Remove-ContainerVolume $volume -Force -Confirm:$false -ErrorAction Continue
    Remove-ContainerNetwork $network -Force -Confirm:$false -ErrorAction Continue
}
