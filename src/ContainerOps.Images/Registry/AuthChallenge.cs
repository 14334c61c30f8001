using System.Net.Http.Headers;

namespace ContainerOps.Images.Registry;

/// <summary>One <c>WWW-Authenticate</c> challenge: its scheme ("Bearer", "Basic") and parameters (realm, service, scope).</summary>
public sealed record AuthChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    public string? Realm => Parameters.GetValueOrDefault("realm");
    public string? Service => Parameters.GetValueOrDefault("service");
    public string? Scope => Parameters.GetValueOrDefault("scope");

    public static List<AuthChallenge> From(HttpResponseHeaders headers)
    {
        var list = new List<AuthChallenge>();
        foreach (var h in headers.WwwAuthenticate)
            list.Add(new AuthChallenge(h.Scheme, Parse(h.Parameter ?? "")));
        return list;
    }

    /// <summary>Parses <c>realm="https://auth",service="registry",scope="repository:a/b:pull,push"</c>
    /// (quoted values may hold commas and escaped quotes; unquoted values end at a comma).</summary>
    public static Dictionary<string, string> Parse(string parameters)
    {
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = 0;
        var s = parameters;
        while (i < s.Length)
        {
            while (i < s.Length && (s[i] == ',' || char.IsWhiteSpace(s[i]))) i++;
            var eq = s.IndexOf('=', i);
            if (eq < 0) break;
            var key = s[i..eq].Trim();
            i = eq + 1;
            while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
            string value;
            if (i < s.Length && s[i] == '"')
            {
                var sb = new System.Text.StringBuilder();
                i++;
                while (i < s.Length && s[i] != '"')
                {
                    if (s[i] == '\\' && i + 1 < s.Length) i++;
                    sb.Append(s[i++]);
                }
                i++; // closing quote
                value = sb.ToString();
            }
            else
            {
                var comma = s.IndexOf(',', i);
                if (comma < 0) comma = s.Length;
                value = s[i..comma].Trim();
                i = comma;
            }
            if (key.Length > 0) map[key] = value;
        }
        return map;
    }
}
