namespace CyberWatch.Enrichment.Geo;

/// <summary>A point on the earth in degrees.</summary>
public readonly record struct GeoPoint(double Latitude, double Longitude)
{
    public const double EarthRadiusKm = 6371.0088;

    /// <summary>Great-circle distance (haversine).</summary>
    public double DistanceKm(GeoPoint other)
    {
        static double Radians(double degrees) => degrees * Math.PI / 180;
        var dLat = Radians(other.Latitude - Latitude);
        var dLon = Radians(other.Longitude - Longitude);
        var a = Math.Pow(Math.Sin(dLat / 2), 2) + Math.Cos(Radians(Latitude)) * Math.Cos(Radians(other.Latitude)) * Math.Pow(Math.Sin(dLon / 2), 2);
        return 2 * EarthRadiusKm * Math.Asin(Math.Min(1, Math.Sqrt(a)));
    }
}

/// <summary>Where a database places an address; any part may be missing.</summary>
public sealed record GeoLocation(string? Country, string? City, GeoPoint? Point, int? AccuracyKm);

/// <summary>
/// The sanity rule of RIPE IPmap's latency check: a reply cannot come from farther than light in fibre
/// travels in half the round trip. Light in fibre runs at about 2/3 of c, ~199.9 km per ms, so a hop
/// <c>rtt</c> ms away is at most <c>rtt/2 × 199.9</c> km from the vantage point. The location's accuracy
/// radius is given to the database: a hop is implausible only when even the near edge of its circle is too far.
/// </summary>
public static class GeoPlausibility
{
    public const double FibreKmPerMs = 299_792.458 * 2 / 3 / 1000;

    /// <summary>Null when it cannot be judged (no location, no vantage location, no RTT).</summary>
    public static bool? IsImplausible(GeoPoint? vantage, GeoLocation? location, double? rttMs)
    {
        if (vantage is not { } from || location?.Point is not { } to || rttMs is not { } rtt || rtt < 0)
        {
            return null;
        }
        var reach = rtt / 2 * FibreKmPerMs;
        return from.DistanceKm(to) - (location.AccuracyKm ?? 0) > reach;
    }
}
