using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Text;
using System.Text.Json;

namespace CyberWatch.Measurement.Parsing;

/// <summary>Typed reads of property values from scamper JSON, each reporting a readable problem instead of throwing.</summary>
/// <remarks>Each Read* is called with the reader on a property name and leaves it on that property's value.</remarks>
internal static class ScamperJsonReading
{
    public static bool TryReadInt(ref Utf8JsonReader reader, string name, int min, int max, out int value, [NotNullWhen(false)] out string? problem)
    {
        value = 0;
        reader.Read();
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out value))
        {
            problem = $"{name} is not an integer ({Describe(ref reader)})";
            return false;
        }
        if (value < min || value > max)
        {
            problem = $"{name} {value} is outside {min}..{max}";
            return false;
        }
        problem = null;
        return true;
    }

    public static bool TryReadLong(ref Utf8JsonReader reader, string name, out long value, [NotNullWhen(false)] out string? problem)
    {
        value = 0;
        reader.Read();
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out value) || value < 0)
        {
            problem = $"{name} is not a non-negative integer ({Describe(ref reader)})";
            return false;
        }
        problem = null;
        return true;
    }

    public static bool TryReadMilliseconds(ref Utf8JsonReader reader, string name, out double value, [NotNullWhen(false)] out string? problem)
    {
        value = 0;
        reader.Read();
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out value) || !double.IsFinite(value) || value < 0)
        {
            problem = $"{name} is not a non-negative number of milliseconds ({Describe(ref reader)})";
            return false;
        }
        problem = null;
        return true;
    }

    public static bool TryReadAddress(ref Utf8JsonReader reader, string name, [NotNullWhen(true)] out IPAddress? address, [NotNullWhen(false)] out string? problem)
    {
        address = null;
        reader.Read();
        if (reader.TokenType != JsonTokenType.String)
        {
            problem = $"{name} is not a string ({Describe(ref reader)})";
            return false;
        }
        if (reader.ValueIsEscaped ? AddressText.TryParse(SafeString(ref reader).AsSpan(), out address) : AddressText.TryParse(reader.ValueSpan, out address))
        {
            problem = null;
            return true;
        }
        problem = $"{name} '{Truncate(SafeString(ref reader))}' is not an IP address";
        return false;
    }

    /// <summary>Reads the <c>{"sec":..,"usec":..}</c> timestamps scamper writes.</summary>
    public static bool TryReadTimestamp(ref Utf8JsonReader reader, string name, out DateTimeOffset value, [NotNullWhen(false)] out string? problem)
    {
        value = default;
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            problem = $"{name} is not an object ({Describe(ref reader)})";
            return false;
        }
        long? sec = null;
        int usec = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("sec"u8))
            {
                if (!TryReadLong(ref reader, $"{name}.sec", out var s, out problem))
                    return false;
                sec = s;
            }
            else if (reader.ValueTextEquals("usec"u8))
            {
                if (!TryReadInt(ref reader, $"{name}.usec", 0, 999_999, out usec, out problem))
                    return false;
            }
            else
            {
                reader.Skip();
            }
        }
        if (sec is null || sec > 253_402_300_799) // DateTimeOffset.MaxValue in Unix seconds
        {
            problem = $"{name} has no usable sec";
            return false;
        }
        value = DateTimeOffset.FromUnixTimeSeconds(sec.Value).AddTicks(usec * TimeSpan.TicksPerMicrosecond);
        problem = null;
        return true;
    }

    public static string Describe(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.String => $"\"{Truncate(SafeString(ref reader))}\"",
        JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        var other => other.ToString().ToLowerInvariant(),
    };

    public static string Truncate(string? text) =>
        text is null ? "" : text.Length <= 60 ? text : string.Concat(text.AsSpan(0, 60), "...");

    /// <summary>Reads the string value of the top-level <c>type</c> property, the first thing scamper writes in every object.</summary>
    public static string TypeName(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.String ? Truncate(SafeString(ref reader)) : Describe(ref reader);

    /// <summary>
    /// The reader checks string contents only when asked for a string and throws on invalid UTF-8; text shown in a
    /// failure reason must come out even then, with the broken bytes replaced.
    /// </summary>
    public static string SafeString(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped)
        {
            try
            {
                return reader.GetString() ?? "";
            }
            catch (InvalidOperationException)
            {
                // fall through to the raw bytes
            }
        }
        return Encoding.UTF8.GetString(reader.ValueSpan);
    }
}
