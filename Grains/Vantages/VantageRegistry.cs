using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using CyberWatch.Configuration;
using CyberWatch.Enrichment;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Vantages;

/// <summary>This silo's probe load, as its vantage point reports it (implemented by the probe pipeline).</summary>
public interface IVantageLoad
{
    VantageLoadFigures Current { get; }
}

/// <summary>A silo's probe figures: the engine in use, its queue, its limit, probes finished since start.</summary>
public readonly record struct VantageLoadFigures(string ProbeEngine, int Queued, int Running, int RateLimitPerMinute, long ProbesFinished);

/// <summary>Told when this silo starts serving its vantage point (implemented by the remeasurement schedule).</summary>
public interface IVantageArrivals
{
    /// <summary>The vantage is served now: whatever should be measured from it gets its place in the schedule.</summary>
    Task OnVantageServedAsync(string vantage, CancellationToken cancellationToken);
}

/// <summary>
/// Registers the silo's vantage point (name, source addresses, origin ASN and prefix) in <c>vantages</c>
/// and keeps the silo's row in <c>vantage_silos</c> fresh every <see cref="VantageOptions.HeartbeatPeriod"/>; a vantage
/// whose silos stop refreshing is reported down after <see cref="VantageOptions.DownAfter"/>. The row
/// goes when the silo stops cleanly.
/// </summary>
public sealed partial class VantageRegistry(
    CyberWatchOptions options,
    NpgsqlDataSource dataSource,
    PrefixTableService prefixes,
    IVantageLoad load,
    IEnumerable<IVantageArrivals> arrivals,
    Orleans.Runtime.ILocalSiloDetails silo,
    Microsoft.Extensions.Options.IOptions<VantageOptions> vantageOptions,
    TimeProvider clock,
    ILogger<VantageRegistry> logger) : BackgroundService
{
    private readonly TimeSpan heartbeatPeriod = vantageOptions.Value.HeartbeatPeriod;

    private readonly DateTimeOffset startedAt = clock.GetUtcNow();
    private bool announced;
    private (DateTimeOffset At, long Finished)? previous;

    public string Vantage => options.Vantage;

    private string SiloId => silo.SiloAddress.ToParsableString();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The origin ASN comes from the prefix table (and the schedule takes no pair before it is loaded): a vantage
        // reports in once the table is there, or after a minute without it.
        await Task.WhenAny(prefixes.FirstLoad, Task.Delay(TimeSpan.FromMinutes(1), clock, stoppingToken));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await HeartbeatAsync(stoppingToken);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                LogHeartbeatFailed(Vantage, e.Message);
            }
            try
            {
                await Task.Delay(heartbeatPeriod, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>Writes the vantage's and this silo's rows; the first success also tells <see cref="IVantageArrivals"/>.</summary>
    public async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        var addresses = SourceAddresses();
        var origin = OriginOf(addresses);
        var figures = load.Current;
        var now = clock.GetUtcNow();
        var perMinute = previous is { } p && now > p.At
            ? (int)Math.Round((figures.ProbesFinished - p.Finished) * 60 / (now - p.At).TotalSeconds)
            : 0;
        previous = (now, figures.ProbesFinished);
        await WriteRowsAsync(dataSource, Vantage, addresses, origin, SiloId, startedAt, now, figures, perMinute, cancellationToken);
        if (!announced)
        {
            foreach (var arrival in arrivals)
            {
                await arrival.OnVantageServedAsync(Vantage, cancellationToken);
            }
            announced = true;
            LogServing(Vantage, SiloId, string.Join(", ", addresses.Select(a => a.ToString())), origin?.Asn);
        }
    }

    /// <summary>
    /// The vantage's row and the row of one of its probers (a silo, or a remote agent named <c>agent/NAME</c>): what
    /// <c>GET /vantages</c> shows and what up/down is judged on.
    /// </summary>
    public static async Task WriteRowsAsync(NpgsqlDataSource dataSource, string vantageName, IPAddress[] addresses, (long Asn, string Prefix)? origin,
        string prober, DateTimeOffset startedAt, DateTimeOffset now, VantageLoadFigures figures, int perMinute, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        var vantage = new NpgsqlBatchCommand("""
            INSERT INTO vantages (name, source_addresses, origin_asn, prefix, first_seen, last_seen)
            VALUES ($1, $2, $3, $4::cidr, $5, $5)
            ON CONFLICT (name) DO UPDATE SET source_addresses = excluded.source_addresses, origin_asn = excluded.origin_asn,
                prefix = excluded.prefix, last_seen = excluded.last_seen
            """);
        vantage.Parameters.Add(new NpgsqlParameter<string>{ TypedValue = vantageName });
        vantage.Parameters.Add(new NpgsqlParameter<IPAddress[]> { TypedValue = addresses, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Inet });
        vantage.Parameters.Add(new NpgsqlParameter { Value = (object?)origin?.Asn ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        vantage.Parameters.Add(new NpgsqlParameter { Value = (object?)origin?.Prefix ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        vantage.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = now.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        batch.BatchCommands.Add(vantage);
        var row = new NpgsqlBatchCommand("""
            INSERT INTO vantage_silos (silo, vantage, started_at, last_heartbeat, probe_engine, queued, running, rate_limit_per_minute, probes_last_minute)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (silo) DO UPDATE SET vantage = excluded.vantage, started_at = excluded.started_at, last_heartbeat = excluded.last_heartbeat,
                probe_engine = excluded.probe_engine, queued = excluded.queued, running = excluded.running,
                rate_limit_per_minute = excluded.rate_limit_per_minute, probes_last_minute = excluded.probes_last_minute
            """);
        row.Parameters.Add(new NpgsqlParameter<string> { TypedValue = prober });
        row.Parameters.Add(new NpgsqlParameter<string> { TypedValue = vantageName });
        row.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = startedAt.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        row.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = now.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        row.Parameters.Add(new NpgsqlParameter<string> { TypedValue = figures.ProbeEngine });
        row.Parameters.Add(new NpgsqlParameter<int> { TypedValue = figures.Queued });
        row.Parameters.Add(new NpgsqlParameter<int> { TypedValue = figures.Running });
        row.Parameters.Add(new NpgsqlParameter<int> { TypedValue = figures.RateLimitPerMinute });
        row.Parameters.Add(new NpgsqlParameter<int> { TypedValue = perMinute });
        batch.BatchCommands.Add(row);
        // Silos that died without saying so: kept a day so the vantage shows as degraded meanwhile.
        batch.BatchCommands.Add(new NpgsqlBatchCommand("DELETE FROM vantage_silos WHERE last_heartbeat < now() - interval '1 day'"));
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await using var command = dataSource.CreateCommand("DELETE FROM vantage_silos WHERE silo = $1");
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = SiloId });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            LogHeartbeatFailed(Vantage, e.Message);
        }
    }

    /// <summary>The addresses probes leave from: every address of an interface that is up, but loopback and link-local.</summary>
    public static IPAddress[] SourceAddresses()
    {
        try
        {
            return [.. NetworkInterface.GetAllNetworkInterfaces()
                .Where(i => i.OperationalStatus is OperationalStatus.Up or OperationalStatus.Unknown && i.NetworkInterfaceType != NetworkInterfaceType.Loopback)
                .SelectMany(i => i.GetIPProperties().UnicastAddresses.Select(u => u.Address))
                .Where(a => !IPAddress.IsLoopback(a) && !a.IsIPv6LinkLocal && a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
                .Distinct()
                .OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)];
        }
        catch (NetworkInformationException)
        {
            return [];
        }
    }

    private (long Asn, string Prefix)? OriginOf(IEnumerable<IPAddress> addresses) => OriginOf(prefixes.Table, addresses);

    /// <summary>The origin ASN and prefix of the first of <paramref name="addresses"/> the prefix table knows.</summary>
    public static (long Asn, string Prefix)? OriginOf(PrefixTable table, IEnumerable<IPAddress> addresses)
    {
        foreach (var address in addresses)
        {
            var match = table.Lookup(address);
            if (match.Found)
            {
                return (match.OriginAsn, match.Prefix.ToString());
            }
        }
        return null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Serving vantage point {Vantage} as silo {Silo} (source addresses {Addresses}, origin AS{Asn})")]
    private partial void LogServing(string vantage, string silo, string addresses, long? asn);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Vantage point {Vantage} could not report in: {Error}; trying again")]
    private partial void LogHeartbeatFailed(string vantage, string error);
}
