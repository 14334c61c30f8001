#requires -Version 7.0
# Services through the cmdlets (Set-, Get-, Remove-ClusterService, Get-ClusterEndpoint, Resolve-ClusterName) with real
# pods: a deployment of two busybox httpd pods behind a service, its endpoints, its name in the cluster DNS, HTTP to
# its cluster IP and node port from the host, and its rules gone with it. Needs root, a build (./build.sh build) and
# busybox-static; skipped with the reason otherwise.

BeforeDiscovery {
    . "$PSScriptRoot/TestInstance.ps1"
    $script:skipReason = Get-TestSkipReason -Needs busybox-static
}

Describe 'Services through the cmdlets' -Skip:([bool]$skipReason) {
    BeforeAll {
        . "$PSScriptRoot/TestInstance.ps1"
        $script:saved = @{ Pods = $env:CONTAINEROPS_POD_SUBNET; Services = $env:CONTAINEROPS_SERVICE_CIDR }
        $env:CONTAINEROPS_POD_SUBNET = "10.$(Get-Random -Minimum 200 -Maximum 250).$(Get-Random -Minimum 1 -Maximum 250).0/24"
        # A service range of its own (never 10.96.0.0/24, where other daemons keep kube-dns and kubernetes), so that no
        # other instance's rules answer for these cluster IPs.
        $env:CONTAINEROPS_SERVICE_CIDR = "10.$(Get-Random -Minimum 97 -Maximum 112).$(Get-Random -Minimum 0 -Maximum 256).0/24"
        $script:instance = New-TestInstance -Name svc
        & (Join-Path $instance.Repo 'examples/make-busybox-rootfs.sh') "$($instance.Temp)/busybox.tar"
        # A web server that answers with its pod's name.
        $null = Import-ContainerImage -Path "$($instance.Temp)/busybox.tar" -Reference 'pester-httpd:1' -ErrorAction Stop `
            -Change 'CMD ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]'
        $null = Set-Deployment -Name web -Image pester-httpd:1 -Replicas 2 -Port 8080 -ErrorAction Stop
        $null = Wait-Deployment web -TimeoutSec 120 -ErrorAction Stop
        $script:pods = @(Get-Pod -Selector app=web | ForEach-Object Name | Sort-Object)

        # Waits until $Condition holds (a script block), for at most $Seconds.
        function script:Wait-Until([scriptblock] $Condition, [int] $Seconds = 30) {
            $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
            while (-not (& $Condition)) {
                if ([DateTime]::UtcNow -gt $deadline) { return $false }
                Start-Sleep -Milliseconds 200
            }
            $true
        }
        # GETs a URL on a new connection each time (so each is balanced on its own); the answer's text, trimmed.
        function script:Get-Text([string] $Url) {
            (Invoke-WebRequest -Uri $Url -DisableKeepAlive -TimeoutSec 5 -ErrorAction Stop).Content.Trim()
        }
    }

    AfterAll {
        Get-Deployment -ErrorAction SilentlyContinue | Set-Deployment -Replicas 0 -ErrorAction SilentlyContinue | Out-Null
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ((Get-Pod -AllNamespaces -ErrorAction SilentlyContinue) -and [DateTime]::UtcNow -lt $deadline) {
            Get-Pod -AllNamespaces -ErrorAction SilentlyContinue | Remove-Pod -GracePeriod 0 -Force -ErrorAction SilentlyContinue
            Start-Sleep -Milliseconds 300
        }
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        while ((Get-ChildItem "$($instance.Temp)/run/pods" -Directory -ErrorAction Ignore) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        Remove-TestInstance $instance
        $env:CONTAINEROPS_POD_SUBNET = $saved.Pods
        $env:CONTAINEROPS_SERVICE_CIDR = $saved.Services
    }

    It 'exposes a deployment as kubectl expose does and shows the service as kubectl get svc does' {
        $svc = Set-ClusterService -Deployment web -Port 'http=80:8080'
        $svc.PSObject.TypeNames | Should -Contain 'ContainerOps.PowerShell.ServiceInfo'
        $svc.Type | Should -Be 'ClusterIP'
        $svc.ClusterIP | Should -BeLike (($env:CONTAINEROPS_SERVICE_CIDR -replace '0/24$', '') + '*')
        $svc.Selector | Should -Be 'app=web'
        Wait-Until { (Get-ClusterService web).Endpoints -eq 2 } | Should -BeTrue
        $table = Get-ClusterService web | Out-String
        $table | Should -Match 'NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+ENDPOINTS\s+AGE'
        $table | Should -Match "web\s+ClusterIP\s+$([regex]::Escape($svc.ClusterIP))\s+<none>\s+80/TCP\s+2"
    }

    It 'lists the ready endpoints with their pods' {
        $endpoints = @(Get-ClusterService web | Get-ClusterEndpoint)
        $endpoints.Count | Should -Be 2
        $endpoints | ForEach-Object { $_.Ready | Should -BeTrue }
        ($endpoints.Pod | Sort-Object) | Should -Be $pods
        $endpoints[0].Ports | Should -Be @('http:8080/TCP')
        Get-ClusterEndpoint nothing -ErrorAction SilentlyContinue -ErrorVariable err
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'resolves the service name as a pod of the namespace would, through the cluster DNS' {
        $ip = (Get-ClusterService web).ClusterIP
        foreach ($name in 'web', 'web.default', 'web.default.svc.cluster.local') {
            $a = @(Resolve-ClusterName $name)
            $a.Count | Should -Be 1
            $a[0].Type | Should -Be 'A'
            $a[0].Name | Should -Be 'web.default.svc.cluster.local'
            $a[0].Data | Should -Be $ip
            $a[0].TTL | Should -BeGreaterThan 0
        }
        # The same answer over TCP (the kube-dns service's TCP port).
        (Resolve-ClusterName web -Tcp).Data | Should -Be $ip
        $srv = @(Resolve-ClusterName _http._tcp.web)
        $srv[0].Type | Should -Be 'SRV'
        $srv[0].Data | Should -Be '0 100 80 web.default.svc.cluster.local'
        (Resolve-ClusterName $ip).Data | Should -Be 'web.default.svc.cluster.local'
        # From another namespace the short name is not this service (the bare name last goes to the host's resolvers,
        # which may not know it or fail).
        Resolve-ClusterName web -Namespace other -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Match '^(ClusterNameNotFound|ClusterDnsFailed)'
        (Resolve-ClusterName web.default -Namespace other).Data | Should -Be $ip
    }

    It 'answers HTTP on the cluster IP from the host, spread over both pods' {
        $ip = (Get-ClusterService web).ClusterIP
        $answers = 1..30 | ForEach-Object { Get-Text "http://$ip/" }
        ($answers | Sort-Object -Unique) | Should -Be $pods
    }

    It 'takes deployments from the pipeline, and changes a service in place to a NodePort that answers on 127.0.0.1' {
        $np = Get-Deployment web | Set-ClusterService -Name web-np -Port 80:8080
        $np.Name | Should -Be 'web-np'
        $np = Set-ClusterService web-np -Type NodePort -SessionAffinity ClientIP
        $np.Type | Should -Be 'NodePort'
        $np.SessionAffinity | Should -Be 'ClientIP'
        $nodePort = [int](($np.Ports -split '[:/]')[1])
        $nodePort | Should -BeGreaterOrEqual 30000
        Wait-Until { try { (Get-Text "http://127.0.0.1:$nodePort/") -in $pods } catch { $false } } | Should -BeTrue
        # Affinity: every request from this host lands on the same pod.
        $answers = 1..10 | ForEach-Object { Get-Text "http://127.0.0.1:$nodePort/" }
        @($answers | Sort-Object -Unique).Count | Should -Be 1
    }

    It 'removes services through the pipeline, with their rules' {
        Remove-ClusterService web -WhatIf
        Get-ClusterService web | Should -Not -BeNullOrEmpty
        Get-ClusterService web* | Remove-ClusterService -Force
        Get-ClusterService web -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ServiceNotFound*'
        $table = "$($instance.NftTable)_svc"
        Wait-Until { -not ((nft list table inet $table 2>$null) -match 'default/web') } | Should -BeTrue
    }

    It 'refuses a bad port with an error that names it' {
        Set-ClusterService -Name bad -Selector @{ app = 'web' } -Port '80:99999' -ErrorAction SilentlyContinue -ErrorVariable err
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ServicePortInvalid*'
        $err[0].Exception.Message | Should -Match '99999'
        Get-ClusterService bad -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}
