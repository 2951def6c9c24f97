using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Storage;

/// <summary>One numbered file of <c>sql/</c>, e.g. <c>004_measurements.sql</c>.</summary>
public sealed record Migration(int Version, string Name, string Sql)
{
    public string Checksum { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Sql)));
}

/// <summary>Outcome of a migration run.</summary>
public sealed record MigrationReport(IReadOnlyList<Migration> Applied, int AlreadyApplied);

/// <summary>
/// Applies the numbered migrations of <c>sql/</c> once each, in order, recording them in
/// <c>schema_migrations</c>. Safe to run from several silos at once (an advisory lock serialises them).
/// </summary>
public sealed class SchemaMigrator(NpgsqlDataSource dataSource, ILogger<SchemaMigrator> logger)
{
    // Arbitrary but fixed: every cyberWatch process takes the same advisory lock to migrate.
    private const long LockKey = 0x6379_6265_7257;

    public static IReadOnlyList<Migration> Embedded { get; } = LoadEmbedded();

    public async Task<MigrationReport> MigrateAsync(CancellationToken cancellationToken) =>
        await MigrateAsync(Embedded, cancellationToken);

    public async Task<MigrationReport> MigrateAsync(IReadOnlyList<Migration> migrations, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, "SELECT pg_advisory_lock(@k)", cancellationToken, ("k", LockKey));
        try
        {
            await ExecuteAsync(connection, """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer     PRIMARY KEY,
                    name       text        NOT NULL,
                    checksum   text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """, cancellationToken);

            var applied = new Dictionary<int, (string Name, string Checksum)>();
            await using (var read = new NpgsqlCommand("SELECT version, name, checksum FROM schema_migrations", connection))
            await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    applied[reader.GetInt32(0)] = (reader.GetString(1), reader.GetString(2));
                }
            }

            var newlyApplied = new List<Migration>();
            foreach (var migration in migrations.OrderBy(m => m.Version))
            {
                if (applied.TryGetValue(migration.Version, out var done))
                {
                    if (done.Checksum != migration.Checksum)
                    {
                        throw new MigrationException(
                            $"migration {migration.Version:000} ({migration.Name}) was changed after it was applied; add a new migration instead");
                    }
                    continue;
                }
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                try
                {
                    await using (var apply = new NpgsqlCommand(migration.Sql, connection, transaction))
                    {
                        await apply.ExecuteNonQueryAsync(cancellationToken);
                    }
                    await using (var record = new NpgsqlCommand(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (@v, @n, @c)", connection, transaction))
                    {
                        record.Parameters.AddWithValue("v", migration.Version);
                        record.Parameters.AddWithValue("n", migration.Name);
                        record.Parameters.AddWithValue("c", migration.Checksum);
                        await record.ExecuteNonQueryAsync(cancellationToken);
                    }
                    await transaction.CommitAsync(cancellationToken);
                }
                catch (PostgresException e)
                {
                    throw new MigrationException($"migration {migration.Version:000} ({migration.Name}) failed: {e.MessageText}", e);
                }
                logger.LogInformation("Applied migration {Version:000} {Name}", migration.Version, migration.Name);
                newlyApplied.Add(migration);
            }
            return new MigrationReport(newlyApplied, applied.Count);
        }
        finally
        {
            await ExecuteAsync(connection, "SELECT pg_advisory_unlock(@k)", CancellationToken.None, ("k", LockKey));
        }
    }

    /// <summary>Parses <c>NNN_name.sql</c> resources; a name that does not fit is a build mistake and fails loudly.</summary>
    public static IReadOnlyList<Migration> Parse(IEnumerable<(string FileName, string Sql)> files)
    {
        var migrations = new List<Migration>();
        foreach (var (fileName, sql) in files)
        {
            var stem = Path.GetFileNameWithoutExtension(fileName);
            var underscore = stem.IndexOf('_');
            if (underscore <= 0 || !int.TryParse(stem.AsSpan(0, underscore), out var version))
            {
                throw new MigrationException($"migration file {fileName} is not named NNN_name.sql");
            }
            migrations.Add(new Migration(version, stem[(underscore + 1)..], sql));
        }
        var duplicate = migrations.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new MigrationException($"two migrations share number {duplicate.Key:000}");
        }
        return migrations.OrderBy(m => m.Version).ToList();
    }

    private static IReadOnlyList<Migration> LoadEmbedded()
    {
        var assembly = typeof(SchemaMigrator).Assembly;
        return Parse(assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("sql/", StringComparison.Ordinal))
            .Select(n => (n["sql/".Length..], ReadResource(assembly, n))));
    }

    private static string ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken,
        params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>The schema cannot be brought up to date; the message says which migration and why.</summary>
public sealed class MigrationException(string message, Exception? inner = null) : Exception(message, inner);
