using System.Text.Encodings.Web;
using System.Text.Json;

namespace CyberWatch.Bench;

/// <summary>One benchmark's result file: figures for the summary table, the set-up, notes.</summary>
public sealed class BenchResult(string name, bool quick)
{
    private readonly List<Dictionary<string, object?>> figures = [];

    public Dictionary<string, object?> Setup { get; } = new();
    public List<string> Notes { get; } = [];
    public string Status { get; set; } = "ok";
    public string? Reason { get; set; }

    /// <summary>A figure; <paramref name="ratio"/> is "times better than the peer", computed by the caller (time or rate).</summary>
    public void Add(string figure, double ours, double? peer, double? ratio, string? goal, bool? met) => figures.Add(new()
    {
        ["figure"] = figure,
        ["ours"] = Round(ours),
        ["peer"] = peer is { } p ? Round(p) : null,
        ["ratio"] = ratio is { } r && double.IsFinite(r) ? Math.Round(r, r < 10 ? 2 : 1) : null,
        ["goal"] = goal,
        ["met"] = met,
    });

    /// <summary>Marks the run failed (our code gave a wrong answer or broke), with the reason.</summary>
    public void Fail(string reason)
    {
        Status = "failed";
        Reason = Reason is null ? reason : $"{Reason}; {reason}";
    }

    public static double Round(double value) => !double.IsFinite(value) ? value : Math.Round(value, Math.Abs(value) < 1 ? 4 : Math.Abs(value) < 100 ? 2 : 1);

    public async Task WriteAsync(string path)
    {
        var document = new Dictionary<string, object?>
        {
            ["name"] = name,
            ["status"] = Status,
            ["reason"] = Reason,
            ["quick"] = quick,
            ["when"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssK"),
            ["figures"] = figures,
            ["setup"] = Setup,
            ["load_average"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : null,
            ["notes"] = Notes,
        };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(document, new JsonSerializerOptions
        {
            WriteIndented = true,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }) + "\n");
        Console.WriteLine();
        Console.WriteLine($"{"figure",-70} {"ours",12} {"peer",12} {"ratio",9}  {"met",-4} goal");
        foreach (var f in figures)
        {
            Console.WriteLine($"{f["figure"],-70} {f["ours"],12} {f["peer"] ?? "-",12} {(f["ratio"] is { } r ? $"{r}x" : "-"),9}  {(f["met"] is bool m ? m ? "yes" : "no" : "-"),-4} {f["goal"]}");
        }
        Console.WriteLine($"{name}: {Status}{(Reason is null ? "" : $" ({Reason})")}; written: {path}");
    }
}

/// <summary>Command-line options of a sub-command: --name value pairs and --flags.</summary>
public sealed class BenchArgs(string[] args)
{
    public string? Get(string name)
    {
        var i = Array.IndexOf(args, "--" + name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    public string Require(string name) => Get(name) ?? throw new ArgumentException($"--{name} is required");

    public int Int(string name, int fallback) => Get(name) is { } v ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;

    public bool Has(string flag) => args.Contains("--" + flag);
}

public static class Stats
{
    public static double Median(IEnumerable<double> values) => Percentile(values, 50);

    public static double Percentile(IEnumerable<double> values, double p)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}
