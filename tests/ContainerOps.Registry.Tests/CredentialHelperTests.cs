using System.Text;
using ContainerOps.Core.Api;
using ContainerOps.Images.Credentials;
using ContainerOps.TestSupport;

namespace ContainerOps.Registry.Tests;

/// <summary>
/// credsStore and credHelpers in config.json: the secret goes to the helper program through Docker's protocol and
/// the file keeps only an empty entry. The helper here is a small shell program that keeps what it is given in files.
/// </summary>
[Collection("credential helpers")]
public sealed class CredentialHelperTests : IDisposable
{
    private readonly TempDir _dir = new("co-credhelper");
    private readonly string? _path = Environment.GetEnvironmentVariable("PATH");

    public CredentialHelperTests()
    {
        var bin = Path.Combine(_dir.Path, "bin");
        Directory.CreateDirectory(bin);
        foreach (var name in new[] { "teststore", "testhelper" })
        {
            var script = Path.Combine(bin, "docker-credential-" + name);
            File.WriteAllText(script, $$"""
                #!/bin/sh
                store="{{_dir.Path}}/{{name}}"
                mkdir -p "$store"
                key() { printf '%s' "$1" | tr -c 'A-Za-z0-9' _; }
                case "$1" in
                  get) url=$(cat); f="$store/$(key "$url")"
                       if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
                  store) json=$(cat); url=$(printf '%s' "$json" | sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p')
                       printf '%s' "$json" > "$store/$(key "$url")" ;;
                  erase) url=$(cat); rm -f "$store/$(key "$url")" ;;
                  *) echo "unknown verb $1" >&2; exit 2 ;;
                esac
                """.Replace("\r", ""));
            File.SetUnixFileMode(script, (UnixFileMode)Convert.ToInt32("755", 8));
        }
        Environment.SetEnvironmentVariable("PATH", bin + ":" + _path);
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("PATH", _path);
        _dir.Dispose();
    }

    private string Config(string json)
    {
        var path = Path.Combine(_dir.Path, "config.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void CredsStore_keeps_the_secret_and_the_file_keeps_an_empty_entry()
    {
        var path = Config("{\"credsStore\": \"teststore\"}");
        var store = new DockerConfigCredentialStore(path);
        store.Store("127.0.0.1:5000", new RegistryCredential("alice", "s3cret:with:colons"));

        var file = File.ReadAllText(path);
        Assert.DoesNotContain("s3cret", file);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:s3cret:with:colons")), file);
        Assert.Contains("127.0.0.1:5000", file);
        Assert.Single(Directory.GetFiles(Path.Combine(_dir.Path, "teststore")));

        var back = new DockerConfigCredentialStore(path).Get("http://127.0.0.1:5000/v2/");
        Assert.Equal("alice", back!.Username);
        Assert.Equal("s3cret:with:colons", back.Secret);

        Assert.True(store.Erase("127.0.0.1:5000"));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir.Path, "teststore")));
        Assert.Null(store.Get("127.0.0.1:5000"));
    }

    [Fact]
    public void CredHelpers_for_one_registry_win_over_credsStore_and_Docker_Hub_uses_its_index_url()
    {
        var path = Config("{\"credsStore\": \"teststore\", \"credHelpers\": {\"registry.example:5000\": \"testhelper\"}}");
        var store = new DockerConfigCredentialStore(path);
        store.Store("registry.example:5000", new RegistryCredential("bob", "b-secret"));
        store.Store("docker.io", new RegistryCredential("hubuser", "hub-secret"));

        Assert.Single(Directory.GetFiles(Path.Combine(_dir.Path, "testhelper")));
        var hub = Assert.Single(Directory.GetFiles(Path.Combine(_dir.Path, "teststore")));
        Assert.Contains("https://index.docker.io/v1/", File.ReadAllText(hub));
        Assert.Equal("b-secret", store.Get("registry.example:5000")!.Secret);
        Assert.Equal("hub-secret", store.Get("index.docker.io")!.Secret);
    }

    [Fact]
    public void A_missing_helper_is_named_in_the_error()
    {
        var path = Config("{\"credsStore\": \"nosuchhelper\"}");
        var e = Assert.Throws<ContainerOpsException>(() => new DockerConfigCredentialStore(path).Get("127.0.0.1:5000"));
        Assert.Equal("CredentialHelperNotFound", e.Error.Id);
        Assert.Contains("docker-credential-nosuchhelper", e.Message);
    }

    [Fact]
    public void A_helper_name_that_is_a_path_is_refused()
    {
        var path = Config("{\"credsStore\": \"../../bin/sh\"}");
        var e = Assert.Throws<ContainerOpsException>(() => new DockerConfigCredentialStore(path).Get("127.0.0.1:5000"));
        Assert.Equal("InvalidCredentialHelper", e.Error.Id);
    }
}
