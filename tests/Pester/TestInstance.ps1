# A private ContainerOps instance for a Pester suite: its own state root, run root and cgroup parent, so a suite
# runs beside any other instance and leaves nothing behind. Dot-source this file, then in BeforeAll:
#     $script:instance = New-TestInstance -Name images
# and in AfterAll:
#     Remove-TestInstance $instance
# The daemon starts on the first cmdlet call (the module starts one when none answers) and is stopped here.

# Why a suite that runs a private daemon cannot run on this machine, or $null: it needs Linux, root, a built daemon
# (CONTAINEROPS_DAEMON or bin/daemon), and the tools named in -Needs (busybox-static, docker-registry).
function Get-TestSkipReason {
    [CmdletBinding()]
    param([ValidateSet('busybox-static', 'docker-registry')] [string[]] $Needs = @())
    $repo = (Resolve-Path "$PSScriptRoot/../..").Path
    $daemon = if ($env:CONTAINEROPS_DAEMON) { $env:CONTAINEROPS_DAEMON } else { Join-Path $repo 'bin/daemon/containerops-daemon' }
    if (-not $IsLinux) { return 'needs Linux' }
    if ((id -u) -ne '0') { return 'needs root' }
    if (-not (Test-Path $daemon)) { return "no daemon at $daemon (./build.sh build)" }
    $files = @{ 'busybox-static' = '/bin/busybox'; 'docker-registry' = '/usr/bin/docker-registry' }
    foreach ($tool in $Needs) { if (-not (Test-Path $files[$tool])) { return "needs $tool" } }
    $null
}

function New-TestInstance {
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Name)
    $repo = (Resolve-Path "$PSScriptRoot/../..").Path
    $id = [guid]::NewGuid().ToString('n').Substring(0, 8)
    $instance = [pscustomobject]@{
        Repo         = $repo
        Temp         = Join-Path ([IO.Path]::GetTempPath()) "containerops-pester-$Name-$id"
        CgroupParent = "containerops-test-pester-$Name-$id"
        # Kernel names of this instance's networks: never the system daemon's bridge or nftables table.
        BridgeName   = "cop$($id.Substring(0, 6))"
        BridgePrefix = "cq$($id.Substring(0, 4))"
        NftTable     = "copester_$id"
        Saved        = @{}
    }
    foreach ($var in 'CONTAINEROPS_ROOT', 'CONTAINEROPS_RUN_ROOT', 'CONTAINEROPS_HOST', 'CONTAINEROPS_DAEMON', 'CONTAINEROPS_CGROUP_PARENT', 'CONTAINEROPS_CLUSTER_ADDRESS',
        'CONTAINEROPS_BRIDGE_NAME', 'CONTAINEROPS_BRIDGE_PREFIX', 'CONTAINEROPS_NFT_TABLE') {
        $instance.Saved[$var] = [Environment]::GetEnvironmentVariable($var)
    }
    $null = New-Item -ItemType Directory -Path "$($instance.Temp)/root", "$($instance.Temp)/run"
    $env:CONTAINEROPS_ROOT = "$($instance.Temp)/root"
    $env:CONTAINEROPS_RUN_ROOT = "$($instance.Temp)/run"
    $env:CONTAINEROPS_CGROUP_PARENT = $instance.CgroupParent
    $env:CONTAINEROPS_BRIDGE_NAME = $instance.BridgeName
    $env:CONTAINEROPS_BRIDGE_PREFIX = $instance.BridgePrefix
    $env:CONTAINEROPS_NFT_TABLE = $instance.NftTable
    # The cluster API's TLS port: a free one, not the default 6443 another daemon may hold.
    $env:CONTAINEROPS_CLUSTER_ADDRESS = '127.0.0.1:0'
    Remove-Item Env:CONTAINEROPS_HOST -ErrorAction Ignore
    if (-not $env:CONTAINEROPS_DAEMON) { $env:CONTAINEROPS_DAEMON = Join-Path $repo 'bin/daemon/containerops-daemon' }
    Import-Module (Join-Path $repo 'ContainerOps.psd1') -Force
    $instance
}

function Remove-TestInstance {
    [CmdletBinding()]
    param([Parameter(Mandatory)] [AllowNull()] $Instance)
    if (-not $Instance) { return }
    $tmp = $Instance.Temp
    Get-Container -All -ErrorAction SilentlyContinue | Remove-Container -Force -Confirm:$false -ErrorAction SilentlyContinue
    # The daemon records its pid in its run root; failing that, the daemon started with our roots.
    $pids = @(Get-ChildItem "$tmp/run" -Filter '*.pid' -File -ErrorAction Ignore | ForEach-Object { [int](Get-Content -Raw $_.FullName).Trim() })
    if ($pids.Count -eq 0) {
        $pids = @(Get-Process -ErrorAction Ignore | Where-Object { $_.Path -like '*containerops-daemon' -and $_.CommandLine -like "*$tmp*" } | ForEach-Object Id)
    }
    foreach ($p in $pids) {
        Stop-Process -Id $p -ErrorAction Ignore
        Wait-Process -Id $p -Timeout 10 -ErrorAction Ignore
        Stop-Process -Id $p -Force -ErrorAction Ignore
    }
    Remove-Module ContainerOps -ErrorAction Ignore
    # Whatever is still mounted under the temp dir (an overlay left by a failure) is unmounted before removal.
    Get-Content /proc/mounts | ForEach-Object { ($_ -split ' ')[1] } | Where-Object { $_ -like "$tmp*" } |
        Sort-Object -Descending | ForEach-Object { umount -l $_ 2>$null }
    Remove-Item -Recurse -Force $tmp -ErrorAction SilentlyContinue
    # Bridges and the nftables tables outlive the daemon (as containers' networks must); this instance's go now.
    Get-ChildItem /sys/class/net -ErrorAction Ignore | Where-Object {
        $_.Name -eq $Instance.BridgeName -or $_.Name.StartsWith($Instance.BridgePrefix) } |
        ForEach-Object { ip link del $_.Name 2>$null }
    nft delete table inet $Instance.NftTable 2>$null
    # The service proxy's table (`<table>_svc`): its rules outlive the daemon too, as services' traffic must.
    nft delete table inet "$($Instance.NftTable)_svc" 2>$null
    # Cgroups are removed empty, never recursively: the parents of the containers and of the build containers, and
    # the pods' tree (kubepods/<class>/pod<uid>) of pods the suite left to the cluster, deepest first — a directory
    # that still holds a process stays, and the leak check names it.
    # On cgroup v2 they sit in /sys/fs/cgroup itself, on v1 in each controller's hierarchy.
    @('/sys/fs/cgroup') + @(Get-ChildItem /sys/fs/cgroup -Directory -ErrorAction Ignore | ForEach-Object FullName) | ForEach-Object {
        $pods = Join-Path $_ "$($Instance.CgroupParent)/kubepods"
        if (Test-Path $pods) {
            @(Get-ChildItem $pods -Directory -Recurse -ErrorAction Ignore | ForEach-Object FullName) + $pods |
                Sort-Object { $_.Length } -Descending | ForEach-Object { try { [IO.Directory]::Delete($_) } catch { } }
        }
        foreach ($parent in "$($Instance.CgroupParent)-build", $Instance.CgroupParent) {
            $dir = Join-Path $_ $parent
            if (Test-Path $dir) { try { [IO.Directory]::Delete($dir) } catch { } }
        }
    }
    foreach ($var in $Instance.Saved.Keys) { [Environment]::SetEnvironmentVariable($var, $Instance.Saved[$var]) }
}
