using CyberWatch.Enrichment.Geo;
using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CyberWatch.Tests.Enrichment.Geo;

public sealed class GeoTests : IDisposable
{
    private static readonly GeoPoint Frankfurt = new(50.11, 8.68);
    private static readonly GeoPoint NewYork = new(40.71, -74.01);
    private readonly string file = Path.Combine(Path.GetTempPath(), $"cyberwatch-geo-{Guid.NewGuid():n}.mmdb");

    public void Dispose() => File.Delete(file);

    [Fact]
    public void Light_in_fibre_rules_out_a_place_farther_than_half_the_rtt_allows()
    {
        var newYork = new GeoLocation("US", "New York", NewYork, 10);
        // Frankfurt to New York is ~6,200 km: 20 ms there and back reach ~2,000 km, 70 ms ~7,000 km.
        Assert.InRange(Frankfurt.DistanceKm(NewYork), 6150, 6250);
        Assert.True(GeoPlausibility.IsImplausible(Frankfurt, newYork, 20));
        Assert.False(GeoPlausibility.IsImplausible(Frankfurt, newYork, 70));
        // A wide accuracy circle whose near edge is within reach is given the benefit of the doubt.
        Assert.False(GeoPlausibility.IsImplausible(Frankfurt, newYork with { AccuracyKm = 5000 }, 20));
        Assert.Null(GeoPlausibility.IsImplausible(null, newYork, 20));
        Assert.Null(GeoPlausibility.IsImplausible(Frankfurt, newYork, null));
        Assert.Null(GeoPlausibility.IsImplausible(Frankfurt, newYork with { Point = null }, 20));
    }

    [Fact]
    public void A_city_database_built_in_the_test_places_global_hops_and_a_replaced_file_is_read_again()
    {
        LabDatabase("New York").Write(file);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var database = new GeoDatabase(file, clock, NullLogger<GeoDatabase>.Instance);
        var locator = new HopLocator(database, new GeoOptions { Database = file, VantageLocations = "lab-vantage=50.11,8.68" });
        HopRecord[] hops =
        [
            new() { Ttl = 1, Address = "10.0.0.1", AddressClass = "private", RttMs = 0.5 },
            new() { Ttl = 2, Address = "11.12.100.1", AddressClass = "global", RttMs = 1.0, Country = "ZZ" },
            new() { Ttl = 3, Address = "11.14.1.2", AddressClass = "global", RttMs = 2.0 },
            new() { Ttl = 4, Address = "2a0c:9a40:1200:100::1", AddressClass = "global", RttMs = 1.0 },
            new() { Ttl = 5, Address = "11.99.0.1", AddressClass = "global", RttMs = 3.0, Country = "ZZ" },
            new() { Ttl = 6, Address = null },
        ];

        var located = locator.Locate(hops, "lab-vantage");

        Assert.Equal(hops[0], located[0]);
        Assert.Equal(("DE", "Frankfurt am Main", 50.1188, 8.6843, 20, false),
            (located[1].Country, located[1].City, located[1].Latitude, located[1].Longitude, located[1].GeoAccuracyKm, located[1].GeoImplausible));
        // New York 2 ms from Frankfurt: impossible.
        Assert.Equal(("US", "New York", true), (located[2].Country, located[2].City, located[2].GeoImplausible));
        Assert.Equal(("DE", "Frankfurt am Main"), (located[3].Country, located[3].City));
        Assert.Equal(hops[4], located[4]);
        Assert.Equal(hops[5], located[5]);
        // From a vantage point with no configured location the flag cannot be judged.
        Assert.Null(locator.Locate(hops, "elsewhere")[2].GeoImplausible);

        // The monthly update replaces the file in place: read again at the next lookup after a second.
        LabDatabase("Ashburn").Write(file);
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(1));
        Assert.Equal("New York", locator.Locate(hops, "lab-vantage")[2].City);
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("Ashburn", locator.Locate(hops, "lab-vantage")[2].City);

        // A broken replacement leaves the database in use.
        File.WriteAllText(file, "not a database");
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("Ashburn", locator.Locate(hops, "lab-vantage")[2].City);
    }

    [Fact]
    public async Task Hops_read_for_the_api_carry_the_location_and_the_flag()
    {
        LabDatabase("New York").Write(file);
        await using var db = await TestDatabase.CreateAsync();
        await using (var seed = db.DataSource.CreateCommand("""
            INSERT INTO measurements (id, target, tool, method, vantage, started_at, success)
            VALUES (1, '11.14.1.2', 'scamper', 'icmp-paris', 'lab-vantage', '2026-12-07 12:00+00', true);
            INSERT INTO hops (measurement_id, measured_at, ttl, address, address_class, rtt_ms) VALUES
                (1, '2026-12-07 12:00+00', 1, '11.12.100.1', 'global', 1.0),
                (1, '2026-12-07 12:00+00', 2, '11.14.1.2', 'global', 95.0);
            """))
        {
            await seed.ExecuteNonQueryAsync();
        }
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CyberWatch:Geo:Database"] = file,
            ["CyberWatch:Geo:VantageLocations"] = "lab-vantage=50.11,8.68",
        }).Build();
        await using var provider = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddLogging().AddGeolocation()
            .AddSingleton(db.DataSource).AddSingleton<MeasurementQueries>().BuildServiceProvider();

        var hops = await provider.GetRequiredService<MeasurementQueries>().HopsAsync(1, TargetScope.IncludingDns, CancellationToken.None);

        Assert.Equal([("Frankfurt am Main", false), ("New York", false)], hops!.Select(h => (h.City!, h.GeoImplausible!.Value)).ToArray());
    }

    [Theory]
    [InlineData("CyberWatch:Geo:VantageLocations", "home=52.5", "CYBERWATCH_VANTAGE_LOCATIONS")]
    [InlineData("CyberWatch:Geo:VantageLocations", "home=95,13", "CYBERWATCH_VANTAGE_LOCATIONS")]
    [InlineData("CyberWatch:Geo:Database", "/nonexistent/city.mmdb", "CYBERWATCH_GEOIP_DB")]
    public void Bad_settings_are_refused_at_start_naming_the_variable(string key, string value, string variable)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();
        using var provider = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddLogging().AddGeolocation().BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<GeoOptions>>().Value);
        Assert.Contains(variable, error.Message);
    }

    /// <summary>The lab's transit in Frankfurt, its content network in <paramref name="contentCity"/>.</summary>
    public static MmdbWriter LabDatabase(string contentCity) => new MmdbWriter()
        .Add("11.12.0.0/16", City("DE", "Frankfurt am Main", 50.1188, 8.6843, 20))
        .Add("2a0c:9a40:1200::/48", City("DE", "Frankfurt am Main", 50.1188, 8.6843, 20))
        .Add("11.14.0.0/16", contentCity == "Ashburn" ? City("US", "Ashburn", 39.0437, -77.4875, 50) : City("US", "New York", 40.7128, -74.0060, 10));

    public static Dictionary<string, object> City(string country, string city, double latitude, double longitude, int accuracyKm) => new()
    {
        ["city"] = new Dictionary<string, object> { ["geoname_id"] = 1u, ["names"] = new Dictionary<string, object> { ["en"] = city } },
        ["country"] = new Dictionary<string, object> { ["iso_code"] = country, ["names"] = new Dictionary<string, object> { ["en"] = country } },
        ["location"] = new Dictionary<string, object> { ["accuracy_radius"] = (ushort)accuracyKm, ["latitude"] = latitude, ["longitude"] = longitude },
    };
}
