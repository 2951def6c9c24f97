using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace CyberWatch.WebApi.Health;

/// <summary>PostgreSQL answers and the schema is migrated.</summary>
public sealed class PostgresHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            await using var connection = await dataSource.OpenConnectionAsync(timeout.Token);
            await using var command = new NpgsqlCommand(
                "SELECT current_setting('server_version'), (SELECT coalesce(max(version), 0) FROM schema_migrations)", connection);
            await using var reader = await command.ExecuteReaderAsync(timeout.Token);
            await reader.ReadAsync(timeout.Token);
            var data = new Dictionary<string, object>
            {
                ["server_version"] = reader.GetString(0),
                ["schema_version"] = reader.GetInt32(1),
            };
            return HealthCheckResult.Healthy($"PostgreSQL {reader.GetString(0)}, schema {reader.GetInt32(1):000}", data);
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy($"PostgreSQL unreachable: {e.GetBaseException().Message}");
        }
    }
}
