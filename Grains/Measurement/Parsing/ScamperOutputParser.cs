using System.Buffers;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;

namespace CyberWatch.Measurement.Parsing;

/// <summary>The kind of one line of scamper output.</summary>
public enum ScamperLineKind
{
    /// <summary>Blank, or an attach-mode control line (<c>OK</c>, <c>MORE</c>, <c>DATA n</c>).</summary>
    Control,

    /// <summary>An attach-mode <c>ERR</c> line: scamper refused a command.</summary>
    Error,

    /// <summary>Text that is neither JSON nor part of the attach protocol.</summary>
    Unexpected,

    /// <summary>A JSON object whose type cannot be read (cut off or broken before it).</summary>
    UnknownJson,

    /// <summary>A <c>trace</c> object.</summary>
    Trace,

    /// <summary>A <c>ping</c> object.</summary>
    Ping,

    /// <summary>Any other object (<c>cycle-start</c>, <c>cycle-stop</c>, <c>tracelb</c>, ...), not used here.</summary>
    OtherJson,
}

/// <summary>Everything found in a stretch of scamper output.</summary>
/// <param name="Traces">One result per <c>trace</c> object, failed ones included.</param>
/// <param name="Pings">One result per <c>ping</c> object, failed ones included.</param>
/// <param name="Problems">Lines that belong to no measurement: <c>ERR</c> replies, stray text, JSON of unreadable type.</param>
public sealed record ScamperOutput(ImmutableArray<TraceResult> Traces, ImmutableArray<PingResult> Pings, ImmutableArray<string> Problems);

/// <summary>
/// Splits scamper output — <c>scamper -O json</c> stdout or an attach-mode session with <c>attach format json</c> —
/// into its objects, one per line, and parses the traces and pings; cycle markers and other types are skipped.
/// </summary>
public static class ScamperOutputParser
{
    public static ScamperOutput Parse(string? output, ProbeContext context)
    {
        var traces = ImmutableArray.CreateBuilder<TraceResult>();
        var pings = ImmutableArray.CreateBuilder<PingResult>();
        var problems = ImmutableArray.CreateBuilder<string>();
        byte[] buffer = [];
        int lineNumber = 0;
        try
        {
            foreach (var line in (output ?? "").AsSpan().EnumerateLines())
            {
                lineNumber++;
                int needed = Encoding.UTF8.GetMaxByteCount(line.Length);
                if (buffer.Length < needed)
                {
                    if (buffer.Length > 0)
                        ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent(needed);
                }
                var utf8 = buffer.AsSpan(0, Encoding.UTF8.GetBytes(line, buffer));
                switch (Classify(utf8))
                {
                    case ScamperLineKind.Trace:
                        traces.Add(ScamperTraceParser.Parse(utf8, context, line.ToString()));
                        break;
                    case ScamperLineKind.Ping:
                        pings.Add(ScamperPingParser.Parse(utf8, context, line.ToString()));
                        break;
                    case ScamperLineKind.Error:
                        problems.Add($"line {lineNumber}: scamper refused a command: {ScamperJsonReading.Truncate(line.Trim().ToString())}");
                        break;
                    case ScamperLineKind.Unexpected:
                        problems.Add($"line {lineNumber}: not scamper JSON or attach protocol: '{ScamperJsonReading.Truncate(line.Trim().ToString())}'");
                        break;
                    case ScamperLineKind.UnknownJson:
                        problems.Add($"line {lineNumber}: {DescribeUnreadable(utf8)}");
                        break;
                }
            }
        }
        finally
        {
            if (buffer.Length > 0)
                ArrayPool<byte>.Shared.Return(buffer);
        }
        return new ScamperOutput(traces.DrainToImmutable(), pings.DrainToImmutable(), problems.DrainToImmutable());
    }

    /// <summary>Classifies one line by its leading bytes and its <c>type</c>, without parsing the rest of the object.</summary>
    public static ScamperLineKind Classify(ReadOnlySpan<byte> line)
    {
        line = line.Trim(" \t\r\n"u8);
        if (line.IsEmpty)
            return ScamperLineKind.Control;
        if (line[0] != (byte)'{')
        {
            if (line.SequenceEqual("OK"u8) || line.StartsWith("OK "u8) || line.SequenceEqual("MORE"u8) || IsDataLine(line))
                return ScamperLineKind.Control;
            return line.StartsWith("ERR"u8) ? ScamperLineKind.Error : ScamperLineKind.Unexpected;
        }

        // Told more input may follow, the reader stops quietly at a cut instead of throwing,
        // so a line truncated after its type is still classified.
        var reader = new Utf8JsonReader(line, isFinalBlock: false, state: default);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return ScamperLineKind.UnknownJson;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!reader.ValueTextEquals("type"u8))
                {
                    if (!reader.TrySkip())
                        return ScamperLineKind.UnknownJson;
                    continue;
                }
                if (!reader.Read() || reader.TokenType != JsonTokenType.String)
                    return ScamperLineKind.UnknownJson;
                if (reader.ValueTextEquals("trace"u8))
                    return ScamperLineKind.Trace;
                if (reader.ValueTextEquals("ping"u8))
                    return ScamperLineKind.Ping;
                return ScamperLineKind.OtherJson;
            }
            return ScamperLineKind.UnknownJson;
        }
        catch (JsonException)
        {
            return ScamperLineKind.UnknownJson;
        }
    }

    private static bool IsDataLine(ReadOnlySpan<byte> line)
    {
        if (!line.StartsWith("DATA "u8) || line.Length == 5)
            return false;
        foreach (var b in line[5..])
        {
            if (b is < (byte)'0' or > (byte)'9')
                return false;
        }
        return true;
    }

    private static string DescribeUnreadable(ReadOnlySpan<byte> line)
    {
        var reader = new Utf8JsonReader(line);
        try
        {
            while (reader.Read())
            {
            }
            return "JSON object without a type";
        }
        catch (JsonException e)
        {
            return JsonProblem.Describe("scamper", e, line);
        }
    }
}
