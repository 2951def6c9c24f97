using System.Net;
using MaxMind.Db;
using Microsoft.Extensions.Logging;

namespace CyberWatch.Enrichment.Geo;

/// <summary>
/// A MaxMind-format City database read with MaxMind.Db. The file is checked at most once a second and
/// reopened when its modification time or size changed (a monthly GeoLite2 update replaces it in place);
/// a replacement that does not open leaves the previous database in use and is logged.
/// </summary>
public sealed partial class GeoDatabase(string path, TimeProvider clock, ILogger<GeoDatabase> logger) : IDisposable
{
    private static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(1);
    private readonly Lock gate = new();
    private Reader? reader;
    private (DateTime Modified, long Length) opened;
    private DateTimeOffset checkedAt = DateTimeOffset.MinValue;

    public string Path => path;

    /// <summary>When the database in use was built (its metadata), or null before one opened.</summary>
    public DateTime? BuildDate => Current()?.Metadata.BuildDate;

    public GeoLocation? Find(IPAddress address)
    {
        var current = Current();
        if (current is null)
        {
            return null;
        }
        Dictionary<string, object>? record;
        try
        {
            record = current.Find<Dictionary<string, object>>(address);
        }
        catch (InvalidDatabaseException e)
        {
            LogUnreadable(path, e.Message);
            return null;
        }
        return record is null ? null : Read(record);
    }

    /// <summary>The GeoIP2 City layout: country.iso_code, city.names.en, location.latitude/longitude/accuracy_radius.</summary>
    public static GeoLocation? Read(IDictionary<string, object> record)
    {
        var country = Get(record, "country", "iso_code") as string ?? Get(record, "registered_country", "iso_code") as string;
        var city = Get(record, "city", "names", "en") as string;
        var latitude = Number(Get(record, "location", "latitude"));
        var longitude = Number(Get(record, "location", "longitude"));
        var accuracy = Number(Get(record, "location", "accuracy_radius"));
        GeoPoint? point = latitude is { } lat && longitude is { } lon ? new GeoPoint(lat, lon) : null;
        if (country is null && city is null && point is null)
        {
            return null;
        }
        return new GeoLocation(country, city, point, accuracy is { } km ? (int)km : null);
    }

    private Reader? Current()
    {
        var now = clock.GetUtcNow();
        lock (gate)
        {
            if (now - checkedAt < CheckEvery)
            {
                return reader;
            }
            checkedAt = now;
            var file = new FileInfo(path);
            if (!file.Exists)
            {
                if (reader is not null)
                {
                    LogMissing(path);
                }
                return reader;
            }
            var stamp = (file.LastWriteTimeUtc, file.Length);
            if (reader is not null && stamp == opened)
            {
                return reader;
            }
            try
            {
                // Memory mode: a file replaced while mapped would change under the reader.
                var fresh = new Reader(path, FileAccessMode.Memory);
                var previous = reader;
                reader = fresh;
                opened = stamp;
                previous?.Dispose();
                LogOpened(path, fresh.Metadata.DatabaseType, fresh.Metadata.BuildDate);
            }
            catch (Exception e) when (e is InvalidDatabaseException or IOException or UnauthorizedAccessException)
            {
                opened = stamp; // not retried until the file changes again
                LogUnreadable(path, e.Message);
            }
            return reader;
        }
    }

    private static object? Get(IDictionary<string, object> record, params string[] keys)
    {
        object? value = record;
        foreach (var key in keys)
        {
            if (value is not IDictionary<string, object> map || !map.TryGetValue(key, out value))
            {
                return null;
            }
        }
        return value;
    }

    private static double? Number(object? value) => value switch
    {
        double d => d,
        float f => f,
        int i => i,
        long l => l,
        uint u => u,
        ulong u => u,
        ushort s => s,
        System.Numerics.BigInteger b => (double)b,
        _ => null,
    };

    public void Dispose()
    {
        lock (gate)
        {
            reader?.Dispose();
            reader = null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Geolocation database {Path} opened ({Type}, built {Built:yyyy-MM-dd})")]
    private partial void LogOpened(string path, string type, DateTime built);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Geolocation database {Path} cannot be read ({Error}); the previous one stays in use")]
    private partial void LogUnreadable(string path, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Geolocation database {Path} is gone; the copy already loaded stays in use")]
    private partial void LogMissing(string path);
}
