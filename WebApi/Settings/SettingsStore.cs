using System.Text.Json.Nodes;
using Npgsql;

namespace CyberWatch.WebApi.Settings;

public sealed record SettingEntry(string Key, JsonObject Value, DateTimeOffset UpdatedAt);

/// <summary>Reads and writes rows of the <c>settings</c> table; the silos' SettingsMonitor picks changes up within seconds.</summary>
public sealed class SettingsStore(NpgsqlDataSource dataSource)
{
    public async Task<IReadOnlyList<SettingEntry>> AllAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT key, value::text, updated_at FROM settings ORDER BY key");
        return await ReadAsync(command, cancellationToken);
    }

    public async Task<SettingEntry?> GetAsync(string key, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT key, value::text, updated_at FROM settings WHERE key = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = key });
        return (await ReadAsync(command, cancellationToken)).SingleOrDefault();
    }

    /// <summary>Merges <paramref name="change"/> over the stored value (or an empty one) in one statement.</summary>
    public async Task<SettingEntry> MergeAsync(string key, JsonObject change, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO settings (key, value) VALUES ($1, $2::jsonb)
            ON CONFLICT (key) DO UPDATE SET value = settings.value || EXCLUDED.value, updated_at = now()
            RETURNING key, value::text, updated_at
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = key });
        command.Parameters.Add(new NpgsqlParameter { Value = change.ToJsonString() });
        return (await ReadAsync(command, cancellationToken)).Single();
    }

    private static async Task<IReadOnlyList<SettingEntry>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var entries = new List<SettingEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new SettingEntry(reader.GetString(0), JsonNode.Parse(reader.GetString(1))!.AsObject(),
                new DateTimeOffset(reader.GetDateTime(2), TimeSpan.Zero)));
        }
        return entries;
    }
}
