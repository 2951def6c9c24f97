using System.Text.Json;

namespace CyberWatch.Measurement.Parsing;

/// <summary>Turns a reader exception into a reason a person can act on, telling a cut-off output from a broken one.</summary>
internal static class JsonProblem
{
    public static string Describe(string what, JsonException e, ReadOnlySpan<byte> json)
    {
        var content = json.TrimEnd(" \t\r\n"u8);
        if (content.IsEmpty)
            return $"empty {what} output";
        if (EndsEarly(content))
            return $"truncated {what} JSON: the input ends after {content.Length} bytes inside an unfinished object";
        return $"malformed {what} JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {FirstSentence(e.Message)}";
    }

    /// <summary>
    /// A reader told more input may follow stops quietly where a cut-off document ends, but still throws on
    /// text that could never be JSON; that separates "truncated" from "garbage".
    /// </summary>
    private static bool EndsEarly(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, isFinalBlock: false, state: default);
        try
        {
            while (reader.Read())
            {
                if (reader.CurrentDepth == 0 && reader.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray)
                    return false;
            }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string FirstSentence(string message)
    {
        int end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message : message[..end];
    }
}
