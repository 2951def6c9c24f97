using System.Net;
using CyberWatch.Measurement;

namespace CyberWatch.Enrichment.Geo;

/// <summary>
/// Places the hops of a measurement when they are read, from the geolocation database in use: country (the
/// database's, else the one the origin AS enrichment gave), city, coordinates, accuracy radius, and whether
/// the place is impossible for the hop's RTT from the measurement's vantage point. Done on read rather than
/// stored, so a new monthly database applies to every stored hop at once. Only global addresses are looked up.
/// </summary>
public sealed class HopLocator(GeoDatabase? database, GeoOptions options)
{
    private readonly IReadOnlyDictionary<string, GeoPoint> vantages = options.ParseVantageLocations();

    public bool Enabled => database is not null;

    public GeoPoint? VantageLocation(string vantage) => vantages.TryGetValue(vantage, out var point) ? point : null;

    public IReadOnlyList<HopRecord> Locate(IReadOnlyList<HopRecord> hops, string vantage)
    {
        if (database is null || hops.Count == 0)
        {
            return hops;
        }
        var from = VantageLocation(vantage);
        var located = new HopRecord[hops.Count];
        for (var i = 0; i < hops.Count; i++)
        {
            var hop = hops[i];
            located[i] = hop.Address is { } text && hop.AddressClass is null or "global" && IPAddress.TryParse(text, out var address)
                && database.Find(address) is { } location
                ? hop with
                {
                    Country = location.Country ?? hop.Country,
                    City = location.City,
                    Latitude = location.Point?.Latitude,
                    Longitude = location.Point?.Longitude,
                    GeoAccuracyKm = location.AccuracyKm,
                    GeoImplausible = GeoPlausibility.IsImplausible(from, location, hop.RttMs),
                }
                : hop;
        }
        return located;
    }
}
