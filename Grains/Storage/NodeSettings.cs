using System.Text.Json;
using System.Text.Json.Serialization;

namespace CyberWatch.Storage;

/// <summary><c>worker_settings</c>: how fast and how much this silo probes.</summary>
public sealed record WorkerSettings
{
    public int RateLimitPerMinute { get; init; } = 30;
    public int MaxConcurrentTraceroutes { get; init; } = 5;
    public int WorkerCount { get; init; } = 2;
    public int PacketsPerSecond { get; init; } = 50;
    public double PerPrefixIntervalSeconds { get; init; } = 2;
    public double TargetCooldownSeconds { get; init; } = 60;
    public bool HopFeedbackEnabled { get; init; }
    public string DefaultMethod { get; init; } = "icmp-paris";
    public int ProbeAttempts { get; init; } = 1;
    public int MaxTtl { get; init; } = 30;

    /// <summary>
    /// What the probers of a vantage point (each silo or agent of it) do differently: <c>"vantages": {"home":
    /// {"rate_limit_per_minute": 20}}</c>. A home line or a 4G router probes slower than a data-centre silo.
    /// </summary>
    public IReadOnlyDictionary<string, VantageWorkerSettings> Vantages { get; init; } = new Dictionary<string, VantageWorkerSettings>();

    /// <summary>The settings a prober of <paramref name="vantage"/> probes under: these, with its vantage's own values over them.</summary>
    public WorkerSettings For(string vantage) => Vantages.TryGetValue(vantage, out var own)
        ? this with
        {
            RateLimitPerMinute = own.RateLimitPerMinute ?? RateLimitPerMinute,
            MaxConcurrentTraceroutes = own.MaxConcurrentTraceroutes ?? MaxConcurrentTraceroutes,
        }
        : this;

    // By value: the settings monitor compares the settings it read with the last ones to see a change.
    public bool Equals(WorkerSettings? other) =>
        other is not null && RateLimitPerMinute == other.RateLimitPerMinute && MaxConcurrentTraceroutes == other.MaxConcurrentTraceroutes
        && WorkerCount == other.WorkerCount && PacketsPerSecond == other.PacketsPerSecond && PerPrefixIntervalSeconds == other.PerPrefixIntervalSeconds
        && TargetCooldownSeconds == other.TargetCooldownSeconds && HopFeedbackEnabled == other.HopFeedbackEnabled
        && DefaultMethod == other.DefaultMethod && ProbeAttempts == other.ProbeAttempts && MaxTtl == other.MaxTtl
        && Vantages.Count == other.Vantages.Count
        && Vantages.All(v => other.Vantages.TryGetValue(v.Key, out var theirs) && theirs == v.Value);

    public override int GetHashCode() => HashCode.Combine(RateLimitPerMinute, MaxConcurrentTraceroutes, PacketsPerSecond, DefaultMethod, Vantages.Count);
}

/// <summary>One vantage point's own values in <c>worker_settings.vantages</c>; unset ones are the cluster's.</summary>
public sealed record VantageWorkerSettings
{
    public int? RateLimitPerMinute { get; init; }
    public int? MaxConcurrentTraceroutes { get; init; }
}

/// <summary><c>remeasurement_settings</c>: how often every target is measured again.</summary>
public sealed record RemeasurementSettings
{
    public bool Enabled { get; init; } = true;
    public double IntervalHours { get; init; } = 24;

    /// <summary>Overrides <see cref="IntervalHours"/> when set (test configurations use 1).</summary>
    public double? IntervalMinutes { get; init; }

    public int BatchSize { get; init; } = 100;
    public int TargetsPerRun { get; init; } = 500;
    public double JitterFraction { get; init; } = 0.1;

    [JsonIgnore]
    public TimeSpan Interval => IntervalMinutes is { } minutes ? TimeSpan.FromMinutes(minutes) : TimeSpan.FromHours(IntervalHours);
}

/// <summary><c>enrichment_settings</c>.</summary>
public sealed record EnrichmentSettings
{
    public int PollIntervalSeconds { get; init; } = 10;
    public int BatchSize { get; init; } = 200;
    public bool AsnExpansionEnabled { get; init; } = true;
    public int AsnExpansionIntervalMinutes { get; init; } = 60;
    public int AsnMinNeighborCount { get; init; } = 5;
    public int AsnMaxIpsPerAsn { get; init; } = 10;
}

/// <summary><c>ping_settings</c>: the ping series (network watch) every (target, vantage) pair of a selected target gets.</summary>
public sealed record PingSettings
{
    public bool Enabled { get; init; } = true;

    /// <summary>Seconds from one round's start to the next's.</summary>
    public int IntervalSeconds { get; init; } = 300;

    public int PingsPerRound { get; init; } = 20;

    /// <summary>Seconds between the pings of a round (scamper takes whole seconds).</summary>
    public int SpacingSeconds { get; init; } = 1;

    /// <summary><c>icmp</c>, <c>udp</c> or <c>tcp</c>.</summary>
    public string Method { get; init; } = "icmp";

    /// <summary>Target sources whose targets get a series (a target's own <c>ping</c> flag overrides this).</summary>
    public IReadOnlyList<string> Sources { get; init; } = ["static", "api"];

    /// <summary>Rounds one silo runs at once; a round lasts pings × spacing seconds.</summary>
    public int MaxConcurrentRounds { get; init; } = 500;

    [JsonIgnore]
    public TimeSpan Interval => TimeSpan.FromSeconds(IntervalSeconds);

    // By value: the settings monitor compares the settings it read with the last ones to see a change.
    public bool Equals(PingSettings? other) =>
        other is not null && Enabled == other.Enabled && IntervalSeconds == other.IntervalSeconds && PingsPerRound == other.PingsPerRound
        && SpacingSeconds == other.SpacingSeconds && Method == other.Method && Sources.SequenceEqual(other.Sources)
        && MaxConcurrentRounds == other.MaxConcurrentRounds;

    public override int GetHashCode() => HashCode.Combine(Enabled, IntervalSeconds, PingsPerRound, SpacingSeconds, Method, Sources.Count, MaxConcurrentRounds);
}

/// <summary><c>incident_settings</c>: when the network watch opens and resolves an incident.</summary>
public sealed record IncidentSettings
{
    /// <summary>Consecutive rounds a condition must hold to open an incident.</summary>
    public int OpenAfter { get; init; } = 2;

    /// <summary>Consecutive clear rounds that resolve it.</summary>
    public int ResolveAfter { get; init; } = 3;

    /// <summary>Loss of a round, in percent, at which it counts towards a loss incident.</summary>
    public double LossThresholdPct { get; init; } = 5;

    /// <summary>A round's median RTT counts towards a latency shift when above the baseline by both this many ms ...</summary>
    public double LatencyShiftMs { get; init; } = 10;

    /// <summary>... and this share of the baseline (the larger of the two applies).</summary>
    public double LatencyShiftFraction { get; init; } = 0.25;

    /// <summary>Rounds whose median RTT make the baseline; a shift lasting this long becomes the new baseline.</summary>
    public int BaselineRounds { get; init; } = 12;

    /// <summary>An AS-path incident none of whose paths changed for this long resolves as settled: the new path is the new normal.</summary>
    public int PathSettleSeconds { get; init; } = 86_400;

    /// <summary>While an incident is open, its targets are traced from its vantages at least this often (0: on their schedule only).</summary>
    public int RemeasureSeconds { get; init; } = 60;
}

/// <summary>All runtime settings as last read from the <c>settings</c> table.</summary>
public sealed record NodeSettings(WorkerSettings Worker, RemeasurementSettings Remeasurement, EnrichmentSettings Enrichment)
{
    public PingSettings Ping { get; init; } = new();

    public IncidentSettings Incidents { get; init; } = new();

    /// <summary><c>worker_settings</c> as stored, every vantage's values in it; <see cref="Worker"/> is this silo's share.</summary>
    public WorkerSettings ClusterWorker { get; init; } = new();

    /// <summary>The worker settings of a prober of <paramref name="vantage"/> (a remote agent's, served by any silo).</summary>
    public WorkerSettings WorkerFor(string vantage) => ClusterWorker.For(vantage);

    public static NodeSettings Defaults { get; } = new(new WorkerSettings(), new RemeasurementSettings(), new EnrichmentSettings());

    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
    };

    /// <summary>Builds settings from table rows; a key that does not parse keeps its defaults (and is reported).</summary>
    /// <remarks>With <paramref name="vantage"/> (a silo's), <see cref="Worker"/> is that vantage point's share of <c>worker_settings</c>.</remarks>
    public static NodeSettings From(IReadOnlyDictionary<string, string> rows, Action<string, string>? onInvalid = null, string? vantage = null)
    {
        var worker = Read(rows, "worker_settings", Defaults.Worker, onInvalid);
        return new NodeSettings(
            vantage is null ? worker : worker.For(vantage),
            Read(rows, "remeasurement_settings", Defaults.Remeasurement, onInvalid),
            Read(rows, "enrichment_settings", Defaults.Enrichment, onInvalid))
        {
            ClusterWorker = worker,
            Ping = Read(rows, "ping_settings", Defaults.Ping, onInvalid),
            Incidents = Read(rows, "incident_settings", Defaults.Incidents, onInvalid),
        };
    }

    private static T Read<T>(IReadOnlyDictionary<string, string> rows, string key, T fallback, Action<string, string>? onInvalid)
    {
        if (!rows.TryGetValue(key, out var json))
        {
            return fallback;
        }
        try
        {
            return JsonSerializer.Deserialize<T>(json, Json) ?? fallback;
        }
        catch (JsonException e)
        {
            onInvalid?.Invoke(key, e.Message);
            return fallback;
        }
    }
}
