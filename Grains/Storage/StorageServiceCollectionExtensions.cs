using CyberWatch.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CyberWatch.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>Registers the one <see cref="NpgsqlDataSource"/> of the process and the schema migrator.</summary>
    public static IServiceCollection AddCyberWatchStorage(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection(CyberWatchOptions.Section).Get<CyberWatchOptions>() ?? new CyberWatchOptions();
        var connectionString = PostgresConnectionString.Normalize(options.PostgresDsn);
        services.AddSingleton(_ => new NpgsqlDataSourceBuilder(connectionString) { Name = "cyberwatch" }.Build());
        services.AddSingleton<SchemaMigrator>();
        return services;
    }
}
