using System.Globalization;
using System.Text;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;
using Serilog.Formatting.Json;

namespace CyberWatch.Observability;

/// <summary>
/// One JSON object per line: timestamp, level, component, logger, message, request_id, then every
/// other property of the event in snake_case (target, measurement_id, duration, outcome, ...) and the
/// exception. Every string goes through the <see cref="SecretRedactor"/> before it is written.
/// </summary>
public sealed class JsonLinesFormatter(string component, SecretRedactor redactor) : ITextFormatter
{
    // Properties that become the fixed fields above, or that only repeat what those say.
    private static readonly HashSet<string> Reserved = new(StringComparer.Ordinal)
    {
        "SourceContext", "RequestId", "EventId", "{OriginalFormat}",
    };

    private static readonly MessageTemplateTextFormatter LiteralMessage = new("{Message:l}", CultureInfo.InvariantCulture);

    public void Format(LogEvent logEvent, TextWriter output)
    {
        var line = new StringBuilder(256);
        line.Append("{\"timestamp\":\"").Append(logEvent.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        line.Append("\",\"level\":\"").Append(LevelName(logEvent.Level));
        line.Append("\",\"component\":");
        AppendString(line, component);
        line.Append(",\"logger\":");
        AppendString(line, logEvent.Properties.TryGetValue("SourceContext", out var source) ? ScalarText(source) : null);
        line.Append(",\"message\":");
        AppendString(line, redactor.Redact(RenderMessage(logEvent)));
        line.Append(",\"request_id\":");
        AppendString(line, logEvent.Properties.TryGetValue("RequestId", out var request) ? ScalarText(request) : null);
        if (logEvent.Properties.TryGetValue("EventId", out var eventId) && eventId is StructureValue structure
            && structure.Properties.FirstOrDefault(p => p.Name == "Name")?.Value is ScalarValue { Value: string eventName })
        {
            line.Append(",\"event\":");
            AppendString(line, eventName);
        }
        foreach (var (name, value) in logEvent.Properties)
        {
            if (Reserved.Contains(name))
            {
                continue;
            }
            line.Append(',');
            AppendString(line, SnakeCase(name));
            line.Append(':');
            AppendValue(line, value, SecretRedactor.IsSecretName(name));
        }
        if (logEvent.Exception is { } exception)
        {
            line.Append(",\"exception\":");
            AppendString(line, redactor.Redact(exception.ToString()));
        }
        line.Append('}');
        output.WriteLine(line.ToString());
    }

    public static string LevelName(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose => "trace",
        LogEventLevel.Debug => "debug",
        LogEventLevel.Information => "info",
        LogEventLevel.Warning => "warning",
        LogEventLevel.Error => "error",
        _ => "fatal",
    };

    /// <summary>MeasurementId → measurement_id, RTTMs → rtt_ms; names already in snake_case stay.</summary>
    public static string SnakeCase(string name)
    {
        var result = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                var previousIsLowerOrDigit = i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]));
                var endsAcronym = i > 0 && char.IsUpper(name[i - 1]) && i + 1 < name.Length && char.IsLower(name[i + 1]);
                if (previousIsLowerOrDigit || endsAcronym)
                {
                    result.Append('_');
                }
                result.Append(char.ToLowerInvariant(c));
            }
            else
            {
                result.Append(c == '-' || c == '.' ? '_' : c);
            }
        }
        return result.ToString();
    }

    private void AppendValue(StringBuilder line, LogEventPropertyValue value, bool secret)
    {
        if (secret)
        {
            AppendString(line, SecretRedactor.Mask);
            return;
        }
        switch (value)
        {
            case ScalarValue { Value: null }:
                line.Append("null");
                break;
            case ScalarValue { Value: bool b }:
                line.Append(b ? "true" : "false");
                break;
            case ScalarValue { Value: TimeSpan span }:
                // Durations are seconds, like the metrics.
                line.Append(span.TotalSeconds.ToString("R", CultureInfo.InvariantCulture));
                break;
            case ScalarValue { Value: double d } when double.IsFinite(d):
                line.Append(d.ToString("R", CultureInfo.InvariantCulture));
                break;
            case ScalarValue { Value: float f } when float.IsFinite(f):
                line.Append(f.ToString("R", CultureInfo.InvariantCulture));
                break;
            case ScalarValue { Value: byte or sbyte or short or ushort or int or uint or long or ulong or decimal } number:
                line.Append(Convert.ToString(number.Value, CultureInfo.InvariantCulture));
                break;
            case ScalarValue scalar:
                AppendString(line, redactor.Redact(Convert.ToString(scalar.Value, CultureInfo.InvariantCulture) ?? ""));
                break;
            case SequenceValue sequence:
                line.Append('[');
                for (var i = 0; i < sequence.Elements.Count; i++)
                {
                    if (i > 0)
                    {
                        line.Append(',');
                    }
                    AppendValue(line, sequence.Elements[i], false);
                }
                line.Append(']');
                break;
            case StructureValue structure:
                line.Append('{');
                for (var i = 0; i < structure.Properties.Count; i++)
                {
                    if (i > 0)
                    {
                        line.Append(',');
                    }
                    var property = structure.Properties[i];
                    AppendString(line, SnakeCase(property.Name));
                    line.Append(':');
                    AppendValue(line, property.Value, SecretRedactor.IsSecretName(property.Name));
                }
                line.Append('}');
                break;
            case DictionaryValue dictionary:
                line.Append('{');
                var first = true;
                foreach (var (key, element) in dictionary.Elements)
                {
                    if (!first)
                    {
                        line.Append(',');
                    }
                    first = false;
                    var keyText = Convert.ToString(key.Value, CultureInfo.InvariantCulture) ?? "";
                    AppendString(line, redactor.Redact(keyText));
                    line.Append(':');
                    AppendValue(line, element, SecretRedactor.IsSecretName(keyText));
                }
                line.Append('}');
                break;
            default:
                AppendString(line, redactor.Redact(value.ToString()));
                break;
        }
    }

    /// <summary>The message with string values as they are, not quoted.</summary>
    public static string RenderMessage(LogEvent logEvent)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        LiteralMessage.Format(logEvent, writer);
        return writer.ToString();
    }

    private static string? ScalarText(LogEventPropertyValue value) =>
        value is ScalarValue scalar ? Convert.ToString(scalar.Value, CultureInfo.InvariantCulture) : value.ToString();

    private static void AppendString(StringBuilder line, string? text)
    {
        if (text is null)
        {
            line.Append("null");
            return;
        }
        using var writer = new StringWriter(line, CultureInfo.InvariantCulture);
        JsonValueFormatter.WriteQuotedJsonString(text, writer);
    }
}
