using CyberWatch.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace CyberWatch.Tests.Infrastructure;

/// <summary>
/// A throw-away database on the PostgreSQL named by CYBERWATCH_TEST_PG_DSN (scripts/test provides the
/// node's private server). Each test class gets its own database, migrated, and dropped afterwards.
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    public const string Variable = "CYBERWATCH_TEST_PG_DSN";

    private readonly string adminConnectionString;

    private TestDatabase(string adminConnectionString, string name, string connectionString)
    {
        this.adminConnectionString = adminConnectionString;
        Name = name;
        ConnectionString = connectionString;
        DataSource = NpgsqlDataSource.Create(connectionString);
    }

    public string Name { get; }
    public string ConnectionString { get; }
    public NpgsqlDataSource DataSource { get; }

    /// <summary>The admin DSN, or a skip (with the reason) when the suite runs without a server.</summary>
    public static string AdminConnectionString()
    {
        var dsn = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(dsn))
        {
            Assert.Skip($"{Variable} is not set: PostgreSQL tests run under scripts/test, which starts a private server");
        }
        return PostgresConnectionString.Normalize(dsn);
    }

    public static async Task<TestDatabase> CreateAsync(bool migrate = true)
    {
        var admin = AdminConnectionString();
        var name = $"cw_test_{Guid.NewGuid():n}"[..24];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = name };
        var database = new TestDatabase(admin, name, builder.ConnectionString);
        if (migrate)
        {
            await new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance).MigrateAsync(CancellationToken.None);
        }
        return database;
    }

    public async Task<T?> ScalarAsync<T>(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        var value = await command.ExecuteScalarAsync();
        return value is DBNull or null ? default : (T)value;
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
