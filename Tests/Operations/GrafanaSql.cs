using System.Globalization;
using System.Text.RegularExpressions;

namespace CyberWatch.Tests.Operations;

/// <summary>What a dashboard variable is set to when a panel's query is expanded.</summary>
public abstract record VariableSelection
{
    /// <summary>The "All" option: the custom all value as it is, or every option when there is none.</summary>
    public sealed record All : VariableSelection;

    /// <summary>Chosen options (none at all is a multi-value variable with nothing selected).</summary>
    public sealed record Values(IReadOnlyList<string> Chosen) : VariableSelection;

    /// <summary>The empty string Grafana uses when the variable's query returned nothing.</summary>
    public sealed record Nothing : VariableSelection;
}

/// <summary>A dashboard variable: its name, custom all value (null when none) and options.</summary>
public sealed record DashboardVariable(string Name, string? AllValue, IReadOnlyList<string> Options);

/// <summary>
/// Expands a panel's SQL the way Grafana 10 does for its PostgreSQL data source: first the dashboard
/// variables (frontend; here only the <c>${name:sqlstring}</c> form, the one the dashboards use), then
/// <c>$__interval</c>, then the backend macros (grafana-postgresql-datasource/macros.go). Anything else
/// that looks like a variable or macro is an error, so the test cannot pass on SQL Grafana would not send.
/// </summary>
public static partial class GrafanaSql
{
    public static string Expand(string sql, IReadOnlyDictionary<string, DashboardVariable> variables,
        IReadOnlyDictionary<string, VariableSelection> selections, DateTimeOffset from, DateTimeOffset to, TimeSpan interval)
    {
        var expanded = SqlStringVariable().Replace(sql, m =>
        {
            var name = m.Groups["name"].Value;
            if (!variables.TryGetValue(name, out var variable))
            {
                throw new InvalidOperationException($"${{{name}}} is not a variable of the dashboard");
            }
            return selections.GetValueOrDefault(name, new VariableSelection.All()) switch
            {
                VariableSelection.All when variable.AllValue is { } allValue => allValue, // Grafana does not format custom all values
                VariableSelection.All => string.Join(',', variable.Options.Select(Quote)),
                VariableSelection.Values values => string.Join(',', values.Chosen.Select(Quote)),
                _ => Quote(""),
            };
        });
        expanded = expanded.Replace("$__interval_ms", ((long)interval.TotalMilliseconds).ToString(CultureInfo.InvariantCulture))
                           .Replace("$__interval", IntervalText(interval));
        expanded = Macro().Replace(expanded, m => ExpandMacro(m.Groups["name"].Value, SplitArguments(m.Groups["args"].Value), from, to));
        if (LeftOver().Match(expanded) is { Success: true } left)
        {
            throw new InvalidOperationException($"'{left.Value}' is not expanded: use ${{name:sqlstring}} for variables and the PostgreSQL macros only");
        }
        return expanded;
    }

    /// <summary>Grafana's sqlstring format: single-quoted, quotes doubled.</summary>
    public static string Quote(string value) => "'" + value.Replace("'", "''") + "'";

    private static string ExpandMacro(string name, IReadOnlyList<string> args, DateTimeOffset from, DateTimeOffset to)
    {
        string Arg(int i) => i < args.Count && args[i].Length > 0
            ? args[i]
            : throw new InvalidOperationException($"$__{name} needs argument {i + 1}");
        return name switch
        {
            "time" => $"{Arg(0)} AS \"time\"",
            "timeEpoch" => $"extract(epoch from {Arg(0)}) AS \"time\"",
            "timeFilter" => $"{Arg(0)} BETWEEN '{Rfc3339(from)}' AND '{Rfc3339(to)}'",
            "timeFrom" => $"'{Rfc3339(from)}'",
            "timeTo" => $"'{Rfc3339(to)}'",
            "timeGroup" => TimeGroup(Arg(0), Arg(1)),
            "timeGroupAlias" => TimeGroup(Arg(0), Arg(1)) + " AS \"time\"",
            _ => throw new InvalidOperationException($"$__{name} is not a macro this test knows; add it from Grafana's macros.go"),
        };
    }

    private static string TimeGroup(string column, string interval)
    {
        var seconds = ParseInterval(interval.Trim('\'', '"', ' ')).TotalSeconds.ToString(CultureInfo.InvariantCulture);
        return $"floor(extract(epoch from {column})/{seconds})*{seconds}";
    }

    /// <summary>gtime.ParseInterval: a number and one of ms, s, m, h, d, w, M, y.</summary>
    public static TimeSpan ParseInterval(string text)
    {
        var match = IntervalPattern().Match(text);
        if (!match.Success)
        {
            throw new InvalidOperationException($"'{text}' is not a Grafana interval");
        }
        var n = double.Parse(match.Groups["n"].Value, CultureInfo.InvariantCulture);
        return match.Groups["unit"].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(n),
            "s" or "" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            "d" => TimeSpan.FromDays(n),
            "w" => TimeSpan.FromDays(7 * n),
            "M" => TimeSpan.FromDays(30 * n),
            _ => TimeSpan.FromDays(365 * n),
        };
    }

    private static string IntervalText(TimeSpan interval) =>
        interval.TotalHours >= 1 && interval.TotalHours == Math.Floor(interval.TotalHours) ? $"{interval.TotalHours}h"
        : interval.TotalMinutes >= 1 && interval.TotalMinutes == Math.Floor(interval.TotalMinutes) ? $"{interval.TotalMinutes}m"
        : $"{interval.TotalSeconds}s";

    // Go's time.RFC3339Nano: trailing zeros of the fraction dropped, Z for UTC.
    private static string Rfc3339(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    private static List<string> SplitArguments(string args) => args.Split(',').Select(a => a.Trim()).ToList();

    [GeneratedRegex(@"\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*):sqlstring\}")]
    private static partial Regex SqlStringVariable();

    [GeneratedRegex(@"\$__(?<name>\w+)\((?<args>[^)]*)\)")]
    private static partial Regex Macro();

    [GeneratedRegex(@"\$\{?[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]+\]\]")]
    private static partial Regex LeftOver();

    [GeneratedRegex(@"^(?<n>\d+(?:\.\d+)?)(?<unit>ms|s|m|h|d|w|M|y)?$")]
    private static partial Regex IntervalPattern();
}
