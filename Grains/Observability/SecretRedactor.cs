using System.Text.RegularExpressions;

namespace CyberWatch.Observability;

/// <summary>
/// Removes secrets from text before it is written to any log: passwords in Npgsql/StackExchange
/// connection strings, the password part of URLs (postgresql://user:pass@, redis://:pass@), secret
/// query parameters, bearer tokens, JSON or key=value pairs whose key names a secret, and the literal
/// values of secret environment variables (an API key logged on its own has no pattern to match).
/// </summary>
public sealed partial class SecretRedactor
{
    public const string Mask = "***";

    // Values shorter than this are not masked literally: "1" or "on" would mask half of every line.
    private const int MinimumLiteralLength = 6;

    private static readonly string[] SecretNameParts = ["PASSWORD", "PASSWD", "TOKEN", "SECRET", "API_KEY", "APIKEY"];

    private readonly string[] literals;

    public SecretRedactor(IEnumerable<string> knownSecrets)
    {
        literals = knownSecrets
            .Where(s => !string.IsNullOrWhiteSpace(s) && s.Length >= MinimumLiteralLength)
            .Distinct(StringComparer.Ordinal)
            .OrderByDescending(s => s.Length)
            .ToArray();
    }

    /// <summary>A redactor that also knows the values of this process's secret environment variables.</summary>
    public static SecretRedactor FromEnvironment()
    {
        var secrets = new List<string>();
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string name && entry.Value is string value)
            {
                secrets.AddRange(SecretsOfVariable(name, value));
            }
        }
        return new SecretRedactor(secrets);
    }

    /// <summary>The secrets a variable holds: its whole value when its name says so, else passwords inside it.</summary>
    public static IEnumerable<string> SecretsOfVariable(string name, string value)
    {
        var upper = name.ToUpperInvariant();
        if (SecretNameParts.Any(upper.Contains) || upper.EndsWith("_KEY", StringComparison.Ordinal))
        {
            yield return value;
            yield break;
        }
        foreach (Match match in UrlPassword().Matches(value))
        {
            yield return Uri.UnescapeDataString(match.Groups["password"].Value);
            yield return match.Groups["password"].Value;
        }
        foreach (Match match in KeyValueSecret().Matches(value))
        {
            yield return match.Groups["value"].Value;
        }
    }

    /// <summary>True when a structured property's name says its value is a secret (Password, ApiKey, access_token...).</summary>
    public static bool IsSecretName(string name)
    {
        var upper = name.Replace("-", "_").ToUpperInvariant();
        return SecretNameParts.Any(upper.Contains) || upper is "PWD" || upper.EndsWith("_PWD") || upper.EndsWith("KEY") && upper.Contains("API");
    }

    public string Redact(string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text;
        }
        foreach (var literal in literals)
        {
            if (text.Contains(literal, StringComparison.Ordinal))
            {
                text = text.Replace(literal, Mask, StringComparison.Ordinal);
            }
        }
        text = UrlPassword().Replace(text, m => $"{m.Groups["scheme"].Value}{m.Groups["user"].Value}:{Mask}@");
        text = KeyValueSecret().Replace(text, m => $"{m.Groups["key"].Value}{m.Groups["separator"].Value}{Mask}");
        text = BearerToken().Replace(text, m => $"{m.Groups["scheme"].Value} {Mask}");
        return text;
    }

    // scheme://user:password@ — the password may hold anything but '@', '/' and white space.
    [GeneratedRegex(@"(?<scheme>\b[a-z][a-z0-9+.\-]*://)(?<user>[^:@/\s]*):(?<password>[^@/\s]+)@", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex UrlPassword();

    // Password=...; in connection strings, ?password=... in URLs, "api_key": "..." in JSON, token: ... in text.
    [GeneratedRegex("""(?<key>\b(?:password|passwd|pwd|secret|client[_\-]?secret|(?:access[_\-]?|auth[_\-]?|api[_\-]?|refresh[_\-]?|bearer[_\-]?)?token|api[_\-]?key|apikey|x-api-key)"?)(?<separator>\s*[=:]\s*"?)(?<value>[^;,&\s"'}\]]+)""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex KeyValueSecret();

    [GeneratedRegex(@"\b(?<scheme>Bearer|Basic|Token)\s+(?<value>[A-Za-z0-9\-._~+/]{8,}=*)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex BearerToken();
}
