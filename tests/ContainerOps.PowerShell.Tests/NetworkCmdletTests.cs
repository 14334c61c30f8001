using System.Management.Automation;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell.Tests;

public class NetworkCmdletTests : IDisposable
{
    private readonly Shell _sh = new();
    public void Dispose() => _sh.Dispose();

    [Fact]
    public void NewContainerNetworkWritesTheNetworkAndGetFindsIt()
    {
        var output = _sh.Run("New-ContainerNetwork app -Subnet 10.30.0.0/24 -Internal");
        var n = Assert.IsType<NetworkResource>(Assert.Single(output).BaseObject);
        Assert.Equal("app", n.Name);
        Assert.True(n.Internal);
        Assert.Equal("10.30.0.0/24", n.IPAM.Config[0].Subnet);
        Assert.Equal(["app"], _sh.Run("Get-ContainerNetwork a*").Select(o => ((NetworkResource)o.BaseObject).Name));
        Assert.Empty(_sh.Errors);
    }

    [Fact]
    public void GetPipesIntoRemoveByPropertyAndWhatIfRemovesNothing()
    {
        _sh.Run("New-ContainerNetwork one; New-ContainerNetwork two");
        _sh.Run("Get-ContainerNetwork one, two | Remove-ContainerNetwork -WhatIf");
        Assert.Equal(3, _sh.Client.Networks.Count);
        _sh.Run("Get-ContainerNetwork one, two | Remove-ContainerNetwork -Confirm:$false");
        Assert.Equal(["bridge"], _sh.Client.Networks.Select(n => n.Name));
        Assert.Empty(_sh.Errors);
    }

    [Fact]
    public void AMissingNetworkIsAnErrorRecordWithItsId()
    {
        _sh.Run("Get-ContainerNetwork nothere");
        var e = Assert.Single(_sh.Errors);
        Assert.Equal("NetworkNotFound", e.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.ObjectNotFound, e.CategoryInfo.Category);
    }

    [Fact]
    public void ContainersPipeIntoConnectContainerNetwork()
    {
        _sh.Client.Add("web");
        _sh.Client.Add("api");
        _sh.Run("New-ContainerNetwork backend; Get-Container | Connect-ContainerNetwork -Network backend");
        Assert.Empty(_sh.Errors);
        Assert.Equal(2, _sh.Client.Calls.Count(c => c.StartsWith("connect backend ")));
    }

    [Fact]
    public void NewContainerTakesNetworkPortsAndNames()
    {
        _sh.Run("New-Container busybox -Network app -NetworkAlias www -IPv4Address 10.30.0.9 -Publish 127.0.0.1:8080:80, 53/udp -PublishAll -AddHost db:10.0.0.5 -Dns 10.0.0.53");
        var r = _sh.Client.LastCreate!;
        Assert.Equal("app", r.HostConfig.NetworkMode);
        Assert.Equal(["www"], r.NetworkingConfig!.EndpointsConfig["app"].Aliases);
        Assert.Equal("10.30.0.9", r.NetworkingConfig.EndpointsConfig["app"].IPAMConfig!.IPv4Address);
        Assert.Equal("8080", r.HostConfig.PortBindings!["80/tcp"][0].HostPort);
        Assert.Equal("127.0.0.1", r.HostConfig.PortBindings["80/tcp"][0].HostIp);
        Assert.Equal("", r.HostConfig.PortBindings["53/udp"][0].HostPort);
        Assert.True(r.HostConfig.PublishAllPorts);
        Assert.Equal(["db:10.0.0.5"], r.HostConfig.ExtraHosts);
        Assert.Equal(["10.0.0.53"], r.HostConfig.Dns);
    }
}
