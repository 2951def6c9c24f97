using System.Net;

namespace CyberWatch.Tests.Measurement;

/// <summary>Reads the captured tool outputs under Measurement/Fixtures (see the README there for how each was made).</summary>
internal static class Fixture
{
    public static string Text(string name) =>
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Measurement", "Fixtures", name));

    /// <summary>The one line of a scamper JSON file holding an object of the given type.</summary>
    public static string ScamperLine(string name, string type) =>
        Text(name).Split('\n').Single(line => line.StartsWith($"{{\"type\":\"{type}\"", StringComparison.Ordinal)
            || line.StartsWith($"{{\"type\": \"{type}\"", StringComparison.Ordinal));

    public static IPAddress Ip(string text) => IPAddress.Parse(text);
}
