using CyberWatch.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CyberWatch.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>Connections the process's data source opens at most, unless the DSN says otherwise.</summary>
    public const int MaxPoolSize = 30;

    /// <summary>Connect and command timeout of the API's reads, unless the DSN sets them.</summary>
    public const int FailFastTimeoutSeconds = 5;

    private static bool Sets(string connectionString, params string[] keywords) =>
        connectionString.Split(';').Select(p => p.Split('=', 2)[0].Trim())
            .Any(key => keywords.Any(k => string.Equals(key, k, StringComparison.OrdinalIgnoreCase)));

    /// <summary>
    /// Registers the one <see cref="NpgsqlDataSource"/> of the process and the schema migrator. With
    /// <paramref name="failFast"/> (the API), connecting and each command give up after <see cref="FailFastTimeoutSeconds"/>
    /// unless the DSN sets its own: a request then answers 503 within seconds when PostgreSQL is unreachable, instead
    /// of after Npgsql's 15 s connect and 30 s command timeouts (a minute for a page that runs two queries).
    /// </summary>
    public static IServiceCollection AddCyberWatchStorage(this IServiceCollection services, IConfiguration configuration, bool failFast = false)
    {
        var options = configuration.GetSection(CyberWatchOptions.Section).Get<CyberWatchOptions>() ?? new CyberWatchOptions();
        var connectionString = PostgresConnectionString.Normalize(options.PostgresDsn);
        services.AddSingleton(_ =>
        {
            var builder = new NpgsqlDataSourceBuilder(connectionString) { Name = "cyberwatch" };
            // Target acceptances write their rows at once, one connection each: by the thousand they would take
            // Npgsql's default 100 on top of Orleans' own pool and exhaust max_connections. A DSN that sets a size wins.
            if (!connectionString.Contains("Maximum Pool Size", StringComparison.OrdinalIgnoreCase)
                && !connectionString.Contains("Max Pool Size", StringComparison.OrdinalIgnoreCase))
            {
                builder.ConnectionStringBuilder.MaxPoolSize = MaxPoolSize;
            }
            if (failFast)
            {
                var dsn = builder.ConnectionStringBuilder;
                if (!Sets(connectionString, "Command Timeout", "CommandTimeout"))
                {
                    dsn.CommandTimeout = FailFastTimeoutSeconds;
                }
                if (!Sets(connectionString, "Timeout"))
                {
                    dsn.Timeout = FailFastTimeoutSeconds;
                }
                if (!Sets(connectionString, "Cancellation Timeout", "CancellationTimeout"))
                {
                    // A timed-out command on a dead path: do not wait for the server to confirm the cancellation
                    // (it cannot), break the connection at once.
                    dsn.CancellationTimeout = -1;
                }
            }
            return builder.Build();
        });
        services.AddSingleton<SchemaMigrator>();
        return services;
    }
}
