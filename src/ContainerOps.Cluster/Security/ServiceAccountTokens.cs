using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;
using ContainerOps.Core.IO;

namespace ContainerOps.Cluster.Security;

/// <summary>
/// Signs and checks the cluster's service account tokens: JSON Web Tokens signed ES256 with a key made on first use
/// and kept beside the cluster's certificates (0600). The token is written here rather than with a JWT library: it is
/// three base64url parts and one ECDSA signature, which System.Security.Cryptography makes in the P1363 form JWS asks
/// for, and the libraries' reflection-based JSON does not suit the AOT-compiled daemon.
/// </summary>
public sealed class ServiceAccountTokens : IDisposable
{
    /// <summary>The issuer the API server names by default: its own in-cluster address. It is also the audience a
    /// token gets when its request names none, and the one the API server accepts.</summary>
    public const string DefaultIssuer = "https://kubernetes.default.svc.cluster.local";

    private readonly string _keyPath;
    private readonly Lazy<ECDsa> _key;

    public ServiceAccountTokens(string keyPath, string issuer = DefaultIssuer)
    {
        _keyPath = keyPath;
        Issuer = issuer;
        _key = new Lazy<ECDsa>(LoadOrCreate, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string Issuer { get; }

    /// <summary>The key's id in each token's header: the SHA-256 of its public key, as the API server derives it.</summary>
    public string KeyId => Base64Url.EncodeToString(SHA256.HashData(_key.Value.ExportSubjectPublicKeyInfo()));

    private ECDsa LoadOrCreate()
    {
        var key = ECDsa.Create();
        if (File.Exists(_keyPath))
        {
            key.ImportFromPem(File.ReadAllText(_keyPath));
            return key;
        }
        key.GenerateKey(ECCurve.NamedCurves.nistP256);
        Directory.CreateDirectory(Path.GetDirectoryName(_keyPath)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        AtomicFile.WriteAllText(_keyPath, key.ExportPkcs8PrivateKeyPem());
        File.SetUnixFileMode(_keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return key;
    }

    /// <summary>A signed token of <paramref name="claims"/>, with this issuer's `iss`.</summary>
    public string Sign(JsonObject claims)
    {
        claims["iss"] = Issuer;
        var header = new JsonObject { ["alg"] = "ES256", ["kid"] = KeyId };
        var signed = Part(header) + "." + Part(claims);
        var signature = _key.Value.SignData(Encoding.ASCII.GetBytes(signed), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signed + "." + Base64Url.EncodeToString(signature);

        static string Part(JsonObject o) => Base64Url.EncodeToString(Json.Bytes(o));
    }

    /// <summary>The claims of a token this issuer signed and that holds at <paramref name="now"/> (issued, not
    /// expired); null, with why, for any other.</summary>
    public JsonObject? Verify(string token, DateTimeOffset now, out string problem)
    {
        problem = "";
        var parts = token.Split('.');
        if (parts.Length != 3) { problem = "not a JSON Web Token"; return null; }
        JsonObject header, claims;
        byte[] signature;
        try
        {
            header = JsonNode.Parse(Base64Url.DecodeFromChars(parts[0]))?.AsObject() ?? throw new FormatException();
            claims = JsonNode.Parse(Base64Url.DecodeFromChars(parts[1]))?.AsObject() ?? throw new FormatException();
            signature = Base64Url.DecodeFromChars(parts[2]);
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException)
        {
            problem = "not a JSON Web Token";
            return null;
        }
        if (Json.Str(header["alg"]) != "ES256" || Json.Str(claims["iss"]) != Issuer) { problem = "not issued by this cluster"; return null; }
        if (!_key.Value.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
        {
            problem = "invalid signature";
            return null;
        }
        var seconds = now.ToUnixTimeSeconds();
        if (Seconds(claims["exp"]) is not { } exp || seconds >= exp) { problem = "token has expired"; return null; }
        // A minute's leeway for a token made on a clock a little ahead.
        if (Seconds(claims["nbf"]) is { } nbf && seconds + 60 < nbf) { problem = "token is not valid yet"; return null; }
        return claims;
    }

    /// <summary>The public key as a JSON Web Key Set (/openid/v1/jwks), for a party that checks tokens itself.</summary>
    public JsonObject Jwks()
    {
        var p = _key.Value.ExportParameters(includePrivateParameters: false);
        return new JsonObject
        {
            ["keys"] = new JsonArray(new JsonObject
            {
                ["use"] = "sig", ["kty"] = "EC", ["kid"] = KeyId, ["crv"] = "P-256", ["alg"] = "ES256",
                ["x"] = Base64Url.EncodeToString(p.Q.X), ["y"] = Base64Url.EncodeToString(p.Q.Y),
            }),
        };
    }

    /// <summary>The OpenID provider configuration (/.well-known/openid-configuration) that points to <see cref="Jwks"/>.</summary>
    public JsonObject OpenIdConfiguration() => new()
    {
        ["issuer"] = Issuer,
        ["jwks_uri"] = Issuer + "/openid/v1/jwks",
        ["response_types_supported"] = new JsonArray("id_token"),
        ["subject_types_supported"] = new JsonArray("public"),
        ["id_token_signing_alg_values_supported"] = new JsonArray("ES256"),
    };

    private static long? Seconds(JsonNode? node) => node is JsonValue v && v.TryGetValue<long>(out var n) ? n : null;

    public void Dispose()
    {
        if (_key.IsValueCreated) _key.Value.Dispose();
    }
}
