using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace CyberWatch.Vantages;

/// <summary>What a vantage point's name may be; the name is part of grain keys and of every measurement.</summary>
public static partial class VantageNames
{
    /// <summary>Letters, digits, dot, dash and underscore, starting with a letter or digit, at most 63 characters (sql/016 checks the same).</summary>
    public static bool IsValid(string? name) => name is not null && Pattern().IsMatch(name);

    /// <summary>The vantage part of a key "{vantage}/{rest}" or "{vantage}".</summary>
    public static string OfKey(string key)
    {
        var slash = key.IndexOf('/');
        return slash < 0 ? key : key[..slash];
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex Pattern();
}

/// <summary>Which vantage points measure a target: every one (now or later), or the named ones. In JSON: <c>"all"</c> or a list of names.</summary>
[GenerateSerializer, Immutable]
[JsonConverter(typeof(VantageSelectionJsonConverter))]
public sealed record VantageSelection(
    [property: Id(0)] bool All,
    [property: Id(1)] IReadOnlyList<string> Names)
{
    /// <summary>Every vantage point, present now or later.</summary>
    public static readonly VantageSelection Everywhere = new(true, []);

    /// <summary>Only the named vantage points (sorted, without duplicates).</summary>
    public static VantageSelection Only(IEnumerable<string> names) => new(false, [.. names.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)]);

    /// <summary>Whether <paramref name="vantage"/> measures the target.</summary>
    public bool Includes(string vantage) => All || Names.Contains(vantage, StringComparer.Ordinal);

    /// <summary>Same kind and the same names.</summary>
    public bool Equals(VantageSelection? other) =>
        other is not null && All == other.All && Names.SequenceEqual(other.Names, StringComparer.Ordinal);

    /// <inheritdoc/>
    public override int GetHashCode() => All ? 1 : Names.Aggregate(17, (h, n) => h * 31 + n.GetHashCode(StringComparison.Ordinal));
}

/// <summary>Reads <c>"all"</c> or a list of names; anything else is a JSON error (a 400 at the API).</summary>
public sealed class VantageSelectionJsonConverter : JsonConverter<VantageSelection>
{
    /// <inheritdoc/>
    public override VantageSelection Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return string.Equals(reader.GetString(), "all", StringComparison.OrdinalIgnoreCase)
                ? VantageSelection.Everywhere
                : throw new JsonException("vantages must be \"all\" or a list of vantage point names");
        }
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException("vantages must be \"all\" or a list of vantage point names");
        }
        var names = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String || names.Count >= 256)
            {
                throw new JsonException("vantages must be a list of at most 256 names");
            }
            names.Add(reader.GetString()!);
        }
        return VantageSelection.Only(names);
    }

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, VantageSelection value, JsonSerializerOptions options)
    {
        if (value.All)
        {
            writer.WriteStringValue("all");
            return;
        }
        writer.WriteStartArray();
        foreach (var name in value.Names)
        {
            writer.WriteStringValue(name);
        }
        writer.WriteEndArray();
    }
}
