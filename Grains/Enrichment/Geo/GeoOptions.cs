using System.Globalization;
using Microsoft.Extensions.Options;

namespace CyberWatch.Enrichment.Geo;

/// <summary>
/// Offline geolocation of hops (section <c>CyberWatch:Geo</c>): a MaxMind-format City database
/// (CYBERWATCH_GEOIP_DB) and the location of each vantage point (CYBERWATCH_VANTAGE_LOCATIONS) for the
/// light-in-fibre check. Nothing is sent anywhere.
/// </summary>
public sealed class GeoOptions
{
    public const string Section = "CyberWatch:Geo";

    /// <summary>Path of an .mmdb City database (GeoLite2/GeoIP2 City, DB-IP City Lite); empty: off.</summary>
    public string Database { get; set; } = "";

    /// <summary><c>vantage=latitude,longitude</c> entries separated by <c>;</c>, e.g. <c>home=52.52,13.40;lab-vantage=50.11,8.68</c>.</summary>
    public string VantageLocations { get; set; } = "";

    public IReadOnlyDictionary<string, GeoPoint> ParseVantageLocations()
    {
        var locations = new Dictionary<string, GeoPoint>(StringComparer.Ordinal);
        foreach (var entry in VantageLocations.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = entry.IndexOf('=');
            var parts = equals > 0 ? entry[(equals + 1)..].Split(',', StringSplitOptions.TrimEntries) : [];
            if (parts.Length != 2
                || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var latitude)
                || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var longitude)
                || latitude is < -90 or > 90 || longitude is < -180 or > 180)
            {
                throw new FormatException($"CYBERWATCH_VANTAGE_LOCATIONS entry '{entry}' is not vantage=latitude,longitude (degrees, like home=52.52,13.40)");
            }
            locations[entry[..equals].Trim()] = new GeoPoint(latitude, longitude);
        }
        return locations;
    }
}

public sealed class GeoOptionsValidation : IValidateOptions<GeoOptions>
{
    public ValidateOptionsResult Validate(string? name, GeoOptions options)
    {
        var errors = new List<string>();
        if (options.Database.Length > 0 && !File.Exists(options.Database))
        {
            errors.Add($"CYBERWATCH_GEOIP_DB '{options.Database}' does not exist");
        }
        try
        {
            options.ParseVantageLocations();
        }
        catch (FormatException e)
        {
            errors.Add(e.Message);
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
