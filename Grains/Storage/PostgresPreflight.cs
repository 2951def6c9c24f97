using System.Net.Sockets;
using CyberWatch.Configuration;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace CyberWatch.Storage;

/// <summary>Checks PostgreSQL is reachable before Orleans starts, so a bad DSN is one clear line, not a stack trace.</summary>
public static class PostgresPreflight
{
    /// <summary>
    /// For one-shot commands: the node's database (appsettings.json beside the binary, then CYBERWATCH_* variables),
    /// checked reachable.
    /// </summary>
    public static async Task<NpgsqlDataSource> OpenConfiguredAsync(CancellationToken cancellationToken)
    {
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddCyberWatchEnvironment()
            .Build();
        var options = configuration.GetSection(CyberWatchOptions.Section).Get<CyberWatchOptions>() ?? new CyberWatchOptions();
        var dataSource = NpgsqlDataSource.Create(PostgresConnectionString.Normalize(options.PostgresDsn));
        try
        {
            await CheckAsync(dataSource, cancellationToken);
            return dataSource;
        }
        catch
        {
            await dataSource.DisposeAsync();
            throw;
        }
    }

    public static async Task CheckAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var target = Describe(dataSource.ConnectionString);
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(cancellationToken);
        }
        catch (PostgresException e)
        {
            throw new ConfigurationException($"PostgreSQL at {target} refused the connection: {e.MessageText}", e);
        }
        catch (NpgsqlException e) when (e.InnerException is SocketException or IOException or TimeoutException)
        {
            throw new ConfigurationException($"cannot reach PostgreSQL at {target}: {e.InnerException!.Message}", e);
        }
        catch (NpgsqlException e)
        {
            throw new ConfigurationException($"cannot use PostgreSQL at {target}: {e.Message}", e);
        }
        catch (SocketException e)
        {
            throw new ConfigurationException($"cannot reach PostgreSQL at {target}: {e.Message}", e);
        }
    }

    private static string Describe(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"{builder.Host}:{builder.Port}/{builder.Database ?? builder.Username}";
    }
}
