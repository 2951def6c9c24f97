using System.Text.Json;
using StackExchange.Redis;

namespace CyberWatch.Dns;

/// <summary>The Redis stream between the collector and the silos: one field <c>entry</c> holding a <see cref="DnsHandoffEntry"/> as JSON.</summary>
public static class DnsStream
{
    public const string DefaultStream = "cyberwatch:dns";
    public const string ConsumerGroup = "cyberwatch-silos";
    public const string EntryField = "entry";

    /// <summary>Where entries that cannot be read go, so they are kept for a person and not retried for ever.</summary>
    public static string DeadLetters(string stream) => stream + ":rejected";

    /// <summary>Roughly how many entries the stream keeps; far more than silos ever lag behind.</summary>
    public const int MaxLength = 100_000;

    public static Task<RedisValue> AddAsync(IDatabase db, string stream, DnsHandoffEntry entry) =>
        db.StreamAddAsync(stream, EntryField, JsonSerializer.Serialize(entry), maxLength: MaxLength, useApproximateMaxLength: true);

    public static DnsHandoffEntry? Read(StreamEntry entry)
    {
        var value = entry[EntryField];
        if (value.IsNullOrEmpty)
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize<DnsHandoffEntry>(value.ToString());
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
