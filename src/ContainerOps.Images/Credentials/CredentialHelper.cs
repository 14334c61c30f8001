using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ContainerOps.Core.Api;

namespace ContainerOps.Images.Credentials;

/// <summary>
/// A Docker credential helper: the program <c>docker-credential-&lt;name&gt;</c> on PATH, named by <c>credsStore</c> or
/// <c>credHelpers</c> in config.json. Its protocol: <c>get</c> reads a server URL on stdin and prints
/// <c>{"ServerURL","Username","Secret"}</c> (or fails with "credentials not found"); <c>store</c> reads that JSON;
/// <c>erase</c> reads a server URL. Secrets never appear in the errors this class raises.
/// </summary>
public sealed partial class CredentialHelper
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public CredentialHelper(string name, string configPath)
    {
        if (!NamePattern().IsMatch(name))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidCredentialHelper",
                $"{configPath}: credential helper name '{name}' may only hold letters, digits, '.', '_' and '-'", configPath);
        Name = name;
        ConfigPath = configPath;
    }

    public string Name { get; }
    public string ConfigPath { get; }
    public string Program => "docker-credential-" + Name;

    public RegistryCredential? Get(string serverUrl)
    {
        var (code, output, error) = Run("get", serverUrl);
        if (code != 0)
        {
            if ((output + error).Contains("credentials not found", StringComparison.OrdinalIgnoreCase)) return null;
            throw Failed("get", code, error);
        }
        try
        {
            var doc = JsonNode.Parse(output) as JsonObject;
            var user = doc?["Username"]?.GetValue<string>();
            var secret = doc?["Secret"]?.GetValue<string>();
            return string.IsNullOrEmpty(secret) ? null : new RegistryCredential(user ?? "", secret);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new ContainerOpsException(ErrorKind.Internal, "CredentialHelperFailed",
                $"{Program} get printed something that is not a credential", ConfigPath);
        }
    }

    public void Store(string serverUrl, RegistryCredential credential)
    {
        var payload = new JsonObject { ["ServerURL"] = serverUrl, ["Username"] = credential.Username, ["Secret"] = credential.Secret }.ToJsonString();
        var (code, _, error) = Run("store", payload);
        if (code != 0) throw Failed("store", code, error);
    }

    public void Erase(string serverUrl)
    {
        var (code, output, error) = Run("erase", serverUrl);
        if (code != 0 && !(output + error).Contains("credentials not found", StringComparison.OrdinalIgnoreCase))
            throw Failed("erase", code, error);
    }

    private (int Code, string Output, string Error) Run(string verb, string input)
    {
        var psi = new ProcessStartInfo(Program)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add(verb);
        Process process;
        try { process = Process.Start(psi) ?? throw new InvalidOperationException(); }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "CredentialHelperNotFound",
                $"{ConfigPath} names the credential helper '{Name}', but {Program} is not on PATH", ConfigPath);
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            // The helpers read stdin to its end: the URL or the JSON, without a trailing newline, as Docker sends it.
            process.StandardInput.Write(input);
            process.StandardInput.Close();
            if (!process.WaitForExit(Timeout))
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "CredentialHelperTimeout",
                    $"{Program} {verb} did not finish within {Timeout.TotalSeconds:0} s", ConfigPath);
            }
            return (process.ExitCode, output.Result, error.Result);
        }
    }

    private ContainerOpsException Failed(string verb, int code, string error)
    {
        var first = error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        return new ContainerOpsException(ErrorKind.ResourceUnavailable, "CredentialHelperFailed",
            $"{Program} {verb} exited with {code}" + (first is null ? "" : $": {first}"), ConfigPath);
    }

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex NamePattern();
}
