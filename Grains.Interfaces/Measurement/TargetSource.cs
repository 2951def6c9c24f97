namespace CyberWatch.Measurement;

/// <summary>Why an address is a measurement target. A target can have several sources.</summary>
public enum TargetSource
{
    /// <summary>From the operator's static target list.</summary>
    Static,

    /// <summary>Enqueued through the API.</summary>
    Api,

    /// <summary>Resolved from a domain the local resolver saw (DNS ingestion).</summary>
    Dns,

    /// <summary>Discovered as a hop of another target's path (hop feedback).</summary>
    Hop,

    /// <summary>Sampled from a prefix an interesting AS originates (ASN expansion).</summary>
    AsnExpansion,
}

/// <summary>Wire names of <see cref="TargetSource"/>.</summary>
public static class TargetSourceNames
{
    /// <summary>The name used in the API and the <c>targets.sources</c> column.</summary>
    public static string ToWire(this TargetSource source) => source switch
    {
        TargetSource.Static => "static",
        TargetSource.Api => "api",
        TargetSource.Dns => "dns",
        TargetSource.Hop => "hop",
        TargetSource.AsnExpansion => "asn_expansion",
        _ => throw new ArgumentOutOfRangeException(nameof(source)),
    };

    /// <summary>Parses a wire name, case-insensitively.</summary>
    public static bool TryParse(string? value, out TargetSource source)
    {
        foreach (var candidate in Enum.GetValues<TargetSource>())
        {
            if (string.Equals(candidate.ToWire(), value, StringComparison.OrdinalIgnoreCase))
            {
                source = candidate;
                return true;
            }
        }
        source = default;
        return false;
    }
}
