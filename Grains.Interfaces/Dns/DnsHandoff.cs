using System.Text.Json.Serialization;

namespace CyberWatch.Dns;

/// <summary>
/// One entry of the DNS handoff stream (collector to silos). It carries no client identifier; the
/// domain is plain, an HMAC or absent according to the collector's policy. <see cref="Id"/> is chosen
/// by the collector, so an entry delivered twice is applied once.
/// </summary>
public sealed record DnsHandoffEntry(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("aggregates")] IReadOnlyList<DnsQueryAggregate> Aggregates,
    [property: JsonPropertyName("targets")] IReadOnlyList<DnsResolvedTarget> Targets);

/// <summary>Queries for one domain and query type within one hour, counted only once the domain passed k-anonymity.</summary>
public sealed record DnsQueryAggregate(
    [property: JsonPropertyName("domain_key")] string DomainKey,
    [property: JsonPropertyName("policy")] string Policy,
    [property: JsonPropertyName("qtype")] string QType,
    [property: JsonPropertyName("hour")] DateTimeOffset Hour,
    [property: JsonPropertyName("count")] long Count,
    [property: JsonPropertyName("score")] double SuspicionScore);

/// <summary>The public addresses one domain resolved to.</summary>
public sealed record DnsResolvedTarget(
    [property: JsonPropertyName("domain_key")] string DomainKey,
    [property: JsonPropertyName("policy")] string Policy,
    [property: JsonPropertyName("ips")] IReadOnlyList<string> Addresses,
    [property: JsonPropertyName("resolved_at")] DateTimeOffset ResolvedAt,
    [property: JsonPropertyName("score")] double SuspicionScore);
