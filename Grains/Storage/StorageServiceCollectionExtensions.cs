using CyberWatch.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CyberWatch.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>Connections the process's data source opens at most, unless the DSN says otherwise.</summary>
    public const int MaxPoolSize = 30;

    /// <summary>Registers the one <see cref="NpgsqlDataSource"/> of the process and the schema migrator.</summary>
    public static IServiceCollection AddCyberWatchStorage(this IServiceCollection services, IConfiguration configuration)
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
            return builder.Build();
        });
        services.AddSingleton<SchemaMigrator>();
        return services;
    }
}
