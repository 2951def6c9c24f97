using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Storage;

/// <summary>
/// The batched writers' answer to poison data. A batch PostgreSQL refuses for what it holds (SQLSTATE class
/// 22, data exception, or 23, integrity constraint violation) is split in halves until each refused row
/// stands alone; those rows go to <c>rejected_rows</c> and the others are stored. Any other failure
/// (connection lost, 53 disk full, 57 shutdown, 08 connection) is not the rows' fault: it propagates, and
/// the writer keeps the rows not yet stored and retries them later.
/// </summary>
public sealed partial class RowQuarantine(NpgsqlDataSource dataSource, ILogger logger)
{
    // Static: every writer counts into the one series per table, however many instances tests create.
    private static readonly Meter Meter = new("CyberWatch.Storage.Quarantine");
    private static readonly Counter<long> Rejected = Meter.CreateCounter<long>(
        "cyberwatch.rows_rejected", description: "rows PostgreSQL refused for their data, quarantined in rejected_rows, by table");

    static RowQuarantine()
    {
        // Exported from the start, so the first rejection shows in rate().
        Rejected.Add(0, new KeyValuePair<string, object?>("table", "measurements"));
    }

    /// <summary>True when PostgreSQL refused the data itself: retrying the same rows cannot help.</summary>
    public static bool RefusesData(Exception e) =>
        e is PostgresException { SqlState: var state } && (state.StartsWith("22", StringComparison.Ordinal) || state.StartsWith("23", StringComparison.Ordinal));

    /// <summary>
    /// Stores <paramref name="rows"/> with <paramref name="store"/> (one transaction per call), bisecting a
    /// refused batch. <paramref name="settled"/> hears of every sub-batch once it is stored or quarantined, so
    /// a caller interrupted by a connection failure retries only the rest and stores nothing twice.
    /// </summary>
    /// <returns>The number of rows quarantined.</returns>
    public Task<int> StoreAsync<T>(string table, IReadOnlyList<T> rows, Func<IReadOnlyList<T>, CancellationToken, Task> store,
        Func<T, object?> payload, Action<IReadOnlyList<T>, PostgresException?> settled, CancellationToken cancellationToken) =>
        StoreAsync(_ => table, rows, store, payload, settled, cancellationToken);

    /// <summary>As above, for a batch that spans tables: <paramref name="table"/> names each row's.</summary>
    public async Task<int> StoreAsync<T>(Func<T, string> table, IReadOnlyList<T> rows, Func<IReadOnlyList<T>, CancellationToken, Task> store,
        Func<T, object?> payload, Action<IReadOnlyList<T>, PostgresException?> settled, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return 0;
        }
        try
        {
            await store(rows, cancellationToken);
            settled(rows, null);
            return 0;
        }
        catch (PostgresException e) when (RefusesData(e))
        {
            if (rows.Count == 1)
            {
                await QuarantineAsync(table(rows[0]), payload(rows[0]), e, cancellationToken);
                settled(rows, e);
                return 1;
            }
            var half = rows.Count / 2;
            var rejected = await StoreAsync(table, Slice(rows, 0, half), store, payload, settled, cancellationToken);
            return rejected + await StoreAsync(table, Slice(rows, half, rows.Count - half), store, payload, settled, cancellationToken);
        }
    }

    private async Task QuarantineAsync(string table, object? payload, PostgresException error, CancellationToken cancellationToken)
    {
        var json = Serialize(payload);
        try
        {
            await InsertAsync(table, json, error, cancellationToken);
        }
        catch (PostgresException again) when (RefusesData(again))
        {
            // The payload trips jsonb itself (a NUL character, the usual poison): as a string of JSON its escapes
            // are plain characters.
            await InsertAsync(table, JsonSerializer.Serialize(new { text = json }), error, cancellationToken);
        }
        Rejected.Add(1, new KeyValuePair<string, object?>("table", table));
        LogQuarantined(table, error.SqlState, error.MessageText);
    }

    private async Task InsertAsync(string table, string payload, PostgresException error, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "INSERT INTO rejected_rows (table_name, payload, error, sqlstate) VALUES (@table, @payload, @error, @sqlstate)");
        command.Parameters.AddWithValue("table", table);
        command.Parameters.Add(new NpgsqlParameter("payload", NpgsqlDbType.Jsonb) { Value = payload });
        command.Parameters.AddWithValue("error", error.MessageText + (error.ConstraintName is { } c ? $" (constraint {c})" : ""));
        command.Parameters.AddWithValue("sqlstate", error.SqlState);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string Serialize(object? payload)
    {
        try
        {
            return JsonSerializer.Serialize(payload, PayloadJson);
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or JsonException)
        {
            return JsonSerializer.Serialize(new { text = payload?.ToString(), serialization_error = e.Message });
        }
    }

    // Addresses as text and tuple fields included: a quarantined row should read like the row it was.
    private static readonly JsonSerializerOptions PayloadJson = new(NodeSettings.Json)
    {
        IncludeFields = true,
        Converters = { new AddressAsText() },
    };

    private sealed class AddressAsText : JsonConverter<IPAddress>
    {
        public override IPAddress Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            IPAddress.Parse(reader.GetString()!);

        public override void Write(Utf8JsonWriter writer, IPAddress value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.ToString());
    }

    private static List<T> Slice<T>(IReadOnlyList<T> rows, int start, int count)
    {
        var slice = new List<T>(count);
        for (var i = start; i < start + count; i++)
        {
            slice.Add(rows[i]);
        }
        return slice;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "PostgreSQL refused a {Table} row (SQLSTATE {SqlState}: {Error}); quarantined in rejected_rows, the rest of its batch stored")]
    private partial void LogQuarantined(string table, string sqlState, string error);
}
