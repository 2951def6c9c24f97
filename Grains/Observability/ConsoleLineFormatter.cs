using System.Globalization;
using Serilog.Events;
using Serilog.Formatting;

namespace CyberWatch.Observability;

/// <summary>
/// One readable line per event for a terminal or the journal, secrets removed. Under systemd
/// (JOURNAL_STREAM set) each line starts with its syslog priority (&lt;3&gt; error ... &lt;7&gt; debug), which
/// journald turns into the entry's priority, and carries no timestamp since the journal has one.
/// </summary>
public sealed class ConsoleLineFormatter(SecretRedactor redactor, bool journal) : ITextFormatter
{
    public void Format(LogEvent logEvent, TextWriter output)
    {
        using var line = new StringWriter(CultureInfo.InvariantCulture);
        if (journal)
        {
            line.Write($"<{Priority(logEvent.Level)}>");
        }
        else
        {
            line.Write(logEvent.Timestamp.ToLocalTime().ToString("HH:mm:ss ", CultureInfo.InvariantCulture));
        }
        line.Write(logEvent.Level switch
        {
            LogEventLevel.Verbose => "TRC",
            LogEventLevel.Debug => "DBG",
            LogEventLevel.Information => "INF",
            LogEventLevel.Warning => "WRN",
            LogEventLevel.Error => "ERR",
            _ => "FTL",
        });
        if (logEvent.Properties.TryGetValue("SourceContext", out var source) && source is ScalarValue { Value: string logger })
        {
            line.Write(' ');
            line.Write(logger);
            line.Write(':');
        }
        line.Write(' ');
        line.Write(JsonLinesFormatter.RenderMessage(logEvent));
        if (logEvent.Exception is { } exception)
        {
            // One journal entry per event: the stack trace stays on the same line.
            line.Write(journal ? " | " + exception.ToString().ReplaceLineEndings(" | ") : Environment.NewLine + exception);
        }
        output.WriteLine(redactor.Redact(line.ToString()));
    }

    private static int Priority(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose or LogEventLevel.Debug => 7,
        LogEventLevel.Information => 6,
        LogEventLevel.Warning => 4,
        LogEventLevel.Error => 3,
        _ => 2,
    };
}
